"""API keys: created once, shown once, stored only as a SHA-256 hash.

A key looks like ``gg_<key id>_<secret>``. The key id (8 hex digits) is public: it names the
key in the audit log and in ``gisgov keys list``; the secret is 32 random bytes. The workspace
table ``api_keys`` holds the id, the SHA-256 of the whole key, the role and the key's scope.
Whoever reads the table cannot recover a key; a random 256-bit secret needs no slow password
hash (there is nothing to brute-force).

The scope is what :mod:`gisgov.policy` lets the key see: a field key's grids (``--grids``), a
coordinator key's communities or subdistricts (``--communities`` / ``--subdistricts``). It is
kept in the table's ``grids`` column (the column older workspaces already have, so no
migration): field keys as grid codes, coordinator keys as ``community:CODE`` and
``subdistrict:CODE`` items. A coordinator key without a scope is refused at creation; one
stored before scopes existed sees no households or members until it is replaced.

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
    communities: tuple[str, ...] = ()
    subdistricts: tuple[str, ...] = ()

    def principal(self) -> Principal:
        """The principal this key proves (with its scope)."""
        if self.role == "field":
            return Principal(role=self.role, key_id=self.key_id, grids=frozenset(self.grids))
        if self.role == "coordinator":
            return Principal(role=self.role, key_id=self.key_id,
                             communities=frozenset(self.communities),
                             subdistricts=frozenset(self.subdistricts))
        return Principal(role=self.role, key_id=self.key_id)

    @property
    def scope_text(self) -> str:
        """The scope as ``gisgov keys list`` shows it (``grids …``, ``communities …``)."""
        parts = [f"{name} {','.join(codes)}" for name, codes in
                 (("grids", self.grids), ("communities", self.communities),
                  ("subdistricts", self.subdistricts)) if codes]
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (no hash)."""
        return {
            "key_id": self.key_id,
            "role": self.role,
            "grids": list(self.grids),
            "communities": list(self.communities),
            "subdistricts": list(self.subdistricts),
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


_COMMUNITY, _SUBDISTRICT = "community:", "subdistrict:"


def _encode_scope(grids: Iterable[str], communities: Iterable[str],
                  subdistricts: Iterable[str]) -> str:
    return ",".join([*grids, *(_COMMUNITY + c for c in communities),
                     *(_SUBDISTRICT + s for s in subdistricts)])


def _row_to_key(row: Mapping[Any, Any]) -> ApiKey:
    items = [g for g in str(row.get("grids") or "").split(",") if g]
    return ApiKey(
        key_id=str(row["key_id"]),
        role=parse_role(str(row["role"])),
        grids=tuple(g for g in items if ":" not in g),
        label=str(row.get("label") or ""),
        created_at=str(row.get("created_at") or ""),
        revoked=bool(int(row.get("revoked") or 0)),
        communities=tuple(g[len(_COMMUNITY):] for g in items if g.startswith(_COMMUNITY)),
        subdistricts=tuple(g[len(_SUBDISTRICT):] for g in items if g.startswith(_SUBDISTRICT)),
    )


def _codes(values: Iterable[str] | None) -> list[str]:
    return sorted({str(v).strip() for v in (values or []) if str(v).strip()})


def _check_known(ws: Any, layer: str, codes: list[str], hint: str) -> None:
    if not codes:
        return
    known = set(ws.read(layer)["code"].astype(str)) if layer in ws.layers() else set()
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise ValidationError(f"unknown {layer[:-1] if layer != 'communities' else 'community'}"
                              f" code(s) {', '.join(unknown[:5])}; {hint}")


def create_key(
    ws: Any, *, role: str, grids: Iterable[str] | None = None, label: str = "",
    communities: Iterable[str] | None = None, subdistricts: Iterable[str] | None = None,
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
    communities, subdistricts
        A coordinator's scope (one of them required for ``coordinator``; must exist).

    Returns
    -------
    tuple
        ``(token, ApiKey)``. The token is shown once and cannot be recovered later.

    Raises
    ------
    ValidationError
        Bad role, a field key without grids, a coordinator key without a scope, a scope
        option given to another role, or unknown codes. Nothing is stored then.
    """
    checked = parse_role(role)
    codes = _codes(grids)
    coms, subs = _codes(communities), _codes(subdistricts)
    if checked == "field" and not codes:
        raise ValidationError("a field key needs --grids: the grid codes this worker covers")
    if codes and checked != "field":
        raise ValidationError(f"--grids applies to field keys only, not to role {checked}")
    if checked == "coordinator" and not (coms or subs):
        raise ValidationError("a coordinator key needs a scope: --communities CODE,… or "
                              "--subdistricts CODE,… (the area this coordinator manages)")
    if (coms or subs) and checked != "coordinator":
        raise ValidationError("--communities/--subdistricts apply to coordinator keys only, "
                              f"not to role {checked}")
    _check_known(ws, "grids", codes, "list grids with `gisgov export WS grids` or create them "
                 "with `gisgov grids`")
    _check_known(ws, "communities", coms, "list them with `gisgov export WS communities`")
    _check_known(ws, "subdistricts", subs, "list them with `gisgov export WS subdistricts`")
    existing = set(_read(ws)["key_id"].astype(str))
    key_id = secrets.token_hex(4)
    while key_id in existing:  # pragma: no cover - 1 in 4 billion
        key_id = secrets.token_hex(4)
    token = new_token(key_id)
    key = ApiKey(key_id, checked, tuple(codes), label,
                 pd.Timestamp.now(tz="UTC").isoformat(), False,
                 communities=tuple(coms), subdistricts=tuple(subs))
    row = pd.DataFrame([{
        "key_id": key.key_id,
        "key_hash": hash_token(token),
        "role": key.role,
        "grids": _encode_scope(key.grids, key.communities, key.subdistricts),
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
            # The key id is not repeated: error texts end up in logs and proxies.
            raise InvalidKeyError("this API key was revoked; ask a planner for a new one")
        return key.principal()

    def principal_for_id(self, key_id: str) -> Principal:
        """The principal of the key ``key_id`` (a browser session acts as the key it was
        made from; revoking the key ends its sessions).

        Raises
        ------
        InvalidKeyError
            If no such key exists or it was revoked.
        """
        self._refresh()
        key = next((k for k in self._by_hash.values() if k.key_id == key_id), None)
        if key is None or key.revoked:
            raise InvalidKeyError("this sign-in is no longer valid (its key was revoked); "
                                  "ask a planner for a new sign-in link")
        return key.principal()
