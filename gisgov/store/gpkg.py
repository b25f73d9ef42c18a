"""The embedded default store: one GeoPackage file (no server; opens in QGIS).

Writes go into the file in place, through SQLite's own transactions: one ``sqlite3``
connection per transaction, the file in WAL journal mode (set once, when the file is first
opened), ``BEGIN IMMEDIATE`` as the writer lock (a second writer waits up to the busy
timeout, then gets a one-line :class:`~gisgov.errors.StoreError`), ``COMMIT`` or
``ROLLBACK`` at the end. A crash at any point, even ``kill -9`` in the middle of replacing a
layer, leaves every table entirely as it was before the transaction or entirely as after it;
readers (this process, other processes, QGIS) keep reading the last committed state while a
write runs, and nothing is ever copied or renamed. No lock file and no ``fcntl``: the module
imports and works on Windows.

Why this is hand-written rather than left to GDAL: pyogrio/GDAL opens its own connection for
every call and commits it on its own, so several layers cannot be written in one
transaction, and GDAL links its own copy of SQLite, whose POSIX locks would be dropped by
this process's ``sqlite3`` closing the same file (SQLite's "two copies of the library"
hazard). So the main file is only ever touched by Python's ``sqlite3``:

- a frame with geometry (or a table being created or replaced) is first written by pyogrio
  into a small side GeoPackage beside the file (``.NAME.<random>.tmp.gpkg``, that frame
  only), which gives GDAL's exact table DDL, GeoPackage geometry blobs and metadata rows;
  inside the main transaction the side file's table is recreated from its DDL, its rows
  streamed across (through a second connection rather than ``ATTACH``: SQLite allows ten
  attached files and cannot detach one inside a transaction, and one transaction may write
  all fourteen layers), GDAL's finished R-tree copied node by node, the ``gpkg_*`` metadata
  rows copied and the R-tree and feature-count triggers created after the data. The side
  file is then deleted;
- appending to an attribute-only table (audit log, jobs, API keys) is a plain bound
  ``INSERT``, so one audit row costs one small transaction; bookkeeping appends outside a
  transaction (the service's audit records) go through one connection kept for them
  (:meth:`GeoPackageWorkspace._append`), without the general path's per-write setup;
- the GeoPackage R-tree triggers call ``ST_IsEmpty``/``ST_MinX``/… , registered on every
  connection as Python functions reading the geometry blob's envelope;
- reads are SQL with bound parameters (``?``, list filters through ``json_each``); geometry
  blobs are decoded with shapely. Values are never formatted into SQL text.

Side files left by a crash (and the copies the former copy-on-write store made) are deleted
when a workspace is opened, once they are a minute old and no connection holds them.
"""

from __future__ import annotations

import glob
import json
import logging
import math
import os
import sqlite3
import struct
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager, suppress
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from gisgov.errors import NotFoundError, StoreError, ValidationError
from gisgov.gcpause import gc_paused
from gisgov.layers import LAYERS, STORAGE_CRS
from gisgov.store._base import (
    TABLE_VERSION_PREFIX,
    BBox,
    WorkspaceBase,
    WriteMode,
    next_table_version,
)
from gisgov.store._features import (
    ColumnType,
    FeaturePage,
    FeatureQuery,
    SqliteDialect,
    TableInfo,
    build_statement,
    page_from_rows,
)

__all__ = ["GeoPackageWorkspace"]

log = logging.getLogger(__name__)

_META_DDL = "CREATE TABLE IF NOT EXISTS gisgov_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"

#: Seconds a writer waits for another writer (or a checkpoint) before giving up.
BUSY_TIMEOUT_S = 60.0

#: Bytes of the file a page connection reads through a memory map (SQLite's mmap_size).
PAGE_MMAP_BYTES = 1 << 30

#: Side files younger than this are never treated as orphans (they may be being written).
ORPHAN_AGE_S = 60.0

#: GeoPackage metadata tables whose rows are keyed by ``table_name``.
_GPKG_META_TABLES = ("gpkg_contents", "gpkg_geometry_columns", "gpkg_extensions",
                     "gpkg_ogr_contents", "gpkg_data_columns", "gpkg_metadata_reference")

#: Envelope sizes (bytes) by the GeoPackage blob's envelope indicator.
_ENVELOPE = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}

_INT_TYPES = frozenset({"INTEGER", "INT", "MEDIUMINT", "SMALLINT", "TINYINT", "BIGINT"})
_REAL_TYPES = frozenset({"REAL", "FLOAT", "DOUBLE"})

#: Side files this process is writing or copying (POSIX locks cannot tell them apart
#: from orphans within one process, so the cleaner asks this set).
_SIDES_IN_USE: set[str] = set()
_SIDES_LOCK = threading.Lock()


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# ---- GeoPackage geometry blobs -------------------------------------------------------------
def _wkb_body(blob: bytes) -> bytes:
    """The standard WKB after a GeoPackage blob's header and envelope."""
    return blob[8 + _ENVELOPE.get((blob[3] >> 1) & 7, 0):]


def _blob_bounds(blob: bytes) -> tuple[float, float, float, float] | None:
    """``(minx, maxx, miny, maxy)`` from the blob's envelope, or from its geometry."""
    flags = blob[3]
    if flags & 0x10:  # empty geometry
        return None
    if (flags >> 1) & 7:
        order = "<" if flags & 1 else ">"
        minx, maxx, miny, maxy = struct.unpack_from(f"{order}4d", blob, 8)
        return (minx, maxx, miny, maxy)
    geom = shapely.from_wkb(_wkb_body(blob))
    if geom is None or geom.is_empty:
        return None
    x0, y0, x1, y1 = geom.bounds
    return (x0, x1, y0, y1)


class _Bounds:
    """The SQL functions the GeoPackage R-tree triggers call, with a one-blob cache.

    A trigger calls ``ST_MinX``, ``ST_MaxX``, ``ST_MinY`` and ``ST_MaxY`` on the same blob in
    a row, so the blob is decoded once.
    """

    def __init__(self) -> None:
        self._blob: bytes | None = None
        self._bounds: tuple[float, float, float, float] | None = None

    def get(self, blob: Any) -> tuple[float, float, float, float] | None:
        if not isinstance(blob, bytes) or len(blob) < 8 or blob[:2] != b"GP":
            return None
        if blob != self._blob:
            self._blob, self._bounds = blob, _blob_bounds(blob)
        return self._bounds

    def register(self, con: sqlite3.Connection) -> None:
        def part(i: int) -> Any:
            def fn(blob: Any) -> float | None:
                b = self.get(blob)
                return None if b is None else b[i]
            return fn

        def is_empty(blob: Any) -> int | None:
            if not isinstance(blob, bytes) or len(blob) < 8:
                return None
            return int(self.get(blob) is None)

        con.create_function("ST_IsEmpty", 1, is_empty, deterministic=True)
        for i, name in enumerate(("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY")):
            con.create_function(name, 1, part(i), deterministic=True)


