"""The city generator: N reference-county districts side by side (issue 18)."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely

from gisgov.errors import ValidationError
from gisgov.layers import LAYERS, validate_workspace
from gisgov.sample import calibration_by_district, generate_city, generate_county
from gisgov.sample._city import SEAM_NAME, district_code

Layers = dict[str, gpd.GeoDataFrame]
SCALE = 0.1


@pytest.fixture(scope="module")
def city() -> Layers:
    # 3 districts: two in the first row, one above — a seam across a column and across a row
    return generate_city(seed=4, scale=SCALE, districts=3)


def test_codes_and_keys_are_unique_across_districts(city: Layers) -> None:
    sd, comm = city["subdistricts"], city["communities"]
    assert sorted(set(sd["code"].str[:6])) == [district_code(k) for k in range(3)]
    assert len({district_code(k) for k in range(3)}) == 3
    assert sd["code"].is_unique
    assert comm["code"].is_unique
    # every code follows its district's and subdistrict's
    assert (comm["code"].str[:9] == comm["subdistrict_code"]).all()
    assert comm["subdistrict_code"].isin(sd["code"]).all()
    assert city["compounds"]["community_code"].isin(comm["code"]).all()
    for name, layer in LAYERS.items():
        if len(city[name]) and layer.key:
            assert city[name][layer.key].is_unique, name
    h = city["households"]
    assert h["address"].is_unique
    assert h["id_number"].str[:6].isin([district_code(k) for k in range(3)]).all()
    assert validate_workspace(city) == []


def test_districts_do_not_overlap_and_communities_tile(city: Layers) -> None:
    comm = city["communities"]
    assert shapely.coverage_is_valid(comm.geometry.values)
    by = comm.dissolve(by=comm["code"].str[:6])
    for a in range(len(by)):
        for b in range(a + 1, len(by)):
            assert not shapely.intersects(by.geometry.iloc[a], by.geometry.iloc[b])


def _graph(streets: gpd.GeoDataFrame) -> nx.Graph:
    ends = [tuple(c) for c in shapely.get_coordinates(shapely.boundary(streets.geometry.values))]
    graph = nx.Graph()
    graph.add_edges_from(zip(ends[0::2], ends[1::2], strict=True))
    return graph


def test_streets_are_connected_across_the_seams(city: Layers) -> None:
    streets = city["streets"]
    assert nx.is_connected(_graph(streets))
    seams = streets[streets["name"] == SEAM_NAME]
    assert len(seams) == 2 * 3  # two seams of three pieces each
    # without the seams the districts fall apart: the seams are what joins them
    assert nx.number_connected_components(_graph(streets[streets["name"] != SEAM_NAME])) == 3
    # a seam crosses no street: it meets the others only at its ends
    others = streets[streets["name"] != SEAM_NAME].geometry.values
    for seam in seams.geometry.values:
        hits = others[shapely.intersects(others, seam)]
        touching = shapely.intersection(hits, seam)
        assert all(t.geom_type == "Point" for t in touching)
    # and closes no face: the blocks of the city are the blocks of its districts
    roads = streets[streets["class"] != "footway"].geometry.values
    faces = shapely.get_parts(shapely.polygonize(roads))
    area = shapely.union_all(city["subdistricts"].geometry.values).area
    assert abs(shapely.area(faces).sum() - area) < 1e-6 * area


def test_each_district_is_calibrated_like_the_county(city: Layers) -> None:
    by = calibration_by_district(city, scale=SCALE)
    assert list(by) == [district_code(k) for k in range(3)]
    for code, figures in by.items():
        assert [f["figure"] for f in figures if not f["ok"]] == [], code
        named = {f["figure"]: f["actual"] for f in figures}
        assert named["main streets (named)"] == 26
        assert named["compounds"] == 73


def test_one_district_is_the_county() -> None:
    a = generate_city(seed=6, scale=0.02, districts=1)
    b = generate_county(seed=6, scale=0.02)
    assert list(a) == list(b)
    for name in a:
        pd.testing.assert_frame_equal(pd.DataFrame(a[name].drop(columns="geometry")),
                                      pd.DataFrame(b[name].drop(columns="geometry")))
        assert a[name].geometry.to_wkb().equals(b[name].geometry.to_wkb()), name


def test_the_first_district_of_a_city_is_the_county(city: Layers) -> None:
    county = generate_county(seed=4, scale=SCALE)
    first = city["households"][city["households"]["id_number"].str[:6] == district_code(0)]
    assert first["id"].tolist() == county["households"]["id"].tolist()
    assert np.allclose(shapely.get_coordinates(first.geometry.values),
                       shapely.get_coordinates(county["households"].geometry.values), atol=0)


@pytest.mark.parametrize("n", [0, -1, 65, 2.5, True])
def test_bad_district_counts_are_refused(n: object) -> None:
    with pytest.raises(ValidationError):
        generate_city(districts=n, scale=0.02)  # type: ignore[arg-type]


def test_cli_writes_a_city_and_info_reports_each_district(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from gisgov.cli import build_app
    from gisgov.store import open_workspace

    out = tmp_path / "city.gpkg"
    made = CliRunner().invoke(build_app(), ["sample", str(out), "--districts", "2", "--scale",
                                            "0.02", "--seed", "3", "--json"])
    assert made.exit_code == 0, made.output
    doc = json.loads(made.output)
    assert doc["districts"] == 2
    assert list(doc["calibration_by_district"]) == [district_code(0), district_code(1)]
    ws = open_workspace(str(out))
    stored = ws.read_all()
    expected = generate_city(seed=3, scale=0.02, districts=2)
    for name in ("communities", "households", "streets", "members"):
        key = LAYERS[name].key
        assert sorted(stored[name][key]) == sorted(expected[name][key]), name
    assert doc["layers"]["households"] == len(stored["households"])
    shown = CliRunner().invoke(build_app(), ["info", str(out), "--json"])
    info = json.loads(shown.output)
    assert list(info["calibration_by_district"]) == [district_code(0), district_code(1)]
    assert {f["district"] for f in info["calibration"]} == {district_code(0), district_code(1)}
    refused = CliRunner().invoke(build_app(), ["sample", str(tmp_path / "x.gpkg"),
                                               "--districts", "0"])
    assert refused.exit_code != 0
    assert not (tmp_path / "x.gpkg").exists()
