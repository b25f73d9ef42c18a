"""The closed loop on the reference county, on both stores: routing by the one locator,
enforced steps, the overdue sweep, concurrency."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gisgov.crs import wgs84_to_gcj02
from gisgov.errors import ConflictError, NotFoundError, StoreError, ValidationError
from gisgov.events.service import (
    Report,
    act,
    event_log,
    list_events,
    read_event,
    report_events,
    sweep,
)
from gisgov.locate import codes_at
from gisgov.store import WorkspaceBase

T0 = "2026-03-02T09:00:00+08:00"


def _snapshot(ws: WorkspaceBase, event_id: str) -> tuple[dict[str, Any], int]:
    row = read_event(ws, event_id)
    row.pop("geometry")
    return row, len(event_log(ws, event_id))


def _households(ws: WorkspaceBase, n: int, seed: int) -> Any:
    """``n`` random households among those inside a grid."""
    hh = ws.read("households")
    hh = hh[[c is not None for c in codes_at(hh.geometry, ws.read("grids"),
                                               )]]
    return hh.iloc[np.random.default_rng(seed).choice(len(hh), n, replace=False)]


def test_gcj02_phone_report_lands_in_the_grid_that_holds_the_point(
        events_ws: WorkspaceBase) -> None:
    """30 random household points, sent as a phone sends them (GCJ-02), are routed to the grid
    the locator puts the household in, with its community, subdistrict and grid leader."""
    hh = _households(events_ws, 30, seed=15)
    gx, gy = wgs84_to_gcj02(hh.geometry.x.to_numpy(), hh.geometry.y.to_numpy())
    assert np.abs(gx - hh.geometry.x.to_numpy()).min() > 1e-3  # hundreds of metres apart
    reports = [Report(float(x), float(y), "环境卫生", text="楼道堆物", crs="gcj02", at=T0)
               for x, y in zip(gx, gy, strict=True)]
    events = report_events(events_ws, reports)
    grids = events_ws.read("grids")
    expected = codes_at(hh.geometry.reset_index(drop=True), grids)
    assert events["grid_code"].tolist() == list(expected)
    community = dict(zip(grids["code"], grids["community_code"], strict=True))
    assert events["community_code"].tolist() == [community[c] for c in expected]
    assert events["subdistrict_code"].tolist() == [c[:9] for c in expected]
    staff = events_ws.read("staff")
    leaders = dict(zip(staff["grid_code"], staff["id"], strict=True))
    assert [h if isinstance(h, str) else None for h in events["handler_id"]] == \
        [leaders.get(c) for c in expected]
    # stored in WGS-84: within centimetres of the household, not the GCJ-02 position
    stored = events_ws.read("events").set_index("id").loc[events["id"]]
    assert np.allclose(stored.geometry.x.to_numpy(), hh.geometry.x.to_numpy(), atol=1e-6)
    assert set(stored["status"]) == {"reported"}
    assert set(stored["level"]) == {"grid"}
    assert stored["due"].iloc[0] == "2026-03-04T09:00:00+08:00"  # 环境卫生: 48 h at grid
    assert len(event_log(events_ws)) == 30


def test_report_outside_every_grid_or_unknown_category_changes_nothing(
        events_ws: WorkspaceBase) -> None:
    with pytest.raises(NotFoundError, match="不在任何网格内"):
        report_events(events_ws, [Report(100.0, 30.0, "环境卫生")])
    hh = _households(events_ws, 1, seed=1)
    with pytest.raises(ValidationError, match="未知的事件类别"):
        report_events(events_ws, [Report(float(hh.geometry.x.iloc[0]),
                                         float(hh.geometry.y.iloc[0]), "乱码类别")])
    assert events_ws.count("events") == 0
    assert events_ws.count("event_log") == 0


def _one(ws: WorkspaceBase, category: str = "矛盾纠纷", at: str = T0) -> str:
    hh = _households(ws, 1, seed=3)
    return str(report_events(ws, [Report(float(hh.geometry.x.iloc[0]),
                                         float(hh.geometry.y.iloc[0]), category, at=at)])
               ["id"].iloc[0])


def test_the_loop_cannot_be_closed_without_its_steps(events_ws: WorkspaceBase) -> None:
    eid = _one(events_ws)
    at = pd.Timestamp(T0)

    def step(action: str, by: str = "网格长", hours: float = 1, note: str | None = None
             ) -> dict[str, Any]:
        nonlocal at
        at += pd.Timedelta(hours=hours)
        return act(events_ws, eid, action, by=by, at=at, note=note)

    def refused(action: str, match: str, by: str = "网格长", note: str | None = None) -> None:
        before = _snapshot(events_ws, eid)
        with pytest.raises(ValidationError, match=match):
            step(action, by=by, note=note)
        assert _snapshot(events_ws, eid) == before  # nothing changed, nothing logged

    for skipped in ("resolve", "verify", "close", "reopen"):
        refused(skipped, "未做任何更改")
    assert step("accept")["status"] == "accepted"
    for skipped in ("accept", "verify", "close"):
        refused(skipped, "须先")
    assert step("resolve", by="网格长")["resolved_by"] == "网格长"
    refused("close", "须先核查")
    refused("verify", "核查人不能是办结人", by="网格长")
    refused("return", "须写明理由", by="社区核查员")
    back = step("return", by="社区核查员", note="未整改到位")
    assert back["status"] == "accepted"
    assert back["resolved_at"] is None
    step("resolve", by="网格长")
    assert step("verify", by="社区核查员")["status"] == "verified"
    closed = step("close", by="社区核查员")
    assert closed["status"] == "closed"
    assert closed["closed_at"] is not None
    refused("escalate", "不能吹哨", note="太慢")
    refused("reopen", "须写明理由")
    assert step("reopen", note="问题复发")["status"] == "reported"
    log = event_log(events_ws, eid)
    assert log["action"].tolist() == ["report", "accept", "resolve", "return", "resolve",
                                      "verify", "close", "reopen"]
    assert log["seq"].tolist() == list(range(1, 9))
    assert log["note"].iloc[3] == "未整改到位"
    assert log["actor"].iloc[5] == "社区核查员"
    with pytest.raises(ValidationError, match="早于"):
        act(events_ws, eid, "accept", by="x", at=T0)  # before the last step


def test_escalation_by_hand_goes_up_one_level_and_dispatches_at_department(
        events_ws: WorkspaceBase) -> None:
    eid = _one(events_ws, category="环境卫生")
    at = pd.Timestamp(T0)
    with pytest.raises(ValidationError, match="理由"):
        act(events_ws, eid, "escalate", at=at + pd.Timedelta(hours=1))
    levels = []
    for k in range(3):
        row = act(events_ws, eid, "escalate", by="网格长", note="需上级协调",
                  at=at + pd.Timedelta(hours=k + 1))
        levels.append(row["level"])
        assert row["status"] == "reported"
        assert row["escalations"] == k + 1
    assert levels == ["community", "subdistrict", "department"]
    unit = events_ws.read("units").set_index("id").loc[row["unit_id"]]
    assert unit["name"] == "县城管局"  # 环境卫生 → first unit of the catalogue's list
    assert row["due"] == "2026-03-07T12:00:00+08:00"  # 120 h at department from 12:00
    with pytest.raises(ValidationError, match="部门层级"):
        act(events_ws, eid, "escalate", note="再吹", at=at + pd.Timedelta(hours=9))
    reported = act(events_ws, eid, "accept", by=row["unit_id"], at=at + pd.Timedelta(hours=9))
    assert reported["status"] == "accepted"
    assert reported["level"] == "department"


def test_overdue_sweep_escalates_every_open_overdue_event_exactly_one_level(
        events_ws: WorkspaceBase) -> None:
    hh = _households(events_ws, 40, seed=9)
    categories = ["安全隐患", "环境卫生", "矛盾纠纷", "民生诉求"]  # 24, 48, 72, 120 h at grid
    reports = [Report(float(p.x), float(p.y), categories[i % 4],
                      at=f"2026-03-0{1 + i % 5}T08:00:00+08:00")
               for i, p in enumerate(hh.geometry)]
    ids = report_events(events_ws, reports)["id"].tolist()
    # some move on: accepted (still open), resolved (not open), one at community level
    act(events_ws, ids[0], "accept", by="a", at="2026-03-01T09:00:00+08:00")
    act(events_ws, ids[1], "accept", by="a", at="2026-03-02T09:00:00+08:00")
    act(events_ws, ids[1], "resolve", by="a", at="2026-03-02T10:00:00+08:00")
    act(events_ws, ids[2], "escalate", by="a", note="x", at="2026-03-03T09:00:00+08:00")
    now = pd.Timestamp("2026-03-06T12:00:00+08:00")
    before = events_ws.read("events").set_index("id")
    expected = {
        i: r["level"] for i, r in before.iterrows()
        if r["status"] in ("reported", "accepted") and pd.Timestamp(r["due"]) < now
    }
    assert 0 < len(expected) < len(before)  # the test has both kinds
    escalated = sweep(events_ws, now=now)
    order = ["grid", "community", "subdistrict", "department"]
    assert {e["id"]: e["from"] for e in escalated} == expected
    assert all(order.index(e["to"]) == order.index(e["from"]) + 1 for e in escalated)
    after = events_ws.read("events").set_index("id")
    for i, r in after.iterrows():
        if i in expected:
            assert r["level"] == order[order.index(expected[i]) + 1]
            assert r["status"] == "reported"
            assert pd.Timestamp(r["due"]) > now
            assert r["escalations"] == before.loc[i, "escalations"] + 1
        else:
            assert r["level"] == before.loc[i, "level"]
            assert r["status"] == before.loc[i, "status"]
    assert sweep(events_ws, now=now) == []  # exactly one level per sweep
    log = event_log(events_ws)
    sweeps = log[(log["action"] == "escalate") & (log["actor"] == "sweep")]
    assert sorted(sweeps["event_id"]) == sorted(expected)
    assert list_events(events_ws, overdue=True, now=now).empty


def test_two_concurrent_acceptances_cannot_both_apply(events_ws: WorkspaceBase) -> None:
    eid = _one(events_ws)
    results: list[str] = []
    barrier = threading.Barrier(4)

    def accept(who: str) -> None:
        barrier.wait()
        try:
            act(events_ws, eid, "accept", by=who, at="2026-03-02T10:00:00+08:00")
            results.append("ok")
        except (ValidationError, ConflictError, StoreError):
            results.append("refused")

    threads = [threading.Thread(target=accept, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ok", "refused", "refused", "refused"]
    log = event_log(events_ws, eid)
    assert log["action"].tolist() == ["report", "accept"]
