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

#: ``time_limit`` for engine runs in tests: a cap never reached, so a run ends on its iteration
#: budget and gives the same plan on a slow or loaded machine (issue 13: budgets by
#: iterations, not seconds). 3600 is the largest the jobs accept.
NO_TIME_CAP = 3600.0
#: Seconds after which a waited-for subprocess or job counts as hung: a guard against a
#: suite that never ends, far beyond any run's duration, never a performance budget.
HANG_GUARD_S = 1800.0


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
def county_gpkg(tmp_path: Path, county_gpkg_master: Path) -> Path:
    """A private, writable copy of the fixture county GeoPackage."""
    path = tmp_path / "county.gpkg"
    shutil.copy2(county_gpkg_master, path)
    return path


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Folder for screenshots and other files a person may want to look at after a run."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


# ---- PostGIS ---------------------------------------------------------------------------------
#: Server to test against; only host, port and credentials are used (the database is our own).
POSTGIS_URL_DEFAULT = "postgresql://postgres@127.0.0.1:5432/gisgov_test"


@pytest.fixture(scope="session")
def postgis_url() -> Iterator[str]:
    """URL of a fresh PostGIS database, created for this session and dropped after it.

    The server comes from ``GISGOV_TEST_POSTGIS_URL``. When it is unreachable or has no
    PostGIS the tests skip, except under ``CI=true``, where they must run and so fail.
    """
    import os
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(os.environ.get("GISGOV_TEST_POSTGIS_URL", POSTGIS_URL_DEFAULT))
    name = f"gisgov_test_{uuid.uuid4().hex[:12]}"
    server = {"host": base.host or "127.0.0.1", "port": base.port or 5432,
              "user": base.username or "postgres", "password": base.password,
              "connect_timeout": 5}

    def unavailable(why: str) -> None:
        message = f"PostGIS tests need a server at {server['host']}:{server['port']}: {why}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: PostGIS tests must run)", pytrace=False)
        pytest.skip(message)

    try:
        with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        unavailable(str(exc).strip().splitlines()[0])
    try:
        with psycopg.connect(dbname=name, autocommit=True, **server) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        yield base.set(drivername="postgresql", database=name).render_as_string(
            hide_password=False
        )
    except psycopg.Error as exc:
        unavailable(f"PostGIS is not installed ({str(exc).strip().splitlines()[0]})")
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
