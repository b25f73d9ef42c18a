"""The assignment of a city, subdistrict by subdistrict: one task per independent piece.

With ``scope`` at most ``subdistrict`` no member serves outside the subdistrict of the
community it reports to (or lives in), so the flow problems of different subdistricts share
nothing (:mod:`gisgov.assignment._problem` splits them the same way). :func:`run_assign`
runs ``gisgov assign`` and the ``assign`` job.

The driver reads the grids, communities and members (to know which subdistricts a member
joins: home and reporting community) and makes one task per group of subdistricts that
members join; the tasks run in this process (``workers=1``, no Dask) or on Dask
(:mod:`gisgov.distributed`), so every number of workers solves the very same pieces and
finds the same assignment. Each task (:func:`assign_piece`) reads its households (those the
locator puts in its grids), members, streets around them (the deployment cap around, so
every walk within the cap is on the same streets), buildings, units and the previous
assignment from the workspace and calls the public :func:`~gisgov.assignment.assign`;
:func:`merge_results` concatenates the tables and adds up the summary. No process holds the
households or streets of the whole city.

Each piece's problem is the one the single call of :func:`~gisgov.assignment.assign` on the
whole workspace builds for those subdistricts (the same households, members, arcs and
relaxed optimum: checked on the reference county), but the min-cost flow breaks ties by node
order, so between equally good flows the single call and the pieces may choose differently
and the one-grid repair then goes its own way: the single call is not reproduced to the
household. The summary's figures are the pieces' sums, except two that look across pieces
and are counted per piece: a kin member living in another piece counts as
``kin_member_missing`` (not ``kin_member_elsewhere``), and recruitment candidates are
looked for among the piece's own members.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gisgov.assignment._assign import assign, previous_from_layer
from gisgov.assignment._result import OPTIMALITY_NOTE, AssignmentResult
from gisgov.assignment.options import AssignOptions
from gisgov.distributed import Cluster, Session, map_tasks
from gisgov.errors import ValidationError
from gisgov.locate import codes_at

__all__ = ["AssignPiece", "assign_piece", "merge_results", "run_assign", "warm_worker"]

ProgressFn = Callable[[str, float], None]

#: Metres per degree of latitude, for padding a bounding box by a distance.
M_PER_DEG = 111_000.0
#: Margin (m) around a piece's grids when reading its households, buildings and the grids
#: that decide edge households: every grid touching a household is then read.
NEAR_M = 50.0


@dataclass(frozen=True)
class AssignPiece:
    """One group of subdistricts to assign: small and picklable (codes and ids, no data)."""

    url: str
    communities: tuple[str, ...]
    member_ids: tuple[str, ...]
    bbox: tuple[float, float, float, float]
    options: AssignOptions


def _pad(bbox: tuple[float, float, float, float], metres: float
         ) -> tuple[float, float, float, float]:
    lat = math.radians((bbox[1] + bbox[3]) / 2)
    dy = metres / M_PER_DEG
    dx = dy / max(math.cos(lat), 0.1)
    return (bbox[0] - dx, bbox[1] - dy, bbox[2] + dx, bbox[3] + dy)


def assign_piece(piece: AssignPiece) -> AssignmentResult:
    """Assign one piece, reading its inputs from the workspace (runs on a worker)."""
    from gisgov.store import open_workspace

    o = piece.options
    ws = open_workspace(piece.url)
    try:
        grids = ws.read("grids", where={"community_code": list(piece.communities)})
        near = _pad(piece.bbox, NEAR_M)
        around = ws.read("grids", bbox=near)
        # only what the assignment uses: no names, phones or addresses
        households = ws.read("households", bbox=near, columns=["building_id", "kin_member_id"])
        # the locator over every grid nearby: a household on an edge with another piece's
        # grid goes where the single call puts it (the lowest code), not always here
        here = pd.Series(codes_at(households.geometry, around)).isin(set(grids["code"]))
        households = households[here.to_numpy()].reset_index(drop=True)
        members = ws.read("members", where={"id": list(piece.member_ids)})
        unit_ids = sorted({str(u) for u in members["unit_id"].dropna()})
        units = ws.read("units", where={"id": unit_ids}) if unit_ids else ws.read("units", limit=0)
        # every walk within the deployment cap runs inside this margin
        streets = ws.read("streets", bbox=_pad(piece.bbox, o.deploy_cap_m + 500.0))
        buildings = ws.read("buildings", bbox=near, columns=["compound_id"])
        previous = None
        if not o.fresh:
            prev = ws.read("assignments", where={"household_id": households["id"].tolist()})
            previous = previous_from_layer(prev)
        return assign(
            households, members, grids, streets=streets, buildings=buildings, units=units,
            previous=previous, min_load=o.min_load, max_load=o.max_load, borrow=o.borrow,
            borrow_cost=o.borrow_cost, change_penalty=o.change_penalty, scope=o.scope,
            deploy_cap_m=o.deploy_cap_m, deploy_cost=o.deploy_cost, deploy_from=o.deploy_from,
            one_grid=o.one_grid, working_crs=ws.working_crs)
    finally:
        ws.close()


def warm_worker() -> None:
    """Nothing, run once per worker by :class:`~gisgov.distributed.Session` while the driver
    reads: unpickling it imports this module, hence the assignment and its solver, before
    the worker's first piece."""


