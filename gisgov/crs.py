"""Coordinate systems used in China: WGS-84, CGCS2000, GCJ-02, BD-09, and the working metric CRS.

Storage is EPSG:4326 (WGS-84). CGCS2000 (EPSG:4490) agrees with WGS-84 to a few centimetres,
so it is relabelled, never transformed. GCJ-02 (Gaode/AMap, Tencent, WeChat) and BD-09 (Baidu)
are deliberate obfuscations that pyproj cannot represent; they exist only at the edges (phone
input, output over Gaode tiles) and are converted here with the standard public algorithm.

Examples
--------
>>> import numpy as np
>>> lon, lat = wgs84_to_gcj02(np.array([116.404]), np.array([39.915]))
>>> round(float(lon[0]), 6), round(float(lat[0]), 6)
(116.410244, 39.916404)
>>> normalise_crs_name("EPSG:4490")
'cgcs2000'
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray

from gisgov.errors import CRSError

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "CRS_NAMES",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "from_storage",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "navigation_point",
    "normalise_crs_name",
    "to_metric",
    "to_storage",
    "transform_points",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
    "working_crs_for",
]

FloatArray = NDArray[np.float64]

#: The four coordinate systems gisgov names; other CRSs are written ``EPSG:nnnn``.
CRS_NAMES = ("wgs84", "cgcs2000", "gcj02", "bd09")

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 algorithm.
_A = 6378245.0
_EE = 0.00669342162296594323
# The rough box inside which GCJ-02 applies its offset; outside it the algorithm is the identity.
_CHINA_LON = (72.004, 137.8347)
_CHINA_LAT = (0.8293, 55.8271)
# BD-09 constant (x_pi = pi * 3000 / 180) and its fixed false offset.
_X_PI = np.pi * 3000.0 / 180.0
_BD_DLON = 0.0065
_BD_DLAT = 0.006
# Fixed-point iteration for the inverses: the offset's Jacobian is near the identity, so each
# step shrinks the error by ~1e-3; 1e-10 degrees is ~0.01 mm and is reached in 3-5 steps.
_TOL_DEG = 1e-10
_MAX_ITER = 30

_ALIASES: dict[str, str] = {
    "wgs84": "wgs84", "wgs-84": "wgs84", "wgs 84": "wgs84", "wgs_84": "wgs84", "gps": "wgs84",
    "epsg:4326": "wgs84", "4326": "wgs84", "crs84": "wgs84", "ogc:crs84": "wgs84",
    "cgcs2000": "cgcs2000", "cgcs-2000": "cgcs2000", "cgcs 2000": "cgcs2000",
    "epsg:4490": "cgcs2000", "4490": "cgcs2000",
    "gcj02": "gcj02", "gcj-02": "gcj02", "gcj": "gcj02", "gcj_02": "gcj02",
    "bd09": "bd09", "bd-09": "bd09", "bd09ll": "bd09", "bd_09": "bd09", "baidu": "bd09",
}


def _arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    lon_a, lat_a = np.broadcast_arrays(
        np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    )
    return lon_a, lat_a


class _Scalar:
    """``math`` under the numpy names the formulas use, so one formula serves arrays and points."""

    pi = math.pi
    sin = staticmethod(math.sin)
    cos = staticmethod(math.cos)
    sqrt = staticmethod(math.sqrt)
    abs = staticmethod(abs)
    hypot = staticmethod(math.hypot)
    arctan2 = staticmethod(math.atan2)

    @staticmethod
    def where(condition: bool, a: float, b: float) -> float:
        return a if condition else b


def _in_china(lon: Any, lat: Any) -> Any:
    return (
        (lon >= _CHINA_LON[0]) & (lon <= _CHINA_LON[1])
        & (lat >= _CHINA_LAT[0]) & (lat <= _CHINA_LAT[1])
    )


def _gcj_offset(lon: Any, lat: Any, xp: Any = np) -> tuple[Any, Any]:
    """Return the GCJ-02 offset (dlon, dlat) in degrees at WGS-84 (lon, lat); 0 outside China.

    ``xp``: numpy for arrays, :class:`_Scalar` for one point (the same formula, 60× faster
    than numpy on a one-element array, which a single lookup would otherwise pay)."""
    x = lon - 105.0
    y = lat - 35.0
    shared = (20.0 * xp.sin(6.0 * x * xp.pi) + 20.0 * xp.sin(2.0 * x * xp.pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * xp.sqrt(xp.abs(x))
    dlat += shared
    dlat += (20.0 * xp.sin(y * xp.pi) + 40.0 * xp.sin(y / 3.0 * xp.pi)) * 2.0 / 3.0
    dlat += (160.0 * xp.sin(y / 12.0 * xp.pi) + 320.0 * xp.sin(y * xp.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * xp.sqrt(xp.abs(x))
    dlon += shared
    dlon += (20.0 * xp.sin(x * xp.pi) + 40.0 * xp.sin(x / 3.0 * xp.pi)) * 2.0 / 3.0
    dlon += (150.0 * xp.sin(x / 12.0 * xp.pi) + 300.0 * xp.sin(x / 30.0 * xp.pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * xp.pi
    magic = 1.0 - _EE * xp.sin(rad_lat) ** 2
    sqrt_magic = xp.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * xp.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * xp.cos(rad_lat) * xp.pi)
    inside = _in_china(lon, lat)
    return xp.where(inside, dlon, 0.0), xp.where(inside, dlat, 0.0)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert WGS-84 to GCJ-02 (the standard public algorithm).

    Points outside the rough China box (lon 72.004–137.8347, lat 0.8293–55.8271) are returned
    unchanged, as the algorithm defines.

    Parameters
    ----------
    lon, lat
        Longitudes and latitudes in degrees (scalars or arrays of the same shape).

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 ``(lon, lat)`` with the broadcast shape of the inputs.
    """
    lon_a, lat_a = _arrays(lon, lat)
    dlon, dlat = _gcj_offset(lon_a, lat_a)
    return lon_a + dlon, lat_a + dlat


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert GCJ-02 to WGS-84 by fixed-point iteration of :func:`wgs84_to_gcj02`.

    The single-step inverse found in many libraries is off by up to a few metres; iterating
    until the forward transform reproduces the input brings the error below a millimetre.

    Parameters
    ----------
    lon, lat
        GCJ-02 longitudes and latitudes in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        WGS-84 ``(lon, lat)``.
    """
    lon_a, lat_a = _arrays(lon, lat)
    return _invert(wgs84_to_gcj02, lon_a, lat_a)


def _invert(
    forward: Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]],
    lon: FloatArray,
    lat: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Solve ``forward(x) == (lon, lat)`` for x by fixed-point iteration, starting at the target."""
    x_lon, x_lat = lon.copy(), lat.copy()
    for _ in range(_MAX_ITER):
        f_lon, f_lat = forward(x_lon, x_lat)
        e_lon, e_lat = lon - f_lon, lat - f_lat
        x_lon = x_lon + e_lon
        x_lat = x_lat + e_lat
        err = np.nanmax(np.abs(np.concatenate([e_lon.ravel(), e_lat.ravel(), [0.0]])))
        if err < _TOL_DEG:
            break
    return x_lon, x_lat


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert GCJ-02 to BD-09 (Baidu), the prcoords/coordtransform formula.

    Uses ``x_pi = pi * 3000 / 180`` and the fixed 0.0065/0.006 offsets (eviltransform's
    variant gets these parameters wrong). Baidu applies it everywhere, so there is no China box.

    Parameters
    ----------
    lon, lat
        GCJ-02 longitudes and latitudes in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        BD-09 ``(lon, lat)``.
    """
    x, y = _arrays(lon, lat)
    return _bd09(x, y, np)


def _bd09(x: Any, y: Any, xp: Any) -> tuple[Any, Any]:
    r = xp.hypot(x, y) + 0.00002 * xp.sin(y * _X_PI)
    theta = xp.arctan2(y, x) + 0.000003 * xp.cos(x * _X_PI)
    return r * xp.cos(theta) + _BD_DLON, r * xp.sin(theta) + _BD_DLAT


def navigation_point(lon: float, lat: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """One WGS-84 point in GCJ-02 (Gaode, Tencent) and BD-09 (Baidu), for navigation links.

    The same formulas as :func:`wgs84_to_gcj02` and :func:`gcj02_to_bd09` on plain floats:
    a lookup converts one point per request, where numpy's per-call overhead would cost more
    than the whole spatial query.

    Examples
    --------
    >>> (g, b) = navigation_point(114.2, 34.4)
    >>> bool(np.allclose(g, [v[0] for v in wgs84_to_gcj02([114.2], [34.4])]))
    True
    """
    dlon, dlat = _gcj_offset(float(lon), float(lat), _Scalar)
    gx, gy = lon + dlon, lat + dlat
    bx, by = _bd09(gx, gy, _Scalar)
    return (gx, gy), (bx, by)


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert BD-09 to GCJ-02.

    Starts from the published closed-form inverse and refines it by iteration, so that
    :func:`gcj02_to_bd09` of the result reproduces the input to ~1e-10 degrees.

    Parameters
    ----------
    lon, lat
        BD-09 longitudes and latitudes in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 ``(lon, lat)``.
    """
    bd_lon, bd_lat = _arrays(lon, lat)
    x = bd_lon - _BD_DLON
    y = bd_lat - _BD_DLAT
    r = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    g_lon, g_lat = r * np.cos(theta), r * np.sin(theta)
    for _ in range(_MAX_ITER):
        f_lon, f_lat = gcj02_to_bd09(g_lon, g_lat)
        e_lon, e_lat = bd_lon - f_lon, bd_lat - f_lat
        g_lon, g_lat = g_lon + e_lon, g_lat + e_lat
        err = np.nanmax(np.abs(np.concatenate([e_lon.ravel(), e_lat.ravel(), [0.0]])))
        if err < _TOL_DEG:
            break
    return g_lon, g_lat


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert WGS-84 to BD-09 (through GCJ-02).

    Parameters
    ----------
    lon, lat
        WGS-84 longitudes and latitudes in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        BD-09 ``(lon, lat)``.
    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert BD-09 to WGS-84 (through GCJ-02).

    Parameters
    ----------
    lon, lat
        BD-09 longitudes and latitudes in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        WGS-84 ``(lon, lat)``.
    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def normalise_crs_name(name: str | int | pyproj.CRS) -> str:
    """Return the canonical name of a coordinate system.

    Parameters
    ----------
    name
        ``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09`` (case-insensitive, with common spellings
        such as ``GCJ-02``), ``EPSG:4326``, ``4490``, or anything else pyproj understands.

    Returns
    -------
    str
        One of ``"wgs84"``, ``"cgcs2000"``, ``"gcj02"``, ``"bd09"``, or ``"EPSG:nnnn"`` (or
        the CRS's own ``AUTH:CODE``/definition when it has no EPSG code).

    Raises
    ------
    CRSError
        If the name is not a known coordinate system.

    Examples
    --------
    >>> normalise_crs_name("GCJ-02"), normalise_crs_name(4326), normalise_crs_name("epsg:3857")
    ('gcj02', 'wgs84', 'EPSG:3857')
    """
    if isinstance(name, pyproj.CRS):
        crs = name
    else:
        text = str(name).strip()
        key = text.lower()
        if key in _ALIASES:
            return _ALIASES[key]
        try:
            crs = pyproj.CRS.from_user_input(int(text) if text.isdigit() else text)
        except (pyproj.exceptions.CRSError, TypeError, ValueError):
            raise CRSError(
                f"unknown coordinate system {text!r}; choose one of "
                f"{', '.join(CRS_NAMES)} or an EPSG code such as EPSG:4547"
            ) from None
    epsg = crs.to_epsg()
    if epsg == 4326 or crs.to_authority() == ("OGC", "CRS84"):
        return "wgs84"
    if epsg == 4490:
        return "cgcs2000"
    if epsg is not None:
        return f"EPSG:{epsg}"
    auth = crs.to_authority()
    return f"{auth[0]}:{auth[1]}" if auth else crs.to_string()


