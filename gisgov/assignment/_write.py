"""Writing an assignment run to a workspace: one transaction for the CLI and the API's jobs."""

from __future__ import annotations

from typing import Any

import pandas as pd
import shapely

from gisgov.assignment._result import AssignmentResult
from gisgov.gcpause import gc_paused

__all__ = ["DEPLOYMENTS_TABLE", "GRIDS_TABLE", "RECRUIT_TABLE", "UNASSIGNED_TABLE",
           "write_assignment"]

#: Per-grid summary of the last run.
GRIDS_TABLE = "assignment_grids"
#: Households the last run could not assign, each with its reason.
UNASSIGNED_TABLE = "assignment_unassigned"
#: Members serving grids outside their community (统筹调配), with a WKT member → grid line.
DEPLOYMENTS_TABLE = "assignment_deployments"
#: The recruitment plan: one row per grid still short of members.
RECRUIT_TABLE = "assignment_recruit"


def write_assignment(workspace: Any, result: AssignmentResult) -> list[str]:
    """Write the ``assignments`` layer and the run's tables (per-grid summary, unassigned
    households, deployments, recruitment plan) in one transaction.

    Returns
    -------
    list of str
        The layer and tables written (for job result links).
    """
    with gc_paused(), workspace.transaction() as tx:
        tx.write("assignments", result.assignments)
        tx.write_table(GRIDS_TABLE, result.grids)
        tx.write_table(UNASSIGNED_TABLE, result.unassigned)
        dep = pd.DataFrame(result.deployments.drop(columns="geometry"))
        dep["geometry_wkt"] = shapely.to_wkt(result.deployments.geometry.to_numpy(),
                                             rounding_precision=7)
        tx.write_table(DEPLOYMENTS_TABLE, dep)
        tx.write_table(RECRUIT_TABLE, result.recruit)
        tx.set_meta("assignment_summary",
                    {k: v for k, v in result.summary.items() if k != "reasons"})
    return ["assignments", GRIDS_TABLE, UNASSIGNED_TABLE, DEPLOYMENTS_TABLE, RECRUIT_TABLE]
