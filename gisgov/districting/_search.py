"""The heuristic: seeded construction, then simulated annealing over boundary-unit moves.

One connected piece of the graph with ``k`` areas is solved at a time (the engine splits the
problem by component and containment group first). The constructions work on plain Python
lists (a few thousand steps each); the annealing (:mod:`._kernel`) and the merge-split phase
(:mod:`._recom`) — millions of steps — are compiled and share one array form of the piece,
:class:`~._kernel.KernelData`.

The search is a :class:`PieceSearch` state and steps that take and return it, in the manner of
GerryChain's chain over a partition: :func:`construct` (starting plans), :func:`anneal_starts`
(anneal them, keep the best), :func:`recombine_best` (merge-split bursts and a clean-up);
:func:`search_piece` chains them within a :class:`SearchBudget`.
"""

from __future__ import annotations

import math
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from gisgov.districting._bisect import bisect_plan
from gisgov.districting._kernel import (
    KernelData,
    anneal_kernel,
    csr_from_incidence,
    kernel_data,
    kernel_ready,
    plan_terms,
)
from gisgov.districting._recom import (
    Context,
    greedy_cleanup,
    plan_objective,
    recom_ready,
    recombine,
)
from gisgov.districting.graph import UnitGraph
from gisgov.districting.objective import Objective

ProgressFn = Callable[[str, float], None]


@dataclass
class SearchResult:
    labels: np.ndarray | None
    objective: float
    feasible: bool
    iterations: int
    timed_out: bool


def _seeds(xy: np.ndarray, k: int, rng: np.random.Generator, fixed: list[int]) -> list[int]:
    """k-means++ style spread seeds; ``fixed`` seeds (locked areas) come first."""
    n = len(xy)
    seeds = list(fixed)
    if not seeds:
        seeds.append(int(rng.integers(n)))
    d2 = np.full(n, np.inf)
    for s in seeds:
        d2 = np.minimum(d2, ((xy - xy[s]) ** 2).sum(axis=1))
    while len(seeds) < k:
        p = d2 / d2.sum() if d2.sum() > 0 else np.full(n, 1.0 / n)
        s = int(rng.choice(n, p=p))
        seeds.append(s)
        d2 = np.minimum(d2, ((xy - xy[s]) ** 2).sum(axis=1))
    return seeds


def _grow(
    nbrs: list[list[int]],
    shared: list[dict[int, float]],
    perim: list[float],
    w: list[float],
    k: int,
    init: list[int],
    reserved: list[int],
    rng: np.random.Generator,
) -> list[int]:
    """Grow areas from the units already labelled in ``init`` (-1 = free): the lightest area
    with a free neighbour takes the free neighbour it shares most boundary with.

    ``reserved[u] = a`` keeps locked unit ``u`` for area ``a`` only.
    """
    n = len(nbrs)
    lab = list(init)
    wt = [0.0] * k
    frontier: list[set[int]] = [set() for _ in range(k)]
    for u in range(n):
        if lab[u] >= 0:
            wt[lab[u]] += w[u]
    for u in range(n):
        if lab[u] >= 0:
            for v in nbrs[u]:
                if lab[v] < 0:
                    frontier[lab[u]].add(v)
    jitter = rng.random(n) * 1e-6
    while True:
        best_a, best_w = -1, math.inf
        for a in range(k):
            fr = frontier[a]
            # Drop taken units and units reserved for another area lazily.
            stale = [v for v in fr if lab[v] >= 0 or (reserved[v] >= 0 and reserved[v] != a)]
            for v in stale:
                fr.discard(v)
            if fr and wt[a] < best_w:
                best_a, best_w = a, wt[a]
        if best_a < 0:
            break
        a = best_a
        best_u, best_s = -1, -math.inf
        for v in frontier[a]:
            if reserved[v] == a:
                best_u = v
                break
            s = sum(ell for x, ell in shared[v].items() if lab[x] == a) / max(perim[v], 1e-9)
            s += jitter[v]
            if s > best_s:
                best_u, best_s = v, s
        if best_u < 0:
            # Only on broken scores (NaN); stop rather than loop: callers repair or skip.
            break
        u = best_u
        lab[u] = a
        wt[a] += w[u]
        frontier[a].discard(u)
        for v in nbrs[u]:
            if lab[v] < 0:
                frontier[a].add(v)
    return lab


