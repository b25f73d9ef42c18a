"""Recombination (merge-split) improvement and a greedy clean-up, after the annealing.

Single-unit moves (the annealing) refine a boundary but cannot redraw it: moving a boundary
a few units over means passing through unbalanced or worse plans. Recombination — GerryChain's
ReCom step turned into an optimiser — merges two adjacent areas, draws spanning trees of the
merged region and cuts the tree edge that splits it into two balanced, connected halves with
the best objective. Where ReCom accepts any balanced cut at random, here every balanced cut of
several trees is scored and the best one is kept when it improves the plan (or, rarely, by an
annealing acceptance that lets the search leave a local optimum).

Trees are minimum spanning trees on randomised weights (Kruskal on uniform noise, as in
GerryChain), with the noise of costly edges (long shared boundaries) scaled down so they tend to
join the tree first: a tree cut then separates the region mostly along cheap, non-tree edges.
The optimiser runs short bursts of these steps from the best plan (see ``_improve`` in
:mod:`._search`), each burst settled by :func:`greedy_cleanup`.

The steps are compiled with numba like the annealing (:mod:`._kernel`): each call takes the
piece in array form (:meth:`Context.arrays`) and a seed drawn from the caller's generator, and
runs a fixed number of rounds, so the same seed gives the same plan.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast

import numpy as np

from gisgov.districting._kernel import (
    KernelData,
    PieceArrays,
    PlanArrays,
    PlanTerms,
    _bfs,
    _jit,
    _pp,
    _step,
    csr_from_incidence,
    kernel_data,
    plan_arrays,
    plan_terms,
    still_connected,
)

__all__ = ["Context", "greedy_cleanup", "plan_objective", "recom_ready", "recombine"]


@dataclass
class Context:
    """The piece being optimised, in the list form the constructions use.

    Attributes
    ----------
    nbrs, inc, shared
        Neighbours, incident edge ids and shared boundary length per neighbour of each unit.
    cost
        Objective cost of cutting each edge.
    perim, uarea, w
        Unit perimeter, area and weight.
    lk, hm
        Locked area per unit (``-1`` free) and current-plan area (``-1`` none).
    k
        Number of areas.
    lower, upper
        Area weight bounds.
    disr, ppw
        Disruption weight per unit of weight moved, and Polsby-Popper weight per area.
    kd
        The same piece in array form, when the caller has it already.
    """

    nbrs: list[list[int]]
    inc: list[list[int]]
    shared: list[dict[int, float]]
    cost: list[float]
    perim: list[float]
    uarea: list[float]
    w: list[float]
    lk: list[int]
    hm: list[int]
    k: int
    lower: float
    upper: float
    disr: float
    ppw: float
    kd: KernelData | None = field(default=None, repr=False)

    @property
    def eps(self) -> float:
        """Float slack on the weight bounds."""
        return 1e-9 * max(self.upper, 1.0)

    def kernel_data(self) -> KernelData:
        """The piece as the compiled steps take it: :attr:`kd`, built from the lists when it
        was not given."""
        if self.kd is None:
            n = len(self.nbrs)
            ends = np.zeros((len(self.cost), 2), dtype=np.int64)
            ell = np.zeros(len(self.cost))
            for u in range(n):
                for v, e in zip(self.nbrs[u], self.inc[u], strict=True):
                    if u < v:
                        ends[e] = (u, v)
                        ell[e] = self.shared[u][v]
            self.kd = kernel_data(
                csr_from_incidence(self.nbrs, self.inc, ell, ends), cost=self.cost,
                perim=self.perim, uarea=self.uarea, w=self.w, lk=self.lk, hm=self.hm,
            )
        return self.kd

    def arrays(self) -> PieceArrays:
        """:meth:`kernel_data` as the one argument the kernels take (a named tuple, which
        also unpacks as ``ptr, adj, adje, adjl, ends, cost, perim, uarea, w, lk, hm``)."""
        return self.kernel_data().arrays

    def terms(self) -> PlanTerms:
        """The piece's areas, bounds and objective weights as the kernels take them."""
        return plan_terms(self.k, self.lower, self.upper, self.disr, self.ppw)


