"""Community re-drawing on the generated county: units, 四至, scenarios and the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import pytest
from typer.testing import CliRunner

from gisgov.districting.community import redistrict
from gisgov.districting.units import units_from_workspace
from tests.conftest import NO_TIME_CAP
from tests.gisgov.test_community_coverage import on_storage_grid


@pytest.fixture(scope="module")
def units(county_layers: dict[str, gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    return units_from_workspace(county_layers, communities="urban")


def test_units_tile_the_urban_communities(
    units: gpd.GeoDataFrame, county_layers: dict[str, gpd.GeoDataFrame]
) -> None:
    comm = county_layers["communities"]
    urban = comm[comm["kind"] == "urban"]
    crs = units.estimate_utm_crs()
    assert units["unit_id"].is_unique
    assert set(units["kind"]) == {"compound", "block"}
    assert units.to_crs(crs).area.sum() == pytest.approx(urban.to_crs(crs).area.sum(), rel=1e-3)
    assert set(units["community_code"]) <= set(urban["code"])
    assert units["households"].sum() > 0


def test_urban_area_redrawn_into_five(
    units: gpd.GeoDataFrame, county_layers: dict[str, gpd.GeoDataFrame]
) -> None:
    rr = redistrict(county_layers, units=units, areas=5, tolerance=0.10, seed=0,
                    time_limit=NO_TIME_CAP)
    s = rr.summary()
    assert len(s["areas"]) == 5
    assert s["max_deviation"] <= 0.10
    assert all(a["contiguous"] for a in s["areas"])
    assert s["mean_polsby_popper"] > s["before"]["mean_polsby_popper"]
    codes = list(rr.areas["code"])
    assert len(set(codes)) == 5
    assert all(len(c) == 12 and c.isdigit() for c in codes)
    street_names = set(county_layers["streets"]["name"].dropna())
    for text in rr.areas["boundary_text"]:
        sides = text.split("，")
        assert [p[:2] for p in sides] == ["东至", "南至", "西至", "北至"]
        assert any(p[2:] in street_names for p in sides)  # names real streets
    again = redistrict(county_layers, units=units, areas=5, tolerance=0.10, seed=0,
                    time_limit=NO_TIME_CAP)
    assert (again.result.labels == rr.result.labels).all()


def test_fifth_community_founded_on_the_new_town(
    units: gpd.GeoDataFrame, county_layers: dict[str, gpd.GeoDataFrame]
) -> None:
    # Four urban communities today, five asked for: the new one grows on the new town. The
    # sample's new town is heavier than one community may be (±10%), so it cannot all fit;
    # the founded community must hold more of it than any other community does.
    assert units["new_town"].any()
    rr = redistrict(county_layers, units=units, areas=5, tolerance=0.10, seed=0,
                    time_limit=NO_TIME_CAP)
    assert len(rr.result.founded) == 1
    old_codes = set(county_layers["communities"]["code"].astype(str))
    new_codes = set(rr.areas["code"]) - old_codes
    assert len(new_codes) == 1
    town = rr.units[rr.units["new_town"]].groupby("new_code")["households"].sum()
    assert town.idxmax() in new_codes
    assert any("new town" in r for r in rr.result.report)


def test_cli_redistrict_json_scenario_accept_export(county_gpkg_master: Path, tmp_path: Path) -> None:
    from gisgov.cli import app

    ws = tmp_path / "ws.gpkg"
    shutil.copy(county_gpkg_master, ws)
    runner = CliRunner()
    out = runner.invoke(app, ["redistrict", str(ws), "--areas", "5", "--json", "--seed", "1",
                              "--time-limit", str(NO_TIME_CAP),
                              "--scenario", "five", "--labels-out", str(tmp_path / "l.csv")])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    for key in ("feasible", "areas", "max_deviation", "cut_edges", "households_moved", "optimal", "seconds"):
        assert key in doc
    assert doc["feasible"]
    assert doc["max_deviation"] <= 0.10
    assert {"id", "weight", "polsby_popper", "contiguous"} <= set(doc["areas"][0])
    assert (tmp_path / "l.csv").read_text(encoding="utf-8").startswith("id,area")
    acc = runner.invoke(app, ["scenarios", str(ws), "accept", "five", "--json"])
    assert acc.exit_code == 0, acc.output
    assert json.loads(acc.stdout)["version"] == 1
    # the accepted communities are stored as one coverage on the storage grid
    from gisgov.checks import community_overlap
    from gisgov.store import open_workspace

    stored = open_workspace(ws).read_all()
    assert on_storage_grid(stored["communities"])
    assert community_overlap(stored) == []
    exp = runner.invoke(app, ["scenarios", str(ws), "export", "five", str(tmp_path / "five.geojson")])
    assert exp.exit_code == 0
    assert (tmp_path / "five.geojson").exists()
    bad = runner.invoke(app, ["redistrict", str(ws), "--areas", "500"])
    assert bad.exit_code != 0
    assert "Traceback" not in bad.output


def test_founded_communities_get_a_provisional_name() -> None:
    from gisgov.districting.community import _new_name

    units = gpd.GeoDataFrame({
        "kind": ["compound", "compound", "block"], "name": ["幸福小区", "金色家园", ""],
        "households": [300, 120, 10], "new_town": [False, True, False],
    }, geometry=[None] * 3)
    assert _new_name(units, taken=set(), on_new_town=True, fallback="新建社区1") == "新城社区"
    assert _new_name(units, taken=set(), on_new_town=False, fallback="新建社区1") == "幸福社区"
    assert _new_name(units, taken={"幸福社区"}, on_new_town=False,
                     fallback="新建社区1") == "金色社区"
    empty = units.iloc[2:]
    assert _new_name(empty, taken=set(), on_new_town=False, fallback="新建社区1") == "新建社区1"


def test_cli_weights_put_cut_edges_first_on_a_units_file(tmp_path: Path) -> None:
    """``--weights`` reaches the engine: cut edges first gives no more cut edges than the
    default objective (which trades them for rounder areas), and bad weights are one-line
    errors."""
    import numpy as np
    import shapely

    from gisgov.cli import app

    rng = np.random.default_rng(3)
    cells = [shapely.box(x * 100, y * 100, x * 100 + 100, y * 100 + 100)
             for y in range(10) for x in range(10)]
    gdf = gpd.GeoDataFrame({"uid": [f"c{i}" for i in range(100)],
                            "hh": rng.integers(20, 60, 100)}, geometry=cells, crs="EPSG:32650")
    path = tmp_path / "cells.gpkg"
    gdf.to_file(path)
    runner = CliRunner()

    def cut(extra: list[str]) -> int:
        out = runner.invoke(app, ["redistrict", "--units", str(path), "--weight", "hh", "--id",
                                  "uid", "--areas", "4", "--tolerance", "0.05", "--json",
                                  *extra])
        assert out.exit_code == 0, out.output
        doc = json.loads(out.stdout)
        assert doc["feasible"]
        assert doc["max_deviation"] <= 0.05 + 1e-9
        return int(doc["cut_edges"])

    assert cut(["--weights", "cut_edges=1,cut_length=0,main_streets=0,polsby_popper=0"]) <= cut([])
    for bad in ("cut_edge=1", "polsby_popper=-1", "cut_edges=many", "main_streets=2"):
        out = runner.invoke(app, ["redistrict", "--units", str(path), "--weight", "hh",
                                  "--areas", "4", "--weights", bad])
        assert out.exit_code == 2
        assert "--weights" in out.output
        assert "Traceback" not in out.output


def test_a_lock_to_a_community_code_keeps_that_code(
    units: gpd.GeoDataFrame, county_layers: dict[str, gpd.GeoDataFrame]
) -> None:
    """Locking every unit of community A to community B's code: the area holding them is
    mostly A's households, and naming by largest overlap alone gave it A's code — the locked
    units then came out in A, silently. Locks name their areas first."""
    hh = units.groupby("community_code")["households"].sum().sort_values(ascending=False)
    a_code, b_code = str(hh.index[0]), str(hh.index[1])
    locked = units.index[units["community_code"] == a_code][:12]
    locks = dict.fromkeys(locked, b_code)
    rr = redistrict(county_layers, units=units, tolerance=0.25, locks=locks, seed=0,
                    time_limit=NO_TIME_CAP)
    got = rr.units.loc[locked, "new_code"].astype(str)
    assert (got == b_code).all(), got.value_counts().to_dict()
    assert not any("did not keep" in note for note in rr.result.report)
    assert f"{len(locks)} locked unit(s) kept their community code" in rr.result.report
    # the metrics' households-moved count uses the same naming as the codes
    codes = list(rr.areas["code"])
    assert len(set(codes)) == len(codes)


def test_infeasible_messages_name_remedies_that_work(
    units: gpd.GeoDataFrame, county_layers: dict[str, gpd.GeoDataFrame]
) -> None:
    """Six communities at ±5 %: the subdistricts (not islands) split the units, so the message
    must not send the planner to islands='bridge' (which fails the same way); each remedy it
    names is tried and works."""
    import re

    from gisgov.errors import InfeasibleError

    with pytest.raises(InfeasibleError) as info:
        redistrict(county_layers, units=units, areas=6, tolerance=0.05, seed=0,
                   time_limit=NO_TIME_CAP)
    msg = str(info.value)
    assert "bridge" not in msg
    assert "--cross-subdistricts" in msg
    crossed = redistrict(county_layers, units=units, areas=6, tolerance=0.05, seed=0,
                         cross_subdistricts=True, time_limit=NO_TIME_CAP)
    assert crossed.summary()["max_deviation"] <= 0.05 + 1e-9
    tol = float(re.search(r"tolerance of at least ([0-9.]+)", msg).group(1))  # type: ignore[union-attr]
    wider = redistrict(county_layers, units=units, areas=6, tolerance=tol, seed=0,
                       time_limit=NO_TIME_CAP)
    assert len(wider.areas) == 6
    k = int(re.search(r"([0-9]+)(?: or [0-9]+)* areas instead of 6", msg).group(1))  # type: ignore[union-attr]
    other = redistrict(county_layers, units=units, areas=k, tolerance=0.05, seed=0,
                       time_limit=NO_TIME_CAP)
    assert len(other.areas) == k


def test_accept_redraws_the_grids_of_changed_communities(county_gpkg_master: Path,
                                                         tmp_path: Path) -> None:
    """Accepting a scenario used to leave every grid of the changed communities stale (ground
    of a community in no grid, lookups answering with the old grids). Now the changed
    communities' grids are re-drawn in the same transaction and the lookup index follows;
    ``--keep-grids`` keeps them and names them."""
    import shapely

    from gisgov.cli import app
    from gisgov.lookup import LiveIndex
    from gisgov.store import open_workspace

    runner = CliRunner()
    for keep in (False, True):
        ws_path = tmp_path / f"ws{int(keep)}.gpkg"
        shutil.copy(county_gpkg_master, ws_path)
        g = runner.invoke(app, ["grids", str(ws_path), "--communities", "urban", "--json",
                                "--time-limit", str(NO_TIME_CAP)])
        assert g.exit_code == 0, g.output
        ws = open_workspace(str(ws_path))
        live = LiveIndex(ws, check_interval=0.0, background=False)
        before = _codes(live.get().lookup_many(*_points(ws.read("households"))).grid_codes)
        out = runner.invoke(app, ["redistrict", str(ws_path), "--areas", "4", "--seed", "1",
                                  "--cross-subdistricts", "--time-limit", "20",
                                  "--scenario", "four", "--json"])
        assert out.exit_code == 0, out.output
        args = ["scenarios", str(ws_path), "accept", "four", "--json", "--time-limit",
                str(NO_TIME_CAP)] + (["--keep-grids"] if keep else [])
        acc = runner.invoke(app, args)
        assert acc.exit_code == 0, acc.output
        doc = json.loads(acc.stdout)
        grids = ws.read("grids")
        comms = ws.read("communities")
        if keep:
            assert doc["grids_redrawn"] == 0
            assert doc["stale_grids"]  # named, not silent
            assert set(doc["stale_grids"]) <= set(grids["code"].astype(str))
            continue
        assert doc["stale_grids"] == []
        assert doc["grids_redrawn"] > 0
        crs = comms.estimate_utm_crs()
        for code in doc["changed"]:
            c = comms[comms["code"].astype(str) == code]
            if c.empty:  # a code the scenario removed: no grid may claim it
                assert not (grids["community_code"].astype(str) == code).any()
                continue
            mine = grids[grids["community_code"].astype(str) == code]
            covered = shapely.union_all(mine.to_crs(crs).geometry.to_numpy())
            area = c.to_crs(crs).geometry.iloc[0]
            assert area.difference(covered).area < 1e-3 * area.area  # no ground in no grid
        after = _codes(live.get().lookup_many(*_points(ws.read("households"))).grid_codes)
        assert after <= set(grids["code"].astype(str))  # the index follows the new grids
        assert after != before


def _codes(values: object) -> set[str]:
    return {str(v) for v in values if v is not None}  # type: ignore[attr-defined]


def _points(hh: gpd.GeoDataFrame) -> tuple[list[float], list[float]]:
    pts = hh.to_crs("EPSG:4326").geometry
    return pts.x.tolist(), pts.y.tolist()


def test_cli_exact_says_what_was_proven(tmp_path: Path) -> None:
    """``--exact``: with ``--objective cut-edges`` the MILP solves the whole objective and says
    "optimal" with gap 0; with the default objective (Polsby-Popper in it) the JSON and the
    table say "optimal for the linear part" and still carry the linear part's gap (a number,
    never null)."""
    import numpy as np
    import shapely

    from gisgov.cli import app

    rng = np.random.default_rng(8)
    cells = [shapely.box(x * 100, y * 100, x * 100 + 100, y * 100 + 100)
             for y in range(4) for x in range(5)]
    gdf = gpd.GeoDataFrame({"uid": [f"c{i}" for i in range(20)],
                            "hh": rng.integers(20, 60, 20)}, geometry=cells, crs="EPSG:32650")
    path = tmp_path / "cells.gpkg"
    gdf.to_file(path)
    runner = CliRunner()
    base = ["redistrict", "--units", str(path), "--weight", "hh", "--id", "uid", "--areas",
            "2", "--tolerance", "0.05", "--exact", "--time-limit", str(NO_TIME_CAP)]
    cut = json.loads(runner.invoke(app, [*base, "--objective", "cut-edges", "--json"]).stdout)
    assert cut["optimal"] is True
    assert cut["optimal_for"] == "full objective"
    assert cut["gap"] == 0.0
    assert cut["objective"] == "cut-edges"
    mixed = json.loads(runner.invoke(app, [*base, "--json"]).stdout)
    assert mixed["optimal"] is False
    assert mixed["linear_optimal"] is True
    assert mixed["optimal_for"] == "linear part"
    assert mixed["gap"] == 0.0
    assert mixed["gap_of"] == "linear part"
    table = runner.invoke(app, base)
    assert table.exit_code == 0, table.output
    assert "optimal for the linear part" in table.output
    bad = runner.invoke(app, [*base, "--objective", "roundest"])
    assert bad.exit_code == 2
    assert "--objective must be one of balanced-compact, cut-edges" in bad.output
