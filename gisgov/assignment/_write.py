"""Writing an assignment run to a workspace: one transaction for the CLI and the API's jobs."""

from __future__ import annotations

from typing import Any

from gisgov.assignment._assign import AssignmentResult

__all__ = ["GRIDS_TABLE", "UNASSIGNED_TABLE", "write_assignment"]

#: Per-grid summary of the last run.
GRIDS_TABLE = "assignment_grids"
#: Households the last run could not assign, each with its reason.
UNASSIGNED_TABLE = "assignment_unassigned"


def write_assignment(workspace: Any, result: AssignmentResult) -> list[str]:
    """Write the ``assignments`` layer, the per-grid summary and the unassigned list at once.

    Returns
    -------
    list of str
        The layer and tables written (for job result links).
    """
    with workspace.transaction() as tx:
        tx.write("assignments", result.assignments)
        tx.write_table(GRIDS_TABLE, result.grids)
        tx.write_table(UNASSIGNED_TABLE, result.unassigned)
        tx.set_meta("assignment_summary",
                    {k: v for k, v in result.summary.items() if k != "reasons"})
    return ["assignments", GRIDS_TABLE, UNASSIGNED_TABLE]
