"""Responsibility lookup: ``/lookup`` for one position, ``/lookup/batch`` for many.

Answers come from the in-process :class:`gisgov.lookup.LiveIndex` (never a store query per
request), redacted by role: the grid's posted leader and workers as on its notice board;
other names and phones shown to field staff in their own grids (they visit and call them),
masked for field staff elsewhere and absent for the public; households only for roles that
may see the grid's households. Every answer carries ``nav``: the position in GCJ-02 and
BD-09 for the field page's 导航 links. Unmasked answers are audited (committed before the
answer is sent; :class:`api.state.AuditBuffer` commits concurrent records together).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Literal

import numpy as np
import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api import html
from api.deps import get_principal, get_state, reject_unknown_query, wants_html
from api.errors import ApiProblemError
from api.policy_view import cached_context, context
from gisgov.crs import navigation_point
from gisgov.errors import ValidationError
from gisgov.policy import PUBLISHED_STAFF_ROLES
from gisgov.privacy import Principal, redact_lookup, redact_person

__all__ = ["router"]

# Both routes take the caller as a parameter (``Depends(get_principal)``); declaring it on
# the router as well would have FastAPI solve it twice per request.
router = APIRouter(dependencies=[Depends(reject_unknown_query)], tags=["Lookup 责任查询"])

InputCrs = Literal["wgs84", "cgcs2000", "gcj02", "bd09"]
_CRS_DOC = ("Coordinate system of the position: wgs84 (GPS), cgcs2000, gcj02 (WeChat, "
            "Gaode/AMap, Tencent) or bd09 (Baidu)")


@router.get("/lookup", summary="Who is responsible here? 网格责任查询")
async def lookup(
    request: Request,
    lon: float = Query(..., ge=-180, le=180, description="Longitude"),
    lat: float = Query(..., ge=-90, le=90, description="Latitude"),
    crs: InputCrs = Query("wgs84", description=_CRS_DOC),
    f: Literal["json", "html"] | None = Query(None, description="json (default) or html"),
    principal: Principal = Depends(get_principal),
) -> Response:
    """Subdistrict, community and grid of a position, its staff, and the household there.

    A point on a shared grid edge resolves to the lowest grid code (``on_boundary: true``);
    outside every grid the answer is a 404 problem naming the nearest grid and the distance.
    """
    # The hot path: the index and the policy facts are read from memory (the index's watcher
    # thread keeps them current), the lookup itself is ~0.2 ms of CPU and runs here, on the
    # event loop (a worker-thread hop would cost about as much again); only a first build,
    # an inline version check (index_check_seconds=0) or new policy facts go to a thread.
    state = get_state(request)
    index = state.index.ready()
    if index is None:
        index = await run_in_threadpool(state.index.get)
    ctx = cached_context(state)
    if ctx is None:
        ctx = await run_in_threadpool(context, state)
    result = index.lookup(lon, lat, crs=crs, households=principal.covers)
    doc, plain = redact_lookup(result, principal, publish_staff=ctx.publish_staff)
    doc["nav"] = _nav(result.lon, result.lat)
    if plain or doc["households"]:
        # committed (in a group with other requests' records) before anything is sent
        await state.audit.record_async(
            principal, action="lookup", target=f"grid {result.grid.code}",
            detail=f"({lon}, {lat}) {crs}; households "
                   f"{','.join(h['id'] for h in doc['households'][:20])}")
    if wants_html(request, f):
        rows = [
            {"k": "街道", "v": doc["subdistrict"]}, {"k": "社区", "v": doc["community"]},
            {"k": "网格", "v": doc["grid"]}, {"k": "在网格边界上", "v": "是" if doc["on_boundary"]
                                            else "否"},
            {"k": "距网格边界(米)", "v": doc["distance_to_boundary_m"]},
            {"k": "网格长", "v": doc["leader"]}, {"k": "网格员", "v": doc["workers"]},
            {"k": "楼栋", "v": doc["building"]}, {"k": "住户", "v": doc["households"]},
        ]
        return html.page("网格责任查询", html.table(rows, [("k", "项目"), ("v", "内容")]))
    return Response(orjson.dumps(doc), media_type="application/json")


def _nav(lon: float, lat: float) -> dict[str, list[float]]:
    """The position in the systems of China's navigation apps (Gaode: GCJ-02, Baidu: BD-09),
    so the field page's "导航" links land on the spot, not a few hundred metres off."""
    (gx, gy), (bx, by) = navigation_point(lon, lat)
    return {"gcj02": [round(gx, 6), round(gy, 6)], "bd09": [round(bx, 6), round(by, 6)]}


