"""The service's edge: every request passes here before any route sees it.

Two pieces, both installed by :func:`api.app.create_app`:

:class:`EdgeGuard`, a pure ASGI middleware (not ``BaseHTTPMiddleware``, which would buffer
bodies and run the app in a separate task), in this order:

1. **Who is the client.** The socket peer, unless the peer is one of
   ``Settings.trusted_proxies``; only then is ``X-Forwarded-For`` read, right to left, skipping
   the trusted hops. ``scope["client"]`` is rewritten, so ``request.client`` is that address.
2. **Rate limit by address, before anything else** (before the key is checked, so guessing
   keys is counted too): every path, ``/maps``, ``/assets``, ``/field`` and 404s included;
   IPv6 clients by their /64 (:func:`limit_key`).
   Valid keys are limited again per key in :func:`api.deps.get_principal`.
3. **NUL bytes in the path or the query** are refused (400): no file name, SQL literal or
   log line downstream ever sees one.
4. **Body size while streaming.** A ``Content-Length`` over the route's limit is a 413 before
   one byte is read; without one (chunked), bytes are counted as they arrive and the request
   is a 413 as soon as the count passes the limit. A NUL byte in a body is a 400.
   (Starlette's ``RequestBodyLimitMiddleware``, FastAPI's ``max_body_size``, check the length
   only when the route first reads the body, after routing and key checks have run, answer
   ``text/plain``, and exist only in the newest releases; one limit per route is kept here.)
5. **JSON bodies** (``application/json``, ``+json``, and bodies without a content type, which
   FastAPI reads as JSON) are read whole (within the limit) and checked once: an object at the
   top (``null`` is not a set of job parameters), nesting at most ``Settings.max_json_depth``,
   no ``NaN``/``Infinity`` and no number that overflows to infinity (``1e309``), no NUL in any
   string. The parsed document is kept in ``request.state.json_body`` for handlers that want it.

:func:`check_parameters`, an app-wide dependency (it runs after routing, so it knows what each
route declares): every query parameter a route declares as ``float`` must be finite, every
``int`` within :data:`MAX_INT`; on ``/collections/{id}/items`` the same holds for property
filters on numeric columns. Values reach SQL as bound parameters of the right type, never as
text such as ``nan``.
"""

from __future__ import annotations

import ipaddress
import json
import math
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, get_args
from urllib.parse import parse_qsl

import anyio.to_thread
from fastapi import HTTPException, Request

from api.errors import ApiProblemError, RateLimitedError, problem_response
from gisgov.layers import LAYERS

