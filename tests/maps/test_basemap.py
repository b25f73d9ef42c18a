"""The workspace basemap: streets named (main first), compounds and buildings labelled."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import numpy as np
import shapely

from maps.basemap import LABEL_STEP_M, basemap_features
from maps.site import map_pages, render_page

Layers = dict[str, gpd.GeoDataFrame]


def _labels(fc: dict) -> list[dict]:
    return [f for f in fc["features"] if f["properties"]["k"] == "label"]


def test_every_named_street_is_labelled_along_its_length(county_layers: Layers) -> None:
    fc = basemap_features(county_layers)
    streets = county_layers["streets"]
    kinds = [f["properties"]["k"] for f in fc["features"]]
    assert kinds.count("street") == len(streets)
    assert kinds.count("building") == len(county_layers["buildings"])
    assert kinds.count("compound") == len(county_layers["compounds"])
    labels = _labels(fc)
    named = streets[streets["name"].notna() & (streets["class"] != "footway")]
    texts = [f["properties"]["t"] for f in labels]
    assert set(named["name"]) <= set(texts)
    # Main streets outrank the rest and show from zoom 13; a long street gets several labels.
    ranks = {f["properties"]["t"]: f["properties"]["r"] for f in labels
             if f["properties"]["t"] in set(named.loc[named["class"] == "main", "name"])}
    assert ranks
    assert set(ranks.values()) == {0}
    metric = named.to_crs(named.estimate_utm_crs())
    longest = metric.groupby("name").geometry.apply(lambda g: g.length.sum()).idxmax()
    length = float(metric[metric["name"] == longest].length.sum())
    assert texts.count(longest) >= int(length // LABEL_STEP_M) * 0.8
    # Each label point lies on (within a metre of) its street.
    for f in labels[:200]:
        if f["properties"]["r"] > 2:
            continue
        pt = shapely.Point(f["geometry"]["coordinates"])
        lines = streets[streets["name"] == f["properties"]["t"]].geometry.to_numpy()
        assert float(shapely.distance(lines, pt).min()) < 1e-5  # degrees: about a metre
    # Building labels sit inside their building, clear of its centre.
    bl = [f for f in labels if f["properties"]["r"] == 4][:100]
    assert bl
    blds = county_layers["buildings"]
    for f in bl:
        pt = shapely.Point(f["geometry"]["coordinates"])
        hit = blds[shapely.contains(blds.geometry.to_numpy(), pt)]
        assert len(hit) >= 1
        b = hit.geometry.iloc[0].bounds
        assert pt.y > (b[1] + b[3]) / 2  # the upper half: the centre's markers stay visible


def test_gaode_draws_in_gcj02(county_layers: Layers) -> None:
    plain = basemap_features({"streets": county_layers["streets"]})
    gaode = basemap_features({"streets": county_layers["streets"]}, basemap="gaode")
    a = np.array(plain["features"][0]["geometry"]["coordinates"])
    b = np.array(gaode["features"][0]["geometry"]["coordinates"])
    shift = np.abs(b - a).max()
    assert 1e-4 < shift < 1e-2  # a few hundred metres, the GCJ-02 offset


def test_pages_carry_the_basemap_only_without_online_tiles(grid_layers: Layers) -> None:
    pages = {p.kind: p for p in map_pages(grid_layers)}
    page = pages["grids"]
    html = render_page(grid_layers, page)
    match = re.search(r"gisgovBasemap\(map_\w+, (\{.*?\})\);", html)
    assert match
    fc = json.loads(match.group(1).replace("<\\/", "</"))
    # Clipped to the community (and a margin): not the county's every building.
    n_buildings = sum(f["properties"]["k"] == "building" for f in fc["features"])
    assert 0 < n_buildings < len(grid_layers["buildings"])
    assert any(f["properties"]["k"] == "label" and f["properties"]["r"] == 0
               for f in fc["features"])
    county = render_page(grid_layers, pages["county"])
    assert "gisgovBasemap(map_" in county
    assert '"k":"building"' not in county  # county-wide: streets and compounds only
    assert "gisgovBasemap(map_" not in render_page(grid_layers, page, basemap="osm")
