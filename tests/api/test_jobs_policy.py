"""Who may start which job, how many at once, and what a job body must be."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from gisgov.jobs import JobOutput, register_job
from gisgov.keys import create_key
from gisgov.store import open_workspace
from tests.api.api_test_helpers import FIELD_GRID, assert_problem, auth
from tests.api.conftest import make_client


def _keys(url: str) -> dict[str, str]:
    ws = open_workspace(url)
    keys = {"planner": create_key(ws, role="planner")[0],
            "planner2": create_key(ws, role="planner")[0],
            "coordinator": create_key(ws, role="coordinator",
                                      communities=[FIELD_GRID[:12]])[0]}
    ws.close()
    return keys


def _blocking(gate: threading.Event) -> Any:
    def run(ws: Any, params: Mapping[str, Any], progress: Any) -> JobOutput:
        gate.wait(30)
        return JobOutput([], {"ok": True})
    return run


def test_layer_changing_jobs_need_the_planner(world_url: Any) -> None:
    url = world_url("gpkg")
    keys = _keys(url)
    gate = threading.Event()
    with make_client(url) as client:
        jobs = client.app.state.gisgov.jobs
        for kind in ("assign", "grids", "redistrict"):  # nothing really runs
            register_job(kind, _blocking(gate), registry=jobs.registry)
        coordinator = auth(keys["coordinator"])
        for path, body in (("/jobs/redistrict", {"apply": True}), ("/jobs/grids", {}),
                           ("/jobs/assign", {})):
            problem = assert_problem(client.post(path, json=body, headers=coordinator), 403)
            assert "planner" in problem["detail"]
        assert jobs.list() == []  # refused before anything was queued
        # A redistrict that only stores a scenario is the coordinator's to start.
        r = client.post("/jobs/redistrict", json={"apply": False}, headers=coordinator)
        assert r.status_code == 202, r.text
        mine = r.json()["id"]
        r = client.post("/jobs/assign", json={}, headers=auth(keys["planner"]))
        assert r.status_code == 202, r.text
        # Coordinators see their own jobs only; planners see all.
        listed = client.get("/jobs", headers=coordinator).json()["jobs"]
        assert [j["id"] for j in listed] == [mine]
        assert_problem(client.get(f"/jobs/{r.json()['id']}", headers=coordinator), 404)
        assert len(client.get("/jobs", headers=auth(keys["planner"])).json()["jobs"]) == 2
        gate.set()


def test_job_quota_per_key(world_url: Any) -> None:
    url = world_url("gpkg")
    keys = _keys(url)
    gate = threading.Event()
    with make_client(url, job_quota=2) as client:
        jobs = client.app.state.gisgov.jobs
        register_job("assign", _blocking(gate), registry=jobs.registry)
        planner = auth(keys["planner"])
        codes = [client.post("/jobs/assign", json={}, headers=planner).status_code
                 for _ in range(4)]
        assert codes == [202, 202, 429, 429]
        problem = assert_problem(client.post("/jobs/assign", json={}, headers=planner), 429)
        assert "at most 2" in problem["detail"]
        # The quota is per key: another planner may still start one.
        assert client.post("/jobs/assign", json={},
                           headers=auth(keys["planner2"])).status_code == 202
        assert len(jobs.list()) == 3
        gate.set()
        for job in jobs.list():
            jobs.wait(job.id)
        assert client.post("/jobs/assign", json={}, headers=planner).status_code == 202


def test_job_body_must_be_an_object(world_url: Any) -> None:
    url = world_url("gpkg")
    keys = _keys(url)
    gate = threading.Event()
    with make_client(url) as client:
        jobs = client.app.state.gisgov.jobs
        register_job("assign", _blocking(gate), registry=jobs.registry)
        headers = {**auth(keys["planner"]), "Content-Type": "application/json"}
        for body in (b"null", b"[]", b"3", b'"assign"', b"true"):
            # the edge guard refuses a non-object JSON body before the route (api.guards)
            assert_problem(client.post("/jobs/assign", content=body, headers=headers), 400)
        assert jobs.list() == []  # none of them started a default job
        assert client.post("/jobs/assign", content=b"{}", headers=headers).status_code == 202
        gate.set()
