"""OGC API – Features Part 1 core, Part 2 (CRS) and Part 3 (queryables, CQL2 text
``filter``), with ``sortby`` and ``properties``, over every layer and product table.

``/`` landing page, ``/conformance``, ``/api`` (in :mod:`api.app`), ``/collections``,
``/collections/{collectionId}``, ``/collections/{collectionId}/queryables``,
``/collections/{collectionId}/items`` and ``/collections/{collectionId}/items/{featureId}``.
A page is one SQL statement (:meth:`api.collections.Collection.features`); its properties
arrive as JSON text from the database and only the GeoJSON around them is written here. Feature ids are the layer key (grid code,
household id…). Output CRS (``crs``) and bbox CRS (``bbox-crs``) accept the URIs in
:data:`CRS_URIS`; EPSG:4326 and EPSG:4490 are written latitude first, as their authority
defines them, CRS84, EPSG:3857 and GCJ-02 x first. GCJ-02, the obfuscated system of Gaode/AMap
and WeChat maps, has no EPSG code: it is named by the private URN :data:`GCJ02_URI`.

Rows and columns are decided by the one policy (:mod:`gisgov.policy`, through
:mod:`api.policy_view`) inside the statement: a collection a role may not read is absent from
``/collections`` and a 403 on its routes; scoped roles get their area's rows only, and may
filter and sort only on the columns they see plainly. Every response that shows personal
data is written to the audit log.
"""

from __future__ import annotations

import itertools
import json
import math
import threading
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any, Literal
from urllib.parse import urlencode

import numpy as np
import orjson
import pandas as pd
import shapely
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from api import html
from api.collections import Collection, PageRequest, catalogue, parse_sortby
from api.deps import (
    DYNAMIC_QUERY,
    allowed_query_names,
    base_url,
    check_query,
    get_principal,
    get_state,
    reject_unknown_query,
    wants_html,
)
from api.errors import ApiProblemError
from api.ogc_models import (
    CollectionModel,
    CollectionsModel,
    FeatureCollectionModel,
    FeatureModel,
    QueryablesModel,
)
from api.policy_view import audit_page, context, require_table, scope_facts
from api.state import AppState
from gisgov.crs import transform_points
from gisgov.errors import NotFoundError, ValidationError
from gisgov.policy import table_access
from gisgov.privacy import Principal
from gisgov.store._features import FeaturePage

__all__ = [
    "CONFORMANCE",
    "CRS84",
    "CRS_URIS",
    "GCJ02_URI",
    "router",
]

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
EPSG4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"
EPSG3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"
#: GCJ-02 (火星坐标, Gaode/AMap, Tencent, WeChat) has no registry entry; a private URN names it.
GCJ02_URI = "urn:x-gisgov:crs:GCJ-02"

#: Supported CRS URIs → (gisgov.crs name, latitude first?).
CRS_URIS: dict[str, tuple[str, bool]] = {
    CRS84: ("wgs84", False),
    EPSG4326: ("wgs84", True),
    EPSG4490: ("cgcs2000", True),
    EPSG3857: ("EPSG:3857", False),
    GCJ02_URI: ("gcj02", False),
}
_CRS_ALIASES = {
    "crs84": CRS84, "ogc:crs84": CRS84, "epsg:4326": EPSG4326, "4326": EPSG4326,
    "epsg:4490": EPSG4490, "4490": EPSG4490, "epsg:3857": EPSG3857, "3857": EPSG3857,
    "gcj-02": GCJ02_URI, "gcj02": GCJ02_URI,
}

CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-features-5/1.0/conf/sortables",
    "http://www.opengis.net/spec/ogcapi-features-8/1.0/conf/sorting",
    "http://www.opengis.net/spec/ogcapi-features-6/1.0/conf/properties",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
]

GEOJSON = "application/geo+json"
OPENAPI_MEDIA = "application/vnd.oai.openapi+json;version=3.0"
_CRS_DOC = (
    "Output coordinate system as a URI: CRS84 (lon/lat, default), EPSG:4326 and EPSG:4490 "
    f"(lat/lon axis order, as the EPSG registry defines them), EPSG:3857, or {GCJ02_URI} "
    "(GCJ-02 for Gaode/AMap and WeChat maps, lon/lat). Short forms such as EPSG:4326 or "
    "GCJ-02 are accepted."
)

