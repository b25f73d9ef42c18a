"""Minimum-cost flow with an independent optimality certificate.

OR-Tools' ``SimpleMinCostFlow`` solves the flow exactly (integer costs, cost scaling). The
certificate does not trust it: node potentials are computed from the residual graph of the
returned flow by Bellman-Ford (shortest distances from a virtual source). Any potentials give
the LP-dual lower bound

    LB = -sum_v pi(v) * supply(v) + sum_{arcs a with reduced cost rc_a < 0} rc_a * cap_a,

and when the residual graph has no negative cycle (the flow is optimal) LB equals the flow's
cost exactly. Min-cost flow is totally unimodular, so this LP bound is also the bound for
integer flows: ``gap == 0`` proves optimality. Only that proof makes
:attr:`FlowSolution.optimal` true; when the certificate is skipped or fails the solution says
why in :attr:`FlowSolution.reason`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from ortools.graph.python import min_cost_flow

__all__ = ["FlowSolution", "solve_min_cost_flow"]

IntArray = NDArray[np.int64]

_STATUS = {
    min_cost_flow.SimpleMinCostFlow.OPTIMAL: "OPTIMAL",
    min_cost_flow.SimpleMinCostFlow.NOT_SOLVED: "NOT_SOLVED",
    min_cost_flow.SimpleMinCostFlow.FEASIBLE: "FEASIBLE",
    min_cost_flow.SimpleMinCostFlow.INFEASIBLE: "INFEASIBLE",
    min_cost_flow.SimpleMinCostFlow.UNBALANCED: "UNBALANCED",
    min_cost_flow.SimpleMinCostFlow.BAD_RESULT: "BAD_RESULT",
    min_cost_flow.SimpleMinCostFlow.BAD_COST_RANGE: "BAD_COST_RANGE",
}


@dataclass(frozen=True, eq=False)
class FlowSolution:
    """Result of :func:`solve_min_cost_flow`.

    Attributes
    ----------
    status
        OR-Tools status name (``OPTIMAL`` when the solver reports it solved).
    flow
        Flow on each arc (zeros unless ``status == "OPTIMAL"``).
    objective
        Total cost in integer cost units (``None`` unless solved).
    lower_bound
        LP-dual lower bound from the certificate (``None`` when not certified).
    reason
        Why the flow is *not* proven optimal (``None`` when it is): the solver's status, a
        certificate that was not computed, a residual negative cycle or a bound below the
        objective. OR-Tools' own ``OPTIMAL`` is not taken as proof: :attr:`optimal` is true
        only when the independent certificate closes the gap.
    """

    status: str
    flow: IntArray
    objective: int | None
    lower_bound: int | None
    reason: str | None = None

    @property
    def optimal(self) -> bool:
        """Solved *and* proven optimal: the dual bound equals the objective."""
        return (self.status == "OPTIMAL" and self.objective is not None
                and self.lower_bound is not None and self.lower_bound == self.objective)


def _why_not_proven(status: str, objective: int | None, bound: int | None,
                    certified: bool) -> str | None:
    """The reason recorded in :attr:`FlowSolution.reason` (``None`` when proven)."""
    if status != "OPTIMAL":
        return f"the flow solver returned {status}"
    if not certified:
        return "no certificate computed (certify=False); the solver's OPTIMAL is unchecked"
    if bound is None:
        return ("certificate failed: the residual graph of the returned flow has a negative "
                "cycle, so the flow is not minimum-cost")
    if bound != objective:
        return f"certificate failed: dual bound {bound} is below the objective {objective}"
    return None


def solve_min_cost_flow(
    tails: IntArray,
    heads: IntArray,
    capacity: IntArray,
    cost: IntArray,
    supply: IntArray,
    *,
    certify: bool = True,
) -> FlowSolution:
    """Solve a min-cost flow and (optionally) certify it with a dual bound.

    Parameters
    ----------
    tails, heads, capacity, cost
        Arcs; capacities >= 0, integer costs of either sign.
    supply
        Supply (+) or demand (-) of each node; sums to zero.
    certify
        Compute the dual lower bound from the residual graph.

    Returns
    -------
    FlowSolution
    """
    solver = min_cost_flow.SimpleMinCostFlow()
    n_nodes = len(supply)
    if len(tails):
        solver.add_arcs_with_capacity_and_unit_cost(tails, heads, capacity, cost)
    solver.set_nodes_supplies(np.arange(n_nodes, dtype=np.int64), supply)
    status = solver.solve()
    name = _STATUS.get(status, str(status))
    if status != solver.OPTIMAL:
        # Reading flows after a failed solve can crash OR-Tools 9.15: never do it.
        return FlowSolution(name, np.zeros(len(tails), np.int64), None, None,
                            _why_not_proven(name, None, None, certify))
    flow = np.asarray(solver.flows(np.arange(len(tails), dtype=np.int64)), dtype=np.int64)
    objective = int(solver.optimal_cost())
    bound = _dual_bound(tails, heads, capacity, cost, supply, flow) if certify else None
    return FlowSolution(name, flow, objective, bound,
                        _why_not_proven(name, objective, bound, certify))


def _dual_bound(
    tails: IntArray,
    heads: IntArray,
    capacity: IntArray,
    cost: IntArray,
    supply: IntArray,
    flow: IntArray,
) -> int | None:
    """LP-dual bound from residual-graph potentials; ``None`` if a negative cycle remains."""
    n = len(supply)
    fwd = flow < capacity
    back = flow > 0
    r_tail = np.concatenate([tails[fwd], heads[back]])
    r_head = np.concatenate([heads[fwd], tails[back]])
    r_cost = np.concatenate([cost[fwd], -cost[back]])
    order = np.argsort(r_head, kind="stable")
    r_tail, r_head, r_cost = r_tail[order], r_head[order], r_cost[order]
    heads_u, starts = np.unique(r_head, return_index=True)
    # Virtual source with 0-cost arcs to every node: potentials start at 0.
    pi = np.zeros(n, dtype=np.int64)
    for _ in range(n + 1):
        if len(r_tail) == 0:
            break
        best = np.minimum.reduceat(pi[r_tail] + r_cost, starts)
        improved = best < pi[heads_u]
        if not improved.any():
            break
        pi[heads_u[improved]] = best[improved]
    else:
        return None
    reduced = cost + pi[tails] - pi[heads]
    neg = reduced < 0
    return int(-(pi * supply).sum() + (reduced[neg] * capacity[neg]).sum())
