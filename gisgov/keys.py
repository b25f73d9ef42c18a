"""API keys: created once, shown once, stored only as a SHA-256 hash.

A key looks like ``gg_<key id>_<secret>``. The key id (8 hex digits) is public: it names the
key in the audit log and in ``gisgov keys list``; the secret is 32 random bytes. The workspace
table ``api_keys`` holds the id, the SHA-256 of the whole key, the role and, for field staff,
the grids they work in. Whoever reads the table cannot recover a key; a random 256-bit secret
needs no slow password hash (there is nothing to brute-force).

Examples
--------
>>> token = new_token("3f2a9c1d")
>>> token.startswith("gg_3f2a9c1d_"), len(hash_token(token))
(True, 64)
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from gisgov.errors import NotFoundError, PermissionDeniedError, ValidationError
from gisgov.privacy import Principal, Role, parse_role

__all__ = [
    "KEYS_TABLE",
    "ApiKey",
    "InvalidKeyError",
    "KeyRing",
    "create_key",
    "hash_token",
    "list_keys",
    "new_token",
    "revoke_key",
]

KEYS_TABLE = "api_keys"
_COLUMNS = ["key_id", "key_hash", "role", "grids", "label", "created_at", "revoked"]
_PREFIX = "gg_"


class InvalidKeyError(PermissionDeniedError):
    """An API key was sent but is unknown or revoked (HTTP 401, not 403)."""


@dataclass(frozen=True)
class ApiKey:
    """One stored key (never the secret itself)."""

    key_id: str
    role: Role
    grids: tuple[str, ...]
    label: str
    created_at: str
    revoked: bool

    def principal(self) -> Principal:
        """The principal this key proves."""
        grids = frozenset(self.grids) if self.role == "field" else None
        return Principal(role=self.role, key_id=self.key_id, grids=grids)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (no hash)."""
        return {
            "key_id": self.key_id,
            "role": self.role,
            "grids": list(self.grids),
            "label": self.label,
            "created_at": self.created_at,
            "revoked": self.revoked,
        }


def new_token(key_id: str) -> str:
    """A fresh random key carrying ``key_id``."""
    return f"{_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


