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
models"). Symmetry: interchangeable areas are numbered by their roots (root of area ``k`` before
root of area ``k+1``), roots that would leave too little or too much weight before or after them
are fixed to 0, and ``d`` (node-weighted shortest paths, both ends counted) fixes ``x_uk = 0``
where ``u`` is farther than the upper bound from every possible root. The heuristic's plan is
the incumbent, so the answer is never worse than it; at the time limit SCIP reports its gap.

Flow model (``solver="highs"``, HiGHS through scipy): the single-commodity flow of Shirabe
(2009) aggregated over areas; slower, kept as an independent check of SCIP's optima in tests.

CP-SAT (the flow model in OR-Tools) was the previous default; measured against SCIP on the
same incumbents (``benchmarks/districting_exact.py``) it proved nothing SCIP did not prove
faster, so it was removed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
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
    the heuristic's) as its incumbent; ``"highs"`` the flow model in HiGHS (no hint). Both use
    the real weights and costs, so "optimal" is exact for the linear terms.

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
    if solver == "scip":
        return _solve_scip(graph, weights, k, lower=lower, upper=upper,
                           objective=objective or Objective(), locked=locked, home=home,
                           time_limit=time_limit, hint=hint, seed=seed)
    if solver != "highs":
        raise ValueError(f"solver must be scip or highs, not {solver!r}")
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



