"""Tests for gisgov.assignment: bounds, kin, walking, optimality, infeasibility, stability, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy.optimize import Bounds, LinearConstraint, milp
from typer.testing import CliRunner

from gisgov.assignment import (
    AssignmentResult,
    ClassBounds,
    assign,
    contact_lists,
    previous_from_layer,
    write_contact_lists,
)
from gisgov.crs import working_crs_for
from gisgov.errors import ValidationError
from gisgov.layers import validate_layer

UTM = "EPSG:32650"
ORIGIN = (500_000.0, 3_800_000.0)  # a UTM 50N point in Henan, where the sample county sits


def grids_for(layers: dict[str, gpd.GeoDataFrame], *, per_grid: int = 140,
              seed: int = 0) -> gpd.GeoDataFrame:
    """Test grids until issue 5 lands: each community cut into Voronoi cells of k-means
    centres of its households (about ``per_grid`` households each), coded west→east."""
    hh, comm = layers["households"], layers["communities"]
    crs = working_crs_for(hh)
    pts_all = hh.to_crs(crs).geometry
    hxy = np.column_stack([pts_all.x, pts_all.y])
    cpoly = np.asarray(comm.to_crs(crs).geometry.values, dtype=object)
    rng = np.random.default_rng(seed)
    where = shapely.STRtree(cpoly).query(shapely.points(hxy), predicate="intersects")
    codes, comms, polys = [], [], []
    for c, (code, poly) in enumerate(zip(comm["code"], cpoly, strict=True)):
        pts = hxy[np.unique(where[0][where[1] == c])]
        if len(pts) == 0:
            continue
        k = max(1, round(len(pts) / per_grid))
        centres = pts[rng.choice(len(pts), k, replace=False)]
        for _ in range(15):
            lab = np.argmin(((pts[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
            centres = np.array([pts[lab == j].mean(0) if (lab == j).any() else centres[j]
                                for j in range(k)])
        cells = shapely.get_parts(shapely.voronoi_polygons(
            shapely.multipoints(centres), extend_to=poly.buffer(1000)))
        parts = [shapely.intersection(cell, poly) for cell in cells]
        parts = [p for p in parts if not p.is_empty and p.area > 1]
        parts.sort(key=lambda p: (-round(p.centroid.y, -2), p.centroid.x))
        for j, part in enumerate(parts, start=1):
            codes.append(f"{code}{j:03d}")
            comms.append(code)
            polys.append(part)
    return gpd.GeoDataFrame({"code": codes, "name": codes, "community_code": comms},
                            geometry=polys, crs=crs).to_crs(4326)


@pytest.fixture(scope="module")
def county(county_layers: dict[str, gpd.GeoDataFrame]) -> dict[str, gpd.GeoDataFrame]:
    layers = dict(county_layers)
    layers["grids"] = grids_for(layers)
    return layers


@pytest.fixture(scope="module")
def result(county: dict[str, gpd.GeoDataFrame]) -> AssignmentResult:
    return assign(county["households"], county["members"], county["grids"],
                  streets=county["streets"], buildings=county["buildings"])


def _town(hh_xy: np.ndarray, m_xy: np.ndarray, *, grids: list[shapely.Polygon] | None = None,
          members: dict[str, list[object]] | None = None,
          households: dict[str, list[object]] | None = None
          ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """A synthetic place in UTM metres around ORIGIN, returned in EPSG:4326."""
    ox, oy = ORIGIN
    hh = gpd.GeoDataFrame(
        {"id": [f"H{i:03d}" for i in range(len(hh_xy))], **(households or {})},
        geometry=shapely.points(hh_xy + ORIGIN), crs=UTM).to_crs(4326)
    mem = gpd.GeoDataFrame(
        {"id": [f"M{i:02d}" for i in range(len(m_xy))], "class": ["A"] * len(m_xy),
         "status": ["resident"] * len(m_xy), **(members or {})},
        geometry=shapely.points(m_xy + ORIGIN), crs=UTM).to_crs(4326)
    polys = grids or [shapely.box(-1000, -1000, 1000, 1000)]
    gr = gpd.GeoDataFrame(
        {"code": [f"410223001001{i + 1:03d}" for i in range(len(polys))],
         "community_code": ["410223001001"] * len(polys)},
        geometry=[shapely.affinity.translate(p, ox, oy) for p in polys], crs=UTM).to_crs(4326)
    return hh, mem, gr


# ---- the reference county fixture ------------------------------------------------------


def test_layer_is_valid_and_every_household_accounted_for(
    result: AssignmentResult, county: dict[str, gpd.GeoDataFrame]
) -> None:
    a = result.assignments
    assert a.crs.to_epsg() == 4326
    assert not [p for p in validate_layer("assignments", a) if p.severity == "error"]
    assert a["household_id"].is_unique
    ids = set(a["household_id"]) | set(result.unassigned["household_id"])
    assert ids == set(county["households"]["id"])
    assert (result.unassigned["reason"].str.len() > 0).all()
    assert set(a["reason"]) <= {"kin", "building", "compound", "nearest", "borrowed",
                                "deployed"}
    lines = a.geometry.dropna()
    assert (lines.geom_type == "LineString").all()


def test_loads_within_bounds_wherever_capacity_allows(result: AssignmentResult) -> None:
    m = result.members
    assert (m["load"] <= m["max_load"]).all()
    grids = result.grids.set_index("grid_code")
    below = m[m["shortfall"] > 0]
    # A member misses the minimum only where the grid's minimums exceed its households.
    for code in below["grid_code"].unique():
        g = grids.loc[code]
        assert g["capacity_min"] > g["households"]
    # Households go unassigned only where the grid (with lenders) is short of capacity.
    short = grids[grids["unassigned"] > 0]
    assert (short["short_of_members"]).all()
    assert (short["more_members_needed"] >= 1).all()


def test_kin_honoured_whenever_the_kin_member_can_take_them(result: AssignmentResult) -> None:
    s = result.summary
    assert s["kin_total"] > 0
    assert s["kin_possible"] > 0.8 * s["kin_total"]
    blocked = result.kin_missed[result.kin_missed["reason"].str.contains("priority|full")]
    assert len(blocked) == s["kin_blocked"] <= max(2, 0.02 * s["kin_possible"])
    a = result.assignments
    assert (a["reason"] == "kin").sum() == s["kin_honoured"]


def test_walking_distance_uses_the_network(
    result: AssignmentResult, county: dict[str, gpd.GeoDataFrame]
) -> None:
    assert result.summary["distance"] == "network"
    assert result.summary["fallback_pairs"] == 0
    a = result.assignments.dropna(subset=["geometry"])
    crs = working_crs_for(county["households"])
    straight = a.to_crs(crs).length.to_numpy()
    assert (a["walk_m"].to_numpy() >= straight - 0.06).all()
    # Walking is measurably longer than the crow flies on average (streets, not lines).
    assert a["walk_m"].sum() > 1.1 * straight.sum()


def test_optimality_is_certified(result: AssignmentResult) -> None:
    assert result.optimal
    assert (result.clusters["status"] == "OPTIMAL").all()
    assert (result.clusters["lower_bound"] == result.clusters["objective"]).all()
    assert result.summary["lower_bound"] == result.summary["objective"]


def test_stability_after_one_percent_of_households_move(
    result: AssignmentResult, county: dict[str, gpd.GeoDataFrame]
) -> None:
    hh = county["households"].copy()
    rng = np.random.default_rng(3)
    moved = rng.choice(len(hh), len(hh) // 100, replace=False)
    swap = rng.permutation(moved)
    hh.iloc[moved, hh.columns.get_loc("geometry")] = hh.geometry.values[swap]
    hh.iloc[moved, hh.columns.get_loc("building_id")] = hh["building_id"].to_numpy()[swap]
    again = assign(hh, county["members"], county["grids"], streets=county["streets"],
                   buildings=county["buildings"],
                   previous=previous_from_layer(result.assignments))
    assert again.summary["previous_households"] == result.summary["assigned"]
    assert 0 < again.summary["changed_from_previous"] < 0.03 * len(hh)
    same = assign(county["households"], county["members"], county["grids"],
                  streets=county["streets"], buildings=county["buildings"],
                  previous=previous_from_layer(result.assignments))
    assert same.summary["changed_from_previous"] == 0


def test_contact_lists_csv_and_html(
    result: AssignmentResult, county: dict[str, gpd.GeoDataFrame], tmp_path: Path
) -> None:
    lists = contact_lists(result, county["households"], county["members"])
    assert len(lists) == len(result.assignments)
    paths = write_contact_lists(result, county["households"], county["members"], tmp_path)
    page = (tmp_path / "contacts.html").read_text(encoding="utf-8")
    for heading in ("党员", "联系户", "地址", "步行距离"):
        assert heading in page
    csv = pd.read_csv(paths[0], dtype=str, encoding="utf-8-sig")
    assert len(csv) == len(lists)
    assert {"grids.csv", "unassigned.csv"} <= {p.name for p in paths}


# ---- small synthetic cases --------------------------------------------------------------


def _milp_optimum(cost: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """Exact all-pairs optimum by MILP: each household once, member loads in [lo, hi]."""
    n_h, n_m = cost.shape
    rows_h = np.kron(np.eye(n_h), np.ones(n_m))
    rows_m = np.kron(np.ones(n_h), np.eye(n_m))
    res = milp(cost.ravel(), integrality=np.ones(cost.size),
               bounds=Bounds(0, 1),
               constraints=[LinearConstraint(rows_h, 1, 1), LinearConstraint(rows_m, lo, hi)])
    assert res.status == 0
    return float(res.fun)


def test_flow_matches_an_independent_milp_on_a_tiny_grid() -> None:
    rng = np.random.default_rng(11)
    hh_xy = rng.uniform(0, 600, (14, 2))
    m_xy = rng.uniform(0, 600, (3, 2))
    building = [f"B{i % 4}" for i in range(14)]
    kin = [None] * 14
    kin[2], kin[9] = "M01", "M02"
    hh, mem, gr = _town(hh_xy, m_xy, households={"building_id": building, "kin_member_id": kin},
                        members={"min_load": [3, 4, 2], "max_load": [6, 5, 5],
                                 "building_id": ["B0", "B1", "X"]})
    res = assign(hh, mem, gr, working_crs=UTM, building_bonus=80, compound_bonus=0)
    assert res.optimal
    assert res.summary["assigned"] == 14
    # Independent cost matrix: straight metres (no streets), building bonus, kin bonus.
    d = np.hypot(*(hh_xy[:, None, :] - m_xy[None]).transpose(2, 0, 1))
    same_b = np.array(building)[:, None] == np.array(["B0", "B1", "X"])[None]
    kin_m = np.array([[k == f"M{j:02d}" for j in range(3)] for k in kin])
    cost = d - 80 * same_b - 1e5 * kin_m
    best = _milp_optimum(cost, np.array([3, 4, 2]), np.array([6, 5, 5]))
    a = res.assignments.set_index("household_id").loc[hh["id"]]
    h_idx = np.arange(14)
    m_idx = a["member_id"].str[1:].astype(int).to_numpy()
    got = cost[h_idx, m_idx].sum()
    assert got == pytest.approx(best, abs=0.01 * 14)  # centimetre cost units
    assert res.summary["kin_honoured"] == 2
    assert res.summary["fallback_pairs"] == res.summary["pairs"]  # no streets: all reported
    assert res.summary["distance"].startswith("straight")


def test_too_few_members_reports_how_many_more_are_needed() -> None:
    rng = np.random.default_rng(2)
    hh, mem, gr = _town(rng.uniform(0, 400, (34, 2)), np.array([[200.0, 200.0]]))
    res = assign(hh, mem, gr, working_crs=UTM)
    assert res.summary["assigned"] == 10
    assert res.summary["unassigned"] == 24
    g = res.grids.iloc[0]
    assert g["more_members_needed"] == 3  # 24 more households, 10 each
    assert res.unassigned["reason"].str.contains("needs 3 more member").all()


def test_surplus_members_are_named_below_their_minimum() -> None:
    hh, mem, gr = _town(np.array([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0]]),
                        np.array([[0.0, 5.0], [300.0, 300.0]]))
    res = assign(hh, mem, gr, working_crs=UTM)
    assert res.summary["assigned"] == 3
    below = res.members[res.members["shortfall"] > 0]
    assert set(below["member_id"]) == {"M00", "M01"}  # 3 households cannot fill 5 + 5
    assert below["note"].str.contains("below minimum").all()


def test_short_grid_borrows_from_its_neighbour_at_a_cost() -> None:
    left = shapely.box(0, 0, 500, 500)
    right = shapely.box(500, 0, 1000, 500)
    rng = np.random.default_rng(5)
    hh_xy = np.vstack([rng.uniform(50, 450, (14, 2)), rng.uniform(550, 950, (6, 2)) * [1, 0.5]])
    m_xy = np.array([[250.0, 250.0], [700.0, 200.0], [800.0, 300.0]])
    hh, mem, gr = _town(hh_xy, m_xy, grids=[left, right])
    res = assign(hh, mem, gr, working_crs=UTM, one_grid=False)
    assert res.summary["unassigned"] == 0
    assert res.summary["borrowed"] == 4
    assert (res.assignments["reason"] == "borrowed").sum() == 4
    # One grid per member: a lent member moves to the short grid whole (one more household
    # borrowed, no member split over two grids).
    one = assign(hh, mem, gr, working_crs=UTM)
    assert one.summary["unassigned"] == 0
    assert one.summary["members_multi_grid"] == 0
    assert one.summary["borrowed"] >= 4
    off = assign(hh, mem, gr, working_crs=UTM, borrow=False)
    assert off.summary["unassigned"] == 4
    assert off.unassigned["reason"].str.contains("borrowing is off").all()


def test_away_and_class_d_members_take_none_by_default() -> None:
    hh, mem, gr = _town(np.full((6, 2), 5.0), np.array([[0.0, 0.0], [1, 1], [2, 2]]),
                        members={"class": ["A", "D", "B"],
                                 "status": ["resident", "resident", "away"]})
    res = assign(hh, mem, gr, working_crs=UTM)
    assert set(res.assignments["member_id"]) == {"M00"}
    custom = assign(hh, mem, gr, working_crs=UTM,
                    bounds=ClassBounds(by_class={"A": (1, 3), "D": (1, 3)}, away=(1, 3)))
    assert set(custom.assignments["member_id"]) == {"M00", "M01", "M02"}


def test_empty_grids_ask_for_the_grids_step() -> None:
    hh, mem, gr = _town(np.zeros((1, 2)), np.zeros((1, 2)))
    with pytest.raises(ValidationError, match="run gisgov grids first"):
        assign(hh, mem, gr.iloc[:0])


def test_settings_take_the_flat_names_and_the_command_options() -> None:
    """One settings value carries what 28 arguments did (issue 17): the flat names callers use
    build the cost model and the bounds, an unknown name or a bad value is refused, and the
    command's options map onto the same settings."""
    from gisgov.assignment import AssignSettings, CostModel
    from gisgov.assignment.options import AssignOptions

    s = AssignSettings.of(min_load=4, max_load=8, deploy_cost=700.0, scope="community",
                          k_nearest=3)
    assert s.bounds.for_member("A", "resident") == (4, 8)
    assert s.bounds.for_member("C", "resident") == (0, 4)
    assert s.model == CostModel(deploy_cost=700.0)
    assert (s.scope, s.k_nearest, s.deploy_cap_m) == ("community", 3, 3000.0)
    # given on top of a base, only the names given change; an explicit model wins
    t = AssignSettings.of(s, borrow_cost=0.0, model=CostModel(building_bonus=1.0))
    assert t.model == CostModel(building_bonus=1.0)
    assert t.bounds == s.bounds
    with pytest.raises(ValidationError, match="unknown assignment option"):
        AssignSettings.of(deploy_capm=1.0)
    with pytest.raises(ValidationError, match="scope"):
        AssignSettings(scope="county")
    with pytest.raises(ValidationError, match="k_nearest"):
        AssignSettings.of(k_nearest=0)
    o = AssignOptions(min_load=3, max_load=6, scope="grid", deploy_cap_m=2500.0,
                      deploy_from="unit", one_grid=False, change_penalty=10.0)
    f = AssignSettings.from_options(o)
    assert f.bounds == ClassBounds.from_loads(min_load=3, max_load=6)
    assert (f.scope, f.deploy_cap_m, f.deploy_from, f.one_grid) == ("grid", 2500.0, "unit",
                                                                     False)
    assert f.model.change_penalty == 10.0
    assert AssignSettings.from_options(AssignOptions()) == AssignSettings()


