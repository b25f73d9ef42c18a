"""Benchmark: how long the reference county takes to generate, and how long the kernels compile.

Two figures that used to be asserted inside tests (``generate_county`` at scale 0.1 under 3 s,
scale 1 under 40 s) — a budget in seconds that a loaded machine misses, so they live here as
measurements instead (issue 13). Also the districting kernels' cold compile and warm load,
the cost a first job pays before its clock starts (:mod:`gisgov.districting.warmup`).
And a city (issue 18): ``gisgov sample OUT --districts N`` for N = 1, 4, 8 into a GeoPackage,
wall seconds and the process's peak RSS — generation streams district by district, so memory
should stay flat as N grows.

Run: ``.venv/bin/python benchmarks/sample.py``; writes ``benchmarks/results/sample.json``;
``--city`` runs the city figures only and writes ``benchmarks/results/city.json``.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from gisgov.sample import generate_county

RESULTS = Path(__file__).resolve().parent / "results" / "sample.json"
CITY_RESULTS = RESULTS.with_name("city.json")
ROOT = Path(__file__).resolve().parent.parent

#: Compile (or load) the kernels in a fresh process and print the seconds it took.
_PREPARE = ("import json; from gisgov.districting.warmup import prepare_kernels; "
            "print(json.dumps(prepare_kernels()))")


def _kernel_seconds(cold: bool) -> float:
    """Seconds :func:`prepare_kernels` takes in a new process, after deleting numba's cache
    next to the modules when ``cold``."""
    if cold:
        for f in (ROOT / "gisgov" / "districting" / "__pycache__").glob("*.nb[ic]"):
            f.unlink()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", _PREPARE], env=env, capture_output=True,
                         text=True, check=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1]))


#: Run ``gisgov sample`` in this process and report its own peak RSS (KiB) on stderr.
_CITY = ("import resource, sys; from gisgov.cli import main\n"
         "sys.argv = ['gisgov', 'sample', *sys.argv[1:]]\n"
         "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\nelse:\n    code = 0\n"
         "print('maxrss', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
         "sys.exit(code)")


def _city(districts: int, out: Path) -> dict[str, float]:
    """Wall seconds and peak RSS of ``gisgov sample OUT --districts N`` in a new process."""
    out.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", _CITY, str(out), "--districts", str(districts),
                          "--seed", "1", "--json"], env=env, capture_output=True, text=True,
                         check=True)
    wall = time.perf_counter() - t
    doc = json.loads(run.stdout)
    rss = int(run.stderr.split("maxrss")[-1].split()[0])
    out.unlink(missing_ok=True)
    return {"districts": districts, "households": doc["layers"]["households"],
            "seconds_in_command": doc["seconds"], "wall_seconds": round(wall, 2),
            "peak_rss_mb": round(rss / 1024, 1),
            "calibrated_districts": len(doc.get("calibration_by_district", {})) or 1,
            "all_on_target": all(bool(f["ok"]) for f in doc["calibration"])}


def _machine() -> dict[str, object]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "load_average_1min": round(os.getloadavg()[0], 1)}


def city_main() -> int:
    """``gisgov sample --districts N`` for N = 1, 4, 8: seconds and peak memory."""
    rows = []
    for n in (1, 4, 8):
        row = _city(n, ROOT / "benchmarks" / "results" / f"_city{n}.gpkg")
        rows.append(row)
        print(f"gisgov sample --districts {n}: {row['households']:,} households in "
              f"{row['seconds_in_command']} s (wall {row['wall_seconds']} s), "
              f"peak RSS {row['peak_rss_mb']} MB")
    CITY_RESULTS.parent.mkdir(parents=True, exist_ok=True)
    CITY_RESULTS.write_text(json.dumps({"machine": _machine(), "city": rows}, indent=2) + "\n",
                            encoding="utf-8")
    print(f"wrote {CITY_RESULTS}")
    return 0


def main() -> int:
    if "--city" in sys.argv[1:]:
        return city_main()
    rows = []
    for scale in (0.1, 1.0):
        t = time.perf_counter()
        layers = generate_county(seed=0, scale=scale)
        seconds = time.perf_counter() - t
        rows.append({"scale": scale, "households": len(layers["households"]),
                     "seconds": round(seconds, 3)})
        print(f"generate_county(scale={scale}): {len(layers['households']):,} households "
              f"in {seconds:.2f} s")
    cold = _kernel_seconds(cold=True)
    warm = _kernel_seconds(cold=False)
    print(f"districting kernels: {cold:.1f} s to compile (cold cache), {warm:.2f} s to load")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "generate_county": rows,
        "kernels": {"cold_compile_seconds": round(cold, 2), "warm_load_seconds": round(warm, 3)},
    }, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
