"""Districting benchmark: gisgov vs GerryChain (ReCom, short bursts) vs spopt, same units.

Runs offline on the reference county (``generate_county(scale=1)``, urban compounds + street
blocks, weight = households) and on two real public datasets bundled in the installed libpysal
wheel: North Carolina counties (``sids2``, weight = 1974 births BIR74) and Georgia counties
(``georgia/G_utm``, weight = 1990 population). Every method gets the same rook adjacency (the
gisgov graph), the same K and tolerance; every plan is scored by the same code
(:func:`gisgov.districting.metrics.plan_metrics`). Prints a table and writes
``benchmarks/results/districting.json``.

Usage: ``.venv/bin/python benchmarks/districting.py [--quick]``
"""

from __future__ import annotations

import argparse
import json
import random
import time
import warnings
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd

from gisgov.districting import Objective, UnitGraph, graph_from_units, partition
from gisgov.districting.metrics import plan_metrics

RESULTS = Path(__file__).resolve().parent / "results" / "districting.json"

#: gisgov given the two criteria the table measures — cut edges first, Polsby-Popper second,
#: a small boundary-length tie-breaker — as GerryChain is given cut edges as its score. This
#: row carries the verdict. The row "gisgov (default objective)" is the engine's default
#: (cut edges, cut length and PP weighted equally, what `gisgov redistrict` uses): it trades
#: cut edges for rounder areas, so it is shown, not judged on cut edges.
MEASURED_OBJECTIVE = Objective(cut_edges=1.0, cut_length=0.1, main_streets=0.0,
                               polsby_popper=0.25)
BAR_ROW = "gisgov (cut edges + PP)"
DEFAULT_ROW = "gisgov (default objective)"


def county_case() -> tuple[gpd.GeoDataFrame, str, str | None]:
    from gisgov.districting.units import units_from_workspace
    from gisgov.sample import generate_county

    layers = generate_county(seed=0, scale=1.0)
    units = units_from_workspace(layers, communities="urban")
    return units, "households", "community_code"


def libpysal_case(name: str) -> tuple[gpd.GeoDataFrame, str, str | None]:
    import libpysal.examples as ex

    if name == "sids2":
        g = gpd.read_file(ex.get_path("sids2.shp")).set_crs("EPSG:4267")
        return g, "BIR74", None
    if name == "georgia":
        g = gpd.read_file(ex.get_path("G_utm.shp")).set_crs("EPSG:32617")
        return g, "TotPop90", None
    raise ValueError(name)


def warm_up() -> None:
    """Run the engine once on a tiny grid so its compiled kernels are loaded."""
    import shapely

    cells = [shapely.box(x, y, x + 100, y + 100) for y in range(0, 400, 100)
             for x in range(0, 400, 100)]
    units = gpd.GeoDataFrame({"w": [1.0] * 16}, geometry=cells, crs="EPSG:32650")
    partition(units, weight="w", areas=2, tolerance=0.0, seed=0, starts=2)


def score(units: gpd.GeoDataFrame, labels: np.ndarray | None, *, weight: str, graph: UnitGraph,
          current: str | None, seconds: float, method: str, lower: float, upper: float,
          note: str = "") -> dict[str, Any]:
    if labels is None:
        return {"method": method, "feasible": False, "max_deviation": None, "cut_edges": None,
                "mean_pp": None, "households_moved": None, "seconds": seconds, "note": note}
    lab = pd.Series(np.asarray(labels), index=units.index)
    m = plan_metrics(units, lab, weight=weight, graph=graph, current=current)
    w = units[weight].groupby(lab.to_numpy()).sum().to_numpy()
    eps = 1e-9 * upper
    feasible = bool(((w >= lower - eps) & (w <= upper + eps)).all() and m.areas["contiguous"].all())
    return {"method": method, "feasible": feasible, "max_deviation": m.max_deviation,
            "cut_edges": m.cut_edges, "mean_pp": m.mean_polsby_popper,
            "households_moved": m.households_moved if current else None,
            "seconds": seconds, "note": note}