def recom_ready() -> bool:
    """Whether this process has the merge-split kernels loaded (compiled or from the cache)."""
    return all(bool(cast(Any, f).signatures)
               for f in (_recombine_kernel, _cleanup_kernel, _objective_kernel))


def plan_objective(ctx: Context, lab: list[int]) -> float:
    """The objective the annealing minimises, of a whole plan."""
    return float(_objective_kernel(ctx.arrays(), ctx.terms(), np.asarray(lab, dtype=np.int64)))


def recombine(
    ctx: Context,
    lab: list[int],
    *,
    rounds: int,
    trees: int,
    rng: np.random.Generator,
    bias: float = 1.0,
    temperature: float = 0.0,
    keep_best: bool = True,
) -> tuple[list[int], float, int]:
    """Improve a balanced, contiguous plan by merge-split steps.

    Parameters
    ----------
    ctx
        The piece.
    lab
        A balanced, contiguous plan (area per unit).
    rounds
        Merge-split attempts (the deterministic budget).
    trees
        Spanning trees drawn per attempt; every balanced cut of each is scored.
    rng
        Randomness (one seed is drawn from it for the compiled steps).
    bias
        How strongly tree weights follow the edges' cut costs (0: uniform random weights).
    temperature
        Annealing acceptance of worse splits, in objective units, cooling geometrically to 1%
        over the rounds (0: improvements only; ``inf``: every best-of-trees split, a guided
        random walk).
    keep_best
        Return the best plan seen (default) or the last one (a perturbation to polish).

    Returns
    -------
    tuple
        The best plan found, its objective, and the number of accepted steps.
    """
    piece = ctx.arrays()
    cur = np.asarray(lab, dtype=np.int64)
    out = cur.copy()
    if ctx.k < 2 or len(piece.cost) == 0:
        return [int(x) for x in cur], plan_objective(ctx, lab), 0
    schedule = RecomSchedule(int(rounds), int(trees), float(bias), float(temperature),
                             bool(keep_best))
    accepted = _recombine_kernel(piece, ctx.terms(), schedule, cur,
                                 int(rng.integers(1 << 31)), out)
    best = [int(x) for x in out]
    return best, plan_objective(ctx, best), int(accepted)


def greedy_cleanup(
    ctx: Context, lab: list[int], *, max_sweeps: int = 50, areas: set[int] | None = None
) -> tuple[list[int], int]:
    """Single-unit moves that lower the objective, keeping balance and contiguity, until none
    is left: a local optimum. Deterministic (units in order, the best move of each unit).

    Parameters
    ----------
    areas
        Only sweep units of these areas (those a merge-split just redrew), so a clean-up after
        a local change costs the size of the change, not of the plan.

    Returns
    -------
    tuple
        The plan and the number of moves made.
    """
    cur = np.asarray(lab, dtype=np.int64)
    scope = np.ones(ctx.k, dtype=np.bool_)
    if areas is not None:
        scope[:] = False
        for a in areas:
            scope[a] = True
    moves = _cleanup_kernel(ctx.arrays(), ctx.terms(), cur, int(max_sweeps), scope)
    return [int(x) for x in cur], int(moves)


class RecomSchedule(NamedTuple):
    """A merge-split run: ``rounds`` attempts of ``trees`` spanning trees each, tree weights
    following cut costs by ``bias``, worse splits accepted at ``temperature`` (cooling to 1%),
    and whether the best plan seen (``keep_best``) or the last one is returned."""

    rounds: int
    trees: int
    bias: float
    temperature: float
    keep_best: bool


class _Region(NamedTuple):
    """The merged region of two areas, rebuilt each round: ``pos`` maps a unit to its index
    in the region (``-1`` outside), ``reg`` back; ``eu``, ``ev``, ``ee``, ``el`` are the
    region's inner edges (ends as region indices, edge id, shared length)."""

    pos: np.ndarray
    reg: np.ndarray
    eu: np.ndarray
    ev: np.ndarray
    ee: np.ndarray
    el: np.ndarray