def _make_contiguous(
    nbrs: list[list[int]],
    w: list[float],
    k: int,
    lab: list[int],
    locked: list[int],
) -> list[int]:
    """Keep each area's main piece (the one holding its locked units, else the heaviest) and
    hand the other pieces to neighbouring areas; locked stray units are reconnected by a
    shortest path of unlocked units."""
    n = len(nbrs)
    for _ in range(4 * k + 4):
        changed = False
        for a in range(k):
            members = [u for u in range(n) if lab[u] == a]
            if not members:
                continue
            pieces = _pieces(nbrs, lab, a, members)
            if len(pieces) <= 1:
                continue
            changed = True

            pieces.sort(key=partial(_piece_rank, locked=locked, w=w, a=a), reverse=True)
            main = set(pieces[0])
            for p in pieces[1:]:
                if any(locked[u] == a for u in p):
                    path = _path(nbrs, p, main, locked, a)
                    for u in path:
                        lab[u] = a
                    main.update(path)
                    main.update(p)
                else:
                    for u in p:
                        lab[u] = -1
        # Free units join an adjacent area (lightest first); repeat until none left.
        free = [u for u in range(n) if lab[u] < 0]
        while free:
            wt = [0.0] * k
            for u in range(n):
                if lab[u] >= 0:
                    wt[lab[u]] += w[u]
            rest = []
            for u in free:
                cand = [lab[v] for v in nbrs[u] if lab[v] >= 0]
                if cand:
                    lab[u] = min(cand, key=lambda b: wt[b])
                    wt[lab[u]] += w[u]
                else:
                    rest.append(u)
            if len(rest) == len(free):
                break
            free = rest
        if not changed:
            break
    return lab


def _piece_rank(p: list[int], *, locked: list[int], w: list[float], a: int) -> tuple[int, float]:
    """Rank an area's pieces: the one holding its locked units, else the heaviest, is kept."""
    return (sum(1 for u in p if locked[u] == a), sum(w[u] for u in p))


def _pieces(nbrs: list[list[int]], lab: list[int], a: int, members: list[int]) -> list[list[int]]:
    seen: set[int] = set()
    out = []
    for s in members:
        if s in seen:
            continue
        comp = [s]
        seen.add(s)
        q = deque([s])
        while q:
            u = q.popleft()
            for v in nbrs[u]:
                if lab[v] == a and v not in seen:
                    seen.add(v)
                    comp.append(v)
                    q.append(v)
        out.append(comp)
    return out


def _path(
    nbrs: list[list[int]], src: list[int], dst: set[int], locked: list[int], a: int
) -> list[int]:
    """Shortest path (in units) from piece ``src`` to ``dst`` avoiding units locked elsewhere."""
    prev: dict[int, int] = dict.fromkeys(src, -1)
    q = deque(src)
    while q:
        u = q.popleft()
        if u in dst:
            out = []
            while u != -1:
                out.append(u)
                u = prev[u]
            return out
        for v in nbrs[u]:
            if v not in prev and (locked[v] < 0 or locked[v] == a):
                prev[v] = u
                q.append(v)
    return []


@dataclass
class PieceSearch:
    """One piece being searched, the state its steps take and return.

    The steps are :func:`construct` (build starting plans), :func:`anneal_starts` (anneal
    them, keep the best), :func:`recombine_best` (merge-split bursts from the best plan);
    :func:`search_piece` chains them under a :class:`SearchBudget`. Every random draw comes
    from ``rng`` in a fixed order, so the same seed gives the same plan.

    Attributes
    ----------
    ctx
        The piece: lists for the constructions, arrays for the kernels, bounds and weights.
    xy
        Unit centroids (spread seeds, new areas).
    has_home
        Whether there is a current plan (the first start follows it).
    rng
        The search's random stream.
    best
        The best plan so far (balanced ones first).
    pending
        Starts built and not yet annealed, with the seed of their annealing.
    built, annealed, iterations
        Constructions tried, starts annealed, annealing proposals run.
    """

    ctx: Context
    xy: np.ndarray
    has_home: bool
    rng: np.random.Generator
    best: SearchResult = field(
        default_factory=lambda: SearchResult(None, math.inf, False, 0, False))
    pending: list[tuple[list[int], int]] = field(default_factory=list)
    built: int = 0
    annealed: int = 0
    iterations: int = 0


@dataclass(frozen=True)
class SearchBudget:
    """How much :func:`search_piece` may do: ``starts`` constructions, each annealed for
    ``iterations`` proposals (more starts, up to 20×, while none is balanced), then
    ``recom_rounds`` merge-split steps; ``deadline`` (monotonic clock) only cuts it short.
    ``progress`` gets fractions within ``progress_span``."""

    starts: int
    iterations: int
    deadline: float
    recom_rounds: int = 0
    progress: ProgressFn | None = None
    progress_span: tuple[float, float] = (0.0, 1.0)


