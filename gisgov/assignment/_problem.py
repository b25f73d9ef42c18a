"""The assignment as a problem, built once: who, where, bounds, eligible pairs and their costs.

:func:`build_problem` turns the layers into an :class:`AssignmentProblem`: households and
members located in grids (by the one boundary rule, :func:`gisgov.locate.locate_xy`, which
gives the lookup's answer (:class:`gisgov.lookup.LookupIndex`) without building its raster, so
the assignment, the lookup and the maps agree on points on shared edges), per-member load bounds,
and a flow network whose arcs are the eligible pairings with their costs
(:mod:`gisgov.assignment._model`). Solving it is :func:`gisgov.assignment._solve.solve`.

Sparse, with the coverage of the dense model
--------------------------------------------
Allowing every household every member it may have would be ``households x members`` arcs
(millions at ``--scale 8``, with a walking distance each). Instead:

* **household groups**: the households of one building within ``group_radius_m`` (40 m) of
  its first household are one node with their number as supply (kin households stay alone);
  their walks are measured from that first household (a building's households are within a
  few tens of metres of each other), which cuts nodes and arcs about four times;
* **direct arcs**: each group to the ``k_nearest`` (default 6) nearest eligible members
  living in its grid (straight line, then walked on the streets), a kin household to its kin
  member (就亲), and a group to each previous member of its households, with as much capacity
  as households had them (stability: a previous pair is always a direct candidate, and every
  other pair of a group that had members pays the change penalty);
* **service points**: each grid has one node (its *port*, at the household nearest its
  households' centroid). Every group has an arc to its grid's port costing the walk
  household → port; the port has arcs to *pools* of members (its own grid's members; an
  adjacent grid's when the grid is short, at ``borrow_cost``; and the reporting members of
  every grid of the scope whose port is within ``deploy_cap_m`` of this one, at
  ``deploy_cost`` outside their community), and a pool has an arc to each of its members
  costing the walk port → member (from home, or from the unit with ``deploy_from="unit"``).

A household can thus reach, through its port, exactly the members the dense model allows
(within the cap measured between service points), so the sparse problem covers as many
households and fills as many minimum loads as the dense one (a test checks it against 40
direct arcs per household); its walking cost is that of the walk via the service point where
the direct arc is missing (an upper bound of the direct walk). Arcs: about
``groups x (k_nearest + 2)`` plus ``grids x grids within the cap``. The walks written to the
``assignments`` layer are measured again for each pair.

Pieces
------
Grids joined by no arc (other subdistricts, or other communities under ``scope="grid"``) are
independent: :attr:`AssignmentProblem.pieces` lists them and each is solved on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from gisgov.assignment._model import (
    COST_SCALE,
    KIN_BONUS_M,
    SPLIT_COST_M,
    ClassBounds,
    CostModel,
)
from gisgov.assignment._settings import AssignmentInput, AssignSettings
from gisgov.crs import working_crs_for
from gisgov.errors import CRSError, ValidationError
from gisgov.layers import STORAGE_CRS
from gisgov.locate import locate_xy
from gisgov.network import (
    PairDistances,
    SnappedPoints,
    StreetGraph,
    graph_from_streets,
    pair_distances,
    points_to_xy,
    snap_points,
)

__all__ = ["ARC_KINDS", "AssignmentProblem", "Scope", "build_problem", "pin_members"]

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
ObjArray = NDArray[np.object_]
Scope = Literal["grid", "community", "subdistrict"]

#: Arc kinds: household → member (direct), household → port, port → own pool, port → an
#: adjacent grid's pool (borrow), port → a reporting pool (deploy), pool → member, and port →
#: member for a member pinned to one grid (:func:`pin_members`).
DIRECT, PORT, LOCAL, BORROW, DEPLOY, POOL, PIN = range(7)
ARC_KINDS = ("direct", "port", "local", "borrow", "deploy", "pool", "pin")


@dataclass(frozen=True, eq=False)
class AssignmentProblem:
    """Everything the solve needs, and what the report explains from.

    Nodes are numbered ``household groups | ports (one per grid) | local pools (one per grid)
    | reporting pools | members``; a household group is the households of one building and
    street edge within ``group_radius_m`` of its first household, none with a kin member
    (``h_node`` maps households to groups, ``node_h`` is each group's first household, whose
    walks the group's arcs use); :attr:`node_piece` says which independent piece each is in.
    Arc arrays are parallel; ``arc_h``/``arc_m`` name the household/member of an arc (-1 when
    it has none), ``arc_walk`` its walking metres and ``arc_cost_m`` its cost in metres
    without the priority weights; ``arc_cost`` is the integer cost the flow minimises, of
    which ``arc_penalty`` is the one-grid penalty (:func:`pin_members`). ``m_pool`` is each
    member's reporting pool (-1: none; pool ``i`` is node ``D + i``), ``kin_scope`` how far a
    kin member may serve (:func:`build_problem`): both let the coverage bound
    (:mod:`gisgov.assignment._bound`) re-derive who may serve whom.
    """

    crs: pyproj.CRS
    h_id: ObjArray
    h_grid: IntArray
    h_on_edge: NDArray[np.bool_]
    h_kin: IntArray
    h_prev: IntArray
    has_prev: NDArray[np.bool_]
    h_xy: FloatArray
    h_node: IntArray
    node_h: IntArray
    node_size: IntArray
    h_building: IntArray
    h_compound: IntArray
    m_id: ObjArray
    m_grid: IntArray
    m_building: IntArray
    m_compound: IntArray
    m_class: ObjArray
    m_status: ObjArray
    m_min: IntArray
    m_max: IntArray
    m_reporting: NDArray[np.bool_]
    m_community: ObjArray
    m_xy: FloatArray
    m_origin_xy: FloatArray
    g_code: ObjArray
    g_comm: ObjArray
    g_subdistrict: ObjArray
    g_households: IntArray
    g_cap_min: IntArray
    g_cap_max: IntArray
    g_short: NDArray[np.bool_]
    g_anchor_xy: FloatArray
    neighbours: list[list[int]]
    n_nodes: int
    node_piece: IntArray
    pool_grid: IntArray
    pool_community: ObjArray
    arc_tail: IntArray
    arc_head: IntArray
    arc_cap: IntArray
    arc_cost: IntArray
    arc_penalty: IntArray
    arc_cost_m: FloatArray
    arc_walk: FloatArray
    arc_network: NDArray[np.bool_]
    arc_kind: NDArray[np.int8]
    arc_h: IntArray
    arc_m: IntArray
    arc_same_b: NDArray[np.bool_]
    arc_same_c: NDArray[np.bool_]
    arc_prev: NDArray[np.bool_]
    n_pieces: int
    graph: StreetGraph
    h_snap: SnappedPoints
    m_snap: SnappedPoints
    origin_snap: SnappedPoints
    bounds: ClassBounds
    model: CostModel
    scope: str
    deploy_cap_m: float
    deploy_from: str
    borrow: bool
    k_nearest: int
    have_streets: bool
    max_default: int
    m_pool: IntArray = field(default_factory=lambda: np.zeros(0, np.int64))
    kin_scope: str = "community"

    @property
    def n_households(self) -> int:
        """Number of households."""
        return len(self.h_id)

    @property
    def n_hnodes(self) -> int:
        """Number of household-group nodes."""
        return len(self.node_h)

    @property
    def n_members(self) -> int:
        """Number of members."""
        return len(self.m_id)

    @property
    def n_grids(self) -> int:
        """Number of grids."""
        return len(self.g_code)

    @property
    def eligible(self) -> NDArray[np.bool_]:
        """Members able to take at least one household."""
        return self.m_max > 0

    def member_node(self, m: IntArray | int) -> IntArray | int:
        """Node number of member(s) ``m``."""
        return self.n_nodes - self.n_members + m

    def pieces(self) -> list[IntArray]:
        """Node indices of each independent piece (empty pieces dropped)."""
        order = np.argsort(self.node_piece, kind="stable")
        keep = order[self.node_piece[order] >= 0]
        cuts = np.flatnonzero(np.diff(self.node_piece[keep])) + 1
        return [p for p in np.split(keep, cuts) if len(p)]


# ---- reading the layers ---------------------------------------------------------------------


def _require(gdf: pd.DataFrame, layer: str, columns: list[str]) -> None:
    missing = [c for c in columns if c not in gdf.columns]
    if missing:
        raise ValidationError(
            f"{layer}: missing column(s) {', '.join(missing)}; conform the layer "
            f"(gisgov.layers.conform('{layer}', …)) or import it again"
        )
    if isinstance(gdf, gpd.GeoDataFrame) and len(gdf) and gdf.crs is None:
        raise CRSError(f"{layer} has no coordinate system; store layers in EPSG:4326")


def _str_or_none(values: pd.Series) -> ObjArray:
    out = values.astype(object).to_numpy(copy=True)
    out[pd.isna(values).to_numpy()] = None
    if set(map(type, out)) <= {str, type(None)}:
        return out  # a stored layer's text (checked in C): already what the loop makes
    return np.array([None if v is None else str(v) for v in out], dtype=object)


def _column(frame: pd.DataFrame, name: str) -> ObjArray:
    if name in frame.columns:
        return _str_or_none(frame[name])
    return np.full(len(frame), None, dtype=object)


def _grid_of(grids: gpd.GeoDataFrame, lon: FloatArray, lat: FloatArray,
             points: gpd.GeoDataFrame | None = None) -> tuple[IntArray, IntArray]:
    """Row of ``grids`` (sorted by code) holding each position and how many grids cover it
    (``> 1`` on a shared edge): the lookup's rule, lowest code first. ``points``: the layer
    the positions were read from, whose Point geometries are located as they are when it is
    stored in EPSG:4326 (nothing to build)."""
    geoms = np.asarray(grids.geometry.to_crs(4326).values, dtype=object)
    pts = None
    if points is not None and len(points) and points.crs is not None and \
            points.crs.equals(STORAGE_CRS):
        values = np.asarray(points.geometry.values, dtype=object)
        if bool(np.all(shapely.get_type_id(values) == 0)):
            pts = values
    return locate_xy(lon, lat, geoms, codes=grids["code"].astype(str).to_numpy(dtype=object),
                     points=pts)


def _lonlat(gdf: gpd.GeoDataFrame) -> tuple[FloatArray, FloatArray]:
    pts = gdf.geometry.to_crs(4326).values if len(gdf) else gdf.geometry.values
    return (np.asarray(shapely.get_x(pts), dtype=float),
            np.asarray(shapely.get_y(pts), dtype=float))


def _projected(gdf: gpd.GeoDataFrame, lon: FloatArray, lat: FloatArray, crs: pyproj.CRS
               ) -> FloatArray:
    """``(n, 2)`` coordinates of ``gdf``'s points in ``crs``: from the longitudes and
    latitudes already read when the layer is stored in EPSG:4326 (the store's CRS; one
    transform of two arrays instead of a copy of every geometry), else
    :func:`gisgov.network.points_to_xy`."""
    if not len(gdf):
        return np.zeros((0, 2))
    if gdf.crs is None or not gdf.crs.equals(STORAGE_CRS):
        return points_to_xy(gdf, crs)
    if not bool(np.all(shapely.get_type_id(gdf.geometry.values) == 0)):
        raise ValidationError("every location must be a Point (households, members' homes)")
    x, y = pyproj.Transformer.from_crs(STORAGE_CRS, crs, always_xy=True).transform(lon, lat)
    return np.column_stack([x, y]).astype(float)


def _codes(*arrays: ObjArray) -> list[IntArray]:
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
    xy: FloatArray, given: ObjArray | None, buildings: gpd.GeoDataFrame | None,
    crs: pyproj.CRS,
) -> tuple[ObjArray, ObjArray]:
    """Building and compound id of each point: the given building id, else the one it is in
    (a building footprint, not a grid: the grid locator does not apply)."""
    n = len(xy)
    bld = given.copy() if given is not None else np.full(n, None, dtype=object)
    cmp_ = np.full(n, None, dtype=object)
    if buildings is None or len(buildings) == 0:
        return bld, cmp_
    _require(buildings, "buildings", ["id"])
    ids = _str_or_none(buildings["id"])
    missing = np.array([b is None for b in bld], dtype=bool)
    if missing.any():
        polys = np.asarray(buildings.geometry.to_crs(crs).values, dtype=object)
        pi, bi = shapely.STRtree(polys).query(shapely.points(xy[missing]),
                                              predicate="intersects")
        found = np.full(int(missing.sum()), None, dtype=object)
        order = np.lexsort((bi, pi))[::-1]  # lowest building row wins on ties
        found[pi[order]] = ids[bi[order]]
        bld[missing] = found
    if "compound_id" in buildings.columns:
        compound_of = dict(zip(ids, _str_or_none(buildings["compound_id"]), strict=True))
        cmp_ = np.array([compound_of.get(b) if b is not None else None for b in bld],
                        dtype=object)
    return bld, cmp_


def _adjacent_grids(polys: ObjArray, community: ObjArray) -> list[list[int]]:
    """Neighbours of each grid: same community and at least a metre of shared edge."""
    neighbours: list[list[int]] = [[] for _ in range(len(polys))]
    if len(polys) < 2:
        return neighbours
    a, b = shapely.STRtree(polys).query(polys, predicate="intersects")
    keep = (a < b) & (community[a] == community[b])
    a, b = a[keep], b[keep]
    if len(a) == 0:
        return neighbours
    shared = shapely.length(
        shapely.intersection(shapely.boundary(polys[a]), shapely.boundary(polys[b])))
    for i, j in zip(a[shared >= 1.0], b[shared >= 1.0], strict=True):
        neighbours[int(i)].append(int(j))
        neighbours[int(j)].append(int(i))
    return neighbours


@dataclass(frozen=True)
class _People:
    """Located households and members with their bounds (a step of :func:`build_problem`)."""

    h_id: ObjArray
    h_grid: IntArray
    h_on_edge: NDArray[np.bool_]
    h_xy: FloatArray
    m_id: ObjArray
    m_grid: IntArray
    m_xy: FloatArray
    m_class: ObjArray
    m_status: ObjArray
    m_min: IntArray
    m_max: IntArray
    m_reporting: NDArray[np.bool_]
    m_community: ObjArray
    m_origin_xy: FloatArray


def _locate_people(
    households: gpd.GeoDataFrame, members: gpd.GeoDataFrame, grids: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame | None, g_comm: ObjArray, bounds: ClassBounds, crs: pyproj.CRS,
    deploy_from: str,
) -> _People:
    """Grid of every household and member (the lookup's locator), bounds and origins."""
    h_lon, h_lat = _lonlat(households)
    m_lon, m_lat = _lonlat(members)
    h_row, h_touch = _grid_of(grids, h_lon, h_lat, households)
    m_row, _ = _grid_of(grids, m_lon, m_lat, members)
    m_id = _str_or_none(members["id"])
    m_class, m_status = _str_or_none(members["class"]), _str_or_none(members["status"])
    n_m = len(m_id)
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
        raise ValidationError(f"members {', '.join(map(str, m_id[bad][:5]))}: per-member "
                              "bounds need 0 <= min_load <= max_load")
    m_grid = m_row
    m_min[m_grid < 0] = 0  # a home outside every grid has no grid to serve
    m_max[m_grid < 0] = 0
    unit = _column(members, "unit_id")
    m_reporting = (m_status == "in_service") & np.array([u is not None for u in unit])
    home_comm = g_comm[np.maximum(m_grid, 0)].copy()
    home_comm[m_grid < 0] = None
    reported = _column(members, "report_community_code")
    m_community = np.array([r if r is not None else h for r, h in zip(reported, home_comm,
                                                                      strict=True)],
                           dtype=object)
    m_xy = _projected(members, m_lon, m_lat, crs)
    origin = m_xy.copy()
    if deploy_from == "unit" and units is not None and len(units) and m_reporting.any():
        u_xy = points_to_xy(units.set_geometry(units.geometry.representative_point()), crs)
        where = {k: i for i, k in enumerate(_str_or_none(units["id"]))}
        rows = np.array([where.get(u, -1) if u is not None else -1 for u in unit])
        has = m_reporting & (rows >= 0)
        origin[has] = u_xy[rows[has]]
    return _People(
        _str_or_none(households["id"]), h_row, h_touch > 1,
        _projected(households, h_lon, h_lat, crs),
        m_id, m_grid, m_xy, m_class, m_status, m_min, m_max, m_reporting, m_community, origin,
    )


def _anchors(h_xy: FloatArray, h_grid: IntArray, polys: ObjArray) -> FloatArray:
    """Service point of each grid: its household nearest the households' centroid (a point
    on the grid's surface when it has none), so a port sits where people live."""
    n_g = len(polys)
    out = shapely.get_coordinates(shapely.point_on_surface(polys)) if n_g else np.zeros((0, 2))
    inside = h_grid >= 0
    if not inside.any():
        return np.asarray(out, dtype=float)
    g = h_grid[inside]
    xy = h_xy[inside]
    cnt = np.bincount(g, minlength=n_g)
    cx = np.bincount(g, weights=xy[:, 0], minlength=n_g) / np.maximum(cnt, 1)
    cy = np.bincount(g, weights=xy[:, 1], minlength=n_g) / np.maximum(cnt, 1)
    d = np.hypot(xy[:, 0] - cx[g], xy[:, 1] - cy[g])
    order = np.lexsort((d, g))
    first = np.ones(len(order), dtype=bool)
    first[1:] = g[order][1:] != g[order][:-1]
    out = np.asarray(out, dtype=float).copy()
    out[g[order][first]] = xy[order][first]
    return out


def _nearest_in_grid(p: _People, eligible: NDArray[np.bool_], k: int,
                     which: NDArray[np.bool_]) -> tuple[IntArray, IntArray]:
    """``(household, member)`` pairs: each household of ``which``'s ``k`` nearest eligible
    members of its grid, by straight line (one KD-tree per grid)."""
    hs_all, ms_all = [], []
    m_idx = np.flatnonzero(eligible & (p.m_grid >= 0))
    m_order = m_idx[np.argsort(p.m_grid[m_idx], kind="stable")]
    h_idx = np.flatnonzero((p.h_grid >= 0) & which)
    h_order = h_idx[np.argsort(p.h_grid[h_idx], kind="stable")]
    n_g = int(max(p.h_grid.max(initial=-1), p.m_grid.max(initial=-1))) + 1
    m_starts = np.searchsorted(p.m_grid[m_order], np.arange(n_g + 1))
    h_starts = np.searchsorted(p.h_grid[h_order], np.arange(n_g + 1))
    for g in range(n_g):
        ms = m_order[m_starts[g]:m_starts[g + 1]]
        hs = h_order[h_starts[g]:h_starts[g + 1]]
        if len(ms) == 0 or len(hs) == 0:
            continue
        kk = min(k, len(ms))
        _, j = cKDTree(p.m_xy[ms]).query(p.h_xy[hs], k=kk)
        j = np.asarray(j).reshape(len(hs), kk)
        hs_all.append(np.repeat(hs, kk))
        ms_all.append(ms[j.ravel()])
    if not hs_all:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(hs_all), np.concatenate(ms_all)


def _walk(graph: StreetGraph, src: SnappedPoints, dst: SnappedPoints, si: IntArray,
          ti: IntArray) -> PairDistances:
    return pair_distances(graph, src, dst, si, ti)


def build_problem(data: AssignmentInput, settings: AssignSettings | None = None
                  ) -> AssignmentProblem:
    """Build the flow network of the assignment (module docstring) of ``data``'s layers under
    ``settings`` (default :class:`~gisgov.assignment._settings.AssignSettings` ``()``)."""
    st = settings or AssignSettings()
    households, members, grids = data.households, data.members, data.grids
    _require(grids, "grids", ["code", "community_code"])
    if len(grids) == 0:
        raise ValidationError("the grids layer is empty: run gisgov grids first")
    _require(households, "households", ["id"])
    _require(members, "members", ["id", "class", "status"])
    crs = _working_crs(households, grids, data.working_crs)
    grids = grids.sort_values("code", kind="stable").reset_index(drop=True)
    n = _net(replace(data, grids=grids), st, crs)
    tg, dp, walk, network = _deploy_pairs(n, st.deploy_cap_m)
    parts = [_direct_arcs(n, set(zip(tg.tolist(), dp.tolist(), strict=True)), st.kin_scope,
                          st.k_nearest),
             *_grid_arcs(n, tg, dp, walk, network)]
    arcs = {k: np.concatenate([q[k] for q in parts]) for k in parts[0]}
    kin = (arcs["kind"] == DIRECT) & (n.h_kin[n.node_h[np.maximum(arcs["h"], 0)]] == arcs["m"])
    cost = np.rint((arcs["cost_m"] - KIN_BONUS_M * kin) * COST_SCALE).astype(np.int64)
    node_piece = _pieces(_node_grids(n), arcs["tail"], arcs["head"], len(n.g_code))
    p = n.p
    return AssignmentProblem(
        crs=crs, h_id=p.h_id, h_grid=p.h_grid, h_on_edge=p.h_on_edge, h_kin=n.h_kin,
        h_prev=n.h_prev, has_prev=n.has_prev, h_xy=p.h_xy, h_node=n.h_node, node_h=n.node_h,
        node_size=n.node_size, h_building=n.h_bc, h_compound=n.h_cc, m_building=n.m_bc,
        m_compound=n.m_cc, m_id=p.m_id, m_grid=p.m_grid, m_class=p.m_class,
        m_status=p.m_status, m_min=p.m_min, m_max=p.m_max, m_reporting=p.m_reporting,
        m_community=p.m_community, m_xy=p.m_xy, m_origin_xy=p.m_origin_xy, g_code=n.g_code,
        g_comm=n.g_comm, g_subdistrict=n.g_sub, g_households=n.g_households,
        g_cap_min=n.g_cap_min, g_cap_max=n.g_cap_max, g_short=n.g_short,
        g_anchor_xy=n.anchors, neighbours=n.neighbours, n_nodes=n.M + len(p.m_id),
        node_piece=node_piece, pool_grid=n.pool_grid, pool_community=n.pool_community,
        arc_tail=arcs["tail"].astype(np.int64), arc_head=arcs["head"].astype(np.int64),
        arc_cap=arcs["cap"].astype(np.int64), arc_cost=cost,
        arc_penalty=np.zeros(len(cost), np.int64),
        arc_cost_m=arcs["cost_m"].astype(float), arc_walk=arcs["walk"].astype(float),
        arc_network=arcs["network"].astype(bool), arc_kind=arcs["kind"].astype(np.int8),
        arc_h=arcs["h"].astype(np.int64), arc_m=arcs["m"].astype(np.int64),
        arc_same_b=arcs["same_b"].astype(bool), arc_same_c=arcs["same_c"].astype(bool),
        arc_prev=arcs["prev"].astype(bool), n_pieces=int(node_piece.max(initial=-1)) + 1,
        graph=n.graph, h_snap=n.h_snap, m_snap=n.m_snap, origin_snap=n.o_snap,
        bounds=st.bounds, model=n.model, scope=st.scope,
        deploy_cap_m=float(st.deploy_cap_m), deploy_from=st.deploy_from, borrow=st.borrow,
        k_nearest=st.k_nearest, have_streets=n.have_streets,
        max_default=int(st.bounds.by_class.get("A", (0, 10))[1]), m_pool=n.pool_of,
        kin_scope=st.kin_scope,
    )


@dataclass
class _Net:
    """What the steps of :func:`build_problem` share: people located and grouped, grid
    figures, the walking graph with snapped points, the reporting pools and where each kind
    of node starts (``H`` groups, ``P`` ports, ``A`` local pools, ``D`` reporting pools,
    ``M`` members)."""

    p: _People
    model: CostModel
    scope: str
    borrow: bool
    h_kin: IntArray
    h_prev: IntArray
    has_prev: NDArray[np.bool_]
    h_bc: IntArray
    m_bc: IntArray
    h_cc: IntArray
    m_cc: IntArray
    h_node: IntArray
    node_h: IntArray
    node_size: IntArray
    g_code: ObjArray
    g_comm: ObjArray
    g_sub: ObjArray
    g_households: IntArray
    g_cap_min: IntArray
    g_cap_max: IntArray
    g_short: NDArray[np.bool_]
    neighbours: list[list[int]]
    anchors: FloatArray
    have_streets: bool
    graph: StreetGraph
    h_snap: SnappedPoints
    m_snap: SnappedPoints
    o_snap: SnappedPoints
    a_snap: SnappedPoints
    o_grid: IntArray
    pool_of: IntArray
    pool_grid: IntArray
    pool_community: ObjArray
    H: int = 0
    P: int = 0
    A: int = 0
    D: int = 0
    M: int = 0

    @property
    def eligible(self) -> NDArray[np.bool_]:
        return self.p.m_max > 0

    @property
    def m_in(self) -> NDArray[np.bool_]:
        """Eligible members living in a grid (they serve it, and lend to short neighbours)."""
        return self.eligible & (self.p.m_grid >= 0)


def _net(data: AssignmentInput, st: AssignSettings, crs: pyproj.CRS) -> _Net:
    """Locate, group and snap everyone; count each grid's households and capacity
    (``data.grids`` sorted by code)."""
    households, members, grids, streets = data.households, data.members, data.grids, data.streets
    g_code, g_comm = _str_or_none(grids["code"]), _str_or_none(grids["community_code"])
    g_poly = np.asarray(grids.geometry.to_crs(crs).values, dtype=object)
    n_g = len(g_code)
    p = _locate_people(households, members, grids, data.units, g_comm, st.bounds, crs,
                       st.deploy_from)
    h_kin, h_prev, has_prev = _kin_and_previous(households, data.previous, p)
    (h_bld, h_cmp), (m_bld, m_cmp) = _homes(households, members, data.buildings, p, crs)
    h_bc, m_bc = _codes(h_bld, m_bld)
    h_cc, m_cc = _codes(h_cmp, m_cmp)
    have_streets = streets is not None and len(streets) > 0
    graph = graph_from_streets(streets if have_streets else
                               gpd.GeoDataFrame(geometry=[], crs=crs), crs=crs)
    h_snap = snap_points(graph, p.h_xy)
    h_node, node_h = _groups(p, h_bc, h_snap.edge, h_kin, st.group_radius_m)
    m_in = (p.m_max > 0) & (p.m_grid >= 0)
    g_households = np.bincount(p.h_grid[p.h_grid >= 0], minlength=n_g).astype(np.int64)
    g_cap_max = np.bincount(p.m_grid[m_in], weights=p.m_max[m_in], minlength=n_g)
    g_cap_min = np.bincount(p.m_grid[m_in], weights=p.m_min[m_in], minlength=n_g)
    g_short = g_households > g_cap_max
    anchors = _anchors(p.h_xy, p.h_grid, g_poly)
    # reporting pools: one per (origin grid, community reported to)
    o_grid = _origin_grid(p, grids, crs)
    rep = (p.m_max > 0) & p.m_reporting & (o_grid >= 0) & np.array(
        [c is not None for c in p.m_community], dtype=bool) & (st.scope != "grid")
    keys = pd.DataFrame({"g": o_grid[rep], "c": p.m_community[rep]}).drop_duplicates()
    keys = keys.sort_values(["g", "c"]).reset_index(drop=True)
    index = {(int(g), str(c)): i for i, (g, c) in enumerate(keys.itertuples(index=False))}
    pool_of = np.full(len(p.m_id), -1, dtype=np.int64)
    pool_of[rep] = [index[(int(g), str(c))]
                    for g, c in zip(o_grid[rep], p.m_community[rep], strict=True)]
    n_hn, n_d = len(node_h), len(keys)
    m_snap = snap_points(graph, p.m_xy)
    return _Net(
        p=p, model=st.model, scope=st.scope, borrow=st.borrow, h_kin=h_kin, h_prev=h_prev,
        has_prev=has_prev, h_bc=h_bc, m_bc=m_bc, h_cc=h_cc, m_cc=m_cc, h_node=h_node,
        node_h=node_h,
        node_size=np.bincount(h_node[h_node >= 0], minlength=n_hn).astype(np.int64),
        g_code=g_code, g_comm=g_comm,
        g_sub=np.array([None if c is None else c[:9] for c in g_comm], dtype=object),
        g_households=g_households, g_cap_min=g_cap_min.astype(np.int64),
        g_cap_max=g_cap_max.astype(np.int64), g_short=g_short,
        neighbours=(_adjacent_grids(g_poly, g_comm) if st.borrow and bool(g_short.any())
                    else [[] for _ in range(n_g)]),
        anchors=anchors, have_streets=have_streets, graph=graph,
        h_snap=h_snap, m_snap=m_snap,
        # walks start at home unless deploy_from="unit" moved some origins: snap once
        o_snap=(m_snap if np.array_equal(p.m_origin_xy, p.m_xy)
                else snap_points(graph, p.m_origin_xy)),
        a_snap=snap_points(graph, anchors),
        o_grid=o_grid, pool_of=pool_of, pool_grid=keys["g"].to_numpy(dtype=np.int64),
        pool_community=keys["c"].to_numpy(dtype=object),
        H=0, P=n_hn, A=n_hn + n_g, D=n_hn + 2 * n_g, M=n_hn + 2 * n_g + n_d,
    )


def _arcs(kind: int, tail: IntArray, head: IntArray, cap: IntArray, cost_m: FloatArray,
          walk: FloatArray, network: NDArray[np.bool_], h: IntArray | None = None,
          m: IntArray | None = None, **flags: NDArray[np.bool_]) -> dict[str, NDArray[Any]]:
    """One block of arcs as parallel arrays (``h`` a group node, ``m`` a member)."""
    n = len(tail)
    none = np.full(n, -1, np.int64)
    no = np.zeros(n, dtype=bool)
    return {"kind": np.full(n, kind, np.int8), "tail": tail, "head": head, "cap": cap,
            "cost_m": cost_m, "walk": walk, "network": network,
            "h": none if h is None else h, "m": none if m is None else m,
            "same_b": flags.get("same_b", no), "same_c": flags.get("same_c", no),
            "prev": flags.get("prev", no)}


def _direct_arcs(n: _Net, deployable: set[tuple[int, int]], kin_scope: str,
                 k: int) -> dict[str, NDArray[Any]]:
    """Group → member arcs, walked from each group's first household: its ``k`` nearest of
    the grid and kin ("generic", paying the change penalty when the group had members
    before) and each previous member of its households (capacity: how many had them)."""
    p, model, g_comm = n.p, n.model, n.g_comm
    is_rep = np.zeros(len(p.h_id), dtype=bool)
    is_rep[n.node_h] = True
    node_prev = np.zeros(len(n.node_h), dtype=bool)
    node_prev[n.h_node[n.has_prev & (n.h_node >= 0)]] = True
    gh, gm = _nearest_in_grid(p, n.eligible, k, is_rep)
    kh = np.flatnonzero((n.h_kin >= 0) & (p.h_grid >= 0))  # kin households are groups of one
    km = n.h_kin[kh]
    ok = n.eligible[km] & (p.m_grid[km] >= 0)
    if kin_scope == "grid":
        ok &= p.m_grid[km] == p.h_grid[kh]
    else:
        ok &= g_comm[np.maximum(p.m_grid[km], 0)] == g_comm[np.maximum(p.h_grid[kh], 0)]
    # unique (group, member) pairs in (group, member) order, through one integer key
    span = len(p.m_id) + 1
    key = np.unique(n.h_node[np.concatenate([gh, kh[ok]])] * span
                    + np.concatenate([gm, km[ok]]))
    gen = np.stack([key // span, key % span])
    ph, pm = _previous_pairs(p, n.h_prev, n.has_prev, n.eligible, n.neighbours, n.g_short,
                             deployable, n.pool_of)
    prev = pd.DataFrame({"n": n.h_node[ph], "m": pm}).value_counts().reset_index()
    dn = np.concatenate([gen[0], prev["n"].to_numpy(dtype=np.int64)])
    dm = np.concatenate([gen[1], prev["m"].to_numpy(dtype=np.int64)])
    is_prev = np.arange(len(dn)) >= gen.shape[1]
    cap = np.concatenate([np.minimum(n.node_size[gen[0]], p.m_max[gen[1]]),
                          prev["count"].to_numpy(dtype=np.int64)])
    dh = n.node_h[dn]
    d = _walk(n.graph, n.m_snap, n.h_snap, dm, dh)
    same_b = (n.h_bc[dh] >= 0) & (n.h_bc[dh] == n.m_bc[dm])
    same_c = ((n.h_cc[dh] >= 0) & (n.h_cc[dh] == n.m_cc[dm])) | same_b
    # kin in another grid is 就亲, not borrowing: no borrow cost on direct arcs
    other = (p.m_grid[dm] != p.h_grid[dh]) & (n.h_kin[dh] != dm)
    deployed = other & (p.m_community[dm] != g_comm[p.h_grid[dh]]) & (
        g_comm[p.m_grid[dm]] != g_comm[p.h_grid[dh]])
    cost_m = (d.distance_m - model.building_bonus * same_b - model.compound_bonus * same_c
              + model.change_penalty * (node_prev[dn] & ~is_prev)
              + model.deploy_cost * deployed + model.borrow_cost * (other & ~deployed))
    return _arcs(DIRECT, n.H + dn, n.M + dm, cap, cost_m, d.distance_m, d.network, dn, dm,
                 same_b=same_b, same_c=same_c, prev=is_prev)


def _grid_arcs(n: _Net, tg: IntArray, dp: IntArray, walk: FloatArray,
               network: NDArray[np.bool_]) -> list[dict[str, NDArray[Any]]]:
    """Group → port, port → pools (own grid, a lending neighbour, reporting pools in
    scope) and pool → member arcs (module docstring)."""
    p, model, n_g = n.p, n.model, len(n.g_code)
    node_prev = np.zeros(len(n.node_h), dtype=bool)
    node_prev[n.h_node[n.has_prev & (n.h_node >= 0)]] = True
    hh = n.node_h
    d = _walk(n.graph, n.a_snap, n.h_snap, p.h_grid[hh], hh)
    out = [_arcs(PORT, n.H + np.arange(len(hh)), n.P + p.h_grid[hh], n.node_size,
                 d.distance_m + model.change_penalty * node_prev, d.distance_m, d.network,
                 np.arange(len(hh)))]
    caps = np.maximum(n.g_households, 1)
    gg = np.flatnonzero(n.g_households > 0)
    out.append(_arcs(LOCAL, n.P + gg, n.A + gg, caps[gg], np.zeros(len(gg)),
                     np.zeros(len(gg)), np.ones(len(gg), bool)))
    bt = np.array([g for g in range(n_g) if n.g_short[g] for _ in n.neighbours[g]], np.int64)
    bh = np.array([a for g in range(n_g) if n.g_short[g] for a in n.neighbours[g]], np.int64)
    if n.borrow and len(bt):
        d = _walk(n.graph, n.a_snap, n.a_snap, bh, bt)
        out.append(_arcs(BORROW, n.P + bt, n.A + bh, caps[bt],
                         d.distance_m + model.borrow_cost, d.distance_m, d.network))
    # serving the community reported to, or the one lived in, is not a deployment
    own = (n.g_comm[tg] == n.pool_community[dp]) | (n.g_comm[tg] == n.g_comm[n.pool_grid[dp]])
    out.append(_arcs(DEPLOY, n.P + tg, n.D + dp, caps[tg],
                     walk + np.where(own, model.borrow_cost, model.deploy_cost), walk, network))
    mm = np.flatnonzero(n.m_in)
    d = _walk(n.graph, n.a_snap, n.m_snap, p.m_grid[mm], mm)
    out.append(_arcs(POOL, n.A + p.m_grid[mm], n.M + mm, p.m_max[mm], d.distance_m,
                     d.distance_m, d.network, None, mm))
    mr = np.flatnonzero(n.pool_of >= 0)
    d = _walk(n.graph, n.a_snap, n.o_snap, n.pool_grid[n.pool_of[mr]], mr)
    out.append(_arcs(POOL, n.D + n.pool_of[mr], n.M + mr, p.m_max[mr], d.distance_m,
                     d.distance_m, d.network, None, mr))
    return out


def _node_grids(n: _Net) -> IntArray:
    """Grid of every node (-1: a member serving nowhere), for splitting into pieces."""
    p = n.p
    out = np.full(n.M + len(p.m_id), -1, dtype=np.int64)
    n_g = len(n.g_code)
    out[n.H:n.P] = p.h_grid[n.node_h]
    out[n.P:n.A] = np.arange(n_g)
    out[n.A:n.D] = np.arange(n_g)
    out[n.D:n.M] = n.pool_grid
    out[n.M:] = np.where(n.m_in | (n.pool_of >= 0), np.where(n.m_in, p.m_grid, n.o_grid), -1)
    return out


def _groups(p: _People, building: IntArray, edge: IntArray, kin: IntArray, radius: float
            ) -> tuple[IntArray, IntArray]:
    """Household groups: same grid, building and street edge they reach the network by, and
    no kin member, within
    ``radius`` metres of the group's first household (the rest, and every household without
    a building, kin or far from its building's first, alone). Returns the group of each
    household (-1 outside every grid) and each group's first household.

    A group is one node of the flow with the group's size as supply: the households of a
    building are nearly the same walk from any member, and grouping them cuts the flow's
    nodes and arcs several times over (a county seat has ~6 households a building)."""
    n = len(p.h_id)
    inside = p.h_grid >= 0
    solo = inside & ((building < 0) | (kin != -1) | (radius <= 0))
    # The street edge matters: a block between two streets walks out on either side, and its
    # households' walks to a member differ by the way round the block.
    key = pd.DataFrame({"g": p.h_grid, "b": building, "e": edge})
    gid = key.groupby(["g", "b", "e"], sort=False).ngroup().to_numpy(dtype=np.int64,
                                                                          copy=True)
    gid[solo] = -1
    first = pd.Series(np.arange(n)).groupby(gid).transform("min").to_numpy(dtype=np.int64)
    far = np.hypot(*(p.h_xy - p.h_xy[first]).T) > radius
    alone = inside & ((gid < 0) | far)
    label = np.where(alone, -1 - np.arange(n), first)  # singletons get their own label
    label[~inside] = np.iinfo(np.int64).min
    uniq, h_node = np.unique(label[inside], return_inverse=True)
    out = np.full(n, -1, dtype=np.int64)
    out[inside] = h_node
    node_h = np.full(len(uniq), -1, dtype=np.int64)
    idx = np.flatnonzero(inside)
    node_h[h_node[::-1]] = idx[::-1]  # the lowest household of each group
    return out, node_h


def _working_crs(households: gpd.GeoDataFrame, grids: gpd.GeoDataFrame,
                 working_crs: pyproj.CRS | str | int | None) -> pyproj.CRS:
    if working_crs is not None:
        crs = pyproj.CRS.from_user_input(working_crs)
    else:
        crs = working_crs_for(households if len(households) else grids)
    if not crs.is_projected:
        raise CRSError(f"working_crs must be projected (metres), got {crs.to_string()}")
    return crs


def _kin_and_previous(households: gpd.GeoDataFrame, previous: pd.DataFrame | None,
                      p: _People) -> tuple[IntArray, IntArray, NDArray[np.bool_]]:
    """Kin member of each household (-1 none, -2 unknown id) and previous member."""
    n_h = len(p.h_id)
    member_index = {k: i for i, k in enumerate(p.m_id)}
    h_kin = np.full(n_h, -1, dtype=np.int64)
    for i, k in enumerate(_column(households, "kin_member_id")):
        if k is not None:
            h_kin[i] = member_index.get(k, -2)
    h_prev = np.full(n_h, -1, dtype=np.int64)
    has_prev = np.zeros(n_h, dtype=bool)
    if previous is not None and len(previous):
        _require(previous, "assignments", ["household_id", "member_id"])
        prev = dict(zip(_str_or_none(previous["household_id"]),
                        _str_or_none(previous["member_id"]), strict=True))
        for i, k in enumerate(p.h_id):
            pm = prev.get(k)
            if pm is not None:
                has_prev[i] = True
                h_prev[i] = member_index.get(pm, -1)
    return h_kin, h_prev, has_prev


def _previous_pairs(
    p: _People, h_prev: IntArray, has_prev: NDArray[np.bool_], eligible: NDArray[np.bool_],
    neighbours: list[list[int]], g_short: NDArray[np.bool_],
    deployable: set[tuple[int, int]], pool_of: IntArray,
) -> tuple[IntArray, IntArray]:
    """``(household, previous member)`` pairs the model still allows, so keeping a previous
    member (stability) is always a direct candidate, never only a path through a service
    point (which pays the change penalty): same grid, a lending neighbour of a short grid, or
    a reporting member whose pool may serve the household's grid."""
    ph = np.flatnonzero(has_prev & (h_prev >= 0) & (p.h_grid >= 0))
    pm = h_prev[ph]
    ok = eligible[pm] & (p.m_grid[pm] >= 0)
    ph, pm = ph[ok], pm[ok]
    hg, mg = p.h_grid[ph], p.m_grid[pm]
    keep = np.array([
        a == b or (bool(g_short[a]) and b in neighbours[a]) or (a, int(d)) in deployable
        for a, b, d in zip(hg.tolist(), mg.tolist(), pool_of[pm].tolist(), strict=True)],
        dtype=bool)
    return ph[keep], pm[keep]


def _homes(households: gpd.GeoDataFrame, members: gpd.GeoDataFrame,
           buildings: gpd.GeoDataFrame | None, p: _People, crs: pyproj.CRS
           ) -> tuple[tuple[ObjArray, ObjArray], tuple[ObjArray, ObjArray]]:
    """``((household building, compound), (member building, compound))`` ids."""
    hb = _column(households, "building_id") if "building_id" in households else None
    mb = _column(members, "building_id") if "building_id" in members else None
    return (_building_and_compound(p.h_xy, hb, buildings, crs),
            _building_and_compound(p.m_xy, mb, buildings, crs))


def _origin_grid(p: _People, grids: gpd.GeoDataFrame, crs: pyproj.CRS) -> IntArray:
    """Grid of each member's origin (home, or unit with ``deploy_from="unit"``)."""
    moved = np.flatnonzero(np.any(p.m_origin_xy != p.m_xy, axis=1))
    out = p.m_grid.copy()
    if len(moved) == 0:
        return out
    lon, lat = pyproj.Transformer.from_crs(crs, 4326, always_xy=True).transform(
        p.m_origin_xy[moved, 0], p.m_origin_xy[moved, 1])
    out[moved] = _grid_of(grids, np.asarray(lon), np.asarray(lat))[0]
    return out


def _deploy_pairs(n: _Net, cap: float
                  ) -> tuple[IntArray, IntArray, FloatArray, NDArray[np.bool_]]:
    """``(target grid, reporting pool, walk, network)`` for every grid a pool may serve:
    in scope, another grid than the pool's, walk between service points within ``cap``."""
    pg, pc = n.pool_grid, n.pool_community
    targets = np.flatnonzero(n.g_households > 0)
    if len(targets) == 0 or len(pg) == 0:
        return (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0),
                np.zeros(0, bool))
    near = cKDTree(n.anchors[targets]).query_ball_point(n.anchors[pg], r=cap)
    dp = np.repeat(np.arange(len(pg)), [len(x) for x in near])
    tg = targets[np.concatenate([np.asarray(x, dtype=np.int64) for x in near])].astype(
        np.int64)
    ok = tg != pg[dp]
    if n.scope == "community":
        ok &= n.g_comm[tg] == pc[dp]
    else:
        own_sub = np.array([str(c)[:9] for c in pc], dtype=object)
        ok &= n.g_sub[tg] == own_sub[dp]
    tg, dp = tg[ok], dp[ok]
    d = pair_distances(n.graph, n.a_snap, n.a_snap, pg[dp], tg)
    keep = d.distance_m <= cap
    return tg[keep], dp[keep], d.distance_m[keep], d.network[keep]


def _pieces(node_grid: IntArray, tail: IntArray, head: IntArray, n_g: int) -> IntArray:
    """Independent piece of every node: grids joined by any arc (nodes in no grid: -1)."""
    gt, gh = node_grid[tail], node_grid[head]
    ok = (gt >= 0) & (gh >= 0) & (gt != gh)
    link = coo_matrix((np.ones(int(ok.sum())), (gt[ok], gh[ok])), shape=(n_g, n_g))
    _, label = connected_components(link, directed=False)
    label = np.asarray(label, dtype=np.int64)
    return np.where(node_grid >= 0, label[np.maximum(node_grid, 0)], -1)


def pin_members(p: AssignmentProblem, members: IntArray, grids: IntArray) -> AssignmentProblem:
    """A copy of ``p`` where each of ``members`` serves the matching grid of ``grids`` at the
    usual cost and any other grid at :data:`~gisgov.assignment._model.SPLIT_COST_M` more per
    household (kin households aside): one arc port(grid) → member, costing the cheapest
    port → pool → member path, takes the pinned grid's households, and the member's pool and
    other-grid direct arcs are kept but penalised. Nothing is removed, so whatever ``p``
    could cover stays coverable (coverage and minimum loads outrank the penalty); call it on
    the unpinned problem with every pin so far."""
    n_m, n_h = p.n_members, p.n_hnodes
    pinned = np.full(n_m, -1, dtype=np.int64)
    pinned[members] = grids
    into = np.isin(p.arc_kind, (LOCAL, BORROW, DEPLOY))
    pool = p.arc_kind == POOL
    m_of = np.maximum(p.arc_m, 0)
    pool_m = pool & (p.arc_m >= 0) & (pinned[m_of] >= 0)
    a = pd.DataFrame({"port": p.arc_tail[into] - n_h, "pool": p.arc_head[into],
                      "c1": p.arc_cost_m[into], "w1": p.arc_walk[into]})
    b = pd.DataFrame({"pool": p.arc_tail[pool_m], "m": p.arc_m[pool_m],
                      "c2": p.arc_cost_m[pool_m], "w2": p.arc_walk[pool_m]})
    b["port"] = pinned[b["m"].to_numpy()]
    j = a.merge(b, on=["port", "pool"])  # only the member's own pinned grid
    j = j.assign(c=j["c1"] + j["c2"], w=j["w1"] + j["w2"]).sort_values(["c", "m"])
    j = j.drop_duplicates("m")
    pm = j["m"].to_numpy(dtype=np.int64)
    pinned[:] = -1  # only members with a path to their grid's port are pinned
    pinned[pm] = j["port"].to_numpy(dtype=np.int64)
    h = p.node_h[np.maximum(p.arc_h, 0)]
    kin = (p.arc_kind == DIRECT) & (p.h_kin[h] == p.arc_m)
    penal = (p.arc_m >= 0) & (pinned[m_of] >= 0) & (
        pool | ((p.arc_kind == DIRECT) & ~kin & (p.h_grid[h] != pinned[m_of])))
    n_new = len(pm)
    cost_m = j["c"].to_numpy(dtype=float)
    penalty = np.where(penal, int(SPLIT_COST_M * COST_SCALE), 0).astype(np.int64)
    return replace(
        p,
        arc_tail=np.concatenate([p.arc_tail, n_h + pinned[pm]]),
        arc_head=np.concatenate([p.arc_head, p.n_nodes - n_m + pm]),
        arc_cap=np.concatenate([p.arc_cap, p.m_max[pm]]),
        arc_cost=np.concatenate([p.arc_cost + penalty,
                                 np.rint(cost_m * COST_SCALE).astype(np.int64)]),
        arc_penalty=np.concatenate([p.arc_penalty + penalty, np.zeros(n_new, np.int64)]),
        arc_cost_m=np.concatenate([p.arc_cost_m, cost_m]),
        arc_walk=np.concatenate([p.arc_walk, j["w"].to_numpy(dtype=float)]),
        arc_network=np.concatenate([p.arc_network, np.ones(n_new, bool)]),
        arc_kind=np.concatenate([p.arc_kind, np.full(n_new, PIN, np.int8)]),
        arc_h=np.concatenate([p.arc_h, np.full(n_new, -1, np.int64)]),
        arc_m=np.concatenate([p.arc_m, pm]),
        arc_same_b=np.concatenate([p.arc_same_b, np.zeros(n_new, bool)]),
        arc_same_c=np.concatenate([p.arc_same_c, np.zeros(n_new, bool)]),
        arc_prev=np.concatenate([p.arc_prev, np.zeros(n_new, bool)]),
    )
