"""Map routes: ``/maps/…`` (HTML maps made on demand), ``/assets/…`` (Leaflet), ``/field``.

Maps are rendered from the workspace when first asked for and cached per workspace version:
every committed write bumps ``ws.version``, which drops the cached pages, so a map never shows
layers older than the store. Pages link Leaflet under ``/assets`` (vendored in
``maps/assets``), never a CDN.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from api.deps import get_principal
from gisgov.layers import LAYERS
from gisgov.privacy import Principal
from gisgov.store import open_workspace
from maps._assets import ASSETS_DIR
from maps._base import features, to_draw
from maps.field import field_page_html
from maps.scenarios import ScenarioPlans, scenarios_from_workspace
from maps.site import MapPage, index_html, map_pages, render_page

__all__ = ["router"]

router = APIRouter(tags=["maps"])

BasemapQ = Literal["none", "osm", "gaode", "tianditu"]
LangQ = Literal["zh", "en"]

_lock = threading.Lock()


class _Cache:
    """Layers, scenarios and rendered pages of one workspace version."""

    def __init__(self, version: int, layers: dict[str, gpd.GeoDataFrame],
                 scenarios: list[ScenarioPlans]) -> None:
        self.version = version
        self.layers = layers
        self.scenarios = scenarios
        self.items: dict[tuple[str, ...], bytes] = {}
        self._public: dict[str, gpd.GeoDataFrame] | None = None

    def layers_for(self, principal: Principal) -> dict[str, gpd.GeoDataFrame]:
        """The layers as the caller may see them: ``public`` gets no personal data at all."""
        if principal.personal_access != "none":
            return self.layers
        if self._public is None:
            self._public = {name: _without_people(name, gdf) for name, gdf in self.layers.items()}
        return self._public


def _without_people(layer: str, gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Blank every personal and sensitive column (kept as nulls so renderers still work)."""
    spec = LAYERS.get(layer)
    cols = [c for c in (spec.personal_columns if spec else []) if c in gdf.columns]
    if not cols:
        return gdf
    out = gdf.copy()
    for col in cols:
        out[col] = None
    return out


def _settings(request: Request) -> Any:
    app_state = getattr(request.app.state, "gisgov", None)
    if app_state is not None:
        return app_state.settings
    return getattr(request.app.state, "settings", None)


def _workspace(request: Request) -> Any:
    """The service's workspace (``app.state.gisgov.ws``, see ``api.state``); a bare app may set
    ``app.state.workspace`` or ``app.state.settings`` instead."""
    state = request.app.state
    app_state = getattr(state, "gisgov", None)
    if app_state is not None:
        return app_state.ws
    ws = getattr(state, "workspace", None)
    if ws is not None:
        return ws
    settings = getattr(state, "settings", None)
    target = getattr(settings, "workspace", None) if settings is not None else None
    if not target:
        raise HTTPException(503, "no workspace configured (GISGOV_WORKSPACE)")
    ws = open_workspace(str(target))
    state.workspace = ws
    return ws


def _cache(request: Request) -> _Cache:
    ws = _workspace(request)
    version = int(ws.version)
    with _lock:
        cache: _Cache | None = getattr(request.app.state, "maps_cache", None)
        if cache is None or cache.version != version:
            layers = ws.read_all()
            cache = _Cache(version, layers, scenarios_from_workspace(ws, layers=layers))
            request.app.state.maps_cache = cache
        return cache


def _tianditu_key(request: Request) -> str | None:
    key = getattr(_settings(request), "tianditu_key", None)
    if key is None:
        return None
    # pydantic SecretStr keeps the key out of logs and reprs.
    return str(key.get_secret_value() if hasattr(key, "get_secret_value") else key)


def _html(body: bytes, version: int) -> Response:
    return Response(body, media_type="text/html; charset=utf-8",
                    headers={"Cache-Control": "no-cache", "ETag": f'W/"ws-{version}"'})


