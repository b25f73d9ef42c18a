"""Map routes: ``/maps/…`` (HTML maps made on demand), ``/assets/…`` (Leaflet), ``/field``.

Maps are rendered from the workspace when first asked for and cached per workspace version:
every committed write bumps ``ws.version``, which drops the cached pages, so a map never shows
layers older than the store. Pages link Leaflet under ``/assets`` (vendored in
``maps/assets``), never a CDN.

What a map shows is decided by the one policy (:mod:`gisgov.policy`): each page and data file
is rendered from the caller's view of the layers (cached per role and scope), so the public
gets maps without households, members, assignments or events (no red-grid pages, no event
layer or dashboards, no ``households.geojson``: 403), field staff their grids' households,
members and events, coordinators their communities', planners all. Reads that show
households, members or events (maps drawing them one by one, a grid's event dashboard) are
audited.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from api.deps import get_principal
from api.policy_view import context, require_table, view
from gisgov.policy import Decision, table_access
from gisgov.privacy import Principal
from gisgov.store import open_workspace
from maps._assets import ASSETS_DIR
from maps._crs import to_draw
from maps._geojson import features
from maps.basemap import basemap_features
from maps.field import field_page_html
from maps.scenarios import ScenarioPlans, scenarios_from_workspace
from maps.site import MapPage, index_html, map_pages, page_events, render_page

__all__ = ["router"]

router = APIRouter(tags=["maps"])

BasemapQ = Literal["none", "osm", "gaode", "tianditu"]
LangQ = Literal["zh", "en"]

_lock = threading.Lock()


ViewKey = tuple[str, tuple[str, ...] | None, Any, bool]


class _Cache:
    """Layers, scenarios and rendered pages of one workspace version."""

    def __init__(self, version: int, layers: dict[str, gpd.GeoDataFrame],
                 scenarios: list[ScenarioPlans]) -> None:
        self.version = version
        self.layers = layers
        self.scenarios = scenarios
        self.items: dict[tuple[Any, ...], bytes] = {}
        self.people: dict[tuple[Any, ...], int] = {}
        self._views: dict[ViewKey, dict[str, gpd.GeoDataFrame]] = {}

    def view_key(self, request: Request, principal: Principal) -> ViewKey:
        """Callers with the same role and scope see the same maps.

        The policy facts' own version and the notice-board setting are part of the key: the
        facts follow the lookup index, which may notice a new workspace version a moment
        after this cache does, and a page drawn from the older facts must not be kept.
        """
        ctx = context(request.app.state.gisgov)
        scope = ctx.scope(principal)
        return (principal.role, None if scope is None else tuple(sorted(scope)), ctx.version,
                ctx.publish_staff)

    def layers_for(self, request: Request, principal: Principal) -> dict[str, gpd.GeoDataFrame]:
        """The layers as the policy lets the caller see them (absent: not readable at all).

        Columns the policy removes are kept as nulls, so the renderers still find them.
        """
        key = self.view_key(request, principal)
        if key not in self._views:
            state = request.app.state.gisgov
            publish = context(state).publish_staff
            out: dict[str, gpd.GeoDataFrame] = {}
            for name, gdf in self.layers.items():
                if table_access(name, principal, publish_staff=publish) == "none":
                    continue
                out[name] = _frame(view(state, principal, name, gdf), gdf)
            self._views[key] = out
        return self._views[key]


def _frame(decision: Decision, source: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = decision.frame
    if not isinstance(out, gpd.GeoDataFrame):
        out = gpd.GeoDataFrame(out, geometry=source.geometry.name, crs=source.crs)
    missing = [c for c in source.columns if c not in out.columns]
    if missing:
        out = out.copy()
        for col in missing:
            out[col] = None
    return out


def _pages_for(request: Request, cache: _Cache, principal: Principal) -> list[MapPage]:
    """The maps the caller's view allows; red-grid pages of communities in their scope only."""
    layers = cache.layers_for(request, principal)
    pages = map_pages(layers, cache.scenarios)
    if principal.role == "planner":
        return pages
    ctx = context(request.app.state.gisgov)
    scope = ctx.scope(principal) or frozenset()
    mine = {ctx.areas.community.get(g) for g in scope}
    return [p for p in pages if p.kind != "redgrid" or p.community in mine]


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
def maps_index(request: Request, lang: LangQ = "zh",
               principal: Principal = Depends(get_principal)) -> Response:
    """List the maps this workspace allows the caller, and the field page."""
    cache = _cache(request)
    key = ("index", lang, cache.view_key(request, principal))
    if key not in cache.items:
        cache.items[key] = index_html(_pages_for(request, cache, principal), lang=lang,
                                      field_url="/field").encode("utf-8")
    return _html(cache.items[key], cache.version)


