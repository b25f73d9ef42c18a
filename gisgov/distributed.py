"""Per-community (or per-subdistrict) work as tasks: in this process, or on Dask distributed.

A city is a few dozen subdistricts and hundreds of communities; the grid engine and the
assignment treat each piece on its own. :func:`run_tasks` runs one picklable function per
piece and yields the results as they finish:

* ``workers=1`` and no scheduler (the default): a plain loop in this process — Dask is not
  even imported, so the core install (no ``[dask]`` extra) behaves as before;
* ``workers>1``: a :class:`distributed.LocalCluster` of that many single-threaded worker
  processes on this machine (a process per core: the engines hold the GIL);
* ``scheduler="tcp://host:8786"`` (or the environment variable
  :data:`SCHEDULER_ENV`): a cluster started outside gisgov (``dask scheduler`` and
  ``dask worker`` on other machines). Its workers open the workspace themselves, so it must
  be a PostGIS database they can all reach; a GeoPackage file is refused.

Each task opens the workspace by URL and reads its own inputs, so the driver never ships the
city's layers to the workers. A task that fails (a worker lost, an exception) is retried by
Dask on its own (``retries``) without touching the others. Dask is the engine here — task
scheduling, retries, worker processes — and nothing of it is hand-written.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from gisgov.errors import ValidationError

__all__ = ["SCHEDULER_ENV", "Cluster", "Session", "map_tasks", "run_tasks"]

#: Environment variable naming a running Dask scheduler (the default of ``--scheduler``).
SCHEDULER_ENV = "GISGOV_DASK_SCHEDULER"
#: Times Dask retries a failed task before the run fails.
RETRIES = 2
#: Dask settings of a local cluster (``--workers N``; an external cluster keeps its own).
#: Its scheduler and nannies live in this process and the workers share the machine's cores
#: with it, so the monitoring Dask does by default is paid for in task time: the statistical
#: profiler samples every worker thread each 10 ms, every server checks its event loop each
#: 20 ms, the nannies read their worker's memory each 100 ms and every server its system
#: figures each 500 ms. Idle, that is ~12% of a core for 2 workers; with these ~2%. The
#: memory limit is still enforced, a blocked event loop still reported (within seconds).
#: The worker processes are forked from a fork server (a process started once, which imports
#: :data:`PRELOAD` and the module of the session's warm-up) instead of each starting a fresh
#: interpreter that imports Dask, pandas, GeoPandas and gisgov on its own: on two cores
#: that start-up competes with the driver's own reading, and the second copy of the imports
#: is saved.
LOCAL_CONFIG: dict[str, object] = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.multiprocessing-method": "forkserver",
}
#: Modules the fork server imports (besides the warm-up's): Dask's worker and the store.
PRELOAD = ("distributed", "gisgov.store")

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Cluster:
    """Where tasks run.

    Attributes
    ----------
    workers
        Worker processes of a local cluster (1: in this process, no Dask).
    scheduler
        Address of an existing Dask scheduler (overrides ``workers``).
    """

    workers: int = 1
    scheduler: str | None = None

    @property
    def in_process(self) -> bool:
        """Whether tasks run in this process, without Dask."""
        return self.scheduler is None and self.workers <= 1

    @property
    def where(self) -> str:
        """Where the tasks run, for progress messages."""
        if self.in_process:
            return "本进程 in this process"
        return f"Dask {self.scheduler or f'{self.workers} workers'}"

    @classmethod
    def resolve(cls, *, workers: int, scheduler: str | None, workspace_url: str) -> Cluster:
        """The cluster asked for by the options and the environment, checked against the
        workspace.

        Raises
        ------
        ValidationError
            ``workers`` below 1, or an external scheduler with a GeoPackage workspace (its
            workers may run on other machines and cannot open this file).
        """
        if workers < 1:
            raise ValidationError(f"workers must be at least 1, not {workers}")
        address = scheduler or os.environ.get(SCHEDULER_ENV) or None
        if address and not str(workspace_url).startswith(("postgresql", "postgres:")):
            source = "--scheduler" if scheduler else f"环境变量 {SCHEDULER_ENV}"
            raise ValidationError(
                f"外部 Dask 集群（{source} = {address}）需要每个 worker 都能访问的 PostGIS "
                "工作空间（postgresql://…）；GeoPackage 文件只能在本机处理，请改用 "
                "--workers N（本机进程）或先把工作空间复制到 PostGIS "
                "(an external Dask cluster needs a PostGIS workspace every worker can reach; "
                "use --workers N for a GeoPackage)")
        return cls(workers=workers, scheduler=address)


def _open(cluster: Cluster, preload: Sequence[str] = ()) -> tuple[Any, Any]:
    """A Dask client on the cluster asked for, and the local cluster it started (or None);
    a local cluster's fork server imports ``preload`` too."""
    import dask
    from distributed import Client, LocalCluster
    from distributed.utils import get_mp_context

    if cluster.scheduler:
        return None, Client(cluster.scheduler)  # type: ignore[no-untyped-call]
    # no dashboard, and the scheduler's HTTP endpoints on a free port: another local
    # cluster on this machine (another run, a test) may hold Dask's default 8787; the
    # scheduler, nannies and workers read LOCAL_CONFIG when they are made (a nanny hands
    # its configuration to the worker process it spawns)
    with dask.config.set(LOCAL_CONFIG):
        # Dask sets its own preload list the first time it asks for the context; ours goes
        # after it (the fork server starts with the first worker, and only once a process)
        get_mp_context().set_forkserver_preload(  # type: ignore[no-untyped-call]
            list(dict.fromkeys([*PRELOAD, *preload])))
        local = LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=cluster.workers, threads_per_worker=1, processes=True,
            dashboard_address=None,
            scheduler_kwargs={"dashboard": False, "dashboard_address": ":0"})
    try:
        return local, Client(local)  # type: ignore[no-untyped-call]
    except BaseException:
        local.close()
        raise


