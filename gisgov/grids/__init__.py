"""174-style grids: partition communities into grids, code, staff and organise them.

:func:`make_grids` runs the whole chain on a workspace's layers: the districting engine one
level down (:mod:`.partition`), codes in reading order (:mod:`.coding`), "1+1+3+X" staffing
(:mod:`.staffing`), a party organisation per grid (:mod:`.party`); :mod:`.compliance` holds
the rules ``gisgov check`` applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import pandas as pd
import pyproj

from gisgov.coverage import snap_coverage
from gisgov.grids.coding import grid_codes, reading_order
from gisgov.grids.partition import (
    DEFAULT_TARGET_HOUSEHOLDS,
    GridsResult,
    ProgressFn,
    community_units,
    partition_grids,
)
from gisgov.grids.party import grid_of_points, grid_party, propose_branch_splits
from gisgov.grids.staffing import DEFAULT_TEMPLATE, RoleSlot, staff_grids
from gisgov.layers import conform

__all__ = [
    "DEFAULT_TARGET_HOUSEHOLDS",
    "DEFAULT_TEMPLATE",
    "GridPlan",
    "GridsResult",
    "RoleSlot",
    "community_units",
    "finish_grids",
    "grid_codes",
    "grid_of_points",
    "grid_party",
    "make_grids",
    "partition_grids",
    "propose_branch_splits",
    "reading_order",
    "resolve_communities",
    "staff_grids",
    "write_grid_plan",
]

#: Product table listing staff slots no one could fill.
UNFILLED_TABLE = "grid_unfilled_roles"


@dataclass
class GridPlan:
    """Everything :func:`make_grids` changes, ready to be written in one transaction.

    Attributes
    ----------
    result
        The partition (grids of the re-gridded communities, units, per-community figures).
    grids, staff, branches, members, assignments
        The complete new layers.
    unfilled
        Staff slots that could not be filled (``grid_code``, ``role``, ``duty``, ``reason``).
    """

    result: GridsResult
    grids: gpd.GeoDataFrame
    staff: gpd.GeoDataFrame
    branches: gpd.GeoDataFrame
    members: gpd.GeoDataFrame
    assignments: gpd.GeoDataFrame
    unfilled: pd.DataFrame


def resolve_communities(communities: gpd.GeoDataFrame, spec: str | None) -> list[str]:
    """Turn ``urban``, ``all`` or ``CODE,CODE`` into community codes (default ``all``)."""
    codes = communities["code"].astype(str)
    if spec is None or spec.strip() in ("", "all"):
        return [str(c) for c in codes]
    if spec.strip() == "urban":
        return [str(c) for c in codes[communities["kind"] == "urban"]]
    return [c.strip() for c in spec.split(",") if c.strip()]


def make_grids(
    layers: dict[str, gpd.GeoDataFrame],
    *,
    communities: Sequence[str] | None = None,
    target_households: int = DEFAULT_TARGET_HOUSEHOLDS,
    crs: pyproj.CRS,
    seed: int = 0,
    time_limit: float = 60.0,
    progress: ProgressFn | None = None,
) -> GridPlan:
    """Partition, code, staff and organise grids for some communities.

    Grids of other communities are kept as they are. Staff of grids that keep their code
    stay; assignments follow their household into its new grid (so ``gisgov assign`` can
    keep them stable).

    Parameters
    ----------
    layers
        The workspace's layers.
    communities
        Community codes (default: all).
    target_households
        Households per grid.
    crs
        Metric working CRS.
    seed, time_limit, progress
        Passed to the districting engine.

    Returns
    -------
    GridPlan
    """
    result = partition_grids(layers, communities=communities,
                             target_households=target_households, crs=crs, seed=seed,
                             time_limit=time_limit, progress=progress)
    return finish_grids(layers, result, crs=crs)


def finish_grids(layers: dict[str, gpd.GeoDataFrame], result: GridsResult, *,
                 crs: pyproj.CRS) -> GridPlan:
    """Everything after the partition: the stored grids tiled, staff, party organisations,
    assignments following their households.

    Parameters
    ----------
    layers
        ``grids`` (the current ones: those of other communities are kept), ``members``,
        ``branches``; optional ``compounds``, ``staff``, ``assignments`` and, when there are
        assignments, ``households``.
    result
        The partition of the re-gridded communities.
    crs
        Metric working CRS.

    Returns
    -------
    GridPlan
    """
    done = set(result.grids["community_code"].astype(str))
    old = layers.get("grids")
    kept_grids = (old[~old["community_code"].astype(str).isin(done)]
                  if old is not None and len(old) else None)
    grids = conform("grids", pd.concat([g for g in (kept_grids, result.grids)
                                        if g is not None and len(g)], ignore_index=True)
                    .sort_values("code").reset_index(drop=True))
    # the stored grids tile in the stored coordinates: one coverage on the storage precision
    # grid, overlaps (from communities drawn apart) to the lowest code (gisgov.coverage)
    grids = grids.set_geometry(gpd.GeoSeries(
        snap_coverage(grids.geometry.values, codes=grids["code"].astype(str).to_numpy()),
        index=grids.index, crs=grids.crs))
    snapped = dict(zip(grids["code"].astype(str), grids.geometry, strict=True))
    result.grids = result.grids.set_geometry(gpd.GeoSeries(
        [snapped[str(c)] for c in result.grids["code"]], index=result.grids.index,
        crs=result.grids.crs))
    staffing = staff_grids(result.grids, layers["members"], compounds=layers.get("compounds"),
                           existing=layers.get("staff"), crs=crs)
    other_staff = layers.get("staff")
    if other_staff is not None and len(other_staff):
        other_staff = other_staff[other_staff["grid_code"].isin(grids["code"])
                                  & ~other_staff["grid_code"].isin(result.grids["code"])]
        staff = conform("staff", pd.concat([pd.DataFrame(other_staff), staffing.staff],
                                           ignore_index=True))
    else:
        staff = staffing.staff
    party = grid_party(grids, layers["members"], layers["branches"], communities=sorted(done))
    assignments = layers.get("assignments")
    if assignments is not None and len(assignments):
        assignments = assignments.copy()
        hh = layers["households"].set_index("id")
        points = gpd.GeoSeries(hh.geometry.reindex(assignments["household_id"]).to_numpy(),
                               crs=hh.crs)
        assignments["grid_code"] = grid_of_points(points, grids)
        assignments = conform("assignments", assignments)
    else:
        assignments = conform("assignments", gpd.GeoDataFrame(
            columns=["household_id", "member_id"], geometry=[], crs="EPSG:4326"))
    return GridPlan(result=result, grids=grids, staff=staff, branches=party.branches,
                    members=party.members, assignments=assignments,
                    unfilled=staffing.unfilled)


def write_grid_plan(workspace: Any, plan: GridPlan) -> list[str]:
    """Write everything a :class:`GridPlan` changes in one transaction.

    Returns
    -------
    list of str
        The layers and tables written (for job result links).
    """
    written = ["grids", "staff", "branches", "members", "assignments"]
    with workspace.transaction() as tx:
        for name in written:
            tx.write(name, getattr(plan, name))
        if len(plan.unfilled):
            tx.write_table(UNFILLED_TABLE, plan.unfilled)
            written.append(UNFILLED_TABLE)
        elif tx.has_table(UNFILLED_TABLE):
            tx.drop_table(UNFILLED_TABLE)
    return written