def piece_search(
    graph: UnitGraph,
    weights: np.ndarray,
    k: int,
    *,
    lower: float,
    upper: float,
    objective: Objective,
    locked: np.ndarray,
    home: np.ndarray | None,
    xy: np.ndarray,
    seed: int,
) -> PieceSearch:
    """A :class:`PieceSearch` of one connected piece with nothing built yet.

    Parameters
    ----------
    locked
        Area per unit position, ``-1`` when free.
    home
        The current plan's area per unit (``-1`` = none), the disruption reference and the
        first start.
    """
    n = graph.n
    nbrs = [x.tolist() for x in graph.neighbors()]
    inc = [x.tolist() for x in graph.incident_edges()]
    cost = objective.edge_costs(graph, k).tolist()
    ell = graph.shared_length.tolist()
    shared: list[dict[int, float]] = [
        {v: ell[e] for v, e in zip(nbrs[u], inc[u], strict=True)} for u in range(n)
    ]
    perim = graph.perimeter.tolist()
    uarea = graph.area.tolist()
    w = [float(x) for x in weights]
    lk = [int(x) for x in locked]
    hm = [-1] * n if home is None else [int(x) if 0 <= x < k else -1 for x in home]
    total_w = max(sum(w), 1e-12)
    kd = kernel_data(
        csr_from_incidence(nbrs, inc, graph.shared_length, graph.edges), cost=cost,
        perim=perim, uarea=uarea, w=w, lk=lk, hm=hm,
    )
    ctx = Context(nbrs=nbrs, inc=inc, shared=shared, cost=cost, perim=perim, uarea=uarea, w=w,
                  lk=lk, hm=hm, k=k, lower=lower, upper=upper,
                  disr=objective.disruption / total_w if home is not None else 0.0,
                  ppw=objective.polsby_popper / k, kd=kd)
    return PieceSearch(ctx=ctx, xy=xy, has_home=home is not None,
                       rng=np.random.default_rng(seed))


def search_piece(search: PieceSearch, budget: SearchBudget) -> SearchResult:
    """Multi-start construction + simulated annealing; the best feasible plan found, then
    improved by ``budget.recom_rounds`` merge-split steps (:mod:`._recom`) and a greedy
    clean-up. Keeps restarting (up to 20× the planned starts) while nothing balanced has been
    found: tight tolerances on few units are luck of the seed layout more than of the
    annealing."""
    starts, deadline = budget.starts, budget.deadline
    if budget.progress is not None and not (
            kernel_ready() and (budget.recom_rounds == 0 or recom_ready())):
        # the first run on a machine compiles the kernel (seconds); say why nothing moves
        budget.progress("preparing the optimiser (compiled on first use)",
                        budget.progress_span[0])
    planned = starts
    while True:
        search = anneal_starts(construct(search, planned, deadline), budget)
        if (search.best.feasible or search.built >= 20 * starts
                or time.monotonic() > deadline):
            break
        planned = min(search.built + starts, 20 * starts)
    search.best.iterations = search.iterations
    search.best.timed_out = search.built < starts and time.monotonic() > deadline
    if search.ctx.k >= 2 and budget.recom_rounds > 0:
        search = recombine_best(search, budget)
    return search.best


def construct(search: PieceSearch, upto: int, deadline: float) -> PieceSearch:
    """Build starts until ``upto`` were tried (or the deadline): each a contiguous plan
    with every area non-empty (:func:`_construct`), queued with its annealing seed.
    Constructions and seeds are drawn in order from one stream, so the plan does not depend
    on how many threads anneal them."""
    while search.built < upto and time.monotonic() <= deadline:
        lab = _construct(search, search.built)
        search.built += 1
        if lab is not None:
            search.pending.append((lab, int(search.rng.integers(1 << 31))))
    return search


def anneal_starts(search: PieceSearch, budget: SearchBudget) -> PieceSearch:
    """Anneal every pending start (:func:`_anneal_batch`) and keep the best plan: the lowest
    objective among balanced plans, else the first plan at all."""
    lo_p, hi_p = budget.progress_span
    ctx = search.ctx
    batch, search.pending = search.pending, []
    for res in _anneal_batch(ctx.kernel_data(), batch, ctx.k, lower=ctx.lower,
                             upper=ctx.upper, disr=ctx.disr, ppw=ctx.ppw,
                             iterations=budget.iterations):
        search.annealed += 1
        if budget.progress is not None:
            budget.progress("optimising", lo_p + (hi_p - lo_p)
                            * min(search.annealed, budget.starts) / budget.starts)
        search.iterations += res.iterations
        best = search.best
        if (res.feasible and (not best.feasible or res.objective < best.objective - 1e-12)) or (
                not best.feasible and res.labels is not None and best.labels is None):
            search.best = res
    return search


