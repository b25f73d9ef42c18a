"""Balanced starting plans by recursive spanning-tree bisection.

Region growing from spread seeds works for a handful of areas, but with dozens of areas (a
community cut into ~50 grids) some areas get walled in light and local moves cannot repair
the balance. Recursive bisection builds a plan that is balanced by construction: split the
units into two connected parts whose weights match ``k1 : k2`` of the areas (cutting one edge
of a random spanning tree keeps both sides connected), then recurse on each side. The
annealing then only has to make the plan compact.

Each split aims at targets proportional to the piece's own weight and allows an absolute
slack of ``tolerance · ideal / 2``; a side of ``k`` areas then carries ``slack / k`` per area,
and along a root-to-leaf path (``k`` roughly halving) those add up to less than
``tolerance · ideal``.
"""

from __future__ import annotations

import heapq

import numpy as np

__all__ = ["bisect_plan"]

#: Random spanning trees tried per split before settling for the closest cut.
TREES_PER_SPLIT = 60


def bisect_plan(
    nbrs: list[list[int]],
    w: list[float],
    k: int,
    *,
    tolerance: float,
    rng: np.random.Generator,
    locked: list[int] | None = None,
) -> list[int] | None:
    """Labels ``0..k-1`` for a balanced, contiguous plan, or ``None`` when none was found.

    Parameters
    ----------
    nbrs
        Neighbour lists of a connected graph.
    w
        Unit weights.
    k
        Number of areas.
    tolerance
        Relative balance tolerance of every area around ``sum(w) / k``.
    rng
        Randomness (spanning trees and the choice among good cuts).
    locked
        Area per unit (``-1`` free). Bisection cannot honour locks, so a plan with any
        locked unit returns ``None`` and the caller uses its other constructions.

    Returns
    -------
    list of int or None
        ``None`` when the graph is not connected or locks are present. Where no cut within
        the slack exists, the closest cut is taken, so the plan may be a little out of
        balance: the annealing that follows repairs it.
    """
    if locked is not None and any(x >= 0 for x in locked):
        return None
    n = len(w)
    if k <= 0 or n < k:
        return None
    ideal = sum(w) / k
    # half the tolerance per level, shared out so a path of splits stays within tolerance
    slack = 0.5 * tolerance * ideal
    labels = [-1] * n
    stack: list[tuple[list[int], int, int]] = [(list(range(n)), k, 0)]
    while stack:
        units, areas, first = stack.pop()
        if areas == 1:
            for u in units:
                labels[u] = first
            continue
        k1 = areas // 2
        k2 = areas - k1
        # targets proportional to what this piece actually weighs, so errors do not pile up
        total = sum(w[u] for u in units)
        split = _split(nbrs, w, units, total * k1 / areas, total * k2 / areas, slack, rng)
        if split is None:
            return None
        side1, side2 = split
        stack.append((side1, k1, first))
        stack.append((side2, k2, first + k1))
    return labels


def _split(
    nbrs: list[list[int]],
    w: list[float],
    units: list[int],
    target1: float,
    target2: float,
    slack: float,
    rng: np.random.Generator,
) -> tuple[list[int], list[int]] | None:
    """Cut one spanning-tree edge so one side weighs ``target1 ± slack``."""
    inside = set(units)
    best: tuple[float, int, int, dict[int, int], list[int]] | None = None
    for _ in range(TREES_PER_SPLIT):
        parent, order = _random_spanning_tree(nbrs, units, inside, rng)
        if len(order) != len(units):
            return None  # not connected: the caller's graph handling failed
        sub = {u: w[u] for u in units}
        for u in reversed(order):
            p = parent[u]
            if p >= 0:
                sub[p] += sub[u]
        cands = sorted(
            [(abs(sub[u] - target1), u, 1) for u in order[1:]]
            + [(abs(sub[u] - target2), u, 2) for u in order[1:]]
        )
        if not cands:
            return None
        if best is None or cands[0][0] < best[0]:
            best = (cands[0][0], cands[0][1], cands[0][2], parent, order)
        good = [c for c in cands if c[0] <= slack]
        if good:
            # a random one among the closest third: variety across starts
            top = good[: max(1, len(good) // 3)]
            _, root, side = top[int(rng.integers(len(top)))]
            return _sides(units, root, side, parent, order)
    if best is None:
        return None
    # no cut within the slack: take the closest one; the annealing repairs the balance
    _, root, side, parent, order = best
    return _sides(units, root, side, parent, order)


def _sides(units: list[int], root: int, side: int, parent: dict[int, int], order: list[int]
           ) -> tuple[list[int], list[int]]:
    below = _subtree(root, parent, order)
    subtree = [u for u in units if u in below]
    rest = [u for u in units if u not in below]
    return (subtree, rest) if side == 1 else (rest, subtree)


def _random_spanning_tree(
    nbrs: list[list[int]], units: list[int], inside: set[int], rng: np.random.Generator
) -> tuple[dict[int, int], list[int]]:
    """A random spanning tree by randomised Prim: parents and a root-first order."""
    root = units[int(rng.integers(len(units)))]
    parent = {root: -1}
    order = [root]
    heap = [(float(rng.random()), v, root) for v in nbrs[root] if v in inside]
    heapq.heapify(heap)
    while heap:
        _, v, p = heapq.heappop(heap)
        if v in parent:
            continue
        parent[v] = p
        order.append(v)
        for x in nbrs[v]:
            if x in inside and x not in parent:
                heapq.heappush(heap, (float(rng.random()), x, v))
    return parent, order


def _subtree(root: int, parent: dict[int, int], order: list[int]) -> set[int]:
    below = {root}
    for u in order:
        p = parent[u]
        if p in below and u not in below:
            below.add(u)
    return below
