"""Benchmark: small and large writes into a GeoPackage workspace, in place vs copy-on-write.

Until issue 13 every GeoPackage transaction copied the whole file to a temporary file and
renamed it over the original (``shutil.copy2`` + ``os.replace``); now a transaction is an
SQLite transaction in the file itself (WAL). On the reference county at ``--scale 8``
with its grids and assignments (~190,000 households, a ~92 MB file) this measures:

* appending **one audit row** (``gisgov.audit.record_access``), median and p90 of ``--rows``
  appends, and the file's inode before and after (unchanged: written in place);
* what the former store paid before any write at all: ``shutil.copy2`` + ``os.replace`` of
  the same file, median of ``--copies`` runs;
* **replacing the households layer** with itself (a whole-layer import), once;
* that no temporary file is left beside the workspace.

The county is generated once (``gisgov sample --scale 8``, ``gisgov grids``, ``gisgov
assign``) and cached in ``benchmarks/.cache``; the benchmark writes into a copy of it.

Run: ``.venv/bin/python benchmarks/store_write.py`` (the output is also saved to
``benchmarks/results/store_write.txt``).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
RESULTS = HERE / "results" / "store_write.txt"
TARGET_MS = 50.0


def build_county(scale: float) -> Path:
    """The cached sample county at ``scale`` with grids and assignments, as a served county
    holds them (at ``--scale 8`` ~92 MB; generated on the first run, ~6 minutes)."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"county_scale{scale:g}_full.gpkg"
    if not path.exists():
        tmp = CACHE / f"building_scale{scale:g}.gpkg"
        for extra in ("", "-wal", "-shm"):
            Path(f"{tmp}{extra}").unlink(missing_ok=True)
        cli = [sys.executable, "-c", "from gisgov.cli import main; main()"]
        print(f"generating the county at scale {scale:g} (once): {path}", flush=True)
        subprocess.run([*cli, "sample", str(tmp), "--scale", f"{scale:g}"], check=True)
        subprocess.run([*cli, "grids", str(tmp), "--time-limit", "120"], check=True)
        subprocess.run([*cli, "assign", str(tmp)], check=True)
        os.replace(tmp, path)
    return path


#: The last commit with the copy-on-write GeoPackage store.
FORMER_COMMIT = "02c6c08"


