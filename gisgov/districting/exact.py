"""Exact districting as a MILP: SCIP with lazy cut-set contiguity (default), or a flow model.

SCIP model (``solver="scip"``, through PySCIPOpt; ``n`` units, ``K`` areas, edges ``E``)::

    min  Σ_e c_e y_e  +  Σ_u Σ_k d_uk x_uk
    s.t. Σ_k x_uk = 1                           every unit in one area
         lower ≤ Σ_u w_u x_uk ≤ upper           balance
         y_e ≥ |x_uk − x_vk|   for e = (u, v)   cut edges (two rows per area), K = 2
         y_e ≥ 1 − Σ_k z_ek,  z_ek ≤ x_uk, x_vk   cut edges, K ≥ 3 (extended formulation)
         Σ_u r_uk = 1,  r_uk ≤ x_uk             one root per area
         x_uk ≤ Σ_{j ≤ u, d(j,u) ≤ upper} r_jk   the root is the area's lowest unit, in reach
         x_uk ≤ r_uk + Σ_{v ∈ N(u)} x_vk         a non-root unit has a neighbour in its area
         x_vk ≤ Σ_{s ∈ N(C)} x_sk + Σ_{u ∈ C} r_uk   (a,b-separators; lazy, for every C ∋ v)

The separator inequalities are what make areas contiguous; there are exponentially many, so a
constraint handler adds them only when an integral solution has an area in several pieces
(Validi, Buchanan & Lykhovyd 2022, "Imposing contiguity constraints in political districting
models"). Symmetry: interchangeable areas are numbered by their roots, each area's first
unit in a *fixing order* (heavy units first, then a set of light units whose connected pieces
weigh less than the lower bound, which therefore cannot root an area), and ``d``
(node-weighted shortest paths, both ends counted) fixes ``x_uk = 0`` where ``u`` is out of
reach of every possible root (L- and U-fixing of Validi & Buchanan 2022, "Political
districting to minimize cut edges"; details in :mod:`._scip`). The heuristic's plan is the
incumbent, so the answer is never worse than it; at the time limit SCIP reports its gap.

Flow model (``solver="highs"``, HiGHS through scipy): the single-commodity flow of Shirabe
(2009) aggregated over areas; slower, kept as an independent check of SCIP's optima in tests.

CP-SAT (the flow model in OR-Tools) was the previous default; measured against SCIP on the
same incumbents (``benchmarks/districting_exact.py``) it proved nothing SCIP did not prove
faster, so it was removed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from gisgov.districting.graph import UnitGraph
from gisgov.districting.objective import Objective

__all__ = ["ExactResult", "Solver", "solve_exact"]

Solver = Literal["scip", "highs"]


@dataclass
class ExactResult:
    """Outcome of the MILP on its own objective: the *linear* terms only.

    Attributes
    ----------
    labels
        Area per unit (``None`` when no plan was found).
    optimal
        The solver proved the optimum of the model it solved: the linear terms (cut edges,
        cut length, main streets, disruption). Never a claim about Polsby-Popper, which is
        not in the model.
    infeasible
        The solver proved that no balanced contiguous plan exists.
    gap
        Relative gap of the solved model (``0`` when optimal).
    objective
        The plan's linear objective in the real (unrounded) costs.
    seconds
        Wall time.
    rounding
        Bound on ``|solved objective − real linear objective|`` from rounding costs; ``0``:
        both solvers use the real costs (kept so callers that add it to the gap stay right).
    nodes
        Branch-and-bound nodes SCIP explored (``0`` for HiGHS, which does not report them):
        with the gap, it says how far a timed-out run got, which seconds alone do not on a
        shared machine.
    bound
        SCIP's dual bound on the solved objective (``nan`` for HiGHS).
    """

    labels: np.ndarray | None
    optimal: bool
    infeasible: bool
    gap: float
    objective: float
    seconds: float
    rounding: float = 0.0
    nodes: int = 0
    bound: float = math.nan


def solve_exact(
    graph: UnitGraph,
    weights: np.ndarray,
    k: int,
    *,
    lower: float,
    upper: float,
    objective: Objective | None = None,
    locked: np.ndarray | None = None,
    home: np.ndarray | None = None,
    time_limit: float = 60.0,
    hint: np.ndarray | None = None,
    solver: Solver = "scip",
    seed: int = 0,
) -> ExactResult:
    """Solve one connected piece exactly (or to the time limit, reporting the gap).

    ``solver="scip"`` (default) solves the cut-set model with ``hint`` (a balanced plan, e.g.
    the heuristic's) as its incumbent (:mod:`._scip`); ``"highs"`` the flow model in HiGHS (no
    hint). Both use the real weights and costs, so "optimal" is exact for the linear terms.

    Parameters
    ----------
    graph, weights, k
        The piece: its graph, unit weights and number of areas.
    lower, upper
        Area weight bounds.
    objective
        Weights of the linear terms (cut edges, cut length, main streets, disruption);
        Polsby-Popper is not part of the MILP, so ``optimal`` never covers it.
    locked
        Area per unit, ``-1`` when free.
    home
        Current area per unit (``-1`` = none) for the disruption term.
    time_limit
        Seconds before the solver stops and reports its gap.
    hint
        A balanced contiguous plan to start from (SCIP only): the answer is never worse.
    seed
        SCIP's random seed shift (single thread: the same seed gives the same search).
    """
    objective = objective or Objective()
    if solver == "scip":
        from gisgov.districting._scip import solve_scip

        return solve_scip(
            graph,
            weights,
            k,
            lower=lower,
            upper=upper,
            objective=objective,
            locked=locked,
            home=home,
            time_limit=time_limit,
            hint=hint,
            seed=seed,
        )
    if solver != "highs":
        raise ValueError(f"solver must be scip or highs, not {solver!r}")
    t0 = time.monotonic()
    fm = _flow_model(
        graph,
        np.asarray(weights, dtype=float),
        k,
        lower=lower,
        upper=upper,
        objective=objective,
        locked=locked,
        home=home,
    )
    res = milp(
        fm.c,
        constraints=[fm.rows.constraint(len(fm.c))],
        integrality=fm.integrality,
        bounds=Bounds(fm.lb, fm.ub),
        # mip_rel_gap 0: "optimal" means proven optimal, not HiGHS's default 0.01 % gap
        options={"time_limit": float(time_limit), "disp": False, "mip_rel_gap": 0.0},
    )
    return _flow_result(res, fm, time.monotonic() - t0)


@dataclass
class _Rows:
    """Sparse constraint rows ``lo ≤ A v ≤ hi`` gathered block by block."""

    rows: list[np.ndarray] = field(default_factory=list)
    cols: list[np.ndarray] = field(default_factory=list)
    vals: list[np.ndarray] = field(default_factory=list)
    lo: list[np.ndarray] = field(default_factory=list)
    hi: list[np.ndarray] = field(default_factory=list)
    count: int = 0

    def add(self, r: np.ndarray, c: Any, v: Any, lb: np.ndarray, ub: np.ndarray) -> None:
        self.rows.append(np.asarray(r) + self.count)
        self.cols.append(np.asarray(c, dtype=np.int64))
        self.vals.append(np.asarray(v, dtype=float))
        self.lo.append(lb)
        self.hi.append(ub)
        self.count += len(lb)

    def constraint(self, nvar: int) -> LinearConstraint:
        a = coo_matrix(
            (np.concatenate(self.vals), (np.concatenate(self.rows), np.concatenate(self.cols))),
            shape=(self.count, nvar),
        ).tocsr()
        return LinearConstraint(a, np.concatenate(self.lo), np.concatenate(self.hi))


@dataclass
class _FlowModel:
    """The flow MILP's arrays; variables ``x`` (n·k), ``y`` (m), ``r`` (n·k), ``f`` (2m)."""

    n: int
    k: int
    c: np.ndarray
    rows: _Rows
    lb: np.ndarray
    ub: np.ndarray
    integrality: np.ndarray
    constant: float  # objective constant left out of ``c`` (disruption of staying home)


