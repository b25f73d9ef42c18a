"""The compiled annealing kernel: its incremental bookkeeping agrees with a full recount."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gisgov.districting import Objective, graph_from_units, partition
from gisgov.districting._kernel import (
    PieceArrays,
    anneal_kernel,
    csr_from_graph,
    kernel_ready,
    plan_terms,
)
from gisgov.districting.objective import Plan, contiguous
from tests.conftest import HANG_GUARD_S


def lattice(nx: int, ny: int, *, seed: int) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    # irregular cell widths so shared lengths, perimeters and PP differ between moves
    xs = np.concatenate([[0.0], np.cumsum(rng.uniform(60, 140, nx))])
    ys = np.concatenate([[0.0], np.cumsum(rng.uniform(60, 140, ny))])
    cells = [shapely.box(xs[i], ys[j], xs[i + 1], ys[j + 1]) for j in range(ny) for i in range(nx)]
    return gpd.GeoDataFrame({"hh": rng.integers(5, 30, len(cells))}, geometry=cells,
                            crs="EPSG:32650")


def run_kernel(units: gpd.GeoDataFrame, k: int, tol: float, objective: Objective, *, seed: int,
               home: np.ndarray | None = None, hot: float = 1.0) -> tuple[np.ndarray, float, bool]:
    g = graph_from_units(units)
    w = units["hh"].to_numpy(dtype=float)
    ideal = w.sum() / k
    # a contiguous start: vertical strips of the lattice
    nx = math.isqrt(len(units))
    start = np.minimum((np.arange(len(units)) % nx) * k // nx, k - 1).astype(np.int64)
    c = csr_from_graph(g)
    hm = np.full(len(units), -1, dtype=np.int64) if home is None else home.astype(np.int64)
    total = float(w.sum())
    out = np.empty(len(units), dtype=np.int64)
    piece = PieceArrays(c.ptr, c.adj, c.adje, c.adjl, c.ends, objective.edge_costs(g, k),
                        g.perimeter, g.area, w, np.full(len(units), -1, dtype=np.int64), hm)
    terms = plan_terms(k, ideal * (1 - tol), ideal * (1 + tol),
                       objective.disruption / total if home is not None else 0.0,
                       objective.polsby_popper / k)
    best, feasible, its = anneal_kernel(piece, terms, start, 30_000, seed, hot, out)
    assert its > 0
    if feasible:
        assert contiguous(Plan(graph=g, labels=out, weights=w, k=k)) == []
        wk = np.bincount(out, weights=w, minlength=k)
        assert ((wk >= ideal * (1 - tol) - 1e-6) & (wk <= ideal * (1 + tol) + 1e-6)).all()
        recount = objective.value(g, out, k=k, weights=w, home=home)
        assert best == pytest.approx(recount, rel=1e-9, abs=1e-9)
    return out, best, feasible


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kernel_objective_matches_recount_and_plan_is_valid(seed: int) -> None:
    units = lattice(8, 8, seed=seed)
    obj = Objective(cut_edges=1.0, cut_length=0.5, main_streets=0.0, polsby_popper=1.0)
    _, _, feasible = run_kernel(units, 4, 0.05, obj, seed=seed)
    assert feasible


def test_kernel_counts_disruption_against_home() -> None:
    units = lattice(8, 8, seed=5)
    home = np.minimum((np.arange(64) % 8) * 3 // 8, 2).astype(np.int64)
    obj = Objective(cut_edges=1.0, cut_length=0.0, main_streets=0.0, polsby_popper=0.5,
                    disruption=2.0)
    lab, _, feasible = run_kernel(units, 3, 0.10, obj, seed=3, home=home)
    assert feasible
    # a strong disruption weight keeps most households where they were
    w = units["hh"].to_numpy(dtype=float)
    assert w[lab != home].sum() < 0.5 * w.sum()


def test_kernel_is_deterministic_by_seed() -> None:
    units = lattice(7, 7, seed=9)
    obj = Objective()
    a, oa, _ = run_kernel(units, 3, 0.05, obj, seed=11)
    b, ob, _ = run_kernel(units, 3, 0.05, obj, seed=11)
    assert (a == b).all()
    assert oa == ob
    assert kernel_ready()


def test_engine_finds_fewer_cut_edges_with_more_starts() -> None:
    """More independent starts never end worse (the best of a superset of starts)."""
    units = lattice(12, 12, seed=4)
    obj = Objective(cut_edges=1.0, cut_length=0.0, main_streets=0.0, polsby_popper=0.0)
    few = partition(units, weight="hh", areas=5, tolerance=0.05, objective=obj, seed=2,
                    starts=2, recom_rounds=0)
    many = partition(units, weight="hh", areas=5, tolerance=0.05, objective=obj, seed=2,
                     starts=16, recom_rounds=0)
    assert many.objective <= few.objective + 1e-12


def test_compiled_and_interpreted_kernels_give_the_same_plan() -> None:
    """The kernel is plain numba-typed Python: run interpreted (``NUMBA_DISABLE_JIT=1``, how
    one debugs it) it must give exactly the compiled plan and objective."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]);"
        "from test_kernel import lattice, run_kernel;"
        "from gisgov.districting import Objective;"
        "lab, obj, ok = run_kernel(lattice(8, 8, seed=0), 4, 0.05, Objective(), seed=0);"
        "print(json.dumps([lab.tolist(), obj, ok]))"
    )
    here = str(Path(__file__).resolve().parent)
    runs = []
    for disable in ("0", "1"):
        env = {**os.environ, "NUMBA_DISABLE_JIT": disable}
        out = subprocess.run([sys.executable, "-c", code, here], env=env, capture_output=True,
                             text=True, check=True, timeout=HANG_GUARD_S)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    assert runs[0][2] is True
    assert runs[0] == runs[1]
