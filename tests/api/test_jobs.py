"""Jobs over HTTP: 202 + id, progress, results browsable as collections."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from gisgov.keys import create_key
from gisgov.store import copy_workspace, open_workspace
from tests.api.api_test_helpers import assert_problem, auth
from tests.api.conftest import STORES, make_client
from tests.conftest import HANG_GUARD_S, NO_TIME_CAP


def _wait(client: Any, href: str, key: str) -> dict[str, Any]:
    """The job's document once it has ended (succeeded or failed). Jobs are budgeted by
    iterations (``time_limit`` is :data:`NO_TIME_CAP`), so how long they take depends on the
    machine, never what they produce; the only clock here is the hang guard."""
    hung = time.monotonic() + HANG_GUARD_S
    while True:
        doc: dict[str, Any] = client.get(href, headers=auth(key)).json()
        if doc["status"] in ("succeeded", "failed"):
            return doc
        if time.monotonic() > hung:
            pytest.fail(f"job still {doc['status']} after {HANG_GUARD_S:.0f} s: hung? {doc}")
        time.sleep(0.1)


def _planner_key(url: str) -> str:
    ws = open_workspace(url)
    token = create_key(ws, role="planner")[0]
    ws.close()
    return token


@pytest.fixture
def county_url(request: pytest.FixtureRequest, county_gpkg: Path) -> Callable[[str], str]:
    """``county_url(kind)``: the fixture county in a private workspace of that store kind."""

    def make(kind: str) -> str:
        if kind == "gpkg":
            return str(county_gpkg)
        import psycopg

        base: str = request.getfixturevalue("postgis_url")
        schema = f"jobs_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        request.addfinalizer(lambda: _drop_schema(base, schema))
        url = f"{base}?options={quote(f'-csearch_path={schema},public')}"
        with open_workspace(county_gpkg) as src, open_workspace(url, create=True) as dst:
            copy_workspace(src, dst)
        return url

    return make


def _drop_schema(base: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.mark.parametrize("kind", STORES)
def test_redistrict_job_end_to_end(county_url: Any, kind: str) -> None:
    url = county_url(kind)
    key = _planner_key(url)
    with make_client(url) as client:
        r = client.post("/jobs/redistrict", json={"areas": 5, "time_limit": NO_TIME_CAP,
                                                  "seed": 1, "scenario": "reform"},
                        headers=auth(key))
        assert r.status_code == 202, r.text
        job = r.json()
        assert job["status"] in ("queued", "running", "succeeded")
        assert r.headers["location"].endswith(f"/jobs/{job['id']}")
        done = _wait(client, r.headers["location"], key)
        assert done["status"] == "succeeded", done
        assert done["progress"] == 1.0
        assert done["summary"]["scenario"] == "reform"
        assert done["summary"]["feasible"]
        results = [link["href"] for link in done["links"] if link["rel"] == "results"]
        assert any(h.endswith("/collections/scenario_reform_areas") for h in results)
        items = client.get("/collections/scenario_reform_areas/items",
                           headers=auth(key)).json()
        assert items["numberReturned"] == 5
        listed = client.get("/jobs", headers=auth(key)).json()
        assert [j["id"] for j in listed["jobs"]] == [job["id"]]
        # the communities layer is untouched until a planner accepts the scenario
        assert client.get("/collections/communities/items",
                          headers=auth(key)).json()["numberReturned"] == 8


def test_redistrict_job_weights_are_checked_at_the_request(county_url: Any) -> None:
    url = county_url("gpkg")
    key = _planner_key(url)
    with make_client(url) as client:
        bad = client.post("/jobs/redistrict", json={"areas": 5, "weights": "roundness=1"},
                          headers=auth(key))
        assert bad.status_code == 400, bad.text
        assert "NAME=VALUE" in bad.text
        r = client.post("/jobs/redistrict",
                        json={"areas": 5, "time_limit": NO_TIME_CAP, "seed": 1,
                              "scenario": "cuts",
                              "weights": "cut_edges=1,cut_length=0.1,main_streets=0,"
                                         "polsby_popper=0.25"},
                        headers=auth(key))
        assert r.status_code == 202, r.text
        done = _wait(client, r.headers["location"], key)
        assert done["status"] == "succeeded", done
        assert done["summary"]["feasible"]


def test_assign_job_runs_the_assignment_engine(world_url: Any) -> None:
    url = world_url("gpkg")
    key = _planner_key(url)
    with make_client(url) as client:
        r = client.post("/jobs/assign", json={"min_load": 1, "max_load": 10, "fresh": True},
                        headers=auth(key))
        assert r.status_code == 202, r.text
        done = _wait(client, r.headers["location"], key)
        assert done["status"] == "succeeded", done
        assert "assignments" in done["tables"]
        assert done["summary"]["assigned"] + done["summary"]["unassigned"] == 96
        assert done["summary"]["scope"] == "subdistrict"
        assert "assignment_recruit" in done["tables"]
        bad = client.post("/jobs/assign", json={"scope": "county"}, headers=auth(key))
        assert bad.status_code in (400, 422), bad.text
        r = client.post("/jobs/assign", json={"scope": "grid", "deploy_cap_m": 500,
                                              "fresh": True}, headers=auth(key))
        assert r.status_code == 202, r.text
        done = _wait(client, r.headers["location"], key)
        assert done["status"] == "succeeded", done
        assert done["summary"]["scope"] == "grid"
        assert done["summary"]["deployed"] == 0


def test_job_errors(world_url: Any) -> None:
    url = world_url("gpkg")
    key = _planner_key(url)
    with make_client(url) as client:
        assert_problem(client.post("/jobs/redistrict", json={"areas": 0}, headers=auth(key)),
                       400)
        assert_problem(client.post("/jobs/redistrict", json={"nonsense": 1},
                                   headers=auth(key)), 400)
        assert_problem(client.get("/jobs/doesnotexist", headers=auth(key)), 404)
        r = client.post("/jobs/redistrict", json={"areas": 16, "tolerance": 0.0,
                                                  "time_limit": 5}, headers=auth(key))
        # the world has no streets or compounds to re-draw: the job fails with a reason
        done = _wait(client, r.headers["location"], key)
        assert done["status"] in ("succeeded", "failed")
        if done["status"] == "failed":
            assert done["error"]


def test_finished_jobs_survive_a_service_restart(world_url: Any) -> None:
    url = world_url("gpkg")
    key = _planner_key(url)
    with make_client(url) as client:
        r = client.post("/jobs/assign", json={"min_load": 1, "max_load": 10, "fresh": True},
                        headers=auth(key))
        done = _wait(client, r.headers["location"], key)
        assert done["status"] == "succeeded"
    with make_client(url) as restarted:  # a new app: nothing of the old one in memory
        again = restarted.get(r.headers["location"], headers=auth(key))
        assert again.status_code == 200, again.text
        doc = again.json()
        assert doc["status"] == "succeeded"
        assert doc["summary"]["assigned"] == done["summary"]["assigned"]
        assert "assignments" in doc["tables"]
        listed = restarted.get("/jobs", headers=auth(key)).json()
        assert done["id"] in [j["id"] for j in listed["jobs"]]


def test_redistrict_job_accepts_every_cli_option_with_the_same_defaults(county_url: Any) -> None:
    """The job's schema and the command's flags come from one model: every option of
    ``gisgov redistrict`` (other than the CLI-only file/output ones) is a body field with the
    same default, and a job with a lock, ``cross_subdistricts`` and ``exact`` runs."""
    from typer.main import get_command

    from gisgov.cli import app as cli_app

    cmd = get_command(cli_app).commands["redistrict"]  # type: ignore[attr-defined]
    cli = {p.name: p.default for p in cmd.params
           if p.name not in ("ws_path", "units", "weight", "id_col", "labels_out", "json_out")}
    from api.jobs_routes import RedistrictParams

    api = {n: f.default for n, f in RedistrictParams.model_fields.items()}
    assert cli == api
    assert api["time_limit"] == 30.0
    assert {"lock", "cross_subdistricts", "exact", "objective", "islands"} <= set(api)
    url = county_url("gpkg")
    key = _planner_key(url)
    with make_client(url) as client:
        bad = client.post("/jobs/redistrict", json={"lock": "XQ003"}, headers=auth(key))
        assert bad.status_code == 400, bad.text
        assert "UNIT=AREA" in bad.text
        bad = client.post("/jobs/redistrict", json={"objective": "roundest"}, headers=auth(key))
        assert bad.status_code == 400, bad.text
        r = client.post("/jobs/redistrict",
                        json={"areas": 4, "cross_subdistricts": True, "objective": "cut-edges",
                              "seed": 2, "time_limit": NO_TIME_CAP, "scenario": "opts"},
                        headers=auth(key))
        assert r.status_code == 202, r.text
        done = _wait(client, r.headers["location"], key)
        assert done["status"] == "succeeded", done
        assert done["summary"]["objective"] == "cut-edges"
        assert done["summary"]["feasible"]
