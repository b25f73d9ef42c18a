"""Solving an :class:`~gisgov.assignment._problem.AssignmentProblem`: one certified
minimum-cost flow per independent piece, decoded into one member per household.

Each piece is a flow from its household groups (supply: their households) to one sink:
through the problem's arcs to members, then member → sink in two arcs (the minimum load at
``-MIN_FILL_BONUS`` per household, the rest up to the maximum at 0), and group → sink at
``UNASSIGNED_COST`` per household (left without a member). Priority weights
(:mod:`gisgov.assignment._model`) make coverage come first, then minimum loads, then kin,
then one grid per member, then walking.

Only the piece's own arrays are built, so memory follows the largest piece (a subdistrict),
not the county, and each piece's answer is kept as soon as it is solved. A piece counts as
optimal only when :func:`gisgov.assignment._flow.solve_min_cost_flow` certifies it.

A member serves one grid (besides their kin households) unless coverage, minimum loads or kin
need more. By default every member is pinned *before* the one solve: to the grid they served
before (a re-run), else to the grid where a flow between service points only (households of a
grid gathered at its port, :func:`_proxy_pins`: grids and members, about a hundredth of the
full network) has them serve most. On the ``--scale 8`` county this halves the solve (one
certified flow per piece instead of two) and leaves fewer members on two grids (531 against
720) for 0.4% more walking: one grid per member ranks above walking in the model. With
``relax=True`` the older scheme runs: flows may split a member's load over several grids, so after the first solve every
member in use is pinned to the grid where they serve most households
(:func:`~gisgov.assignment._problem.pin_members`: other grids then cost ``SPLIT_COST`` per
household, a priority below coverage, minimum loads and kin; pinning only the split members
let the next solve split others, round after round) and the pieces holding new pins are
solved again, for at most ``max_rounds`` rounds (default one: on the ``--scale 8`` county
a second pinning round took as long as the first solve and unsplit 10 of 720 split
members; on a re-run, members start pinned to the grid they served before, so unchanged
data keeps every pair). The first solve, without the
penalty, is a relaxation: its certified objective bounds the one-grid optimum from below,
and the result reports the gap (``one_grid_gap_m``, penalties excluded) and how many members
still span grids.

A group's flow is handed to its households by the shortest actual walk (previous members to
the households that had them first). Flow through a service point is decoded into pairs
afterwards: within a pool, members fill
ports in order (so a member splits over as few grids as possible), and within a port its
households and member places are matched to minimise straight-line distance (the model's cost
via the service point is the same for every such matching, so the objective is unchanged).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from gisgov.assignment._flow import solve_min_cost_flow
from gisgov.assignment._model import COST_SCALE, MIN_FILL_BONUS_M, UNASSIGNED_COST_M
from gisgov.assignment._problem import (
    BORROW,
    DEPLOY,
    DIRECT,
    LOCAL,
    PIN,
    POOL,
    PORT,
    AssignmentProblem,
    pin_members,
)
from gisgov.network import pair_distances

__all__ = ["AssignmentSolution", "solve"]

IntArray = NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class AssignmentSolution:
    """One member per household (or none) and how each piece was solved.

    Attributes
    ----------
    chosen
        Member index of each household, -1 when left without one.
    via
        Arc kind that carried each household (``DIRECT`` or ``PORT``; -1 unassigned).
    deployed
        Whether the household's member came through a reporting pool (deployment or another
        grid of the member's own community).
    pieces
        One dict per piece: grids, households, members, arcs, status, objective, lower bound,
        optimal, reason, seconds.
    failed
        Households of pieces the solver could not solve, with the solver's status.
    problem
        The problem last solved (with members pinned to one grid).
    relaxed_objective
        Certified objective of the first solve, which lets members span grids: a lower
        bound of the one-grid optimum (``None`` if a piece was not certified).
    relaxed_assigned
        Households the first solve covered (an upper bound of one-grid coverage).
    pinned
        Members pinned to one grid over all rounds.
    rounds
        Solves run (1 + pinning rounds).
    """

    chosen: IntArray
    via: IntArray
    deployed: NDArray[np.bool_]
    pieces: list[dict[str, Any]]
    failed: NDArray[np.object_]
    problem: AssignmentProblem
    relaxed_objective: float | None
    relaxed_assigned: int
    pinned: int
    rounds: int

    @property
    def optimal(self) -> bool:
        """Every piece solved and certified optimal."""
        return all(bool(r["optimal"]) for r in self.pieces)


def solve(problem: AssignmentProblem, *, certify: bool = True, one_grid: bool = True,
          max_rounds: int = 1, relax: bool = False, progress: Any = None
          ) -> AssignmentSolution:
    """Solve every piece of ``problem``; with ``one_grid``, pin split members and solve the
    pieces they are in again (module docstring). By default (``relax=False``) members are
    pinned from the flow between service points instead (:func:`_proxy_pins`) and each
    piece is solved once; ``relax=True`` solves the relaxation first (its bound and gap are
    then reported) and pins from it."""
    if one_grid and not relax:
        return _solve_pinned(problem, certify, progress)
    out = _solve_once(problem, certify, progress, None, None)
    relaxed = _objective(out[3])
    relaxed_assigned = int((out[0] >= 0).sum())
    pinned = np.full(problem.n_members, -1, dtype=np.int64)
    m_piece = problem.node_piece[problem.n_nodes - problem.n_members:]
    rounds = 1
    p = problem
    redo: set[int] | None = None
    if one_grid and problem.has_prev.any():
        # Stability: members keep the grid they served before, so a re-run on unchanged data
        # can keep every pair (the previous assignment is feasible at its old cost).
        members, grids = _split_members(problem, problem.h_prev, all_used=True)
        pinned[members] = grids
        redo = set(m_piece[members].tolist())
    while one_grid and rounds <= max_rounds:
        split, _ = _split_members(p, out[0])
        if not (pinned[split] < 0).any() and redo is None:
            break
        # Pin every member in use, not only the split ones: a soft pin never costs coverage
        # or minimum loads, and members left free would split in the next solve instead.
        members, grids = _split_members(p, out[0], all_used=True)
        new = pinned[members] < 0  # a member pinned before pays to split: keep its pin
        pinned[members[new]] = grids[new]
        redo = (redo or set()) | set(m_piece[members[new]].tolist())
        if not redo:
            break
        p = pin_members(problem, np.flatnonzero(pinned >= 0), pinned[pinned >= 0])
        out = _solve_once(p, certify, progress, redo, out)
        redo = None
        rounds += 1
    chosen, via, deployed, rows, failed = out
    return AssignmentSolution(chosen, via, deployed, rows, failed, p, relaxed,
                              relaxed_assigned, int((pinned >= 0).sum()), rounds)


def _solve_pinned(problem: AssignmentProblem, certify: bool, progress: Any
                  ) -> AssignmentSolution:
    """One certified solve with members pinned before it: to the grid they served before
    (stability), else to the grid the flow between service points gives them."""
    pinned = np.full(problem.n_members, -1, dtype=np.int64)
    if problem.has_prev.any():
        members, grids = _split_members(problem, problem.h_prev, all_used=True)
        pinned[members] = grids
    members, grids = _proxy_pins(problem)
    new = pinned[members] < 0
    pinned[members[new]] = grids[new]
    p = (pin_members(problem, np.flatnonzero(pinned >= 0), pinned[pinned >= 0])
         if (pinned >= 0).any() else problem)
    chosen, via, deployed, rows, failed = _solve_once(p, certify, progress, None, None)
    return AssignmentSolution(chosen, via, deployed, rows, failed, p, None,
                              int((chosen >= 0).sum()), int((pinned >= 0).sum()), 1)


def _proxy_pins(p: AssignmentProblem) -> tuple[IntArray, IntArray]:
    """Members in use and the grid each serves most, from the flow between service points
    only (households of a grid gathered at its port; the port → pool → member arcs, the
    load bounds and the priorities of the full flow): a network of grids and members, a
    hundredth of the full one, solved in a blink. Within a pool, members take the ports'
    flow in order (as :func:`_decode` hands it out), so each member meets few ports."""
    n_h, n_m = p.n_hnodes, p.n_members
    keep = np.flatnonzero(np.isin(p.arc_kind, (LOCAL, BORROW, DEPLOY, POOL)))
    n = p.n_nodes - n_h
    sink = n
    ms = np.flatnonzero(p.eligible)
    m_node = p.n_nodes - n_m + ms - n_h
    mn, mx = p.m_min[ms], p.m_max[ms]
    ports = np.flatnonzero(p.g_households > 0)
    tails = np.concatenate([p.arc_tail[keep] - n_h, ports, m_node, m_node])
    heads = np.concatenate([p.arc_head[keep] - n_h, np.full(len(ports) + 2 * len(ms), sink)])
    caps = np.concatenate([p.arc_cap[keep], p.g_households[ports], mn, mx - mn])
    costs = np.concatenate([p.arc_cost[keep],
                            np.full(len(ports), int(UNASSIGNED_COST_M * COST_SCALE)),
                            np.full(len(ms), -int(MIN_FILL_BONUS_M * COST_SCALE)),
                            np.zeros(len(ms), np.int64)])
    supply = np.zeros(n + 1, dtype=np.int64)
    supply[ports] = p.g_households[ports]
    supply[sink] = -int(p.g_households[ports].sum())
    sol = solve_min_cost_flow(tails, heads, caps, costs, supply, certify=False)
    if sol.status != "OPTIMAL":
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    f = sol.flow[:len(keep)]
    arcs, f = keep[f > 0], f[f > 0]
    pool = p.arc_kind[arcs] == POOL
    # per pool: ports' flow in port order, members' places in member order, on one axis
    into = pd.DataFrame({"pool": p.arc_head[arcs[~pool]], "g": p.arc_tail[arcs[~pool]] - n_h,
                         "f": f[~pool]}).sort_values(["pool", "g"])
    out = pd.DataFrame({"pool": p.arc_tail[arcs[pool]], "m": p.arc_m[arcs[pool]],
                        "f": f[pool]}).sort_values(["pool", "m"])
    into["end"] = into.groupby("pool")["f"].cumsum()
    out["end"] = out.groupby("pool")["f"].cumsum()
    out["start"] = out["end"] - out["f"]
    j = out.merge(into, on="pool", suffixes=("", "_g"))
    end, end_g = j["end"].to_numpy(), j["end_g"].to_numpy()
    start, start_g = j["start"].to_numpy(), end_g - j["f_g"].to_numpy()
    j = j.assign(take=np.minimum(end, end_g) - np.maximum(start, start_g))
    j = j[j["take"].to_numpy() > 0]
    best = (j.groupby(["m", "g"])["take"].sum().reset_index()
            .sort_values(["m", "take", "g"], ascending=[True, False, True])
            .drop_duplicates("m"))
    return best["m"].to_numpy(dtype=np.int64), best["g"].to_numpy(dtype=np.int64)


def _objective(rows: list[dict[str, Any]]) -> float | None:
    """Certified total objective of a solve, one-grid penalties excluded."""
    if not rows or any(not r["optimal"] for r in rows):
        return None
    return float(sum(r["objective"] - r["penalty"] for r in rows))


def _split_members(p: AssignmentProblem, chosen: IntArray, *, all_used: bool = False
                   ) -> tuple[IntArray, IntArray]:
    """Members serving (non-kin) households of more than one grid (of any grid with
    ``all_used``), each with the grid where they serve most (their own grid on ties)."""
    h = np.flatnonzero((chosen >= 0) & (p.h_kin != chosen) & (p.h_grid >= 0))
    if len(h) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    df = pd.DataFrame({"m": chosen[h], "g": p.h_grid[h]})
    n = df.groupby("m")["g"].nunique()
    split = n.index[n.to_numpy() > (0 if all_used else 1)].to_numpy(dtype=np.int64)
    if len(split) == 0:
        return split, split
    cnt = df[df["m"].isin(split)].value_counts().rename("n").reset_index()
    cnt["own"] = cnt["g"].to_numpy() == p.m_grid[cnt["m"].to_numpy()]
    best = cnt.sort_values(["m", "n", "own", "g"], ascending=[True, False, False, True])
    best = best.drop_duplicates("m")
    return best["m"].to_numpy(dtype=np.int64), best["g"].to_numpy(dtype=np.int64)


_Out = tuple[IntArray, IntArray, NDArray[np.bool_], list[dict[str, Any]], NDArray[np.object_]]


def _solve_once(problem: AssignmentProblem, certify: bool, progress: Any,
                only: set[int] | None, before: _Out | None) -> _Out:
    """One certified flow per piece (only the pieces in ``only``, the others kept from
    ``before``); the decoded member of each household."""
    if before is None or only is None:
        n_h = problem.n_households
        chosen = np.full(n_h, -1, dtype=np.int64)
        via = np.full(n_h, -1, dtype=np.int64)
        deployed = np.zeros(n_h, dtype=bool)
        failed = np.full(n_h, None, dtype=object)
        kept: dict[int, dict[str, Any]] = {}
    else:
        chosen, via, deployed = before[0].copy(), before[1].copy(), before[2].copy()
        failed = before[4].copy()
        kept = {int(r["piece"]): r for r in before[3]}
    rows: list[dict[str, Any]] = []
    arc_piece = problem.node_piece[problem.arc_tail]
    order = np.argsort(arc_piece, kind="stable")
    starts = np.searchsorted(arc_piece[order], np.arange(problem.n_pieces + 1))
    pieces = problem.pieces()
    for i, nodes in enumerate(pieces):
        c = int(problem.node_piece[nodes[0]])
        if only is not None and c not in only and c in kept:
            rows.append(kept[c])
            continue
        t0 = time.perf_counter()
        hs = np.flatnonzero(np.isin(problem.h_node, nodes[nodes < problem.n_hnodes]))
        chosen[hs], via[hs], deployed[hs], failed[hs] = -1, -1, False, None
        arcs = order[starts[c]:starts[c + 1]]
        row = _solve_piece(problem, nodes, arcs, chosen, via, deployed, failed, certify)
        row["seconds"] = round(time.perf_counter() - t0, 4)
        rows.append(row)
        if progress is not None:
            progress(f"solved piece {i + 1} of {len(pieces)}", (i + 1) / len(pieces))
    return chosen, via, deployed, rows, failed


def _solve_piece(p: AssignmentProblem, nodes: IntArray, arcs: IntArray, chosen: IntArray,
                 via: IntArray, deployed: NDArray[np.bool_], failed: NDArray[np.object_],
                 certify: bool) -> dict[str, Any]:
    """Build, solve and decode one piece in place; return its report row."""
    n_h, n_m = p.n_hnodes, p.n_members
    local = np.full(p.n_nodes, -1, dtype=np.int64)
    local[nodes] = np.arange(len(nodes))
    sink = len(nodes)
    hs = nodes[nodes < n_h]
    ms = nodes[nodes >= p.n_nodes - n_m] - (p.n_nodes - n_m)
    mn, mx = p.m_min[ms], p.m_max[ms]
    has_min, has_extra = mn > 0, mx > mn
    m_local = local[p.n_nodes - n_m + ms]
    tails = np.concatenate([local[p.arc_tail[arcs]], local[hs], m_local[has_min],
                            m_local[has_extra]])
    heads = np.concatenate([local[p.arc_head[arcs]],
                            np.full(len(hs) + int(has_min.sum()) + int(has_extra.sum()), sink)])
    caps = np.concatenate([p.arc_cap[arcs], p.node_size[hs], mn[has_min],
                           (mx - mn)[has_extra]])
    costs = np.concatenate([
        p.arc_cost[arcs], np.full(len(hs), int(UNASSIGNED_COST_M * COST_SCALE)),
        np.full(int(has_min.sum()), -int(MIN_FILL_BONUS_M * COST_SCALE)),
        np.zeros(int(has_extra.sum()), np.int64)])
    supply = np.zeros(sink + 1, dtype=np.int64)
    supply[local[hs]] = p.node_size[hs]
    supply[sink] = -int(p.node_size[hs].sum())
    sol = solve_min_cost_flow(tails, heads, caps, costs, supply, certify=certify)
    grids = np.unique(p.h_grid[p.node_h[hs]])
    row: dict[str, Any] = {
        "piece": int(p.node_piece[nodes[0]]),
        "grids": len(grids),
        "first_grid": str(p.g_code[grids[0]]) if len(grids) else None,
        "households": int(p.node_size[hs].sum()), "members": len(ms), "arcs": len(tails),
        "status": sol.status,
        "objective": None if sol.objective is None else sol.objective / COST_SCALE,
        "lower_bound": None if sol.lower_bound is None else sol.lower_bound / COST_SCALE,
        "optimal": sol.optimal, "reason": sol.reason,
        "penalty": 0.0 if sol.objective is None else float(
            (sol.flow[:len(arcs)] * p.arc_penalty[arcs]).sum()) / COST_SCALE,
    }
    if sol.status != "OPTIMAL":
        failed[np.isin(p.h_node, hs)] = (f"the flow solver returned {sol.status} for this "
                                         "household's piece")
        return row
    _decode(p, arcs, sol.flow[:len(arcs)], chosen, via, deployed)
    return row


def _rank(key: IntArray) -> IntArray:
    """Position of each element among the equal keys before it (``key`` sorted)."""
    if len(key) == 0:
        return np.zeros(0, np.int64)
    start = np.r_[0, np.flatnonzero(np.diff(key)) + 1].astype(np.int64)
    first = np.repeat(start, np.diff(np.r_[start, len(key)]))
    return np.asarray(np.arange(len(key), dtype=np.int64) - first, dtype=np.int64)


def _keep_previous(p: AssignmentProblem, hs: IntArray, hn: IntArray, node: IntArray,
                   mem: IntArray, cnt: IntArray, prev: NDArray[np.bool_],
                   chosen: IntArray, via: IntArray) -> tuple[NDArray[np.bool_], IntArray]:
    """A previous member's arc goes to the households of its group that had them (lowest
    first); returns which of ``hs`` were so given and each arc's places left over."""
    taken = np.zeros(len(hs), dtype=bool)
    left = cnt.copy()
    pa = np.flatnonzero(prev)
    if len(pa) == 0:
        return taken, left
    had = pd.DataFrame({"i": np.arange(len(hs)), "n": hn, "m": p.h_prev[hs]})
    arcs = pd.DataFrame({"n": node[pa], "m": mem[pa], "c": cnt[pa], "a": pa})
    j = had.merge(arcs, on=["n", "m"]).sort_values("i", kind="stable")
    j = j[j.groupby(["n", "m"]).cumcount().to_numpy() < j["c"].to_numpy()]
    i = j["i"].to_numpy(dtype=np.int64)
    chosen[hs[i]], via[hs[i]] = j["m"].to_numpy(dtype=np.int64), DIRECT
    taken[i] = True
    np.subtract.at(left, j["a"].to_numpy(dtype=np.int64), 1)
    return taken, left