router = APIRouter(dependencies=[Depends(reject_unknown_query), Depends(get_principal)])

Format = Literal["json", "html"]
ItemsFormat = Literal["json", "geojson", "html"]


def _crs_uri(value: str | None, *, param: str) -> str:
    if value is None:
        return CRS84
    text = value.strip()
    uri = _CRS_ALIASES.get(text.lower(), text)
    if uri not in CRS_URIS:
        raise ApiProblemError(400, f"{param}={value!r} is not supported; use one of: "
                              f"{', '.join(CRS_URIS)}")
    return uri


def _json(obj: Any, *, media_type: str = "application/json", status_code: int = 200,
          headers: Mapping[str, str] | None = None) -> Response:
    return Response(json.dumps(obj, ensure_ascii=False, default=_default),
                    status_code=status_code, media_type=media_type, headers=dict(headers or {}))


def _default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


# ---- catalogue: layers and product tables (api.collections) ----------------------------

def _extent_for(principal: Principal, col: Collection) -> tuple[float, ...] | None:
    """The extent of a whole table is published only when the caller may see every row:
    the corners of a households layer are the coordinates of its outermost households."""
    return col.bbox if table_access(col.id, principal) == "all" else None


def _collection_doc(base: str, col: Collection, bbox: Sequence[float] | None
                    ) -> dict[str, Any]:
    cid = col.id
    doc: dict[str, Any] = {
        "id": cid,
        "title": col.title,
        "description": col.description,
        "itemType": "feature",
        "links": [
            {"rel": "self", "type": "application/json", "title": "本集合 this collection",
             "href": f"{base}/collections/{cid}?f=json"},
            {"rel": "alternate", "type": "text/html", "title": "网页 HTML",
             "href": f"{base}/collections/{cid}?f=html"},
            {"rel": "items", "type": GEOJSON, "title": "要素 features",
             "href": f"{base}/collections/{cid}/items?f=json"},
            {"rel": "items", "type": "text/html", "title": "要素网页 features as HTML",
             "href": f"{base}/collections/{cid}/items?f=html"},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
             "type": "application/schema+json", "title": "可查询属性 queryables",
             "href": f"{base}/collections/{cid}/queryables"},
        ],
        "crs": list(CRS_URIS),
        "storageCrs": CRS84,
    }
    if bbox:
        doc["extent"] = {"spatial": {"bbox": [list(bbox)], "crs": CRS84}}
    return doc


def _landing_links(base: str) -> list[dict[str, Any]]:
    return [
        {"rel": "self", "type": "application/json", "title": "本页 this document",
         "href": f"{base}/?f=json"},
        {"rel": "alternate", "type": "text/html", "title": "网页 HTML", "href": f"{base}/?f=html"},
        {"rel": "service-desc", "type": OPENAPI_MEDIA, "title": "OpenAPI 接口定义",
         "href": f"{base}/api"},
        {"rel": "service-doc", "type": "text/html", "title": "接口文档 API documentation",
         "href": f"{base}/api.html"},
        {"rel": "conformance", "type": "application/json", "title": "符合性 conformance",
         "href": f"{base}/conformance"},
        {"rel": "http://www.opengis.net/def/rel/ogc/1.0/conformance", "type": "application/json",
         "title": "符合性 conformance", "href": f"{base}/conformance"},
        {"rel": "data", "type": "application/json", "title": "图层 collections",
         "href": f"{base}/collections"},
        {"rel": "http://www.opengis.net/def/rel/ogc/1.0/data", "type": "application/json",
         "title": "图层 collections", "href": f"{base}/collections"},
        {"rel": "lookup", "type": "application/json", "title": "责任查询 responsibility lookup",
         "href": f"{base}/lookup"},
        {"rel": "jobs", "type": "application/json", "title": "任务 jobs", "href": f"{base}/jobs"},
    ]


# ---- routes -----------------------------------------------------------------------------

FQuery = Query(None, description="Response format: json (default) or html")