__all__ = [
    "MAX_INT",
    "BodyRejectedError",
    "EdgeGuard",
    "body_limit",
    "check_parameters",
    "client_address",
    "limit_key",
    "parse_networks",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Largest integer a query parameter may carry (2**53 - 1: exact in every JSON client and far
#: beyond any row count); ``offset=10**21`` would otherwise overflow SQLite's 64-bit integers.
MAX_INT = 2**53 - 1
#: JSON bodies this large or larger are checked in a worker thread, off the event loop.
_THREAD_BYTES = 64 * 1024
_JSON_SUBTYPES = ("json",)
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class BodyRejectedError(HTTPException):
    """A body refused while it streams in (413 too large, 400 NUL byte).

    An ``HTTPException`` so that FastAPI's body parsing re-raises it unchanged (it turns other
    exceptions into a generic 400) and :mod:`api.errors` writes it as problem+json.
    """


# ---- client address ----------------------------------------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: list[str]) -> tuple[Network, ...]:
    """Parse ``Settings.trusted_proxies`` (addresses or CIDR blocks).

    Raises
    ------
    ValueError
        For an entry that is neither; the service refuses to start rather than trust nobody
        (or everybody) by accident.
    """
    return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip())


def _in(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(scope: Scope, trusted: tuple[Network, ...]) -> str:
    """The client of a request: the socket peer, or the forwarded address when the peer is a
    trusted proxy.

    ``X-Forwarded-For`` is read right to left, each trusted hop skipped; the first address not
    trusted is the client (a client can prepend anything, so the leftmost entry is never
    believed when a later hop is untrusted).
    """
    client = scope.get("client")
    peer = str(client[0]) if client else "unknown"
    if not trusted or not _in(peer, trusted):
        return peer
    hops: list[str] = []
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-for":
            hops.extend(h.strip() for h in value.decode("latin-1").split(","))
    result = peer
    for hop in reversed([h for h in hops if h]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # garbage in the chain: stop at the last hop we could trust
        result = hop
        if not _in(hop, trusted):
            break
    return result


def limit_key(address: str) -> str:
    """What the rate limit counts for a client address: the address itself for IPv4, its
    /64 network for IPv6 (one subscriber gets a whole /64 and could otherwise rotate through
    it, one address per request)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # an IPv4 client on a dual-stack socket
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


# ---- body limits -------------------------------------------------------------------------

def body_limit(settings: Any, method: str, path: str) -> int:
    """Largest body (bytes) a request may send: ``/lookup/batch`` gets
    ``Settings.max_batch_bytes``, every other route ``Settings.max_body_bytes``."""
    if method == "POST" and path.rstrip("/") == "/lookup/batch":
        return int(settings.max_batch_bytes)
    return int(settings.max_body_bytes)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _is_json(content_type: str | None) -> bool:
    """JSON media types; a body without a content type counts too (FastAPI parses it as JSON)."""
    if content_type is None or not content_type.strip():
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media.endswith(("/json", "+json"))


class _JsonRejectedError(ValueError):
    """A JSON body that parses but must not be accepted."""


def _reject_constant(name: str) -> float:
    raise _JsonRejectedError(f"JSON body has {name}; numbers must be finite")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _JsonRejectedError(f"JSON number {text[:40]} is out of range (it overflows to infinity)")
    return value


def check_json_document(body: bytes, *, max_depth: int, declared: bool) -> Any:
    """Parse and check one JSON body; return the document.

    Parameters
    ----------
    body
        The raw body.
    max_depth
        Most nested arrays/objects allowed.
    declared
        The content type says JSON. When it does not (no content type), a body that is not
        JSON at all is left to the route (``/lookup/batch`` also takes CSV) and ``None`` is
        returned.

    Raises
    ------
    ApiProblemError
        400 with a one-line reason.
    """
    try:
        doc = json.loads(body.decode("utf-8-sig"), parse_constant=_reject_constant,
                         parse_float=_finite_float)
    except _JsonRejectedError as exc:
        raise ApiProblemError(400, str(exc), type_name="InvalidBody") from None
    except RecursionError:
        raise ApiProblemError(400, f"JSON body is nested deeper than {max_depth} levels",
                              type_name="InvalidBody") from None
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError, int digit limit
        if not declared:
            return None
        raise ApiProblemError(400, f"body is not valid JSON: {str(exc)[:120]}",
                              type_name="InvalidBody") from None
    if not isinstance(doc, dict):
        raise ApiProblemError(400, f"JSON body must be an object, not {type(doc).__name__}"
                              .replace("NoneType", "null"), type_name="InvalidBody")
    # One iterative walk: depth and NUL characters (keys included).
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise ApiProblemError(400, f"JSON body is nested deeper than {max_depth} levels",
                                  type_name="InvalidBody")
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            if isinstance(key, str) and "\x00" in key:
                raise ApiProblemError(400, "JSON body has a NUL character in a key",
                                      type_name="InvalidBody")
            if isinstance(value, str):
                if "\x00" in value:
                    raise ApiProblemError(400, "JSON body has a NUL character in a string",
                                          type_name="InvalidBody")
            elif isinstance(value, (dict, list)):
                stack.append((value, depth + 1))
    return doc


# ---- the middleware ----------------------------------------------------------------------

class EdgeGuard:
    """Pure ASGI middleware: client address, rate limit, NUL bytes, body size, JSON checks.

    Parameters
    ----------
    app
        The wrapped application.
    state
        The service's :class:`api.state.AppState` (settings and the limiter).
    """

    def __init__(self, app: ASGIApp, *, state: Any) -> None:
        self.app = app
        self.state = state
        self.trusted = parse_networks(list(state.settings.trusted_proxies))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        address = client_address(scope, self.trusted)
        client = scope.get("client")
        if client and self.trusted and _in(str(client[0]), self.trusted):
            # TLS ends at the trusted proxy: its X-Forwarded-Proto says whether the browser
            # used https (sign-in cookies are then Secure, links https). Nobody else's is read.
            proto = (_header(scope, b"x-forwarded-proto") or "").split(",")[0].strip().lower()
            if proto in ("http", "https"):
                scope["scheme"] = proto
        scope["client"] = (address, client[1] if client else 0)
        try:
            self.state.limiter.take(f"ip:{limit_key(address)}")
        except RateLimitedError as exc:
            await self._problem(scope, send, 429, str(exc), type_name="RateLimitedError",
                                headers={"Retry-After": str(max(1, math.ceil(exc.retry_after)))})
            return
        if "\x00" in scope.get("path", ""):  # the server has already percent-decoded it
            await self._problem(scope, send, 400, "the path has a NUL byte",
                                type_name="InvalidParameter")
            return
        query = scope.get("query_string", b"")
        if b"%00" in query or b"\x00" in query:
            pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
            bad = sorted({k.replace("\x00", "\\x00") for k, v in pairs
                          if "\x00" in k or "\x00" in v})
            if bad:
                await self._problem(scope, send, 400, "query parameter(s) with a NUL byte: "
                                    + ", ".join(bad[:5]), type_name="InvalidParameter")
                return
        method = scope.get("method", "GET")
        limit = body_limit(self.state.settings, method, scope.get("path", ""))
        length_text = _header(scope, b"content-length")
        if length_text is not None:
            try:
                length = int(length_text)
                if length < 0:
                    raise ValueError(length_text)
            except ValueError:
                await self._problem(scope, send, 400, "Content-Length is not a byte count",
                                    type_name="InvalidHeader")
                return
            if length > limit:
                await self._problem(scope, send, 413, _too_large(limit), type_name="TooLarge")
                return
        counted = _CountingReceive(receive, limit)
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        app_receive: Receive = counted
        try:
            if method in _BODY_METHODS and _is_json(_header(scope, b"content-type")):
                app_receive = await self._checked_json(scope, counted)
            await self.app(scope, app_receive, tracking_send)
        except BodyRejectedError as exc:
            if started:
                raise
            await self._problem(scope, send, exc.status_code, str(exc.detail),
                                type_name="TooLarge" if exc.status_code == 413
                                else "InvalidBody")
        except ApiProblemError as exc:
            if started:
                raise
            await self._problem(scope, send, exc.status, str(exc), type_name=exc.type_name)

    async def _checked_json(self, scope: Scope, receive: _CountingReceive) -> Receive:
        """Read the whole (bounded) JSON body, check it, and replay it to the app."""
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return _replay(b"", receive, first=message)
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body.strip():
            declared = bool((_header(scope, b"content-type") or "").strip())
            settings = self.state.settings
            if len(body) >= _THREAD_BYTES:
                doc = await anyio.to_thread.run_sync(
                    lambda: check_json_document(body, max_depth=settings.max_json_depth,
                                                declared=declared))
            else:
                doc = check_json_document(body, max_depth=settings.max_json_depth,
                                          declared=declared)
            if doc is not None:
                scope.setdefault("state", {})["json_body"] = doc
        return _replay(body, receive)

    async def _problem(self, scope: Scope, send: Send, status: int, detail: str, *,
                       type_name: str, headers: dict[str, str] | None = None) -> None:
        response = problem_response(Request(scope), status, detail, type_name=type_name,
                                    headers=headers)
        if status == 413:
            response.headers["Connection"] = "close"  # do not wait for the rest of the body
        await response(scope, _drain_nothing, send)


async def _drain_nothing() -> Message:
    return {"type": "http.disconnect"}


def _too_large(limit: int) -> str:
    return (f"request body larger than {limit:,} bytes; send fewer points per batch or raise "
            "GISGOV_MAX_BATCH_BYTES / GISGOV_MAX_BODY_BYTES")


class _CountingReceive:
    """``receive`` that counts body bytes and refuses the request once past ``limit``."""

    def __init__(self, receive: Receive, limit: int) -> None:
        self._receive = receive
        self.limit = limit
        self.received = 0

    async def __call__(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            self.received += len(chunk)
            if self.received > self.limit:
                raise BodyRejectedError(413, _too_large(self.limit))
            if b"\x00" in chunk:
                raise BodyRejectedError(400, "the request body has a NUL byte")
        return message


def _replay(body: bytes, receive: Receive, *, first: Message | None = None) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return first if first is not None else {"type": "http.request", "body": body,
                                                    "more_body": False}
        return await receive()

    return replay


# ---- declared parameters -----------------------------------------------------------------

def _base_type(annotation: Any) -> Any:
    args = [a for a in get_args(annotation) if a is not type(None)]
    return args[0] if len(args) == 1 else annotation


def _declared_numbers(dependant: Any, out: dict[str, type]) -> dict[str, type]:
    for field in getattr(dependant, "query_params", []):
        base = _base_type(field.field_info.annotation)
        if base in (int, float):
            out[field.alias] = base
    for sub in getattr(dependant, "dependencies", []):
        _declared_numbers(sub, out)
    return out


def _check_number(name: str, raw: str, kind: type) -> None:
    text = raw.strip()
    if kind is float:
        try:
            value = float(text)
        except ValueError:
            return  # not a number at all: the route's own validation says so
        if not math.isfinite(value):
            raise ApiProblemError(400, f"{name}={raw[:40]!r} is not a finite number")
        return
    try:
        number = int(text)
    except ValueError:
        return
    if abs(number) > MAX_INT:
        raise ApiProblemError(400, f"{name}={raw[:40]!r} is out of range (at most {MAX_INT})")


#: Declared numeric query parameters by route (computed once per route, not per request).
_NUMBERS: dict[int, tuple[Any, dict[str, type]]] = {}


def _route_numbers(route: Any) -> dict[str, type]:
    known = _NUMBERS.get(id(route))
    if known is None or known[0] is not route:
        dependant = getattr(route, "dependant", None)
        known = (route, _declared_numbers(dependant, {}) if dependant is not None else {})
        _NUMBERS[id(route)] = known
    return known[1]


async def check_parameters(request: Request) -> None:
    """App-wide dependency: numeric query parameters are finite and bounded (400 otherwise).

    Declared ``float`` parameters must be finite (``nan``, ``inf``, ``1e309`` are refused),
    declared ``int`` ones within ±:data:`MAX_INT`; property filters on a layer's numeric
    columns (``/collections/assignments/items?walk_m=…``) follow the same rules. Pure CPU
    work of a few microseconds: it runs on the event loop (a sync dependency would cost a
    worker-thread hop on every request).
    """
    if not request.scope.get("query_string"):
        return
    route = request.scope.get("route")
    numbers = _route_numbers(route)
    collection = request.path_params.get("collectionId")
    spec = LAYERS.get(collection) if isinstance(collection, str) else None
    if spec is not None:
        numbers = dict(numbers)
        for col in spec.columns:
            if col.dtype in ("int", "float") and col.name not in numbers:
                numbers[col.name] = int if col.dtype == "int" else float
    for name, raw in request.query_params.multi_items():
        kind = numbers.get(name)
        if kind is not None:
            _check_number(name, raw, kind)
