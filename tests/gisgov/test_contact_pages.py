"""``gisgov assign --lists-out``: one page and one CSV per grid, an index, Chinese headers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
from typer.testing import CliRunner

from gisgov.store import open_workspace
from tests.maps.conftest import build_grid_layers


def test_lists_are_split_per_grid_with_an_index(
        county_layers: dict[str, gpd.GeoDataFrame], tmp_path: Path) -> None:
    from gisgov.cli import app

    layers = build_grid_layers(county_layers)
    gpkg = tmp_path / "county.gpkg"
    ws = open_workspace(gpkg, create=True)
    with ws.transaction() as tx:
        for name, gdf in layers.items():
            if name != "assignments":
                tx.write(name, gdf)
    ws.close()
    out = tmp_path / "lists"
    run = CliRunner().invoke(app, ["assign", str(gpkg), "--json", "--lists-out", str(out)])
    assert run.exit_code == 0, run.output
    doc = json.loads(run.stdout)
    everything = pd.read_csv(out / "联系户名单.csv", encoding="utf-8-sig", dtype=str)
    for header in ("党员", "联系户", "地址", "步行距离（米）", "网格代码", "联系电话"):
        assert header in everything.columns
    assert len(everything) == doc["assigned"]
    index = (out / "contacts" / "index.html").read_text("utf-8")
    grids = sorted(everything["网格代码"].unique())
    assert re.findall(r'href="(\d{15})\.html"', index) == grids
    names = dict(zip(layers["grids"]["code"], layers["grids"]["name"], strict=True))
    total = 0
    for code in grids:
        page = (out / "contacts" / f"{code}.html").read_text("utf-8")
        part = pd.read_csv(out / "contacts" / f"{code}.csv", encoding="utf-8-sig", dtype=str)
        assert set(part["网格代码"]) == {code}
        assert len(part) == (everything["网格代码"] == code).sum()
        assert names[code] in page
        # Exactly the members serving this grid's households are on its page (a member
        # borrowed by a neighbouring grid is on both, with that grid's households only).
        on_page = set(re.findall(r"<h2>党员：[^<]*（([^）]+)）</h2>", page))
        assert on_page == set(part["党员编号"])
        assert not set(everything.loc[everything["网格代码"] != code, "联系户编号"]) & set(
            re.findall(r"<td>(\w+)</td>", page))
        assert f"{len(part)}</td>" in index
        total += len(part)
    assert total == doc["assigned"]
    whole = (out / "contacts.html").stat().st_size
    biggest = max((out / "contacts" / f"{c}.html").stat().st_size for c in grids)
    assert biggest < whole / 2  # each grid's page is a fraction of the county's
    assert {str(out / "contacts" / "index.html"), str(out / "联系户名单.csv")} <= set(doc["files"])
