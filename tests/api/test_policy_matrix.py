"""Role × route matrix: every route of the app, every map file, four callers, zero leaks.

The routes are enumerated from the app itself (``app.routes``, which the OpenAPI document is
made from), so a route added later is covered automatically, and a route this test does not
know how to call (not in :data:`ROUTES`) fails the test: a new route must be classified here,
which means someone decided how it goes through :mod:`gisgov.policy`. Path parameters are
filled from the data (every collection, every feature of it, every map page any role is
offered, every vendored asset, a real job).

Callers: no key (public), a field key for one grid, a coordinator key for one community, a
planner key. Leaks are searched in every response body, on both stores:

- public: no household or member id, address, name, phone or ID number, and no household or
  member point (the grid leaders' and workers' posted names and phones are allowed);
- field: none of those of a household or member outside its grid;
- coordinator: none outside its community.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest

from api.app import DOC_ASSETS, doc_asset_dir
from gisgov.keys import create_key
from gisgov.policy import policy_for
from gisgov.store import open_workspace
from maps._assets import ASSETS_DIR
from maps.field import field_page_html
from tests.api.api_test_helpers import FIELD_GRID, auth
from tests.api.conftest import STORES, grid_code, make_client, world
from tests.maps.map_test_helpers import decoded

COMMUNITY = FIELD_GRID[:12]
ROLES = ("public", "field", "coordinator", "planner")
#: Grids each role may see people of.
ALL_GRIDS = frozenset(grid_code(c, r) for c in range(4) for r in range(4))
SCOPE: dict[str, frozenset[str]] = {
    "public": frozenset(),
    "field": frozenset({FIELD_GRID}),
    "coordinator": frozenset(g for g in ALL_GRIDS if g.startswith(COMMUNITY)),
    "planner": ALL_GRIDS,
}

#: Every route of the app (method, path) → how the matrix calls it. A route missing here
#: fails :func:`test_every_route_is_classified`.
ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/"): "plain",
    ("GET", "/conformance"): "plain",
    ("GET", "/collections"): "plain",
    ("GET", "/collections/{collectionId}"): "collection",
    # the caller's queryable properties: column names and titles, never values
    ("GET", "/collections/{collectionId}/queryables"): "collection",
    ("GET", "/collections/{collectionId}/items"): "items",
    ("GET", "/collections/{collectionId}/items/{featureId}"): "feature",
    ("GET", "/lookup"): "lookup",
    ("POST", "/lookup/batch"): "batch",
    ("POST", "/jobs/redistrict"): "job_post",
    ("POST", "/jobs/grids"): "job_post",
    ("POST", "/jobs/assign"): "job_post",
    ("GET", "/jobs"): "plain",
    ("GET", "/jobs/{jobId}"): "job",
    ("GET", "/maps"): "plain",
    ("GET", "/maps/"): "plain",
    ("GET", "/maps/data/{layer}.geojson"): "maps_data",
    ("GET", "/maps/{name}"): "maps_page",
    ("GET", "/assets/{path:path}"): "asset",
    ("GET", "/field"): "field_page",
    ("GET", "/healthz"): "plain",
    ("GET", "/api"): "plain",
    ("GET", "/openapi.json"): "plain",
    ("GET", "/api.html"): "plain",
    ("GET", "/redoc"): "plain",
    ("GET", "/api-assets/{name}"): "doc_asset",
    # Browser sign-in (api.session_routes): the page holds no data; the routes answer with
    # the caller's own role and scope only (the cookie is then the key: tests/api/test_sessions).
    ("GET", "/signin"): "plain",
    ("GET", "/auth/session"): "plain",
    ("POST", "/auth/session"): "signin",
    ("POST", "/auth/signout"): "plain",
    # The emergency sweep (api.emergency_routes): coordinators their communities, planners
    # all, field and public refused; circles all over the world and one polygon around it.
    ("POST", "/emergency/contacts"): "emergency",
    # Events (api.events_routes): writes; the events themselves are read as the collections
    # ``events`` and ``event_log`` above (seeded in ``served``, one per grid at a household).
    ("POST", "/events"): "event_post",
    ("POST", "/events/{event_id}/actions"): "event_post",
}


def _app_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route, included routers flattened (FastAPI ≥ 0.16x keeps an
    included router as one entry pointing at the original)."""
    out: set[tuple[str, str]] = set()

    def walk(routes: Any, prefix: str) -> None:
        for route in routes:
            inner = getattr(route, "original_router", None)
            if inner is not None:
                context = getattr(route, "include_context", None)
                walk(inner.routes, prefix + str(getattr(context, "prefix", "") or ""))
                continue
            methods = getattr(route, "methods", None)
            assert methods is not None, f"a route of an unknown kind: {route!r}"
            for method in sorted(set(methods) - {"HEAD", "OPTIONS"}):
                out.add((method, prefix + route.path))

    walk(app.routes, "")
    assert len(out) >= len(ROUTES) // 2, out  # the walk found the app's routes
    return out


