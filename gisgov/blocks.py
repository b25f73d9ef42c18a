"""Street blocks (街区): the faces of the street network, the atoms of districting.

A block is an area enclosed by streets. Communities and grids follow streets, so blocks (and
the compounds inside them) are the units the districting engine (:mod:`gisgov.districting`)
assembles. This is the one place blocks are made: community units
(:func:`gisgov.districting.units.units_from_workspace`), grid units
(:func:`gisgov.grids.community_units`) and onboarding (:mod:`gisgov.onboard`) all use it. Faces come from ``shapely.polygonize`` over the noded street lines; slivers smaller
than ``min_area_m2`` (traffic islands, the space between a slip road and its junction) are
merged into the neighbour they share the longest edge with, so no unit is too small to matter.

Examples
--------
>>> import geopandas as gpd, shapely
>>> lines = [shapely.LineString([(0, y), (200, y)]) for y in (0, 100, 200)]
>>> lines += [shapely.LineString([(x, 0), (x, 200)]) for x in (0, 200)]
>>> streets = gpd.GeoDataFrame({"class": ["minor"] * 5}, geometry=lines, crs="EPSG:32650")
>>> blocks = blocks_from_streets(streets, crs="EPSG:32650")
>>> len(blocks), blocks["area_m2"].round().tolist()
(2, [20000.0, 20000.0])
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from numpy.typing import NDArray

from gisgov.errors import CRSError, ValidationError

__all__ = ["BLOCK_CLASSES", "COVERAGE_GRID_M", "as_coverage", "blocks_from_streets",
           "merge_small_faces", "polygonal"]

#: Street classes that bound blocks; footways cross blocks without cutting them.
BLOCK_CLASSES: tuple[str, ...] = ("main", "secondary", "minor")
# Precision grid (metres) of the noding: far below any street's width, far above float noise.
_GRID_M = 0.01
#: Snap-rounding grid (metres) of :func:`as_coverage`: closes hairline gaps between overlays.
COVERAGE_GRID_M = 0.05


def blocks_from_streets(
    streets: gpd.GeoDataFrame,
    *,
    crs: pyproj.CRS | str | int,
    classes: Sequence[str] = BLOCK_CLASSES,
    extent: shapely.Geometry | None = None,
    min_area_m2: float = 2_000.0,
) -> gpd.GeoDataFrame:
    """Polygonise a street network into blocks.

    Parameters
    ----------
    streets
        Streets layer with a CRS and a ``class`` column (all rows are used without one).
    crs
        Projected (metric) CRS to work in, normally ``workspace.working_crs``.
    classes
        Street classes that bound blocks.
    extent
        Optional area in ``streets``' CRS (e.g. the data's outline or a community) whose
        boundary closes the faces at the edge of the data, so land between the last street and
        the edge of an extract still belongs to a block; faces are clipped to it.
    min_area_m2
        Faces smaller than this are merged into their longest-bordering neighbour.

    Returns
    -------
    geopandas.GeoDataFrame
        ``id`` (``B0001``… in reading order, north→south then west→east), ``area_m2`` and
        Polygon geometry, in ``streets``' CRS, with a fresh index.

    Raises
    ------
    CRSError
        If ``streets`` has no CRS or ``crs`` is not projected.
    ValidationError
        If ``min_area_m2`` is negative.
    """
    if streets.crs is None:
        raise CRSError("the streets have no coordinate system; set one first")
    target = pyproj.CRS.from_user_input(crs)
    if not target.is_projected:
        raise CRSError(f"blocks need a metric CRS, got {target.to_string()}; pass the working CRS")
    if min_area_m2 < 0:
        raise ValidationError("min_area_m2 must be >= 0 square metres")
    sel = streets if "class" not in streets.columns else streets[streets["class"].isin(classes)]
    lines = np.asarray(sel.geometry.to_crs(target).values, dtype=object)
    lines = lines[~(shapely.is_missing(lines) | shapely.is_empty(lines))]
    outline = None
    if extent is not None:
        outline = gpd.GeoSeries([extent], crs=streets.crs).to_crs(target).iloc[0]
        lines = np.append(lines, shapely.boundary(outline))
    parts = shapely.get_parts(lines)
    # Empty lines crash GEOS' noder: drop them first.
    parts = parts[np.isin(shapely.get_type_id(parts), (1, 2)) & ~shapely.is_empty(parts)]
    if len(parts) == 0:
        return _frame([], streets.crs, target)
    # A union on a 1 cm grid nodes the lines and dissolves duplicates (a street drawn along the
    # extent's edge), so float noise cannot leave sliver faces or gaps between blocks.
    noded = shapely.union_all(parts, grid_size=_GRID_M)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    if outline is not None and len(faces):
        # Faces outside the outline (streets closing a loop beyond it) are not the data's.
        inside = shapely.covered_by(shapely.point_on_surface(faces), outline)
        faces = faces[inside]
    faces = merge_small_faces(np.asarray(faces, dtype=object), min_area_m2=min_area_m2)
    return _frame(list(faces), streets.crs, target)


def merge_small_faces(
    faces: NDArray[np.object_], *, min_area_m2: float
) -> NDArray[np.object_]:
    """Merge each face below ``min_area_m2`` into the neighbour it shares the longest edge with.

    Parameters
    ----------
    faces
        Polygons forming a coverage (no overlaps), in metres.
    min_area_m2
        Area threshold.

    Returns
    -------
    numpy.ndarray of Polygon
        The merged faces; a small face with no neighbour stays as it is.
    """
    n = len(faces)
    if n == 0 or min_area_m2 <= 0:
        return faces
    area = shapely.area(faces)
    group = np.arange(n)

    def root(i: int) -> int:
        while group[i] != i:
            group[i] = group[group[i]]
            i = int(group[i])
        return i

    tree = shapely.STRtree(faces)
    for i in np.argsort(area, kind="stable").tolist():
        if area[i] >= min_area_m2:
            break
        nbrs = [int(j) for j in tree.query(faces[i], predicate="touches") if j != i]
        if not nbrs:
            continue
        shared = shapely.length(shapely.intersection(
            shapely.boundary(faces[i]), shapely.boundary(faces[nbrs])
        ))
        best = nbrs[int(np.argmax(shared))]
        if shared.max() <= 0:
            continue
        group[root(i)] = root(best)
    roots = np.array([root(i) for i in range(n)])
    merged = []
    for r in np.unique(roots):
        members = faces[roots == r]
        merged.append(members[0] if len(members) == 1 else shapely.coverage_union_all(members))
    out = np.empty(len(merged), dtype=object)
    out[:] = merged
    return out


def _frame(
    faces: list[shapely.Geometry], crs: object, metric: pyproj.CRS
) -> gpd.GeoDataFrame:
    polys: list[shapely.Geometry] = []
    for f in faces:
        parts = shapely.get_parts(f)
        # A union of faces touching at a corner only is a MultiPolygon; keep it as one block.
        polys.append(parts[0] if len(parts) == 1 else f)
    geoms = gpd.GeoSeries(polys, crs=metric)
    if len(geoms):
        rep = geoms.representative_point()
        order = np.lexsort((rep.x.to_numpy(), -rep.y.to_numpy()))
        geoms = geoms.iloc[order].reset_index(drop=True)
    out = gpd.GeoDataFrame(
        {"id": [f"B{i + 1:04d}" for i in range(len(geoms))],
         "area_m2": geoms.area.to_numpy(dtype=float)},
        geometry=geoms, crs=metric,
    )
    return out.to_crs(crs)


def as_coverage(units: gpd.GeoDataFrame, region: shapely.Geometry, *,
                grid_size: float = COVERAGE_GRID_M) -> gpd.GeoDataFrame:
    """The same units rebuilt as an exact coverage of ``region`` (same CRS, in metres).

    Units come from several overlays (street blocks, compound walls, Voronoi cells of
    buildings) of layers reprojected separately, so neighbouring units' edges lie a hair
    apart rather than on one line. All unit boundaries and the region's are noded
    together with snap rounding (``grid_size``), so nearly coincident edges become one,
    and polygonised into faces; each face goes to the unit covering most of it, and the
    hairline slivers that belong to no unit go to the neighbouring face they share most edge
    with. Units then share identical edges: their graph is exact and unions are clean.
    A unit that comes out in pieces keeps each piece as a row of its own (same attributes);
    callers count what the pieces hold again.
    """
    geoms = np.asarray(units.geometry.values)
    lines = shapely.union_all(np.concatenate([shapely.boundary(geoms),
                                              [shapely.boundary(region)]]),
                              grid_size=grid_size)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(lines)))
    faces = faces[shapely.contains(region, shapely.point_on_surface(faces))]
    owner = np.full(len(faces), -1)
    face_idx, unit_idx = shapely.STRtree(geoms).query(faces, predicate="intersects")
    overlap = shapely.area(shapely.intersection(faces[face_idx], geoms[unit_idx]))
    best = np.zeros(len(faces))
    for f, u, a in zip(face_idx, unit_idx, overlap, strict=True):
        if a > best[f]:
            best[f], owner[f] = a, u
    owner[best < 0.5 * shapely.area(faces)] = -1
    face_tree = shapely.STRtree(faces)
    rings = shapely.boundary(faces)
    todo = list(np.flatnonzero(owner < 0))
    while todo:
        left = []
        for f in todo:
            nbrs = face_tree.query(faces[f], predicate="intersects")
            nbrs = nbrs[(nbrs != f) & (owner[nbrs] >= 0)]
            if not len(nbrs):
                left.append(f)
                continue
            shared = shapely.length(shapely.intersection(rings[f], rings[nbrs]))
            owner[f] = owner[nbrs[int(np.argmax(shared))]]
        if len(left) == len(todo):
            break  # faces touching no owned face: none in a connected community
        todo = left
    rebuilt = [shapely.coverage_union_all(faces[owner == u]) for u in range(len(units))]
    out = units.copy()
    out["geometry"] = [polygonal(g) if not shapely.is_empty(g) else None for g in rebuilt]
    out = out[out.geometry.notna()]
    # a unit that came out in pieces keeps each piece as its own unit (households by place)
    out = out.explode(index_parts=False, ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=units.crs)


def polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """A valid Polygon or MultiPolygon covering the same ground as ``geom``."""
    if shapely.is_valid(geom) and shapely.get_type_id(geom) in (3, 6):
        return geom
    parts = [p for p in shapely.get_parts(shapely.make_valid(geom))
             if shapely.get_type_id(p) in (3, 6)]
    return shapely.union_all(parts)