def _shut(local: Any, client: Any) -> None:
    client.close()
    if local is not None:
        local.close()


class Session:
    """The cluster of one run, started and stopped off the driver's critical path.

    A local cluster takes seconds to start and seconds to stop, and each worker process
    seconds more to import gisgov and load the compiled kernels (``warm``, run once on every
    worker); the driver meanwhile has its own work: reading the layers it makes the tasks
    from, and after the tasks merging and writing the results. :meth:`open` starts the
    cluster in a thread, :meth:`client` waits for it when the tasks are submitted, and
    :meth:`release` stops it in a thread once the tasks are done. Leaving the ``with``
    block does not wait for the stop (a second or more: the nannies wait for their workers to
    exit) — the caller meanwhile writes the results — unless it leaves on an exception; the
    stopping thread is not a daemon, so the process still waits for it before exiting, and
    :meth:`wait` waits for it now. In process (``workers=1``) it does nothing and imports no
    Dask.
    """

    def __init__(self, cluster: Cluster, *, warm: Callable[[], object] | None = None,
                 preload: Sequence[str] = ()) -> None:
        self.cluster = cluster
        self.warm = warm
        #: Modules a local cluster's fork server imports before forking the workers (with
        #: the warm-up's own module): what they load, every worker has without loading it.
        self.preload = tuple(preload)
        self._warming: list[Any] = []
        self._started: tuple[Any, Any] | None = None
        self._error: BaseException | None = None
        self._starting: threading.Thread | None = None
        self._stopping: threading.Thread | None = None

    def open(self) -> Session:
        """Start the cluster in the background (nothing in process)."""
        if not self.cluster.in_process and self._starting is None:
            self._starting = threading.Thread(target=self._start, name="dask-start",
                                              daemon=True)
            self._starting.start()
        return self

    def _start(self) -> None:
        try:
            module = getattr(self.warm, "__module__", None)
            self._started = _open(self.cluster,
                                  preload=[*([module] if module else []), *self.preload])
            if self.warm is not None:
                # one warm-up task per worker, queued ahead of the real ones: each worker
                # imports the task's modules and loads the compiled kernels while the driver
                # is still reading what it makes the tasks from
                client = self._started[1]
                self._warming = [
                    client.submit(self.warm, key=f"warm-{i}-{address}", workers=[address],
                                  allow_other_workers=False, pure=False, priority=10**9)
                    for i, address in enumerate(client.scheduler_info()["workers"])]
        except BaseException as exc:  # re-raised in the driver by client()
            self._error = exc

    def client(self) -> Any:
        """The Dask client, once the cluster is up.

        Raises
        ------
        Exception
            Whatever starting the cluster raised (an unreachable scheduler, say).
        """
        self.open()
        assert self._starting is not None
        self._starting.join()
        if self._error is not None:
            raise self._error
        assert self._started is not None
        return self._started[1]

    def release(self) -> None:
        """Stop the cluster in the background: its tasks are done."""
        if self._starting is None or self._stopping is not None:
            return
        self._starting.join()
        if self._started is None:
            return
        local, client = self._started
        self._warming = []
        self._stopping = threading.Thread(target=_shut, args=(local, client),
                                          name="dask-stop", daemon=False)
        self._stopping.start()

    def wait(self) -> None:
        """Stop the cluster (if not yet) and wait until it has stopped."""
        self.release()
        if self._stopping is not None:
            self._stopping.join()

    def __enter__(self) -> Session:
        return self.open()

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is not None:
            self.wait()
        else:
            self.release()


