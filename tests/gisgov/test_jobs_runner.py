"""JobRunner bookkeeping: a job is on record before it runs, and a dead service's jobs are
marked interrupted by the next runner (so ``GET /jobs/{id}`` never turns into a 404)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pandas as pd

from gisgov.jobs import JOBS_TABLE, JobOutput, JobRunner, register_job
from gisgov.store import open_workspace

ROOT = Path(__file__).resolve().parents[2]


def _statuses(path: Path, job_id: str) -> list[str]:
    ws = open_workspace(path)
    if not ws.has_table(JOBS_TABLE):
        return []
    rows = pd.DataFrame(ws.read_table(JOBS_TABLE))
    return rows.loc[rows["id"] == job_id, "status"].tolist()


def test_job_is_recorded_running_before_it_runs(tmp_path: Path) -> None:
    path = tmp_path / "ws.gpkg"
    open_workspace(path, create=True).close()
    release, started = threading.Event(), threading.Event()

    def slow(ws: object, params: object, progress: object) -> JobOutput:
        started.set()
        release.wait(60)
        return JobOutput(summary={"ok": True})

    runner = JobRunner(workspace_factory=lambda: open_workspace(path), registry={})
    register_job("slow", slow, registry=runner.registry)
    job = runner.submit("slow", {}, actor="test")
    try:
        assert started.wait(60)
        # while the job function runs, the table already says so
        assert _statuses(path, job.id) == ["queued", "running"]
        # a second service (a restart) finds it without the first one's memory
        other = JobRunner(workspace_factory=lambda: open_workspace(path), registry={})
        assert other.interrupted == []  # its process (this one) is alive: left alone
        assert other.get(job.id).status == "running"
    finally:
        release.set()
    assert runner.wait(job.id).status == "succeeded"
    assert _statuses(path, job.id) == ["queued", "running", "succeeded"]
    runner.shutdown()


_SERVICE = """
import sys, time
from gisgov.jobs import JobOutput, JobRunner, register_job
from gisgov.store import open_workspace

path = sys.argv[1]

def forever(ws, params, progress):
    print("RUNNING", flush=True)
    time.sleep(600)
    return JobOutput()

runner = JobRunner(workspace_factory=lambda: open_workspace(path), registry={})
register_job("forever", forever, registry=runner.registry)
job = runner.submit("forever", {"n": 1}, actor="key:test/planner")
print(job.id, flush=True)
print(runner.submit("forever", {"n": 2}, actor="key:test/planner").id, flush=True)
time.sleep(600)
"""


def test_jobs_of_a_killed_service_are_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "ws.gpkg"
    open_workspace(path, create=True).close()
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(_SERVICE), str(path)],
                            stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    lines = {proc.stdout.readline().strip() for _ in range(3)}
    assert "RUNNING" in lines
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    ids = sorted(lines - {"RUNNING"})
    assert len(ids) == 2
    assert sorted(s for i in ids for s in _statuses(path, i)[-1:]) == ["queued", "running"]

    # a job of a live process (here: our parent) must not be touched
    live = pd.DataFrame([{
        "id": "live00000000", "kind": "forever", "status": "running", "actor": "x",
        "created": "2026-01-01T00:00:00+00:00",
        "record": json.dumps({"id": "live00000000", "kind": "forever", "status": "running",
                              "created": "2026-01-01T00:00:00+00:00"}),
        "runner": f"{socket.gethostname()}:{os.getppid()}",
    }])
    open_workspace(path).write_table(JOBS_TABLE, live, mode="append", bump_version=False)

    runner = JobRunner(workspace_factory=lambda: open_workspace(path), registry={})
    assert sorted(runner.interrupted) == ids
    for job_id in ids:
        job = runner.get(job_id)
        assert job.status == "interrupted"
        assert "interrupted" in job.message
        assert job.finished is not None
        assert job.kind == "forever"
    assert runner.get("live00000000").status == "running"
    assert [j.id for j in runner.list() if j.status == "interrupted"] != []
    # the next start finds nothing left to mark
    assert JobRunner(workspace_factory=lambda: open_workspace(path), registry={}
                     ).interrupted == []