def _pyproj_crs(name: str) -> pyproj.CRS:
    """The pyproj CRS for a canonical name (GCJ-02/BD-09 have none)."""
    if name == "wgs84":
        return pyproj.CRS.from_epsg(4326)
    if name == "cgcs2000":
        return pyproj.CRS.from_epsg(4490)
    if name in ("gcj02", "bd09"):
        raise CRSError(f"{name} has no pyproj definition; convert it with gisgov.crs")
    return pyproj.CRS.from_user_input(name)


_TO_WGS84: dict[str, Callable[[ArrayLike, ArrayLike], tuple[FloatArray, FloatArray]]] = {
    "gcj02": gcj02_to_wgs84,
    "bd09": bd09_to_wgs84,
}
_FROM_WGS84: dict[str, Callable[[ArrayLike, ArrayLike], tuple[FloatArray, FloatArray]]] = {
    "gcj02": wgs84_to_gcj02,
    "bd09": wgs84_to_bd09,
}


def _check_inverse(
    x_in: FloatArray, y_in: FloatArray, x: FloatArray, y: FloatArray, *, source: str
) -> tuple[FloatArray, FloatArray]:
    """Refuse positions the GCJ-02/BD-09 inverse moves off the globe.

    BD-09 adds a fixed 0.006° to the latitude, so a BD-09 latitude within that of a pole has
    no GCJ-02 or WGS-84 position (the inverse gives e.g. -90.006°); the same holds for the
    iterated GCJ-02 inverse. Such a result would otherwise travel on as a latitude past the
    pole (and a NaN distance), so it is a clear error here.

    Raises
    ------
    CRSError
        Naming the first such position.
    """
    bad = np.isfinite(x_in) & np.isfinite(y_in) & ~(
        np.isfinite(x) & np.isfinite(y) & (np.abs(y) <= 90.0))
    if bad.any():
        i = int(np.flatnonzero(bad.ravel())[0])
        raise CRSError(
            f"({float(x_in.ravel()[i])}, {float(y_in.ravel()[i])}) in {source} has no "
            "longitude/latitude counterpart (it lies within the offset of a pole); "
            "check the coordinate system"
        )
    return x, y


