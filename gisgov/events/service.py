"""Events in the workspace: report (routed by the locator), act, sweep, list.

Every change is one store transaction that writes the event and its ``event_log`` rows
together, so an event never moves without its record (and a crash loses neither). Each
action re-reads the event *inside* the transaction — the store admits one writer at a time
(GeoPackage ``BEGIN IMMEDIATE``, PostGIS advisory lock) — and checks its step there, so two
concurrent actions on one event cannot both apply: the second sees the first's result and is
refused by the state machine (:mod:`gisgov.events.loop`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gisgov.errors import NotFoundError, ValidationError
from gisgov.events.catalogue import Catalogue, load_catalogue
from gisgov.events.loop import (
    OPEN_STATUSES,
    Step,
    apply_action,
    format_time,
    is_overdue,
    parse_time,
)
from gisgov.layers import EVENT_LEVELS, EVENT_SOURCES, EVENT_STATUSES, LAYERS, STORAGE_CRS

__all__ = [
    "EVENTS",
    "EVENT_LOG",
    "Report",
    "act",
    "add_events",
    "dispatch_unit",
    "event_dict",
    "event_log",
    "list_events",
    "new_event_row",
    "overdue_mask",
    "read_event",
    "report_events",
    "report_log",
    "route_points",
    "sweep",
    "unit_on_escalation",
]

EVENTS = "events"
EVENT_LOG = "event_log"
#: Workspace meta key of the last event number handed out.
_SEQ_META = "events_seq"
#: Actor recorded for the automatic escalations of the overdue sweep.
SWEEP_ACTOR = "sweep"

Check = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Report:
    """One event as it is reported.

    Parameters
    ----------
    lon, lat
        Where, in ``crs``.
    category
        A catalogue category (Chinese name or code).
    text
        What was found.
    source
        ``field`` (grid worker), ``hotline`` (12345), ``resident`` or ``patrol``.
    reporter
        Who reported it.
    at
        When (ISO-8601; now by default).
    crs
        ``wgs84``, ``cgcs2000``, ``gcj02`` or ``bd09``.
    address, external_id
        The address and ticket number of a hotline work order.
    """

    lon: float
    lat: float
    category: str
    text: str | None = None
    source: str = "field"
    reporter: str | None = None
    at: str | pd.Timestamp | None = None
    crs: str = "wgs84"
    address: str | None = None
    external_id: str | None = None


def _now(at: Any = None) -> pd.Timestamp:
    return parse_time(pd.Timestamp.now(tz="UTC") if at is None else at)


def route_points(index: Any, lon: Sequence[float], lat: Sequence[float], crs: str = "wgs84"
                 ) -> tuple[np.ndarray, np.ndarray, list[dict[str, Any] | None]]:
    """WGS-84 positions and the routing of each point by the one locator.

    Parameters
    ----------
    index
        A :class:`gisgov.lookup.LookupIndex` of the workspace.
    lon, lat, crs
        The points as given.

    Returns
    -------
    tuple
        ``(x, y, routes)``: the points in WGS-84 and, per point, ``grid_code``,
        ``community_code``, ``subdistrict_code`` and ``handler_id`` (the grid leader), or
        ``None`` for a point outside every grid.
    """
    x, y = index.to_wgs84(lon, lat, crs)
    found = index.lookup_many(x, y, crs="wgs84", distances=False)
    cache: dict[str, dict[str, Any]] = {}
    routes: list[dict[str, Any] | None] = []
    for code in found.grid_codes.tolist():
        if code is None:
            routes.append(None)
            continue
        if code not in cache:
            info = index.grid_info(str(code))
            leader = info["leader"]
            cache[code] = {"grid_code": info["grid_code"],
                           "community_code": info["community_code"],
                           "subdistrict_code": info["subdistrict_code"],
                           "handler_id": leader.id if leader is not None else None}
        routes.append(cache[code])
    return x, y, routes


def report_events(ws: Any, reports: Sequence[Report], *, index: Any | None = None,
                  catalogue: Catalogue | None = None) -> gpd.GeoDataFrame:
    """Route and store reported events (all or none), each with its ``report`` log row.

    Parameters
    ----------
    ws
        The workspace.
    reports
        The events.
    index
        The workspace's :class:`gisgov.lookup.LookupIndex` (built when not given).
    catalogue
        The category catalogue (the workspace's when not given).

    Returns
    -------
    geopandas.GeoDataFrame
        The stored events, in the order given.

    Raises
    ------
    ValidationError
        An unknown category or source, a bad time or position; nothing is stored.
    NotFoundError
        A point outside every grid; nothing is stored.
    """
    if not reports:
        return gpd.GeoDataFrame(columns=[*LAYERS[EVENTS].column_names, "geometry"],
                                geometry="geometry", crs=STORAGE_CRS)
    cat = catalogue or load_catalogue(ws)
    if index is None:
        from gisgov.lookup import LookupIndex

        index = LookupIndex.from_workspace(ws)
    rows = _report_rows(index, reports, cat)
    return add_events(ws, rows, [[report_log(r)] for r in rows])


def report_log(row: dict[str, Any]) -> dict[str, Any]:
    """The ``report`` log entry of a new event row."""
    return {"event_id": row.get("id"), "action": "report", "actor": row["reporter"],
            "at": row["reported_at"], "note": row["text"], "from_status": None,
            "to_status": "reported", "from_level": None, "to_level": "grid",
            "grid_code": row["grid_code"], "unit_id": None}


def add_events(ws: Any, rows: list[dict[str, Any]], logs: list[list[dict[str, Any]]]
               ) -> gpd.GeoDataFrame:
    """Store new events and their log entries in one transaction, numbering both.

    Parameters
    ----------
    ws
        The workspace.
    rows
        Event rows (``id`` is assigned here: ``E`` and seven digits, after the last one).
    logs
        Per row, its log entries in order (``event_id`` is set here).

    Returns
    -------
    geopandas.GeoDataFrame
        The stored events.
    """
    with ws.transaction() as tx:
        first = int(tx.get_meta(_SEQ_META, 0)) + 1
        ids = _new_ids(tx, first, len(rows))
        entries = []
        for r, eid, steps in zip(rows, ids, logs, strict=True):
            r["id"] = eid
            entries += [{**step, "event_id": eid} for step in steps]
        frame = _frame(rows)
        tx.write(EVENTS, frame, mode="append")
        _append_log(tx, entries, fresh=True)
        tx.set_meta(_SEQ_META, int(ids[-1][1:]))
    return frame


def _report_rows(index: Any, reports: Sequence[Report], cat: Catalogue
                 ) -> list[dict[str, Any]]:
    by_crs: dict[str, list[int]] = {}
    for i, r in enumerate(reports):
        by_crs.setdefault(r.crs, []).append(i)
    xs = np.empty(len(reports))
    ys = np.empty(len(reports))
    routes: list[dict[str, Any] | None] = [None] * len(reports)
    for crs, idx in by_crs.items():
        x, y, found = route_points(index, [reports[i].lon for i in idx],
                                   [reports[i].lat for i in idx], crs)
        xs[idx], ys[idx] = x, y
        for i, route in zip(idx, found, strict=True):
            routes[i] = route
    rows = []
    for i, r in enumerate(reports):
        route = routes[i]
        if route is None:
            try:
                index.lookup(float(xs[i]), float(ys[i]))
            except NotFoundError as exc:
                raise NotFoundError(f"事件位置不在任何网格内, 未上报: {exc}") from None
            raise NotFoundError("事件位置不在任何网格内, 未上报")  # pragma: no cover
        if r.source not in EVENT_SOURCES:
            raise ValidationError(
                f"来源 {r.source!r} 无效; 可选: {', '.join(EVENT_SOURCES)} "
                "(field 网格员, hotline 12345 热线, resident 居民, patrol 巡查)"
            )
        rows.append(new_event_row(
            route, float(xs[i]), float(ys[i]), cat.get(r.category).name, _now(r.at), cat,
            text=r.text, source=r.source, reporter=r.reporter, address=r.address,
            external_id=r.external_id))
    return rows


def new_event_row(route: dict[str, Any], x: float, y: float, category: str,
                  at: pd.Timestamp, cat: Catalogue, **fields: Any) -> dict[str, Any]:
    """A just-reported event at WGS-84 ``(x, y)`` routed by ``route`` (see
    :func:`route_points`): at grid level, due after the category's grid hours."""
    when = format_time(at)
    base = {"text": None, "source": "field", "reporter": None, "address": None,
            "external_id": None}
    return {
        "category": category, **base, **fields, "reported_at": when, **route,
        "unit_id": None, "level": "grid", "status": "reported",
        "due": format_time(at + pd.Timedelta(hours=cat.hours(category, "grid"))),
        "escalations": 0, "updated_at": when, "geometry": shapely.Point(x, y),
    }


def _new_ids(tx: Any, first: int, n: int) -> list[str]:
    ids = [f"E{k:07d}" for k in range(first, first + n)]
    if tx.has_table(EVENTS) and tx.count(EVENTS, where={"id": ids}):
        # Events written around the counter (an import of another workspace's events):
        # continue after the highest number present.
        present = tx.read(EVENTS)["id"].astype(str)
        nums = pd.to_numeric(present.str.extract(r"^E(\d+)$")[0], errors="coerce")
        top = int(nums.max()) if nums.notna().any() else 0
        ids = [f"E{k:07d}" for k in range(top + 1, top + 1 + n)]
    return ids


def _frame(rows: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=STORAGE_CRS)


def _append_log(tx: Any, logs: list[dict[str, Any]], *, fresh: bool = False) -> None:
    """Number the log rows per event (after those stored) and append them."""
    if not logs:
        return
    ids = sorted({str(r["event_id"]) for r in logs})
    seen: dict[str, int] = {}
    if not fresh and tx.has_table(EVENT_LOG):
        stored = tx.read(EVENT_LOG, where={"event_id": ids})
        seen = {str(k): int(v) for k, v in stored.groupby("event_id")["seq"].max().items()}
    out = []
    for r in logs:
        eid = str(r["event_id"])
        seq = seen.get(eid, 0) + 1
        seen[eid] = seq
        out.append({"id": f"{eid}-{seq:03d}", "seq": seq, **r})
    frame = pd.DataFrame(out)
    tx.write(EVENT_LOG, gpd.GeoDataFrame(frame, geometry=[None] * len(frame),
                                         crs=STORAGE_CRS), mode="append")


def read_event(ws: Any, event_id: str) -> dict[str, Any]:
    """One event as a dict of its columns (``geometry`` a shapely point).

    Raises
    ------
    NotFoundError
        No such event.
    """
    frame = ws.read(EVENTS, where={"id": str(event_id)})
    if not len(frame):
        raise NotFoundError(f"没有编号为 {event_id} 的事件")
    return _row(frame, 0)


def _row(frame: gpd.GeoDataFrame, i: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for col, value in frame.iloc[i].items():
        out[str(col)] = None if (value is None or value is pd.NA or
                                 (isinstance(value, float) and np.isnan(value))) else value
    return out


def act(ws: Any, event_id: str, action: str, *, by: str | None = None,
        note: str | None = None, at: Any = None, catalogue: Catalogue | None = None,
        check: Check | None = None) -> dict[str, Any]:
    """Move one event through its loop (or escalate it) and log the step.

    Parameters
    ----------
    ws
        The workspace.
    event_id
        The event.
    action
        ``accept``, ``resolve``, ``verify``, ``close``, ``return``, ``reopen`` or
        ``escalate``.
    by, note, at
        Who, why, when (now by default).
    catalogue
        The category catalogue (the workspace's when not given).
    check
        Called with the event as stored, inside the transaction, before anything changes
        (the API's "may this caller act on this event"); raise to refuse.

    Returns
    -------
    dict
        The event after the step.

    Raises
    ------
    NotFoundError
        No such event.
    ValidationError
        The step does not follow (see :func:`gisgov.events.loop.apply_action`); nothing
        changed.
    """
    cat = catalogue or load_catalogue(ws)
    when = _now(at)
    with ws.transaction() as tx:
        row = read_event(tx, event_id)
        if check is not None:
            check(row)
        unit = unit_on_escalation(tx.read("units"), row, cat) if action == "escalate" \
            else None
        new, log = apply_action(row, Step(action, by, when, note, unit), cat)
        tx.update(EVENTS, _frame([new]))
        _append_log(tx, [log])
    return new


def unit_on_escalation(units: gpd.GeoDataFrame, row: dict[str, Any], cat: Catalogue
                       ) -> str | None:
    """The stationed unit an escalation of ``row`` dispatches to: one matched by category
    when the next level is the department, else ``None``."""
    i = EVENT_LEVELS.index(str(row["level"]))
    if i + 2 != len(EVENT_LEVELS):
        return None
    return dispatch_unit(units, cat.get(str(row["category"])).units, row.get("geometry"))


def dispatch_unit(units: gpd.GeoDataFrame, wanted: Sequence[str], point: Any) -> str | None:
    """The unit for a category: the first entry of ``wanted`` some unit's name or kind
    equals, and among those units the nearest to ``point`` (on the ellipsoid)."""
    if not len(units):
        return None
    names = units["name"].astype(str).to_numpy()
    kinds = units["kind"].astype(object).to_numpy()
    for entry in wanted:
        hit = np.flatnonzero((names == entry) | (kinds == entry))
        if not len(hit):
            continue
        if len(hit) == 1 or point is None:
            return str(units["id"].iloc[hit[0]])
        centres = shapely.centroid(np.asarray(units.geometry.values)[hit])
        ok = ~shapely.is_missing(centres) & ~shapely.is_empty(centres)
        if not ok.any():
            return str(units["id"].iloc[hit[0]])
        hit, centres = hit[ok], centres[ok]
        geod = pyproj.Geod(ellps="WGS84")
        n = len(hit)
        _, _, dist = geod.inv(np.full(n, point.x), np.full(n, point.y),
                              shapely.get_x(centres), shapely.get_y(centres))
        return str(units["id"].iloc[hit[int(np.argmin(dist))]])
    return None


def sweep(ws: Any, *, now: Any = None, catalogue: Catalogue | None = None
          ) -> list[dict[str, str]]:
    """Escalate every open overdue event exactly one level (吹哨), in one transaction.

    An event is open while reported or accepted and overdue when its due time is before
    ``now``; department-level events cannot go higher and stay (they count as overdue).
    Each escalation gets a new due time from ``now``, so one sweep moves an event one
    level however late it runs, and a second sweep at the same time moves nothing.

    Returns
    -------
    list of dict
        ``{"id", "from", "to"}`` per escalated event (levels), by id.
    """
    cat = catalogue or load_catalogue(ws)
    when = _now(now)
    out: list[dict[str, str]] = []
    with ws.transaction() as tx:
        if not tx.has_table(EVENTS):
            return out
        frame = tx.read(EVENTS, where={"status": list(OPEN_STATUSES)})
        units = tx.read("units")
        news, logs = [], []
        for i in range(len(frame)):
            row = _row(frame, i)
            if not is_overdue(row, when) or row["level"] == EVENT_LEVELS[-1]:
                continue
            unit = unit_on_escalation(units, row, cat)
            late = (when - parse_time(row["due"])) / pd.Timedelta(hours=1)
            new, log = apply_action(
                row, Step("escalate", SWEEP_ACTOR, when, f"超时 {late:.0f} 小时未办结, 自动吹哨",
                          unit), cat)
            news.append(new)
            logs.append(log)
            out.append({"id": str(row["id"]), "from": str(row["level"]),
                        "to": str(new["level"])})
        if news:
            tx.update(EVENTS, _frame(news))
            _append_log(tx, logs)
    return sorted(out, key=lambda d: d["id"])


def list_events(ws: Any, *, status: str | None = None, grid: str | None = None,
                overdue: bool = False, now: Any = None) -> gpd.GeoDataFrame:
    """Events filtered by status, grid and overdue-ness (at ``now``), by id."""
    where: dict[str, Any] = {}
    if status is not None:
        if status not in EVENT_STATUSES:
            raise ValidationError(f"状态 {status!r} 无效; 可选: {', '.join(EVENT_STATUSES)}")
        where["status"] = status
    if grid is not None:
        where["grid_code"] = str(grid)
    frame = ws.read(EVENTS, where=where or None)
    if overdue and len(frame):
        frame = frame[overdue_mask(frame, _now(now))].reset_index(drop=True)
    return frame


def overdue_mask(frame: pd.DataFrame, now: pd.Timestamp) -> np.ndarray:
    """Which events are open and past their due time at ``now``."""
    if not len(frame):
        return np.zeros(0, dtype=bool)
    due = pd.to_datetime(frame["due"], utc=True, errors="coerce", format="ISO8601")
    open_ = frame["status"].isin(OPEN_STATUSES).to_numpy()
    return open_ & (due < now).fillna(False).to_numpy(dtype=bool)


def event_dict(row: dict[str, Any] | pd.Series) -> dict[str, Any]:
    """An event as JSON: its columns plus ``lon``/``lat`` (WGS-84) instead of geometry."""
    data = dict(row)
    geom = data.pop("geometry", None)
    out: dict[str, Any] = {}
    for k, v in data.items():
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            out[k] = None
        elif isinstance(v, (np.integer,)):
            out[k] = int(v)
        elif isinstance(v, (np.floating,)):
            out[k] = float(v)
        else:
            out[k] = v
    if geom is not None and not geom.is_empty:
        out["lon"], out["lat"] = round(float(geom.x), 7), round(float(geom.y), 7)
    return out


def event_log(ws: Any, event_id: str | None = None) -> pd.DataFrame:
    """The log of one event (or every event), in order."""
    if not ws.has_table(EVENT_LOG):
        return pd.DataFrame(columns=LAYERS[EVENT_LOG].column_names)
    frame = pd.DataFrame(ws.read(EVENT_LOG, where={"event_id": event_id} if event_id else None))
    return frame.drop(columns="geometry").sort_values(["event_id", "seq"]).reset_index(drop=True)