@router.get("/maps/data/{layer}.geojson", summary="Map data: households or grid outlines")
def maps_data(
    request: Request,
    layer: Literal["households", "grids", "basemap"],
    basemap: BasemapQ = "none",
    principal: Principal = Depends(get_principal),
) -> Response:
    """Points or outlines drawn by the maps, in the basemap's coordinate system.

    Households (ids and addresses only) are personal data: a 403 for the public, the
    caller's scope for field staff and coordinators, every household for planners (audited).
    ``basemap`` is the workspace's own basemap (streets, compounds, buildings and their
    labels, :mod:`maps.basemap`): place layers, public.
    """
    state = request.app.state.gisgov
    for table in (("streets", "compounds", "buildings") if layer == "basemap" else (layer,)):
        require_table(state, principal, table)
    cache = _cache(request)
    key = ("data", layer, basemap, cache.view_key(request, principal))
    if key not in cache.items:
        gdf = cache.layers_for(request, principal).get(layer)
        if layer == "basemap":
            fc: dict[str, Any] = basemap_features(cache.layers_for(request, principal),
                                                  basemap=basemap)
        elif gdf is None or len(gdf) == 0:
            fc = {"type": "FeatureCollection", "features": []}
        elif layer == "households":
            fc = features(to_draw(gdf[["id", "address", "geometry"]], basemap=basemap),
                          key="id", columns=["address"])
        else:
            fc = features(to_draw(gdf[["code", "name", "geometry"]], basemap=basemap,
                                  simplify_m=0.5), key="code", columns=["code", "name"])
        cache.items[key] = json.dumps(fc, ensure_ascii=False,
                                      separators=(",", ":")).encode("utf-8")
        cache.people[key] = len(fc["features"]) if layer == "households" else 0
    if cache.people.get(key):
        state.audit.record(principal, action="read_personal", target="households",
                           detail=f"{cache.people[key]} row(s) (ids, addresses, points); "
                                  f"GET {request.url.path}")
    return Response(cache.items[key], media_type="application/geo+json")


@router.get("/maps/{name}", response_class=HTMLResponse, summary="One map (HTML)")
def maps_page(request: Request, name: str, basemap: BasemapQ = "none",
              lang: LangQ = "zh", principal: Principal = Depends(get_principal)) -> Response:
    """Render (or return the cached) map ``name``, e.g. ``county.html``.

    Drawn from the caller's view of the layers (:mod:`gisgov.policy`): no households or
    members for the public, their scope's for field staff and coordinators.
    """
    cache = _cache(request)
    pages: dict[str, MapPage] = {p.name: p for p in _pages_for(request, cache, principal)}
    if name not in pages:
        raise HTTPException(404, f"no map {name!r}; see /maps/ for the list")
    layers = cache.layers_for(request, principal)
    # Events go overdue with time, not only with writes: pages are redrawn each hour.
    hour = pd.Timestamp.now(tz="UTC").floor("h")
    key = ("page", name, basemap, lang, cache.view_key(request, principal), hour)
    if key not in cache.items:
        has_households = len(layers.get("households", ())) > 0
        html_text = render_page(
            layers, pages[name], basemap=basemap, lang=lang,
            assets="served",
            tianditu_key=_tianditu_key(request),
            households_url=(f"/maps/data/households.geojson?basemap={basemap}"
                            if has_households else None),
            scenarios=cache.scenarios,
            masked=False,  # the layers are already this caller's view under the policy
            now=hour,
        )
        cache.items[key] = html_text.encode("utf-8")
        cache.people[key] = (
            len(layers.get("households", ())) + len(layers.get("members", ()))
            if pages[name].kind == "redgrid" else 0) + page_events(layers, pages[name])
    if cache.people.get(key):
        page = pages[name]
        what = (f"red-grid map of community {page.community}" if page.kind == "redgrid"
                else f"{page.kind} page {name}")
        request.app.state.gisgov.audit.record(
            principal, action="read_personal", target=f"maps/{name}",
            detail=f"{what} (drawn from {cache.people[key]} household, member and event "
                   "row(s))")
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
def field(request: Request, basemap: BasemapQ = "none",
          principal: Principal = Depends(get_principal)) -> Response:
    """The phone page: "我在哪里" or a tap → ``/lookup`` → the responsibility card.

    The page itself holds no data: it loads grid outlines (public) and asks ``/lookup``,
    which applies the policy with the key the phone sends.
    """
    body = field_page_html(grids_url=f"/maps/data/grids.geojson?basemap={basemap}",
                           basemap_url=f"/maps/data/basemap.geojson?basemap={basemap}",
                           basemap=basemap, tianditu_key=_tianditu_key(request))
    return Response(body, media_type="text/html; charset=utf-8")
