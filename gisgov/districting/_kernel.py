"""The annealing inner loop, compiled with numba.

Simulated annealing over boundary-unit moves is millions of tiny steps (pick a cut edge, price
moving one of its ends — or swapping both — across it, accept or not, keep the area connected).
In plain Python each step costs microseconds of interpreter overhead; compiled it costs tens
of nanoseconds, which buys many more independent starts in the same time — and the spread
between starts, not the length of one, is what decides plan quality.

The piece is passed as one :class:`PieceArrays` named tuple (numba compiles named tuples of
arrays like any argument): the graph in compressed-sparse-row form plus the unit and edge
arrays, the same eleven arrays every kernel reads. Every array the loop touches is
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
# The steps a kernel calls in its inner loop are inlined into it by numba (not left to LLVM):
# called as functions, each call passed the named tuples of arrays by value and counted
# references on every array in them, which made the annealing five times slower.
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


class Score(NamedTuple):
    """:class:`PlanTerms` with the ideal weight, the balance penalty's unit."""

    lower: float
    upper: float
    ideal: float
    disr: float
    ppw: float


class Bfs(NamedTuple):
    """Scratch of the connectivity test: visit marks, neighbour marks, the queue, and the
    stamp (one element) that makes old marks stale without clearing them."""

    mark: np.ndarray
    tmark: np.ndarray
    queue: np.ndarray
    stamp: np.ndarray


class CutSet(NamedTuple):
    """The cut edges, as a list with each edge's position in it (``-1``: not cut), so a
    random cut edge is drawn in O(1) and a move updates the set in O(degree)."""

    edges: np.ndarray
    pos: np.ndarray


class AnnealState(NamedTuple):
    """What one annealing run updates: the plan, its cut edges, the connectivity scratch and
    the figures of the two moves being priced (see :func:`_delta`)."""

    plan: PlanArrays
    cuts: CutSet
    bfs: Bfs
    mv: np.ndarray
    mv2: np.ndarray


@_step
def _pp(area: float, per: float) -> float:
    return FOUR_PI * area / (per * per) if per > 0.0 else 0.0


@_step
def _pen(x: float, sc: Score) -> float:
    if x > sc.upper:
        return (x - sc.upper) / sc.ideal
    if x < sc.lower:
        return (sc.lower - x) / sc.ideal
    return 0.0


@_jit
def _bfs(n: int) -> Bfs:
    return Bfs(np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64),
               np.zeros(n, dtype=np.int64), np.zeros(1, dtype=np.int64))


@_step
def _connected_without(piece: PieceArrays, lab: np.ndarray, u: int, a: int, na: int,
                       bfs: Bfs) -> bool:
    """Whether area ``a`` stays connected when ``u`` (``na`` neighbours in ``a``) leaves it: a
    BFS from one neighbour that stops once all ``na`` are reached (usually a few steps)."""
    ptr, adj = piece.ptr, piece.adj
    mark, tmark, queue = bfs.mark, bfs.tmark, bfs.queue
    bfs.stamp[0] += 1
    stamp = bfs.stamp[0]
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


@_step
def _delta(piece: PieceArrays, plan: PlanArrays, sc: Score, u: int, b: int,
           out: np.ndarray) -> int:
    """Price moving ``u`` to area ``b``: fills ``out`` with (objective change, penalty change,
    new perimeters and areas of both areas) and returns ``u``'s neighbour count in its own
    area, or ``-1`` when ``u`` does not touch ``b``."""
    ptr, adj, adje, adjl, cost = piece.ptr, piece.adj, piece.adje, piece.adjl, piece.cost
    lab, wt, ar, pe = plan.lab, plan.wt, plan.ar, plan.pe
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
    wu = piece.w[u]
    d = d_cut
    if sc.disr != 0.0:
        h = piece.hm[u]
        d += sc.disr * wu * ((1.0 if b != h else 0.0) - (1.0 if a != h else 0.0))
    pa2 = pe[a] - piece.perim[u] + 2.0 * la
    pb2 = pe[b] + piece.perim[u] - 2.0 * lb
    aa2 = ar[a] - piece.uarea[u]
    ab2 = ar[b] + piece.uarea[u]
    if sc.ppw != 0.0:
        d += sc.ppw * (_pp(ar[a], pe[a]) + _pp(ar[b], pe[b]) - _pp(aa2, pa2) - _pp(ab2, pb2))
    dpen = (
        _pen(wt[a] - wu, sc) + _pen(wt[b] + wu, sc) - _pen(wt[a], sc) - _pen(wt[b], sc)
    )
    out[0] = d
    out[1] = dpen
    out[2] = pa2
    out[3] = pb2
    out[4] = aa2
    out[5] = ab2
    return na


