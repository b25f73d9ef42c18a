"""Rendered-HTML tests of the map renderers (no browser): CDN-free, GCJ-02 offset, sizes."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pytest
import shapely

from gisgov.crs import wgs84_to_gcj02
from maps import MapError, county_map
from maps._crs import to_draw
from maps.grids import compliance_map, grid_map, grid_summary
from maps.redgrid import load_class, red_grid_map
from maps.scenario import scenario_diff_map
from maps.site import map_pages, write_maps
from tests.maps.map_test_helpers import decoded, external_hosts

Layers = dict[str, gpd.GeoDataFrame]

def _render(m: folium.Map) -> str:
    """The rendered HTML, JSON escapes decoded (see :func:`decoded`)."""
    html: str = m.get_root().render()
    return decoded(html)


def _community(layers: Layers) -> str:
    return str(layers["communities"].sort_values("code")["code"].iloc[0])


RENDERERS: dict[str, Callable[..., folium.Map]] = {
    "county": lambda L, **kw: county_map(L, **kw),
    "grids": lambda L, **kw: grid_map(L, community=_community(L), **kw),
    "compliance": lambda L, **kw: compliance_map(L, **kw),
    "redgrid": lambda L, **kw: red_grid_map(L, community=_community(L), **kw),
    "scenario": lambda L, **kw: scenario_diff_map(
        L["communities"], L["communities"], units=L["compounds"], **kw),
}


@pytest.mark.parametrize("assets", ["inline", "served", "assets"])
@pytest.mark.parametrize("kind", sorted(RENDERERS))
def test_no_public_cdn_in_any_map(grid_layers: Layers, kind: str, assets: str) -> None:
    html = _render(RENDERERS[kind](grid_layers, assets=assets))
    assert external_hosts(html) == set()
    assert "cdn.jsdelivr" not in html
    assert "cdnjs" not in html
    assert "unpkg" not in html
    if assets == "inline":
        assert '<script src="data:text/javascript' in html
    else:
        prefix = "/assets" if assets == "served" else "assets"
        assert f'src="{prefix}/leaflet/leaflet.js"' in html


def test_inline_css_images_are_inlined_too(grid_layers: Layers) -> None:
    import base64

    html = _render(county_map(grid_layers))
    css = [base64.b64decode(b).decode() for b in
           re.findall(r'href="data:text/css;base64,([^"]+)"', html)]
    assert css, "stylesheets should be inlined"
    for sheet in css:
        assert not re.search(r"url\((?!data:|#)", sheet), "relative image left in inline CSS"


@pytest.mark.parametrize("basemap", ["osm", "gaode"])
def test_only_the_chosen_basemap_host_appears(county_layers: Layers, basemap: str) -> None:
    html = _render(county_map(county_layers, basemap=basemap))
    allowed = {"osm": ("openstreetmap.org",), "gaode": ("autonavi.com",)}[basemap]
    assert external_hosts(html, allowed) == set()
    assert external_hosts(html) != set()


def test_tianditu_needs_a_key(county_layers: Layers) -> None:
    with pytest.raises(MapError, match="Tianditu"):
        county_map(county_layers, basemap="tianditu")
    html = _render(county_map(county_layers, basemap="tianditu", tianditu_key="KEY123"))
    assert "tk=KEY123" in html
    assert "cva_w" in html
    assert external_hosts(html, ("tianditu.gov.cn",)) == set()


def test_gaode_overlays_are_drawn_in_gcj02(county_layers: Layers) -> None:
    sub = county_layers["subdistricts"].sort_values("code")
    x, y = shapely.get_coordinates(sub.geometry.iloc[0])[0]
    gx, gy = wgs84_to_gcj02(np.array([x]), np.array([y]))
    ex, ey = round(float(gx[0]), 6), round(float(gy[0]), 6)
    html = _render(county_map(county_layers, basemap="gaode"))
    assert re.search(rf"\[\s*{re.escape(repr(ex))},\s*{re.escape(repr(ey))}\s*\]", html)
    # ...and the WGS-84 vertex is not (GCJ-02 is ~hundreds of metres away).
    wx, wy = round(float(x), 6), round(float(y), 6)
    assert not re.search(rf"\[\s*{re.escape(repr(wx))},\s*{re.escape(repr(wy))}\s*\]", html)
    assert abs(ex - wx) + abs(ey - wy) > 1e-3
    offline = _render(county_map(county_layers))
    assert re.search(rf"\[\s*{re.escape(repr(wx))},\s*{re.escape(repr(wy))}\s*\]", offline)


def test_coordinates_are_rounded_to_six_decimals(county_layers: Layers) -> None:
    drawn = to_draw(county_layers["households"], basemap="none")
    xy = shapely.get_coordinates(np.asarray(drawn.geometry.values))
    assert np.allclose(xy, np.round(xy, 6), atol=0, rtol=0)


def test_county_map_with_every_household_stays_under_5mb(county_layers: Layers) -> None:
    # A county at scale 1 has ~25k households; draw 30k (the fixture repeated with jitter).
    hh = county_layers["households"]
    rng = np.random.default_rng(0)
    reps = int(np.ceil(30_000 / len(hh)))
    big = gpd.GeoDataFrame(
        {"id": [f"{i}-{k}" for k in range(reps) for i in hh["id"]],
         "address": list(hh["address"]) * reps},
        geometry=gpd.points_from_xy(
            np.tile(hh.geometry.x, reps) + rng.normal(0, 2e-4, reps * len(hh)),
            np.tile(hh.geometry.y, reps) + rng.normal(0, 2e-4, reps * len(hh))),
        crs=hh.crs).iloc[:30_000]
    html = _render(county_map({**county_layers, "households": big}))
    assert len(html.encode()) <= 5_000_000
    assert html.count('"30000-') == 0  # ids are not the key of anything else; sanity only


def test_county_popups_carry_the_boundary_text_and_no_personal_data(
    county_layers: Layers,
) -> None:
    html = _render(county_map(county_layers))
    assert "四至" in html
    text = county_layers["communities"]["boundary_text"].dropna().iloc[0]
    assert text in html
    for column in ("head_name", "phone", "id_number"):
        value = str(county_layers["households"][column].dropna().iloc[0])
        assert value not in html


def test_english_labels(grid_layers: Layers) -> None:
    html = _render(grid_map(grid_layers, community=_community(grid_layers), lang="en"))
    assert "Search grid code or community" in html
    assert "Grids" in html
    assert "搜索网格代码" not in html


def test_grid_map_labels_leader_masked(grid_layers: Layers) -> None:
    code = _community(grid_layers)
    html = _render(grid_map(grid_layers, community=code))
    staff = grid_layers["staff"]
    leader = staff[staff["grid_code"].str.startswith(code)].iloc[0]
    assert leader["name"] not in html
    assert leader["phone"] not in html
    assert leader["name"][0] + "*" in html
    assert f"{leader['grid_code']}" in html


def test_grid_map_by_name_and_unknown_community(grid_layers: Layers) -> None:
    name = grid_layers["communities"].sort_values("code")["name"].iloc[0]
    assert isinstance(grid_map(grid_layers, community=name), folium.Map)
    with pytest.raises(MapError, match="no community"):
        grid_map(grid_layers, community="nowhere")


def test_grid_maps_need_grids(county_layers: Layers) -> None:
    with pytest.raises(MapError, match="gisgov grids"):
        grid_map(county_layers)


def test_compliance_flags_match_the_fixture(grid_layers: Layers) -> None:
    summary = grid_summary(grid_layers)
    n_com = grid_layers["grids"]["community_code"].nunique()
    assert (~summary["has_leader"]).sum() == n_com  # first grid of each community
    assert (~summary["has_party"]).sum() == grid_layers["grids"]["code"].str.endswith(
        "002").sum()
    html = _render(compliance_map(grid_layers))
    assert "缺网格长" in html
    assert "党支部超过50人" in html


def test_load_classes() -> None:
    assert [load_class(n) for n in (0, 3, 5, 10, 11)] == ["idle", "under", "ok", "ok", "over"]


def test_red_grid_map_marks_unassigned_households(grid_layers: Layers) -> None:
    code = _community(grid_layers)
    html = _render(red_grid_map(grid_layers, community=code))
    assert "未联户" in html
    assert "联户连线" in html
    asg = set(grid_layers["assignments"]["household_id"])
    hh = grid_layers["households"]
    assert len(hh) > len(asg)  # the fixture leaves some out


def test_red_grid_map_shows_deployments_and_the_recruitment_plan(grid_layers: Layers) -> None:
    """Members deployed to another community's grid are drawn member → grid; grids with
    households left over are shaded with the members they still need."""
    code = _community(grid_layers)
    layers = dict(grid_layers)
    asg = layers["assignments"].copy()
    grids = layers["grids"]
    here = grids[grids["community_code"] == code]["code"].iloc[0]
    other = layers["members"][~layers["members"]["id"].isin(asg["member_id"])]["id"].iloc[0]
    rows = asg.index[asg["grid_code"] == here][:3]
    asg.loc[rows, "reason"] = "deployed"
    asg.loc[rows, "member_id"] = other
    layers["assignments"] = asg
    html = _render(red_grid_map(layers, community=code))
    assert "统筹调配（党员→网格）" in html
    assert f"{other}→{here}" in html  # one line for the (member, grid) pair
    assert "补充招募计划" in html
    assert "需补充党员" in html
    en = _render(red_grid_map(layers, community=code, lang="en"))
    assert "Deployed members (member → grid)" in en
    assert "Recruitment plan" in en


def test_scenario_diff_finds_moved_units(grid_layers: Layers) -> None:
    before = grid_layers["communities"].sort_values("code").reset_index(drop=True)
    grids = grid_layers["grids"]
    moving = grids[grids["community_code"] == before["code"].iloc[0]].iloc[[0]]
    piece = moving.geometry.iloc[0]
    after = before.copy()
    after.loc[0, "geometry"] = after.geometry.iloc[0].difference(piece)
    after.loc[1, "geometry"] = after.geometry.iloc[1].union(piece)
    units = grid_layers["buildings"]
    inside = int(shapely.covered_by(
        shapely.point_on_surface(np.asarray(units.geometry.values)), piece).sum())
    assert inside > 0
    html = _render(scenario_diff_map(before, after, units=units,
                                     households=grid_layers["households"]))
    assert "调整单元数" in html
    assert f"调整单元数</td><td>0</td><td>{inside}</td>" in html


def test_existing_map_is_reused(grid_layers: Layers) -> None:
    m = folium.Map(tiles=None)
    assert county_map(grid_layers, m=m) is m


def test_write_maps_writes_index_and_pages(grid_layers: Layers, tmp_path: Path) -> None:
    files = write_maps(grid_layers, tmp_path)
    names = {f.name for f in files}
    assert "index.html" in names
    assert "county.html" in names
    assert "compliance.html" in names
    assert len(files) == 1 + len(map_pages(grid_layers))
    assert (tmp_path / "assets" / "leaflet" / "leaflet.js").is_file()
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "县域总览" in index


def test_field_page_links_no_cdn() -> None:
    from maps.field import field_page_html

    page = field_page_html()
    # The "导航" links hand the position to Gaode's or Baidu's app when tapped; nothing else
    # names an outside host, and the browser test checks that no request leaves the server.
    assert external_hosts(page, allowed=("uri.amap.com", "api.map.baidu.com")) == set()
    assert set(re.findall(r"https://([\w.]+)/", page)) == {"uri.amap.com", "api.map.baidu.com"}
    assert "gisgovBasemap" in page  # the workspace's own basemap, inlined
    assert 'src="/assets/leaflet/leaflet.js"' in page
    assert "我在哪里" in page
    assert "gcj02" in page


def test_maps_locate_points_only_through_gisgov_locate() -> None:
    """One locator (gisgov.locate): no renderer answers "which area holds this point" itself.

    Spatial predicates are allowed where they answer another question: the colouring's
    polygon adjacency and a building's own label point.
    """
    import ast

    root = Path(__file__).resolve().parents[2] / "maps"
    own = {"sjoin", "sindex", "within", "covered_by", "contains", "contains_xy",
           "intersects_xy", "STRtree", "LookupIndex", "Locator"}
    allowed = {("_colour.py", "STRtree"), ("basemap.py", "contains")}
    found = set()
    for path in sorted(root.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = (node.attr if isinstance(node, ast.Attribute)
                    else node.id if isinstance(node, ast.Name) else None)
            if name in own and (path.name, name) not in allowed:
                found.add(f"{path.name}: {name}")
    assert not found, found
    assert not (root / "_base.py").exists()
