"""Request-scoped helpers shared by the routers: state, caller, strict query parameters."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.errors import ApiProblemError
from api.state import AppState
from gisgov.keys import InvalidKeyError
from gisgov.privacy import Principal, require_write

__all__ = [
    "DYNAMIC_QUERY",
    "SESSION_COOKIE",
    "SIGNOUT_PATH",
    "allowed_query_names",
    "base_url",
    "check_query",
    "get_principal",
    "get_state",
    "reject_unknown_query",
    "require_writer",
    "wants_html",
]

#: ``openapi_extra`` marker of routes that accept more query parameters than they declare
#: (property filters on items); they check the rest themselves with :func:`check_query`.
DYNAMIC_QUERY = "x-gisgov-property-filters"

#: The browser session cookie (``/signin`` sets it; see :mod:`gisgov.sessions`).
SESSION_COOKIE = "gisgov_session"
#: The one unsafe method the session cookie is honoured for (it can only end the session).
SIGNOUT_PATH = "/auth/signout"

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False,
                        description="API key from `gisgov keys add` (no key: role public)")
_bearer = HTTPBearer(auto_error=False, description="The same API key as a bearer token")


def get_state(request: Request) -> AppState:
    """The service state built by ``create_app``."""
    state: AppState = request.app.state.gisgov
    return state


async def get_principal(
    request: Request,
    api_key: str | None = Depends(_api_key),
    bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
) -> Principal:
    """Who is calling (``public`` without a key), after the rate limit for that key.

    A key (``X-API-Key`` or a bearer token) wins; without one, a browser's session cookie
    (``/signin``) proves the key it was made from — for reads (GET, HEAD) and sign-out only,
    so a page on another site cannot make a signed-in browser start a job (CSRF). An expired,
    ended or revoked session is the public role, not an error: the maps still open.

    A caller with neither is answered on the event loop (no store, nothing to wait for); a
    key or a cookie is resolved in a worker thread, since the key ring or the session table
    may be re-read from the store.
    """
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    token = api_key or (bearer.credentials if bearer else None)
    if token is None and SESSION_COOKIE not in request.cookies:
        principal = Principal(role="public")
    else:
        principal = await run_in_threadpool(_resolve_principal, request, token)
    request.state.principal = principal
    return principal


def _resolve_principal(request: Request, token: str | None) -> Principal:
    state = get_state(request)
    principal = (state.keys.principal_for(token) if token
                 else _session_principal(request, state) or state.keys.principal_for(None))
    if principal.key_id:  # every request was already counted by address (api.guards)
        state.limiter.take(f"key:{principal.key_id}")
    return principal


def _session_principal(request: Request, state: AppState) -> Principal | None:
    secret = request.cookies.get(SESSION_COOKIE)
    ring = state.sessions
    if not secret or ring is None:
        return None
    if request.method not in ("GET", "HEAD") and request.url.path != SIGNOUT_PATH:
        return None
    session = ring.session_for(secret)
    if session is None:
        return None
    try:
        principal = state.keys.principal_for_id(session.key_id)
    except InvalidKeyError:
        return None
    request.state.session = session
    return principal


def require_writer(principal: Principal = Depends(get_principal)) -> Principal:
    """Only planners and coordinators may change data or start jobs."""
    require_write(principal, "this operation")
    return principal


def _query_names(dependant: Any) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


#: Declared query parameters by route (routes live as long as the app; computed once each).
_DECLARED: dict[int, tuple[Any, frozenset[str]]] = {}


def allowed_query_names(request: Request) -> set[str]:
    """Query parameters the matched route declares."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return set()
    known = _DECLARED.get(id(route))
    if known is None or known[0] is not route:
        known = (route, frozenset(_query_names(dependant)))
        _DECLARED[id(route)] = known
    return set(known[1])


def check_query(request: Request, allowed: set[str]) -> None:
    """Reject query parameters outside ``allowed`` (400, as the OGC test suite expects)."""
    unknown = sorted({k for k in request.query_params if k not in allowed})
    if unknown:
        raise ApiProblemError(400, f"unknown query parameter(s): {', '.join(unknown)}; allowed: "
                              f"{', '.join(sorted(allowed)) or 'none'}",
                         unknown=unknown)


async def reject_unknown_query(request: Request) -> None:
    """Router dependency: 400 for any query parameter the route does not declare."""
    route = request.scope.get("route")
    extra = getattr(route, "openapi_extra", None) or {}
    if extra.get(DYNAMIC_QUERY):
        return
    check_query(request, allowed_query_names(request))


def base_url(request: Request) -> str:
    """Public URL prefix for links (settings.base_url, else from the request)."""
    configured = get_state(request).settings.base_url
    return (configured or str(request.base_url)).rstrip("/")


def wants_html(request: Request, f: str | None) -> bool:
    """HTML when ``f=html``, or when no ``f`` is given and the browser prefers HTML."""
    if f is not None:
        return f == "html"
    accept = request.headers.get("accept", "")
    html_at, json_at = accept.find("text/html"), accept.find("json")
    return html_at >= 0 and (json_at < 0 or html_at < json_at)
