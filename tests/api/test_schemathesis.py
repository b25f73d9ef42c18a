"""Property-based fuzzing of every operation in ``/api``: no input may cause a 5xx, and every
answer's status and media type are the ones the document lists.

Every operation is called, job submissions included, both with the keys schemathesis makes up
(no key, role ``public``, or an unknown one: 401) and with a planner key (the role that reaches every handler's full code path). Jobs are
submitted to a dry runner with the real kinds whose work returns at once, so a fuzzed
``POST /jobs/*`` exercises parsing, validation and queuing without running an optimiser.
Bounded by ``max_examples`` per operation and role, not by time.
"""

from __future__ import annotations

import shutil
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from gisgov.jobs import DEFAULT_REGISTRY, JobOutput, JobRunner, register_job
from gisgov.keys import create_key
from gisgov.store import open_workspace
from tests.api.conftest import make_client

MAX_EXAMPLES = 16
REAL_COLLECTIONS = ("households", "assignments", "grids")
REAL_FEATURES = {"households": "h0000", "assignments": "h0000", "grids": "410223001001001"}


class _DryRunner(JobRunner):
    """The service's job kinds, each finishing at once (only the job's record is written).

    schemathesis' ASGI transport runs the app's lifespan around each call, whose shutdown
    stops the job runner; this one stays usable until the fixture stops it.
    """

    def __init__(self, workspace: str) -> None:
        registry: dict[str, Any] = {}
        for kind in DEFAULT_REGISTRY:
            register_job(kind, lambda ws, params, progress: JobOutput(summary={"dry_run": 1}),
                         registry=registry)
        super().__init__(workspace_factory=lambda: open_workspace(workspace),
                         registry=registry)

    def shutdown(self, *, wait: bool = False) -> None:
        """Ignored: see the class docstring."""

    def stop(self) -> None:
        super().shutdown(wait=True)


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory, world_gpkg: Path
             ) -> Iterator[tuple[Any, str]]:
    path = tmp_path_factory.mktemp("fuzz") / "world.gpkg"
    shutil.copyfile(world_gpkg, path)
    ws = open_workspace(path)
    planner = create_key(ws, role="planner")[0]
    ws.close()
    # Real-time audit writes and rate limits would only slow the fuzzer down.
    client = make_client(str(path), rate_limit=1e6, rate_burst=10**6,
                         index_check_seconds=60.0)
    state = client.app.state.gisgov
    state.jobs.shutdown()
    state.jobs = runner = _DryRunner(str(path))
    yield client.app, planner
    runner.stop()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("role", ["fuzzed-key", "planner"])
def test_no_server_errors(fuzz_app: tuple[Any, str], role: str) -> None:
    app, planner = fuzz_app
    headers = {"X-API-Key": planner} if role == "planner" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = schemathesis.openapi.from_asgi("/api", app)
    doc = schema.raw_schema
    failures: list[str] = []
    undocumented: set[str] = set()
    statuses: dict[str, Counter[int]] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        seen = statuses.setdefault(label, Counter())
        documented = doc["paths"][operation.path][operation.method.lower()]["responses"]

        # valid inputs (reach the handlers) and invalid ones (reach the edge checks); random
        # collection ids are nearly always a 404, so real ones are drawn too
        strategy = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(
            GenerationMode.NEGATIVE)
        if "{collectionId}" in operation.path:
            for collection in REAL_COLLECTIONS:
                fixed = {"collectionId": collection}
                if "{featureId}" in operation.path:
                    fixed["featureId"] = REAL_FEATURES[collection]
                strategy |= operation.as_strategy(GenerationMode.POSITIVE,
                                                  path_parameters=fixed)

        @given(case=strategy)
        @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            response = case.call(headers=headers)
            seen[response.status_code] += 1  # noqa: B023 (run is called right away)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.query} "
                                f"{str(case.body)[:80]} -> {response.status_code}: "
                                f"{response.text[:200]}")
            # the document tells the truth: the status and its media type are listed
            entry = documented.get(str(response.status_code))  # noqa: B023
            kind = response.headers.get("content-type") or [""]
            media = (kind[0] if isinstance(kind, list) else kind).split(";")[0].strip()
            if entry is None or media not in entry.get("content", {media: None}):
                undocumented.add(f"{label} -> {response.status_code} {media}")  # noqa: B023

        run()
    assert not failures, "\n".join(failures[:10])
    assert not undocumented, sorted(undocumented)
    # every operation was called, job submissions included
    assert {"POST /jobs/assign", "POST /jobs/grids", "POST /jobs/redistrict",
            "POST /lookup/batch", "GET /collections/{collectionId}/items"} <= set(statuses)
    assert all(sum(c.values()) >= 1 for c in statuses.values()), statuses
    if role == "planner":
        # the planner's job posts got through validation to the (dry) runner at least once
        accepted = sum(statuses[op][202] for op in statuses if op.startswith("POST /jobs/"))
        assert accepted >= 1, {op: statuses[op] for op in statuses if "/jobs" in op}
        assert statuses["GET /collections/{collectionId}/items"][200] >= 1
