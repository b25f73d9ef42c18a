"""The cut-set districting MILP in SCIP (through PySCIPOpt), in four steps.

:func:`solve_scip` prepares the instance (:func:`_prepare`: costs, distances, and the unit
order the symmetry handling and variable fixing work in), builds the model
(:func:`_build_model`: assignment, balance, cut edges; :func:`_add_roots`: roots, symmetry
and fixing), adds the lazy contiguity constraints (:class:`_Separators`, a constraint handler)
and the incumbent, solves, and reads the result (:func:`_result`). The model itself is in
:mod:`gisgov.districting.exact`'s docstring. Optional (off by default, see
:func:`solve_scip`): per-area boundary rows from the cheapest balanced contiguous area each
root allows (:func:`_add_boundary_bounds`).

Why the unit order matters: areas are numbered by their *root*, the first unit of the area
in the order, so every fixing below is a statement about positions in it (Validi & Buchanan
2022, "Political districting to minimize cut edges", Math. Prog. Comp.; their "labeling"
model with "B-decreasing" order and L/U-fixing):

* the order puts a set ``B`` of small units last, chosen so that every connected piece of
  ``B`` weighs less than the lower bound. An area rooted in ``B`` would lie inside ``B``
  (all its units come after its root), so no unit of ``B`` can be a root (*L-fixing*); the
  others come by decreasing weight;
* the first units of the order, as long as each is farther than the upper bound (node-weighted
  distance) from all before it, cannot share an area with any earlier one, so unit ``j`` of
  them *is* the root of area ``j`` (*U-fixing*), and units farther than the upper bound from
  it are out of area ``j``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gisgov.districting.exact import ExactResult, _node_weighted_distances
from gisgov.districting.graph import UnitGraph
from gisgov.districting.objective import Objective

__all__ = ["solve_scip"]


@dataclass
class _Problem:
    """One piece renumbered into the fixing order: position ``p`` is unit ``order[p]``."""

    k: int
    w: np.ndarray
    edges: np.ndarray
    nbrs: list[list[int]]
    costs: np.ndarray  # real cost per edge
    scale: float  # objective multiplier that makes cut-edge costs integral (SCIP rounds its bound)
    lower: float
    upper: float
    locked: np.ndarray  # area per position, -1 when free
    stay: np.ndarray  # (n, k) objective of x: −disruption weight where a unit stays home
    home: np.ndarray  # area per position, -1 when none
    move_cost: np.ndarray  # disruption cost of moving each position out of its home area
    use_disruption: bool
    symmetric: bool
    order: np.ndarray
    dist: np.ndarray

    @property
    def n(self) -> int:
        return len(self.w)


@dataclass
class _Vars:
    x: list[list[Any]]  # unit (position) in area
    r: list[list[Any]]  # unit is the area's root
    y: list[Any]  # edge is cut
    z: list[list[Any]]  # per edge, both ends in area a (extended formulation only)


def solve_scip(
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
    fixing_order: bool = True,
    boundary_bounds: bool = False,
) -> ExactResult:
    """The cut-set model in SCIP with lazy separator constraints (see the module docstring).

    Why a constraint handler: the flow model's ``n``-valued capacities make its LP bound weak
    and its size grows with ``n·|E|``; the separator inequalities are only added where an
    integral LP solution is disconnected (usually a few dozen in all), so the LP stays the
    small assignment + balance + cut model and the bound comes from the cut-edge objective.

    ``node_limit`` stops the search after that many nodes (tests prove or stop by nodes, not
    seconds); ``tune`` is a benchmark hook that changes SCIP settings; ``extended_cuts``
    forces the cut-edge formulation (default: extended for ``k ≥ 3``); ``fixing_order=False``
    keeps the input order (no B set, no U-fixing) for side-by-side measurements.
    ``boundary_bounds=True`` adds the per-area boundary rows of :func:`_add_boundary_bounds`
    (up to 15 % of ``time_limit`` computing them, taken from SCIP's limit). Off by default:
    they lift the bound per node several-fold but slow each node about threefold, and at
    300 s that was a net loss on the literature's county maps (figures in
    ``benchmarks/results/districting_literature.txt``).
    """

    t0 = time.monotonic()
    pb = _prepare(
        graph,
        weights,
        k,
        lower=lower,
        upper=upper,
        objective=objective,
        locked=locked,
        home=home,
        fixing_order=fixing_order,
    )
    md = _new_model(time_limit, seed, node_limit, warm=hint is not None)
    if tune is not None:
        tune(md)
    ext = extended_cuts if extended_cuts is not None else k >= 3
    v = _build_model(md, pb, extended=ext)
    _add_roots(md, pb, v)
    if boundary_bounds:
        _add_boundary_bounds(md, pb, v, budget=0.15 * time_limit)
        # the bounds' seconds come out of the solver's limit
        md.setParam("limits/time", float(max(time_limit - (time.monotonic() - t0), 0.1)))
    hdlr = _make_separators()(v.x, v.r, pb.nbrs, k)
    md.includeConshdlr(
        hdlr,
        "contiguity",
        "lazy a,b-separator inequalities",
        sepapriority=-1,
        enfopriority=-1,
        chckpriority=-1,
        sepafreq=-1,
        propfreq=-1,
        eagerfreq=-1,
        maxprerounds=0,
        needscons=False,
    )
    if hint is not None:
        _add_incumbent(md, pb, v, np.asarray(hint, dtype=np.int64)[pb.order])
    md.optimize()
    return _result(md, pb, v, time.monotonic() - t0)


def _prepare(
    graph: UnitGraph,
    weights: np.ndarray,
    k: int,
    *,
    lower: float,
    upper: float,
    objective: Objective,
    locked: np.ndarray | None,
    home: np.ndarray | None,
    fixing_order: bool,
) -> _Problem:
    """Costs, the fixing order, and everything renumbered into it."""
    n, m = graph.n, graph.m
    w0 = np.asarray(weights, dtype=float)
    costs = objective.edge_costs(graph, k)
    # Integral objective coefficients (cut edges only) let SCIP round its dual bound up.
    unit = float(costs.min()) if m else 1.0
    scale = 1.0
    if m and unit > 0 and np.allclose(costs / unit, np.round(costs / unit), rtol=0, atol=1e-9):
        scale = 1.0 / unit
    lk0 = np.full(n, -1) if locked is None else np.asarray(locked)
    h0 = np.full(n, -1) if home is None else np.asarray(home)
    use_disr = home is not None and objective.disruption > 0
    symmetric = not (lk0 >= 0).any() and not use_disr
    order = (
        _fixing_order(n, graph.edges, w0, lower)[0] if symmetric and fixing_order else np.arange(n)
    )
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    edges = pos[graph.edges] if m else graph.edges
    nbrs: list[list[int]] = [[] for _ in range(n)]
    for u, v in edges.tolist():
        nbrs[u].append(v)
        nbrs[v].append(u)
    w = w0[order]
    h = h0[order]
    move_cost = objective.disruption * w / max(float(w.sum()), 1e-12) if use_disr else 0 * w
    stay = np.zeros((n, k))
    for u in np.flatnonzero((h >= 0) & (h < k)).tolist() if use_disr else []:
        # moving u costs d·w_u: as "−d·w_u when u stays home" plus a constant
        stay[u, int(h[u])] = -float(move_cost[u]) * scale
    dist = _node_weighted_distances(
        UnitGraph(
            n=n,
            edges=edges,
            shared_length=graph.shared_length,
            main_share=graph.main_share,
            area=graph.area[order],
            perimeter=graph.perimeter[order],
            crs=graph.crs,
        ),
        w,
    )
    return _Problem(
        k=k,
        w=w,
        edges=edges,
        nbrs=nbrs,
        costs=costs,
        scale=scale,
        lower=lower,
        upper=upper,
        locked=lk0[order],
        stay=stay,
        home=h,
        move_cost=move_cost,
        use_disruption=use_disr,
        symmetric=symmetric,
        order=order,
        dist=dist,
    )


def _fixing_order(n: int, edges: np.ndarray, w: np.ndarray, lower: float) -> tuple[np.ndarray, int]:
    """Units by decreasing weight, then a set ``B`` of small units whose connected pieces each
    weigh less than ``lower`` (greedy, lightest first): none of ``B`` can root an area.
    Returns the order and the number of units before ``B``."""
    nbrs: list[list[int]] = [[] for _ in range(n)]
    for u, v in edges.tolist():
        nbrs[u].append(v)
        nbrs[v].append(u)
    parent = list(range(n))
    piece = w.astype(float).copy()
    in_b = np.zeros(n, dtype=bool)

    def find(u: int) -> int:
        while parent[u] != u:
            parent[u] = parent[parent[u]]
            u = parent[u]
        return u

    for v in np.argsort(w, kind="stable").tolist():
        roots = {find(u) for u in nbrs[v] if in_b[u]}
        if float(w[v]) + sum(float(piece[r]) for r in roots) < lower:
            in_b[v] = True
            for r in roots:
                parent[r] = v
            piece[v] = float(w[v]) + sum(float(piece[r]) for r in roots)
    heavy_first = np.argsort(-w, kind="stable")
    front = heavy_first[~in_b[heavy_first]]
    return np.concatenate([front, heavy_first[in_b[heavy_first]]]), len(front)


def _new_model(time_limit: float, seed: int, node_limit: int | None, *, warm: bool) -> Any:
    """A SCIP model with deterministic single-thread settings and the limits."""
    import pyscipopt as ps

    md = ps.Model("districting")
    md.hideOutput()
    md.setParam("limits/time", float(max(time_limit, 0.1)))
    md.setParam("limits/gap", 0.0)
    md.setParam("limits/absgap", 0.0)
    md.setParam("randomization/randomseedshift", int(seed) % 2**31)
    md.setParam("parallel/maxnthreads", 1)
    if node_limit is not None:
        md.setParam("limits/nodes", int(node_limit))
    if warm:
        # With the heuristic's plan as incumbent SCIP's primal heuristics rarely improve it;
        # their time goes to the bound instead.
        md.setHeuristics(ps.SCIP_PARAMSETTING.OFF)
    # The aggregation (c-MIR) separator ran 37 of the first 60 s at West Virginia's root and
    # found no cut (SCIP statistics). Default separation otherwise: aggressive separation
    # (the previous setting) spent its time at the root; measured on Louisiana's 64 counties
    # into 6 (same load, fixing order): dual bound 30.3 cut edges after 240 s (802 nodes)
    # with default separation, 24.1 after 300 s (245 nodes) with aggressive.
    md.setParam("separating/aggregation/freq", -1)
    return md


def _build_model(md: Any, pb: _Problem, *, extended: bool) -> _Vars:
    """Variables, assignment, balance and the cut-edge rows."""
    import pyscipopt as ps

    n, k = pb.n, pb.k
    x = [
        [md.addVar(vtype="B", name=f"x{u}_{a}", obj=float(pb.stay[u, a])) for a in range(k)]
        for u in range(n)
    ]
    r = [[md.addVar(vtype="B", name=f"r{u}_{a}") for a in range(k)] for u in range(n)]
    y = [
        md.addVar(vtype="B", name=f"y{e}", obj=float(pb.costs[e] * pb.scale))
        for e in range(len(pb.edges))
    ]
    for u in range(n):
        md.addCons(ps.quicksum(x[u]) == 1)
    for a in range(k):
        load = ps.quicksum(float(pb.w[u]) * x[u][a] for u in range(n))
        md.addCons(load >= pb.lower)
        md.addCons(load <= pb.upper)
        md.addCons(ps.quicksum(r[u][a] for u in range(n)) == 1)
        for u in range(n):
            md.addCons(r[u][a] <= x[u][a])
    z: list[list[Any]] = []
    for e, (u, v) in enumerate(pb.edges.tolist()):
        if extended:
            # Extended cut formulation (Ferreira et al. 1996, used by Validi & Buchanan 2022):
            # z_ea ≤ x_ua, x_va ("both ends in area a"), y_e ≥ 1 − Σ_a z_ea, i.e.
            # y_e ≥ ½ Σ_a |x_ua − x_va|: tighter than max_a |x_ua − x_va| on fractional
            # points once there are three or more areas (equal for two).
            ze = [md.addVar(vtype="C", lb=0.0, ub=1.0, name=f"z{e}_{a}") for a in range(k)]
            z.append(ze)
            for a in range(k):
                md.addCons(ze[a] <= x[u][a])
                md.addCons(ze[a] <= x[v][a])
            md.addCons(y[e] + ps.quicksum(ze) >= 1)
        else:
            for a in range(k):
                md.addCons(y[e] >= x[u][a] - x[v][a])
                md.addCons(y[e] >= x[v][a] - x[u][a])
    # Cut sets with C = {u}: a unit that is not its area's root has a neighbour in the area.
    for u in range(n):
        for a in range(k):
            md.addCons(x[u][a] <= r[u][a] + ps.quicksum(x[v][a] for v in pb.nbrs[u]))
    return _Vars(x=x, r=r, y=y, z=z)


def _add_roots(md: Any, pb: _Problem, v: _Vars) -> None:
    """Roots: a locked unit roots its area; otherwise the root is the area's first unit in
    the order, within reach of every member, and areas are numbered by their roots."""
    import pyscipopt as ps

    n, k, x, r = pb.n, pb.k, v.x, v.r
    far = pb.dist > pb.upper * (1 + 1e-9) + 1e-9  # cannot share an area
    for u in np.flatnonzero(pb.locked >= 0).tolist():
        for a in range(k):
            md.chgVarUb(x[u][a], 0.0) if a != int(pb.locked[u]) else md.chgVarLb(x[u][a], 1.0)
    for a in range(k):
        mine = np.flatnonzero(pb.locked == a)
        if len(mine):
            rt = int(mine[0])
            md.chgVarLb(r[rt][a], 1.0)
            for u in range(n):
                if u != rt:
                    md.chgVarUb(r[u][a], 0.0)
                if far[rt, u]:
                    md.chgVarUb(x[u][a], 0.0)
            continue
        for u in range(n):
            # u in area a ⇒ the area's root comes no later than u and lies within reach
            reach = [j for j in range(u + 1) if not far[j, u]]
            md.addCons(x[u][a] <= ps.quicksum(r[j][a] for j in reach))
    if pb.symmetric:
        _fix_symmetric(md, pb, v, far)
        for a in range(k - 1):
            md.addCons(
                ps.quicksum(u * r[u][a + 1] for u in range(n))
                >= ps.quicksum(u * r[u][a] for u in range(n)) + 1
            )


def _fix_symmetric(md: Any, pb: _Problem, v: _Vars, far: np.ndarray) -> None:
    """Variable fixing for interchangeable areas numbered by their roots (see module doc)."""
    n, k, w, x, r = pb.n, pb.k, pb.w, v.x, v.r
    total = float(w.sum())
    cum = np.concatenate([[0.0], np.cumsum(w)])  # cum[u] = weight of units before u
    can_root = _suffix_reach(pb) >= pb.lower - 1e-9  # L-fixing
    roots_after = np.concatenate([np.cumsum(can_root[::-1])[::-1][1:], [0]])
    roots_before = np.concatenate([[0], np.cumsum(can_root)[:-1]])
    for a in range(k):
        for u in range(n):
            # area a's root has a roots before it and k−1−a after it; all units before it
            # lie in areas 0..a−1, all units from it on in areas a..k−1
            if (
                not can_root[u]
                or roots_before[u] < a
                or roots_after[u] < k - 1 - a
                or cum[u] > a * pb.upper + 1e-9
                or total - cum[u] < (k - a) * pb.lower - 1e-9
            ):
                md.chgVarUb(r[u][a], 0.0)
        for u in range(min(a, n)):
            md.chgVarUb(x[u][a], 0.0)
    for j in range(min(k, n)):  # U-fixing
        if not can_root[j] or not far[j, :j].all():
            break
        md.chgVarLb(r[j][j], 1.0)
        md.chgVarLb(x[j][j], 1.0)
        for u in range(n):
            if u != j:
                md.chgVarUb(r[u][j], 0.0)
            if far[j, u]:
                md.chgVarUb(x[u][j], 0.0)


def _add_boundary_bounds(md: Any, pb: _Problem, v: _Vars, *, budget: float) -> None:
    """Every area's boundary costs at least what the cheapest balanced contiguous area with
    its root costs: ``Σ_e c_e·(x_ua + x_va − 2 z_ea) ≥ Σ_j β_j r_ja`` (extended formulation;
    ``Σ_e c_e y_e ≥ Σ_j β_j r_ja`` without it), ``β_j`` from :func:`_cheapest_area`.

    Why: the LP relaxation spreads each area thinly over large regions (x = 0.1–0.3 on
    dozens of units), where its boundary costs almost nothing; this row makes a thin area
    pay for a whole area's boundary. Summed over areas (each cut edge bounds two areas)
    it alone puts the root bound at half the sum of the roots' β. A root whose β is
    infeasible cannot root any area and is fixed out.
    """
    import pyscipopt as ps

    n, k = pb.n, pb.k
    cost = pb.costs * pb.scale
    far = pb.dist > pb.upper * (1 + 1e-9) + 1e-9
    roots = [u for u in range(n) if any(v.r[u][a].getUbOriginal() > 0.5 for a in range(k))]
    t0 = time.monotonic()
    t_end = t0 + budget
    beta = np.zeros(n)
    for j in roots:
        if time.monotonic() > t_end:
            break
        allowed = ~far[j] & ((np.arange(n) >= j) if pb.symmetric else True)
        beta[j] = _cheapest_area(pb, cost, j, allowed, t_end - time.monotonic())
    for j in np.flatnonzero(np.isinf(beta)).tolist():
        for a in range(k):
            md.chgVarUb(v.r[j][a], 0.0)
    beta[np.isinf(beta)] = 0.0
    if not beta.any():
        return
    for a in range(k):
        if v.z:
            tv = ps.quicksum(
                float(cost[e]) * (v.x[u][a] + v.x[t][a] - 2 * v.z[e][a])
                for e, (u, t) in enumerate(pb.edges.tolist())
            )
        else:
            tv = ps.quicksum(float(cost[e]) * v.y[e] for e in range(len(pb.edges)))
        md.addCons(tv >= ps.quicksum(float(beta[j]) * v.r[j][a] for j in roots if beta[j] > 0))


#: HiGHS branch-and-bound nodes per MILP and contiguity rounds per root in :func:`_cheapest_area`:
#: work limits (not seconds) keep the bounds, and so SCIP's search, the same on a loaded
#: machine. Louisiana (64 counties): 5–40 rounds and 0.1–3 s per MILP unlimited.
_AREA_NODES = 50
_AREA_ROUNDS = 10


def _cheapest_area(
    pb: _Problem, cost: np.ndarray, j: int, allowed: np.ndarray, seconds: float
) -> float:
    """Lower bound on the boundary cost of a contiguous area containing ``j`` within the
    balance bounds, made of ``allowed`` units (``inf``: no such area): a small MILP in
    HiGHS, contiguity added as separator rows on the disconnected solutions it returns."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_matrix

    n, m = pb.n, len(pb.edges)
    e = pb.edges
    ar = np.arange(m)
    rows = [ar, ar, ar, m + ar, m + ar, m + ar]
    cols = [n + ar, e[:, 0], e[:, 1], n + ar, e[:, 0], e[:, 1]]
    vals = [np.ones(m), -np.ones(m), np.ones(m), np.ones(m), np.ones(m), -np.ones(m)]
    lo = [np.zeros(2 * m)]
    hi = [np.full(2 * m, np.inf)]
    nr = 2 * m
    rows.append(np.full(n, nr))
    cols.append(np.arange(n))
    vals.append(pb.w.astype(float))
    lo.append(np.array([pb.lower]))
    hi.append(np.array([pb.upper]))
    nr += 1

    def separator(members: list[int], border: list[int]) -> None:
        # v ∈ C (C without j) needs a unit of C's border: s_v ≤ Σ_{c ∈ N(C)} s_c
        nonlocal nr
        for t in members:
            rows.append(np.full(len(border) + 1, nr))
            cols.append(np.asarray([t, *border]))
            vals.append(np.asarray([-1.0] + [1.0] * len(border)))
            lo.append(np.array([0.0]))
            hi.append(np.array([np.inf]))
            nr += 1

    for u in range(n):
        if u != j:
            separator([u], pb.nbrs[u])
    lb = np.zeros(n + m)
    ub = np.concatenate([allowed.astype(float), np.full(m, np.inf)])
    lb[j] = ub[j] = 1.0
    c = np.concatenate([np.zeros(n), cost])
    integrality = np.concatenate([np.ones(n), np.zeros(m)])
    t_end = time.monotonic() + seconds
    for _ in range(_AREA_ROUNDS):
        left = t_end - time.monotonic()
        if left <= 0:
            return 0.0
        a = coo_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(nr, n + m),
        ).tocsr()
        res = milp(
            c,
            constraints=LinearConstraint(a, np.concatenate(lo), np.concatenate(hi)),
            integrality=integrality,
            bounds=Bounds(lb, ub),
            options={"time_limit": left, "disp": False, "node_limit": _AREA_NODES},
        )
        if res.status == 2:
            return math.inf
        if res.status != 0 or res.x is None:  # node or time limit: the dual bound
            bound = getattr(res, "mip_dual_bound", None)
            return max(0.0, float(bound)) if bound is not None and np.isfinite(bound) else 0.0
        inside = set(np.flatnonzero(res.x[:n] > 0.5).tolist())
        comp = _component(pb.nbrs, j, inside)
        if comp == inside:
            return float(res.fun)
        rest = inside - comp
        while rest:
            piece = _component(pb.nbrs, rest.pop(), inside)
            rest -= piece
            separator(sorted(piece), sorted({t for u in piece for t in pb.nbrs[u]} - piece))
    return float(res.fun)  # a relaxation's optimum is still a lower bound