class _RegionFigures(NamedTuple):
    """What a round knows of its region: the two areas, unit and inner-edge counts, weight,
    inner boundary, perimeter and surface sums, weight at home in ``a`` and ``b``, locked
    units of each, and the objective share of the current split (``cur_val``)."""

    a: int
    b: int
    nr: int
    ne: int
    total_w: float
    int_all: float
    psum_all: float
    area_all: float
    hw_a: float
    hw_b: float
    n_la: int
    n_lb: int
    cur_val: float


class _Tree(NamedTuple):
    """A spanning tree of the region: Kruskal's union-find and tree edges, the tree as
    adjacency lists (``tdeg`` offsets, ``tadj``), the BFS ``order`` from a random root with
    each node's ``parent``, and per subtree its weight and locked-unit counts of ``a``/``b``."""

    keys: np.ndarray
    uf: np.ndarray
    t_u: np.ndarray
    t_v: np.ndarray
    tdeg: np.ndarray
    tadj: np.ndarray
    fill: np.ndarray
    parent: np.ndarray
    order: np.ndarray
    sub: np.ndarray
    sla: np.ndarray
    slb: np.ndarray


class _Sides(NamedTuple):
    """One side of a candidate split (``side``, marked in ``smark`` with the current
    ``stamp``) and the side of the best split so far (``best``)."""

    side: np.ndarray
    best: np.ndarray
    smark: np.ndarray
    stamp: np.ndarray


@_jit
def _objective_kernel(piece: PieceArrays, terms: PlanTerms, lab: np.ndarray) -> float:
    ptr, adj, adje, cost, hm, w = piece.ptr, piece.adj, piece.adje, piece.cost, piece.hm, piece.w
    plan = plan_arrays(piece, lab, terms.k)
    total = 0.0
    for u in range(lab.shape[0]):
        a = lab[u]
        for i in range(ptr[u], ptr[u + 1]):
            if adj[i] > u and lab[adj[i]] != a:
                total += cost[adje[i]]
        if terms.disr != 0.0 and a != hm[u]:
            total += terms.disr * w[u]
    if terms.ppw != 0.0:
        for a in range(terms.k):
            total += terms.ppw * (1.0 - _pp(plan.ar[a], plan.pe[a]))
    return total


class _Moves(NamedTuple):
    """Scratch of the clean-up: per neighbouring area of the unit being priced, the cut cost
    and shared length of joining it; ``seen`` and ``order`` list those areas once each."""

    to_cost: np.ndarray
    to_len: np.ndarray
    seen: np.ndarray
    order: np.ndarray


@_step
def _best_move(piece: PieceArrays, terms: PlanTerms, plan: PlanArrays, mv: _Moves, u: int,
               stamp: int, eps: float) -> tuple[int, float, int, float]:
    """The area whose taking ``u`` lowers the objective most within the upper bound;
    ``(area or -1, gain, neighbours of u in its area, length u shares with its area)``."""
    lab, pe, ar = plan.lab, plan.pe, plan.ar
    perim, uarea, w, hm = piece.perim, piece.uarea, piece.w, piece.hm
    a = lab[u]
    stay_cost = 0.0
    stay_len = 0.0
    na = 0
    nb_areas = 0
    for i in range(piece.ptr[u], piece.ptr[u + 1]):
        lx = lab[piece.adj[i]]
        if lx == a:
            stay_cost += piece.cost[piece.adje[i]]
            stay_len += piece.adjl[i]
            na += 1
        else:
            if mv.seen[lx] != stamp:
                mv.seen[lx] = stamp
                mv.to_cost[lx] = 0.0
                mv.to_len[lx] = 0.0
                mv.order[nb_areas] = lx
                nb_areas += 1
            mv.to_cost[lx] += piece.cost[piece.adje[i]]
            mv.to_len[lx] += piece.adjl[i]
    best_b = -1
    best_d = -1e-12
    for j in range(nb_areas):
        b = mv.order[j]
        if plan.wt[b] + w[u] > terms.upper + eps:
            continue
        d = stay_cost - mv.to_cost[b]
        if terms.disr != 0.0:
            d += terms.disr * w[u] * ((1.0 if b != hm[u] else 0.0)
                                      - (1.0 if a != hm[u] else 0.0))
        if terms.ppw != 0.0:
            pa2 = pe[a] - perim[u] + 2.0 * stay_len
            pb2 = pe[b] + perim[u] - 2.0 * mv.to_len[b]
            d += terms.ppw * (_pp(ar[a], pe[a]) + _pp(ar[b], pe[b])
                              - _pp(ar[a] - uarea[u], pa2) - _pp(ar[b] + uarea[u], pb2))
        if d < best_d:
            best_b = b
            best_d = d
    return best_b, best_d, na, stay_len