def _connect(path: Path) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit) with the busy timeout."""
    con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                          check_same_thread=False)
    con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    _Bounds().register(con)
    return con


def _open(path: Path) -> sqlite3.Connection:
    """:func:`_connect`, failures as :class:`~gisgov.errors.StoreError`."""
    try:
        return _connect(path)
    except sqlite3.Error as exc:  # pragma: no cover - disk errors
        raise StoreError(f"cannot open {path.name}: {exc}") from exc


def _still_open(path: Path, con: sqlite3.Connection | None, inode: int | None
                ) -> tuple[sqlite3.Connection | None, int]:
    """A kept connection if ``path`` is still the file it was opened on (inode ``inode``),
    else ``None`` (closed: the file was replaced, e.g. restored, and the old inode must not
    be read or written); and the file's inode now."""
    try:
        now = os.stat(path).st_ino
    except OSError as exc:
        raise StoreError(f"cannot open {path.name}: {exc}") from exc
    if con is not None and inode != now:
        with suppress(sqlite3.Error):
            con.close()
        con = None
    return con, now


def _table_exists(con: sqlite3.Connection, name: str, schema_table: str = "sqlite_master"
                  ) -> bool:
    return con.execute(f"SELECT 1 FROM {schema_table} WHERE type IN ('table', 'view') "
                       "AND name = ?", (name,)).fetchone() is not None


def _columns(con: sqlite3.Connection, name: str) -> list[tuple[str, str, bool]]:
    """``(name, declared type, is the integer primary key)`` of every column."""
    rows = con.execute(f"PRAGMA table_info({_quote_ident(name)})").fetchall()
    return [(str(r[1]), str(r[2] or "").upper(), bool(r[5]) and str(r[2]).upper() == "INTEGER")
            for r in rows]


def _geometry_column(con: sqlite3.Connection, name: str) -> str | None:
    if not _table_exists(con, "gpkg_geometry_columns"):
        return None
    row = con.execute(
        "SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (name,)
    ).fetchone()
    return None if row is None else str(row[0])


def _crs(con: sqlite3.Connection, name: str) -> Any:
    row = con.execute(
        "SELECT s.organization, s.organization_coordsys_id, s.definition, s.srs_id "
        "FROM gpkg_geometry_columns g JOIN gpkg_spatial_ref_sys s ON s.srs_id = g.srs_id "
        "WHERE g.table_name = ?", (name,)
    ).fetchone()
    if row is None or int(row[3]) <= 0:
        return None
    org, code, definition, _ = row
    if str(org).upper() == "EPSG":
        return f"EPSG:{int(code)}"
    return None if str(definition).strip().lower() == "undefined" else str(definition)