_BATCH_BODY = {
    "required": True,
    "content": {
        "text/csv": {"schema": {"type": "string", "description": "Header row with lon,lat "
                                "and optionally id; UTF-8"}},
        "application/geo+json": {"schema": {"type": "object", "description":
                                            "A FeatureCollection of Point features"}},
        "application/json": {"schema": {"type": "object", "description":
                                        "A FeatureCollection of Point features"}},
    },
}


def _points_from_body(body: bytes, content_type: str, parsed: Any = None
                      ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Ids and positions of a batch; ``parsed``: the JSON document already checked by
    :mod:`api.guards` (not parsed twice)."""
    text = body.decode("utf-8-sig", errors="strict") if body else ""
    if not text.strip():
        raise ApiProblemError(400, "empty body: send CSV (lon,lat[,id]) or a GeoJSON "
                              "FeatureCollection of points")
    if "csv" in content_type or (parsed is None and not text.lstrip().startswith("{")):
        try:
            return _points_from_csv(text)
        except csv.Error as exc:
            # e.g. a field over csv.field_size_limit() (131,072 characters): a bad upload
            why = str(exc)
            if "field limit" in why:
                why = f"a field is longer than {csv.field_size_limit():,} characters"
            raise ApiProblemError(400, f"CSV cannot be read: {why}") from None
    if parsed is not None:
        return _points_from_json(parsed)
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        msg = getattr(exc, "msg", "nested too deeply")
        raise ApiProblemError(400, f"body is not JSON: {msg}") from None
    return _points_from_json(doc)


def _points_from_csv(text: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    reader = csv.DictReader(io.StringIO(text))
    fields = {(k or "").strip().lower(): k for k in reader.fieldnames or []}
    lon_col = next((fields[c] for c in ("lon", "lng", "x", "经度") if c in fields), None)
    lat_col = next((fields[c] for c in ("lat", "y", "纬度") if c in fields), None)
    if lon_col is None or lat_col is None:
        raise ApiProblemError(400, "CSV needs columns lon and lat (or x, y / 经度, 纬度)")
    id_col = fields.get("id")
    ids, xs, ys = [], [], []
    for i, row in enumerate(reader):
        try:
            xs.append(float(row[lon_col]))
            ys.append(float(row[lat_col]))
        except (TypeError, ValueError):
            raise ApiProblemError(400, f"CSV row {i + 2}: lon/lat must be numbers") from None
        ids.append(str(row[id_col]) if id_col and row.get(id_col) else str(i))
    return ids, np.array(xs, dtype=float), np.array(ys, dtype=float)


def _points_from_json(doc: Any) -> tuple[list[str], np.ndarray, np.ndarray]:
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(features, list):
        raise ApiProblemError(400, "GeoJSON body must be a FeatureCollection with a features list")
    ids, xs, ys = [], [], []
    for i, feat in enumerate(features):
        geom = feat.get("geometry") if isinstance(feat, dict) else None
        coords = geom.get("coordinates") if isinstance(geom, dict) else None
        if not (isinstance(geom, dict) and geom.get("type") == "Point"
                and isinstance(coords, list) and len(coords) >= 2
                and all(isinstance(c, (int, float)) and not isinstance(c, bool)
                        for c in coords[:2])):
            raise ApiProblemError(400, f"feature {i} is not a Point with numeric coordinates")
        xs.append(float(coords[0]))
        ys.append(float(coords[1]))
        fid = feat.get("id", (feat.get("properties") or {}).get("id")
                       if isinstance(feat.get("properties"), dict) else None)
        ids.append(str(fid) if fid is not None else str(i))
    return ids, np.array(xs, dtype=float), np.array(ys, dtype=float)


def _person(p: Any, principal: Principal, posted: bool, in_scope: bool = False
            ) -> dict[str, Any] | None:
    if p is None:
        return None
    if posted and p.role in PUBLISHED_STAFF_ROLES:
        return {"id": p.id, "role": p.role, "name": p.name, "phone": p.phone}
    shown = redact_person(p.name, p.phone, principal, in_scope=in_scope)
    return {"id": p.id, "role": p.role, **(shown or {})}


_BATCH_COLUMNS = ["id", "lon", "lat", "grid_code", "grid_name", "community_code",
                  "community_name", "subdistrict_code", "subdistrict_name", "on_boundary",
                  "distance_to_boundary_m", "leader_name", "leader_phone"]


@router.post("/lookup/batch", summary="Lookup for many points 批量责任查询",
             openapi_extra={"requestBody": _BATCH_BODY})
async def lookup_batch(
    request: Request,
    crs: InputCrs = Query("wgs84", description=_CRS_DOC),
    f: Literal["json", "csv"] = Query("json", description="Output: json or csv"),
    principal: Principal = Depends(get_principal),
) -> Response:
    """Grid, community, subdistrict and grid leader of every point (CSV or GeoJSON in)."""
    # The body arrives through api.guards (413 past GISGOV_MAX_BATCH_BYTES, before or while
    # it streams); parsing and the lookups are CPU work and run in a worker thread, so a
    # 100k-point batch does not stall the event loop for every other request.
    body = await request.body()
    parsed = getattr(request.state, "json_body", None)
    return await run_in_threadpool(_batch, request, body, parsed, crs, f, principal)


def _batch(request: Request, body: bytes, parsed: Any, crs: str, f: str,
           principal: Principal) -> Response:
    state = get_state(request)
    try:
        ids, xs, ys = _points_from_body(body, request.headers.get("content-type", ""), parsed)
    except UnicodeDecodeError:
        raise ApiProblemError(400, "body must be UTF-8 text") from None
    if len(xs) > state.settings.max_batch:
        raise ApiProblemError(413, f"{len(xs)} points; at most {state.settings.max_batch} per batch")
    index = state.index.get()
    posted = context(state).publish_staff
    try:
        result = index.lookup_many(xs, ys, crs=crs)
    except ValidationError as exc:
        raise ApiProblemError(400, str(exc)) from None
    cache: dict[str, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    plain = False
    for i, code in enumerate(result.grid_codes.tolist()):
        row: dict[str, Any] = dict.fromkeys(_BATCH_COLUMNS)
        row.update(id=ids[i], lon=float(xs[i]), lat=float(ys[i]))
        if code is not None:
            if code not in cache:
                cache[code] = index.grid_info(code)
            info = cache[code]
            row.update({k: info[k] for k in ("grid_code", "grid_name", "community_code",
                                              "community_name", "subdistrict_code",
                                              "subdistrict_name")})
            row["on_boundary"] = bool(result.on_boundary[i])
            row["distance_to_boundary_m"] = round(float(result.distance_m[i]), 2)
            mine = principal.covers(code, info["community_code"], info["subdistrict_code"])
            leader = _person(info["leader"], principal, posted, mine)
            if leader is not None:
                row["leader_name"], row["leader_phone"] = leader.get("name"), leader.get("phone")
                plain = plain or (principal.access_for(mine) == "plain" and not posted
                                  and bool(leader.get("name") or leader.get("phone")))
        rows.append(row)
    if plain:
        state.audit.record(principal, action="export", target="lookup/batch",
                           detail=f"{len(rows)} point(s), leaders' names and phones")
    if f == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=_BATCH_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for i in range(0, len(rows), _SLICE):
            writer.writerows(rows[i:i + _SLICE])
        return Response(buf.getvalue().encode("utf-8-sig"), media_type="text/csv; charset=utf-8")
    head = json.dumps({"count": len(rows), "found": int((result.grid_index >= 0).sum())},
                      ensure_ascii=False)
    return Response(head[:-1].encode() + b', "results": [' + _json_items(rows) + b"]}",
                    media_type="application/json")


#: Rows serialised per C call. json.dumps and csv.writerows hold the GIL for the whole call
#: (0.9 s for 100,000 rows), which would stall the event loop even from a worker thread;
#: slices of this size give it the GIL back every ~20 ms.
_SLICE = 2000


def _json_items(rows: list[dict[str, Any]]) -> bytes:
    """``json.dumps(rows)`` without its brackets, as UTF-8, written a slice at a time."""
    return b", ".join(json.dumps(rows[i:i + _SLICE], ensure_ascii=False)[1:-1].encode()
                      for i in range(0, len(rows), _SLICE))