def transform_points(
    lon: ArrayLike, lat: ArrayLike, *, source: str, target: str
) -> tuple[FloatArray, FloatArray]:
    """Convert coordinates between any two coordinate systems gisgov knows.

    Parameters
    ----------
    lon, lat
        x/longitude and y/latitude arrays in ``source``.
    source, target
        Names accepted by :func:`normalise_crs_name`. Projected CRSs take and return (x, y).

    Returns
    -------
    tuple of numpy.ndarray
        ``(lon, lat)`` (or ``(x, y)``) in ``target``.

    Raises
    ------
    CRSError
        An unknown name, or a GCJ-02/BD-09 position whose inverse falls past a pole.

    Examples
    --------
    >>> lon, lat = transform_points([116.404], [39.915], source="gcj02", target="bd09")
    >>> round(float(lon[0]), 6), round(float(lat[0]), 6)
    (116.410369, 39.921337)
    """
    src, dst = normalise_crs_name(source), normalise_crs_name(target)
    x, y = _arrays(lon, lat)
    if src == dst:
        return x.copy(), y.copy()
    if src in _TO_WGS84 and dst in _FROM_WGS84:
        # gcj02 <-> bd09 directly: no round trip through the iterative WGS-84 inverse.
        if (src, dst) == ("gcj02", "bd09"):
            return gcj02_to_bd09(x, y)
        return _check_inverse(x, y, *bd09_to_gcj02(x, y), source=src)
    # Everything else goes through WGS-84; CGCS2000 is WGS-84 to centimetres (no transform).
    if src in _TO_WGS84:
        x, y = _check_inverse(x, y, *_TO_WGS84[src](x, y), source=src)
    elif src not in ("wgs84", "cgcs2000"):
        t = pyproj.Transformer.from_crs(_pyproj_crs(src), 4326, always_xy=True)
        x, y = (np.asarray(v, dtype=np.float64) for v in t.transform(x, y))
    if dst in _FROM_WGS84:
        return _FROM_WGS84[dst](x, y)
    if dst in ("wgs84", "cgcs2000"):
        return x, y
    t = pyproj.Transformer.from_crs(4326, _pyproj_crs(dst), always_xy=True)
    x2, y2 = t.transform(x, y)
    return np.asarray(x2, dtype=np.float64), np.asarray(y2, dtype=np.float64)


