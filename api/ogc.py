"""OGC API – Features Part 1 core (and Part 2 CRS) over every layer and product table.

``/`` landing page, ``/conformance``, ``/api`` (in :mod:`api.app`), ``/collections``,
``/collections/{collectionId}``, ``/collections/{collectionId}/items`` and
``/collections/{collectionId}/items/{featureId}``. Feature ids are the layer key (grid code,
household id…). Output CRS (``crs``) and bbox CRS (``bbox-crs``) accept the URIs in
:data:`CRS_URIS`; EPSG:4326 and EPSG:4490 are written latitude first, as their authority
defines them, CRS84, EPSG:3857 and GCJ-02 x first. GCJ-02, the obfuscated system of Gaode/AMap
and WeChat maps, has no EPSG code: it is named by the private URN :data:`GCJ02_URI`.

Rows and columns are decided by the one policy (:mod:`gisgov.policy`, through
:mod:`api.policy_view`) before serialisation: a collection a role may not read is absent from
``/collections`` and a 403 on its routes; scoped roles get their area's rows only. Every
response that shows personal data is written to the audit log.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from html import escape
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from api import html
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
from api.policy_view import audit_read, context, require_table, scoped_keys, view
from api.state import INTERNAL_TABLES, AppState
from gisgov.crs import from_storage, transform_points
from gisgov.errors import NotFoundError
from gisgov.layers import LAYERS, STORAGE_CRS
from gisgov.policy import table_access
from gisgov.privacy import Principal

__all__ = [
    "CONFORMANCE",
    "CRS84",
    "CRS_URIS",
    "GCJ02_URI",
    "filterable_columns",
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


# ---- catalogue: layers and product tables ---------------------------------------------------

def _catalogue(state: AppState) -> dict[str, dict[str, Any]]:
    """Collections with title, key and extent, cached per workspace version."""
    ws = state.ws
    version = ws.version
    cached = state.extra.get("catalogue")
    if cached is not None and cached[0] == version:
        return dict(cached[1])
    out: dict[str, dict[str, Any]] = {}
    for name in ws.layers():
        spec = LAYERS[name]
        out[name] = {
            "kind": "layer", "title": spec.label_zh, "title_en": spec.label_en,
            "description": spec.description or f"{spec.label_zh} ({spec.label_en})",
            "key": spec.key, "bbox": ws.bounds(name) if spec.has_geometry else None,
            "columns": [(c.name, c.label_zh) for c in spec.columns],
        }
    for name in ws.tables():
        if name in INTERNAL_TABLES:
            continue
        frame = ws.read_table(name)
        bbox = None
        if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.notna().any():
            b = frame.geometry.dropna().total_bounds
            bbox = tuple(float(v) for v in b) if np.all(np.isfinite(b)) else None
        cols = [c for c in frame.columns if c != getattr(frame, "_geometry_column_name", None)]
        key = next((k for k in ("id", "code", "key", "household_id") if k in cols), None)
        out[name] = {
            "kind": "table", "title": name, "title_en": name,
            "description": "产品表 product table (scenario, report or job result)",
            "key": key, "bbox": bbox, "columns": [(c, c) for c in cols],
        }
    state.extra["catalogue"] = (version, out)
    return dict(out)


def _collection(state: AppState, collection_id: str) -> dict[str, Any]:
    cat = _catalogue(state)
    if collection_id not in cat:
        raise NotFoundError(f"no collection {collection_id!r}; see /collections")
    return cat[collection_id]


def filterable_columns(info: Mapping[str, Any], principal: Principal, name: str) -> set[str]:
    """Columns a caller may filter on: personal ones only when the role sees them plainly."""
    cols = {c for c, _ in info["columns"]}
    spec = LAYERS.get(name)
    if spec is None:
        return cols
    hidden = set()
    if principal.personal_access != "plain":
        hidden |= {c.name for c in spec.columns if c.personal}
    if not principal.sees_sensitive:
        hidden |= {c.name for c in spec.columns if c.sensitive}
    if name == "staff" and principal.role != "planner":
        hidden.add("member_id")  # the notice board's link to a member's home is not shown
    return cols - hidden


def _extent_for(principal: Principal, cid: str, info: Mapping[str, Any]) -> Mapping[str, Any]:
    """The extent of a whole table is published only when the caller may see every row:
    the corners of a households layer are the coordinates of its outermost households."""
    if table_access(cid, principal) == "all":
        return info
    return {**info, "bbox": None}


def _collection_doc(base: str, cid: str, info: Mapping[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": cid,
        "title": info["title"],
        "description": info["description"],
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
        ],
        "crs": list(CRS_URIS),
        "storageCrs": CRS84,
    }
    if info.get("bbox"):
        doc["extent"] = {"spatial": {"bbox": [list(info["bbox"])], "crs": CRS84}}
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


@router.get("/collections", summary="Collections 图层列表", tags=["OGC API Features"])
def collections(request: Request, f: Format | None = FQuery) -> Response:
    """Every layer present in the workspace and every published product table."""
    base = base_url(request)
    state = get_state(request)
    principal: Principal = request.state.principal
    publish = context(state).publish_staff
    cat = {cid: info for cid, info in _catalogue(state).items()
           if table_access(cid, principal, publish_staff=publish) != "none"}
    docs = [_collection_doc(base, cid, _extent_for(principal, cid, info))
            for cid, info in cat.items()]
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


@router.get("/collections/{collectionId}", summary="One collection 图层",
            tags=["OGC API Features"])
def collection(
    request: Request,
    collection_id: str = Path(..., alias="collectionId"),
    f: Format | None = FQuery,
) -> Response:
    """Title, extent, CRS list and links of one collection."""
    state = get_state(request)
    info = _collection(state, collection_id)
    principal = request.state.principal
    require_table(state, principal, collection_id)
    doc = _collection_doc(base_url(request), collection_id,
                          _extent_for(principal, collection_id, info))
    if wants_html(request, f):
        body = (f"<p>{escape(str(info['description']))}</p>"
                + html.table([{"column": c, "label": lab} for c, lab in info["columns"]],
                             [("column", "字段"), ("label", "名称")]))
        return html.page(f"{info['title']} ({collection_id})", body, links=doc["links"])
    return _json(doc)


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


def _cast_filter(name: str, info: Mapping[str, Any], collection_id: str, raw: str) -> Any:
    spec = LAYERS.get(collection_id)
    if spec is None:
        return raw
    dtype = spec.column(name).dtype
    try:
        if dtype == "int":
            return int(raw)
        if dtype == "float":
            return float(raw)
        if dtype == "bool":
            low = raw.lower()
            if low not in ("true", "false", "1", "0"):
                raise ValueError(raw)
            return low in ("true", "1")
    except ValueError:
        raise ApiProblemError(400, f"{name}={raw!r} is not a valid {dtype}") from None
    return raw


def _read_rows(state: AppState, collection_id: str, info: Mapping[str, Any], *,
               bbox: tuple[float, float, float, float] | None, where: dict[str, Any],
               limit: int | None, offset: int) -> tuple[gpd.GeoDataFrame, int | None]:
    """Rows ``offset..offset+limit`` (one extra to know whether there is a next page);
    ``limit=None`` reads every matching row."""
    ws = state.ws
    if info["kind"] == "layer":
        frame = ws.read(collection_id, bbox=bbox, where=where or None,
                        limit=None if limit is None else limit + 1, offset=offset)
        matched = None if bbox is not None else ws.count(collection_id, where=where or None)
        return frame, matched
    table = ws.read_table(collection_id)
    if not isinstance(table, gpd.GeoDataFrame):
        table = gpd.GeoDataFrame(table, geometry=gpd.GeoSeries([None] * len(table)),
                                 crs=STORAGE_CRS)
    mask = np.ones(len(table), dtype=bool)
    for col, val in where.items():
        values = table[col].astype(str).to_numpy()
        if isinstance(val, list):
            mask &= np.isin(values, [str(v) for v in val])
        else:
            mask &= values == str(val)
    if bbox is not None:
        mask &= table.geometry.intersects(shapely.box(*bbox)).to_numpy()
    hits = table[mask]
    if info.get("key"):
        hits = hits.sort_values(info["key"], kind="stable")
    if limit is None:
        return hits.iloc[offset:], len(hits)
    return hits.iloc[offset:offset + limit + 1], len(hits)


def _visible(state: AppState, principal: Principal, collection_id: str,
             info: Mapping[str, Any], *, bbox: tuple[float, float, float, float] | None,
             where: dict[str, Any], limit: int, offset: int, detail: str
             ) -> tuple[gpd.GeoDataFrame, int | None, bool]:
    """One page of the rows the policy lets the caller see: ``(frame, matched, has_next)``.

    Roles that see every row page in the store. Scoped roles page in the store too when their
    rows can be named by key (field staff, small areas); otherwise every matching row is read
    and the policy filters before paging, so pages and ``numberMatched`` count only visible
    rows.
    """
    access = require_table(state, principal, collection_id)
    key = info.get("key")
    in_store = access == "all"
    if access == "scope" and key:
        keys = scoped_keys(state, principal, collection_id)
        if keys is not None:
            wanted = where.get(key)
            if wanted is not None:
                keys = [k for k in keys if k == str(wanted)]
            where = {**where, key: keys}
            in_store = True
    if in_store:
        frame, matched = _read_rows(state, collection_id, info, bbox=bbox, where=where,
                                    limit=limit, offset=offset)
        has_next = len(frame) > limit
        decision = view(state, principal, collection_id, frame.iloc[:limit])
        if len(decision.frame) < min(len(frame), limit):  # the store and the policy disagree
            matched = None
    else:
        frame, _ = _read_rows(state, collection_id, info, bbox=bbox, where=where,
                              limit=None, offset=0)
        decision = view(state, principal, collection_id, frame)
        matched = len(decision.frame)
        has_next = matched > offset + limit
        page = decision.frame.iloc[offset:offset + limit]
        decision = type(decision)(page, decision.plain_shown and len(page) > 0,
                                  len(page) if decision.personal_rows else 0)
    audit_read(state, principal, collection_id, decision, key, detail=detail)
    out = decision.frame
    if not isinstance(out, gpd.GeoDataFrame):
        out = gpd.GeoDataFrame(out, geometry=frame.geometry.name, crs=frame.crs)
    return out, matched, has_next


def _features(frame: gpd.GeoDataFrame, *, key: str | None, crs_uri: str) -> list[str]:
    """GeoJSON feature texts (geometry serialised by GEOS, properties by json)."""
    geom_name = frame.geometry.name
    if frame.crs is None:
        frame = frame.set_crs(STORAGE_CRS)
    name, lat_first = CRS_URIS[crs_uri]
    if name != "wgs84" and frame.geometry.notna().any():
        frame = from_storage(frame, target_crs=name)
    geoms = np.asarray(frame.geometry.values, dtype=object)
    if lat_first:
        geoms = shapely.transform(geoms, lambda xy: xy[:, ::-1])
    texts = shapely.to_geojson(geoms)
    props = pd.DataFrame(frame.drop(columns=geom_name))
    records = props.astype(object).where(props.notna(), None).to_dict("records")
    out = []
    for i, (rec, g) in enumerate(zip(records, texts, strict=True)):
        fid = rec.get(key) if key else i
        out.append(
            '{"type":"Feature","id":' + json.dumps(fid, ensure_ascii=False, default=_default)
            + ',"geometry":' + (g if g is not None else "null") + ',"properties":'
            + json.dumps(rec, ensure_ascii=False, default=_default) + "}"
        )
    return out


_ITEMS_DOC = """Features of a collection, in pages.

