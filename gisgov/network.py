"""The walking network: a street graph, points snapped onto it, and walking distances.

Every street class counts (main, secondary, minor and footway): people walk on all of them.
Streets are expected split at intersections (as ``docs/SCHEMA.md`` stores them); graph nodes
are the line endpoints, merged when closer than a snapping tolerance, and each line is one edge
weighted by its length in metres in the working (projected) CRS.

A point (a household or a member's home) reaches the network by a straight leg to the nearest
point of the nearest edge, then walks to either end of that edge. The walking distance between
two points is

    leg(a) + min over ends i of a's edge, j of b's edge (along(a, i) + path(i, j) + along(b, j)) + leg(b)

or the direct walk along a shared edge. Shortest paths come from one bounded Dijkstra per source
edge end (:func:`scipy.sparse.csgraph.dijkstra` with ``limit``): members are few, their searches
stay local, and no many-to-many matrix is ever built.

A straight line is used only where the network cannot answer (no streets, or the two points on
disconnected pieces); :class:`PairDistances` says which pairs used it.

Examples
--------
>>> import geopandas as gpd, shapely
>>> streets = gpd.GeoDataFrame(
...     {"id": ["a", "b"], "class": ["minor", "footway"]},
...     geometry=[shapely.LineString([(0, 0), (100, 0)]), shapely.LineString([(100, 0), (100, 50)])],
...     crs="EPSG:32650",
... )
>>> g = graph_from_streets(streets)
>>> g.n_nodes, g.n_edges
(3, 2)
>>> src = snap_points(g, [(0, 10)])
>>> dst = snap_points(g, [(110, 50)])
>>> float(pair_distances(g, src, dst).distance_m[0])  # 10 + 100 + 50 + 10
170.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pyproj
import scipy.sparse as sp
import shapely
from numpy.typing import ArrayLike, NDArray
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from gisgov.errors import CRSError, ValidationError

__all__ = [
    "PairDistances",
    "SnappedPoints",
    "StreetGraph",
    "graph_from_streets",
    "pair_distances",
    "points_to_xy",
    "snap_points",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# csgraph treats a stored 0 as "no edge" in some code paths; merged endpoints can make an edge
# of length ~0, so weights are floored at a micrometre.
_MIN_WEIGHT = 1e-6


@dataclass(frozen=True, eq=False)
class StreetGraph:
    """An undirected walking graph in a projected CRS.

    Attributes
    ----------
    crs
        The projected CRS of every coordinate and length.
    nodes
        ``(n_nodes, 2)`` node coordinates.
    edge_u, edge_v
        End nodes of each edge (an edge is one street line).
    edge_length
        Length of each edge in metres.
    edge_geometry
        The street line of each edge, for snapping.
    matrix
        Symmetric CSR adjacency of edge lengths (the shortest of parallel edges).
    component
        Connected-component label of each node.
    """

    crs: pyproj.CRS
    nodes: FloatArray
    edge_u: IntArray
    edge_v: IntArray
    edge_length: FloatArray
    edge_geometry: NDArray[np.object_]
    matrix: sp.csr_matrix
    component: IntArray
    tree: shapely.STRtree

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.nodes.shape[0])

    @property
    def n_edges(self) -> int:
        """Number of edges."""
        return int(self.edge_u.shape[0])

    @property
    def n_components(self) -> int:
        """Number of connected pieces."""
        return int(self.component.max()) + 1 if self.n_nodes else 0


@dataclass(frozen=True, eq=False)
class SnappedPoints:
    """Points attached to the nearest edge of a :class:`StreetGraph`.

    Attributes
    ----------
    xy
        ``(n, 2)`` point coordinates in the graph's CRS.
    edge
        Nearest edge of each point, ``-1`` when the graph has no edges.
    leg
        Straight distance from the point to that edge (walked off-street), metres.
    to_u, to_v
        Distance along the edge from the snapped position to its ``u`` and ``v`` ends.
    along
        Position of the snapped point along the edge, metres from ``u``.
    """

    xy: FloatArray
    edge: IntArray
    leg: FloatArray
    to_u: FloatArray
    to_v: FloatArray
    along: FloatArray

    def __len__(self) -> int:
        return int(self.xy.shape[0])


@dataclass(frozen=True, eq=False)
class PairDistances:
    """Walking distances for a list of (source, target) pairs.

    Attributes
    ----------
    distance_m
        Walking distance of each pair in metres (never shorter than the straight line).
    straight_m
        Straight-line distance of each pair.
    network
        ``True`` where the distance came from the street network, ``False`` where the
        straight line was used as a fallback (no streets, or disconnected pieces).
    """

    distance_m: FloatArray
    straight_m: FloatArray
    network: NDArray[np.bool_]

    @property
    def n_fallback(self) -> int:
        """How many pairs used the straight-line fallback."""
        return int((~self.network).sum())


def points_to_xy(points: gpd.GeoSeries | gpd.GeoDataFrame, crs: pyproj.CRS) -> FloatArray:
    """Return point coordinates projected into ``crs`` as an ``(n, 2)`` array.

    Parameters
    ----------
    points
        Point geometries with a CRS.
    crs
        Target (projected) CRS, usually :attr:`StreetGraph.crs`.

    Raises
    ------
    CRSError
        If the points have no CRS.
    ValidationError
        If a geometry is missing or not a point.
    """
    geoms = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
    if geoms.crs is None:
        raise CRSError("points have no coordinate system; set one (e.g. EPSG:4326) first")
    projected = geoms.to_crs(crs).values
    if len(projected) and not bool(np.all(shapely.get_type_id(projected) == 0)):
        raise ValidationError("every location must be a Point (households, members' homes)")
    return np.column_stack([shapely.get_x(projected), shapely.get_y(projected)]).astype(float)


def graph_from_streets(
    streets: gpd.GeoDataFrame,
    *,
    crs: pyproj.CRS | str | int | None = None,
    snap_tolerance: float = 1.0,
    split_crossings: bool = False,
) -> StreetGraph:
    """Build the walking graph from a streets layer.

    Parameters
    ----------
    streets
        LineStrings or MultiLineStrings with a CRS; all rows are used (``class`` is ignored:
        footways are walkable).
    crs
        Projected CRS to work in. ``None`` keeps the streets' own CRS, which must then be
        projected (metres).
    snap_tolerance
        Line endpoints closer than this many metres become one node (digitising slivers).
    split_crossings
        Also join lines where they cross without a shared endpoint (unsplit street data).
        Off by default: stored streets are split at intersections, and a bridge over a road
        is not a junction.

    Returns
    -------
    StreetGraph

    Raises
    ------
    CRSError
        If the streets have no CRS or the working CRS is not projected.
    """
    if streets.crs is None:
        raise CRSError("the streets layer has no coordinate system; set one first")
    target = pyproj.CRS.from_user_input(crs) if crs is not None else pyproj.CRS(streets.crs)
    if not target.is_projected:
        raise CRSError(
            f"walking distances need a projected CRS in metres, got {target.to_string()}; "
            "pass crs=workspace.working_crs"
        )
    if snap_tolerance < 0:
        raise ValidationError("snap_tolerance must be >= 0 metres")
    geoms = streets.geometry.to_crs(target).values
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    lines = shapely.get_parts(geoms)
    lines = lines[shapely.get_type_id(lines) == 1]
    if split_crossings and len(lines):
        lines = shapely.get_parts(shapely.node(shapely.multilinestrings(lines)))
    lines = lines[shapely.length(lines) > 0]
    return _graph_from_lines(np.asarray(lines, dtype=object), target, snap_tolerance)


def _graph_from_lines(
    lines: NDArray[np.object_], crs: pyproj.CRS, tol: float
) -> StreetGraph:
    n_lines = len(lines)
    if n_lines == 0:
        empty_i = np.zeros(0, dtype=np.int64)
        return StreetGraph(
            crs=crs, nodes=np.zeros((0, 2)), edge_u=empty_i, edge_v=empty_i.copy(),
            edge_length=np.zeros(0), edge_geometry=lines, matrix=sp.csr_matrix((0, 0)),
            component=empty_i.copy(), tree=shapely.STRtree(lines),
        )
    starts = shapely.get_coordinates(shapely.get_point(lines, 0))
    ends = shapely.get_coordinates(shapely.get_point(lines, -1))
    ends_xy = np.vstack([starts, ends])
    if tol > 0:
        # Endpoints closer than tol are one node, transitively (a chain of slivers merges).
        pairs = cKDTree(ends_xy).query_pairs(r=tol, output_type="ndarray")
        n_ends = len(ends_xy)
        link = sp.coo_matrix(
            (np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n_ends, n_ends)
        )
        _, node_of_end = connected_components(link, directed=False)
    else:
        _, node_of_end = np.unique(ends_xy, axis=0, return_inverse=True)
    node_of_end = np.asarray(node_of_end, dtype=np.int64).ravel()
    counts = np.bincount(node_of_end).astype(float)
    nodes = np.column_stack([
        np.bincount(node_of_end, weights=ends_xy[:, 0]) / counts,
        np.bincount(node_of_end, weights=ends_xy[:, 1]) / counts,
    ])
    edge_u = node_of_end[:n_lines].astype(np.int64)
    edge_v = node_of_end[n_lines:].astype(np.int64)
    length = np.maximum(shapely.length(lines).astype(float), _MIN_WEIGHT)
    n = len(nodes)
    # Keep the shortest of parallel edges; loops (u == v) never shorten a path.
    keep = edge_u != edge_v
    a = np.minimum(edge_u, edge_v)[keep]
    b = np.maximum(edge_u, edge_v)[keep]
    w = length[keep]
    order = np.lexsort((w, b, a))
    a, b, w = a[order], b[order], w[order]
    first = np.ones(len(a), dtype=bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    a, b, w = a[first], b[first], w[first]
    matrix = sp.csr_matrix(
        (np.concatenate([w, w]), (np.concatenate([a, b]), np.concatenate([b, a]))), shape=(n, n)
    )
    _, component = connected_components(matrix, directed=False)
    return StreetGraph(
        crs=crs, nodes=nodes, edge_u=edge_u, edge_v=edge_v, edge_length=length,
        edge_geometry=lines, matrix=matrix, component=component.astype(np.int64),
        tree=shapely.STRtree(lines),
    )


def snap_points(
    graph: StreetGraph,
    points: gpd.GeoSeries | gpd.GeoDataFrame | ArrayLike | Sequence[tuple[float, float]],
) -> SnappedPoints:
    """Attach each point to the nearest edge of ``graph``.

    Parameters
    ----------
    graph
        The walking graph.
    points
        A GeoSeries/GeoDataFrame of points with a CRS (projected into ``graph.crs``), or an
        ``(n, 2)`` array of coordinates already in ``graph.crs``.

    Returns
    -------
    SnappedPoints
        Ties between equally near edges go to the lowest edge number (deterministic).
    """
    if isinstance(points, gpd.GeoSeries | gpd.GeoDataFrame):
        xy = points_to_xy(points, graph.crs)
    else:
        xy = np.asarray(points, dtype=float).reshape(-1, 2)
    n = len(xy)
    if graph.n_edges == 0 or n == 0:
        z = np.zeros(n)
        return SnappedPoints(xy, np.full(n, -1, np.int64), z, z.copy(), z.copy(), z.copy())
    pts = shapely.points(xy)
    (pi, ei), dist = graph.tree.query_nearest(pts, return_distance=True, all_matches=True)
    # all_matches returns every tied edge; keep the lowest edge number per point.
    order = np.lexsort((ei, pi))
    pi, ei, dist = pi[order], ei[order], dist[order]
    first = np.ones(len(pi), dtype=bool)
    first[1:] = pi[1:] != pi[:-1]
    edge = np.full(n, -1, np.int64)
    leg = np.zeros(n)
    edge[pi[first]] = ei[first]
    leg[pi[first]] = dist[first]
    lines = graph.edge_geometry[edge]
    along = shapely.line_locate_point(lines, pts).astype(float)
    length = shapely.length(lines).astype(float)
    along = np.clip(along, 0.0, length)
    return SnappedPoints(xy, edge, leg, along.copy(), length - along, along)


def pair_distances(
    graph: StreetGraph,
    sources: SnappedPoints,
    targets: SnappedPoints,
    source_index: ArrayLike | None = None,
    target_index: ArrayLike | None = None,
    *,
    detour: float = 3.0,
    slack_m: float = 1000.0,
    batch_nodes: int = 256,
) -> PairDistances:
    """Walking distance for each (source, target) pair.

    Sources should be the smaller side (members): one Dijkstra search runs from each end of
    each source's edge, bounded by ``detour`` times the longest straight distance in the batch
    plus ``slack_m``. Pairs the bounded search misses are searched again without a bound, so
    the bound only saves time and never changes a distance.

    Parameters
    ----------
    graph
        The walking graph.
    sources, targets
        Snapped points.
    source_index, target_index
        Equal-length index arrays into ``sources`` and ``targets`` naming the pairs. Both
        ``None`` means element-wise pairs (``len(sources) == len(targets)``).
    detour
        Search bound factor over the straight-line distance.
    slack_m
        Search bound addend in metres (covers off-street legs and short detours).
    batch_nodes
        Source nodes per Dijkstra call (memory is ``batch_nodes * n_nodes`` floats).

    Returns
    -------
    PairDistances
        Distances are never below the straight line (snapping may merge nodes up to the
        tolerance apart; the straight line is then the honest lower value).
    """
    if source_index is None and target_index is None:
        if len(sources) != len(targets):
            raise ValidationError("sources and targets differ in length; pass pair indices")
        si = np.arange(len(sources), dtype=np.int64)
        ti = si.copy()
    elif source_index is None or target_index is None:
        raise ValidationError("pass both source_index and target_index, or neither")
    else:
        si = np.asarray(source_index, dtype=np.int64).ravel()
        ti = np.asarray(target_index, dtype=np.int64).ravel()
        if si.shape != ti.shape:
            raise ValidationError("source_index and target_index differ in length")
    straight = np.hypot(*(sources.xy[si] - targets.xy[ti]).T) if len(si) else np.zeros(0)
    dist = np.full(len(si), np.inf)
    if graph.n_edges == 0 or len(si) == 0:
        return PairDistances(straight.copy(), straight, np.zeros(len(si), dtype=bool))
    se, te = sources.edge[si], targets.edge[ti]
    # Both ends of an edge share a component, so the u ends decide connectivity.
    connected = graph.component[graph.edge_u[se]] == graph.component[graph.edge_u[te]]
    legs = sources.leg[si] + targets.leg[ti]
    # Same edge: walk straight along it (the node route below covers going round).
    same = se == te
    dist[same] = legs[same] + np.abs(sources.along[si][same] - targets.along[ti][same])
    todo = np.flatnonzero(connected)
    _node_route(graph, sources, targets, si, ti, todo, straight, dist, legs, detour, slack_m,
                batch_nodes)
    missed = todo[~np.isfinite(dist[todo])]
    if len(missed):
        _node_route(graph, sources, targets, si, ti, missed, straight, dist, legs, np.inf,
                    np.inf, batch_nodes)
    network = np.isfinite(dist)
    out = np.where(network, np.maximum(dist, straight), straight)
    return PairDistances(out, straight, network)


def _node_route(
    graph: StreetGraph,
    sources: SnappedPoints,
    targets: SnappedPoints,
    si: IntArray,
    ti: IntArray,
    pairs: IntArray,
    straight: FloatArray,
    dist: FloatArray,
    legs: FloatArray,
    detour: float,
    slack_m: float,
    batch_nodes: int,
) -> None:
    """Fill ``dist[pairs]`` with the best route through the ends of both edges (in place)."""
    if len(pairs) == 0:
        return
    s_edge = sources.edge[si[pairs]]
    order = np.argsort(s_edge, kind="stable")
    pairs = pairs[order]
    s_edge = s_edge[order]
    uniq_edges, first_pair = np.unique(s_edge, return_index=True)
    bounds = np.append(first_pair, len(pairs))
    per_batch = max(1, batch_nodes // 2)
    for b0 in range(0, len(uniq_edges), per_batch):
        edges = uniq_edges[b0 : b0 + per_batch]
        chunk = pairs[bounds[b0] : bounds[min(b0 + per_batch, len(uniq_edges))]]
        src_nodes = np.unique(np.concatenate([graph.edge_u[edges], graph.edge_v[edges]]))
        limit = float(detour * straight[chunk].max() + slack_m)
        d = dijkstra(graph.matrix, directed=True, indices=src_nodes, limit=limit)
        row = np.full(graph.n_nodes, -1, dtype=np.int64)
        row[src_nodes] = np.arange(len(src_nodes))
        ps, pt = si[chunk], ti[chunk]
        e_s, e_t = sources.edge[ps], targets.edge[pt]
        rs_u, rs_v = row[graph.edge_u[e_s]], row[graph.edge_v[e_s]]
        t_u, t_v = graph.edge_u[e_t], graph.edge_v[e_t]
        a_u, a_v = sources.to_u[ps], sources.to_v[ps]
        b_u, b_v = targets.to_u[pt], targets.to_v[pt]
        best = np.minimum.reduce([
            a_u + d[rs_u, t_u] + b_u,
            a_u + d[rs_u, t_v] + b_v,
            a_v + d[rs_v, t_u] + b_u,
            a_v + d[rs_v, t_v] + b_v,
        ])
        dist[chunk] = np.minimum(dist[chunk], legs[chunk] + best)
