"""Property-based fuzzing of every operation in ``/api``: no input may cause a 5xx.

Bounded (a few examples per operation) so it stays a test, not a soak: ~20 s on two cores.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.api.conftest import make_client


def _app(tmp_path_factory: pytest.TempPathFactory, world_gpkg: Path) -> Any:
    path = tmp_path_factory.mktemp("fuzz") / "world.gpkg"
    shutil.copyfile(world_gpkg, path)
    # Real-time audit writes and rate limits would only slow the fuzzer down.
    client = make_client(str(path), rate_limit=1e6, rate_burst=10**6,
                         index_check_seconds=60.0)
    return client.app


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory, world_gpkg: Path) -> Any:
    return _app(tmp_path_factory, world_gpkg)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_no_server_errors(fuzz_app: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = schemathesis.openapi.from_asgi("/api", fuzz_app)
    failures: list[str] = []
    calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=8, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: Any) -> None:
            nonlocal calls
            calls += 1
            response = case.call()
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.query} -> "
                                f"{response.status_code}: {response.text[:200]}")

        run()
    assert calls > 50
    assert not failures, "\n".join(failures[:10])
