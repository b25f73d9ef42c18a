"""``POST /emergency/contacts``: the emergency contact sweep (应急联系名单) of an area.

The body names the area: ``{"circle": {"lon", "lat", "radius_m"}}`` or ``{"polygon": …}`` (a
GeoJSON geometry, Feature or FeatureCollection), with ``crs`` (``wgs84``, ``cgcs2000``,
``gcj02`` from a phone or Gaode, ``bd09`` from Baidu). The answer is the sweep of
:mod:`gisgov.emergency` as JSON, CSV (Chinese headers) or a printable page (``f``). It is a
POST because an area is a body (a polygon does not fit a URL), not because anything changes.

Coordinators get their own communities only, planners everything; field and public callers
are refused (403): the list spans grids. The rows and columns go through the one policy
(:func:`gisgov.policy.apply_policy`, inside :func:`gisgov.emergency.sweep_area`) and every
sweep that shows people is written to the audit log through the service's audit buffer.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.deps import get_principal, get_state, reject_unknown_query
from gisgov.emergency import circle_area, polygon_area, sweep_area, sweep_csv, sweep_html
from gisgov.emergency.area import MAX_RADIUS_M, SweepArea
from gisgov.errors import ValidationError
from gisgov.privacy import Principal

__all__ = ["Circle", "EmergencyArea", "router"]

router = APIRouter(dependencies=[Depends(reject_unknown_query), Depends(get_principal)],
                   tags=["Emergency 应急"])


class Circle(BaseModel):
    """A circle of ``radius_m`` metres around a position."""

    model_config = ConfigDict(extra="forbid")
    lon: float = Field(..., ge=-180, le=180, description="Longitude of the centre")
    lat: float = Field(..., ge=-90, le=90, description="Latitude of the centre")
    radius_m: float = Field(..., gt=0, le=MAX_RADIUS_M, description="Radius in metres")


class EmergencyArea(BaseModel):
    """The area to sweep: exactly one of ``circle`` or ``polygon``."""

    model_config = ConfigDict(extra="forbid")
    circle: Circle | None = None
    polygon: dict[str, Any] | None = Field(
        None, description="GeoJSON Polygon/MultiPolygon geometry, Feature or FeatureCollection")
    crs: Literal["wgs84", "cgcs2000", "gcj02", "bd09"] = Field(
        "wgs84", description="Coordinate system of the area: wgs84 (GPS), cgcs2000, gcj02 "
                             "(WeChat, Gaode/AMap, Tencent) or bd09 (Baidu)")

    @model_validator(mode="after")
    def _one_area(self) -> EmergencyArea:
        if (self.circle is None) == (self.polygon is None):
            raise ValueError("give exactly one of circle or polygon")
        return self


def _polygon(doc: dict[str, Any], crs: str, metric: Any) -> SweepArea:
    """A GeoJSON geometry, Feature or FeatureCollection as a sweep area (400 when unusable)."""
    import geopandas as gpd
    import shapely.geometry

    try:
        kind = doc.get("type")
        if kind == "FeatureCollection":
            frame = gpd.GeoDataFrame.from_features(doc.get("features") or [], crs=None)
        elif kind == "Feature":
            frame = gpd.GeoDataFrame.from_features([doc], crs=None)
        else:
            frame = gpd.GeoDataFrame(geometry=[shapely.geometry.shape(doc)], crs=None)
    except Exception as exc:  # shapely and geopandas raise many kinds for bad GeoJSON
        raise ValidationError(f"polygon is not GeoJSON: {type(exc).__name__}: "
                              f"{str(exc)[:200]}") from None
    if "geometry" not in frame or not len(frame):
        raise ValidationError("polygon holds no geometry")
    return polygon_area(frame.set_geometry("geometry"), crs=crs, metric_crs=metric,
                        label="划定区域")


_ANSWERS: dict[int | str, dict[str, Any]] = {200: {
    "description": "The sweep: JSON (f=json), the household list as CSV with Chinese headers "
                   "(f=csv) or the printable page (f=html)",
    "content": {"application/json": {"schema": {"type": "object"}},
                "text/csv": {"schema": {"type": "string"}},
                "text/html": {"schema": {"type": "string"}}}}}


@router.post("/emergency/contacts", summary="Emergency contact sweep 应急联系名单",
             responses=_ANSWERS)
def emergency_contacts(
    request: Request,
    body: EmergencyArea = Body(...),
    f: Literal["json", "csv", "html"] = Query("json", description="json, csv or html (print)"),
    principal: Principal = Depends(get_principal),
) -> Response:
    """Every household in the area, priority (elderly, disabled, low-income) first, with its
    red-grid member and the grid staff to call; coordinators: their communities only."""
    state = get_state(request)
    metric = state.ws.working_crs
    if body.circle is not None:
        area = circle_area(body.circle.lon, body.circle.lat, body.circle.radius_m,
                           crs=body.crs, metric_crs=metric)
    else:
        assert body.polygon is not None
        area = _polygon(body.polygon, body.crs, metric)

    def record(action: str, target: str, detail: str) -> None:
        state.audit.record(principal, action=action, target=target, detail=detail)

    result = sweep_area(state.ws, area, principal, record=record)
    if f == "csv":
        households, _ = sweep_csv(result)
        return Response(households, media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": "attachment; filename*=UTF-8''emergency-contacts.csv"})
    if f == "html":
        return Response(sweep_html(result), media_type="text/html; charset=utf-8")
    return Response(json.dumps(result.to_dict(), ensure_ascii=False),
                    media_type="application/json")
