"""Rate limits at the edge: every route, bad keys included, by the right client address;
and the OpenAPI document's statuses and media types."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest

from api.guards import client_address, limit_key, parse_networks
from gisgov.keys import create_key
from gisgov.store import open_workspace
from maps._assets import ASSETS_DIR
from tests.api.api_test_helpers import assert_problem, auth
from tests.api.conftest import grid_code, make_client

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def _client(url: str, *, peer: str = "198.51.100.7", **settings: Any) -> TestClient:
    from api.app import create_app
    from api.settings import Settings

    options: dict[str, Any] = {"workspace": url, "audit_flush_seconds": 0,
                               "index_check_seconds": 0, **settings}
    return TestClient(create_app(Settings(**options)), raise_server_exceptions=False,
                      client=(peer, 40000))


def _asset() -> str:
    path = next(p for p in sorted(ASSETS_DIR.rglob("*.js")) if p.is_file())
    return "/assets/" + path.relative_to(ASSETS_DIR).as_posix()


def test_bad_keys_reach_429(world_url: Any) -> None:
    with make_client(world_url("gpkg"), rate_limit=0.5, rate_burst=3) as client:
        codes = [client.get("/collections", headers=auth("gg_bad_guess")).status_code
                 for _ in range(4)]
        assert codes == [401, 401, 401, 429]
        body = assert_problem(client.get("/collections", headers=auth("gg_other")), 429)
        assert "retry" in body["detail"]


def test_every_route_counts_against_the_address(world_url: Any) -> None:
    # maps, assets, the field page, a 404 and the API share one window per address
    routes = ["/maps/", _asset(), "/field", "/no/such/page", "/openapi.json"]
    with make_client(world_url("gpkg"), rate_limit=0.1, rate_burst=len(routes)) as client:
        codes = [client.get(r).status_code for r in routes]
        assert 429 not in codes, codes
        for route in [*routes, "/conformance", "/healthz"]:
            r = client.get(route)
            assert_problem(r, 429)
            assert int(r.headers["retry-after"]) >= 1


def test_a_valid_key_has_its_own_window_too(world_url: Any) -> None:
    url = world_url("gpkg")
    ws = open_workspace(url)
    key = create_key(ws, role="coordinator", communities=[grid_code(0, 0)[:12]])[0]
    ws.close()
    # the address allows 6, the key 3: the key's 4th request is refused, the public one not
    with make_client(url, rate_limit=0.1, rate_burst=3, ip_rate_burst=6) as client:
        codes = [client.get("/conformance", headers=auth(key)).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        assert client.get("/conformance").status_code == 200


def test_forwarded_for_is_ignored_without_trusted_proxies(world_url: Any) -> None:
    with _client(world_url("gpkg"), peer="127.0.0.1", rate_limit=0.1, rate_burst=2) as client:
        codes = [client.get("/conformance", headers={"X-Forwarded-For": f"10.0.0.{i}"})
                 .status_code for i in range(3)]
        # three "different" clients from one local socket are one client
        assert codes == [200, 200, 429]


def test_forwarded_for_from_a_trusted_proxy(world_url: Any) -> None:
    with _client(world_url("gpkg"), peer="10.1.2.3", rate_limit=0.1, rate_burst=2,
                 trusted_proxies=["10.0.0.0/8"]) as client:
        one = {"X-Forwarded-For": "203.0.113.1"}
        codes = [client.get("/conformance", headers=one).status_code for _ in range(3)]
        assert codes == [200, 200, 429]  # the forwarded client is counted, not the proxy
        assert client.get("/conformance",
                          headers={"X-Forwarded-For": "203.0.113.5"}).status_code == 200


@pytest.mark.parametrize(("peer", "xff", "trusted", "expected"), [
    ("127.0.0.1", "1.2.3.4", [], "127.0.0.1"),                       # nobody trusted
    ("198.51.100.1", "1.2.3.4", ["10.0.0.0/8"], "198.51.100.1"),    # peer not a proxy
    ("10.0.0.2", "1.2.3.4", ["10.0.0.0/8"], "1.2.3.4"),
    ("10.0.0.2", "6.6.6.6, 1.2.3.4, 10.0.0.9", ["10.0.0.0/8"], "1.2.3.4"),  # spoofed left
    ("10.0.0.2", "10.0.0.8, 10.0.0.9", ["10.0.0.0/8"], "10.0.0.8"),  # all proxies
    ("10.0.0.2", "garbage, 1.2.3.4", ["10.0.0.0/8"], "1.2.3.4"),
    ("10.0.0.2", "1.2.3.4, garbage", ["10.0.0.0/8"], "10.0.0.2"),
    ("::1", "2001:db8::5", ["::1/128"], "2001:db8::5"),
])
def test_client_address(peer: str, xff: str, trusted: list[str], expected: str) -> None:
    scope = {"client": (peer, 1), "headers": [(b"x-forwarded-for", xff.encode())]}
    assert client_address(scope, parse_networks(trusted)) == expected


def test_trusted_proxies_must_parse() -> None:
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 network"):
        parse_networks(["proxy.example"])


def test_openapi_describes_statuses_and_media_types(shared: tuple[Any, dict[str, str]]) -> None:
    client, _ = shared
    r = client.get("/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc == client.get("/api").json()
    ops = [(path, method, op) for path, item in doc["paths"].items()
           for method, op in item.items()]
    assert len(ops) >= 15
    for path, method, op in ops:
        responses = op["responses"]
        for code in ("400", "429"):
            assert "application/problem+json" in responses[code]["content"], (path, method)
        # validation errors are 400 here: FastAPI's 422 schema must not be advertised
        assert "HTTPValidationError" not in str(responses), (path, method)
        if method == "post":
            assert "413" in responses, path
        if "security" in op:
            assert {"401", "403"} <= set(responses), path
    items = doc["paths"]["/collections/{collectionId}/items"]["get"]["responses"]["200"]
    assert set(items["content"]) == {"application/geo+json", "text/html"}
    batch = doc["paths"]["/lookup/batch"]["post"]["responses"]["200"]
    assert set(batch["content"]) == {"application/json", "text/csv"}
    jobs = doc["paths"]["/jobs/assign"]["post"]["responses"]
    assert {"202", "403", "409", "413", "429"} <= set(jobs)
    offset = next(p for p in doc["paths"]["/collections/{collectionId}/items"]["get"]
                  ["parameters"] if p["name"] == "offset")
    assert offset["schema"]["maximum"] == 2**53 - 1
    assert "text/html" in doc["paths"]["/lookup"]["get"]["responses"]["200"]["content"]


def test_a_bad_trusted_proxy_stops_the_service_at_start() -> None:
    from pydantic import ValidationError

    from api.settings import Settings

    with pytest.raises(ValidationError, match="trusted_proxies"):
        Settings(workspace="x.gpkg", trusted_proxies=["10.0.0.0/8", "proxy.example"])
    assert Settings(workspace="x.gpkg", trusted_proxies=["10.0.0.1"]).trusted_proxies


def test_batch_bodies_of_every_accepted_kind_pass_the_edge(
        shared: tuple[Any, dict[str, str]]) -> None:
    # the JSON check at the edge parses a GeoJSON body once and hands it to the route; CSV and
    # bodies without a content type still reach it unchanged
    client, _ = shared
    points = [(114.1810, 34.4130), (114.1890, 34.4050)]
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": f"p{i}", "geometry": {"type": "Point", "coordinates": [x, y]}}
        for i, (x, y) in enumerate(points)]}
    csv_body = "id,lon,lat\n" + "".join(f"p{i},{x},{y}\n" for i, (x, y) in enumerate(points))
    answers = []
    for body, kind in ((json.dumps(fc), "application/geo+json"),
                       (json.dumps(fc), "application/json"), (json.dumps(fc), None),
                       (csv_body, "text/csv"), (csv_body, None)):
        headers = {"Content-Type": kind} if kind else {}
        r = client.post("/lookup/batch", content=body.encode(), headers=headers)
        assert r.status_code == 200, (kind, r.text)
        answers.append([(row["id"], row["grid_code"]) for row in r.json()["results"]])
    assert all(a == answers[0] for a in answers)
    assert answers[0] == [("p0", "410223001001001"), ("p1", answers[0][1][1])]
    assert answers[0][1][1] is not None
    assert answers[0][1][1] != "410223001001001"


@pytest.mark.parametrize(("address", "key"), [
    ("203.0.113.9", "203.0.113.9"),
    ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),  # same subscriber
    ("2001:db8:1:3::1", "2001:db8:1:3::/64"),                   # another one
    ("::ffff:203.0.113.9", "203.0.113.9"),                      # IPv4 behind a dual stack
    ("testclient", "testclient"),
])
def test_limit_key(address: str, key: str) -> None:
    assert limit_key(address) == key
