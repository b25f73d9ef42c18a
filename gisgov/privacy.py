"""Roles and personal-information protection (PIPL, GB/T 35273): masking and minimum access.

Four roles, from most to least trusted:

============  ==============  ==================  =======================  ==================
role          personal data   sensitive flags     households and members   jobs
============  ==============  ==================  =======================  ==================
planner       shown           shown               all                      all
coordinator   shown           removed             own communities or       scenarios only (no
                                                  subdistricts             layer changes)
field         own grids:      removed             own grids                none
              shown (else
              masked)
public        removed         removed             none                     none
============  ==============  ==================  =======================  ==================

Field staff see the people of their own grids plainly: they visit those households and call
those members and colleagues, so a masked name or phone would only stop the work (issue 16).
Outside their grids they see nothing but the posted notice board; a field principal's view of
anything not in its grids is masked (:meth:`Principal.access_for`).

Which rows and tables each role reads at all is :mod:`gisgov.policy`'s table (every layer and
product table, unknown tables closed); this module supplies the principals and the column
view (masking, care flags) that policy applies to the rows it lets through. The grid leader's
and workers' posted names and work phones (网格公示牌) are shown as posted to every role while
the workspace publishes them (``publish_grid_staff``, on by default).

"Personal" columns are the ``personal=True`` columns of :data:`gisgov.layers.LAYERS` (names,
phones, ID numbers); "sensitive" are the care flags (``sensitive=True``: elderly, low income,
disabled), which PIPL art. 28 treats as sensitive personal information. Masks are the ones in
common use: ``张*``, ``138****5678``, ID numbers as first 6 + last 4.

Who reads unmasked data is the caller's business to audit (:mod:`gisgov.audit`);
:func:`redact_frame` says whether it showed any.

Examples
--------
>>> mask_name("张三"), mask_phone("13812345678"), mask_id_number("410223199001011234")
('张*', '138****5678', '410223********1234')
>>> Principal(role="field", grids=frozenset({"410223001001001"})).personal_access
'masked'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from gisgov.errors import PermissionDeniedError, ValidationError
from gisgov.layers import LAYERS

if TYPE_CHECKING:
    from gisgov.lookup import Area, LookupResult, Person

__all__ = [
    "ROLES",
    "Access",
    "Principal",
    "Role",
    "mask_id_number",
    "mask_name",
    "mask_phone",
    "mask_value",
    "parse_role",
    "redact_frame",
    "redact_lookup",
    "redact_person",
    "require_write",
]

Role = Literal["planner", "coordinator", "field", "public"]
Access = Literal["plain", "masked", "none"]

#: Roles from most to least trusted.
ROLES: tuple[Role, ...] = ("planner", "coordinator", "field", "public")

_PERSONAL: dict[Role, Access] = {
    "planner": "plain",
    "coordinator": "plain",
    "field": "masked",
    "public": "none",
}

# Which kind of value each personal column holds, so the right mask is applied.
_ID_COLUMNS = frozenset({"id_number"})
_PHONE_COLUMNS = frozenset({"phone"})


def parse_role(value: str) -> Role:
    """Return ``value`` as a :data:`Role`.

    Raises
    ------
    ValidationError
        If it is not one of :data:`ROLES`.
    """
    role = str(value).strip().lower()
    if role not in ROLES:
        raise ValidationError(f"unknown role {value!r}; choose one of: {', '.join(ROLES)}")
    return role


@dataclass(frozen=True)
class Principal:
    """Who is asking: a role, the API key that proved it, and (field staff) their grids.

    Parameters
    ----------
    role
        One of :data:`ROLES`.
    key_id
        Public id of the API key (``None`` for anonymous callers and the CLI).
    grids
        Grid codes a ``field`` principal works in.
    actor_name
        Name written to the audit log when there is no key (e.g. ``cli:alice``).
    communities, subdistricts
        The area a ``coordinator`` principal is responsible for (community or subdistrict
        codes). A field or coordinator principal without them sees no scoped rows: the
        scope is the permission, never a missing restriction.
    """

    role: Role = "public"
    key_id: str | None = None
    grids: frozenset[str] | None = None
    actor_name: str | None = None
    communities: frozenset[str] | None = None
    subdistricts: frozenset[str] | None = None

    @property
    def actor(self) -> str:
        """How the audit log names this caller (``key:3f2a9c1d/coordinator``)."""
        if self.key_id:
            return f"key:{self.key_id}/{self.role}"
        return f"{self.actor_name or 'anonymous'}/{self.role}"

    @property
    def personal_access(self) -> Access:
        """``plain``, ``masked`` or ``none`` for names, phones and ID numbers."""
        return _PERSONAL[self.role]

    def access_for(self, in_scope: bool) -> Access:
        """The view of personal data of a row inside (``in_scope``) or outside the scope.

        Field staff see their own grids' people plainly (they visit and call them), anyone
        else's masked; other roles have one view (:attr:`personal_access`).
        """
        if self.role == "field" and in_scope:
            return "plain"
        return self.personal_access

    @property
    def sees_sensitive(self) -> bool:
        """Whether the care flags (sensitive personal information) are shown."""
        return self.role == "planner"

    @property
    def can_write(self) -> bool:
        """Whether the role may start jobs that write scenarios and product tables."""
        return self.role in ("planner", "coordinator")

    @property
    def can_change_layers(self) -> bool:
        """Whether the role may replace layers (accept a plan, draw grids, assign members):
        planners only, since a layer change reaches every community."""
        return self.role == "planner"

    def covers(self, grid: str | None, community: str | None = None,
               subdistrict: str | None = None) -> bool:
        """Whether a place (grid, community, subdistrict codes) is in this principal's scope.

        Planners cover everything and the public nothing; a field principal covers its
        grids, a coordinator its communities and subdistricts. ``None`` is never covered.
        """
        if self.role == "planner":
            return True
        if self.role == "field":
            return grid is not None and grid in (self.grids or ())
        if self.role == "coordinator":
            return ((community is not None and community in (self.communities or ()))
                    or (subdistrict is not None and subdistrict in (self.subdistricts or ())))
        return False

    def may_see_grid(self, grid_code: str | None, community: str | None = None,
                     subdistrict: str | None = None) -> bool:
        """Whether households of that grid are visible (see :meth:`covers`)."""
        return self.covers(grid_code, community, subdistrict)


def require_write(principal: Principal, what: str) -> None:
    """Raise :class:`PermissionDeniedError` unless ``principal`` may write.

    Parameters
    ----------
    principal
        The caller.
    what
        What was attempted, for the message.
    """
    if not principal.can_write:
        raise PermissionDeniedError(
            f"{what} needs the planner or coordinator role; this key has role {principal.role}"
        )


def mask_name(value: str) -> str:
    """Keep the family name (first character), star the rest: ``张三`` → ``张*``."""
    text = str(value).strip()
    if len(text) <= 1:
        return "*" * len(text)
    return text[0] + "*" * (len(text) - 1)


def mask_phone(value: str) -> str:
    """Keep the first 3 and last 4 digits: ``13812345678`` → ``138****5678``."""
    text = str(value).strip()
    if len(text) < 8:
        return "*" * len(text)
    return text[:3] + "*" * (len(text) - 7) + text[-4:]


def mask_id_number(value: str) -> str:
    """Keep the first 6 (region) and last 4 characters of an ID number."""
    text = str(value).strip()
    if len(text) < 11:
        return "*" * len(text)
    return text[:6] + "*" * (len(text) - 10) + text[-4:]


def mask_value(column: str, value: Any) -> Any:
    """Mask one personal value by the kind of column it came from (nulls stay null)."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return value
    if column in _ID_COLUMNS:
        return mask_id_number(value)
    if column in _PHONE_COLUMNS:
        return mask_phone(value)
    return mask_name(value)


