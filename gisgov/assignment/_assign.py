"""Red-grid assignment: one member per household as far as members suffice, explained."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from gisgov.assignment._flow import solve_min_cost_flow
from gisgov.assignment._model import (
    COST_SCALE,
    KIN_BONUS_M,
    MIN_FILL_BONUS_M,
    UNASSIGNED_COST_M,
    ClassBounds,
    CostModel,
)
from gisgov.crs import working_crs_for
from gisgov.errors import CRSError, ValidationError
from gisgov.layers import STORAGE_CRS, conform
from gisgov.network import graph_from_streets, pair_distances, points_to_xy, snap_points

__all__ = ["AssignmentResult", "assign"]

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
ProgressFn = Callable[[str, float], None]

#: Why the optimum is optimal, stated once for reports.
OPTIMALITY_NOTE = (
    "min-cost flow over all household-member pairs of each grid (and of lending neighbours); "
    "OR-Tools SimpleMinCostFlow status OPTIMAL, certified by an LP-dual bound from "
    "residual-graph potentials equal to the objective (flow LPs are integral, so the bound "
    "holds for integer assignments)"
)


@dataclass(frozen=True, eq=False)
class AssignmentResult:
    """What :func:`assign` found and why.

    Attributes
    ----------
    assignments
        The ``assignments`` layer (EPSG:4326, LineString household→member), one row per
        assigned household, plus ``network`` (walk measured on streets, not straight).
    unassigned
        ``household_id``, ``grid_code``, ``reason`` for every household left without a member.
    members
        One row per member: bounds, ``load``, ``shortfall`` below the minimum, ``note``.
    grids
        Per-grid summary: households, capacity, assigned, borrowed, members needed, walking.
    clusters
        One row per independent flow problem (a grid, or grids joined by lending or kin):
        status, objective, lower bound, size, seconds.
    kin_missed
        ``household_id``, ``kin_member_id``, ``reason`` for every kin household not given to
        its kin member.
    summary
        JSON-ready totals (the CLI's ``--json`` document).
    """

    assignments: gpd.GeoDataFrame
    unassigned: pd.DataFrame
    members: pd.DataFrame
    grids: pd.DataFrame
    clusters: pd.DataFrame
    kin_missed: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def optimal(self) -> bool:
        """Whether every flow problem was solved and proven optimal."""
        return bool(self.summary.get("optimal", False))


def _require(gdf: pd.DataFrame, layer: str, columns: list[str]) -> None:
    missing = [c for c in columns if c not in gdf.columns]
    if missing:
        raise ValidationError(
            f"{layer}: missing column(s) {', '.join(missing)}; conform the layer "
            f"(gisgov.layers.conform('{layer}', …)) or import it again"
        )
    if isinstance(gdf, gpd.GeoDataFrame) and len(gdf) and gdf.crs is None:
        raise CRSError(f"{layer} has no coordinate system; store layers in EPSG:4326")


def _str_or_none(values: pd.Series) -> NDArray[np.object_]:
    out = values.astype(object).to_numpy(copy=True)
    out[pd.isna(values).to_numpy()] = None
    return np.array([None if v is None else str(v) for v in out], dtype=object)


def _locate(xy: FloatArray, polygons: NDArray[np.object_]) -> tuple[IntArray, IntArray]:
    """Index of the polygon covering each point (lowest index on ties) and the tie count."""
    n = len(xy)
    where = np.full(n, -1, dtype=np.int64)
    hits = np.zeros(n, dtype=np.int64)
    if n == 0 or len(polygons) == 0:
        return where, hits
    tree = shapely.STRtree(polygons)
    # intersects, not within: a point on a shared edge must land somewhere (lowest code).
    pi, gi = tree.query(shapely.points(xy), predicate="intersects")
    order = np.lexsort((gi, pi))
    pi, gi = pi[order], gi[order]
    first = np.ones(len(pi), dtype=bool)
    first[1:] = pi[1:] != pi[:-1]
    where[pi[first]] = gi[first]
    np.add.at(hits, pi, 1)
    return where, hits


def _codes(*arrays: NDArray[np.object_]) -> list[IntArray]:
    """Factorise string arrays jointly so equal ids get equal integers; None → -1."""
    joined = np.concatenate(arrays) if arrays else np.zeros(0, dtype=object)
    codes, _ = pd.factorize(pd.Series(joined, dtype=object), use_na_sentinel=True)
    out: list[IntArray] = []
    start = 0
    for a in arrays:
        out.append(np.asarray(codes[start : start + len(a)], dtype=np.int64))
        start += len(a)
    return out


def _building_and_compound(
    xy: FloatArray,
    given_building: NDArray[np.object_] | None,
    buildings: gpd.GeoDataFrame | None,
    crs: pyproj.CRS,
) -> tuple[NDArray[np.object_], NDArray[np.object_]]:
    """Building and compound id of each point: the given building id, else the one it is in."""
    n = len(xy)
    bld = given_building.copy() if given_building is not None else np.full(n, None, dtype=object)
    cmp_ = np.full(n, None, dtype=object)
    if buildings is None or len(buildings) == 0:
        return bld, cmp_
    _require(buildings, "buildings", ["id"])
    ids = _str_or_none(buildings["id"])
    missing = np.array([b is None for b in bld], dtype=bool)
    if missing.any():
        polys = np.asarray(buildings.geometry.to_crs(crs).values, dtype=object)
        idx, _ = _locate(xy[missing], polys)
        found = ids[np.maximum(idx, 0)].copy()
        found[idx < 0] = None
        bld[missing] = found
    if "compound_id" in buildings.columns:
        compound_of = dict(zip(ids, _str_or_none(buildings["compound_id"]), strict=True))
        cmp_ = np.array([compound_of.get(b) if b is not None else None for b in bld], dtype=object)
    return bld, cmp_


def _adjacent_grids(
    polys: NDArray[np.object_], community: NDArray[np.object_]
) -> list[list[int]]:
    """Neighbours of each grid: same community and a shared edge (not just a corner)."""
    neighbours: list[list[int]] = [[] for _ in range(len(polys))]
    if len(polys) < 2:
        return neighbours
    tree = shapely.STRtree(polys)
    a, b = tree.query(polys, predicate="intersects")
    keep = (a < b) & (community[a] == community[b])
    a, b = a[keep], b[keep]
    if len(a) == 0:
        return neighbours
    shared = shapely.length(
        shapely.intersection(shapely.boundary(polys[a]), shapely.boundary(polys[b]))
    )
    # A rook-style neighbour shares at least a metre of boundary; corner contacts do not lend.
    for i, j in zip(a[shared >= 1.0], b[shared >= 1.0], strict=True):
        neighbours[int(i)].append(int(j))
        neighbours[int(j)].append(int(i))
    return neighbours


def assign(
    households: gpd.GeoDataFrame,
    members: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
    *,
    streets: gpd.GeoDataFrame | None = None,
    buildings: gpd.GeoDataFrame | None = None,
    previous: pd.DataFrame | None = None,
    bounds: ClassBounds | None = None,
    min_load: int = 5,
    max_load: int = 10,
    borrow: bool = True,
    borrow_cost: float = 500.0,
    change_penalty: float = 300.0,
    building_bonus: float = 100.0,
    compound_bonus: float = 50.0,
    kin_scope: Literal["grid", "community"] = "community",
    working_crs: pyproj.CRS | str | int | None = None,
    certify: bool = True,
    progress: ProgressFn | None = None,
) -> AssignmentResult:
    """Assign households to red-grid members within load bounds, 就亲、就近、就便.

    Every household gets a member only where the members' capacity allows it: households
    beyond the capacity of their grid (and of the grids lending to it) are left unassigned,
    each listed with a reason. The optimum is of the weighted cost model below (coverage
    first), and it is claimed optimal only where the dual certificate proves it.

    Each grid is solved on its own (households and members living in it, located with
    ``intersects`` so boundary points count; ties go to the lowest grid code). A grid whose
    members cannot take all its households (capacity = sum of maximum loads) may borrow
    members of adjacent grids of the same community at ``borrow_cost``; grids joined this way
    are solved together. Each problem is a minimum-cost flow over *all* household-member
    pairs; a dual bound certifies each optimum (``certify``; without it, or when it fails,
    the result says ``optimal: false`` with the reason). The cost model is
    in :mod:`gisgov.assignment._model`: walking metres minus 就便 bonuses, plus borrow and
    change costs, with coverage, minimum loads and kin as priorities above them.

    Parameters
    ----------
    households
        ``households`` layer: ``id``, Point; optional ``building_id``, ``kin_member_id``.
    members
        ``members`` layer: ``id``, ``class``, ``status``, Point home; optional per-member
        ``min_load`` / ``max_load`` columns override the class bounds.
    grids
        ``grids`` layer: ``code``, ``community_code``, Polygon. Must not be empty.
    streets
        ``streets`` layer for walking distances; ``None`` or empty → straight lines, reported
        as fallback pairs.
    buildings
        ``buildings`` layer (``id``, ``compound_id``) for the same-building/compound bonuses
        and to place members' homes in buildings.
    previous
        The previous ``assignments`` (``household_id``, ``member_id``): changes from it cost
        ``change_penalty`` and are counted.
    bounds
        Per-class load bounds; default :meth:`ClassBounds.from_loads` of ``min_load``,
        ``max_load`` (A and B take min..max, C up to max // 2, D and away members none).
    min_load, max_load
        Overall bounds for classes A and B when ``bounds`` is not given.
    borrow
        Let grids short of members borrow from adjacent grids of the same community.
    borrow_cost, change_penalty, building_bonus, compound_bonus
        Cost-model weights in metres (:class:`CostModel`).
    kin_scope
        ``"community"`` (default): a kin member living in another grid of the same community
        may still take the household (就亲 outranks the grid line); ``"grid"``: kin counts
        only inside the grid.
    working_crs
        Projected CRS for distances; default the UTM zone of the households.
    certify
        Compute the dual lower bound proving each optimum (``False``: nothing is claimed
        optimal).
    progress
        Callback ``progress(description, fraction)``.

    Returns
    -------
    AssignmentResult

    Raises
    ------
    ValidationError
        If the grids layer is empty or a required column is missing.
    CRSError
        If a layer has no CRS or ``working_crs`` is not projected.
    """
    t_start = time.perf_counter()
    report: ProgressFn = progress or (lambda _d, _f: None)
    model = CostModel(
        building_bonus=building_bonus, compound_bonus=compound_bonus,
        borrow_cost=borrow_cost, change_penalty=change_penalty,
    )
    bounds = bounds if bounds is not None else ClassBounds.from_loads(
        min_load=min_load, max_load=max_load
    )
    _require(grids, "grids", ["code", "community_code"])
    if len(grids) == 0:
        raise ValidationError("the grids layer is empty: run gisgov grids first")
    _require(households, "households", ["id"])
    _require(members, "members", ["id", "class", "status"])
    if working_crs is not None:
        crs = pyproj.CRS.from_user_input(working_crs)
    elif len(households):
        crs = working_crs_for(households)
    else:
        crs = working_crs_for(grids)
    if kin_scope not in ("grid", "community"):
        raise ValidationError(f"kin_scope must be 'grid' or 'community', got {kin_scope!r}")
    if not crs.is_projected:
        raise CRSError(f"working_crs must be projected (metres), got {crs.to_string()}")

    report("locating households and members in grids", 0.02)
    grids = grids.sort_values("code", kind="stable").reset_index(drop=True)
    g_code = _str_or_none(grids["code"])
    g_comm = _str_or_none(grids["community_code"])
    g_poly = np.asarray(grids.geometry.to_crs(crs).values, dtype=object)
    n_g = len(grids)
    h_id = _str_or_none(households["id"])
    m_id = _str_or_none(members["id"])
    n_h, n_m = len(h_id), len(m_id)
    h_xy = points_to_xy(households, crs) if n_h else np.zeros((0, 2))
    m_xy = points_to_xy(members, crs) if n_m else np.zeros((0, 2))
    h_grid, h_hits = _locate(h_xy, g_poly)
    m_grid, _ = _locate(m_xy, g_poly)

    m_class = _str_or_none(members["class"])
    m_status = _str_or_none(members["status"])
    m_min = np.zeros(n_m, dtype=np.int64)
    m_max = np.zeros(n_m, dtype=np.int64)
    for i in range(n_m):
        m_min[i], m_max[i] = bounds.for_member(str(m_class[i]), str(m_status[i]))
    for col, arr in (("min_load", m_min), ("max_load", m_max)):
        if col in members.columns:
            vals = pd.to_numeric(members[col], errors="coerce").to_numpy(dtype=float)
            ok = np.isfinite(vals)
            arr[ok] = np.rint(vals[ok]).astype(np.int64)
    bad = (m_min < 0) | (m_max < m_min)
    if bad.any():
        raise ValidationError(
            f"members {', '.join(map(str, m_id[bad][:5]))}: per-member bounds need "
            "0 <= min_load <= max_load"
        )
    # Members living outside every grid serve none (there is no grid to serve).
    m_min[m_grid < 0] = 0
    m_max[m_grid < 0] = 0
    eligible = m_max > 0

    h_bld_given = (_str_or_none(households["building_id"])
                   if "building_id" in households.columns else None)
    m_bld_given = (_str_or_none(members["building_id"])
                   if "building_id" in members.columns else None)
    h_bld, h_cmp = _building_and_compound(h_xy, h_bld_given, buildings, crs)
    m_bld, m_cmp = _building_and_compound(m_xy, m_bld_given, buildings, crs)
    h_bc, m_bc = _codes(h_bld, m_bld)
    h_cc, m_cc = _codes(h_cmp, m_cmp)

    member_index = {k: i for i, k in enumerate(m_id)}
    h_kin = np.full(n_h, -1, dtype=np.int64)
    if "kin_member_id" in households.columns:
        for i, k in enumerate(_str_or_none(households["kin_member_id"])):
            if k is not None:
                h_kin[i] = member_index.get(k, -2)  # -2: names a member who does not exist
    h_prev = np.full(n_h, -1, dtype=np.int64)
    has_prev = np.zeros(n_h, dtype=bool)
    if previous is not None and len(previous):
        _require(previous, "assignments", ["household_id", "member_id"])
        prev_map = dict(zip(_str_or_none(previous["household_id"]),
                            _str_or_none(previous["member_id"]), strict=True))
        for i, k in enumerate(h_id):
            pm = prev_map.get(k)
            if pm is not None:
                has_prev[i] = True
                h_prev[i] = member_index.get(pm, -1)

    # ---- candidate pairs: all pairs inside each grid, plus lent members for short grids ----
    h_order = np.argsort(h_grid, kind="stable")
    h_starts = np.searchsorted(h_grid[h_order], np.arange(n_g + 1))
    m_elig_idx = np.flatnonzero(eligible)
    m_order = m_elig_idx[np.argsort(m_grid[m_elig_idx], kind="stable")]
    m_starts = np.searchsorted(m_grid[m_order], np.arange(n_g + 1))

    def grid_households(g: int) -> IntArray:
        return h_order[h_starts[g] : h_starts[g + 1]]

    def grid_members(g: int) -> IntArray:
        return m_order[m_starts[g] : m_starts[g + 1]]

    g_households = np.diff(h_starts).astype(np.int64)
    g_cap_max = np.bincount(m_grid[m_elig_idx], weights=m_max[m_elig_idx], minlength=n_g)
    g_cap_min = np.bincount(m_grid[m_elig_idx], weights=m_min[m_elig_idx], minlength=n_g)
    g_cap_max = g_cap_max.astype(np.int64)
    g_cap_min = g_cap_min.astype(np.int64)
    short = g_households > g_cap_max
    neighbours = _adjacent_grids(g_poly, g_comm) if borrow and bool(short.any()) else [
        [] for _ in range(n_g)
    ]
    arc_h_parts: list[IntArray] = []
    arc_m_parts: list[IntArray] = []
    for g in range(n_g):
        hs = grid_households(g)
        if len(hs) == 0:
            continue
        lenders = [g, *(neighbours[g] if borrow and short[g] else [])]
        ms = np.concatenate([grid_members(x) for x in lenders])
        if len(ms) == 0:
            continue
        arc_h_parts.append(np.repeat(hs, len(ms)))
        arc_m_parts.append(np.tile(ms, len(hs)))
    if kin_scope == "community":
        # 就亲 across grids: a kin member elsewhere in the same community is a candidate too.
        kh = np.flatnonzero((h_kin >= 0) & (h_grid >= 0))
        km = h_kin[kh]
        ok = eligible[km] & (m_grid[km] != h_grid[kh])
        kh, km = kh[ok], km[ok]
        ok = g_comm[m_grid[km]] == g_comm[h_grid[kh]]
        if borrow:
            lent = np.array([
                m_grid[m] in neighbours[h_grid[h]] and short[h_grid[h]]
                for h, m in zip(kh[ok], km[ok], strict=True)
            ], dtype=bool)
            ok[np.flatnonzero(ok)[lent]] = False  # already a (lent) candidate
        arc_h_parts.append(kh[ok])
        arc_m_parts.append(km[ok])
    arc_h = np.concatenate(arc_h_parts) if arc_h_parts else np.zeros(0, np.int64)
    arc_m = np.concatenate(arc_m_parts) if arc_m_parts else np.zeros(0, np.int64)
    is_kin = h_kin[arc_h] == arc_m
    # Kin across grids is 就亲, not borrowing: no borrow cost, reason "kin".
    borrowed = (m_grid[arc_m] != h_grid[arc_h]) & ~is_kin

    # ---- walking distances ----
    report("building the walking network", 0.08)
    have_streets = streets is not None and len(streets) > 0
    graph = graph_from_streets(streets, crs=crs) if have_streets and streets is not None else (
        graph_from_streets(gpd.GeoDataFrame(geometry=[], crs=crs), crs=crs)
    )
    report(f"walking distances for {len(arc_h):,} pairs", 0.15)
    m_snap = snap_points(graph, m_xy)
    h_snap = snap_points(graph, h_xy)
    dist = pair_distances(graph, m_snap, h_snap, arc_m, arc_h)
    walk = dist.distance_m

    # ---- costs (module _model docstring) ----
    same_b = (h_bc[arc_h] >= 0) & (h_bc[arc_h] == m_bc[arc_m])
    same_c = (h_cc[arc_h] >= 0) & (h_cc[arc_h] == m_cc[arc_m])
    changed = has_prev[arc_h] & (h_prev[arc_h] != arc_m)
    cost_m = (
        walk
        - model.building_bonus * same_b
        - model.compound_bonus * (same_c | same_b)
        + model.borrow_cost * borrowed
        + model.change_penalty * changed
    )
    cost = np.rint((cost_m - KIN_BONUS_M * is_kin) * COST_SCALE).astype(np.int64)

    # ---- independent problems: grids joined by lending ----
    cross = m_grid[arc_m] != h_grid[arc_h]
    if len(arc_h) and cross.any():
        link = coo_matrix(
            (np.ones(int(cross.sum())), (h_grid[arc_h][cross], m_grid[arc_m][cross])),
            shape=(n_g, n_g),
        )
        _, g_cluster = connected_components(link, directed=False)
    else:
        g_cluster = np.arange(n_g)
    g_cluster = np.asarray(g_cluster, dtype=np.int64)
    arc_cluster = g_cluster[h_grid[arc_h]]
    arc_order = np.argsort(arc_cluster, kind="stable")
    n_cl = int(g_cluster.max()) + 1
    arc_starts = np.searchsorted(arc_cluster[arc_order], np.arange(n_cl + 1))
    h_in = h_grid >= 0
    h_cl = np.where(h_in, g_cluster[np.maximum(h_grid, 0)], -1)
    m_cl = np.where(eligible, g_cluster[np.maximum(m_grid, 0)], -1)

    chosen = np.full(n_h, -1, dtype=np.int64)  # member index per household
    chosen_arc = np.full(n_h, -1, dtype=np.int64)
    h_failed = np.full(n_h, None, dtype=object)
    u_cost = int(UNASSIGNED_COST_M * COST_SCALE)
    b_cost = int(MIN_FILL_BONUS_M * COST_SCALE)
    cluster_rows: list[dict[str, Any]] = []
    hs_by_cl = _group(h_cl, n_cl)
    ms_by_cl = _group(m_cl, n_cl)
    for c in range(n_cl):
        hs, ms = hs_by_cl[c], ms_by_cl[c]
        if len(hs) == 0 and len(ms) == 0:
            continue
        t0 = time.perf_counter()
        arcs = arc_order[arc_starts[c] : arc_starts[c + 1]]
        nh, nm = len(hs), len(ms)
        sink = nh + nm
        local_h = np.full(n_h, -1, dtype=np.int64)
        local_h[hs] = np.arange(nh)
        local_m = np.full(n_m, -1, dtype=np.int64)
        local_m[ms] = nh + np.arange(nm)
        mn, mx = m_min[ms], m_max[ms]
        has_min = mn > 0
        has_extra = mx > mn
        tails = np.concatenate([
            local_h[arc_h[arcs]], np.arange(nh), local_m[ms][has_min], local_m[ms][has_extra],
        ])
        heads = np.concatenate([
            local_m[arc_m[arcs]], np.full(nh + int(has_min.sum()) + int(has_extra.sum()), sink),
        ])
        caps = np.concatenate([
            np.ones(len(arcs) + nh, np.int64), mn[has_min], (mx - mn)[has_extra],
        ])
        costs = np.concatenate([
            cost[arcs], np.full(nh, u_cost), np.full(int(has_min.sum()), -b_cost),
            np.zeros(int(has_extra.sum()), np.int64),
        ])
        supply = np.zeros(nh + nm + 1, dtype=np.int64)
        supply[:nh] = 1
        supply[sink] = -nh
        sol = solve_min_cost_flow(tails, heads, caps, costs, supply, certify=certify)
        if sol.status == "OPTIMAL":
            used = arcs[sol.flow[: len(arcs)] > 0]
            chosen[arc_h[used]] = arc_m[used]
            chosen_arc[arc_h[used]] = used
        else:
            h_failed[hs] = f"the flow solver returned {sol.status} for grid(s) of this household"
        grid_list = np.flatnonzero(g_cluster == c)
        cluster_rows.append({
            "cluster": c,
            "grids": ",".join(str(g_code[g]) for g in grid_list),
            "households": nh,
            "members": nm,
            "pairs": len(arcs),
            "status": sol.status,
            "objective": None if sol.objective is None else sol.objective / COST_SCALE,
            "lower_bound": None if sol.lower_bound is None else sol.lower_bound / COST_SCALE,
            "optimal": sol.optimal,
            "reason": sol.reason,
            "seconds": round(time.perf_counter() - t0, 4),
        })
        report("solving grids", 0.4 + 0.5 * (c + 1) / n_cl)

    report("writing the report", 0.95)
    return _build_result(
        households=households, members=members, crs=crs,
        h_id=h_id, m_id=m_id, h_grid=h_grid, m_grid=m_grid, h_hits=h_hits, g_code=g_code,
        g_comm=g_comm, g_households=g_households, g_cap_min=g_cap_min, g_cap_max=g_cap_max,
        short=short, g_cluster=g_cluster, m_class=m_class, m_status=m_status, m_min=m_min,
        m_max=m_max, eligible=eligible, h_kin=h_kin, h_prev=h_prev, has_prev=has_prev,
        chosen=chosen, chosen_arc=chosen_arc, h_failed=h_failed, walk=walk,
        network=dist.network, same_b=same_b, same_c=same_c, borrowed=borrowed, arc_m=arc_m,
        arc_h=arc_h, cost_m=cost_m, cluster_rows=cluster_rows, bounds=bounds,
        borrow=borrow, n_pairs=len(arc_h), n_fallback=dist.n_fallback,
        have_streets=have_streets, t_start=t_start, max_default=max_load,
        neighbours=neighbours,
    )


def _group(labels: IntArray, n: int) -> list[IntArray]:
    """Indices with each label 0..n-1 (label -1 dropped)."""
    order = np.argsort(labels, kind="stable")
    starts = np.searchsorted(labels[order], np.arange(n + 1))
    return [order[starts[i] : starts[i + 1]] for i in range(n)]


def _build_result(
    *,
    households: gpd.GeoDataFrame,
    members: gpd.GeoDataFrame,
    crs: pyproj.CRS,
    h_id: NDArray[np.object_],
    m_id: NDArray[np.object_],
    h_grid: IntArray,
    m_grid: IntArray,
    h_hits: IntArray,
    g_code: NDArray[np.object_],
    g_comm: NDArray[np.object_],
    g_households: IntArray,
    g_cap_min: IntArray,
    g_cap_max: IntArray,
    short: NDArray[np.bool_],
    g_cluster: IntArray,
    m_class: NDArray[np.object_],
    m_status: NDArray[np.object_],
    m_min: IntArray,
    m_max: IntArray,
    eligible: NDArray[np.bool_],
    h_kin: IntArray,
    h_prev: IntArray,
    has_prev: NDArray[np.bool_],
    chosen: IntArray,
    chosen_arc: IntArray,
    h_failed: NDArray[np.object_],
    walk: FloatArray,
    network: NDArray[np.bool_],
    same_b: NDArray[np.bool_],
    same_c: NDArray[np.bool_],
    borrowed: NDArray[np.bool_],
    arc_m: IntArray,
    arc_h: IntArray,
    cost_m: FloatArray,
    cluster_rows: list[dict[str, Any]],
    bounds: ClassBounds,
    borrow: bool,
    n_pairs: int,
    n_fallback: int,
    have_streets: bool,
    t_start: float,
    max_default: int,
    neighbours: list[list[int]],
) -> AssignmentResult:
    n_h, n_m, n_g = len(h_id), len(m_id), len(g_code)
    done = chosen >= 0
    arcs = chosen_arc[done]
    hh = np.flatnonzero(done)
    mm = chosen[done]
    reason = np.full(len(hh), "nearest", dtype=object)
    reason[same_c[arcs]] = "compound"
    reason[same_b[arcs]] = "building"
    reason[borrowed[arcs]] = "borrowed"
    is_kin = h_kin[hh] == mm
    reason[is_kin] = "kin"
    h_pts = households.geometry.to_crs(STORAGE_CRS).values
    m_pts = members.geometry.to_crs(STORAGE_CRS).values
    lines = np.asarray(shapely.linestrings(
        np.stack([shapely.get_coordinates(h_pts[hh]), shapely.get_coordinates(m_pts[mm])], axis=1)
    ) if len(hh) else np.zeros(0, dtype=object), dtype=object).reshape(-1)
    if len(lines):
        # A member serving their own household (same point) has no line to draw; a
        # zero-length LineString would be invalid geometry, so the row has none.
        lines[shapely.length(lines) == 0] = None
    layer = gpd.GeoDataFrame(
        {
            "household_id": h_id[hh],
            "member_id": m_id[mm],
            "grid_code": g_code[h_grid[hh]],
            "walk_m": np.round(walk[arcs], 1),
            "reason": reason,
            "network": network[arcs],
        },
        geometry=gpd.GeoSeries(lines, crs=STORAGE_CRS),
        crs=STORAGE_CRS,
    )
    assignments = conform("assignments", layer)

    # ---- members ----
    load = np.bincount(mm, minlength=n_m).astype(np.int64)
    shortfall = np.where(eligible, np.maximum(m_min - load, 0), 0)
    m_note = np.full(n_m, "", dtype=object)
    m_note[m_grid < 0] = "home outside every grid"
    m_note[(m_grid >= 0) & (m_status == "away")] = "working away (流动党员): takes none"
    m_note[(m_grid >= 0) & (m_status != "away") & ~eligible] = "class bounds take none"
    for i in np.flatnonzero(shortfall > 0):
        g = m_grid[i]
        m_note[i] = (f"below minimum: grid {g_code[g]} has {g_households[g]} households for "
                     f"members whose minimums add up to {g_cap_min[g]}")
    members_df = pd.DataFrame({
        "member_id": m_id,
        "grid_code": [g_code[g] if g >= 0 else None for g in m_grid],
        "class": m_class,
        "status": m_status,
        "min_load": m_min,
        "max_load": m_max,
        "load": load,
        "shortfall": shortfall,
        "note": m_note,
    })

    # ---- unassigned households and their reasons ----
    g_assigned = np.bincount(h_grid[hh], minlength=n_g).astype(np.int64)
    g_unassigned = g_households - g_assigned
    more_needed = np.array([
        math.ceil(u / max(max_default, 1)) if u > 0 else 0 for u in g_unassigned
    ], dtype=np.int64)
    miss = np.flatnonzero(~done)
    reasons: list[str] = []
    for i in miss:
        g = h_grid[i]
        if h_failed[i] is not None:
            reasons.append(str(h_failed[i]))
        elif g < 0:
            reasons.append("location is outside every grid; check the point or the grids")
        elif g_cap_max[g] == 0:
            reasons.append(
                f"grid {g_code[g]} has no member able to take households"
                + ("" if borrow else " (borrowing is off)")
                + (f"; it needs {more_needed[g]} more member(s)" if more_needed[g] else "")
            )
        else:
            reasons.append(
                f"grid {g_code[g]} is short of members: {g_households[g]} households, "
                f"capacity {g_cap_max[g]}" + (
                    " (borrowing is off)" if not borrow
                    else " (no adjacent grid of the community to borrow from)"
                    if not neighbours[g] else " (after borrowing from adjacent grids)")
                + f"; it needs {more_needed[g]} more member(s)"
            )
    unassigned = pd.DataFrame({
        "household_id": h_id[miss],
        "grid_code": [g_code[g] if g >= 0 else None for g in h_grid[miss]],
        "reason": reasons,
    })

    # ---- grids ----
    in_grid_h = h_grid[hh]
    borrowed_in = np.bincount(in_grid_h[borrowed[arcs]], minlength=n_g)
    lent_out = np.bincount(m_grid[mm][borrowed[arcs]], minlength=n_g)
    walk_sum = np.bincount(in_grid_h, weights=walk[arcs], minlength=n_g)
    walk_max = np.zeros(n_g)
    np.maximum.at(walk_max, in_grid_h, walk[arcs])
    kin_h = h_kin >= 0
    kin_total = np.bincount(h_grid[kin_h & (h_grid >= 0)], minlength=n_g)
    kin_ok = np.bincount(in_grid_h[is_kin], minlength=n_g)
    used_m = load > 0
    m_used = np.bincount(m_grid[used_m], minlength=n_g)
    m_below = np.bincount(m_grid[shortfall > 0], minlength=n_g)
    m_living = np.bincount(m_grid[m_grid >= 0], minlength=n_g)
    m_elig = np.bincount(m_grid[eligible], minlength=n_g)
    status_by_cl = {r["cluster"]: r for r in cluster_rows}
    grids_df = pd.DataFrame({
        "grid_code": g_code,
        "community_code": g_comm,
        "households": g_households,
        "members": m_living,
        "members_eligible": m_elig,
        "capacity_min": g_cap_min,
        "capacity_max": g_cap_max,
        "assigned": g_assigned,
        "unassigned": g_unassigned,
        "borrowed_in": borrowed_in,
        "lent_out": lent_out,
        "members_used": m_used,
        "members_below_min": m_below,
        "more_members_needed": more_needed,
        "kin_total": kin_total,
        "kin_honoured": kin_ok,
        "total_walk_m": np.round(walk_sum, 1),
        "mean_walk_m": np.round(np.divide(walk_sum, np.maximum(g_assigned, 1)), 1),
        "max_walk_m": np.round(walk_max, 1),
        "short_of_members": short,
        "cluster": g_cluster,
        "status": [status_by_cl.get(int(c), {}).get("status", "EMPTY") for c in g_cluster],
        "optimal": [bool(status_by_cl.get(int(c), {}).get("optimal", True)) for c in g_cluster],
    })
    clusters = pd.DataFrame(cluster_rows, columns=[
        "cluster", "grids", "households", "members", "pairs", "status", "objective",
        "lower_bound", "optimal", "reason", "seconds",
    ])

    # ---- kin and stability ----
    kin_member_ok = np.zeros(n_h, dtype=bool)  # kin member is a candidate for the household
    kin_member_ok[arc_h[h_kin[arc_h] == arc_m]] = True
    kin_possible = int(kin_member_ok.sum())
    kin_honoured = int(is_kin.sum())
    kin_missing = h_kin == -2
    kin_elsewhere = (h_kin >= 0) & ~kin_member_ok
    kin_missed = _kin_missed(
        h_id=h_id, m_id=m_id, h_kin=h_kin, h_grid=h_grid, m_grid=m_grid, g_comm=g_comm,
        eligible=eligible, m_status=m_status, m_class=m_class, candidate=kin_member_ok,
        chosen=chosen, load=load, m_max=m_max,
    )
    changed = has_prev & (chosen != h_prev)
    used_loads = load[used_m]
    all_optimal = bool(all(r["optimal"] for r in cluster_rows))
    objective = float(sum(r["objective"] or 0.0 for r in cluster_rows))
    lower_bound = (float(sum(r["lower_bound"] for r in cluster_rows))
                   if all(r["lower_bound"] is not None for r in cluster_rows) else None)
    summary: dict[str, Any] = {
        "households": n_h,
        "assigned": int(done.sum()),
        "unassigned": int((~done).sum()),
        "unassigned_share": round(float((~done).sum()) / n_h, 4) if n_h else 0.0,
        "members": n_m,
        "members_eligible": int(eligible.sum()),
        "members_used": int(used_m.sum()),
        "members_below_min": int((shortfall > 0).sum()),
        "min_load": int(used_loads.min()) if len(used_loads) else 0,
        "max_load": int(used_loads.max()) if len(used_loads) else 0,
        "loads_within_bounds": int(((load >= m_min) & (load <= m_max))[eligible].sum()),
        "bounds": {k: list(v) for k, v in bounds.by_class.items()} | {"away": list(bounds.away)},
        "total_walk_m": round(float(walk[arcs].sum()), 1),
        "mean_walk_m": round(float(walk[arcs].mean()), 1) if len(arcs) else 0.0,
        "kin_total": int((h_kin != -1).sum()),
        "kin_possible": kin_possible,
        "kin_honoured": kin_honoured,
        "kin_member_elsewhere": int(kin_elsewhere.sum()),
        "kin_member_missing": int(kin_missing.sum()),
        "kin_blocked": kin_possible - kin_honoured,
        "previous_households": int(has_prev.sum()),
        "changed_from_previous": int(changed.sum()),
        "borrowed": int(borrowed[arcs].sum()),
        "reasons": {str(k): int(v) for k, v in pd.Series(reason).value_counts().items()},
        "grids": n_g,
        "grids_short": int(short.sum()),
        "more_members_needed": int(more_needed.sum()),
        "households_outside_grids": int((h_grid < 0).sum()),
        "households_on_grid_boundary": int((h_hits > 1).sum()),
        "pairs": n_pairs,
        "fallback_pairs": n_fallback if have_streets else n_pairs,
        "fallback_assigned": int((~network[arcs]).sum()),
        "distance": "network" if have_streets else "straight line (no streets)",
        "working_crs": crs.to_string(),
        "clusters": len(cluster_rows),
        "optimal": all_optimal,
        "objective": round(objective, 2),
        "lower_bound": None if lower_bound is None else round(lower_bound, 2),
        "optimality": OPTIMALITY_NOTE if all_optimal else _not_proven(cluster_rows),
        "pair_cost_m": round(float(cost_m[arcs].sum()), 1),
        "seconds": round(time.perf_counter() - t_start, 3),
    }
    return AssignmentResult(
        assignments, unassigned, members_df, grids_df, clusters, kin_missed, summary
    )


def _not_proven(cluster_rows: list[dict[str, Any]]) -> str:
    """Why the assignment is not proven optimal: the distinct reasons of the flow problems
    that were not, with how many problems gave each."""
    counts: dict[str, int] = {}
    for r in cluster_rows:
        if not r["optimal"]:
            why = str(r["reason"] or "not proven")
            counts[why] = counts.get(why, 0) + 1
    n = sum(counts.values())
    return (f"NOT proven optimal: {n} of {len(cluster_rows)} flow problem(s) failed: "
            + "; ".join(f"{why} ({c})" for why, c in counts.items()))


def _kin_missed(
    *,
    h_id: NDArray[np.object_],
    m_id: NDArray[np.object_],
    h_kin: IntArray,
    h_grid: IntArray,
    m_grid: IntArray,
    g_comm: NDArray[np.object_],
    eligible: NDArray[np.bool_],
    m_status: NDArray[np.object_],
    m_class: NDArray[np.object_],
    candidate: NDArray[np.bool_],
    chosen: IntArray,
    load: IntArray,
    m_max: IntArray,
) -> pd.DataFrame:
    """Every kin household not given to its kin member, and why."""
    kin_hh = np.flatnonzero((h_kin != -1) & (chosen != h_kin))
    kin_count = np.bincount(h_kin[h_kin >= 0], minlength=len(m_id))
    rows = []
    for i in kin_hh:
        k = int(h_kin[i])
        if k == -2:
            why, member = "the kin member is not in the members layer", None
        else:
            member = m_id[k]
            if h_grid[i] < 0:
                why = "the household is outside every grid"
            elif m_grid[k] < 0:
                why = "the kin member lives outside every grid"
            elif not eligible[k]:
                why = (f"the kin member takes no households (class {m_class[k]}, "
                       f"status {m_status[k]})")
            elif not candidate[i]:
                why = ("the kin member lives in another community"
                       if g_comm[m_grid[k]] != g_comm[h_grid[i]]
                       else "the kin member lives in another grid (kin_scope='grid')")
            elif load[k] >= m_max[k]:
                why = (f"the kin member is full: {kin_count[k]} kin households for a maximum "
                       f"of {m_max[k]}" if kin_count[k] > m_max[k]
                       else "the kin member is full with households only they can cover "
                       "(covering every household and minimum loads come before kin)")
            else:
                why = "a higher priority won (cover every household, minimum loads)"
        rows.append({"household_id": h_id[i], "kin_member_id": member, "reason": why})
    return pd.DataFrame(rows, columns=["household_id", "kin_member_id", "reason"])


def previous_from_layer(layer: pd.DataFrame | None) -> pd.DataFrame | None:
    """The ``household_id``/``member_id`` columns of a stored assignments layer, if any."""
    if layer is None or len(layer) == 0:
        return None
    return pd.DataFrame({"household_id": layer["household_id"], "member_id": layer["member_id"]})

