"""A seeded year of events for the sample county, run through the real closed loop.

The rates are assumptions chosen to be plausible in magnitude, not measurements of any
county; they are stated here so the maps and statistics can be read against them:

- **Volume**: :data:`EVENTS_PER_HOUSEHOLD_YEAR` = 0.35 events per household per year, i.e. about
  35 a year (two or three a month) for a grid of 100 households, or about 6,000 a year for the
  reference county's ~17,400 urban households. A grid worker who patrols the grid weekly finds
  an issue or two a month; hotline volumes are of the same order (Beijing's 12345 takes over
  ten million requests a year for some 22 million residents, well under one per household,
  and only part of them are local, on-the-ground matters).
- **Sources**: 50% grid workers (``field``), 30% the 12345 hotline, 12% residents directly,
  8% patrols — grid work is found mostly by the grid's own people.
- **Categories**: 环境卫生 30%, 设施损坏 22%, 民生诉求 20%, 矛盾纠纷 15%, 安全隐患 10%,
  其他事项 3%; a summer peak (±25%, highest in July) for sanitation and facilities, none
  for the rest; reports fall between 07:00 and 21:00, fewer at weekends (×0.6) for field
  workers.
- **Handling**: acceptance after an exponential delay (mean 2 h at grid level, 6 h above);
  the work takes a log-normal time with median 35% of the level's hours (σ 0.6), so about 4%
  overrun their due time and are escalated by the hourly sweep (吹哨); 5% of grid events and
  3% of community events are escalated by hand at once (matters beyond the grid, "小事不出
  网格、大事不出社区" leaving ~90% at grid level); 6% of resolutions fail verification and are
  returned (退回) once; verification follows after a mean of 12 h by someone other than the
  resolver, closing a mean of 6 h later.

Every step goes through :func:`gisgov.events.loop.apply_action` (the same state machine as
``gisgov events act``) and the dispatch of :func:`gisgov.events.service.dispatch_unit`, so the
seeded history obeys every rule a live one does. Events whose next step falls after ``end``
stay where they are: the last weeks hold open and some overdue events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gisgov.errors import ValidationError
from gisgov.events.catalogue import Catalogue, load_catalogue
from gisgov.events.loop import Step, apply_action, parse_time
from gisgov.events.service import (
    EVENTS,
    add_events,
    new_event_row,
    report_log,
    route_points,
    unit_on_escalation,
)
from gisgov.layers import EVENT_LEVELS

__all__ = ["EVENTS_PER_HOUSEHOLD_YEAR", "seed_events"]

EVENTS_PER_HOUSEHOLD_YEAR = 0.35
_SOURCES = {"field": 0.50, "hotline": 0.30, "resident": 0.12, "patrol": 0.08}
_CATEGORIES = {"环境卫生": 0.30, "设施损坏": 0.22, "民生诉求": 0.20, "矛盾纠纷": 0.15,
               "安全隐患": 0.10, "其他事项": 0.03}
_SEASONAL = frozenset({"环境卫生", "设施损坏"})
_TEXTS = {
    "环境卫生": ("楼道堆放杂物", "垃圾清运不及时", "绿化带有积水", "小区内污水外溢"),
    "设施损坏": ("路灯不亮", "井盖破损", "楼道灯损坏", "健身器材损坏"),
    "民生诉求": ("咨询低保办理", "老人需要助餐服务", "反映停水", "申请无障碍改造"),
    "矛盾纠纷": ("邻里噪音纠纷", "楼上漏水引发纠纷", "停车位纠纷", "物业费纠纷"),
    "安全隐患": ("电动车楼道充电", "消防通道被占", "燃气管道老化", "外墙脱落风险"),
    "其他事项": ("流浪动物扰民", "违规张贴小广告"),
}
_HAND_ESCALATE = {"grid": 0.05, "community": 0.03, "subdistrict": 0.0}
_RETURN = 0.06
_WORK_MEDIAN_SHARE = 0.35
_WORK_SIGMA = 0.6


@dataclass
class _Sim:
    """One event's history being played through the loop."""

    row: dict[str, Any]
    logs: list[dict[str, Any]]