# ---- CLI ---------------------------------------------------------------------------------


def test_cli_json_and_empty_grids_error(
    county_gpkg: Path, county: dict[str, gpd.GeoDataFrame], tmp_path: Path
) -> None:
    from gisgov.cli import app
    from gisgov.store import open_workspace

    runner = CliRunner()
    empty = runner.invoke(app, ["assign", str(county_gpkg), "--json"])
    assert empty.exit_code != 0
    assert "run gisgov grids first" in empty.output
    open_workspace(county_gpkg).write("grids", county["grids"])
    out = runner.invoke(app, ["assign", str(county_gpkg), "--json",
                              "--lists-out", str(tmp_path / "lists")])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    for key in ("households", "assigned", "unassigned", "members_used", "min_load", "max_load",
                "total_walk_m", "kin_honoured", "changed_from_previous", "optimal", "seconds"):
        assert key in doc
    assert doc["optimal"] is True
    assert doc["assigned"] + doc["unassigned"] == doc["households"]
    assert (tmp_path / "lists" / "contacts.html").exists()
    stored = open_workspace(county_gpkg).read("assignments")
    assert len(stored) == doc["assigned"]
    again = json.loads(runner.invoke(app, ["assign", str(county_gpkg), "--json"]).stdout)
    assert again["changed_from_previous"] == 0


