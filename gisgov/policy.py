"""One role × table × column policy: which rows and columns of a table a principal sees.

Every route of the service (OGC items and single features, lookups, maps data and pages, job
results, product tables) asks this module, never decides on its own: a route that reads a
table calls :func:`table_access` (may the role read it at all?) and :func:`apply_policy`
(which rows, which columns), so one table below is the whole truth. The role's view of the
personal columns themselves (care flags for planners only; a field worker's own grids shown
plainly, since they visit those people) is :func:`gisgov.privacy.redact_frame`'s, applied
here to the rows that survive.

Tables are classified by kind:

============  =================================================  ========  ==================  =======
kind          tables                                             public    field/coordinator   planner
============  =================================================  ========  ==================  =======
place         subdistricts, communities, grids, compounds,        all       all                 all
              buildings (outlines, building addresses), streets,
              units, stations, branches; scenario plans
              (``scenarios``, ``scenario_*_areas``/``_units``),
              ``history_communities``, ``street_blocks``
staff         ``staff``                                           published scope + published   all
people        households, members, assignments,                   none      scope               all
              ``assignment_unassigned``, events, event_log
grid_product  ``assignment_grids``, ``grid_unfilled_roles``       none      scope               all
closed        any other table (unknown tables default here)       none      none                all
internal      ``api_keys``, ``audit_log``, ``jobs``,              none      none                none
              ``gisgov_meta``, ``signin_codes``, ``sessions``
============  =================================================  ========  ==================  =======

*scope* is the principal's area: a field key's grids (``--grids``), a coordinator key's
communities or subdistricts (``--communities`` / ``--subdistricts``, expanded to the grids in
them). A row belongs to the grid its household or member lies in (households by their point,
members by ``grid_code`` or else their point; assignments and unassigned rows by their
household, falling back to their ``grid_code``); a row with no grid is seen by planners only.

*published* is the grid notice board (网格公示牌): the names and work phones of each grid's
leader and workers (staff roles :data:`PUBLISHED_STAFF_ROLES`) are public when the workspace
setting :data:`PUBLISH_STAFF_META` is true (the default; ``gisgov keys staff-board WS off`` or
``ws.set_meta("publish_grid_staff", False)`` closes them). Published rows never show
``member_id`` outside the caller's scope (it links a worker to a party member's home) and
their name and phone are shown as posted, to every role; instructors and volunteers are not
on the board.

Examples
--------
>>> from gisgov.privacy import Principal
>>> table_access("households", Principal(role="public"))
'none'
>>> table_access("grids", Principal(role="public")), table_access("staff", Principal())
('all', 'published')
>>> table_access("some_new_table", Principal(role="coordinator", communities=frozenset({"1"})))
'none'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gisgov.layers import LAYERS
from gisgov.privacy import Access as PersonalAccess
from gisgov.privacy import Principal, redact_frame
from gisgov.store._features import AllOf, AnyOf, InSet, IsNull, Not, Nothing, Pred

__all__ = [
    "INTERNAL",
    "PUBLISHED_STAFF_ROLES",
    "PUBLISH_STAFF_META",
    "Access",
    "Decision",
    "GridAreas",
    "Kind",
    "ScopeFacts",
    "StatementPolicy",
    "TablePolicy",
    "apply_policy",
    "covers",
    "policy_for",
    "row_grids",
    "scope_grids",
    "statement_policy",
    "table_access",
]

Kind = Literal["place", "staff", "people", "grid_product", "closed", "internal"]
#: ``all`` rows, rows in the caller's ``scope``, ``published`` staff rows (and the scope's,
#: for staff roles), or ``none``.
Access = Literal["all", "scope", "published", "none"]

#: Meta key of the "grid staff contacts are public" setting (default on).
PUBLISH_STAFF_META = "publish_grid_staff"
#: Staff roles posted on a grid's notice board: the leader and the workers.
PUBLISHED_STAFF_ROLES = frozenset({"leader", "full_time", "part_time"})
#: Service bookkeeping, never published to any role.
INTERNAL = frozenset({"api_keys", "audit_log", "jobs", "gisgov_meta", "gisgov_alembic_version",
                      "signin_codes", "sessions"})


@dataclass(frozen=True)
class TablePolicy:
    """How one table is published.

    Parameters
    ----------
    kind
        The class of the table (see the module table).
    household_column
        Column naming a household whose grid is the row's grid.
    grid_column
        Column holding the row's grid code (used when the household gives none).
    """

    kind: Kind
    household_column: str | None = None
    grid_column: str | None = None


_PLACE = TablePolicy("place")
_POLICIES: dict[str, TablePolicy] = {
    **dict.fromkeys(("subdistricts", "communities", "grids", "compounds", "buildings",
                     "streets", "units", "stations", "branches", "scenarios",
                     "history_communities", "street_blocks"), _PLACE),
    "staff": TablePolicy("staff", grid_column="grid_code"),
    "households": TablePolicy("people", household_column="id"),
    "members": TablePolicy("people", grid_column="grid_code"),
    "assignments": TablePolicy("people", household_column="household_id",
                               grid_column="grid_code"),
    "assignment_unassigned": TablePolicy("people", household_column="household_id",
                                         grid_column="grid_code"),
    # 事: events and their log belong to the grid they were routed to at report time; they
    # name reporters and describe residents' matters, so they are read like people.
    "events": TablePolicy("people", grid_column="grid_code"),
    "event_log": TablePolicy("people", grid_column="grid_code"),
    "assignment_grids": TablePolicy("grid_product", grid_column="grid_code"),
    "grid_unfilled_roles": TablePolicy("grid_product", grid_column="grid_code"),
}
_SCENARIO_TABLE = re.compile(r"^scenario_[A-Za-z][A-Za-z0-9_]*_(areas|units)$")


def policy_for(table: str) -> TablePolicy:
    """The policy of ``table``; unknown tables are ``closed`` (planners only)."""
    if table in INTERNAL:
        return TablePolicy("internal")
    if table in _POLICIES:
        return _POLICIES[table]
    if _SCENARIO_TABLE.match(table):
        return _PLACE
    return TablePolicy("closed")


def table_access(table: str, principal: Principal, *, publish_staff: bool = True) -> Access:
    """Which rows of ``table`` the principal may read at all.

    Parameters
    ----------
    table
        Layer or product table name.
    principal
        The caller.
    publish_staff
        The workspace's :data:`PUBLISH_STAFF_META` setting.
    """
    kind = policy_for(table).kind
    role = principal.role
    if kind == "internal":
        return "none"
    if kind == "place" or role == "planner":
        return "all"
    if kind == "closed":
        return "none"
    staff_role = role in ("field", "coordinator")
    if kind == "staff":
        if staff_role:
            return "published" if publish_staff else "scope"
        return "published" if publish_staff else "none"
    return "scope" if staff_role else "none"


@dataclass(frozen=True)
class GridAreas:
    """The community and subdistrict of every grid, to decide coordinator scopes.

    Parameters
    ----------
    community
        Grid code → community code.
    subdistrict
        Community code → subdistrict code.
    """

    community: Mapping[str, str | None]
    subdistrict: Mapping[str, str | None]

    @classmethod
    def from_frames(cls, grids: pd.DataFrame | None,
                    communities: pd.DataFrame | None) -> GridAreas:
        """From the ``grids`` and ``communities`` layers (absent layers give empty maps)."""
        def pairs(frame: pd.DataFrame | None, key: str, value: str) -> dict[str, str | None]:
            if frame is None or not len(frame) or key not in frame or value not in frame:
                return {}
            return {str(k): (None if v is None or v is pd.NA or v != v else str(v))
                    for k, v in zip(frame[key].tolist(), frame[value].tolist(), strict=True)}

        return cls(pairs(grids, "code", "community_code"),
                   pairs(communities, "code", "subdistrict_code"))


def covers(principal: Principal, grid: str | None, community: str | None = None,
           subdistrict: str | None = None) -> bool:
    """Whether a place (its grid, community, subdistrict) is in the principal's scope.

    Planners cover everything, the public nothing; a field key covers its grids, a
    coordinator key its communities and subdistricts. ``None`` codes are never covered.
    """
    return principal.covers(grid, community, subdistrict)


def scope_grids(principal: Principal, areas: GridAreas) -> frozenset[str] | None:
    """The grid codes in the principal's scope; ``None`` means every grid (planners)."""
    if principal.role == "planner":
        return None
    out = set()
    for grid, community in areas.community.items():
        subdistrict = areas.subdistrict.get(community) if community is not None else None
        if covers(principal, grid, community, subdistrict):
            out.add(grid)
    return frozenset(out)


