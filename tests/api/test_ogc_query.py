"""What a GIS client expects of the items route, on both stores: queryables, CQL2 ``filter``,
``sortby``, ``properties`` and keyset paging (issue 19), checked against the world's frames.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import shapely

from tests.api.api_test_helpers import FIELD_GRID, assert_problem, auth
from tests.api.conftest import world

HH = "/collections/households/items"


@pytest.fixture
def client(shared: tuple[Any, dict[str, str]]) -> Any:
    return shared[0]


@pytest.fixture
def keys(shared: tuple[Any, dict[str, str]]) -> dict[str, str]:
    return shared[1]


def _ids(doc: dict[str, Any]) -> list[str]:
    return [str(f["id"]) for f in doc["features"]]


def _get(client: Any, key: str | None, url: str = HH, **params: Any) -> dict[str, Any]:
    r = client.get(url, params=params, headers=auth(key))
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_queryables_are_the_callers_columns_with_chinese_titles(
        client: Any, keys: dict[str, str]) -> None:
    url = "/collections/households/queryables"
    planner = client.get(url, headers=auth(keys["planner"]))
    assert planner.status_code == 200
    assert planner.headers["content-type"].startswith("application/schema+json")
    doc = planner.json()
    assert doc["type"] == "object"
    assert doc["title"] == "户"
    props = doc["properties"]
    assert props["head_name"] == {"title": "户主姓名", "type": "string"}
    assert props["size"]["type"] == "integer"
    assert props["elderly"]["type"] == "boolean"
    assert props["geometry"]["$ref"].endswith("Point.json")
    # A field key sees names plainly only in its grid: it may not filter on them, nor on
    # the care flags; the public may not read households at all.
    field = client.get(url, headers=auth(keys["field"])).json()["properties"]
    assert not {"head_name", "phone", "id_number", "elderly"} & set(field)
    assert {"id", "address", "size"} <= set(field)
    assert_problem(client.get(url), 403)
    assert_problem(client.get("/collections/nothing/queryables"), 404)
    grids = client.get("/collections/grids/queryables").json()
    assert grids["properties"]["community_code"]["title"] == "所属社区"


def test_cql2_filter_matches_the_frames(client: Any, keys: dict[str, str]) -> None:
    frame = world()["households"]
    planner = keys["planner"]
    cases = {
        "size = 3 AND elderly = TRUE": frame[(frame["size"] == 3) & frame["elderly"]],
        "address LIKE 'b00%'": frame[frame["address"].str.startswith("b00")],
        "building_id IN ('b000', 'b151')": frame[frame["building_id"].isin(["b000", "b151"])],
        "NOT (building_id <> 'b031')": frame[frame["building_id"] == "b031"],
        "id BETWEEN 'h0100' AND 'h0211'": frame[(frame["id"] >= "h0100")
                                                & (frame["id"] <= "h0211")],
        "kin_member_id IS NULL AND head_name LIKE '张%'": frame[
            frame["head_name"].str.startswith("张")],
        "S_INTERSECTS(geometry, BBOX(114.18, 34.412, 114.184, 34.416))": frame[
            frame.geometry.intersects(shapely.box(114.18, 34.412, 114.184, 34.416))],
        "S_INTERSECTS(geometry, POLYGON((114.18 34.40, 114.19 34.40, 114.19 34.41, "
        "114.18 34.40)))": frame[frame.geometry.intersects(shapely.Polygon(
            [(114.18, 34.40), (114.19, 34.40), (114.19, 34.41)]))],
    }
    for text, expected in cases.items():
        doc = _get(client, planner, filter=text, limit=1000)
        assert sorted(_ids(doc)) == sorted(expected["id"]), text
        assert len(expected) > 0, text  # each case selects something
    lang = _get(client, planner, filter="size = 3", **{"filter-lang": "cql2-text"})
    assert lang["numberReturned"] == min(96, 100)


@pytest.mark.parametrize("text", [
    "size = ",                       # does not parse
    "size = 'three'",                # not an integer
    "head_name2 = 'x'",              # no such property
    "size + 1 = 2",                  # arithmetic is not supported
    "S_INTERSECTS(address, POINT(1 2))",  # not the geometry
    "address LIKE 3",                # LIKE needs a quoted pattern
])
def test_bad_cql2_is_400(client: Any, keys: dict[str, str], text: str) -> None:
    body = assert_problem(client.get(HH, params={"filter": text},
                                     headers=auth(keys["planner"])), 400)
    assert body["title"] == "请求有误 Bad Request"
    assert "filter" in body["detail"]


def test_filter_on_a_column_the_role_may_not_query_is_400(client: Any,
                                                           keys: dict[str, str]) -> None:
    """A field key cannot probe names or care flags of its own grid's neighbours through
    ``filter`` or ``sortby`` either."""
    field = auth(keys["field"])
    for params in ({"filter": "head_name LIKE '张%'"}, {"filter": "elderly = TRUE"},
                   {"sortby": "phone"}, {"filter-lang": "cql2-json", "filter": "size = 3"}):
        assert_problem(client.get(HH, params=params, headers=field), 400)
    ok = _get(client, keys["field"], filter="size = 3")
    assert ok["numberReturned"] == 6
    assert all(f["id"].startswith("h00") for f in ok["features"])  # its own grid only


def test_sortby_orders_in_the_database(client: Any, keys: dict[str, str]) -> None:
    frame = world()["households"]
    doc = _get(client, keys["planner"], sortby="-address", limit=10)
    expected = frame.sort_values(["address", "id"], ascending=[False, True])["id"][:10]
    assert _ids(doc) == list(expected)
    both = _get(client, keys["planner"], sortby="+building_id,-id", limit=4)
    assert _ids(both) == ["h0002", "h0001", "h0000", "h0012"]
    assert_problem(client.get(HH, params={"sortby": "nothing"},
                              headers=auth(keys["planner"])), 400)


def test_properties_choose_columns(client: Any, keys: dict[str, str]) -> None:
    doc = _get(client, keys["planner"], properties="address,size", limit=3)
    assert all(set(f["properties"]) == {"address", "size"} for f in doc["features"])
    assert all(f["geometry"]["type"] == "Point" for f in doc["features"])
    # hidden columns are not there to choose
    assert_problem(client.get(HH, params={"properties": "address,elderly"},
                              headers=auth(keys["field"])), 400)


def test_keyset_next_links_walk_every_row_once(client: Any, keys: dict[str, str]) -> None:
    planner = auth(keys["planner"])
    seen: list[str] = []
    url: str | None = f"{HH}?limit=7&size=3"
    pages = 0
    while url:
        doc = client.get(url, headers=planner).json()
        seen += _ids(doc)
        nxt = [link["href"] for link in doc["links"] if link["rel"] == "next"]
        if nxt:
            query = parse_qs(urlsplit(nxt[0]).query)
            assert query["after"] == [seen[-1]]  # the key finds the next page
            assert query["size"] == ["3"]
        url = nxt[0] if nxt else None
        pages += 1
    assert pages == 14
    assert seen == sorted(world()["households"]["id"])
    # after and offset agree on the same page
    by_offset = _get(client, keys["planner"], limit=5, offset=10)
    by_key = _get(client, keys["planner"], limit=5, after=seen[9])
    assert _ids(by_offset) == _ids(by_key) == seen[10:15]
    assert_problem(client.get(HH, params={"after": "h0001", "sortby": "address"},
                              headers=planner), 400)


def test_number_matched_only_when_cheap(client: Any, keys: dict[str, str]) -> None:
    planner = keys["planner"]
    whole = _get(client, planner, limit=5)
    assert whole["numberMatched"] == 96  # the described row count, no count per request
    boxed = _get(client, planner, limit=5, bbox="114.18,34.40,114.188,34.416")
    assert boxed["numberMatched"] == 48
    assert boxed["numberReturned"] == 5
    filtered = _get(client, planner, limit=5, filter="size = 3")
    assert "numberMatched" not in filtered  # would need a full count
    last = _get(client, planner, limit=50, offset=90)
    assert last["numberMatched"] == 96  # the last page knows it for free


def test_scoped_filters_never_widen_the_scope(client: Any, keys: dict[str, str]) -> None:
    coordinator = keys["coordinator"]
    doc = _get(client, coordinator, filter="id LIKE 'h%'", limit=1000)
    grids = {FIELD_GRID[:12]}
    expected = [h for h in world()["households"]["id"]
                if int(h[1:3]) // 4 < 2 and int(h[1:3]) % 4 < 2]
    assert sorted(_ids(doc)) == sorted(expected)
    assert grids  # the coordinator's community is the north-west one
    # a feature outside the scope is a 404 even with its key in hand
    assert_problem(client.get(f"{HH.rsplit('/', 1)[0]}/items/h1500",
                              headers=auth(coordinator)), 404)


def test_openapi_describes_the_responses(client: Any) -> None:
    doc = client.get("/api").json()
    items = doc["paths"]["/collections/{collectionId}/items"]["get"]
    names = {p["name"] for p in items["parameters"]}
    assert {"filter", "filter-lang", "sortby", "properties", "after"} <= names
    schema = items["responses"]["200"]["content"]["application/geo+json"]["schema"]
    assert "FeatureCollection" in str(schema)
    assert "/collections/{collectionId}/queryables" in doc["paths"]


def test_cached_geojson_follows_the_geometry_and_the_crs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """GeoJSON texts of WKB are cached by the geometry's bytes and the CRS: a moved geometry
    or another CRS is another entry, and the cache stays within its size."""
    from shapely.geometry import Point

    from api import ogc

    monkeypatch.setattr(ogc, "_GEOJSON_CACHE", {})
    monkeypatch.setattr(ogc, "GEOJSON_CACHE_SIZE", 8)
    a, b = shapely.to_wkb(Point(113.6, 34.7)), shapely.to_wkb(Point(113.7, 34.8))
    first = ogc._geometry_texts([a, None], ogc.CRS84)
    assert ogc._geometry_texts([a, None], ogc.CRS84) == first
    assert json.loads(first[0])["coordinates"] == [113.6, 34.7]
    assert first[1] == "null"
    assert json.loads(ogc._geometry_texts([a], ogc.EPSG4326)[0])["coordinates"] == [34.7, 113.6]
    assert json.loads(ogc._geometry_texts([b], ogc.CRS84)[0])["coordinates"] == [113.7, 34.8]
    many = [shapely.to_wkb(Point(100 + i, 30)) for i in range(20)]
    texts = ogc._geometry_texts(many, ogc.CRS84)
    assert [json.loads(t)["coordinates"][0] for t in texts] == [100 + i for i in range(20)]
    assert len(ogc._GEOJSON_CACHE) == 8  # the page's last eight
    ogc._geometry_texts([a], ogc.CRS84)
    assert len(ogc._GEOJSON_CACHE) <= 8