def _column_sets(layer: str, columns: Iterable[str]) -> tuple[list[str], list[str]]:
    spec = LAYERS.get(layer)
    if spec is None:
        return [], []
    present = set(columns)
    personal = [c.name for c in spec.columns if c.personal and c.name in present]
    sensitive = [c.name for c in spec.columns if c.sensitive and c.name in present]
    return personal, sensitive


def redact_frame(
    layer: str, frame: pd.DataFrame, principal: Principal, *, access: Access | None = None
) -> tuple[pd.DataFrame, bool]:
    """Apply the role's view of personal data to rows of ``layer``.

    Row filtering (field staff see households of their own grids only) needs the grid of each
    row and is done by the caller; this function only removes or masks columns.

    Parameters
    ----------
    layer
        Layer name (product tables have no personal columns declared and pass unchanged).
    frame
        Rows of that layer.
    principal
        The caller.
    access
        The view to apply instead of the role's own (:meth:`Principal.access_for`: a field
        worker's rows of their own grids are ``plain``).

    Returns
    -------
    tuple
        ``(frame, plain_shown)``: a redacted copy, and whether any non-null personal value
        was returned unmasked (the caller must then write an audit record).
    """
    personal, sensitive = _column_sets(layer, frame.columns)
    if not personal and not sensitive:
        return frame, False
    out = frame.copy()
    drop = [] if principal.sees_sensitive else list(sensitive)
    access = principal.personal_access if access is None else access
    plain_shown = False
    if access == "none":
        drop += personal
    elif access == "masked":
        for col in personal:
            out[col] = [mask_value(col, v) for v in out[col].tolist()]
    else:
        plain_shown = bool(len(out)) and bool(out[personal].notna().to_numpy().any())
    if sensitive and principal.sees_sensitive and len(out):
        plain_shown = plain_shown or bool(out[sensitive].notna().to_numpy().any())
    if drop:
        out = out.drop(columns=drop)
    return out, plain_shown