def _solve_scip(
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
    node_limit: int | None = None,
    tune: Callable[[Any], None] | None = None,
    extended_cuts: bool | None = None,
) -> ExactResult:
    """The cut-set model in SCIP with lazy separator constraints (see the module docstring).

    Why a constraint handler: the flow model's ``n``-valued capacities make its LP bound weak
    and its size grows with ``n·|E|``; the separator inequalities are only added where an
    integral LP solution is disconnected (usually a few dozen in all), so the LP stays the
    small assignment + balance + cut model and the bound comes from the cut-edge objective.
    """
    import pyscipopt as ps

    t0 = time.monotonic()
    n, m = graph.n, graph.m
    w = np.asarray(weights, dtype=float)
    edges = graph.edges
    costs = objective.edge_costs(graph, k)
    # Integral objective coefficients (cut edges only) let SCIP round its dual bound up.
    unit = float(costs.min()) if m else 1.0
    cost_scale = 1.0
    if m and unit > 0 and np.allclose(costs / unit, np.round(costs / unit), rtol=0, atol=1e-9):
        cost_scale = 1.0 / unit
    lk = np.full(n, -1) if locked is None else np.asarray(locked)
    h = np.full(n, -1) if home is None else np.asarray(home)
    use_disr = home is not None and objective.disruption > 0
    total = max(float(w.sum()), 1e-12)
    symmetric = not (lk >= 0).any() and not use_disr
    nbrs: list[list[int]] = [[] for _ in range(n)]
    for u, v in edges.tolist():
        nbrs[u].append(v)
        nbrs[v].append(u)

    md = ps.Model("districting")
    md.hideOutput()
    md.setParam("limits/time", float(max(time_limit, 0.1)))
    md.setParam("limits/gap", 0.0)
    md.setParam("limits/absgap", 0.0)
    md.setParam("randomization/randomseedshift", int(seed) % 2**31)
    md.setParam("parallel/maxnthreads", 1)
    if node_limit is not None:
        md.setParam("limits/nodes", int(node_limit))
    if hint is not None:
        # With the heuristic's plan as incumbent SCIP's primal heuristics rarely improve it;
        # their time goes to the bound instead, and aggressive cutting planes tighten the
        # weak LP of the cut-edge objective. Measured (benchmarks/districting_exact.py
        # cases): 6×7 lattice into 3 proven in 27 s instead of 81 s, St. Louis counties into
        # 3 in 21 s instead of 67 s, into 4 a gap of 50 % instead of 73 % after 120 s.
        md.setHeuristics(ps.SCIP_PARAMSETTING.OFF)
        md.setSeparating(ps.SCIP_PARAMSETTING.AGGRESSIVE)
    if tune is not None:  # benchmark hook: SCIP settings to compare
        tune(md)
    # moving u costs d·w_u: as "−d·w_u when u stays home" plus a constant
    stay = np.zeros((n, k))
    if use_disr:
        for u in np.flatnonzero((h >= 0) & (h < k)).tolist():
            stay[u, int(h[u])] = -objective.disruption * float(w[u]) / total * cost_scale
    x = [[md.addVar(vtype="B", name=f"x{u}_{a}", obj=float(stay[u, a])) for a in range(k)]
         for u in range(n)]
    r = [[md.addVar(vtype="B", name=f"r{u}_{a}") for a in range(k)] for u in range(n)]
    y = [md.addVar(vtype="B", name=f"y{e}", obj=float(costs[e] * cost_scale)) for e in range(m)]
    for u in range(n):
        md.addCons(ps.quicksum(x[u]) == 1)
    for a in range(k):
        md.addCons(ps.quicksum(float(w[u]) * x[u][a] for u in range(n)) >= lower)
        md.addCons(ps.quicksum(float(w[u]) * x[u][a] for u in range(n)) <= upper)
        md.addCons(ps.quicksum(r[u][a] for u in range(n)) == 1)
        for u in range(n):
            md.addCons(r[u][a] <= x[u][a])
    zs: list[list[Any]] = []  # per edge, "both ends in area a" (extended formulation only)
    if extended_cuts if extended_cuts is not None else k >= 3:
        # Extended cut formulation (Ferreira et al. 1996, used by Validi & Buchanan 2022):
        # z_ea ≤ x_ua, z_ea ≤ x_va ("both ends in area a") and y_e ≥ 1 − Σ_a z_ea, i.e.
        # y_e ≥ ½ Σ_a |x_ua − x_va| — tighter than max_a |x_ua − x_va| on fractional
        # points once there are three or more areas (equal for two). Measured side by side
        # (benchmarks/districting_literature.py instances, same load, 300 s): Mississippi
        # counties into 4, dual bound 18.2 cut edges after 630 nodes vs 15.9 after 619 with
        # the two-row model; West Virginia into 3 proven by both (2329 vs 2029 nodes).
        for e, (u, v) in enumerate(edges.tolist()):
            z = [md.addVar(vtype="C", lb=0.0, ub=1.0, name=f"z{e}_{a}") for a in range(k)]
            zs.append(z)
            for a in range(k):
                md.addCons(z[a] <= x[u][a])
                md.addCons(z[a] <= x[v][a])
            md.addCons(y[e] + ps.quicksum(z) >= 1)
    else:
        for e, (u, v) in enumerate(edges.tolist()):
            for a in range(k):
                md.addCons(y[e] >= x[u][a] - x[v][a])
                md.addCons(y[e] >= x[v][a] - x[u][a])
    # Node-weighted distances (both ends counted): a unit farther than the upper bound from a
    # root cannot share its area, since the area holds a path between them.
    dist = _node_weighted_distances(graph, w)
    # Roots. Locked areas are rooted at a locked unit; otherwise a root is its area's
    # lowest-index unit, and interchangeable areas are numbered by their roots.
    for a in range(k):
        mine = np.flatnonzero(lk == a)
        if len(mine):
            rt = int(mine[0])
            md.chgVarLb(r[rt][a], 1.0)
            for u in range(n):
                if u != rt:
                    md.chgVarUb(r[u][a], 0.0)
                if dist[rt, u] > upper * (1 + 1e-9) + 1e-9:
                    md.chgVarUb(x[u][a], 0.0)
            continue
        for u in range(n):
            # u in area a ⇒ the area's root comes no later than u and lies within reach
            reach = [j for j in range(u + 1) if dist[j, u] <= upper * (1 + 1e-9) + 1e-9]
            md.addCons(x[u][a] <= ps.quicksum(r[j][a] for j in reach))
    for u in np.flatnonzero(lk >= 0).tolist():
        for a in range(k):
            if a != int(lk[u]):
                md.chgVarUb(x[u][a], 0.0)
        md.chgVarLb(x[u][int(lk[u])], 1.0)
    if symmetric:
        cum = np.concatenate([[0.0], np.cumsum(w)])  # cum[u] = weight of units before u
        for a in range(k):
            for u in range(n):
                # roots in increasing order: area a's root has a earlier roots before it, and
                # all units before it lie in areas 0..a−1; all units from it on in areas a..k−1
                if u < a or cum[u] > a * upper + 1e-9 or total - cum[u] < (k - a) * lower - 1e-9:
                    md.chgVarUb(r[u][a], 0.0)
            for u in range(min(a, n)):
                md.chgVarUb(x[u][a], 0.0)
        for a in range(k - 1):
            md.addCons(ps.quicksum(u * r[u][a + 1] for u in range(n))
                       >= ps.quicksum(u * r[u][a] for u in range(n)) + 1)
    # Cut sets with C = {u}: a unit that is not its area's root has a neighbour in the area.
    for u in range(n):
        for a in range(k):
            md.addCons(x[u][a] <= r[u][a] + ps.quicksum(x[v][a] for v in nbrs[u]))

    hdlr = _Separators(x, r, nbrs, k)
    md.includeConshdlr(hdlr, "contiguity", "lazy a,b-separator inequalities",
                       sepapriority=-1, enfopriority=-1, chckpriority=-1,
                       sepafreq=-1, propfreq=-1, eagerfreq=-1, maxprerounds=0,
                       needscons=False)
    if hint is not None:
        hl = np.asarray(hint, dtype=np.int64)
        if symmetric:
            hl = _canonical(hl, k)
        sol = md.createSol()
        for u in range(n):
            for a in range(k):
                md.setSolVal(sol, x[u][a], float(hl[u] == a))
        for a in range(k):
            members = np.flatnonzero(hl == a)
            if len(members) == 0:
                continue
            mine = np.flatnonzero(lk == a)
            rt = int(mine[0]) if len(mine) else int(members[0])
            for u in range(n):
                md.setSolVal(sol, r[u][a], float(u == rt))
        for e, (u, v) in enumerate(edges.tolist()):
            md.setSolVal(sol, y[e], float(hl[u] != hl[v]))
            if zs:
                md.setSolVal(sol, zs[e][int(hl[u])], float(hl[u] == hl[v]))
        md.addSol(sol)
    md.optimize()
    secs = time.monotonic() - t0
    status = md.getStatus()
    if md.getNSols() == 0:
        return ExactResult(None, False, status == "infeasible", math.inf, math.inf, secs)
    best = md.getBestSol()
    xv = np.asarray([[md.getSolVal(best, x[u][a]) for a in range(k)] for u in range(n)])
    labels = np.argmax(xv, axis=1).astype(np.int64)
    cut = labels[edges[:, 0]] != labels[edges[:, 1]] if m else np.zeros(0, bool)
    value = float(costs[cut].sum())
    if use_disr:
        value += float((objective.disruption * w / total)[labels != h].sum())
    optimal = status == "optimal"
    gap = 0.0 if optimal else float(md.getGap())
    return ExactResult(labels, optimal, False, gap, value, secs, nodes=int(md.getNNodes()),
                       bound=float(md.getDualbound()) / cost_scale)


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
    mat = csr_matrix((np.concatenate([ew, ew]),
                      (np.concatenate([e[:, 0], e[:, 1]]), np.concatenate([e[:, 1], e[:, 0]]))),
                     shape=(n, n))
    d = np.asarray(dijkstra(mat, directed=False))
    return np.asarray(d + (w[:, None] + w[None, :]) / 2.0)


