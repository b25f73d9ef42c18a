"""``gisgov check``: schema validation plus the governance rules a coordinator lives by.

Rules are small functions ``rule(layers) -> list[Problem]`` registered in :data:`RULES`;
their ``rule`` names in the output are stable (scripts and the API depend on them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisgov.grids.compliance import GRID_RULES, OVERLAP_EPSILON_M2
from gisgov.layers import Problem, validate_workspace

__all__ = ["COVERAGE_TARGET", "RULES", "Rule", "check_layers", "check_report",
           "community_coverage", "community_overlap", "coverage_by_community"]

Rule = Callable[[Mapping[str, gpd.GeoDataFrame]], list[Problem]]

#: Share of a community's households that should have a red-grid member (issue 14: 99%).
COVERAGE_TARGET = 0.99


def coverage_by_community(layers: Mapping[str, gpd.GeoDataFrame]) -> pd.DataFrame:
    """Households with a red-grid member per community, from the stored assignments.

    A household belongs to the community of the grid holding it, found by the lookup's
    locator (:class:`gisgov.lookup.LookupIndex`, the same rule as the assignment), so the
    figures match ``gisgov assign``. Empty when there are no grids or no assignments yet.

    Returns
    -------
    pandas.DataFrame
        ``community_code, households, assigned, coverage`` (sorted by code).
    """
    from gisgov.lookup import LookupIndex

    cols = ["community_code", "households", "assigned", "coverage"]
    grids, hh = layers.get("grids"), layers.get("households")
    done = layers.get("assignments")
    if grids is None or hh is None or done is None or not len(grids) or not len(done):
        return pd.DataFrame(columns=cols)
    index = LookupIndex.from_layers({"grids": grids[["code", "geometry"]]})
    pts = hh.geometry.to_crs(4326).to_numpy()
    codes = index.lookup_many(np.asarray(shapely.get_x(pts)), np.asarray(shapely.get_y(pts)),
                              distances=False).grid_codes
    community = dict(zip(grids["code"].astype(str), grids["community_code"].astype(str),
                         strict=True))
    frame = pd.DataFrame({
        "community_code": [community.get(c) if c is not None else None for c in codes],
        "assigned": hh["id"].astype(str).isin(set(done["household_id"].astype(str))),
    }).dropna(subset=["community_code"])
    out = frame.groupby("community_code").agg(households=("assigned", "size"),
                                              assigned=("assigned", "sum")).reset_index()
    out["coverage"] = (out["assigned"] / out["households"]).round(4)
    return out[cols]


def community_coverage(layers: Mapping[str, gpd.GeoDataFrame]) -> list[Problem]:
    """A warning for every community below :data:`COVERAGE_TARGET` (once assignments exist)."""
    table = coverage_by_community(layers)
    out: list[Problem] = []
    for r in table.to_dict("records"):
        code, n, done = str(r["community_code"]), int(r["households"]), int(r["assigned"])
        share = done / n if n else 1.0
        if share < COVERAGE_TARGET:
            out.append(Problem(
                "assignments", code, "community_coverage",
                f"community {code}: {done:,} of {n:,} households ({share:.1%}) have a "
                f"red-grid member, below {COVERAGE_TARGET:.0%}; see the recruitment plan "
                "(gisgov assign --plan-out)", "warning"))
    return out


def community_overlap(layers: Mapping[str, gpd.GeoDataFrame]) -> list[Problem]:
    """An error for every two communities overlapping by more than 1 m², measured in metres.

    Stored communities are one coverage (:func:`gisgov.coverage.snap_layer` before every
    write), like grids; an overlap is an edit or import gone wrong, and a household in it
    would belong to two communities.
    """
    comm = layers.get("communities")
    if comm is None or len(comm) < 2:
        return []
    from gisgov.coverage import overlaps
    from gisgov.crs import working_crs_for

    c = comm.sort_values("code", kind="stable")
    codes = c["code"].astype(str).to_numpy()
    return [Problem("communities", codes[i], "community_overlap",
                    f"社区 {codes[i]} 与 {codes[j]} 重叠 {area:,.1f} m² "
                    f"(community overlaps community {codes[j]})")
            for i, j, area in overlaps(c.to_crs(working_crs_for(c)).geometry.values,
                                       above=OVERLAP_EPSILON_M2)]


#: Governance rules run after schema validation (grids, branches, coverage, loads…).
RULES: list[Rule] = [*GRID_RULES, community_overlap, community_coverage]


def check_layers(layers: Mapping[str, gpd.GeoDataFrame]) -> list[Problem]:
    """Run schema validation, then every registered rule.

    Parameters
    ----------
    layers
        Layer name to GeoDataFrame (what ``Workspace.read_all()`` returns).

    Returns
    -------
    list of Problem
        Errors and warnings, schema problems first.
    """
    problems = validate_workspace(layers)
    for rule in RULES:
        problems.extend(rule(layers))
    return problems


def check_report(problems: list[Problem]) -> dict[str, Any]:
    """Summarise problems for ``--json``: counts per severity and rule, and the list."""
    by_rule: dict[str, int] = {}
    for p in problems:
        by_rule[p.rule] = by_rule.get(p.rule, 0) + 1
    errors = sum(p.severity == "error" for p in problems)
    return {
        "ok": errors == 0,
        "errors": errors,
        "warnings": len(problems) - errors,
        "by_rule": by_rule,
        "problems": [p.to_dict() for p in problems],
    }
