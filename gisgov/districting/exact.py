"""Exact districting as a MILP with flow-based contiguity (HiGHS through scipy).

Model (one connected piece, ``n`` units, ``K`` areas, edges ``E``, arcs ``A`` both ways)::

    min  Σ_e c_e y_e  +  Σ_u Σ_k d_uk x_uk
    s.t. Σ_k x_uk = 1                         every unit in one area
         lower ≤ Σ_u w_u x_uk ≤ upper         balance
         y_e ≥ x_uk − x_vk,  y_e ≥ x_vk − x_uk  for e = (u, v), every k   (cut edges)
         Σ_u r_uk = 1,  r_uk ≤ x_uk            one root per area
         Σ_in f − Σ_out f ≥ 1 − n Σ_k r_uk    every non-root unit consumes one unit of flow
         f_uv ≤ (n − 1)(1 − y_e)              flow only along uncut edges

Flow can only leave roots and only cross uncut edges (which join units of the same area), so
every unit is reached from the root of its own area: each area is contiguous. This is the
single-commodity formulation of Shirabe (2009) aggregated over areas, which keeps the model at
``2|E|`` flow variables. Without locks or a current plan the areas are interchangeable; the
symmetry is broken by ``x_uk = 0`` for ``k > u``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

from gisgov.districting.graph import UnitGraph
from gisgov.districting.objective import Objective

__all__ = ["ExactResult", "Solver", "solve_exact"]

Solver = Literal["cpsat", "highs"]


@dataclass
class ExactResult:
    """Outcome of the MILP on its own objective: the *linear* terms only.

    Attributes
    ----------
    labels
        Area per unit (``None`` when no plan was found).
    optimal
        The solver proved the optimum of the model it solved: the linear terms (cut edges,
        cut length, main streets, disruption), with CP-SAT's costs rounded to integers
        (see ``rounding``). Never a claim about Polsby-Popper, which is not in the model.
    infeasible
        The solver proved that no balanced contiguous plan exists.
    gap
        Relative gap of the solved model (``0`` when optimal).
    objective
        The plan's linear objective in the real (unrounded) costs.
    seconds
        Wall time.
    rounding
        Bound on ``|solved objective − real linear objective|`` of any plan, from rounding
        the costs to integers for CP-SAT (``0`` when the costs are integral after scaling,
        e.g. cut edges only, and for HiGHS): the plan is within ``2·rounding`` of the real
        linear optimum when ``optimal``.
    """

    labels: np.ndarray | None
    optimal: bool
    infeasible: bool
    gap: float
    objective: float
    seconds: float
    rounding: float = 0.0


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
    solver: Solver = "cpsat",
    seed: int = 0,
) -> ExactResult:
    """Solve one connected piece exactly (or to the time limit, reporting the gap).

    ``solver="cpsat"`` (default) hands the model to OR-Tools CP-SAT with ``hint`` (a balanced
    plan, e.g. the heuristic's) as its first solution; ``"highs"`` to HiGHS through scipy.
    CP-SAT needs integer data: weights are used as integers when they are (households), and
    otherwise scaled by 1000 with the bounds rounded inwards, so a plan it returns is always
    balanced; edge costs are scaled to integers with six significant digits, so "optimal"
    means optimal to that precision (exact for unit costs, e.g. cut edges only).

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
        Seconds for HiGHS.
    """
    if solver == "cpsat":
        return _solve_cpsat(graph, weights, k, lower=lower, upper=upper,
                            objective=objective or Objective(), locked=locked, home=home,
                            time_limit=time_limit, hint=hint, seed=seed)
    if solver != "highs":
        raise ValueError(f"solver must be cpsat or highs, not {solver!r}")
    t0 = time.monotonic()
    objective = objective or Objective()
    n, m = graph.n, graph.m
    w = np.asarray(weights, dtype=float)
    edges = graph.edges
    nx_, ny, nr, nf = n * k, m, n * k, 2 * m
    ox, oy, orr, of = 0, nx_, nx_ + ny, nx_ + ny + nr
    nvar = of + nf

    def xi(u: np.ndarray | int, a: np.ndarray | int) -> np.ndarray | int:
        return ox + np.asarray(u) * k + a

    c = np.zeros(nvar)
    c[oy : oy + ny] = objective.edge_costs(graph, k)
    if home is not None and objective.disruption > 0:
        h = np.asarray(home)
        total = max(float(w.sum()), 1e-12)
        for hu in np.flatnonzero((h >= 0) & (h < k)).tolist():
            # Moving u costs d·w_u; as "−d·w_u when u stays home" plus a constant.
            c[xi(hu, int(h[hu]))] -= objective.disruption * w[hu] / total
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    lo: list[np.ndarray] = []
    hi: list[np.ndarray] = []
    nrow = 0

    def add(r: np.ndarray, cc: np.ndarray, v: np.ndarray, lb: np.ndarray, ub: np.ndarray) -> None:
        nonlocal nrow
        rows.append(r + nrow)
        cols.append(np.asarray(cc, dtype=np.int64))
        vals.append(np.asarray(v, dtype=float))
        lo.append(lb)
        hi.append(ub)
        nrow += len(lb)

    us = np.arange(n)
    # Assignment.
    add(np.repeat(us, k), np.asarray(xi(np.repeat(us, k), np.tile(np.arange(k), n))),
        np.ones(n * k), np.ones(n), np.ones(n))
    # Balance.
    add(np.tile(np.arange(k), n), np.asarray(xi(np.repeat(us, k), np.tile(np.arange(k), n))),
        np.repeat(w, k), np.full(k, lower), np.full(k, upper))
    # Cut edges: y_e - x_uk + x_vk >= 0 and y_e + x_uk - x_vk >= 0.
    if m:
        ee = np.repeat(np.arange(m), k)
        kk = np.tile(np.arange(k), m)
        uu, vv = edges[ee, 0], edges[ee, 1]
        r = np.arange(m * k)
        for sign in (1.0, -1.0):
            add(np.concatenate([r, r, r]),
                np.concatenate([oy + ee, np.asarray(xi(uu, kk)), np.asarray(xi(vv, kk))]),
                np.concatenate([np.ones(m * k), np.full(m * k, -sign), np.full(m * k, sign)]),
                np.zeros(m * k), np.full(m * k, np.inf))
    # One root per area; root implies membership.
    add(np.tile(np.arange(k), n), orr + np.repeat(us, k) * k + np.tile(np.arange(k), n),
        np.ones(n * k), np.ones(k), np.ones(k))
    r = np.arange(n * k)
    add(np.concatenate([r, r]),
        np.concatenate([orr + r, ox + r]),
        np.concatenate([np.ones(n * k), -np.ones(n * k)]),
        np.full(n * k, -np.inf), np.zeros(n * k))
    # Flow conservation: inflow - outflow + n * Σ_k r_uk >= 1.
    if m:
        tails = np.concatenate([edges[:, 0], edges[:, 1]])
        heads = np.concatenate([edges[:, 1], edges[:, 0]])
        arcs = np.arange(2 * m)
        add(np.concatenate([heads, tails, np.repeat(us, k)]),
            np.concatenate([of + arcs, of + arcs, orr + np.arange(n * k)]),
            np.concatenate([np.ones(2 * m), -np.ones(2 * m), np.full(n * k, float(n))]),
            np.ones(n), np.full(n, np.inf))
        # Capacity: f_a + (n-1) y_e <= n-1.
        ea = np.concatenate([np.arange(m), np.arange(m)])
        add(np.concatenate([arcs, arcs]),
            np.concatenate([of + arcs, oy + ea]),
            np.concatenate([np.ones(2 * m), np.full(2 * m, float(n - 1))]),
            np.full(2 * m, -np.inf), np.full(2 * m, float(n - 1)))
    else:
        add(us, orr + us * k, np.full(n, float(n)), np.ones(n), np.full(n, np.inf))
    a_mat = coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(nrow, nvar)
    ).tocsr()
    lb = np.zeros(nvar)
    ub = np.ones(nvar)
    ub[of:] = n - 1
    lk = np.full(n, -1) if locked is None else np.asarray(locked)
    if (lk >= 0).any():
        for uu in np.flatnonzero(lk >= 0).tolist():
            la = int(lk[uu])
            ub[xi(uu, np.arange(k))] = 0.0
            lb[xi(uu, la)] = ub[xi(uu, la)] = 1.0
    elif home is None or objective.disruption == 0:
        for su in range(min(n, k)):
            ub[xi(su, np.arange(su + 1, k))] = 0.0
    integrality = np.zeros(nvar)
    integrality[ox : ox + nx_] = 1
    integrality[orr : orr + nr] = 1
    res = milp(
        c,
        constraints=[LinearConstraint(a_mat, np.concatenate(lo), np.concatenate(hi))],
        integrality=integrality,
        bounds=Bounds(lb, ub),
        # mip_rel_gap 0: "optimal" means proven optimal, not HiGHS's default 0.01 % gap
        options={"time_limit": float(time_limit), "disp": False, "mip_rel_gap": 0.0},
    )
    secs = time.monotonic() - t0
    if res.x is None:
        return ExactResult(None, False, res.status == 2, float("inf"), float("inf"), secs)
    x = res.x[ox : ox + nx_].reshape(n, k)
    labels = np.argmax(x, axis=1).astype(np.int64)
    gap = float(getattr(res, "mip_gap", 0.0) or 0.0)
    optimal = res.status == 0 and gap <= 1e-9
    value = float(res.fun)
    if home is not None and objective.disruption > 0:
        h = np.asarray(home)
        ok = (h >= 0) & (h < k)
        value += objective.disruption * float(w[ok].sum()) / max(float(w.sum()), 1e-12)
    return ExactResult(labels, optimal, False, 0.0 if optimal else gap, value, secs)



def _solve_cpsat(
    graph: UnitGraph,
    weights: np.ndarray,
    k: int,
    *,
    lower: float,
    upper: float,
    objective: Objective,
    locked: np.ndarray | None,
    home: np.ndarray | None,
    time_limit: float,
    hint: np.ndarray | None,
    seed: int,
) -> ExactResult:
    """The same flow model in CP-SAT (see the module docstring), warm-started by ``hint``."""
    from ortools.sat.python import cp_model

    t0 = time.monotonic()
    n, m = graph.n, graph.m
    w = np.asarray(weights, dtype=float)
    # Integer weights as they are; otherwise milli-units, bounds rounded inwards (a plan
    # balanced in the scaled data is balanced in the real one).
    scale = 1.0 if np.allclose(w, np.round(w)) else 1000.0
    wi = np.round(w * scale).astype(np.int64)
    lo_i = math.ceil(lower * scale - 1e-9 * max(abs(lower * scale), 1.0))
    hi_i = math.floor(upper * scale + 1e-9 * max(abs(upper * scale), 1.0))
    costs = objective.edge_costs(graph, k)
    disr = np.zeros(n)
    h = np.full(n, -1) if home is None else np.asarray(home)
    total = max(float(w.sum()), 1e-12)
    if home is not None and objective.disruption > 0:
        disr = objective.disruption * w / total
    top = max(float(costs.max()) if m else 0.0, float(disr.max()) if n else 0.0, 1e-12)
    cscale = 1e6 / top
    ci = np.round(costs * cscale).astype(np.int64)
    di = np.round(disr * cscale).astype(np.int64)
    # what rounding to integers can change in any plan's objective (0 for unit costs)
    rounding = float(np.abs(ci / cscale - costs).sum() + np.abs(di / cscale - disr).sum())
    if rounding < 1e-12 * top:
        rounding = 0.0

    md = cp_model.CpModel()
    x = [[md.new_bool_var(f"x{u}_{a}") for a in range(k)] for u in range(n)]
    y = [md.new_bool_var(f"y{e}") for e in range(m)]
    r = [[md.new_bool_var(f"r{u}_{a}") for a in range(k)] for u in range(n)]
    for u in range(n):
        md.add_exactly_one(x[u])
    for a in range(k):
        md.add_linear_constraint(sum(int(wi[u]) * x[u][a] for u in range(n)), lo_i, hi_i)
        md.add_exactly_one(r[u][a] for u in range(n))
        for u in range(n):
            md.add_implication(r[u][a], x[u][a])
    edges = graph.edges.tolist()
    for e, (u, v) in enumerate(edges):
        for a in range(k):
            # y_e is 1 when u and v differ; with positive costs y_e = 0 is preferred, so the
            # two implications (x_u ∧ ¬x_v → y, x_v ∧ ¬x_u → y) suffice.
            md.add_bool_or([y[e], x[u][a].Not(), x[v][a]])
            md.add_bool_or([y[e], x[v][a].Not(), x[u][a]])
    # Flow: every non-root unit consumes one unit; flow only on uncut edges.
    f_in: list[list[cp_model.IntVar]] = [[] for _ in range(n)]
    f_out: list[list[cp_model.IntVar]] = [[] for _ in range(n)]
    for e, (u, v) in enumerate(edges):
        for s_, t_ in ((u, v), (v, u)):
            f = md.new_int_var(0, n - 1, f"f{s_}_{t_}")
            md.add(f == 0).only_enforce_if(y[e])
            f_out[s_].append(f)
            f_in[t_].append(f)
    for u in range(n):
        is_root = sum(r[u])
        md.add(sum(f_in[u]) - sum(f_out[u]) + n * is_root >= 1)
    lk = np.full(n, -1) if locked is None else np.asarray(locked)
    if (lk >= 0).any():
        for u in np.flatnonzero(lk >= 0).tolist():
            md.add(x[u][int(lk[u])] == 1)
    elif home is None or objective.disruption == 0:
        # Areas are interchangeable: number them by their first unit. Area a may hold unit u
        # only if area a − 1 holds an earlier unit (this implies x_ua = 0 for a > u).
        for a in range(1, k):
            prefix: list[cp_model.IntVar] = []
            for u in range(n):
                if prefix:
                    md.add_bool_or(prefix).only_enforce_if(x[u][a])
                else:
                    md.add(x[u][a] == 0)
                prefix.append(x[u][a - 1])
    terms = [(y[e], int(ci[e])) for e in range(m) if ci[e]]
    if home is not None and objective.disruption > 0:
        # moving u costs d·w_u: as "−d·w_u when u stays home" plus a constant
        terms += [(x[u][int(h[u])], -int(di[u])) for u in range(n) if 0 <= h[u] < k and di[u]]
    md.minimize(cp_model.LinearExpr.weighted_sum([t for t, _ in terms], [c for _, c in terms]))
    if hint is not None:
        hl = np.asarray(hint)
        hl = _canonical(hl, k) if not (lk >= 0).any() and (home is None or objective.disruption == 0) else hl
        for u in range(n):
            for a in range(k):
                md.add_hint(x[u][a], int(hl[u]) == a)
        for e, (u, v) in enumerate(edges):
            md.add_hint(y[e], int(hl[u]) != int(hl[v]))
    sv = cp_model.CpSolver()
    sv.parameters.max_time_in_seconds = float(max(time_limit, 0.1))
    sv.parameters.random_seed = int(seed)
    sv.parameters.num_workers = 8
    status = sv.solve(md)
    secs = time.monotonic() - t0
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return ExactResult(None, False, status == cp_model.INFEASIBLE, math.inf, math.inf, secs,
                           rounding)
    labels = np.asarray(
        [next(a for a in range(k) if sv.boolean_value(x[u][a])) for u in range(n)], dtype=np.int64
    )
    cut = labels[graph.edges[:, 0]] != labels[graph.edges[:, 1]] if m else np.zeros(0, bool)
    value = float(costs[cut].sum())
    if home is not None and objective.disruption > 0:
        value += float(disr[labels != h].sum())
    best, bound = sv.objective_value, sv.best_objective_bound
    gap = 0.0 if status == cp_model.OPTIMAL else abs(best - bound) / max(abs(best), 1e-12)
    return ExactResult(labels, status == cp_model.OPTIMAL, False, gap, value, secs, rounding)


def _canonical(labels: np.ndarray, k: int) -> np.ndarray:
    """Relabel so unit ``u < k`` never has an area above ``u`` where possible (the symmetry
    breaking of the model): areas numbered in order of their first unit."""
    order: dict[int, int] = {}
    for a in labels.tolist():
        if a not in order:
            order[a] = len(order)
    for a in range(k):
        order.setdefault(a, len(order))
    return np.asarray([order[int(a)] for a in labels], dtype=np.int64)
