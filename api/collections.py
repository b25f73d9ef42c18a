"""The OGC collections as typed classes: a layer collection and a product-table collection.

As in tipg, a collection knows its columns, key, geometry and extent, and answers
``features()`` with one page in one SQL statement (:meth:`WorkspaceBase.features`): the
policy of :mod:`gisgov.policy` becomes the statement's predicate and column choice
(:func:`gisgov.policy.statement_policy`), never a pass over a frame afterwards. The
catalogue is derived from the workspace and :data:`gisgov.layers.LAYERS` alone, so a layer
added to the schema (and classified in the policy) is served without code here.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from api.state import INTERNAL_TABLES, AppState
from gisgov.errors import NotFoundError, ValidationError
from gisgov.layers import LAYERS
from gisgov.policy import ScopeFacts, statement_policy, table_access
from gisgov.privacy import Principal
from gisgov.store._features import ColumnType, FeaturePage, FeatureQuery, ShownColumn, TableInfo

__all__ = ["Catalogue", "Collection", "LayerCollection", "PageRequest", "TableCollection",
           "catalogue"]

#: JSON Schema types of the column types.
_JSON_TYPES: dict[str, dict[str, str]] = {
    "str": {"type": "string"}, "int": {"type": "integer"}, "float": {"type": "number"},
    "bool": {"type": "boolean"}, "datetime": {"type": "string", "format": "date-time"},
    "other": {"type": "string"},
}
_GEOJSON_SCHEMAS = {
    "Point": "https://geojson.org/schema/Point.json",
    "LineString": "https://geojson.org/schema/LineString.json",
    "Polygon": "https://geojson.org/schema/Polygon.json",
    "MultiPolygon": "https://geojson.org/schema/MultiPolygon.json",
    "MultiLineString": "https://geojson.org/schema/MultiLineString.json",
}


@dataclass(frozen=True)
class PageRequest:
    """What the caller asked of one page (parsed and checked by the route)."""

    limit: int
    #: rows skipped; with ``after`` it only numbers the page (the key finds it)
    offset: int = 0
    bbox: tuple[float, float, float, float] | None = None
    equals: Mapping[str, Any] = field(default_factory=dict)
    cql: Any = None
    sortby: tuple[tuple[str, bool], ...] = ()
    properties: tuple[str, ...] | None = None
    after: Any = None
    geojson: bool = True
    flip: bool = False


@dataclass(frozen=True)
class Collection:
    """One collection: its columns (name → type and Chinese title), key, geometry, extent.

    Subclasses say where titles and types come from (the schema, or the table itself).
    """

    id: str
    title: str
    description: str
    key: str | None
    info: TableInfo
    types: Mapping[str, ColumnType]
    labels: Mapping[str, str]
    geometry_types: tuple[str, ...] = ()

    @property
    def columns(self) -> list[str]:
        """Attribute columns, in order."""
        return list(self.types)

    @property
    def bbox(self) -> tuple[float, float, float, float] | None:
        """Lon/lat extent."""
        return self.info.bbox

    def shown(self, principal: Principal, facts: ScopeFacts, *, publish_staff: bool
              ) -> list[str]:
        """Columns the principal gets (hidden ones left out)."""
        pol = statement_policy(self.id, self.key, self.columns, principal, facts,
                               publish_staff=publish_staff)
        return [c for c in self.columns if c not in pol.hidden]

    def queryables(self, principal: Principal) -> dict[str, ColumnType]:
        """Columns the caller may filter and sort on: personal ones only when the role sees
        them plainly, care flags only for planners, a worker's ``member_id`` only for
        planners (it links a posted worker to a party member's home)."""
        spec = LAYERS.get(self.id)
        hidden: set[str] = set()
        if spec is not None:
            if principal.personal_access != "plain":
                hidden |= {c.name for c in spec.columns if c.personal}
            if not principal.sees_sensitive:
                hidden |= {c.name for c in spec.columns if c.sensitive}
            if self.id == "staff" and principal.role != "planner":
                hidden.add("member_id")
        return {c: t for c, t in self.types.items() if c not in hidden}

    def queryables_schema(self, principal: Principal, base: str) -> dict[str, Any]:
        """JSON Schema of the queryable properties (OGC API Features Part 3)."""
        props: dict[str, Any] = {
            name: {"title": self.labels.get(name, name), **_JSON_TYPES[dtype]}
            for name, dtype in self.queryables(principal).items()
        }
        if self.info.geometry is not None:
            kinds = [k for k in self.geometry_types if k in _GEOJSON_SCHEMAS]
            geom: dict[str, Any] = {"title": "几何 geometry", "format": "geometry-any"}
            if len(kinds) == 1:
                geom = {"title": "几何 geometry", "$ref": _GEOJSON_SCHEMAS[kinds[0]]}
            props["geometry"] = geom  # the name CQL2 filters use, whatever the store's
        return {
            "$schema": "https://json-schema.org/draft/2019-09/schema",
            "$id": f"{base}/collections/{self.id}/queryables",
            "type": "object",
            "title": self.title,
            "properties": props,
            "additionalProperties": False,
        }

    def cast(self, column: str, raw: str) -> Any:
        """A query-string value as a value of the column's type (400 when it is not one)."""
        dtype = self.types.get(column, "str")
        try:
            if dtype == "int":
                return int(raw)
            if dtype == "float":
                return float(raw)
            if dtype == "bool":
                low = raw.lower()
                if low not in ("true", "false", "1", "0"):
                    raise ValueError(raw)
                return low in ("true", "1")
        except ValueError:
            raise ValidationError(f"{column}={raw!r} 不是有效的 {dtype} 值 (is not a valid "
                                  f"{dtype})") from None
        return raw

    def features(self, state: AppState, principal: Principal, facts: ScopeFacts,
                 page: PageRequest, *, publish_staff: bool) -> tuple[FeaturePage, bool]:
        """One page the policy lets the caller see, in one statement; and whether the read
        must be audited (people rows, or personal data shown plainly)."""
        pol = statement_policy(self.id, self.key, self.columns, principal, facts,
                               publish_staff=publish_staff)
        shown = [c for c in self.columns if c not in pol.hidden
                 and (page.properties is None or c in page.properties)]
        query = FeatureQuery(
            table=self.id, key=self.key,
            columns=tuple(ShownColumn(c, self.types[c], pol.only_if.get(c)) for c in shown),
            geometry=self.info.geometry, limit=page.limit, rows=pol.rows, equals=page.equals,
            bbox=page.bbox, cql=page.cql, queryables=self.queryables(principal),
            sortby=page.sortby, offset=0 if page.after is not None else page.offset,
            after=page.after, geojson=page.geojson,
            flip=page.flip, count=page.bbox is not None, plain_rows=pol.plain_rows,
            plain_columns=pol.plain_columns,
        )
        result = state.ws.features(query, self.info)
        unfiltered = (pol.rows is None and not page.equals and page.bbox is None
                      and page.cql is None and page.after is None)
        if result.matched is None and unfiltered:
            result = FeaturePage(result.rows, result.has_next, self.info.rows)
        audit = bool(result.rows) and (pol.audit_rows or any(r.plain for r in result.rows))
        return result, audit


@dataclass(frozen=True)
class LayerCollection(Collection):
    """A schema layer: titles and types from :data:`gisgov.layers.LAYERS`."""

    @classmethod
    def of(cls, name: str, info: TableInfo) -> LayerCollection:
        spec = LAYERS[name]
        types = {c.name: c.dtype for c in spec.columns if c.name in info.columns}
        return cls(name, spec.label_zh, spec.description or f"{spec.label_zh} ({spec.label_en})",
                   spec.key, info, types, {c.name: c.label_zh for c in spec.columns},
                   spec.geometry_types)


@dataclass(frozen=True)
class TableCollection(Collection):
    """A product table (scenario, report, job result): its own columns and types; the key
    is the first of ``id``, ``code``, ``key``, ``household_id`` it has."""

    @classmethod
    def of(cls, name: str, info: TableInfo) -> TableCollection:
        key = next((k for k in ("id", "code", "key", "household_id") if k in info.columns),
                   None)
        return cls(name, name, "产品表 product table (scenario, report or job result)", key,
                   info, dict(info.columns), {c: c for c in info.columns})


@dataclass(frozen=True)
class Catalogue:
    """The collections of one workspace version."""

    version: int
    collections: Mapping[str, Collection]

    def get(self, collection_id: str) -> Collection:
        """The collection, or 404."""
        try:
            return self.collections[collection_id]
        except KeyError:
            raise NotFoundError(f"no collection {collection_id!r}; see /collections") from None

    def readable(self, principal: Principal, *, publish_staff: bool) -> list[Collection]:
        """Collections the principal may read at all."""
        return [c for c in self.collections.values()
                if table_access(c.id, principal, publish_staff=publish_staff) != "none"]


_lock = threading.Lock()


def catalogue(state: AppState, *, version: int | None = None) -> Catalogue:
    """Every layer and published product table, described once per workspace version
    (``version``: the one the caller just read)."""
    ws = state.ws
    version = ws.version if version is None else version
    cached: Catalogue | None = state.extra.get("catalogue")
    if cached is not None and cached.version == version:
        return cached
    with _lock:
        cached = state.extra.get("catalogue")
        if cached is not None and cached.version == version:
            return cached
        out: dict[str, Collection] = {}
        for name in ws.layers():
            out[name] = LayerCollection.of(name, ws.describe(name))
        for name in ws.tables():
            if name not in INTERNAL_TABLES:
                out[name] = TableCollection.of(name, ws.describe(name))
        cat = Catalogue(version, out)
        state.extra["catalogue"] = cat
        return cat


def parse_sortby(text: str | None, allowed: Sequence[str]) -> tuple[tuple[str, bool], ...]:
    """``sortby=+name,-size`` as ``(column, descending)`` pairs (400 for other columns)."""
    if not text:
        return ()
    out = []
    for part in text.split(","):
        item = part.strip()
        desc = item.startswith("-")
        name = item.lstrip("+-").strip()
        if name not in allowed:
            raise ValidationError(f"sortby: 不能按 {name!r} 排序 (not a sortable property; see "
                                  f"/queryables: {', '.join(allowed)})")
        out.append((name, desc))
    return tuple(out)