def recombine_best(search: PieceSearch, budget: SearchBudget) -> PieceSearch:
    """Merge-split bursts from the best balanced plan (:func:`_improve`); nothing when no
    balanced plan was found."""
    if search.best.feasible and search.best.labels is not None:
        search.best = _improve(search.ctx, search.best, rng=search.rng,
                               rounds=budget.recom_rounds,
                               polish=max(2_000, budget.iterations // 10),
                               deadline=budget.deadline)
    return search


def _construct(search: PieceSearch, s: int) -> list[int] | None:
    """Start ``s``: a contiguous plan with every area non-empty, or ``None`` when this
    construction failed. Start 0 follows the current plan when there is one; the others grow
    from spread seeds or bisect recursively (:func:`_bisect_start`)."""
    ctx, rng, xy, k = search.ctx, search.rng, search.xy, search.ctx.k
    nbrs, shared, perim, w, lk, hm = ctx.nbrs, ctx.shared, ctx.perim, ctx.w, ctx.lk, ctx.hm
    n = len(nbrs)
    init = [lk[u] for u in range(n)]
    if s == 0 and search.has_home and any(h >= 0 for h in hm):
        for u in range(n):
            if init[u] < 0:
                init[u] = hm[u]
        present = {x for x in init if x >= 0}
        missing = [a for a in range(k) if a not in present]
        if missing:
            _seed_missing(init, missing, w, lk, xy, rng)
        lab = _make_contiguous(nbrs, w, k, init, lk)
        if any(x < 0 for x in lab) or len(set(lab)) < k:
            lab = _grow(nbrs, shared, perim, w, k, lab, lk, rng)
    elif (bisected := _bisect_start(nbrs, w, k, s, ctx.lower, ctx.upper, lk, rng)) is not None:
        lab = bisected
    else:
        fixed_areas = sorted({x for x in lk if x >= 0})
        fixed = [next(u for u in range(n) if lk[u] == a) for a in fixed_areas]
        order = fixed_areas + [a for a in range(k) if a not in fixed_areas]
        seeds = _seeds(xy, k, rng, fixed)
        init = list(lk)
        for a, u in zip(order, seeds, strict=True):
            init[u] = a
        lab = _grow(nbrs, shared, perim, w, k, init, lk, rng)
    lab = [lk[u] if lk[u] >= 0 else lab[u] for u in range(n)]
    lab = _make_contiguous(nbrs, w, k, lab, lk)
    if any(x < 0 for x in lab) or len(set(lab)) < k:
        return None
    return lab


#: Threads annealing starts at once (the kernel releases the GIL); at most the machine's cores.
ANNEAL_THREADS = 2


def _anneal_batch(
    kd: KernelData,
    batch: list[tuple[list[int], int]],
    k: int,
    *,
    lower: float,
    upper: float,
    disr: float,
    ppw: float,
    iterations: int,
) -> Iterator[SearchResult]:
    """Anneal every ``(start, seed)`` of ``batch``; results in batch order."""

    def one(item: tuple[list[int], int]) -> SearchResult:
        return _sa(kd, item[0], k, lower=lower, upper=upper, disr=disr, ppw=ppw,
                   seed=item[1], iterations=iterations)

    threads = min(ANNEAL_THREADS, os.cpu_count() or 1, len(batch))
    if threads <= 1:
        yield from map(one, batch)
        return
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="gisgov-anneal") as pool:
        yield from pool.map(one, batch)


#: Merge-split steps per burst: a short guided random walk away from the best plan.
RECOM_BURST = 4
#: Spanning trees drawn per merge-split attempt.
RECOM_TREES = 8
#: How strongly spanning-tree weights follow the edges' cut costs.
RECOM_BIAS = 1.0
#: Bursts between two cool annealing polishes of the best plan.
RECOM_POLISH_EVERY = 25


