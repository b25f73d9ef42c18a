"""The swept area of an emergency (应急): a circle around a point or a drawn polygon.

An area is given where the emergency is reported — a phone's GCJ-02 position, a polygon drawn
over a Baidu map, a GeoJSON file of a flood zone — and is turned here, once, into WGS-84 (the
storage CRS) plus the two things the sweep needs: a bounding box for the store's spatial index
(candidates) and an exact test (who is really inside). A circle's exact test is the distance in
the workspace's metric CRS (metres, :func:`gisgov.crs.working_crs_for`), not a polygon
approximating it, so a household 299.9 m from the centre of a 300 m circle is in and one at
300.1 m is out. A polygon's exact test covers its boundary (the boundary rule of
:mod:`gisgov.locate`: a point on the edge is inside).

The area is bounded (:data:`MAX_RADIUS_M`, :data:`MAX_AREA_KM2`): a sweep is a list of doors to
knock on within hours, not an export of the county (``gisgov export`` is that, and is audited
as one).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray
from shapely.geometry.base import BaseGeometry

from gisgov.crs import CRS_NAMES, normalise_crs_name, to_storage, transform_points
from gisgov.errors import CRSError, ValidationError

__all__ = ["MAX_AREA_KM2", "MAX_RADIUS_M", "SweepArea", "circle_area", "polygon_area",
           "read_polygon_file"]

#: Largest circle radius (metres) a sweep takes.
MAX_RADIUS_M = 10_000.0
#: Largest area (km²) a sweep takes: about a 10 km circle.
MAX_AREA_KM2 = 320.0
#: Segments per quarter circle of the drawn circle (only its outline and bbox use it: at 300 m
#: the chord error is 300·(1−cos(π/128)) ≈ 9 mm).
_QUAD_SEGS = 64
_BBOX_PAD_DEG = 1e-6


@dataclass(frozen=True)
class SweepArea:
    """An area to sweep, in WGS-84, with its exact membership test.

    Attributes
    ----------
    kind
        ``circle`` or ``polygon``.
    geometry
        The area in WGS-84 (a circle's outline drawn with :data:`_QUAD_SEGS` segments per
        quarter), for maps and the bbox.
    metric_crs
        The metric CRS distances and areas are computed in.
    label
        How the area is named on pages and in the audit log (Chinese).
    centre
        A circle's centre (lon, lat) in WGS-84, else ``None``.
    radius_m
        A circle's radius in metres, else ``None``.
    """

    kind: str
    geometry: BaseGeometry
    metric_crs: pyproj.CRS
    label: str
    centre: tuple[float, float] | None = None
    radius_m: float | None = None

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """Lon/lat bounds, padded by about 10 cm so a point on the outline is a candidate."""
        minx, miny, maxx, maxy = self.geometry.bounds
        return (minx - _BBOX_PAD_DEG, miny - _BBOX_PAD_DEG, maxx + _BBOX_PAD_DEG,
                maxy + _BBOX_PAD_DEG)

    def distances_m(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.float64]:
        """Metres from the circle's centre (a polygon: from its edge, 0 inside)."""
        x, y = self._metric(lon, lat)
        if self.centre is not None:
            cx, cy = self._metric([self.centre[0]], [self.centre[1]])
            return np.asarray(np.hypot(x - cx[0], y - cy[0]), dtype=np.float64)
        shape = _project(self.geometry, self.metric_crs)
        return np.asarray(shapely.distance(shape, shapely.points(x, y)), dtype=np.float64)

    def covers(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
        """Which points (WGS-84) lie in the area, boundary included."""
        lon_a = np.asarray(lon, dtype=np.float64)
        lat_a = np.asarray(lat, dtype=np.float64)
        if not len(lon_a):
            return np.zeros(0, dtype=bool)
        if self.radius_m is not None:
            return self.distances_m(lon_a, lat_a) <= self.radius_m
        shapely.prepare(self.geometry)
        return np.asarray(shapely.covers(self.geometry, shapely.points(lon_a, lat_a)),
                          dtype=bool)

    def to_dict(self) -> dict[str, Any]:
        """The area as JSON: kind, label, bbox, circle centre and radius, area in m²."""
        return {"kind": self.kind, "label": self.label, "bbox": list(self.bbox),
                "centre": list(self.centre) if self.centre else None,
                "radius_m": self.radius_m,
                "area_m2": round(float(_project(self.geometry, self.metric_crs).area), 1)}

    def _metric(self, lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64],
                                                                NDArray[np.float64]]:
        t = pyproj.Transformer.from_crs(4326, self.metric_crs, always_xy=True)
        x, y = t.transform(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
        return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def _project(geometry: BaseGeometry, crs: pyproj.CRS) -> BaseGeometry:
    t = pyproj.Transformer.from_crs(4326, crs, always_xy=True)
    return shapely.transform(geometry, lambda xy: np.column_stack(t.transform(xy[:, 0],
                                                                               xy[:, 1])))


def _crs_name(crs: str) -> str:
    name = normalise_crs_name(crs)
    if name not in CRS_NAMES:
        raise CRSError(f"--crs {crs!r}: a sweep takes one of {', '.join(CRS_NAMES)}")
    return name


def circle_area(lon: float, lat: float, radius_m: float, *, crs: str = "wgs84",
                metric_crs: pyproj.CRS) -> SweepArea:
    """A circle of ``radius_m`` metres around a position given in ``crs``.

    Parameters
    ----------
    lon, lat
        The centre, in ``crs`` (a phone's GCJ-02 position is converted here, at the edge).
    radius_m
        Radius in metres, 0 < r ≤ :data:`MAX_RADIUS_M`.
    crs
        ``wgs84``, ``cgcs2000``, ``gcj02`` or ``bd09``.
    metric_crs
        The workspace's metric CRS (``ws.working_crs``).

    Raises
    ------
    ValidationError
        A centre that is not a position or a radius out of range.

    Examples
    --------
    >>> import pyproj
    >>> a = circle_area(114.3, 30.6, 300, metric_crs=pyproj.CRS.from_epsg(32650))
    >>> a.covers([114.3, 114.3], [30.6027, 30.6028]).tolist()  # ≈ 299 m and 310 m north
    [True, False]
    """
    values = [float(lon), float(lat), float(radius_m)]
    if not all(math.isfinite(v) for v in values):
        raise ValidationError("circle: lon, lat and radius must be finite numbers")
    if not (-180 <= values[0] <= 180 and -90 <= values[1] <= 90):
        raise ValidationError(f"circle centre ({lon}, {lat}) is not a lon/lat position")
    if not 0 < values[2] <= MAX_RADIUS_M:
        raise ValidationError(f"circle radius {radius_m} m: give 0 < radius ≤ "
                              f"{MAX_RADIUS_M:,.0f} m")
    name = _crs_name(crs)
    x, y = transform_points([values[0]], [values[1]], source=name, target="wgs84")
    centre = (float(x[0]), float(y[0]))
    to_metric = pyproj.Transformer.from_crs(4326, metric_crs, always_xy=True)
    cx, cy = to_metric.transform(*centre)
    disc = shapely.Point(cx, cy).buffer(values[2], quad_segs=_QUAD_SEGS)
    back = pyproj.Transformer.from_crs(metric_crs, 4326, always_xy=True)
    outline = shapely.transform(disc, lambda xy: np.column_stack(back.transform(xy[:, 0],
                                                                              xy[:, 1])))
    label = f"以 {centre[0]:.6f}, {centre[1]:.6f} 为中心、半径 {values[2]:,.0f} 米的圆"
    return SweepArea("circle", outline, metric_crs, label, centre, values[2])


def polygon_area(polygons: gpd.GeoDataFrame | BaseGeometry, *, crs: str | None = None,
                 metric_crs: pyproj.CRS, label: str = "划定区域") -> SweepArea:
    """The union of polygons (a flood zone, a cordon) as a sweep area.

    Parameters
    ----------
    polygons
        A GeoDataFrame (its CRS, or ``crs`` for GCJ-02/BD-09 data labelled as WGS-84) or one
        shapely geometry in ``crs`` (WGS-84 when ``None``).
    crs
        What the coordinates really are (``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09``).
    metric_crs
        The workspace's metric CRS.
    label
        Name of the area on pages and in the audit log.

    Raises
    ------
    ValidationError
        No polygon, an invalid one that cannot be repaired, or an area over
        :data:`MAX_AREA_KM2`.
    """
    source: str | None
    if isinstance(polygons, BaseGeometry):
        frame = gpd.GeoDataFrame(geometry=[polygons], crs=4326)
        source = _crs_name(crs or "wgs84")
    else:
        frame = polygons
        source = _crs_name(crs) if crs is not None else None
        if source is None and frame.crs is None:
            source = "wgs84"
    stored = to_storage(frame, source_crs=source)
    geoms = np.asarray(stored.geometry.values, dtype=object)
    geoms = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    polys = [g for g in geoms if g.geom_type in ("Polygon", "MultiPolygon")]
    if not polys:
        raise ValidationError("the area has no polygon: draw a Polygon or MultiPolygon "
                              "(points and lines enclose nothing)")
    shape = shapely.union_all(shapely.make_valid(np.asarray(polys, dtype=object)))
    shape = shapely.union_all([g for g in getattr(shape, "geoms", [shape])
                               if g.geom_type in ("Polygon", "MultiPolygon")])
    if shape.is_empty or not shape.is_valid:
        raise ValidationError("the area's polygon is empty or cannot be repaired; redraw it")
    b = shape.bounds
    if not (b[0] >= -180 and b[2] <= 180 and b[1] >= -90 and b[3] <= 90):
        raise ValidationError("the area's coordinates are not lon/lat: projected data "
                              "labelled as WGS-84?")
    km2 = _project(shape, metric_crs).area / 1e6
    if km2 > MAX_AREA_KM2:
        raise ValidationError(f"the area is {km2:,.0f} km²; a sweep takes at most "
                              f"{MAX_AREA_KM2:,.0f} km² (split it, or export the layer)")
    return SweepArea("polygon", shape, metric_crs, label)


def read_polygon_file(path: str | os.PathLike[str], *, crs: str | None = None,
                      metric_crs: pyproj.CRS) -> SweepArea:
    """A polygon file (GeoJSON, GeoPackage, shapefile, KML …) as a sweep area.

    Raises
    ------
    ValidationError
        The file is missing or unreadable, or holds no usable polygon.
    """
    p = Path(path)
    if not p.is_file():
        raise ValidationError(f"polygon file {p} does not exist")
    try:
        frame = gpd.read_file(p)
    except Exception as exc:  # pyogrio raises its own DataSourceError and friends
        raise ValidationError(f"cannot read polygon file {p.name}: {exc}") from None
    return polygon_area(frame, crs=crs, metric_crs=metric_crs, label=f"区域 {p.name}")