def _suffix_reach(pb: _Problem) -> np.ndarray:
    """Weight reachable from each position through positions at or after it: the most an area
    rooted there can weigh."""
    out = np.zeros(pb.n)
    for s in range(pb.n):
        seen = {s}
        stack = [s]
        while stack:
            u = stack.pop()
            for t in pb.nbrs[u]:
                if t > s and t not in seen:
                    seen.add(t)
                    stack.append(t)
        out[s] = float(pb.w[list(seen)].sum())
    return out


def _add_incumbent(md: Any, pb: _Problem, v: _Vars, labels: np.ndarray) -> None:
    """The hint (by position) as SCIP's first solution, areas renumbered to the model's
    convention where they are interchangeable."""
    n, k = pb.n, pb.k
    hl = _canonical(labels, k) if pb.symmetric else labels
    sol = md.createSol()
    for u in range(n):
        for a in range(k):
            md.setSolVal(sol, v.x[u][a], float(hl[u] == a))
    for a in range(k):
        members = np.flatnonzero(hl == a)
        if len(members) == 0:
            continue
        mine = np.flatnonzero(pb.locked == a)
        rt = int(mine[0]) if len(mine) else int(members[0])
        for u in range(n):
            md.setSolVal(sol, v.r[u][a], float(u == rt))
    for e, (u, t) in enumerate(pb.edges.tolist()):
        md.setSolVal(sol, v.y[e], float(hl[u] != hl[t]))
        if v.z:
            for a in range(k):
                md.setSolVal(sol, v.z[e][a], float(hl[u] == a and hl[t] == a))
    md.addSol(sol)


