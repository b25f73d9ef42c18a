"""Long work as jobs: a registry of job kinds and a background runner with progress.

A job kind is a function ``run(ws, params, progress) -> JobOutput``: it validates its own
``params`` (raising :class:`~gisgov.errors.ValidationError`), reports ``progress(description,
fraction)`` and writes its results into the workspace as layers or product tables, which the
service then lists as collections. Wiring a new engine is one :func:`register_job` call.

:class:`JobRunner` runs jobs one at a time on a worker thread (two-core machines: a second
optimiser would only slow the first one down and starve the request threads), keeps their
state in memory and appends a record to the workspace table ``jobs`` when a job is queued,
when it starts running and when it ends (each a one-row insert), so every job outlives a
restart of the service. A runner that starts on a workspace marks the jobs a dead process
left ``queued`` or ``running`` as ``interrupted``.

Examples
--------
>>> runner = JobRunner(workspace_factory=lambda: None)
>>> def hello(ws, params, progress):
...     progress("greeting", 0.5)
...     return JobOutput(summary={"hello": params.get("name", "world")})
>>> register_job("hello", hello, registry=runner.registry)
>>> job = runner.submit("hello", {"name": "网格"}, actor="doctest")
>>> runner.wait(job.id).status, runner.get(job.id).result.summary
('succeeded', {'hello': '网格'})
>>> runner.shutdown()
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from gisgov.errors import ConflictError, GisgovError, NotFoundError, ValidationError

__all__ = [
    "DEFAULT_REGISTRY",
    "JOBS_TABLE",
    "Job",
    "JobFn",
    "JobOutput",
    "JobRunner",
    "JobUnavailableError",
    "ProgressFn",
    "register_job",
]

log = logging.getLogger(__name__)

JOBS_TABLE = "jobs"
ProgressFn = Callable[[str, float], None]
Status = Literal["queued", "running", "succeeded", "failed", "interrupted"]

#: This process, as written in the ``runner`` column of the jobs it records.
_RUNNER = f"{socket.gethostname()}:{os.getpid()}"

#: The message of a job found ``queued``/``running`` after its process ended.
INTERRUPTED_MESSAGE = ("任务中断 interrupted: the service stopped while this job was {status}; "
                       "its results were not written, submit it again")


class JobUnavailableError(GisgovError):
    """The engine behind a job kind is not installed in this build (HTTP 501)."""


@dataclass
class JobOutput:
    """What a job produced.

    Attributes
    ----------
    tables
        Layers and product tables written (browsable as collections).
    summary
        JSON-ready figures.
    """

    tables: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


JobFn = Callable[[Any, Mapping[str, Any], ProgressFn], JobOutput]


@dataclass
class Job:
    """One job and its state."""

    id: str
    kind: str
    params: dict[str, Any]
    actor: str
    status: Status = "queued"
    progress: float = 0.0
    message: str = ""
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    result: JobOutput | None = None
    error: str | None = None
    error_type: str | None = None

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Job:
        """Rebuild a finished job from its row in the jobs table (see :meth:`to_dict`)."""

        def ts(value: Any) -> float | None:
            return None if value is None else pd.Timestamp(value).timestamp()

        tables = list(record.get("tables") or [])
        summary = record.get("summary")
        return cls(
            id=str(record["id"]), kind=str(record["kind"]),
            params=dict(record.get("params") or {}), actor=str(record.get("actor", "")),
            status=record.get("status", "failed"), progress=float(record.get("progress", 0)),
            message=str(record.get("message", "")), created=ts(record.get("created")) or 0.0,
            started=ts(record.get("started")), finished=ts(record.get("finished")),
            result=(JobOutput(tables, dict(summary or {})) if (tables or summary is not None)
                    else None),
            error=record.get("error"),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state (timestamps as ISO 8601 UTC)."""

        def iso(t: float | None) -> str | None:
            return None if t is None else pd.Timestamp(t, unit="s", tz="UTC").isoformat()

        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "progress": round(self.progress, 4),
            "message": self.message,
            "params": self.params,
            "actor": self.actor,
            "created": iso(self.created),
            "started": iso(self.started),
            "finished": iso(self.finished),
            "tables": list(self.result.tables) if self.result else [],
            "summary": self.result.summary if self.result else None,
            "error": self.error,
        }


