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


def test_served_grid_map_masks_names_for_staff_and_hides_them_from_the_public(
    tmp_path: Path, grid_layers: Layers
) -> None:
    gpkg = tmp_path / "county.gpkg"
    ws = open_workspace(gpkg, create=True)
    with ws.transaction() as tx:
        for name, gdf in grid_layers.items():
            tx.write(name, gdf)
    leader = grid_layers["staff"].iloc[0]
    community = str(leader["grid_code"])[:12]
    token, _ = create_key(ws, role="coordinator", label="test", communities=[community])
    ws.set_meta("publish_grid_staff", False)  # no notice board: staff contacts are closed
    ws.close()
    with TestClient(create_app(Settings(workspace=str(gpkg), audit_flush_seconds=0))) as client:
        index = client.get("/maps/").text
        page = next(p for p in index.split('"') if p.endswith(".html") and community in p)
        public = client.get(f"/maps/{page}").text
        staff = client.get(f"/maps/{page}", headers={"X-API-Key": token}).text
        ws = open_workspace(gpkg)
        ws.set_meta("publish_grid_staff", True)  # the default: the board is public
        ws.close()
        posted = client.get(f"/maps/{page}").text
    masked = leader["name"][0] + "*"
    assert _shows(staff, masked)
    assert not _shows(public, masked)
    assert _shows(posted, masked)  # the map draws the posted leader masked, as for staff
    for value in grid_layers["staff"]["name"].tolist() + grid_layers["staff"]["phone"].tolist():
        assert not _shows(staff, value)
        assert not _shows(public, value)


def _shows(html: str, text: str) -> bool:
    """Whether ``text`` is in the page as such or as folium's JSON-escaped GeoJSON."""
    return text in decoded(html)
