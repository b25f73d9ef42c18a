"""A city's grids community by community: one task per community, each reading its own inputs.

:func:`run_grids` is what ``gisgov grids`` and the ``grids`` job run. The driver reads only
the communities layer and counts households per community (an index query); each community
is then a task (:func:`grid_community`) that opens the workspace, reads the streets,
compounds, buildings, households and current grids around that community (a bounding-box
query) and partitions it with :func:`~gisgov.grids.partition.partition_grids` — so no
process holds the streets, buildings or households of the whole city. The tasks run in this
process (``workers=1``, no Dask) or on Dask (:mod:`gisgov.distributed`); either way each
community gets the same inputs, seed and time budget, so the grids are the same.

The driver then tiles the grids of all communities in the stored coordinates and staffs and
organises them (:func:`~gisgov.grids.finish_grids`: linear in grids and members), and writes
everything in one transaction: a crash before the end leaves the workspace as it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import pandas as pd

from gisgov.distributed import Cluster, Session, map_tasks
from gisgov.errors import ValidationError
from gisgov.grids import GridPlan, finish_grids, resolve_communities
from gisgov.grids.options import GridsOptions
from gisgov.grids.partition import MIN_COMMUNITY_SECONDS, GridsResult, partition_grids
from gisgov.layers import conform

__all__ = ["CommunityTask", "grid_community", "merge_results", "run_grids", "warm_worker"]

#: Imported by a local cluster's fork server: the districting kernels loaded once there,
#: so every worker forked from it has them (its warm-up then finds them ready).
PRELOAD = "gisgov.grids._kernels_loaded"

#: Margin (degrees, ~10 m) around a community's bounding box when reading its surroundings,
#: so a street or building touching its edge is read whatever the reprojection does.
BBOX_PAD_DEG = 1e-4

ProgressFn = Callable[[str, float], None]


@dataclass(frozen=True)
class CommunityTask:
    """One community to partition: small and picklable (a URL and a code, no data)."""

    url: str
    code: str
    bbox: tuple[float, float, float, float]
    target_households: int
    seed: int
    seconds: float
    #: Households counted in ``bbox`` (the task's weight: the heaviest run first).
    households: int = 0


def grid_community(task: CommunityTask) -> GridsResult:
    """Partition one community, reading its inputs from the workspace (runs on a worker)."""
    from gisgov.store import open_workspace

    ws = open_workspace(task.url)
    try:
        layers = {"communities": ws.read("communities", where={"code": task.code})}
        for name in ("streets", "compounds", "buildings", "households", "grids"):
            layers[name] = ws.read(name, bbox=task.bbox)
        # the community's share of the run's time, fixed by the driver: the same budget as
        # when every community is partitioned in one call
        return partition_grids(layers, communities=[task.code],
                               target_households=task.target_households, crs=ws.working_crs,
                               seed=task.seed, time_limit=task.seconds)
    finally:
        ws.close()


def warm_worker() -> float:
    """Load the districting kernels in a worker process before its first community (the
    seconds it took): run by :class:`~gisgov.distributed.Session` while the driver counts."""
    from gisgov.districting.warmup import prepare_kernels

    return prepare_kernels()


def merge_results(pieces: list[GridsResult], seconds: float) -> GridsResult:
    """One :class:`GridsResult` from the communities' results (in community order)."""
    grids = pd.concat([p.grids for p in pieces], ignore_index=True)
    units = pd.concat([p.units for p in pieces], ignore_index=True)
    return GridsResult(
        grids=conform("grids", gpd.GeoDataFrame(grids, geometry="geometry", crs=pieces[0].grids.crs)
                      .sort_values("code").reset_index(drop=True)),
        units=gpd.GeoDataFrame(units, geometry="geometry", crs=pieces[0].units.crs),
        per_community=pd.concat([p.per_community for p in pieces], ignore_index=True),
        report=[note for p in pieces for note in p.report],
        seconds=seconds,
    )


def _tasks(ws: Any, opts: GridsOptions) -> list[CommunityTask]:
    communities = ws.read("communities")
    if not len(communities):
        raise ValidationError("the workspace has no communities; import or draw them first")
    if not ws.count("households"):
        raise ValidationError("the workspace has no households; grids are balanced by households")
    codes = resolve_communities(communities, opts.communities)
    if not codes:
        raise ValidationError(f"no community matches {opts.communities!r}")
    known = communities.set_index(communities["code"].astype(str))
    unknown = [c for c in codes if c not in known.index]
    if unknown:
        raise ValidationError(f"unknown community code(s) {', '.join(unknown)}; "
                              f"the workspace has {', '.join(known.index)}")
    boxes = {c: tuple(float(v) for v in known.geometry[c].bounds) for c in codes}
    boxes = {c: (b[0] - BBOX_PAD_DEG, b[1] - BBOX_PAD_DEG, b[2] + BBOX_PAD_DEG,
                 b[3] + BBOX_PAD_DEG) for c, b in boxes.items()}
    # time shared out by households (an index count), so a large community is not starved
    load = {c: 1 + ws.count("households", bbox=boxes[c]) for c in codes}
    total = sum(load.values())
    return [CommunityTask(url=ws.url, code=c, bbox=boxes[c],  # type: ignore[arg-type]
                          target_households=opts.target_households, seed=opts.seed,
                          seconds=max(MIN_COMMUNITY_SECONDS, opts.time_limit * load[c] / total),
                          households=load[c] - 1)
            for c in codes]


def _finish_layers(ws: Any) -> dict[str, gpd.GeoDataFrame]:
    """The layers :func:`~gisgov.grids.finish_grids` staffs and organises the grids from."""
    names = ["grids", "members", "branches", "compounds", "staff", "assignments"]
    layers = {n: ws.read(n) for n in names}
    if len(layers["assignments"]):
        layers["households"] = ws.read("households")
    return layers


def run_grids(ws: Any, opts: GridsOptions, *, progress: ProgressFn | None = None
              ) -> GridPlan:
    """Partition, staff and organise the grids of ``opts.communities``, community by
    community on the cluster ``opts`` asks for; returns the plan to write
    (:func:`~gisgov.grids.write_grid_plan`).

    Raises
    ------
    ValidationError
        Bad options, no communities or households, unknown codes, or an external scheduler
        with a GeoPackage workspace.
    """
    report: ProgressFn = progress or (lambda _d, _f: None)
    opts.validate()
    cluster = Cluster.resolve(workers=opts.workers, scheduler=opts.scheduler,
                              workspace_url=ws.url)
    started = time.monotonic()
    with (Session(cluster, warm=warm_worker, preload=[PRELOAD]) as session,
          ThreadPoolExecutor(1) as pool):
        tasks = _tasks(ws, opts)
        # on a cluster this process idles while the workers partition: it reads the layers
        # of the staffing meanwhile (the tasks write nothing, so they read the same rows)
        later = None if cluster.in_process else pool.submit(_finish_layers, ws)
        pieces = map_tasks(grid_community, tasks, cluster=cluster, name="grids",
                           label="网格划分 社区 communities", progress=progress, span=0.85,
                           weights=[t.households for t in tasks], session=session)
        # the workers are done: the cluster stops while this process staffs and organises
        session.release()
        result = merge_results(pieces, seconds=time.monotonic() - started)
        report("配置网格力量与党组织 staffing, party organisations", 0.88)
        layers = _finish_layers(ws) if later is None else later.result()
        plan = finish_grids(layers, result, crs=ws.working_crs)
    plan.result.seconds = time.monotonic() - started
    return plan