def _apply(
    gdf: gpd.GeoDataFrame,
    func: Callable[[ArrayLike, ArrayLike], tuple[FloatArray, FloatArray]],
) -> gpd.GeoDataFrame:
    """Apply a vectorised (lon, lat) function to every vertex of every geometry."""

    def on_coords(xy: FloatArray) -> FloatArray:
        x, y = func(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    out = gdf.copy()
    out[gdf.geometry.name] = shapely.transform(np.asarray(gdf.geometry.values), on_coords)
    return out


def to_storage(gdf: gpd.GeoDataFrame, *, source_crs: str | None = None) -> gpd.GeoDataFrame:
    """Return ``gdf`` in the storage CRS, EPSG:4326, and record where it came from.

    Parameters
    ----------
    gdf
        Any geometry types. Its ``crs`` is used unless ``source_crs`` is given.
    source_crs
        The coordinate system the coordinates are really in (any name accepted by
        :func:`normalise_crs_name`). Needed for GCJ-02/BD-09, which pyproj cannot represent
        (such data usually arrives labelled EPSG:4326 or with no CRS at all).

    Returns
    -------
    geopandas.GeoDataFrame
        A copy in EPSG:4326 with the same index; ``attrs["source_crs"]`` holds the canonical
        name of the source system. CGCS2000 is relabelled, not transformed (the datums agree
        to centimetres), and ``attrs["source_crs"] == "cgcs2000"`` records it.

    Raises
    ------
    CRSError
        If neither the data nor ``source_crs`` says what the coordinates are, or they disagree.
    """
    if source_crs is None:
        if gdf.crs is None:
            raise CRSError(
                "the data has no coordinate system; pass --crs (e.g. --crs wgs84, --crs gcj02 "
                "for Gaode/WeChat coordinates, --crs EPSG:4547 for projected data)"
            )
        name = normalise_crs_name(gdf.crs)
    else:
        name = normalise_crs_name(source_crs)
        if gdf.crs is not None:
            label = normalise_crs_name(gdf.crs)
            # GCJ-02/BD-09 data is normally mislabelled as geographic WGS-84/CGCS2000; accept that,
            # but a declared system that contradicts a projected label is a user mistake.
            geographic_label = label in ("wgs84", "cgcs2000")
            if label != name and not (
                geographic_label and name in ("wgs84", "cgcs2000", "gcj02", "bd09")
            ):
                raise CRSError(
                    f"the data is labelled {label} but --crs says {name}; drop --crs or fix the "
                    "file's .prj"
                )
    if name in _TO_WGS84:
        out = _apply(gdf, _TO_WGS84[name])
        out = out.set_crs(4326, allow_override=True)
    elif name in ("wgs84", "cgcs2000"):
        out = gdf.set_crs(4326, allow_override=True)
    else:
        out = gdf.set_crs(_pyproj_crs(name), allow_override=True).to_crs(4326)
    out.attrs = {**gdf.attrs, "source_crs": name}
    return out


def from_storage(gdf: gpd.GeoDataFrame, *, target_crs: str) -> gpd.GeoDataFrame:
    """Return storage data (EPSG:4326) in ``target_crs`` for export or display.

    Parameters
    ----------
    gdf
        Data in EPSG:4326 (or CGCS2000, EPSG:4490).
    target_crs
        ``wgs84`` (no-op), ``cgcs2000`` (relabel), ``gcj02``/``bd09`` (Gaode/Baidu basemaps),
        or any EPSG code.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy with the same index. GCJ-02/BD-09 results stay labelled EPSG:4326, as every tool
        labels them, with ``attrs["target_crs"]`` naming the real system.

    Raises
    ------
    CRSError
        If ``gdf`` is not in the storage CRS.
    """
    if gdf.crs is None or normalise_crs_name(gdf.crs) not in ("wgs84", "cgcs2000"):
        raise CRSError(
            f"expected data in EPSG:4326, got {gdf.crs!s}; call gisgov.crs.to_storage() first"
        )
    name = normalise_crs_name(target_crs)
    if name == "wgs84":
        out = gdf.set_crs(4326, allow_override=True)
    elif name == "cgcs2000":
        out = gdf.set_crs(4490, allow_override=True)
    elif name in _FROM_WGS84:
        out = _apply(gdf, _FROM_WGS84[name]).set_crs(4326, allow_override=True)
    else:
        out = gdf.set_crs(4326, allow_override=True).to_crs(_pyproj_crs(name))
    out.attrs = {**gdf.attrs, "target_crs": name}
    return out


def working_crs_for(
    bounds_or_gdf: gpd.GeoDataFrame | tuple[float, float, float, float] | ArrayLike,
) -> pyproj.CRS:
    """Choose the metric CRS for a workspace: the UTM zone of the data's centre.

    UTM (WGS 84 / UTM zone N, EPSG:326xx) rather than a CGCS2000 Gauss-Krüger 3-degree zone:
    it sits on the storage datum (no datum question), every tool knows its EPSG codes, a
    6-degree zone holds any city whole, and its worst scale error inside a zone (~0.1%, ~1 m
    per km) is far below what grid areas and walking distances need.

    Parameters
    ----------
    bounds_or_gdf
        A GeoDataFrame with a CRS, or ``(minx, miny, maxx, maxy)`` in lon/lat degrees.

    Returns
    -------
    pyproj.CRS
        The UTM zone containing the centre of the bounds (northern or southern hemisphere).

    Examples
    --------
    >>> working_crs_for((116.3, 39.8, 116.5, 40.0)).to_epsg()
    32650
    """
    if hasattr(bounds_or_gdf, "total_bounds"):
        gdf = bounds_or_gdf
        if gdf.crs is None:  # type: ignore[union-attr]
            raise CRSError("the data has no coordinate system; pass --crs or call to_storage()")
        if normalise_crs_name(gdf.crs) not in ("wgs84", "cgcs2000"):  # type: ignore[union-attr]
            gdf = gdf.to_crs(4326)  # type: ignore[union-attr]
        b = np.asarray(gdf.total_bounds, dtype=np.float64)
    else:
        b = np.asarray(bounds_or_gdf, dtype=np.float64).ravel()
    if b.shape != (4,) or not np.all(np.isfinite(b)):
        raise CRSError("cannot choose a working CRS: the data has no finite bounds")
    lon = (b[0] + b[2]) / 2.0
    lat = (b[1] + b[3]) / 2.0
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise CRSError(
            f"bounds centre ({lon:.3f}, {lat:.3f}) is not lon/lat; give bounds in degrees"
        )
    zone = min(int((lon + 180.0) // 6.0) + 1, 60)
    return pyproj.CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def to_metric(gdf: gpd.GeoDataFrame, crs: pyproj.CRS | str | int) -> gpd.GeoDataFrame:
    """Project ``gdf`` into the workspace's metric CRS (see :func:`working_crs_for`).

    Parameters
    ----------
    gdf
        Data with a CRS.
    crs
        A projected CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy in ``crs`` with the same index.

    Raises
    ------
    CRSError
        If ``gdf`` has no CRS or ``crs`` is not projected.
    """
    if gdf.crs is None:
        raise CRSError("the data has no coordinate system; call to_storage() first")
    target = pyproj.CRS.from_user_input(crs)
    if not target.is_projected:
        raise CRSError(f"{target.to_string()} is not a metric (projected) CRS")
    return gdf.to_crs(target)
