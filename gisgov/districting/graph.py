"""The unit adjacency graph the districting engine works on.

Rook adjacency (two units are neighbours when they share a boundary longer than a small
epsilon, measured in metres), with per-edge shared length and the share of that boundary lying
along main streets, plus per-unit area and perimeter so that area perimeters — and so
Polsby-Popper — can be updated incrementally when one unit moves:
``P(area) = Σ perimeter(u) − 2 Σ shared(internal edges)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from gisgov.errors import CRSError, ValidationError

__all__ = ["UnitGraph", "attach_light_components", "bridge_components", "graph_from_units", "metric_crs"]


@dataclass
class UnitGraph:
    """Adjacency of ``n`` units, all lengths in metres and areas in square metres.

    Attributes
    ----------
    n
        Number of units (positions ``0..n-1`` follow the units' row order).
    edges
        ``(m, 2)`` int array of neighbour pairs ``i < j``.
    shared_length
        Shared boundary length of each edge (0 for bridges added across gaps).
    main_share
        Fraction in [0, 1] of each edge's shared boundary lying along a main street.
    area, perimeter
        Per-unit area and boundary length.
    bridges
        Indices into ``edges`` of edges added to join disconnected components
        (``islands="bridge"``); empty unless asked for.
    crs
        The metric CRS the figures were computed in.
    """

    n: int
    edges: np.ndarray
    shared_length: np.ndarray
    main_share: np.ndarray
    area: np.ndarray
    perimeter: np.ndarray
    crs: CRS
    bridges: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    _nbrs: list[np.ndarray] | None = field(default=None, repr=False)
    _inc: list[np.ndarray] | None = field(default=None, repr=False)

    @property
    def m(self) -> int:
        """Number of edges."""
        return len(self.edges)

    def neighbors(self) -> list[np.ndarray]:
        """Neighbour positions of each unit."""
        if self._nbrs is None:
            self._build_incidence()
        assert self._nbrs is not None
        return self._nbrs

    def incident_edges(self) -> list[np.ndarray]:
        """Edge indices incident to each unit, aligned with :meth:`neighbors`."""
        if self._inc is None:
            self._build_incidence()
        assert self._inc is not None
        return self._inc

    def _build_incidence(self) -> None:
        nb: list[list[int]] = [[] for _ in range(self.n)]
        inc: list[list[int]] = [[] for _ in range(self.n)]
        for e, (i, j) in enumerate(self.edges.tolist()):
            nb[i].append(j)
            nb[j].append(i)
            inc[i].append(e)
            inc[j].append(e)
        self._nbrs = [np.asarray(x, dtype=np.int64) for x in nb]
        self._inc = [np.asarray(x, dtype=np.int64) for x in inc]

    def components(self, mask: np.ndarray | None = None) -> np.ndarray:
        """Connected-component label of each unit (``-1`` outside ``mask``)."""
        keep = np.ones(self.n, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        e = self.edges[keep[self.edges[:, 0]] & keep[self.edges[:, 1]]] if self.m else self.edges
        mat = coo_matrix(
            (np.ones(len(e)), (e[:, 0], e[:, 1])) if len(e) else ([], ([], [])),
            shape=(self.n, self.n),
        )
        _, lab = connected_components(mat, directed=False)
        out = np.full(self.n, -1, dtype=np.int64)
        # Renumber so that components are 0..c-1 over the kept units only.
        _, out_kept = np.unique(lab[keep], return_inverse=True)
        out[keep] = out_kept
        return out

    def subgraph(self, nodes: np.ndarray) -> tuple[UnitGraph, np.ndarray]:
        """The graph induced on ``nodes`` (positions), and the kept edges' indices."""
        nodes = np.asarray(nodes, dtype=np.int64)
        pos = np.full(self.n, -1, dtype=np.int64)
        pos[nodes] = np.arange(len(nodes))
        keep = (pos[self.edges[:, 0]] >= 0) & (pos[self.edges[:, 1]] >= 0)
        eidx = np.flatnonzero(keep)
        bridge_set = set(self.bridges.tolist())
        g = UnitGraph(
            n=len(nodes),
            edges=pos[self.edges[eidx]],
            shared_length=self.shared_length[eidx],
            main_share=self.main_share[eidx],
            area=self.area[nodes],
            perimeter=self.perimeter[nodes],
            crs=self.crs,
            bridges=np.asarray(
                [k for k, e in enumerate(eidx.tolist()) if e in bridge_set], dtype=np.int64
            ),
        )
        return g, eidx


def metric_crs(gdf: gpd.GeoDataFrame | gpd.GeoSeries, crs: object | None = None) -> CRS:
    """The metric CRS to measure ``gdf`` in: ``crs`` if given, else the data's own CRS when
    projected, else the UTM zone of its centroid.

    Raises
    ------
    CRSError
        When the data has no CRS (nothing is assumed silently).
    """
    if crs is not None:
        c = CRS.from_user_input(crs)
        if c.is_geographic:
            raise CRSError(f"{c.name} is geographic; pass a projected (metric) CRS")
        return c
    if gdf.crs is None:
        raise CRSError("the units have no CRS; set one (e.g. gdf.set_crs('EPSG:4326'))")
    if not gdf.crs.is_geographic:
        return CRS.from_user_input(gdf.crs)
    return CRS.from_user_input(gdf.estimate_utm_crs())


def graph_from_units(
    units: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    crs: object | None = None,
    main_streets: gpd.GeoDataFrame | gpd.GeoSeries | Sequence[shapely.Geometry] | None = None,
    street_buffer: float = 8.0,
    min_shared: float = 1.0,
    snap: float = 0.5,
) -> UnitGraph:
    """Build the rook adjacency graph of polygon units.

    Parameters
    ----------
    units
        Polygon units with a CRS.
    crs
        Metric CRS to measure in; default: the units' own when projected, else their UTM zone.
    main_streets
        Main street lines (any CRS when a GeoSeries/GeoDataFrame; else assumed in ``crs``).
        An edge's ``main_share`` is the fraction of its shared boundary within
        ``street_buffer`` metres of one of them.
    street_buffer
        Half-width in metres of the corridor that counts as "along a main street".
    min_shared
        Units sharing less boundary than this (metres) are not neighbours — corners touching
        at a point (queen contiguity) do not count.
    snap
        Tolerance in metres for boundaries digitised slightly apart (real-world data rarely
        shares vertices exactly).

    Returns
    -------
    UnitGraph
    """
    geo = units.geometry if isinstance(units, gpd.GeoDataFrame) else units
    mcrs = metric_crs(geo, crs)
    geoms = np.asarray(geo.to_crs(mcrs).values, dtype=object)
    if shapely.is_empty(geoms).any() or shapely.is_missing(geoms).any():
        raise ValidationError("some units have no geometry; drop or fix them first")
    # "structure" keeps the polygonal area of a self-touching ring; the default "linework"
    # can return a GeometryCollection whose boundary is undefined (NaN perimeter, no edges).
    geoms = shapely.make_valid(geoms, method="structure", keep_collapsed=False)
    n = len(geoms)
    bounds = shapely.boundary(geoms)
    tree = shapely.STRtree(geoms)
    left, right = tree.query(shapely.buffer(geoms, snap), predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    # Exact shared boundary first; fall back to a snapped overlap only where vertices differ.
    shared = shapely.length(shapely.intersection(bounds[left], bounds[right]))
    loose = shared < min_shared
    if loose.any():
        li, ri = left[loose], right[loose]
        approx = shapely.length(
            shapely.intersection(bounds[li], shapely.buffer(bounds[ri], snap, cap_style="flat"))
        )
        shared = shared.copy()
        shared[loose] = approx
    ok = shared >= min_shared
    edges = np.column_stack([left[ok], right[ok]]).astype(np.int64)
    shared = shared[ok]
    main_share = np.zeros(len(edges))
    if main_streets is not None and len(edges):
        ms = main_streets.geometry if isinstance(main_streets, gpd.GeoDataFrame) else main_streets
        if isinstance(ms, gpd.GeoSeries):
            if ms.crs is None:
                raise CRSError("main streets have no CRS")
            lines = np.asarray(ms.to_crs(mcrs).values, dtype=object)
        else:
            lines = np.asarray(list(ms), dtype=object)
        if len(lines):
            corridor = shapely.union_all(shapely.buffer(lines, street_buffer))
            shapely.prepare(corridor)
            seg = shapely.intersection(bounds[edges[:, 0]], bounds[edges[:, 1]])
            along = shapely.length(shapely.intersection(seg, corridor))
            main_share = np.clip(along / np.maximum(shared, 1e-9), 0.0, 1.0)
    return UnitGraph(
        n=n,
        edges=edges,
        shared_length=shared.astype(float),
        main_share=main_share.astype(float),
        area=shapely.area(geoms).astype(float),
        # A polygon's length is its perimeter; never NaN, unlike an undefined boundary.
        perimeter=np.nan_to_num(shapely.length(geoms).astype(float)),
        crs=mcrs,
    )


def bridge_components(graph: UnitGraph, centroids: np.ndarray) -> tuple[UnitGraph, list[str]]:
    """Join disconnected components by one edge each, between their nearest units.

    Used only when the caller asks for it (``islands="bridge"``): an island compound across a
    river is then attached to the closest unit on the mainland, and the report says so.
    """
    comp = graph.components()
    ncomp = int(comp.max()) + 1 if graph.n else 0
    notes: list[str] = []
    edges = [graph.edges]
    new: list[tuple[int, int]] = []
    if ncomp > 1:
        sizes = np.bincount(comp)
        main = int(np.argmax(sizes))
        joined = comp == main
        # Greedy: repeatedly attach the component nearest to the joined part.
        while not joined.all():
            inside = np.flatnonzero(joined)
            outside = np.flatnonzero(~joined)
            t = shapely.STRtree(np.asarray(shapely.points(centroids[inside]), dtype=object))
            idx, dist = t.query_nearest(shapely.points(centroids[outside]), return_distance=True)
            best = int(np.argmin(dist))
            u = int(outside[idx[0][best]])
            v = int(inside[idx[1][best]])
            new.append((min(u, v), max(u, v)))
            joined |= comp == comp[u]
            notes.append(
                f"component of {int((comp == comp[u]).sum())} unit(s) joined to the rest by a "
                f"bridge between units {u} and {v} ({dist[best]:.0f} m apart)"
            )
    if not new:
        return graph, notes
    add = np.asarray(new, dtype=np.int64)
    g = UnitGraph(
        n=graph.n,
        edges=np.vstack([*edges, add]),
        shared_length=np.concatenate([graph.shared_length, np.zeros(len(add))]),
        main_share=np.concatenate([graph.main_share, np.zeros(len(add))]),
        area=graph.area,
        perimeter=graph.perimeter,
        crs=graph.crs,
        bridges=np.arange(graph.m, graph.m + len(add), dtype=np.int64),
    )
    return g, notes


def attach_light_components(
    graph: UnitGraph,
    geoms: np.ndarray,
    weights: np.ndarray,
    threshold: float,
) -> tuple[UnitGraph, list[str]]:
    """Bridge every component lighter than ``threshold`` to its nearest unit elsewhere.

    Under ``islands="separate"`` each component must carry whole areas, but an empty sliver,
    park or lake-side block cut off by a street gap (weight 0, or less than one area's lower
    bound) can never be an area of its own: refusing the whole plan for it would be absurd, so
    it joins the component of the nearest unit (by polygon distance) through one bridge edge.
    The lightest component is attached first and weights are merged as components join, so a
    chain of small islands ends up attached to something heavy enough.

    Parameters
    ----------
    graph
        The unit graph.
    geoms
        Unit polygons in ``graph.crs`` (metric), aligned with the graph's positions.
    weights
        Unit weights.
    threshold
        Components weighing less than this are attached (the areas' lower bound).

    Returns
    -------
    tuple of UnitGraph and list of str
        The graph with the bridges added (``graph`` itself when nothing was light) and one
        note per bridge.
    """
    comp = graph.components()
    w = np.asarray(weights, dtype=float)
    notes: list[str] = []
    new: list[tuple[int, int]] = []
    while True:
        ncomp = int(comp.max()) + 1 if graph.n else 0
        if ncomp <= 1:
            break
        cw = np.bincount(comp, weights=w, minlength=ncomp)
        light = np.flatnonzero(cw < threshold)
        if len(light) == 0:
            break
        c = int(light[np.argmin(cw[light])])
        inside = np.flatnonzero(comp == c)
        outside = np.flatnonzero(comp != c)
        tree = shapely.STRtree(geoms[outside])
        idx, dist = tree.query_nearest(geoms[inside], return_distance=True, all_matches=False)
        best = int(np.argmin(dist))
        u, v = int(inside[idx[0][best]]), int(outside[idx[1][best]])
        new.append((min(u, v), max(u, v)))
        notes.append(
            f"component of {len(inside)} unit(s) weighing {cw[c]:g} is too light to be an area "
            f"of its own (< {threshold:.1f}); joined to its nearest neighbour by a bridge "
            f"between units {u} and {v} ({float(dist[best]):.0f} m apart)"
        )
        comp[comp == c] = comp[v]
        _, comp = np.unique(comp, return_inverse=True)
    if not new:
        return graph, notes
    add = np.asarray(new, dtype=np.int64)
    g = UnitGraph(
        n=graph.n,
        edges=np.vstack([graph.edges, add]),
        shared_length=np.concatenate([graph.shared_length, np.zeros(len(add))]),
        main_share=np.concatenate([graph.main_share, np.zeros(len(add))]),
        area=graph.area,
        perimeter=graph.perimeter,
        crs=graph.crs,
        bridges=np.concatenate(
            [graph.bridges, np.arange(graph.m, graph.m + len(add), dtype=np.int64)]
        ),
    )
    return g, notes
