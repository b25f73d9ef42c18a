"""Which polygon holds a point: the one answer every part of gisgov uses.

A household, member or building on the edge two grids share must count in the *same* grid for
the lookup, the grid report, the staffing, the party branches, the assignment and the maps;
otherwise a household is served by one grid and counted by another. So the question has one
rule, written here and nowhere else:

**Boundary rule.** A point belongs to every polygon that *covers* it, interior or boundary
(for a point, ``covered_by`` and ``intersects`` are the same predicate; ``within`` is not
used because it excludes the boundary and would leave a point on a shared edge in no grid).
When several polygons cover it (a shared edge or vertex), the one with the **lowest code**
wins — or, when the polygons have no codes, the lowest row. A point no polygon covers is
outside (``-1``).

Two ways to ask, one rule:

- :func:`locate_xy` / :func:`locate_points` / :func:`rows_at` / :func:`codes_at` answer a
  batch once from an STRtree (the grid report, staffing, partition, maps).
- :class:`Locator` is built once and answers many queries from a raster of cells (the
  responsibility lookup, :class:`gisgov.lookup.LookupIndex`): most cells lie inside one
  polygon and answer by array lookup, the others test their short candidate list with the
  same ``intersects`` predicate and the same tie-break.

Examples
--------
>>> import shapely
>>> left, right = shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)
>>> row, touching = locate_xy([0.5, 1.0, 3.0], [0.5, 0.5, 0.5], [right, left],
...                           codes=["B", "A"])
>>> row.tolist(), touching.tolist()
([1, 1, -1], [1, 2, 0])
>>> Locator([right, left], codes=["B", "A"]).locate(1.0, 0.5)
[1, 0]
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

__all__ = ["Locator", "codes_at", "locate_points", "locate_xy", "rows_at"]

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


def _usable(polygons: ArrayLike) -> tuple[NDArray[np.object_], IntArray]:
    """The polygons as an object array and the rows that hold a non-empty geometry."""
    geoms = np.asarray(polygons, dtype=object).ravel()
    if not len(geoms):
        return geoms, np.empty(0, dtype=np.int64)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    return geoms, np.flatnonzero(ok).astype(np.int64)


def _ranks(n: int, codes: ArrayLike | None) -> IntArray:
    """Tie-break rank of every row: its position among the codes (lowest first), or the row."""
    if codes is None:
        return np.arange(n, dtype=np.int64)
    keys = np.asarray([str(c) for c in np.asarray(codes, dtype=object).ravel()], dtype=object)
    if len(keys) != n:
        raise ValueError(f"{n} polygons but {len(keys)} codes")
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(keys, kind="stable")] = np.arange(n, dtype=np.int64)
    return rank


def locate_xy(
    x: ArrayLike,
    y: ArrayLike,
    polygons: ArrayLike,
    *,
    codes: ArrayLike | None = None,
    points: ArrayLike | None = None,
) -> tuple[IntArray, IntArray]:
    """Row of the polygon holding each point under the boundary rule, and how many cover it.

    Parameters
    ----------
    x, y
        Point coordinates, in the polygons' CRS.
    polygons
        Polygon geometries (missing or empty ones hold nothing).
    codes
        Codes of the polygons for the tie-break (lowest code wins); ``None``: lowest row.
    points
        The Point geometries at ``(x, y)`` when the caller has them already (a layer's own
        points): queried as they are instead of being built again from the coordinates
        (building 200,000 points costs as much as locating them). Same answer.

    Returns
    -------
    row : ndarray of int64
        Row in ``polygons`` of the winning polygon, ``-1`` when none covers the point.
    touching : ndarray of int64
        Number of polygons covering the point (``> 1`` on a shared edge or vertex).
    """
    xs = np.asarray(x, dtype=np.float64).ravel()
    ys = np.asarray(y, dtype=np.float64).ravel()
    geoms, keep = _usable(polygons)
    rank = _ranks(len(geoms), codes)
    row = np.full(xs.size, -1, dtype=np.int64)
    touching = np.zeros(xs.size, dtype=np.int64)
    if not xs.size or not len(keep):
        return row, touching
    tree = shapely.STRtree(geoms[keep])
    pts = np.asarray(points if points is not None else shapely.points(xs, ys),
                     dtype=object).ravel()
    if len(pts) != xs.size:
        raise ValueError(f"{xs.size} coordinates but {len(pts)} points")
    pi, gi = tree.query(pts, predicate="intersects")
    gi = keep[gi]
    order = np.lexsort((rank[gi], pi))
    pi, gi = pi[order], gi[order]
    first = np.ones(len(pi), dtype=bool)
    first[1:] = pi[1:] != pi[:-1]
    row[pi[first]] = gi[first]
    np.add.at(touching, pi, 1)
    return row, touching


def locate_points(
    points: ArrayLike | gpd.GeoSeries,
    polygons: ArrayLike | gpd.GeoSeries,
    *,
    codes: ArrayLike | None = None,
) -> IntArray:
    """Row of the polygon holding each point (``-1``: outside), by the boundary rule.

    Non-point geometries are located by their representative point
    (:func:`shapely.point_on_surface`), which always lies inside them.

    Parameters
    ----------
    points
        Geometries to locate (missing ones are outside).
    polygons
        Polygon geometries, in the same CRS.
    codes
        Codes for the tie-break (see :func:`locate_xy`).

    Returns
    -------
    ndarray of int64
    """
    geoms = np.asarray(getattr(points, "values", points), dtype=object).ravel()
    out = np.full(len(geoms), -1, dtype=np.int64)
    if not len(geoms):
        return out
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    pts = geoms[ok]
    not_point = shapely.get_type_id(pts) != 0
    if not_point.any():
        pts = pts.copy()
        pts[not_point] = shapely.point_on_surface(pts[not_point])
    row, _ = locate_xy(shapely.get_x(pts), shapely.get_y(pts),
                       np.asarray(getattr(polygons, "values", polygons), dtype=object),
                       codes=codes, points=pts)
    out[ok] = row
    return out


def codes_at(points: ArrayLike | gpd.GeoSeries, areas: gpd.GeoDataFrame, *,
             column: str = "code") -> NDArray[np.object_]:
    """Code (``areas[column]``, as text) of the area holding each point; ``None`` outside.

    Parameters
    ----------
    points
        Geometries in the CRS of ``areas``.
    areas
        Areas with a ``column`` of codes, which is also the tie-break.
    column
        The code column.

    Returns
    -------
    ndarray of object
    """
    n = len(np.asarray(getattr(points, "values", points), dtype=object).ravel())
    out = np.full(n, None, dtype=object)
    if not len(areas) or not n:
        return out
    codes = areas[column].astype(str).to_numpy(dtype=object)
    row = rows_at(points, areas, column=column)
    out[row >= 0] = codes[row[row >= 0]]
    return out


def rows_at(points: ArrayLike | gpd.GeoSeries | gpd.GeoDataFrame, areas: gpd.GeoDataFrame,
            *, column: str = "code") -> IntArray:
    """Position in ``areas`` of the area holding each point (``-1``: outside).

    :func:`codes_at` for callers that index per-area arrays (counts per grid, the grid of a
    household before and after a scenario): the same rule, with ``areas[column]`` (as text)
    as the tie-break on a shared edge or vertex.

    Parameters
    ----------
    points
        Geometries (or a frame of them) in the CRS of ``areas``; non-points are located by
        their representative point.
    areas
        Areas with a ``column`` of codes.
    column
        The code column.

    Returns
    -------
    ndarray of int64
    """
    geoms = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
    codes = areas[column].astype(str).to_numpy(dtype=object)
    return locate_points(geoms, areas.geometry, codes=codes)


class Locator:
    """A point-in-polygon index built once, for many queries (the responsibility lookup).

    A regular raster over the polygons answers without shapely point objects: most cells lie
    inside one polygon and answer by array lookup; the others keep a short candidate list,
    sorted by tie-break rank, tested with one prepared ``intersects_xy`` call — the boundary
    rule of this module, so :meth:`locate_many` returns what :func:`locate_xy` returns.

    Cells are built from the STRtree (``query(boxes, predicate="intersects")``); a cell is
    "inside" a polygon only if its box, grown by a margin, touches that polygon alone and is
    covered by it, so rounding in ``floor((x - x0) / dx)`` can never hand a point near a cell
    edge to the wrong polygon, and a point on a shared edge always goes through the exact
    test (and finds every polygon it touches).

    Parameters
    ----------
    polygons
        Polygon geometries (missing or empty ones hold nothing).
    codes
        Codes for the tie-break (lowest wins); ``None``: lowest row.
    cells_per_geom, max_cells
        Raster resolution: cells per typical polygon, and a cap on the whole raster.
    """

    #: Margin of a cell's box, in degrees at the scale of longitudes (~0.1 mm); scaled up
    #: with the coordinates' magnitude so projected metres keep the same few-ulp safety.
    _EPS = 1e-9

    def __init__(self, polygons: ArrayLike, *, codes: ArrayLike | None = None,
                 cells_per_geom: float = 64.0, max_cells: int = 4_000_000) -> None:
        all_geoms, keep = _usable(polygons)
        rank = _ranks(len(all_geoms), codes)
        # internal order = tie-break order, so "first hit" is "lowest code"
        keep = keep[np.argsort(rank[keep], kind="stable")]
        self._rows: IntArray = keep
        geoms = all_geoms[keep]
        shapely.prepare(geoms)
        self.geoms: NDArray[np.object_] = geoms
        self.tree = shapely.STRtree(geoms)
        n = len(geoms)
        if n == 0:
            self.x0 = self.y0 = 0.0
            self.dx = self.dy = 1.0
            self.nx = self.ny = 0
            self.state: IntArray = np.empty(0, dtype=np.int64)
            self.ptr: IntArray = np.zeros(1, dtype=np.int64)
            self.idx: IntArray = np.empty(0, dtype=np.int64)
            return
        b = shapely.bounds(geoms)
        x0, y0 = float(b[:, 0].min()), float(b[:, 1].min())
        x1, y1 = float(b[:, 2].max()), float(b[:, 3].max())
        # Cell side: a fraction of the typical polygon, so most cells fall inside one.
        side = float(np.sqrt(np.median((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))
                             / cells_per_geom))
        side = max(side, 1e-7)
        ncell = ((x1 - x0) / side + 2) * ((y1 - y0) / side + 2)
        if ncell > max_cells:
            side *= float(np.sqrt(ncell / max_cells))
        self.dx = self.dy = side
        self.x0, self.y0 = x0 - side / 2, y0 - side / 2
        self.nx = int(np.ceil((x1 - self.x0) / side)) + 1
        self.ny = int(np.ceil((y1 - self.y0) / side)) + 1
        total = self.nx * self.ny
        state = np.full(total, -1, dtype=np.int64)
        counts = np.zeros(total, dtype=np.int64)
        pairs: list[IntArray] = []
        e = self._EPS * max(1.0, max(abs(x0), abs(x1), abs(y0), abs(y1)) / 180.0)
        # Rows of cells in chunks: a million shapely boxes at once would cost ~100 MB.
        rows_per_chunk = max(1, 250_000 // self.nx)
        for r0 in range(0, self.ny, rows_per_chunk):
            iy, ix = np.divmod(np.arange(r0 * self.nx,
                                         min(self.ny, r0 + rows_per_chunk) * self.nx), self.nx)
            cx0 = self.x0 + ix * side
            cy0 = self.y0 + iy * side
            boxes = shapely.box(cx0 - e, cy0 - e, cx0 + side + e, cy0 + side + e)
            ibox, igeom = self.tree.query(boxes, predicate="intersects")
            icell = ibox + r0 * self.nx
            n_here = np.bincount(ibox, minlength=len(boxes))
            counts[r0 * self.nx:r0 * self.nx + len(boxes)] = n_here
            one = n_here[ibox] == 1
            covered = shapely.covers(geoms[igeom[one]], boxes[ibox[one]])
            state[icell[one][covered]] = igeom[one][covered]
            pairs.append(np.stack([icell, igeom]))
        both = np.concatenate(pairs, axis=1) if pairs else np.empty((2, 0), dtype=np.int64)
        order = np.lexsort((both[1], both[0]))
        state[(state == -1) & (counts > 0)] = -2
        self.state = state
        self.ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.idx = both[1][order].astype(np.int64)

    def __len__(self) -> int:
        return len(self.geoms)

    @property
    def inside_share(self) -> float:
        """Share of cells answered without a geometry test."""
        return float((self.state >= 0).mean()) if len(self.state) else 0.0

    def locate(self, x: float, y: float) -> list[int]:
        """Rows of every polygon covering the point, the winner (lowest code) first."""
        fx = (x - self.x0) / self.dx
        fy = (y - self.y0) / self.dy
        if not (0.0 <= fx < self.nx and 0.0 <= fy < self.ny):
            return []
        cell = int(fy) * self.nx + int(fx)
        st = int(self.state[cell])
        if st >= 0:
            return [int(self._rows[st])]
        if st == -1:
            return []
        cands = self.idx[self.ptr[cell]:self.ptr[cell + 1]]
        hit = cands[shapely.intersects_xy(self.geoms[cands], x, y)]
        return [int(i) for i in self._rows[hit]]

    def locate_many(self, x: ArrayLike, y: ArrayLike) -> tuple[IntArray, IntArray]:
        """``(row of the winner or -1, number of polygons covering)`` for every point.

        The same answer as :func:`locate_xy` over the same polygons and codes.
        """
        xs = np.asarray(x, dtype=np.float64).ravel()
        ys = np.asarray(y, dtype=np.float64).ravel()
        n = xs.size
        best = np.full(n, -1, dtype=np.int64)
        touching = np.zeros(n, dtype=np.int64)
        if n == 0 or self.nx == 0:
            return best, touching
        fx = np.floor((xs - self.x0) / self.dx)
        fy = np.floor((ys - self.y0) / self.dy)
        valid = (fx >= 0) & (fx < self.nx) & (fy >= 0) & (fy < self.ny)
        cell = np.where(valid, fy * self.nx + fx, 0).astype(np.int64)
        st = np.where(valid, self.state[cell], -1)
        inside = st >= 0
        best[inside] = st[inside]
        touching[inside] = 1
        mixed = np.flatnonzero(st == -2)
        if len(mixed):
            c = cell[mixed]
            starts = self.ptr[c]
            lens = self.ptr[c + 1] - starts
            rep = np.repeat(mixed, lens)
            # Positions of every candidate of every mixed point in the CSR index array.
            pos = np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens) \
                + np.repeat(starts, lens)
            cand = self.idx[pos]
            ok = shapely.intersects_xy(self.geoms[cand], xs[rep], ys[rep])
            rep, cand = rep[ok], cand[ok]
            # Candidates of a cell are sorted by rank, so the first hit per point wins.
            first = np.ones(len(rep), dtype=bool)
            first[1:] = rep[1:] != rep[:-1]
            best[rep[first]] = cand[first]
            touching += np.bincount(rep, minlength=n)
        found = best >= 0
        best[found] = self._rows[best[found]]
        return best, touching