@_step
def _apply_move(piece: PieceArrays, plan: PlanArrays, u: int, b: int, stay_len: float,
                to_len: float) -> None:
    """Move ``u`` to ``b``, updating the area figures (lengths from :func:`_best_move`)."""
    a = plan.lab[u]
    plan.pe[a] += -piece.perim[u] + 2.0 * stay_len
    plan.pe[b] += piece.perim[u] - 2.0 * to_len
    plan.ar[a] -= piece.uarea[u]
    plan.ar[b] += piece.uarea[u]
    plan.wt[a] -= piece.w[u]
    plan.wt[b] += piece.w[u]
    plan.cnt[a] -= 1
    plan.cnt[b] += 1
    plan.lab[u] = b


@_jit
def _cleanup_kernel(piece: PieceArrays, terms: PlanTerms, lab: np.ndarray, max_sweeps: int,
                    in_scope: np.ndarray) -> int:
    """:func:`greedy_cleanup` on ``lab`` in place; the number of moves."""
    n = lab.shape[0]
    k = terms.k
    plan = plan_arrays(piece, lab, k)
    eps = 1e-9 * max(terms.upper, 1.0)
    scope = np.empty(n, dtype=np.int64)
    ns = 0
    for u in range(n):
        if in_scope[lab[u]]:
            scope[ns] = u
            ns += 1
    mv = _Moves(np.zeros(k), np.zeros(k), np.zeros(k, dtype=np.int64),
                np.zeros(k, dtype=np.int64))
    bfs = _bfs(n)
    stamp = 0
    moves = 0
    for _ in range(max_sweeps):
        changed = False
        for si in range(ns):
            u = scope[si]
            a = lab[u]
            if piece.lk[u] >= 0 or plan.cnt[a] <= 1 or plan.wt[a] - piece.w[u] < terms.lower - eps:
                continue
            stamp += 1
            b, _, na, stay_len = _best_move(piece, terms, plan, mv, u, stamp, eps)
            if b < 0:
                continue
            if na > 1 and not still_connected(piece, lab, u, a, na, bfs):
                continue
            _apply_move(piece, plan, u, b, stay_len, mv.to_len[b])
            moves += 1
            changed = True
        if not changed:
            break
    return moves


@_step
def _find(uf: np.ndarray, x: int) -> int:
    while uf[x] != x:
        uf[x] = uf[uf[x]]
        x = uf[x]
    return x


