"""The coverage bound: how many households the model lets members cover at most, and a proof
that an assignment covers that many.

The solve covers households first (``UNASSIGNED_COST`` outranks everything else), but the
flow it solves is sparse (k nearest direct arcs, household groups, service points, pools,
one-grid pins: :mod:`gisgov.assignment._problem`). This module checks the answer without
trusting that network or OR-Tools:

* **who may serve whom** is re-derived from the people and the rules: a household may have a
  member living in its grid, a resident of an adjacent grid of its community when its grid is
  short (borrowing), a reporting member whose origin grid may be deployed to its grid (in
  scope, service points within the cap: the model's definition, the problem's ``DEPLOY``
  pairs) and its kin member (same community, or same grid with ``kin_scope="grid"``);
* the **maximum coverage** under those rules and the members' maximum loads is a maximum
  flow (households → the grids' eligible member sets → members → sink), solved by SciPy's
  :func:`scipy.sparse.csgraph.maximum_flow` (a different solver from the assignment's). Any
  assignment is such a flow, so its value bounds coverage from above;
* **every household left uncovered** is checked: none of the members it may have has room
  (load below maximum). With ``assigned == bound`` the coverage is maximal, and with no
  uncovered household next to a member with room no single re-assignment could add one.

Members are gathered in the same pools as the flow (one local pool per grid, one reporting
pool per origin grid and community reported to): the rules make every member of a pool
eligible for the same grids, so the bound is exact and small (arcs: grids x pools in reach,
plus members).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_flow

from gisgov.assignment._problem import DEPLOY, AssignmentProblem

__all__ = ["CoverageBound", "coverage_bound"]

IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class CoverageBound:
    """What :func:`coverage_bound` proved.

    Attributes
    ----------
    households
        Households inside a grid (the others can have no member).
    bound
        Most households any assignment within the model's rules and loads can cover.
    assigned
        Households the assignment covered.
    with_room
        Uncovered households that had an eligible member with room (must be 0).
    """

    households: int
    bound: int
    assigned: int
    with_room: int

    @property
    def maximal(self) -> bool:
        """The assignment covers as many households as the model allows, and no uncovered
        household had a member with room."""
        return self.assigned == self.bound and self.with_room == 0


def _grid_pools(p: AssignmentProblem) -> tuple[IntArray, IntArray]:
    """``(grid, pool)`` pairs: the pools (local ``0..n_g-1``, reporting ``n_g + i``) whose
    members may serve each grid's households."""
    n_g = p.n_grids
    gg, pp = [np.arange(n_g)], [np.arange(n_g)]
    if p.borrow:
        short = np.flatnonzero(p.g_short)
        bt = np.array([g for g in short for _ in p.neighbours[g]], dtype=np.int64)
        bh = np.array([a for g in short for a in p.neighbours[g]], dtype=np.int64)
        gg.append(bt)
        pp.append(bh)
    dep = p.arc_kind == DEPLOY
    d_base = p.n_hnodes + 2 * n_g
    gg.append(p.arc_tail[dep] - p.n_hnodes)
    pp.append(n_g + p.arc_head[dep] - d_base)
    return np.concatenate(gg).astype(np.int64), np.concatenate(pp).astype(np.int64)


def _member_pools(p: AssignmentProblem) -> tuple[IntArray, IntArray]:
    """``(pool, member)`` pairs from the members' homes, bounds and reporting pools."""
    n_g = p.n_grids
    m_in = np.flatnonzero(p.eligible & (p.m_grid >= 0))
    rep = np.flatnonzero(p.eligible & (p.m_pool >= 0)) if len(p.m_pool) else np.zeros(0, int)
    return (np.concatenate([p.m_grid[m_in], n_g + p.m_pool[rep]]).astype(np.int64),
            np.concatenate([m_in, rep]).astype(np.int64))


