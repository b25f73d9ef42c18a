"""Benchmark: how long the reference county takes to generate, and how long the kernels compile.

Two figures that used to be asserted inside tests (``generate_county`` at scale 0.1 under 3 s,
scale 1 under 40 s) — a budget in seconds that a loaded machine misses, so they live here as
measurements instead (issue 13). Also the districting kernels' cold compile and warm load,
the cost a first job pays before its clock starts (:mod:`gisgov.districting.warmup`).

Run: ``.venv/bin/python benchmarks/sample.py``; writes ``benchmarks/results/sample.json``.
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


def main() -> int:
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