# ---- claims: "optimal" only when the certificate proves it --------------------------------


def test_a_suboptimal_flow_fails_the_certificate_and_is_not_optimal() -> None:
    """Feed the certificate a flow that is *not* minimum-cost (one unit over the dear arc of
    two parallel ones): it finds the negative residual cycle, gives no bound, and the
    solution is ``optimal: false`` with that reason, even with OR-Tools' status ``OPTIMAL``."""
    from gisgov.assignment._flow import FlowSolution, _dual_bound, _why_not_proven

    tails, heads = np.array([0, 0], np.int64), np.array([1, 1], np.int64)
    cap, cost = np.array([1, 1], np.int64), np.array([1, 5], np.int64)
    supply = np.array([1, -1], np.int64)
    dear = np.array([0, 1], np.int64)
    bound = _dual_bound(tails, heads, cap, cost, supply, dear)
    assert bound is None
    sol = FlowSolution("OPTIMAL", dear, 5, bound, _why_not_proven("OPTIMAL", 5, bound, True))
    assert not sol.optimal
    assert sol.reason is not None
    assert "negative cycle" in sol.reason
    # the minimum-cost flow passes the same certificate
    cheap = np.array([1, 0], np.int64)
    assert _dual_bound(tails, heads, cap, cost, supply, cheap) == 1


