"""Red-grid members ↔ households: 5–10 each, coverage first, 就亲、就近、就便, solved exactly.

Each household gets at most one red-grid member (红色网格员) as far as the members' load bounds
allow: kin first (就亲), then the shortest walk along the streets (就近), then the same building
or compound (就便). Resident members serve their grid (and adjacent short grids of their
community); reporting in-service members (双报到) may also be deployed to grids of the other
communities of their subdistrict within a walking cap (统筹调配, ``scope``). Covering a
household outranks every walking metre, so a household stays unassigned only when no member
within reach has room — and then the recruitment plan (:mod:`gisgov.assignment.recruit`) says
how many members each grid still needs and who nearby could be invited.

Three parts, each a module: the problem built once (:mod:`~gisgov.assignment._problem`:
who, where, bounds, eligible pairs and costs, independent pieces; from the layers, an
:class:`AssignmentInput`, and the options, an :class:`AssignSettings`), the solve
(:mod:`~gisgov.assignment._solve`: one certified min-cost flow per piece) and the result
(:mod:`~gisgov.assignment._result`). The cost model and its weights are in
:mod:`gisgov.assignment._model`.
"""

from __future__ import annotations

from gisgov.assignment._assign import assign, previous_from_layer
from gisgov.assignment._model import DEPLOY_CAP_M, SCOPES, ClassBounds, CostModel
from gisgov.assignment._problem import AssignmentProblem, build_problem
from gisgov.assignment._result import AssignmentResult, make_result
from gisgov.assignment._settings import AssignmentInput, AssignSettings
from gisgov.assignment._solve import AssignmentSolution, solve
from gisgov.assignment._write import write_assignment
from gisgov.assignment.contacts import contact_lists, write_contact_lists
from gisgov.assignment.recruit import write_recruit_plan

__all__ = [
    "DEPLOY_CAP_M",
    "SCOPES",
    "AssignSettings",
    "AssignmentInput",
    "AssignmentProblem",
    "AssignmentResult",
    "AssignmentSolution",
    "ClassBounds",
    "CostModel",
    "assign",
    "build_problem",
    "contact_lists",
    "make_result",
    "previous_from_layer",
    "solve",
    "write_assignment",
    "write_contact_lists",
    "write_recruit_plan",
]
