"""The scenario comparison pages (方案对比): read from the workspace, listed, rendered, served.

The workspace is the fixture county with scenario ``reform`` (the urban communities re-drawn
into 5 by :func:`gisgov.districting.community.redistrict`), pending or accepted.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from gisgov.districting.scenarios import accept_scenario, load_scenario
from gisgov.keys import create_key
from gisgov.store import open_workspace
from maps.scenarios import ScenarioPlans, scenarios_from_workspace
from maps.site import index_html, map_pages, render_page, write_maps
from tests.maps.map_test_helpers import decoded, external_hosts

Layers = dict[str, gpd.GeoDataFrame]

TITLE = "reform 方案对比（调整前后）"
def _read(path: Path) -> tuple[Layers, list[ScenarioPlans], pd.DataFrame]:
    ws = open_workspace(path)
    try:
        layers = ws.read_all()
        scenarios = scenarios_from_workspace(ws, layers=layers)
        _, units, _ = load_scenario(ws, "reform")
    finally:
        ws.close()
    return layers, scenarios, units


def test_pending_scenario_compares_the_current_communities_with_its_areas(
    scenario_gpkg: Path,
) -> None:
    layers, scenarios, units = _read(scenario_gpkg)
    assert [s.name for s in scenarios] == ["reform"]
    sc = scenarios[0]
    assert not sc.accepted
    old_codes = set(units["old_code"].astype(str))
    assert set(sc.before["code"]) == old_codes  # only the re-drawn communities
    current = layers["communities"].set_index("code")
    for code, geom in zip(sc.before["code"], sc.before.geometry, strict=True):
        assert geom.equals(current.loc[code].geometry)
    assert len(sc.after) == 5
    moved = units["old_code"].astype(str) != units["area_code"].astype(str)
    assert sc.metrics["moved_units"] == (0.0, float(moved.sum()))
    assert sc.metrics["areas"] == (float(len(old_codes)), 5.0)
    assert sc.metrics["max_dev"][1] < sc.metrics["max_dev"][0]  # the reform balances
    # Every moved compound is drawn with its own shape; moved street blocks as grouped pieces.
    drawn = sc.units[sc.units["old_code"] != sc.units["new_code"]]
    assert drawn.geometry.notna().all()
    assert drawn.crs == "EPSG:4326"
    comp = drawn[drawn["kind"] == "compound"]
    assert set(comp["id"]) == set(units.loc[moved, "unit_id"]) & set(layers["compounds"]["id"])
    assert int(drawn["units"].sum()) == int(moved.sum())


def test_accepted_scenario_compares_the_replaced_communities_from_history(
    scenario_gpkg: Path, county_layers: Layers
) -> None:
    ws = open_workspace(scenario_gpkg)
    accept_scenario(ws, "reform")
    ws.close()
    layers, scenarios, units = _read(scenario_gpkg)
    sc = scenarios[0]
    assert sc.accepted
    original = county_layers["communities"].set_index("code")
    assert set(sc.before["code"]) == set(units["old_code"].astype(str))
    for code, geom in zip(sc.before["code"], sc.before.geometry, strict=True):
        # rebuilt from WKT (written at shapely's default 6 decimals, ~0.1 m): the same shape
        # as before the reform
        assert shapely.equals_exact(geom, original.loc[code].geometry, tolerance=1e-6)
    # the current communities are now the scenario's areas, the comparison is not "after vs
    # after": some community of before differs from today's
    # (stored communities are snapped to the storage grid, 1e-6°: the same shape within it)
    now = layers["communities"].set_index("code")
    for code, geom in zip(sc.after["code"], sc.after.geometry, strict=True):
        assert shapely.hausdorff_distance(now.loc[code].geometry, geom) < 2e-6
    changed = [c for c, g in zip(sc.before["code"], sc.before.geometry, strict=True)
               if c not in now.index
               or shapely.hausdorff_distance(now.loc[c].geometry, g) > 1e-4]
    assert changed
    page = next(p for p in map_pages(layers, scenarios) if p.kind == "scenario")
    html = render_page(layers, page, scenarios=scenarios)
    assert "调整前边界" in decoded(html)


def test_scenario_page_is_listed_and_shows_both_plans_and_the_metrics(
    scenario_gpkg: Path,
) -> None:
    layers, scenarios, units = _read(scenario_gpkg)
    pages = map_pages(layers, scenarios)
    page = next(p for p in pages if p.kind == "scenario")
    assert page.name == "scenario-reform.html"
    assert page.title("zh") == TITLE
    assert pages.index(page) == 1  # right after the county overview (no grids here)
    assert TITLE in index_html(pages)
    assert map_pages(layers) == [p for p in pages if p.kind != "scenario"]

    html = decoded(render_page(layers, page, scenarios=scenarios, assets="inline"))
    assert f"<title>{TITLE}</title>" in html
    assert external_hosts(html) == set()
    assert '"dashArray": "6 6"' in html  # old boundaries dashed
    for label in ("调整前边界", "调整后边界", "调整归属的单元"):
        assert label in html
    sc = scenarios[0]
    for code in sc.after["code"]:
        assert code in html
    moved = int((units["old_code"].astype(str) != units["area_code"].astype(str)).sum())
    assert f"调整单元数</td><td>0</td><td>{moved}</td>" in html
    for label in ("区域数", "最少户数", "最多户数", "最大户数偏差 (%)",
                  "平均紧凑度 (Polsby-Popper)", "平均紧凑度 (Reock)", "调整户数"):
        assert f"<td>{label}</td>" in html
    english = decoded(render_page(layers, page, scenarios=scenarios, lang="en"))
    assert "<title>reform scenario comparison (before/after)</title>" in english
    assert "Units moved</td><td>0</td><td>" in english


def test_gisgov_maps_writes_the_scenario_page(scenario_gpkg: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from gisgov.cli import app

    out = tmp_path / "site"
    res = CliRunner().invoke(app, ["maps", str(scenario_gpkg), "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    files = {m["file"] for m in json.loads(res.stdout)["maps"]}
    assert "scenario-reform.html" in files
    assert TITLE in (out / "index.html").read_text(encoding="utf-8")
    assert "assets/leaflet/leaflet.js" in (out / "scenario-reform.html").read_text("utf-8")


def test_write_maps_without_scenarios_is_unchanged(county_layers: Layers,
                                                   tmp_path: Path) -> None:
    names = {f.name for f in write_maps(county_layers, tmp_path)}
    assert not any(n.startswith("scenario-") for n in names)


def test_served_scenario_page_for_public_and_staff_and_after_acceptance(
    scenario_gpkg: Path,
) -> None:
    ws = open_workspace(scenario_gpkg)
    token, _ = create_key(ws, role="planner", label="test")
    ws.close()
    settings = Settings(workspace=str(scenario_gpkg), audit_flush_seconds=0)
    with TestClient(create_app(settings)) as client:
        index = client.get("/maps/")
        assert index.status_code == 200
        assert 'href="scenario-reform.html"' in index.text
        assert TITLE in index.text
        public = client.get("/maps/scenario-reform.html")
        staff = client.get("/maps/scenario-reform.html", headers={"X-API-Key": token})
        for res in (public, staff):
            assert res.status_code == 200
            body = decoded(res.text)
            assert f"<title>{TITLE}</title>" in body
            assert "调整前边界" in body
            assert "调整后边界" in body
            assert "/assets/leaflet/leaflet.js" in body
            assert external_hosts(body) == set()
        assert client.get("/maps/scenario-nope.html").status_code == 404
        # Accepting the scenario bumps the workspace version: the page is made again, with
        # the old communities now coming from history.
        ws = open_workspace(scenario_gpkg)
        accept_scenario(ws, "reform")
        ws.close()
        again = client.get("/maps/scenario-reform.html")
        assert again.status_code == 200
        assert again.headers["ETag"] != public.headers["ETag"]
        assert "调整前边界" in decoded(again.text)


def test_a_broken_scenario_is_left_out_not_fatal(scenario_gpkg: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    ws = open_workspace(scenario_gpkg)
    index = ws.read_table("scenarios")
    ghost = index.assign(name="ghost")  # listed, but its tables were never written
    with ws.transaction() as tx:
        tx.write_table("scenarios", pd.concat([index, ghost], ignore_index=True))
    ws.close()
    with caplog.at_level(logging.WARNING, logger="maps.scenarios"):
        _, scenarios, _ = _read(scenario_gpkg)
    assert [s.name for s in scenarios] == ["reform"]
    assert "ghost" in caplog.text


def test_synthetic_plans_render_with_located_units(county_layers: Layers) -> None:
    """Plans not from a workspace: units without codes are located in both plans."""
    before = county_layers["communities"].sort_values("code").reset_index(drop=True)
    piece = shapely.buffer(shapely.point_on_surface(before.geometry.iloc[0]), 0.0005)
    piece = shapely.intersection(piece, before.geometry.iloc[0])
    after = before.copy()
    after.loc[0, "geometry"] = before.geometry.iloc[0].difference(piece)
    after.loc[1, "geometry"] = before.geometry.iloc[1].union(piece)
    units = county_layers["compounds"][["id", "geometry"]]
    inside = int(shapely.covered_by(
        shapely.point_on_surface(np.asarray(units.geometry.values)), piece).sum())
    sc = ScenarioPlans("demo", before, after, units)
    layers = dict(county_layers)
    page = next(p for p in map_pages(layers, [sc]) if p.kind == "scenario")
    html = decoded(render_page(layers, page, scenarios=[sc]))
    assert f"调整单元数</td><td>0</td><td>{inside}</td>" in html