def test_uncertified_flow_is_not_claimed_optimal() -> None:
    from gisgov.assignment._flow import solve_min_cost_flow

    args = (np.array([0, 0], np.int64), np.array([1, 1], np.int64), np.array([1, 1], np.int64),
            np.array([1, 5], np.int64), np.array([1, -1], np.int64))
    proved = solve_min_cost_flow(*args)
    assert proved.optimal
    assert proved.reason is None
    assert proved.lower_bound == 1
    unchecked = solve_min_cost_flow(*args, certify=False)
    assert unchecked.status == "OPTIMAL"
    assert unchecked.objective == 1
    assert not unchecked.optimal
    assert unchecked.reason is not None
    assert "certify=False" in unchecked.reason


def test_failed_certificate_makes_the_assignment_not_optimal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When the certificate fails (here: forced to find a negative cycle), ``assign`` says
    ``optimal: false`` with the reason in the summary and in each cluster, and never the
    "certified by an LP-dual bound" note."""
    import gisgov.assignment._flow as flow

    monkeypatch.setattr(flow, "_dual_bound", lambda *a, **k: None)
    rng = np.random.default_rng(5)
    hh, mem, gr = _town(rng.uniform(0, 600, (12, 2)), rng.uniform(0, 600, (3, 2)))
    res = assign(hh, mem, gr, working_crs=UTM)
    assert res.summary["assigned"] == 12  # the flow itself is still used
    assert res.optimal is False
    assert res.summary["optimal"] is False
    assert res.summary["lower_bound"] is None
    assert "certified" not in res.summary["optimality"]
    assert "negative cycle" in res.summary["optimality"]
    assert (~res.clusters["optimal"]).all()
    assert res.clusters["reason"].str.contains("negative cycle").all()


def test_cli_text_claims_only_what_was_measured(
    county_gpkg: Path, county: dict[str, gpd.GeoDataFrame], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The text summary gives the unassigned share and says "certified" only when proven."""
    import gisgov.assignment._flow as flow
    from gisgov.cli import app
    from gisgov.store import open_workspace

    open_workspace(county_gpkg).write("grids", county["grids"])
    runner = CliRunner()
    # Without deployment (--scope grid) the sample's mixed communities are short of members.
    proved = runner.invoke(app, ["assign", str(county_gpkg), "--fresh", "--scope", "grid"],
                           env={"COLUMNS": "200"})
    assert proved.exit_code == 0, proved.output
    assert "certified by the LP-dual bound" in proved.output
    doc = json.loads(runner.invoke(app, ["assign", str(county_gpkg), "--json", "--fresh",
                                         "--scope", "grid"]).stdout)
    assert doc["unassigned_share"] == round(doc["unassigned"] / doc["households"], 4)
    assert doc["unassigned"] > 0
    assert doc["coverage"] == round(doc["assigned"] / doc["households"], 4) < 0.9
    assert f"{doc['unassigned']:,} of {doc['households']:,} households have no member" \
        in proved.output
    monkeypatch.setattr(flow, "_dual_bound", lambda *a, **k: None)
    failed = runner.invoke(app, ["assign", str(county_gpkg), "--fresh"], env={"COLUMNS": "200"})
    assert failed.exit_code == 0, failed.output
    assert "certified" not in failed.output
    assert "NOT PROVEN" in failed.output
    assert "negative cycle" in failed.output
    failed_doc = json.loads(runner.invoke(app, ["assign", str(county_gpkg), "--json",
                                                "--fresh"]).stdout)
    assert failed_doc["optimal"] is False


