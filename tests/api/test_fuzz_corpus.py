"""The fuzz corpus of issue 13: every input that once gave a 5xx (or was read before being
refused) is a 4xx problem now, and changes nothing.

Each case runs against one app over a copy of the test world with a planner key (the role
that reaches the most code); after each, the workspace version and the job list are what
they were. Float and integer parameters are taken from the OpenAPI document and the layer
schema, so a new numeric parameter is covered without editing this file.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from gisgov.errors import StoreError
from gisgov.keys import create_key
from gisgov.layers import LAYERS
from gisgov.store import open_workspace
from tests.api.api_test_helpers import FIELD_BUILDING_POINT
from tests.api.conftest import make_client

# Text a problem must never show: SQL, store internals, file paths.
LEAKS = ("select ", "sqlite", "executesql", ".gpkg", "/tmp", "/work", "where \"", "psycopg")
LON, LAT = FIELD_BUILDING_POINT
PATH_VALUES = {"collectionId": "assignments", "featureId": "h0000", "jobId": "nojob",
               "layer": "households", "name": "county.html"}
REQUIRED_QUERY = {"lon": str(LON), "lat": str(LAT)}


@pytest.fixture(scope="module")
def fuzz(store_kind: str, tmp_path_factory: pytest.TempPathFactory,
         request: pytest.FixtureRequest) -> Iterator[tuple[Any, dict[str, str]]]:
    """A client over a private world workspace (both stores) and a planner key."""
    if store_kind == "gpkg":
        path = tmp_path_factory.mktemp("corpus") / "world.gpkg"
        shutil.copyfile(request.getfixturevalue("world_gpkg"), path)
        url = str(path)
    else:
        url = request.getfixturevalue("world_postgis")()
    ws = open_workspace(url)
    key = create_key(ws, role="planner")[0]
    ws.close()
    with make_client(url, rate_limit=1e6, rate_burst=10**6) as client:
        yield client, {"X-API-Key": key}


def _unchanged(client: Any) -> Callable[[], None]:
    """A check that the workspace version and the job list are as they are now."""
    state = client.app.state.gisgov
    before = (state.ws.version, len(state.jobs.list()))

    def check() -> None:
        assert (state.ws.version, len(state.jobs.list())) == before

    return check


def _assert_refused(response: Any, *statuses: int) -> dict[str, Any]:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    if statuses:
        assert response.status_code in statuses, response.text[:300]
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    text = body["detail"].lower()
    assert not any(leak in text for leak in LEAKS), body["detail"]
    return body


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method, path, op) for path, item in doc["paths"].items()
            for method, op in item.items() if isinstance(op, dict) and "responses" in op]


def _url(path: str) -> str:
    for name, value in PATH_VALUES.items():
        path = path.replace("{" + name + "}", value)
    return path


FLOAT_VALUES = ["nan", "NaN", "inf", "-inf", "Infinity", "1e309", "-1e309"]
INT_VALUES = [str(10**21), str(-(10**21)), str(2**63)]


def test_every_numeric_parameter_refuses_non_finite_and_huge(fuzz: Any) -> None:
    client, key = fuzz
    doc = client.get("/openapi.json").json()
    check = _unchanged(client)
    seen: set[tuple[str, str]] = set()
    for method, path, op in _operations(doc):
        if method != "get":
            continue
        for param in op.get("parameters", []):
            kind = param.get("schema", {}).get("type")
            if param["in"] != "query" or kind not in ("number", "integer"):
                continue
            values = FLOAT_VALUES if kind == "number" else INT_VALUES
            for value in values:
                query = {**REQUIRED_QUERY, param["name"]: value}
                query = {k: v for k, v in query.items()
                         if k == param["name"] or any(p["name"] == k
                                                      for p in op["parameters"])}
                r = client.get(_url(path), params=query, headers=key)
                body = _assert_refused(r, 400)
                assert param["name"] in body["detail"]
                seen.add((path, param["name"]))
    # the parameters the issue named are among them
    assert ("/lookup", "lon") in seen
    assert ("/lookup", "lat") in seen
    assert ("/collections/{collectionId}/items", "offset") in seen
    assert ("/collections/{collectionId}/items", "limit") in seen
    # property filters on numeric columns: walk_m=nan|inf|1e309 and friends
    filters = 0
    for layer, spec in LAYERS.items():
        for col in spec.columns:
            if col.dtype not in ("float", "int"):
                continue
            values = FLOAT_VALUES if col.dtype == "float" else INT_VALUES
            for value in values:
                r = client.get(f"/collections/{layer}/items", params={col.name: value},
                               headers=key)
                _assert_refused(r, 400, 404)  # 404: a layer the test world does not have
                filters += 1
    assert filters >= 20
    r = client.get("/collections/assignments/items", params={"walk_m": "nan"}, headers=key)
    assert "walk_m" in _assert_refused(r, 400)["detail"]
    check()


@pytest.mark.parametrize(("url", "params"), [
    ("/collections/households/items/h00%0000", {}),        # NUL in an id
    ("/collections/house%00holds/items", {}),               # NUL in a collection
    ("/jobs/ab%00cd", {}),                                  # NUL in a job id
    ("/maps/county%00.html", {}),                           # NUL in a map name
    ("/assets/%00", {}),                                    # NUL in an asset path
    ("/assets/leaflet/%00../../x", {}),
    ("/collections/households/items", {"building_id": "b000\x00"}),  # NUL in a filter value
    ("/collections/households/items", {"id": "\x00"}),
    ("/collections/households/items", {"bbox": "114,34\x00,115,35"}),
    ("/collections/households/items", {"crs\x00": "x"}),     # NUL in a parameter name
    ("/lookup", {"lon": "114.18\x00", "lat": "34.41"}),
])
def test_nul_bytes_are_refused(fuzz: Any, url: str, params: dict[str, str]) -> None:
    client, key = fuzz
    check = _unchanged(client)
    _assert_refused(client.get(url, params=params, headers=key), 400, 404)
    check()


@pytest.mark.parametrize(("lon", "lat"), [(0, -90), (0, 90), (180, -90), (-180, 90),
                                         (180, 0), (-180, 0)])
@pytest.mark.parametrize("crs", ["bd09", "gcj02"])
def test_poles_and_antimeridian_in_chinese_systems(fuzz: Any, lon: float, lat: float,
                                                   crs: str) -> None:
    client, key = fuzz
    r = client.get("/lookup", params={"lon": lon, "lat": lat, "crs": crs}, headers=key)
    body = _assert_refused(r, 400, 404)
    if r.status_code == 404:  # outside every grid: the distance is a real number
        assert isinstance(body["distance_m"], float)
    batch = client.post("/lookup/batch", params={"crs": crs},
                        content=f"lon,lat\n{lon},{lat}\n".encode(),
                        headers={**key, "Content-Type": "text/csv"})
    assert batch.status_code in (200, 400), batch.text
    if batch.status_code == 400:
        _assert_refused(batch, 400)


def test_bd09_south_pole_is_a_clear_error(fuzz: Any) -> None:
    client, _ = fuzz
    body = _assert_refused(client.get("/lookup?lon=0&lat=-90&crs=bd09"), 400)
    assert "bd09" in body["detail"]
    assert "pole" in body["detail"]


def test_csv_field_over_the_csv_module_limit(fuzz: Any) -> None:
    client, key = fuzz
    check = _unchanged(client)
    body = f"lon,lat,id\n{LON},{LAT},".encode() + b"x" * 131_073 + b"\n"
    r = client.post("/lookup/batch", content=body, headers={**key, "Content-Type": "text/csv"})
    assert "131,072" in _assert_refused(r, 400)["detail"]
    # the same point with a short id is answered
    ok = client.post("/lookup/batch", content=f"lon,lat,id\n{LON},{LAT},a\n".encode(),
                     headers={**key, "Content-Type": "text/csv"})
    assert ok.status_code == 200
    assert ok.json()["found"] == 1
    check()


@pytest.mark.parametrize("route", ["/lookup/batch", "/jobs/assign", "/jobs/grids",
                                   "/jobs/redistrict"])
@pytest.mark.parametrize("body", [
    b"[" * 10_000 + b"]" * 10_000,
    b'{"features": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    b'{"a": ' + b'{"b": ' * 40 + b"1" + b"}" * 40 + b"}",
    b'{"min_load": NaN}', b'{"borrow_cost": Infinity}', b'{"tolerance": 1e309}',
    b'{"communities": "a\\u0000b"}', b'{"\\u0000": 1}',
    b"null", b"[]", b"3", b'"x"',
])
def test_json_bodies_refused_at_the_edge(fuzz: Any, route: str, body: bytes) -> None:
    client, key = fuzz
    check = _unchanged(client)
    r = client.post(route, content=body, headers={**key, "Content-Type": "application/json"})
    _assert_refused(r, 400)
    check()


def test_null_body_to_every_job_route(fuzz: Any) -> None:
    client, key = fuzz
    doc = client.get("/openapi.json").json()
    check = _unchanged(client)
    routes = [path for method, path, _ in _operations(doc)
              if method == "post" and path.startswith("/jobs/")]
    assert len(routes) >= 3
    for path in routes:
        for headers in ({"Content-Type": "application/json"}, {}):  # FastAPI reads both as JSON
            r = client.post(path, content=b"null", headers={**key, **headers})
            assert "null" in _assert_refused(r, 400)["detail"]
    check()


def test_nul_byte_in_a_csv_body(fuzz: Any) -> None:
    client, key = fuzz
    r = client.post("/lookup/batch", content=f"lon,lat,id\n{LON},{LAT},a\x00b\n".encode(),
                    headers={**key, "Content-Type": "text/csv"})
    assert "NUL" in _assert_refused(r, 400)["detail"]


# ---- bodies over the limit: refused before (or while) they are read ----------------------

class _CountingBody:
    """An ASGI ``receive`` serving ``total`` bytes in ``chunk``-byte pieces, counting reads."""

    def __init__(self, total: int, chunk: int = 64 * 1024) -> None:
        self.total, self.chunk = total, chunk
        self.calls = 0
        self.served = 0

    async def __call__(self) -> dict[str, Any]:
        self.calls += 1
        size = min(self.chunk, self.total - self.served)
        self.served += size
        return {"type": "http.request", "body": b"1" * size,
                "more_body": self.served < self.total}


def _call(app: Any, path: str, body: _CountingBody, headers: list[tuple[bytes, bytes]]
          ) -> tuple[int, dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
             "root_path": "", "query_string": b"", "headers": headers,
             "client": ("203.0.113.9", 5000), "server": ("testserver", 80), "state": {}}
    asyncio.run(app(scope, body, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], json.loads(payload)


def test_50_mb_batch_is_refused_before_one_byte_is_read(fuzz: Any) -> None:
    client, key = fuzz
    app, state = client.app, client.app.state.gisgov
    limit = state.settings.max_batch_bytes
    check = _unchanged(client)
    body = _CountingBody(50 * 1024 * 1024)
    headers = [(b"content-type", b"text/csv"), (b"content-length", str(body.total).encode()),
               (b"x-api-key", key["X-API-Key"].encode())]
    status, problem = _call(app, "/lookup/batch", body, headers)
    assert status == 413
    assert problem["status"] == 413
    assert f"{limit:,}" in problem["detail"]
    assert body.calls == 0
    assert body.served == 0
    check()


@pytest.mark.parametrize(("path", "content_type"), [("/lookup/batch", b"text/csv"),
                                                    ("/lookup/batch", b"application/json"),
                                                    ("/jobs/assign", b"application/json")])
def test_chunked_body_is_cut_off_at_the_limit(fuzz: Any, path: str, content_type: bytes) -> None:
    client, key = fuzz
    state = client.app.state.gisgov
    limit = (state.settings.max_batch_bytes if path == "/lookup/batch"
             else state.settings.max_body_bytes)
    body = _CountingBody(50 * 1024 * 1024)
    headers = [(b"content-type", content_type), (b"transfer-encoding", b"chunked"),
               (b"x-api-key", key["X-API-Key"].encode())]
    status, problem = _call(client.app, path, body, headers)
    assert status == 413, problem
    # reading stopped at the first chunk past the limit, not at 50 MB
    assert limit < body.served <= limit + body.chunk


def test_a_body_just_under_the_limit_is_read(fuzz: Any) -> None:
    client, key = fuzz
    limit = client.app.state.gisgov.settings.max_body_bytes
    padding = " " * (limit - 200)
    r = client.post("/jobs/assign", content=('{"min_load": 1' + padding + "}").encode(),
                    headers={**key, "Content-Type": "application/json"})
    assert r.status_code != 413


# ---- store errors: generic text, correlation id, scrubbed log ----------------------------

def test_store_errors_do_not_show_sql_or_paths(fuzz: Any, monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    client, key = fuzz
    ws = client.app.state.gisgov.ws
    secret = "13712345678"

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise StoreError(f"cannot read households from /srv/county.gpkg: In ExecuteSQL(): "
                         f"SELECT * FROM \"households\" WHERE \"phone\" = '{secret}'")

    monkeypatch.setattr(ws, "features", broken)  # the items route reads pages
    with caplog.at_level(logging.WARNING, logger="api.errors"):
        r = client.get("/collections/households/items", params={"phone": secret}, headers=key)
    assert r.status_code == 503
    body = r.json()
    assert body["correlation_id"]
    assert body["correlation_id"] in body["detail"]
    assert not any(leak in body["detail"].lower() for leak in LEAKS)
    assert secret not in r.text
    logged = "\n".join(rec.getMessage() for rec in caplog.records)
    assert body["correlation_id"] in logged
    assert "households" in logged
    assert secret not in logged
