"""Helpers shared by the API tests (``from tests.api.api_test_helpers import …``)."""

from __future__ import annotations

from typing import Any

#: The grid the ``field`` test key works in (north-west corner of the world).
FIELD_GRID = "410223001001001"
#: A point inside FIELD_GRID's first building, and one in another grid's building.
FIELD_BUILDING_POINT = (114.1810, 34.4130)
OTHER_BUILDING_POINT = (114.1890, 34.4050)


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """Assert an RFC 9457 problem with ``status``; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail", "instance"} <= set(body)
    return body


def auth(key: str | None) -> dict[str, str]:
    """Headers sending ``key`` (none: public)."""
    return {"X-API-Key": key} if key else {}