# ---- deployment across the subdistrict, coverage first, recruitment (issue 14) -------------


@pytest.fixture(scope="module")
def by_scope(county: dict[str, gpd.GeoDataFrame]) -> dict[str, AssignmentResult]:
    return {scope: assign(county["households"], county["members"], county["grids"],
                          streets=county["streets"], buildings=county["buildings"],
                          scope=scope)
            for scope in ("grid", "community", "subdistrict")}


def test_deployment_across_the_subdistrict_covers_the_mixed_communities(
    by_scope: dict[str, AssignmentResult], county: dict[str, gpd.GeoDataFrame]
) -> None:
    cov = {k: r.summary["coverage"] for k, r in by_scope.items()}
    # Without deployment the mixed (村改居) communities are short of members.
    assert cov["grid"] < 0.9
    assert cov["grid"] <= cov["community"] <= cov["subdistrict"]
    assert cov["subdistrict"] >= 0.99
    assert all(r.optimal for r in by_scope.values())
    assert by_scope["grid"].summary["deployed"] == 0
    sub = by_scope["subdistrict"]
    assert sub.summary["deployed"] > 0
    # Only reporting (in-service, unit set) members are deployed, and only within their
    # subdistrict; the deployment lines run from the member to the grid served.
    members = sub.members.set_index("member_id")
    deployed = sub.assignments[sub.assignments["reason"] == "deployed"]
    assert len(deployed) == sub.summary["deployed_households"] > 0
    m = members.loc[deployed["member_id"]]
    assert m["reporting"].all()
    assert (m["community_code"].str[:9].to_numpy() == deployed["grid_code"].str[:9]).all()
    assert (m["community_code"].to_numpy() != deployed["grid_code"].str[:12]).all()
    pairs = deployed[["member_id", "grid_code"]].drop_duplicates()
    assert len(sub.deployments) == len(pairs)
    assert set(sub.deployments["member_id"]) == set(members.index[members["deployed"]])
    assert sub.summary["deployed"] == int(members["deployed"].sum())
    assert (sub.deployments.geometry.geom_type == "LineString").all()
    assert sub.summary["members_multi_grid"] <= 0.05 * sub.summary["members_used"]