@_step
def _move(piece: PieceArrays, plan: PlanArrays, cuts: CutSet, u: int, b: int,
          mv: np.ndarray, ncut: int) -> int:
    """Move ``u`` to ``b`` with the figures ``mv`` from :func:`_delta`; the new cut count."""
    lab, wt, cnt = plan.lab, plan.wt, plan.cnt
    cut_list, cut_pos = cuts.edges, cuts.pos
    a = lab[u]
    wu = piece.w[u]
    lab[u] = b
    wt[a] -= wu
    wt[b] += wu
    plan.ar[a] = mv[4]
    plan.ar[b] = mv[5]
    plan.pe[a] = mv[2]
    plan.pe[b] = mv[3]
    cnt[a] -= 1
    cnt[b] += 1
    for i in range(piece.ptr[u], piece.ptr[u + 1]):
        lx = lab[piece.adj[i]]
        e = piece.adje[i]
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


@_step
def _feasible(wt: np.ndarray, lower: float, upper: float) -> bool:
    eps = 1e-9 * upper
    for x in wt:  # noqa: SIM110 (numba compiles loops, not generator expressions)
        if x < lower - eps or x > upper + eps:
            return False
    return True


@_jit
def _anneal_state(piece: PieceArrays, lab: np.ndarray, k: int) -> AnnealState:
    m = piece.cost.shape[0]
    return AnnealState(plan_arrays(piece, lab, k),
                       CutSet(np.zeros(m, dtype=np.int64), np.full(m, -1, dtype=np.int64)),
                       _bfs(lab.shape[0]), np.zeros(6), np.zeros(6))


@_jit
def _start_figures(piece: PieceArrays, sc: Score, plan: PlanArrays,
                   cuts: CutSet) -> tuple[int, float, float]:
    """Fill the cut set of the starting plan; its cut count, objective and balance
    penalty."""
    lab, ends = plan.lab, piece.ends
    ncut = 0
    obj = 0.0
    for e in range(piece.cost.shape[0]):
        u = ends[e, 0]
        v = ends[e, 1]
        if lab[u] != lab[v]:
            cuts.pos[e] = ncut
            cuts.edges[ncut] = e
            ncut += 1
            obj += piece.cost[e]
    for u in range(lab.shape[0]):
        if lab[u] != piece.hm[u]:
            obj += sc.disr * piece.w[u]
    k = plan.wt.shape[0]
    for a in range(k):
        obj += sc.ppw * (1.0 - _pp(plan.ar[a], plan.pe[a]))
    infeas = 0.0
    for a in range(k):
        infeas += _pen(plan.wt[a], sc)
    return ncut, obj, infeas


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


@_step
def _swap(piece: PieceArrays, sc: Score, st: AnnealState, u: int, v: int, na: int,
          ncut: int, lam: float, temp: float) -> tuple[bool, int, float, float]:
    """Swap ``u`` (priced in ``st.mv``) and ``v`` across their edge, or leave the plan as it
    was; (accepted, cut count, objective change, penalty change)."""
    lab, mv, mv2 = st.plan.lab, st.mv, st.mv2
    a = lab[u]
    b = lab[v]
    if na > 1 and not _connected_without(piece, lab, u, a, na, st.bfs):
        return False, ncut, 0.0, 0.0
    ncut = _move(piece, st.plan, st.cuts, u, b, mv, ncut)
    nb = _delta(piece, st.plan, sc, v, a, mv2)
    ok = nb >= 0
    if ok:
        total = mv[0] + mv2[0] + lam * (mv[1] + mv2[1])
        ok = total <= 0.0 or np.random.random() < math.exp(-total / temp)
    if ok and nb > 1:
        ok = _connected_without(piece, lab, v, b, nb, st.bfs)
    if not ok:
        # put u back; it just left a, so a stays connected
        _delta(piece, st.plan, sc, u, a, mv2)
        ncut = _move(piece, st.plan, st.cuts, u, a, mv2, ncut)
        return False, ncut, 0.0, 0.0
    ncut = _move(piece, st.plan, st.cuts, v, a, mv2, ncut)
    return True, ncut, mv[0] + mv2[0], mv[1] + mv2[1]


