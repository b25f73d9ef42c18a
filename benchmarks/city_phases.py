"""Where the wall time of a city run goes: the driver's phases and every worker's tasks.

``benchmarks/scale.py`` measures households per second; this program explains them. It runs
``grids`` then ``assign`` on a fresh copy of a sample in this process, as the CLI does, and
records

* on the driver: wall and CPU seconds of each phase — making the tasks (reading the
  communities, counting households), the tasks themselves (the driver waits: its CPU there is
  Dask's scheduler and nannies, which live in this process), merging, finishing (tiling,
  staffing, party organisations) and writing;
* on every worker: start, end and CPU seconds of the warm-up and of each task, and the bytes
  of its pickled result — so the idle time of each worker before its first task, between
  tasks and after its last (the tail) can be read off.

On a shared machine the wall times follow the load; the CPU seconds much less so: compare
those, and say the load (printed with each command).

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/city_phases.py SAMPLE.gpkg [--workers 2]``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import pickle
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
#: Where workers append their task records (one JSON line each); set by :func:`main`.
LOG_ENV = "GISGOV_PHASES_LOG"
#: The task functions replaced by the timed ones in this process (a worker imports the
#: modules afresh and finds the originals there).
_ORIGINAL: dict[str, Any] = {}


def _record(kind: str, key: object, t0: float, c0: float, out: object = None) -> None:
    t1, c1 = time.time(), time.process_time()
    row = {"kind": kind, "key": key, "pid": os.getpid(), "start": t0, "end": t1,
           "cpu": c1 - c0, "result_bytes": len(pickle.dumps(out, protocol=5))}
    with open(os.environ[LOG_ENV], "a") as f:
        f.write(json.dumps(row) + "\n")


def grid_task(task: Any) -> Any:
    """:func:`gisgov.grids.tasks.grid_community`, timed (runs on a worker)."""
    import gisgov.grids.tasks as gt

    t0, c0 = time.time(), time.process_time()
    out = _ORIGINAL.get("grid_community", gt.grid_community)(task)
    _record("grids", task.code, t0, c0, out)
    return out


def assign_task(piece: Any) -> Any:
    """:func:`gisgov.assignment.tasks.assign_piece`, timed (runs on a worker)."""
    import gisgov.assignment.tasks as at

    t0, c0 = time.time(), time.process_time()
    out = _ORIGINAL.get("assign_piece", at.assign_piece)(piece)
    _record("assign", len(piece.member_ids), t0, c0, out)
    return out


def grids_warm() -> None:
    """The grids warm-up, timed."""
    from gisgov.grids.tasks import warm_worker

    t0, c0 = time.time(), time.process_time()
    warm_worker()
    _record("warm", None, t0, c0)


def assign_warm() -> None:
    """The assignment warm-up, timed."""
    from gisgov.assignment.tasks import warm_worker

    t0, c0 = time.time(), time.process_time()
    warm_worker()
    _record("warm", None, t0, c0)


class Phases:
    """Wall and CPU seconds of the driver's phases (functions wrapped by :meth:`wrap`)."""

    def __init__(self) -> None:
        self.t0 = time.time()
        self.rows: list[dict[str, Any]] = []

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*a: Any, **k: Any) -> Any:
            t0, c0 = time.time(), time.process_time()
            try:
                return fn(*a, **k)
            finally:
                self.rows.append({"phase": name, "start": t0 - self.t0,
                                  "end": time.time() - self.t0,
                                  "cpu": time.process_time() - c0})
        return timed


def _patched(module: Any, names: list[str], phases: Phases, swaps: dict[str, Any]
             ) -> dict[str, Any]:
    old = {n: getattr(module, n) for n in [*names, *swaps]}
    _ORIGINAL.update(old)
    for n in names:
        setattr(module, n, phases.wrap(n, old[n]))
    for n, fn in swaps.items():
        setattr(module, n, fn)
    return old