@dataclass(frozen=True)
class _Kind:
    run: JobFn
    available: Callable[[], str | None]


#: The built-in job kinds (see the bottom of this module).
DEFAULT_REGISTRY: dict[str, _Kind] = {}


def register_job(
    name: str,
    run: JobFn,
    *,
    available: Callable[[], str | None] | None = None,
    registry: dict[str, _Kind] | None = None,
) -> None:
    """Register a job kind.

    Parameters
    ----------
    name
        URL-safe name (``POST /jobs/{name}``).
    run
        ``run(ws, params, progress) -> JobOutput``.
    available
        Returns ``None`` when the kind can run, else why not (checked at submission).
    registry
        Where to register (default :data:`DEFAULT_REGISTRY`).
    """
    target = DEFAULT_REGISTRY if registry is None else registry
    target[name] = _Kind(run, available or (lambda: None))


class JobRunner:
    """Runs jobs in a background worker thread and tracks them.

    Parameters
    ----------
    workspace_factory
        Opens the workspace for a job (each job gets its own handle, so a job never shares
        a connection with request handlers).
    registry
        Job kinds (default: a copy of :data:`DEFAULT_REGISTRY`).
    workers
        Concurrent jobs.
    """

    def __init__(
        self,
        *,
        workspace_factory: Callable[[], Any],
        registry: dict[str, _Kind] | None = None,
        workers: int = 1,
    ) -> None:
        self._open = workspace_factory
        self.registry = dict(DEFAULT_REGISTRY) if registry is None else registry
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._done: dict[str, threading.Event] = {}
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers),
                                        thread_name_prefix="gisgov-job")
        self.interrupted = self._mark_interrupted()

    def kinds(self) -> list[str]:
        """Registered job kinds."""
        return sorted(self.registry)

    def submit(self, kind: str, params: Mapping[str, Any], *, actor: str) -> Job:
        """Queue a job; returns at once.

        Raises
        ------
        NotFoundError
            Unknown kind.
        JobUnavailableError
            The kind's engine is not available in this build.
        ValidationError
            ``params`` is not a JSON object.
        """
        if kind not in self.registry:
            raise NotFoundError(f"unknown job kind {kind!r}; kinds: {', '.join(self.kinds())}")
        why = self.registry[kind].available()
        if why:
            raise JobUnavailableError(why)
        if not isinstance(params, Mapping):
            raise ValidationError("job parameters must be a JSON object")
        job = Job(id=secrets.token_hex(6), kind=kind, params=dict(params), actor=actor)
        with self._lock:
            self._jobs[job.id] = job
            self._done[job.id] = threading.Event()
        self._record_now(job)
        self._pool.submit(self._run, job)
        return job

    def _record_now(self, job: Job) -> None:
        """Append the job's current state with a workspace handle of its own."""
        try:
            ws = self._open()
        except GisgovError as exc:
            log.warning("job %s: cannot open the workspace to record it: %s", job.id, exc)
            return
        if ws is None:  # a runner without a workspace (doctests)
            return
        try:
            self._record(ws, job)
        finally:
            ws.close()

    def _run(self, job: Job) -> None:
        job.status = "running"
        job.started = time.time()
        # Recorded before the work starts: after a crash or restart GET /jobs/{id} still
        # finds the job (as interrupted) instead of answering 404.
        self._record_now(job)

        def progress(message: str, fraction: float) -> None:
            job.message = str(message)
            job.progress = float(min(1.0, max(job.progress, fraction)))

        ws = None
        try:
            ws = self._open()
            job.result = self.registry[job.kind].run(ws, job.params, progress)
            job.status = "succeeded"
            job.progress = 1.0
        except GisgovError as exc:
            job.status, job.error, job.error_type = "failed", str(exc), type(exc).__name__
        except Exception as exc:
            log.exception("job %s (%s) crashed", job.id, job.kind)
            job.status, job.error = "failed", f"internal error: {type(exc).__name__}: {exc}"
            job.error_type = "InternalError"
        finally:
            job.finished = time.time()
            if ws is not None:
                self._record(ws, job)
                ws.close()
            self._done[job.id].set()

    def _record(self, ws: Any, job: Job) -> None:
        state = job.to_dict()
        row = pd.DataFrame([{
            "id": job.id, "kind": job.kind, "status": job.status, "actor": job.actor,
            "created": state["created"],
            "record": json.dumps(state, ensure_ascii=False, default=_json_default),
            "runner": _RUNNER,
        }])
        try:
            ws.write_table(JOBS_TABLE, row, mode="append", bump_version=False)
        except Exception as exc:  # the job's own results are written; keep going
            log.warning("job %s: cannot record it in the jobs table: %s", job.id, exc)

    def _mark_interrupted(self, attempts: int = 5) -> list[str]:
        """Mark jobs that a dead process left ``queued``/``running`` as ``interrupted``.

        Only jobs whose recording process is known to be gone are marked: a runner of this
        host whose process id no longer exists. Jobs of live processes (another worker of
        the same service) and of other hosts are left alone, since nothing here can tell
        whether those still run. The read-modify-append is guarded by the table's version,
        so two runners starting together do not both mark the same job.

        Returns
        -------
        list of str
            Ids of the jobs marked.
        """
        try:
            ws = self._open()
        except GisgovError as exc:
            log.warning("jobs: cannot open the workspace to look for interrupted jobs: %s", exc)
            return []
        if ws is None:
            return []
        try:
            for _ in range(attempts):
                version = ws.table_version(JOBS_TABLE)
                if version == 0:
                    return []
                rows = pd.DataFrame(ws.read_table(JOBS_TABLE))
                stale = _stale_jobs(rows)
                if not stale:
                    return []
                now = pd.Timestamp.now(tz="UTC").isoformat()
                out = []
                for job, runner in stale:
                    record = job.to_dict()
                    record.update(status="interrupted", finished=now, message=
                                  INTERRUPTED_MESSAGE.format(status=job.status),
                                  error=INTERRUPTED_MESSAGE.format(status=job.status),
                                  interrupted_runner=runner)
                    out.append({"id": job.id, "kind": job.kind, "status": "interrupted",
                                "actor": job.actor, "created": record["created"],
                                "record": json.dumps(record, ensure_ascii=False,
                                                     default=_json_default),
                                "runner": _RUNNER})
                try:
                    ws.write_table(JOBS_TABLE, pd.DataFrame(out), mode="append",
                                   bump_version=False, if_version=version)
                except ConflictError:
                    continue  # another runner recorded something meanwhile: look again
                ids = [str(r["id"]) for r in out]
                log.warning("jobs: %d job(s) interrupted by a restart: %s", len(ids),
                            ", ".join(ids))
                return ids
            log.warning("jobs: the jobs table kept changing; interrupted jobs not marked")
            return []
        except GisgovError as exc:
            log.warning("jobs: cannot mark interrupted jobs: %s", exc)
            return []
        finally:
            ws.close()

    def get(self, job_id: str) -> Job:
        """The job with this id.

        Raises
        ------
        NotFoundError
            No such job in this service's memory.
        """
        with self._lock:
            job = self._jobs.get(job_id)
        if job is not None:
            return job
        # a job finished before this service (re)started is in the workspace's jobs table
        recorded = self._recorded().get(job_id)
        if recorded is None:
            raise NotFoundError(f"no job {job_id!r}; jobs are listed at /jobs")
        return recorded

    def list(self) -> list[Job]:
        """Every job this service ran or found recorded in the workspace, newest first."""
        with self._lock:
            jobs = dict(self._jobs)
        for job_id, job in self._recorded().items():
            jobs.setdefault(job_id, job)
        return sorted(jobs.values(), key=lambda j: j.created, reverse=True)

    def _recorded(self) -> dict[str, Job]:
        """Finished jobs from the jobs table, by id (the last record of each wins)."""
        try:
            ws = self._open()
        except GisgovError:
            return {}
        try:
            if not ws.has_table(JOBS_TABLE):
                return {}
            rows = pd.DataFrame(ws.read_table(JOBS_TABLE))
        except GisgovError as exc:
            log.warning("jobs table unreadable: %s", exc)
            return {}
        finally:
            ws.close()
        out: dict[str, Job] = {}
        for text in rows.get("record", pd.Series(dtype=object)).dropna():
            try:
                job = Job.from_record(json.loads(text))
            except (ValueError, KeyError, TypeError):
                continue  # a damaged record is skipped, the others still answer
            out[job.id] = job
        return out

    def wait(self, job_id: str, timeout: float | None = 60.0) -> Job:
        """Block until a job finished (tests and the CLI)."""
        self._done[job_id].wait(timeout)
        return self._jobs[job_id]

    def shutdown(self, *, wait: bool = False) -> None:
        """Stop accepting jobs; running ones finish in the background unless ``wait``."""
        self._pool.shutdown(wait=wait, cancel_futures=True)