def _flow_model(
    graph: UnitGraph,
    w: np.ndarray,
    k: int,
    *,
    lower: float,
    upper: float,
    objective: Objective,
    locked: np.ndarray | None,
    home: np.ndarray | None,
) -> _FlowModel:
    """Single-commodity flow (Shirabe 2009) aggregated over areas: objective, bounds, rows."""
    n, m = graph.n, graph.m
    ox, oy, orr, of = 0, n * k, n * k + m, 2 * n * k + m
    nvar = of + 2 * m
    c = np.zeros(nvar)
    c[oy : oy + m] = objective.edge_costs(graph, k)
    constant = 0.0
    if home is not None and objective.disruption > 0:
        h = np.asarray(home)
        total = max(float(w.sum()), 1e-12)
        ok = (h >= 0) & (h < k)
        # Moving u costs d·w_u: as "−d·w_u when u stays home" plus a constant.
        c[ox + np.flatnonzero(ok) * k + h[ok]] -= objective.disruption * w[ok] / total
        constant = objective.disruption * float(w[ok].sum()) / total
    lb, ub = np.zeros(nvar), np.ones(nvar)
    ub[of:] = n - 1
    lk = np.full(n, -1) if locked is None else np.asarray(locked)
    for u in np.flatnonzero(lk >= 0).tolist():
        ub[ox + u * k : ox + (u + 1) * k] = 0.0
        lb[ox + u * k + lk[u]] = ub[ox + u * k + lk[u]] = 1.0
    if not (lk >= 0).any() and constant == 0.0:
        for su in range(min(n, k)):  # symmetry: unit su lies in one of areas 0..su
            ub[ox + su * k + su + 1 : ox + (su + 1) * k] = 0.0
    integrality = np.zeros(nvar)
    integrality[ox : ox + n * k] = 1
    integrality[orr : orr + n * k] = 1
    return _FlowModel(
        n=n,
        k=k,
        c=c,
        rows=_flow_rows(graph, w, k, lower, upper),
        lb=lb,
        ub=ub,
        integrality=integrality,
        constant=constant,
    )