def _former_store() -> Any:
    """The copy-on-write ``GeoPackageWorkspace`` class from git, or None (no git, Windows)."""
    try:
        import fcntl  # noqa: F401  (the former store needs it)

        src = subprocess.run(["git", "show", f"{FORMER_COMMIT}:gisgov/store/gpkg.py"],
                             cwd=HERE.parent, capture_output=True, text=True, check=True).stdout
    except (ImportError, OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType("former_gpkg_store")
    sys.modules[module.__name__] = module
    exec(compile(src, "former_gpkg_store.py", "exec"), module.__dict__)
    return module.GeoPackageWorkspace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=8.0)
    parser.add_argument("--rows", type=int, default=50, help="one-row appends to time")
    parser.add_argument("--copies", type=int, default=5, help="copy-on-write runs to time")
    parser.add_argument("--workspace", type=Path, default=None,
                        help="benchmark a copy of this GeoPackage instead of the sample")
    parser.add_argument("--append", action="store_true",
                        help="add to the results file instead of replacing it")
    args = parser.parse_args()

    import pandas as pd

    from gisgov.audit import AUDIT_TABLE, record_access
    from gisgov.store import open_workspace

    source = args.workspace or build_county(args.scale)
    CACHE.mkdir(exist_ok=True)
    work = CACHE / "bench.gpkg"
    for extra in ("", "-wal", "-shm"):
        Path(f"{work}{extra}").unlink(missing_ok=True)
    shutil.copy2(source, work)
    size_mb = work.stat().st_size / 1e6
    ws = open_workspace(work)
    households = ws.count("households")

    lines = [
        f"store_write benchmark — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, {platform.system()}"
        + (f", load average {os.getloadavg()[0]:.1f} (other work on the machine)"
           if hasattr(os, "getloadavg") else ""),
        f"workspace: {source.name}"
        f"{'' if args.workspace else f' (gisgov sample --scale {args.scale:g}, grids, assign)'}: "
        f"{size_mb:.1f} MB, {households:,} households, layers "
        f"{', '.join(f'{n} {ws.count(n):,}' for n in ws.layers() if ws.count(n))}",
        "",
    ]

    # one audit row, repeatedly
    inode_before = work.stat().st_ino
    record_access(ws, actor="bench", action="read_personal", target="warm-up")
    times = []
    for i in range(args.rows):
        t0 = time.perf_counter()
        record_access(ws, actor="bench", action="read_personal", target=f"households {i}")
        times.append((time.perf_counter() - t0) * 1000)
    inode_after = work.stat().st_ino
    times.sort()
    median = statistics.median(times)
    p90 = times[int(0.9 * (len(times) - 1))]
    rows = ws.count(AUDIT_TABLE)
    lines += [
        f"append one audit row (in place, WAL):  median {median:.1f} ms, p90 {p90:.1f} ms, "
        f"max {times[-1]:.1f} ms over {args.rows} appends "
        f"({'meets' if median < TARGET_MS else 'MISSES'} the {TARGET_MS:.0f} ms target)",
        f"  inode before {inode_before}, after {inode_after}: "
        f"{'unchanged' if inode_before == inode_after else 'CHANGED'}; audit_log holds {rows} rows",
    ]

    # what copy-on-write paid for every transaction, before writing anything
    copies = []
    for _ in range(args.copies):
        tmp = work.with_name(".bench-copy.tmp.gpkg")
        t0 = time.perf_counter()
        shutil.copy2(work, tmp)
        os.replace(tmp, work.with_name("bench-copy.gpkg"))
        copies.append((time.perf_counter() - t0) * 1000)
    work.with_name("bench-copy.gpkg").unlink()
    cow = statistics.median(copies)
    lines += [
        f"former copy-on-write, file copy + rename only: median {cow:.0f} ms over "
        f"{args.copies} runs ({cow / median:.0f}x the in-place append)",
    ]

    # the former store itself (its source from git), on its own copy of the file
    old_store = _former_store()
    if old_store is not None:
        old_path = work.with_name("bench-old.gpkg")
        shutil.copy2(work, old_path)
        old_ws = old_store(old_path)
        old_times, renamed = [], 0
        for i in range(args.copies):
            before = old_path.stat().st_ino
            t0 = time.perf_counter()
            record_access(old_ws, actor="bench", action="read_personal", target=f"old {i}")
            old_times.append((time.perf_counter() - t0) * 1000)
            renamed += old_path.stat().st_ino != before
        old_median = statistics.median(old_times)
        lines += [
            f"former store (git {FORMER_COMMIT[:7]}), append one audit row: median "
            f"{old_median:.0f} ms over {args.copies} appends ({old_median / median:.0f}x); "
            f"the file was replaced (new inode) by {renamed} of {args.copies} writes",
        ]
        for extra in ("", "-wal", "-shm"):
            Path(f"{old_path}{extra}").unlink(missing_ok=True)
        old_path.with_name(f".{old_path.name}.lock").unlink(missing_ok=True)

    # a whole-layer replace
    frame = ws.read("households")
    t0 = time.perf_counter()
    ws.write("households", frame, mode="replace")
    replace_s = time.perf_counter() - t0
    assert ws.count("households") == households
    lines += [
        f"replace the households layer ({households:,} rows) in place: {replace_s:.2f} s "
        f"(inode {'unchanged' if work.stat().st_ino == inode_before else 'CHANGED'})",
    ]
    leftovers = sorted(p.name for p in work.parent.glob(f".{work.name}.*"))
    lines += [f"temporary files left beside the workspace: {len(leftovers)}"]
    ws.close()

    with_ts = pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
    text = "\n".join(lines) + f"\n(run finished {with_ts})\n"
    print(text)
    with RESULTS.open("a" if args.append else "w", encoding="utf-8") as out:
        out.write(("\n" if args.append else "") + text)
    for extra in ("", "-wal", "-shm"):
        Path(f"{work}{extra}").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