def _make_separators() -> type:
    import pyscipopt as ps

    class Separators(ps.Conshdlr):
        """Lazy a,b-separator constraints for the contiguity of every area.

        On an integral solution, an area whose units form several components has one
        component ``C`` without the area's root; ``C``'s neighbours outside it are all in
        other areas, so ``x_va ≤ Σ_{s∈N(C)} x_sa + Σ_{u∈C} r_ua`` (for ``v`` in ``C``) cuts
        the solution off while every contiguous plan satisfies it.
        """

        def __init__(self, x: list[list[Any]], r: list[list[Any]], nbrs: list[list[int]],
                     k: int) -> None:
            super().__init__()
            self.x, self.r, self.nbrs, self.k = x, r, nbrs, k
            self.added = 0

        def _violations(self, sol: Any) -> list[tuple[int, list[int], list[int]]]:
            n = len(self.x)
            md = self.model
            lab = np.asarray([int(np.argmax([md.getSolVal(sol, self.x[u][a])
                                             for a in range(self.k)])) for u in range(n)])
            out = []
            for a in range(self.k):
                members = np.flatnonzero(lab == a).tolist()
                if not members:
                    continue
                rt = max(members, key=lambda u: md.getSolVal(sol, self.r[u][a]))
                seen = {rt}
                stack = [rt]
                inside = set(members)
                while stack:
                    u = stack.pop()
                    for v in self.nbrs[u]:
                        if v in inside and v not in seen:
                            seen.add(v)
                            stack.append(v)
                rest = inside - seen
                while rest:
                    s = rest.pop()
                    comp = {s}
                    stack = [s]
                    while stack:
                        u = stack.pop()
                        for v in self.nbrs[u]:
                            if v in inside and v not in comp:
                                comp.add(v)
                                stack.append(v)
                    rest -= comp
                    border = sorted({v for u in comp for v in self.nbrs[u]} - comp)
                    out.append((a, sorted(comp), border))
            return out

        def conscheck(self, constraints: Any, solution: Any, checkintegrality: Any,
                      checklprows: Any, printreason: Any, completely: Any) -> dict[str, Any]:
            bad = self._violations(solution)
            return {"result": ps.SCIP_RESULT.INFEASIBLE if bad else ps.SCIP_RESULT.FEASIBLE}

        def _enforce(self, sol: Any) -> dict[str, Any]:
            bad = self._violations(sol)
            if not bad:
                return {"result": ps.SCIP_RESULT.FEASIBLE}
            md = self.model
            for a, comp, border in bad:
                rs = ps.quicksum(self.x[s][a] for s in border) + ps.quicksum(
                    self.r[u][a] for u in comp)
                for v in comp:
                    md.addCons(self.x[v][a] <= rs, removable=True)
                    self.added += 1
            return {"result": ps.SCIP_RESULT.CONSADDED}

        def consenfolp(self, constraints: Any, nusefulconss: Any,
                       solinfeasible: Any) -> dict[str, Any]:
            return self._enforce(None)

        def consenfops(self, constraints: Any, nusefulconss: Any, solinfeasible: Any,
                       objinfeasible: Any) -> dict[str, Any]:
            return self._enforce(None)

        def conslock(self, constraint: Any, locktype: Any, nlockspos: Any,
                     nlocksneg: Any) -> None:
            # the separators may need any x or r up or down: lock all of them both ways
            md = self.model
            for row in (*self.x, *self.r):
                for var in row:
                    md.addVarLocks(var, nlockspos + nlocksneg, nlockspos + nlocksneg)

    return Separators


def _Separators(x: list[list[Any]], r: list[list[Any]], nbrs: list[list[int]],  # noqa: N802
                k: int) -> Any:
    return _make_separators()(x, r, nbrs, k)


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
