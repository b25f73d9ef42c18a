"""Browser sign-in: one-time sign-in codes and server-side sessions, both stored hashed.

A browser cannot send an ``X-API-Key`` header when it opens a map, and a field worker cannot
type a 50-character key on a phone. So ``gisgov keys add`` (or ``gisgov keys link``) issues a
*sign-in code* for a key: a random secret, valid once and for a short time (default 24
hours), printed as a link (``/signin#code=…``; a fragment never reaches a server log or a
proxy) and as a QR code. The sign-in page trades the code for a *session*: another random
secret, set as an HttpOnly cookie, valid for ``hours`` (default 12, a working day) or until
the user signs out. A session proves the key it was made from: revoking the key ends its
sessions at once (the key ring refuses the key id).

Both live in workspace tables (``signin_codes``, ``sessions``) holding the SHA-256 of the
secret, never the secret itself, so the CLI (which issues codes) and every service process
(which redeem them) agree without a shared secret, and a copy of the workspace yields nothing
usable. They are bookkeeping: writes do not bump the workspace version, so no map cache is
dropped by a sign-in. Neither table is ever published (:data:`gisgov.policy.INTERNAL`).

Examples
--------
>>> len(new_secret()) >= 22
True
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

import pandas as pd

from gisgov.errors import ConflictError
from gisgov.keys import InvalidKeyError

__all__ = [
    "CODES_TABLE",
    "SESSIONS_TABLE",
    "Session",
    "SessionRing",
    "end_session",
    "issue_signin_code",
    "new_secret",
    "redeem_signin_code",
    "start_session",
]

CODES_TABLE = "signin_codes"
SESSIONS_TABLE = "sessions"
_CODE_COLUMNS = ["code_hash", "key_id", "expires_at", "used"]
_SESSION_COLUMNS = ["session_hash", "key_id", "created_at", "expires_at", "ended"]


def new_secret() -> str:
    """A fresh random secret (128 bits, URL-safe): enough that guessing one is hopeless."""
    return secrets.token_urlsafe(16)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.strip().encode("utf-8")).hexdigest()


def _read(ws: Any, table: str, columns: list[str]) -> pd.DataFrame:
    if not ws.has_table(table):
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    return pd.DataFrame(ws.read_table(table))


def _now(now: float | None) -> float:
    return time.time() if now is None else float(now)


def issue_signin_code(ws: Any, key_id: str, *, hours: float = 24.0,
                      now: float | None = None) -> tuple[str, float]:
    """Store a one-time sign-in code for ``key_id``; return ``(code, expires_at)``.

    Parameters
    ----------
    ws
        The workspace holding the key.
    key_id
        The key the browser will act as (its role and scope).
    hours
        How long the code may be redeemed: long enough to reach the phone, short enough that a
        forgotten printout is worthless.
    now
        Current time (seconds since the epoch); tests pass it.

    Raises
    ------
    ValueError
        If ``hours`` is not positive.
    """
    if not hours > 0:
        raise ValueError(f"a sign-in code must be valid for some time, not {hours} hours")
    code = new_secret()
    expires = _now(now) + hours * 3600.0
    row = pd.DataFrame([{"code_hash": _hash(code), "key_id": str(key_id),
                         "expires_at": expires, "used": 0}])
    ws.write_table(CODES_TABLE, row, mode="append", bump_version=False)
    return code, expires


def redeem_signin_code(ws: Any, code: str, *, now: float | None = None) -> str:
    """Use a sign-in code once; return its key id.

    The code is marked used in the same guarded write that checks it, so two browsers racing
    with one code get one session between them. Expired and used codes are dropped then.

    Raises
    ------
    InvalidKeyError
        Unknown, used or expired code (one message for all three: nothing to probe).
    """
    wanted, t = _hash(code), _now(now)
    for _ in range(5):
        version = ws.table_version(CODES_TABLE)
        frame = _read(ws, CODES_TABLE, _CODE_COLUMNS)
        hit = frame["code_hash"].astype(str) == wanted
        live = (frame["expires_at"].astype(float) > t) & (frame["used"].astype(int) == 0)
        if not (hit & live).any():
            raise InvalidKeyError("登录链接无效、已过期或已使用；请向管理员索取新的登录链接 "
                                  "(sign-in link invalid, expired or used)")
        key_id = str(frame.loc[hit & live, "key_id"].iloc[0])
        keep = frame[live & ~hit]
        try:
            ws.write_table(CODES_TABLE, keep.reset_index(drop=True), mode="replace",
                           bump_version=False, if_version=version)
        except ConflictError:
            continue
        return key_id
    raise ConflictError("sign-in codes kept changing; try the link again")


@dataclass(frozen=True)
class Session:
    """A signed-in browser: which key it acts as and until when."""

    key_id: str
    expires_at: float


def start_session(ws: Any, key_id: str, *, hours: float = 12.0,
                  now: float | None = None) -> tuple[str, Session]:
    """Store a new session for ``key_id``; return ``(secret, session)``.

    The secret goes to the browser as the cookie value and is not kept here.
    """
    secret = new_secret()
    t = _now(now)
    session = Session(str(key_id), t + hours * 3600.0)
    row = pd.DataFrame([{"session_hash": _hash(secret), "key_id": session.key_id,
                         "created_at": t, "expires_at": session.expires_at, "ended": 0}])
    ws.write_table(SESSIONS_TABLE, row, mode="append", bump_version=False)
    return secret, session


def end_session(ws: Any, secret: str, *, now: float | None = None) -> bool:
    """Sign out: end the session ``secret`` (and drop expired ones); whether it was live."""
    wanted, t = _hash(secret), _now(now)
    for _ in range(5):
        version = ws.table_version(SESSIONS_TABLE)
        frame = _read(ws, SESSIONS_TABLE, _SESSION_COLUMNS)
        hit = frame["session_hash"].astype(str) == wanted
        live = (frame["expires_at"].astype(float) > t) & (frame["ended"].astype(int) == 0)
        keep = frame[live & ~hit].reset_index(drop=True)
        if len(keep) == len(frame):
            return False
        try:
            ws.write_table(SESSIONS_TABLE, keep, mode="replace", bump_version=False,
                           if_version=version)
        except ConflictError:
            continue
        return bool((hit & live).any())
    raise ConflictError("sessions kept changing; sign out again")


class SessionRing:
    """Resolves session cookies from a cached copy of the sessions table.

    The copy is reloaded when the table's version changes, checked at most every
    ``check_interval`` seconds, and at once after this process starts or ends a session
    (:meth:`invalidate`): a sign-out here takes effect on the next request, one in another
    process within ``check_interval``.
    """

    def __init__(self, ws: Any, *, check_interval: float = 1.0) -> None:
        self._ws = ws
        self._interval = float(check_interval)
        self._lock = threading.Lock()
        self._by_hash: dict[str, Session] = {}
        self._version: int | None = None
        self._checked = 0.0

    def invalidate(self) -> None:
        """Reload on the next lookup."""
        self._version = None

    def _refresh(self) -> None:
        t = time.monotonic()
        if self._version is not None and t - self._checked < self._interval:
            return
        with self._lock:
            version = int(self._ws.table_version(SESSIONS_TABLE))
            if version != self._version:
                frame = _read(self._ws, SESSIONS_TABLE, _SESSION_COLUMNS)
                frame = frame[frame["ended"].astype(int) == 0]
                self._by_hash = {
                    str(h): Session(str(k), float(e)) for h, k, e in
                    zip(frame["session_hash"], frame["key_id"], frame["expires_at"],
                        strict=True)}
                self._version = version
            self._checked = t

    def session_for(self, secret: str | None, *, now: float | None = None) -> Session | None:
        """The live session a cookie proves, or ``None`` (no cookie, unknown, ended, expired)."""
        if not secret:
            return None
        self._refresh()
        session = self._by_hash.get(_hash(secret))
        if session is None or session.expires_at <= _now(now):
            return None
        return session