# ---- filter values -----------------------------------------------------------------------
def _bind_value(value: Any) -> Any:
    """A value SQLite binds as itself (numpy scalars, booleans and NA are not)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float, str, bytes)):
        return value
    return str(value)


def _where(where: Mapping[str, Any] | None, known: Iterable[str]
           ) -> tuple[list[str], list[Any]]:
    """Equality filters as SQL with ``?`` parameters; the values travel separately."""
    conds: list[str] = []
    params: list[Any] = []
    cols = set(known)
    for col, val in (where or {}).items():
        if col not in cols:
            raise ValidationError(f"no column {col!r} to filter on; columns: "
                                  f"{', '.join(sorted(cols))}")
        q = _quote_ident(col)
        if isinstance(val, (list, tuple, set, frozenset, np.ndarray, pd.Series)):
            vals = [_bind_value(v) for v in val]
            if not vals:
                conds.append("0")
                continue
            # One JSON parameter, whatever the list's length (no 32,766-variable limit).
            conds.append(f"{q} IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(vals, ensure_ascii=False, allow_nan=False))
        elif _bind_value(val) is None:
            conds.append(f"{q} IS NULL")
        else:
            conds.append(f"{q} = ?")
            params.append(_bind_value(val))
    return conds, params


# ---- pages of features ------------------------------------------------------------------
def _body(blob: Any) -> bytes | None:
    """The WKB of a GeoPackage blob (``None`` for null and empty geometries)."""
    if not isinstance(blob, bytes) or len(blob) < 8 or blob[3] & 0x10:
        return None
    return _wkb_body(blob)


class _BoxTest:
    """``gisgov_box(blob, minx, miny, maxx, maxy)``: whether a geometry blob intersects the
    box. Points are read from the WKB, other geometries first by the envelope GDAL writes
    into the blob's header (inside the box: a hit; apart from it: none), GEOS only for those
    crossing its edge."""

    def __init__(self) -> None:
        self._key: tuple[float, float, float, float] | None = None
        self._box: Any = None

    def __call__(self, blob: Any, x0: float, y0: float, x1: float, y1: float) -> int:
        if not isinstance(blob, bytes) or len(blob) < 8 or blob[3] & 0x10:
            return 0
        flags = blob[3]
        order = "<" if flags & 1 else ">"
        if (flags >> 1) & 7:
            ex0, ex1, ey0, ey1 = struct.unpack_from(order + "4d", blob, 8)
            if ex0 > x1 or ex1 < x0 or ey0 > y1 or ey1 < y0:
                return 0
            if x0 <= ex0 and ex1 <= x1 and y0 <= ey0 and ey1 <= y1:
                return 1
        body = _wkb_body(blob)
        if len(body) >= 21:
            worder = "<" if body[0] == 1 else ">"
            kind = struct.unpack_from(worder + "I", body, 1)[0]
            if kind == 1:  # a 2D point
                x, y = struct.unpack_from(worder + "2d", body, 5)
                return int(x0 <= x <= x1 and y0 <= y <= y1)
            if kind == 3 and _outer_vertex_in(body, worder, x0, y0, x1, y1):
                return 1  # a point of the polygon's boundary lies in the box
        key = (x0, y0, x1, y1)
        if key != self._key:
            self._key, self._box = key, shapely.box(x0, y0, x1, y1)
            shapely.prepare(self._box)
        return int(self._box.intersects(shapely.from_wkb(body)))


def _outer_vertex_in(body: bytes, order: str, x0: float, y0: float, x1: float, y1: float
                     ) -> bool:
    """Whether a vertex of a 2D WKB polygon's outer ring lies in the box: then the polygon
    meets the box (its boundary is part of it), without GEOS. A building crossing the box's
    edge mostly has a corner inside; the others are left to GEOS."""
    if len(body) < 13 or struct.unpack_from(order + "I", body, 5)[0] < 1:
        return False
    n = struct.unpack_from(order + "I", body, 9)[0]
    if len(body) < 13 + 16 * n:
        return False
    return any(x0 <= x <= x1 and y0 <= y <= y1
               for x, y in struct.iter_unpack(order + "2d", body[13:13 + 16 * n]))


class _Intersects:
    """``gisgov_intersects(blob, wkb)``: the filter geometry decoded and prepared once."""

    def __init__(self) -> None:
        self._wkb: bytes | None = None
        self._geom: Any = None

    def __call__(self, blob: Any, wkb: bytes) -> int:
        body = _body(blob)
        if body is None:
            return 0
        if wkb != self._wkb:
            self._wkb, self._geom = wkb, shapely.from_wkb(wkb)
            shapely.prepare(self._geom)
        return int(self._geom.intersects(shapely.from_wkb(body)))


def _column_type(decl: str) -> ColumnType:
    base = decl.split("(")[0].strip().upper()
    if base in _INT_TYPES:
        return "int"
    if base in _REAL_TYPES:
        return "float"
    if base == "BOOLEAN":
        return "bool"
    if base in ("DATE", "DATETIME"):
        return "datetime"
    if base in ("TEXT", "VARCHAR", "") or base.startswith(("TEXT", "VARCHAR", "CHAR")):
        return "str"
    return "other"


class GeoPackageWorkspace(WorkspaceBase):
    """A workspace in a GeoPackage file.

    Parameters
    ----------
    path
        The ``.gpkg`` file.
    create
        Create the file (with every schema layer, empty) when it does not exist.
    """

    kind = "geopackage"

    def __init__(self, path: str | os.PathLike[str], *, create: bool = False) -> None:
        self.path = Path(path)
        self.url = str(self.path)
        self._con: sqlite3.Connection | None = None
        self._page_cons = threading.local()
        self._page_all: list[sqlite3.Connection] = []
        self._page_lock = threading.Lock()
        self._appender: sqlite3.Connection | None = None
        self._appender_inode = 0
        self._appender_lock = threading.Lock()
        if not self.path.exists():
            if not create:
                raise NotFoundError(
                    f"workspace {self.path} does not exist; create it with `gisgov init "
                    f"{self.path}` or `gisgov sample {self.path}`"
                )
            if not self.path.parent.exists():
                raise NotFoundError(f"folder {self.path.parent} does not exist")
            self._create()
        elif self.path.is_dir():
            raise StoreError(f"{self.path} is a folder, not a GeoPackage file")
        self._use_wal()
        self._clean_orphans()

    @classmethod
    def _bound(cls, parent: GeoPackageWorkspace, con: sqlite3.Connection
               ) -> GeoPackageWorkspace:
        """The workspace seen from inside a transaction: same file, one connection."""
        tx = cls.__new__(cls)
        tx.path, tx.url = parent.path, parent.url
        tx._con = con
        tx._in_tx = True
        return tx

    # ---- creation and opening -----------------------------------------------------------
    def _create(self) -> None:
        """Build a new file beside the target and rename it (a new file: nothing to lose)."""
        from gisgov.layers import empty_layer

        tmp = self._side_path()
        try:
            for name in LAYERS:
                _write_side(tmp, name, empty_layer(name))
            with closing(sqlite3.connect(tmp)) as con:
                con.execute(_META_DDL)
                con.execute("INSERT OR REPLACE INTO gisgov_meta VALUES ('version', '0')")
                con.commit()
                con.execute("PRAGMA journal_mode=WAL")
            os.replace(tmp, self.path)
        finally:
            _forget_side(tmp)

    def _side_path(self) -> Path:
        """A fresh name for a side file, beside the workspace (same disk)."""
        fd, name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp.gpkg",
                                    dir=self.path.parent)
        os.close(fd)
        os.unlink(name)
        with _SIDES_LOCK:
            _SIDES_IN_USE.add(name)
        return Path(name)

    def _use_wal(self) -> None:
        """Switch the file to WAL once (it stays in WAL: the mode is stored in the file)."""
        try:
            with closing(_connect(self.path)) as con:
                mode = con.execute("PRAGMA journal_mode").fetchone()[0]
                if str(mode).lower() != "wal":
                    con.execute("PRAGMA busy_timeout = 2000")
                    con.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as exc:
            # Held open elsewhere in rollback-journal mode (an old QGIS session): writes
            # are still atomic then, only readers wait for writers; switch on a later open.
            log.warning("%s stays in its journal mode for now: %s", self.path.name, exc)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path.name} is not a GeoPackage: {exc}") from exc

    def _clean_orphans(self) -> None:
        """Delete side files a crashed process left (a minute old, not open anywhere)."""
        pattern = f".{glob.escape(self.path.name)}.*.tmp.gpkg"
        now = time.time()
        for side in self.path.parent.glob(pattern):
            with _SIDES_LOCK:
                if str(side) in _SIDES_IN_USE:
                    continue
            try:
                if now - side.stat().st_mtime < ORPHAN_AGE_S or _in_use(side):
                    continue
            except OSError:
                continue
            for extra in ("", "-journal", "-wal", "-shm"):
                try:
                    Path(f"{side}{extra}").unlink()
                except FileNotFoundError:
                    pass
                except OSError as exc:  # pragma: no cover - permissions
                    log.warning("cannot delete orphan %s: %s", side.name, exc)

    # ---- connections ---------------------------------------------------------------------
    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """The transaction's connection, or a read snapshot of the last committed state."""
        if self._con is not None:
            yield self._con
            return
        try:
            con = _connect(self.path)
        except sqlite3.Error as exc:  # pragma: no cover - disk errors
            raise StoreError(f"cannot open {self.path.name}: {exc}") from exc
        try:
            con.execute("BEGIN")  # one snapshot for every query of this read
            yield con
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot read {self.path.name}: {exc}") from exc
        finally:
            con.close()

    def ping(self) -> None:
        """Check that the file is a readable GeoPackage."""
        try:
            with self._reading() as con:
                con.execute("SELECT count(*) FROM gpkg_contents").fetchone()
        except (sqlite3.Error, StoreError) as exc:
            raise StoreError(f"{self.path.name} is not a readable GeoPackage: {exc}") from exc

    def _list_tables(self) -> list[str]:
        with self._reading() as con:
            try:
                rows = con.execute("SELECT table_name FROM gpkg_contents").fetchall()
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"{self.path.name} is not a GeoPackage: {exc}") from exc
        return [r[0] for r in rows]

    def _has_table(self, name: str) -> bool:
        with self._reading() as con:
            try:
                return con.execute("SELECT 1 FROM gpkg_contents WHERE table_name = ?",
                                   (name,)).fetchone() is not None
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"{self.path.name} is not a GeoPackage: {exc}") from exc

    # ---- reads ---------------------------------------------------------------------------
    def _select(
        self,
        con: sqlite3.Connection,
        name: str,
        *,
        bbox: BBox | None,
        where: Mapping[str, Any] | None,
    ) -> tuple[list[tuple[str, str, bool]], str | None, list[str], list[Any]]:
        cols = _columns(con, name)
        geom = _geometry_column(con, name)
        conds, params = _where(where, [c for c, _, _ in cols])
        if bbox is not None:
            minx, miny, maxx, maxy = (float(v) for v in bbox)
            if geom is None:
                conds.append("0")
            else:
                rtree = f"rtree_{name}_{geom}"
                pk = next((c for c, _, is_pk in cols if is_pk), "rowid")
                if _table_exists(con, rtree):
                    conds.append(
                        f"{_quote_ident(pk)} IN (SELECT id FROM {_quote_ident(rtree)} "
                        "WHERE maxx >= ? AND minx <= ? AND maxy >= ? AND miny <= ?)"
                    )
                else:
                    g = _quote_ident(geom)
                    conds.append(f"ST_MaxX({g}) >= ? AND ST_MinX({g}) <= ? AND "
                                 f"ST_MaxY({g}) >= ? AND ST_MinY({g}) <= ?")
                params += [minx, maxx, miny, maxy]
        return cols, geom, conds, params

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
        with self._reading() as con:
            cols, geom, conds, params = self._select(con, name, bbox=bbox, where=where)
            pk = next((c for c, _, is_pk in cols if is_pk), None)
            shown = [(c, t) for c, t, is_pk in cols if not is_pk
                     and (columns is None or c == geom or c in columns)]
            sql = (f"SELECT {', '.join(_quote_ident(c) for c, _ in shown) or 'NULL'} "
                   f"FROM {_quote_ident(name)}")
            if conds:
                sql += " WHERE " + " AND ".join(conds)
            order = [c for c in (order_by, pk) if c and any(c == s for s, _, _ in cols)]
            if order:
                sql += " ORDER BY " + ", ".join(_quote_ident(c) for c in order)
            # With a bbox the R-tree only yields candidates; paging waits for the exact test.
            page_in_sql = bbox is None
            if page_in_sql and (limit is not None or offset):
                sql += " LIMIT ? OFFSET ?"
                params += [-1 if limit is None else int(limit), int(offset)]
            with gc_paused():  # a tuple per row: no collections while they pile up
                rows = con.execute(sql, params).fetchall()
            crs = _crs(con, name) if geom else None
        with gc_paused():
            frame = _frame(shown, rows, geom, crs)
        del rows
        if isinstance(frame, gpd.GeoDataFrame) and bbox is not None and len(frame):
            box = shapely.box(*bbox)
            frame = frame[frame.geometry.intersects(box).to_numpy()]
        if not page_in_sql and (limit is not None or offset):
            stop = None if limit is None else int(offset) + int(limit)
            frame = frame.iloc[int(offset):stop]
        return frame

    def _count(self, name: str, *, bbox: BBox | None = None,
               where: Mapping[str, Any] | None = None) -> int:
        if bbox is not None:
            return self._count_in_box(name, bbox, where)
        with self._reading() as con:
            _, _, conds, params = self._select(con, name, bbox=None, where=where)
            sql = f"SELECT COUNT(*) FROM {_quote_ident(name)}"
            if conds:
                sql += " WHERE " + " AND ".join(conds)
            return int(con.execute(sql, params).fetchone()[0])

    def _count_in_box(self, name: str, bbox: BBox, where: Mapping[str, Any] | None) -> int:
        """Rows whose geometry intersects ``bbox``: the R-tree's candidates, then the exact
        test on their geometry alone (no other column is read or typed, so a city's
        per-community household counts cost a fraction of reading the rows)."""
        with self._reading() as con:
            _, geom, conds, params = self._select(con, name, bbox=bbox, where=where)
            if geom is None:
                return 0
            sql = f"SELECT {_quote_ident(geom)} FROM {_quote_ident(name)}"
            if conds:
                sql += " WHERE " + " AND ".join(conds)
            blobs = [None if b is None else _wkb_body(b)
                     for (b,) in con.execute(sql, params).fetchall()]
        if not blobs:
            return 0
        shapes = shapely.from_wkb(np.array(blobs, dtype=object))
        return int(shapely.intersects(shapes, shapely.box(*bbox)).sum())

    def _describe(self, name: str) -> TableInfo:
        with self._reading() as con:
            cols = _columns(con, name)
            geom = _geometry_column(con, name)
            rowid = next((c for c, _, is_pk in cols if is_pk), None)
            rtree = f"rtree_{name}_{geom}" if geom else None
            if rtree is not None and not _table_exists(con, rtree):
                rtree = None
            rows = int(con.execute(f"SELECT count(*) FROM {_quote_ident(name)}").fetchone()[0])
            bbox = None
            if rtree is not None:
                b = con.execute(f"SELECT min(minx), min(miny), max(maxx), max(maxy) FROM "
                                f"{_quote_ident(rtree)}").fetchone()
                if b[0] is not None:
                    bbox = (float(b[0]), float(b[1]), float(b[2]), float(b[3]))
        columns = {c: _column_type(t) for c, t, is_pk in cols if not is_pk and c != geom}
        return TableInfo(name, columns, geom, rowid, rtree, rows, bbox)

    def _page_connection(self) -> sqlite3.Connection:
        """This thread's reading connection for pages (kept open: opening one per request
        costs more than the query), with the exact spatial tests registered."""
        if self._con is not None:
            return self._con
        con, inode = _still_open(self.path, getattr(self._page_cons, "con", None),
                                 getattr(self._page_cons, "inode", None))
        if con is None:
            con = _open(self.path)
            con.create_function("gisgov_box", 5, _BoxTest(), deterministic=True)
            con.create_function("gisgov_intersects", 2, _Intersects(), deterministic=True)
            con.execute("PRAGMA case_sensitive_like = ON")  # LIKE as in PostgreSQL
            # Pages read through the memory map: every commit (an audit record too) empties
            # each connection's page cache, and a page mapped is found again without a
            # read() call. query_only: a page connection never writes, whatever SQL it is
            # given.
            con.execute(f"PRAGMA mmap_size = {PAGE_MMAP_BYTES}")
            con.execute("PRAGMA query_only = ON")
            self._page_cons.con = con
            self._page_cons.inode = inode
            with self._page_lock:
                self._page_all.append(con)
        return con

    def _features(self, query: FeatureQuery, info: TableInfo) -> FeaturePage:
        dialect = SqliteDialect(rtree=info.spatial_index, rowid=info.rowid or "rowid")
        sql = build_statement(query, dialect, rowid=info.rowid or "rowid")
        try:
            rows = self._page_connection().execute(sql, dialect.params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot read {query.table} from {self.path.name}: {exc}") from exc
        return page_from_rows(rows, query, geometry=_body)

    @property
    def version(self) -> int:
        """Counter bumped by every committed write (read on this thread's page connection:
        asked on every request by the service)."""
        if self._con is not None:
            return super().version
        try:
            row = self._page_connection().execute(
                "SELECT value FROM gisgov_meta WHERE key = 'version'").fetchone()
        except sqlite3.OperationalError:
            return super().version  # no meta table yet
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot read {self.path.name}: {exc}") from exc
        return int(json.loads(row[0])) if row else 0

    def close(self) -> None:
        """Close the page connections (other reads open and close their own)."""
        lock = getattr(self, "_page_lock", None)
        if lock is None:  # a transaction's view holds no page connections
            return
        with lock:
            cons, self._page_all = self._page_all, []
        with self._appender_lock:
            if self._appender is not None:
                cons.append(self._appender)
            self._appender = None
        for con in cons:
            with suppress(sqlite3.Error):
                con.close()
        self._page_cons = threading.local()

    def _read_keys(self, name: str, key: str) -> set[str]:
        with self._reading() as con:
            rows = con.execute(f"SELECT {_quote_ident(key)} FROM {_quote_ident(name)}")
            return {str(r[0]) for r in rows if r[0] is not None}

    def _meta_items(self) -> dict[str, str]:
        with self._reading() as con:
            if not _table_exists(con, "gisgov_meta"):
                return {}
            return {str(k): str(v) for k, v in
                    con.execute("SELECT key, value FROM gisgov_meta").fetchall()}

    # ---- appends of bookkeeping rows (the audit log) ------------------------------------------
    def write_table(self, name: str, frame: pd.DataFrame, *, mode: WriteMode = "replace",
                    bump_version: bool = True, if_version: int | None = None) -> None:
        """As :meth:`WorkspaceBase.write_table`; appending bookkeeping rows (the audit log,
        ``bump_version=False``) to an existing attribute table takes :meth:`_append`."""
        if (mode == "append" and not bump_version and if_version is None and not self._in_tx
                and name not in LAYERS and not isinstance(frame, gpd.GeoDataFrame)
                and self._append(name, frame)):
            return
        super().write_table(name, frame, mode=mode, bump_version=bump_version,
                            if_version=if_version)

    def _append(self, name: str, frame: pd.DataFrame) -> bool:
        """Append rows to an existing attribute-only table in one small transaction on a
        connection kept open for it; ``False`` (nothing written) when the table is missing,
        has geometry or lacks a column, so the general path creates or widens it.

        Why: every audited read of the service commits one such transaction before its
        response. The general path opens a connection, reads the metadata through the
        workspace protocol and converts the frame for a side file it then does not need:
        about 75 ms a record on the ``--scale 8`` county, against about 5 ms for this one
        (one ``INSERT``, the table's version counter, ``COMMIT`` synced as in
        :meth:`_transaction`). Its durability and atomicity are the same: ``BEGIN
        IMMEDIATE``, ``synchronous = FULL``, ``COMMIT`` before returning.
        """
        with self._appender_lock:
            con = self._appender_connection()
            try:
                con.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StoreError(
                    f"{self.path.name} is busy with another write (waited "
                    f"{BUSY_TIMEOUT_S:g} s): {exc}; try again") from exc
            try:
                cols = {c for c, _, _ in _columns(con, name)}
                if (not cols or _geometry_column(con, name) is not None
                        or any(str(c) not in cols for c in frame.columns)):
                    con.execute("ROLLBACK")
                    return False
                con.execute(_META_DDL)
                key = TABLE_VERSION_PREFIX + name
                row = con.execute("SELECT value FROM gisgov_meta WHERE key = ?",
                                  (key,)).fetchone()
                con.execute("INSERT OR REPLACE INTO gisgov_meta VALUES (?, ?)",
                            (key, next_table_version(row[0] if row else None, True)))
                rows = _text_rows(frame)
                if rows is None:
                    _insert_rows(con, name, _prepare(name, frame))
                elif rows:
                    _insert_values(con, name, [str(c) for c in frame.columns], rows)
                con.execute("COMMIT")
            except BaseException as exc:
                with suppress(sqlite3.Error):
                    if con.in_transaction:
                        con.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"cannot write {name} to {self.path.name}: {exc}") from exc
                raise
        return True

    def _appender_connection(self) -> sqlite3.Connection:
        """The connection :meth:`_append` writes through (under its lock), reopened when
        the file was replaced (a restore)."""
        con, inode = _still_open(self.path, self._appender, self._appender_inode)
        if con is None:
            con = _open(self.path)
            con.execute("PRAGMA synchronous = FULL")  # as _transaction: power-cut safe
            self._appender, self._appender_inode = con, inode
        return con

    # ---- writes (only inside a transaction) ---------------------------------------------------
    def _require_tx(self) -> sqlite3.Connection:
        if self._con is None:
            raise StoreError("internal: GeoPackage writes must run inside a transaction")
        return self._con

    def _write_frame(self, name: str, frame: pd.DataFrame, *, mode: WriteMode) -> None:
        con = self._require_tx()
        data = _prepare(name, frame)
        exists = _table_exists(con, name)
        # A savepoint per write: a write that fails half-way is undone on its own, even when
        # the caller catches the error and goes on with the transaction.
        con.execute("SAVEPOINT gisgov_write")
        try:
            if (mode == "append" and exists and not isinstance(data, gpd.GeoDataFrame)
                    and _geometry_column(con, name) is None):
                _insert_rows(con, name, data)
            else:
                side = self._side_path()
                try:
                    _write_side(side, name, data)
                    with closing(sqlite3.connect(side)) as src:
                        if mode == "append" and exists:
                            _append_from(con, src, name)
                        else:
                            if exists:
                                _drop(con, name)
                            _create_from(con, src, name, _attach(con, side))
                finally:
                    _forget_side(side)
        except BaseException as exc:
            # (SQLite may already have rolled the whole transaction back, e.g. disk full.)
            with suppress(sqlite3.Error):
                con.execute("ROLLBACK TO gisgov_write")
                con.execute("RELEASE gisgov_write")
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"cannot write {name} to {self.path.name}: {exc}") from exc
            raise
        con.execute("RELEASE gisgov_write")

    def _drop_table(self, name: str) -> None:
        _drop(self._require_tx(), name)

    def _delete_rows(self, name: str, key: str, values: list[str]) -> None:
        # The GeoPackage's own delete triggers keep the R-tree in step.
        con = self._require_tx()
        con.execute(f"DELETE FROM {_quote_ident(name)} WHERE {_quote_ident(key)} IN "
                    "(SELECT value FROM json_each(?))",
                    (json.dumps(values, ensure_ascii=False),))

    def _meta_put(self, key: str, value: str) -> None:
        con = self._require_tx()
        con.execute(_META_DDL)
        con.execute("INSERT OR REPLACE INTO gisgov_meta VALUES (?, ?)", (key, value))

    @contextmanager
    def _transaction(self) -> Iterator[WorkspaceBase]:
        try:
            con = _connect(self.path)
        except sqlite3.Error as exc:  # pragma: no cover - disk errors
            raise StoreError(f"cannot open {self.path.name}: {exc}") from exc
        try:
            # FULL: the WAL is synced at every commit, so a committed audit record or job
            # state survives a power cut, not only a crash of the process.
            con.execute("PRAGMA synchronous = FULL")
            con.execute("BEGIN IMMEDIATE")  # the writer lock: one writer at a time
        except sqlite3.OperationalError as exc:
            con.close()
            raise StoreError(
                f"{self.path.name} is busy with another write (waited {BUSY_TIMEOUT_S:g} s): "
                f"{exc}; try again"
            ) from exc
        try:
            yield GeoPackageWorkspace._bound(self, con)
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
        finally:
            con.close()