def _hand_out(p: AssignmentProblem, used: IntArray, f: IntArray, kind: NDArray[np.int8],
              chosen: IntArray, via: IntArray) -> tuple[IntArray, IntArray]:
    """Give each group's households the members its direct flows name, and list those
    entering a port (with the port). A previous member's arc goes to the households that had
    them; the rest are matched to the group's places (members, or the port) by the shortest
    actual walk (the flow priced the group from its first household; which household of a
    building takes which of its places is free in the model, so the match never changes the
    objective). Groups with one household or one kind of place are handed out in order,
    in bulk; only mixed groups are matched one by one."""
    d = kind == DIRECT
    a = np.concatenate([used[d], used[kind == PORT]])
    cnt = np.concatenate([f[d], f[kind == PORT]])
    node = p.arc_h[a]
    mem = np.where(np.arange(len(a)) < int(d.sum()), p.arc_m[a], -1)
    hs = np.flatnonzero(np.isin(p.h_node, np.unique(node)))  # lowest first
    hs = hs[np.argsort(p.h_node[hs], kind="stable")]
    hn = p.h_node[hs]
    taken, left = _keep_previous(p, hs, hn, node, mem, cnt, p.arc_prev[a] & (mem >= 0),
                                 chosen, via)
    # places (one per household the arc carries), by group in arc order: members, then port
    s = np.repeat(np.arange(len(a)), left)
    s = s[np.argsort(node[s], kind="stable")]
    s_node, s_mem, s_rank = node[s], mem[s], _rank(node[s])
    hs, hn = hs[~taken], hn[~taken]
    key = pd.DataFrame({"n": hn, "r": _rank(hn), "h": hs}).merge(
        pd.DataFrame({"n": s_node, "r": s_rank, "m": s_mem, "a": s}), on=["n", "r"])
    kinds = pd.DataFrame({"n": s_node, "m": s_mem}).drop_duplicates()["n"].value_counts()
    size = key["n"].value_counts()
    mixed = np.intersect1d(kinds.index[kinds.to_numpy() > 1].to_numpy(),
                           size.index[size.to_numpy() > 1].to_numpy())
    key = key.sort_values(["n", "r"], kind="stable")
    is_mixed = np.isin(key["n"].to_numpy(), mixed)
    h, m, arc = (key[c].to_numpy(dtype=np.int64, copy=True) for c in ("h", "m", "a"))
    if len(mixed):
        m[is_mixed] = _match_mixed(p, h[is_mixed], m[is_mixed], key["n"].to_numpy()[is_mixed])
        port_arc = dict(zip(node[mem < 0].tolist(), np.flatnonzero(mem < 0).tolist(),
                            strict=True))
        arc[is_mixed & (m < 0)] = [port_arc[int(n)]
                                   for n in key["n"].to_numpy()[is_mixed & (m < 0)]]
    direct = m >= 0
    chosen[h[direct]], via[h[direct]] = m[direct], DIRECT
    return h[~direct], p.arc_head[a[arc[~direct]]]


