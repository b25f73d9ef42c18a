"""The service's side of :mod:`gisgov.policy`: what each route needs to apply the one policy.

The policy itself (which role sees which rows and columns of which table) lives in
:mod:`gisgov.policy`; this module only gathers, once per workspace version, the facts it needs
(the grid of every household and member, the community and subdistrict of every grid, the
"grid staff contacts are public" setting) and writes the audit record of a read. Routes call
:func:`require_table` (403 when the role may not read the table at all), :func:`view` (rows
and columns of a frame the caller sees), :func:`scope_facts` (the caller's scope for the
one-statement pages of :func:`gisgov.policy.statement_policy`) and :func:`audit_page`.
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
    ScopeFacts,
    apply_policy,
    policy_for,
    row_grids,
    scope_grids,
    table_access,
)
from gisgov.privacy import Principal

__all__ = ["PolicyContext", "audit_page", "cached_context", "context", "require_table",
           "scope_facts", "view"]

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
    _row_grids: dict[str, dict[str, str | None]] = field(default_factory=dict)
    _keys: dict[tuple[Principal, str], list[str]] = field(default_factory=dict)

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


    def row_grid(self, state: AppState, table: str) -> dict[str, str | None]:
        """Key → grid of every row of ``table`` (read once per version; members are
        located by their point when they name no grid)."""
        if table == "members":
            return self.member_grid(state)
        if table not in self._row_grids:
            from gisgov.layers import LAYERS

            spec = LAYERS.get(table)
            frame = state.ws.read(table) if spec else state.ws.read_table(table)
            key = spec.key if spec else None
            grids = self.grids_of(table, frame)
            self._row_grids[table] = ({} if key is None or key not in frame else
                                      dict(zip(frame[key].astype(str), grids, strict=True)))
        return self._row_grids[table]

    def keys_in_scope(self, state: AppState, principal: Principal, table: str) -> list[str]:
        """Sorted keys of the rows of ``table`` (``households``: of every household) whose
        grid is in the principal's scope (cached per principal)."""
        cache_key = (principal, table)
        if cache_key not in self._keys:
            scope = self.scope(principal) or frozenset()
            grids = self.household_grid if table == "households" else \
                self.row_grid(state, table)
            self._keys[cache_key] = sorted(k for k, g in grids.items()
                                           if g is not None and g in scope)
        return self._keys[cache_key]


def scope_facts(ctx: PolicyContext, state: AppState, principal: Principal) -> ScopeFacts:
    """The principal's scope as :func:`gisgov.policy.statement_policy` takes it."""
    return ScopeFacts(
        grids=ctx.scope(principal),
        household_keys=lambda: ctx.keys_in_scope(state, principal, "households"),
        row_keys=lambda table: ctx.keys_in_scope(state, principal, table),
    )


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


def context(state: AppState, *, ws_version: int | None = None) -> PolicyContext:
    """The policy facts of the workspace's current version (cached).

    ``ws_version``: the version the caller just read with its page (the facts then match the
    rows served); without it the version comes from the lookup index's watcher
    (:meth:`gisgov.lookup.LiveIndex.workspace_version`), not from a store query per request;
    with ``index_check_seconds=0`` (tests) it is read at every call.
    """
    index = state.index.get()
    with _lock:
        cached: PolicyContext | None = state.extra.get("policy")
    try:
        version = (state.index.workspace_version() if ws_version is None else int(ws_version),
                   index.version)
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


def require_table(state: AppState, principal: Principal, table: str, *,
                  ctx: PolicyContext | None = None) -> Access:
    """The principal's access to ``table``; 403 (no rows, no hint of them) when ``none``."""
    publish = (ctx or context(state)).publish_staff
    access = table_access(table, principal, publish_staff=publish)
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


def audit_page(state: AppState, principal: Principal, table: str, keys: Sequence[Any],
               rows: int, *, detail: str) -> None:
    """Write the audit record of a read of ``rows`` rows (the first keys named)."""
    ids = ",".join(map(str, list(keys)[:20]))
    if rows > 20 and ids:
        ids += f" (+{rows - 20} more)"
    state.audit.record(principal, action="read_personal", target=table,
                       detail=f"{rows} row(s): {ids}; {detail}")