# ---- writing helpers -----------------------------------------------------------------------
def _prepare(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as it is stored: declared geometry, storage CRS, no pandas NA types."""
    if isinstance(frame, gpd.GeoDataFrame):
        spec = LAYERS.get(name)
        if spec is not None and not spec.has_geometry:
            frame = pd.DataFrame(frame.drop(columns=frame.geometry.name))
        elif frame.crs is None:
            frame = frame.set_crs(STORAGE_CRS)
    return _sqlite_friendly(frame)


def _write_side(path: Path, name: str, frame: pd.DataFrame) -> None:
    """Write one table into a (new) side GeoPackage with pyogrio."""
    # promote_to_multi=False: pyogrio would otherwise turn every Polygon of a layer holding
    # both Polygon and MultiPolygon into a MultiPolygon, and reads would not return what
    # was written.
    kwargs: dict[str, Any] = {"layer": name, "driver": "GPKG", "promote_to_multi": False}
    if isinstance(frame, gpd.GeoDataFrame):
        spec = LAYERS.get(name)
        types = spec.geometry_types if spec else ()
        kwargs["geometry_type"] = types[0] if len(types) == 1 else "Unknown"
    try:
        pyogrio.write_dataframe(frame, path, **kwargs)
    except Exception as exc:
        raise StoreError(f"cannot write {name}: {exc}") from exc


def _forget_side(path: Path) -> None:
    for extra in ("", "-journal", "-wal", "-shm"):
        with suppress(FileNotFoundError):
            Path(f"{path}{extra}").unlink()
    with _SIDES_LOCK:
        _SIDES_IN_USE.discard(str(path))


def _in_use(path: Path) -> bool:
    """Whether another process holds ``path`` open in a transaction (SQLite's own locks)."""
    try:
        with closing(sqlite3.connect(path, timeout=0, isolation_level=None)) as con:
            con.execute("BEGIN EXCLUSIVE")
            con.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        return "locked" in str(exc) or "busy" in str(exc)
    except sqlite3.DatabaseError:
        return False  # a half-written file: not a database, certainly an orphan
    return False


def _drop(con: sqlite3.Connection, name: str) -> None:
    """Drop a table with its R-tree, triggers and every GeoPackage metadata row."""
    geom = _geometry_column(con, name)
    con.execute(f"DROP TABLE IF EXISTS {_quote_ident(name)}")
    if geom:
        con.execute(f"DROP TABLE IF EXISTS {_quote_ident(f'rtree_{name}_{geom}')}")
    for table in _GPKG_META_TABLES:
        if _table_exists(con, table):
            con.execute(f"DELETE FROM {table} WHERE table_name = ?", (name,))


#: Side files attached to one write connection at most (SQLite allows 10 databases).
_MAX_ATTACHED = 8


def _attach(con: sqlite3.Connection, side: Path) -> str | None:
    """Attach the side file to the write connection, so its rows are copied by SQLite
    itself (``INSERT … SELECT``) instead of passing through Python one tuple at a time:
    for 170,000 assignment lines a fifth of the time. ``None`` (stream the rows) when
    enough files are attached already or off POSIX: a database attached inside a
    transaction stays attached until the connection closes, after the side file is
    unlinked, which only POSIX allows while the file is open."""
    if os.name != "posix":
        return None  # pragma: no cover - POSIX in CI
    attached = con.execute("PRAGMA database_list").fetchall()
    if len(attached) >= _MAX_ATTACHED:
        return None
    alias = f"gisgov_side_{len(attached)}_{os.getpid()}"
    try:
        con.execute(f"ATTACH DATABASE ? AS {_quote_ident(alias)}", (str(side),))
    except sqlite3.OperationalError:
        return None
    return alias


def _create_from(con: sqlite3.Connection, src: sqlite3.Connection, name: str,
                 alias: str | None = None) -> None:
    """Recreate table ``name`` of the side file in the main file, data before triggers
    (rows copied inside SQLite when the side file is attached as ``alias``)."""
    objects = src.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL",
        (name,),
    ).fetchall()
    table_sql = next(sql for kind, obj, sql in objects if kind == "table" and obj == name)
    con.execute(table_sql)
    cols = [c for c, _, _ in _columns(src, name)]
    if alias is not None and cols:
        listed = ", ".join(_quote_ident(c) for c in cols)
        con.execute(f"INSERT INTO main.{_quote_ident(name)} ({listed}) "
                    f"SELECT {listed} FROM {_quote_ident(alias)}.{_quote_ident(name)}")
    else:
        _stream(con, src, name, cols, cols)
    geom = _geometry_column(src, name)
    if geom:
        rtree = f"rtree_{name}_{geom}"
        row = src.execute("SELECT sql FROM sqlite_master WHERE name = ?", (rtree,)).fetchone()
        if row is not None:
            con.execute(row[0])
            _copy_rtree(con, src, rtree, alias)
    for table in _GPKG_META_TABLES:
        _copy_meta_rows(con, src, table, name)
    _copy_srs(con, src, name)
    for kind, _, sql in objects:
        if kind in ("index", "trigger"):
            con.execute(sql)
    spec = LAYERS.get(name)
    if spec is not None:
        # Pages are ordered and keyset-paged by the layer's key (gisgov.store._features).
        con.execute(f"CREATE INDEX IF NOT EXISTS {_quote_ident(f'idx_{name}_{spec.key}')} "
                    f"ON {_quote_ident(name)} ({_quote_ident(spec.key)})")


def _copy_rtree(con: sqlite3.Connection, src: sqlite3.Connection, rtree: str,
                alias: str | None = None) -> None:
    """Fill the new R-tree from the side file's, already built by GDAL's bulk loader.

    Inserting 190,000 entries one by one rebalances the tree all the time (~10 s); with the
    same page size (hence the same node size) the side file's three shadow tables are the
    finished tree and are copied as they are (~0.3 s).
    """
    same_pages = (con.execute("PRAGMA main.page_size").fetchone()[0]
                  == src.execute("PRAGMA page_size").fetchone()[0])
    if same_pages:
        for suffix in ("node", "rowid", "parent"):
            shadow = _quote_ident(f"{rtree}_{suffix}")
            con.execute(f"DELETE FROM main.{shadow}")
            if alias is not None:
                con.execute(f"INSERT INTO main.{shadow} SELECT * FROM "
                            f"{_quote_ident(alias)}.{shadow}")
                continue
            cur = src.execute(f"SELECT * FROM {shadow}")
            width = len(cur.description)
            con.executemany(f"INSERT INTO {shadow} VALUES ({', '.join('?' * width)})", cur)
        return
    con.executemany(  # pragma: no cover - GDAL and gisgov both use 4096-byte pages
        f"INSERT INTO {_quote_ident(rtree)} VALUES (?, ?, ?, ?, ?)",
        src.execute(f"SELECT id, minx, maxx, miny, maxy FROM {_quote_ident(rtree)}"),
    )


def _append_from(con: sqlite3.Connection, src: sqlite3.Connection, name: str) -> None:
    """Append the side file's rows to the existing table (the triggers keep the R-tree)."""
    main_cols = {c: t for c, t, _ in _columns(con, name)}
    src_cols = [(c, t) for c, t, is_pk in _columns(src, name) if not is_pk]
    g_src, g_main = _geometry_column(src, name), _geometry_column(con, name)
    targets = []
    for col, decl in src_cols:
        target = g_main if (col == g_src and g_main) else col
        if target not in main_cols:
            con.execute(f"ALTER TABLE {_quote_ident(name)} ADD COLUMN "
                        f"{_quote_ident(target)} {decl or 'TEXT'}")
            main_cols[target] = decl
        targets.append(target)
    if not (g_src and g_main and _append_with_rtree(con, src, name, src_cols, targets,
                                                      g_src, g_main)):
        _stream(con, src, name, [c for c, _ in src_cols], targets)
    if g_src and g_main:
        ext = src.execute("SELECT min_x, min_y, max_x, max_y FROM gpkg_contents "
                          "WHERE table_name = ?", (name,)).fetchone()
        if ext is not None and ext[0] is not None:
            con.execute(
                "UPDATE gpkg_contents SET min_x = min(coalesce(min_x, ?), ?), "
                "min_y = min(coalesce(min_y, ?), ?), max_x = max(coalesce(max_x, ?), ?), "
                "max_y = max(coalesce(max_y, ?), ?) WHERE table_name = ?",
                (ext[0], ext[0], ext[1], ext[1], ext[2], ext[2], ext[3], ext[3], name),
            )
    con.execute("UPDATE gpkg_contents SET last_change = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
                "WHERE table_name = ?", (name,))


def _append_with_rtree(con: sqlite3.Connection, src: sqlite3.Connection, name: str,
                       src_cols: Sequence[tuple[str, str]], targets: Sequence[str],
                       g_src: str, g_main: str) -> bool:
    """Append rows and their R-tree entries in bulk; ``False`` when the layout does not allow.

    Appending through GeoPackage's R-tree triggers costs five Python calls per row (the
    bounds functions of :class:`_Bounds`), most of an append's time. The side file's R-tree
    already holds every new row's box (GDAL built it), so the triggers are set aside, the rows
    go in with their feature ids shifted past the table's last one, the boxes are copied with
    the same shift and the triggers are put back — all inside the write's savepoint.
    """
    main_pk = [c for c, _, is_pk in _columns(con, name) if is_pk]
    src_pk = [c for c, _, is_pk in _columns(src, name) if is_pk]
    rtree, src_rtree = f"rtree_{name}_{g_main}", f"rtree_{name}_{g_src}"
    if len(main_pk) != 1 or len(src_pk) != 1 or not (
            _table_exists(con, rtree) and _table_exists(src, src_rtree)):
        return False
    triggers = con.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? "
        "AND name LIKE ?", (name, f"{rtree}%")).fetchall()
    base = int(con.execute(f"SELECT coalesce(max({_quote_ident(main_pk[0])}), 0) "
                           f"FROM {_quote_ident(name)}").fetchone()[0])
    for trigger, _ in triggers:
        con.execute(f"DROP TRIGGER {_quote_ident(trigger)}")
    cols = [src_pk[0], *(c for c, _ in src_cols)]
    cursor = src.execute(f"SELECT {', '.join(_quote_ident(c) for c in cols)} "
                         f"FROM {_quote_ident(name)}")
    con.executemany(
        f"INSERT INTO {_quote_ident(name)} "
        f"({', '.join(_quote_ident(c) for c in [main_pk[0], *targets])}) "
        f"VALUES ({', '.join('?' * len(cols))})",
        ((row[0] + base, *row[1:]) for row in cursor))
    con.executemany(
        f"INSERT INTO {_quote_ident(rtree)} VALUES (?, ?, ?, ?, ?)",
        ((i + base, x0, x1, y0, y1) for i, x0, x1, y0, y1 in src.execute(
            f"SELECT id, minx, maxx, miny, maxy FROM {_quote_ident(src_rtree)}")))
    for _, sql in triggers:
        con.execute(sql)
    return True


