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
from typing import Any, cast

import numpy as np

from gisgov.districting._kernel import (
    KernelData,
    PieceArrays,
    _area_stats,
    _connected_without,
    _jit,
    _pp,
    csr_from_incidence,
    kernel_data,
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


def recom_ready() -> bool:
    """Whether this process has the merge-split kernels loaded (compiled or from the cache)."""
    return all(bool(cast(Any, f).signatures)
               for f in (_recombine_kernel, _cleanup_kernel, _objective_kernel))


def plan_objective(ctx: Context, lab: list[int]) -> float:
    """The objective the annealing minimises, of a whole plan."""
    ptr, adj, adje, adjl, _, cost, perim, uarea, w, _, hm = ctx.arrays()
    return float(_objective_kernel(ptr, adj, adje, adjl, cost, perim, uarea, w, hm,
                                   np.asarray(lab, dtype=np.int64), ctx.k, ctx.disr, ctx.ppw))


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
    accepted = _recombine_kernel(
        piece, cur, ctx.k,
        float(ctx.lower), float(ctx.upper), float(ctx.disr), float(ctx.ppw), int(rounds),
        int(trees), float(bias), float(temperature), bool(keep_best),
        int(rng.integers(1 << 31)), out,
    )
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
    ptr, adj, adje, adjl, _, cost, perim, uarea, w, lk, hm = ctx.arrays()
    cur = np.asarray(lab, dtype=np.int64)
    scope = np.ones(ctx.k, dtype=np.bool_)
    if areas is not None:
        scope[:] = False
        for a in areas:
            scope[a] = True
    moves = _cleanup_kernel(ptr, adj, adje, adjl, cost, perim, uarea, w, lk, hm, cur, ctx.k,
                            float(ctx.lower), float(ctx.upper), float(ctx.disr),
                            float(ctx.ppw), int(max_sweeps), scope)
    return [int(x) for x in cur], int(moves)


@_jit
def _objective_kernel(
    ptr: np.ndarray, adj: np.ndarray, adje: np.ndarray, adjl: np.ndarray, cost: np.ndarray,
    perim: np.ndarray, uarea: np.ndarray, w: np.ndarray, hm: np.ndarray, lab: np.ndarray,
    k: int, disr: float, ppw: float,
) -> float:
    _, ar, pe, _ = _area_stats(ptr, adj, adjl, perim, uarea, w, lab, k)
    total = 0.0
    for u in range(lab.shape[0]):
        a = lab[u]
        for i in range(ptr[u], ptr[u + 1]):
            if adj[i] > u and lab[adj[i]] != a:
                total += cost[adje[i]]
        if disr != 0.0 and a != hm[u]:
            total += disr * w[u]
    if ppw != 0.0:
        for a in range(k):
            total += ppw * (1.0 - _pp(ar[a], pe[a]))
    return total


@_jit
def _cleanup_kernel(
    ptr: np.ndarray, adj: np.ndarray, adje: np.ndarray, adjl: np.ndarray, cost: np.ndarray,
    perim: np.ndarray, uarea: np.ndarray, w: np.ndarray, lk: np.ndarray, hm: np.ndarray,
    lab: np.ndarray, k: int, lower: float, upper: float, disr: float, ppw: float,
    max_sweeps: int, in_scope: np.ndarray,
) -> int:
    """:func:`greedy_cleanup` on ``lab`` in place; the number of moves."""
    n = lab.shape[0]
    wt, ar, pe, cnt = _area_stats(ptr, adj, adjl, perim, uarea, w, lab, k)
    eps = 1e-9 * max(upper, 1.0)
    scope = np.empty(n, dtype=np.int64)
    ns = 0
    for u in range(n):
        if in_scope[lab[u]]:
            scope[ns] = u
            ns += 1
    to_cost = np.zeros(k)
    to_len = np.zeros(k)
    seen = np.zeros(k, dtype=np.int64)
    order = np.zeros(k, dtype=np.int64)
    mark = np.zeros(n, dtype=np.int64)
    tmark = np.zeros(n, dtype=np.int64)
    queue = np.zeros(n, dtype=np.int64)
    stamp = 0
    moves = 0
    for _ in range(max_sweeps):
        changed = False
        for si in range(ns):
            u = scope[si]
            a = lab[u]
            if lk[u] >= 0 or cnt[a] <= 1 or wt[a] - w[u] < lower - eps:
                continue
            stamp += 1
            stay_cost = 0.0
            stay_len = 0.0
            na = 0
            nb_areas = 0
            for i in range(ptr[u], ptr[u + 1]):
                lx = lab[adj[i]]
                if lx == a:
                    stay_cost += cost[adje[i]]
                    stay_len += adjl[i]
                    na += 1
                else:
                    if seen[lx] != stamp:
                        seen[lx] = stamp
                        to_cost[lx] = 0.0
                        to_len[lx] = 0.0
                        order[nb_areas] = lx
                        nb_areas += 1
                    to_cost[lx] += cost[adje[i]]
                    to_len[lx] += adjl[i]
            best_b = -1
            best_d = -1e-12
            for j in range(nb_areas):
                b = order[j]
                if wt[b] + w[u] > upper + eps:
                    continue
                d = stay_cost - to_cost[b]
                if disr != 0.0:
                    d += disr * w[u] * ((1.0 if b != hm[u] else 0.0) - (1.0 if a != hm[u] else 0.0))
                if ppw != 0.0:
                    pa2 = pe[a] - perim[u] + 2.0 * stay_len
                    pb2 = pe[b] + perim[u] - 2.0 * to_len[b]
                    d += ppw * (_pp(ar[a], pe[a]) + _pp(ar[b], pe[b])
                                - _pp(ar[a] - uarea[u], pa2) - _pp(ar[b] + uarea[u], pb2))
                if d < best_d:
                    best_b = b
                    best_d = d
            if best_b < 0:
                continue
            if na > 1 and not _connected_without(ptr, adj, lab, u, a, na, mark, tmark, stamp,
                                                 queue):
                continue
            b = best_b
            pe[a] += -perim[u] + 2.0 * stay_len
            pe[b] += perim[u] - 2.0 * to_len[b]
            ar[a] -= uarea[u]
            ar[b] += uarea[u]
            wt[a] -= w[u]
            wt[b] += w[u]
            cnt[a] -= 1
            cnt[b] += 1
            lab[u] = b
            moves += 1
            changed = True
        if not changed:
            break
    return moves


@_jit
def _find(uf: np.ndarray, x: int) -> int:
    while uf[x] != x:
        uf[x] = uf[uf[x]]
        x = uf[x]
    return x


@_jit
def _recombine_kernel(
    piece: PieceArrays, lab: np.ndarray, k: int, lower: float, upper: float, disr: float,
    ppw: float, rounds: int, trees: int, bias: float, temperature: float, keep_best: bool,
    seed: int, best_lab: np.ndarray,
) -> int:
    """:func:`recombine` on ``lab`` (modified); the plan to return goes to ``best_lab``.

    Each round: two adjacent areas — usually across a random cut edge, every third round the
    less compact of two random areas and one of its neighbours — are merged; ``trees``
    spanning trees of the region are drawn (Kruskal on uniform noise, lowered on costly edges
    so they join the tree first and the exposed boundary is mostly cheap edges); every tree
    edge whose cut leaves two balanced halves (locks on the right sides) is scored, and the
    best split is accepted by the temperature rule. Returns the number of accepted steps.
    """
    ptr, adj, adje, adjl, ends = piece.ptr, piece.adj, piece.adje, piece.adjl, piece.ends
    cost, perim, uarea, w, lk, hm = (piece.cost, piece.perim, piece.uarea, piece.w, piece.lk,
                                     piece.hm)
    np.random.seed(seed)
    n = lab.shape[0]
    m = cost.shape[0]
    eps = 1e-9 * max(upper, 1.0)
    wt, ar, pe, _ = _area_stats(ptr, adj, adjl, perim, uarea, w, lab, k)
    mean_cost = 0.0
    for e in range(m):
        mean_cost += cost[e]
    mean_cost /= m
    obj = _objective_kernel(ptr, adj, adje, adjl, cost, perim, uarea, w, hm, lab, k, disr, ppw)
    best_obj = obj
    best_lab[:] = lab
    pos = np.full(n, -1, dtype=np.int64)
    reg = np.zeros(n, dtype=np.int64)
    re_u = np.zeros(m, dtype=np.int64)
    re_v = np.zeros(m, dtype=np.int64)
    re_e = np.zeros(m, dtype=np.int64)
    re_l = np.zeros(m)
    uf = np.zeros(n, dtype=np.int64)
    t_u = np.zeros(n, dtype=np.int64)
    t_v = np.zeros(n, dtype=np.int64)
    tdeg = np.zeros(n + 1, dtype=np.int64)
    tadj = np.zeros(2 * n, dtype=np.int64)
    fill = np.zeros(n, dtype=np.int64)
    parent = np.zeros(n, dtype=np.int64)
    order = np.zeros(n, dtype=np.int64)
    sub = np.zeros(n)
    sla = np.zeros(n, dtype=np.int64)
    slb = np.zeros(n, dtype=np.int64)
    side = np.zeros(n, dtype=np.int64)
    best_side = np.zeros(n, dtype=np.int64)
    smark = np.zeros(n, dtype=np.int64)
    nbmask = np.zeros(k, dtype=np.int64)
    stamp = 0
    accepted = 0
    for r in range(rounds):
        a = -1
        b = -1
        if r % 3 == 2:
            c1 = np.random.randint(k)
            c2 = np.random.randint(k)
            a = c1 if _pp(ar[c1], pe[c1]) <= _pp(ar[c2], pe[c2]) else c2
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
                continue
            j = np.random.randint(cnt_nb)
            for x in range(k):
                if nbmask[x]:
                    if j == 0:
                        b = x
                        break
                    j -= 1
        else:
            for _ in range(64):
                e = np.random.randint(m)
                if lab[ends[e, 0]] != lab[ends[e, 1]]:
                    a = lab[ends[e, 0]]
                    b = lab[ends[e, 1]]
                    break
            if a < 0:
                continue
        nr = 0
        for u in range(n):
            if lab[u] == a or lab[u] == b:
                pos[u] = nr
                reg[nr] = u
                nr += 1
        total_w = wt[a] + wt[b]
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
            u = reg[ri]
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
                if x > u and pos[x] >= 0:
                    re_u[ne] = ri
                    re_v[ne] = pos[x]
                    re_e[ne] = adje[i]
                    re_l[ne] = adjl[i]
                    int_all += adjl[i]
                    if lab[u] != lab[x]:
                        cur_cut += cost[adje[i]]
                    ne += 1
        cur_val = cur_cut
        if ppw != 0.0:
            cur_val += ppw * (2.0 - _pp(ar[a], pe[a]) - _pp(ar[b], pe[b]))
        if disr != 0.0:
            cur_val += disr * (total_w - hw_a - hw_b)
        has_locks = n_la + n_lb > 0
        found = False
        best_val = math.inf
        best_is_a = True
        best_len = 0
        keys = np.empty(ne)
        for _t in range(trees):
            for j in range(ne):
                keys[j] = np.random.random()
                if bias != 0.0:
                    keys[j] *= math.exp(-bias * cost[re_e[j]] / mean_cost)
            eorder = np.argsort(keys, kind="mergesort")
            for ri in range(nr):
                uf[ri] = ri
            nt = 0
            for jj in range(ne):
                j = eorder[jj]
                ru = _find(uf, re_u[j])
                rv = _find(uf, re_v[j])
                if ru != rv:
                    uf[ru] = rv
                    t_u[nt] = re_u[j]
                    t_v[nt] = re_v[j]
                    nt += 1
                    if nt == nr - 1:
                        break
            if nt != nr - 1:
                break  # the region is not connected (cannot happen for adjacent areas)
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
            for ri in range(nr):
                u = reg[ri]
                sub[ri] = w[u]
                sla[ri] = 1 if lk[u] == a else 0
                slb[ri] = 1 if lk[u] == b else 0
            for oi in range(nr - 1, 0, -1):
                y = order[oi]
                p = parent[y]
                sub[p] += sub[y]
                sla[p] += sla[y]
                slb[p] += slb[y]
            for oi in range(1, nr):
                v = order[oi]
                s_w = sub[v]
                t_w = total_w - s_w
                if not (lower - eps <= s_w <= upper + eps and lower - eps <= t_w <= upper + eps):
                    continue
                o_a = True
                o_b = False
                if has_locks:
                    o_a = sla[v] == n_la and slb[v] == 0
                    o_b = sla[v] == 0 and slb[v] == n_lb
                    if not (o_a or o_b):
                        continue
                # the subtree below v: one side of the split
                stamp += 1
                side[0] = v
                smark[v] = stamp
                ls = 1
                qi = 0
                while qi < ls:
                    y = side[qi]
                    qi += 1
                    for i in range(tdeg[y], tdeg[y + 1]):
                        z = tadj[i]
                        if parent[z] == y:
                            smark[z] = stamp
                            side[ls] = z
                            ls += 1
                cut = 0.0
                cross = 0.0
                int2 = 0.0
                psum = 0.0
                area = 0.0
                ws = 0.0
                sa = 0.0
                sb = 0.0
                for qi in range(ls):
                    u = reg[side[qi]]
                    psum += perim[u]
                    area += uarea[u]
                    ws += w[u]
                    if hm[u] == a:
                        sa += w[u]
                    elif hm[u] == b:
                        sb += w[u]
                    for i in range(ptr[u], ptr[u + 1]):
                        px = pos[adj[i]]
                        if px >= 0:
                            if smark[px] == stamp:
                                int2 += adjl[i]
                            else:
                                cut += cost[adje[i]]
                                cross += adjl[i]
                val = cut
                if ppw != 0.0:
                    int_s = int2 / 2.0
                    per_s = psum - 2.0 * int_s
                    per_t = (psum_all - psum) - 2.0 * (int_all - int_s - cross)
                    val += ppw * (2.0 - _pp(area, per_s) - _pp(area_all - area, per_t))
                s_is_a = o_a
                if disr != 0.0:
                    rest = total_w - ws
                    moved_sa = (ws - sa) + (rest - (hw_b - sb))
                    moved_sb = (ws - sb) + (rest - (hw_a - sa))
                    if o_a and o_b:
                        s_is_a = moved_sa <= moved_sb
                    val += disr * (moved_sa if s_is_a else moved_sb)
                if not found or val < best_val - 1e-12:
                    found = True
                    best_val = val
                    best_is_a = s_is_a
                    best_len = ls
                    best_side[:ls] = side[:ls]
        reject = not found
        if found:
            delta = best_val - cur_val
            temp = temperature * 0.01 ** (r / max(rounds - 1, 1))
            if delta > 1e-12 and temp != math.inf and (
                temp <= 0.0 or np.random.random() >= math.exp(-delta / temp)
            ):
                reject = True
            if abs(delta) <= 1e-12:
                reject = True  # the same split again, or an equivalent one: nothing learnt
        if not reject:
            sa_ = a if best_is_a else b
            sb_ = b if best_is_a else a
            stamp += 1
            for qi in range(best_len):
                smark[best_side[qi]] = stamp
            wt[a] = wt[b] = ar[a] = ar[b] = pe[a] = pe[b] = 0.0
            for ri in range(nr):
                u = reg[ri]
                x = sa_ if smark[ri] == stamp else sb_
                lab[u] = x
                wt[x] += w[u]
                ar[x] += uarea[u]
                pe[x] += perim[u]
            for j in range(ne):
                x = lab[reg[re_u[j]]]
                if x == lab[reg[re_v[j]]]:
                    pe[x] -= 2.0 * re_l[j]
            obj += best_val - cur_val
            accepted += 1
            if obj < best_obj - 1e-12:
                best_obj = obj
                best_lab[:] = lab
        for ri in range(nr):
            pos[reg[ri]] = -1
    if not keep_best:
        best_lab[:] = lab
    return accepted
