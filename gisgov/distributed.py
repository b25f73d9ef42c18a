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
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from gisgov.errors import ValidationError

__all__ = ["SCHEDULER_ENV", "Cluster", "map_tasks", "run_tasks"]

#: Environment variable naming a running Dask scheduler (the default of ``--scheduler``).
SCHEDULER_ENV = "GISGOV_DASK_SCHEDULER"
#: Times Dask retries a failed task before the run fails.
RETRIES = 2

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


@contextmanager
def _client(cluster: Cluster) -> Iterator[Any]:
    """A Dask client on the cluster asked for; a local cluster ends with the block."""
    from distributed import Client, LocalCluster

    if cluster.scheduler:
        with Client(cluster.scheduler) as client:  # type: ignore[no-untyped-call]
            yield client
        return
    with LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=cluster.workers, threads_per_worker=1, processes=True, dashboard_address=None,
    ) as local, Client(local) as client:  # type: ignore[no-untyped-call]
        yield client


def run_tasks(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    cluster: Cluster,
    name: str,
    progress: Callable[[int, int], None] | None = None,
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
    from distributed import as_completed

    with _client(cluster) as client:
        futures = {client.submit(fn, item, key=f"{name}-{i}", retries=RETRIES, pure=False): i
                   for i, item in enumerate(items)}
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
) -> list[R]:
    """:func:`run_tasks`, the results in the order of ``items``; ``progress(f"{label}
    done/total (where)", start + span × share done)`` after each task."""
    report = progress or (lambda _d, _f: None)
    total = len(items)
    report(f"{label} 0/{total} ({cluster.where})", start)

    def done(n: int, _total: int) -> None:
        report(f"{label} {n}/{total} ({cluster.where})", start + span * n / max(total, 1))

    out: list[Any] = [None] * total
    for i, result in run_tasks(fn, items, cluster=cluster, name=name, progress=done):
        out[i] = result
    return out