def _text(value: Any) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return str(value)


def row_grids(
    table: str,
    frame: pd.DataFrame,
    *,
    household_grid: Mapping[str, str | None],
    locate: Callable[[NDArray[np.float64], NDArray[np.float64]], Sequence[str | None]]
    | None = None,
) -> list[str | None]:
    """The grid each row of ``table`` belongs to (``None``: no grid, planners only).

    Parameters
    ----------
    table
        Table name (its :class:`TablePolicy` says which column decides).
    frame
        Its rows.
    household_grid
        Household id → grid code (the grid its point lies in).
    locate
        Grid code of points ``(lon, lat)`` (for members without ``grid_code``).
    """
    pol = policy_for(table)
    n = len(frame)
    out: list[str | None] = [None] * n
    if pol.household_column and pol.household_column in frame:
        out = [household_grid.get(h) if h is not None else None
               for h in map(_text, frame[pol.household_column].tolist())]
    if pol.grid_column and pol.grid_column in frame:
        given = [_text(v) for v in frame[pol.grid_column].tolist()]
        out = [o if o is not None else g for o, g in zip(out, given, strict=True)]
    missing = [i for i, g in enumerate(out) if g is None]
    geom = getattr(frame, "_geometry_column_name", None)
    if (missing and locate is not None and pol.kind == "people" and geom in frame
            and not pol.household_column):
        import shapely

        pts = np.asarray(frame[geom].to_numpy()[missing], dtype=object)
        ok = np.array([p is not None and getattr(p, "geom_type", "") == "Point" for p in pts])
        if ok.any():
            xs = np.asarray(shapely.get_x(pts[ok]), dtype=np.float64)
            ys = np.asarray(shapely.get_y(pts[ok]), dtype=np.float64)
            found = list(locate(xs, ys))
            for i, g in zip(np.asarray(missing)[ok].tolist(), found, strict=True):
                out[i] = _text(g)
    return out