def _stream(con: sqlite3.Connection, src: sqlite3.Connection, name: str,
            src_cols: Sequence[str], targets: Sequence[str]) -> None:
    """Move rows from the side file to the main file without holding them all in memory."""
    if not src_cols:
        return
    cursor = src.execute(
        f"SELECT {', '.join(_quote_ident(c) for c in src_cols)} FROM {_quote_ident(name)}"
    )
    con.executemany(
        f"INSERT INTO {_quote_ident(name)} ({', '.join(_quote_ident(c) for c in targets)}) "
        f"VALUES ({', '.join('?' * len(targets))})",
        cursor,
    )


def _copy_meta_rows(con: sqlite3.Connection, src: sqlite3.Connection, table: str,
                    name: str) -> None:
    if not _table_exists(src, table):
        return
    if not _table_exists(con, table):
        row = src.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()
        con.execute(row[0])
    cur = src.execute(f"SELECT * FROM {table} WHERE table_name = ?", (name,))
    cols = [d[0] for d in cur.description]
    rows = cur.fetchall()
    if rows:
        con.executemany(
            f"INSERT OR REPLACE INTO {table} ({', '.join(_quote_ident(c) for c in cols)}) "
            f"VALUES ({', '.join('?' * len(cols))})",
            rows,
        )


