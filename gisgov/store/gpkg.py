"""The embedded default store: one GeoPackage file (no server; opens in QGIS).

Atomicity comes from copy-on-write: a transaction writes into a temporary copy beside the
file and renames it over the original on success (``os.replace`` is atomic on POSIX), so a
failed import or a crash mid-write leaves the workspace exactly as before. An advisory lock
file serialises writers; readers keep reading the last committed file.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from gisgov.errors import NotFoundError, StoreError
from gisgov.layers import LAYERS, STORAGE_CRS
from gisgov.store._base import BBox, WorkspaceBase, WriteMode

__all__ = ["GeoPackageWorkspace"]

_META_DDL = "CREATE TABLE IF NOT EXISTS gisgov_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, (int, float, np.integer, np.floating)):
        return repr(value.item() if hasattr(value, "item") else value)
    return "'" + str(value).replace("'", "''") + "'"


def where_sql(where: Mapping[str, Any] | None) -> str:
    """Translate equality filters into an SQL condition (values quoted, never interpolated raw)."""
    if not where:
        return ""
    parts = []
    for col, val in where.items():
        if isinstance(val, (list, tuple, set, frozenset)):
            vals = list(val)
            if not vals:
                parts.append("0")
                continue
            parts.append(f"{_quote_ident(col)} IN ({', '.join(_sql_literal(v) for v in vals)})")
        elif val is None:
            parts.append(f"{_quote_ident(col)} IS NULL")
        else:
            parts.append(f"{_quote_ident(col)} = {_sql_literal(val)}")
    return " AND ".join(parts)


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

    def __init__(self, path: str | os.PathLike[str], *, create: bool = False,
                 _in_transaction: bool = False) -> None:
        self.path = Path(path)
        self.url = str(self.path)
        self._in_tx = _in_transaction
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

    # ---- creation ---------------------------------------------------------------------
    def _create(self) -> None:
        from gisgov.layers import empty_layer

        tmp = self._temp_path()
        try:
            for name in LAYERS:
                _write_gpkg(tmp, name, empty_layer(name), mode="replace")
            with closing(sqlite3.connect(tmp)) as con:
                con.execute(_META_DDL)
                con.execute("INSERT OR REPLACE INTO gisgov_meta VALUES ('version', '0')")
                con.commit()
            os.replace(tmp, self.path)
        finally:
            if tmp.exists():
                tmp.unlink()

    def _temp_path(self) -> Path:
        fd, name = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp.gpkg",
                                    dir=self.path.parent)
        os.close(fd)
        os.unlink(name)
        return Path(name)

    # ---- sqlite helpers ---------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        try:
            return sqlite3.connect(self.path)
        except sqlite3.Error as exc:  # pragma: no cover - disk errors
            raise StoreError(f"cannot open {self.path}: {exc}") from exc

    def ping(self) -> None:
        """Check that the file is a readable GeoPackage."""
        try:
            with closing(self._connect()) as con:
                con.execute("SELECT count(*) FROM gpkg_contents").fetchone()
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path} is not a readable GeoPackage: {exc}") from exc

    def _list_tables(self) -> list[str]:
        with closing(self._connect()) as con:
            try:
                rows = con.execute("SELECT table_name FROM gpkg_contents").fetchall()
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"{self.path} is not a GeoPackage: {exc}") from exc
        return [r[0] for r in rows]

    def _has_table(self, name: str) -> bool:
        return name in self._list_tables()

    def _geometry_column(self, con: sqlite3.Connection, name: str) -> str | None:
        row = con.execute(
            "SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (name,)
        ).fetchone()
        return None if row is None else str(row[0])

    def _bbox_sql(self, con: sqlite3.Connection, name: str, bbox: BBox | None) -> str:
        if bbox is None:
            return ""
        geom = self._geometry_column(con, name)
        if geom is None:
            return "0"
        rtree = f"rtree_{name}_{geom}"
        exists = con.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (rtree,)
        ).fetchone()
        minx, miny, maxx, maxy = (float(v) for v in bbox)
        if exists:
            return (
                f"fid IN (SELECT id FROM {_quote_ident(rtree)} WHERE maxx >= {minx} AND "
                f"minx <= {maxx} AND maxy >= {miny} AND miny <= {maxy})"
            )
        return (
            f"ST_MaxX({_quote_ident(geom)}) >= {minx} AND ST_MinX({_quote_ident(geom)}) <= "
            f"{maxx} AND ST_MaxY({_quote_ident(geom)}) >= {miny} AND "
            f"ST_MinY({_quote_ident(geom)}) <= {maxy}"
        )

    def _read_frame(
        self,
        name: str,
        *,
        bbox: BBox | None = None,
        where: Mapping[str, Any] | None = None,
        limit: int | None = None,
        offset: int = 0,
        order_by: str | None = None,
    ) -> gpd.GeoDataFrame | pd.DataFrame:
        with closing(self._connect()) as con:
            conds = [c for c in (where_sql(where), self._bbox_sql(con, name, bbox)) if c]
            has_geom = self._geometry_column(con, name) is not None
        sql = f"SELECT * FROM {_quote_ident(name)}"
        if conds:
            sql += " WHERE " + " AND ".join(conds)
        if order_by:
            sql += f" ORDER BY {_quote_ident(order_by)}"
        # With a bbox the R-tree only yields candidates; paging must wait for the exact test.
        page_in_sql = bbox is None
        if page_in_sql and (limit is not None or offset):
            sql += f" LIMIT {int(limit) if limit is not None else -1} OFFSET {int(offset)}"
        try:
            frame = pyogrio.read_dataframe(self.path, sql=sql, sql_dialect="SQLITE",
                                           read_geometry=has_geom)
        except Exception as exc:
            raise StoreError(f"cannot read {name} from {self.path}: {exc}") from exc
        if isinstance(frame, gpd.GeoDataFrame):
            if frame.crs is None:
                frame = frame.set_crs(STORAGE_CRS)
            if bbox is not None and len(frame):
                box = shapely.box(*bbox)
                frame = frame[frame.geometry.intersects(box).to_numpy()]
        if not page_in_sql and (limit is not None or offset):
            stop = None if limit is None else int(offset) + int(limit)
            frame = frame.iloc[int(offset):stop]
        return frame

    def _count(self, name: str, *, bbox: BBox | None = None,
               where: Mapping[str, Any] | None = None) -> int:
        if bbox is not None:
            return len(self._read_frame(name, bbox=bbox, where=where))
        with closing(self._connect()) as con:
            sql = f"SELECT COUNT(*) FROM {_quote_ident(name)}"
            cond = where_sql(where)
            if cond:
                sql += " WHERE " + cond
            return int(con.execute(sql).fetchone()[0])

    def _meta_items(self) -> dict[str, str]:
        with closing(self._connect()) as con:
            con.execute(_META_DDL)
            return dict(con.execute("SELECT key, value FROM gisgov_meta").fetchall())

    # ---- writes (only inside a transaction: self.path is then the temporary copy) --------
    def _require_tx(self) -> None:
        if not self._in_tx:
            raise StoreError("internal: GeoPackage writes must run inside a transaction")

    def _write_frame(self, name: str, frame: pd.DataFrame, *, mode: WriteMode) -> None:
        self._require_tx()
        _write_gpkg(self.path, name, frame, mode=mode)

    def _drop_table(self, name: str) -> None:
        self._require_tx()
        with closing(self._connect()) as con:
            geom = self._geometry_column(con, name)
            con.execute(f"DROP TABLE IF EXISTS {_quote_ident(name)}")
            if geom:
                con.execute(f"DROP TABLE IF EXISTS {_quote_ident(f'rtree_{name}_{geom}')}")
            for t in ("gpkg_contents", "gpkg_geometry_columns"):
                con.execute(f"DELETE FROM {t} WHERE table_name = ?", (name,))
            con.execute("DELETE FROM gpkg_extensions WHERE table_name = ?", (name,))
            con.commit()

    def _meta_put(self, key: str, value: str) -> None:
        self._require_tx()
        with closing(self._connect()) as con:
            con.execute(_META_DDL)
            con.execute("INSERT OR REPLACE INTO gisgov_meta VALUES (?, ?)", (key, value))
            con.commit()

    @contextmanager
    def _transaction(self) -> Iterator[WorkspaceBase]:
        lock_path = self.path.with_name(f".{self.path.name}.lock")
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            tmp = self._temp_path()
            try:
                shutil.copy2(self.path, tmp)
                yield GeoPackageWorkspace(tmp, _in_transaction=True)
                os.replace(tmp, self.path)
            finally:
                if tmp.exists():
                    tmp.unlink()
                fcntl.flock(lock, fcntl.LOCK_UN)


def _write_gpkg(path: Path, name: str, frame: pd.DataFrame, *, mode: WriteMode) -> None:
    """Write one table with pyogrio, keeping the declared geometry type."""
    append = mode == "append" and path.exists() and name in _layer_names(path)
    # promote_to_multi=False: pyogrio would otherwise turn every Polygon of a layer holding
    # both Polygon and MultiPolygon into a MultiPolygon, and reads would not return what
    # was written.
    kwargs: dict[str, Any] = {"layer": name, "driver": "GPKG", "append": append,
                              "promote_to_multi": False}
    if isinstance(frame, gpd.GeoDataFrame):
        spec = LAYERS.get(name)
        types = spec.geometry_types if spec else ()
        kwargs["geometry_type"] = types[0] if len(types) == 1 else "Unknown"
        if spec is not None and not spec.has_geometry:
            frame = pd.DataFrame(frame.drop(columns=frame.geometry.name))
            kwargs.pop("geometry_type")
        elif frame.crs is None:
            frame = frame.set_crs(STORAGE_CRS)
    frame = _sqlite_friendly(frame)
    try:
        pyogrio.write_dataframe(frame, path, **kwargs)
    except Exception as exc:
        raise StoreError(f"cannot write {name} to {path}: {exc}") from exc


def _layer_names(path: Path) -> list[str]:
    return [str(n) for n in pyogrio.list_layers(path)[:, 0]]


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