def _match_mixed(p: AssignmentProblem, h: IntArray, m: IntArray, n: IntArray) -> IntArray:
    """Member (-1: the port) for each household of groups with several households and
    several kinds of places: each group's households matched to its places by the shortest
    actual walk (to a member's home, or straight to the grid's service point).

    ``n`` is sorted (groups contiguous); every group is square (as many places as
    households). Each distinct (household, member) walk is measured once, and every group's
    cost matrix is gathered from them by one sorted look-up, not a dictionary per cell."""
    starts = np.r_[0, np.flatnonzero(np.diff(n)) + 1, len(n)].astype(np.int64)
    size = np.diff(starts)
    # cell (i, j) of each group's k x k matrix: household i of the group, place j
    first = np.repeat(starts[:-1], size * size)
    local = np.arange(int((size * size).sum())) - np.repeat(np.cumsum(size * size) - size * size,
                                                           size * size)
    k = np.repeat(size, size * size)
    ch, cm = h[first + local // k], m[first + local % k]
    span = p.n_members + 1
    key = ch * span + (cm + 1)
    uniq, inv = np.unique(key, return_inverse=True)
    uh, um = uniq // span, uniq % span - 1
    cost = np.hypot(*(p.h_xy[uh] - p.g_anchor_xy[p.h_grid[uh]]).T)
    real = um >= 0
    if real.any():
        cost[real] = pair_distances(p.graph, p.m_snap, p.h_snap, um[real], uh[real]).distance_m
    cell = cost[inv]
    out = m.copy()
    offsets = np.r_[0, np.cumsum(size * size)]
    for g, (b0, b1) in enumerate(zip(starts[:-1].tolist(), starts[1:].tolist(), strict=True)):
        kk = b1 - b0
        r, c = linear_sum_assignment(cell[offsets[g]:offsets[g + 1]].reshape(kk, kk))
        out[b0 + r] = m[b0 + c]
    return out


def _decode(p: AssignmentProblem, arcs: IntArray, flow: IntArray, chosen: IntArray,
            via: IntArray, deployed: NDArray[np.bool_]) -> None:
    """Turn a piece's arc flows into one member per household (module docstring)."""
    used = arcs[flow > 0]
    f = flow[flow > 0]
    kind = p.arc_kind[used]
    # the households of each group node, handed out as the group's flow leaves it
    port_hh, port_of_h = _hand_out(p, used, f, kind, chosen, via)
    # households entering each port, and member places leaving each pool
    pool_arcs = kind == POOL
    pool_node = p.arc_tail[used[pool_arcs]]
    pool_member = p.arc_m[used[pool_arcs]]
    pool_count = f[pool_arcs]
    pin = kind == PIN
    into = (kind != DIRECT) & (kind != PORT) & ~pool_arcs & ~pin  # port → pool
    link_port, link_pool = p.arc_tail[used[into]], p.arc_head[used[into]]
    link_count, link_dep = f[into], kind[into] == DEPLOY
    # members of each pool, in order, as a queue of places
    places: dict[int, list[tuple[int, int]]] = {}
    for node, m, c in sorted(zip(pool_node.tolist(), pool_member.tolist(),
                                 pool_count.tolist(), strict=True)):
        places.setdefault(node, []).append((m, c))
    at_port: dict[int, list[tuple[int, bool]]] = {}
    for port, pool, c, dep in sorted(zip(link_port.tolist(), link_pool.tolist(),
                                         link_count.tolist(), link_dep.tolist(),
                                         strict=True)):
        queue = places.get(pool, [])
        need = c
        while need > 0 and queue:
            m, avail = queue[0]
            take = min(avail, need)
            at_port.setdefault(port, []).extend([(m, dep)] * take)
            need -= take
            if take == avail:
                queue.pop(0)
            else:
                queue[0] = (m, avail - take)
    for port, m, c in zip(p.arc_tail[used[pin]].tolist(), p.arc_m[used[pin]].tolist(),
                          f[pin].tolist(), strict=True):
        away = bool(p.m_reporting[m]) and port - p.n_hnodes != p.m_grid[m]
        at_port.setdefault(port, []).extend([(m, away)] * c)
    for port in np.unique(port_of_h):
        hs = port_hh[port_of_h == port]
        slots = at_port.get(int(port), [])
        ms = np.array([m for m, _ in slots], dtype=np.int64)
        dep = np.array([d for _, d in slots], dtype=bool)
        if len(ms) != len(hs):  # flow conservation makes them equal; never silently drop
            raise RuntimeError(f"flow decode: {len(hs)} households but {len(ms)} places at a "
                               "service point")
        start = np.where(dep, 1, 0)
        xy_m = np.where(start[:, None] == 1, p.m_origin_xy[ms], p.m_xy[ms])
        cost = np.hypot(p.h_xy[hs][:, None, 0] - xy_m[None, :, 0],
                        p.h_xy[hs][:, None, 1] - xy_m[None, :, 1])
        r, c = linear_sum_assignment(cost)
        chosen[hs[r]] = ms[c]
        via[hs[r]] = PORT
        deployed[hs[r]] = dep[c]