def _copy_srs(con: sqlite3.Connection, src: sqlite3.Connection, name: str) -> None:
    """Make sure the main file knows the side table's spatial reference system."""
    row = src.execute("SELECT srs_id FROM gpkg_contents WHERE table_name = ?", (name,)).fetchone()
    if row is None or row[0] is None:
        return
    srs = src.execute("SELECT * FROM gpkg_spatial_ref_sys WHERE srs_id = ?", (row[0],)).fetchone()
    if srs is None:
        return
    cur = con.execute("SELECT organization, organization_coordsys_id FROM gpkg_spatial_ref_sys "
                      "WHERE srs_id = ?", (row[0],)).fetchone()
    if cur is None:
        con.execute(f"INSERT INTO gpkg_spatial_ref_sys VALUES ({', '.join('?' * len(srs))})",
                    srs)
    elif (str(cur[0]).upper(), int(cur[1])) != (str(srs[2]).upper(), int(srs[3])):
        raise StoreError(f"table {name}: its CRS ({srs[2]}:{srs[3]}) clashes with srs_id "
                         f"{row[0]} of the workspace ({cur[0]}:{cur[1]}); use an EPSG CRS")


def _insert_rows(con: sqlite3.Connection, name: str, frame: pd.DataFrame) -> None:
    """Append rows of an attribute-only table with bound ``INSERT``s (no side file)."""
    frame = frame.reset_index(drop=True)
    existing = {c for c, _, _ in _columns(con, name)}
    for col in frame.columns:
        if str(col) not in existing:
            con.execute(f"ALTER TABLE {_quote_ident(name)} ADD COLUMN "
                        f"{_quote_ident(str(col))} {_sqlite_type(frame[col])}")
    if not len(frame) or not len(frame.columns):
        return
    values = [_column_values(frame[c]) for c in frame.columns]
    _insert_values(con, name, [str(c) for c in frame.columns], zip(*values, strict=True))