@router.get("/", summary="Landing page 首页", tags=["OGC API Features"])
def landing(request: Request, f: Format | None = FQuery) -> Response:
    """Links to the API definition, conformance, collections, lookup and jobs."""
    base = base_url(request)
    state = get_state(request)
    links = _landing_links(base)
    if wants_html(request, f):
        body = ("<p>社区网格化治理 GIS 服务：图层（OGC API Features）、网格责任查询、任务。</p>"
                + html.table(links, [("title", "名称"), ("href", "链接")]))
        return html.page(state.settings.title, body, links=links)
    return _json({"title": state.settings.title,
                  "description": "Community grid governance layers as OGC API Features, "
                                 "responsibility lookup and jobs",
                  "links": links})


@router.get("/conformance", summary="Conformance classes 符合性", tags=["OGC API Features"])
def conformance(request: Request, f: Format | None = FQuery) -> Response:
    """The conformance classes this service implements."""
    if wants_html(request, f):
        return html.page("符合性 Conformance", html.table([{"uri": u} for u in CONFORMANCE],
                                                         [("uri", "URI")]))
    return _json({"conformsTo": CONFORMANCE})


@router.get("/collections", summary="Collections 图层列表", tags=["OGC API Features"],
            responses={200: {"model": CollectionsModel}})
def collections(request: Request, f: Format | None = FQuery) -> Response:
    """Every layer present in the workspace and every published product table."""
    base = base_url(request)
    state = get_state(request)
    principal: Principal = request.state.principal
    version = state.ws.version
    publish = context(state, ws_version=version).publish_staff
    docs = [_collection_doc(base, col, _extent_for(principal, col))
            for col in catalogue(state, version=version).readable(principal,
                                                                   publish_staff=publish)]
    links = [
        {"rel": "self", "type": "application/json", "href": f"{base}/collections?f=json"},
        {"rel": "alternate", "type": "text/html", "href": f"{base}/collections?f=html"},
    ]
    if wants_html(request, f):
        rows = [{"id": f"/collections/{d['id']}?f=html", "title": d["title"],
                 "description": d["description"]} for d in docs]
        return html.page("图层 Collections", html.table(
            rows, [("id", "图层"), ("title", "名称"), ("description", "说明")]))
    return _json({"links": links, "collections": docs, "crs": list(CRS_URIS)})


def _readable(request: Request, collection_id: str) -> tuple[AppState, Collection, Any]:
    """The state, the collection (404) and the policy context, after the access check
    (403): one read of the workspace version for all three."""
    state = get_state(request)
    version = state.ws.version
    col = catalogue(state, version=version).get(collection_id)
    ctx = context(state, ws_version=version)
    require_table(state, request.state.principal, collection_id, ctx=ctx)
    return state, col, ctx


@router.get("/collections/{collectionId}", summary="One collection 图层",
            tags=["OGC API Features"], responses={200: {"model": CollectionModel}})
def collection(
    request: Request,
    collection_id: str = Path(..., alias="collectionId"),
    f: Format | None = FQuery,
) -> Response:
    """Title, extent, CRS list and links of one collection."""
    _, col, _ = _readable(request, collection_id)
    principal = request.state.principal
    doc = _collection_doc(base_url(request), col, _extent_for(principal, col))
    if wants_html(request, f):
        body = (f"<p>{escape(col.description)}</p>"
                + html.table([{"column": c, "label": col.labels.get(c, c)} for c in col.columns],
                             [("column", "字段"), ("label", "名称")]))
        return html.page(f"{col.title} ({collection_id})", body, links=doc["links"])
    return _json(doc)


@router.get("/collections/{collectionId}/queryables", summary="Queryables 可查询属性",
            tags=["OGC API Features"], responses={200: {
                "model": QueryablesModel,
                "content": {"application/schema+json": {}}}})
def queryables(
    request: Request,
    collection_id: str = Path(..., alias="collectionId"),
    f: Format | None = FQuery,
) -> Response:
    """JSON Schema of the properties the caller may filter (``filter``, property
    parameters) and sort (``sortby``) on, with their Chinese titles."""
    _, col, _ = _readable(request, collection_id)
    doc = col.queryables_schema(request.state.principal, base_url(request))
    if wants_html(request, f):
        rows = [{"name": k, "title": v.get("title", k), "type": v.get("type", "geometry")}
                for k, v in doc["properties"].items()]
        return html.page(f"{col.title} 可查询属性 queryables", html.table(
            rows, [("name", "属性"), ("title", "名称"), ("type", "类型")]))
    return _json(doc, media_type="application/schema+json")


