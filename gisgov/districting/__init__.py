"""Districting: one engine for re-drawing communities and for partitioning grids.

See :func:`partition` for the engine, :mod:`.units` for building atomic units from a
workspace or a file, :mod:`.metrics` for plan metrics, :mod:`.boundary_text` for 四至 text and
:mod:`.scenarios` for storing, accepting and exporting plans.
"""

from __future__ import annotations

from gisgov.districting.engine import EXACT_MAX_UNITS, PartitionResult, partition
from gisgov.districting.exact import ExactResult, solve_exact
from gisgov.districting.graph import UnitGraph, graph_from_units, metric_crs
from gisgov.districting.objective import (
    Constraint,
    Objective,
    Plan,
    check_plan,
    contiguous,
    respects_locks,
    within_bounds,
)

__all__ = [
    "EXACT_MAX_UNITS",
    "Constraint",
    "ExactResult",
    "Objective",
    "PartitionResult",
    "Plan",
    "UnitGraph",
    "check_plan",
    "contiguous",
    "graph_from_units",
    "metric_crs",
    "partition",
    "respects_locks",
    "solve_exact",
    "within_bounds",
]
