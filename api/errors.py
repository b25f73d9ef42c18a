"""Errors as RFC 9457 ``application/problem+json``: one table from gisgov errors to status.

Every error the service returns, including FastAPI's request validation (which is 400 here,
not 422: the OGC API test suite expects 400 for an invalid or unknown parameter), 404s from
the router and unexpected exceptions (500, without internals), has the members ``type``,
``title``, ``status``, ``detail`` and ``instance``; some add extensions (``nearest_grid``…).

A 5xx never carries the exception's text (store errors quote SQL, values and file paths): the
caller gets a generic detail and a ``correlation_id``; the server log gets the detail under the
same id, with quoted literals and long digit runs blanked (:func:`scrub`).
"""

from __future__ import annotations

import logging
import math
import re
import secrets
import traceback
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from gisgov.errors import (
    ConflictError,
    CRSError,
    GisgovError,
    ImportDataError,
    InfeasibleError,
    NotFoundError,
    PermissionDeniedError,
    StoreError,
    ValidationError,
)
from gisgov.jobs import JobUnavailableError
from gisgov.keys import InvalidKeyError

__all__ = [
    "PROBLEM_TYPE",
    "STATUS",
    "ApiProblemError",
    "RateLimitedError",
    "correlation_id",
    "install_error_handlers",
    "problem_response",
    "scrub",
    "status_for",
]

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
#: Base of the ``type`` URIs (a private URN namespace); the last part names the error.
PROBLEM_TYPE = "urn:x-gisgov:problem:"


class RateLimitedError(GisgovError):
    """Too many requests for this key (HTTP 429)."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ApiProblemError(GisgovError):
    """An error raised by the service itself with an explicit status."""

    def __init__(self, status: int, detail: str, *, type_name: str | None = None,
                 **extensions: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.type_name = type_name or {400: "InvalidParameter", 413: "TooLarge"}.get(
            status, HTTPStatus(status).phrase.replace(" ", ""))
        self.extensions = extensions


#: THE table: each gisgov error class → HTTP status. Subclasses not listed inherit their
#: nearest listed ancestor's status (method resolution order), so the most specific wins.
STATUS: dict[type[BaseException], int] = {
    GisgovError: 500,
    ValidationError: 400,
    CRSError: 400,
    ImportDataError: 400,
    NotFoundError: 404,
    ConflictError: 409,
    InfeasibleError: 422,
    PermissionDeniedError: 403,
    InvalidKeyError: 401,
    RateLimitedError: 429,
    StoreError: 503,
    JobUnavailableError: 501,
}


def status_for(exc: BaseException) -> int:
    """HTTP status of an exception through :data:`STATUS` (500 when none applies)."""
    if isinstance(exc, ApiProblemError):
        return exc.status
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def correlation_id() -> str:
    """A short random id that ties a 5xx answer to its log line."""
    return secrets.token_hex(6)


_QUOTED = re.compile(r"'(?:[^']|'')*'?|\"(?:[^\"]|\"\")*\"?")
_DIGITS = re.compile(r"\d{5,}")


def scrub(text: str, *, limit: int = 500) -> str:
    """``text`` for a server log: quoted literals (SQL values, file contents) and runs of 5+
    digits (phones, ID numbers) blanked, NUL bytes escaped, and at most ``limit`` characters.

    Store errors quote the SQL they ran, whose literals may be a resident's phone or name; the
    log keeps the statement's shape and the table, not the values.
    """
    out = _DIGITS.sub("#", _QUOTED.sub("'…'", text)).replace("\x00", "\\x00")
    return out[:limit]


def _finite(value: Any) -> Any:
    """JSON cannot carry NaN or infinity: such an extension value becomes null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


#: Chinese titles of the statuses the service answers with (users read them first).
_TITLES_ZH = {
    400: "请求有误", 401: "密钥无效", 403: "无权访问", 404: "未找到", 405: "方法不允许",
    409: "冲突", 413: "请求过大", 422: "无法执行", 429: "请求过于频繁", 500: "服务器内部错误",
    501: "未安装", 503: "服务暂不可用",
}


def problem_response(
    request: Request,
    status: int,
    detail: str,
    *,
    type_name: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    """An ``application/problem+json`` response (title in Chinese, then the HTTP phrase)."""
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    title = f"{_TITLES_ZH[status]} {phrase}" if status in _TITLES_ZH else phrase
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + (type_name or phrase.replace(" ", "")),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    body.update({k: _finite(v) for k, v in extensions.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE,
                        headers=headers)


def _gisgov_handler(request: Request, exc: Exception) -> JSONResponse:
    status = status_for(exc)
    extras: dict[str, Any] = dict(getattr(exc, "extensions", {}) or {})
    headers: dict[str, str] = {}
    if isinstance(exc, NotFoundError):
        for name in ("nearest_grid", "nearest_grid_name", "distance_m"):
            if hasattr(exc, name):
                extras[name] = getattr(exc, name)
    if isinstance(exc, InfeasibleError) and exc.reasons:
        extras["reasons"] = exc.reasons
    if isinstance(exc, ValidationError) and exc.problems:
        extras["problems"] = [p.to_dict() if hasattr(p, "to_dict") else str(p)
                              for p in exc.problems[:50]]
    if isinstance(exc, RateLimitedError):
        headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    if isinstance(exc, InvalidKeyError):
        headers["WWW-Authenticate"] = 'Bearer realm="gisgov"'
    type_name = exc.type_name if isinstance(exc, ApiProblemError) else type(exc).__name__
    detail = str(exc)
    if status >= 500 and status != 501:
        # Store and internal errors name SQL and file paths: the caller gets a generic text
        # and an id; the log gets the (scrubbed) detail under the same id.
        cid = correlation_id()
        log.warning("%s %s -> %s [%s] %s: %s", request.method, request.url.path, status, cid,
                    type(exc).__name__, scrub(detail))
        extras["correlation_id"] = cid
        detail = (f"the data store did not answer (reference {cid}); try again shortly"
                  if isinstance(exc, StoreError)
                  else f"internal error (reference {cid}); the server log has the details")
    return problem_response(request, status, detail, type_name=type_name,
                            headers=headers or None, **extras)


def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    parts = []
    for err in errors[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body"))
        parts.append(f"{loc or 'request'}: {err.get('msg', 'invalid')}")
    detail = "invalid request: " + "; ".join(parts)
    return problem_response(request, 400, detail, type_name="InvalidParameter",
                            errors=[{"loc": list(map(str, e.get("loc", ()))),
                                     "msg": str(e.get("msg", ""))} for e in errors[:20]])


def _http_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"nothing at {request.url.path}; the landing page / lists what there is"
    return problem_response(request, exc.status_code, detail,
                            headers=dict(exc.headers) if exc.headers else None)


def _unexpected_handler(request: Request, exc: Exception) -> JSONResponse:
    cid = correlation_id()
    # the stack without the exception's text (which may quote a resident's data)
    log.error("unexpected error on %s %s [%s] %s: %s\n%s", request.method, request.url.path,
              cid, type(exc).__name__, scrub(str(exc)),
              "".join(traceback.format_tb(exc.__traceback__)))
    return problem_response(request, 500, f"internal error (reference {cid}); the server "
                            "log has the details", type_name="InternalError",
                            correlation_id=cid)


def install_error_handlers(app: FastAPI) -> None:
    """Register the problem+json handlers on ``app``."""
    app.add_exception_handler(GisgovError, _gisgov_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(Exception, _unexpected_handler)
