"""Shared fixtures: the reference county at small scale is the default test data."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pytest

#: Scale and seed of the default fixture (about 2,400 households).
FIXTURE_SCALE = 0.1
FIXTURE_SEED = 7

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="session")
def county_layers() -> dict[str, gpd.GeoDataFrame]:
    """The reference county before its reform, at scale 0.1 (generated once per session)."""
    from gisgov.sample import generate_county

    return generate_county(seed=FIXTURE_SEED, scale=FIXTURE_SCALE)


@pytest.fixture(scope="session")
def county_gpkg_master(
    tmp_path_factory: pytest.TempPathFactory, county_layers: dict[str, gpd.GeoDataFrame]
) -> Path:
    """A GeoPackage holding the fixture county; copy it before writing (see ``county_gpkg``)."""
    from gisgov.store import open_workspace

    path = tmp_path_factory.mktemp("county") / "county.gpkg"
    ws = open_workspace(path, create=True)
    with ws.transaction() as tx:
        for name, gdf in county_layers.items():
            tx.write(name, gdf)
        tx.set_meta("sample", {"seed": FIXTURE_SEED, "scale": FIXTURE_SCALE})
    return path


@pytest.fixture
def county_gpkg(tmp_path: Path, county_gpkg_master: Path) -> Iterator[Path]:
    """A private, writable copy of the fixture county GeoPackage."""
    path = tmp_path / "county.gpkg"
    shutil.copy2(county_gpkg_master, path)
    yield path


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Folder for screenshots and other files a person may want to look at after a run."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
