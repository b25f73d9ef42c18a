"""``gisgov check``: schema validation plus the governance rules a coordinator lives by.

Rules are small functions ``rule(layers) -> list[Problem]`` registered in :data:`RULES`;
their ``rule`` names in the output are stable (scripts and the API depend on them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import geopandas as gpd

from gisgov.grids.compliance import GRID_RULES
from gisgov.layers import Problem, validate_workspace

__all__ = ["RULES", "Rule", "check_layers", "check_report"]

Rule = Callable[[Mapping[str, gpd.GeoDataFrame]], list[Problem]]

#: Governance rules run after schema validation (grids, branches, coverage, loads…).
RULES: list[Rule] = [*GRID_RULES]


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