def run(command: str, url: str, workers: int) -> tuple[Phases, float, float]:
    """One command as the CLI runs it, its phases timed; (phases, wall, CPU seconds)."""
    from gisgov.store import open_workspace

    phases = Phases()
    c0 = time.process_time()
    ws = open_workspace(url)
    if command == "grids":
        import gisgov.grids.tasks as mod
        from gisgov.grids import write_grid_plan as write
        from gisgov.grids.options import GridsOptions

        old = _patched(mod, ["_tasks", "_finish_layers", "map_tasks", "merge_results",
                             "finish_grids"], phases,
                       {"grid_community": grid_task, "warm_worker": grids_warm})
        runner = functools.partial(mod.run_grids, ws,
                                   GridsOptions(workers=workers, time_limit=86_400.0))
    else:
        import gisgov.assignment.tasks as mod  # type: ignore[no-redef]
        from gisgov.assignment import write_assignment as write  # type: ignore[assignment]
        from gisgov.assignment.options import AssignOptions

        old = _patched(mod, ["_pieces", "map_tasks", "merge_results"], phases,
                       {"assign_piece": assign_task, "warm_worker": assign_warm})
        runner = functools.partial(mod.run_assign, ws, AssignOptions(workers=workers))
    try:
        out = phases.wrap(f"run_{command}", runner)()
        phases.wrap("write", write)(ws, out)
    finally:
        for n, fn in old.items():
            setattr(mod, n, fn)
        ws.close()
    return phases, time.time() - phases.t0, time.process_time() - c0


def report(command: str, phases: Phases, wall: float, cpu: float, log: Path) -> None:
    """Print the driver's phases and each worker's timeline."""
    print(f"\n## {command}: {wall:.1f} s wall, driver {cpu:.1f} s CPU, "
          f"load {os.getloadavg()[0]:.1f}")
    for p in phases.rows:
        print(f"  {p['phase']:<16} {p['start']:7.1f} → {p['end']:7.1f}  "
              f"wall {p['end'] - p['start']:6.1f}  CPU {p['cpu']:6.1f}")
    rows = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    by_pid: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        by_pid.setdefault(r["pid"], []).append(r)
    ends = []
    for pid, rs in sorted(by_pid.items()):
        rs.sort(key=lambda r: r["start"])
        tasks = [r for r in rs if r["kind"] != "warm"]
        warm = [r for r in rs if r["kind"] == "warm"]
        busy = sum(r["end"] - r["start"] for r in tasks)
        first, last = rs[0]["start"] - phases.t0, rs[-1]["end"] - phases.t0
        ends.append(last)
        print(f"  worker {pid}: warm {sum(r['end'] - r['start'] for r in warm):.1f} s "
              f"({sum(r['cpu'] for r in warm):.1f} CPU) from {first:.1f} s; {len(tasks)} tasks "
              f"{busy:.1f} s ({sum(r['cpu'] for r in tasks):.1f} CPU), idle between "
              f"{last - first - busy - sum(r['end'] - r['start'] for r in warm):.1f} s, "
              f"last ends {last:.1f} s; results {sum(r['result_bytes'] for r in tasks) / 1e6:.1f} MB")
    if len(ends) > 1:
        print(f"  tail (last worker ends after the first): {max(ends) - min(ends):.1f} s")


def main() -> None:
    """Parse the arguments and run (as the module ``city_phases``, which the workers import:
    functions of ``__main__`` would not unpickle there)."""
    import city_phases

    city_phases._main()


def _main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sample", type=Path)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--commands", nargs="+", default=["grids", "assign"])
    args = ap.parse_args()
    # spawned workers import this module by name to run the timed tasks
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(HERE), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    with tempfile.TemporaryDirectory() as tmp:
        url = str(Path(tmp) / "city.gpkg")
        shutil.copyfile(args.sample, url)
        # one file for every command: the workers of a local cluster are forked from a
        # server that keeps the environment of its start
        log = Path(tmp) / "tasks.jsonl"
        os.environ[LOG_ENV] = str(log)
        for command in args.commands:
            log.unlink(missing_ok=True)
            phases, wall, cpu = run(command, url, args.workers)
            report(command, phases, wall, cpu, log)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    main()
