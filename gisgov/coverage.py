"""Layers of areas that tile (communities, grids) as they are stored: no overlaps, shared edges.

Grids are drawn in a metric CRS and stored in WGS-84 (:data:`gisgov.layers.STORAGE_CRS`).
Drawn areas that tile in metres need not tile once stored: reprojection and the repairs after
it move each polygon on its own, and layers assembled from several runs (kept communities next
to redrawn ones) only meet where their edges were drawn. In the stored coordinates two
neighbours could then overlap by square metres — and a household in the overlap would belong
to two grids. :func:`snap_coverage` rebuilds such a layer as one coverage just before it is
written: every edge of every area is noded together by snap rounding onto the storage
precision grid (:data:`STORAGE_GRID_DEG`), the faces are polygonised, and each face goes to
the area that holds it by the boundary rule of :mod:`gisgov.locate` (in an overlap, the lowest
code). Neighbours then share the very same vertices, so they cannot overlap, in the stored
coordinates or after any reprojection.

Examples
--------
>>> import shapely
>>> a, b = shapely.box(0, 0, 1.001, 1), shapely.box(1, 0, 2, 1)   # a overlaps b
>>> out = snap_coverage([a, b], codes=["A", "B"], grid_size=1e-6)
>>> round(float(shapely.area(shapely.intersection(out[0], out[1]))), 12)
0.0
>>> round(float(out[0].area), 6), round(float(out[1].area), 6)
(1.001, 0.999)
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from gisgov.blocks import polygonal
from gisgov.locate import locate_points

__all__ = ["STORAGE_GRID_DEG", "overlaps", "snap_coverage", "snap_layer"]

#: Precision grid of stored coordinates, in degrees (~0.1 mm): coarse enough that noding is
#: robust (float64 at longitude 180 resolves 3e-14°), fine enough that no area, household
#: count or tiling test notices the move (a community of 5 km perimeter changes by < 0.3 m²).
STORAGE_GRID_DEG = 1e-9


def snap_coverage(
    geoms: ArrayLike,
    *,
    codes: ArrayLike | None = None,
    grid_size: float = STORAGE_GRID_DEG,
) -> NDArray[np.object_]:
    """The areas rebuilt as one coverage on a precision grid: no overlaps, shared edges.

    Parameters
    ----------
    geoms
        Polygons of one layer in the storage CRS (missing or empty ones are kept as they are).
    codes
        Their codes: an overlap goes to the lowest (:mod:`gisgov.locate`); ``None``: lowest row.
    grid_size
        Precision grid, in the geometries' units.

    Returns
    -------
    ndarray of object
        One geometry per input row, every vertex on the grid. Gaps between areas stay gaps;
        an area that keeps no face of its own (smaller than the grid) is only snapped.
    """
    out = np.asarray(geoms, dtype=object).ravel().copy()
    usable = np.flatnonzero(~(shapely.is_missing(out) | shapely.is_empty(out))) \
        if len(out) else np.empty(0, dtype=np.int64)
    if not len(usable):
        return out
    lines = shapely.union_all(shapely.boundary(out[usable]), grid_size=grid_size)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(lines)))
    owner = locate_points(faces, out, codes=codes)
    lost = np.flatnonzero(owner < 0)
    if len(lost):
        # a face thinner than the grid may have its representative point just outside every
        # original area: it goes to the area covering most of it, if one covers half
        fi, gi = shapely.STRtree(out[usable]).query(faces[lost], predicate="intersects")
        shared = shapely.area(shapely.intersection(faces[lost[fi]], out[usable[gi]]))
        for f, g, area in zip(lost[fi], usable[gi], shared, strict=True):
            if area > 0.5 * shapely.area(faces[f]) and owner[f] < 0:
                owner[f] = g
    for r in usable:
        mine = faces[owner == r]
        out[r] = (polygonal(shapely.coverage_union_all(mine)) if len(mine)
                  else shapely.set_precision(out[r], grid_size))
    return out


def snap_layer(gdf: gpd.GeoDataFrame, *, code: str = "code") -> gpd.GeoDataFrame:
    """A copy of an area layer in the storage CRS rebuilt by :func:`snap_coverage`.

    Overlaps go to the lowest value of the ``code`` column; rows and columns stay as they are.
    """
    snapped = snap_coverage(gdf.geometry.values, codes=gdf[code].astype(str).to_numpy())
    return gdf.set_geometry(gpd.GeoSeries(snapped, index=gdf.index, crs=gdf.crs))


def overlaps(geoms: ArrayLike, *, above: float = 0.0
             ) -> list[tuple[int, int, float]]:
    """Pairs ``(i, j, area)``, ``i < j``, of areas overlapping by more than ``above``.

    In the geometries' units (pass them in metres for m²); what ``gisgov check`` reports for
    grids and communities.
    """
    g = np.asarray(geoms, dtype=object).ravel()
    a, b = shapely.STRtree(g).query(g, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    areas = shapely.area(shapely.intersection(g[a], g[b]))
    return [(int(i), int(j), float(x)) for i, j, x in zip(a, b, areas, strict=True) if x > above]