@_step
def _pick_pair(piece: PieceArrays, plan: PlanArrays, r: int, nbmask: np.ndarray
               ) -> tuple[int, int]:
    """The two adjacent areas round ``r`` merges: across a random cut edge, or every third
    round the less compact of two random areas and one of its neighbours; ``-1`` when none
    was found."""
    lab, ptr, adj, ends = plan.lab, piece.ptr, piece.adj, piece.ends
    k = plan.wt.shape[0]
    n = lab.shape[0]
    a = -1
    b = -1
    if r % 3 == 2:
        c1 = np.random.randint(k)
        c2 = np.random.randint(k)
        a = c1 if _pp(plan.ar[c1], plan.pe[c1]) <= _pp(plan.ar[c2], plan.pe[c2]) else c2
        nbmask[:] = 0
        for u in range(n):
            if lab[u] == a:
                for i in range(ptr[u], ptr[u + 1]):
                    lx = lab[adj[i]]
                    if lx != a:
                        nbmask[lx] = 1
        cnt_nb = 0
        for x in range(k):
            cnt_nb += nbmask[x]
        if cnt_nb == 0:
            return a, -1
        j = np.random.randint(cnt_nb)
        for x in range(k):
            if nbmask[x]:
                if j == 0:
                    b = x
                    break
                j -= 1
    else:
        for _ in range(64):
            e = np.random.randint(piece.cost.shape[0])
            if lab[ends[e, 0]] != lab[ends[e, 1]]:
                a = lab[ends[e, 0]]
                b = lab[ends[e, 1]]
                break
    return a, b


@_step
def _gather(piece: PieceArrays, terms: PlanTerms, plan: PlanArrays, a: int, b: int,
            rg: _Region) -> _RegionFigures:
    """Index the units and inner edges of areas ``a`` and ``b`` in ``rg``; their figures."""
    lab, ptr, adj, adje, adjl = plan.lab, piece.ptr, piece.adj, piece.adje, piece.adjl
    perim, uarea, w, lk, hm = piece.perim, piece.uarea, piece.w, piece.lk, piece.hm
    nr = 0
    for u in range(lab.shape[0]):
        if lab[u] == a or lab[u] == b:
            rg.pos[u] = nr
            rg.reg[nr] = u
            nr += 1
    ne = 0
    int_all = 0.0
    cur_cut = 0.0
    psum_all = 0.0
    area_all = 0.0
    hw_a = 0.0
    hw_b = 0.0
    n_la = 0
    n_lb = 0
    for ri in range(nr):
        u = rg.reg[ri]
        psum_all += perim[u]
        area_all += uarea[u]
        if hm[u] == a:
            hw_a += w[u]
        elif hm[u] == b:
            hw_b += w[u]
        if lk[u] == a:
            n_la += 1
        elif lk[u] == b:
            n_lb += 1
        for i in range(ptr[u], ptr[u + 1]):
            x = adj[i]
            if x > u and rg.pos[x] >= 0:
                rg.eu[ne] = ri
                rg.ev[ne] = rg.pos[x]
                rg.ee[ne] = adje[i]
                rg.el[ne] = adjl[i]
                int_all += adjl[i]
                if lab[u] != lab[x]:
                    cur_cut += piece.cost[adje[i]]
                ne += 1
    total_w = plan.wt[a] + plan.wt[b]
    cur_val = cur_cut
    if terms.ppw != 0.0:
        cur_val += terms.ppw * (2.0 - _pp(plan.ar[a], plan.pe[a]) - _pp(plan.ar[b], plan.pe[b]))
    if terms.disr != 0.0:
        cur_val += terms.disr * (total_w - hw_a - hw_b)
    return _RegionFigures(a, b, nr, ne, total_w, int_all, psum_all, area_all, hw_a, hw_b,
                          n_la, n_lb, cur_val)


