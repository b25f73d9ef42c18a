"""The annealing inner loop, compiled with numba.

Simulated annealing over boundary-unit moves is millions of tiny steps (pick a cut edge, price
moving one of its ends — or swapping both — across it, accept or not, keep the area connected).
In plain Python each step costs microseconds of interpreter overhead; compiled it costs tens
of nanoseconds, which buys many more independent starts in the same time — and the spread
between starts, not the length of one, is what decides plan quality.

The piece is passed as one :class:`PieceArrays` named tuple (numba compiles named tuples of
arrays like any argument): the graph in compressed-sparse-row form plus the unit and edge
arrays, the same eleven arrays every kernel reads; the plan's rules come as one
:class:`PlanTerms`. Inside :func:`anneal_kernel` the hot helpers (:func:`_delta`,
:func:`_move`, :func:`_connected_without`) still take plain arrays: measured on the county
(2 M proposals), passing them the named tuples — called, or inlined by numba together with
the proposal steps — made the loop 20–40 % slower, and these few million steps are what
the search's speed is. Every array the loop touches is
preallocated, so one call allocates nothing per step. The code is plain numba-typed
Python: with ``NUMBA_DISABLE_JIT=1`` the same functions run (slowly) in the interpreter, which
is how a compiled and an interpreted run can be compared.

Compiled functions are cached on disk (``cache=True``): the first run on a machine compiles
them (about 7 s here, 16 s with the merge-split kernels of :mod:`._recom`), later processes
load them in a fraction of a second.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar, cast

import numba
import numpy as np

from gisgov.districting.graph import UnitGraph

__all__ = [
    "Csr",
    "KernelData",
    "PieceArrays",
    "PlanArrays",
    "PlanTerms",
    "anneal_kernel",
    "csr_from_graph",
    "csr_from_incidence",
    "kernel_data",
    "kernel_ready",
    "plan_arrays",
    "plan_terms",
]

F = TypeVar("F", bound=Callable[..., Any])
# numba's decorator is untyped; this keeps the decorated functions' signatures for mypy.
_jit = cast(Callable[[F], F], numba.njit(cache=True, nogil=True))
# The merge-split steps (:mod:`._recom`) are inlined into their kernel by numba: called as
# functions, each call passed the named tuples of arrays by value (five times slower).
_step = cast(Callable[[F], F], numba.njit(cache=True, nogil=True, inline="always"))

FOUR_PI = 4.0 * math.pi


@dataclass(frozen=True)
class Csr:
    """A unit graph as arrays: neighbours of ``u`` are ``adj[ptr[u]:ptr[u + 1]]``, with the
    edge ids ``adje`` and shared lengths ``adjl`` of the same slots; ``ends[e]`` the two units
    of edge ``e``."""

    ptr: np.ndarray
    adj: np.ndarray
    adje: np.ndarray
    adjl: np.ndarray
    ends: np.ndarray


def kernel_ready() -> bool:
    """Whether this process has the annealing kernel loaded (compiled or read from the cache)."""
    return bool(cast(Any, anneal_kernel).signatures)


def csr_from_incidence(
    nbrs: Sequence[Sequence[int] | np.ndarray], inc: Sequence[Sequence[int] | np.ndarray],
    shared_length: np.ndarray,
    ends: np.ndarray,
) -> Csr:
    """The :class:`Csr` form of per-unit neighbour and incident-edge lists (the order of
    :meth:`UnitGraph.neighbors`), with the shared length of every edge."""
    ptr = np.zeros(len(nbrs) + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(x) for x in nbrs])
    adj = np.asarray([v for x in nbrs for v in x], dtype=np.int64)
    adje = np.asarray([e for x in inc for e in x], dtype=np.int64)
    # neighbours in ascending order within each unit's slice
    order = np.lexsort((adj, np.repeat(np.arange(len(nbrs)), np.diff(ptr))))
    adj, adje = adj[order], adje[order]
    return Csr(
        ptr=ptr,
        adj=adj,
        adje=adje,
        adjl=np.asarray(shared_length, dtype=np.float64)[adje],
        ends=np.asarray(ends, dtype=np.int64).reshape(-1, 2),
    )


def csr_from_graph(graph: UnitGraph) -> Csr:
    """The :class:`Csr` form of ``graph``."""
    return csr_from_incidence(graph.neighbors(), graph.incident_edges(), graph.shared_length,
                              graph.edges)


class PieceArrays(NamedTuple):
    """One piece as the compiled kernels take it: one argument instead of eleven arrays.

    ``ptr``, ``adj``, ``adje``, ``adjl``, ``ends`` are the :class:`Csr` graph; ``cost`` the
    objective cost of cutting each edge; ``perim``, ``uarea``, ``w`` unit perimeter, area and
    weight; ``lk`` the locked area per unit (``-1`` free) and ``hm`` the current-plan area
    (``-1`` none). Graph and label arrays are ``int64``, the others ``float64``.
    """

    ptr: np.ndarray
    adj: np.ndarray
    adje: np.ndarray
    adjl: np.ndarray
    ends: np.ndarray
    cost: np.ndarray
    perim: np.ndarray
    uarea: np.ndarray
    w: np.ndarray
    lk: np.ndarray
    hm: np.ndarray


@dataclass(frozen=True)
class KernelData:
    """A piece in the array form every compiled step takes: its :class:`Csr` graph, edge
    costs, unit perimeters, areas and weights, locked and current (home) area per unit."""

    csr: Csr
    cost: np.ndarray
    perim: np.ndarray
    uarea: np.ndarray
    w: np.ndarray
    lk: np.ndarray
    hm: np.ndarray

    @property
    def arrays(self) -> PieceArrays:
        """The same piece as the one argument the kernels take."""
        c = self.csr
        return PieceArrays(c.ptr, c.adj, c.adje, c.adjl, c.ends, self.cost, self.perim,
                           self.uarea, self.w, self.lk, self.hm)


def kernel_data(
    csr: Csr, *, cost: Sequence[float], perim: Sequence[float], uarea: Sequence[float],
    w: Sequence[float], lk: Sequence[int], hm: Sequence[int],
) -> KernelData:
    """:class:`KernelData` with every array in the dtype the kernels are compiled for."""
    def f64(x: Sequence[float]) -> np.ndarray:
        return np.asarray(x, dtype=np.float64)

    return KernelData(csr=csr, cost=f64(cost), perim=f64(perim), uarea=f64(uarea), w=f64(w),
                      lk=np.asarray(lk, dtype=np.int64), hm=np.asarray(hm, dtype=np.int64))


class PlanTerms(NamedTuple):
    """The rules a piece's plan is held to, as the kernels take them: ``k`` areas, each
    weighing within ``[lower, upper]``; ``disr`` the disruption cost per unit of weight
    moved off its current area and ``ppw`` the Polsby-Popper weight per area."""

    k: int
    lower: float
    upper: float
    disr: float
    ppw: float


def plan_terms(k: int, lower: float, upper: float, disr: float, ppw: float) -> PlanTerms:
    """:class:`PlanTerms` in the types the kernels are compiled for (one signature, one cache
    entry, whatever number types the caller holds)."""
    return PlanTerms(int(k), float(lower), float(upper), float(disr), float(ppw))


class PlanArrays(NamedTuple):
    """A plan with the per-area figures every move updates in place: area per unit
    (``lab``), and per area its weight, surface, perimeter and unit count."""

    lab: np.ndarray
    wt: np.ndarray
    ar: np.ndarray
    pe: np.ndarray
    cnt: np.ndarray


class Bfs(NamedTuple):
    """Scratch of the connectivity test: visit marks, neighbour marks, the queue, and the
    stamp (one element) that makes old marks stale without clearing them."""

    mark: np.ndarray
    tmark: np.ndarray
    queue: np.ndarray
    stamp: np.ndarray


@_jit
def _pp(area: float, per: float) -> float:
    return FOUR_PI * area / (per * per) if per > 0.0 else 0.0


@_jit
def _pen(x: float, lower: float, upper: float, ideal: float) -> float:
    if x > upper:
        return (x - upper) / ideal
    if x < lower:
        return (lower - x) / ideal
    return 0.0


@_jit
def _connected_without(
    ptr: np.ndarray,
    adj: np.ndarray,
    lab: np.ndarray,
    u: int,
    a: int,
    na: int,
    mark: np.ndarray,
    tmark: np.ndarray,
    stamp: int,
    queue: np.ndarray,
) -> bool:
    """Whether area ``a`` stays connected when ``u`` (``na`` neighbours in ``a``) leaves it: a
    BFS from one neighbour that stops once all ``na`` are reached (usually a few steps)."""
    start = -1
    for i in range(ptr[u], ptr[u + 1]):
        x = adj[i]
        if lab[x] == a:
            tmark[x] = stamp
            if start < 0:
                start = x
    mark[start] = stamp
    mark[u] = stamp
    found = 1
    head = 0
    tail = 1
    queue[0] = start
    while head < tail:
        y = queue[head]
        head += 1
        for j in range(ptr[y], ptr[y + 1]):
            z = adj[j]
            if mark[z] != stamp and lab[z] == a:
                mark[z] = stamp
                if tmark[z] == stamp:
                    found += 1
                    if found == na:
                        return True
                queue[tail] = z
                tail += 1
    return found == na


@_jit
def _delta(
    u: int,
    b: int,
    ptr: np.ndarray,
    adj: np.ndarray,
    adje: np.ndarray,
    adjl: np.ndarray,
    cost: np.ndarray,
    lab: np.ndarray,
    w: np.ndarray,
    hm: np.ndarray,
    perim: np.ndarray,
    uarea: np.ndarray,
    wt: np.ndarray,
    ar: np.ndarray,
    pe: np.ndarray,
    disr: float,
    ppw: float,
    lower: float,
    upper: float,
    ideal: float,
    out: np.ndarray,
) -> int:
    """Price moving ``u`` to area ``b``: fills ``out`` with (objective change, penalty change,
    new perimeters and areas of both areas) and returns ``u``'s neighbour count in its own
    area, or ``-1`` when ``u`` does not touch ``b``."""
    a = lab[u]
    d_cut = 0.0
    la = 0.0
    lb = 0.0
    na = 0
    nb = 0
    for i in range(ptr[u], ptr[u + 1]):
        lx = lab[adj[i]]
        if lx == a:
            d_cut += cost[adje[i]]
            la += adjl[i]
            na += 1
        elif lx == b:
            d_cut -= cost[adje[i]]
            lb += adjl[i]
            nb += 1
    if nb == 0:
        return -1
    wu = w[u]
    d = d_cut
    if disr != 0.0:
        h = hm[u]
        d += disr * wu * ((1.0 if b != h else 0.0) - (1.0 if a != h else 0.0))
    pa2 = pe[a] - perim[u] + 2.0 * la
    pb2 = pe[b] + perim[u] - 2.0 * lb
    aa2 = ar[a] - uarea[u]
    ab2 = ar[b] + uarea[u]
    if ppw != 0.0:
        d += ppw * (_pp(ar[a], pe[a]) + _pp(ar[b], pe[b]) - _pp(aa2, pa2) - _pp(ab2, pb2))
    dpen = (
        _pen(wt[a] - wu, lower, upper, ideal) + _pen(wt[b] + wu, lower, upper, ideal)
        - _pen(wt[a], lower, upper, ideal) - _pen(wt[b], lower, upper, ideal)
    )
    out[0] = d
    out[1] = dpen
    out[2] = pa2
    out[3] = pb2
    out[4] = aa2
    out[5] = ab2
    return na


@_jit
def _move(
    u: int,
    b: int,
    mv: np.ndarray,
    ptr: np.ndarray,
    adj: np.ndarray,
    adje: np.ndarray,
    lab: np.ndarray,
    w: np.ndarray,
    wt: np.ndarray,
    ar: np.ndarray,
    pe: np.ndarray,
    cnt: np.ndarray,
    cut_list: np.ndarray,
    cut_pos: np.ndarray,
    ncut: int,
) -> int:
    """Move ``u`` to ``b`` with the figures ``mv`` from :func:`_delta`; the new cut count."""
    a = lab[u]
    wu = w[u]
    lab[u] = b
    wt[a] -= wu
    wt[b] += wu
    ar[a] = mv[4]
    ar[b] = mv[5]
    pe[a] = mv[2]
    pe[b] = mv[3]
    cnt[a] -= 1
    cnt[b] += 1
    for i in range(ptr[u], ptr[u + 1]):
        lx = lab[adj[i]]
        e = adje[i]
        if lx == a:
            if cut_pos[e] < 0:
                cut_pos[e] = ncut
                cut_list[ncut] = e
                ncut += 1
        elif lx == b:
            p = cut_pos[e]
            if p >= 0:
                ncut -= 1
                last = cut_list[ncut]
                if last != e:
                    cut_list[p] = last
                    cut_pos[last] = p
                cut_pos[e] = -1
    return ncut


@_jit
def plan_arrays(piece: PieceArrays, lab: np.ndarray, k: int) -> PlanArrays:
    """``lab`` (not copied) with the weight, surface, perimeter and unit count of every area."""
    ptr, adj, adjl = piece.ptr, piece.adj, piece.adjl
    wt = np.zeros(k)
    ar = np.zeros(k)
    pe = np.zeros(k)
    cnt = np.zeros(k, dtype=np.int64)
    for u in range(lab.shape[0]):
        a = lab[u]
        wt[a] += piece.w[u]
        ar[a] += piece.uarea[u]
        pe[a] += piece.perim[u]
        cnt[a] += 1
        for i in range(ptr[u], ptr[u + 1]):
            x = adj[i]
            if x > u and lab[x] == a:
                pe[a] -= 2.0 * adjl[i]
    return PlanArrays(lab, wt, ar, pe, cnt)


@_jit
def _bfs(n: int) -> Bfs:
    return Bfs(np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64),
               np.zeros(n, dtype=np.int64), np.zeros(1, dtype=np.int64))


@_step
def still_connected(piece: PieceArrays, lab: np.ndarray, u: int, a: int, na: int,
                    bfs: Bfs) -> bool:
    """:func:`_connected_without` with a fresh stamp of ``bfs``."""
    bfs.stamp[0] += 1
    return _connected_without(piece.ptr, piece.adj, lab, u, a, na, bfs.mark, bfs.tmark,
                              bfs.stamp[0], bfs.queue)


@_jit
def _feasible(wt: np.ndarray, lower: float, upper: float) -> bool:
    eps = 1e-9 * upper
    for x in wt:  # noqa: SIM110 (numba compiles loops, not generator expressions)
        if x < lower - eps or x > upper + eps:
            return False
    return True


@_jit
def _cut_set(piece: PieceArrays, lab: np.ndarray, cut_list: np.ndarray, cut_pos: np.ndarray
             ) -> tuple[int, float]:
    """Fill the cut-edge set of ``lab`` (``cut_list``, with each edge's position in
    ``cut_pos``); the number of cut edges and their cost."""
    ends = piece.ends
    ncut = 0
    cut = 0.0
    for e in range(piece.cost.shape[0]):
        u = ends[e, 0]
        v = ends[e, 1]
        if lab[u] != lab[v]:
            cut_pos[e] = ncut
            cut_list[ncut] = e
            ncut += 1
            cut += piece.cost[e]
    return ncut, cut


@_jit
def _schedule(piece: PieceArrays, k: int, hot: float) -> tuple[float, float, float, float]:
    """Start and end temperature and balance-penalty weight, in mean edge costs."""
    m = piece.cost.shape[0]
    mean_edge = 1.0
    if m > 0:
        mean_edge = 0.0
        for e in range(m):
            mean_edge += piece.cost[e]
        mean_edge /= m
    lam1 = 200.0 * mean_edge * k
    lam0 = lam1 if hot < 1.0 else 5.0 * mean_edge
    return 0.5 * mean_edge * hot, 0.005 * mean_edge, lam0, lam1


@_jit
def anneal_kernel(
    piece: PieceArrays,
    terms: PlanTerms,
    lab0: np.ndarray,
    iterations: int,
    seed: int,
    hot: float,
    best_lab: np.ndarray,
) -> tuple[float, bool, int]:
    """Simulated annealing from ``lab0`` (a contiguous plan with every area non-empty).

    Proposals: a random cut edge, one of its ends moved across it or, one time in three, both
    ends swapped (the fine steps tight tolerances need when every single move overshoots the
    balance window). Temperature cools geometrically from ``0.5·hot`` to ``0.005`` mean edge
    costs; the balance penalty hardens over the first two thirds of the run (from the start
    when ``hot < 1``: a polish of a balanced plan rather than a search).

    Returns
    -------
    tuple
        ``(best objective, feasible, iterations run)``; the best balanced plan is written to
        ``best_lab`` (the last plan when none was balanced).
    """
    ptr, adj, adje, adjl, ends = piece.ptr, piece.adj, piece.adje, piece.adjl, piece.ends
    cost, perim, uarea, w, lk, hm = (piece.cost, piece.perim, piece.uarea, piece.w, piece.lk,
                                     piece.hm)
    k, lower, upper, disr, ppw = terms.k, terms.lower, terms.upper, terms.disr, terms.ppw
    np.random.seed(seed)
    n = lab0.shape[0]
    m = cost.shape[0]
    lab = lab0.copy()
    total_w = 0.0
    for u in range(n):
        total_w += w[u]
    ideal = total_w / k
    plan = plan_arrays(piece, lab, k)
    wt, ar, pe, cnt = plan.wt, plan.ar, plan.pe, plan.cnt
    cut_pos = np.full(m, -1, dtype=np.int64)
    cut_list = np.zeros(m, dtype=np.int64)
    ncut, obj = _cut_set(piece, lab, cut_list, cut_pos)
    for u in range(n):
        if lab[u] != hm[u]:
            obj += disr * w[u]
    for a in range(k):
        obj += ppw * (1.0 - _pp(ar[a], pe[a]))
    infeas = 0.0
    for a in range(k):
        infeas += _pen(wt[a], lower, upper, ideal)

    best_obj = math.inf
    feasible = _feasible(wt, lower, upper)
    best_lab[:] = lab
    if feasible:
        best_obj = obj
    t0, t1, lam0, lam1 = _schedule(piece, k, hot)
    temp = t0
    lam = lam0
    mv = np.zeros(6)
    mv2 = np.zeros(6)
    mark = np.zeros(n, dtype=np.int64)
    tmark = np.zeros(n, dtype=np.int64)
    queue = np.zeros(n, dtype=np.int64)
    stamp = 0
    it = 0
    for it in range(iterations):
        if (it & 1023) == 0:
            frac = it / iterations
            temp = t0 * (t1 / t0) ** frac
            lam = lam0 * (lam1 / lam0) ** min(1.0, 1.5 * frac)
        if ncut == 0:
            break
        e = cut_list[np.random.randint(ncut)]
        r = np.random.random()
        u = ends[e, 0]
        v = ends[e, 1]
        if r < 0.5:
            u, v = v, u
        a = lab[u]
        b = lab[v]
        if lk[u] >= 0 or cnt[a] <= 1:
            continue
        na = _delta(u, b, ptr, adj, adje, adjl, cost, lab, w, hm, perim, uarea, wt, ar, pe,
                    disr, ppw, lower, upper, ideal, mv)
        if na < 0:
            continue
        if (r < 0.15 or r > 0.85) and lk[v] < 0 and cnt[b] > 1:
            stamp += 1
            if na > 1 and not _connected_without(ptr, adj, lab, u, a, na, mark, tmark, stamp,
                                                 queue):
                continue
            ncut = _move(u, b, mv, ptr, adj, adje, lab, w, wt, ar, pe, cnt, cut_list,
                         cut_pos, ncut)
            nb = _delta(v, a, ptr, adj, adje, adjl, cost, lab, w, hm, perim, uarea, wt, ar,
                        pe, disr, ppw, lower, upper, ideal, mv2)
            ok = nb >= 0
            if ok:
                total = mv[0] + mv2[0] + lam * (mv[1] + mv2[1])
                ok = total <= 0.0 or np.random.random() < math.exp(-total / temp)
            if ok and nb > 1:
                stamp += 1
                ok = _connected_without(ptr, adj, lab, v, b, nb, mark, tmark, stamp, queue)
            if not ok:
                # put u back; it just left a, so a stays connected
                _delta(u, a, ptr, adj, adje, adjl, cost, lab, w, hm, perim, uarea, wt, ar,
                       pe, disr, ppw, lower, upper, ideal, mv2)
                ncut = _move(u, a, mv2, ptr, adj, adje, lab, w, wt, ar, pe, cnt, cut_list,
                             cut_pos, ncut)
                continue
            ncut = _move(v, a, mv2, ptr, adj, adje, lab, w, wt, ar, pe, cnt, cut_list,
                         cut_pos, ncut)
            obj += mv[0] + mv2[0]
            infeas += mv[1] + mv2[1]
        else:
            total = mv[0] + lam * mv[1]
            if total > 0.0 and np.random.random() >= math.exp(-total / temp):
                continue
            if na > 1:
                stamp += 1
                if not _connected_without(ptr, adj, lab, u, a, na, mark, tmark, stamp, queue):
                    continue
            ncut = _move(u, b, mv, ptr, adj, adje, lab, w, wt, ar, pe, cnt, cut_list,
                         cut_pos, ncut)
            obj += mv[0]
            infeas += mv[1]
        if infeas <= 1e-12 and obj < best_obj - 1e-12 and _feasible(wt, lower, upper):
            best_obj = obj
            best_lab[:] = lab
            feasible = True
    if not feasible:
        best_lab[:] = lab
    return best_obj, feasible, it + 1
