"""Staffing grids from a template ("1+1+3+X" by default) with the workspace's own people.

The reference county staffs every grid on the "1+1+3+X" model: 1 grid leader (网格长), 1
full-time grid worker (专职网格员), 3 part-time workers — the compound's property-management
head (物业负责人), a public-security volunteer (治安志愿者) and a community party cadre (社区党员干部)
— and X others such as party members of stationed units (驻区单位党员).

Rules (documented because coordinators must be able to predict them):

1. People already in the ``staff`` layer for a grid keep their role (re-running never fires
   anyone); only empty slots are filled.
2. Slots are filled from party members of the grid's community, nearest home first
   (distance from home to the grid, 0 inside it; residents before in-service members, who
   count as :data:`IN_SERVICE_PENALTY_M` metres further), each person holding one slot.
3. Leader: resident or in-service member, class A or B, aged 25–65. Full-time worker:
   resident or in-service member, class A, aged 22–55. Community cadre: resident member, class A/B, of the community
   branch. Public-security volunteer: resident member aged 18–65 of any class but D.
   X: in-service members (status ``in_service``) living in the grid, up to ``x_max``.
4. Property-management head: the data holds no property companies' people, so the slot is
   reported unfilled for grids with a property-managed compound, and marked not applicable
   for grids whose compounds have none (三无 old compounds: the community cadre stands in).
5. Members working away (``away``) and class D members never take a slot.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisgov.layers import conform
from gisgov.locate import locate_points

__all__ = [
    "DEFAULT_TEMPLATE",
    "RoleSlot",
    "StaffingResult",
    "staff_grids",
]

MemberFilter = Callable[[pd.DataFrame], np.ndarray]

#: Residents come first: an in-service member counts as this many metres further away.
IN_SERVICE_PENALTY_M = 5000.0


@dataclass(frozen=True)
class RoleSlot:
    """One kind of slot in a staffing template.

    Parameters
    ----------
    role
        ``staff.role`` value (``leader``, ``full_time``, ``part_time``, ``volunteer``…).
    duty
        Chinese title of the duty (``staff.duty``).
    count
        How many such slots per grid (``X`` slots use ``optional=True``).
    eligible
        Which members may fill it; ``None`` for slots no member can fill from the data.
    optional
        Unfilled optional slots are not reported.
    needs_property_management
        The slot exists only in grids with a property-managed compound.
    """

    role: str
    duty: str
    count: int
    eligible: MemberFilter | None
    optional: bool = False
    needs_property_management: bool = False


def _resident(m: pd.DataFrame) -> np.ndarray:
    return np.asarray((m["status"] == "resident") & (m["class"] != "D"), dtype=bool)


def _age_between(m: pd.DataFrame, lo: int, hi: int) -> np.ndarray:
    age = pd.to_numeric(m["age"], errors="coerce")
    return ((age >= lo) & (age <= hi)).fillna(False).to_numpy(dtype=bool)


def _present(m: pd.DataFrame) -> np.ndarray:
    return (m["status"].isin(["resident", "in_service"]) & (m["class"] != "D")).to_numpy(
        dtype=bool)


def _leader(m: pd.DataFrame) -> np.ndarray:
    return np.asarray(_present(m) & m["class"].isin(["A", "B"]).to_numpy()
                      & _age_between(m, 25, 65), dtype=bool)


def _full_time(m: pd.DataFrame) -> np.ndarray:
    return np.asarray(_present(m) & (m["class"] == "A").to_numpy() & _age_between(m, 22, 55),
                      dtype=bool)


def _cadre(m: pd.DataFrame) -> np.ndarray:
    return _resident(m) & m["class"].isin(["A", "B"]).to_numpy()


def _security(m: pd.DataFrame) -> np.ndarray:
    return np.asarray(_resident(m) & _age_between(m, 18, 65), dtype=bool)


def _in_service(m: pd.DataFrame) -> np.ndarray:
    return ((m["status"] == "in_service") & (m["class"] != "D")).to_numpy(dtype=bool)


#: The "1+1+3+X" model of the reference county.
DEFAULT_TEMPLATE: tuple[RoleSlot, ...] = (
    RoleSlot("leader", "网格长", 1, _leader),
    RoleSlot("full_time", "专职网格员", 1, _full_time),
    RoleSlot("part_time", "物业负责人", 1, None, needs_property_management=True),
    RoleSlot("part_time", "治安志愿者", 1, _security),
    RoleSlot("part_time", "社区党员干部", 1, _cadre),
    RoleSlot("volunteer", "驻区单位党员", 3, _in_service, optional=True),
)


@dataclass
class StaffingResult:
    """The staff layer and what could not be filled.

    Attributes
    ----------
    staff
        The new ``staff`` layer (kept people plus new ones).
    unfilled
        One row per unfilled slot: ``grid_code``, ``role``, ``duty``, ``reason``.
    """

    staff: gpd.GeoDataFrame
    unfilled: pd.DataFrame


def staff_grids(
    grids: gpd.GeoDataFrame,
    members: gpd.GeoDataFrame,
    *,
    compounds: gpd.GeoDataFrame | None = None,
    existing: gpd.GeoDataFrame | None = None,
    template: Sequence[RoleSlot] = DEFAULT_TEMPLATE,
    crs: object,
) -> StaffingResult:
    """Fill every grid's staffing template from the workspace's party members.

    Parameters
    ----------
    grids
        The ``grids`` layer (EPSG:4326).
    members
        The ``members`` layer.
    compounds
        The ``compounds`` layer, to know which grids have property management.
    existing
        The current ``staff`` layer; its people for these grids are kept.
    template
        Slots per grid; default :data:`DEFAULT_TEMPLATE` ("1+1+3+X").
    crs
        Metric CRS for distances.

    Returns
    -------
    StaffingResult
    """
    g = grids.to_crs(crs).reset_index(drop=True)
    m = members.to_crs(crs).reset_index(drop=True)
    kept = (
        existing[existing["grid_code"].isin(g["code"])].copy()
        if existing is not None and len(existing)
        else None
    )
    used: set[str] = set()
    if kept is not None:
        used.update(kept["member_id"].dropna().astype(str))
    managed = _grids_with_property_management(g, compounds.to_crs(crs) if compounds is not None
                                              and len(compounds) else None)
    home = np.asarray(m.geometry.values)
    rows: list[dict[str, object]] = []
    unfilled: list[dict[str, object]] = []
    member_ids = m["id"].astype(str).to_numpy()
    # a set lookup per member: np.isin on object arrays compares every pair (seconds for a city)
    taken = np.fromiter((i in used for i in member_ids), dtype=bool, count=len(member_ids))
    eligible = {slot.duty: slot.eligible(m) for slot in template if slot.eligible is not None}
    may_serve = np.zeros(len(m), dtype=bool)
    for mask in eligible.values():
        may_serve |= np.asarray(mask, dtype=bool)
    community_of_member = _community_of(m, g)
    # Only a grid's own community may staff it, so distances are taken to those members
    # alone: one community's members per grid, not the city's (that grew as grids × members).
    by_community = pd.Series(np.arange(len(m))).groupby(community_of_member).indices
    in_service = m["status"].to_numpy() == "in_service"
    # plain arrays, not a row of a frame per grid and per pick: a city has thousands of grids
    grid_codes = g["code"].astype(str).to_numpy()
    grid_communities = g["community_code"].astype(str).to_numpy()
    grid_shapes = np.asarray(g.geometry.values)
    names, phones = m["name"].to_numpy(), m["phone"].to_numpy()
    # the people kept in each grid as (role, duty); a blank duty fits any slot of its role
    kept_of: dict[str, list[tuple[object, object]]] = {}
    if kept is not None:
        for c, role, duty in zip(kept["grid_code"].astype(str), kept["role"], kept["duty"],
                                 strict=True):
            kept_of.setdefault(c, []).append((role, None if pd.isna(duty) else duty))
    for gi in np.argsort(g["code"].to_numpy()):
        code = str(grid_codes[gi])
        have = kept_of.get(code, [])
        near = np.asarray(by_community.get(grid_communities[gi], []), dtype=np.int64)
        # distances only to those a slot of this grid may still take (the others are never
        # ranked: taken stays taken)
        open_ = may_serve[near] & ~taken[near]
        dist = np.full(len(near), np.inf)
        dist[open_] = shapely.distance(home[near[open_]], grid_shapes[gi])
        rank = dist + np.where(in_service[near], IN_SERVICE_PENALTY_M, 0.0)
        for slot in template:
            present = sum(1 for role, duty in have
                          if role == slot.role and duty in (None, slot.duty))
            for _ in range(present, slot.count):
                if slot.needs_property_management and not managed[int(gi)]:
                    break
                if slot.eligible is None:
                    unfilled.append({"grid_code": code, "role": slot.role, "duty": slot.duty,
                                     "reason": "no such person in the data; appoint by hand"})
                    continue
                ok = eligible[slot.duty][near] & ~taken[near]
                if slot.role == "volunteer":
                    ok &= dist <= 0.0
                if not ok.any():
                    if not slot.optional:
                        unfilled.append({"grid_code": code, "role": slot.role,
                                         "duty": slot.duty,
                                         "reason": "no eligible party member left in the "
                                                   "community"})
                    break
                pick = int(near[np.flatnonzero(ok)[np.argmin(rank[ok])]])
                used.add(member_ids[pick])
                taken[pick] = True
                rows.append({
                    "grid_code": code,
                    "role": slot.role,
                    "name": names[pick],
                    "phone": phones[pick],
                    "member_id": member_ids[pick],
                    "duty": slot.duty,
                })
    new = pd.DataFrame(rows, columns=["grid_code", "role", "name", "phone", "member_id", "duty"])
    used_ids = set(kept["id"].astype(str)) if kept is not None else set()
    ids: list[str] = []
    for code in new["grid_code"]:
        n = 1
        while f"{code}-{n:02d}" in used_ids:
            n += 1
        used_ids.add(f"{code}-{n:02d}")
        ids.append(f"{code}-{n:02d}")
    new.insert(0, "id", ids)
    parts = ([pd.DataFrame(kept.drop(columns=["geometry"], errors="ignore"))]
             if kept is not None else [])
    staff = pd.concat([*parts, new], ignore_index=True) if parts else new
    out = conform("staff", staff)
    return StaffingResult(
        staff=out,
        unfilled=pd.DataFrame(unfilled, columns=["grid_code", "role", "duty", "reason"]),
    )


def _community_of(members: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> np.ndarray:
    """Community code of the grid each member lives in (empty string outside every grid).

    A home on a shared edge belongs to one grid by the rule of :mod:`gisgov.locate`.
    """
    out = np.full(len(members), "", dtype=object)
    row = locate_points(members.geometry, grids.geometry,
                        codes=grids["code"].astype(str).to_numpy())
    codes = grids["community_code"].astype(str).to_numpy()
    out[row >= 0] = codes[row[row >= 0]]
    return out


def _grids_with_property_management(
    grids: gpd.GeoDataFrame, compounds: gpd.GeoDataFrame | None
) -> np.ndarray:
    managed = np.zeros(len(grids), dtype=bool)
    if compounds is None:
        return managed
    pm = compounds[compounds["property_managed"].fillna(False).astype(bool).to_numpy()]
    if not len(pm):
        return managed
    # a compound counts for the grid holding its representative point (gisgov.locate)
    row = locate_points(shapely.point_on_surface(np.asarray(pm.geometry.values)),
                        grids.geometry, codes=grids["code"].astype(str).to_numpy())
    managed[np.unique(row[row >= 0])] = True
    return managed
