"""What only the PostGIS store has: migrations, typed tables, indexes, URLs, reconnection."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import geopandas as gpd
import numpy as np
import psycopg
import pytest
import shapely

from gisgov.errors import NotFoundError, StoreError
from gisgov.layers import LAYERS
from gisgov.migrations import VERSION_TABLE
from gisgov.store import WorkspaceBase, open_workspace
from gisgov.store import postgis as postgis_module
from gisgov.store.postgis import PostGISWorkspace, engine_url

pytestmark = pytest.mark.postgis

_PG_TYPES = {"str": "text", "int": "bigint", "float": "double precision", "bool": "boolean"}


@pytest.fixture
def pg(new_workspace: Callable[[str], WorkspaceBase]) -> PostGISWorkspace:
    ws = new_workspace("postgis")
    assert isinstance(ws, PostGISWorkspace)
    return ws


def _sql(ws: PostGISWorkspace, query: str, **params: object) -> list[tuple[object, ...]]:
    import sqlalchemy as sa

    with ws._engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(query), params).all()]


def test_migrated_tables_match_the_layer_schema(pg: PostGISWorkspace) -> None:
    """Fails when gisgov.layers changes without a migration: add one in gisgov/migrations."""
    for name, spec in LAYERS.items():
        columns = dict(_sql(pg, (
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = to_regclass(:t) AND a.attnum > 0 AND NOT a.attisdropped"
        ), t=name))
        expected = {c.name: _PG_TYPES[c.dtype] for c in spec.columns}
        if spec.has_geometry:
            types = spec.geometry_types
            declared = types[0] if len(types) == 1 else "Geometry"
            expected["geometry"] = f"geometry({declared},4326)"
        # extra columns that data brought along (added on write) may exist besides these
        assert {c: columns.get(c) for c in expected} == expected, (
            f"table {name} differs from gisgov.layers; write a migration in "
            "gisgov/migrations/versions (ADD COLUMN IF NOT EXISTS …)"
        )
        key = _sql(pg, (
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = to_regclass(:t) AND i.indisprimary"
        ), t=name)
        assert key == [(spec.key,)]
        gist = _sql(pg, "SELECT indexdef FROM pg_indexes WHERE tablename = :t "
                        "AND schemaname = current_schema() "
                        "AND indexdef LIKE '%USING gist (geometry)%'", t=name)
        assert len(gist) == (1 if spec.has_geometry else 0)


def test_migrations_run_once_and_are_recorded(pg: PostGISWorkspace) -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from gisgov.migrations import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert _sql(pg, f"SELECT version_num FROM {VERSION_TABLE}") == [(head,)]
    pg.migrate()  # idempotent
    assert VERSION_TABLE not in pg.tables()
    assert "spatial_ref_sys" not in pg.tables()


def test_bbox_query_can_use_the_gist_index(pg: PostGISWorkspace) -> None:
    with pg._engine.connect() as conn:
        import sqlalchemy as sa

        conn.execute(sa.text("SET enable_seqscan = off"))
        plan = "\n".join(r[0] for r in conn.execute(sa.text(
            "EXPLAIN SELECT id FROM households WHERE geometry && "
            "ST_MakeEnvelope(113, 34, 114, 35, 4326) AND "
            "ST_Intersects(geometry, ST_MakeEnvelope(113, 34, 114, 35, 4326))"
        )))
    assert "ix_households_geometry" in plan


@pytest.mark.parametrize(("url", "driver"), [
    ("postgresql://u@h:5432/db", "postgresql+psycopg"),
    ("postgres://u@h/db", "postgresql+psycopg"),
    ("postgresql+psycopg://u:secret@h/db", "postgresql+psycopg"),
])
def test_engine_url(url: str, driver: str) -> None:
    assert engine_url(url).drivername == driver


def test_url_hides_the_password() -> None:
    with pytest.raises(StoreError) as err:
        PostGISWorkspace("postgres://me:s3cret@127.0.0.1:1/county")
    assert "s3cret" not in str(err.value)


def test_unreachable_server_is_one_clear_line() -> None:
    with pytest.raises(StoreError) as err:
        open_workspace("postgresql://postgres@127.0.0.1:1/county")
    message = str(err.value)
    assert message.startswith("cannot reach PostGIS at 127.0.0.1:1: ")
    assert message.endswith("is PostgreSQL running?")
    assert "\n" not in message


def test_missing_database(postgis_url: str) -> None:
    from sqlalchemy.engine import make_url

    name = f"gisgov_test_new_{uuid.uuid4().hex[:8]}"
    url = make_url(postgis_url).set(database=name).render_as_string(hide_password=False)
    with pytest.raises(NotFoundError, match="does not exist"):
        open_workspace(url)
    ws = open_workspace(url, create=True)
    try:
        assert ws.layers() == list(LAYERS)
        assert ws.version == 0
    finally:
        ws.close()
        with psycopg.connect(postgis_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def test_recovers_when_connections_are_killed(
    pg: PostGISWorkspace, postgis_url: str, layer_frames: dict[str, gpd.GeoDataFrame]
) -> None:
    """What a PostgreSQL restart does to a running service: pooled connections die."""
    pg.write("households", layer_frames["households"])
    assert pg.count("households") == 4
    with psycopg.connect(postgis_url, autocommit=True) as conn:
        killed = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    assert killed is not None
    assert killed[0] >= 1
    pg.ping()
    assert pg.count("households") == 4
    pg.write("households", layer_frames["households"].iloc[:2])
    assert pg.count("households") == 2


def test_extra_columns_get_sql_types(
    pg: PostGISWorkspace, layer_frames: dict[str, gpd.GeoDataFrame]
) -> None:
    frame = layer_frames["households"].assign(
        rooms=[3, 2, 4, 1], area=[80.5, None, 60.0, 45.2], owner=[True, False, True, False],
        note=["一楼", None, "独居", "租户"],
    )
    pg.write("households", frame)
    types = dict(_sql(pg, (
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = 'households'"
    )))
    assert (types["rooms"], types["area"], types["owner"], types["note"]) == (
        "bigint", "double precision", "boolean", "text"
    )
    got = pg.read("households")
    assert got["rooms"].tolist() == [3, 2, 4, 1]
    assert got["owner"].tolist() == [True, False, True, False]
    # Append keeps the columns; a replace with another type re-creates only that column.
    pg.write("households", frame.iloc[:0].assign(rooms=[]), mode="append")
    pg.write("households", frame.assign(rooms=["三室", "两室", "四室", "一室"]))
    assert pg.read("households")["rooms"].tolist() == ["三室", "两室", "四室", "一室"]


def test_concurrent_writers_never_lose_a_version(pg: PostGISWorkspace) -> None:
    def writer(n: int) -> None:
        for i in range(5):
            pg.set_meta(f"writer{n}", i)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert pg.version == 20


def test_many_households_in_batches(
    pg: PostGISWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """24,000 households in COPY batches (small batches here to cross their edges)."""
    monkeypatch.setattr(postgis_module, "_COPY_BATCH", 7_000)
    n = 24_000
    rng = np.random.default_rng(3)
    frame = gpd.GeoDataFrame(
        {"id": [f"h{i:06d}" for i in range(n)], "size": rng.integers(1, 7, n),
         "elderly": rng.random(n) < 0.2, "head_name": ["张三"] * n},
        geometry=shapely.points(113.6 + rng.random(n) * 0.1, 34.7 + rng.random(n) * 0.1),
        crs="EPSG:4326",
    )
    pg.write("households", frame)
    assert pg.count("households") == n
    page = pg.read("households", limit=3, offset=n - 3)
    assert page["id"].tolist() == [f"h{i:06d}" for i in range(n - 3, n)]
    back = pg.read("households")
    assert back["size"].tolist() == frame["size"].tolist()
    assert shapely.equals_exact(back.geometry.values, frame.geometry.values, 0).all()
