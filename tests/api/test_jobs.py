"""Jobs over HTTP: 202 + id, progress, results browsable as collections."""

from __future__ import annotations

import time
from typing import Any

import pytest

from gisgov.keys import create_key
from gisgov.store import open_workspace
from tests.api.api_test_helpers import assert_problem, auth
from tests.api.conftest import STORES, make_client


def _wait(client: Any, href: str, key: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        doc: dict[str, Any] = client.get(href, headers=auth(key)).json()
        if doc["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            return doc
        time.sleep(0.1)


def _planner_key(url: str) -> str:
    ws = open_workspace(url)
    token = create_key(ws, role="planner")[0]
    ws.close()
    return token


@pytest.mark.parametrize("kind", STORES)
def test_redistrict_job_end_to_end(world_url: Any, kind: str) -> None:
    url = world_url(kind)
    key = _planner_key(url)
    with make_client(url) as client:
        r = client.post("/jobs/redistrict", json={"time_limit": 10, "seed": 1},
                        headers=auth(key))
        assert r.status_code == 202, r.text
        job = r.json()
        assert job["status"] in ("queued", "running", "succeeded")
        assert r.headers["location"].endswith(f"/jobs/{job['id']}")
        done = _wait(client, r.headers["location"], key)
        assert done["status"] == "succeeded", done
        assert done["progress"] == 1.0
        scenario = done["summary"]["scenario"]
        results = [link["href"] for link in done["links"] if link["rel"] == "results"]
        assert any(h.endswith(f"/collections/{scenario}") for h in results)
        items = client.get(f"/collections/{scenario}/items", headers=auth(key)).json()
        assert items["numberReturned"] == 4
        assert sum(f["properties"]["households"] for f in items["features"]) == 96
        listed = client.get("/jobs", headers=auth(key)).json()
        assert [j["id"] for j in listed["jobs"]] == [job["id"]]


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
        done = _wait(client, r.headers["location"], key)
        assert done["status"] in ("succeeded", "failed")
        if done["status"] == "failed":
            assert done["error"]