@dataclass(frozen=True)
class Decision:
    """What :func:`apply_policy` let through.

    Attributes
    ----------
    frame
        The rows and columns the caller may see.
    plain_shown
        Whether a personal or sensitive value was shown unmasked (other than published
        staff contacts): the caller must write an audit record.
    personal_rows
        Rows of a ``people`` table (households, members, their links) or of an unclassified
        table returned: audited too, masked or not, since a door-level address is personal
        data and an unknown table may hold anything.
    """

    frame: pd.DataFrame
    plain_shown: bool
    personal_rows: int

    @property
    def audit(self) -> bool:
        """Whether this read must be written to the audit log."""
        return self.plain_shown or self.personal_rows > 0


def apply_policy(
    table: str,
    frame: pd.DataFrame,
    principal: Principal,
    *,
    grids: Sequence[str | None] | None = None,
    scope: Collection[str] | None = None,
    publish_staff: bool = True,
) -> Decision:
    """Rows and columns of ``frame`` (rows of ``table``) the principal may see.

    Parameters
    ----------
    table
        Layer or product table name.
    frame
        Its rows, unredacted.
    principal
        The caller.
    grids
        Grid of each row (:func:`row_grids`); needed when the access is ``scope`` or
        ``published`` (missing: no row is in scope).
    scope
        Grid codes in the caller's scope (:func:`scope_grids`; ``None`` for planners).
    publish_staff
        The workspace's :data:`PUBLISH_STAFF_META` setting.

    Returns
    -------
    Decision
        A filtered, redacted copy and what the caller must audit.
    """
    access = table_access(table, principal, publish_staff=publish_staff)
    kind = policy_for(table).kind
    if access == "none":
        return Decision(frame.iloc[0:0], False, 0)
    n = len(frame)
    in_scope = np.ones(n, dtype=bool)
    if access in ("scope", "published") and principal.role != "planner":
        allowed = set(scope or ())
        codes = list(grids) if grids is not None else [None] * n
        in_scope = np.fromiter((g is not None and g in allowed for g in codes), dtype=bool,
                               count=n)
        if principal.role == "public":
            in_scope[:] = False
    published = np.zeros(n, dtype=bool)
    if kind == "staff" and access == "published" and "role" in frame:
        published = frame["role"].astype(str).isin(PUBLISHED_STAFF_ROLES).to_numpy()
    keep = in_scope | published
    rows = frame[keep]
    in_scope, published = in_scope[keep], published[keep]
    # Every row a field worker gets is of their own grids (or posted on the notice board):
    # they visit and call these people, so they see them as written (issue 16).
    personal = principal.access_for(True) if principal.role == "field" else None
    if kind != "staff":
        out, plain = redact_frame(table, rows, principal, access=personal)
        # Unknown tables may hold anyone: reading them is audited like reading people.
        return Decision(out, plain, len(out) if kind in ("people", "closed") else 0)
    return _staff_view(rows, principal, in_scope, published, personal)


