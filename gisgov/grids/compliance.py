"""Governance rules for ``gisgov check``: the checks a grid coordinator lives by.

Rule names are stable (scripts and the API depend on them):

========================  ========  ==========================================================
rule                      severity  meaning
========================  ========  ==========================================================
grid_no_party_org         error     a grid has no grid branch / party group
grid_no_leader            error     a grid has no grid leader (网格长)
grid_no_full_time         error     a grid has no full-time grid worker (专职网格员)
member_no_grid            warning   a party member's home lies in no grid
branch_over_50            error     a branch has more than 50 members (with a proposed split)
household_outside_grids   error     a household lies in no grid of a gridded community
grid_size_out_of_range    error     a grid's households outside the allowed 30–1000
grid_size_off_target      warning   a grid's households more than 25% off its target
grid_gap                  error     part of a gridded community lies in no grid at all
grid_overlap              error     two grids overlap by more than 1 m² (any communities)
member_load_out_of_range  warning   a red-grid member's households outside its class's bounds
========================  ========  ==========================================================

Grid rules only run once the workspace has grids; the branch rule runs always (it is what
the county report found before any grid existed).
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisgov.coverage import overlaps
from gisgov.grids.party import BRANCH_CAP, grid_of_points, propose_branch_splits
from gisgov.layers import Problem

__all__ = [
    "GRID_RULES",
    "GRID_SIZE_RANGE",
    "LOAD_RANGE",
    "branch_over_cap",
    "grid_coverage",
    "grid_organisation",
    "grid_sizes",
    "member_loads",
    "people_in_grids",
]

#: Households a grid may hold at all (practice ranges from ~100 to ~1,000; see docs/REFERENCES.md).
GRID_SIZE_RANGE = (30, 1000)
#: A grid more than this fraction away from its target is flagged (warning).
TARGET_TOLERANCE = 0.25
#: Households per red-grid member.
LOAD_RANGE = (5, 10)
#: Gaps or overlaps smaller than this (m²) are drawing noise, not findings (as the grid
#: partition's dropped specks, :data:`gisgov.grids.partition.SPECK_M2`).
AREA_EPSILON_M2 = 5.0
#: Overlaps between grids larger than this (m²) are findings. Stored grids are one coverage
#: (:func:`gisgov.coverage.snap_coverage`), so any overlap is an edit or import gone wrong;
#: a household standing in it would belong to two grids.
OVERLAP_EPSILON_M2 = 1.0

Layers = Mapping[str, gpd.GeoDataFrame]


def _has(layers: Layers, name: str) -> bool:
    return name in layers and len(layers[name]) > 0


def grid_organisation(layers: Layers) -> list[Problem]:
    """Grids without a party organisation, a leader or a full-time worker."""
    if not _has(layers, "grids"):
        return []
    grids = layers["grids"]
    problems: list[Problem] = []
    branches = layers.get("branches")
    with_org: set[str] = set()
    if branches is not None and len(branches) and "grid_code" in branches.columns:
        with_org = set(branches.loc[branches["level"] == "grid", "grid_code"].dropna()
                       .astype(str))
    staff = layers.get("staff")
    roles = (staff.groupby("grid_code")["role"].agg(set).to_dict()
             if staff is not None and len(staff) else {})
    for code in grids["code"].astype(str):
        if code not in with_org:
            problems.append(Problem("grids", code, "grid_no_party_org",
                                    "grid has no party branch or party group; run gisgov grids "
                                    "to create one"))
        have = roles.get(code, set())
        if "leader" not in have:
            problems.append(Problem("grids", code, "grid_no_leader",
                                    "grid has no grid leader (网格长); appoint one in staff"))
        if "full_time" not in have:
            problems.append(Problem("grids", code, "grid_no_full_time",
                                    "grid has no full-time grid worker (专职网格员)"))
    return problems


def people_in_grids(layers: Layers) -> list[Problem]:
    """Members whose home is in no grid; households in gridded communities but in no grid."""
    if not _has(layers, "grids"):
        return []
    grids = layers["grids"]
    problems: list[Problem] = []
    if _has(layers, "members"):
        members = layers["members"]
        where = grid_of_points(members.geometry, grids)
        for key in members["id"].astype(str).to_numpy()[pd.isna(where)]:
            problems.append(Problem("members", key, "member_no_grid",
                                    "party member's home lies in no grid: every member must be "
                                    "in a grid (每名党员都在网格中)", "warning"))
    if _has(layers, "households") and _has(layers, "communities"):
        hh = layers["households"]
        gridded = layers["communities"][
            layers["communities"]["code"].isin(grids["community_code"])
        ]
        in_gridded = grid_of_points(hh.geometry, gridded.rename(columns={"code": "code"}))
        where = grid_of_points(hh.geometry, grids)
        lost = ~pd.isna(in_gridded) & pd.isna(where)
        for key in hh["id"].astype(str).to_numpy()[lost]:
            problems.append(Problem("households", key, "household_outside_grids",
                                    "household lies in a gridded community but in no grid; "
                                    "re-run gisgov grids for its community"))
    return problems


def grid_sizes(layers: Layers) -> list[Problem]:
    """Grids whose household count is outside the allowed range or far off their target."""
    if not _has(layers, "grids") or not _has(layers, "households"):
        return []
    grids = layers["grids"]
    where = grid_of_points(layers["households"].geometry, grids)
    counts = pd.Series(where).value_counts()
    lo, hi = GRID_SIZE_RANGE
    problems: list[Problem] = []
    for code, target in zip(grids["code"].astype(str), grids["target_households"], strict=True):
        n = int(counts.get(code, 0))
        if not lo <= n <= hi:
            problems.append(Problem("grids", code, "grid_size_out_of_range",
                                    f"grid holds {n} households; allowed {lo}–{hi}"))
        elif pd.notna(target) and abs(n - int(target)) > TARGET_TOLERANCE * int(target):
            problems.append(Problem("grids", code, "grid_size_off_target",
                                    f"grid holds {n} households, target {int(target)} "
                                    f"(±{TARGET_TOLERANCE:.0%})", "warning"))
    return problems


def grid_coverage(layers: Layers) -> list[Problem]:
    """Gaps between the grids of each gridded community, and overlaps between any grids."""
    if not _has(layers, "grids") or not _has(layers, "communities"):
        return []
    from gisgov.crs import working_crs_for

    grids = layers["grids"]
    crs = working_crs_for(grids)
    g = grids.to_crs(crs)
    comm = layers["communities"].to_crs(crs).set_index("code")
    problems: list[Problem] = []
    every = np.asarray(g.geometry.values)
    tree = shapely.STRtree(every)
    for code, _ in g.groupby("community_code"):
        if code in comm.index:
            # covered by no grid at all: where two communities overlap, the part held by the
            # other community's grid (the lower code, gisgov.locate) is not a gap of this one
            area = comm.geometry[code]
            union = shapely.union_all(every[tree.query(area, predicate="intersects")])
            gap = shapely.area(shapely.difference(area, union))
            if gap > AREA_EPSILON_M2:
                problems.append(Problem("grids", str(code), "grid_gap",
                                        f"{gap:,.0f} m² of community {code} lies in no grid"))
    # overlaps across community borders too: grids of neighbouring communities must tile
    g = g.sort_values("code", kind="stable")
    codes = g["code"].astype(str).to_numpy()
    for i, j, area in overlaps(g.geometry.values, above=OVERLAP_EPSILON_M2):
        problems.append(Problem("grids", codes[i], "grid_overlap",
                                f"grid overlaps grid {codes[j]} by {area:,.1f} m²"))
    return problems


def branch_over_cap(layers: Layers) -> list[Problem]:
    """Branches over 50 members, each with a proposed split along grid lines when grids exist."""
    if not _has(layers, "branches") or not _has(layers, "members"):
        return []
    branches, members = layers["branches"], layers["members"]
    sizes = members["branch_id"].value_counts()
    problems: list[Problem] = []
    proposals = (propose_branch_splits(branches, members, layers["grids"])
                 if _has(layers, "grids") else pd.DataFrame(columns=["branch_id"]))
    for bid, name in zip(branches["id"].astype(str), branches["name"], strict=True):
        n = int(sizes.get(bid, 0))
        if n <= BRANCH_CAP:
            continue
        mine = proposals[proposals["branch_id"] == bid]
        if len(mine):
            parts = "; ".join(
                f"{r.proposal}: {r.members} members in grids {r.grid_codes or '(no grid)'}"
                for r in mine.itertuples()
            )
            hint = f" proposed split along grid lines → {parts}"
        else:
            hint = " run gisgov grids to get a split along grid lines"
        problems.append(Problem("branches", bid, "branch_over_50",
                                f"{name} has {n} members, over the cap of {BRANCH_CAP} "
                                f"(党支部工作条例);{hint}"))
    return problems


def member_loads(layers: Layers) -> list[Problem]:
    """Red-grid members whose number of households is outside their class's bounds.

    The bounds are the assignment's (:class:`gisgov.assignment.ClassBounds`: A/B 5–10, C up
    to 5, D and away none), so the check and ``gisgov assign`` judge a load the same way: a
    class C member with 1 household is within bounds, not a warning.
    """
    if not _has(layers, "assignments"):
        return []
    from gisgov.assignment._model import ClassBounds

    bounds = ClassBounds()
    loads = layers["assignments"]["member_id"].astype(str).value_counts()
    kind: dict[str, tuple[str, str]] = {}
    if _has(layers, "members"):
        mem = layers["members"]
        kind = {str(i): (str(c), str(s)) for i, c, s in
                zip(mem["id"], mem["class"], mem["status"], strict=True)}
    problems = []
    for mid, n in loads.items():
        klass, status = kind.get(str(mid), ("A", "resident"))
        lo, hi = bounds.for_member(klass, status)
        if not lo <= int(n) <= hi:
            problems.append(Problem(
                "members", mid, "member_load_out_of_range",
                f"red-grid member (class {klass}, {status}) keeps in touch with {n} households; "
                f"expected {lo}–{hi}", "warning"))
    return problems


GRID_RULES = [
    grid_organisation,
    people_in_grids,
    grid_sizes,
    grid_coverage,
    branch_over_cap,
    member_loads,
]