def seed_events(ws: Any, *, seed: int = 1, end: Any = None) -> dict[str, int]:
    """Add a simulated year of events ending at ``end`` to a workspace with grids.

    Parameters
    ----------
    ws
        The workspace (grids, households and staff; units for department dispatch).
    seed
        Random seed: the same seed on the same workspace gives the same events.
    end
        The end of the simulated year (default now).

    Returns
    -------
    dict
        ``events``, ``escalated`` (events escalated at least once), ``open``.

    Raises
    ------
    ValidationError
        The workspace already holds events, or has no grids or households.
    """
    from gisgov.lookup import LookupIndex

    if ws.count(EVENTS):
        raise ValidationError(f"the workspace already holds {ws.count(EVENTS)} events; "
                              "seeding is for a workspace without events")
    rng = np.random.default_rng(seed)
    stop = parse_time(pd.Timestamp.now(tz="UTC") if end is None else end)
    start = stop - pd.Timedelta(days=365)
    cat = load_catalogue(ws)
    households = ws.read("households")
    index = LookupIndex.from_workspace(ws)
    if not len(households) or not len(index):
        raise ValidationError("seeding events needs households and grids (run `gisgov grids`)")
    n = int(rng.poisson(EVENTS_PER_HOUSEHOLD_YEAR * len(households)))
    pick = rng.integers(0, len(households), n)
    pts = households.geometry.values[pick]
    # within ~20 m of a home: events happen where people live, not on their doorstep
    lat0 = float(np.nanmean(pts.y)) if n else 0.0
    dx = rng.normal(0, 20, n) / (111_320 * np.cos(np.radians(lat0)))
    dy = rng.normal(0, 20, n) / 110_540
    x, y, routes = route_points(index, pts.x + dx, pts.y + dy)
    units = ws.read("units")
    categories = [c for c in _CATEGORIES if c in cat.categories] or list(cat.categories)
    weights = np.array([_CATEGORIES.get(c, 0.03) for c in categories])
    rows, logs = [], []
    for i in range(n):
        route = routes[i]
        if route is None:
            continue
        category = str(rng.choice(categories, p=weights / weights.sum()))
        source = str(rng.choice(list(_SOURCES), p=list(_SOURCES.values())))
        at = _report_time(rng, start, category, source)
        row = new_event_row(route, float(x[i]), float(y[i]), category, at, cat,
                            text=str(rng.choice(_TEXTS.get(category, ("其他",)))),
                            source=source, reporter=_reporter(route, source, i))
        row["id"] = f"new{i}"
        sim = _Sim(row, [report_log(row)])
        _play(sim, rng, cat, units, stop)
        rows.append(sim.row)
        logs.append(sim.logs)
    order = np.argsort([r["reported_at"] for r in rows], kind="stable")
    rows, logs = [rows[k] for k in order], [logs[k] for k in order]
    if rows:
        add_events(ws, rows, logs)
    return {"events": len(rows),
            "escalated": sum(1 for r in rows if int(r["escalations"] or 0) > 0),
            "open": sum(1 for r in rows if r["status"] != "closed")}


def _report_time(rng: np.random.Generator, start: pd.Timestamp, category: str,
                 source: str) -> pd.Timestamp:
    """A day of the year (seasonal for some categories, fewer field reports at weekends)
    and a daytime hour."""
    while True:
        day = int(rng.integers(0, 365))
        when = start.normalize() + pd.Timedelta(days=day)
        weight = 1.0
        if category in _SEASONAL:
            weight *= 1 + 0.25 * np.cos(2 * np.pi * (when.day_of_year - 196) / 365)
        if source == "field" and when.day_of_week >= 5:
            weight *= 0.6
        if rng.random() * 1.25 <= weight:
            break
    minutes = int(rng.integers(7 * 60, 21 * 60))
    return when + pd.Timedelta(minutes=minutes)


