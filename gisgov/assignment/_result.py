"""What an assignment run found and why: :class:`AssignmentResult` and the steps that fill it.

Every table is made by one small function from the problem (who, where, bounds, arcs) and the
solution (one member per household); :func:`make_result` calls them in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from gisgov.assignment._bound import CoverageBound, coverage_bound
from gisgov.assignment._problem import DIRECT, AssignmentProblem
from gisgov.assignment._solve import AssignmentSolution
from gisgov.layers import STORAGE_CRS, conform
from gisgov.network import pair_distances, snap_points

__all__ = ["OPTIMALITY_NOTE", "AssignmentResult", "make_result"]

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

#: Why the optimum is optimal, stated once for reports.
OPTIMALITY_NOTE = (
    "min-cost flow per independent piece (subdistrict, or smaller when nothing crosses), "
    "OR-Tools SimpleMinCostFlow status OPTIMAL, certified by an LP-dual bound from "
    "residual-graph potentials equal to the objective (flow LPs are integral, so the bound "
    "holds for integer assignments); coverage equal to an independent maximum-flow bound "
    "(SciPy) over who may serve whom, and no uncovered household next to a member with room"
)

#: How far (straight line, metres) from a grid's service point a class-D or away member may
#: live to be proposed for recruitment there: a 10-minute walk.
INVITE_RADIUS_M = 800.0


@dataclass(frozen=True, eq=False)
class AssignmentResult:
    """What :func:`gisgov.assignment.assign` found and why.

    Attributes
    ----------
    assignments
        The ``assignments`` layer (EPSG:4326, LineString household→member), one row per
        assigned household, plus ``network`` (walk measured on streets, not straight).
    unassigned
        ``household_id``, ``grid_code``, ``reason`` for every household left without a member.
    members
        One row per member: bounds, ``load``, ``shortfall`` below the minimum, ``grids``
        served (kin households aside), ``deployed`` (serving outside their own community),
        ``note``.
    grids
        Per-grid summary: households, capacity, assigned, borrowed, deployed in, members
        needed, walking.
    clusters
        One row per independent flow problem (piece): status, objective, lower bound, size,
        seconds.
    kin_missed
        ``household_id``, ``kin_member_id``, ``reason`` for every kin household not given to
        its kin member.
    deployments
        One row per (member, grid outside their community) with households served, and a
        LineString member origin → the grid's service point (EPSG:4326) for the maps.
    recruit
        The recruitment plan: one row per grid with households left over, members needed
        (A/B at their maximum load) and how many class-D or away members live nearby.
    recruit_candidates
        One row per (grid, member who could be invited): class D or working away (flagged),
        within :data:`INVITE_RADIUS_M` of the grid's service point, nearest first.
    summary
        JSON-ready totals (the CLI's ``--json`` document).
    """

    assignments: gpd.GeoDataFrame
    unassigned: pd.DataFrame
    members: pd.DataFrame
    grids: pd.DataFrame
    clusters: pd.DataFrame
    kin_missed: pd.DataFrame
    deployments: gpd.GeoDataFrame
    recruit: pd.DataFrame
    recruit_candidates: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def optimal(self) -> bool:
        """Whether every flow problem was solved and proven optimal."""
        return bool(self.summary.get("optimal", False))


@dataclass(frozen=True)
class _Pairs:
    """The assigned pairs: household, member, walk, reason, and whether deployed."""

    h: IntArray
    m: IntArray
    walk: NDArray[np.float64]
    network: NDArray[np.bool_]
    reason: NDArray[np.object_]
    deployed: NDArray[np.bool_]
    cost_m: NDArray[np.float64]


def _pairs(p: AssignmentProblem, s: AssignmentSolution) -> _Pairs:
    """Assigned pairs with their walk, measured again for each pair (from the member's home,
    or from their origin when deployed through a service point) and their reason."""
    h = np.flatnonzero(s.chosen >= 0)
    m = s.chosen[h]
    walk = np.zeros(len(h))
    network = np.ones(len(h), dtype=bool)
    dep = s.deployed[h]
    for mask, snap in ((~dep, p.m_snap), (dep, p.origin_snap)):
        if mask.any():
            d = pair_distances(p.graph, snap, p.h_snap, m[mask], h[mask])
            walk[mask], network[mask] = d.distance_m, d.network
    same_b = (p.h_building[h] >= 0) & (p.h_building[h] == p.m_building[m])
    same_c = ((p.h_compound[h] >= 0) & (p.h_compound[h] == p.m_compound[m])) | same_b
    model = p.model
    cost_m = walk - model.building_bonus * same_b - model.compound_bonus * same_c
    home_comm = p.g_comm[p.h_grid[h]]
    kin = p.h_kin[h] == m
    other = p.m_grid[m] != p.h_grid[h]
    # deployed: serving a community that is neither the one reported to nor the home's
    deployed = (other & (p.m_community[m] != home_comm) & ~kin
                & (p.g_comm[np.maximum(p.m_grid[m], 0)] != home_comm))
    reason = np.full(len(h), "nearest", dtype=object)
    reason[same_c] = "compound"
    reason[same_b] = "building"
    reason[other & ~deployed] = "borrowed"
    reason[deployed] = "deployed"
    reason[kin] = "kin"
    return _Pairs(h, m, walk, network, reason, deployed, cost_m)


def _layer(p: AssignmentProblem, pairs: _Pairs, households: gpd.GeoDataFrame,
           members: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The ``assignments`` layer: a line from each household to its member's home."""
    h_pts = households.geometry.to_crs(STORAGE_CRS).values
    m_pts = members.geometry.to_crs(STORAGE_CRS).values
    lines = np.asarray(shapely.linestrings(np.stack(
        [shapely.get_coordinates(h_pts[pairs.h]), shapely.get_coordinates(m_pts[pairs.m])],
        axis=1)) if len(pairs.h) else np.zeros(0, dtype=object), dtype=object).reshape(-1)
    if len(lines):
        lines[shapely.length(lines) == 0] = None  # own household: no line to draw
    layer = gpd.GeoDataFrame(
        {"household_id": p.h_id[pairs.h], "member_id": p.m_id[pairs.m],
         "grid_code": p.g_code[p.h_grid[pairs.h]], "walk_m": np.round(pairs.walk, 1),
         "reason": pairs.reason, "network": pairs.network},
        geometry=gpd.GeoSeries(lines, crs=STORAGE_CRS), crs=STORAGE_CRS)
    return conform("assignments", layer)


def _members_table(p: AssignmentProblem, pairs: _Pairs) -> pd.DataFrame:
    """One row per member with the reason for any load below the minimum."""
    n_m = p.n_members
    load = np.bincount(pairs.m, minlength=n_m).astype(np.int64)
    not_kin = pairs.reason != "kin"  # 就亲 outranks the grid line: kin do not count
    grids_served = pd.Series(p.h_grid[pairs.h[not_kin]]).groupby(pairs.m[not_kin]).nunique()
    n_grids = np.zeros(n_m, dtype=np.int64)
    n_grids[grids_served.index.to_numpy()] = grids_served.to_numpy()
    deployed = np.zeros(n_m, dtype=bool)
    deployed[pairs.m[pairs.deployed]] = True
    eligible = p.eligible
    shortfall = np.where(eligible, np.maximum(p.m_min - load, 0), 0)
    note = np.full(n_m, "", dtype=object)
    note[p.m_grid < 0] = "home outside every grid"
    note[(p.m_grid >= 0) & (p.m_status == "away")] = "working away (流动党员): takes none"
    note[(p.m_grid >= 0) & (p.m_status != "away") & ~eligible] = "class bounds take none"
    reach = {"grid": "their grid", "community": "their community within the cap",
             "subdistrict": "their subdistrict within the cap"}[p.scope]
    for i in np.flatnonzero((n_grids > 1) & (note == "")):
        note[i] = (f"serves {n_grids[i]} grids: covering households, minimum loads or kin "
                   "needed more than one (one grid per member is a lower priority)")
    for i in np.flatnonzero(shortfall > 0):
        g = p.m_grid[i]
        where = reach if p.m_reporting[i] else "their grid"
        note[i] = (f"below minimum: every household within reach ({where}) is covered; grid "
                   f"{p.g_code[g]} has {p.g_households[g]} households for members whose "
                   f"minimums add up to {p.g_cap_min[g]}")
    return pd.DataFrame({
        "member_id": p.m_id,
        "grid_code": [p.g_code[g] if g >= 0 else None for g in p.m_grid],
        "community_code": p.m_community, "class": p.m_class, "status": p.m_status,
        "reporting": p.m_reporting, "min_load": p.m_min, "max_load": p.m_max, "load": load,
        "shortfall": shortfall, "grids": n_grids, "deployed": deployed, "note": note,
    })


def _unassigned_table(p: AssignmentProblem, s: AssignmentSolution, g_needed: IntArray
                      ) -> pd.DataFrame:
    """Every household left without a member and why."""
    miss = np.flatnonzero(s.chosen < 0)
    where = {"grid": "", "community": " or reporting members of the community",
             "subdistrict": " or reporting members of the subdistrict"}[p.scope]
    # the reason depends on the grid only: written once per grid, not once per household
    g_miss = p.h_grid[miss]
    per_grid = np.array(
        [f"no member within reach has room: grid {p.g_code[g]} has "
         f"{p.g_households[g]} households and capacity {p.g_cap_max[g]}, and the "
         f"adjacent grids{where} within {p.deploy_cap_m:,.0f} m are full"
         + ("" if p.borrow else " (borrowing is off)")
         + f"; it needs {g_needed[g]} more member(s)" for g in range(p.n_grids)]
        + ["location is outside every grid; check the point or the grids"], dtype=object)
    reasons = per_grid[np.where(g_miss >= 0, g_miss, p.n_grids)]
    failed = s.failed[miss]
    has_failed = np.array([f is not None for f in failed], dtype=bool)
    reasons[has_failed] = [str(f) for f in failed[has_failed]]
    return pd.DataFrame({
        "household_id": p.h_id[miss],
        "grid_code": pd.Series([p.g_code[g] if g >= 0 else None for g in p.h_grid[miss]],
                               dtype=object),
        "reason": pd.Series(reasons, dtype=object)})


def _grids_table(p: AssignmentProblem, s: AssignmentSolution, pairs: _Pairs,
                 members: pd.DataFrame, g_needed: IntArray) -> pd.DataFrame:
    n_g = p.n_grids
    hg = p.h_grid[pairs.h]
    assigned = np.bincount(hg, minlength=n_g).astype(np.int64)
    borrowed = pairs.reason == "borrowed"
    walk_sum = np.bincount(hg, weights=pairs.walk, minlength=n_g)
    walk_max = np.zeros(n_g)
    np.maximum.at(walk_max, hg, pairs.walk)
    kin = (p.h_kin >= 0) & (p.h_grid >= 0)
    mg = p.m_grid
    status = {}
    for r in s.pieces:
        status[r["piece"]] = r
    g_piece = np.full(n_g, -1, dtype=np.int64)
    inside = p.h_grid >= 0
    g_piece[p.h_grid[inside]] = p.node_piece[p.h_node[inside]]
    return pd.DataFrame({
        "grid_code": p.g_code, "community_code": p.g_comm,
        "households": p.g_households,
        "members": np.bincount(mg[mg >= 0], minlength=n_g),
        "members_eligible": np.bincount(mg[p.eligible & (mg >= 0)], minlength=n_g),
        "capacity_min": p.g_cap_min, "capacity_max": p.g_cap_max,
        "assigned": assigned, "unassigned": p.g_households - assigned,
        "coverage": np.round(assigned / np.maximum(p.g_households, 1), 4),
        "borrowed_in": np.bincount(hg[borrowed], minlength=n_g),
        "lent_out": np.bincount(mg[pairs.m[borrowed]], minlength=n_g),
        "deployed_in": np.bincount(hg[pairs.deployed], minlength=n_g),
        "members_used": np.bincount(mg[members["load"].to_numpy() > 0], minlength=n_g),
        "members_below_min": np.bincount(mg[members["shortfall"].to_numpy() > 0],
                                         minlength=n_g),
        "more_members_needed": g_needed,
        "kin_total": np.bincount(p.h_grid[kin], minlength=n_g),
        "kin_honoured": np.bincount(hg[pairs.reason == "kin"], minlength=n_g),
        "total_walk_m": np.round(walk_sum, 1),
        "mean_walk_m": np.round(walk_sum / np.maximum(assigned, 1), 1),
        "max_walk_m": np.round(walk_max, 1),
        "short_of_members": p.g_short,
        "cluster": g_piece,
        "status": [status.get(int(c), {}).get("status", "EMPTY") for c in g_piece],
        "optimal": [bool(status.get(int(c), {}).get("optimal", True)) for c in g_piece],
    })


def _deployments(p: AssignmentProblem, pairs: _Pairs) -> gpd.GeoDataFrame:
    """Member → grid lines for every member serving a grid outside their community."""
    d = pd.DataFrame({"m": pairs.m[pairs.deployed], "g": p.h_grid[pairs.h[pairs.deployed]],
                      "walk": pairs.walk[pairs.deployed]})
    agg = d.groupby(["m", "g"], sort=True).agg(households=("walk", "size"),
                                               mean_walk_m=("walk", "mean")).reset_index()
    m, g = agg["m"].to_numpy(dtype=np.int64), agg["g"].to_numpy(dtype=np.int64)
    to_ll = pyproj.Transformer.from_crs(p.crs, STORAGE_CRS, always_xy=True)
    ox, oy = to_ll.transform(p.m_origin_xy[m, 0], p.m_origin_xy[m, 1])
    ax, ay = to_ll.transform(p.g_anchor_xy[g, 0], p.g_anchor_xy[g, 1])
    lines = (shapely.linestrings(np.stack([np.column_stack([ox, oy]),
                                           np.column_stack([ax, ay])], axis=1))
             if len(m) else np.zeros(0, dtype=object))
    return gpd.GeoDataFrame({
        "member_id": p.m_id[m], "member_community": p.m_community[m],
        "grid_code": p.g_code[g], "community_code": p.g_comm[g],
        "households": agg["households"].to_numpy(dtype=np.int64),
        "mean_walk_m": np.round(agg["mean_walk_m"].to_numpy(dtype=float), 1),
    }, geometry=gpd.GeoSeries(np.asarray(lines, dtype=object), crs=STORAGE_CRS),
        crs=STORAGE_CRS)


def _nearest_room(p: AssignmentProblem, load: IntArray, grids: IntArray) -> FloatArray:
    """Walk (metres, between service points, as the cap is measured) from each of ``grids``
    to the nearest reporting member in scope who still has room (NaN: none): beyond the cap
    whenever coverage is maximal, so it says how far the cap would have to reach."""
    out = np.full(len(grids), np.nan)
    room = p.eligible & (load < p.m_max) & (p.m_pool >= 0) if len(p.m_pool) else None
    if room is None or not room.any() or len(grids) == 0 or p.scope == "grid":
        return out
    pools = np.unique(p.m_pool[room])
    origin, comm = p.pool_grid[pools], p.pool_community[pools]
    mine = (p.g_comm[grids][:, None] == comm[None, :]) if p.scope == "community" else (
        p.g_subdistrict[grids][:, None] == np.array([str(c)[:9] for c in comm])[None, :])
    straight = np.hypot(*(p.g_anchor_xy[grids][:, None, :]
                          - p.g_anchor_xy[origin][None, :, :]).transpose(2, 0, 1))
    straight[~mine] = np.inf
    near = np.argsort(straight, axis=1)[:, :_NEAREST_POOLS]
    gi = np.repeat(np.arange(len(grids)), near.shape[1])
    pj = near.ravel()
    ok = np.isfinite(straight[gi, pj])
    if ok.any():
        snap = snap_points(p.graph, p.g_anchor_xy)
        walk = pair_distances(p.graph, snap, snap, origin[pj[ok]], grids[gi[ok]]).distance_m
        np.fmin.at(out, gi[ok], walk)
    return out


#: Pools (nearest by straight line) whose walk :func:`_nearest_room` measures per grid.
_NEAREST_POOLS = 5


def _recruit(p: AssignmentProblem, unassigned: IntArray, g_needed: IntArray,
             load: IntArray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Recruitment plan: per short grid the members needed and who nearby could be invited
    (class D, or working away — flagged: they take no households under the default bounds)."""
    short = np.flatnonzero(unassigned > 0)
    cand = np.flatnonzero((p.m_grid >= 0) & ((p.m_class == "D") | (p.m_status == "away")))
    rows, cands = [], []
    tree = cKDTree(p.m_xy[cand]) if len(cand) else None
    for g in short:
        near: list[int] = []
        if tree is not None:
            near = list(tree.query_ball_point(p.g_anchor_xy[g], r=INVITE_RADIUS_M))
        dist = np.hypot(*(p.m_xy[cand[near]] - p.g_anchor_xy[g]).T) if near else np.zeros(0)
        for j in np.argsort(dist, kind="stable"):
            m = cand[near[j]]
            cands.append({
                "grid_code": p.g_code[g], "member_id": p.m_id[m], "class": p.m_class[m],
                "status": p.m_status[m], "distance_m": round(float(dist[j]), 0),
                "flag": "流动党员(在外) working away" if p.m_status[m] == "away"
                else "D类党员 class D",
            })
        rows.append({
            "grid_code": p.g_code[g], "community_code": p.g_comm[g],
            "households": int(p.g_households[g]), "unassigned": int(unassigned[g]),
            "members_needed": int(g_needed[g]), "class_needed": "A/B",
            "candidates": len(near),
        })
    room = _nearest_room(p, load, short)
    for row, d in zip(rows, room, strict=True):
        row["nearest_room_m"] = None if np.isnan(d) else round(float(d), 0)
    cols = ["grid_code", "community_code", "households", "unassigned", "members_needed",
            "class_needed", "candidates", "nearest_room_m"]
    ccols = ["grid_code", "member_id", "class", "status", "distance_m", "flag"]
    return pd.DataFrame(rows, columns=cols), pd.DataFrame(cands, columns=ccols)


def _kin_missed(p: AssignmentProblem, s: AssignmentSolution, load: IntArray) -> pd.DataFrame:
    """Every kin household not given to its kin member, and why."""
    kin_hh = np.flatnonzero((p.h_kin != -1) & (s.chosen != p.h_kin))
    kin_count = np.bincount(p.h_kin[p.h_kin >= 0], minlength=p.n_members)
    rows = []
    for i in kin_hh:
        k = int(p.h_kin[i])
        member = None if k == -2 else p.m_id[k]
        if k == -2:
            why = "the kin member is not in the members layer"
        elif p.h_grid[i] < 0:
            why = "the household is outside every grid"
        elif p.m_grid[k] < 0:
            why = "the kin member lives outside every grid"
        elif not p.eligible[k]:
            why = (f"the kin member takes no households (class {p.m_class[k]}, "
                   f"status {p.m_status[k]})")
        elif p.g_comm[p.m_grid[k]] != p.g_comm[p.h_grid[i]]:
            why = "the kin member lives in another community"
        elif load[k] >= p.m_max[k]:
            why = (f"the kin member is full: {kin_count[k]} kin households for a maximum of "
                   f"{p.m_max[k]}" if kin_count[k] > p.m_max[k]
                   else "the kin member is full with households only they can cover "
                   "(covering every household and minimum loads come before kin)")
        elif p.m_grid[k] != p.h_grid[i]:
            why = "the kin member lives in another grid (kin_scope='grid')"
        else:
            why = "a higher priority won (cover every household, minimum loads)"
        rows.append({"household_id": p.h_id[i], "kin_member_id": member, "reason": why})
    return pd.DataFrame(rows, columns=["household_id", "kin_member_id", "reason"])


def _not_proven(rows: list[dict[str, Any]]) -> str:
    """Why the assignment is not proven optimal: the distinct reasons and their counts."""
    counts: dict[str, int] = {}
    for r in rows:
        if not r["optimal"]:
            why = str(r["reason"] or "not proven")
            counts[why] = counts.get(why, 0) + 1
    n = sum(counts.values())
    return (f"NOT proven optimal: {n} of {len(rows)} flow problem(s) failed: "
            + "; ".join(f"{why} ({c})" for why, c in counts.items()))


def _not_maximal(cover: CoverageBound) -> str:
    """Why a certified flow still is not claimed optimal: the coverage bound disagrees."""
    return (f"NOT proven optimal: {cover.assigned:,} households covered but the model allows "
            f"{cover.bound:,} (independent maximum flow); {cover.with_room:,} uncovered "
            "household(s) had an eligible member with room")


def make_result(p: AssignmentProblem, s: AssignmentSolution, households: gpd.GeoDataFrame,
                members: gpd.GeoDataFrame, seconds: float) -> AssignmentResult:
    """Assemble every table and the summary from a problem and its solution."""
    pairs = _pairs(p, s)
    assigned = np.bincount(p.h_grid[pairs.h], minlength=p.n_grids)
    unassigned = p.g_households - assigned
    g_needed = np.ceil(unassigned / max(p.max_default, 1)).astype(np.int64)
    load = np.bincount(pairs.m, minlength=p.n_members)
    members_df = _members_table(p, pairs)
    grids_df = _grids_table(p, s, pairs, members_df, g_needed)
    recruit, candidates = _recruit(p, unassigned, g_needed, load)
    deployments = _deployments(p, pairs)
    kin_missed = _kin_missed(p, s, load)
    clusters = pd.DataFrame(s.pieces, columns=[
        "piece", "grids", "first_grid", "households", "members", "arcs", "status",
        "objective", "lower_bound", "penalty", "optimal", "reason", "seconds"]).rename(
        columns={"piece": "cluster"})
    summary = _summary(p, s, pairs, members_df, recruit, unassigned, g_needed, kin_missed,
                       coverage_bound(p, s.chosen), seconds)
    return AssignmentResult(_layer(p, pairs, households, members),
                            _unassigned_table(p, s, g_needed), members_df, grids_df,
                            clusters, kin_missed, deployments, recruit, candidates, summary)


def _summary(p: AssignmentProblem, s: AssignmentSolution, pairs: _Pairs,
             members: pd.DataFrame, recruit: pd.DataFrame, unassigned: IntArray,
             g_needed: IntArray, kin_missed: pd.DataFrame, cover: CoverageBound,
             seconds: float) -> dict[str, Any]:
    n_h = p.n_households
    done = len(pairs.h)
    load = members["load"].to_numpy()
    used = load > 0
    eligible = p.eligible
    kin_candidate = np.zeros(n_h, dtype=bool)
    d = p.arc_kind == DIRECT
    dh = p.node_h[p.arc_h[d]]  # kin households are groups of one
    kin_candidate[dh[p.h_kin[dh] == p.arc_m[d]]] = True
    kin_honoured = int((pairs.reason == "kin").sum())
    rows = s.pieces
    all_optimal = bool(rows) and s.optimal and cover.maximal
    # One-grid penalties are a device of the solve, not part of the model's cost.
    penalty = float(sum(r.get("penalty", 0.0) for r in rows))
    objective = float(sum(r["objective"] or 0.0 for r in rows)) - penalty
    bound = (float(sum(r["lower_bound"] for r in rows)) - penalty
             if rows and all(r["lower_bound"] is not None for r in rows) else None)
    changed = p.has_prev & (s.chosen != p.h_prev)
    walk = pairs.walk
    return {
        "households": n_h, "assigned": done, "unassigned": n_h - done,
        "unassigned_share": round((n_h - done) / n_h, 4) if n_h else 0.0,
        "coverage": round(done / n_h, 4) if n_h else 1.0,
        "scope": p.scope, "deploy_cap_m": p.deploy_cap_m, "deploy_from": p.deploy_from,
        "deployed": int(members["deployed"].sum()),
        "deployed_households": int(pairs.deployed.sum()),
        "members": p.n_members, "members_eligible": int(eligible.sum()),
        "members_used": int(used.sum()),
        "members_below_min": int((members["shortfall"] > 0).sum()),
        "members_multi_grid": int((members["grids"] > 1).sum()),
        "min_load": int(load[used].min()) if used.any() else 0,
        "max_load": int(load[used].max()) if used.any() else 0,
        "loads_within_bounds": int(((load >= p.m_min) & (load <= p.m_max))[eligible].sum()),
        "bounds": ({k: list(v) for k, v in p.bounds.by_class.items()}
                   | {"away": list(p.bounds.away)}),
        "total_walk_m": round(float(walk.sum()), 1),
        "mean_walk_m": round(float(walk.mean()), 1) if len(walk) else 0.0,
        "max_walk_m": round(float(walk.max()), 1) if len(walk) else 0.0,
        "kin_total": int((p.h_kin != -1).sum()),
        "kin_possible": int(kin_candidate.sum()),
        "kin_honoured": kin_honoured,
        "kin_member_elsewhere": int(((p.h_kin >= 0) & ~kin_candidate).sum()),
        "kin_member_missing": int((p.h_kin == -2).sum()),
        "kin_blocked": int(kin_candidate.sum()) - kin_honoured,
        "previous_households": int(p.has_prev.sum()),
        "changed_from_previous": int(changed.sum()),
        "borrowed": int((pairs.reason == "borrowed").sum()),
        "reasons": {str(k): int(v) for k, v in pd.Series(pairs.reason).value_counts().items()},
        "recruit": [
            {"grid_code": str(r["grid_code"]), "unassigned": int(r["unassigned"]),
             "members_needed": int(r["members_needed"]), "candidates": int(r["candidates"]),
             "nearest_room_m": r["nearest_room_m"]}
            for r in recruit.to_dict("records")],
        "grids": p.n_grids,
        "grids_short": int((unassigned > 0).sum()),
        "more_members_needed": int(g_needed.sum()),
        "households_outside_grids": int((p.h_grid < 0).sum()),
        "households_on_grid_boundary": int(p.h_on_edge.sum()),
        "pairs": int(d.sum()),
        "household_nodes": p.n_hnodes,
        "arcs": len(p.arc_kind),
        "fallback_pairs": int((~p.arc_network[d]).sum()) if p.have_streets else int(d.sum()),
        "fallback_assigned": int((~pairs.network).sum()),
        "distance": "network" if p.have_streets else "straight line (no streets)",
        "working_crs": p.crs.to_string(),
        "clusters": len(rows),
        "one_grid_rounds": s.rounds,
        "members_pinned": s.pinned,
        "relaxed_assigned": s.relaxed_assigned,
        "relaxed_objective": (None if s.relaxed_objective is None
                              else round(s.relaxed_objective, 2)),
        "one_grid_gap_m": (None if s.relaxed_objective is None or not all_optimal
                           else round(objective - s.relaxed_objective, 2)),
        "optimal": all_optimal,
        "objective": round(objective, 2),
        "lower_bound": None if bound is None else round(bound, 2),
        "coverage_bound": cover.bound,
        "coverage_maximal": cover.maximal,
        "uncovered_with_room": cover.with_room,
        "optimality": (OPTIMALITY_NOTE if all_optimal else _not_proven(rows)
                       if not s.optimal or not rows else _not_maximal(cover)),
        "pair_cost_m": round(float(pairs.cost_m.sum()), 1),
        "seconds": round(seconds, 3),
    }

