"""The emergency contact sweep (应急): every household in an area, vulnerable ones first.

When a gas main breaks or a street floods, the community has to reach every household inside
a cordon within the hour, the elderly, the disabled and the poorest first, through the people
who already know them: the household's red-grid member (党员联户, the ``assignments`` layer)
and the grid's staff (网格长、网格员, the ``staff`` layer). This module answers "who is inside,
and whom do we call" from the store, and nothing else:

- **Spatial query, not a county pass.** Households are read with the area's bounding box (the
  store's R-tree / GiST index) and kept by the area's exact test (:mod:`gisgov.emergency.area`);
  their grids come from the grids that box touches, under the one boundary rule of
  :mod:`gisgov.locate`; their assignments, members and staff by key
  (``household_id``/``id``/``grid_code`` IN …). A 300 m circle reads a few hundred to a few
  thousand rows. (Reading the assignments by the box too, since their lines start at the
  household, was tried: households without a member, 19% at scale 8, still need the key
  query, so it only added a read.)
- **One policy.** Rows and columns go through :func:`gisgov.policy.apply_policy` as they would
  through any route: a coordinator gets the households, members and staff of their own
  communities only (the rest are counted, not shown), with the care flags removed; a planner
  gets everything. Field and public callers are refused: a sweep lists people across grids.
- **Vulnerable first.** Households with any care flag (``elderly``, ``disabled``,
  ``low_income``) come first. A coordinator sees that a household is a priority
  (``priority``, 优先关照), not which flag made it one: the flags are sensitive personal
  information shown to planners only (PIPL art. 28), while reaching a person in danger first
  is what PIPL art. 13(4) allows processing for without consent; the read is audited.
- **Audited.** Every sweep that returns people writes one audit record (who, the area, the
  households), through the caller's recorder (the CLI writes it at once, the service through
  its audit buffer).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisgov.audit import record_access
from gisgov.emergency.area import SweepArea
from gisgov.errors import PermissionDeniedError
from gisgov.locate import locate_xy
from gisgov.policy import (
    PUBLISH_STAFF_META,
    Decision,
    GridAreas,
    apply_policy,
    row_grids,
    scope_grids,
)
from gisgov.privacy import Principal

__all__ = ["CARE_FLAGS", "SWEEP_ROLES", "Recorder", "Sweep", "require_sweep", "sweep_area"]

#: The household care flags that put a household first (schema columns of ``households``).
CARE_FLAGS = ("elderly", "disabled", "low_income")
#: Roles that may run a sweep.
SWEEP_ROLES = frozenset({"planner", "coordinator"})
#: Household columns a sweep reads: enough to find and call, never the ID number.
_HOUSEHOLD_COLUMNS = ("id", "address", "head_name", "phone", "size", *CARE_FLAGS)

#: Writes one audit record: ``(action, target, detail)``.
Recorder = Callable[[str, str, str], None]


@dataclass(frozen=True)
class Sweep:
    """What a sweep found, as the caller may see it.

    Attributes
    ----------
    area
        The swept area.
    role
        The caller's role (decides which columns the pages print).
    households
        One row per household in the area and the caller's scope, priority households first:
        ``rank, priority, [elderly, disabled, low_income: planners], household_id, head_name,
        address, phone, size, grid_code, grid_name, community_code, community_name,
        member_id, member_name, member_phone, leader_name, leader_phone, distance_m``.
    staff
        The staff to call in the grids of those households: ``grid_code, grid_name, role,
        role_zh, name, phone`` (leader first).
    outside_scope
        Households in the area the caller may not see (another community's): a count, so the
        coordinator knows to call the neighbouring office.
    """

    area: SweepArea
    role: str
    households: pd.DataFrame
    staff: pd.DataFrame
    outside_scope: int

    @property
    def sensitive_shown(self) -> bool:
        """Whether the care flags themselves are in :attr:`households` (planners)."""
        return all(f in self.households.columns for f in CARE_FLAGS)

    def to_dict(self) -> dict[str, Any]:
        """The sweep as one JSON-ready document."""
        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            clean = frame.astype(object).where(frame.notna(), None)
            return [{str(k): _plain(v) for k, v in row.items()}
                    for row in clean.to_dict("records")]

        return {
            "area": self.area.to_dict(),
            "count": len(self.households),
            "priority": int(self.households["priority"].sum()) if len(self.households) else 0,
            "without_member": int(self.households["member_id"].isna().sum()),
            "outside_scope": self.outside_scope,
            "grids": sorted(self.households["grid_code"].dropna().unique().tolist()),
            "households": records(self.households),
            "staff": records(self.staff),
        }


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


#: Chinese names of staff roles (网格长, 专职网格员 …).
STAFF_ROLE_ZH = {"leader": "网格长", "full_time": "专职网格员", "part_time": "兼职网格员",
                 "instructor": "网格指导员", "volunteer": "网格志愿者"}


def require_sweep(principal: Principal) -> None:
    """Raise :class:`PermissionDeniedError` unless the principal may run a sweep."""
    if principal.role not in SWEEP_ROLES:
        raise PermissionDeniedError(
            f"应急联系名单 lists people across grids: it needs the coordinator or planner role; "
            f"this caller has role {principal.role}")


def sweep_area(ws: Any, area: SweepArea, principal: Principal, *,
               record: Recorder | None = None) -> Sweep:
    """Every household in ``area`` the principal may see, with its member and grid staff.

    Parameters
    ----------
    ws
        The workspace (any store: the reads are ``bbox`` and key filters of the
        :class:`~gisgov.store.Workspace` protocol).
    area
        The swept area (:func:`gisgov.emergency.area.circle_area` and friends).
    principal
        The caller: a planner, or a coordinator (their communities only).
    record
        Writes the audit record; by default :func:`gisgov.audit.record_access` into ``ws``
        (the service passes its audit buffer).

    Returns
    -------
    Sweep

    Raises
    ------
    PermissionDeniedError
        Field and public callers.
    """
    require_sweep(principal)
    households, hh_grids, grids = _households_in(ws, area)
    communities = _read_keys(ws, "communities", "code",
                             grids["community_code"].dropna().astype(str).unique())
    scope = scope_grids(principal, GridAreas.from_frames(grids, communities))
    publish = bool(ws.get_meta(PUBLISH_STAFF_META, True))
    seen = apply_policy("households", households, principal, grids=hh_grids, scope=scope)
    seen_grids = [g for g, keep in zip(hh_grids, _kept(households, seen.frame), strict=True)
                  if keep]
    flags = households.set_index("id").loc[seen.frame["id"], list(CARE_FLAGS)]
    assigned = _read_keys(ws, "assignments", "household_id", seen.frame["id"].tolist())
    members = _members(ws, assigned, principal, scope)
    staff = _staff(ws, sorted({g for g in seen_grids if g}), principal, scope, publish)
    found = _Found(seen.frame, seen_grids, flags, assigned, members.frame, staff.frame, grids,
                   communities)
    table = _contacts(found, area)
    out = Sweep(area, principal.role, table, _staff_table(staff.frame, grids),
                len(households) - len(seen.frame))
    _audit(ws, principal, out, [seen, members, staff], record)
    return out


def _households_in(ws: Any, area: SweepArea
                   ) -> tuple[gpd.GeoDataFrame, list[str | None], gpd.GeoDataFrame]:
    """Households inside the area (bbox from the index, then the exact test), their grids
    (boundary rule over the grids the box touches) and those grids."""
    cand = ws.read("households", bbox=area.bbox)
    pts = np.asarray(cand.geometry.values, dtype=object)
    ok = ~(shapely.is_missing(pts) | shapely.is_empty(pts)) if len(pts) else np.zeros(0, bool)
    xs = np.full(len(cand), np.nan)
    ys = np.full(len(cand), np.nan)
    if ok.any():
        xs[ok], ys[ok] = shapely.get_x(pts[ok]), shapely.get_y(pts[ok])
    inside = ok.copy()
    inside[ok] = area.covers(xs[ok], ys[ok])
    households = cand[inside].reset_index(drop=True)
    keep = [c for c in _HOUSEHOLD_COLUMNS if c in households.columns]
    households = households[[*keep, "geometry"]]
    grids = ws.read("grids", bbox=area.bbox) if len(households) else ws.read("grids", limit=0)
    grids = grids.reset_index(drop=True)
    codes = grids["code"].astype(str).to_numpy()
    row, _ = locate_xy(xs[inside], ys[inside], grids.geometry.values, codes=codes)
    hh_grids = [str(codes[r]) if r >= 0 else None for r in row.tolist()]
    return households, hh_grids, grids


def _kept(before: pd.DataFrame, after: pd.DataFrame) -> list[bool]:
    ids = set(after["id"].astype(str)) if "id" in after else set()
    return [str(h) in ids for h in before["id"].tolist()]


def _read_keys(ws: Any, layer: str, column: str, keys: Collection[Any]) -> gpd.GeoDataFrame:
    """Rows of ``layer`` whose ``column`` is one of ``keys`` (one IN query, none when empty;
    an absent layer reads as empty)."""
    values = sorted({str(k) for k in keys})
    if not values:
        return ws.read(layer, limit=0)
    return ws.read(layer, where={column: values}).reset_index(drop=True)


def _members(ws: Any, assigned: pd.DataFrame, principal: Principal,
             scope: Collection[str] | None) -> Decision:
    """The assigned members the caller may see (their grid: ``grid_code``, else their home)."""
    members = _read_keys(ws, "members", "id", assigned["member_id"].dropna().tolist())

    def locate(xs: np.ndarray, ys: np.ndarray) -> Sequence[str | None]:
        box = (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))
        grids = ws.read("grids", bbox=box)
        codes = grids["code"].astype(str).to_numpy()
        row, _ = locate_xy(xs, ys, grids.geometry.values, codes=codes)
        return [str(codes[r]) if r >= 0 else None for r in row.tolist()]

    member_grids = row_grids("members", members, household_grid={}, locate=locate)
    cols = [c for c in ("id", "name", "phone") if c in members.columns]
    return apply_policy("members", members[cols], principal, grids=member_grids, scope=scope)


def _staff(ws: Any, grid_codes: list[str], principal: Principal,
           scope: Collection[str] | None, publish: bool) -> Decision:
    staff = _read_keys(ws, "staff", "grid_code", grid_codes)
    frame = pd.DataFrame(staff.drop(columns="geometry", errors="ignore"))
    return apply_policy("staff", frame, principal,
                        grids=[None if g is None or g != g else str(g)
                               for g in frame["grid_code"].tolist()],
                        scope=scope, publish_staff=publish)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name].astype(object).where(frame[name].notna(), None)
    return pd.Series([None] * len(frame), index=frame.index, dtype=object)


@dataclass(frozen=True)
class _Found:
    """What a sweep read and the policy let through, to be joined into one contact table.

    ``households`` (as the caller sees them), ``grid_codes`` (each household's grid),
    ``flags`` (their care flags, to order them), ``assigned`` (their assignment rows),
    ``members`` and ``staff`` (as the caller sees them), ``grids`` and ``communities`` (names).
    """

    households: pd.DataFrame
    grid_codes: list[str | None]
    flags: pd.DataFrame
    assigned: pd.DataFrame
    members: pd.DataFrame
    staff: pd.DataFrame
    grids: pd.DataFrame
    communities: pd.DataFrame


def _household_table(found: _Found) -> pd.DataFrame:
    """The households' own columns, priority first; the flags themselves for planners."""
    households = found.households
    care = found.flags.fillna(False).astype(bool).to_numpy()
    out = pd.DataFrame({
        "priority": care.any(axis=1) if len(care) else np.zeros(0, bool),
        "household_id": households["id"].astype(str).to_numpy(),
        "head_name": _column(households, "head_name").to_numpy(),
        "address": _column(households, "address").to_numpy(),
        "phone": _column(households, "phone").to_numpy(),
        "size": households["size"].to_numpy() if "size" in households else None,
        "grid_code": found.grid_codes,
    })
    if all(f in households.columns for f in CARE_FLAGS):  # planners: the flags themselves
        for i, f in enumerate(CARE_FLAGS):
            out.insert(1 + i, f, care[:, i] if len(care) else np.zeros(0, bool))
    return out


def _add_places_and_people(out: pd.DataFrame, found: _Found) -> None:
    """Grid and community names, the household's member, the grid's leader (in place)."""
    grids, communities = found.grids, found.communities
    grid_name = dict(zip(grids["code"].astype(str), grids["name"].astype(str), strict=True))
    grid_comm = dict(zip(grids["code"].astype(str), _column(grids, "community_code"),
                         strict=True))
    comm_name = dict(zip(communities["code"].astype(str), _column(communities, "name"),
                         strict=True))
    out["grid_name"] = out["grid_code"].map(grid_name)
    out["community_code"] = out["grid_code"].map(grid_comm)
    out["community_name"] = out["community_code"].map(comm_name)
    member_of = dict(zip(found.assigned["household_id"].astype(str),
                         found.assigned["member_id"].astype(str), strict=True))
    out["member_id"] = out["household_id"].map(member_of)
    members = found.members
    by_id = members.set_index(members["id"].astype(str)) if len(members) else None
    for col in ("name", "phone"):
        values = (by_id[col] if by_id is not None and col in by_id else pd.Series(dtype=object))
        out[f"member_{col}"] = out["member_id"].map(values.to_dict())
    staff = found.staff
    leaders = staff[staff["role"] == "leader"] if "role" in staff else staff.iloc[0:0]
    leaders = leaders.sort_values("id").drop_duplicates("grid_code")
    for col in ("name", "phone"):
        posted = dict(zip(leaders["grid_code"].astype(str), _column(leaders, col),
                          strict=True)) if col in leaders else {}
        out[f"leader_{col}"] = out["grid_code"].map(posted)


def _contacts(found: _Found, area: SweepArea) -> pd.DataFrame:
    """One row per household: the household, its grid, its member, its grid leader, its
    distance; priority households first, then nearest the centre (a circle) or by grid."""
    out = _household_table(found)
    _add_places_and_people(out, found)
    points = np.asarray(found.households.geometry.values, dtype=object)
    hx, hy = shapely.get_x(points), shapely.get_y(points)
    out["distance_m"] = np.round(area.distances_m(hx, hy), 1) if len(out) else []
    order = ["priority", "distance_m" if area.centre else "grid_code", "address",
             "household_id"]
    out = out.sort_values(order, ascending=[False, True, True, True], kind="stable",
                          na_position="last").reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out


def _staff_table(staff: pd.DataFrame, grids: pd.DataFrame) -> pd.DataFrame:
    """Staff to call per grid, leader first, as the caller may see them."""
    names = dict(zip(grids["code"].astype(str), grids["name"].astype(str), strict=True))
    order = {r: i for i, r in enumerate(STAFF_ROLE_ZH)}
    out = pd.DataFrame({
        "grid_code": _column(staff, "grid_code").to_numpy(),
        "role": _column(staff, "role").to_numpy(),
        "name": _column(staff, "name").to_numpy(),
        "phone": _column(staff, "phone").to_numpy(),
        "id": _column(staff, "id").to_numpy(),
    })
    out["grid_name"] = out["grid_code"].map(names)
    out["role_zh"] = out["role"].map(STAFF_ROLE_ZH)
    out["_order"] = out["role"].map(order).fillna(len(order))
    out = out.sort_values(["grid_code", "_order", "id"], kind="stable")
    return out[["grid_code", "grid_name", "role", "role_zh", "name", "phone"]] \
        .reset_index(drop=True)


def _audit(ws: Any, principal: Principal, sweep: Sweep, decisions: list[Decision],
           record: Recorder | None) -> None:
    """One record per sweep that showed people (like every other unmasked read)."""
    if not any(d.audit for d in decisions):
        return
    ids = sweep.households["household_id"].head(20).tolist()
    more = f" (+{len(sweep.households) - 20} more)" if len(sweep.households) > 20 else ""
    detail = (f"{sweep.area.label}; {len(sweep.households)} household(s)"
              f"{', care flags shown' if sweep.sensitive_shown else ''}: "
              f"{','.join(ids)}{more}")
    if record is None:
        record_access(ws, actor=principal.actor, action="read_personal",
                      target="emergency/contacts", detail=detail)
    else:
        record("read_personal", "emergency/contacts", detail)