def _stale_jobs(rows: pd.DataFrame) -> list[tuple[Job, str]]:
    """Jobs whose last record is ``queued``/``running`` by a process that is gone."""
    last: dict[str, tuple[Job, str]] = {}
    runners = rows["runner"] if "runner" in rows.columns else pd.Series([None] * len(rows))
    for text, runner in zip(rows.get("record", pd.Series(dtype=object)), runners, strict=False):
        if not isinstance(text, str):
            continue
        try:
            job = Job.from_record(json.loads(text))
        except (ValueError, KeyError, TypeError):
            continue
        last[job.id] = (job, runner if isinstance(runner, str) else "")
    return [(job, runner) for job, runner in last.values()
            if job.status in ("queued", "running") and _runner_gone(runner)]


def _runner_gone(runner: str) -> bool:
    """Whether the process that wrote ``host:pid`` has ended (False when unknown)."""
    host, _, pid_text = runner.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    return not _pid_alive(pid)


def _pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine (POSIX and Windows)."""
    if sys.platform == "win32":  # os.kill(pid, 0) would send CTRL_C_EVENT there
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, belongs to another user
    return True


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _module_available(module: str, attribute: str, what: str) -> Callable[[], str | None]:
    def check() -> str | None:
        import importlib

        try:
            getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError):
            return f"{what} is not available in this build ({module}.{attribute} is missing)"
        return None

    return check


# ---- built-in job kinds -------------------------------------------------------------------


def assign_job(ws: Any, params: Mapping[str, Any], progress: ProgressFn) -> JobOutput:
    """Red-grid member ↔ household assignment; the same run as ``gisgov assign``.

    Parameters: the fields of :class:`~gisgov.assignment.options.AssignOptions` (all
    optional, the command's names and defaults): ``min_load`` (5), ``max_load`` (10),
    ``borrow`` (true), ``borrow_cost`` (500 m), ``change_penalty`` (300 m), ``scope``
    (``subdistrict``; or ``grid``, ``community``), ``deploy_cap_m`` (3000 m), ``deploy_cost``
    (1000 m), ``deploy_from`` (``home`` or ``unit``), ``one_grid`` (true), ``fresh`` (false),
    ``workers`` (1) and ``scheduler`` (a Dask scheduler's address; PostGIS workspaces).
    """
    from gisgov.assignment import write_assignment
    from gisgov.assignment.options import AssignOptions
    from gisgov.assignment.tasks import run_assign

    opts = AssignOptions.from_mapping(params)
    progress("reading layers", 0.02)
    result = run_assign(ws, opts, progress=lambda d, f: progress(d, 0.05 + 0.85 * f))
    progress("writing assignments", 0.92)
    written = write_assignment(ws, result)
    summary = json.loads(json.dumps(result.summary, default=_json_default))
    return JobOutput(written, summary)


def _prepare_kernels(progress: ProgressFn) -> None:
    """Compile (or load) the districting kernels before the run's ``time_limit`` starts.

    A cold numba cache costs 15+ s of compiling (more on a loaded machine); counted inside a
    job's time limit it cut the search short and failed jobs depending on the machine's load.
    """
    from gisgov.districting.warmup import kernels_prepared, prepare_kernels

    if not kernels_prepared():
        progress("preparing the optimiser (compiled on first use)", 0.01)
        prepare_kernels()


def grids_job(ws: Any, params: Mapping[str, Any], progress: ProgressFn) -> JobOutput:
    """Partition communities into grids with staff; the same run as ``gisgov grids``.

    Parameters: the fields of :class:`~gisgov.grids.options.GridsOptions` (all optional,
    the command's names and defaults): ``target_households`` (100), ``communities``
    ("all", "urban" or comma-separated codes), ``seed`` (0), ``time_limit`` (60 s),
    ``workers`` (1) and ``scheduler`` (a Dask scheduler's address; PostGIS workspaces).
    """
    from gisgov.grids import write_grid_plan
    from gisgov.grids.options import GridsOptions
    from gisgov.grids.tasks import run_grids

    opts = GridsOptions.from_mapping(params)
    _prepare_kernels(progress)
    plan = run_grids(ws, opts, progress=lambda d, f: progress(d, 0.9 * f))
    progress("writing grids", 0.95)
    tables = write_grid_plan(ws, plan)
    summary = json.loads(json.dumps(plan.result.summary(), default=_json_default))
    return JobOutput(tables, summary)


def redistrict_job(ws: Any, params: Mapping[str, Any], progress: ProgressFn) -> JobOutput:
    """Re-draw communities as a stored scenario; the same run as ``gisgov redistrict``.

    Units are the workspace's compounds and street blocks (as on the command line); the
    plan is saved as a scenario (``scenario_<name>_areas`` / ``_units`` tables) and accepted
    only when ``apply`` is true (re-drawing the grids of the changed communities unless
    ``keep_grids``).

    Parameters: every option of ``gisgov redistrict`` with the same name and default — the
    fields of :class:`~gisgov.districting.options.RedistrictOptions` (``communities``,
    ``areas``, ``target_households``, ``tolerance``, ``lock``, ``cross_subdistricts``,
    ``objective``, ``weights``, ``exact``, ``islands``, ``seed``, ``time_limit``,
    ``scenario`` (default ``job_<id>``), ``apply``, ``keep_grids``).
    """
    from gisgov.districting.options import RedistrictOptions, run_redistrict
    from gisgov.districting.scenarios import accept_scenario, save_scenario

    opts = RedistrictOptions.from_mapping(params)
    _prepare_kernels(progress)
    progress("reading layers", 0.02)
    layers = {n: ws.read(n) for n in ("communities", "streets", "compounds", "households")}
    result = run_redistrict(layers, opts, crs=ws.working_crs,
                            progress=lambda d, f: progress(d, 0.05 + 0.85 * f))
    progress("writing the scenario", 0.93)
    name = opts.scenario or f"job_{secrets.token_hex(3)}"
    save_scenario(ws, name, result)
    summary = json.loads(json.dumps(result.summary(), default=_json_default))
    summary["scenario"] = name
    summary["objective"] = opts.objective
    if opts.apply:
        summary["accepted"] = json.loads(json.dumps(
            accept_scenario(ws, name, keep_grids=opts.keep_grids, seed=opts.seed,
                            time_limit=opts.time_limit),
            default=_json_default))
    tables = [t for t in ws.tables() if t.startswith(f"scenario_{name}")]
    if summary.get("accepted"):
        tables.insert(0, "communities")
        if summary["accepted"].get("grids_redrawn"):
            tables[1:1] = ["grids", "staff"]
    return JobOutput(tables, summary)


register_job("redistrict", redistrict_job,
             available=_module_available("gisgov.districting", "partition",
                                         "the districting engine"))
register_job("grids", grids_job,
             available=_module_available("gisgov.grids", "make_grids", "the grid engine"))
register_job("assign", assign_job,
             available=_module_available("gisgov.assignment", "assign", "the assignment engine"))
