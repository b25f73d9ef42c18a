"""The OpenAPI document says what the service really answers: statuses and media types.

FastAPI documents every route as ``200 application/json`` plus a ``422`` for validation; this
service answers validation errors with ``400``, every error as ``application/problem+json``
(:mod:`api.errors`), features as GeoJSON, pages as HTML (``f=html``), batch results as CSV,
and refuses bodies over the limit (413) and callers over the rate (429) at the edge
(:mod:`api.guards`). :func:`describe_responses` rewrites the generated document to match,
so clients and fuzzers (schemathesis) check against the truth.
"""

from __future__ import annotations

import json
from typing import Any

from api.guards import MAX_INT

__all__ = ["PROBLEM_SCHEMA", "describe_responses"]

PROBLEM = "application/problem+json"
GEOJSON = "application/geo+json"
OPENAPI_MEDIA = "application/vnd.oai.openapi+json;version=3.0"

#: RFC 9457 problem details as :func:`api.errors.problem_response` writes them.
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "instance"],
    "properties": {
        "type": {"type": "string", "description": "urn:x-gisgov:problem:<Name>"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "One line saying what to change"},
        "instance": {"type": "string", "description": "The request path"},
        "correlation_id": {"type": "string", "description": "5xx only: the server log's id"},
    },
    "additionalProperties": True,
}

_WHY = {
    400: "Invalid parameter or body (unknown parameter, NUL byte, non-finite or out-of-range "
         "number, malformed or too deeply nested JSON)",
    401: "Unknown or revoked API key",
    403: "The key's role may not do this",
    404: "Not found",
    409: "Conflict with the current state (e.g. a job quota or a concurrent change)",
    413: "Request body larger than the limit (refused before it is read)",
    422: "Well-formed but infeasible",
    429: "Too many requests from this address or key; see Retry-After",
    501: "The engine behind this job kind is not installed",
    503: "The data store does not answer",
}


def _content_for(path: str, method: str, op: dict[str, Any]) -> dict[str, Any] | None:
    """Media types of the success response, or None to keep FastAPI's."""
    params = {p.get("name") for p in op.get("parameters", []) if p.get("in") == "query"}
    html = "f" in params
    any_schema: dict[str, Any] = {"schema": {}}
    if path in ("/collections/{collectionId}/items",
                "/collections/{collectionId}/items/{featureId}"):
        # the route's pydantic model (api.ogc_models), served as GeoJSON
        declared = op.get("responses", {}).get("200", {}).get("content", {})
        model = declared.get("application/json", {}).get("schema", {"type": "object"})
        return {GEOJSON: {"schema": model}, "text/html": {"schema": {"type": "string"}}}
    if path.startswith("/maps/data/"):
        return {GEOJSON: {"schema": {"type": "object"}}}
    if path == "/lookup/batch":
        return {"application/json": {"schema": {"type": "object"}},
                "text/csv": {"schema": {"type": "string"}}}
    if path == "/api":
        return {OPENAPI_MEDIA: {"schema": {"type": "object"}},
                "text/html": {"schema": {"type": "string"}}}
    content = op.get("responses", {}).get("200", {}).get("content")
    if content is None:
        return None
    if html and "text/html" not in content:
        return {**content, "text/html": {"schema": {"type": "string"}}} if content else \
            {"application/json": any_schema, "text/html": {"schema": {"type": "string"}}}
    return None


def _statuses(path: str, method: str, op: dict[str, Any]) -> list[int]:
    codes = [400, 429, 503]
    if op.get("security") is not None:
        codes += [401, 403]
    if "{" in path or path == "/lookup" or path.startswith("/jobs"):
        codes.append(404)
    if method in ("post", "put", "patch"):
        codes += [413]
        if path.startswith("/jobs"):
            codes += [409, 422, 501]
    return sorted(set(codes))


def describe_responses(doc: dict[str, Any]) -> dict[str, Any]:
    """Rewrite the responses of every operation in ``doc`` (in place; also returned).

    Adds the problem+json responses each operation can give, drops FastAPI's ``422``
    validation response (validation is a 400 here), fixes the success media types and
    documents the integer bound :data:`api.guards.MAX_INT` on integer query parameters.
    """
    components = doc.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    ref = {"$ref": "#/components/schemas/Problem"}
    for path, item in doc.get("paths", {}).items():
        for method, op in item.items():
            if not isinstance(op, dict) or method not in ("get", "post", "put", "patch",
                                                           "delete"):
                continue
            responses: dict[str, Any] = op.setdefault("responses", {})
            validation = responses.get("422", {})
            if "HTTPValidationError" in str(validation):
                responses.pop("422")
            content = _content_for(path, method, op)
            if content is not None and "200" in responses:
                responses["200"]["content"] = content
            for code in _statuses(path, method, op):
                entry: dict[str, Any] = {"description": _WHY[code],
                                         "content": {PROBLEM: {"schema": ref}}}
                if code == 429:
                    entry["headers"] = {"Retry-After": {
                        "description": "Seconds to wait", "schema": {"type": "integer"}}}
                declared = responses.setdefault(str(code), entry)
                # a route may declare the status with only a description: it is still a problem
                declared.setdefault("content", entry["content"])
                if "headers" in entry:
                    declared.setdefault("headers", entry["headers"])
            for param in op.get("parameters", []):
                schema = param.get("schema", {})
                if param.get("in") == "query" and schema.get("type") == "integer":
                    schema.setdefault("maximum", MAX_INT)
                    schema.setdefault("minimum", -MAX_INT)
                for alt in schema.get("anyOf", []):
                    if alt.get("type") == "integer":
                        alt.setdefault("maximum", MAX_INT)
                        alt.setdefault("minimum", -MAX_INT)
    if "HTTPValidationError" not in json.dumps(doc.get("paths", {})):
        for name in ("HTTPValidationError", "ValidationError"):
            components["schemas"].pop(name, None)
    return doc
