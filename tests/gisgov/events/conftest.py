"""The reference county (scale 0.1) with grids and grid leaders, on both stores."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import geopandas as gpd
import psycopg
import pytest

from gisgov.store import WorkspaceBase, open_workspace
from tests.maps.conftest import build_grid_layers

STORES = ["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)]


@pytest.fixture(scope="session")
def gridded_layers(county_layers: dict[str, gpd.GeoDataFrame]) -> dict[str, gpd.GeoDataFrame]:
    """The fixture county with grids (four per community) and a leader in most grids."""
    return build_grid_layers(county_layers)


def _fill(ws: WorkspaceBase, layers: dict[str, gpd.GeoDataFrame]) -> None:
    with ws.transaction() as tx:
        for name, gdf in layers.items():
            tx.write(name, gdf)


@pytest.fixture(scope="session")
def gridded_gpkg_master(tmp_path_factory: pytest.TempPathFactory,
                        gridded_layers: dict[str, gpd.GeoDataFrame]) -> Path:
    path = tmp_path_factory.mktemp("events") / "county.gpkg"
    _fill(open_workspace(path, create=True), gridded_layers)
    return path


@pytest.fixture(params=STORES)
def events_ws(request: pytest.FixtureRequest, tmp_path: Path, gridded_gpkg_master: Path,
              gridded_layers: dict[str, gpd.GeoDataFrame]) -> Iterator[WorkspaceBase]:
    """A private writable workspace with grids: a GeoPackage copy, or a PostGIS schema of
    the session database."""
    if request.param == "gpkg":
        path = tmp_path / "county.gpkg"
        shutil.copy2(gridded_gpkg_master, path)
        ws = open_workspace(path)
        yield ws
        ws.close()
        return
    base = request.getfixturevalue("postgis_url")
    schema = f"ev_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    options = quote(f"-csearch_path={schema},public -csynchronous_commit=off")
    ws = open_workspace(f"{base}?options={options}", create=True)
    _fill(ws, gridded_layers)
    yield ws
    ws.close()
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")
