"""The basemaps and the coordinates overlays are drawn in.

Layers are stored in WGS-84 (EPSG:4326); Gaode's tiles are GCJ-02, so over them every vertex
is shifted with :func:`gisgov.crs.from_storage` (a WGS-84 overlay would sit a few hundred
metres off). :func:`to_draw` is the one place that conversion (and the display
simplification and rounding) happens.
"""

from __future__ import annotations

from typing import Any, Literal

import geopandas as gpd
import numpy as np
import shapely

from gisgov.crs import from_storage
from maps._errors import MapError

__all__ = ["BASEMAPS", "TILES", "Basemap", "check_basemap", "draw_crs", "to_draw"]

Basemap = Literal["none", "osm", "gaode", "tianditu"]
BASEMAPS: tuple[str, ...] = ("none", "osm", "gaode", "tianditu")

#: Tile templates. Gaode tiles are GCJ-02; Tianditu's ``_w`` sets are Web Mercator on
#: CGCS2000 (≈ WGS-84 at map scale) and need a key (docs/REFERENCES.md).
TILES: dict[str, dict[str, Any]] = {
    "osm": {
        "tiles": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "attr": "&copy; OpenStreetMap contributors",
        "subdomains": "abc",
    },
    "gaode": {
        "tiles": "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1"
        "&style=8&x={x}&y={y}&z={z}",
        "attr": "&copy; 高德地图 AutoNavi",
        "subdomains": "1234",
    },
    "tianditu": {
        "tiles": "https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
        "&VERSION=1.0.0&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
        "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}",
        "labels": "https://t{s}.tianditu.gov.cn/cva_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
        "&VERSION=1.0.0&LAYER=cva&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
        "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}",
        "attr": "&copy; 天地图 Tianditu",
        "subdomains": "01234567",
    },
}


def draw_crs(basemap: str) -> str:
    """The coordinate system overlays are drawn in over ``basemap``."""
    check_basemap(basemap)
    return "gcj02" if basemap == "gaode" else "wgs84"


def check_basemap(basemap: str) -> None:
    """Refuse a basemap gisgov has no tiles for (the message lists the choices)."""
    if basemap not in BASEMAPS:
        raise MapError(f"unknown basemap {basemap!r}; use one of {', '.join(BASEMAPS)}")


def to_draw(gdf: gpd.GeoDataFrame, *, basemap: str, simplify_m: float = 0.0) -> gpd.GeoDataFrame:
    """Return storage data ready to draw over ``basemap``.

    Parameters
    ----------
    gdf
        Layer in EPSG:4326 (storage CRS).
    basemap
        ``none``, ``osm``, ``gaode`` or ``tianditu``. Gaode tiles are GCJ-02, so every vertex
        goes through :func:`gisgov.crs.from_storage` (a WGS-84 overlay would sit a few hundred
        metres off).
    simplify_m
        Douglas–Peucker tolerance in metres (0: none), applied before the offset.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy with the same index, coordinates rounded to 6 decimals (~0.1 m).
    """
    if gdf.crs is None:
        raise MapError("a layer has no CRS; gisgov layers are stored in EPSG:4326")
    out = gdf[~gdf.geometry.isna()].copy()
    geoms = np.asarray(out.geometry.values)
    if simplify_m > 0:
        # ~1e-5 degree per metre at these latitudes is precise enough for a display tolerance.
        geoms = shapely.simplify(geoms, simplify_m * 1e-5, preserve_topology=True)
    out[out.geometry.name] = geoms
    target = draw_crs(basemap)
    if target != "wgs84":
        out = from_storage(out, target_crs=target)
    out[out.geometry.name] = shapely.transform(
        np.asarray(out.geometry.values), lambda xy: np.round(xy, 6)
    )
    return out