def _kin_ok(p: AssignmentProblem) -> NDArray[np.bool_]:
    """Households whose kin member may serve them (就亲, within ``kin_scope``)."""
    k = np.maximum(p.h_kin, 0)
    ok = (p.h_kin >= 0) & (p.h_grid >= 0) & p.eligible[k] & (p.m_grid[k] >= 0)
    mg, hg = np.maximum(p.m_grid[k], 0), np.maximum(p.h_grid, 0)
    same = (mg == hg) if p.kin_scope == "grid" else (p.g_comm[mg] == p.g_comm[hg])
    return np.asarray(ok & same, dtype=bool)


def _max_coverage(p: AssignmentProblem, gp: tuple[IntArray, IntArray],
                  mp: tuple[IntArray, IntArray], kin: NDArray[np.bool_]) -> int:
    """Maximum flow: source → grids (non-kin households) and kin households → their grid and
    kin member; grid → pools in reach; pool → member (max load); member → sink."""
    n_g, n_m = p.n_grids, p.n_members
    n_pool = n_g + len(p.pool_grid)
    kh = np.flatnonzero(kin)
    # nodes: 0 source, 1 sink, grids, kin households, pools, members
    G, K = 2, 2 + n_g
    P = K + len(kh)
    M = P + n_pool
    inside = (p.h_grid >= 0) & ~kin
    per_grid = np.bincount(p.h_grid[inside], minlength=n_g)
    big = int(p.n_households) + 1
    tails = np.concatenate([np.zeros(n_g, np.int64), np.zeros(len(kh), np.int64),
                            K + np.arange(len(kh)), K + np.arange(len(kh)),
                            G + gp[0], P + mp[0], M + np.arange(n_m)])
    heads = np.concatenate([G + np.arange(n_g), K + np.arange(len(kh)),
                            G + p.h_grid[kh], M + p.h_kin[kh],
                            P + gp[1], M + mp[1], np.ones(n_m, np.int64)])
    caps = np.concatenate([per_grid, np.ones(len(kh), np.int64), np.ones(2 * len(kh), np.int64),
                           np.full(len(gp[0]), big), p.m_max[mp[1]],
                           np.where(p.eligible, p.m_max, 0)])
    n = M + n_m
    keep = caps > 0
    graph = csr_matrix((caps[keep].astype(np.int32),
                        (tails[keep].astype(np.int32), heads[keep].astype(np.int32))),
                       shape=(n, n))
    graph.sum_duplicates()
    return int(maximum_flow(graph, 0, 1, method="dinic").flow_value)


def _uncovered_with_room(p: AssignmentProblem, chosen: IntArray,
                         gp: tuple[IntArray, IntArray], mp: tuple[IntArray, IntArray],
                         kin: NDArray[np.bool_]) -> int:
    """Uncovered households (inside a grid) with an eligible member below their maximum."""
    load = np.bincount(chosen[chosen >= 0], minlength=p.n_members)
    room = p.eligible & (load < p.m_max)
    n_pool = p.n_grids + len(p.pool_grid)
    pool_room = np.zeros(n_pool, dtype=bool)
    pool_room[mp[0][room[mp[1]]]] = True
    grid_room = np.zeros(p.n_grids, dtype=bool)
    grid_room[gp[0][pool_room[gp[1]]]] = True
    miss = np.flatnonzero((chosen < 0) & (p.h_grid >= 0))
    bad = grid_room[p.h_grid[miss]] | (kin[miss] & room[np.maximum(p.h_kin[miss], 0)])
    return int(bad.sum())


def coverage_bound(p: AssignmentProblem, chosen: IntArray) -> CoverageBound:
    """Prove (or disprove) that ``chosen`` (member of each household, -1 none) covers as many
    households as the model allows (module docstring)."""
    gp, mp, kin = _grid_pools(p), _member_pools(p), _kin_ok(p)
    return CoverageBound(
        households=int((p.h_grid >= 0).sum()),
        bound=_max_coverage(p, gp, mp, kin),
        assigned=int((chosen >= 0).sum()),
        with_room=_uncovered_with_room(p, chosen, gp, mp, kin),
    )
