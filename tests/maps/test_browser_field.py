"""Issue 16's "done when", in a real Chromium on a phone-sized screen.

A field worker follows the sign-in link printed by ``gisgov keys add``, taps 我在哪里 with
geolocation inside their grid, and gets the grid with the leader's full name and a ``tel:``
link, on a map naming the streets around them, with no request to an outside host. A signed-in
coordinator's ``/maps/`` shows the names the public view does not. The workspace's notice
board is closed here, so every name seen comes from the role, not from the board.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
from typer.testing import CliRunner

from gisgov.locate import rows_at
from tests.conftest import HANG_GUARD_S
from tests.maps.test_browser import WAIT_MS, _free_port, browser, shots, visit

__all__ = ["browser", "shots"]  # fixtures shared with test_browser

pytestmark = pytest.mark.browser

Layers = dict[str, gpd.GeoDataFrame]
PHONE = {"width": 390, "height": 844}


def _link(output: str) -> str:
    found = re.findall(r"^(http://\S+/signin#code=\S+)$", output, flags=re.M)
    assert len(found) == 1, output
    return found[0]


@pytest.fixture(scope="module")
def spot(grid_layers: Layers) -> tuple[float, float, str]:
    """A household's position in a grid with a leader (WGS-84), and that grid."""
    hh = grid_layers["households"].sort_values("id")
    grids = grid_layers["grids"].sort_values("code")
    staff = grid_layers["staff"]
    led = grids["code"].isin(staff.loc[staff["role"] == "leader", "grid_code"]).to_numpy()
    pos = rows_at(hh, grids)
    ok = np.flatnonzero((pos >= 0) & led[np.maximum(pos, 0)])
    i = int(ok[len(ok) // 2])
    return (float(hh.geometry.iloc[i].x), float(hh.geometry.iloc[i].y),
            str(grids["code"].iloc[pos[i]]))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, grid_layers: Layers,
           spot: tuple[float, float, str]) -> Iterator[dict[str, str]]:
    """The service under uvicorn, the notice board closed, and sign-in links from the CLI."""
    import uvicorn

    from api.app import create_app
    from api.settings import Settings
    from gisgov.cli import app as cli
    from gisgov.store import open_workspace

    gpkg = tmp_path_factory.mktemp("field") / "county.gpkg"
    ws = open_workspace(gpkg, create=True)
    with ws.transaction() as tx:
        for name, gdf in grid_layers.items():
            tx.write(name, gdf)
    ws.set_meta("publish_grid_staff", False)
    ws.close()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    runner = CliRunner()
    field = runner.invoke(cli, ["keys", "add", str(gpkg), "--role", "field", "--grids",
                                spot[2], "--link", base, "--label", "网格员"])
    assert field.exit_code == 0, field.output
    coordinator = runner.invoke(cli, ["keys", "add", str(gpkg), "--role", "coordinator",
                                      "--communities", spot[2][:12], "--link", base])
    assert coordinator.exit_code == 0, coordinator.output
    application = create_app(Settings(workspace=str(gpkg), audit_flush_seconds=0))
    srv = uvicorn.Server(uvicorn.Config(application, host="127.0.0.1", port=port,
                                        log_level="warning", lifespan="on"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + HANG_GUARD_S
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the test server did not start")
        time.sleep(0.05)
    yield {"base": base, "field": _link(field.output),
           "coordinator": _link(coordinator.output)}
    srv.should_exit = True
    thread.join(10)


def _streets_near(layers: Layers, lon: float, lat: float, metres: float) -> set[str]:
    streets = layers["streets"].dropna(subset=["name"])
    metric = streets.to_crs(streets.estimate_utm_crs())
    here = gpd.GeoSeries([shapely.Point(lon, lat)], crs=streets.crs).to_crs(metric.crs).iloc[0]
    return set(metric.loc[metric.distance(here) <= metres, "name"])


def test_field_worker_signs_in_by_link_and_locates(
    browser: Any, served: dict[str, str], grid_layers: Layers, spot: tuple[float, float, str],
    shots: Path,
) -> None:
    lon, lat, code = spot
    v = visit(browser, served["field"], **PHONE,
              geolocation={"latitude": lat, "longitude": lon}, permissions=["geolocation"],
              is_mobile=True, has_touch=True)
    v.page.wait_for_url(re.compile(r"/field$"), timeout=WAIT_MS)  # signed in, sent on
    v.page.wait_for_function("document.getElementById('who').textContent.includes('网格员')",
                             timeout=WAIT_MS)
    cookies = v.context.cookies()
    assert [c["httpOnly"] for c in cookies if c["name"] == "gisgov_session"] == [True]
    v.page.click("#locate")
    v.page.wait_for_selector("#card dl", timeout=WAIT_MS)
    card = v.page.inner_text("#card")
    staff = grid_layers["staff"]
    leader = staff[(staff["grid_code"] == code) & (staff["role"] == "leader")].iloc[0]
    assert code in card
    assert leader["name"] in card  # in full: their own grid (the board is closed)
    tel = v.page.eval_on_selector_all("#card a[href^='tel:']", "as => as.map(a => a.href)")
    assert f"tel:{leader['phone']}" in tel
    assert "登录后可见" not in card
    assert "*" not in card  # nothing of their own grid is masked
    # Their household and its red-grid member, and 导航 links in GCJ-02 / BD-09.
    assert "住户" in card
    nav = v.page.eval_on_selector_all("#card .nav a", "as => as.map(a => a.href)")
    assert any(h.startswith("https://uri.amap.com/marker?position=") for h in nav)
    assert any("coord_type=bd09ll" in h for h in nav)
    # The map names the streets around them, from the workspace (no tiles at all).
    v.page.wait_for_selector(".gisgov-bl", timeout=WAIT_MS)
    shown = set(v.page.eval_on_selector_all(
        ".gisgov-bl", "els => els.map(e => e.textContent)"))
    near = _streets_near(grid_layers, lon, lat, 400)
    assert shown & near, (shown, near)
    # No two labels overlap (the collision pass).
    boxes = v.page.eval_on_selector_all(".gisgov-bl", """els => els.map(e => {
        const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })""")
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not (a[0] < b[2] - 1 and b[0] < a[2] - 1 and a[1] < b[3] - 1
                        and b[1] < a[3] - 1), (a, b)
    assert v.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert v.external == []
    assert v.errors == []
    v.page.screenshot(path=str(shots / "field-signed-in.png"), full_page=True)
    # Sign out: the same tap now says what the public may not see.
    v.page.click("#signout")
    v.page.wait_for_function("document.getElementById('who').textContent === '未登录'",
                             timeout=WAIT_MS)
    v.page.click("#locate")
    v.page.wait_for_function("document.getElementById('card').innerText.includes('登录后可见')",
                             timeout=WAIT_MS)
    public = v.page.inner_text("#card")
    assert leader["name"] not in public
    assert not v.page.query_selector_all("#card a[href^='tel:']")
    assert v.external == []
    v.context.close()


def test_public_field_card_has_no_personal_data(
    browser: Any, served: dict[str, str], grid_layers: Layers, spot: tuple[float, float, str],
) -> None:
    lon, lat, code = spot
    v = visit(browser, f"{served['base']}/field", **PHONE,
              geolocation={"latitude": lat, "longitude": lon}, permissions=["geolocation"],
              is_mobile=True, has_touch=True)
    v.page.click("#locate")
    v.page.wait_for_selector("#card dl", timeout=WAIT_MS)
    card = v.page.inner_text("#card")
    assert code in card
    assert "登录后可见" in card
    assert "此处没有登记住户" not in card  # not "none here": the public may not see it
    people = [*grid_layers["staff"]["name"], *grid_layers["staff"]["phone"],
              *grid_layers["households"]["head_name"].dropna().head(500),
              *grid_layers["members"]["name"].dropna()]
    assert not [p for p in people if isinstance(p, str) and p in card]
    assert v.external == []
    assert v.errors == []
    v.context.close()


def test_signed_in_coordinator_maps_show_what_the_public_does_not(
    browser: Any, served: dict[str, str], grid_layers: Layers, spot: tuple[float, float, str],
    shots: Path,
) -> None:
    community = spot[2][:12]
    page = f"grids-{community}.html"
    staff = grid_layers["staff"]
    leaders = staff[(staff["role"] == "leader")
                    & staff["grid_code"].astype(str).str.startswith(community)]
    assert len(leaders) >= 1
    public = visit(browser, f"{served['base']}/maps/{page}")
    public_text = public.page.content()
    assert not [n for n in leaders["name"] if n in public_text]
    assert "登录后可见" in public_text
    public.context.close()
    v = visit(browser, served["coordinator"])
    v.page.wait_for_url(re.compile(r"/maps/$"), timeout=WAIT_MS)
    assert "redgrid-" in v.page.content()  # their community's red-grid page is offered
    v.page.goto(f"{served['base']}/maps/{page}", wait_until="load")
    v.page.wait_for_selector(".leaflet-interactive", timeout=WAIT_MS)
    labels = v.page.content()
    shown = [n for n in leaders["name"] if n in labels]
    assert shown == list(leaders["name"]), shown  # every leader of the community, in full
    assert v.external == []
    assert v.errors == []
    v.page.screenshot(path=str(shots / "coordinator-grids.png"))
    v.context.close()


def test_grid_labels_never_overlap_and_shrink_to_codes(
    browser: Any, served: dict[str, str], spot: tuple[float, float, str], shots: Path,
) -> None:
    community = spot[2][:12]
    v = visit(browser, f"{served['base']}/maps/grids-{community}.html", width=900, height=700)
    v.page.wait_for_selector(".gisgov-label", timeout=WAIT_MS)
    assert v.page.inner_text(".gisgov-title") == v.page.title()  # the page says what it is

    def labels() -> list[tuple[str, list[float]]]:
        # A closed tooltip fades out (opacity 0) for 200 ms before Leaflet removes it.
        return [(t, r) for t, r in v.page.eval_on_selector_all(".gisgov-label", """els =>
            els.filter(e => e.style.opacity !== "0").map(e => {
              const r = e.getBoundingClientRect();
              return [e.innerText, [r.left, r.top, r.right, r.bottom]]; })""")]

    def disjoint(found: list[tuple[str, list[float]]]) -> bool:
        return all(not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])
                   for i, (_, a) in enumerate(found) for _, b in found[i + 1:])

    near = labels()
    assert near
    assert disjoint(near)
    assert any("户" in t for t, _ in near)  # big enough on screen: the full label
    v.page.evaluate("""(() => { const map = Object.keys(window).filter(k => k.startsWith('map_'))
        .map(k => window[k]).find(o => o instanceof L.Map); map.setZoom(map.getZoom() - 3);
        return true; })()""")
    v.page.wait_for_function("""[...document.querySelectorAll('.gisgov-label')]
        .filter(e => e.style.opacity !== "0").every(e => /^\\d{3}$/.test(e.innerText.trim()))""",
                             timeout=WAIT_MS)  # after the placement pass
    far = labels()
    assert far
    assert disjoint(far), far
    assert all(re.fullmatch(r"\d{3}", t.strip()) for t, _ in far), far  # codes only
    v.page.screenshot(path=str(shots / "grids-zoomed-out.png"))
    assert v.errors == []
    assert v.external == []
    v.context.close()