def _staff_view(rows: pd.DataFrame, principal: Principal, in_scope: NDArray[np.bool_],
                published: NDArray[np.bool_], personal: PersonalAccess | None = None
                ) -> Decision:
    """Staff rows: posted contacts as posted; the rest by the role's view of personal data."""
    out, plain = redact_frame("staff", rows, principal, access=personal)
    out = out.copy()
    board = published & ~in_scope if principal.role != "planner" else np.zeros(len(out), bool)
    for col in ("name", "phone"):
        if col in rows and published.any():
            values = np.array(out[col].astype(object).to_numpy(), dtype=object) \
                if col in out else np.full(len(out), None, dtype=object)
            values[published] = rows[col].astype(object).to_numpy()[published]
            out[col] = values
    if "member_id" in out and board.any():
        values = np.array(out["member_id"].astype(object).to_numpy(), dtype=object)
        values[board] = None
        out["member_id"] = values
    if principal.role == "public" and "member_id" in out:
        out = out.drop(columns=["member_id"])
    unposted = ~published
    if plain and not unposted.any():
        plain = False  # only the notice board was shown: public by the workspace's decision
    elif plain:
        names = [c for c in ("name", "phone") if c in rows]
        plain = bool(names) and bool(rows[names][unposted].notna().to_numpy().any())
    return Decision(out, plain, 0)


# ---- the same policy as parts of one SQL statement ----------------------------------------

@dataclass(frozen=True)
class ScopeFacts:
    """What deciding a scoped caller's rows in SQL needs (the service gathers it once per
    workspace version).

    Attributes
    ----------
    grids
        Grid codes in the caller's scope (``None``: every grid, planners).
    household_keys
        Ids of the households whose point lies in a grid of the scope.
    row_keys
        Keys of the rows of a table located by their own point (members without
        ``grid_code``), in the scope: ``row_keys(table)``.
    """

    grids: frozenset[str] | None
    household_keys: Callable[[], Sequence[str]]
    row_keys: Callable[[str], Sequence[str]]


@dataclass(frozen=True)
class StatementPolicy:
    """:func:`apply_policy`'s decision for one table and caller, as parts of a statement.

    Attributes
    ----------
    access
        :func:`table_access` of the caller.
    hidden
        Columns left out of the statement.
    only_if
        Columns shown only on rows where the predicate holds (null elsewhere).
    rows
        The rows the caller sees (``None``: every row).
    plain_rows, plain_columns
        A returned row of ``plain_rows`` with a non-null value in ``plain_columns`` is a
        plain read of personal data (audited).
    audit_rows
        Every returned row is audited (people and unclassified tables).
    """

    access: Access
    hidden: frozenset[str]
    only_if: Mapping[str, Pred]
    rows: Pred | None
    plain_rows: Pred | None
    plain_columns: tuple[str, ...]
    audit_rows: bool


