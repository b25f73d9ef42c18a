"""``gisgov import`` loses nothing silently: explicit --mode, counts, refused orphaning replaces.

On the fixture county with an assignment and staff drawn from its own households and members,
as after ``gisgov assign`` and ``gisgov grids``.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from typer.testing import CliRunner

from gisgov.cli import app
from gisgov.references import references_to
from gisgov.store import open_workspace

ASSIGNED = 40


@pytest.fixture
def county(county_gpkg: Path) -> Path:
    """The fixture county with 40 households assigned to members and 2 staff who are members."""
    ws = open_workspace(county_gpkg)
    hh = ws.read("households").sort_values("id").head(ASSIGNED)
    members = ws.read("members").sort_values("id")
    mids = members["id"].tolist()
    assignments = gpd.GeoDataFrame(
        {"household_id": hh["id"].to_numpy(),
         "member_id": [mids[i % 8] for i in range(ASSIGNED)],
         "reason": ["nearest"] * ASSIGNED},
        geometry=gpd.GeoSeries([None] * ASSIGNED), crs="EPSG:4326")
    staff = gpd.GeoDataFrame(
        {"id": ["S1", "S2"], "grid_code": ["410223001001001"] * 2,
         "role": ["leader", "volunteer"], "member_id": [mids[0], mids[1]]},
        geometry=gpd.GeoSeries([None, None]), crs="EPSG:4326")
    with ws.transaction() as tx:
        tx.write("assignments", assignments)
        tx.write("staff", staff)
    return county_gpkg


def three_rows_csv(ws: Path, tmp_path: Path, *, new_ids: bool = False) -> Path:
    """The first three households as a CSV (lon/lat columns), as a user exports them."""
    hh = open_workspace(ws).read("households").sort_values("id").head(3)
    frame = pd.DataFrame(hh.drop(columns="geometry"))
    frame["lon"], frame["lat"] = hh.geometry.x.to_numpy(), hh.geometry.y.to_numpy()
    if new_ids:
        frame["id"] = ["HX1", "HX2", "HX3"]
    path = tmp_path / "three_rows.csv"
    frame.to_csv(path, index=False)
    return path


def invoke(*args: str) -> tuple[int, str]:
    out = CliRunner().invoke(app, list(args), env={"COLUMNS": "400"})
    assert out.exception is None or isinstance(out.exception, SystemExit), out.exception
    return out.exit_code, out.output


def state(ws: Path) -> tuple[int, int, int, int]:
    w = open_workspace(ws)
    return w.count("households"), w.count("members"), w.count("assignments"), w.version


def test_references_come_from_the_schema() -> None:
    assert references_to("households") == [("assignments", "household_id", "id")]
    into_members = {(layer, col) for layer, col, _ in references_to("members")}
    assert into_members == {("households", "kin_member_id"), ("staff", "member_id"),
                            ("assignments", "member_id")}
    assert ("members", "grid_code", "code") in references_to("grids")
    assert ("branches", "parent_id", "id") not in references_to("branches")  # self


def test_a_layer_with_rows_needs_an_explicit_mode(county: Path, tmp_path: Path) -> None:
    csv = three_rows_csv(county, tmp_path)
    before = state(county)
    code, output = invoke("import", str(county), str(csv), "--layer", "households")
    assert code != 0
    assert "already has 2,420 rows" in output
    assert "--mode append" in output
    assert "--mode replace" in output
    assert state(county) == before


def test_an_orphaning_replace_is_refused_naming_what_breaks(county: Path,
                                                            tmp_path: Path) -> None:
    csv = three_rows_csv(county, tmp_path)
    before = state(county)
    code, output = invoke("import", str(county), str(csv), "--layer", "households",
                          "--mode", "replace")
    assert code != 0
    # the 3 households in the file keep their assignments; the other 37 would dangle
    assert f"{ASSIGNED - 3} assignments (household_id: " in output
    assert "--force" in output
    assert "Traceback" not in output
    assert state(county) == before


def test_a_forced_replace_goes_through_and_reports(county: Path, tmp_path: Path) -> None:
    csv = three_rows_csv(county, tmp_path)
    code, output = invoke("import", str(county), str(csv), "--layer", "households",
                          "--mode", "replace", "--force", "--json")
    assert code == 0, output
    doc = json.loads(output)
    assert (doc["added"], doc["replaced"], doc["deleted"]) == (0, 3, 2420 - 3)
    assert doc["count"] == 3
    assert doc["orphaned"] == [{"layer": "assignments", "column": "household_id",
                                "target": "households.id", "rows": ASSIGNED - 3,
                                "examples": doc["orphaned"][0]["examples"]}]
    assert len(doc["orphaned"][0]["examples"]) == 3
    assert open_workspace(county).count("households") == 3


def test_append_counts_added_rows_and_deletes_nothing(county: Path, tmp_path: Path) -> None:
    csv = three_rows_csv(county, tmp_path, new_ids=True)
    code, output = invoke("import", str(county), str(csv), "--layer", "households",
                          "--mode", "append")
    assert code == 0, output
    assert "3 added, 0 replaced, 0 deleted; the layer now has 2,423" in output
    assert open_workspace(county).count("assignments") == ASSIGNED


def test_a_replace_keeping_every_referenced_row_needs_no_force(county: Path,
                                                               tmp_path: Path) -> None:
    """Replacing members by the same members (e.g. corrected ages) breaks nothing."""
    members = open_workspace(county).read("members")
    path = tmp_path / "members.geojson"
    members.assign(age=members["age"].fillna(40) + 1).to_file(path)
    code, output = invoke("import", str(county), str(path), "--layer", "members",
                          "--mode", "replace", "--json")
    assert code == 0, output
    doc = json.loads(output)
    assert (doc["added"], doc["replaced"], doc["deleted"]) == (0, len(members), 0)
    assert doc["orphaned"] == []


def test_replacing_members_names_every_broken_reference(county: Path, tmp_path: Path) -> None:
    members = open_workspace(county).read("members").sort_values("id")
    path = tmp_path / "members.geojson"
    members.tail(5).to_file(path)  # none of the members the staff and assignments name
    before = state(county)
    code, output = invoke("import", str(county), str(path), "--layer", "members",
                          "--mode", "replace")
    assert code != 0
    assert f"{ASSIGNED} assignments (member_id: " in output
    assert "2 staff (member_id: S1, S2)" in output
    assert state(county) == before


def test_into_an_empty_layer_no_mode_is_needed(county: Path, tmp_path: Path) -> None:
    ws = open_workspace(county)
    with ws.transaction() as tx:
        tx.write("stations", ws.read("stations").iloc[:0])
    assert open_workspace(county).count("stations") == 0
    path = tmp_path / "stations.geojson"
    gpd.GeoDataFrame({"id": ["Z1"], "name": ["志愿服务站"], "kind": ["volunteer"]},
                     geometry=gpd.points_from_xy([114.19], [34.41]), crs="EPSG:4326"
                     ).to_file(path)
    code, output = invoke("import", str(county), str(path), "--layer", "stations")
    assert code == 0, output
    assert "1 added, 0 replaced, 0 deleted" in output