@_step
def _draw_tree(piece: PieceArrays, rg: _Region, fig: _RegionFigures, tr: _Tree, bias: float,
               mean_cost: float) -> bool:
    """A random spanning tree of the region (Kruskal on uniform noise, lowered on costly
    edges), laid out as adjacency lists and ordered by a BFS from a random root; ``False``
    when the region is not connected (cannot happen for adjacent areas)."""
    nr, ne = fig.nr, fig.ne
    keys, uf, t_u, t_v = tr.keys[:ne], tr.uf, tr.t_u, tr.t_v
    for j in range(ne):
        keys[j] = np.random.random()
        if bias != 0.0:
            keys[j] *= math.exp(-bias * piece.cost[rg.ee[j]] / mean_cost)
    eorder = np.argsort(keys, kind="mergesort")
    for ri in range(nr):
        uf[ri] = ri
    nt = 0
    for jj in range(ne):
        j = eorder[jj]
        ru = _find(uf, rg.eu[j])
        rv = _find(uf, rg.ev[j])
        if ru != rv:
            uf[ru] = rv
            t_u[nt] = rg.eu[j]
            t_v[nt] = rg.ev[j]
            nt += 1
            if nt == nr - 1:
                break
    if nt != nr - 1:
        return False
    tdeg, tadj, fill = tr.tdeg, tr.tadj, tr.fill
    tdeg[: nr + 1] = 0
    for j in range(nt):
        tdeg[t_u[j] + 1] += 1
        tdeg[t_v[j] + 1] += 1
    for ri in range(nr):
        tdeg[ri + 1] += tdeg[ri]
        fill[ri] = tdeg[ri]
    for j in range(nt):
        tadj[fill[t_u[j]]] = t_v[j]
        fill[t_u[j]] += 1
        tadj[fill[t_v[j]]] = t_u[j]
        fill[t_v[j]] += 1
    root = np.random.randint(nr)
    parent, order = tr.parent, tr.order
    parent[:nr] = -2
    parent[root] = -1
    order[0] = root
    head = 0
    tail = 1
    while head < tail:
        y = order[head]
        head += 1
        for i in range(tdeg[y], tdeg[y + 1]):
            z = tadj[i]
            if parent[z] == -2:
                parent[z] = y
                order[tail] = z
                tail += 1
    return True


@_step
def _subtree_sums(piece: PieceArrays, rg: _Region, fig: _RegionFigures, tr: _Tree) -> None:
    """Weight and locked units of ``a`` and ``b`` below every tree node."""
    for ri in range(fig.nr):
        u = rg.reg[ri]
        tr.sub[ri] = piece.w[u]
        tr.sla[ri] = 1 if piece.lk[u] == fig.a else 0
        tr.slb[ri] = 1 if piece.lk[u] == fig.b else 0
    for oi in range(fig.nr - 1, 0, -1):
        y = tr.order[oi]
        p = tr.parent[y]
        tr.sub[p] += tr.sub[y]
        tr.sla[p] += tr.sla[y]
        tr.slb[p] += tr.slb[y]


@_step
def _subtree(tr: _Tree, sd: _Sides, v: int) -> int:
    """Collect the subtree below ``v`` in ``sd.side`` (marked with a new stamp); its size."""
    sd.stamp[0] += 1
    stamp = sd.stamp[0]
    side, smark = sd.side, sd.smark
    side[0] = v
    smark[v] = stamp
    ls = 1
    qi = 0
    while qi < ls:
        y = side[qi]
        qi += 1
        for i in range(tr.tdeg[y], tr.tdeg[y + 1]):
            z = tr.tadj[i]
            if tr.parent[z] == y:
                smark[z] = stamp
                side[ls] = z
                ls += 1
    return ls