def _insert_values(con: sqlite3.Connection, name: str, columns: Sequence[str],
                   rows: Iterable[Sequence[Any]]) -> None:
    """Bound ``INSERT``s of rows already in SQLite's types, and the table's change time."""
    con.executemany(
        f"INSERT INTO {_quote_ident(name)} ({', '.join(_quote_ident(c) for c in columns)}) "
        f"VALUES ({', '.join('?' * len(columns))})", rows)
    con.execute("UPDATE gpkg_contents SET last_change = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
                "WHERE table_name = ?", (name,))


def _text_rows(frame: pd.DataFrame) -> list[tuple[str | None, ...]] | None:
    """The rows of a frame of text columns as tuples of ``str``/``None`` (what an audit
    record is), without pandas' per-column conversions; ``None`` for any other frame."""
    if not all(pd.api.types.is_string_dtype(t) for t in frame.dtypes):
        return None
    rows = []
    for row in frame.itertuples(index=False, name=None):
        out = []
        for v in row:
            if v is None or isinstance(v, str):
                out.append(v)
            elif v is pd.NA or (isinstance(v, float) and math.isnan(v)):
                out.append(None)
            else:
                return None
        rows.append(tuple(out))
    return rows


def _sqlite_type(series: pd.Series) -> str:
    """The GeoPackage column type GDAL would declare for this pandas column."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "BOOLEAN"
    if pd.api.types.is_integer_dtype(dtype):
        return "INTEGER"
    if pd.api.types.is_float_dtype(dtype):
        return "REAL"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "DATETIME"
    return "TEXT"


def _column_values(series: pd.Series) -> list[Any]:
    """Column values as SQLite stores them (as GDAL would: booleans 0/1, ISO datetimes)."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        out: list[Any] = []
        for v in series:
            if pd.isna(v):
                out.append(None)
            elif v.tzinfo is not None:
                out.append(v.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z")
            else:
                out.append(v.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3])
        return out
    values = series.astype(object).where(series.notna(), None).tolist()
    result: list[Any] = []
    for v in values:
        v = _bind_value(v)
        if isinstance(v, float) and not math.isfinite(v):
            v = None
        elif isinstance(v, (dict, list)):
            v = json.dumps(v, ensure_ascii=False)
        result.append(v)
    return result