Besides the declared parameters, any column of the collection may be used as an equality
filter (e.g. `community_code=410223001001`); personal columns only by roles that see them.
"""


@router.get(
    "/collections/{collectionId}/items",
    summary="Features 要素",
    tags=["OGC API Features"],
    description=_ITEMS_DOC,
    openapi_extra={DYNAMIC_QUERY: True},
    response_class=JSONResponse,
)
def items(
    request: Request,
    collection_id: str = Path(..., alias="collectionId"),
    f: ItemsFormat | None = Query(None, description="geojson/json (default) or html"),
    limit: int | None = Query(None, ge=1, description="Page size (default 100; values above "
                              "the maximum, 1000 by default, are clamped)"),
    offset: int = Query(0, ge=0, description="Rows to skip"),
    bbox: str | None = Query(None, description="minx,miny,maxx,maxy in bbox-crs"),
    bbox_crs: str | None = Query(None, alias="bbox-crs", description="CRS of bbox (URI)"),
    crs: str | None = Query(None, description=_CRS_DOC),
    datetime: str | None = Query(None, description="Accepted for OGC clients; no layer has "
                                 "a time dimension, so it filters nothing"),
    principal: Principal = Depends(get_principal),
) -> Response:
    """Features of one collection as GeoJSON (or an HTML table)."""
    state = get_state(request)
    info = _collection(state, collection_id)
    require_table(state, principal, collection_id)  # before any parameter check: 403 first
    declared = allowed_query_names(request)
    filters = filterable_columns(info, principal, collection_id)
    check_query(request, declared | filters)
    out_crs = _crs_uri(crs, param="crs")
    box = _parse_bbox(bbox, _crs_uri(bbox_crs, param="bbox-crs"))
    settings = state.settings
    page_size = min(limit or settings.default_limit, settings.max_limit)
    where = {k: _cast_filter(k, info, collection_id, v)
             for k, v in request.query_params.items() if k in filters and k not in declared}
    frame, matched, has_next = _visible(
        state, principal, collection_id, info, bbox=box, where=where, limit=page_size,
        offset=offset, detail=f"GET {request.url.path}?{request.url.query}")
    base = base_url(request)
    links = _page_links(request, base, collection_id, offset=offset, size=page_size,
                        has_next=has_next)
    if wants_html(request, f):
        props = pd.DataFrame(frame.drop(columns=frame.geometry.name))
        rows: list[dict[str, Any]] = props.astype(object).where(  # type: ignore[assignment]
            props.notna(), None).to_dict("records")
        labels = dict(info["columns"])
        cols = [(c, labels.get(c, c)) for c in props.columns]
        body = (f"<p>第 {offset + 1}–{offset + len(frame)} 条"
                + (f"，共 {matched} 条" if matched is not None else "") + "</p>"
                + html.table(rows, cols))
        return html.page(f"{info['title']} 要素", body, links=links)
    texts = _features(frame, key=info.get("key"), crs_uri=out_crs)
    head: dict[str, Any] = {"type": "FeatureCollection", "numberReturned": len(texts),
                            "timeStamp": pd.Timestamp.now(tz="UTC").isoformat(), "links": links}
    if matched is not None:
        head["numberMatched"] = matched
    body_text = json.dumps(head, ensure_ascii=False)[:-1] + ',"features":[' + ",".join(texts) + "]}"
    return Response(body_text, media_type=GEOJSON, headers={"Content-Crs": f"<{out_crs}>"})


def _page_links(request: Request, base: str, collection_id: str, *, offset: int, size: int,
                has_next: bool) -> list[dict[str, Any]]:
    """self/alternate/next/prev links carrying every parameter of the request."""
    params = [(k, v) for k, v in request.query_params.multi_items()
              if k not in ("offset", "limit", "f")]

    def href(new_offset: int, fmt: str) -> str:
        from urllib.parse import urlencode

        query = urlencode([*params, ("limit", str(size)), ("offset", str(new_offset)),
                           ("f", fmt)])
        return f"{base}/collections/{collection_id}/items?{query}"

    links = [
        {"rel": "self", "type": GEOJSON, "title": "本页 this page", "href": href(offset, "json")},
        {"rel": "alternate", "type": "text/html", "title": "网页 HTML",
         "href": href(offset, "html")},
        {"rel": "collection", "type": "application/json", "title": "图层 collection",
         "href": f"{base}/collections/{collection_id}"},
    ]
    if has_next:
        links.append({"rel": "next", "type": GEOJSON, "title": "下一页 next page",
                      "href": href(offset + size, "json")})
    if offset > 0:
        links.append({"rel": "prev", "type": GEOJSON, "title": "上一页 previous page",
                      "href": href(max(0, offset - size), "json")})
    return links


@router.get("/collections/{collectionId}/items/{featureId}", summary="One feature 要素",
            tags=["OGC API Features"], response_class=JSONResponse)
def item(
    request: Request,
    collection_id: str = Path(..., alias="collectionId"),
    feature_id: str = Path(..., alias="featureId"),
    f: ItemsFormat | None = Query(None, description="geojson/json (default) or html"),
    crs: str | None = Query(None, description=_CRS_DOC),
    principal: Principal = Depends(get_principal),
) -> Response:
    """One feature by its key (grid code, household id, …)."""
    state = get_state(request)
    info = _collection(state, collection_id)
    require_table(state, principal, collection_id)
    out_crs = _crs_uri(crs, param="crs")
    key = info.get("key")
    if key is None:
        raise NotFoundError(f"collection {collection_id} has no key column; page through "
                            "its items instead")
    frame, _, _ = _visible(state, principal, collection_id, info, bbox=None,
                           where={key: feature_id}, limit=1, offset=0,
                           detail=f"GET {request.url.path}")
    if not len(frame):
        raise NotFoundError(f"no feature {feature_id!r} in collection {collection_id}")
    base = base_url(request)
    self_href = f"{base}/collections/{collection_id}/items/{feature_id}"
    links = [
        {"rel": "self", "type": GEOJSON, "href": f"{self_href}?f=json"},
        {"rel": "alternate", "type": "text/html", "href": f"{self_href}?f=html"},
        {"rel": "collection", "type": "application/json",
         "href": f"{base}/collections/{collection_id}"},
    ]
    if wants_html(request, f):
        props = pd.DataFrame(frame.drop(columns=frame.geometry.name))
        rec = props.astype(object).where(props.notna(), None).to_dict("records")[0]
        labels = dict(info["columns"])
        rows = [{"k": labels.get(k, k), "v": v} for k, v in rec.items()]
        return html.page(f"{info['title']} {feature_id}",
                         html.table(rows, [("k", "字段"), ("v", "值")]), links=links)
    text = _features(frame, key=key, crs_uri=out_crs)[0]
    body = text[:-1] + ',"links":' + json.dumps(links, ensure_ascii=False) + "}"
    return Response(body, media_type=GEOJSON, headers={"Content-Crs": f"<{out_crs}>"})