@_step
def _split_value(piece: PieceArrays, terms: PlanTerms, rg: _Region, fig: _RegionFigures,
                 sd: _Sides, ls: int, o_a: bool, o_b: bool) -> tuple[float, bool]:
    """The objective share of splitting the region into the side just collected and the rest;
    and whether the side goes to ``a`` (the choice that moves fewer households when the
    locks allow either)."""
    ptr, adj, adje, adjl = piece.ptr, piece.adj, piece.adje, piece.adjl
    perim, uarea, w, hm = piece.perim, piece.uarea, piece.w, piece.hm
    stamp = sd.stamp[0]
    cut = 0.0
    cross = 0.0
    int2 = 0.0
    psum = 0.0
    area = 0.0
    ws = 0.0
    sa = 0.0
    sb = 0.0
    for qi in range(ls):
        u = rg.reg[sd.side[qi]]
        psum += perim[u]
        area += uarea[u]
        ws += w[u]
        if hm[u] == fig.a:
            sa += w[u]
        elif hm[u] == fig.b:
            sb += w[u]
        for i in range(ptr[u], ptr[u + 1]):
            px = rg.pos[adj[i]]
            if px >= 0:
                if sd.smark[px] == stamp:
                    int2 += adjl[i]
                else:
                    cut += piece.cost[adje[i]]
                    cross += adjl[i]
    val = cut
    if terms.ppw != 0.0:
        int_s = int2 / 2.0
        per_s = psum - 2.0 * int_s
        per_t = (fig.psum_all - psum) - 2.0 * (fig.int_all - int_s - cross)
        val += terms.ppw * (2.0 - _pp(area, per_s) - _pp(fig.area_all - area, per_t))
    s_is_a = o_a
    if terms.disr != 0.0:
        rest = fig.total_w - ws
        moved_sa = (ws - sa) + (rest - (fig.hw_b - sb))
        moved_sb = (ws - sb) + (rest - (fig.hw_a - sa))
        if o_a and o_b:
            s_is_a = moved_sa <= moved_sb
        val += terms.disr * (moved_sa if s_is_a else moved_sb)
    return val, s_is_a


@_step
def _best_cut(piece: PieceArrays, terms: PlanTerms, rg: _Region, fig: _RegionFigures,
              tr: _Tree, sd: _Sides, found: bool, best_val: float, best_is_a: bool,
              best_len: int) -> tuple[bool, float, bool, int]:
    """Score every tree edge whose cut leaves two balanced halves with the locks on the
    right sides; the best split so far (the side kept in ``sd.best``)."""
    eps = 1e-9 * max(terms.upper, 1.0)
    lower, upper = terms.lower, terms.upper
    has_locks = fig.n_la + fig.n_lb > 0
    for oi in range(1, fig.nr):
        v = tr.order[oi]
        s_w = tr.sub[v]
        t_w = fig.total_w - s_w
        if not (lower - eps <= s_w <= upper + eps and lower - eps <= t_w <= upper + eps):
            continue
        o_a = True
        o_b = False
        if has_locks:
            o_a = tr.sla[v] == fig.n_la and tr.slb[v] == 0
            o_b = tr.sla[v] == 0 and tr.slb[v] == fig.n_lb
            if not (o_a or o_b):
                continue
        ls = _subtree(tr, sd, v)
        val, s_is_a = _split_value(piece, terms, rg, fig, sd, ls, o_a, o_b)
        if not found or val < best_val - 1e-12:
            found = True
            best_val = val
            best_is_a = s_is_a
            best_len = ls
            sd.best[:ls] = sd.side[:ls]
    return found, best_val, best_is_a, best_len


@_step
def _rejected(delta: float, schedule: RecomSchedule, r: int) -> bool:
    """The acceptance rule: improvements pass; a worse split passes at the cooling
    temperature (always at ``inf``, never at 0); an equal one never (nothing learnt)."""
    temp = schedule.temperature * 0.01 ** (r / max(schedule.rounds - 1, 1))
    if delta > 1e-12 and temp != math.inf and (
        temp <= 0.0 or np.random.random() >= math.exp(-delta / temp)
    ):
        return True
    return abs(delta) <= 1e-12


@_step
def _apply_split(piece: PieceArrays, plan: PlanArrays, rg: _Region, fig: _RegionFigures,
                 sd: _Sides, best_is_a: bool, best_len: int) -> None:
    """Relabel the region by the best split and recount the two areas' figures."""
    lab, wt, ar, pe = plan.lab, plan.wt, plan.ar, plan.pe
    a, b = fig.a, fig.b
    sa_ = a if best_is_a else b
    sb_ = b if best_is_a else a
    sd.stamp[0] += 1
    stamp = sd.stamp[0]
    for qi in range(best_len):
        sd.smark[sd.best[qi]] = stamp
    wt[a] = wt[b] = ar[a] = ar[b] = pe[a] = pe[b] = 0.0
    for ri in range(fig.nr):
        u = rg.reg[ri]
        x = sa_ if sd.smark[ri] == stamp else sb_
        lab[u] = x
        wt[x] += piece.w[u]
        ar[x] += piece.uarea[u]
        pe[x] += piece.perim[u]
    for j in range(fig.ne):
        x = lab[rg.reg[rg.eu[j]]]
        if x == lab[rg.reg[rg.ev[j]]]:
            pe[x] -= 2.0 * rg.el[j]


