"""Maps served by the API: what each role sees in the rendered pages."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from gisgov.keys import create_key
from gisgov.store import open_workspace
from tests.maps.map_test_helpers import decoded

Layers = dict[str, gpd.GeoDataFrame]


def test_served_grid_map_shows_each_role_its_view(tmp_path: Path, grid_layers: Layers) -> None:
    """Served maps are drawn from the caller's view (issue 16): a coordinator reads its
    community's leaders by full name and phone, the public reads "登录后可见" while the
    notice board is closed and the posted names once it is open."""
    gpkg = tmp_path / "county.gpkg"
    ws = open_workspace(gpkg, create=True)
    with ws.transaction() as tx:
        for name, gdf in grid_layers.items():
            tx.write(name, gdf)
    staff = grid_layers["staff"]
    leader = staff[staff["role"] == "leader"].iloc[0]
    community = str(leader["grid_code"])[:12]
    token, _ = create_key(ws, role="coordinator", label="test", communities=[community])
    ws.set_meta("publish_grid_staff", False)  # no notice board: staff contacts are closed
    ws.close()
    settings = Settings(workspace=str(gpkg), audit_flush_seconds=0, index_check_seconds=0)
    with TestClient(create_app(settings)) as client:
        index = client.get("/maps/").text
        page = next(p for p in index.split('"') if p.endswith(".html") and community in p)
        public = client.get(f"/maps/{page}").text
        coordinator = client.get(f"/maps/{page}", headers={"X-API-Key": token}).text
        ws = open_workspace(gpkg)
        ws.set_meta("publish_grid_staff", True)  # the default: the board is public
        ws.close()
        client.app.state.gisgov.index.refresh()  # (it rebuilds in the background otherwise)
        posted = client.get(f"/maps/{page}").text
    mine = staff[staff["role"] == "leader"]
    mine = mine[mine["grid_code"].astype(str).str.startswith(community)]
    assert len(mine) >= 1
    for _, row in mine.iterrows():
        assert _shows(coordinator, row["name"])
        assert _shows(coordinator, row["phone"])
        assert not _shows(public, row["name"])
        assert not _shows(public, row["phone"])
        assert _shows(posted, row["name"])  # the notice board, as posted
    assert _shows(public, "登录后可见")
    assert not _shows(coordinator, "登录后可见")
    assert not _shows(coordinator, leader["name"][0] + "*")  # nothing masked for them


def _shows(html: str, text: str) -> bool:
    """Whether ``text`` is in the page as such or as folium's JSON-escaped GeoJSON."""
    return text in decoded(html)


def test_served_red_grid_map_names_members_for_the_coordinator_only(
    tmp_path: Path, grid_layers: Layers
) -> None:
    gpkg = tmp_path / "county.gpkg"
    ws = open_workspace(gpkg, create=True)
    with ws.transaction() as tx:
        for name, gdf in grid_layers.items():
            tx.write(name, gdf)
    links = grid_layers["assignments"]
    community = str(links["grid_code"].dropna().iloc[0])[:12]
    ids = set(links.loc[links["grid_code"].astype(str).str[:12] == community, "member_id"]
              .astype(str))
    members = grid_layers["members"]
    names = [str(n) for n in members.loc[members["id"].astype(str).isin(ids), "name"]
             if isinstance(n, str) and len(n) > 1]
    assert names
    token, _ = create_key(ws, role="coordinator", label="test", communities=[community])
    ws.close()
    with TestClient(create_app(Settings(workspace=str(gpkg), audit_flush_seconds=0))) as client:
        public_index = client.get("/maps/").text
        staff_index = client.get("/maps/", headers={"X-API-Key": token}).text
        page = f"redgrid-{community}.html"
        assert page not in public_index  # the public is offered no red-grid page
        assert page in staff_index
        assert client.get(f"/maps/{page}").status_code in (401, 403, 404)
        staff = client.get(f"/maps/{page}", headers={"X-API-Key": token}).text
    # the served page is the coordinator's view: their community's members by full name
    assert any(_shows(staff, n) for n in names)
