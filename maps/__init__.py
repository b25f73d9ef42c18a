"""Folium renderers for gisgov's layers: GeoDataFrames in, HTML maps out.

Every renderer takes the layers (``dict`` of GeoDataFrames in EPSG:4326), keyword-only options
(``basemap``, ``lang``, ``assets``) and an optional existing :class:`folium.Map`, like
``GeoDataFrame.explore``. No map links a public CDN: assets come from ``maps/assets/``.
"""

from maps._assets import ASSETS_DIR, asset_url, localise_assets
from maps._crs import BASEMAPS, draw_crs, to_draw
from maps._errors import MapError
from maps._i18n import mask_name, mask_phone
from maps.overview import county_map

__all__ = [
    "ASSETS_DIR",
    "BASEMAPS",
    "MapError",
    "asset_url",
    "county_map",
    "draw_crs",
    "localise_assets",
    "mask_name",
    "mask_phone",
    "to_draw",
]
