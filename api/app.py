"""The app factory: ``create_app(settings)`` builds one service; nothing is built at import.

Run it with ``gisgov serve WS`` or ``uvicorn --factory --no-proxy-headers
api.app:create_app`` (settings from ``GISGOV_*`` environment variables, see
:class:`api.settings.Settings`; forwarded headers are trusted only from
``GISGOV_TRUSTED_PROXIES``, so uvicorn must not rewrite the client address itself).

Adding endpoints
----------------
Routers are listed by module in :data:`ROUTERS`; each module defines ``router`` (a FastAPI
``APIRouter``). To add one, write ``api/<name>_routes.py`` and add one line to the list. The
maps router (``api.maps_routes``) is in :data:`OPTIONAL_ROUTERS`: it is included as soon as
the module exists. Routers should use ``dependencies=[Depends(api.deps.reject_unknown_query)]``
(unknown query parameters are a 400 everywhere), ``api.deps.get_principal`` for the caller
and raise :mod:`gisgov.errors` exceptions (mapped to problem+json in :mod:`api.errors`).
A route that reads a layer or table goes through :mod:`api.policy_view` (the one policy of
:mod:`gisgov.policy`), and must be added to the role × route matrix
(``tests/api/test_policy_matrix.py``), which fails for a route it does not know.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from api.deps import DYNAMIC_QUERY, get_state, reject_unknown_query
from api.errors import correlation_id, install_error_handlers, problem_response, scrub
from api.guards import EdgeGuard, check_parameters
from api.logs import install_log_filters
from api.openapi_doc import describe_responses
from api.settings import Settings
from api.state import AppState
from gisgov.errors import NotFoundError
from gisgov.layers import LAYERS

__all__ = ["DOC_ASSETS", "OPTIONAL_ROUTERS", "ROUTERS", "create_app", "doc_asset_dir", "openapi_30"]

#: Router modules, in the order their paths appear in the API definition.
ROUTERS: list[str] = [
    "api.ogc",
    "api.lookup_routes",
    "api.jobs_routes",
    "api.session_routes",
    "api.events_routes",
    "api.emergency_routes",
]
#: Router modules included when they exist (owned by other parts of the project).
OPTIONAL_ROUTERS: list[str] = [
    "api.maps_routes",
]

OPENAPI_MEDIA = "application/vnd.oai.openapi+json;version=3.0"

log = logging.getLogger(__name__)

system = APIRouter(dependencies=[Depends(reject_unknown_query)], tags=["Service 服务"])


@system.get("/healthz", summary="Health 健康检查")
async def healthz(request: Request) -> Response:
    """200 when the store answers, 503 problem when it does not."""
    state = get_state(request)
    try:
        await run_in_threadpool(state.ws.ping)
        version = await run_in_threadpool(lambda: state.ws.version)
    except Exception as exc:
        # the store's text names SQL and file paths: logged (scrubbed), not returned
        cid = correlation_id()
        log.warning("healthz [%s] %s: %s", cid, type(exc).__name__, scrub(str(exc)))
        return problem_response(request, 503, f"the store does not answer (reference {cid})",
                                type_name="StoreError", correlation_id=cid)
    index = state.index.current
    return JSONResponse({
        "status": "ok", "store": state.ws.kind, "version": version,
        "worker": os.getpid(),  # which worker process answered (``gisgov serve --workers N``)
        "lookup_index": None if index is None else {"version": index.version,
                                                   "grids": len(index)},
        "jobs": state.jobs.kinds(),
    })


@system.get("/api", summary="API definition (OpenAPI 3.0) 接口定义", tags=["OGC API Features"])
def api_definition(
    request: Request,
    f: str | None = Query(None, description="json (default) or html"),
) -> Response:
    """This API's OpenAPI 3.0 definition (``f=html``: interactive documentation)."""
    if f == "html":
        return api_html(request)
    return JSONResponse(request.app.openapi(), media_type=OPENAPI_MEDIA)


@system.get("/openapi.json", summary="API definition (OpenAPI 3.0) as plain JSON",
            include_in_schema=False)