def _flow_rows(graph: UnitGraph, w: np.ndarray, k: int, lower: float, upper: float) -> _Rows:
    """Assignment, balance, cut edges, roots, flow conservation and capacities."""
    n, m, edges = graph.n, graph.m, graph.edges
    oy, orr, of = n * k, n * k + m, 2 * n * k + m
    us, ks = np.repeat(np.arange(n), k), np.tile(np.arange(k), n)
    xk = us * k + ks  # x index of (unit, area), unit-major
    rows = _Rows()
    rows.add(us, xk, np.ones(n * k), np.ones(n), np.ones(n))  # one area per unit
    rows.add(ks, xk, np.repeat(w, k), np.full(k, lower), np.full(k, upper))  # balance
    if m:  # y_e ≥ ±(x_uk − x_vk)
        ee, kk = np.repeat(np.arange(m), k), np.tile(np.arange(k), m)
        r = np.arange(m * k)
        for sign in (1.0, -1.0):
            rows.add(
                np.concatenate([r, r, r]),
                np.concatenate([oy + ee, edges[ee, 0] * k + kk, edges[ee, 1] * k + kk]),
                np.concatenate([np.ones(m * k), np.full(m * k, -sign), np.full(m * k, sign)]),
                np.zeros(m * k),
                np.full(m * k, np.inf),
            )
    rows.add(ks, orr + xk, np.ones(n * k), np.ones(k), np.ones(k))  # one root per area
    r = np.arange(n * k)  # root ⇒ member
    rows.add(
        np.concatenate([r, r]),
        np.concatenate([orr + r, r]),
        np.concatenate([np.ones(n * k), -np.ones(n * k)]),
        np.full(n * k, -np.inf),
        np.zeros(n * k),
    )
    if not m:
        rows.add(
            np.arange(n),
            orr + np.arange(n) * k,
            np.full(n, float(n)),
            np.ones(n),
            np.full(n, np.inf),
        )
        return rows
    # inflow − outflow + n·Σ_k r_uk ≥ 1, and no flow over a cut edge
    tails = np.concatenate([edges[:, 0], edges[:, 1]])
    heads = np.concatenate([edges[:, 1], edges[:, 0]])
    arcs = np.arange(2 * m)
    rows.add(
        np.concatenate([heads, tails, us]),
        np.concatenate([of + arcs, of + arcs, orr + np.arange(n * k)]),
        np.concatenate([np.ones(2 * m), -np.ones(2 * m), np.full(n * k, float(n))]),
        np.ones(n),
        np.full(n, np.inf),
    )
    rows.add(
        np.concatenate([arcs, arcs]),
        np.concatenate([of + arcs, oy + np.concatenate([np.arange(m), np.arange(m)])]),
        np.concatenate([np.ones(2 * m), np.full(2 * m, float(n - 1))]),
        np.full(2 * m, -np.inf),
        np.full(2 * m, float(n - 1)),
    )
    return rows


def _flow_result(res: Any, fm: _FlowModel, secs: float) -> ExactResult:
    """Labels, optimality and objective (with the disruption constant) from HiGHS."""
    if res.x is None:
        return ExactResult(None, False, res.status == 2, float("inf"), float("inf"), secs)
    labels = np.argmax(res.x[: fm.n * fm.k].reshape(fm.n, fm.k), axis=1).astype(np.int64)
    gap = float(getattr(res, "mip_gap", 0.0) or 0.0)
    optimal = res.status == 0 and gap <= 1e-9
    return ExactResult(
        labels, optimal, False, 0.0 if optimal else gap, float(res.fun) + fm.constant, secs
    )


def _node_weighted_distances(graph: UnitGraph, w: np.ndarray) -> np.ndarray:
    """Least total weight of a path between every two units, both ends included."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    n = graph.n
    if graph.m == 0:
        d = np.full((n, n), np.inf)
        np.fill_diagonal(d, w)
        return d
    e = graph.edges
    # (w_u + w_v)/2 per edge sums to the interior weights plus half of each end; a tiny
    # epsilon keeps zero-weight edges as edges in the sparse matrix.
    ew = (w[e[:, 0]] + w[e[:, 1]]) / 2.0 + 1e-12
    mat = csr_matrix(
        (
            np.concatenate([ew, ew]),
            (np.concatenate([e[:, 0], e[:, 1]]), np.concatenate([e[:, 1], e[:, 0]])),
        ),
        shape=(n, n),
    )
    d = np.asarray(dijkstra(mat, directed=False))
    return np.asarray(d + (w[:, None] + w[None, :]) / 2.0)