def test_a_household_stays_uncovered_only_when_no_member_within_reach_has_room(
    county: dict[str, gpd.GeoDataFrame], tmp_path: Path
) -> None:
    from gisgov.assignment import (
        AssignmentInput,
        AssignSettings,
        build_problem,
        make_result,
        solve,
        write_recruit_plan,
    )
    from gisgov.assignment._problem import DIRECT, PIN, POOL, PORT

    problem = build_problem(
        AssignmentInput(county["households"], county["members"], county["grids"],
                        streets=county["streets"], buildings=county["buildings"]),
        AssignSettings(deploy_cap_m=400.0))
    solution = solve(problem, one_grid=False)
    res = make_result(solution.problem, solution, county["households"], county["members"], 0.0)
    assert res.optimal
    assert res.summary["unassigned"] > 0
    p = solution.problem
    load = res.members["load"].to_numpy()
    full = load >= p.m_max
    # Every member a left-over household could reach (direct, or through its grid's service
    # point and the pools behind it) is full: coverage comes before every walking metre.
    for h in np.flatnonzero(solution.chosen < 0):
        node = p.h_node[h]  # the household's group (its building's households)
        direct = p.arc_m[(p.arc_kind == DIRECT) & (p.arc_h == node)]
        port = p.arc_head[(p.arc_kind == PORT) & (p.arc_h == node)]
        pools = p.arc_head[np.isin(p.arc_tail, port) & ~np.isin(p.arc_kind, (PIN,))]
        via = p.arc_m[(p.arc_kind == POOL) & np.isin(p.arc_tail, pools)]
        reach = np.concatenate([direct, via])
        assert len(port) == 1
        assert port[0] >= p.n_hnodes
        assert full[reach].all(), (p.h_id[h], p.m_id[reach[~full[reach]]])
    # The recruitment plan: each grid with households left over, A/B members needed at 10
    # households each, class-D or away members nearby flagged as such.
    plan = res.recruit.set_index("grid_code")
    left = res.unassigned["grid_code"].value_counts()
    assert set(plan.index) == set(left.index)
    assert (plan.loc[left.index, "unassigned"].to_numpy() == left.to_numpy()).all()
    assert (plan["members_needed"] == np.ceil(plan["unassigned"] / 10)).all()
    cands = res.recruit_candidates
    if len(cands):
        assert ((cands["class"] == "D") | (cands["status"] == "away")).all()
        assert cands["flag"].str.contains("D类党员|流动党员").all()
    files = write_recruit_plan(res, tmp_path)
    page = (tmp_path / "recruit.html").read_text(encoding="utf-8")
    for text in ("红色网格员补充招募计划", "需补充党员", "可动员对象", *plan.index[:3]):
        assert text in page
    csv = pd.read_csv(files[0], dtype={"grid_code": str}, encoding="utf-8-sig")
    assert list(csv["grid_code"]) == list(res.recruit["grid_code"])


def test_sparse_arcs_keep_the_coverage_of_denser_ones(
    county: dict[str, gpd.GeoDataFrame]
) -> None:
    """k nearest direct arcs plus the service points: as many households covered and minimum
    loads filled with k = 1 as with k = 40 (nearly all pairs of a grid); more direct arcs
    only lower the walking cost."""
    runs = {k: assign(county["households"], county["members"], county["grids"],
                      streets=county["streets"], buildings=county["buildings"],
                      deploy_cap_m=600.0, k_nearest=k, one_grid=False, group_radius_m=0)
            for k in (1, 40)}
    a, b = runs[1].summary, runs[40].summary
    assert a["optimal"]
    assert b["optimal"]
    assert a["assigned"] == b["assigned"] < a["households"]
    short = {k: int(r.members["shortfall"].sum()) for k, r in runs.items()}
    assert short[1] == short[40]  # as many minimum places filled
    assert b["objective"] <= a["objective"]
    assert b["pairs"] > 4 * a["pairs"]