def _parse_bbox(text: str | None, crs_uri: str) -> tuple[float, float, float, float] | None:
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise ApiProblemError(400, f"bbox={text!r}: give 4 numbers minx,miny,maxx,maxy") from None
    if len(values) == 6:  # 3D bbox: drop the heights
        values = [values[0], values[1], values[3], values[4]]
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise ApiProblemError(400, f"bbox={text!r}: give 4 numbers minx,miny,maxx,maxy")
    name, lat_first = CRS_URIS[crs_uri]
    x0, y0, x1, y1 = values
    if lat_first:
        x0, y0, x1, y1 = y0, x0, y1, x1
    if name != "wgs84" and name != "cgcs2000":
        xs, ys = transform_points([x0, x1, x0, x1], [y0, y0, y1, y1], source=name,
                                  target="wgs84")
        x0, x1, y0, y1 = float(xs.min()), float(xs.max()), float(ys.min()), float(ys.max())
    if x0 > x1 or y0 > y1:
        raise ApiProblemError(400, f"bbox={text!r}: the lower corner must come first")
    if not (-180 <= x0 <= 180 and -180 <= x1 <= 180 and -90 <= y0 <= 90 and -90 <= y1 <= 90):
        raise ApiProblemError(400, f"bbox={text!r} is outside longitude/latitude bounds "
                              "(check the axis order of bbox-crs)")
    return (x0, y0, x1, y1)


def _parse_filter(text: str | None, lang: str | None) -> Any:
    """A CQL2 text ``filter`` as a pygeofilter AST (400 when it does not parse)."""
    if lang is not None and lang.lower() not in ("cql2-text", "cql-text"):
        raise ApiProblemError(400, f"filter-lang={lang!r} 不受支持 (not supported); use "
                              "cql2-text")
    if text is None:
        return None
    if not text.strip() or "\x00" in text:
        raise ApiProblemError(400, "filter 为空或含 NUL 字符 (empty filter or NUL character)")
    from lark.exceptions import LarkError
    from pygeofilter.parsers.cql2_text import parse

    try:
        return parse(text)
    except (LarkError, ValueError, TypeError, AttributeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ApiProblemError(400, f"filter 不是有效的 CQL2 文本 (not valid CQL2 text): "
                              f"{first[:200]}") from None


def _parse_properties(text: str | None, shown: Sequence[str]) -> tuple[str, ...] | None:
    """``properties=a,b``: the columns to return (400 for names the caller does not get)."""
    if text is None:
        return None
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in shown]
    if unknown:
        raise ApiProblemError(400, f"properties: 没有属性 {', '.join(unknown)} (no such "
                              f"property; properties: {', '.join(shown)})")
    return names


#: GeoJSON texts of WKB geometries already written, by (WKB, CRS URI). Why: a GeoPackage
#: hands over WKB, and GEOS's encoding of it (under the GIL) is the largest part of a polygon
#: page's Python work, while PostGIS writes its text in its own process. Keyed by the
#: geometry's own bytes, so a changed geometry is another key: there is nothing to
#: invalidate, whichever path wrote it. At most :data:`GEOJSON_CACHE_SIZE` entries (tens of
#: MB for buildings); the oldest quarter goes when it is full.
_GEOJSON_CACHE: dict[tuple[bytes, str], str] = {}
_GEOJSON_CACHE_LOCK = threading.Lock()
GEOJSON_CACHE_SIZE = 50_000


