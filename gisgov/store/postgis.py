"""The multi-user store: a PostGIS database through SQLAlchemy 2, GeoAlchemy2 and psycopg 3.

Schema layers are real typed tables (text / bigint / double precision / boolean, the key as
primary key, ``geometry(…, 4326)`` with a GiST index) created by the Alembic migrations in
``gisgov/migrations``; opening a workspace runs ``upgrade head``. Extra (non-schema) columns
of a layer are kept: they are added to the table on write. Product tables (scenarios,
history, audit, API keys, …) are created from the frame on write.

Every write runs in one database transaction, so a failed import leaves the workspace exactly
as before; writers are serialised by an advisory lock so the ``version`` counter never skips.
Geometry travels as WKB, rows go in with ``COPY``.

Several workspaces can share one database, one schema each: name the schema in the URL,
``postgresql://user@host/db?options=-csearch_path%3Dcounty_a,public`` (the schema must exist;
PostGIS stays in ``public``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.engine import URL, Connection, Engine, make_url

from gisgov.errors import NotFoundError, StoreError, ValidationError
from gisgov.layers import LAYERS, STORAGE_CRS, Layer
from gisgov.migrations import MIGRATIONS_DIR, VERSION_TABLE
from gisgov.store._base import BBox, WorkspaceBase, WriteMode
from gisgov.store._features import (
    ColumnType,
    FeaturePage,
    FeatureQuery,
    PostgresDialect,
    TableInfo,
    build_statement,
    page_from_rows,
)

__all__ = ["PostGISWorkspace", "engine_url"]

#: Tables in the schema that are not the workspace's own (PostGIS, Alembic).
_FOREIGN_TABLES = frozenset({"spatial_ref_sys", VERSION_TABLE})

#: Lock classes for ``pg_advisory_xact_lock(class, hashtext(current_schema()))``: writers
#: (and migrations) of one workspace wait for each other; workspaces in other schemas do not.
_LOCK_WRITE = 0x67697300  # "gis\0"
_LOCK_MIGRATE = _LOCK_WRITE + 1
_LOCK_SQL = "SELECT pg_advisory_xact_lock(:k, hashtext(current_schema()))"

#: Schema column type → PostgreSQL type.
_SQL_TYPES: dict[str, type[sa.types.TypeEngine[Any]]] = {
    "str": sa.Text,
    "int": sa.BigInteger,
    "float": sa.Double,
    "bool": sa.Boolean,
}

_COPY_BATCH = 50_000


def engine_url(url: str) -> URL:
    """Return ``url`` as a SQLAlchemy URL for the psycopg 3 driver.

    ``postgresql://`` and ``postgres://`` (what users and ``psql`` write) would make
    SQLAlchemy look for psycopg2, which gisgov does not use.

    Examples
    --------
    >>> engine_url("postgres://me@127.0.0.1:5432/county").drivername
    'postgresql+psycopg'
    """
    parsed = make_url(url)
    if parsed.drivername not in ("postgresql", "postgres", "postgresql+psycopg"):
        raise ValidationError(
            f"{parsed.drivername}:// is not supported; use postgresql://user@host:port/db"
        )
    return parsed.set(drivername="postgresql+psycopg")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return text[0] if text else type(orig).__name__


class PostGISWorkspace(WorkspaceBase):
    """A workspace in a PostGIS database.

    Parameters
    ----------
    url
        ``postgresql://user[:password]@host[:port]/database`` (``postgres://`` and
        ``postgresql+psycopg://`` work too).
    create
        Create the database itself when it does not exist (through the ``postgres``
        maintenance database). The tables are created, or brought up to date, by the
        migrations on every open either way.

    Raises
    ------
    StoreError
        The server cannot be reached, or the migrations fail.
    NotFoundError
        The database does not exist and ``create`` is false.
    """

    kind = "postgis"

    def __init__(self, url: str, *, create: bool = False) -> None:
        self._sa_url = engine_url(str(url))
        self.url = self._sa_url.set(drivername=make_url(str(url)).drivername).render_as_string(
            hide_password=True
        )
        self._conn: Connection | None = None
        self._engine = self._make_engine(self._sa_url)
        self._page_engine: Engine | None = None
        try:
            self._open(create=create)
        except BaseException:
            self._engine.dispose()
            raise

    @classmethod
    def _bound(cls, parent: PostGISWorkspace, conn: Connection) -> PostGISWorkspace:
        """The workspace seen from inside a transaction: same engine, one connection."""
        tx = cls.__new__(cls)
        tx._sa_url = parent._sa_url
        tx.url = parent.url
        tx._engine = parent._engine
        tx._conn = conn
        tx._in_tx = True
        return tx

    @staticmethod
    def _make_engine(url: URL) -> Engine:
        connect_args: dict[str, Any] = {}
        if "connect_timeout" not in url.query:
            # A firewalled host would otherwise hang for minutes before the error shows.
            connect_args["connect_timeout"] = 5
        # pre_ping: after a PostgreSQL restart the pooled connections are dead; checking
        # them on checkout lets a running service recover without a restart.
        return sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)

    # ---- connection and errors ----------------------------------------------------------
    def _where(self) -> str:
        host = self._sa_url.host or "localhost"
        return f"{host}:{self._sa_url.port or 5432}"

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn driver errors into gisgov errors with a message that says what to do."""
        try:
            yield
        except sa.exc.IntegrityError as exc:
            raise ValidationError(f"PostGIS rejected the data while {action}: "
                                  f"{_first_line(exc)}") from exc
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            if exc.connection_invalidated or _is_connect_error(exc):
                raise StoreError(
                    f"cannot reach PostGIS at {self._where()}: {_first_line(exc)} "
                    "— is PostgreSQL running?"
                ) from exc
            raise StoreError(f"PostGIS failed while {action}: {_first_line(exc)}") from exc
        except sa.exc.DBAPIError as exc:
            raise StoreError(f"PostGIS failed while {action}: {_first_line(exc)}") from exc

    @contextmanager
    def _connect(self, action: str) -> Iterator[Connection]:
        """The transaction's connection, or a pooled one for a read outside transactions."""
        with self._errors(action):
            if self._conn is not None:
                yield self._conn
                return
            with self._engine.connect() as conn:
                yield conn

    def ping(self) -> None:
        """Run ``SELECT 1``.

        Raises
        ------
        StoreError
            With a one-line message when the server cannot be reached.
        """
        with self._connect("pinging the server") as conn:
            conn.execute(sa.text("SELECT 1"))

    def close(self) -> None:
        """Dispose of the engine's connection pool (not from inside a transaction)."""
        if self._conn is None:
            self._engine.dispose()
            if getattr(self, "_page_engine", None) is not None:
                self._page_engine.dispose()  # type: ignore[union-attr]

    # ---- opening and migrations ---------------------------------------------------------
    def _open(self, *, create: bool) -> None:
        try:
            with self._engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.OperationalError as exc:
            missing = f'database "{self._sa_url.database}" does not exist'
            if missing not in _first_line(exc):
                with self._errors("connecting"):
                    raise
            if not create:
                raise NotFoundError(
                    f"database {self._sa_url.database!r} does not exist on {self._where()}; "
                    f"create it with `gisgov init {self.url}`"
                ) from None
            self._create_database()
        self.migrate()

    def _create_database(self) -> None:
        admin = sa.create_engine(self._sa_url.set(database="postgres"),
                                 isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        try:
            with self._errors("creating the database"), admin.connect() as conn:
                conn.execute(sa.text(f"CREATE DATABASE {_ident(self._sa_url.database or '')}"))
        finally:
            admin.dispose()

    def migrate(self) -> None:
        """Bring the tables up to the newest migration (``alembic upgrade head``).

        Cheap when the database is current: the revision is compared first. Concurrent
        openers wait on an advisory lock instead of racing to create the same tables.
        """
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        head = ScriptDirectory.from_config(config).get_current_head()
        with self._errors("running the migrations"), self._engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            if ctx.get_current_revision() == head:
                conn.rollback()
                return
            conn.rollback()
            with conn.begin():
                conn.execute(sa.text(_LOCK_SQL), {"k": _LOCK_MIGRATE})
                config.attributes["connection"] = conn
                try:
                    command.upgrade(config, "head")
                except sa.exc.ProgrammingError as exc:
                    if "postgis" in str(exc).lower():
                        raise StoreError(
                            f"PostGIS is not available in {self._sa_url.database!r}: "
                            f"{_first_line(exc)}; install postgresql-15-postgis-3 and let a "
                            "superuser run CREATE EXTENSION postgis"
                        ) from exc
                    raise

    # ---- catalogue -----------------------------------------------------------------------
    def _list_tables(self) -> list[str]:
        with self._connect("listing tables") as conn:
            rows = conn.execute(sa.text(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') "
                "ORDER BY c.relname"
            )).scalars().all()
        return [r for r in rows if r not in _FOREIGN_TABLES]

    def _has_table(self, name: str) -> bool:
        if name in _FOREIGN_TABLES:
            return False
        with self._connect("looking up a table") as conn:
            return bool(conn.execute(
                sa.text("SELECT to_regclass(quote_ident(current_schema()) || '.' || "
                        "quote_ident(:name)) IS NOT NULL"),
                {"name": name},
            ).scalar())

    @staticmethod
    def _columns(conn: Connection, name: str) -> dict[str, str]:
        """Column name → ``format_type`` (e.g. ``bigint``, ``geometry(Point,4326)``)."""
        rows = conn.execute(sa.text(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = (quote_ident(current_schema()) || '.' || quote_ident(:name))"
            "::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
        ), {"name": name}).all()
        return {str(r[0]): str(r[1]) for r in rows}

    # ---- reads ---------------------------------------------------------------------------
    def _conditions(
        self, columns: Mapping[str, str], bbox: BBox | None, where: Mapping[str, Any] | None
    ) -> tuple[list[str], dict[str, Any], list[sa.BindParameter[Any]]]:
        """SQL conditions with named parameters; every value travels bound, never as text.

        Values no driver can bind (NUL characters, non-finite numbers, integers beyond 64
        bits) were refused by :func:`~gisgov.store._base.check_filters` before this.
        """
        conds: list[str] = []
        params: dict[str, Any] = {}
        expanding: list[sa.BindParameter[Any]] = []
        for i, (col, val) in enumerate((where or {}).items()):
            if col not in columns:
                raise ValidationError(
                    f"no column {col!r} to filter on; columns: {', '.join(columns)}"
                )
            p = f"w{i}"
            if isinstance(val, (list, tuple, set, frozenset, np.ndarray, pd.Series)):
                vals = [_py(v) for v in val]
                if not vals:
                    conds.append("FALSE")
                    continue
                conds.append(f"{_ident(col)} IN :{p}")
                params[p] = vals
                expanding.append(sa.bindparam(p, expanding=True))
            elif _py(val) is None:
                conds.append(f"{_ident(col)} IS NULL")
            else:
                conds.append(f"{_ident(col)} = :{p}")
                params[p] = _py(val)
        if bbox is not None:
            geom = _geometry_column(columns)
            if geom is None:
                conds.append("FALSE")
            else:
                minx, miny, maxx, maxy = (float(v) for v in bbox)
                params.update(bx0=minx, by0=miny, bx1=maxx, by1=maxy)
                env = "ST_MakeEnvelope(:bx0, :by0, :bx1, :by1, 4326)"
                # && alone is the GiST-indexed box test; ST_Intersects makes it exact.
                conds.append(f"{_ident(geom)} && {env} AND ST_Intersects({_ident(geom)}, {env})")
        return conds, params, expanding

    def _read_frame(
        self,
        name: str,
        *,
        bbox: BBox | None = None,
        where: Mapping[str, Any] | None = None,
        limit: int | None = None,
        offset: int = 0,
        order_by: str | None = None,
        columns: Sequence[str] | None = None,
    ) -> gpd.GeoDataFrame | pd.DataFrame:
        with self._connect(f"reading {name}") as conn:
            every = self._columns(conn, name)
            geoms = [c for c, t in every.items() if t.startswith("geometry")]
            shown = {c: t for c, t in every.items()
                     if columns is None or c in geoms or c in columns}
            select = ", ".join(
                f"ST_AsBinary({_ident(c)}) AS {_ident(c)}" if c in geoms else _ident(c)
                for c in shown
            )
            conds, params, expanding = self._conditions(every, bbox, where)
            sql = f"SELECT {select} FROM {_ident(name)}"
            if conds:
                sql += " WHERE " + " AND ".join(conds)
            if order_by:
                sql += f" ORDER BY {_ident(order_by)}"
            if limit is not None:
                sql += " LIMIT :lim"
                params["lim"] = int(limit)
            if offset:
                sql += " OFFSET :off"
                params["off"] = int(offset)
            stmt = sa.text(sql).bindparams(*expanding)
            rows = conn.execute(stmt, params).all()
            srid = self._srid(conn, name, geoms[0]) if geoms else None
        return _frame_from_rows(shown, rows, geoms, srid)

    @staticmethod
    def _srid(conn: Connection, name: str, column: str) -> int | None:
        srid = conn.execute(sa.text(
            "SELECT srid FROM geometry_columns WHERE f_table_schema = current_schema() "
            "AND f_table_name = :t AND f_geometry_column = :c"
        ), {"t": name, "c": column}).scalar()
        return int(srid) if srid else None

    def _count(self, name: str, *, bbox: BBox | None = None,
               where: Mapping[str, Any] | None = None) -> int:
        with self._connect(f"counting {name}") as conn:
            conds, params, expanding = self._conditions(self._columns(conn, name), bbox, where)
            sql = f"SELECT count(*) FROM {_ident(name)}"
            if conds:
                sql += " WHERE " + " AND ".join(conds)
            return int(conn.execute(sa.text(sql).bindparams(*expanding), params).scalar_one())

    def _describe(self, name: str) -> TableInfo:
        with self._connect(f"describing {name}") as conn:
            types = self._columns(conn, name)
            geom = _geometry_column(types)
            rows = int(conn.execute(sa.text(f"SELECT count(*) FROM {_ident(name)}")).scalar_one())
            bbox = None
            if geom is not None:
                b = conn.execute(sa.text(
                    "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                    f"(SELECT ST_Extent({_ident(geom)}) AS e FROM {_ident(name)}) s")).one()
                if b[0] is not None:
                    bbox = (float(b[0]), float(b[1]), float(b[2]), float(b[3]))
        columns = {c: _column_type(t) for c, t in types.items()
                   if not t.startswith("geometry")}
        return TableInfo(name, columns, geom, None, None, rows, bbox)

    def _features(self, query: FeatureQuery, info: TableInfo) -> FeaturePage:
        dialect = PostgresDialect()
        sql = build_statement(query, dialect)
        rows = self._fast_query(sql, dialect.named_params(), f"reading {query.table}")
        return page_from_rows(rows, query, geometry=_geometry_value)

    @property
    def version(self) -> int:
        """Counter bumped by every committed write (one small query, asked on every
        request by the service)."""
        if self._conn is not None:
            return super().version
        rows = self._fast_query("SELECT value FROM gisgov_meta WHERE key = 'version'", {},
                                "reading the version")
        return int(json.loads(rows[0][0])) if rows else 0

    def _fast_query(self, sql: str, params: Mapping[str, Any], action: str
                    ) -> Sequence[Any]:
        """Rows of one read on the hot path: the transaction's connection, or a pool
        without pre-ping (one round trip, not two). A connection a restart killed fails
        once, is invalidated by the pool, and the query is asked again."""
        if self._conn is not None:
            with self._errors(action):
                return self._conn.exec_driver_sql(sql, dict(params)).all()
        if self._page_engine is None:
            # Autocommit: a read is its own statement, without BEGIN and ROLLBACK around it.
            self._page_engine = sa.create_engine(
                self._sa_url, pool_pre_ping=False, pool_size=8, max_overflow=24,
                isolation_level="AUTOCOMMIT", pool_reset_on_return=None,
                connect_args={"connect_timeout": 5})
        for attempt in (1, 2):
            try:
                with self._errors(action), self._page_engine.connect() as c:
                    return c.exec_driver_sql(sql, dict(params)).all()
            except StoreError as exc:
                stale = isinstance(exc.__cause__, sa.exc.DBAPIError) \
                    and exc.__cause__.connection_invalidated
                if attempt == 2 or not stale:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def bounds(self, layer: str) -> BBox | None:
        """Lon/lat bounds of a layer from ``ST_Extent`` (no rows leave the server)."""
        if not self._has_table(layer) or not LAYERS[layer].has_geometry:
            return None
        with self._connect(f"measuring {layer}") as conn:
            row = conn.execute(sa.text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                f"(SELECT ST_Extent(geometry) AS e FROM {_ident(layer)}) s"
            )).one()
        if row[0] is None:
            return None
        return (float(row[0]), float(row[1]), float(row[2]), float(row[3]))

    # ---- meta ----------------------------------------------------------------------------
    def _meta_items(self) -> dict[str, str]:
        with self._connect("reading meta") as conn:
            rows = conn.execute(sa.text("SELECT key, value FROM gisgov_meta")).all()
        return {str(k): str(v) for k, v in rows}

    def _meta_put(self, key: str, value: str) -> None:
        with self._connect("writing meta") as conn:
            conn.execute(sa.text(
                "INSERT INTO gisgov_meta (key, value) VALUES (:k, :v) "
                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
            ), {"k": key, "v": value})

    # ---- writes --------------------------------------------------------------------------
    def _require_tx(self) -> Connection:
        if self._conn is None:
            raise StoreError("internal: PostGIS writes must run inside a transaction")
        return self._conn

    @contextmanager
    def _transaction(self) -> Iterator[WorkspaceBase]:
        with self._errors("writing"), self._engine.connect() as conn, conn.begin():
            # One writer at a time, as with the GeoPackage lock: the version counter is a
            # read-modify-write and must not skip or repeat. Readers are not blocked.
            conn.execute(sa.text(_LOCK_SQL), {"k": _LOCK_WRITE})
            yield PostGISWorkspace._bound(self, conn)

    def _drop_table(self, name: str) -> None:
        conn = self._require_tx()
        with self._errors(f"dropping {name}"):
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {_ident(name)}"))

    def _delete_rows(self, name: str, key: str, values: list[str]) -> None:
        conn = self._require_tx()
        with self._errors(f"deleting rows of {name}"):
            conn.execute(sa.text(f"DELETE FROM {_ident(name)} WHERE {_ident(key)} = ANY(:v)"),
                         {"v": list(values)})

    def _write_frame(self, name: str, frame: pd.DataFrame, *, mode: WriteMode) -> None:
        conn = self._require_tx()
        with self._errors(f"writing {name}"):
            if name in LAYERS:
                self._write_layer(conn, LAYERS[name], frame, mode=mode)
            else:
                self._write_product(conn, name, frame, mode=mode)

    def _write_layer(self, conn: Connection, spec: Layer, frame: pd.DataFrame, *,
                     mode: WriteMode) -> None:
        name = spec.name
        if not self._has_table(name):
            # Dropped by drop_table(); rebuild it as the current schema describes it.
            layer_table(spec, sa.MetaData()).create(conn)
            if spec.has_geometry:
                conn.execute(sa.text(
                    f"CREATE INDEX {_ident(f'ix_{name}_geometry')} ON {_ident(name)} "
                    "USING gist (geometry)"
                ))
        columns = self._columns(conn, name)
        schema = {c.name: c for c in spec.columns}
        data = frame if spec.has_geometry else frame.drop(columns="geometry", errors="ignore")
        wanted: dict[str, str] = {}
        for col in data.columns:
            if col == "geometry":
                continue
            if col in schema:
                # A column added to gisgov.layers after the newest migration: add it now with
                # its schema type; the next migration must use ADD COLUMN IF NOT EXISTS.
                wanted[col] = _sql_type_name(_SQL_TYPES[schema[col].dtype]())
            else:
                wanted[col] = _sql_type_for(data[col])
        if mode == "replace":
            conn.execute(sa.text(f"DELETE FROM {_ident(name)}"))
            # Replacing a layer replaces its extra columns too, as in the GeoPackage store;
            # a column is only dropped and re-added when its type changes (dropped columns
            # count towards PostgreSQL's 1,600-column limit).
            for col, sql_type in list(columns.items()):
                if col in schema or col == "geometry":
                    continue
                if col not in wanted or sql_type != wanted[col]:
                    conn.execute(sa.text(f"ALTER TABLE {_ident(name)} DROP COLUMN {_ident(col)}"))
                    del columns[col]
        for col, sql_type in wanted.items():
            if col not in columns:
                conn.execute(sa.text(
                    f"ALTER TABLE {_ident(name)} ADD COLUMN {_ident(col)} {sql_type}"
                ))
        self._copy_rows(conn, name, data)

    def _write_product(self, conn: Connection, name: str, frame: pd.DataFrame, *,
                       mode: WriteMode) -> None:
        frame = frame.reset_index(drop=True)
        exists = self._has_table(name)
        if mode == "replace" and exists:
            conn.execute(sa.text(f"DROP TABLE {_ident(name)}"))
            exists = False
        geom_cols = [c for c in frame.columns if isinstance(frame[c].dtype, gpd.array.GeometryDtype)]
        if not exists:
            items: list[sa.schema.SchemaItem] = []
            for col in frame.columns:
                if col in geom_cols:
                    items.append(sa.Column(str(col), Geometry(
                        "GEOMETRY", srid=_epsg(frame[col], name), spatial_index=False
                    )))
                else:
                    items.append(sa.Column(str(col), _sql_type_object(_sql_type_for(frame[col]))))
            sa.Table(name, sa.MetaData(), *items).create(conn)
            for col in geom_cols:
                conn.execute(sa.text(
                    f"CREATE INDEX {_ident(f'ix_{name}_{col}')} ON {_ident(name)} "
                    f"USING gist ({_ident(str(col))})"
                ))
        else:
            columns = self._columns(conn, name)
            for col in frame.columns:
                if col in columns:
                    continue
                if col in geom_cols:
                    sql_type = f"geometry(Geometry,{_epsg(frame[col], name)})"
                else:
                    sql_type = _sql_type_for(frame[col])
                conn.execute(sa.text(
                    f"ALTER TABLE {_ident(name)} ADD COLUMN {_ident(str(col))} {sql_type}"
                ))
        self._copy_rows(conn, name, frame)

    @staticmethod
    def _copy_rows(conn: Connection, name: str, frame: pd.DataFrame) -> None:
        """Send the rows with ``COPY … FROM STDIN``: geometry as hex EWKB, nulls as NULL."""
        if not len(frame):
            return
        cols = [str(c) for c in frame.columns]
        values: list[list[Any]] = []
        for col in frame.columns:
            s = frame[col]
            if isinstance(s.dtype, gpd.array.GeometryDtype):
                geoms = np.asarray(s.values, dtype=object)
                srid = s.crs.to_epsg() if getattr(s, "crs", None) is not None else 4326
                geoms = shapely.set_srid(geoms, srid or 4326)
                values.append(list(shapely.to_wkb(geoms, hex=True, include_srid=True)))
            else:
                values.append(_python_values(s))
        target = f"COPY {_ident(name)} ({', '.join(_ident(c) for c in cols)}) FROM STDIN"
        raw = conn.connection.driver_connection
        assert raw is not None
        with raw.cursor() as cur:
            for start in range(0, len(frame), _COPY_BATCH):
                with cur.copy(target) as copy:
                    for row in zip(*(v[start:start + _COPY_BATCH] for v in values),
                                   strict=True):
                        copy.write_row(row)


def layer_table(spec: Layer, metadata: sa.MetaData) -> sa.Table:
    """The table of a schema layer as the current ``gisgov.layers`` describes it.

    Used to rebuild a dropped layer table; the migrations carry their own frozen copy.
    """
    items: list[sa.schema.SchemaItem] = [
        sa.Column(c.name, sa.Text(collation="C") if c.name == spec.key else _SQL_TYPES[c.dtype](),
                  primary_key=c.name == spec.key)
        for c in spec.columns
    ]
    types = spec.geometry_types
    if types:
        declared = types[0].upper() if len(types) == 1 else "GEOMETRY"
        items.append(sa.Column("geometry", Geometry(declared, srid=4326, spatial_index=False)))
        if len(types) > 1:
            allowed = ", ".join(f"'{t.upper()}'" for t in types)
            items.append(sa.CheckConstraint(
                f"geometry IS NULL OR GeometryType(geometry) IN ({allowed})",
                name=f"ck_{spec.name}_geometry_type",
            ))
    return sa.Table(spec.name, metadata, *items)


def _column_type(sql_type: str) -> ColumnType:
    if sql_type in ("text", "character varying") or sql_type.startswith(("character", "varchar")):
        return "str"
    if sql_type in ("bigint", "integer", "smallint"):
        return "int"
    if sql_type in ("double precision", "real") or sql_type.startswith("numeric"):
        return "float"
    if sql_type == "boolean":
        return "bool"
    if sql_type.startswith(("timestamp", "date")):
        return "datetime"
    return "other"


def _geometry_value(value: Any) -> str | bytes | None:
    """GeoJSON text as the database wrote it, or WKB as bytes."""
    if value is None or isinstance(value, (str, bytes)):
        return value
    return bytes(value)


def _is_connect_error(exc: sa.exc.DBAPIError) -> bool:
    text = _first_line(exc).lower()
    return any(s in text for s in (
        "connection refused", "could not connect", "connection failed", "timeout expired",
        "server closed the connection", "could not translate host name", "no route to host",
        "connection is closed", "terminating connection",
    ))


def _geometry_column(columns: Mapping[str, str]) -> str | None:
    if "geometry" in columns:
        return "geometry"
    return next((c for c, t in columns.items() if t.startswith("geometry")), None)


def _epsg(series: pd.Series, name: str) -> int:
    crs = getattr(series, "crs", None)
    epsg = crs.to_epsg() if crs is not None else None
    if epsg is None:
        raise ValidationError(
            f"table {name}: geometry column {series.name} needs a CRS with an EPSG code "
            f"(e.g. {STORAGE_CRS})"
        )
    return int(epsg)


def _py(value: Any) -> Any:
    """A plain Python value psycopg can bind (numpy scalars and pandas NA are not)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def _sql_type_for(series: pd.Series) -> str:
    """PostgreSQL type for a non-schema column, from its pandas dtype."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "bigint"
    if pd.api.types.is_float_dtype(dtype):
        return "double precision"
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "timestamp with time zone"
    if pd.api.types.is_datetime64_dtype(dtype):
        return "timestamp without time zone"
    if pd.api.types.is_object_dtype(dtype):
        present = series.dropna()
        if len(present) and all(isinstance(v, (bool, np.bool_)) for v in present):
            return "boolean"
    return "text"


def _sql_type_name(t: sa.types.TypeEngine[Any]) -> str:
    return {sa.Text: "text", sa.BigInteger: "bigint", sa.Double: "double precision",
            sa.Boolean: "boolean"}[type(t)]


def _sql_type_object(name: str) -> sa.types.TypeEngine[Any]:
    types: dict[str, sa.types.TypeEngine[Any]] = {
        "text": sa.Text(), "bigint": sa.BigInteger(), "double precision": sa.Double(),
        "boolean": sa.Boolean(), "timestamp with time zone": sa.DateTime(timezone=True),
        "timestamp without time zone": sa.DateTime(),
    }
    return types[name]


def _python_values(series: pd.Series) -> list[Any]:
    """Column values as Python objects with ``None`` for every kind of missing value."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return [None if pd.isna(v) else v.to_pydatetime() for v in series]
    out = series.astype(object).where(series.notna(), None).to_numpy()
    if pd.api.types.is_object_dtype(series.dtype) or pd.api.types.is_string_dtype(series.dtype):
        return [_text_value(v) for v in out]
    return [_py(v) for v in out]


def _text_value(value: Any) -> Any:
    value = _py(value)
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _frame_from_rows(columns: Mapping[str, str], rows: Sequence[Any], geoms: list[str],
                     srid: int | None) -> gpd.GeoDataFrame | pd.DataFrame:
    """Build a frame whose dtypes follow the SQL types (nullable where nulls occur)."""
    data: dict[str, Any] = {}
    transposed = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    for (col, sql_type), vals in zip(columns.items(), transposed, strict=True):
        has_null = any(v is None for v in vals)
        if col in geoms:
            data[col] = shapely.from_wkb(np.array(vals, dtype=object))
        elif sql_type in ("bigint", "integer", "smallint"):
            data[col] = pd.array(vals, dtype="Int64") if has_null else np.array(vals, np.int64)
        elif sql_type in ("double precision", "real"):
            data[col] = np.array([np.nan if v is None else v for v in vals], dtype=np.float64)
        elif sql_type == "boolean":
            data[col] = pd.array(vals, dtype="boolean") if has_null else np.array(vals, bool)
        elif sql_type.startswith("timestamp"):
            data[col] = pd.to_datetime(pd.Series(vals, dtype=object))
        else:
            data[col] = np.array(vals, dtype=object)
    frame = pd.DataFrame(data, columns=list(columns))
    if not geoms:
        return frame
    active = "geometry" if "geometry" in geoms else geoms[0]
    out = gpd.GeoDataFrame(frame, geometry=active, crs=srid)
    for col in geoms:
        if col != active:
            out[col] = gpd.GeoSeries(out[col].to_numpy(), crs=srid)
    return out