def _frame(shown: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]], geom: str | None,
           crs: Any) -> gpd.GeoDataFrame | pd.DataFrame:
    """Build a frame from SQLite rows with the dtypes pyogrio gives the same table."""
    data: dict[str, Any] = {}
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in shown]
    geometry = None
    for (col, decl), vals in zip(shown, columns, strict=True):
        if col == geom:
            blobs = np.array([None if b is None else _wkb_body(b) for b in vals], dtype=object)
            geometry = shapely.from_wkb(blobs) if len(blobs) else np.array([], dtype=object)
            continue
        data[col] = _typed(decl, vals)
    frame = pd.DataFrame(data, columns=[c for c, _ in shown if c != geom],
                         index=pd.RangeIndex(len(rows)))
    if geom is None:
        return frame
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geometry, crs=crs,
                                                          index=frame.index), crs=crs)


def _typed(decl: str, vals: Sequence[Any]) -> Any:
    base = decl.split("(")[0].strip()
    has_null = None in vals  # in C: (v is None or v == None) is only true for None
    try:
        if base in _INT_TYPES or base == "BOOLEAN":
            if has_null:
                return np.array([np.nan if v is None else v for v in vals], dtype=np.float64)
            return np.array(vals, dtype=bool if base == "BOOLEAN" else np.int64)
        if base in _REAL_TYPES:
            return np.array([np.nan if v is None else v for v in vals], dtype=np.float64)
        if base in ("DATETIME", "DATE"):
            return pd.to_datetime(pd.Series(vals, dtype=object), format="ISO8601").array
    except (TypeError, ValueError, OverflowError):
        pass  # SQLite stores any value in any column: fall back to the values as they are
    return np.array(vals, dtype=object)


def _sqlite_friendly(frame: pd.DataFrame) -> pd.DataFrame:
    """Make nullable extension types writable (GDAL has no pandas NA)."""
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if col == getattr(out, "_geometry_column_name", None):
            continue
        if isinstance(s.dtype, pd.BooleanDtype):
            if s.isna().any():
                out[col] = s.astype("Int64").astype("float64")
            else:
                out[col] = s.astype(bool)
        elif isinstance(s.dtype, pd.Int64Dtype) and s.isna().any():
            out[col] = s.astype("float64")
        elif isinstance(s.dtype, pd.Int64Dtype):
            out[col] = s.astype("int64")
    return out