def _remember_geojson(texts: Sequence[tuple[tuple[bytes, str], str]]) -> None:
    texts = texts[-GEOJSON_CACHE_SIZE:]
    with _GEOJSON_CACHE_LOCK:  # readers only get(); every change is under the lock
        over = len(_GEOJSON_CACHE) + len(texts) - GEOJSON_CACHE_SIZE
        if over > 0:
            oldest = itertools.islice(_GEOJSON_CACHE, max(over, GEOJSON_CACHE_SIZE // 4))
            for key in list(oldest):
                del _GEOJSON_CACHE[key]
        _GEOJSON_CACHE.update(texts)


def _geometry_texts(values: Sequence[str | bytes | None], crs_uri: str) -> list[str]:
    """GeoJSON geometry texts: the database's text as it is, WKB transformed by GEOS (or
    found in :data:`_GEOJSON_CACHE`)."""
    name, lat_first = CRS_URIS[crs_uri]
    out = ["null" if v is None else v if isinstance(v, str) else "" for v in values]
    todo = []
    for i, v in enumerate(values):
        if isinstance(v, bytes):
            known = _GEOJSON_CACHE.get((v, crs_uri))
            if known is None:
                todo.append(i)
            else:
                out[i] = known
    if not todo:
        return out
    geoms = shapely.from_wkb([values[i] for i in todo])
    if name not in ("wgs84", "cgcs2000"):
        def project(xy: np.ndarray) -> np.ndarray:
            x, y = transform_points(xy[:, 0], xy[:, 1], source="wgs84", target=name)
            return np.column_stack([x, y])
        geoms = shapely.transform(geoms, project)
    if lat_first:
        geoms = shapely.transform(geoms, lambda xy: xy[:, ::-1])
    for i, text in zip(todo, shapely.to_geojson(geoms).tolist(), strict=True):
        out[i] = text if text is not None else "null"
    _remember_geojson([((values[i], crs_uri), out[i]) for i in todo])  # type: ignore[misc]
    return out


def _feature_texts(page: FeaturePage, crs_uri: str) -> list[str]:
    """GeoJSON Feature texts around the database's properties JSON."""
    geoms = _geometry_texts([r.geometry for r in page.rows], crs_uri)
    return ['{"type":"Feature","id":' + orjson.dumps(r.key, default=str).decode()
            + ',"geometry":' + g + ',"properties":' + r.properties + "}"
            for r, g in zip(page.rows, geoms, strict=True)]


_ITEMS_DOC = """Features of a collection, in pages, read by one SQL statement.

Besides the declared parameters, any queryable property of the collection may be used as
an equality filter (e.g. `community_code=410223001001`); personal columns only by roles that
see them (`/collections/{collectionId}/queryables` lists them for the caller). `filter` takes
CQL2 text (comparisons, LIKE, IN, BETWEEN, IS NULL, AND/OR/NOT, S_INTERSECTS/S_DISJOINT with
WKT or BBOX in CRS84). `next` links page by key (`after`), so deep pages cost what the first
does.
"""


class _ItemsParams:
    """The declared query parameters of the items route, parsed into a page request."""

    def __init__(
        self,
        f: ItemsFormat | None = Query(None, description="geojson/json (default) or html"),
        limit: int | None = Query(None, ge=1, description="Page size (default 100; values "
                                  "above the maximum, 1000 by default, are clamped)"),
        offset: int = Query(0, ge=0, description="Rows to skip (after `after`, when given)"),
        bbox: str | None = Query(None, description="minx,miny,maxx,maxy in bbox-crs"),
        bbox_crs: str | None = Query(None, alias="bbox-crs", description="CRS of bbox (URI)"),
        crs: str | None = Query(None, description=_CRS_DOC),
        datetime: str | None = Query(None, description="Accepted for OGC clients; no layer "
                                     "has a time dimension, so it filters nothing"),
        filter: str | None = Query(None, description="CQL2 text filter, e.g. "
                                   "`size >= 3 AND address LIKE '%号%'`"),
        filter_lang: str | None = Query(None, alias="filter-lang",
                                        description="cql2-text (the default)"),
        sortby: str | None = Query(None, description="Sort by queryable properties: "
                                   "`+name,-size` (the key breaks ties)"),
        properties: str | None = Query(None, description="Properties to return, "
                                       "comma-separated (default: all the caller sees)"),
        after: str | None = Query(None, description="Keyset paging: only features whose "
                                  "key comes after this one (next links set it)"),
    ) -> None:
        self.f, self.limit, self.offset, self.bbox, self.bbox_crs = f, limit, offset, bbox, \
            bbox_crs
        self.crs, self.filter, self.filter_lang, self.sortby = crs, filter, filter_lang, sortby
        self.properties, self.after = properties, after


def _page_request(request: Request, col: Collection, p: _ItemsParams, shown: Sequence[str],
                  principal: Principal, *, extra: Mapping[str, str]) -> PageRequest:
    settings = get_state(request).settings
    out_crs = _crs_uri(p.crs, param="crs")
    name, lat_first = CRS_URIS[out_crs]
    queryable = col.queryables(principal)
    if p.after is not None and p.sortby:
        raise ApiProblemError(400, "after 只用于按主键分页 (keyset paging follows the key "
                              "order; page sorted results with offset)")
    return PageRequest(
        limit=min(p.limit or settings.default_limit, settings.max_limit), offset=p.offset,
        bbox=_parse_bbox(p.bbox, _crs_uri(p.bbox_crs, param="bbox-crs")),
        equals={k: col.cast(k, v) for k, v in extra.items()},
        cql=_parse_filter(p.filter, p.filter_lang),
        sortby=parse_sortby(p.sortby, list(queryable)),
        properties=_parse_properties(p.properties, shown),
        after=None if p.after is None else col.cast(col.key or "", p.after),
        geojson=name in ("wgs84", "cgcs2000"), flip=lat_first,
    )


@router.get(
    "/collections/{collectionId}/items",
    summary="Features 要素",
    tags=["OGC API Features"],
    description=_ITEMS_DOC,
    openapi_extra={DYNAMIC_QUERY: True},
    response_class=JSONResponse,
    responses={200: {"model": FeatureCollectionModel}},
)
def items(
    request: Request,
    collection_id: str = Path(..., alias="collectionId"),
    params: _ItemsParams = Depends(),
    principal: Principal = Depends(get_principal),
) -> Response:
    """Features of one collection as GeoJSON (or an HTML table)."""
    state, col, ctx = _readable(request, collection_id)  # before any parameter check: 403
    declared = allowed_query_names(request)
    queryable = col.queryables(principal)
    check_query(request, declared | set(queryable))
    facts = scope_facts(ctx, state, principal)
    shown = col.shown(principal, facts, publish_staff=ctx.publish_staff)
    extra = {k: v for k, v in request.query_params.items() if k in queryable
             and k not in declared}
    page = _page_request(request, col, params, shown, principal, extra=extra)
    result, audit = col.features(state, principal, facts, page,
                                 publish_staff=ctx.publish_staff)
    if audit:
        audit_page(state, principal, collection_id, [r.key for r in result.rows[:20]],
                   len(result.rows), detail=f"GET {request.url.path}?{request.url.query}")
    base = base_url(request)
    last = result.rows[-1].key if result.rows and col.key and not page.sortby else None
    links = _page_links(request, base, collection_id, offset=page.offset, size=page.limit,
                        has_next=result.has_next, after=last)
    if wants_html(request, params.f):
        return _items_html(col, result, page, links)
    out_crs = _crs_uri(params.crs, param="crs")
    texts = _feature_texts(result, out_crs)
    head: dict[str, Any] = {"type": "FeatureCollection", "numberReturned": len(texts),
                            "timeStamp": pd.Timestamp.now(tz="UTC").isoformat(), "links": links}
    if result.matched is not None:
        head["numberMatched"] = result.matched
    body = orjson.dumps(head)[:-1] + b',"features":[' + ",".join(texts).encode() + b"]}"
    return Response(body, media_type=GEOJSON, headers={"Content-Crs": f"<{out_crs}>"})


def _items_html(col: Collection, result: FeaturePage, page: PageRequest,
                links: list[dict[str, Any]]) -> Response:
    rows: list[dict[str, Any]] = [orjson.loads(r.properties) for r in result.rows]
    names = list(rows[0]) if rows else []
    cols = [(c, col.labels.get(c, c)) for c in names]
    body = (f"<p>第 {page.offset + 1}–{page.offset + len(rows)} 条"
            + (f"，共 {result.matched} 条" if result.matched is not None else "") + "</p>"
            + html.table(rows, cols))
    return html.page(f"{col.title} 要素", body, links=links)


def _page_links(request: Request, base: str, collection_id: str, *, offset: int, size: int,
                has_next: bool, after: Any = None) -> list[dict[str, Any]]:
    """self/alternate/next/prev links carrying every parameter of the request; ``next``
    also carries ``after`` (the page's last key) so the next page is found by the key
    index instead of skipping ``offset`` rows."""
    params = [(k, v) for k, v in request.query_params.multi_items()
              if k not in ("offset", "limit", "f", "after")]
    current = request.query_params.get("after")

    def href(new_offset: int, fmt: str, key: Any = None) -> str:
        extra = [("after", str(key))] if key is not None else []
        query = urlencode([*params, ("limit", str(size)), ("offset", str(new_offset)),
                           *extra, ("f", fmt)])
        return f"{base}/collections/{collection_id}/items?{query}"

    links = [
        {"rel": "self", "type": GEOJSON, "title": "本页 this page",
         "href": href(offset, "json", current)},
        {"rel": "alternate", "type": "text/html", "title": "网页 HTML",
         "href": href(offset, "html", current)},
        {"rel": "collection", "type": "application/json", "title": "图层 collection",
         "href": f"{base}/collections/{collection_id}"},
    ]
    if has_next:
        links.append({"rel": "next", "type": GEOJSON, "title": "下一页 next page",
                      "href": href(offset + size, "json", after)})
    if offset > 0:
        links.append({"rel": "prev", "type": GEOJSON, "title": "上一页 previous page",
                      "href": href(max(0, offset - size), "json")})
    return links


@router.get("/collections/{collectionId}/items/{featureId}", summary="One feature 要素",
            tags=["OGC API Features"], response_class=JSONResponse,
            responses={200: {"model": FeatureModel}})
def item(
    request: Request,
    collection_id: str = Path(..., alias="collectionId"),
    feature_id: str = Path(..., alias="featureId"),
    f: ItemsFormat | None = Query(None, description="geojson/json (default) or html"),
    crs: str | None = Query(None, description=_CRS_DOC),
    principal: Principal = Depends(get_principal),
) -> Response:
    """One feature by its key (grid code, household id, …)."""
    state, col, ctx = _readable(request, collection_id)
    out_crs = _crs_uri(crs, param="crs")
    if col.key is None:
        raise NotFoundError(f"collection {collection_id} has no key column; page through "
                            "its items instead")
    name, lat_first = CRS_URIS[out_crs]
    try:
        key_value = col.cast(col.key, feature_id)
    except ValidationError:
        raise NotFoundError(f"no feature {feature_id!r} in collection {collection_id}") from None
    facts = scope_facts(ctx, state, principal)
    result, audit = col.features(
        state, principal, facts,
        PageRequest(limit=1, equals={col.key: key_value}, geojson=name in ("wgs84", "cgcs2000"),
                    flip=lat_first), publish_staff=ctx.publish_staff)
    if not result.rows:
        raise NotFoundError(f"no feature {feature_id!r} in collection {collection_id}")
    if audit:
        audit_page(state, principal, collection_id, [result.rows[0].key], 1,
                   detail=f"GET {request.url.path}")
    base = base_url(request)
    self_href = f"{base}/collections/{collection_id}/items/{feature_id}"
    links = [
        {"rel": "self", "type": GEOJSON, "href": f"{self_href}?f=json"},
        {"rel": "alternate", "type": "text/html", "href": f"{self_href}?f=html"},
        {"rel": "collection", "type": "application/json",
         "href": f"{base}/collections/{collection_id}"},
    ]
    if wants_html(request, f):
        rec = orjson.loads(result.rows[0].properties)
        rows = [{"k": col.labels.get(k, k), "v": v} for k, v in rec.items()]
        return html.page(f"{col.title} {feature_id}",
                         html.table(rows, [("k", "字段"), ("v", "值")]), links=links)
    text = _feature_texts(result, out_crs)[0]
    body = text[:-1] + ',"links":' + json.dumps(links, ensure_ascii=False) + "}"
    return Response(body, media_type=GEOJSON, headers={"Content-Crs": f"<{out_crs}>"})