def openapi_json(request: Request) -> Response:
    """The same document as ``/api``, at the path most tools look for first."""
    return JSONResponse(request.app.openapi())


#: Swagger UI and ReDoc, served from the ``fastapi-offline`` package's copies (no CDN: the
#: documentation opens on a machine without internet, and no third party sees who reads it).
DOC_ASSETS: dict[str, str] = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
_ASSETS_PATH = "/api-assets"


def doc_asset_dir() -> Path:
    """The folder of :data:`DOC_ASSETS` (in the ``fastapi-offline`` package)."""
    try:
        import fastapi_offline
    except ModuleNotFoundError:
        raise NotFoundError("the API documentation assets are not installed: "
                            "pip install 'gisgov[serve]' (fastapi-offline)") from None
    return Path(fastapi_offline.__file__).parent / "static"


@system.get(_ASSETS_PATH + "/{name}", summary="Swagger UI / ReDoc files 文档页面资源",
            include_in_schema=False)
def api_asset(name: str) -> Response:
    """One of :data:`DOC_ASSETS` (any other name is a 404; no path reaches the disk)."""
    media = DOC_ASSETS.get(name)
    if media is None:
        raise NotFoundError(f"no documentation asset {name!r}")
    return FileResponse(doc_asset_dir() / name, media_type=media,
                        headers={"Cache-Control": "public, max-age=86400"})


#: The documentation pages load nothing from elsewhere: the browser refuses it before any
#: request leaves (ReDoc's footer would otherwise fetch a logo from cdn.redoc.ly).
_DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' "
             "'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; worker-src 'self' "
             "blob:; connect-src 'self'")


def _local_only(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = _DOCS_CSP
    return page


@system.get("/api.html", summary="API documentation 接口文档", include_in_schema=False)
def api_html(request: Request) -> HTMLResponse:
    """Swagger UI over ``/api``, from local files."""
    return _local_only(get_swagger_ui_html(
        openapi_url="/api?f=json", title="gisgov API 接口文档",
        swagger_js_url=f"{_ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{_ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{_ASSETS_PATH}/favicon.png",
        # no badge from validator.swagger.io: it would send the document's URL outside
        swagger_ui_parameters={"validatorUrl": None}))


@system.get("/redoc", summary="API reference (ReDoc) 接口参考", include_in_schema=False)
def api_redoc(request: Request) -> HTMLResponse:
    """ReDoc over ``/api``, from local files (no Google Fonts)."""
    return _local_only(get_redoc_html(openapi_url="/api?f=json", title="gisgov API 接口参考",
                                      redoc_js_url=f"{_ASSETS_PATH}/redoc.standalone.js",
                                      redoc_favicon_url=f"{_ASSETS_PATH}/favicon.png",
                                      with_google_fonts=False))


def _include_routers(app: FastAPI) -> None:
    for name in ROUTERS:
        app.include_router(importlib.import_module(name).router)
    for name in OPTIONAL_ROUTERS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # the module exists but one of its imports is missing
                raise
            continue
        app.include_router(module.router)
    app.include_router(system)


def openapi_30(doc: dict[str, Any]) -> dict[str, Any]:
    """Rewrite FastAPI's OpenAPI 3.1 document as 3.0 (the OGC ``oas30`` class).

    JSON Schema 2020-12 constructs pydantic emits are mapped to their OpenAPI 3.0 forms:
    ``anyOf [X, null]`` → ``X`` + ``nullable``, ``const`` → one-value ``enum``, numeric
    ``exclusiveMinimum``/``exclusiveMaximum`` → boolean flags, ``examples`` → ``example``.
    """

    def fix(node: Any) -> Any:
        if isinstance(node, list):
            return [fix(v) for v in node]
        if not isinstance(node, dict):
            return node
        out = {k: fix(v) for k, v in node.items()}
        for key in ("anyOf", "oneOf"):
            alts = out.get(key)
            if isinstance(alts, list) and any(a == {"type": "null"} for a in alts):
                rest = [a for a in alts if a != {"type": "null"}]
                out.pop(key)
                if len(rest) == 1:
                    out = {**rest[0], **out}
                else:
                    out[key] = rest
                out["nullable"] = True
        if isinstance(out.get("type"), list):
            types = [t for t in out["type"] if t != "null"]
            if len(types) < len(out["type"]):
                out["nullable"] = True
            out["type"] = types[0] if len(types) == 1 else types
        if "const" in out:
            out["enum"] = [out.pop("const")]
        for key, flag in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            if isinstance(out.get(key), (int, float)) and not isinstance(out[key], bool):
                out[flag] = out.pop(key)
                out[key] = True
        if "examples" in out and isinstance(out["examples"], list) and "schema" not in out \
                and "in" not in out:
            examples = out.pop("examples")
            if examples:
                out["example"] = examples[0]
        return out

    fixed: dict[str, Any] = fix(doc)
    fixed["openapi"] = "3.0.3"
    return fixed


def _property_filter_parameters() -> list[dict[str, Any]]:
    """One optional string parameter per column any layer can be filtered on."""
    seen: dict[str, str] = {}
    for spec in LAYERS.values():
        for col in spec.columns:
            if col.name not in seen:
                seen[col.name] = f"{col.label_zh} ({col.label_en}); equality filter"
    return [{"name": name, "in": "query", "required": False,
             "description": desc, "schema": {"type": "string"}}
            for name, desc in sorted(seen.items())]


def _custom_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, description=app.description,
                      routes=app.routes)
    filters = _property_filter_parameters()
    for path_item in doc.get("paths", {}).values():
        for operation in path_item.values():
            if isinstance(operation, dict) and operation.pop(DYNAMIC_QUERY, False):
                declared = {p["name"] for p in operation.get("parameters", [])}
                operation.setdefault("parameters", []).extend(
                    p for p in filters if p["name"] not in declared)
    app.openapi_schema = openapi_30(describe_responses(doc))
    return app.openapi_schema