def _pieces(ws: Any, opts: AssignOptions) -> list[AssignPiece]:
    """Groups of subdistricts no member joins across, with their communities and members."""
    grids = ws.read("grids")
    if not len(grids):
        raise ValidationError("the grids layer is empty: run gisgov grids first")
    comm = ws.read("communities")
    sub_of = dict(zip(comm["code"].astype(str), comm["subdistrict_code"].astype(str),
                      strict=True))
    g_comm = grids["community_code"].astype(str)
    g_sub = g_comm.map(sub_of).fillna("").to_numpy()
    members = ws.read("members", columns=["report_community_code"])
    home = codes_at(members.geometry, grids)
    row = {c: i for i, c in enumerate(grids["code"].astype(str))}
    home_sub = np.array([g_sub[row[c]] if c is not None else "" for c in home], dtype=object)
    reported = members.get("report_community_code", pd.Series([None] * len(members)))
    rep_sub = np.array([sub_of.get(c, "") if isinstance(c, str) else "" for c in reported],
                       dtype=object)
    # union-find over subdistricts: a member reporting elsewhere joins both
    parent = {s: s for s in set(g_sub) if s}

    def find(s: str) -> str:
        while parent[s] != s:
            parent[s] = parent[parent[s]]
            s = parent[s]
        return s

    if opts.scope != "grid":
        for a, b in zip(home_sub, rep_sub, strict=True):
            if a in parent and b in parent and find(a) != find(b):
                parent[find(b)] = find(a)
    roots = sorted({find(s) for s in parent})
    of_member = [find(a) if a in parent else (find(b) if b in parent else roots[0])
                 for a, b in zip(home_sub, rep_sub, strict=True)]
    ids = members["id"].astype(str).to_numpy()
    out = []
    for root in roots:
        mine = np.array([find(s) == root if s else False for s in g_sub])
        box = tuple(float(v) for v in grids[mine].total_bounds)
        out.append(AssignPiece(
            url=ws.url, communities=tuple(sorted(set(g_comm[mine]))),
            member_ids=tuple(ids[np.array([r == root for r in of_member], dtype=bool)]),
            bbox=box, options=opts))  # type: ignore[arg-type]
    return out


def _sum(rows: list[dict[str, Any]], key: str) -> Any:
    values = [r[key] for r in rows]
    if any(v is None for v in values):
        return None
    return round(sum(values), 2) if isinstance(values[0], float) else sum(values)


#: Summary figures that add up over pieces.
ADDITIVE = (
    "households", "assigned", "unassigned", "deployed", "deployed_households", "members",
    "members_eligible", "members_used", "members_below_min", "members_multi_grid",
    "loads_within_bounds", "kin_total", "kin_possible", "kin_honoured", "kin_member_elsewhere",
    "kin_member_missing", "kin_blocked", "previous_households", "changed_from_previous",
    "borrowed", "grids", "grids_short", "more_members_needed", "households_outside_grids",
    "households_on_grid_boundary", "pairs", "household_nodes", "arcs", "fallback_pairs",
    "fallback_assigned", "clusters", "members_pinned", "relaxed_assigned", "total_walk_m",
    "objective", "lower_bound", "pair_cost_m", "relaxed_objective", "coverage_bound",
    "uncovered_with_room",
)


