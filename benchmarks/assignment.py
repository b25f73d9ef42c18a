"""Benchmark: red-grid assignment — gisgov vs a greedy baseline vs an exact all-pairs MILP.

Part 1 (small grids, same data, one run): for each of a few grids of the reference county,
the same cost matrix (walking metres on the street network, minus the same-building and
same-compound bonuses, minus the kin bonus) is solved by

* ``gisgov``  — :func:`gisgov.assignment.assign` (min-cost flow, certified);
* ``greedy`` — what a coordinator's spreadsheet does: kin first, then every household (closest
  first) to its nearest member with room left; minimum loads are not enforced;
* ``milp``   — scipy/HiGHS MILP over all pairs with hard load bounds (the exact reference).

Cost ratios are against the MILP optimum of the model cost (walking and 就便 bonuses, shifted
by the bonuses so every pair is >= 0; kin is compared as a count).

``gisgov`` runs with every member of the grid as a direct candidate (``k_nearest`` = members:
the dense model); ``gisgov_sparse`` is the default sparse model (6 nearest direct, the rest
through the grid's service point), to show what the sparsification costs in walking.

Part 2 (the issue's done-when): the whole reference county (seed 1, as ``make demo``) at scale 1
after its reform, with the grids of the grid engine (``gisgov grids``): time, coverage, loads,
kin, optimality, and changes after 1% of households move.

Part 3: the same county under each deployment scope (grid, community, subdistrict): coverage
and walking side by side.

Part 4 (``--scale 8``): the county at scale 8 (about 194,000 households), built once into
``benchmarks/.cache/``; ``gisgov assign --json`` runs in a child process whose wall time, CPU
time, peak memory (``ru_maxrss``) and starting load are recorded, at the default 3 km cap with
a deployed member's walk measured from home (default) and from the unit (``--deploy-from``),
on two workers (``--workers 2``: the two subdistrict pieces in parallel), and at wider caps,
so the coverage the data allows is shown in figures; each run's ``digest`` hashes the
written assignments (household, member, grid, walk), so runs that must agree (one or two
workers) are seen to; then why it stops where it does (``reach``: the
walk from each mixed community's grid to the nearest service point with reporting members, at
scale 1 and 8) and where the CPU goes (``phases_cpu_seconds``: reading, building the problem,
the flows, decoding, the result tables, writing; measured in this process).

Run: ``.venv/bin/python benchmarks/assignment.py [--scale 8]``; writes
``benchmarks/results/assignment.json`` (and ``assignment_scale8.json``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from scipy.optimize import Bounds, LinearConstraint, milp

from gisgov.assignment import assign, previous_from_layer
from gisgov.crs import working_crs_for
from gisgov.network import graph_from_streets, pair_distances, snap_points
from gisgov.sample import generate_county

RESULTS = Path(__file__).resolve().parent / "results" / "assignment.json"
BUILDING_BONUS, COMPOUND_BONUS, KIN_BONUS = 100.0, 50.0, 1.0e5
N_SMALL_GRIDS = 8


def real_grids(layers: dict[str, gpd.GeoDataFrame]) -> dict[str, gpd.GeoDataFrame]:
    """The county after its reform, as ``make demo`` builds it: the urban area re-drawn into 5
    communities (scenario accepted), then every community partitioned by the grid engine."""
    import tempfile

    from gisgov.districting.community import COMMUNITY_OBJECTIVE, redistrict
    from gisgov.districting.scenarios import accept_scenario, save_scenario
    from gisgov.grids import make_grids, write_grid_plan
    from gisgov.store import open_workspace

    with tempfile.TemporaryDirectory() as tmp:
        ws = open_workspace(Path(tmp) / "county.gpkg", create=True)
        with ws.transaction() as tx:
            for name, gdf in layers.items():
                tx.write(name, gdf)
        plan = redistrict(ws.read_all(), communities="urban", areas=5,
                          objective=COMMUNITY_OBJECTIVE, crs=ws.working_crs, seed=0)
        save_scenario(ws, "reform", plan)
        accept_scenario(ws, "reform")
        write_grid_plan(ws, make_grids(ws.read_all(), crs=ws.working_crs, seed=0))
        return ws.read_all()


def _cost_matrix(layers: dict[str, gpd.GeoDataFrame], hh: gpd.GeoDataFrame,
                 mem: gpd.GeoDataFrame, crs: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Model cost (without kin), kin mask and walking metres for every pair, independently."""
    graph = graph_from_streets(layers["streets"], crs=crs)
    sm, sh = snap_points(graph, mem), snap_points(graph, hh)
    mi, hi = np.repeat(np.arange(len(mem)), len(hh)), np.tile(np.arange(len(hh)), len(mem))
    walk = pair_distances(graph, sm, sh, mi, hi).distance_m.reshape(len(mem), len(hh)).T
    b = layers["buildings"]
    compound = dict(zip(b["id"], b["compound_id"], strict=True))
    tree = shapely.STRtree(b.geometry.values)
    mp, bi = tree.query(mem.geometry.values, predicate="intersects")
    m_bld = np.full(len(mem), None, dtype=object)
    m_bld[mp] = b["id"].to_numpy()[bi]
    h_bld = hh["building_id"].to_numpy(dtype=object)
    h_cmp = np.array([compound.get(x) for x in h_bld], dtype=object)
    m_cmp = np.array([compound.get(x) for x in m_bld], dtype=object)
    same_b = (h_bld[:, None] == m_bld[None]) & (h_bld[:, None] != None)  # noqa: E711
    same_c = (h_cmp[:, None] == m_cmp[None]) & (h_cmp[:, None] != None)  # noqa: E711
    cost = walk - BUILDING_BONUS * same_b - COMPOUND_BONUS * (same_b | same_c)
    kin = hh["kin_member_id"].to_numpy(dtype=object)[:, None] == mem["id"].to_numpy()[None]
    return cost, kin, walk