def _telemetry_options(settings: Settings) -> dict[str, Any]:
    """FastAPI's native OpenTelemetry (FastAPI ≥ 0.16x): off unless asked for.

    Left on by default, it opens spans for every request, every dependency and the
    serialisation, and records metrics: with no exporter configured (this service sets none
    up) that is CPU spent on every request for no reader.
    """
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    on = settings.telemetry
    return {"telemetry": {"tracing": on, "metrics": on, "logs": on, "operation_spans": on}}


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service.

    Parameters
    ----------
    settings
        Configuration; default: read from ``GISGOV_*`` environment variables.

    Returns
    -------
    fastapi.FastAPI
        With the workspace opened, the lookup index and key cache ready to build on first use
        and the job worker started. The app's shutdown flushes the audit log.
    """
    settings = settings or Settings()
    install_log_filters()  # the access log must not record query strings (personal data)
    state = AppState.open(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        state.start()
        yield
        state.close()

    app = FastAPI(
        **_telemetry_options(settings),
        title=settings.title,
        version="0.1.0",
        description=(
            "社区网格化治理 GIS 服务: layers as OGC API – Features, responsibility lookup, "
            "jobs. Send an API key as `X-API-Key` or `Authorization: Bearer`; without one "
            "the role is `public` (no personal data)."
        ),
        openapi_url=None,  # served at /api (OGC) by the system router
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        # numeric query parameters finite and bounded, on every route (api.guards)
        dependencies=[Depends(check_parameters)],
    )
    app.state.gisgov = state
    install_error_handlers(app)
    # Rate limit by address, NUL bytes, body size and JSON checks before any route sees the
    # request (inside CORS, so browsers can read a 413 or 429).
    app.add_middleware(EdgeGuard, state=state)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["X-API-Key", "Authorization", "Content-Type"],
            expose_headers=["Content-Crs", "Location", "Retry-After"],
        )
    _include_routers(app)
    app.openapi = lambda: _custom_openapi(app)  # type: ignore[method-assign]
    return app
