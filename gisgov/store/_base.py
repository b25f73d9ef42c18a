"""Shared behaviour of both stores: validation on write, meta, versions, filters."""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from gisgov.errors import ConflictError, NotFoundError, ValidationError
from gisgov.layers import LAYERS, STORAGE_CRS, Problem, conform, empty_layer, validate_layer
from gisgov.store._features import FeaturePage, FeatureQuery, TableInfo

__all__ = ["BBox", "WorkspaceBase", "WriteMode", "check_filters"]

BBox = tuple[float, float, float, float]
WriteMode = Literal["replace", "append"]

#: Tables the store keeps for itself; never listed as user tables.
INTERNAL_TABLES = frozenset({"gisgov_meta"})

#: Meta keys ``table_version:<name>`` hold each table's version (see ``table_version``).
TABLE_VERSION_PREFIX = "table_version:"

_INT64 = 2**63 - 1


class WorkspaceBase(ABC):
    """Everything a store does the same way; subclasses supply the primitives.

    A workspace holds the schema layers (``gisgov.layers.LAYERS``), the product's own
    tables (scenarios, history, audit, API keys, …) and a small key/value meta table.
    Every committed write bumps ``version`` so caches (lookup index, rendered maps) know
    when to refresh. Each table also has its own counter, :meth:`table_version`, bumped by
    every write to it inside the writing transaction; writes take ``if_version=`` so a
    read-modify-write refuses (:class:`~gisgov.errors.ConflictError`) to overwrite a change
    made after its read instead of silently losing it.
    """

    url: str
    kind: str
    #: True on the object yielded inside a transaction; nested transactions join it.
    _in_tx: bool = False

    # ---- primitives -------------------------------------------------------------------
    @abstractmethod
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
    ) -> gpd.GeoDataFrame | pd.DataFrame: ...

    @abstractmethod
    def _write_frame(self, name: str, frame: pd.DataFrame, *, mode: WriteMode) -> None: ...

    @abstractmethod
    def _has_table(self, name: str) -> bool: ...

    @abstractmethod
    def _delete_rows(self, name: str, key: str, values: list[str]) -> None:
        """Inside a transaction: delete the rows whose column ``key`` is one of ``values``."""

    @abstractmethod
    def _list_tables(self) -> list[str]: ...

    @abstractmethod
    def _drop_table(self, name: str) -> None: ...

    @abstractmethod
    def _count(self, name: str, *, bbox: BBox | None = None,
               where: Mapping[str, Any] | None = None) -> int: ...

    @abstractmethod
    def _meta_items(self) -> dict[str, str]: ...

    @abstractmethod
    def _describe(self, name: str) -> TableInfo: ...

    @abstractmethod
    def _features(self, query: FeatureQuery, info: TableInfo) -> FeaturePage: ...

    @abstractmethod
    def _meta_put(self, key: str, value: str) -> None: ...

    @abstractmethod
    @contextmanager
    def _transaction(self) -> Iterator[WorkspaceBase]: ...

    @abstractmethod
    def ping(self) -> None:
        """Raise :class:`~gisgov.errors.StoreError` when the store is not reachable."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the default holds none."""

    # ---- layers -----------------------------------------------------------------------
    def layers(self) -> list[str]:
        """Schema layers present in the workspace, in schema order."""
        present = set(self._list_tables())
        return [n for n in LAYERS if n in present]

    def read(
        self,
        layer: str,
        *,
        bbox: BBox | None = None,
        where: Mapping[str, Any] | None = None,
        limit: int | None = None,
        offset: int = 0,
        columns: Sequence[str] | None = None,
    ) -> gpd.GeoDataFrame:
        """Read a schema layer as a GeoDataFrame in EPSG:4326.

        Parameters
        ----------
        layer
            A name from ``gisgov.layers.LAYERS``.
        bbox
            ``(minx, miny, maxx, maxy)`` in lon/lat; rows whose geometry intersects it.
        where
            Column equality filters, ``{"community_code": "410223001001"}``; a list value
            means "any of".
        limit, offset
            Paging in key order.
        columns
            Read only these attribute columns (``None``: all). The layer's key and required
            columns and the geometry always come along; nothing else is read or returned
            (a run that needs three columns of a city's households does not fetch and type
            its names, phones and addresses).

        Returns
        -------
        geopandas.GeoDataFrame
            Conformed to the schema; an empty, typed frame when the layer is absent.
        """
        spec = _spec(layer)
        check_filters(where=where, bbox=bbox, limit=limit, offset=offset)
        keep = _read_columns(layer, columns)
        if not self._has_table(layer):
            return _only(empty_layer(layer), keep)
        _check_columns(layer, where)
        frame = self._read_frame(
            layer, bbox=bbox, where=where, limit=limit, offset=offset, order_by=spec.key,
            columns=keep,
        )
        if not isinstance(frame, gpd.GeoDataFrame):
            frame = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([None] * len(frame)),
                                     crs=STORAGE_CRS)
        if frame.crs is None:
            frame = frame.set_crs(STORAGE_CRS)
        return _only(conform(layer, frame), keep)

    def count(self, layer: str, *, bbox: BBox | None = None,
              where: Mapping[str, Any] | None = None) -> int:
        """Number of rows of a layer or table (0 when absent)."""
        check_filters(where=where, bbox=bbox)
        if not self._has_table(layer):
            return 0
        return self._count(layer, bbox=bbox, where=where)

    def write(self, layer: str, gdf: gpd.GeoDataFrame, *, mode: WriteMode = "replace",
              if_version: int | None = None) -> None:
        """Validate and write a schema layer, atomically.

        Parameters
        ----------
        layer
            Layer name.
        gdf
            Data in EPSG:4326 (EPSG:4490 accepted as equivalent).
        mode
            ``replace`` the layer, or ``append`` rows (keys must stay unique).
        if_version
            The :meth:`table_version` the caller read the layer at; the write is refused
            when another write changed the layer since (optimistic concurrency).

        Raises
        ------
        ValidationError
            If the data breaks the schema; nothing is written then.
        ConflictError
            ``if_version`` is stale; nothing is written then.
        """
        if mode not in ("replace", "append"):
            raise ValidationError(f"mode must be 'replace' or 'append', not {mode!r}")
        data = conform(layer, gdf)
        problems = [p for p in validate_layer(layer, data) if p.severity == "error"]
        if problems:
            raise ValidationError(_summarise(problems), problems)
        with self.transaction() as tx:
            if mode == "append" and tx._has_table(layer) and len(data):
                # Checked inside the transaction: no other writer can add the key meanwhile.
                key = LAYERS[layer].key
                clash = tx._read_keys(layer, key) & set(data[key].astype(str))
                dup = [
                    Problem(layer, k, "key_duplicate",
                            f"{key} {k} already exists in the workspace; use --mode replace")
                    for k in sorted(clash)[:20]
                ]
                if dup:
                    raise ValidationError(_summarise(dup), dup)
            tx._bump_table_version(layer, if_version)
            tx._write_frame(layer, data, mode=mode)
            if data.geometry.notna().any() and tx.get_meta("working_crs") is None:
                tx.set_meta("working_crs", _working_crs_for(data).to_wkt())

    def update(self, layer: str, gdf: gpd.GeoDataFrame, *,
               if_version: int | None = None) -> None:
        """Replace existing rows of a schema layer, matched by key, atomically.

        The row-level write a workflow needs (an event moving through its loop) without
        rewriting the whole layer: the rows of ``gdf`` replace the stored rows with the same
        keys; every other row stays as it is.

        Parameters
        ----------
        layer
            Layer name.
        gdf
            The new rows, every one with a key that exists in the layer.
        if_version
            As in :meth:`write`: refuse when the layer changed since it was read.

        Raises
        ------
        ValidationError
            The rows break the schema; nothing is written then.
        NotFoundError
            A key is not in the layer; nothing is written then.
        ConflictError
            ``if_version`` is stale; nothing is written then.
        """
        data = conform(layer, gdf)
        problems = [p for p in validate_layer(layer, data) if p.severity == "error"]
        if problems:
            raise ValidationError(_summarise(problems), problems)
        key = LAYERS[layer].key
        keys = [str(k) for k in data[key].tolist()]
        with self.transaction() as tx:
            found = tx._count(layer, where={key: keys}) if tx._has_table(layer) else 0
            if found != len(set(keys)):
                present = tx._read_keys(layer, key) if tx._has_table(layer) else set()
                missing = sorted(set(keys) - present)
                raise NotFoundError(
                    f"{layer}: no row with {key} {', '.join(missing[:5])}; nothing was changed"
                )
            tx._bump_table_version(layer, if_version)
            tx._delete_rows(layer, key, keys)
            tx._write_frame(layer, data, mode="append")

    # ---- pages of features (the OGC items route) --------------------------------------
    def describe(self, name: str) -> TableInfo:
        """Columns and types, geometry column, spatial index, row count and extent of a layer
        or table: what :meth:`features` needs, read once per workspace version by callers."""
        if not self._has_table(name):
            raise NotFoundError(f"table {name!r} does not exist in {self.url}")
        return self._describe(name)

    def features(self, query: FeatureQuery, info: TableInfo) -> FeaturePage:
        """One page of features in ONE SQL statement (:mod:`gisgov.store._features`).

        Parameters
        ----------
        query
            The page: columns, policy predicate, filters, order, paging.
        info
            :meth:`describe` of ``query.table``.

        Raises
        ------
        ValidationError
            A filter value no store can take (NUL characters, non-finite numbers).
        """
        check_filters(where=query.equals, bbox=query.bbox, limit=query.limit,
                      offset=query.offset)
        if isinstance(query.after, str) and "\x00" in query.after:
            raise ValidationError("after: NUL characters are not allowed")
        return self._features(query, info)

    # ---- product tables ---------------------------------------------------------------
    def tables(self) -> list[str]:
        """Product tables (not schema layers, not internal) present in the workspace."""
        return sorted(
            t for t in self._list_tables() if t not in LAYERS and t not in INTERNAL_TABLES
        )

    def has_table(self, name: str) -> bool:
        """Whether a layer or table called ``name`` exists."""
        return self._has_table(name)

    def read_table(self, name: str, *, where: Mapping[str, Any] | None = None
                   ) -> gpd.GeoDataFrame | pd.DataFrame:
        """Read a product table (a GeoDataFrame when it has geometry)."""
        check_filters(where=where)
        if not self._has_table(name):
            raise NotFoundError(f"table {name!r} does not exist in {self.url}")
        return self._read_frame(name, where=where)

    def write_table(self, name: str, frame: pd.DataFrame, *, mode: WriteMode = "replace",
                    bump_version: bool = True, if_version: int | None = None) -> None:
        """Write a product table atomically (schema layers go through :meth:`write`).

        ``bump_version=False`` is for bookkeeping tables (audit log, jobs, API keys) whose
        rows change nothing a map or lookup shows, so caches keyed on :attr:`version` stay.
        The table's own :meth:`table_version` is bumped either way.

        ``if_version`` makes a read-modify-write safe: pass the :meth:`table_version` read
        *before* reading the table, and the write raises
        :class:`~gisgov.errors.ConflictError` (changing nothing) when another write changed
        the table in between; read again and retry.
        """
        if name in LAYERS:
            raise ValidationError(f"{name} is a schema layer; write it with write()")
        if not name.replace("_", "").isalnum() or not name[:1].isalpha():
            raise ValidationError(
                f"table name {name!r} must start with a letter and hold only letters, "
                "digits and _"
            )
        if isinstance(frame, gpd.GeoDataFrame) and frame.crs is None:
            raise ValidationError(f"table {name}: GeoDataFrame has no CRS")
        with self.transaction(bump_version=bump_version) as tx:
            tx._bump_table_version(name, if_version)
            tx._write_frame(name, frame, mode=mode)

    def drop_table(self, name: str) -> None:
        """Remove a product table or a layer (no error when absent)."""
        if self._has_table(name):
            with self.transaction() as tx:
                if tx._has_table(name):
                    tx._bump_table_version(name, None)
                    tx._drop_table(name)

    def table_version(self, name: str) -> int:
        """A counter that changes with every write to table or layer ``name``.

        0 while the table does not exist, at least 1 while it does; a drop and a re-creation
        move it on too, so a value once read is never seen again after a change. Read it
        *before* reading the table, then pass it as ``if_version`` to the write.
        """
        return _table_version(self._meta_items(), name, self._has_table(name))

    def _bump_table_version(self, name: str, if_version: int | None) -> None:
        """Inside a transaction: check ``if_version``, then move the table's counter on."""
        items = self._meta_items()
        present = self._has_table(name)
        current = _table_version(items, name, present)
        if if_version is not None and int(if_version) != current:
            raise ConflictError(
                f"table {name} changed since it was read (version {int(if_version)}, now "
                f"{current}); read it again and retry"
            )
        self._meta_put(TABLE_VERSION_PREFIX + name,
                       next_table_version(items.get(TABLE_VERSION_PREFIX + name), present))

    def _read_keys(self, name: str, key: str) -> set[str]:
        """The values of column ``key`` (stores may read just that column)."""
        frame = self._read_frame(name)
        return set(frame[key].dropna().astype(str))

    # ---- meta, versions, transactions ----------------------------------------------------
    def get_meta(self, key: str, default: Any = None) -> Any:
        """Read a JSON value from the workspace's meta table."""
        raw = self._meta_items().get(key)
        return default if raw is None else json.loads(raw)

    def set_meta(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable value in the meta table."""
        with self.transaction() as tx:
            tx._meta_put(key, json.dumps(value, ensure_ascii=False))

    def meta(self) -> dict[str, Any]:
        """All meta values (not the tables' version counters, which are the store's own)."""
        return {k: json.loads(v) for k, v in self._meta_items().items()
                if not k.startswith(TABLE_VERSION_PREFIX)}

    @property
    def version(self) -> int:
        """Counter bumped by every committed write."""
        return int(self.get_meta("version", 0))

    @contextmanager
    def transaction(self, *, bump_version: bool = True) -> Iterator[WorkspaceBase]:
        """All writes inside the block land together, or none does.

        Yields
        ------
        Workspace
            The workspace to write through inside the block; nested calls join the
            outer transaction.
        """
        if self._in_tx:
            yield self
            return
        with self._transaction() as tx:
            yield tx
            if not bump_version:
                return
            items = tx._meta_items()
            tx._meta_put("version", json.dumps(int(json.loads(items.get("version", "0"))) + 1))

    @property
    def working_crs(self) -> pyproj.CRS:
        """The metric CRS used for areas and distances, chosen once per workspace."""
        wkt = self.get_meta("working_crs")
        if wkt:
            return pyproj.CRS.from_wkt(wkt)
        for name in ("subdistricts", "communities", "streets", "buildings", "households"):
            if self._has_table(name) and self.count(name):
                crs = _working_crs_for(self.read(name))
                self.set_meta("working_crs", crs.to_wkt())
                return crs
        raise NotFoundError("the workspace holds no geometry yet; import a layer first")

    def bounds(self, layer: str) -> BBox | None:
        """Lon/lat bounds of a layer, or ``None`` when it is empty or has no geometry."""
        gdf = self.read(layer)
        geoms = gdf.geometry.dropna()
        if geoms.empty:
            return None
        b = geoms.total_bounds
        return (float(b[0]), float(b[1]), float(b[2]), float(b[3]))

    def info(self) -> dict[str, Any]:
        """Summary of the workspace: per layer count, CRS and bbox; tables; version."""
        out: dict[str, Any] = {"workspace": self.url, "store": self.kind, "layers": {}}
        for name in self.layers():
            n = self.count(name)
            bbox = self.bounds(name) if LAYERS[name].has_geometry and n else None
            out["layers"][name] = {
                "label": LAYERS[name].label_zh,
                "count": n,
                "crs": STORAGE_CRS,
                "bbox": list(bbox) if bbox else None,
            }
        out["tables"] = self.tables()
        out["version"] = self.version
        source = self.get_meta("source_crs")
        if source:
            out["source_crs"] = source
        wkt = self.get_meta("working_crs")
        if wkt:
            out["working_crs"] = pyproj.CRS.from_wkt(wkt).name
        return out

    def read_all(self) -> dict[str, gpd.GeoDataFrame]:
        """Every schema layer present, by name."""
        return {name: self.read(name) for name in self.layers()}

    def __enter__(self) -> WorkspaceBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"


def next_table_version(stored: str | None, present: bool) -> str:
    """The stored text of a table's counter after one more change: one past what a reader
    saw (at least 1 while the table exists, see :meth:`WorkspaceBase.table_version`).
    Shared by the general write path and the GeoPackage's kept-connection appends."""
    return json.dumps(max(int(json.loads(stored or "0")), 1 if present else 0) + 1)


def _table_version(items: Mapping[str, str], name: str, present: bool) -> int:
    if not present:
        return 0
    return max(int(json.loads(items.get(TABLE_VERSION_PREFIX + name, "0"))), 1)


def check_filters(*, where: Mapping[str, Any] | None = None, bbox: BBox | None = None,
                  limit: int | None = None, offset: int = 0) -> None:
    """Refuse filter values no store can take, before any SQL is built.

    NUL characters end a C string inside both database drivers, non-finite numbers have no
    SQL literal and integers beyond 64 bits overflow the binding, so each is a
    :class:`~gisgov.errors.ValidationError` (HTTP 400) rather than a driver failure.
    """
    def check(col: str, value: Any) -> None:
        if isinstance(value, str) and "\x00" in value:
            raise ValidationError(f"filter {col}: NUL characters are not allowed")
        if isinstance(value, bytes):
            raise ValidationError(f"filter {col}: binary values are not allowed")
        if isinstance(value, (float, np.floating)) and not math.isfinite(float(value)):
            raise ValidationError(f"filter {col}: {value} is not a finite number")
        if (isinstance(value, (int, np.integer)) and not isinstance(value, bool)
                and not -_INT64 - 1 <= int(value) <= _INT64):
            raise ValidationError(f"filter {col}: {value} is out of range")

    for col, val in (where or {}).items():
        if isinstance(col, str) and "\x00" in col:
            raise ValidationError("filter: NUL characters are not allowed in column names")
        if isinstance(val, (list, tuple, set, frozenset, np.ndarray, pd.Series)):
            for v in val:
                check(str(col), v)
        else:
            check(str(col), val)
    if bbox is not None:
        try:
            values = [float(v) for v in bbox]
        except (TypeError, ValueError):
            raise ValidationError("bbox must be four numbers minx, miny, maxx, maxy") from None
        if len(values) != 4 or not all(math.isfinite(v) for v in values):
            raise ValidationError("bbox must be four finite numbers minx, miny, maxx, maxy")
    for label, n in (("limit", limit), ("offset", offset)):
        if n is not None and not 0 <= int(n) <= _INT64:
            raise ValidationError(f"{label} must be between 0 and {_INT64}, not {n}")


def _spec(layer: str) -> Any:
    try:
        return LAYERS[layer]
    except KeyError:
        raise NotFoundError(
            f"unknown layer {layer!r}; layers are: {', '.join(LAYERS)}"
        ) from None


def _read_columns(layer: str, columns: Sequence[str] | None) -> list[str] | None:
    """The attribute columns a read with ``columns`` fetches, in schema order: those asked
    for plus the key and the required ones (``None``: every column)."""
    if columns is None:
        return None
    if isinstance(columns, str):
        raise ValidationError("columns must be a list of column names, not one string")
    spec = LAYERS[layer]
    known = set(spec.column_names)
    unknown = [c for c in columns if c not in known]
    if unknown:
        raise ValidationError(
            f"layer {layer} has no column {', '.join(unknown)}; columns: {', '.join(sorted(known))}"
        )
    wanted = set(columns) | {spec.key} | {c.name for c in spec.columns if c.required}
    return [c.name for c in spec.columns if c.name in wanted]


def _only(frame: gpd.GeoDataFrame, keep: list[str] | None) -> gpd.GeoDataFrame:
    """``frame`` with only the ``keep`` columns and its geometry (all when ``None``)."""
    if keep is None:
        return frame
    return frame[[*keep, frame.geometry.name]]


def _check_columns(layer: str, where: Mapping[str, Any] | None) -> None:
    if not where:
        return
    known = set(LAYERS[layer].column_names)
    unknown = [c for c in where if c not in known]
    if unknown:
        raise ValidationError(
            f"layer {layer} has no column {', '.join(unknown)}; columns: {', '.join(sorted(known))}"
        )


def _summarise(problems: list[Problem]) -> str:
    head = "; ".join(f"{p.layer}[{p.key}] {p.rule}: {p.message}" for p in problems[:3])
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return f"{len(problems)} problem(s): {head}{more}"


def _working_crs_for(gdf: gpd.GeoDataFrame) -> pyproj.CRS:
    from gisgov.crs import working_crs_for

    return working_crs_for(gdf)