def test_one_grid_per_member_is_bounded_by_its_relaxation(
    county: dict[str, gpd.GeoDataFrame]
) -> None:
    kw = {"streets": county["streets"], "buildings": county["buildings"]}
    free = assign(county["households"], county["members"], county["grids"], one_grid=False,
                  **kw)
    one = assign(county["households"], county["members"], county["grids"], relax=True, **kw)
    assert one.summary["members_multi_grid"] < free.summary["members_multi_grid"]
    assert one.summary["relaxed_objective"] == free.summary["objective"]
    assert one.summary["one_grid_gap_m"] >= 0
    assert one.summary["relaxed_assigned"] == free.summary["assigned"]
    assert one.summary["assigned"] <= free.summary["assigned"]
    # Default: pinned before one solve (flow between service points): no relaxation run,
    # same coverage, fewer members on two grids, a cost the relaxation bounds from below.
    pinned = assign(county["households"], county["members"], county["grids"], **kw)
    assert pinned.summary["one_grid_rounds"] == 1
    assert pinned.summary["relaxed_objective"] is None
    assert pinned.optimal
    assert pinned.summary["assigned"] == free.summary["assigned"]
    assert pinned.summary["members_multi_grid"] < free.summary["members_multi_grid"]
    assert pinned.summary["objective"] >= free.summary["objective"]


def test_sample_members_report_to_their_home_community(
    county_layers: dict[str, gpd.GeoDataFrame]
) -> None:
    from gisgov.lookup import LookupIndex

    m = county_layers["members"]
    assert not [p for p in validate_layer("members", m) if p.severity == "error"]
    reporting = (m["status"] == "in_service") & m["unit_id"].notna()
    assert m.loc[reporting, "report_community_code"].notna().all()
    assert m.loc[~reporting, "report_community_code"].isna().all()
    index = LookupIndex.from_layers({"grids": county_layers["communities"]})
    home = index.lookup_many(m.geometry.x[reporting], m.geometry.y[reporting],
                             distances=False).grid_codes
    assert (home == m.loc[reporting, "report_community_code"].to_numpy()).mean() > 0.99


def test_cli_scope_plan_and_json_keys(
    county_gpkg: Path, county: dict[str, gpd.GeoDataFrame], tmp_path: Path
) -> None:
    from gisgov.cli import app
    from gisgov.store import open_workspace

    open_workspace(county_gpkg).write("grids", county["grids"])
    runner = CliRunner()
    out = runner.invoke(app, ["assign", str(county_gpkg), "--json", "--deploy-cap", "400",
                              "--plan-out", str(tmp_path / "plan")])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["coverage"] == round(doc["assigned"] / doc["households"], 4)
    assert doc["deployed"] >= 0
    assert doc["recruit"]
    assert sum(r["unassigned"] for r in doc["recruit"]) == doc["unassigned"]
    assert {p.name for p in (tmp_path / "plan").iterdir()} == {
        "recruit.csv", "recruit_candidates.csv", "recruit.html"}
    bad = runner.invoke(app, ["assign", str(county_gpkg), "--scope", "county"])
    assert bad.exit_code != 0
    assert "--scope must be" in bad.output
    ws = open_workspace(county_gpkg)
    assert len(ws.read_table("assignment_recruit")) == len(doc["recruit"])
    check = runner.invoke(app, ["check", str(county_gpkg), "--json"])
    report = json.loads(check.stdout)
    cov = {r["community_code"]: r for r in report["coverage"]}
    assert sum(r["households"] - r["assigned"] for r in cov.values()) == doc["unassigned"] - \
        doc["households_outside_grids"]
    warned = {p["key"] for p in report["problems"] if p["rule"] == "community_coverage"}
    assert warned == {c for c, r in cov.items() if r["coverage"] < 0.99}
    assert warned


