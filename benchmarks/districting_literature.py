"""Districting on the literature's county maps: gisgov vs the published optima.

Instances: the county dual graphs of Validi & Buchanan, "Political districting to minimize cut
edges" (Math. Prog. Comp. 2022), public in the GitHub repository
``hamidrezavalidi/Political-Districting-to-Minimize-Cut-Edges`` under
``Data/County/dual_graphs/CountyNN.json`` (``NN`` = state FIPS code; networkx JSON, node
attribute ``TOTPOP`` = 2010 population). They are **not** in this repository: download the
files you want into a directory and pass it with ``--instances DIR``. A smaller file with only
the population and the adjacency (``json_graph.adjacency_data`` or ``node_link_data``) works
the same.

Criterion, as in the paper: K districts (the state's congressional seats), every district's
population within ±0.5 % of the ideal, contiguous, cut edges minimised. The published optima
(``PUBLISHED``) are the paper's proven Gurobi optima, read from the repository's
``results/results_for_config-table9/results_config-table9_2021_Apr_06.csv`` (county level,
labeling model with LCUT contiguity, ``MIP_status`` 2 = optimal); ``L``/``U`` there are the
population bounds, which this script checks against gisgov's own ±0.5 % bounds.

For each instance: gisgov's heuristic with ``--objective cut-edges`` (restarts sized from a 60 s
time limit, reproducible for a seed), then the exact mode (SCIP cut-set model, lazy
separators, the heuristic's plan as incumbent) with a 300 s cap: proven optimum, or the gap,
dual bound and branch-and-bound nodes where it stopped.

The engine takes a unit graph plus polygons; a dual graph has no polygons, so the graph is
built directly from the adjacency (every shared boundary of length 1) and each unit gets a small
square at a Kamada-Kawai layout position (used only to place the heuristic's seeds). Only cut
edges are scored, which do not depend on that geometry.

Usage: ``.venv/bin/python benchmarks/districting_literature.py --instances DIR
[--exact-limit 300] [--heuristic-limit 60] [--max-units 110]``; writes
``benchmarks/results/districting_literature.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely
from networkx.readwrite import json_graph
from pyproj import CRS

from gisgov.districting import Objective, UnitGraph, partition
from gisgov.districting.exact import solve_exact
from gisgov.districting.options import RedistrictOptions, objective_for

RESULTS = Path(__file__).resolve().parent / "results" / "districting_literature.json"
CUT_EDGES: Objective = objective_for(RedistrictOptions(objective="cut-edges"), community=False)
TOL = 0.005
POPULATION_KEYS = ("TOTPOP", "P0010001", "POP10", "population", "pop")


@dataclass(frozen=True)
class Published:
    """One county-level row of the paper's results (table 9 CSV, see module docstring)."""

    state: str
    k: int
    lower: int
    upper: int
    units: int
    edges: int
    optimum: int


#: by state FIPS code; the paper's proven optima (Gurobi, labeling + LCUT, status optimal)
PUBLISHED: dict[str, Published] = {
    "23": Published("ME", 2, 660860, 667501, 16, 34, 16),
    "35": Published("NM", 3, 682962, 689824, 33, 78, 17),
    "16": Published("ID", 2, 779873, 787709, 44, 102, 10),
    "54": Published("WV", 3, 614577, 620752, 55, 125, 23),
    "22": Published("LA", 6, 751785, 759339, 64, 160, 49),
    "01": Published("AL", 7, 679406, 686233, 67, 171, 55),
    "05": Published("AR", 4, 725335, 732624, 75, 192, 33),
    "40": Published("OK", 5, 746519, 754021, 77, 195, 40),
    "28": Published("MS", 4, 738116, 745533, 82, 202, 34),
    "31": Published("NE", 3, 605737, 611824, 93, 231, 19),
    "19": Published("IA", 4, 757781, 765396, 99, 222, 33),
    "20": Published("KS", 4, 709714, 716845, 105, 263, 32),
}