def hash_token(token: str) -> str:
    """SHA-256 hex digest of a key."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _read(ws: Any) -> pd.DataFrame:
    if not ws.has_table(KEYS_TABLE):
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in _COLUMNS})
    return pd.DataFrame(ws.read_table(KEYS_TABLE))


def _row_to_key(row: Mapping[Any, Any]) -> ApiKey:
    grids = str(row.get("grids") or "")
    return ApiKey(
        key_id=str(row["key_id"]),
        role=parse_role(str(row["role"])),
        grids=tuple(g for g in grids.split(",") if g),
        label=str(row.get("label") or ""),
        created_at=str(row.get("created_at") or ""),
        revoked=bool(int(row.get("revoked") or 0)),
    )


def create_key(
    ws: Any, *, role: str, grids: Iterable[str] | None = None, label: str = ""
) -> tuple[str, ApiKey]:
    """Create an API key and store its hash in the workspace.

    Parameters
    ----------
    ws
        The workspace.
    role
        ``planner``, ``coordinator``, ``field`` or ``public``.
    grids
        Grid codes of a field worker (required for ``field``; must exist in the workspace).
    label
        Free text: whose key this is.

    Returns
    -------
    tuple
        ``(token, ApiKey)``. The token is shown once and cannot be recovered later.

    Raises
    ------
    ValidationError
        Bad role, a field key without grids, or unknown grid codes.
    """
    checked = parse_role(role)
    codes = sorted({str(g).strip() for g in (grids or []) if str(g).strip()})
    if checked == "field" and not codes:
        raise ValidationError("a field key needs --grids: the grid codes this worker covers")
    if codes and checked != "field":
        raise ValidationError(f"--grids applies to field keys only, not to role {checked}")
    if codes:
        known = set(ws.read("grids")["code"].astype(str)) if "grids" in ws.layers() else set()
        unknown = [c for c in codes if c not in known]
        if unknown:
            raise ValidationError(
                f"unknown grid code(s) {', '.join(unknown[:5])}; list grids with "
                "`gisgov export WS grids` or create them with `gisgov grids`"
            )
    existing = set(_read(ws)["key_id"].astype(str))
    key_id = secrets.token_hex(4)
    while key_id in existing:  # pragma: no cover - 1 in 4 billion
        key_id = secrets.token_hex(4)
    token = new_token(key_id)
    key = ApiKey(key_id, checked, tuple(codes), label,
                 pd.Timestamp.now(tz="UTC").isoformat(), False)
    row = pd.DataFrame([{
        "key_id": key.key_id,
        "key_hash": hash_token(token),
        "role": key.role,
        "grids": ",".join(key.grids),
        "label": key.label,
        "created_at": key.created_at,
        "revoked": 0,
    }])
    ws.write_table(KEYS_TABLE, row, mode="append")
    return token, key


def list_keys(ws: Any) -> list[ApiKey]:
    """Every stored key, oldest first."""
    frame = _read(ws).sort_values("created_at", kind="stable")
    return [_row_to_key(r) for r in frame.to_dict("records")]


def revoke_key(ws: Any, key_id: str) -> ApiKey:
    """Mark a key revoked (kept for the audit trail).

    Raises
    ------
    NotFoundError
        If no key has that id.
    """
    from gisgov.errors import ConflictError

    # Read-modify-write of the whole table: guarded by the table's version, so a key
    # created (or revoked) by someone else meanwhile is not lost; on a clash read again.
    for _ in range(5):
        version = ws.table_version(KEYS_TABLE)
        frame = _read(ws)
        hit = frame["key_id"].astype(str) == str(key_id)
        if not hit.any():
            raise NotFoundError(f"no API key with id {key_id!r}; see `gisgov keys list WS`")
        frame.loc[hit, "revoked"] = 1
        try:
            ws.write_table(KEYS_TABLE, frame, mode="replace", if_version=version)
        except ConflictError:
            continue
        return _row_to_key(frame[hit].iloc[0].to_dict())
    raise ConflictError(f"the key table kept changing; key {key_id!r} was not revoked, "
                        "try again")


class KeyRing:
    """Resolves tokens to principals from a cached copy of the key table.

    The cache is reloaded when the workspace version changes, checked at most once every
    ``check_interval`` seconds, so a request costs a dict lookup, not a store query.

    Parameters
    ----------
    ws
        The workspace.
    check_interval
        Seconds between version checks.
    """

    def __init__(self, ws: Any, *, check_interval: float = 1.0) -> None:
        self._ws = ws
        self._interval = float(check_interval)
        self._lock = threading.Lock()
        self._by_hash: dict[str, ApiKey] = {}
        self._version: int | None = None
        self._checked = 0.0

    def _refresh(self) -> None:
        now = time.monotonic()
        if self._version is not None and now - self._checked < self._interval:
            return
        with self._lock:
            if self._version is not None and now - self._checked < self._interval:
                return
            version = int(self._ws.version)
            if version != self._version:
                frame = _read(self._ws)
                self._by_hash = {
                    str(r["key_hash"]): _row_to_key(r) for r in frame.to_dict("records")
                }
                self._version = version
            self._checked = now

    def invalidate(self) -> None:
        """Force a reload on the next call (after creating or revoking a key here)."""
        self._version = None

    def principal_for(self, token: str | None) -> Principal:
        """The principal a token proves; no token means ``public``.

        Raises
        ------
        InvalidKeyError
            If a token was given but is unknown or revoked.
        """
        if not token:
            return Principal(role="public")
        self._refresh()
        # Looking up the SHA-256 of the token leaks nothing useful through timing: an attacker
        # controls the token, not its hash, so a dict lookup is as safe as compare_digest.
        key = self._by_hash.get(hash_token(token.strip()))
        if key is None:
            raise InvalidKeyError("unknown API key; ask a planner for a key (`gisgov keys add`)")
        if key.revoked:
            raise InvalidKeyError(f"API key {key.key_id} was revoked; ask for a new one")
        return key.principal()