@_jit
def _recom_scratch(n: int, m: int, k: int) -> tuple[_Region, _Tree, _Sides, np.ndarray]:
    i64 = np.int64
    rg = _Region(np.full(n, -1, dtype=i64), np.zeros(n, dtype=i64), np.zeros(m, dtype=i64),
                 np.zeros(m, dtype=i64), np.zeros(m, dtype=i64), np.zeros(m))
    tr = _Tree(np.empty(m), np.zeros(n, dtype=i64), np.zeros(n, dtype=i64),
               np.zeros(n, dtype=i64), np.zeros(n + 1, dtype=i64), np.zeros(2 * n, dtype=i64),
               np.zeros(n, dtype=i64), np.zeros(n, dtype=i64), np.zeros(n, dtype=i64),
               np.zeros(n), np.zeros(n, dtype=i64), np.zeros(n, dtype=i64))
    sd = _Sides(np.zeros(n, dtype=i64), np.zeros(n, dtype=i64), np.zeros(n, dtype=i64),
                np.zeros(1, dtype=i64))
    return rg, tr, sd, np.zeros(k, dtype=i64)


@_jit
def _recombine_kernel(piece: PieceArrays, terms: PlanTerms, schedule: RecomSchedule,
                      lab: np.ndarray, seed: int, best_lab: np.ndarray) -> int:
    """:func:`recombine` on ``lab`` (modified); the plan to return goes to ``best_lab``.

    Each round: two adjacent areas are merged (:func:`_pick_pair`, :func:`_gather`);
    ``schedule.trees`` spanning trees of the region are drawn (:func:`_draw_tree`); every
    tree edge whose cut leaves two balanced halves (locks on the right sides) is scored
    (:func:`_best_cut`), and the best split is accepted by the temperature rule
    (:func:`_rejected`, :func:`_apply_split`). Returns the number of accepted steps.
    """
    np.random.seed(seed)
    n = lab.shape[0]
    m = piece.cost.shape[0]
    plan = plan_arrays(piece, lab, terms.k)
    mean_cost = 0.0
    for e in range(m):
        mean_cost += piece.cost[e]
    mean_cost /= m
    obj = _objective_kernel(piece, terms, lab)
    best_obj = obj
    best_lab[:] = lab
    rg, tr, sd, nbmask = _recom_scratch(n, m, terms.k)
    accepted = 0
    for r in range(schedule.rounds):
        a, b = _pick_pair(piece, plan, r, nbmask)
        if a < 0 or b < 0:
            continue
        fig = _gather(piece, terms, plan, a, b, rg)
        found = False
        best_val = math.inf
        best_is_a = True
        best_len = 0
        for _t in range(schedule.trees):
            if not _draw_tree(piece, rg, fig, tr, schedule.bias, mean_cost):
                break
            _subtree_sums(piece, rg, fig, tr)
            found, best_val, best_is_a, best_len = _best_cut(
                piece, terms, rg, fig, tr, sd, found, best_val, best_is_a, best_len)
        if found and not _rejected(best_val - fig.cur_val, schedule, r):
            _apply_split(piece, plan, rg, fig, sd, best_is_a, best_len)
            obj += best_val - fig.cur_val
            accepted += 1
            if obj < best_obj - 1e-12:
                best_obj = obj
                best_lab[:] = lab
        for ri in range(fig.nr):
            rg.pos[rg.reg[ri]] = -1
    if not schedule.keep_best:
        best_lab[:] = lab
    return accepted