def _reporter(route: dict[str, Any], source: str, i: int) -> str:
    if source == "field":
        return str(route.get("handler_id") or f"网格员 {route['grid_code']}")
    if source == "patrol":
        return f"巡查 {route['community_code']}"
    return f"{'12345 来电' if source == 'hotline' else '居民'} {i % 997:03d}"


def _play(sim: _Sim, rng: np.random.Generator, cat: Catalogue, units: Any,
          stop: pd.Timestamp) -> None:
    """Move the event through the loop until it closes or the next step is after ``stop``."""
    t = parse_time(sim.row["reported_at"])
    while True:
        level = str(sim.row["level"])
        due = parse_time(sim.row["due"])
        sweep_at = due + pd.Timedelta(minutes=int(rng.integers(1, 60)))
        top = level == EVENT_LEVELS[-1]
        if not top and rng.random() < _HAND_ESCALATE.get(level, 0.0):
            when = t + pd.Timedelta(hours=float(rng.uniform(1, 12)))
            if not _do(sim, "escalate", sim.row.get("handler_id") or f"{level}", when, stop,
                       cat, units, note="超出本级处置能力, 吹哨上报"):
                return
            t = when
            continue
        accept_at = t + pd.Timedelta(hours=float(rng.exponential(2.0 if level == "grid"
                                                                 else 6.0)))
        work = pd.Timedelta(hours=float(
            cat.hours(str(sim.row["category"]), level) * _WORK_MEDIAN_SHARE
            * np.exp(rng.normal(0, _WORK_SIGMA))))
        if not top and accept_at + work > due:
            if accept_at < due and not _do(sim, "accept", _handler(sim.row), accept_at, stop,
                                           cat, units):
                return
            if not _do(sim, "escalate", "sweep", sweep_at, stop, cat, units,
                       note="超时未办结, 自动吹哨"):
                return
            t = sweep_at
            continue
        if not _finish(sim, rng, cat, units, stop, accept_at, work):
            return
        return


def _finish(sim: _Sim, rng: np.random.Generator, cat: Catalogue, units: Any,
            stop: pd.Timestamp, accept_at: pd.Timestamp, work: pd.Timedelta) -> bool:
    """Accept, resolve, verify (once returned, sometimes) and close."""
    who = _handler(sim.row)
    checker = f"核查 {sim.row.get('community_code')}"
    if not _do(sim, "accept", who, accept_at, stop, cat, units):
        return False
    t = accept_at + work
    if not _do(sim, "resolve", who, t, stop, cat, units):
        return False
    t += pd.Timedelta(hours=float(rng.exponential(12.0)))
    if rng.random() < _RETURN:
        if not _do(sim, "return", checker, t, stop, cat, units, note="现场核查未整改到位"):
            return False
        t += work / 2
        if not _do(sim, "resolve", who, t, stop, cat, units):
            return False
        t += pd.Timedelta(hours=float(rng.exponential(12.0)))
    if not _do(sim, "verify", checker, t, stop, cat, units):
        return False
    t += pd.Timedelta(hours=float(rng.exponential(6.0)))
    return _do(sim, "close", checker, t, stop, cat, units)


def _handler(row: dict[str, Any]) -> str:
    level = str(row["level"])
    if level == "grid":
        return str(row.get("handler_id") or f"网格 {row['grid_code']}")
    if level == "department":
        return str(row.get("unit_id") or "部门")
    code = row["community_code"] if level == "community" else row["subdistrict_code"]
    return f"{'社区' if level == 'community' else '街道'} {code}"


def _do(sim: _Sim, action: str, actor: str, at: pd.Timestamp, stop: pd.Timestamp,
        cat: Catalogue, units: Any, note: str | None = None) -> bool:
    """Apply one step when it happens before ``stop`` (False: the history ends here)."""
    if at > stop:
        return False
    unit = unit_on_escalation(units, sim.row, cat) if action == "escalate" else None
    sim.row, log = apply_action(sim.row, Step(action, actor, at, note, unit), cat)
    sim.logs.append(log)
    return True
