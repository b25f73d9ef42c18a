"""The districting engine on synthetic lattices, checked against the exact MILP."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gisgov.districting import Objective, graph_from_units, partition, solve_exact
from gisgov.districting.boundary_text import boundary_text
from gisgov.districting.metrics import plan_metrics
from gisgov.errors import InfeasibleError
from tests.conftest import NO_TIME_CAP

EDGES_ONLY = Objective(cut_edges=1.0, cut_length=0.0, main_streets=0.0, polsby_popper=0.0)


def lattice(nx: int, ny: int, *, seed: int = 0, lo: int = 5, hi: int = 30) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(seed)
    cells = [shapely.box(x * 100, y * 100, (x + 1) * 100, (y + 1) * 100)
             for y in range(ny) for x in range(nx)]
    return gpd.GeoDataFrame({"hh": rng.integers(lo, hi, len(cells))}, geometry=cells,
                            crs="EPSG:32650", index=[f"u{i}" for i in range(len(cells))])


def cut_edges(res: object) -> int:
    g = res.graph  # type: ignore[attr-defined]
    lab = res.labels.to_numpy()  # type: ignore[attr-defined]
    return int((lab[g.edges[:, 0]] != lab[g.edges[:, 1]]).sum())


@pytest.mark.parametrize(("nx", "ny", "k", "tol"), [(4, 4, 2, 0.05), (4, 4, 3, 0.1), (5, 4, 3, 0.05)])
def test_heuristic_matches_milp_optimum(nx: int, ny: int, k: int, tol: float) -> None:
    units = lattice(nx, ny)
    res = partition(units, weight="hh", areas=k, tolerance=tol, objective=EDGES_ONLY, seed=3,
                    method="heuristic")
    ex = solve_exact(res.graph, units["hh"].to_numpy(), k, lower=res.lower, upper=res.upper,
                     objective=EDGES_ONLY, time_limit=NO_TIME_CAP)
    assert ex.optimal
    lab = ex.labels
    assert lab is not None
    opt = int((lab[res.graph.edges[:, 0]] != lab[res.graph.edges[:, 1]]).sum())
    assert cut_edges(res) <= opt + 1  # heuristic within one cut edge of the proven optimum


def test_exact_mode_is_optimal_and_balanced() -> None:
    units = lattice(4, 3)
    res = partition(units, weight="hh", areas=2, tolerance=0.05, objective=EDGES_ONLY,
                    method="exact", time_limit=NO_TIME_CAP)
    assert res.optimal
    assert res.method == "exact"
    w = units["hh"].groupby(res.labels).sum()
    assert (abs(w / w.mean() - 1) <= 0.05 + 1e-9).all()


def test_balance_contiguity_and_determinism() -> None:
    units = lattice(10, 10, seed=2)
    a = partition(units, weight="hh", areas=6, tolerance=0.01, seed=7, iterations=40_000)
    b = partition(units, weight="hh", areas=6, tolerance=0.01, seed=7, iterations=40_000)
    assert (a.labels == b.labels).all()
    m = plan_metrics(units, a.labels, weight="hh", graph=a.graph)
    assert m.max_deviation <= 0.01 + 1e-9
    assert m.areas["contiguous"].all()


def test_locks_respected() -> None:
    units = lattice(6, 6)
    locks = {"u0": 2, "u35": 2, "u5": 0}
    res = partition(units, weight="hh", areas=3, tolerance=0.1, locks=locks, seed=1)
    assert res.labels["u0"] == 2
    assert res.labels["u35"] == 2
    assert res.labels["u5"] == 0
    m = plan_metrics(units, res.labels, weight="hh", graph=res.graph)
    assert m.areas["contiguous"].all()


def test_current_plan_kept_when_already_good() -> None:
    units = lattice(6, 6, lo=10, hi=11)
    units["cur"] = ["A" if i % 6 < 3 else "B" for i in range(36)]
    res = partition(units, weight="hh", areas=2, tolerance=0.1, current="cur",
                    objective=Objective(disruption=5.0), seed=0)
    m = plan_metrics(units, res.labels, weight="hh", graph=res.graph, current="cur")
    assert m.households_moved == 0


def test_infeasible_heavy_unit_explained() -> None:
    units = lattice(3, 3)
    units.loc["u4", "hh"] = 1000
    with pytest.raises(InfeasibleError, match="weigh more than the upper bound") as ei:
        partition(units, weight="hh", areas=3)
    assert "u4" in str(ei.value)


def test_infeasible_too_many_areas() -> None:
    with pytest.raises(InfeasibleError, match="only 4 units"):
        partition(lattice(2, 2), weight="hh", areas=5)


def test_disconnected_input_reported_or_refused() -> None:
    units = lattice(3, 2, lo=10, hi=11)
    island = units.copy()
    island.geometry = island.geometry.translate(2000, 0)
    island.index = [f"i{i}" for i in range(len(island))]
    both = gpd.GeoDataFrame(
        {"hh": [*units["hh"], *island["hh"]]},
        geometry=[*units.geometry, *island.geometry], crs=units.crs,
        index=[*units.index, *island.index],
    )
    with pytest.raises(InfeasibleError, match="disconnected"):
        partition(both, weight="hh", areas=2, islands="error")
    res = partition(both, weight="hh", areas=2, tolerance=0.1)
    assert any("disconnected" in r for r in res.report)
    assert res.labels[units.index].nunique() == 1
    bridged = partition(both, weight="hh", areas=3, tolerance=0.3, islands="bridge")
    assert any("bridge" in r for r in bridged.report)
    # A lone island too light for an area cannot be its own area: say so.
    with pytest.raises(InfeasibleError, match="cannot be split"):
        partition(both, weight="hh", areas=3, tolerance=0.05)


def test_locked_units_make_balance_impossible() -> None:
    units = lattice(4, 1, lo=10, hi=11)
    # Both ends locked to area 0 force the whole row into area 0.
    with pytest.raises(InfeasibleError):
        partition(units, weight="hh", areas=2, tolerance=0.1, locks={"u0": 0, "u3": 0})


def test_graph_main_street_share() -> None:
    units = lattice(2, 1)
    street = gpd.GeoSeries([shapely.LineString([(100, -50), (100, 150)])], crs="EPSG:32650")
    g = graph_from_units(units, main_streets=street)
    assert g.m == 1
    assert g.main_share[0] == pytest.approx(1.0)
    assert g.shared_length[0] == pytest.approx(100.0)


def test_boundary_text_names_streets() -> None:
    areas = gpd.GeoDataFrame({"name": ["甲社区", "乙社区"]},
                             geometry=[shapely.box(0, 0, 100, 100), shapely.box(100, 0, 200, 100)],
                             crs="EPSG:32650")
    streets = gpd.GeoDataFrame(
        {"name": ["人民路", "建设街"]},
        geometry=[shapely.LineString([(-5, -50), (-5, 150)]), shapely.LineString([(-50, 104), (250, 104)])],
        crs="EPSG:32650",
    )
    text = boundary_text(areas, name="name", streets=streets)
    assert text[0] == "东至乙社区，南至辖区边界，西至人民路，北至建设街"
    assert text[1].startswith("东至辖区边界，南至辖区边界，西至甲社区")


def _with_island(units: gpd.GeoDataFrame, hh: list[int], dx: float = 150.0) -> gpd.GeoDataFrame:
    """``units`` plus a detached row of 50 m squares (households ``hh``) ``dx`` m to the east."""
    x1 = float(units.total_bounds[2]) + dx
    cells = [shapely.box(x1 + 50 * i, 0, x1 + 50 * (i + 1), 50) for i in range(len(hh))]
    return gpd.GeoDataFrame(
        {"hh": [*units["hh"], *hh]}, geometry=[*units.geometry, *cells], crs=units.crs,
        index=[*units.index, "park", *[f"p{i}" for i in range(1, len(hh))]],
    )


@pytest.mark.parametrize("hh", [0, 3])
def test_light_island_joins_its_nearest_neighbour(hh: int) -> None:
    # An empty park (or a few households) cut off by a gap cannot be an area of its own:
    # under islands="separate" it is bridged to the nearest unit, not refused.
    both = _with_island(lattice(4, 3, lo=10, hi=11), [hh])
    res = partition(both, weight="hh", areas=3, tolerance=0.1, seed=0)
    assert any("too light" in r and "bridge" in r for r in res.report)
    # its only edge is the bridge to the nearest cell (south-east corner), so it shares its area
    assert res.labels["park"] == res.labels["u3"]
    m = plan_metrics(both, res.labels, weight="hh", graph=res.graph)
    assert m.areas["contiguous"].all()  # contiguous through the bridge
    assert m.max_deviation <= 0.1 + 1e-9


def test_heavy_island_still_refused_when_unsplittable() -> None:
    # 90 households: more than one area may hold (66.5–73.5), fewer than two need
    both = _with_island(lattice(4, 3, lo=10, hi=11), [45, 45])
    with pytest.raises(InfeasibleError, match="cannot be split"):
        partition(both, weight="hh", areas=3, tolerance=0.05)


def test_self_touching_unit_keeps_its_neighbours() -> None:
    # A block whose ring touches itself is invalid; its repair must stay a polygon with a
    # perimeter and neighbours (the "linework" repair left a collection with neither).
    units = lattice(3, 1)
    bow = shapely.Polygon([(300, 0), (400, 0), (400, 100), (350, 50), (300, 100), (350, 50)])
    units = gpd.GeoDataFrame({"hh": [*units["hh"], 0]}, geometry=[*units.geometry, bow],
                             crs=units.crs, index=[*units.index, "bow"])
    g = graph_from_units(units)
    assert np.isfinite(g.perimeter).all()
    assert g.components().max() == 0


def test_recombination_never_worsens_and_is_reproducible() -> None:
    # The merge-split phase runs after the annealing on the same random stream, so with and
    # without it the annealed plan is the same: the phase may only improve on it.
    units = lattice(12, 10, seed=5)
    plain = partition(units, weight="hh", areas=5, tolerance=0.03, seed=2, recom_rounds=0)
    a = partition(units, weight="hh", areas=5, tolerance=0.03, seed=2, recom_rounds=200)
    b = partition(units, weight="hh", areas=5, tolerance=0.03, seed=2, recom_rounds=200)
    assert a.objective <= plain.objective + 1e-9
    assert (a.labels == b.labels).all()
    m = plan_metrics(units, a.labels, weight="hh", graph=a.graph)
    assert m.max_deviation <= 0.03 + 1e-9
    assert m.areas["contiguous"].all()


def test_greedy_cleanup_reaches_a_local_optimum() -> None:
    from gisgov.districting._recom import Context, greedy_cleanup, plan_objective

    units = lattice(6, 6, lo=10, hi=11)
    g = graph_from_units(units)
    nb = [x.tolist() for x in g.neighbors()]
    inc = [x.tolist() for x in g.incident_edges()]
    ell = g.shared_length.tolist()
    ctx = Context(
        nbrs=nb, inc=inc,
        shared=[{v: ell[e] for v, e in zip(nb[u], inc[u], strict=True)} for u in range(g.n)],
        cost=EDGES_ONLY.edge_costs(g, 2).tolist(), perim=g.perimeter.tolist(),
        uarea=g.area.tolist(), w=[10.0] * 36, lk=[-1] * 36, hm=[-1] * 36, k=2,
        lower=150.0, upper=210.0, disr=0.0, ppw=0.0,
    )
    # a ragged vertical split: columns 0-2 plus a tooth of column 3 in area 0
    lab = [0 if (i % 6 < 3 or (i % 6 == 3 and i // 6 == 2)) else 1 for i in range(36)]
    out, moves = greedy_cleanup(ctx, lab)
    assert moves >= 1
    assert plan_objective(ctx, out) < plan_objective(ctx, lab)
    again, more = greedy_cleanup(ctx, out)
    assert more == 0
    assert again == out


def test_new_area_is_founded_on_the_new_town() -> None:
    # Two current areas (west, east) re-drawn into three: the planned new town in the east
    # half's north-east corner (a third of the weight) must become the new area, whole.
    units = lattice(6, 6, lo=10, hi=11)
    units["cur"] = ["W" if i % 6 < 3 else "E" for i in range(36)]
    units["town"] = [(i % 6 >= 3 and i // 6 >= 2) for i in range(36)]  # 12 of 36 cells
    res = partition(units, weight="hh", areas=3, tolerance=0.05, current="cur",
                    new_town="town", objective=Objective(disruption=1.0), seed=0)
    assert len(res.founded) == 1
    new = res.founded[0]
    assert res.continues[new] is None
    assert (res.labels[units["town"]] == new).all()
    assert any("new town" in r for r in res.report)


def test_scip_and_highs_agree_on_the_optimum() -> None:
    units = lattice(4, 4, seed=1)
    g = graph_from_units(units)
    w = units["hh"].to_numpy()
    total = float(w.sum())
    lo, hi = total / 2 * 0.95, total / 2 * 1.05
    heur = partition(units, weight="hh", areas=2, tolerance=0.05, objective=EDGES_ONLY, seed=0)
    sc = solve_exact(g, w, 2, lower=lo, upper=hi, objective=EDGES_ONLY, time_limit=NO_TIME_CAP,
                     hint=heur.labels.to_numpy(), solver="scip")
    hs = solve_exact(g, w, 2, lower=lo, upper=hi, objective=EDGES_ONLY, time_limit=NO_TIME_CAP,
                     solver="highs")
    assert sc.optimal
    assert hs.optimal
    assert sc.objective == pytest.approx(hs.objective)
    assert cut_edges(heur) * EDGES_ONLY.edge_costs(g, 2)[0] >= sc.objective - 1e-9


def test_objective_from_text_overrides_named_weights_only() -> None:
    from gisgov.districting.objective import objective_from_text
    from gisgov.errors import ValidationError

    base = Objective(disruption=0.3)
    got = objective_from_text(" cut_length=0.1 , polsby-popper=0.25", base)
    assert got == Objective(cut_length=0.1, polsby_popper=0.25, disruption=0.3)
    assert objective_from_text("", base) == base
    with pytest.raises(ValidationError, match="NAME=VALUE"):
        objective_from_text("compactness=1")
    with pytest.raises(ValidationError, match="must be a number"):
        objective_from_text("cut_edges=lots")
    with pytest.raises(ValidationError, match=">= 0"):
        objective_from_text("cut_length=-0.5")


def test_exact_with_polsby_popper_claims_optimality_for_the_linear_part_only() -> None:
    """The MILP does not model Polsby-Popper: with that term in the objective the plan is
    proven optimal for the cut edges only, and the full objective is ``optimal: false`` with
    the gap of the linear part (0) — not ``optimal: true``."""
    units = lattice(4, 3)
    with_pp = Objective(cut_edges=1.0, cut_length=0.0, main_streets=0.0, polsby_popper=0.5)
    res = partition(units, weight="hh", areas=2, tolerance=0.05, objective=with_pp,
                    method="exact", time_limit=NO_TIME_CAP)
    assert res.method == "exact"
    assert res.linear_optimal
    assert res.linear_gap == 0.0
    assert not res.optimal
    assert res.gap == 0.0  # of the linear part, which ``proven`` names
    assert res.proven.startswith("optimal for the linear terms")
    assert "full objective is not proven optimal" in res.proven
    edges = partition(units, weight="hh", areas=2, tolerance=0.05, objective=EDGES_ONLY,
                      method="exact", time_limit=NO_TIME_CAP)
    assert edges.optimal
    assert edges.gap == 0.0
    assert edges.proven == "optimal for the full objective"
    heur = partition(units, weight="hh", areas=2, tolerance=0.05, objective=EDGES_ONLY, seed=1,
                     method="heuristic")
    assert not heur.optimal
    assert heur.proven.startswith("nothing")


def test_exact_with_real_valued_costs_is_proven_without_rounding() -> None:
    """Shared lengths that do not scale to integers (CP-SAT had to round them and could only
    claim optimality to within the rounding): SCIP and HiGHS solve the real costs, agree, and
    the plan is proven optimal outright."""
    heights = [97.31, 101.77, 99.03]
    rows, y = [], 0.0
    for h in heights:
        rows.append((y, y + h))
        y += h
    cells = [shapely.box(x * 100, y0, (x + 1) * 100, y1) for y0, y1 in rows for x in range(4)]
    units = gpd.GeoDataFrame({"hh": [10] * 12}, geometry=cells, crs="EPSG:32650")
    length_only = Objective(cut_edges=0.0, cut_length=1.0, main_streets=0.0, polsby_popper=0.0)
    g = graph_from_units(units)
    sc = solve_exact(g, units["hh"].to_numpy(), 2, lower=57.0, upper=63.0,
                     objective=length_only, time_limit=NO_TIME_CAP, solver="scip")
    hs = solve_exact(g, units["hh"].to_numpy(), 2, lower=57.0, upper=63.0,
                     objective=length_only, time_limit=NO_TIME_CAP, solver="highs")
    assert sc.optimal
    assert hs.optimal
    assert sc.rounding == 0
    assert sc.objective == pytest.approx(hs.objective)
    res = partition(units, weight="hh", areas=2, tolerance=0.05, objective=length_only,
                    method="exact", time_limit=NO_TIME_CAP)
    assert res.optimal
    assert res.gap == 0.0


def test_island_infeasibility_names_bridge_and_bridge_works() -> None:
    """Islands of 40 and 60 households into 3 areas of 30–36.7: the first can carry neither
    one area nor two; the message names islands='bridge', which then works."""
    left = [shapely.box(x * 100, 0, (x + 1) * 100, 100) for x in range(8)]
    right = [shapely.box(2000 + x * 100, 0, 2000 + (x + 1) * 100, 100) for x in range(12)]
    units = gpd.GeoDataFrame({"hh": [5] * 20}, geometry=left + right, crs="EPSG:32650")
    from gisgov.errors import InfeasibleError

    with pytest.raises(InfeasibleError, match=r"islands='bridge'") as info:
        partition(units, weight="hh", areas=3, tolerance=0.1, seed=0)
    assert "cross" not in str(info.value)  # no containment groups here
    res = partition(units, weight="hh", areas=3, tolerance=0.1, seed=0, islands="bridge")
    assert sorted(units["hh"].groupby(res.labels).sum().tolist()) == [30, 35, 35]


def test_restarts_sized_from_the_time_limit_stay_reproducible(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``starts=None`` uses the time it is given as restarts, counted from the units and the
    time limit (not the clock): more time, more starts; same seed, same plan.

    The engine's clock is frozen here: the 10 s limit sizes the restarts, and a loaded
    machine must not turn the deadline (a safety cap) into a failure of this test.
    """
    import types

    from gisgov.districting import _search
    from gisgov.districting import engine as engine_module
    from gisgov.districting.engine import DEFAULT_STARTS, MAX_RESTARTS, restarts_for

    frozen = types.SimpleNamespace(monotonic=lambda: 0.0)
    monkeypatch.setattr(engine_module, "time", frozen)
    monkeypatch.setattr(_search, "time", frozen)

    assert restarts_for(100, 1.0) == DEFAULT_STARTS
    assert DEFAULT_STARTS < restarts_for(100, 10.0) < restarts_for(100, 20.0)
    assert restarts_for(100, 3600.0) == MAX_RESTARTS
    units = lattice(8, 8, seed=4)
    a = partition(units, weight="hh", areas=4, tolerance=0.05, objective=EDGES_ONLY, seed=5,
                  starts=None, time_limit=10.0)
    b = partition(units, weight="hh", areas=4, tolerance=0.05, objective=EDGES_ONLY, seed=5,
                  starts=None, time_limit=10.0)
    assert not any("cut the search short" in note for note in a.report)
    assert (a.labels == b.labels).all()
