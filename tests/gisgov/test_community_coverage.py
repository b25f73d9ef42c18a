"""Stored communities tile like grids: snapped before writing, overlaps reported by check."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from typer.testing import CliRunner

from gisgov.checks import check_layers, community_overlap
from gisgov.coverage import STORAGE_GRID_DEG, snap_layer
from gisgov.crs import working_crs_for

Layers = dict[str, gpd.GeoDataFrame]


def on_storage_grid(gdf: gpd.GeoDataFrame) -> bool:
    """Whether every vertex of the layer lies on the storage precision grid."""
    xy = shapely.get_coordinates(gdf.geometry.values)
    return bool(np.allclose(np.round(xy / STORAGE_GRID_DEG) * STORAGE_GRID_DEG, xy,
                            rtol=0, atol=1e-12))


def _grown(layers: Layers, code: str, metres: float) -> gpd.GeoDataFrame:
    """The communities with one of them grown by ``metres`` into its neighbours."""
    comm = layers["communities"]
    crs = working_crs_for(comm)
    m = comm.to_crs(crs)
    i = int(np.flatnonzero(m["code"] == code)[0])
    geoms = m.geometry.to_numpy().copy()
    geoms[i] = shapely.buffer(geoms[i], metres, join_style="mitre")
    return m.set_geometry(gpd.GeoSeries(geoms, index=m.index, crs=crs)).to_crs(comm.crs)


def test_check_reports_communities_overlapping_by_more_than_a_square_metre(
    county_layers: Layers,
) -> None:
    assert community_overlap(county_layers) == []
    code = str(county_layers["communities"]["code"].iloc[0])
    grown = {**county_layers, "communities": _grown(county_layers, code, 2.0)}
    found = community_overlap(grown)
    assert found
    assert {p.rule for p in found} == {"community_overlap"}
    assert all(p.severity == "error" for p in found)
    assert any(code in (p.key, p.message.split()[3]) for p in found)
    assert "community_overlap" in {p.rule for p in check_layers(grown)}
    # a few square centimetres (float noise of a reprojection) are not a finding
    assert community_overlap({**county_layers,
                              "communities": _grown(county_layers, code, 0.0001)}) == []


def test_snapping_removes_the_overlap_and_keeps_the_rows(county_layers: Layers) -> None:
    code = str(county_layers["communities"]["code"].iloc[0])
    grown = _grown(county_layers, code, 2.0)
    snapped = snap_layer(grown)
    assert list(snapped["code"]) == list(grown["code"])
    assert on_storage_grid(snapped)
    assert community_overlap({**county_layers, "communities": snapped}) == []
    # the overlap went to the lowest code: the grown community keeps its growth only where
    # its neighbours have higher codes
    assert shapely.coverage_is_valid(snapped.geometry.values)


def test_sample_stores_communities_on_the_storage_grid(tmp_path: Path) -> None:
    from gisgov.cli import build_app
    from gisgov.store import open_workspace

    out = tmp_path / "c.gpkg"
    made = CliRunner().invoke(build_app(), ["sample", str(out), "--scale", "0.02", "--seed",
                                            "2"])
    assert made.exit_code == 0, made.output
    stored = open_workspace(str(out)).read_all()
    assert on_storage_grid(stored["communities"])
    assert on_storage_grid(stored["subdistricts"])
    assert shapely.coverage_is_valid(stored["communities"].geometry.values)
    assert community_overlap(stored) == []
