"""OSM extracts → streets (routable), buildings, compounds, places; `gisgov import` of a .pbf."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from typer.testing import CliRunner

from gisgov.cli import app
from gisgov.crs import working_crs_for
from gisgov.layers import validate_layer
from gisgov.network import graph_from_streets
from gisgov.onboard.osm import parse_other_tags, read_osm, split_at_shared_vertices
from gisgov.store import open_workspace


def test_split_keeps_bridges_apart() -> None:
    road = shapely.LineString([(0, 0), (1, 0), (2, 0)])
    cross = shapely.LineString([(1, -1), (1, 0), (1, 1)])
    bridge = shapely.LineString([(1.5, -1), (1.5, 1)])  # crosses the road, shares no vertex
    parts, source = split_at_shared_vertices(np.array([road, cross, bridge], dtype=object))
    assert source.tolist() == [0, 0, 1, 1, 2]
    assert parts[4].equals(bridge)


def test_other_tags_with_escaped_quotes() -> None:
    assert parse_other_tags(r'"name:zh"=>"\"新\"路","x"=>"1"') == {"name:zh": '"新"路', "x": "1"}
    assert parse_other_tags(None) == {}


def test_town_extract(town_osm: Path) -> None:
    ext = read_osm(town_osm)
    streets = ext.streets
    assert not validate_layer("streets", streets)
    assert set(streets["class"]) == {"main", "secondary", "minor", "footway"}
    assert ext.skipped == {"highway=construction": 1}
    # name:zh wins over a romanised name
    assert "幸福路" in set(streets["name"])
    assert "Xingfu Road" not in set(streets["name"])
    # each lattice street of 3 segments is split at its 2 inner junctions
    assert (streets["name"] == "人民路").sum() == 3
    graph = graph_from_streets(streets, crs=working_crs_for(streets))
    assert graph.n_components == 2  # the lattice (with its footway), and the bridge alone

    b = ext.buildings
    assert not validate_layer("buildings", b)
    assert len(b) == 8
    assert b["floors"].dropna().tolist() == [6, 6, 6]
    assert sorted(b["address"])[:2] == ["幸福路1号", "幸福路2号"]
    assert set(b["use"]) == {"residential", "unknown"}
    assert ext.compounds["name"].tolist() == ["幸福小区"]
    assert ext.places["name"].tolist() == ["文化片区"]


def test_package_pbf(package_pbf: Path) -> None:
    ext = read_osm(package_pbf)
    counts = ext.counts()
    assert counts["streets"] > 3000
    assert counts["buildings"] > 400
    assert not [p for p in validate_layer("streets", ext.streets) if p.severity == "error"]
    assert not [p for p in validate_layer("buildings", ext.buildings) if p.severity == "error"]
    assert ext.buildings["floors"].notna().mean() > 0.3  # building:levels where mapped
    graph = graph_from_streets(ext.streets, crs=working_crs_for(ext.streets))
    biggest = np.bincount(graph.component).max()
    assert biggest > 0.9 * graph.n_nodes  # split at shared nodes: one connected network


def test_import_pbf_without_layer(tmp_path: Path, package_pbf: Path) -> None:
    ws = tmp_path / "w.gpkg"
    runner = CliRunner()
    assert runner.invoke(app, ["init", str(ws)]).exit_code == 0
    out = runner.invoke(app, ["import", str(ws), str(package_pbf), "--json"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    assert set(result["written"]) == {"streets", "buildings", "compounds"}
    workspace = open_workspace(ws)
    assert workspace.count("streets") == result["written"]["streets"]
    check = runner.invoke(app, ["check", str(ws), "--json"])
    assert json.loads(check.stdout)["errors"] == 0
    # a non-OSM file still needs --layer
    other = tmp_path / "x.geojson"
    other.write_text('{"type": "FeatureCollection", "features": []}')
    assert runner.invoke(app, ["import", str(ws), str(other)]).exit_code != 0


def test_reimporting_an_extract_refuses_to_orphan_households(tmp_path: Path,
                                                             package_pbf: Path) -> None:
    """A household in a building the extract does not carry: a re-import would leave it
    pointing at nothing, so it needs --mode replace and --force, and says why."""
    ws = tmp_path / "w.gpkg"
    runner = CliRunner()
    assert runner.invoke(app, ["init", str(ws)]).exit_code == 0
    assert runner.invoke(app, ["import", str(ws), str(package_pbf)]).exit_code == 0
    workspace = open_workspace(ws)
    buildings = workspace.read("buildings")
    extra = buildings.head(1).assign(id="B-not-in-osm")
    point = extra.geometry.iloc[0].representative_point()
    with workspace.transaction() as tx:
        tx.write("buildings", extra, mode="append")
        tx.write("households", gpd.GeoDataFrame(
            {"id": ["H1"], "building_id": ["B-not-in-osm"], "size": [3]},
            geometry=[point], crs="EPSG:4326"))
    before = workspace.version
    no_mode = runner.invoke(app, ["import", str(ws), str(package_pbf)])
    assert no_mode.exit_code != 0
    assert "--mode replace" in no_mode.output
    refused = runner.invoke(app, ["import", str(ws), str(package_pbf), "--mode", "replace"])
    assert refused.exit_code != 0
    assert "1 households (building_id: H1)" in refused.output
    assert "--force" in refused.output
    assert open_workspace(ws).version == before
    forced = runner.invoke(app, ["import", str(ws), str(package_pbf), "--mode", "replace",
                                 "--force"])
    assert forced.exit_code == 0, forced.output
    assert open_workspace(ws).count("buildings") == len(buildings)