def merge_summaries(rows: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    """The summary of the whole run from the pieces' summaries."""
    out = dict(rows[0])
    for key in ADDITIVE:
        if key in out:
            out[key] = _sum(rows, key)
    n_h, done = out["households"], out["assigned"]
    used = [r for r in rows if r["members_used"]]
    out["unassigned_share"] = round((n_h - done) / n_h, 4) if n_h else 0.0
    out["coverage"] = round(done / n_h, 4) if n_h else 1.0
    out["min_load"] = min((r["min_load"] for r in used), default=0)
    out["max_load"] = max((r["max_load"] for r in used), default=0)
    out["max_walk_m"] = max(r["max_walk_m"] for r in rows)
    out["mean_walk_m"] = round(out["total_walk_m"] / done, 1) if done else 0.0
    out["one_grid_rounds"] = max(r["one_grid_rounds"] for r in rows)
    reasons: Counter[str] = Counter()
    for r in rows:
        reasons.update(r["reasons"])
    out["reasons"] = dict(reasons.most_common())
    out["recruit"] = sorted((x for r in rows for x in r["recruit"]),
                            key=lambda x: x["grid_code"])
    # the coverage bound is a maximum flow per piece, and pieces share no member or household
    out["coverage_maximal"] = all(r.get("coverage_maximal", False) for r in rows)
    out["optimal"] = all(r["optimal"] for r in rows)
    out["optimality"] = (OPTIMALITY_NOTE if out["optimal"] else
                         "; ".join(r["optimality"] for r in rows if not r["optimal"]))
    out["one_grid_gap_m"] = (None if not out["optimal"] or out["relaxed_objective"] is None
                             else round(out["objective"] - out["relaxed_objective"], 2))
    if any(r["distance"] != out["distance"] for r in rows):
        out["distance"] = "network, straight line where a piece has no streets"
    out["seconds"] = round(seconds, 3)
    return out


def merge_results(pieces: list[AssignmentResult], seconds: float) -> AssignmentResult:
    """One :class:`AssignmentResult` from the pieces' results (tables concatenated)."""

    def cat(name: str, key: str | None) -> Any:
        frames = [getattr(p, name) for p in pieces]
        frame = pd.concat(frames, ignore_index=True)
        if isinstance(frames[0], gpd.GeoDataFrame):
            frame = gpd.GeoDataFrame(frame, geometry=frames[0].geometry.name,
                                     crs=frames[0].crs)
        if key is not None and len(frame):
            frame = frame.sort_values(key, kind="stable").reset_index(drop=True)
        return frame

    clusters = cat("clusters", None)
    clusters["cluster"] = np.arange(len(clusters))
    return AssignmentResult(
        assignments=cat("assignments", "household_id"), unassigned=cat("unassigned",
                                                                       "household_id"),
        members=cat("members", "member_id"), grids=cat("grids", "grid_code"), clusters=clusters,
        kin_missed=cat("kin_missed", "household_id"), deployments=cat("deployments", None),
        recruit=cat("recruit", "grid_code"), recruit_candidates=cat("recruit_candidates", None),
        summary=merge_summaries([p.summary for p in pieces], seconds))


def run_assign(ws: Any, opts: AssignOptions, *, progress: ProgressFn | None = None
               ) -> AssignmentResult:
    """Assign households red-grid members with ``opts`` on the cluster they ask for.

    Raises
    ------
    ValidationError
        Bad options, no grids, or an external scheduler with a GeoPackage workspace.
    """
    opts.validate()
    cluster = Cluster.resolve(workers=opts.workers, scheduler=opts.scheduler,
                              workspace_url=ws.url)
    started = time.monotonic()
    with Session(cluster, warm=warm_worker) as session:
        pieces = _pieces(ws, opts)
        results = map_tasks(assign_piece, pieces, cluster=cluster, name="assign",
                            label="红色网格员联户 片 pieces", progress=progress, start=0.05,
                            span=0.85, weights=[len(p.member_ids) for p in pieces],
                            session=session)
        session.release()
        return merge_results(results, time.monotonic() - started)
