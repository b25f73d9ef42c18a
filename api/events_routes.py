"""Events (事件): ``POST /events`` reports one, ``POST /events/{id}/actions`` moves it.

Reading events is the OGC collection ``events`` (and ``event_log``), scoped by role through
:mod:`gisgov.policy` like households. Writing:

- **report**: any role but public (a field worker, a coordinator, a planner, with a key);
  the position may be GCJ-02 (a phone) or BD-09; the answer is 201 with the routed event.
- **act** (:mod:`gisgov.events.loop`): a field worker accepts, resolves, returns and
  escalates (吹哨) events of their own grids; a coordinator does everything the loop allows
  (verification and closing included) in their communities or subdistricts; a planner
  anywhere. The scope check runs inside the store transaction that makes the change, on the
  event as stored, so it cannot be raced. Every change is logged in ``event_log`` with the
  caller's key as actor and audited.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.deps import get_principal, get_state, reject_unknown_query
from gisgov.errors import PermissionDeniedError
from gisgov.layers import EVENT_SOURCES
from gisgov.policy import covers
from gisgov.privacy import Principal

__all__ = ["ActionIn", "EventIn", "router"]

router = APIRouter(dependencies=[Depends(reject_unknown_query), Depends(get_principal)],
                   tags=["Events 事件"])

#: Actions a field worker may take on their own grids' events; coordinators and planners
#: may take every action of the loop.
FIELD_ACTIONS = frozenset({"accept", "resolve", "return", "escalate"})


class EventIn(BaseModel):
    """An event as reported (the fields of ``gisgov events report``)."""

    model_config = ConfigDict(extra="forbid")

    lon: float = Field(..., ge=-180, le=180, description="Longitude")
    lat: float = Field(..., ge=-90, le=90, description="Latitude")
    crs: Literal["wgs84", "cgcs2000", "gcj02", "bd09"] = Field(
        "wgs84", description="wgs84 (GPS), cgcs2000, gcj02 (WeChat, Gaode) or bd09 (Baidu)")
    category: str = Field(..., min_length=1, max_length=40,
                          description="A catalogue category, e.g. 环境卫生")
    text: str | None = Field(None, max_length=2000, description="What was found")
    source: Literal[EVENT_SOURCES] = Field(  # type: ignore[valid-type]
        "field", description="field | hotline | resident | patrol")
    reporter: str | None = Field(None, max_length=100,
                                 description="Who reported it (default: the caller's key)")
    at: str | None = Field(None, max_length=40, description="When (ISO-8601; default now)")
    address: str | None = Field(None, max_length=200, description="Address, if any")


class ActionIn(BaseModel):
    """One step of an event's loop."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["accept", "resolve", "verify", "close", "return", "reopen", "escalate"]
    note: str | None = Field(None, max_length=2000,
                             description="Note; the reason for return, reopen and escalate")
    at: str | None = Field(None, max_length=40, description="When (ISO-8601; default now)")


def _not_public(principal: Principal, what: str) -> None:
    if principal.role == "public":
        raise PermissionDeniedError(f"{what} needs an API key (any role but public)")


@router.post("/events", status_code=201, summary="Report an event 上报事件",
             responses={404: {"description": "The position is outside every grid (the "
                                             "problem names the nearest grid)"}})
async def report_event(request: Request, body: EventIn,
                       principal: Principal = Depends(get_principal)) -> JSONResponse:
    """Report one event; it is routed to the grid holding the point (its community,
    subdistrict and grid leader), at grid level, with its due time from the catalogue."""
    from gisgov.events.service import Report, event_dict, report_events

    _not_public(principal, "reporting an event")
    state = get_state(request)
    report = Report(body.lon, body.lat, body.category, text=body.text, source=body.source,
                    reporter=body.reporter or principal.actor, at=body.at, crs=body.crs,
                    address=body.address)

    def run() -> dict[str, Any]:
        frame = report_events(state.ws, [report], index=state.index.get())
        doc = event_dict(frame.iloc[0])
        state.audit.record(principal, action="report_event", target=f"events {doc['id']}",
                           detail=f"grid {doc['grid_code']}")
        return doc

    return JSONResponse(await run_in_threadpool(run), status_code=201)


@router.post("/events/{event_id}/actions", summary="Act on an event 事件流转",
             responses={404: {"description": "No such event"}})
async def act_on_event(
    request: Request, body: ActionIn,
    event_id: str = Path(..., max_length=40, pattern=r"^[A-Za-z0-9_-]+$"),
    principal: Principal = Depends(get_principal),
) -> JSONResponse:
    """Accept, resolve, verify, close, return, reopen or escalate one event; 403 outside the
    caller's scope or for an action the role may not take, 400 for a skipped step (nothing
    changes either way)."""
    from gisgov.events.service import act, event_dict

    _not_public(principal, "acting on an event")
    state = get_state(request)

    def check(row: dict[str, Any]) -> None:
        grid, community, sub = (row.get("grid_code"), row.get("community_code"),
                                row.get("subdistrict_code"))
        if not covers(principal, grid, community, sub):
            raise PermissionDeniedError(f"event {event_id} is not in your scope")
        if principal.role == "field" and body.action not in FIELD_ACTIONS:
            raise PermissionDeniedError(
                f"a field key may {', '.join(sorted(FIELD_ACTIONS))} its grids' events, not "
                f"{body.action} (核查/结案 are the community's)")

    def run() -> dict[str, Any]:
        new = act(state.ws, event_id, body.action, by=principal.actor, note=body.note,
                  at=body.at, check=check)
        state.audit.record(principal, action=f"event_{body.action}",
                           target=f"events {event_id}", detail=f"now {new['status']} at "
                                                               f"{new['level']}")
        return event_dict(new)

    return JSONResponse(await run_in_threadpool(run))