def run_gerrychain(units: gpd.GeoDataFrame, weight: str, graph: UnitGraph, k: int, tol: float,
                   steps: int, seed: int) -> dict[str, tuple[np.ndarray | None, float, str]]:
    from gerrychain import Graph, MarkovChain, Partition
    from gerrychain.accept import always_accept
    from gerrychain.constraints import within_percent_of_ideal_population
    from gerrychain.optimization import SingleMetricOptimizer
    from gerrychain.partition import recursive_tree_part
    from gerrychain.proposals import recom
    from gerrychain.updaters import Tally, cut_edges

    g = nx.Graph()
    w = units[weight].to_numpy(dtype=float)
    for i in range(graph.n):
        g.add_node(i, pop=float(w[i]))
    g.add_edges_from(graph.edges.tolist())
    gg = Graph.from_networkx(g)
    ideal = float(w.sum()) / k
    out: dict[str, tuple[np.ndarray | None, float, str]] = {}
    t0 = time.perf_counter()
    try:
        assign = recursive_tree_part(gg, range(k), ideal, "pop", tol, rng=random.Random(seed))
    except Exception as exc:  # GerryChain raises several types when no cut is found
        el = time.perf_counter() - t0
        msg = f"no starting plan: {str(exc)[:80]}"
        return {"gerrychain ReCom": (None, el, msg), "gerrychain short bursts": (None, el, msg)}
    t_seed = time.perf_counter() - t0
    ups = {"population": Tally("pop", alias="population"), "cut_edges": cut_edges}
    init = Partition(gg, assign, ups)
    cons = [within_percent_of_ideal_population(init, tol)]
    prop = partial(recom, pop_col="pop", pop_target=ideal, epsilon=tol, node_repeats=0,
                   rng=random.Random(seed))

    def as_labels(p: Any) -> np.ndarray:
        return np.asarray([p.assignment[i] for i in range(graph.n)])

    t0 = time.perf_counter()
    chain = MarkovChain(prop, cons, always_accept, init, total_steps=steps, rng=random.Random(seed))
    best, best_cut = None, np.inf
    for p in chain:
        c = len(p["cut_edges"])
        if c < best_cut:
            best, best_cut = as_labels(p), c
    out["gerrychain ReCom"] = (best, t_seed + time.perf_counter() - t0, f"{steps} steps, best by cut edges")
    t0 = time.perf_counter()
    opt = SingleMetricOptimizer(prop, cons, init, lambda p: len(p["cut_edges"]), maximize=False,
                                rng=random.Random(seed))
    for _ in opt.short_bursts(10, max(1, steps // 10)):
        pass
    out["gerrychain short bursts"] = (as_labels(opt.best_part), t_seed + time.perf_counter() - t0,
                                      f"{steps // 10} bursts of 10")
    return out


def run_spopt(units: gpd.GeoDataFrame, weight: str, graph: UnitGraph, k: int, lower: float,
              seed: int) -> dict[str, tuple[np.ndarray | None, float, str]]:
    from libpysal.weights import W
    from spopt.region import AZP, MaxPHeuristic, Skater

    nb: dict[int, list[int]] = {i: [] for i in range(graph.n)}
    for i, j in graph.edges.tolist():
        nb[i].append(j)
        nb[j].append(i)
    gdf = units.reset_index(drop=True).copy()
    gdf["pop"] = gdf[weight].astype(float)
    out: dict[str, tuple[np.ndarray | None, float, str]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = W(nb, silence_warnings=True)
        runs: list[tuple[str, Callable[[], Any], str]] = [
            ("spopt AZP", lambda: AZP(gdf, w, ["pop"], n_clusters=k, random_state=seed), "attribute homogeneity"),
            ("spopt SKATER", lambda: Skater(gdf, w, ["pop"], n_clusters=k), "attribute homogeneity"),
            ("spopt max-p", lambda: MaxPHeuristic(gdf, w, ["pop"], "pop", lower, top_n=2), "floor only (K not set)"),
        ]
        for name, make, note in runs:
            if name == "spopt max-p" and graph.n > 150:
                # Measured: 535 s on the 266 county units, and still unbalanced.
                out[name] = (None, 0.0, "skipped: > 500 s above 150 units")
                continue
            t0 = time.perf_counter()
            try:
                model = make()
                model.solve()
                out[name] = (np.asarray(model.labels_), time.perf_counter() - t0, note)
            except Exception as exc:  # report, don't crash the table
                out[name] = (None, time.perf_counter() - t0, f"failed: {str(exc)[:60]}")
    return out


def bench(case: str, units: gpd.GeoDataFrame, weight: str, current: str | None, k: int, tol: float,
          *, steps: int, seed: int, time_limit: float) -> list[dict[str, Any]]:
    graph = graph_from_units(units)
    total = float(units[weight].sum())
    lower, upper = total / k * (1 - tol), total / k * (1 + tol)
    rows = []
    for method, objective in ((BAR_ROW, MEASURED_OBJECTIVE), (DEFAULT_ROW, None)):
        t0 = time.perf_counter()
        try:
            res = partition(units, weight=weight, areas=k, tolerance=tol, graph=graph, seed=seed,
                            time_limit=time_limit, objective=objective)
            labels, note = res.labels.to_numpy(), res.method
        except Exception as exc:
            labels, note = None, f"failed: {exc}"
        rows.append(score(units, labels, weight=weight, graph=graph, current=current,
                          seconds=time.perf_counter() - t0, method=method, lower=lower,
                          upper=upper, note=note))
    for name, (lab, secs, nt) in run_gerrychain(units, weight, graph, k, tol, steps, seed).items():
        rows.append(score(units, lab, weight=weight, graph=graph, current=current, seconds=secs,
                          method=name, lower=lower, upper=upper, note=nt))
    for name, (lab, secs, nt) in run_spopt(units, weight, graph, k, lower, seed).items():
        rows.append(score(units, lab, weight=weight, graph=graph, current=current, seconds=secs,
                          method=name, lower=lower, upper=upper, note=nt))
    for r in rows:
        r.update({"case": case, "units": len(units), "k": k, "tolerance": tol})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer GerryChain steps, one tolerance")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    steps = 300 if args.quick else 1000
    # The compiled kernels are built once per installation (numba, cached on disk) and
    # loaded once per process: pay that before the clock starts, as GerryChain's and spopt's
    # imports are paid before theirs, and report it.
    t0 = time.perf_counter()
    warm_up()
    kernel_seconds = time.perf_counter() - t0
    cases: list[tuple[str, Callable[[], tuple[gpd.GeoDataFrame, str, str | None]], int, list[float]]] = [
        ("reference county (urban units)", county_case, 5, [0.10, 0.02]),
        ("North Carolina counties (sids2, BIR74)", lambda: libpysal_case("sids2"), 5, [0.05, 0.02]),
        ("Georgia counties (G_utm, TotPop90)", lambda: libpysal_case("georgia"), 6, [0.05, 0.02]),
    ]
    rows: list[dict[str, Any]] = []
    for case, load, k, tols in cases:
        units, weight, current = load()
        for tol in tols[:1] if args.quick else tols:
            rows.extend(bench(case, units, weight, current, k, tol, steps=steps, seed=args.seed,
                              time_limit=30.0))
    fmt = "{:<40} {:>5} {:>5} {:<27} {:>8} {:>9} {:>6} {:>7} {:>8} {:>8}"
    print(fmt.format("case", "K", "tol", "method", "feasible", "max dev", "cut", "mean PP", "moved", "seconds"))
    for r in rows:
        print(fmt.format(
            r["case"][:40], r["k"], f"{r['tolerance']:.2f}", r["method"], str(r["feasible"]),
            "-" if r["max_deviation"] is None else f"{r['max_deviation']:.3f}",
            "-" if r["cut_edges"] is None else r["cut_edges"],
            "-" if r["mean_pp"] is None else f"{r['mean_pp']:.3f}",
            "-" if r["households_moved"] is None else f"{r['households_moved']:.0f}",
            f"{r['seconds']:.1f}",
        ))
    # Against GerryChain's best feasible plan per case and tolerance: the bar is fewer cut
    # edges than its best, a higher mean PP than its best and less time than its fastest.
    print()
    verdicts = []
    for (case, tol), grp in pd.DataFrame(rows).groupby(["case", "tolerance"], sort=False):
        gc = grp[grp["method"].str.startswith("gerrychain") & grp["feasible"]]
        ours = grp[grp["method"] == BAR_ROW].iloc[0]
        if gc.empty or not ours["feasible"]:
            print(f"{case} ±{tol}: gisgov feasible={ours['feasible']}; GerryChain feasible "
                  f"plans: {len(gc)}")
            verdicts.append(bool(ours["feasible"]))
            continue
        best_cut, best_pp, fastest = gc["cut_edges"].min(), gc["mean_pp"].max(), gc["seconds"].min()
        fewer = ours["cut_edges"] < best_cut
        rounder = ours["mean_pp"] > best_pp
        faster = ours["seconds"] < fastest
        met = bool(fewer and rounder and faster)
        verdicts.append(met)
        why = "" if met else "  (" + ", ".join(
            x for x, ok in (("cut edges", fewer), ("PP", rounder), ("time", faster)) if not ok
        ) + " not better)"
        print(f"{case} ±{tol}: cut edges {ours['cut_edges']} vs {best_cut} "
              f"({ours['cut_edges'] / best_cut:.2f}x), mean PP {ours['mean_pp']:.3f} vs "
              f"{best_pp:.3f}, time {ours['seconds']:.2f}s vs {fastest:.2f}s "
              f"({ours['seconds'] / fastest:.2f}x): bar {'met' if met else 'NOT met'}{why}")
    print(f"\nbar met in {sum(verdicts)} of {len(verdicts)} cases; gisgov's compiled kernels "
          f"took {kernel_seconds:.1f}s to load before the clock started (compiling them on a "
          f"fresh installation takes ~16s once)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"steps": steps, "seed": args.seed, "kernel_load_seconds": kernel_seconds,
                                   "bar_met": sum(verdicts), "cases": len(verdicts), "rows": rows}, indent=2,
                                  ensure_ascii=False, default=float))
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
