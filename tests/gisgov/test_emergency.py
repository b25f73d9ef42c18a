"""The emergency sweep (``gisgov area``, :mod:`gisgov.emergency`) on the reference county.

Membership is checked against an independent answer (geodesic distances over every household
of the county, not the sweep's own metric test), the policy against the layers (who is in
whose community), and the store access against a recording workspace: a sweep reads by
bounding box and by key, never a whole people layer.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from typer.testing import CliRunner

from gisgov.audit import read_audit
from gisgov.crs import wgs84_to_gcj02
from gisgov.emergency import circle_area, polygon_area, sweep_area, write_sweep
from gisgov.errors import PermissionDeniedError, ValidationError
from gisgov.locate import locate_xy
from gisgov.privacy import Principal
from gisgov.store import open_workspace
from tests.maps.conftest import build_grid_layers
from tests.maps.map_test_helpers import write_workspace

PLANNER = Principal(role="planner", actor_name="cli:test")
GEOD = pyproj.Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def layers(county_layers: dict[str, gpd.GeoDataFrame]) -> dict[str, gpd.GeoDataFrame]:
    """The fixture county with grids, leaders and assignments (some households left out)."""
    return build_grid_layers(county_layers)


@pytest.fixture(scope="module")
def master(tmp_path_factory: pytest.TempPathFactory,
           layers: dict[str, gpd.GeoDataFrame]) -> Path:
    return Path(write_workspace(tmp_path_factory.mktemp("emergency") / "county.gpkg", layers))


@pytest.fixture
def ws(tmp_path: Path, master: Path) -> Any:
    path = tmp_path / "county.gpkg"
    shutil.copy2(master, path)
    workspace = open_workspace(path)
    yield workspace
    workspace.close()


def _busiest_point(layers: dict[str, gpd.GeoDataFrame]) -> tuple[float, float]:
    """A household position with many neighbours, over two grids (a 300 m circle there
    crosses grid and community lines)."""
    hh = layers["households"]
    x, y = hh.geometry.x.to_numpy(), hh.geometry.y.to_numpy()
    grids = layers["grids"]
    row, _ = locate_xy(x, y, grids.geometry.values, codes=grids["code"].to_numpy())
    best, best_n = 0, -1
    for i in range(0, len(hh), 37):
        _, _, d = GEOD.inv(np.full(len(hh), x[i]), np.full(len(hh), y[i]), x, y)
        near = d <= 300
        n = int(near.sum()) * (len(set(row[near].tolist())) > 1)
        if n > best_n:
            best, best_n = i, n
    return float(x[best]) + 1e-5, float(y[best]) + 1e-5


def _within(layers: dict[str, gpd.GeoDataFrame], lon: float, lat: float,
            metres: float) -> tuple[set[str], set[str]]:
    """Households surely inside and surely outside (1 m either side of the circle)."""
    hh = layers["households"]
    x, y = hh.geometry.x.to_numpy(), hh.geometry.y.to_numpy()
    _, _, d = GEOD.inv(np.full(len(hh), lon), np.full(len(hh), lat), x, y)
    ids = hh["id"].astype(str).to_numpy()
    return set(ids[d <= metres - 1]), set(ids[d > metres + 1])


def test_circle_returns_its_households_vulnerable_first_with_member_and_leader(
        ws: Any, layers: dict[str, gpd.GeoDataFrame]) -> None:
    lon, lat = _busiest_point(layers)
    result = sweep_area(ws, circle_area(lon, lat, 300, metric_crs=ws.working_crs), PLANNER)
    got = set(result.households["household_id"])
    inside, outside = _within(layers, lon, lat, 300)
    assert len(inside) > 50
    assert inside <= got
    assert not got & outside
    hh = result.households
    assert hh["rank"].tolist() == list(range(1, len(hh) + 1))
    # Vulnerable first: every priority household before every other, priority = any flag.
    flags = layers["households"].set_index("id").loc[hh["household_id"],
                                                     ["elderly", "disabled", "low_income"]]
    expect = flags.fillna(False).astype(bool).any(axis=1).to_numpy()
    assert hh["priority"].tolist() == expect.tolist()
    assert 0 < hh["priority"].sum() < len(hh)
    assert hh["priority"].is_monotonic_decreasing
    assert (hh[["elderly", "disabled", "low_income"]].to_numpy()
            == flags.fillna(False).astype(bool).to_numpy()).all()
    # Each household's member is its assignment's, with the member's name and phone; its
    # leader is its grid's.
    asg = layers["assignments"].set_index("household_id")["member_id"]
    members = layers["members"].set_index("id")
    leaders = layers["staff"][layers["staff"]["role"] == "leader"].set_index("grid_code")
    with_member = 0
    for r in hh.itertuples():
        if r.household_id in asg.index:
            with_member += 1
            assert r.member_id == asg[r.household_id]
            assert r.member_name == members.loc[r.member_id, "name"]
            assert r.member_phone == members.loc[r.member_id, "phone"]
        else:
            assert r.member_id is None or r.member_id != r.member_id
        if r.grid_code in leaders.index:
            assert r.leader_phone == leaders.loc[r.grid_code, "phone"]
    assert 0 < with_member < len(hh)  # some households in reach have no member yet
    assert set(result.staff["grid_code"]) <= set(hh["grid_code"])
    assert result.staff.groupby("grid_code")["role"].first().eq("leader").all()
    # Distances are from the centre, nearest first within the priority classes.
    for _, part in hh.groupby("priority"):
        assert part["distance_m"].is_monotonic_increasing
    assert hh["distance_m"].max() <= 300


def test_gcj02_circle_finds_the_same_households(ws: Any,
                                                layers: dict[str, gpd.GeoDataFrame]) -> None:
    lon, lat = _busiest_point(layers)
    gx, gy = wgs84_to_gcj02(np.array([lon]), np.array([lat]))
    wgs = sweep_area(ws, circle_area(lon, lat, 250, metric_crs=ws.working_crs), PLANNER)
    gcj = sweep_area(ws, circle_area(float(gx[0]), float(gy[0]), 250, crs="gcj02",
                                     metric_crs=ws.working_crs), PLANNER)
    assert len(wgs.households) > 0
    assert set(wgs.households["household_id"]) == set(gcj.households["household_id"])


def test_coordinators_see_their_communities_only_without_care_flags(
        ws: Any, layers: dict[str, gpd.GeoDataFrame]) -> None:
    lon, lat = _busiest_point(layers)
    area = circle_area(lon, lat, 400, metric_crs=ws.working_crs)
    everyone = sweep_area(ws, area, PLANNER)
    communities = sorted(everyone.households["community_code"].dropna().unique())
    assert len(communities) >= 2
    seen: list[str] = []
    for code in communities:
        coord = Principal(role="coordinator", communities=frozenset({code}),
                          actor_name="cli:test")
        mine = sweep_area(ws, area, coord)
        hh = mine.households
        assert set(hh["community_code"]) == {code}
        assert not {"elderly", "disabled", "low_income"} & set(hh.columns)
        assert mine.outside_scope == len(everyone.households) - len(hh)
        # The same priority marks and order as the planner's, restricted to the community.
        planner_part = everyone.households[everyone.households["community_code"] == code]
        assert hh["household_id"].tolist() == planner_part["household_id"].tolist()
        assert hh["priority"].tolist() == planner_part["priority"].tolist()
        assert set(mine.staff["grid_code"]) <= set(hh["grid_code"])
        seen += hh["household_id"].tolist()
    # Households in no grid are in no coordinator's scope (planners only).
    gridded = everyone.households.dropna(subset=["grid_code"])
    assert sorted(seen) == sorted(gridded["household_id"])
    subdistrict = layers["communities"].set_index("code").loc[communities[0],
                                                              "subdistrict_code"]
    by_sub = sweep_area(ws, area, Principal(role="coordinator",
                                            subdistricts=frozenset({subdistrict})))
    assert set(by_sub.households["community_code"]) <= set(
        layers["communities"].query("subdistrict_code == @subdistrict")["code"])


@pytest.mark.parametrize("principal", [
    Principal(role="public"),
    Principal(role="field", grids=frozenset({"410223001001001"})),
])
def test_field_and_public_are_refused(ws: Any, layers: dict[str, gpd.GeoDataFrame],
                                      principal: Principal) -> None:
    lon, lat = _busiest_point(layers)
    before = len(read_audit(ws))
    with pytest.raises(PermissionDeniedError):
        sweep_area(ws, circle_area(lon, lat, 300, metric_crs=ws.working_crs), principal)
    assert len(read_audit(ws)) == before


def test_a_sweep_is_audited(ws: Any, layers: dict[str, gpd.GeoDataFrame]) -> None:
    lon, lat = _busiest_point(layers)
    before = len(read_audit(ws))
    result = sweep_area(ws, circle_area(lon, lat, 300, metric_crs=ws.working_crs), PLANNER)
    audit = read_audit(ws).iloc[before:]
    assert len(audit) == 1
    row = audit.iloc[0]
    assert row["actor"] == "cli:test/planner"
    assert row["action"] == "read_personal"
    assert row["target"] == "emergency/contacts"
    assert f"{len(result.households)} household(s)" in row["detail"]
    assert result.households["household_id"].iloc[0] in row["detail"]
    # Nobody there: nothing shown, nothing recorded.
    empty = sweep_area(ws, circle_area(lon + 1, lat, 300, metric_crs=ws.working_crs), PLANNER)
    assert len(empty.households) == 0
    assert len(read_audit(ws)) == before + 1


class _Recording:
    """A workspace that records the filters of every read."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.reads: list[tuple[str, dict[str, Any]]] = []

    def read(self, layer: str, **kw: Any) -> gpd.GeoDataFrame:
        self.reads.append((layer, kw))
        return self.inner.read(layer, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_reads_are_spatial_or_by_key_never_a_whole_layer(
        ws: Any, layers: dict[str, gpd.GeoDataFrame]) -> None:
    lon, lat = _busiest_point(layers)
    spy = _Recording(ws)
    result = sweep_area(spy, circle_area(lon, lat, 300, metric_crs=ws.working_crs), PLANNER)
    assert len(result.households) > 50
    layers_read = {layer for layer, _ in spy.reads}
    assert {"households", "grids", "assignments", "members", "staff"} <= layers_read
    for layer, kw in spy.reads:
        assert kw.get("bbox") is not None or kw.get("where") or kw.get("limit") == 0, \
            (layer, kw)
    hh_reads = [kw for layer, kw in spy.reads if layer == "households"]
    assert len(hh_reads) == 1
    assert hh_reads[0]["bbox"] is not None


def test_polygon_sweep_is_exactly_the_households_it_covers(
        ws: Any, layers: dict[str, gpd.GeoDataFrame], tmp_path: Path) -> None:
    grid = layers["grids"].iloc[3]
    shape = shapely.affinity.scale(grid.geometry, 0.6, 0.6)
    hh = layers["households"]
    expect = set(hh["id"][shapely.covers(shape, hh.geometry.values)])
    assert expect
    result = sweep_area(ws, polygon_area(shape, metric_crs=ws.working_crs), PLANNER)
    assert set(result.households["household_id"]) == expect
    assert (result.households["distance_m"] == 0).all()  # inside: no distance to the edge
    # The same area as a GeoJSON file through the CLI (polygon drawn over Gaode: GCJ-02).
    from gisgov.cli import app
    from gisgov.crs import from_storage

    drawn = from_storage(gpd.GeoDataFrame(geometry=[shape], crs=4326), target_crs="gcj02")
    file = tmp_path / "zone.geojson"
    drawn.to_file(file, driver="GeoJSON")
    run = CliRunner().invoke(app, ["area", ws.url if hasattr(ws, "url") else str(ws.path),
                                   "--polygon", str(file), "--crs", "gcj02", "--json"])
    assert run.exit_code == 0, run.output
    doc = json.loads(run.stdout)
    got = {h["household_id"] for h in doc["households"]}
    # GCJ-02 round trip is exact to millimetres: only households that close to the edge
    # may differ.
    assert len(got ^ expect) <= 1


def test_cli_writes_chinese_csv_and_a_printable_page(
        ws: Any, layers: dict[str, gpd.GeoDataFrame], tmp_path: Path) -> None:
    from gisgov.cli import app

    lon, lat = _busiest_point(layers)
    out = tmp_path / "sweep"
    target = str(ws.path)
    run = CliRunner().invoke(app, ["area", target, "--circle", f"{lon},{lat},300",
                                   "--out", str(out), "--json"])
    assert run.exit_code == 0, run.output
    doc = json.loads(run.stdout)
    table = pd.read_csv(out / "应急联系名单.csv", encoding="utf-8-sig", dtype=str)
    for header in ("序号", "优先关照", "户主", "地址", "联系电话", "网格", "红色网格员",
                   "党员电话", "网格长", "网格长电话", "老年人", "残疾人", "低保"):
        assert header in table.columns
    assert len(table) == doc["count"] > 50
    assert table["优先关照"].iloc[0] == "是"
    assert table["优先关照"].iloc[-1] == "否"
    staff = pd.read_csv(out / "应急网格人员.csv", encoding="utf-8-sig", dtype=str)
    assert set(staff["角色"]) <= {"网格长", "专职网格员", "兼职网格员", "网格指导员", "网格志愿者"}
    page = (out / "应急联系名单.html").read_text("utf-8")
    assert page.startswith("<!doctype html>")
    assert "应急联系名单" in page
    assert page.count("<section>") == len(set(table["网格代码"].dropna()))
    first = doc["households"][0]
    assert first["head_name"] in page
    assert first["phone"] in page
    assert f"优先关照 {doc['priority']} 户" in page
    # A coordinator's print: one community, no flags, the others counted.
    code = first["community_code"]
    run = CliRunner().invoke(app, ["area", target, "--circle", f"{lon},{lat},300", "--role",
                                   "coordinator", "--communities", code, "--out",
                                   str(tmp_path / "coord"), "--json"])
    assert run.exit_code == 0, run.output
    mine = json.loads(run.stdout)
    assert {h["community_code"] for h in mine["households"]} == {code}
    assert mine["outside_scope"] == doc["count"] - mine["count"]
    coord_table = pd.read_csv(tmp_path / "coord" / "应急联系名单.csv", encoding="utf-8-sig")
    assert "老年人" not in coord_table.columns
    assert "优先关照" in coord_table.columns


@pytest.mark.parametrize(("args", "message"), [
    ([], "exactly one of"),
    (["--circle", "114.2,34.4"], "LON,LAT,METRES"),
    (["--circle", "114.2,34.4,0"], "radius"),
    (["--circle", "114.2,34.4,50000"], "radius"),
    (["--circle", "114.2,34.4,300", "--crs", "EPSG:3857"], "crs"),
    (["--circle", "114.2,34.4,300", "--role", "field"], "planner or coordinator"),
    (["--circle", "114.2,34.4,300", "--role", "coordinator"], "--communities"),
    (["--polygon", "no-such-file.geojson"], "does not exist"),
])
def test_cli_bad_input_is_one_line_and_writes_nothing(ws: Any, tmp_path: Path,
                                                     args: list[str], message: str) -> None:
    from gisgov.cli import app

    before = len(read_audit(ws))
    out = tmp_path / "never"
    run = CliRunner().invoke(app, ["area", str(ws.path), *args, "--out", str(out)])
    assert run.exit_code != 0
    text = run.output + (str(run.exception) if run.exception else "")
    assert message.lower() in text.lower(), text
    assert "Traceback" not in run.output
    assert not out.exists()
    assert len(read_audit(ws)) == before


def test_polygons_that_enclose_nothing_or_too_much_are_refused(ws: Any) -> None:
    metric = ws.working_crs
    with pytest.raises(ValidationError, match="no polygon"):
        polygon_area(shapely.LineString([(114.1, 34.4), (114.2, 34.4)]), metric_crs=metric)
    with pytest.raises(ValidationError, match="km²"):
        polygon_area(shapely.box(113.5, 34.0, 114.5, 35.0), metric_crs=metric)


def test_written_files_round_trip(ws: Any, layers: dict[str, gpd.GeoDataFrame],
                                  tmp_path: Path) -> None:
    lon, lat = _busiest_point(layers)
    result = sweep_area(ws, circle_area(lon, lat, 200, metric_crs=ws.working_crs), PLANNER)
    paths = write_sweep(result, tmp_path)
    assert [p.name for p in paths] == ["应急联系名单.csv", "应急网格人员.csv", "应急联系名单.html"]
    table = pd.read_csv(paths[0], encoding="utf-8-sig", dtype=str)
    assert table["户编号"].tolist() == result.households["household_id"].tolist()

