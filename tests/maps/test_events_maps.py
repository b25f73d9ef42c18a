"""事 on the maps: the event layer of the county and grid maps, the per-grid dashboards, and
what each role gets of them when served (the reference county with grids, tests/maps)."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from gisgov.audit import read_audit
from gisgov.crs import wgs84_to_gcj02
from gisgov.events.service import overdue_mask
from gisgov.events.stats import event_stats
from gisgov.keys import create_key
from gisgov.layers import EVENT_STATUSES, conform
from gisgov.store import open_workspace
from maps import county_map
from maps.dashboard import dashboard_grids, dashboard_html, late_mask
from maps.events import STATUS_COLOURS, event_rows
from maps.grids import grid_map
from maps.site import map_pages, write_maps
from tests.maps.map_test_helpers import decoded, write_workspace

Layers = dict[str, gpd.GeoDataFrame]
NOW = pd.Timestamp("2026-06-30T12:00:00+08:00")
REPORTER = "举报人甲乙丙"
SECRET_TEXT = "邻居家漏水已三天无人处理"


def _events(grid_layers: Layers) -> gpd.GeoDataFrame:
    """Events at households of three grids of two communities, every status, some overdue
    (open past due), some closed late, spread over the half year before :data:`NOW`."""
    grids = grid_layers["grids"].sort_values("code")
    hh = grid_layers["households"]
    from gisgov.locate import rows_at

    where = rows_at(hh, grids)
    codes = grids["code"].astype(str).to_numpy()
    chosen = [codes[0], codes[1], next(c for c in codes if c[:12] != codes[0][:12])]
    rows = []
    rng = np.random.default_rng(15)
    for g in chosen:
        mine = hh[where == list(codes).index(g)]
        for k in range(24):
            h = mine.iloc[k % len(mine)]
            reported = NOW - pd.Timedelta(hours=int(rng.integers(2, 24 * 170)))
            status = EVENT_STATUSES[k % 5]
            due = reported + pd.Timedelta(hours=24 if k % 3 else 2000)
            closed = reported + pd.Timedelta(hours=int(rng.integers(2, 60))) \
                if status == "closed" else None
            rows.append({
                "id": f"EV{g[-6:]}{k:03d}", "category": ["环境卫生", "设施损坏", "矛盾纠纷"][k % 3],
                "text": SECRET_TEXT, "source": "field", "reporter": REPORTER,
                "reported_at": reported.isoformat(), "grid_code": g,
                "community_code": g[:12], "level": "grid", "status": status,
                "due": due.isoformat(), "closed_at": None if closed is None
                else closed.isoformat(), "escalations": k % 4 == 0, "geometry": h.geometry})
    return conform("events", gpd.GeoDataFrame(rows, crs="EPSG:4326"))


@pytest.fixture(scope="module")
def layers(grid_layers: Layers) -> Layers:
    return {**grid_layers, "events": _events(grid_layers)}


def test_event_rows_colour_by_status_and_mark_overdue(layers: Layers) -> None:
    events = layers["events"]
    rows = event_rows(events, basemap="none", now=NOW)
    assert len(rows) == len(events)
    late = set(events["id"][overdue_mask(events, NOW)])
    assert late
    assert late != set(events["id"])
    assert {r[2] for r in rows if r[8]} == late
    assert [r[8] for r in rows] == sorted(r[8] for r in rows)  # overdue drawn last, on top
    assert {r[4] for r in rows} == set(EVENT_STATUSES) == set(STATUS_COLOURS)
    first = events.set_index("id").loc[rows[0][2]]
    assert rows[0][:2] == pytest.approx([first.geometry.y, first.geometry.x], abs=1e-6)
    # Over Gaode tiles the points are GCJ-02, like every other layer.
    gaode = {r[2]: r for r in event_rows(events, basemap="gaode", now=NOW)}
    gx, gy = wgs84_to_gcj02(np.array([first.geometry.x]), np.array([first.geometry.y]))
    assert gaode[rows[0][2]][:2] == pytest.approx([gy[0], gx[0]], abs=1e-6)


def test_county_and_grid_maps_draw_events_without_reporter_or_text(layers: Layers) -> None:
    events = layers["events"]
    county = decoded(county_map(layers, now=NOW).get_root().render())
    assert all(i in county for i in events["id"])
    assert REPORTER not in county
    assert SECRET_TEXT not in county
    assert "L.markerClusterGroup" in county
    assert "gisgovOverdue" in county
    late = int(overdue_mask(events, NOW).sum())
    assert f"超期未办 ({late})" in county
    assert all(f"事件：{s}" in county for s in ("待受理", "已受理", "已办结", "已核查", "已结案"))
    community = str(events["community_code"].iloc[0])
    page = decoded(grid_map(layers, community=community, now=NOW).get_root().render())
    mine = events["community_code"] == community
    assert all(i in page for i in events["id"][mine])
    assert not any(i in page for i in events["id"][~mine])


def test_dashboard_shows_the_grid_figures_as_offline_svg(layers: Layers) -> None:
    events = layers["events"]
    grid = str(events["grid_code"].iloc[0])
    mine = events[events["grid_code"] == grid]
    page = dashboard_html(mine, title=f"网格 {grid}", now=NOW)
    stats = event_stats(mine, now=NOW)
    cards = dict(re.findall(r'<div class="card[^"]*">([^<]+)<b>([^<]+)</b>', page))
    assert cards["事件总数"] == str(len(mine)) == str(stats["total"])
    assert cards["当前超期"] == str(stats["overdue"]) != "0"
    assert cards["办结用时中位数（小时）"] == f"{stats['median_hours_to_close']:.1f}"
    assert page.count("<svg") == 1
    for title in ("每周事件数（按类别）", "办结用时（小时，对数刻度）", "各月超期比例"):
        assert title in page
    assert all(c in page for c in set(mine["category"]))
    # Offline: nothing to fetch, nothing to run.
    assert "<script" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert REPORTER not in page
    assert SECRET_TEXT not in page
    # The late share counts events closed after their due time and those open past it.
    late = late_mask(mine, NOW)
    closed = pd.to_datetime(mine["closed_at"], utc=True, format="ISO8601")
    due = pd.to_datetime(mine["due"], utc=True, format="ISO8601")
    assert late.sum() == int((closed > due).sum()) + int(overdue_mask(mine, NOW).sum())
    empty = dashboard_html(mine.iloc[0:0], title="空", now=NOW)
    assert "暂无事件" in empty
    assert "<svg" not in empty


def test_pages_and_files_include_one_dashboard_per_grid_with_events(layers: Layers,
                                                                   tmp_path: Path) -> None:
    grids = sorted(set(layers["events"]["grid_code"]))
    assert [c for c, _ in dashboard_grids(layers)] == grids
    pages = map_pages(layers)
    dash = [p for p in pages if p.kind == "dashboard"]
    assert [p.grid for p in dash] == grids
    assert any(p.name == "dashboards.html" for p in pages)
    steps: list[str] = []
    files = write_maps(layers, tmp_path, now=NOW, progress=lambda name, _f: steps.append(name))
    assert steps == [p.name for p in pages]
    names = {f.name for f in files}
    assert {f"dashboard-{g}.html" for g in grids} | {"dashboards.html"} <= names
    index = (tmp_path / "dashboards.html").read_text("utf-8")
    assert re.findall(r'href="dashboard-(\d{15})\.html"', index) == grids
    assert "dashboards.html" in (tmp_path / "index.html").read_text("utf-8")


def test_served_events_follow_the_policy_and_are_audited(layers: Layers,
                                                        tmp_path: Path) -> None:
    gpkg = write_workspace(tmp_path / "county.gpkg", layers)
    ws = open_workspace(gpkg)
    events = layers["events"]
    grid = str(events["grid_code"].iloc[0])
    field, _ = create_key(ws, role="field", label="t", grids=[grid])
    planner, _ = create_key(ws, role="planner", label="t")
    ws.close()
    settings = Settings(workspace=str(gpkg), audit_flush_seconds=0, index_check_seconds=0)
    with TestClient(create_app(settings)) as client:
        def pages(key: str | None) -> set[str]:
            index = client.get("/maps/", headers={"X-API-Key": key} if key else {}).text
            return set(re.findall(r'href="([^"]+\.html)"', index))

        assert not {p for p in pages(None) if p.startswith("dashboard")}
        assert {p for p in pages(field) if p.startswith("dashboard")} == {
            "dashboards.html", f"dashboard-{grid}.html"}
        assert len({p for p in pages(planner) if p.startswith("dashboard-")}) == 3
        public = decoded(client.get("/maps/county.html").text)
        assert not any(i in public for i in events["id"])
        mine = decoded(client.get("/maps/county.html", headers={"X-API-Key": field}).text)
        assert set(re.findall(r"EV\d{9}", mine)) == set(events["id"][events["grid_code"]
                                                                     == grid])
        other = str(events["grid_code"].iloc[-1])
        assert client.get(f"/maps/dashboard-{other}.html",
                          headers={"X-API-Key": field}).status_code == 404
        r = client.get(f"/maps/dashboard-{grid}.html", headers={"X-API-Key": field})
        assert r.status_code == 200
        assert "<svg" in r.text
        ws = open_workspace(gpkg)
        audit = read_audit(ws)
        ws.close()
    targets = list(audit["target"])
    assert f"maps/dashboard-{grid}.html" in targets
    assert "maps/county.html" in targets
    assert audit.loc[audit["target"] == "maps/county.html", "actor"].str.endswith(
        "/field").all()  # the public's county map drew no events: no record


@pytest.mark.browser
def test_event_map_and_dashboard_show_offline_in_a_browser(layers: Layers, tmp_path: Path,
                                                           artifacts_dir: Path) -> None:
    """In headless Chromium with every request off localhost aborted: event clusters drawn
    (those holding overdue events ringed), the dashboard's plots shown."""
    from tests.maps.test_browser import ARGS, CHROMIUM, visit

    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    write_maps(layers, tmp_path, inline=True, now=NOW)
    grid = str(layers["events"]["grid_code"].iloc[0])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        v = visit(browser, (tmp_path / "county.html").as_uri())
        v.page.wait_for_selector(".gisgov-event-cluster", state="attached")
        clusters = v.page.locator(".gisgov-event-cluster")
        assert clusters.count() > 0
        rings = v.page.evaluate(
            "[...document.querySelectorAll('.gisgov-event-cluster div')]"
            ".filter(d => d.style.boxShadow).length")
        assert rings > 0
        assert v.errors == []
        assert v.external == []
        v.page.screenshot(path=str(artifacts_dir / "events-county.png"))
        d = visit(browser, (tmp_path / f"dashboard-{grid}.html").as_uri(), height=1400)
        box = d.page.locator("figure svg").bounding_box()
        assert box is not None
        assert box["height"] > 500
        assert d.page.get_by_text("每周事件数（按类别）").is_visible()
        assert d.errors == []
        assert d.external == []
        d.page.screenshot(path=str(artifacts_dir / "events-dashboard.png"), full_page=True)
        browser.close()
