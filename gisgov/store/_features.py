"""A page of features as ONE SQL statement, for both stores (the OGC items route's query).

:class:`FeatureQuery` says everything a page needs: the columns the caller may see (and the
ones shown only on rows of the caller's scope), the policy's row predicate, the bbox,
equality filters, a CQL2 filter (a :mod:`pygeofilter` AST), ``sortby``, ``limit``/``offset``
and keyset paging (``after``: rows whose key comes after the last one of the previous
page). :func:`build_statement` turns it into one ``SELECT`` for a :class:`Dialect`
(PostgreSQL/PostGIS or SQLite/GeoPackage); the stores run it and hand back
:class:`FeaturePage` (feature properties as JSON text built by the database, geometry as
GeoJSON text or WKB). Every value travels as a bound parameter; identifiers are the
collection's own columns, quoted.

Why the CQL2 translation is hand-written: pygeofilter parses CQL2 text (a maintained
parser), but its SQL backend writes literal values into the SQL text (no bound
parameters) and its SQLAlchemy backend needs ORM models and GeoAlchemy functions that the
GeoPackage store (plain ``sqlite3``, no SpatiaLite) does not have. Walking its AST into a
``WHERE`` clause with bound parameters for two dialects is the page below, and it refuses
every node it does not know (400) instead of guessing.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from gisgov.errors import ValidationError

__all__ = [
    "AllOf",
    "AnyOf",
    "ColumnType",
    "Dialect",
    "FeaturePage",
    "FeatureQuery",
    "FeatureRow",
    "InSet",
    "IsNull",
    "Not",
    "Nothing",
    "Pred",
    "ShownColumn",
    "TableInfo",
    "build_statement",
    "cql_columns",
]

ColumnType = Literal["str", "int", "float", "bool", "datetime", "other"]
BBox = tuple[float, float, float, float]


# ---- row predicates of the policy ----------------------------------------------------------

@dataclass(frozen=True)
class InSet:
    """Rows whose ``column`` is one of ``values`` (an empty set keeps no row)."""

    column: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class IsNull:
    """Rows whose ``column`` is null."""

    column: str


@dataclass(frozen=True)
class AllOf:
    """Rows for which every part holds."""

    parts: tuple[Pred, ...]


@dataclass(frozen=True)
class AnyOf:
    """Rows for which any part holds (none: no row)."""

    parts: tuple[Pred, ...]


@dataclass(frozen=True)
class Not:
    """Rows for which ``part`` is false (a null test is not false: the row is left out)."""

    part: Pred


@dataclass(frozen=True)
class Nothing:
    """No row."""


Pred = InSet | IsNull | AllOf | AnyOf | Not | Nothing


@dataclass(frozen=True)
class ShownColumn:
    """A column of the page: its name, its type, and (``only_if``) the rows it is shown on
    (null elsewhere)."""

    name: str
    dtype: ColumnType
    only_if: Pred | None = None


@dataclass(frozen=True)
class FeatureQuery:
    """One page of a collection, as the policy and the request decided it.

    Parameters
    ----------
    table
        Layer or product table.
    key
        Key column (feature id, default order, keyset paging); ``None``: the store's row id.
    columns
        Properties of each feature, in order.
    geometry
        Geometry column to return (``None``: features without geometry).
    rows
        The policy's row predicate (``None``: every row).
    equals
        Column equality filters (already cast to the column's type).
    bbox
        ``(minx, miny, maxx, maxy)`` in lon/lat.
    cql
        A pygeofilter AST of the CQL2 ``filter``; attributes must be in ``queryables``.
    queryables
        Columns the filter and ``sortby`` may name, with their types.
    sortby
        ``(column, descending)`` pairs; the key breaks ties.
    limit, offset
        Page size and rows skipped (after ``after`` when given).
    after
        Keyset paging: only rows whose key sorts after this one (default order only).
    geojson
        Ask the database for GeoJSON text in lon/lat (``flip``: lat/lon); otherwise WKB.
    count
        Add the number of matching rows (a window count: cheap when the bbox bounds the
        rows the database must sort anyway).
    plain_rows, plain_columns
        A row of ``plain_rows`` with a non-null value in ``plain_columns`` is a plain read of
        personal data (the caller must audit it).
    """

    table: str
    key: str | None
    columns: tuple[ShownColumn, ...]
    geometry: str | None
    limit: int
    rows: Pred | None = None
    equals: Mapping[str, Any] = field(default_factory=dict)
    bbox: BBox | None = None
    cql: Any = None
    queryables: Mapping[str, ColumnType] = field(default_factory=dict)
    sortby: tuple[tuple[str, bool], ...] = ()
    offset: int = 0
    after: Any = None
    geojson: bool = True
    flip: bool = False
    count: bool = False
    plain_rows: Pred | None = None
    plain_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableInfo:
    """What a store knows of a table that a page needs, read once per workspace version.

    Attributes
    ----------
    name
        Table name.
    columns
        Attribute columns (not geometry, not the store's row id) and their types.
    geometry
        The geometry column, if any.
    rowid
        The store's integer row id the spatial index refers to (GeoPackage ``fid``).
    spatial_index
        The GeoPackage R-tree table (``None`` in PostGIS, whose GiST index the planner
        finds by itself, and for tables without one).
    rows
        Number of rows when described.
    bbox
        Lon/lat extent of the geometries (``None``: none).
    """

    name: str
    columns: dict[str, ColumnType]
    geometry: str | None
    rowid: str | None
    spatial_index: str | None
    rows: int
    bbox: BBox | None


@dataclass(frozen=True)
class FeatureRow:
    """One feature: key, properties (JSON text), geometry (GeoJSON text, WKB or None) and
    whether it showed personal data plainly."""

    key: Any
    properties: str
    geometry: str | bytes | None
    plain: bool


@dataclass(frozen=True)
class FeaturePage:
    """Rows of a page, whether another page follows, and the match count when cheap."""

    rows: list[FeatureRow]
    has_next: bool
    matched: int | None


# ---- dialects ------------------------------------------------------------------------------

class Dialect(ABC):
    """What differs between PostgreSQL and SQLite; parameters are collected as SQL is built.

    Abstract: :class:`PostgresDialect` and :class:`SqliteDialect` supply the placeholders, set
    membership, JSON building and spatial tests.
    """

    def __init__(self) -> None:
        self.params: list[Any] = []

    @abstractmethod
    def bind(self, value: Any) -> str:
        """A placeholder for ``value`` (kept in :attr:`params`)."""

    @staticmethod
    def ident(name: str) -> str:
        """A quoted identifier."""
        return '"' + name.replace('"', '""') + '"'

    @abstractmethod
    def in_set(self, column_sql: str, values: Sequence[Any]) -> str:
        """``column_sql`` is one of ``values`` (bound, however many there are)."""

    @abstractmethod
    def json_properties(self, columns: Sequence[tuple[str, str, ColumnType]]) -> str:
        """Properties object from ``(name, sql expression, type)`` triples, as text."""

    @abstractmethod
    def geometry(self, column: str, *, geojson: bool, flip: bool) -> str:
        """The geometry as GeoJSON text (``flip``: latitude first) or as WKB."""

    @abstractmethod
    def bbox(self, column: str, bbox: BBox) -> str:
        """Rows whose geometry meets ``bbox``: the spatial index first, then the exact test."""

    @abstractmethod
    def intersects(self, column: str, wkb: bytes, bounds: BBox) -> str:
        """Rows whose geometry intersects the WKB shape (``bounds``: its box, for the index)."""

    @abstractmethod
    def like(self, column_sql: str, pattern: str, *, nocase: bool) -> str:
        """``column_sql`` matches the LIKE ``pattern`` (``nocase``: ignoring case)."""

    def literal(self, value: Any, dtype: ColumnType) -> str:
        """A bound value cast for comparison with a column of ``dtype``."""
        return self.bind(value)

    def source(self, table: str) -> str:
        """The ``FROM`` of the inner query, asked once its conditions are built (a dialect
        may join its spatial index there); the table's alias is ``t``."""
        return f"{self.ident(table)} t"

    #: The inner query's row id column when it should carry only row ids and sort keys to
    #: the sort, the outer query joining the page's rows back by it (``None``: the inner
    #: query carries whole rows).
    narrow_by: str | None = None


class PostgresDialect(Dialect):
    """PostgreSQL/PostGIS through psycopg (``%(pN)s`` placeholders, ``&&`` on the GiST
    index, ``json_build_object`` and ``ST_AsGeoJSON`` in the database)."""

    def bind(self, value: Any) -> str:
        self.params.append(value)
        return f"%(p{len(self.params) - 1})s"

    def named_params(self) -> dict[str, Any]:
        return {f"p{i}": v for i, v in enumerate(self.params)}

    def in_set(self, column_sql: str, values: Sequence[Any]) -> str:
        return f"{column_sql} = ANY({self.bind(list(values))})"

    def json_properties(self, columns: Sequence[tuple[str, str, ColumnType]]) -> str:
        if not columns:
            return "'{}'"
        chunks = [columns[i:i + 50] for i in range(0, len(columns), 50)]  # 100 arguments max
        parts = ["json_build_object(" + ", ".join(f"{self.bind(n)}::text, {e}" for n, e, _ in c)
                 + ")" for c in chunks]
        if len(parts) == 1:
            return parts[0] + "::text"
        return "(" + " || ".join(f"{p}::jsonb" for p in parts) + ")::text"

    def geometry(self, column: str, *, geojson: bool, flip: bool) -> str:
        g = f"t.{self.ident(column)}"
        if not geojson:
            return f"ST_AsBinary({g})"
        return f"ST_AsGeoJSON({'ST_FlipCoordinates(' + g + ')' if flip else g}, 9)"

    def bbox(self, column: str, bbox: BBox) -> str:
        env = "ST_MakeEnvelope({}, {}, {}, {}, 4326)".format(*(self.bind(float(v)) for v in bbox))
        g = f"t.{self.ident(column)}"
        # && alone is the GiST-indexed box test; ST_Intersects makes it exact.
        return f"({g} && {env} AND ST_Intersects({g}, {env}))"

    def intersects(self, column: str, wkb: bytes, bounds: BBox) -> str:
        g = f"t.{self.ident(column)}"
        return f"ST_Intersects({g}, ST_GeomFromWKB({self.bind(wkb)}, 4326))"

    def like(self, column_sql: str, pattern: str, *, nocase: bool) -> str:
        op = "ILIKE" if nocase else "LIKE"
        return f"({column_sql})::text {op} {self.bind(pattern)} ESCAPE '\\'"


class SqliteDialect(Dialect):
    """SQLite/GeoPackage (``?`` placeholders, the R-tree ``rtree_<table>_<geom>``,
    ``json_object``; the exact geometry tests are Python functions the store registers:
    ``gisgov_box(geom, minx, miny, maxx, maxy)`` and ``gisgov_intersects(geom, wkb)``).

    Parameters
    ----------
    rtree
        Name of the table's R-tree (``None``: none; the box test then reads every row).
    rowid
        The table's integer primary key, which the R-tree's ``id`` refers to.
    """

    def __init__(self, *, rtree: str | None, rowid: str) -> None:
        super().__init__()
        self.rtree = rtree
        self.rowid = rowid
        # SQLite sorts whole rows (geometry blobs too) when the inner query carries them:
        # it carries the row id, the outer query fetches the page's rows by it.
        self.narrow_by = rowid
        self._join_rtree = False

    def bind(self, value: Any) -> str:
        if isinstance(value, bool):
            value = int(value)
        self.params.append(value)
        return "?"

    def in_set(self, column_sql: str, values: Sequence[Any]) -> str:
        # One JSON parameter, whatever the number of values (no 32,766-variable limit).
        text = json.dumps(list(values), ensure_ascii=False, allow_nan=False)
        return f"{column_sql} IN (SELECT value FROM json_each({self.bind(text)}))"

    def json_properties(self, columns: Sequence[tuple[str, str, ColumnType]]) -> str:
        args = []
        for name, expr, dtype in columns:
            if dtype == "int":  # a nullable integer column may hold REALs (GDAL)
                expr = f"CAST({expr} AS INTEGER)"
            elif dtype == "bool":  # SQLite keeps booleans as 0/1
                expr = (f"CASE WHEN {expr} IS NULL THEN NULL WHEN {expr} THEN json('true') "
                        "ELSE json('false') END")
            # The name as a literal: the expressions' parameters are already bound in order.
            args.append("'" + name.replace("'", "''") + f"', {expr}")
        return "json_object(" + ", ".join(args) + ")"

    def geometry(self, column: str, *, geojson: bool, flip: bool) -> str:
        return f"t.{self.ident(column)}"  # the GeoPackage blob, decoded by the store

    def _rtree(self, bbox: BBox) -> str:
        if self.rtree is None:
            return ""
        minx, miny, maxx, maxy = (float(v) for v in bbox)
        return (f"t.{self.ident(self.rowid)} IN (SELECT id FROM {self.ident(self.rtree)} "
                f"WHERE maxx >= {self.bind(minx)} AND minx <= {self.bind(maxx)} "
                f"AND maxy >= {self.bind(miny)} AND miny <= {self.bind(maxy)}) AND ")

    def bbox(self, column: str, bbox: BBox) -> str:
        g = f"t.{self.ident(column)}"
        if self.rtree is None or self._join_rtree:
            box = ", ".join(self.bind(float(v)) for v in bbox)
            return f"({self._rtree(bbox)}gisgov_box({g}, {box}))"
        # The R-tree is joined as ``r`` (:meth:`source`): its envelopes are 32-bit floats
        # rounded outward, so one that meets the box gives a candidate, and one that lies
        # inside the box a hit (the geometry lies inside its envelope). Only candidates on
        # the box's edge call the exact test, a Python function: for points that is almost
        # none, and every other row is decided in SQLite, without the GIL.
        self._join_rtree = True
        minx, miny, maxx, maxy = (float(v) for v in bbox)
        # ``?`` placeholders: bound in the order they appear in the text.
        meets = (f"r.maxx >= {self.bind(minx)} AND r.minx <= {self.bind(maxx)} "
                 f"AND r.maxy >= {self.bind(miny)} AND r.miny <= {self.bind(maxy)}")
        inside = (f"r.minx >= {self.bind(minx)} AND r.maxx <= {self.bind(maxx)} "
                  f"AND r.miny >= {self.bind(miny)} AND r.maxy <= {self.bind(maxy)}")
        box = ", ".join(self.bind(v) for v in (minx, miny, maxx, maxy))
        return f"({meets} AND (({inside}) OR gisgov_box({g}, {box})))"

    def source(self, table: str) -> str:
        if not self._join_rtree or self.rtree is None:
            return super().source(table)
        return (f"{self.ident(self.rtree)} r JOIN {self.ident(table)} t "
                f"ON t.{self.ident(self.rowid)} = r.id")

    def intersects(self, column: str, wkb: bytes, bounds: BBox) -> str:
        index = self._rtree(bounds)
        return f"({index}gisgov_intersects(t.{self.ident(column)}, {self.bind(wkb)}))"

    def like(self, column_sql: str, pattern: str, *, nocase: bool) -> str:
        # The store's connection sets case_sensitive_like, as in PostgreSQL.
        if nocase:
            return f"lower({column_sql}) LIKE lower({self.bind(pattern)}) ESCAPE '\\'"
        return f"{column_sql} LIKE {self.bind(pattern)} ESCAPE '\\'"


# ---- the statement ---------------------------------------------------------------------------

def _pred(d: Dialect, pred: Pred) -> str:
    if isinstance(pred, Nothing):
        return "1 = 0"
    if isinstance(pred, InSet):
        return d.in_set(f"t.{d.ident(pred.column)}", pred.values) if pred.values else "1 = 0"
    if isinstance(pred, IsNull):
        return f"t.{d.ident(pred.column)} IS NULL"
    if isinstance(pred, Not):
        return f"(NOT {_pred(d, pred.part)})"
    if isinstance(pred, AllOf):
        return "(" + " AND ".join(_pred(d, p) for p in pred.parts) + ")" if pred.parts \
            else "1 = 1"
    if not pred.parts:
        return "1 = 0"
    return "(" + " OR ".join(_pred(d, p) for p in pred.parts) + ")"


def build_statement(q: FeatureQuery, d: Dialect, *, rowid: str | None = None) -> str:
    """The one ``SELECT`` of a page: key, properties JSON, geometry, plain-read flag
    [, match count]; ``limit + 1`` rows so the caller knows whether a next page exists.

    The rows are chosen, sorted and paged in an inner query and only the page's rows are
    turned into JSON in the outer one (the database would otherwise build the JSON of every
    row an ``OFFSET`` skips).

    Parameters
    ----------
    q
        The page.
    d
        The dialect (holds the bound parameters afterwards, in the order of the text).
    rowid
        Column to order and page by when the collection has no key.
    """
    key = q.key or rowid
    key_sql = f"t.{d.ident(key)}" if key else "NULL"
    props = []
    for c in q.columns:
        expr = f"t.{d.ident(c.name)}"
        if c.only_if is not None:
            expr = f"CASE WHEN {_pred(d, c.only_if)} THEN {expr} END"
        props.append((c.name, expr, c.dtype))
    select = [key_sql, d.json_properties(props),
              d.geometry(q.geometry, geojson=q.geojson, flip=q.flip) if q.geometry else "NULL"]
    if q.plain_columns and q.plain_rows is not None:
        shown = " OR ".join(f"t.{d.ident(c)} IS NOT NULL" for c in q.plain_columns)
        select.append(f"CASE WHEN {_pred(d, q.plain_rows)} AND ({shown}) THEN 1 ELSE 0 END")
    else:
        select.append("0")
    narrow = d.narrow_by
    if q.count:
        select.append(f"{'p' if narrow else 't'}.gisgov_matched")
    inner = f"SELECT t.{d.ident(narrow)} AS gisgov_rowid" if narrow else "SELECT t.*"
    inner += ", count(*) OVER () AS gisgov_matched" if q.count else ""
    conds = _conditions(q, d, key_sql if key else None)  # before source(): it may join
    inner += f" FROM {d.source(q.table)}"
    if conds:
        inner += " WHERE " + " AND ".join(conds)
    order = [f"t.{d.ident(c)} {'DESC' if desc else 'ASC'} NULLS LAST" for c, desc in q.sortby]
    if key:
        order.append(f"{key_sql} ASC")
    order_sql = " ORDER BY " + ", ".join(order) if order else ""
    inner += order_sql + f" LIMIT {d.bind(int(q.limit) + 1)} OFFSET {d.bind(int(q.offset))}"
    if narrow:
        return (f"SELECT {', '.join(select)} FROM ({inner}) p JOIN {d.ident(q.table)} t "
                f"ON t.{d.ident(narrow)} = p.gisgov_rowid{order_sql}")
    return f"SELECT {', '.join(select)} FROM ({inner}) t{order_sql}"


def _conditions(q: FeatureQuery, d: Dialect, key_sql: str | None) -> list[str]:
    """The ``WHERE`` parts: policy rows, equality filters, bbox, CQL2, keyset."""
    conds: list[str] = []
    if q.rows is not None:
        conds.append(_pred(d, q.rows))
    for col, value in q.equals.items():
        conds.append(f"t.{d.ident(col)} IS NULL" if value is None
                     else f"t.{d.ident(col)} = {d.bind(value)}")
    if q.bbox is not None:
        conds.append(d.bbox(q.geometry, q.bbox) if q.geometry else "1 = 0")
    if q.cql is not None:
        conds.append(_Cql(d, q.queryables, q.geometry).sql(q.cql))
    if q.after is not None and key_sql:
        conds.append(f"{key_sql} > {d.bind(q.after)}")
    return conds


def page_from_rows(rows: Sequence[Sequence[Any]], q: FeatureQuery,
                   geometry: Callable[[Any], str | bytes | None] | None = None) -> FeaturePage:
    """Rows of :func:`build_statement` as a :class:`FeaturePage`."""
    has_next = len(rows) > q.limit
    rows = rows[:q.limit]
    matched: int | None = None
    if q.count:
        matched = int(rows[0][4]) if rows else (0 if q.offset == 0 and q.after is None else None)
    elif not has_next and q.after is None:
        matched = q.offset + len(rows)  # the last page says how many there are, for free
    conv = geometry or (lambda g: g)
    out = [FeatureRow(r[0], str(r[1]), conv(r[2]), bool(r[3])) for r in rows]
    return FeaturePage(out, has_next, matched)


# ---- CQL2 (pygeofilter AST) → SQL ------------------------------------------------------------

_COMPARISONS = {"Equal": "=", "NotEqual": "<>", "LessThan": "<", "LessEqual": "<=",
                "GreaterThan": ">", "GreaterEqual": ">="}
_SPATIAL = {"GeometryIntersects": False, "GeometryDisjoint": True}


def cql_columns(node: Any) -> set[str]:
    """Attribute names a pygeofilter AST mentions."""
    from pygeofilter import ast

    out: set[str] = set()

    def walk(n: Any) -> None:
        if isinstance(n, ast.Attribute):
            out.add(str(n.name))
        elif isinstance(n, ast.Node):
            for child in n.get_sub_nodes():
                walk(child)
        elif isinstance(n, list):
            for child in n:
                walk(child)

    walk(node)
    return out


class _Cql:
    """Translate a pygeofilter AST into a bound-parameter condition for one dialect."""

    def __init__(self, d: Dialect, types: Mapping[str, ColumnType], geometry: str | None
                 ) -> None:
        self.d, self.types, self.geometry = d, types, geometry

    def sql(self, node: Any) -> str:
        from pygeofilter import ast

        name = type(node).__name__
        if isinstance(node, ast.And):
            return f"({self.sql(node.lhs)} AND {self.sql(node.rhs)})"
        if isinstance(node, ast.Or):
            return f"({self.sql(node.lhs)} OR {self.sql(node.rhs)})"
        if isinstance(node, ast.Not):
            return f"(NOT {self.sql(node.sub_node)})"
        if isinstance(node, ast.Include):
            return "1 = 1" if not node.not_ else "1 = 0"
        if name in _COMPARISONS:
            col, dtype, value = self._operands(node.lhs, node.rhs)
            return f"{col} {_COMPARISONS[name]} {self._value(value, dtype)}"
        if isinstance(node, ast.Like):
            col, dtype = self._attribute(node.lhs)
            if dtype != "str" or not isinstance(node.pattern, str):
                raise ValidationError("filter: LIKE 只用于文本属性 (LIKE needs a text "
                                      "property and a quoted pattern)")
            cond = self.d.like(col, node.pattern, nocase=bool(node.nocase))
            return f"(NOT {cond})" if node.not_ else cond
        if isinstance(node, ast.In):
            col, dtype = self._attribute(node.lhs)
            values = ", ".join(self._value(v, dtype) for v in node.sub_nodes)
            return f"({col} {'NOT IN' if node.not_ else 'IN'} ({values}))"
        if isinstance(node, ast.Between):
            col, dtype = self._attribute(node.lhs)
            cond = f"{col} BETWEEN {self._value(node.low, dtype)} AND " \
                   f"{self._value(node.high, dtype)}"
            return f"(NOT ({cond}))" if node.not_ else f"({cond})"
        if isinstance(node, ast.IsNull):
            col, _ = self._attribute(node.lhs)
            return f"({col} IS {'NOT ' if node.not_ else ''}NULL)"
        if name in _SPATIAL:
            return self._spatial(node.lhs, node.rhs, negate=_SPATIAL[name])
        raise ValidationError(f"filter: 不支持的 CQL2 运算 {name} (supported: comparisons, "
                              "LIKE, IN, BETWEEN, IS NULL, AND/OR/NOT, S_INTERSECTS, "
                              "S_DISJOINT)")

    def _attribute(self, node: Any) -> tuple[str, ColumnType]:
        from pygeofilter import ast

        if not isinstance(node, ast.Attribute):
            raise ValidationError("filter: 比较的左边须为属性名 (the left side must be a "
                                  "property name)")
        name = str(node.name)
        if name not in self.types:
            raise ValidationError(f"filter: 不可查询的属性 {name!r} (not queryable; see "
                                  f"/queryables: {', '.join(sorted(self.types))})")
        return f"t.{self.d.ident(name)}", self.types[name]

    def _operands(self, lhs: Any, rhs: Any) -> tuple[str, ColumnType, Any]:
        from pygeofilter import ast

        if not isinstance(lhs, ast.Attribute) and isinstance(rhs, ast.Attribute):
            raise ValidationError("filter: 请把属性名写在左边 (write the property on the "
                                  "left: name = 'x')")
        col, dtype = self._attribute(lhs)
        return col, dtype, rhs

    def _value(self, value: Any, dtype: ColumnType) -> str:
        from pygeofilter import ast

        if isinstance(value, ast.Node):
            raise ValidationError(f"filter: 只能与常量比较 (compare with a literal, not "
                                  f"{type(value).__name__})")
        return self.d.literal(_cast(value, dtype), dtype)

    def _spatial(self, lhs: Any, rhs: Any, *, negate: bool) -> str:
        import shapely
        from pygeofilter import ast, values

        # "geometry" names the geometry whatever the store calls its column (GeoPackage: geom)
        if not (isinstance(lhs, ast.Attribute) and self.geometry is not None
                and lhs.name in ("geometry", self.geometry)):
            raise ValidationError("filter: 空间运算的第一个参数须为几何属性 geometry (the first "
                                  "argument must be the geometry property)")
        if isinstance(rhs, values.Geometry):
            geom = shapely.geometry.shape(rhs.geometry)
        elif isinstance(rhs, values.Envelope):
            geom = shapely.box(rhs.x1, rhs.y1, rhs.x2, rhs.y2)
        elif isinstance(rhs, ast.Function) and rhs.name.lower() == "bbox" \
                and len(rhs.arguments) == 4:
            x0, y0, x1, y1 = (float(v) for v in rhs.arguments)
            geom = shapely.box(x0, y0, x1, y1)
        else:
            raise ValidationError("filter: 空间运算的第二个参数须为 WKT 几何或 BBOX (give a WKT "
                                  "geometry or BBOX(minx,miny,maxx,maxy))")
        bounds = tuple(float(v) for v in geom.bounds)
        if geom.is_empty or not all(math.isfinite(v) for v in bounds):
            raise ValidationError("filter: 几何为空或坐标无效 (empty or non-finite geometry)")
        cond = self.d.intersects(self.geometry, shapely.to_wkb(geom), bounds)  # type: ignore[arg-type]
        return f"(NOT {cond})" if negate else cond


def _cast(value: Any, dtype: ColumnType) -> Any:
    """A CQL2 literal as a value of the column's type (400 when it is not one)."""
    if isinstance(value, str) and "\x00" in value:
        raise ValidationError("filter: 不允许 NUL 字符 (NUL characters are not allowed)")
    try:
        if dtype == "str":
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise ValueError
            return value if isinstance(value, str) else str(value)
        if dtype == "bool":
            if isinstance(value, bool):
                return value
            raise ValueError
        if dtype == "int":
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or float(value) != int(value) or abs(int(value)) >= 2**63:
                raise ValueError
            return int(value)
        if dtype == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(float(value)):
                raise ValueError
            return float(value)
    except (ValueError, OverflowError):
        raise ValidationError(f"filter: {value!r} 不是 {dtype} 类型的值 (is not a valid "
                              f"{dtype})") from None
    return value if isinstance(value, (str, int, float, bool)) else str(value)