# ---- the world and what is secret in it ------------------------------------------------

def _grid_of_household(hid: str) -> str:
    k = int(hid[1:3])
    return grid_code(k // 4, k % 4)


def _grid_of_member(mid: str) -> str:
    k = int(mid[1:3])
    return grid_code(k // 4, k % 4)


class Secrets:
    """Each person's identifying strings and point, with the grid they belong to."""

    def __init__(self) -> None:
        layers = world()
        self.strings: list[tuple[str, str, str]] = []  # (grid, what, value)
        self.points: list[tuple[str, str, float, float]] = []
        for row in layers["households"].itertuples():
            grid = _grid_of_household(row.id)
            for what in ("address", "head_name", "phone", "id_number"):
                self.strings.append((grid, f"household {row.id} {what}", getattr(row, what)))
            self.points.append((grid, f"household {row.id} point", row.geometry.x,
                                row.geometry.y))
        for row in layers["members"].itertuples():
            grid = _grid_of_member(row.id)
            for what in ("name", "phone"):
                self.strings.append((grid, f"member {row.id} {what}", getattr(row, what)))
            self.points.append((grid, f"member {row.id} point", row.geometry.x,
                                row.geometry.y))
        posted = {str(v) for v in layers["staff"][["name", "phone"]].to_numpy().ravel()}
        assert not posted & {s for _, _, s in self.strings}

    def leaks(self, role: str, text: str, *, points: bool) -> list[str]:
        """What ``text`` shows of people outside the role's scope."""
        allowed = SCOPE[role]
        found = []
        for hid in set(_HOUSEHOLD_ID.findall(text)):
            if _grid_of_household(hid) not in allowed:
                found.append(f"household id {hid}")
        for mid in set(_MEMBER_ID.findall(text)):
            if _grid_of_member(mid) not in allowed:
                found.append(f"member id {mid}")
        for grid, what, value in self.strings:
            if grid not in allowed and value in text:
                found.append(what)
        if points:
            pairs = {(float(a), float(b)) for a, b in _PAIR.findall(text)}
            for grid, what, x, y in self.points:
                if grid in allowed:
                    continue
                if any((abs(a - x) < 5e-7 and abs(b - y) < 5e-7)
                       or (abs(a - y) < 5e-7 and abs(b - x) < 5e-7) for a, b in pairs):
                    found.append(what)
        return found


_HOUSEHOLD_ID = re.compile(r"(?<![\w-])h\d{4}(?![\w])")
_MEMBER_ID = re.compile(r"(?<![\w-])m\d{2}(?![\w])")
_PAIR = re.compile(r"(-?\d{1,3}\.\d+)\s*,\s*(-?\d{1,3}\.\d+)")


def _text(response: Any) -> str:
    body = response.content.decode("utf-8-sig", errors="replace")
    kind = response.headers.get("content-type", "")
    if "json" in kind:
        try:
            return json.dumps(json.loads(body), ensure_ascii=False)
        except ValueError:
            return body
    return decoded(body)


# ---- the served world --------------------------------------------------------------------

@pytest.fixture(scope="module", params=STORES)
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[Any, dict[str, str | None], str]]:
    """A client over the world with a finished assignment job, product tables holding
    people (the unassigned list, an unknown report), and keys of every role."""
    if request.param == "gpkg":
        url = str(tmp_path_factory.mktemp("matrix") / "world.gpkg")
        shutil.copyfile(request.getfixturevalue("world_gpkg"), url)
    else:
        url = request.getfixturevalue("world_postgis")()
    ws = open_workspace(url)
    keys: dict[str, str | None] = {
        "public": None,
        "field": create_key(ws, role="field", grids=[FIELD_GRID])[0],
        "coordinator": create_key(ws, role="coordinator", communities=[COMMUNITY])[0],
        "planner": create_key(ws, role="planner")[0],
    }
    ws.close()
    # Audit records are batched here (flushed by the audit test): each flush rewrites a
    # GeoPackage today, and the matrix makes hundreds of audited reads.
    with make_client(url, rate_burst=1_000_000, rate_limit=1_000_000,
                     audit_flush_seconds=3600) as client:
        planner = auth(keys["planner"])
        r = client.post("/jobs/assign", json={"min_load": 1, "max_load": 10, "fresh": True,
                                              "borrow": False}, headers=planner)
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        client.app.state.gisgov.jobs.wait(job_id)
        assert client.get(f"/jobs/{job_id}", headers=planner).json()["status"] == "succeeded"
        # Product tables written by other runs, with people in them.
        layers = world()
        people = layers["households"][["id", "head_name", "address"]].iloc[::7]
        unassigned = pd.DataFrame({"household_id": people["id"],
                                   "grid_code": [_grid_of_household(h) for h in people["id"]],
                                   "reason": "no member in reach"})
        report = gpd.GeoDataFrame(people.rename(columns={"id": "household"}),
                                  geometry=layers["households"].geometry.iloc[::7].values,
                                  crs="EPSG:4326")
        # One event per grid, at a household's door: the collections events and event_log
        # must then show each role its own grids' events only.
        for row in layers["households"].iloc[::6].itertuples():
            r = client.post("/events", headers=planner, json={
                "lon": row.geometry.x, "lat": row.geometry.y, "category": "环境卫生",
                "text": "楼道堆物", "reporter": row.head_name})
            assert r.status_code == 201, r.text
        state = client.app.state.gisgov
        state.ws.write_table("assignment_unassigned", unassigned, mode="replace")
        state.ws.write_table("survey_people", report, mode="replace")
        state.index.refresh()
        yield client, keys, job_id


def test_every_route_is_classified(served: tuple[Any, dict[str, str | None], str]) -> None:
    client = served[0]
    routes = _app_routes(client.app)
    unknown = sorted(routes - set(ROUTES))
    assert not unknown, (f"route(s) {unknown} are not in the policy matrix: decide how they "
                         "apply gisgov.policy and add them to ROUTES")
    # The OpenAPI document lists no path the app does not route.
    doc = client.get("/api").json()
    documented = {(m.upper(), p) for p, item in doc["paths"].items() for m in item
                  if m in ("get", "post", "put", "patch", "delete")}
    assert documented <= routes | {(m, p.replace("{path}", "{path:path}")) for m, p in routes}
    assert not set(ROUTES) - routes, "ROUTES names a route the app no longer has"


def _requests(client: Any, keys: dict[str, str | None], job_id: str
              ) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(kind, method, url, options) for every call of the matrix, made for every role."""
    planner = auth(keys["planner"])
    collections = [c["id"] for c in client.get("/collections", headers=planner)
                   .json()["collections"]]
    assert {"households", "members", "assignments", "assignment_unassigned",
            "survey_people", "staff", "events", "event_log"} <= set(collections)
    features: dict[str, list[str]] = {}
    for cid in collections:
        doc = client.get(f"/collections/{cid}/items", params={"limit": 1000},
                         headers=planner).json()
        features[cid] = [str(f["id"]) for f in doc["features"]]
    pages: set[str] = set()
    for role in ROLES:
        index = client.get("/maps/", headers=auth(keys[role])).text
        pages |= set(re.findall(r'href="([^"]+\.html)"', index))
    assert any(p.startswith("redgrid-") for p in pages)
    points = [(row.geometry.x, row.geometry.y) for row in world()["households"].itertuples()]
    points += [(row.geometry.x, row.geometry.y) for row in world()["members"].itertuples()]
    for (method, path), kind in sorted(ROUTES.items()):
        if kind == "plain":
            yield kind, method, path, {}
        elif kind == "collection":
            for cid in collections:
                yield kind, method, path.replace("{collectionId}", cid), {}
        elif kind == "items":
            for cid in collections:
                yield kind, method, f"/collections/{cid}/items", {"params": {"limit": 1000}}
                yield kind, method, f"/collections/{cid}/items", {"params": {"f": "html",
                                                                             "limit": 1000}}
                # the bbox path (spatial index, window count) of the same statement
                yield kind, method, f"/collections/{cid}/items", {"params": {
                    "limit": 1000, "bbox": "114.17,34.39,114.21,34.43"}}
        elif kind == "feature":
            for cid in collections:
                # Places are public: three of each suffice. Of people, every other one (two
                # per building, so every grid in and out of each scope), and every row of
                # the other tables.
                kind_of = policy_for(cid).kind
                ids = features[cid]
                chosen = ids[:3] if kind_of == "place" else ids[::2] if len(ids) > 50 else ids
                for fid in chosen:
                    yield kind, method, f"/collections/{cid}/items/{fid}", {}
        elif kind == "lookup":
            for x, y in points:
                yield kind, method, "/lookup", {"params": {"lon": repr(x), "lat": repr(y)}}
        elif kind == "batch":
            csv_text = "id,lon,lat\n" + "".join(f"p{i},{x!r},{y!r}\n"
                                               for i, (x, y) in enumerate(points))
            for f in ("json", "csv"):
                yield kind, method, "/lookup/batch", {
                    "params": {"f": f}, "content": csv_text.encode(),
                    "headers": {"Content-Type": "text/csv"}}
        elif kind == "job":
            yield kind, method, f"/jobs/{job_id}", {}
        elif kind == "signin":
            for body in ('{"code": "not-a-code"}', '{"key": "gg_00000000_nope"}', "{}"):
                yield kind, method, path, {"content": body.encode(),
                                           "headers": {"Content-Type": "application/json"}}
        elif kind == "field_page":
            yield kind, method, path, {}
        elif kind == "emergency":
            yield from _emergency_requests(method, path)
        elif kind == "job_post":
            pass  # writes, not reads: who may start what is test_jobs_policy's
        elif kind == "event_post":
            pass  # writes: who may report and act is tests/gisgov/events/test_api.py's
        elif kind == "maps_data":
            for layer in ("households", "grids", "basemap"):
                yield kind, method, f"/maps/data/{layer}.geojson", {}
        elif kind == "maps_page":
            for page in sorted(pages):
                yield kind, method, f"/maps/{page}", {}
        elif kind == "asset":
            for file in sorted(ASSETS_DIR.rglob("*")):
                if file.is_file() and file.suffix != ".md":
                    rel = file.relative_to(ASSETS_DIR).as_posix()
                    yield kind, method, f"/assets/{rel}", {}
        elif kind == "doc_asset":
            for name in sorted(DOC_ASSETS):
                yield kind, method, f"/api-assets/{name}", {}
            yield kind, method, "/api-assets/..%2Fconsts.py", {}  # not a listed asset: 404
        else:  # pragma: no cover - a kind added to ROUTES without a generator
            raise AssertionError(f"no requests for route kind {kind}")


def _emergency_requests(method: str, path: str
                        ) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """Circles centred between people (their echoed centre is no one's point), in every
    output format, and a polygon around the whole world."""
    grids = world()["grids"]
    minx, miny, maxx, maxy = grids.total_bounds
    bodies: list[dict[str, Any]] = [
        {"circle": {"lon": g.bounds[0] + 1e-4, "lat": g.bounds[1] + 1e-4, "radius_m": 450}}
        for g in grids.geometry.iloc[::3]]
    bodies.append({"polygon": {"type": "Polygon", "coordinates": [[
        [minx - 1e-3, miny - 1e-3], [maxx + 1e-3, miny - 1e-3], [maxx + 1e-3, maxy + 1e-3],
        [minx - 1e-3, maxy + 1e-3], [minx - 1e-3, miny - 1e-3]]]}})
    for body in bodies:
        for f in ("json", "csv", "html"):
            yield "emergency", method, path, {
                "params": {"f": f}, "content": json.dumps(body).encode(),
                "headers": {"Content-Type": "application/json"}}


def test_no_role_sees_people_outside_its_scope(
        served: tuple[Any, dict[str, str | None], str]) -> None:
    client, keys, job_id = served
    secrets = Secrets()
    leaks: list[str] = []
    calls = 0
    statuses: dict[str, dict[int, int]] = {role: {} for role in ROLES}
    started = time.monotonic()
    spent: dict[str, float] = {}
    for kind, method, url, options in _requests(client, keys, job_id):
        t0 = time.monotonic()
        for role in ROLES:
            headers = {**options.get("headers", {}), **auth(keys[role])}
            r = client.request(method, url, params=options.get("params"),
                               content=options.get("content"), headers=headers)
            calls += 1
            statuses[role][r.status_code] = statuses[role].get(r.status_code, 0) + 1
            assert r.status_code < 500, f"{role} {method} {url}: {r.status_code} {r.text[:300]}"
            if kind == "asset":  # static vendored files: byte for byte what is on disk
                if r.status_code == 200:
                    rel = url.removeprefix("/assets/")
                    assert r.content == (ASSETS_DIR / rel).read_bytes(), url
                continue
            if kind == "doc_asset":  # Swagger UI / ReDoc files of fastapi-offline, and no other
                name = url.removeprefix("/api-assets/")
                if name in DOC_ASSETS:
                    assert r.status_code == 200, url
                    assert r.content == (doc_asset_dir() / name).read_bytes(), url
                else:
                    assert r.status_code == 404, url
                continue
            if kind == "field_page":
                # No workspace data at all: the page made without one, for every role (its
                # default view centre happens to be a member's point in this world).
                assert r.text == field_page_html(
                    grids_url="/maps/data/grids.geojson?basemap=none",
                    basemap_url="/maps/data/basemap.geojson?basemap=none", basemap="none",
                    tianditu_key=None)
                continue
            if role == "planner":
                continue
            text = _text(r)
            if kind == "feature":
                # A problem names the path the caller sent (its own input, not a leak): take
                # it out, and count a 200 for a person outside the scope as the leak it is.
                fid = url.rsplit("/", 1)[1]
                text = text.replace(url, "").replace(f"'{fid}'", "")
                if r.status_code == 200:
                    text += f" {fid}"
            # Lookups echo the caller's own position: no point check there.
            found = secrets.leaks(role, text, points=kind not in ("lookup", "batch"))
            leaks += [f"{role} {method} {url} {options.get('params') or ''}: {what}"
                      for what in found]
        spent[kind] = spent.get(kind, 0.0) + time.monotonic() - t0
    assert not leaks, f"{len(leaks)} leak(s):\n" + "\n".join(leaks[:40])
    # The matrix really ran: a few thousand calls, and every role got answers.
    assert calls > 800
    assert all(statuses[role].get(200, 0) > 100 for role in ROLES), statuses
    print(f"\npolicy matrix: {calls} calls in {time.monotonic() - started:.1f} s; "
          f"statuses {statuses}; seconds by kind {({k: round(v, 1) for k, v in spent.items()})}")


def test_scoped_roles_see_their_own_people(
        served: tuple[Any, dict[str, str | None], str]) -> None:
    """The matrix must not pass by showing nothing: each role sees exactly its scope."""
    client, keys, _ = served

    def ids(role: str, cid: str, key: str = "id") -> set[str]:
        r = client.get(f"/collections/{cid}/items", params={"limit": 1000},
                       headers=auth(keys[role]))
        if r.status_code == 403:
            return set()
        assert r.status_code == 200, r.text
        return {str(f["properties"][key]) for f in r.json()["features"]}

    everyone = ids("planner", "households")
    assert len(everyone) == 96
    for role in ROLES:
        expect = {h for h in everyone if _grid_of_household(h) in SCOPE[role]}
        assert ids(role, "households") == expect, role
        assert ids(role, "assignments", "household_id") == expect, role
        members = {m for m in ids("planner", "members") if _grid_of_member(m) in SCOPE[role]}
        assert ids(role, "members") == members, role
        events = ids(role, "events", "grid_code")
        assert events == (SCOPE[role] if role != "public" else set()), role
        unassigned = ids(role, "assignment_unassigned", "household_id")
        assert {_grid_of_household(h) for h in unassigned} <= SCOPE[role], role
        data = client.get("/maps/data/households.geojson", headers=auth(keys[role]))
        if role == "public":
            assert data.status_code == 403
        else:
            assert {f["id"] for f in data.json()["features"]} == expect, role
    # An unknown table is closed to all but planners, even when it holds the caller's area.
    assert ids("coordinator", "survey_people", "household") == set()
    assert len(ids("planner", "survey_people", "household")) == 14
    # Public: the notice board (every grid's leader and worker, as posted), no member links.
    staff = client.get("/collections/staff/items", params={"limit": 1000}).json()["features"]
    assert len(staff) == 32
    assert all("member_id" not in f["properties"] for f in staff)
    assert {f["properties"]["name"] for f in staff} == set(world()["staff"]["name"])


def test_unmasked_and_people_reads_are_audited(
        served: tuple[Any, dict[str, str | None], str]) -> None:
    from gisgov.audit import read_audit

    client, keys, _ = served
    state = client.app.state.gisgov
    state.audit.flush()
    before = len(read_audit(state.ws))
    client.get("/collections/households/items", headers=auth(keys["field"]))
    client.get("/maps/data/households.geojson", headers=auth(keys["coordinator"]))
    client.get("/collections/members/items/m00", headers=auth(keys["planner"]))
    client.get("/collections/grids/items")  # no people: no record
    client.get("/collections/staff/items")  # the notice board: public by decision
    state.audit.flush()
    audit = read_audit(state.ws).iloc[before:]
    assert len(audit) == 3, audit
    assert list(audit["target"]) == ["households", "households", "members"]
    assert audit["actor"].iloc[0].endswith("/field")
    assert "h0000" in audit["detail"].iloc[0]


def test_unknown_key_and_logs_name_no_key(served: tuple[Any, dict[str, str | None], str],
                                          caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from api.logs import QueryStripFilter

    client, keys, _ = served
    token = keys["field"]
    assert token is not None
    key_id = token.split("_")[1]
    body = client.get("/collections", headers=auth(token + "x")).json()
    assert key_id not in json.dumps(body)
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d',
                               ("1.2.3.4:5", "GET", "/lookup?lon=114.18&phone=13512345678",
                                "1.1", 200), None)
    assert QueryStripFilter().filter(record)
    assert record.getMessage() == '1.2.3.4:5 - "GET /lookup HTTP/1.1" 200'
    assert any(isinstance(f, QueryStripFilter)
               for f in logging.getLogger("uvicorn.access").filters)