def _scope_rows(table: str, key: str | None, columns: Collection[str],
                facts: ScopeFacts) -> Pred:
    """The rows of ``table`` in the caller's scope, as :func:`row_grids` assigns rows to
    grids: by their household's point, else their ``grid_code``; rows of a ``people``
    table without a household column (members) by the keys the service located.

    A row whose household is known but lies in no grid is left out even when its
    ``grid_code`` is in the scope (stricter than :func:`row_grids`' fallback, which the
    statement cannot test without the list of every located household).
    """
    pol = policy_for(table)
    grids = tuple(sorted(facts.grids or ()))
    if pol.household_column and pol.household_column in columns:
        hh = InSet(pol.household_column, tuple(facts.household_keys()))
        if pol.grid_column and pol.grid_column in columns:
            return AnyOf((hh, AllOf((IsNull(pol.household_column),
                                     InSet(pol.grid_column, grids)))))
        return hh
    if pol.kind == "people" and key is not None and key in columns:
        return InSet(key, tuple(facts.row_keys(table)))
    if pol.grid_column and pol.grid_column in columns:
        return InSet(pol.grid_column, grids)
    return Nothing()


def statement_policy(table: str, key: str | None, columns: Collection[str],
                     principal: Principal, facts: ScopeFacts, *,
                     publish_staff: bool = True) -> StatementPolicy:
    """What :func:`apply_policy` decides, as a predicate and column choices for SQL.

    Rows: all (planners, places), the scope's (:func:`_scope_rows`), or the posted staff
    plus the scope's. Columns: care flags only for planners, personal columns only when the
    caller's view of the rows it gets is plain (field staff see their own grids' people
    plainly; no role gets a masked view of a table in this policy), a posted worker's
    ``member_id`` only inside the scope. The policy matrix test
    (``tests/api/test_policy_matrix.py``) holds both forms to the same answers.

    Parameters
    ----------
    table
        Layer or product table name.
    key
        Its key column.
    columns
        Its columns (a predicate only names columns the table has).
    principal
        The caller.
    facts
        The caller's scope.
    publish_staff
        The workspace's :data:`PUBLISH_STAFF_META` setting.
    """
    access = table_access(table, principal, publish_staff=publish_staff)
    kind = policy_for(table).kind
    spec = LAYERS.get(table)
    personal = [c.name for c in spec.columns if c.personal and c.name in columns] if spec else []
    sensitive = [c.name for c in spec.columns if c.sensitive and c.name in columns] \
        if spec else []
    view = principal.access_for(True) if principal.role == "field" else principal.personal_access
    hidden = set() if principal.sees_sensitive else set(sensitive)
    only_if: dict[str, Pred] = {}
    rows: Pred | None = None
    if access == "none":
        rows = Nothing()
    elif access in ("scope", "published") and principal.role != "planner":
        in_scope: Pred = Nothing() if principal.role == "public" else \
            _scope_rows(table, key, columns, facts)
        rows = in_scope
        if access == "published" and "role" in columns:
            rows = AnyOf((InSet("role", tuple(sorted(PUBLISHED_STAFF_ROLES))), in_scope))
            if "member_id" in columns:
                if principal.role == "public":
                    hidden.add("member_id")
                else:
                    only_if["member_id"] = in_scope
    if view != "plain":  # "none" (public); a masked view never reaches a table here
        if kind == "staff" and access == "published":
            only_if.update({c: InSet("role", tuple(sorted(PUBLISHED_STAFF_ROLES)))
                            for c in personal})
        else:
            hidden |= set(personal)
    plain_columns = tuple(c for c in [*personal, *sensitive]
                          if (c not in hidden and c not in only_if and view == "plain")
                          or (c in sensitive and principal.sees_sensitive))
    plain_rows: Pred | None = AllOf(())
    if kind == "staff" and access == "published":
        plain_rows = Not(InSet("role", tuple(sorted(PUBLISHED_STAFF_ROLES))))
    return StatementPolicy(access, frozenset(hidden), only_if, rows, plain_rows,
                           plain_columns, kind in ("people", "closed"))
