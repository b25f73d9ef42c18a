"""Self-hosted Leaflet and plugin assets: no public CDN in any map gisgov writes.

folium links Leaflet, jQuery, Bootstrap and every plugin from public CDNs. CDNs are slow or
blocked in China and absent offline, so every renderer ends with :func:`localise_assets`, which
replaces each CDN link by a copy vendored in ``maps/assets/`` (see ``maps/assets/LICENSES.md``):
either inlined into the HTML as ``data:`` URIs (one file to carry) or linked under a URL prefix
(the API serves ``/assets/``). jQuery, Bootstrap and Font Awesome are dropped: gisgov's maps use
none of them (no ``folium.Icon`` markers, no Bootstrap popups).
"""

from __future__ import annotations

import base64
import mimetypes
import re
from functools import cache
from pathlib import Path

import folium
from branca.element import Element

from maps._errors import MapError

__all__ = [
    "ASSETS_DIR",
    "AssetMode",
    "asset_url",
    "localise_assets",
]

#: Folder of the vendored assets (served by the API under ``/assets``).
ASSETS_DIR = Path(__file__).resolve().parent / "assets"

#: ``"inline"``, ``"served"`` (``/assets``) or a URL prefix such as ``"assets"`` or ``"/static"``.
AssetMode = str

#: folium's resource names (the first item of ``default_js``/``default_css``) → vendored file.
_VENDORED: dict[str, str] = {
    "leaflet": "leaflet/leaflet.js",
    "leaflet_css": "leaflet/leaflet.css",
    "markerclusterjs": "leaflet.markercluster/leaflet.markercluster.js",
    "markerclustercss": "leaflet.markercluster/MarkerCluster.css",
    "markerclusterdefaultcss": "leaflet.markercluster/MarkerCluster.Default.css",
    "Control_MiniMap_js": "leaflet-minimap/Control.MiniMap.min.js",
    "Control_MiniMap_css": "leaflet-minimap/Control.MiniMap.min.css",
    "Control.Fullscreen.js": "leaflet.fullscreen/Control.FullScreen.js",
    "Control.FullScreen.css": "leaflet.fullscreen/Control.FullScreen.css",
    "leaflet_measure_js": "leaflet-measure/leaflet-measure.min.js",
    "leaflet_measure_css": "leaflet-measure/leaflet-measure.css",
    "Leaflet.Search.js": "leaflet-search/dist/leaflet-search.min.js",
    "Leaflet.Search.css": "leaflet-search/dist/leaflet-search.min.css",
    "leaflet.groupedlayercontrol.min.js":
        "leaflet-groupedlayercontrol/leaflet.groupedlayercontrol.min.js",
    "leaflet.groupedlayercontrol.min.css":
        "leaflet-groupedlayercontrol/leaflet.groupedlayercontrol.min.css",
}

#: folium defaults that gisgov's maps do not use; dropping them keeps the HTML small.
_UNUSED = frozenset({
    "jquery", "bootstrap", "awesome_markers", "bootstrap_css", "glyphicons_css",
    "awesome_markers_font_css", "awesome_markers_css", "awesome_rotate_css",
})

_CSS_URL = re.compile(r"url\(\s*['\"]?(?!data:|#)([^'\")]+)['\"]?\s*\)")


@cache
def _data_uri(relpath: str) -> str:
    """The vendored file as a ``data:`` URI; CSS ``url(...)`` images are inlined too."""
    path = ASSETS_DIR / relpath
    mime = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}.get(
        path.suffix, mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    )
    data = path.read_bytes()
    if path.suffix == ".css":
        # A data: stylesheet has no base URL, so its relative images must travel inside it.
        def inline(match: re.Match[str]) -> str:
            target = (path.parent / match.group(1)).resolve().relative_to(ASSETS_DIR)
            return f"url({_data_uri(target.as_posix())})"

        data = _CSS_URL.sub(inline, data.decode("utf-8")).encode("utf-8")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def asset_url(relpath: str, *, assets: AssetMode = "inline") -> str:
    """Return the URL under which a vendored file is reached.

    Parameters
    ----------
    relpath
        Path inside ``maps/assets/``, e.g. ``"leaflet/leaflet.js"``.
    assets
        ``"inline"`` (a ``data:`` URI), ``"served"`` (``/assets/…``) or a URL prefix.

    Returns
    -------
    str
        The URL to put in a ``<script src>`` or ``<link href>``.
    """
    if not (ASSETS_DIR / relpath).is_file():
        raise MapError(f"no vendored asset {relpath!r} in {ASSETS_DIR}")
    if assets == "inline":
        return _data_uri(relpath)
    prefix = "/assets" if assets == "served" else assets.rstrip("/")
    return f"{prefix}/{relpath}"


def _localised(
    links: list[tuple[str, str]], assets: AssetMode, owner: str
) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, url in links:
        if name in _UNUSED:
            continue
        if name not in _VENDORED:
            raise MapError(
                f"{owner} links {url!r} ({name!r}), which is not vendored in maps/assets: "
                "add the package there (and to LICENSES.md) or do not use that plugin"
            )
        out.append((name, asset_url(_VENDORED[name], assets=assets)))
    return out


def localise_assets(m: folium.Map, *, assets: AssetMode = "inline") -> folium.Map:
    """Point every JS/CSS link of ``m`` and its children at gisgov's vendored copies.

    Call it again after adding folium plugins to a map a renderer returned.

    Parameters
    ----------
    m
        The map; changed in place.
    assets
        ``"inline"``: embed the files (one self-contained HTML file); ``"served"``: link
        ``/assets/…`` as served by the API; any other string: a URL prefix (e.g. ``"assets"``
        for a folder written next to the HTML).

    Returns
    -------
    folium.Map
        ``m``, for chaining.

    Raises
    ------
    MapError
        If an element links a resource that is not vendored (rather than leaking a CDN URL).
    """
    stack: list[Element] = [m]
    while stack:
        element = stack.pop()
        for attr in ("default_js", "default_css"):
            links = getattr(element, attr, None)
            if links:
                # Instance attributes: folium's lists are class-level and shared by every map.
                setattr(element, attr, _localised(list(links), assets, type(element).__name__))
        stack.extend(element._children.values())
    return m
