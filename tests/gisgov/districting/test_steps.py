"""The engine's steps as separate units: each takes and returns its state, and chained they
give what the whole call gives."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import shapely

from gisgov.districting import Objective, graph_from_units, partition
from gisgov.districting._search import (
    SearchBudget,
    anneal_starts,
    construct,
    piece_search,
    recombine_best,
    search_piece,
)
from gisgov.districting.engine import PartitionSpec, setup, solve_piece


def lattice(nx: int, ny: int, *, seed: int = 0) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    cells = [shapely.box(x * 100, y * 100, (x + 1) * 100, (y + 1) * 100)
             for y in range(ny) for x in range(nx)]
    return gpd.GeoDataFrame({"hh": rng.integers(10, 20, len(cells))}, geometry=cells,
                            crs="EPSG:32650", index=[f"u{i}" for i in range(len(cells))])


def test_search_steps_chained_give_the_search() -> None:
    units = lattice(6, 6, seed=1)
    g = graph_from_units(units)
    w = units["hh"].to_numpy(dtype=float)
    ideal = w.sum() / 3
    xy = np.column_stack([units.centroid.x, units.centroid.y])
    kw = {"lower": ideal * 0.9, "upper": ideal * 1.1, "objective": Objective(),
          "locked": np.full(36, -1), "home": None, "xy": xy, "seed": 4}
    budget = SearchBudget(starts=4, iterations=5_000, deadline=math.inf, recom_rounds=20)
    whole = search_piece(piece_search(g, w, 3, **kw), budget)  # type: ignore[arg-type]
    s = construct(piece_search(g, w, 3, **kw), 4, math.inf)  # type: ignore[arg-type]
    assert s.built == 4
    assert len(s.pending) >= 1
    assert s.best.labels is None
    s = anneal_starts(s, budget)
    assert not s.pending
    assert s.annealed >= 1
    assert s.best.feasible
    annealed = s.best.objective
    s = recombine_best(s, budget)
    assert s.best.objective <= annealed + 1e-12
    assert whole.labels is not None
    assert s.best.labels is not None
    assert np.array_equal(s.best.labels, whole.labels)
    assert math.isclose(s.best.objective, whole.objective)


def test_setup_then_one_step_per_piece_is_the_partition() -> None:
    units = lattice(6, 6, seed=2)
    units["grp"] = ["W" if i % 6 < 3 else "E" for i in range(36)]
    spec = PartitionSpec(weight="hh", areas=4, tolerance=0.15, groups="grp", starts=4, seed=5)
    state = setup(units, spec, deadline=math.inf)
    assert state.npieces == 2
    assert sorted(len(ids) for ids in state.area_ids) == [2, 2]
    assert (state.labels == -1).all()
    for p in range(state.npieces):
        state = solve_piece(state, p)
        assert (state.labels[state.piece == p] >= 0).all()
    for a in range(4):
        assert units["grp"][state.labels == a].nunique() == 1
    res = partition(units, weight="hh", areas=4, tolerance=0.15, groups="grp", starts=4, seed=5)
    assert np.array_equal(res.labels.to_numpy(), state.labels)
