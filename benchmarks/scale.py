"""Benchmark: households per second and peak memory of grids + assign as the city grows.

For N = 1, 4, 8 districts (``gisgov sample --districts N``; on a build without the city
generator, ``--scale N``: the same households in denser communities, said in the table) the
sample is generated once; then on each store (a GeoPackage file, a PostGIS schema) and with
1 and 2 workers, ``gisgov grids`` and ``gisgov assign`` run as separate processes on a fresh
copy. Measured per run:

* seconds of grids and of assign, households per second over both;
* peak RSS of the driver (the ``gisgov`` process) and of each Dask worker process (sampled
  every 0.2 s over the whole process tree with psutil; a local cluster's workers are forked
  from a fork server, and their RSS counts the pages they still share with it);
* whether the grids, staff and assignment equal the 1-worker run's on the same store.

The ratio that matters — households/s against the reference county run (1 district,
1 worker, today's default) — is taken within one run on this shared machine: the county is
measured first and again at the end, and the faster of the two is the baseline, so a load
that drifts over the hour (a busy start, a quiet end) cannot flatter the city's ratio. The numba kernels are compiled (or loaded)
before anything is timed.

With 2 workers a GeoPackage runs on ``--workers 2`` (a LocalCluster gisgov starts) and PostGIS
on ``--scheduler`` pointing at ``dask scheduler`` + ``dask worker --nworkers 2`` processes
started by this program, outside gisgov, as a real cluster would be.

``--time-limit`` is generous (default 86,400 s, shared out over the communities) so that every community's search ends on its
iteration budget, never on the clock: then the same seed gives the same grids whatever the
load of the machine (with a short limit a loaded machine cuts searches short).

Run: ``.venv/bin/python benchmarks/scale.py [--districts 1 4 8] [--workers 1 2]
[--stores gpkg postgis]``; PostGIS needs ``GISGOV_BENCH_POSTGIS_URL`` (a database this
benchmark may create schemas in). Results: ``benchmarks/results/scale.json`` and
``scale.md``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
RESULTS = HERE / "results"
CLI = [sys.executable, "-c", "from gisgov.cli import main; main()"]
#: The reference county run (``make demo``): 24,199 households in ~21 s of grids + assign.
REFERENCE_HH_PER_S = 1150.0
#: Issue 18's goal: a city on 2 workers processes 1.5× the households/s of the county run.
TARGET = 1.5


def _has_districts() -> bool:
    out = subprocess.run([*CLI, "sample", "--help"], capture_output=True, text=True,
                         env={**os.environ, "COLUMNS": "200"})
    return "--districts" in out.stdout


def build_sample(n: int, districts: bool) -> Path:
    """The sample city (or denser county) of size ``n``, generated once into the cache."""
    CACHE.mkdir(exist_ok=True)
    kind = "districts" if districts else "scale"
    path = CACHE / f"city_{kind}{n}.gpkg"
    if not path.exists():
        tmp = CACHE / f"building_{kind}{n}.gpkg"
        tmp.unlink(missing_ok=True)
        subprocess.run([*CLI, "sample", str(tmp), f"--{kind}", str(n)], check=True,
                       capture_output=True)
        os.replace(tmp, path)
    return path


class PeakRSS:
    """Peak resident memory of a process and of every descendant (and of the descendants of
    ``extra``: an external cluster's worker processes), sampled in a thread."""

    def __init__(self, pid: int, extra: tuple[int, ...] = ()) -> None:
        self.root = psutil.Process(pid)
        self.extra = [psutil.Process(p) for p in extra]
        self.peaks: dict[int, tuple[str, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True),
                         *(c for e in self.extra for c in e.children(recursive=True))]
            except psutil.Error:
                procs = []
            for p in procs:
                try:
                    rss = p.memory_info().rss
                    name = " ".join(p.cmdline()[-3:])
                    # a worker forked from a fork server (a local cluster) carries the
                    # server's command line; the server itself is no worker
                    if "forkserver" in name and "forkserver" in " ".join(
                            psutil.Process(p.ppid()).cmdline()):
                        name = f"worker (forked) {name}"
                except psutil.Error:
                    continue
                old = self.peaks.get(p.pid, ("", 0))
                self.peaks[p.pid] = (name or old[0], max(old[1], rss))
            self._stop.wait(0.2)

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join()
        driver = self.peaks.get(self.root.pid, ("", 0))[1]
        workers = sorted(rss for pid, (name, rss) in self.peaks.items()
                         if pid != self.root.pid
                         and ("spawn_main" in name or name.startswith("worker (forked)")))
        return {"driver_mb": round(driver / 2**20), "workers_mb": [round(w / 2**20)
                                                                    for w in workers]}


class ExternalCluster:
    """A Dask cluster started outside gisgov, as on real machines: ``dask scheduler`` and
    ``dask worker`` processes (``n`` single-threaded workers), stopped on exit."""

    def __init__(self, n: int) -> None:
        self.file = CACHE / f"scheduler_{uuid.uuid4().hex[:8]}.json"
        dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
        self.scheduler = subprocess.Popen([*dask, "--scheduler-file", str(self.file),
                                           "--port", "0", "--dashboard-address", ":0"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(600):
            if self.file.exists() and self.file.stat().st_size:
                break
            time.sleep(0.1)
        self.address = json.loads(self.file.read_text())["address"]
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", self.address,
             "--nworkers", str(n), "--nthreads", "1", "--dashboard-address", ":0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        from distributed import Client

        with Client(self.address) as client:
            client.wait_for_workers(n, timeout=600)

    def close(self) -> None:
        for proc in (self.worker, self.scheduler):
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.file.unlink(missing_ok=True)


def run(args: list[str], extra: tuple[int, ...] = ()) -> tuple[float, dict[str, Any],
                                                                dict[str, Any]]:
    """Run one ``gisgov`` command; seconds, its JSON document and peak memory."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([*CLI, *args, "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    peak = PeakRSS(proc.pid, extra)
    out, err = proc.communicate()
    seconds = time.perf_counter() - t0
    mem = peak.stop()
    if proc.returncode != 0:
        raise RuntimeError(f"gisgov {' '.join(args)} failed: {err[-2000:]}")
    return seconds, json.loads(out), mem


def digest(url: str) -> str:
    """A hash of what must not depend on the workers: grids, staff, members' grids, the
    assignment."""
    from gisgov.store import open_workspace

    ws = open_workspace(url)
    try:
        h = hashlib.sha256()
        g = ws.read("grids")
        h.update(g[["code", "households"]].to_csv(index=False).encode())
        h.update(g.geometry.to_wkb().map(bytes.hex).str.cat().encode())
        h.update(ws.read("staff").drop(columns="geometry", errors="ignore")
                 .to_csv(index=False).encode())
        h.update(ws.read("members")[["id", "grid_code"]].to_csv(index=False).encode())
        h.update(ws.read("assignments")[["household_id", "member_id", "grid_code", "walk_m"]]
                 .to_csv(index=False).encode())
        return h.hexdigest()[:16]
    finally:
        ws.close()


def workspace_copy(sample: Path, store: str, tag: str, pg_base: str | None) -> tuple[str, Any]:
    """A fresh workspace holding the sample; its URL and a clean-up function."""
    if store == "gpkg":
        path = CACHE / f"run_{tag}.gpkg"
        for extra in ("", "-wal", "-shm"):
            Path(f"{path}{extra}").unlink(missing_ok=True)
        shutil.copyfile(sample, path)
        return str(path), lambda: path.unlink(missing_ok=True)
    import psycopg

    from gisgov.store import open_workspace
    from gisgov.store.copy import copy_workspace

    assert pg_base is not None
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = f"{pg_base}?options={quote(f'-csearch_path={schema},public')}"
    src, dst = open_workspace(sample), open_workspace(url, create=True)
    try:
        copy_workspace(src, dst)
    finally:
        src.close()
        dst.close()

    def drop() -> None:
        with psycopg.connect(pg_base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")

    return url, drop


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--districts", type=int, nargs="+", default=[1, 4, 8])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--stores", nargs="+", default=["gpkg", "postgis"])
    ap.add_argument("--time-limit", type=float, default=86_400.0)
    ap.add_argument("--keep", action="store_true",
                    help="keep the rows of benchmarks/results/scale.json not re-measured now "
                         "(a long matrix measured in parts)")
    args = ap.parse_args()
    pg_base = os.environ.get("GISGOV_BENCH_POSTGIS_URL")
    stores = [s for s in args.stores if s == "gpkg" or pg_base]
    districts = _has_districts()
    # numba's disk cache filled before anything is timed: a cold cache would charge the
    # first run measured (the county baseline) tens of seconds of compiling
    subprocess.run([sys.executable, "-c", "from gisgov.districting.warmup import "
                    "prepare_kernels; prepare_kernels()"], check=True)
    # rows of this run share its id: the county baseline of a ratio must come from the same
    # run (same machine, same load), never from rows kept from an earlier one
    run_id = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    saved = RESULTS / "scale.json"
    rows: list[dict[str, Any]] = (json.loads(saved.read_text())["rows"]
                                  if args.keep and saved.exists() else [])
    for n in args.districts:
        sample = build_sample(n, districts)
        for store in stores:
            first_digest = None
            for w in args.workers:
                row = measure(sample, n, store, w, districts, args.time_limit, pg_base)
                first_digest = first_digest or row["digest"]
                row["same_as_1_worker"] = row["digest"] == first_digest
                row["run"] = run_id
                key = (row["size"], row["store"], row["workers"])
                rows = [r for r in rows if (r["size"], r["store"], r["workers"]) != key]
                rows.append(row)
                print(json.dumps(row, ensure_ascii=False), flush=True)
                write(rows, args.time_limit)
    # the county baseline measured again at the end: on a shared machine the load drifts
    # over a run of an hour, so the ratios divide by the faster of the two county
    # measurements that bracket the city's
    if 1 in args.districts and 1 in args.workers and len(args.districts) > 1:
        for store in stores:
            again = measure(build_sample(1, districts), 1, store, 1, districts,
                            args.time_limit, pg_base)
            for r in rows:
                if (r["size"].startswith("1 ") and r["store"] == store and r["workers"] == 1
                        and r.get("run") == run_id):
                    r["households_per_s_again"] = again["households_per_s"]
                    r["load_average_again"] = again["load_average"]
            print(json.dumps(again, ensure_ascii=False), flush=True)
        write(rows, args.time_limit)


def measure(sample: Path, n: int, store: str, w: int, districts: bool, time_limit: float,
            pg_base: str | None) -> dict[str, Any]:
    """Grids then assign on a fresh copy of ``sample``: one row of the table."""
    url, cleanup = workspace_copy(sample, store, f"{store}{n}w{w}", pg_base)
    # PostGIS with more than one worker: a cluster started outside gisgov
    # (--scheduler), as on real machines; a GeoPackage: --workers (LocalCluster)
    ext = ExternalCluster(w) if store == "postgis" and w > 1 else None
    how = ["--scheduler", ext.address] if ext else ["--workers", str(w)]
    pids = (ext.worker.pid,) if ext else ()
    try:
        g_s, g_doc, g_mem = run(["grids", url, *how, "--time-limit", f"{time_limit:g}"], pids)
        a_s, a_doc, a_mem = run(["assign", url, *how], pids)
        d = digest(url)
    finally:
        if ext:
            ext.close()
        cleanup()
    hh = int(a_doc["households"])
    return {
        "size": f"{n} {'districts' if districts else 'scale'}", "store": store,
        "workers": w, "cluster": ("dask scheduler + dask worker (--scheduler)"
                                  if ext else "LocalCluster (--workers)"
                                  if w > 1 else "none (in process)"),
        "households": hh, "grids": g_doc["grids"],
        "grids_s": round(g_s, 1), "assign_s": round(a_s, 1),
        "households_per_s": round(hh / (g_s + a_s)),
        "vs_reference": round(hh / (g_s + a_s) / REFERENCE_HH_PER_S, 2),
        "driver_mb": max(g_mem["driver_mb"], a_mem["driver_mb"]),
        "workers_mb": [max(a, b) for a, b in zip(g_mem["workers_mb"], a_mem["workers_mb"],
                                                strict=False)] or g_mem["workers_mb"],
        "digest": d, "load_average": round(os.getloadavg()[0], 1), "time_limit": time_limit,
        # communities whose search the clock ended (then the seed alone does not decide
        # the grids)
        "time_capped": sum("cut the search short" in note for note in g_doc["report"]),
    }


def write(rows: list[dict[str, Any]], time_limit: float) -> None:
    """Save the rows measured so far: ``scale.json`` and the ``scale.md`` table."""
    RESULTS.mkdir(exist_ok=True)
    rows = sorted(rows, key=lambda r: (int(r["size"].split()[0]), r["store"], r["workers"]))
    meta = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                       f"load average {os.getloadavg()[0]:.1f} at the end (shared machine)",
            "python": platform.python_version(), "time_limit": time_limit,
            "reference_households_per_s": REFERENCE_HH_PER_S}
    (RESULTS / "scale.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2,
                                                   ensure_ascii=False) + "\n")
    # the reference county measured in the same run (1 district, 1 worker — today's default
    # — same store): a ratio that a loaded machine slows on both sides
    base = {(r["store"], r.get("run")): max(r["households_per_s"],
                                            r.get("households_per_s_again", 0))
            for r in rows if r["size"].startswith("1 ") and r["workers"] == 1 and r.get("run")}
    for r in rows:
        b = base.get((r["store"], r.get("run")))
        r["vs_county_run"] = round(r["households_per_s"] / b, 2) if b else None
    head = ("| size | store | workers | households | grids | grids s | assign s | households/s "
            "| × county run (same store) | × 1,150/s | driver MB | worker MB | same as 1 worker "
            "| time limit s | time-capped communities | load |")
    again = [f"- {r['store']} county run measured again at the end: "
             f"{r['households_per_s_again']:,} households/s (load "
             f"{r.get('load_average_again', '?')}); the × county run column divides by the "
             "faster of the two" for r in rows if "households_per_s_again" in r]
    lines = [head, "|" + "---|" * 16]
    for r in rows:
        lines.append(f"| {r['size']} | {r['store']} | {r['workers']} | {r['households']:,} | "
                     f"{r['grids']:,} | {r['grids_s']} | {r['assign_s']} | "
                     f"{r['households_per_s']:,} | {r['vs_county_run']} | "
                     f"{r['vs_reference']} | {r['driver_mb']} | "
                     f"{', '.join(map(str, r['workers_mb'])) or '–'} | "
                     f"{'yes' if r['same_as_1_worker'] else 'NO'} | "
                     f"{r.get('time_limit', '?'):g} | {r.get('time_capped', 'not recorded')} | "
                     f"{r.get('load_average', '?')} |")
    verdicts = [f"- {r['store']}, {r['size']}, {r['workers']} workers: "
                f"{r['vs_county_run']}× the households/s of the county run measured in the same "
                f"run (target 1.5×: {'met' if r['vs_county_run'] >= TARGET else 'not met'})"
                for r in rows if r["workers"] > 1 and r["vs_county_run"] is not None
                and not r["size"].startswith("1 ")]
    if any(not r.get("run") for r in rows):
        again.append("- rows without a load figure are kept from an earlier run (older code, "
                     "`--keep`): no ratio is computed for them")
    text = ("\n".join(lines) + f"\n\n{meta['machine']}.\n"
            + ("\n" + "\n".join(again + verdicts) + "\n" if again or verdicts else ""))
    (RESULTS / "scale.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
