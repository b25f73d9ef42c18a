"""OGC API – Features Part 1 core, mirrored from the abstract test suite (ATS), on both stores.

Each test names the abstract test it mirrors (``/ats/core/...``); a few add Part 2 (CRS).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.api.api_test_helpers import FIELD_GRID, assert_problem, auth

CORE = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"


@pytest.fixture
def client(shared: tuple[Any, dict[str, str]]) -> Any:
    return shared[0]


@pytest.fixture
def keys(shared: tuple[Any, dict[str, str]]) -> dict[str, str]:
    return shared[1]


def test_http_and_landing_page(client: Any) -> None:
    """/ats/core/http, /ats/core/root-op, /ats/core/root-success."""
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    rels = {link["rel"]: link for link in r.json()["links"]}
    for rel in ("self", "service-desc", "conformance", "data"):
        assert rel in rels, rel
    assert rels["service-desc"]["href"].endswith("/api")


def test_api_definition(client: Any) -> None:
    """/ats/core/api-definition-op, -success; oas30."""
    r = client.get("/api")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/vnd.oai.openapi+json")
    doc = r.json()
    assert doc["openapi"].startswith("3.0")
    items = doc["paths"]["/collections/{collectionId}/items"]["get"]
    names = {p["name"] for p in items["parameters"]}
    assert {"limit", "offset", "bbox", "bbox-crs", "crs", "datetime", "f",
            "community_code", "grid_code"} <= names
    assert client.get("/api.html").status_code == 200


def test_conformance(client: Any) -> None:
    """/ats/core/conformance-op, -success."""
    r = client.get("/conformance")
    assert r.status_code == 200
    classes = r.json()["conformsTo"]
    assert CORE in classes
    assert any(c.endswith("/conf/geojson") for c in classes)
    assert any(c.endswith("ogcapi-features-2/1.0/conf/crs") for c in classes)


def test_collections(client: Any, keys: dict[str, str]) -> None:
    """/ats/core/fc-md-op, -success, -links, -items; and every layer has an extent."""
    r = client.get("/collections")
    assert r.status_code == 200
    cols = {c["id"]: c for c in r.json()["collections"]}
    # The public list holds what the public may read: no households or members.
    assert {"subdistricts", "communities", "grids", "staff"} <= set(cols)
    assert not {"households", "members", "assignments"} & set(cols)
    planner = client.get("/collections", headers=auth(keys["planner"])).json()
    assert {"households", "members", "assignments"} <= {c["id"] for c in planner["collections"]}
    assert "api_keys" not in cols
    assert "audit_log" not in cols
    grids = cols["grids"]
    assert grids["title"] == "网格"
    assert any(link["rel"] == "items" for link in grids["links"])
    assert grids["extent"]["spatial"]["bbox"][0] == pytest.approx([114.18, 34.40, 114.196,
                                                                   34.416])
    assert "http://www.opengis.net/def/crs/EPSG/0/4326" in grids["crs"]


def test_collection(client: Any) -> None:
    """/ats/core/sfc-md-op, -success."""
    r = client.get("/collections/grids")
    assert r.status_code == 200
    assert r.json()["id"] == "grids"
    assert_problem(client.get("/collections/nothing"), 404)


def test_items_limit_and_paging(client: Any) -> None:
    """/ats/core/fc-limit-definition, -response; fc-links; fc-response."""
    r = client.get("/collections/grids/items", params={"limit": 5, "community_code":
                                                       "410223001001"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/geo+json")
    doc = r.json()
    assert doc["type"] == "FeatureCollection"
    assert doc["numberReturned"] == 4
    assert doc["numberMatched"] == 4
    assert all(f["properties"]["community_code"] == "410223001001" for f in doc["features"])
    assert [f["id"] for f in doc["features"]] == sorted(f["id"] for f in doc["features"])
    seen: list[str] = []
    url: str | None = "/collections/grids/items?limit=6"
    while url:
        page = client.get(url).json()
        seen += [f["id"] for f in page["features"]]
        nxt = [link["href"] for link in page["links"] if link["rel"] == "next"]
        url = nxt[0] if nxt else None
    assert len(seen) == len(set(seen)) == 16


def test_next_link_carries_every_parameter(client: Any, keys: dict[str, str]) -> None:
    r = client.get("/collections/households/items",
                   params={"limit": 2, "bbox": "114.18,34.40,114.196,34.416",
                           "crs": "http://www.opengis.net/def/crs/EPSG/0/4326",
                           "building_id": "b000"}, headers=auth(keys["planner"]))
    links = {link["rel"]: link["href"] for link in r.json()["links"]}
    query = parse_qs(urlsplit(links["next"]).query)
    assert query["bbox"] == ["114.18,34.40,114.196,34.416"]
    assert query["building_id"] == ["b000"]
    assert query["offset"] == ["2"]
    assert query["limit"] == ["2"]
    assert query["crs"] == ["http://www.opengis.net/def/crs/EPSG/0/4326"]
    last = client.get(links["next"], headers=auth(keys["planner"])).json()
    assert last["numberReturned"] == 1
    assert not any(link["rel"] == "next" for link in last["links"])
    assert any(link["rel"] == "prev" for link in last["links"])


def test_limit_above_maximum_is_clamped(client: Any, keys: dict[str, str]) -> None:
    """/ats/core/fc-limit-response-1: the server may return fewer, never an error."""
    r = client.get("/collections/households/items", params={"limit": 10**9},
                   headers=auth(keys["planner"]))
    assert r.status_code == 200
    assert r.json()["numberReturned"] == 96


@pytest.mark.parametrize("query", ["limit=unlimited", "limit=0", "limit=-1", "offset=-3",
                                   "bbox=1,2,3", "bbox=a,b,c,d", "bbox=10,10,0,0",
                                   "crs=EPSG:9999", "f=xml", "unknown=1",
                                   "head_name=张三"])
def test_invalid_or_unknown_parameters_are_400(client: Any, keys: dict[str, str],
                                               query: str) -> None:
    """/ats/core/query-param-invalid, /ats/core/query-param-unknown (a field key: it may
    read households, and not filter on the names it sees masked)."""
    assert_problem(client.get(f"/collections/households/items?{query}",
                              headers=auth(keys["field"])), 400)


def test_unknown_parameter_on_other_resources_is_400(client: Any) -> None:
    for url in ("/?x=1", "/conformance?x=1", "/collections?x=1", "/lookup?lon=1&lat=1&x=1"):
        assert_problem(client.get(url), 400)


def test_bbox_filters(client: Any) -> None:
    """/ats/core/fc-bbox-definition, -response."""
    r = client.get("/collections/grids/items", params={"bbox": "114.1805,34.4125,114.1835,"
                                                       "34.4155"})
    assert [f["id"] for f in r.json()["features"]] == [FIELD_GRID]
    # Same box in EPSG:4326 axis order (lat first).
    r2 = client.get("/collections/grids/items", params={
        "bbox": "34.4125,114.1805,34.4155,114.1835",
        "bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/4326"})
    assert [f["id"] for f in r2.json()["features"]] == [FIELD_GRID]


def test_feature_by_id(client: Any) -> None:
    """/ats/core/f-op, /ats/core/f-success."""
    r = client.get(f"/collections/grids/items/{FIELD_GRID}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/geo+json")
    doc = r.json()
    assert doc["id"] == FIELD_GRID
    assert doc["geometry"]["type"] == "Polygon"
    assert any(link["rel"] == "collection" for link in doc["links"])
    assert_problem(client.get("/collections/grids/items/000000000000000"), 404)


def test_output_crs_axis_order_and_header(client: Any) -> None:
    """Part 2 /ats/crs: Content-Crs header; EPSG:4326 lat/lon, CRS84 lon/lat."""
    url = f"/collections/grids/items/{FIELD_GRID}"
    lonlat = client.get(url).json()["geometry"]["coordinates"][0][0]
    r = client.get(url, params={"crs": "http://www.opengis.net/def/crs/EPSG/0/4326"})
    assert r.headers["content-crs"] == "<http://www.opengis.net/def/crs/EPSG/0/4326>"
    assert r.json()["geometry"]["coordinates"][0][0] == pytest.approx(lonlat[::-1])
    r = client.get(url, params={"crs": "EPSG:3857"})
    x, y = r.json()["geometry"]["coordinates"][0][0]
    assert 1.27e7 < x < 1.28e7
    assert 4.0e6 < y < 4.1e6
    r = client.get(url, params={"crs": "GCJ-02"})
    assert r.headers["content-crs"] == "<urn:x-gisgov:crs:GCJ-02>"
    gx, gy = r.json()["geometry"]["coordinates"][0][0]
    assert 0.001 < abs(gx - lonlat[0]) + abs(gy - lonlat[1]) < 0.02  # hundreds of metres
    default = client.get("/collections/grids/items?limit=1")
    assert default.headers["content-crs"] == "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"


def test_html_views(client: Any) -> None:
    """/ats/html: every resource has an HTML representation."""
    for url in ("/", "/conformance", "/collections", "/collections/grids",
                "/collections/grids/items", f"/collections/grids/items/{FIELD_GRID}"):
        r = client.get(url, params={"f": "html"})
        assert r.status_code == 200, url
        assert r.headers["content-type"].startswith("text/html")
        assert "<html lang=\"zh-CN\">" in r.text
    browser = client.get("/collections", headers={"Accept": "text/html,*/*"})
    assert browser.headers["content-type"].startswith("text/html")
    assert "网格" in browser.text


def test_healthz(client: Any) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_errors_are_problem_json(client: Any) -> None:
    r = assert_problem(client.get("/nowhere"), 404)
    assert set(r) >= {"type", "title", "status", "detail", "instance"}
    assert r["instance"] == "/nowhere"