def _greedy(cost: np.ndarray, walk: np.ndarray, kin: np.ndarray, hi: np.ndarray) -> np.ndarray:
    n_h, _ = cost.shape
    load = np.zeros(len(hi), dtype=int)
    out = np.full(n_h, -1)
    for h, m in zip(*np.nonzero(kin), strict=True):
        if out[h] < 0 and load[m] < hi[m]:
            out[h], load[m] = m, load[m] + 1
    for h in np.argsort(walk.min(axis=1)):
        if out[h] >= 0:
            continue
        for m in np.argsort(walk[h]):
            if load[m] < hi[m]:
                out[h], load[m] = m, load[m] + 1
                break
    return out


def _milp(cost: np.ndarray, kin: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    n_h, n_m = cost.shape
    c = (cost - KIN_BONUS * kin).ravel()
    res = milp(c, integrality=np.ones(c.size), bounds=Bounds(0, 1),
               constraints=[LinearConstraint(np.kron(np.eye(n_h), np.ones(n_m)), 1, 1),
                            LinearConstraint(np.kron(np.ones(n_h), np.eye(n_m)), lo, hi)],
               options={"mip_rel_gap": 0.0})
    if res.status != 0:
        raise RuntimeError(f"MILP failed: {res.message}")
    return np.asarray(res.x, dtype=float).reshape(n_h, n_m).argmax(axis=1)


def _score(choice: np.ndarray, cost: np.ndarray, walk: np.ndarray, kin: np.ndarray,
           lo: np.ndarray) -> dict[str, float]:
    ok = choice >= 0
    h = np.flatnonzero(ok)
    load = np.bincount(choice[ok], minlength=len(lo))
    return {
        "model_cost_m": float((cost[h, choice[ok]] + BUILDING_BONUS + COMPOUND_BONUS).sum()),
        "walk_m": float(walk[h, choice[ok]].sum()),
        "kin": int(kin[h, choice[ok]].sum()),
        "unassigned": int((~ok).sum()),
        "below_min": int((load < lo).sum()),
    }


def small_grids(layers: dict[str, gpd.GeoDataFrame], grids: gpd.GeoDataFrame
                ) -> list[dict[str, Any]]:
    crs = working_crs_for(layers["households"])
    hh_all, m_all = layers["households"], layers["members"]
    rows: list[dict[str, Any]] = []
    for code in grids["code"]:
        if len(rows) >= 4 * N_SMALL_GRIDS:
            break
        grid = grids[grids["code"] == code]
        poly = grid.geometry.iloc[0]
        hh = hh_all[hh_all.intersects(poly)].reset_index(drop=True)
        mem = m_all[m_all.intersects(poly)]
        lo_hi = np.array([(5, 10) if c in "AB" and s != "away" else (0, 5) if c == "C"
                          and s != "away" else (0, 0)
                          for c, s in zip(mem["class"], mem["status"], strict=True)])
        mem = mem[lo_hi[:, 1] > 0].reset_index(drop=True)
        lo, hi = lo_hi[lo_hi[:, 1] > 0, 0], lo_hi[lo_hi[:, 1] > 0, 1]
        if not lo.sum() <= len(hh) <= hi.sum():
            continue  # the exact reference needs a feasible grid
        cost, kin, walk = _cost_matrix(layers, hh, mem, crs)
        timings: dict[str, float] = {}
        t = time.perf_counter()
        res = assign(hh, mem, grid, streets=layers["streets"], buildings=layers["buildings"],
                     borrow=False, kin_scope="grid", working_crs=crs, k_nearest=len(mem))
        timings["gisgov"] = time.perf_counter() - t
        t = time.perf_counter()
        sparse = assign(hh, mem, grid, streets=layers["streets"],
                        buildings=layers["buildings"], borrow=False, kin_scope="grid",
                        working_crs=crs)
        timings["gisgov_sparse"] = time.perf_counter() - t
        pick = dict(zip(res.assignments["household_id"], res.assignments["member_id"],
                        strict=True))
        m_index = {k: i for i, k in enumerate(mem["id"])}
        g_choice = np.array([m_index.get(pick.get(h, ""), -1) for h in hh["id"]])
        pick3 = dict(zip(sparse.assignments["household_id"], sparse.assignments["member_id"],
                         strict=True))
        g3 = np.array([m_index.get(pick3.get(h, ""), -1) for h in hh["id"]])
        t = time.perf_counter()
        greedy = _greedy(cost, walk, kin, hi)
        timings["greedy"] = time.perf_counter() - t
        t = time.perf_counter()
        exact = _milp(cost, kin, lo, hi)
        timings["milp"] = time.perf_counter() - t
        scores = {k: _score(v, cost, walk, kin, lo)
                  for k, v in (("gisgov", g_choice), ("gisgov_sparse", g3), ("greedy", greedy),
                               ("milp", exact))}
        ref = scores["milp"]["model_cost_m"]
        for name, sc in scores.items():
            rows.append({"grid": code, "households": len(hh), "members": len(mem),
                         "method": name, **sc, "cost_ratio": sc["model_cost_m"] / ref,
                         "seconds": round(timings[name], 4),
                         "certified": (bool(res.optimal) if name == "gisgov" else
                                       bool(sparse.optimal) if name == "gisgov_sparse" else None)})
    return rows


def county_run(layers: dict[str, gpd.GeoDataFrame], grids: gpd.GeoDataFrame) -> dict[str, Any]:
    args = {"streets": layers["streets"], "buildings": layers["buildings"],
            "units": layers["units"]}
    t = time.perf_counter()
    first = assign(layers["households"], layers["members"], grids, **args)
    seconds = time.perf_counter() - t
    hh = layers["households"].copy()
    rng = np.random.default_rng(1)
    moved = rng.choice(len(hh), len(hh) // 100, replace=False)
    swap = rng.permutation(moved)
    hh.iloc[moved, hh.columns.get_loc("geometry")] = hh.geometry.values[swap]
    hh.iloc[moved, hh.columns.get_loc("building_id")] = hh["building_id"].to_numpy()[swap]
    t = time.perf_counter()
    second = assign(hh, layers["members"], grids, previous=previous_from_layer(first.assignments),
                    **args)
    seconds2 = time.perf_counter() - t
    g = first.grids.set_index("grid_code")
    below = first.members[first.members["shortfall"] > 0]
    below_where_capacity_allows = int(sum(
        g.loc[c, "capacity_min"] <= g.loc[c, "households"] for c in below["grid_code"]))
    s = first.summary
    return {
        "households": s["households"], "grids": s["grids"], "pairs": s["pairs"],
        "seconds": round(seconds, 3), "optimal": s["optimal"],
        "objective": s["objective"], "lower_bound": s["lower_bound"],
        "assigned": s["assigned"], "unassigned": s["unassigned"], "coverage": s["coverage"],
        "deployed": s["deployed"], "deployed_households": s["deployed_households"],
        "members_multi_grid": s["members_multi_grid"], "one_grid_gap_m": s["one_grid_gap_m"],
        "unassigned_outside_short_grids": int(g.loc[~g["short_of_members"], "unassigned"].sum()),
        "members_below_min": s["members_below_min"],
        "members_below_min_where_capacity_allows": below_where_capacity_allows,
        "members_above_max": int((first.members["load"] > first.members["max_load"]).sum()),
        "kin_total": s["kin_total"], "kin_possible": s["kin_possible"],
        "kin_honoured": s["kin_honoured"], "fallback_pairs": s["fallback_pairs"],
        "mean_walk_m": s["mean_walk_m"], "max_walk_m": s["max_walk_m"],
        "moved_households": len(moved),
        "rerun_seconds": round(seconds2, 3),
        "changed_from_previous": second.summary["changed_from_previous"],
        "changed_share": round(second.summary["changed_from_previous"] / len(hh), 4),
    }


def scopes_run(layers: dict[str, gpd.GeoDataFrame], grids: gpd.GeoDataFrame
               ) -> list[dict[str, Any]]:
    """One row per deployment scope: coverage and walking side by side."""
    rows = []
    for scope in ("grid", "community", "subdistrict"):
        t = time.perf_counter()
        r = assign(layers["households"], layers["members"], grids, streets=layers["streets"],
                   buildings=layers["buildings"], units=layers["units"], scope=scope)
        s = r.summary
        rows.append({"scope": scope, "coverage": s["coverage"], "assigned": s["assigned"],
                     "unassigned": s["unassigned"], "deployed": s["deployed"],
                     "deployed_households": s["deployed_households"],
                     "members_below_min": s["members_below_min"],
                     "mean_walk_m": s["mean_walk_m"],
                     "total_walk_km": round(s["total_walk_m"] / 1000, 1),
                     "more_members_needed": s["more_members_needed"],
                     "optimal": s["optimal"], "seconds": round(time.perf_counter() - t, 3)})
    return rows


#: ``(deploy cap m, deploy_from, workers)`` of each scale-8 run: the default (3 km, from home,
#: one worker), the other origin of a deployed member's walk at the default cap, the two
#: subdistrict pieces on two workers, then wider caps.
SCALE8_RUNS: tuple[tuple[float, str, int], ...] = (
    (3000.0, "home", 1), (3000.0, "unit", 1), (3000.0, "home", 2),
    (5000.0, "home", 1), (6000.0, "home", 1), (8000.0, "home", 1))


def _digest(path: Path) -> str:
    """SHA-256 (16 hex digits) of the written assignments (household, member, grid, walk),
    sorted by household: equal digests, the same assignment to the metre."""
    import hashlib

    import pandas as pd

    from gisgov.store import open_workspace

    ws = open_workspace(path)
    try:
        cols = ["household_id", "member_id", "grid_code", "walk_m"]
        t = pd.DataFrame(ws.read("assignments", columns=cols[1:])[cols])
    finally:
        ws.close()
    t = t.sort_values("household_id").reset_index(drop=True)
    return hashlib.sha256(
        pd.util.hash_pandas_object(t, index=False).to_numpy().tobytes()).hexdigest()[:16]


def scale8_run(runs: tuple[tuple[float, str, int], ...] = SCALE8_RUNS) -> dict[str, Any]:
    """The county at scale 8 through the CLI in a child process: wall time, peak memory."""
    import os
    import resource
    import shutil
    import subprocess

    cache = Path(__file__).resolve().parent / ".cache"
    cache.mkdir(exist_ok=True)
    base = cache / "county8.gpkg"
    cli = [str(Path(sys.executable).with_name("gisgov"))]
    if not base.exists():
        tmp = cache / "county8.building.gpkg"
        for step in (["sample", str(tmp), "--seed", "1", "--scale", "8", "--force"],
                     ["redistrict", str(tmp), "--communities", "urban", "--areas", "5",
                      "--scenario", "reform", "--apply"],
                     ["grids", str(tmp)]):
            subprocess.run([*cli, *step], check=True, capture_output=True)
        tmp.rename(base)
    out_runs = []
    for cap, origin, workers in runs:
        ws = cache / "county8.run.gpkg"
        shutil.copy2(base, ws)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        before = usage.ru_maxrss
        cpu0 = usage.ru_utime + usage.ru_stime
        load = os.getloadavg()[0]
        t = time.perf_counter()
        out = subprocess.run([*cli, "assign", str(ws), "--json", "--fresh", "--deploy-cap",
                              str(cap), "--deploy-from", origin, "--workers", str(workers)],
                             check=True, capture_output=True, text=True, env=dict(os.environ))
        wall = time.perf_counter() - t
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak = usage.ru_maxrss
        doc = json.loads(out.stdout)
        out_runs.append({
            "deploy_cap_m": cap, "deploy_from": origin, "workers": workers,
            "households": doc["households"], "coverage": doc["coverage"],
            "unassigned": doc["unassigned"], "deployed": doc["deployed"],
            "members_below_min": doc["members_below_min"],
            "more_members_needed": doc["more_members_needed"], "optimal": doc["optimal"],
            "pieces": doc["clusters"], "arcs": doc["arcs"], "mean_walk_m": doc["mean_walk_m"],
            "coverage_bound": doc["coverage_bound"],
            "coverage_maximal": doc["coverage_maximal"],
            "certified": doc["lower_bound"] == doc["objective"],
            # CPU seconds (user + system) of the child (a local Dask cluster's worker
            # processes are its children too): on a shared machine wall time measures the
            # other users too; the 1-minute load average (2 cores) when the run started.
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime - cpu0, 2),
            "load_1min": round(load, 2),
            "wall_seconds": round(wall, 2), "cli_seconds": doc["seconds"],
            "assign_seconds": doc["solve_seconds"],
            # ru_maxrss is the largest child so far (KiB on Linux): only a rise is this run's.
            "peak_rss_mb": round(max(peak, before) / 1024, 1),
            "digest": _digest(ws),
        })
        ws.unlink()
    return {"runs": out_runs}


def scale8_phases(path: Path) -> dict[str, float]:
    """CPU seconds of each phase of ``gisgov assign --fresh`` on the scale-8 county, in this
    process (the CLI's own path: :func:`gisgov.assignment.tasks.run_assign`, then
    :func:`gisgov.assignment.write_assignment`): each phase's function is wrapped to add its
    ``time.process_time`` (CPU: on a shared machine wall time measures the other users too).
    ``read`` is each piece's task minus its assignment (the task reads its layers and locates
    its households); ``pieces`` is the split into subdistrict groups (reads grids, members).
    """
    import gisgov.assignment._assign as run_mod
    import gisgov.assignment._result as result_mod
    import gisgov.assignment._solve as solve_mod
    import gisgov.assignment.tasks as tasks_mod
    from gisgov.assignment import write_assignment
    from gisgov.assignment.options import AssignOptions
    from gisgov.store import open_workspace

    spent: dict[str, float] = {}

    def timed(name: str, fn: Any, key: Any = None) -> Any:
        def wrapper(*a: Any, **k: Any) -> Any:
            t = time.process_time()
            try:
                return fn(*a, **k)
            finally:
                label = key(a, k) if key else name
                spent[label] = spent.get(label, 0.0) + time.process_time() - t
        return wrapper

    saved = [(run_mod, "build_problem"), (solve_mod, "solve_min_cost_flow"),
             (solve_mod, "_decode"), (result_mod, "coverage_bound"),
             (run_mod, "make_result"), (tasks_mod, "assign_piece"), (tasks_mod, "_pieces"),
             (tasks_mod, "assign")]
    originals = [getattr(m, n) for m, n in saved]
    run_mod.build_problem = timed("build problem", run_mod.build_problem)
    solve_mod.solve_min_cost_flow = timed("", solve_mod.solve_min_cost_flow, key=lambda a, k: (
        "flow (certified)" if k.get("certify", True) else "flow (pins, uncertified)"))
    solve_mod._decode = timed("decode flows", solve_mod._decode)
    result_mod.coverage_bound = timed("coverage bound", result_mod.coverage_bound)
    run_mod.make_result = timed("result tables (with bound)", run_mod.make_result)
    tasks_mod.assign_piece = timed("piece task", tasks_mod.assign_piece)
    tasks_mod._pieces = timed("pieces", tasks_mod._pieces)
    tasks_mod.assign = timed("assign", tasks_mod.assign)
    try:
        t = time.process_time()
        ws = open_workspace(path)
        result = tasks_mod.run_assign(ws, AssignOptions(fresh=True))
        spent["write"] = -time.process_time()
        write_assignment(ws, result)
        spent["write"] += time.process_time()
        ws.close()
        spent["total"] = time.process_time() - t
    finally:
        for (m, n), fn in zip(saved, originals, strict=True):
            setattr(m, n, fn)
    spent["read (piece tasks minus assign)"] = spent.pop("piece task") - spent["assign"]
    spent["flows, pins and rest of the solve"] = (
        spent.pop("assign") - spent["build problem"] - spent["result tables (with bound)"])
    return {k: round(v, 2) for k, v in spent.items()}


def reach(layers: dict[str, gpd.GeoDataFrame],
          caps: tuple[float, ...] = (3000.0, 4000.0, 5000.0, 6000.0, 8000.0)) -> dict[str, Any]:
    """Why coverage stops where it does: the walk from each mixed (村改居) community's grid to
    the nearest service point of a grid with reporting (in-service) members of its
    subdistrict, and the share of those communities' households within each cap."""
    from gisgov.assignment import AssignmentInput, AssignSettings, build_problem

    p = build_problem(AssignmentInput(layers["households"], layers["members"],
                                      layers["grids"], streets=layers["streets"]),
                      AssignSettings())
    src = np.unique(p.m_grid[p.eligible & p.m_reporting & (p.m_grid >= 0)])
    ports = snap_points(p.graph, p.g_anchor_xy)
    near = np.full(p.n_grids, np.inf)
    for sub in np.unique(p.g_subdistrict.astype(str)):
        tg = np.flatnonzero((p.g_subdistrict.astype(str) == sub) & (p.g_households > 0))
        sg = src[p.g_subdistrict[src].astype(str) == sub]
        if len(tg) and len(sg):
            d = pair_distances(p.graph, ports, ports, np.tile(sg, len(tg)),
                               np.repeat(tg, len(sg))).distance_m
            near[tg] = d.reshape(len(tg), len(sg)).min(axis=1)
    # community codes: the 10th digit is 2 for the village-to-residence (村改居) communities
    mixed = np.array([str(c)[9] == "2" for c in p.g_comm]) & (p.g_households > 0)
    hh = p.g_households
    extent = p.g_anchor_xy.max(axis=0) - p.g_anchor_xy.min(axis=0)
    return {
        "extent_km": [round(float(v) / 1000, 2) for v in extent],
        "mixed_households": int(hh[mixed].sum()),
        "walk_to_nearest_reporting_port_m": {
            q: round(float(np.quantile(near[mixed], float(q))))
            for q in ("0.5", "0.9", "0.99", "1.0")},
        "mixed_households_within_cap": {
            str(int(c)): round(float(hh[mixed & (near <= c)].sum() / hh[mixed].sum()), 4)
            for c in caps},
    }


def main() -> int:
    if "--scale" in sys.argv:
        import os

        load_start = os.getloadavg()
        big = scale8_run()
        print("Part 4 — the county at scale 8 (gisgov assign in a child process)")
        for r in big["runs"]:
            print("  " + ", ".join(f"{k}={v}" for k, v in r.items()))
        import shutil
        import tempfile

        from gisgov.store import open_workspace

        base = Path(__file__).resolve().parent / ".cache" / "county8.gpkg"
        ws8 = open_workspace(base)
        big["reach"] = {
            "scale_1": reach(real_grids(generate_county(seed=1, scale=1.0))),
            "scale_8": reach({k: ws8.read(k) for k in ("households", "members", "grids",
                                                       "streets")})}
        ws8.close()
        print("  reach:", big["reach"])

        with tempfile.TemporaryDirectory() as tmp:
            ws = Path(tmp) / "county8.gpkg"
            shutil.copy2(base, ws)
            big["phases_cpu_seconds"] = scale8_phases(ws)
        print("  phases (CPU s):", big["phases_cpu_seconds"])
        # 1/5/15-minute load averages (2 cores): wall times above are only comparable at like load
        big["load_average"] = {"start": [round(v, 2) for v in load_start],
                               "end": [round(v, 2) for v in os.getloadavg()]}
        path = RESULTS.with_name("assignment_scale8.json")
        path.write_text(json.dumps(big, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {path}")
        return 0
    layers = real_grids(generate_county(seed=1, scale=1.0))
    grids = layers["grids"]
    rows = small_grids(layers, grids)
    county = county_run(layers, grids)
    scopes = scopes_run(layers, grids)
    print("Part 1 — small grids, same cost matrix (ratio vs exact MILP optimum)")
    print(f"{'method':<8} {'grids':>5} {'cost ratio':>11} {'worst':>9} {'kin':>5} "
          f"{'below min':>9} {'unassigned':>10} {'seconds':>8}")
    summary: dict[str, Any] = {}
    for method in ("gisgov", "gisgov_sparse", "greedy", "milp"):
        r = [x for x in rows if x["method"] == method]
        ratio = sum(x["model_cost_m"] for x in r) / sum(
            x["model_cost_m"] for x in rows if x["method"] == "milp")
        summary[method] = {
            "grids": len(r), "cost_ratio": round(ratio, 7),
            "worst_ratio": round(max(x["cost_ratio"] for x in r), 7),
            "kin": sum(x["kin"] for x in r), "below_min": sum(x["below_min"] for x in r),
            "unassigned": sum(x["unassigned"] for x in r),
            "seconds": round(sum(x["seconds"] for x in r), 3),
        }
        s = summary[method]
        print(f"{method:<8} {s['grids']:>5} {s['cost_ratio']:>11.6f} {s['worst_ratio']:>9.6f} "
              f"{s['kin']:>5} {s['below_min']:>9} {s['unassigned']:>10} {s['seconds']:>8.3f}")
    print("\nPart 2 — reference county, scale 1")
    for k, v in county.items():
        print(f"  {k:<42} {v}")
    print("\nPart 3 — deployment scopes, reference county at scale 1")
    print(f"{'scope':<12} {'coverage':>8} {'deployed':>8} {'below min':>9} {'mean walk':>9} "
          f"{'total km':>9} {'need':>5} {'seconds':>8}")
    for r in scopes:
        print(f"{r['scope']:<12} {r['coverage']:>8.2%} {r['deployed']:>8} "
              f"{r['members_below_min']:>9} {r['mean_walk_m']:>9.0f} {r['total_walk_km']:>9.1f} "
              f"{r['more_members_needed']:>5} {r['seconds']:>8.2f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"small_grids": {"summary": summary, "rows": rows},
                                   "county": county, "scopes": scopes},
                                  ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
