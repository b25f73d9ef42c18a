"""Events over HTTP on the reference county, both stores: a GCJ-02 phone report is routed;
a field key sees and acts on its own grids' events only; roles decide who may do what."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from gisgov.crs import wgs84_to_gcj02
from gisgov.events.service import Report, event_log, report_events
from gisgov.keys import create_key
from gisgov.locate import codes_at
from gisgov.store import WorkspaceBase
from tests.api.api_test_helpers import assert_problem, auth
from tests.api.conftest import make_client

AT = "2026-04-01T09:00:00+08:00"


@pytest.fixture
def served(events_ws: WorkspaceBase) -> Any:
    """Two events in each of three grids, keys of every role, a client."""
    grids = events_ws.read("grids")
    hh = events_ws.read("households")
    where = np.asarray(codes_at(hh.geometry, grids), dtype=object)
    codes = sorted({str(c) for c in where if c is not None})
    chosen = [codes[0], codes[1], codes[-1]]  # the last in another community
    reports = []
    for code in chosen:
        pts = hh.geometry[where == code].iloc[:2]
        reports += [Report(p.x, p.y, "设施损坏", text=f"路灯不亮 {code}", at=AT) for p in pts]
    events = report_events(events_ws, reports)
    mine = chosen[0]
    keys = {
        "field": create_key(events_ws, role="field", grids=[mine])[0],
        "coordinator": create_key(events_ws, role="coordinator",
                                  communities=[chosen[-1][:12]])[0],
        "planner": create_key(events_ws, role="planner")[0],
    }
    with make_client(events_ws.url, rate_burst=100_000, rate_limit=100_000) as client:
        yield client, keys, events, mine, hh[where == mine]


def test_field_key_sees_and_acts_on_its_own_grids_events_only(served: Any) -> None:
    client, keys, events, mine, _ = served
    field = auth(keys["field"])
    seen = client.get("/collections/events/items", params={"limit": 1000}, headers=field)
    assert seen.status_code == 200, seen.text
    ids = {f["properties"]["id"] for f in seen.json()["features"]}
    own = set(events["id"][events["grid_code"] == mine])
    assert ids == own
    assert len(own) == 2
    other = str(events["id"][events["grid_code"] != mine].iloc[0])
    assert client.get(f"/collections/events/items/{other}", headers=field).status_code == 404
    log_ids = {f["properties"]["event_id"] for f in client.get(
        "/collections/event_log/items", params={"limit": 1000}, headers=field).json()["features"]}
    assert log_ids == own
    assert_problem(client.get("/collections/events/items"), 403)  # public: no events
    # acting: elsewhere refused and nothing changes; at home the loop moves
    before = event_log(client.app.state.gisgov.ws, other)
    r = client.post(f"/events/{other}/actions", json={"action": "accept"}, headers=field)
    assert_problem(r, 403)
    assert event_log(client.app.state.gisgov.ws, other).equals(before)
    target = sorted(own)[0]
    r = client.post(f"/events/{target}/actions", json={"action": "accept"}, headers=field)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "accepted"
    r = client.post(f"/events/{target}/actions", json={"action": "resolve", "note": "已修复"},
                    headers=field)
    assert r.json()["status"] == "resolved"
    # verification is the community's, not the field worker's
    assert_problem(client.post(f"/events/{target}/actions", json={"action": "verify"},
                               headers=field), 403)
    # a skipped step is a 400 with the reason, and nothing changes
    assert "须先" in assert_problem(client.post(
        f"/events/{target}/actions", json={"action": "close"},
        headers=auth(keys["planner"])), 400)["detail"]
    r = client.post(f"/events/{target}/actions", json={"action": "verify"},
                    headers=auth(keys["planner"]))
    assert r.json()["status"] == "verified"
    log = event_log(client.app.state.gisgov.ws, target)
    assert log["action"].tolist() == ["report", "accept", "resolve", "verify"]
    assert log["actor"].iloc[1].endswith("/field")
    assert log["actor"].iloc[3].endswith("/planner")


def test_coordinator_acts_in_its_community_only(served: Any) -> None:
    client, keys, events, _, _ = served
    coord = auth(keys["coordinator"])
    community = events["community_code"].iloc[-1]
    inside = events["id"][events["community_code"] == community].tolist()
    outside = events["id"][events["community_code"] != community].tolist()
    assert inside
    assert outside
    seen = {f["properties"]["id"] for f in client.get(
        "/collections/events/items", params={"limit": 1000}, headers=coord).json()["features"]}
    assert seen == set(inside)
    r = client.post(f"/events/{inside[0]}/actions",
                    json={"action": "escalate", "note": "需街道协调"}, headers=coord)
    assert r.status_code == 200, r.text
    assert r.json()["level"] == "community"
    assert_problem(client.post(f"/events/{outside[0]}/actions",
                               json={"action": "escalate", "note": "x"}, headers=coord), 403)


def test_gcj02_phone_report_is_routed_and_public_may_not_report(served: Any) -> None:
    client, keys, _, mine, homes = served
    p = homes.geometry.iloc[0]
    gx, gy = wgs84_to_gcj02(np.array([p.x]), np.array([p.y]))
    body = {"lon": float(gx[0]), "lat": float(gy[0]), "crs": "gcj02", "category": "安全隐患",
            "text": "电动车楼道充电"}
    assert_problem(client.post("/events", json=body), 403)
    r = client.post("/events", json=body, headers=auth(keys["field"]))
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["grid_code"] == mine
    assert doc["community_code"] == mine[:12]
    assert doc["subdistrict_code"] == mine[:9]
    assert (doc["level"], doc["status"]) == ("grid", "reported")
    assert abs(doc["lon"] - p.x) < 1e-6
    assert doc["reporter"].endswith("/field")
    bad = client.post("/events", json={**body, "category": "不存在"}, headers=auth(keys["field"]))
    assert "未知的事件类别" in assert_problem(bad, 400)["detail"]