def _result(md: Any, pb: _Problem, v: _Vars, secs: float) -> ExactResult:
    """The best plan in the caller's unit order, its real objective, gap, bound and nodes."""
    status = md.getStatus()
    if md.getNSols() == 0:
        return ExactResult(None, False, status == "infeasible", math.inf, math.inf, secs)
    best = md.getBestSol()
    xv = np.asarray([[md.getSolVal(best, v.x[u][a]) for a in range(pb.k)] for u in range(pb.n)])
    labels = np.empty(pb.n, dtype=np.int64)
    labels[pb.order] = np.argmax(xv, axis=1)
    lab_pos = labels[pb.order]
    e = pb.edges
    cut = lab_pos[e[:, 0]] != lab_pos[e[:, 1]] if len(e) else np.zeros(0, bool)
    value = float(pb.costs[cut].sum())
    if pb.use_disruption:
        value += float(pb.move_cost[lab_pos != pb.home].sum())
    optimal = status == "optimal"
    gap = 0.0 if optimal else float(md.getGap())
    return ExactResult(
        labels,
        optimal,
        False,
        gap,
        value,
        secs,
        nodes=int(md.getNNodes()),
        bound=float(md.getDualbound()) / pb.scale,
    )


def _make_separators() -> type:
    import pyscipopt as ps

    class Separators(ps.Conshdlr):
        """Lazy a,b-separator constraints for the contiguity of every area.

        On an integral solution, an area whose units form several components has one
        component ``C`` without the area's root; ``C``'s neighbours outside it are all in
        other areas, so ``x_va ≤ Σ_{s∈N(C)} x_sa + Σ_{u∈C} r_ua`` (for ``v`` in ``C``) cuts
        the solution off while every contiguous plan satisfies it.
        """

        def __init__(
            self, x: list[list[Any]], r: list[list[Any]], nbrs: list[list[int]], k: int
        ) -> None:
            super().__init__()
            self.x, self.r, self.nbrs, self.k = x, r, nbrs, k
            self.added = 0

        def _violations(self, sol: Any) -> list[tuple[int, list[int], list[int]]]:
            md = self.model
            lab = np.asarray(
                [int(np.argmax([md.getSolVal(sol, xa) for xa in xu])) for xu in self.x]
            )
            out = []
            for a in range(self.k):
                members = np.flatnonzero(lab == a).tolist()
                if not members:
                    continue
                rt = max(members, key=lambda u: md.getSolVal(sol, self.r[u][a]))
                rest = set(members) - _component(self.nbrs, rt, set(members))
                while rest:
                    comp = _component(self.nbrs, rest.pop(), set(members))
                    rest -= comp
                    border = sorted({t for u in comp for t in self.nbrs[u]} - comp)
                    out.append((a, sorted(comp), border))
            return out

        def conscheck(
            self,
            constraints: Any,
            solution: Any,
            checkintegrality: Any,
            checklprows: Any,
            printreason: Any,
            completely: Any,
        ) -> dict[str, Any]:
            bad = self._violations(solution)
            return {"result": ps.SCIP_RESULT.INFEASIBLE if bad else ps.SCIP_RESULT.FEASIBLE}

        def _enforce(self, sol: Any) -> dict[str, Any]:
            bad = self._violations(sol)
            if not bad:
                return {"result": ps.SCIP_RESULT.FEASIBLE}
            md = self.model
            for a, comp, border in bad:
                rs = ps.quicksum(self.x[s][a] for s in border) + ps.quicksum(
                    self.r[u][a] for u in comp
                )
                for t in comp:
                    md.addCons(self.x[t][a] <= rs, removable=True)
                    self.added += 1
            return {"result": ps.SCIP_RESULT.CONSADDED}

        def consenfolp(
            self, constraints: Any, nusefulconss: Any, solinfeasible: Any
        ) -> dict[str, Any]:
            return self._enforce(None)

        def consenfops(
            self, constraints: Any, nusefulconss: Any, solinfeasible: Any, objinfeasible: Any
        ) -> dict[str, Any]:
            return self._enforce(None)

        def conslock(self, constraint: Any, locktype: Any, nlockspos: Any, nlocksneg: Any) -> None:
            # the separators may need any x or r up or down: lock all of them both ways
            md = self.model
            for row in (*self.x, *self.r):
                for var in row:
                    md.addVarLocks(var, nlockspos + nlocksneg, nlockspos + nlocksneg)

    return Separators


def _component(nbrs: list[list[int]], s: int, inside: set[int]) -> set[int]:
    """Units of ``inside`` connected to ``s`` through ``inside``."""
    seen = {s}
    stack = [s]
    while stack:
        u = stack.pop()
        for t in nbrs[u]:
            if t in inside and t not in seen:
                seen.add(t)
                stack.append(t)
    return seen


def _canonical(labels: np.ndarray, k: int) -> np.ndarray:
    """Relabel so areas are numbered in order of their first unit (the model's symmetry
    convention)."""
    order: dict[int, int] = {}
    for a in labels.tolist():
        if a not in order:
            order[a] = len(order)
    for a in range(k):
        order.setdefault(a, len(order))
    return np.asarray([order[int(a)] for a in labels], dtype=np.int64)