def read_dual_graph(path: Path) -> tuple[nx.Graph, np.ndarray]:
    """The dual graph (nodes relabelled ``0..n-1`` in file order) and its populations."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if "links" in data or "edges" in data:
        g = json_graph.node_link_graph(data, edges="links" if "links" in data else "edges")
    elif "adjacency" in data:
        g = json_graph.adjacency_graph(data)
    else:
        raise ValueError(f"{path}: neither node-link nor adjacency networkx JSON")
    g = nx.convert_node_labels_to_integers(g, ordering="default")
    attrs = g.nodes[0]
    key = next((k for k in POPULATION_KEYS if k in attrs), None)
    if key is None:
        raise ValueError(f"{path}: no population attribute among {POPULATION_KEYS}")
    pop = np.asarray([float(g.nodes[i][key]) for i in range(g.number_of_nodes())])
    return g, pop


def units_from_graph(g: nx.Graph, pop: np.ndarray) -> tuple[gpd.GeoDataFrame, UnitGraph]:
    """Polygons for the engine (squares at a graph layout) and the unit graph itself."""
    n = g.number_of_nodes()
    pos = nx.kamada_kawai_layout(g)
    xy = np.asarray([pos[i] for i in range(n)]) * 100_000.0
    cells = [shapely.box(x - 100, y - 100, x + 100, y + 100) for x, y in xy]
    crs = CRS.from_epsg(32650)
    units = gpd.GeoDataFrame({"pop": pop}, geometry=cells, crs=crs)
    edges = np.asarray(sorted((min(u, v), max(u, v)) for u, v in g.edges()), dtype=np.int64)
    deg = np.bincount(edges.ravel(), minlength=n).astype(float)
    graph = UnitGraph(n=n, edges=edges, shared_length=np.ones(len(edges)),
                      main_share=np.zeros(len(edges)), area=np.ones(n), perimeter=deg, crs=crs)
    return units, graph


def cuts(graph: UnitGraph, labels: np.ndarray) -> int:
    e = graph.edges
    return int((labels[e[:, 0]] != labels[e[:, 1]]).sum())


def bench(path: Path, pub: Published, *, heuristic_limit: float, exact_limit: float,
          seed: int) -> dict[str, Any]:
    g, pop = read_dual_graph(path)
    units, graph = units_from_graph(g, pop)
    t0 = time.perf_counter()
    heur = partition(units, weight="pop", areas=pub.k, tolerance=TOL, objective=CUT_EDGES,
                     method="heuristic", seed=seed, starts=None, time_limit=heuristic_limit,
                     graph=graph)
    h_secs = time.perf_counter() - t0
    hl = heur.labels.to_numpy()
    row: dict[str, Any] = {
        "instance": path.name, "state": pub.state, "units": graph.n, "edges": graph.m,
        "k": pub.k, "published_optimum": pub.optimum,
        "bounds_match_paper": bool(np.ceil(heur.lower - 1e-9) == pub.lower
                                   and np.floor(heur.upper + 1e-9) == pub.upper),
        "heuristic_cut_edges": cuts(graph, hl), "heuristic_seconds": h_secs,
    }
    ex = solve_exact(graph, pop, pub.k, lower=heur.lower, upper=heur.upper,
                     objective=CUT_EDGES, time_limit=exact_limit, hint=hl, seed=seed)
    ex_cuts = None if ex.labels is None else cuts(graph, ex.labels)
    # the MILP's objective is cut edges times one positive constant: its bound in cut edges
    bound = ex.bound * ex_cuts / ex.objective if ex_cuts and ex.objective > 0 else ex.bound
    row["exact"] = {"cut_edges": ex_cuts, "proven": bool(ex.optimal), "gap": ex.gap,
                    "bound_cut_edges": bound,
                    "nodes": ex.nodes, "seconds": ex.seconds}
    return row


def fmt(row: dict[str, Any]) -> str:
    ex = row["exact"]
    status = "proven" if ex["proven"] else f"gap {100 * ex['gap']:.1f}% (bound {ex['bound_cut_edges']:.1f})"
    return (f"{row['state']:3s} {row['units']:4d} {row['k']:2d} {row['published_optimum']:5d} "
            f"{row['heuristic_cut_edges']:6d} {row['heuristic_seconds']:6.1f}s "
            f"{ex['cut_edges']!s:>6} {status:28s} {ex['nodes']:8d} {ex['seconds']:6.1f}s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", type=Path, required=True,
                    help="directory of CountyNN.json dual graphs (NN = state FIPS)")
    ap.add_argument("--exact-limit", type=float, default=300.0)
    ap.add_argument("--heuristic-limit", type=float, default=60.0)
    ap.add_argument("--max-units", type=int, default=110)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    todo = []
    for path in sorted(args.instances.glob("*.json")):
        fips = re.findall(r"\d+", path.stem)
        pub = PUBLISHED.get(fips[-1].zfill(2)) if fips else None
        if pub is None:
            print(f"skip {path.name}: no published county optimum for that FIPS code")
        elif pub.units <= args.max_units:
            todo.append((pub.units, path, pub))
    print("state units K  publ. heur. (s)      exact  status                       "
          "  nodes    (s)")
    warm_units, warm_graph = units_from_graph(
        nx.convert_node_labels_to_integers(nx.grid_2d_graph(4, 4)), np.ones(16))
    # compile or load the kernels before any clock starts
    partition(warm_units, weight="pop", areas=2, tolerance=0.5, starts=2, graph=warm_graph)
    rows = []
    for _, path, pub in sorted(todo, key=lambda t: t[0]):
        row = bench(path, pub, heuristic_limit=args.heuristic_limit,
                    exact_limit=args.exact_limit, seed=args.seed)
        rows.append(row)
        print(fmt(row), flush=True)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps({"seed": args.seed, "exact_limit_s": args.exact_limit,
                                       "heuristic_limit_s": args.heuristic_limit,
                                       "rows": rows}, indent=1, default=float),
                           encoding="utf-8")
    reached = sum(r["heuristic_cut_edges"] == r["published_optimum"] for r in rows)
    proven = sum(r["exact"]["proven"] for r in rows)
    print(f"verdict: heuristic at the published optimum on {reached} of {len(rows)}; exact "
          f"proved {proven} of {len(rows)} within {args.exact_limit:.0f} s")


if __name__ == "__main__":
    main()