def _improve(
    ctx: Context,
    best: SearchResult,
    *,
    rng: np.random.Generator,
    rounds: int,
    polish: int,
    deadline: float,
) -> SearchResult:
    """Short bursts of merge-split steps from the best plan, each burst settled by a greedy
    clean-up and kept only when it beats the best (GerryChain's short-burst optimiser, with
    every split chosen as the best of several trees and a local search after each burst); a
    cool annealing polish of the best plan every few bursts and at the end. Never returns a
    plan worse than ``best``."""
    assert best.labels is not None
    top_lab = [int(x) for x in best.labels]
    top_lab, _ = greedy_cleanup(ctx, top_lab)
    top_obj = plan_objective(ctx, top_lab)
    bursts = max(1, rounds // RECOM_BURST)

    def polish_top() -> None:
        nonlocal top_lab, top_obj
        res = _sa(ctx.kernel_data(), top_lab, ctx.k, lower=ctx.lower, upper=ctx.upper,
                  disr=ctx.disr, ppw=ctx.ppw, seed=int(rng.integers(1 << 31)),
                  iterations=polish, hot=0.05)
        if res.feasible and res.labels is not None:
            lab, _ = greedy_cleanup(ctx, [int(x) for x in res.labels])
            obj = plan_objective(ctx, lab)
            if obj < top_obj - 1e-12:
                top_lab, top_obj = lab, obj

    for i in range(bursts):
        if time.monotonic() > deadline:
            best.timed_out = True
            break
        lab, _, acc = recombine(ctx, top_lab, rounds=RECOM_BURST, trees=RECOM_TREES, rng=rng,
                                bias=RECOM_BIAS, temperature=math.inf, keep_best=False)
        if acc:
            touched = {top_lab[u] for u in range(len(lab)) if lab[u] != top_lab[u]}
            touched |= {lab[u] for u in range(len(lab)) if lab[u] != top_lab[u]}
            lab, _ = greedy_cleanup(ctx, lab, areas=touched)
            obj = plan_objective(ctx, lab)
            if obj < top_obj - 1e-12:
                top_lab, top_obj = lab, obj
        if (i + 1) % RECOM_POLISH_EVERY == 0:
            polish_top()
    polish_top()
    if top_obj < best.objective - 1e-12:
        return SearchResult(np.asarray(top_lab), top_obj, True, best.iterations, best.timed_out)
    return best


#: From this many areas on, every start after the first is built by recursive bisection;
#: below it, every other start (region growing keeps its place for few areas).
BISECT_MIN_AREAS = 6


def _bisect_start(
    nbrs: list[list[int]],
    w: list[float],
    k: int,
    start: int,
    lower: float,
    upper: float,
    locked: list[int],
    rng: np.random.Generator,
) -> list[int] | None:
    """A balanced start by recursive spanning-tree bisection, when it suits this start."""
    if k < 2 or (k < BISECT_MIN_AREAS and start % 2 == 0):
        return None
    ideal = sum(w) / k
    tolerance = min(upper - ideal, ideal - lower) / ideal if ideal > 0 else 0.0
    return bisect_plan(nbrs, w, k, tolerance=tolerance, rng=rng, locked=locked)


def _seed_missing(
    lab: list[int],
    missing: list[int],
    w: list[float],
    locked: list[int],
    xy: np.ndarray,
    rng: np.random.Generator,
) -> None:
    """Found each missing (new) area on a free unit of the heaviest current area, the one
    farthest from that area's centre, so the new area grows at its edge."""
    for a in missing:
        wt: dict[int, float] = {}
        for u, x in enumerate(lab):
            if x >= 0:
                wt[x] = wt.get(x, 0.0) + w[u]
        heavy = max(wt, key=lambda b: wt[b]) if wt else 0
        members = [u for u, x in enumerate(lab) if x == heavy and locked[u] < 0]
        if not members:
            members = [u for u, x in enumerate(lab) if locked[u] < 0]
        centre = xy[members].mean(axis=0)
        d = ((xy[members] - centre) ** 2).sum(axis=1)
        lab[members[int(np.argmax(d))]] = a
    del rng


def _sa(
    kd: KernelData,
    lab: list[int],
    k: int,
    *,
    lower: float,
    upper: float,
    disr: float,
    ppw: float,
    seed: int,
    iterations: int,
    hot: float = 1.0,
) -> SearchResult:
    """Simulated annealing from ``lab`` (:func:`._kernel.anneal_kernel`); ``hot < 1`` starts
    cooler with the balance penalty already hard (a polish of a balanced plan rather than a
    search)."""
    out = np.empty(len(lab), dtype=np.int64)
    best_obj, feasible, its = anneal_kernel(
        kd.arrays, plan_terms(k, lower, upper, disr, ppw), np.asarray(lab, dtype=np.int64),
        int(iterations), int(seed), float(hot), out,
    )
    if not feasible:
        return SearchResult(out, math.inf, False, int(its), False)
    return SearchResult(out, float(best_obj), True, int(its), False)
