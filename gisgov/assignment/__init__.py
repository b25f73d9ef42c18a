"""Red-grid members ↔ households: 5–10 each, 就亲、就近、就便, solved exactly.

Each household of a grid gets at most one red-grid member (红色网格员) living in the grid, as
far as the members' load bounds allow: kin first (就亲), then the shortest walk along the
streets (就近), then the same building or compound (就便). Each grid is a minimum-cost flow over
all its household-member pairs with per-member load bounds, solved by OR-Tools and checked by
an LP-dual bound (claimed optimal only when the bound equals the objective); grids short of
members borrow from adjacent grids of the same community. Where members are too few, households
stay unassigned — in the sample county's mixed communities about a fifth of them — and that is
reported: members needed per grid, members below their minimum, every unassigned household
with a reason.

The cost model and its weights are documented in :mod:`gisgov.assignment._model`.
"""

from __future__ import annotations

from gisgov.assignment._assign import AssignmentResult, assign, previous_from_layer
from gisgov.assignment._model import ClassBounds, CostModel
from gisgov.assignment._write import write_assignment
from gisgov.assignment.contacts import contact_lists, write_contact_lists

__all__ = [
    "AssignmentResult",
    "ClassBounds",
    "CostModel",
    "assign",
    "contact_lists",
    "previous_from_layer",
    "write_assignment",
    "write_contact_lists",
]
