"""The service's side of :mod:`gisgov.policy`: what each route needs to apply the one policy.

The policy itself (which role sees which rows and columns of which table) lives in
:mod:`gisgov.policy`; this module only gathers, once per workspace version, the facts it needs
(the grid of every household and member, the community and subdistrict of every grid, the
"grid staff contacts are public" setting) and writes the audit record of a read. Routes call
:func:`require_table` (403 when the role may not read the table at all), :func:`view` (rows
and columns the caller sees) and :func:`audit_read`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from api.state import AppState
from gisgov.errors import PermissionDeniedError, StoreError
from gisgov.policy import (
    PUBLISH_STAFF_META,
    Access,
    Decision,
    GridAreas,
    apply_policy,
    policy_for,
    row_grids,
    scope_grids,
    table_access,
)
from gisgov.privacy import Principal

__all__ = ["PolicyContext", "audit_read", "cached_context", "context", "require_table", "scoped_keys", "view"]

#: Longest id list sent to the store as ``key IN (…)``; bigger scopes are filtered in memory.
#: 20,000 stays under SQLite's 32,766 bound variables and PostgreSQL's 65,535 parameters.
MAX_IN_LIST = 20_000

_lock = threading.Lock()


@dataclass
class PolicyContext:
    """Facts the policy needs, for one workspace version and one lookup index."""

    version: tuple[int, int | None]
    publish_staff: bool
    areas: GridAreas
    household_grid: dict[str, str | None]
    index: Any
    _member_grid: dict[str, str | None] | None = None
    _scopes: dict[Principal, frozenset[str] | None] = field(default_factory=dict)

    def locate(self, xs: np.ndarray, ys: np.ndarray) -> Sequence[str | None]:
        """Grid codes of points (lon, lat)."""
        codes: Sequence[str | None] = self.index.lookup_many(xs, ys, distances=False) \
            .grid_codes.tolist()
        return codes

    def scope(self, principal: Principal) -> frozenset[str] | None:
        """Grid codes in the principal's scope (``None``: all)."""
        if principal not in self._scopes:
            self._scopes[principal] = scope_grids(principal, self.areas)
        return self._scopes[principal]

    def grids_of(self, table: str, frame: pd.DataFrame) -> list[str | None]:
        """The grid of each row of ``table``."""
        return row_grids(table, frame, household_grid=self.household_grid, locate=self.locate)

    def member_grid(self, state: AppState) -> dict[str, str | None]:
        """Member id → grid (read once per version)."""
        if self._member_grid is None:
            members = state.ws.read("members") if "members" in state.ws.layers() else None
            if members is None or not len(members):
                self._member_grid = {}
            else:
                grids = self.grids_of("members", members)
                self._member_grid = dict(zip(members["id"].astype(str), grids, strict=True))
        return self._member_grid


def cached_context(state: AppState) -> PolicyContext | None:
    """The policy facts when they are cached for the current version, without a store query
    or an index build (the event loop's fast path); ``None``: call :func:`context` from a
    worker thread."""
    index = state.index.ready()
    cached: PolicyContext | None = state.extra.get("policy")
    if index is None or cached is None or state.index.seen_version is None:
        return None
    if cached.version != (state.index.seen_version, index.version):
        return None
    return cached


def context(state: AppState) -> PolicyContext:
    """The policy facts of the workspace's current version (cached).

    The version comes from the lookup index's watcher (:meth:`gisgov.lookup.LiveIndex.
    workspace_version`), not from a store query per request; with ``index_check_seconds=0``
    (tests) it is read at every call.
    """
    index = state.index.get()
    with _lock:
        cached: PolicyContext | None = state.extra.get("policy")
    try:
        version = (state.index.workspace_version(), index.version)
    except StoreError:
        # The store is down (a database restart): keep deciding with the last facts, as the
        # live index keeps answering lookups from memory; reads of the store itself fail anyway.
        if cached is not None:
            return cached
        raise
    if cached is not None and cached.version == version:
        return cached
    ws = state.ws
    present = set(ws.layers())
    areas = GridAreas.from_frames(ws.read("grids") if "grids" in present else None,
                                  ws.read("communities") if "communities" in present else None)
    ctx = PolicyContext(version=version,
                        publish_staff=bool(ws.get_meta(PUBLISH_STAFF_META, True)),
                        areas=areas, household_grid=index.household_grids(), index=index)
    with _lock:
        state.extra["policy"] = ctx
    return ctx


def require_table(state: AppState, principal: Principal, table: str) -> Access:
    """The principal's access to ``table``; 403 (no rows, no hint of them) when ``none``."""
    access = table_access(table, principal, publish_staff=context(state).publish_staff)
    if access == "none":
        what = ("holds personal data" if policy_for(table).kind == "people"
                else "is not published")
        raise PermissionDeniedError(
            f"collection {table} {what}; role {principal.role} may not read it"
            + (" (send an API key)" if principal.key_id is None else ""))
    return access


def view(state: AppState, principal: Principal, table: str, frame: pd.DataFrame) -> Decision:
    """The rows and columns of ``frame`` the principal may see (see :func:`apply_policy`)."""
    ctx = context(state)
    access = table_access(table, principal, publish_staff=ctx.publish_staff)
    grids = ctx.grids_of(table, frame) if access in ("scope", "published") else None
    return apply_policy(table, frame, principal, grids=grids, scope=ctx.scope(principal),
                        publish_staff=ctx.publish_staff)


def scoped_keys(state: AppState, principal: Principal, table: str) -> list[str] | None:
    """Keys of the rows of a ``people`` layer in the principal's scope, to filter in the
    store before paging; ``None`` when the store cannot be asked that way (filter in memory).
    """
    pol = policy_for(table)
    ctx = context(state)
    scope = ctx.scope(principal)
    if scope is None or pol.kind != "people":
        return None
    if table in ("households", "assignments"):
        keys = [h for h, g in ctx.household_grid.items() if g is not None and g in scope]
    elif table == "members":
        keys = [m for m, g in ctx.member_grid(state).items() if g is not None and g in scope]
    else:
        return None
    return sorted(keys) if len(keys) <= MAX_IN_LIST else None


def audit_read(state: AppState, principal: Principal, table: str, decision: Decision,
               key_column: str | None, *, detail: str) -> None:
    """Write an audit record when the decision showed personal data (plain or people rows)."""
    if not decision.audit:
        return
    frame = decision.frame
    ids = ""
    if key_column and key_column in frame:
        ids = ",".join(map(str, frame[key_column].head(20).tolist()))
        if len(frame) > 20:
            ids += f" (+{len(frame) - 20} more)"
    state.audit.record(principal, action="read_personal", target=table,
                       detail=f"{len(frame)} row(s): {ids}; {detail}")