def test_coverage_is_proven_maximal_by_an_independent_bound(
    county: dict[str, gpd.GeoDataFrame]
) -> None:
    """With a short deployment cap households stay uncovered: the summary proves that no
    assignment within the rules covers more (SciPy maximum flow over who may serve whom),
    and a solution with one household dropped fails the proof and is not claimed optimal."""
    from dataclasses import replace

    from gisgov.assignment import AssignmentInput, AssignSettings, build_problem, make_result, solve
    from gisgov.assignment._bound import coverage_bound
    from gisgov.assignment._problem import DEPLOY

    problem = build_problem(
        AssignmentInput(county["households"], county["members"], county["grids"],
                        streets=county["streets"], buildings=county["buildings"]),
        AssignSettings(deploy_cap_m=400.0))
    solution = solve(problem)
    res = make_result(solution.problem, solution, county["households"], county["members"], 0.0)
    s = res.summary
    assert s["unassigned"] > 0
    assert s["coverage_bound"] == s["assigned"]
    # The plan says how far the nearest member with room is: beyond the cap, every time.
    room = res.recruit["nearest_room_m"].dropna().to_numpy(dtype=float)
    assert len(room)
    assert (room > 400.0).all()
    from gisgov.assignment.recruit import recruit_html
    assert "最近余量" in recruit_html(res)
    assert s["coverage_maximal"]
    assert s["uncovered_with_room"] == 0
    assert s["optimal"]
    # Without borrowing and deployment the bound is the sum over grids of min(households,
    # capacity) plus kin households served by kin elsewhere in the community: never more.
    grid_only = coverage_bound(replace(problem, borrow=False,
                                       arc_kind=np.where(problem.arc_kind == DEPLOY, -1,
                                                         problem.arc_kind).astype(np.int8)),
                               np.full(problem.n_households, -1))
    per_grid = int(np.minimum(problem.g_households, problem.g_cap_max).sum())
    assert per_grid <= grid_only.bound <= per_grid + int((problem.h_kin >= 0).sum())
    assert grid_only.bound < s["coverage_bound"]
    # Sabotage: drop one covered household whose member then has room.
    h = int(np.flatnonzero(solution.chosen >= 0)[0])
    chosen = solution.chosen.copy()
    chosen[h] = -1
    bad = replace(solution, chosen=chosen)
    worse = make_result(bad.problem, bad, county["households"], county["members"], 0.0)
    assert worse.summary["uncovered_with_room"] >= 1
    assert not worse.summary["coverage_maximal"]
    assert not worse.summary["optimal"]
    assert "NOT proven optimal" in worse.summary["optimality"]


def test_coverage_bound_matches_an_independent_milp_on_a_small_town() -> None:
    """Two communities' worth of grids in one subdistrict, a short grid that borrows, a
    reporting member deployable within the cap and one beyond it: the bound equals the
    maximum coverage a MILP finds over explicitly listed eligible pairs."""
    from gisgov.assignment import AssignmentInput, AssignSettings, build_problem
    from gisgov.assignment._bound import coverage_bound

    rng = np.random.default_rng(5)
    boxes = [shapely.box(-1000, -500, 0, 500), shapely.box(0, -500, 1000, 500),
             shapely.box(1000, -500, 2000, 500), shapely.box(5000, -500, 6000, 500)]
    n_per = [30, 4, 12, 6]
    hh_xy = np.vstack([rng.uniform(b.bounds[:2], b.bounds[2:], size=(k, 2))
                       for b, k in zip(boxes, n_per, strict=True)])
    m_xy = np.array([[-500, 0], [500, 0], [520, 10], [1500, 0], [5500, 0.0]])
    hh, mem, gr = _town(hh_xy, m_xy, grids=boxes, members={
        "status": ["resident", "resident", "in_service", "in_service", "in_service"],
        "unit_id": [None, None, "U1", "U2", "U3"],
        "report_community_code": [None, None, "410223001002", "410223001002",
                                  "410223001002"]})
    gr["community_code"] = ["410223001001", "410223001001", "410223001002", "410223001002"]
    p = build_problem(AssignmentInput(hh, mem, gr), AssignSettings(deploy_cap_m=2500.0))
    b = coverage_bound(p, np.full(p.n_households, -1))
    # eligible pairs written out by hand from the rules (grid order is code order)
    g = p.h_grid
    eligible = np.zeros((len(hh_xy), len(m_xy)), dtype=bool)
    home = p.m_grid
    for m in range(len(m_xy)):
        eligible[:, m] = g == home[m]
    short = p.g_short
    for a, nbrs in enumerate(p.neighbours):
        for n in nbrs:
            if short[a]:
                eligible[np.ix_(g == a, home == n)] = True
    anchors = p.g_anchor_xy
    for m in np.flatnonzero(p.m_reporting):
        near = np.hypot(*(anchors - anchors[home[m]]).T) <= 2500.0  # no streets: straight
        eligible[np.isin(g, np.flatnonzero(near)), m] = True
    n_h, n_m = eligible.shape
    res = milp(-np.ones(n_h * n_m), integrality=np.ones(n_h * n_m),
               bounds=Bounds(0, eligible.ravel().astype(float)),
               constraints=[LinearConstraint(np.kron(np.eye(n_h), np.ones(n_m)), 0, 1),
                            LinearConstraint(np.kron(np.ones(n_h), np.eye(n_m)), 0, p.m_max)])
    assert res.status == 0
    assert b.bound == round(-res.fun)
    assert b.bound < b.households  # the far grid's member cannot reach the big short grid
    r = assign(hh, mem, gr, deploy_cap_m=2500.0)
    assert r.summary["assigned"] == b.bound
    assert r.summary["coverage_maximal"]