def run_tasks(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    cluster: Cluster,
    name: str,
    progress: Callable[[int, int], None] | None = None,
    weights: Sequence[float] | None = None,
    session: Session | None = None,
) -> Iterator[tuple[int, R]]:
    """Run ``fn(item)`` for every item; yield ``(index, result)`` as each one finishes.

    Parameters
    ----------
    fn
        A module-level function (Dask pickles it by reference).
    items
        Small picklable task descriptions (a workspace URL and a code, not data).
    cluster
        Where to run (:class:`Cluster`).
    name
        Prefix of the task keys (shown on the Dask dashboard).
    progress
        ``progress(done, total)`` after each finished task.
    weights
        Expected work of each item: on a cluster the heaviest are submitted first, so no
        worker is left with one long task while the others idle at the end of the run
        (the results do not depend on the order: each task is independent).
    session
        A :class:`Session` started earlier (its cluster is used and left running); without
        one a cluster is started and stopped here.

    Raises
    ------
    Exception
        The first task that still fails after :data:`RETRIES` retries; the remaining tasks
        are cancelled.
    """
    total = len(items)
    if cluster.in_process:
        for i, item in enumerate(items):
            out = fn(item)
            if progress:
                progress(i + 1, total)
            yield i, out
        return
    if session is None:
        own = Session(cluster).open()
        try:
            yield from run_tasks(fn, items, cluster=cluster, name=name, progress=progress,
                                 weights=weights, session=own)
        finally:
            own.wait()
        return
    from distributed import as_completed

    client = session.client()
    order = sorted(range(total), key=lambda i: -weights[i]) if weights else range(total)
    futures = {client.submit(fn, items[i], key=f"{name}-{i}", retries=RETRIES, pure=False,
                             priority=total - rank): i
               for rank, i in enumerate(order)}
    done = 0
    try:
        for future in as_completed(futures):  # type: ignore[no-untyped-call]
            out = future.result()
            done += 1
            if progress:
                progress(done, total)
            yield futures[future], out
            future.release()
    finally:
        client.cancel([f for f in futures if not f.done()])


def map_tasks(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    cluster: Cluster,
    name: str,
    label: str,
    progress: Callable[[str, float], None] | None = None,
    start: float = 0.0,
    span: float = 1.0,
    weights: Sequence[float] | None = None,
    session: Session | None = None,
) -> list[R]:
    """:func:`run_tasks`, the results in the order of ``items``; ``progress(f"{label}
    done/total (where)", start + span × share done)`` after each task."""
    report = progress or (lambda _d, _f: None)
    total = len(items)
    report(f"{label} 0/{total} ({cluster.where})", start)

    def done(n: int, _total: int) -> None:
        report(f"{label} {n}/{total} ({cluster.where})", start + span * n / max(total, 1))

    out: list[Any] = [None] * total
    for i, result in run_tasks(fn, items, cluster=cluster, name=name, progress=done,
                               weights=weights, session=session):
        out[i] = result
    return out
