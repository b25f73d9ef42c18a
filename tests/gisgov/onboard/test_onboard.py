"""The onboarding chain: OSM extract + Excel registers → a workspace that passes `gisgov check`."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from typer.testing import CliRunner

from gisgov.cli import app
from gisgov.errors import ValidationError
from gisgov.onboard import BLOCKS_TABLE, OnboardInputs, households_from_buildings, onboard_layers
from gisgov.onboard.osm import read_osm
from gisgov.store import open_workspace
from tests.conftest import NO_TIME_CAP
from tests.gisgov.onboard.onboard_data import gcj, write_workbook

CODE = "410223001001"


def _registers(tmp_path: Path, buildings: gpd.GeoDataFrame) -> tuple[Path, Path]:
    """Households and members workbooks: GCJ-02 picks, one address-only row, one unmatched."""
    pts = buildings.geometry.representative_point()
    hh_rows: list[list[object]] = []
    for i in range(12):
        lon, lat = gcj(pts.iloc[i % len(pts)].x + 1e-5 * i, pts.iloc[i % len(pts)].y)
        hh_rows.append([f"户主{i}", "1380000" + f"{i:04d}", 3, *gcj_pair(lon, lat), None])
    hh_rows.append(["户主A", None, 2, None, None, "幸福路2号"])   # placed by address
    hh_rows.append(["户主B", None, 1, None, None, "幸福路88号"])  # listed as unmatched
    households = write_workbook(tmp_path / "人口台账.xlsx", "幸福社区人口台账",
                                ["户主姓名", "联系电话", "人口数", "经度(高德)", "纬度(高德)",
                                 "门牌地址"], hh_rows)
    m_rows: list[list[object]] = []
    for i in range(4):
        lon, lat = gcj(pts.iloc[i].x, pts.iloc[i].y)
        m_rows.append([f"党员{i}", "A类" if i < 3 else "D类", 40 + i, "第一支部", lon, lat])
    members = write_workbook(tmp_path / "党员.xlsx", None,
                             ["党员姓名", "党员类别", "年龄", "所属支部", "经度（高德）",
                              "纬度（高德）"], m_rows)
    return households, members


def gcj_pair(lon: float, lat: float) -> list[object]:
    return [lon, lat]


def test_onboard_town_cli(tmp_path: Path, town_osm: Path) -> None:
    households, members = _registers(tmp_path, read_osm(town_osm).buildings)
    ws = tmp_path / "town.gpkg"
    out = CliRunner().invoke(app, [
        "onboard", str(ws), "--streets", str(town_osm), "--households", str(households),
        "--members", str(members), "--community-code", CODE, "--community-name", "幸福社区",
        "--json",
    ])
    assert out.exit_code == 0, out.output
    rep = json.loads(out.stdout)
    assert rep["check"]["errors"] == 0, rep["check"]["problems"][:5]
    assert rep["imported"] == {"streets": rep["imported"]["streets"], "buildings": 8,
                               "compounds": 1, "households": 13, "members": 4}
    assert rep["derived"]["communities"] == 1
    assert rep["derived"]["branches"] == 1
    assert rep["derived"]["compounds"] >= 1  # the eastern block's homes got a compound
    hh = rep["registers"]["households"]
    assert hh["placed_by"] == {"coordinates": 12, "address": 1}
    assert [u["address"] for u in hh["unmatched"]] == ["幸福路88号"]
    assert hh["source_crs"] == "gcj02"
    assert not any("党员" in m for m in rep["missing"] if m.startswith("no members"))

    w = open_workspace(ws)
    layers = w.read_all()
    assert layers["subdistricts"]["code"].tolist() == [CODE[:9]]
    assert layers["households"]["building_id"].notna().all()
    assert not layers["households"]["estimated"].any()
    assert layers["buildings"]["compound_id"].notna().all()
    assert set(layers["compounds"]["community_code"]) == {CODE}
    assert layers["members"]["branch_id"].tolist() == ["P001"] * 4
    assert len(w.read_table(BLOCKS_TABLE)) == 9  # the 3×3 lattice blocks


def test_onboard_package_pbf_with_excel_register(tmp_path: Path, package_pbf: Path) -> None:
    """Done-when: an OSM extract plus an Excel register pass `gisgov check`."""
    _, members = _registers(tmp_path, read_osm(package_pbf).buildings.head(20))
    ws = tmp_path / "city.gpkg"
    out = CliRunner().invoke(app, [
        "onboard", str(ws), "--streets", str(package_pbf), "--members", str(members),
        "--community-code", CODE, "--community-name", "示范社区", "--json",
    ])
    assert out.exit_code == 0, out.output
    rep = json.loads(out.stdout)
    assert rep["check"]["errors"] == 0, rep["check"]["problems"][:5]
    assert rep["derived"]["households"] > 1000
    assert rep["blocks"] > 30
    assert rep["imported"]["members"] == 4
    assert any("estimates" in m for m in rep["missing"])
    w = open_workspace(ws)
    hh = w.read("households")
    assert hh["estimated"].all()
    assert hh["building_id"].notna().all()
    communities = w.read("communities")
    assert communities.geometry.iloc[0].covers(w.read("buildings").geometry.union_all())
    w.close()
    # ... and grids and assignment then run on it without any code change
    grids = CliRunner().invoke(app, ["grids", str(ws), "--json", "--time-limit",
                                     str(NO_TIME_CAP)])
    assert grids.exit_code == 0, grids.output
    g = json.loads(grids.stdout)
    assert g["grids"] > 10
    assert g["contiguous_all"]
    assigned = CliRunner().invoke(app, ["assign", str(ws), "--json"])
    assert assigned.exit_code == 0, assigned.output
    a = json.loads(assigned.stdout)
    assert a["households"] == len(hh)
    assert a["optimal"]
    assert a["assigned"] > 0
    rules = json.loads(CliRunner().invoke(app, ["check", str(ws), "--json"]).stdout)["by_rule"]
    assert not {"grid_gap", "grid_overlap", "household_outside_grids"} & set(rules)


def test_all_or_nothing(tmp_path: Path, town_osm: Path) -> None:
    ws = tmp_path / "w.gpkg"
    runner = CliRunner()
    args = ["onboard", str(ws), "--streets", str(town_osm), "--community-code", CODE,
            "--community-name", "幸福社区", "--json"]
    assert runner.invoke(app, args).exit_code == 0
    before = open_workspace(ws).version
    bad = write_workbook(tmp_path / "bad.xlsx", None, ["党员编号", "党员姓名", "经度", "纬度"],
                         [["M1", "甲", 113.6, 34.7], ["M1", "乙", 113.6, 34.7]])
    out = runner.invoke(app, [*args, "--members", str(bad)])
    assert out.exit_code != 0
    assert open_workspace(ws).version == before
    assert open_workspace(ws).count("members") == 0


def test_communities_are_required(town_osm: Path) -> None:
    with pytest.raises(ValidationError, match="--community-code"):
        onboard_layers(OnboardInputs(streets=town_osm))
    with pytest.raises(ValidationError, match="12-digit"):
        onboard_layers(OnboardInputs(streets=town_osm, community_code="4102"))


def test_households_from_buildings() -> None:
    square = shapely.box(0, 0, 30, 30)  # 900 m²
    b = gpd.GeoDataFrame(
        {"id": ["a", "b", "c", "d"], "floors": [6, None, 6, 6],
         "use": ["residential", "residential", "unknown", "other"], "address": None},
        geometry=[square] * 3 + [square], crs="EPSG:32650",
    ).to_crs(4326)
    hh = households_from_buildings(b, crs="EPSG:32650", default_floors=2)
    counts = hh["building_id"].value_counts().to_dict()
    assert counts == {"a": 60, "b": 20, "c": 30}  # 900×6/90, 900×2/90, half of 60; shops none
    assert hh["estimated"].all()
    assert hh["id"].is_unique
    assert abs(hh["size"].mean() - 2.62) < 0.02
