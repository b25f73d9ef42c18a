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
