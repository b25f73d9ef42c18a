"""The field page: a phone-first "我在哪里" lookup (``/field`` in the API).

A static page: Leaflet from gisgov's assets, the workspace's own basemap (named streets,
compounds, buildings: :mod:`maps.basemap`) and grid outlines from GeoJSON URLs, and the
responsibility card from ``/lookup``, answered for the browser's session (``/signin``; the
page also trades an older ``#key=`` link for a session, so no key stays on the phone). Every
text is Chinese; what the role may not see says "登录后可见", never "none here". Browsers' ``navigator.geolocation`` gives WGS-84 while
WeChat's and Gaode's location APIs give GCJ-02, so the user picks the system of a located
position; a tap on the map is in the system the map is drawn in (:func:`maps.draw_crs`).
"""

from __future__ import annotations

import json
from importlib import resources

from maps._assets import AssetMode, asset_url
from maps._crs import TILES, draw_crs

__all__ = ["field_page_html"]


def field_page_html(
    *,
    lookup_url: str = "/lookup",
    grids_url: str | None = "/maps/data/grids.geojson",
    basemap_url: str | None = "/maps/data/basemap.geojson",
    basemap: str = "none",
    tianditu_key: str | None = None,
    center: tuple[float, float] = (34.41, 114.19),
    assets: AssetMode = "served",
) -> str:
    """Return the field page HTML.

    Parameters
    ----------
    lookup_url
        The lookup endpoint (``?lon=&lat=&crs=`` is appended).
    grids_url
        GeoJSON of the grid outlines drawn under the position (in the basemap's system);
        ``None`` for none.
    basemap_url
        GeoJSON of the workspace's own basemap (:func:`maps.basemap.basemap_features`:
        named streets, compounds, buildings), drawn when ``basemap`` is ``none``; ``None``
        for none.
    basemap
        ``none`` (default, no request beyond the service), ``osm``, ``gaode`` or ``tianditu``.
    tianditu_key
        Tianditu key, for that basemap.
    center
        Initial (lat, lon) before the grids load.
    assets
        ``served`` (default), ``inline`` or a URL prefix.

    Returns
    -------
    str
        The HTML document.
    """
    crs = draw_crs(basemap)
    tiles = None
    if basemap != "none":
        spec = TILES[basemap]
        url = str(spec["tiles"]).replace("{key}", tianditu_key or "")
        tiles = {"url": url, "subdomains": spec["subdomains"], "attribution": spec["attr"]}
    config = {"lookupUrl": lookup_url, "gridsUrl": grids_url, "drawCrs": crs, "tiles": tiles,
              "center": list(center),
              "basemapUrl": basemap_url if basemap == "none" else None}
    templates = resources.files("maps").joinpath("templates")
    page = templates.joinpath("field.html").read_text("utf-8")
    script = templates.joinpath("basemap.js").read_text("utf-8")
    return (page.replace("__BASEMAP_JS__", script)
            .replace("__LEAFLET_CSS__", asset_url("leaflet/leaflet.css", assets=assets))
            .replace("__LEAFLET_JS__", asset_url("leaflet/leaflet.js", assets=assets))
            .replace("__CONFIG__", json.dumps(config, ensure_ascii=False).replace("</", "<\\/")))
