"""Responsibility lookup over HTTP, and what each role sees (PIPL), on both stores."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from gisgov.audit import read_audit
from gisgov.crs import wgs84_to_gcj02
from gisgov.store import open_workspace
from tests.api.api_test_helpers import (
    FIELD_BUILDING_POINT,
    FIELD_GRID,
    OTHER_BUILDING_POINT,
    assert_problem,
    auth,
)


def _gcj(point: tuple[float, float]) -> tuple[float, float]:
    x, y = wgs84_to_gcj02(np.array([point[0]]), np.array([point[1]]))
    return float(x[0]), float(y[0])


def test_field_worker_gcj02_position_gets_right_grid_and_own_people(
        shared: tuple[Any, dict[str, str]]) -> None:
    """A WeChat (GCJ-02) position, the right grid, and the worker's own grid's people as
    written: they visit and call them (issue 16)."""
    client, keys = shared
    lon, lat = _gcj(FIELD_BUILDING_POINT)
    r = client.get("/lookup", params={"lon": lon, "lat": lat, "crs": "gcj02"},
                   headers=auth(keys["field"]))
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["grid"]["code"] == FIELD_GRID
    assert doc["community"] == {"code": "410223001001", "name": "北关社区"}
    assert doc["subdistrict"]["name"] == "城关街道"
    assert doc["lon"] == pytest.approx(FIELD_BUILDING_POINT[0], abs=1e-6)
    # The leader and workers as posted on the grid's notice board (网格公示牌, on by default);
    # the residents of their own grid as registered.
    assert doc["leader"] == {"id": "s00a", "role": "leader", "name": "张网格长",
                             "phone": "13800005678"}
    assert [w["name"] for w in doc["workers"]] == ["张专职"]
    assert doc["building"]["code"] == "b000"
    household = doc["household"]
    assert household["id"] == "h0000"
    assert household["head_name"]
    assert "*" not in household["head_name"]
    assert household["phone"]
    assert "*" not in household["phone"]
    assert household["id_number"].startswith("410223")
    assert "*" not in household["id_number"]
    assert household["member"]["name"]
    assert "*" not in household["member"]["name"]
    # Read as if it were WGS-84, the same numbers land hundreds of metres away.
    wrong = client.get("/lookup", params={"lon": lon, "lat": lat},
                       headers=auth(keys["field"])).json()
    assert wrong.get("building") is None or wrong["building"]["code"] != "b000"


def test_field_sees_no_households_outside_own_grids(shared: tuple[Any, dict[str, str]]) -> None:
    client, keys = shared
    lon, lat = OTHER_BUILDING_POINT
    doc = client.get("/lookup", params={"lon": lon, "lat": lat},
                     headers=auth(keys["field"])).json()
    assert doc["grid"]["code"] != FIELD_GRID
    assert doc["households"] == []
    assert doc["household"] is None
    assert not doc["leader"]["name"].endswith("*")  # another grid's posted leader


def test_public_sees_no_people_and_coordinator_is_audited(
        shared: tuple[Any, dict[str, str]]) -> None:
    client, keys = shared
    lon, lat = FIELD_BUILDING_POINT
    public = client.get("/lookup", params={"lon": lon, "lat": lat}).json()
    assert public["grid"]["code"] == FIELD_GRID
    assert public["leader"] == {"id": "s00a", "role": "leader", "name": "张网格长",
                                "phone": "13800005678"}  # the notice board, nothing more
    assert public["households"] == []
    coord = client.get("/lookup", params={"lon": lon, "lat": lat},
                       headers={"Authorization": f"Bearer {keys['coordinator']}"}).json()
    assert coord["leader"]["name"] == "张网格长"
    assert coord["household"]["head_name"] == "张一"
    ws = open_workspace(client.app.state.gisgov.settings.workspace)
    audit = read_audit(ws)
    ws.close()
    mine = audit[audit["action"] == "lookup"]
    assert len(mine) >= 1
    assert mine["actor"].iloc[-1].endswith("/coordinator")
    assert "h0000" in mine["detail"].iloc[-1]


def test_outside_every_grid_is_404_naming_nearest(shared: tuple[Any, dict[str, str]]) -> None:
    client, _ = shared
    body = assert_problem(client.get("/lookup", params={"lon": 114.179, "lat": 34.414}), 404)
    assert body["nearest_grid"] == FIELD_GRID
    assert 80 < body["distance_m"] < 100


def test_shared_edge_is_deterministic(shared: tuple[Any, dict[str, str]]) -> None:
    from tests.api.conftest import grid_box

    client, _ = shared
    edge = grid_box(1, 0).bounds[0]  # the exact shared vertex coordinate
    doc = client.get("/lookup", params={"lon": repr(edge), "lat": 34.414}).json()
    assert doc["on_boundary"] is True
    assert doc["grid"]["code"] == FIELD_GRID
    assert len(doc["grids"]) == 2


@pytest.mark.parametrize("query", ["lon=200&lat=34", "lon=114&lat=x", "lon=114", "lon=114.18&"
                                   "lat=34.41&crs=EPSG:3857"])
def test_bad_lookup_requests_are_400(shared: tuple[Any, dict[str, str]], query: str) -> None:
    assert_problem(shared[0].get(f"/lookup?{query}"), 400)


def test_batch_csv_and_geojson(shared: tuple[Any, dict[str, str]]) -> None:
    client, keys = shared
    csv_body = "id,lon,lat\na,114.1810,34.4130\nb,114.1890,34.4050\nc,100,30\n"
    r = client.post("/lookup/batch", content=csv_body.encode(),
                    headers={"Content-Type": "text/csv", **auth(keys["field"])})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["count"] == 3
    assert doc["found"] == 2
    first = doc["results"][0]
    assert first["grid_code"] == FIELD_GRID
    assert first["community_name"] == "北关社区"
    assert first["leader_name"] == "张网格长"  # posted on the notice board
    assert doc["results"][2]["grid_code"] is None
    glon, glat = _gcj(FIELD_BUILDING_POINT)
    features = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "p1", "properties": {},
         "geometry": {"type": "Point", "coordinates": [glon, glat]}}]}
    r = client.post("/lookup/batch", params={"crs": "gcj02", "f": "csv"},
                    content=json.dumps(features),
                    headers={"Content-Type": "application/geo+json"})
    assert r.status_code == 200
    lines = r.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("id,lon,lat,grid_code")
    assert lines[1].startswith("p1,")
    assert FIELD_GRID in lines[1]
    assert "张网格长" in lines[1]  # public: the posted leader, no one else
    assert_problem(client.post("/lookup/batch", content=b"x,y\n1"), 400)
    assert_problem(client.post("/lookup/batch", content=b'{"features": [{}]}',
                               headers={"Content-Type": "application/json"}), 400)


def test_items_by_role(shared: tuple[Any, dict[str, str]]) -> None:
    client, keys = shared

    def households(role: str | None) -> list[dict[str, Any]]:
        r = client.get("/collections/households/items", params={"limit": 1000},
                       headers=auth(keys[role] if role else None))
        assert r.status_code == 200, r.text
        return [f["properties"] for f in r.json()["features"]]

    planner = households("planner")
    assert len(planner) == 96
    assert planner[0]["head_name"] == "张一"
    assert "elderly" in planner[0]
    coordinator = households("coordinator")
    assert coordinator[0]["head_name"] == "张一"
    assert "elderly" not in coordinator[0]
    # The coordinator's scope is one community of 2×2 grids: 24 households.
    assert len(coordinator) == 24
    assert {h["id"] for h in coordinator} == {f"h{k:02d}{b}{h}" for k in (0, 1, 4, 5)
                                              for b in range(2) for h in range(3)}
    field = households("field")
    assert {h["id"][:3] for h in field} == {"h00"}
    assert len(field) == 6
    assert field[0]["head_name"] == "张一"  # their own grid: they visit these households
    assert "elderly" not in field[0]
    # Households are personal data: closed to the public (it used to get all 96 rows
    # without the personal columns, addresses and points included).
    assert_problem(client.get("/collections/households/items"), 403)
    assert_problem(client.get("/collections/households/items/h0000"), 403)
    staff = client.get("/collections/staff/items", params={"limit": 100},
                       headers=auth(keys["field"])).json()
    # Every grid's posted leader and worker (the notice board), names as posted.
    assert len(staff["features"]) == 32
    assert all(not f["properties"]["name"].endswith("*") for f in staff["features"])
    # A household outside the field worker's grids does not exist for them.
    assert_problem(client.get("/collections/households/items/h0100",
                              headers=auth(keys["field"])), 404)
    assert client.get("/collections/households/items/h0000",
                      headers=auth(keys["field"])).status_code == 200
    # Filtering on a personal column is not allowed below the roles that see it.
    assert_problem(client.get("/collections/households/items",
                              params={"head_name": "张一"}, headers=auth(keys["field"])), 400)
    hit = client.get("/collections/households/items", params={"head_name": "张一"},
                     headers=auth(keys["coordinator"])).json()
    assert hit["numberReturned"] >= 1


def test_keys_and_permissions(shared: tuple[Any, dict[str, str]]) -> None:
    client, keys = shared
    body = assert_problem(client.get("/collections", headers=auth("gg_nope_nope")), 401)
    assert "unknown API key" in body["detail"]
    assert_problem(client.post("/jobs/assign", json={}, headers=auth(keys["field"])), 403)
    assert_problem(client.post("/jobs/assign", json={}), 403)
    assert_problem(client.get("/jobs", headers=auth(keys["public"])), 403)


def test_rate_limit_per_key(world_url: Any) -> None:
    from tests.api.conftest import make_client

    with make_client(world_url("gpkg"), rate_limit=0.5, rate_burst=3) as client:
        codes = [client.get("/conformance").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        body = assert_problem(client.get("/conformance"), 429)
        assert "retry" in body["detail"]
        assert int(client.get("/conformance").headers["retry-after"]) >= 1


def test_audit_writes_do_not_rebuild_the_index(world_url: Any) -> None:
    from gisgov.keys import create_key
    from tests.api.conftest import make_client

    url = world_url("gpkg")
    ws = open_workspace(url)
    key = create_key(ws, role="coordinator", communities=[FIELD_GRID[:12]])[0]
    ws.close()
    lon, lat = FIELD_BUILDING_POINT
    with make_client(url) as client:
        state = client.app.state.gisgov
        for _ in range(3):
            r = client.get("/lookup", params={"lon": lon, "lat": lat}, headers=auth(key))
            assert r.json()["leader"]["name"] == "张网格长"
        state.index.wait()
        assert state.index.builds == 1
        assert len(read_audit(state.ws)) == 3