@router.get("/maps", include_in_schema=False)
def maps_root() -> RedirectResponse:
    """Redirect to the index with a trailing slash, so relative links resolve."""
    return RedirectResponse("/maps/")


@router.get("/maps/", response_class=HTMLResponse, summary="Index of the maps (地图目录)")
def maps_index(request: Request, lang: LangQ = "zh") -> Response:
    """List the maps this workspace allows, and the field page."""
    cache = _cache(request)
    key = ("index", lang)
    if key not in cache.items:
        cache.items[key] = index_html(map_pages(cache.layers, cache.scenarios), lang=lang,
                                      field_url="/field").encode("utf-8")
    return _html(cache.items[key], cache.version)


@router.get("/maps/data/{layer}.geojson", summary="Map data: households or grid outlines")
def maps_data(
    request: Request,
    layer: Literal["households", "grids"],
    basemap: BasemapQ = "none",
) -> Response:
    """Points or outlines drawn by the maps, in the basemap's coordinate system.

    Only identifiers, names and addresses: no personal columns (names, phones, ID numbers).
    """
    cache = _cache(request)
    key = ("data", layer, basemap)
    if key not in cache.items:
        gdf = cache.layers.get(layer)
        if gdf is None or len(gdf) == 0:
            fc: dict[str, Any] = {"type": "FeatureCollection", "features": []}
        elif layer == "households":
            fc = features(to_draw(gdf[["id", "address", "geometry"]], basemap=basemap),
                          key="id", columns=["address"])
        else:
            fc = features(to_draw(gdf[["code", "name", "geometry"]], basemap=basemap,
                                  simplify_m=0.5), key="code", columns=["code", "name"])
        cache.items[key] = json.dumps(fc, ensure_ascii=False,
                                      separators=(",", ":")).encode("utf-8")
    return Response(cache.items[key], media_type="application/geo+json")


@router.get("/maps/{name}", response_class=HTMLResponse, summary="One map (HTML)")
def maps_page(request: Request, name: str, basemap: BasemapQ = "none",
              lang: LangQ = "zh", principal: Principal = Depends(get_principal)) -> Response:
    """Render (or return the cached) map ``name``, e.g. ``county.html``.

    Names in popups are masked for staff roles and absent for ``public`` (no key).
    """
    cache = _cache(request)
    pages: dict[str, MapPage] = {p.name: p for p in map_pages(cache.layers, cache.scenarios)}
    if name not in pages:
        raise HTTPException(404, f"no map {name!r}; see /maps/ for the list")
    audience = "public" if principal.personal_access == "none" else "staff"
    key = ("page", name, basemap, lang, audience)
    if key not in cache.items:
        html_text = render_page(
            cache.layers_for(principal), pages[name], basemap=basemap, lang=lang,
            assets="served",
            tianditu_key=_tianditu_key(request),
            households_url=f"/maps/data/households.geojson?basemap={basemap}",
            scenarios=cache.scenarios,
        )
        cache.items[key] = html_text.encode("utf-8")
    return _html(cache.items[key], cache.version)


@router.get("/assets/{path:path}", include_in_schema=False)
def assets(path: str) -> FileResponse:
    """Vendored Leaflet and plugin files (``maps/assets``)."""
    root = ASSETS_DIR.resolve()
    target = (root / path).resolve()
    if not target.is_relative_to(root) or not target.is_file() or target.suffix == ".md":
        raise HTTPException(404, "no such asset")
    return FileResponse(Path(target), headers={"Cache-Control": "public, max-age=86400"})


@router.get("/field", response_class=HTMLResponse, summary="Field lookup page for phones")
def field(request: Request, basemap: BasemapQ = "none") -> Response:
    """The phone page: "我在哪里" or a tap → ``/lookup`` → the responsibility card."""
    body = field_page_html(grids_url=f"/maps/data/grids.geojson?basemap={basemap}",
                           basemap=basemap, tianditu_key=_tianditu_key(request))
    return Response(body, media_type="text/html; charset=utf-8")
