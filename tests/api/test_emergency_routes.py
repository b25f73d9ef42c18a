"""``POST /emergency/contacts`` on both stores: who may sweep, what each role gets, bad areas.

The world (tests/api/conftest.py): 16 grids of 6 households, one member per grid serving
them all, the first household of each building elderly; a coordinator key for the
north-west community, a field key for its first grid.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np
import pytest
import shapely

from gisgov.audit import read_audit
from gisgov.crs import wgs84_to_gcj02
from gisgov.store import open_workspace
from tests.api.api_test_helpers import assert_problem, auth
from tests.api.conftest import grid_box, grid_code, world

#: A point between the four grids of the north-west community (no one lives there).
CENTRE = (grid_box(1, 1).bounds[0], grid_box(1, 1).bounds[3])
COMMUNITY = grid_code(0, 0)[:12]


def _households_within(lon: float, lat: float, metres: float) -> set[str]:
    import pyproj

    hh = world()["households"]
    _, _, d = pyproj.Geod(ellps="WGS84").inv(np.full(len(hh), lon), np.full(len(hh), lat),
                                             hh.geometry.x.to_numpy(), hh.geometry.y.to_numpy())
    return set(hh["id"][d <= metres])


def _sweep(client: Any, key: str | None, body: dict[str, Any], f: str = "json") -> Any:
    return client.post("/emergency/contacts", params={"f": f}, json=body, headers=auth(key))


def _circle(metres: float, point: tuple[float, float] = CENTRE, crs: str = "wgs84"
            ) -> dict[str, Any]:
    return {"circle": {"lon": point[0], "lat": point[1], "radius_m": metres}, "crs": crs}


def test_planner_gets_every_household_vulnerable_first_with_member_and_leader(
        shared: tuple[Any, dict[str, str]]) -> None:
    client, keys = shared
    r = _sweep(client, keys["planner"], _circle(500))
    assert r.status_code == 200, r.text
    doc = r.json()
    expect = _households_within(*CENTRE, 500)
    assert len(expect) > 6
    assert {h["household_id"] for h in doc["households"]} == expect
    assert doc["count"] == len(expect)
    assert doc["outside_scope"] == 0
    flags = [h["priority"] for h in doc["households"]]
    assert flags == sorted(flags, reverse=True)
    assert any(flags)
    assert not all(flags)
    for h in doc["households"]:
        k = int(h["household_id"][1:3])
        assert h["priority"] == h["elderly"] == h["household_id"].endswith("0")
        assert h["member_id"] == f"m{k:02d}"
        assert h["member_name"].endswith("党员")
        assert h["leader_name"].endswith("网格长")
        assert h["grid_code"] == h["community_code"] \
            + h["grid_code"][12:]
    grids = {h["grid_code"] for h in doc["households"]}
    assert {s["grid_code"] for s in doc["staff"]} == grids
    assert {s["role_zh"] for s in doc["staff"]} == {"网格长", "专职网格员"}


def test_coordinator_gets_own_community_without_flags(
        shared: tuple[Any, dict[str, str]]) -> None:
    client, keys = shared
    doc = _sweep(client, keys["coordinator"], _circle(500)).json()
    everyone = _households_within(*CENTRE, 500)
    got = {h["household_id"] for h in doc["households"]}
    assert got
    assert all(h["community_code"] == COMMUNITY for h in doc["households"])
    mine = {h for h in everyone if grid_code(int(h[1:3]) // 4, int(h[1:3]) % 4)
            .startswith(COMMUNITY)}
    assert got == mine
    assert doc["outside_scope"] == len(everyone) - len(mine) > 0
    assert all("elderly" not in h and "disabled" not in h for h in doc["households"])
    assert any(h["priority"] for h in doc["households"])
    assert {s["grid_code"][:12] for s in doc["staff"]} == {COMMUNITY}


@pytest.mark.parametrize("role", ["field", "public", None])
def test_field_and_public_are_refused(shared: tuple[Any, dict[str, str]],
                                      role: str | None) -> None:
    client, keys = shared
    for f in ("json", "csv", "html"):
        body = assert_problem(_sweep(client, keys[role] if role else None, _circle(300), f),
                              403)
        assert "coordinator or planner" in body["detail"]


def test_gcj02_circle_and_geojson_polygons(shared: tuple[Any, dict[str, str]]) -> None:
    client, keys = shared
    key = keys["planner"]
    gx, gy = wgs84_to_gcj02(np.array([CENTRE[0]]), np.array([CENTRE[1]]))
    wgs = _sweep(client, key, _circle(400)).json()
    gcj = _sweep(client, key, _circle(400, (float(gx[0]), float(gy[0])), "gcj02")).json()
    assert [h["household_id"] for h in wgs["households"]] == \
        [h["household_id"] for h in gcj["households"]]
    cell = grid_box(2, 3)
    geometry = shapely.geometry.mapping(cell)
    six = {f"h{(2 * 4 + 3):02d}{b}{h}" for b in range(2) for h in range(3)}
    for polygon in (geometry, {"type": "Feature", "properties": {}, "geometry": geometry},
                    {"type": "FeatureCollection", "features": [
                        {"type": "Feature", "properties": {}, "geometry": geometry}]}):
        doc = _sweep(client, key, {"polygon": polygon}).json()
        assert {h["household_id"] for h in doc["households"]} == six, polygon["type"]
        assert doc["grids"] == [grid_code(2, 3)]


def test_csv_and_printable_page(shared: tuple[Any, dict[str, str]]) -> None:
    client, keys = shared
    r = _sweep(client, keys["planner"], _circle(500), "csv")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(rows) == len(_households_within(*CENTRE, 500))
    assert {"序号", "优先关照", "户主", "联系电话", "红色网格员", "党员电话", "网格长",
            "老年人"} <= set(rows[0])
    assert rows[0]["优先关照"] == "是"
    assert rows[-1]["优先关照"] == "否"
    page = _sweep(client, keys["coordinator"], _circle(500), "html")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    text = page.text
    assert "应急联系名单" in text
    assert "属于其他社区" in text
    assert text.count("<section>") == 4
    assert "老＝老年人" not in text


@pytest.mark.parametrize("body", [
    {},
    {"circle": {"lon": 114.18, "lat": 34.41, "radius_m": 300}, "polygon": {"type": "Polygon"}},
    {"circle": {"lon": 114.18, "lat": 34.41, "radius_m": 0}},
    {"circle": {"lon": 114.18, "lat": 34.41, "radius_m": 1e6}},
    {"circle": {"lon": 114.18, "lat": 94, "radius_m": 300}},
    {"circle": {"lon": 114.18, "lat": 34.41, "radius_m": 300, "x": 1}},
    {"circle": {"lon": 114.18, "lat": 34.41, "radius_m": 300}, "crs": "EPSG:3857"},
    {"polygon": {"type": "LineString", "coordinates": [[114.18, 34.41], [114.19, 34.42]]}},
    {"polygon": {"type": "Polygon", "coordinates": "nonsense"}},
    {"polygon": {"type": "FeatureCollection", "features": []}},
    {"polygon": {"type": "Polygon", "coordinates": [[[113, 34], [115, 34], [115, 36],
                                                     [113, 34]]]}},
])
def test_bad_areas_are_400_and_read_nothing(shared: tuple[Any, dict[str, str]],
                                            body: dict[str, Any]) -> None:
    client, keys = shared
    state = client.app.state.gisgov
    state.audit.flush()
    ws = open_workspace(state.settings.workspace)
    before = len(read_audit(ws))
    assert_problem(_sweep(client, keys["planner"], body), 400)
    state.audit.flush()
    assert len(read_audit(ws)) == before
    ws.close()


def test_each_sweep_is_audited_with_its_households(shared: tuple[Any, dict[str, str]]) -> None:
    client, keys = shared
    state = client.app.state.gisgov
    ws = open_workspace(state.settings.workspace)
    state.audit.flush()
    before = len(read_audit(ws))
    doc = _sweep(client, keys["coordinator"], _circle(300)).json()
    assert doc["count"] > 0
    state.audit.flush()
    audit = read_audit(ws).iloc[before:]
    ws.close()
    assert len(audit) == 1
    row = audit.iloc[0]
    assert row["actor"].endswith("/coordinator")
    assert row["target"] == "emergency/contacts"
    assert doc["households"][0]["household_id"] in row["detail"]