@_step
def _single(piece: PieceArrays, st: AnnealState, u: int, b: int, na: int, ncut: int,
            lam: float, temp: float) -> tuple[bool, int, float, float]:
    """Move ``u`` (priced in ``st.mv``) to ``b`` by the Metropolis rule, keeping its area
    connected; (accepted, cut count, objective change, penalty change)."""
    mv = st.mv
    total = mv[0] + lam * mv[1]
    if total > 0.0 and np.random.random() >= math.exp(-total / temp):
        return False, ncut, 0.0, 0.0
    if na > 1 and not _connected_without(piece, st.plan.lab, u, st.plan.lab[u], na, st.bfs):
        return False, ncut, 0.0, 0.0
    ncut = _move(piece, st.plan, st.cuts, u, b, mv, ncut)
    return True, ncut, mv[0], mv[1]


@_step
def _propose(piece: PieceArrays, sc: Score, st: AnnealState, ncut: int, lam: float,
             temp: float) -> tuple[bool, int, float, float]:
    """One annealing proposal: a random cut edge, one end moved across it or, one time in
    three, both ends swapped; (accepted, cut count, objective change, penalty change)."""
    lab, cnt = st.plan.lab, st.plan.cnt
    e = st.cuts.edges[np.random.randint(ncut)]
    r = np.random.random()
    u = piece.ends[e, 0]
    v = piece.ends[e, 1]
    if r < 0.5:
        u, v = v, u
    a = lab[u]
    b = lab[v]
    if piece.lk[u] >= 0 or cnt[a] <= 1:
        return False, ncut, 0.0, 0.0
    na = _delta(piece, st.plan, sc, u, b, st.mv)
    if na < 0:
        return False, ncut, 0.0, 0.0
    if (r < 0.15 or r > 0.85) and piece.lk[v] < 0 and cnt[b] > 1:
        return _swap(piece, sc, st, u, v, na, ncut, lam, temp)
    return _single(piece, st, u, b, na, ncut, lam, temp)


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

    Proposals (:func:`_propose`): a random cut edge, one of its ends moved across it or, one
    time in three, both ends swapped (the fine steps tight tolerances need when every single
    move overshoots the balance window). Temperature cools geometrically from ``0.5·hot`` to
    ``0.005`` mean edge costs; the balance penalty hardens over the first two thirds of the
    run (from the start when ``hot < 1``: a polish of a balanced plan rather than a search).

    Returns
    -------
    tuple
        ``(best objective, feasible, iterations run)``; the best balanced plan is written to
        ``best_lab`` (the last plan when none was balanced).
    """
    np.random.seed(seed)
    n = lab0.shape[0]
    total_w = 0.0
    for u in range(n):
        total_w += piece.w[u]
    sc = Score(terms.lower, terms.upper, total_w / terms.k, terms.disr, terms.ppw)
    st = _anneal_state(piece, lab0.copy(), terms.k)
    lab, wt = st.plan.lab, st.plan.wt
    ncut, obj, infeas = _start_figures(piece, sc, st.plan, st.cuts)
    best_obj = math.inf
    feasible = _feasible(wt, sc.lower, sc.upper)
    best_lab[:] = lab
    if feasible:
        best_obj = obj
    t0, t1, lam0, lam1 = _schedule(piece, terms.k, hot)
    temp = t0
    lam = lam0
    it = 0
    for it in range(iterations):
        if (it & 1023) == 0:
            frac = it / iterations
            temp = t0 * (t1 / t0) ** frac
            lam = lam0 * (lam1 / lam0) ** min(1.0, 1.5 * frac)
        if ncut == 0:
            break
        ok, ncut, d_obj, d_pen = _propose(piece, sc, st, ncut, lam, temp)
        if not ok:
            continue
        obj += d_obj
        infeas += d_pen
        if infeas <= 1e-12 and obj < best_obj - 1e-12 and _feasible(wt, sc.lower, sc.upper):
            best_obj = obj
            best_lab[:] = lab
            feasible = True
    if not feasible:
        best_lab[:] = lab
    return best_obj, feasible, it + 1
