"""Grids on the reference county fixture: partition, codes, staffing, party, compliance."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gisgov.checks import check_layers
from gisgov.crs import working_crs_for
from gisgov.errors import ValidationError
from gisgov.grids import grid_codes, make_grids, resolve_communities
from gisgov.grids.party import BRANCH_CAP, propose_branch_splits
from gisgov.layers import validate_workspace
from tests.conftest import NO_TIME_CAP

TARGET = 60


@pytest.fixture(scope="module")
def plan(county_layers: dict[str, gpd.GeoDataFrame]):  # type: ignore[no-untyped-def]
    crs = working_crs_for(county_layers["communities"])
    codes = resolve_communities(county_layers["communities"], "urban")
    return make_grids(dict(county_layers), communities=codes, target_households=TARGET,
                      crs=crs, seed=3, time_limit=NO_TIME_CAP)


def test_grids_tile_each_community(plan, county_layers) -> None:  # type: ignore[no-untyped-def]
    crs = working_crs_for(county_layers["communities"])
    grids = plan.grids.to_crs(crs)
    comm = county_layers["communities"].to_crs(crs).set_index("code")
    for code, part in grids.groupby("community_code"):
        union = shapely.union_all(np.asarray(part.geometry.values))
        community = comm.geometry[code]
        assert shapely.area(shapely.symmetric_difference(union, community)) < 1.0
        total = float(part.area.sum())
        assert total == pytest.approx(community.area, rel=1e-6)  # no overlaps


def test_every_household_of_a_gridded_community_is_in_one_grid(plan, county_layers) -> None:  # type: ignore[no-untyped-def]
    from gisgov.grids import grid_of_points

    hh = county_layers["households"]
    gridded = county_layers["communities"][
        county_layers["communities"]["code"].isin(plan.grids["community_code"])]
    inside = hh[hh.intersects(shapely.union_all(np.asarray(gridded.geometry.values)))]
    where = grid_of_points(inside.geometry, plan.grids)
    assert not any(w is None for w in where)
    counts = plan.grids.set_index("code")["households"]
    assert int(counts.sum()) == len(inside)


def test_grid_sizes_and_codes(plan) -> None:  # type: ignore[no-untyped-def]
    grids = plan.grids
    assert len(grids) >= 10
    assert grids["households"].between(0.5 * TARGET, 1.5 * TARGET).all()
    assert grids["code"].str.fullmatch(r"\d{15}").all()
    assert (grids["code"].str[:12] == grids["community_code"]).all()
    for _, part in grids.groupby("community_code"):
        seq = sorted(int(c[-3:]) for c in part["code"])
        assert seq == list(range(1, len(seq) + 1))
    assert validate_workspace({"grids": grids}) == []


def test_codes_read_north_to_south_then_west_to_east() -> None:
    cells = gpd.GeoSeries(
        [shapely.box(x, y, x + 100, y + 100) for y in (0, 100) for x in (0, 100, 200)],
        crs="EPSG:32650",
    )
    codes = grid_codes("410223001001", cells)
    # the northern row (y=100) first, west to east
    assert [c[-3:] for c in codes] == ["004", "005", "006", "001", "002", "003"]


def test_unchanged_grids_keep_their_codes() -> None:
    cells = gpd.GeoSeries([shapely.box(x, 0, x + 100, 100) for x in (0, 100, 200)],
                          crs="EPSG:32650")
    previous = gpd.GeoDataFrame({"code": ["410223001001007", "410223001001002",
                                          "410223001001005"]}, geometry=cells)
    changed = gpd.GeoSeries([cells[0], shapely.box(100, 0, 150, 100),
                             shapely.box(150, 0, 300, 100)], crs="EPSG:32650")
    codes = grid_codes("410223001001", changed, previous=previous)
    assert codes[0] == "410223001001007"
    assert len(set(codes)) == 3
    assert "410223001001007" not in codes[1:]


def test_bad_code_and_target_are_rejected(county_layers) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match="12 digits"):
        grid_codes("4102230010", gpd.GeoSeries([], crs="EPSG:32650"))
    crs = working_crs_for(county_layers["communities"])
    with pytest.raises(ValidationError, match="30–1000"):
        make_grids(dict(county_layers), target_households=5, crs=crs)
    with pytest.raises(ValidationError, match="unknown community"):
        make_grids(dict(county_layers), communities=["999999999999"], crs=crs)


def test_staffing_follows_the_template(plan) -> None:  # type: ignore[no-untyped-def]
    staff, members = plan.staff, plan.members.set_index("id")
    assert staff["member_id"].is_unique
    leaders = staff[staff["role"] == "leader"]
    assert leaders["grid_code"].is_unique
    for row in leaders.itertuples():
        m = members.loc[row.member_id]
        assert m["class"] in ("A", "B")
        assert m["status"] != "away"
        assert row.grid_code[:12] == plan.grids.set_index("code").loc[
            row.grid_code, "community_code"]
    filled = set(zip(staff["grid_code"], staff["role"], strict=True))
    for row in plan.unfilled.itertuples():
        assert row.reason
        if row.role == "leader":
            assert (row.grid_code, "leader") not in filled


def test_staffing_keeps_the_people_already_in_place(plan, county_layers) -> None:  # type: ignore[no-untyped-def]
    """Re-staffing with the current staff keeps every person where they are; with half of
    them kept, that half stays and the other slots are filled again without taking anyone
    twice."""
    from gisgov.grids import staff_grids

    crs = working_crs_for(county_layers["communities"])
    members = plan.members
    again = staff_grids(plan.grids, members, compounds=county_layers["compounds"],
                        existing=plan.staff, crs=crs)
    cols = ["id", "grid_code", "role", "member_id", "duty"]
    assert again.staff[cols].sort_values("id").reset_index(drop=True).equals(
        plan.staff[cols].sort_values("id").reset_index(drop=True))
    half = plan.staff.iloc[::2]
    mixed = staff_grids(plan.grids, members, compounds=county_layers["compounds"],
                        existing=half, crs=crs).staff
    assert set(half["id"]) <= set(mixed["id"])
    assert mixed["member_id"].is_unique
    assert len(mixed) == len(plan.staff)


def test_every_grid_has_a_party_organisation_and_members_one_grid(plan) -> None:  # type: ignore[no-untyped-def]
    grid_branches = plan.branches[plan.branches["level"] == "grid"]
    assert set(grid_branches["grid_code"]) == set(plan.grids["code"])
    assert grid_branches["name"].str.endswith(("党支部", "党小组")).all()
    gridded = plan.members["grid_code"].dropna()
    assert gridded.isin(plan.grids["code"]).all()


def test_branch_over_cap_gets_a_split_along_grid_lines(plan) -> None:  # type: ignore[no-untyped-def]
    members = plan.members.copy()
    branch = plan.branches[plan.branches["level"] == "community"]["id"].iloc[0]
    in_grids = members["grid_code"].notna()
    chosen = members.index[in_grids][: BRANCH_CAP + 20]
    members.loc[chosen, "branch_id"] = branch
    splits = propose_branch_splits(plan.branches, members, plan.grids)
    mine = splits[splits["branch_id"] == branch]
    assert len(mine) >= 2
    assert (mine["members"] <= BRANCH_CAP).all()
    assert int(mine["members"].sum()) == int((members["branch_id"] == branch).sum())


def test_check_reports_rules(plan, county_layers) -> None:  # type: ignore[no-untyped-def]
    layers = dict(county_layers)
    layers.update(grids=plan.grids, staff=plan.staff, branches=plan.branches,
                  members=plan.members)
    problems = check_layers(layers)
    rules = {p.rule for p in problems}
    assert "branch_over_50" in rules
    schema = {"key_duplicate", "reference_missing", "geometry_invalid", "code_malformed"}
    assert not rules & schema
    assert not rules & {"grid_gap", "grid_overlap", "grid_no_party_org"}
    no_leader = {p.key for p in problems if p.rule == "grid_no_leader"}
    assert no_leader == set(plan.grids["code"]) - set(
        plan.staff.loc[plan.staff["role"] == "leader", "grid_code"])


def test_cli_grids_json_and_check(county_gpkg: Path) -> None:
    exe = Path(sys.executable).parent / "gisgov"
    out = subprocess.run([str(exe), "grids", str(county_gpkg), "--communities", "urban",
                          "--target-households", str(TARGET), "--time-limit",
                          str(NO_TIME_CAP), "--json"],
                         capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert result["grids"] == len(result["per_grid"]) > 0
    assert result["households_min"] <= result["households_max"]
    assert {"code", "households"} <= set(result["per_grid"][0])
    check = subprocess.run([str(exe), "check", str(county_gpkg), "--json"],
                           capture_output=True, text=True)
    report = json.loads(check.stdout)
    assert check.returncode == (1 if report["errors"] else 0)
    assert "grid_gap" not in report["by_rule"]
    bad = subprocess.run([str(exe), "grids", str(county_gpkg), "--communities", "123"],
                         capture_output=True, text=True)
    assert bad.returncode != 0
    assert "Traceback" not in bad.stderr
    assert "unknown community" in bad.stderr


def _overlaps_m2(grids: gpd.GeoDataFrame) -> np.ndarray:
    """Overlap area (m²) of every intersecting pair of grids, measured in metres."""
    geoms = np.asarray(grids.to_crs(working_crs_for(grids)).geometry.values)
    a, b = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = a < b
    return np.asarray(shapely.area(shapely.intersection(geoms[a[keep]], geoms[b[keep]])))


def test_stored_grids_tile_in_stored_coordinates(plan, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """After the write to WGS-84 (a GeoPackage round trip) no two grids overlap, and every
    vertex lies on the storage precision grid, so neighbours share their edges exactly."""
    from gisgov.coverage import STORAGE_GRID_DEG
    from gisgov.store import open_workspace

    ws = open_workspace(tmp_path / "g.gpkg", create=True)
    with ws.transaction() as tx:
        tx.write("grids", plan.grids)
    stored = ws.read("grids")
    assert len(stored) == len(plan.grids) > 10
    assert _overlaps_m2(stored).max() < 1e-3  # float noise of the reprojection only
    xy = shapely.get_coordinates(np.asarray(stored.geometry.values))
    steps = xy / STORAGE_GRID_DEG
    assert np.abs(steps - np.round(steps)).max() < 1e-3


def test_check_reports_grid_overlap_across_communities(plan, county_layers) -> None:  # type: ignore[no-untyped-def]
    """A grid pushed 2 m into a neighbour of another community is an overlap; 0.3 m² is not."""
    grids = plan.grids.copy()
    crs = working_crs_for(grids)
    metric = grids.to_crs(crs)
    geoms = np.asarray(metric.geometry.values)
    a, b = shapely.STRtree(geoms).query(geoms, predicate="touches")
    comm = metric["community_code"].to_numpy()
    cross = [(int(i), int(j)) for i, j in zip(a, b, strict=True) if comm[i] != comm[j]]
    if not cross:
        pytest.skip("the fixture county grids no two neighbouring communities")
    i, j = cross[0]
    layers = dict(county_layers)

    def grown_by(metres: float) -> list[str]:
        grown = metric.copy()
        band = shapely.intersection(shapely.buffer(geoms[i], metres, join_style="mitre"),
                                    geoms[j])
        grown.loc[grown.index[i], "geometry"] = shapely.union(geoms[i], band)
        layers["grids"] = grown.to_crs("EPSG:4326")
        return [p.message for p in check_layers(layers) if p.rule == "grid_overlap"]

    codes = metric["code"].astype(str).to_numpy()
    found = grown_by(2.0)
    assert any(codes[j] in m for m in found)
    shared = shapely.length(shapely.intersection(geoms[i].boundary, geoms[j].boundary))
    small = grown_by(0.3 / max(shared, 1.0))
    assert not any(codes[j] in m for m in small)


def test_grid_gap_counts_ground_in_no_grid_at_all(plan, county_layers) -> None:  # type: ignore[no-untyped-def]
    """Where two communities overlap, the part a neighbouring community's grid holds is not a
    gap; ground in no grid at all is."""
    crs = working_crs_for(plan.grids)
    grids = plan.grids.to_crs(crs)
    comm = county_layers["communities"].to_crs(crs)
    gridded = set(grids["community_code"])
    geoms = np.asarray(comm.geometry.values)
    a, b = shapely.STRtree(geoms).query(geoms, predicate="touches")
    codes = comm["code"].to_numpy()
    pairs = [(int(i), int(j)) for i, j in zip(a, b, strict=True)
             if codes[i] in gridded and codes[j] in gridded]
    if not pairs:
        pytest.skip("the fixture county grids no two neighbouring communities")
    i, j = pairs[0]
    layers = dict(county_layers)
    layers["grids"] = plan.grids

    def gaps(communities: gpd.GeoDataFrame, grid_layer: gpd.GeoDataFrame) -> set[str]:
        layers.update(communities=communities.to_crs("EPSG:4326"), grids=grid_layer)
        return {p.key for p in check_layers(layers) if p.rule == "grid_gap"}

    assert gaps(comm, plan.grids) == set()
    # community i reaches 4 m into community j: that ground is in j's grids, not a gap
    grown = comm.copy()
    band = shapely.intersection(shapely.buffer(geoms[i], 4.0, join_style="mitre"), geoms[j])
    assert shapely.area(band) > 2 * 5.0
    grown.loc[grown.index[i], "geometry"] = shapely.union(geoms[i], band)
    assert gaps(grown, plan.grids) == set()
    # a grid of community i removed: its ground is in no grid at all
    first = plan.grids.index[plan.grids["community_code"] == codes[i]][0]
    assert gaps(comm, plan.grids.drop(index=first)) == {codes[i]}