def redact_person(
    name: str | None, phone: str | None, principal: Principal, *, in_scope: bool = False
) -> dict[str, str | None] | None:
    """A person's ``{"name", "phone"}`` as the role may see it (``None`` for ``public``);
    ``in_scope``: the person belongs to the caller's area (:meth:`Principal.access_for`)."""
    access = principal.access_for(in_scope)
    if access == "none":
        return None
    if access == "masked":
        return {
            "name": None if name is None else mask_name(name),
            "phone": None if phone is None else mask_phone(phone),
        }
    return {"name": name, "phone": phone}


#: Staff roles posted on a grid's notice board (网格公示牌); see :mod:`gisgov.policy`.
_POSTED_ROLES = frozenset({"leader", "full_time", "part_time"})


def _person(p: Person | None, principal: Principal, *, posted: bool = False,
            in_scope: bool = False) -> dict[str, Any] | None:
    if p is None:
        return None
    out: dict[str, Any] = {"id": p.id, "role": p.role}
    if posted and p.role in _POSTED_ROLES:
        out.update({"name": p.name, "phone": p.phone})  # as on the notice board
        return out
    shown = redact_person(p.name, p.phone, principal, in_scope=in_scope)
    if shown is not None:
        out.update(shown)
    return out


def redact_lookup(result: LookupResult, principal: Principal, *,
                  publish_staff: bool = True) -> tuple[dict[str, Any], bool]:
    """The lookup answer as the caller may see it, and whether it showed personal data plainly.

    Parameters
    ----------
    result
        The unmasked lookup result.
    principal
        The caller.
    publish_staff
        The workspace's "grid staff contacts are public" setting
        (:data:`gisgov.policy.PUBLISH_STAFF_META`): the leader's and workers' names and work
        phones are then shown as posted, to every role, and not counted as an unmasked read.

    Returns
    -------
    tuple
        ``(document, plain_shown)``.
    """
    community = result.community.code if result.community else None
    subdistrict = result.subdistrict.code if result.subdistrict else None
    mine = principal.covers(result.grid.code, community, subdistrict)
    doc: dict[str, Any] = {
        "lon": result.lon, "lat": result.lat, "input_crs": result.input_crs,
        "subdistrict": _area(result.subdistrict), "community": _area(result.community),
        "grid": _area(result.grid), "on_boundary": result.on_boundary,
        "grids": list(result.grids), "distance_to_boundary_m": result.distance_to_boundary_m,
        "leader": _person(result.leader, principal, posted=publish_staff, in_scope=mine),
        "workers": [_person(w, principal, posted=publish_staff, in_scope=mine)
                    for w in result.workers],
        "building": _area(result.building),
    }
    plain = principal.access_for(mine) == "plain"
    staff = [p for p in [*result.workers, result.leader] if p is not None
             and not (publish_staff and p.role in _POSTED_ROLES)]
    shown_people = any(p.name or p.phone for p in staff)
    households: list[dict[str, Any]] = []
    if mine:
        for h in result.households:
            row: dict[str, Any] = {"id": h.id, "address": h.address, "size": h.size,
                                   "distance_m": h.distance_m,
                                   "member": _person(h.member, principal, in_scope=True)}
            for col in ("head_name", "phone", "id_number"):
                value = getattr(h, col)
                row[col] = value if plain or value is None else mask_value(col, value)
            households.append(row)
            shown_people = shown_people or bool(h.head_name or h.phone or h.id_number)
            shown_people = shown_people or bool(h.member and (h.member.name or h.member.phone))
    doc["households"] = households
    doc["household"] = households[0] if households else None
    return doc, plain and shown_people


def _area(area: Area | None) -> dict[str, str] | None:
    return None if area is None else {"code": area.code, "name": area.name}
