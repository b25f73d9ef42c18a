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

Everything is plain Python over lists (the regions are small, tens to a few hundred units),
driven by one seeded generator and a fixed number of rounds: the same seed gives the same plan.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

__all__ = ["Context", "greedy_cleanup", "plan_objective", "recombine"]

FOUR_PI = 4.0 * math.pi


@dataclass
class Context:
    """The piece being optimised, in the list form the search uses.

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

    @property
    def eps(self) -> float:
        """Float slack on the weight bounds."""
        return 1e-9 * max(self.upper, 1.0)


def _pp(area: float, per: float) -> float:
    return FOUR_PI * area / (per * per) if per > 0 else 0.0


def _area_stats(ctx: Context, lab: list[int]) -> tuple[list[float], list[float], list[float]]:
    """Weight, area and perimeter of every area."""
    k = ctx.k
    wt, ar, pe = [0.0] * k, [0.0] * k, [0.0] * k
    for u, a in enumerate(lab):
        wt[a] += ctx.w[u]
        ar[a] += ctx.uarea[u]
        pe[a] += ctx.perim[u]
        for x in ctx.nbrs[u]:
            if x > u and lab[x] == a:
                pe[a] -= 2.0 * ctx.shared[u][x]
    return wt, ar, pe


def plan_objective(ctx: Context, lab: list[int]) -> float:
    """The objective the annealing minimises, of a whole plan."""
    _, ar, pe = _area_stats(ctx, lab)
    total = 0.0
    for u, a in enumerate(lab):
        for x, e in zip(ctx.nbrs[u], ctx.inc[u], strict=True):
            if x > u and lab[x] != a:
                total += ctx.cost[e]
        if ctx.disr and a != ctx.hm[u]:
            total += ctx.disr * ctx.w[u]
    if ctx.ppw:
        total += ctx.ppw * sum(1.0 - _pp(ar[a], pe[a]) for a in range(ctx.k))
    return total


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
        Randomness.
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
    k = ctx.k
    n = len(lab)
    lab = list(lab)
    wt, ar, pe = _area_stats(ctx, lab)
    members: list[set[int]] = [set() for _ in range(k)]
    for u, a in enumerate(lab):
        members[a].add(u)
    obj = plan_objective(ctx, lab)
    best_obj, best_lab = obj, list(lab)
    nbrs, inc, shared, cost = ctx.nbrs, ctx.inc, ctx.shared, ctx.cost
    w, lk, hm, perim, uarea = ctx.w, ctx.lk, ctx.hm, ctx.perim, ctx.uarea
    lower, upper, eps, disr, ppw = ctx.lower, ctx.upper, ctx.eps, ctx.disr, ctx.ppw
    mean_cost = sum(cost) / len(cost) if cost else 1.0
    accepted = 0
    if k < 2 or not cost:
        return best_lab, best_obj, 0
    ends: list[tuple[int, int]] = [(0, 0)] * len(cost)
    for u in range(n):
        for x, e in zip(nbrs[u], inc[u], strict=True):
            if u < x:
                ends[e] = (u, x)
    m = len(ends)
    for r in range(rounds):
        pair = _pick_pair(lab, ends, m, rng, ar, pe, members, nbrs, r)
        if pair is None:
            continue
        a, b = pair
        region = sorted(members[a] | members[b])
        inside = set(region)
        total_w = wt[a] + wt[b]
        # Region edges and the figures of the current split, for the comparison.
        redges: list[tuple[int, int, int]] = []
        int_all = 0.0
        cur_cut = 0.0
        for u in region:
            for x, e in zip(nbrs[u], inc[u], strict=True):
                if x > u and x in inside:
                    redges.append((u, x, e))
                    int_all += shared[u][x]
                    if lab[u] != lab[x]:
                        cur_cut += cost[e]
        psum_all = sum(perim[u] for u in region)
        area_all = sum(uarea[u] for u in region)
        hw_a = sum(w[u] for u in region if hm[u] == a)
        hw_b = sum(w[u] for u in region if hm[u] == b)
        cur_val = cur_cut
        if ppw:
            cur_val += ppw * (2.0 - _pp(ar[a], pe[a]) - _pp(ar[b], pe[b]))
        if disr:
            cur_val += disr * (total_w - hw_a - hw_b)
        n_la = sum(1 for u in region if lk[u] == a)
        n_lb = sum(1 for u in region if lk[u] == b)
        has_locks = n_la + n_lb > 0
        best: tuple[float, list[int], bool] | None = None
        keys_base = np.asarray([cost[e] for _, _, e in redges]) / mean_cost
        for _ in range(trees):
            order, parent, children = _tree(region, redges, keys_base, bias, rng)
            if len(order) != len(region):
                break  # the region is not connected (cannot happen for adjacent areas)
            sub = {u: w[u] for u in region}
            sla = {u: (1 if lk[u] == a else 0) for u in region} if has_locks else None
            slb = {u: (1 if lk[u] == b else 0) for u in region} if has_locks else None
            for u in reversed(order):
                p = parent[u]
                if p >= 0:
                    sub[p] += sub[u]
                    if sla is not None and slb is not None:
                        sla[p] += sla[u]
                        slb[p] += slb[u]
            for v in order[1:]:
                s = sub[v]
                t = total_w - s
                if not (lower - eps <= s <= upper + eps and lower - eps <= t <= upper + eps):
                    continue
                orient = (True, False)  # S takes a / S takes b
                if sla is not None and slb is not None:
                    orient = (sla[v] == n_la and slb[v] == 0, sla[v] == 0 and slb[v] == n_lb)
                    if not (orient[0] or orient[1]):
                        continue
                side = _subtree(v, children)
                val, s_is_a = _score(
                    side, inside, nbrs, inc, shared, cost, perim, uarea, w, hm, a, b,
                    psum_all=psum_all, area_all=area_all, int_all=int_all, total_w=total_w,
                    hw_a=hw_a, hw_b=hw_b, ppw=ppw, disr=disr, orient=orient,
                )
                if best is None or val < best[0] - 1e-12:
                    best = (val, side, s_is_a)
        if best is None:
            continue
        delta = best[0] - cur_val
        # geometric cooling to 1% of the starting temperature over the rounds
        temp = temperature * 0.01 ** (r / max(rounds - 1, 1))
        if delta > 1e-12 and temp != math.inf and (
            temp <= 0 or float(rng.random()) >= math.exp(-delta / temp)
        ):
            continue
        if abs(delta) <= 1e-12:
            continue  # the same split again, or an equivalent one: nothing learnt
        side_set = set(best[1])
        sa_, sb_ = (a, b) if best[2] else (b, a)
        for u in region:
            lab[u] = sa_ if u in side_set else sb_
        members[a] = {u for u in region if lab[u] == a}
        members[b] = {u for u in region if lab[u] == b}
        for x in (a, b):
            wt[x] = sum(w[u] for u in members[x])
            ar[x] = sum(uarea[u] for u in members[x])
            pe[x] = sum(perim[u] for u in members[x]) - 2.0 * sum(
                shared[u][y] for u, y, _ in redges if lab[u] == x and lab[y] == x
            )
        obj += delta
        accepted += 1
        if obj < best_obj - 1e-12:
            best_obj, best_lab = obj, list(lab)
    if not keep_best:
        return lab, plan_objective(ctx, lab), accepted
    return best_lab, plan_objective(ctx, best_lab), accepted


def _pick_pair(
    lab: list[int],
    ends: list[tuple[int, int]],
    m: int,
    rng: np.random.Generator,
    ar: list[float],
    pe: list[float],
    members: list[set[int]],
    nbrs: list[list[int]],
    r: int,
) -> tuple[int, int] | None:
    """Two adjacent areas: usually across a random cut edge (pairs sharing long boundaries
    come up more often); every third round the least compact of two random areas and one of
    its neighbours, so badly shaped areas get redrawn."""
    k = len(ar)
    if r % 3 == 2:
        c1, c2 = int(rng.integers(k)), int(rng.integers(k))
        a = c1 if _pp(ar[c1], pe[c1]) <= _pp(ar[c2], pe[c2]) else c2
        nb = sorted({lab[x] for u in members[a] for x in nbrs[u] if lab[x] != a})
        if not nb:
            return None
        return a, nb[int(rng.integers(len(nb)))]
    for _ in range(64):
        u, v = ends[int(rng.integers(m))]
        if lab[u] != lab[v]:
            return lab[u], lab[v]
    return None


def _tree(
    region: list[int],
    redges: list[tuple[int, int, int]],
    keys_base: np.ndarray,
    bias: float,
    rng: np.random.Generator,
) -> tuple[list[int], dict[int, int], dict[int, list[int]]]:
    """A spanning tree of the region (Kruskal on randomised keys): root-first order,
    parents and children."""
    keys = _tree_keys(keys_base, bias, rng)
    uf = {u: u for u in region}

    def find(x: int) -> int:
        while uf[x] != x:
            uf[x] = uf[uf[x]]
            x = uf[x]
        return x

    adj: dict[int, list[int]] = {u: [] for u in region}
    need = len(region) - 1
    for i in np.argsort(keys, kind="stable").tolist():
        u, v, _ = redges[i]
        ru, rv = find(u), find(v)
        if ru != rv:
            uf[ru] = rv
            adj[u].append(v)
            adj[v].append(u)
            need -= 1
            if need == 0:
                break
    root = region[int(rng.integers(len(region)))]
    parent = {root: -1}
    children: dict[int, list[int]] = {u: [] for u in region}
    order = [root]
    q = deque([root])
    while q:
        u = q.popleft()
        for v in adj[u]:
            if v not in parent:
                parent[v] = u
                children[u].append(v)
                order.append(v)
                q.append(v)
    return order, parent, children


def _tree_keys(keys_base: np.ndarray, bias: float, rng: np.random.Generator) -> np.ndarray:
    """Kruskal keys: uniform noise, lowered on costly edges so they join the tree first.

    A tree cut separates the region along the cut tree edge *and* every non-tree edge between
    the two sides; putting the costly edges (long shared boundaries) into the tree makes the
    exposed boundary mostly the cheap, non-tree edges.
    """
    noise: np.ndarray = rng.random(len(keys_base))
    if bias == 0:
        return noise
    return np.asarray(noise * np.exp(-bias * keys_base), dtype=float)


def _subtree(v: int, children: dict[int, list[int]]) -> list[int]:
    out = [v]
    i = 0
    while i < len(out):
        out.extend(children[out[i]])
        i += 1
    return out


def _score(
    side: list[int],
    inside: set[int],
    nbrs: list[list[int]],
    inc: list[list[int]],
    shared: list[dict[int, float]],
    cost: list[float],
    perim: list[float],
    uarea: list[float],
    w: list[float],
    hm: list[int],
    a: int,
    b: int,
    *,
    psum_all: float,
    area_all: float,
    int_all: float,
    total_w: float,
    hw_a: float,
    hw_b: float,
    ppw: float,
    disr: float,
    orient: tuple[bool, bool],
) -> tuple[float, bool]:
    """The pair's objective when the region ``inside`` splits into ``side`` and the rest; and
    whether ``side`` takes area ``a`` (the better of the allowed orientations)."""
    sset = set(side)
    cut = cross_sh = int2 = psum = area = ws = sa = sb = 0.0
    for u in side:
        psum += perim[u]
        area += uarea[u]
        wu = w[u]
        ws += wu
        h = hm[u]
        if h == a:
            sa += wu
        elif h == b:
            sb += wu
        su = shared[u]
        for x, e in zip(nbrs[u], inc[u], strict=True):
            if x in sset:
                int2 += su[x]
            elif x in inside:
                cut += cost[e]
                cross_sh += su[x]
    val = cut
    if ppw:
        int_s = int2 / 2.0
        per_s = psum - 2.0 * int_s
        per_t = (psum_all - psum) - 2.0 * (int_all - int_s - cross_sh)
        val += ppw * (2.0 - _pp(area, per_s) - _pp(area_all - area, per_t))
    s_is_a = orient[0]
    if disr:
        wt_ = total_w - ws
        moved_sa = (ws - sa) + (wt_ - (hw_b - sb))
        moved_sb = (ws - sb) + (wt_ - (hw_a - sa))
        if orient[0] and orient[1]:
            s_is_a = moved_sa <= moved_sb
        val += disr * (moved_sa if s_is_a else moved_sb)
    return val, s_is_a


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
    lab = list(lab)
    wt, ar, pe = _area_stats(ctx, lab)
    cnt = [0] * ctx.k
    for a in lab:
        cnt[a] += 1
    nbrs, inc, shared, cost = ctx.nbrs, ctx.inc, ctx.shared, ctx.cost
    w, lk, hm, perim, uarea = ctx.w, ctx.lk, ctx.hm, ctx.perim, ctx.uarea
    lower, upper, eps, disr, ppw = ctx.lower, ctx.upper, ctx.eps, ctx.disr, ctx.ppw
    moves = 0
    scope = (
        list(range(len(lab))) if areas is None
        else [u for u, a in enumerate(lab) if a in areas]
    )
    for _ in range(max_sweeps):
        changed = False
        for u in scope:
            a = lab[u]
            if lk[u] >= 0 or cnt[a] <= 1 or wt[a] - w[u] < lower - eps:
                continue
            # Per neighbouring area: cut-cost change and shared length with u.
            to: dict[int, list[float]] = {}
            stay_cost = stay_len = 0.0
            na = 0
            for x, e in zip(nbrs[u], inc[u], strict=True):
                lx = lab[x]
                if lx == a:
                    stay_cost += cost[e]
                    stay_len += shared[u][x]
                    na += 1
                else:
                    t = to.setdefault(lx, [0.0, 0.0])
                    t[0] += cost[e]
                    t[1] += shared[u][x]
            best_b, best_d = -1, -1e-12
            for b, (c_b, l_b) in to.items():
                if wt[b] + w[u] > upper + eps:
                    continue
                d = stay_cost - c_b
                if disr:
                    d += disr * w[u] * ((b != hm[u]) - (a != hm[u]))
                if ppw:
                    pa2 = pe[a] - perim[u] + 2.0 * stay_len
                    pb2 = pe[b] + perim[u] - 2.0 * l_b
                    d += ppw * (
                        _pp(ar[a], pe[a]) + _pp(ar[b], pe[b])
                        - _pp(ar[a] - uarea[u], pa2) - _pp(ar[b] + uarea[u], pb2)
                    )
                if d < best_d:
                    best_b, best_d = b, d
            if best_b < 0 or (na > 1 and not connected_without(nbrs, lab, u, a, na)):
                continue
            b = best_b
            l_b = to[b][1]
            pe[a] += -perim[u] + 2.0 * stay_len
            pe[b] += perim[u] - 2.0 * l_b
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
    return lab, moves


def connected_without(nbrs: list[list[int]], lab: list[int], u: int, a: int, na: int) -> bool:
    """Whether area ``a`` stays connected when ``u`` (with ``na`` neighbours in ``a``) leaves: a
    BFS from one neighbour of ``u`` in ``a`` that stops once it has reached all ``na`` of them
    (usually a few steps around ``u``, far cheaper than recomputing articulation points)."""
    targets = {x for x in nbrs[u] if lab[x] == a}
    start = next(iter(targets))
    seen = {start, u}
    found = 1
    q = deque([start])
    while q:
        y = q.popleft()
        for z in nbrs[y]:
            if z not in seen and lab[z] == a:
                seen.add(z)
                if z in targets:
                    found += 1
                    if found == na:
                        return True
                q.append(z)
    return found == na
