"""Shared behaviour of both stores: validation on write, meta, versions, filters."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal

import geopandas as gpd
import pandas as pd
import pyproj

from gisgov.errors import NotFoundError, ValidationError
from gisgov.layers import LAYERS, STORAGE_CRS, Problem, conform, empty_layer, validate_layer

__all__ = ["BBox", "WorkspaceBase", "WriteMode"]

BBox = tuple[float, float, float, float]
WriteMode = Literal["replace", "append"]

#: Tables the store keeps for itself; never listed as user tables.
INTERNAL_TABLES = frozenset({"gisgov_meta"})


class WorkspaceBase(ABC):
    """Everything a store does the same way; subclasses supply the primitives.

    A workspace holds the schema layers (``gisgov.layers.LAYERS``), the product's own
    tables (scenarios, history, audit, API keys, …) and a small key/value meta table.
    Every committed write bumps ``version`` so caches (lookup index, rendered maps) know
    when to refresh.
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
    ) -> gpd.GeoDataFrame | pd.DataFrame: ...

    @abstractmethod
    def _write_frame(self, name: str, frame: pd.DataFrame, *, mode: WriteMode) -> None: ...

    @abstractmethod
    def _has_table(self, name: str) -> bool: ...

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

        Returns
        -------
        geopandas.GeoDataFrame
            Conformed to the schema; an empty, typed frame when the layer is absent.
        """
        spec = _spec(layer)
        if not self._has_table(layer):
            return empty_layer(layer)
        _check_columns(layer, where)
        frame = self._read_frame(
            layer, bbox=bbox, where=where, limit=limit, offset=offset, order_by=spec.key
        )
        if not isinstance(frame, gpd.GeoDataFrame):
            frame = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([None] * len(frame)),
                                     crs=STORAGE_CRS)
        if frame.crs is None:
            frame = frame.set_crs(STORAGE_CRS)
        return conform(layer, frame)

    def count(self, layer: str, *, bbox: BBox | None = None,
              where: Mapping[str, Any] | None = None) -> int:
        """Number of rows of a layer or table (0 when absent)."""
        if not self._has_table(layer):
            return 0
        return self._count(layer, bbox=bbox, where=where)

    def write(self, layer: str, gdf: gpd.GeoDataFrame, *, mode: WriteMode = "replace") -> None:
        """Validate and write a schema layer, atomically.

        Parameters
        ----------
        layer
            Layer name.
        gdf
            Data in EPSG:4326 (EPSG:4490 accepted as equivalent).
        mode
            ``replace`` the layer, or ``append`` rows (keys must stay unique).

        Raises
        ------
        ValidationError
            If the data breaks the schema; nothing is written then.
        """
        if mode not in ("replace", "append"):
            raise ValidationError(f"mode must be 'replace' or 'append', not {mode!r}")
        data = conform(layer, gdf)
        problems = [p for p in validate_layer(layer, data) if p.severity == "error"]
        if mode == "append" and self._has_table(layer) and len(data):
            key = LAYERS[layer].key
            existing = self._read_frame(layer)
            clash = set(existing[key].astype(str)) & set(data[key].astype(str))
            problems += [
                Problem(layer, k, "key_duplicate",
                        f"{key} {k} already exists in the workspace; use --mode replace")
                for k in sorted(clash)[:20]
            ]
        if problems:
            raise ValidationError(_summarise(problems), problems)
        with self.transaction() as tx:
            tx._write_frame(layer, data, mode=mode)
            if data.geometry.notna().any() and tx.get_meta("working_crs") is None:
                tx.set_meta("working_crs", _working_crs_for(data).to_wkt())

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
        if not self._has_table(name):
            raise NotFoundError(f"table {name!r} does not exist in {self.url}")
        return self._read_frame(name, where=where)

    def write_table(self, name: str, frame: pd.DataFrame, *, mode: WriteMode = "replace",
                    bump_version: bool = True) -> None:
        """Write a product table atomically (schema layers go through :meth:`write`).

        ``bump_version=False`` is for bookkeeping tables (audit log, jobs, API keys) whose
        rows change nothing a map or lookup shows, so caches keyed on :attr:`version` stay.
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
            tx._write_frame(name, frame, mode=mode)

    def drop_table(self, name: str) -> None:
        """Remove a product table or a layer (no error when absent)."""
        if self._has_table(name):
            with self.transaction() as tx:
                tx._drop_table(name)

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
        """All meta values."""
        return {k: json.loads(v) for k, v in self._meta_items().items()}

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


def _spec(layer: str) -> Any:
    try:
        return LAYERS[layer]
    except KeyError:
        raise NotFoundError(
            f"unknown layer {layer!r}; layers are: {', '.join(LAYERS)}"
        ) from None


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
