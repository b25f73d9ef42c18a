"""The layer schema: one definition that drives validation, the stores and the docs.

Layer and column names are a contract users see (``docs/SCHEMA.md``, generated from this
module by :func:`schema_document`): extend, never rename. Every layer is a :class:`geopandas.GeoDataFrame` in EPSG:4326 with a ``geometry``
column (all-null for layers without geometry such as ``staff``) and a string primary key.

Examples
--------
>>> from gisgov.layers import LAYERS, empty_layer
>>> LAYERS["grids"].key
'code'
>>> list(empty_layer("subdistricts").columns)
['code', 'name', 'geometry']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisgov.errors import ValidationError

__all__ = [
    "LAYERS",
    "LAYER_ORDER",
    "STORAGE_CRS",
    "Column",
    "Layer",
    "Problem",
    "conform",
    "empty_layer",
    "has_errors",
    "schema_document",
    "schema_markdown",
    "validate_layer",
    "validate_workspace",
]

STORAGE_CRS = "EPSG:4326"

DType = Literal["str", "int", "float", "bool"]


@dataclass(frozen=True)
class Column:
    """One column of a layer.

    Parameters
    ----------
    name
        Column name as users see it (``docs/SCHEMA.md``).
    dtype
        ``str``, ``int``, ``float`` or ``bool``.
    label_zh, label_en
        Display labels.
    required
        Present and non-null on every row.
    personal
        Personal information (PIPL): masked unless the role may see it, audited when shown.
    sensitive
        Sensitive personal information (care flags): never shown below the planner role.
    choices
        Allowed values, if restricted.
    pattern
        Regular expression a string value must match in full.
    references
        ``"layer.column"`` this column refers to (nulls allowed unless required).
    """

    name: str
    dtype: DType
    label_zh: str
    label_en: str
    required: bool = False
    personal: bool = False
    sensitive: bool = False
    choices: tuple[str, ...] | None = None
    pattern: str | None = None
    references: str | None = None


@dataclass(frozen=True)
class Layer:
    """A layer: its key, columns and geometry type."""

    name: str
    label_zh: str
    label_en: str
    key: str
    columns: tuple[Column, ...]
    geometry_types: tuple[str, ...] = ()
    geometry_required: bool = True
    description: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        """Names of the attribute columns, key first."""
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        """Return the column called ``name``."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"layer {self.name!r} has no column {name!r}")

    @property
    def personal_columns(self) -> list[str]:
        """Columns holding personal information."""
        return [c.name for c in self.columns if c.personal or c.sensitive]

    @property
    def has_geometry(self) -> bool:
        """Whether the layer carries geometry at all."""
        return bool(self.geometry_types)


CODE_SUBDISTRICT = r"\d{9}"
CODE_COMMUNITY = r"\d{12}"
CODE_GRID = r"\d{15}"
POLY = ("Polygon", "MultiPolygon")
#: An ISO-8601 time with its UTC offset, to the second (events are stored in +08:00).
ISO_TIME = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})"
#: Where an event came from: a grid worker, the 12345 hotline, a resident, a patrol.
EVENT_SOURCES = ("field", "hotline", "resident", "patrol")
#: Who handles an event, lowest first (吹哨 moves it one step up).
EVENT_LEVELS = ("grid", "community", "subdistrict", "department")
#: The closed loop: 上报 → 受理 → 办结 → 核查 → 结案.
EVENT_STATUSES = ("reported", "accepted", "resolved", "verified", "closed")
#: What the event log records.
EVENT_ACTIONS = ("report", "accept", "resolve", "verify", "close", "return", "reopen",
                 "escalate")


def _c(name: str, dtype: DType, zh: str, en: str, **kw: object) -> Column:
    return Column(name, dtype, zh, en, **kw)  # type: ignore[arg-type]


LAYERS: dict[str, Layer] = {
    layer.name: layer
    for layer in [
        Layer(
            "subdistricts", "街道", "Subdistricts", "code",
            (
                _c("code", "str", "街道代码", "Code", required=True, pattern=CODE_SUBDISTRICT),
                _c("name", "str", "街道名称", "Name", required=True),
            ),
            POLY,
            description="街道办事处辖区; code = 6-digit county + 3-digit 街道 (统计用区划代码).",
        ),
        Layer(
            "streets", "道路", "Streets", "id",
            (
                _c("id", "str", "编号", "ID", required=True),
                _c("name", "str", "道路名称", "Name"),
                _c("class", "str", "道路等级", "Class", required=True,
                   choices=("main", "secondary", "minor", "footway")),
            ),
            ("LineString", "MultiLineString"),
            description="Street centre lines; footways count for walking distance only.",
        ),
        Layer(
            "communities", "社区", "Communities", "code",
            (
                _c("code", "str", "社区代码", "Code", required=True, pattern=CODE_COMMUNITY),
                _c("name", "str", "社区名称", "Name", required=True),
                _c("kind", "str", "类型", "Kind", required=True, choices=("urban", "mixed")),
                _c("subdistrict_code", "str", "所属街道", "Subdistrict", required=True,
                   pattern=CODE_SUBDISTRICT, references="subdistricts.code"),
                _c("boundary_text", "str", "四至", "Boundary description"),
            ),
            POLY,
            description="社区 (居委会) service areas; code is the 12-digit 统计用区划代码.",
        ),
        Layer(
            "compounds", "小区", "Compounds", "id",
            (
                _c("id", "str", "编号", "ID", required=True),
                _c("name", "str", "小区名称", "Name", required=True),
                _c("community_code", "str", "所属社区", "Community", pattern=CODE_COMMUNITY,
                   references="communities.code"),
                _c("old", "bool", "老旧小区", "Old compound"),
                _c("property_managed", "bool", "有物业", "Property management"),
            ),
            POLY,
        ),
        Layer(
            "buildings", "楼栋", "Buildings", "id",
            (
                _c("id", "str", "编号", "ID", required=True),
                _c("compound_id", "str", "所属小区", "Compound", references="compounds.id"),
                _c("address", "str", "门牌", "Address"),
                _c("floors", "int", "层数", "Floors"),
            ),
            POLY,
        ),
        Layer(
            "households", "户", "Households", "id",
            (
                _c("id", "str", "编号", "ID", required=True),
                _c("building_id", "str", "所在楼栋", "Building", references="buildings.id"),
                _c("address", "str", "地址", "Address"),
                _c("head_name", "str", "户主姓名", "Head of household", personal=True),
                _c("phone", "str", "联系电话", "Phone", personal=True),
                _c("id_number", "str", "身份证号", "ID number", personal=True),
                _c("size", "int", "人口数", "Persons", required=True),
                _c("floating", "int", "流动人口数", "Floating residents"),
                _c("elderly", "bool", "老年人", "Elderly", sensitive=True),
                _c("low_income", "bool", "低保", "Low income", sensitive=True),
                _c("disabled", "bool", "残疾人", "Disabled", sensitive=True),
                _c("kin_member_id", "str", "亲属党员", "Kin member", references="members.id"),
                # Rows made by gisgov.onboard from building footprints, not from a register.
                _c("estimated", "bool", "估算", "Estimated"),
            ),
            ("Point",),
        ),
        Layer(
            "members", "党员", "Party members", "id",
            (
                _c("id", "str", "编号", "ID", required=True),
                _c("name", "str", "党员姓名", "Name", personal=True),
                _c("phone", "str", "联系电话", "Phone", personal=True),
                _c("class", "str", "类别", "Class", required=True, choices=("A", "B", "C", "D")),
                _c("age", "int", "年龄", "Age"),
                _c("status", "str", "状态", "Status", required=True,
                   choices=("resident", "in_service", "away")),
                _c("unit_id", "str", "所在单位", "Unit", references="units.id"),
                _c("branch_id", "str", "所属党组织", "Branch", references="branches.id"),
                _c("grid_code", "str", "所在网格", "Grid", pattern=CODE_GRID,
                   references="grids.code"),
                # 双报到: the community an in-service member reports to (usually where they
                # live); the assignment deploys them from it (gisgov.assignment).
                _c("report_community_code", "str", "报到社区", "Reporting community",
                   pattern=CODE_COMMUNITY, references="communities.code"),
            ),
            ("Point",),
            description=("Party members at their home; status away = 流动党员 working "
                         "elsewhere; in-service members (unit_id set) report to a community "
                         "(report_community_code, 双报到) and may be deployed from it."),
        ),
        Layer(
            "branches", "党组织", "Party organisations", "id",
            (
                _c("id", "str", "编号", "ID", required=True),
                _c("name", "str", "名称", "Name", required=True),
                _c("level", "str", "层级", "Level", required=True,
                   choices=("subdistrict", "community", "grid", "compound", "building", "unit")),
                _c("community_code", "str", "所属社区", "Community", pattern=CODE_COMMUNITY,
                   references="communities.code"),
                _c("parent_id", "str", "上级组织", "Parent", references="branches.id"),
                _c("grid_code", "str", "所属网格", "Grid", pattern=CODE_GRID,
                   references="grids.code"),
            ),
            POLY,
            geometry_required=False,
        ),
        Layer(
            "grids", "网格", "Grids", "code",
            (
                _c("code", "str", "网格代码", "Code", required=True, pattern=CODE_GRID),
                _c("name", "str", "网格名称", "Name", required=True),
                _c("community_code", "str", "所属社区", "Community", required=True,
                   pattern=CODE_COMMUNITY, references="communities.code"),
                _c("target_households", "int", "目标户数", "Target households"),
                _c("households", "int", "户数", "Households"),
            ),
            POLY,
            description="Grid code = 12-digit community code + 3-digit sequence (west→east, north→south).",
        ),
        Layer(
            "staff", "网格人员", "Grid staff", "id",
            (
                _c("id", "str", "编号", "ID", required=True),
                _c("grid_code", "str", "所属网格", "Grid", required=True, pattern=CODE_GRID,
                   references="grids.code"),
                _c("role", "str", "角色", "Role", required=True,
                   choices=("leader", "full_time", "part_time", "instructor", "volunteer")),
                _c("name", "str", "姓名", "Name", personal=True),
                _c("phone", "str", "联系电话", "Phone", personal=True),
                _c("member_id", "str", "党员编号", "Member", references="members.id"),
                _c("duty", "str", "职责", "Duty"),
            ),
            (),
            geometry_required=False,
        ),
        Layer(
            "units", "驻区单位", "Stationed units", "id",
            (
                _c("id", "str", "编号", "ID", required=True),
                _c("name", "str", "单位名称", "Name", required=True),
                _c("kind", "str", "类型", "Kind"),
                _c("community_code", "str", "所属社区", "Community", pattern=CODE_COMMUNITY,
                   references="communities.code"),
            ),
            ("Point", "Polygon", "MultiPolygon"),
        ),
        Layer(
            "stations", "站点", "Stations", "id",
            (
                _c("id", "str", "编号", "ID", required=True),
                _c("name", "str", "站点名称", "Name", required=True),
                _c("kind", "str", "类型", "Kind", required=True),
                _c("community_code", "str", "所属社区", "Community", pattern=CODE_COMMUNITY,
                   references="communities.code"),
            ),
            ("Point",),
        ),
        Layer(
            "assignments", "联户", "Red-grid assignments", "household_id",
            (
                _c("household_id", "str", "户编号", "Household", required=True,
                   references="households.id"),
                _c("member_id", "str", "党员编号", "Member", required=True,
                   references="members.id"),
                _c("grid_code", "str", "网格代码", "Grid", pattern=CODE_GRID,
                   references="grids.code"),
                _c("walk_m", "float", "步行距离(米)", "Walking distance (m)"),
                _c("reason", "str", "分配依据", "Reason",
                   choices=("kin", "building", "compound", "nearest", "borrowed",
                            "deployed")),
            ),
            ("LineString",),
            geometry_required=False,
        ),
        Layer(
            "events", "事件", "Events", "id",
            (
                _c("id", "str", "事件编号", "ID", required=True),
                _c("category", "str", "事件类别", "Category", required=True),
                _c("text", "str", "事件描述", "Description"),
                _c("source", "str", "来源", "Source", required=True, choices=EVENT_SOURCES),
                _c("reporter", "str", "上报人", "Reporter", personal=True),
                _c("reported_at", "str", "上报时间", "Reported at", required=True,
                   pattern=ISO_TIME),
                _c("address", "str", "地址", "Address"),
                _c("external_id", "str", "工单号", "Ticket number"),
                _c("subdistrict_code", "str", "所属街道", "Subdistrict",
                   pattern=CODE_SUBDISTRICT),
                _c("community_code", "str", "所属社区", "Community", pattern=CODE_COMMUNITY),
                _c("grid_code", "str", "所属网格", "Grid", pattern=CODE_GRID),
                _c("handler_id", "str", "承办人", "Handler"),
                _c("unit_id", "str", "报到单位", "Dispatched unit"),
                _c("level", "str", "办理层级", "Level", required=True, choices=EVENT_LEVELS),
                _c("status", "str", "状态", "Status", required=True, choices=EVENT_STATUSES),
                _c("due", "str", "办理时限", "Due", pattern=ISO_TIME),
                _c("escalations", "int", "吹哨次数", "Escalations"),
                _c("accepted_at", "str", "受理时间", "Accepted at", pattern=ISO_TIME),
                _c("resolved_at", "str", "办结时间", "Resolved at", pattern=ISO_TIME),
                _c("resolved_by", "str", "办结人", "Resolved by"),
                _c("verified_at", "str", "核查时间", "Verified at", pattern=ISO_TIME),
                _c("verified_by", "str", "核查人", "Verified by"),
                _c("closed_at", "str", "结案时间", "Closed at", pattern=ISO_TIME),
                _c("updated_at", "str", "更新时间", "Updated at", pattern=ISO_TIME),
            ),
            ("Point",),
            description=("事: events found in the grid and handled there (gisgov.events). "
                         "Routing (subdistrict, community, grid, handler = the grid leader) is "
                         "fixed at report time by the locator; level and status move by the "
                         "closed loop reported → accepted → resolved → verified → closed and "
                         "by 吹哨 escalation grid → community → subdistrict → department; "
                         "times are ISO-8601 with offset (China Standard Time, +08:00). The routing codes, "
                         "handler and unit are history (as routed when it happened): they stay "
                         "when grids are re-drawn or staff change, so they are not checked as "
                         "references."),
        ),
        Layer(
            "event_log", "事件流转记录", "Event log", "id",
            (
                _c("id", "str", "记录编号", "ID", required=True),
                _c("event_id", "str", "事件编号", "Event", required=True,
                   references="events.id"),
                _c("seq", "int", "序号", "Step", required=True),
                _c("action", "str", "操作", "Action", required=True, choices=EVENT_ACTIONS),
                _c("actor", "str", "操作人", "Actor"),
                _c("at", "str", "操作时间", "At", required=True, pattern=ISO_TIME),
                _c("note", "str", "说明", "Note"),
                _c("from_status", "str", "原状态", "Status before", choices=EVENT_STATUSES),
                _c("to_status", "str", "新状态", "Status after", choices=EVENT_STATUSES),
                _c("from_level", "str", "原层级", "Level before", choices=EVENT_LEVELS),
                _c("to_level", "str", "新层级", "Level after", choices=EVENT_LEVELS),
                _c("grid_code", "str", "所属网格", "Grid", pattern=CODE_GRID),
                _c("unit_id", "str", "报到单位", "Dispatched unit"),
            ),
            (),
            geometry_required=False,
            description=("Append-only: one row per report, transition and escalation of an "
                         "event (who, when, note); id = event id + '-' + 3-digit step."),
        ),
    ]
}

#: Order in which layers are written so references point backwards where possible.
LAYER_ORDER: list[str] = list(LAYERS)


@dataclass(frozen=True)
class Problem:
    """One validation finding: where it is and what to fix."""

    layer: str
    key: str | None
    rule: str
    message: str
    severity: Literal["error", "warning"] = "error"

    def to_dict(self) -> dict[str, object]:
        """Return the problem as a JSON-ready dict."""
        return {
            "layer": self.layer,
            "key": self.key,
            "rule": self.rule,
            "message": self.message,
            "severity": self.severity,
        }


def has_errors(problems: list[Problem]) -> bool:
    """Whether any problem is an error (not just a warning)."""
    return any(p.severity == "error" for p in problems)


def _layer(name: str) -> Layer:
    try:
        return LAYERS[name]
    except KeyError:
        raise ValidationError(
            f"unknown layer {name!r}; choose one of: {', '.join(LAYERS)}"
        ) from None


def empty_layer(name: str) -> gpd.GeoDataFrame:
    """Return an empty, correctly typed GeoDataFrame for layer ``name``."""
    layer = _layer(name)
    data = {c.name: pd.Series([], dtype=_pandas_dtype(c.dtype)) for c in layer.columns}
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([], crs=STORAGE_CRS), crs=STORAGE_CRS)


def _pandas_dtype(dtype: DType) -> str:
    return {"str": "object", "int": "Int64", "float": "float64", "bool": "boolean"}[dtype]


def _to_str(series: pd.Series) -> pd.Series:
    # Fast path (a stored layer read back: strings and nulls only), same result as conv.
    nan_str = isinstance(series.dtype, pd.StringDtype) and series.dtype.na_value is not pd.NA
    if (series.dtype == object or nan_str) and \
            pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty"):
        null = series.isna()
        # through a numpy unicode array, in C: plain Python str, also for numpy's str_ (as
        # conv's str(v) gives; pandas' astype(str) keeps str subclasses as they are);
        # pandas' map leaves None when every value is null, NaN among strings
        text = np.asarray(series.to_numpy(dtype=object), dtype=str).astype(object)
        out = pd.Series(text, index=series.index, name=series.name, dtype=object)
        return out.where(~null, None if null.all() else np.nan)

    def conv(v: object) -> object:
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            return None
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v)

    return series.map(conv).astype(object)


def _to_bool(series: pd.Series) -> pd.Series:
    if pd.api.types.infer_dtype(series, skipna=True) in ("boolean", "empty"):
        return series.astype("boolean")  # already yes/no (or all missing): no per-value pass
    truthy = {"1", "true", "yes", "y", "t", "是", "有", "√"}
    falsy = {"0", "false", "no", "n", "f", "否", "无", "", "×"}

    if pd.api.types.is_bool_dtype(series.dtype):  # bool or boolean: nothing to parse
        return series.astype("boolean")
    if series.isna().all():  # e.g. an optional column stored empty
        return pd.Series(pd.NA, index=series.index, dtype="boolean")

    def conv(v: object) -> object:
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            return pd.NA
        if isinstance(v, (bool, np.bool_)):
            return bool(v)
        if isinstance(v, (int, float, np.integer, np.floating)):
            return bool(v)
        s = str(v).strip().lower()
        if s in truthy:
            return True
        if s in falsy:
            return False
        raise ValidationError(f"cannot read {v!r} as yes/no; use 1/0, true/false or 是/否")

    return series.map(conv).astype("boolean")


def conform(name: str, gdf: gpd.GeoDataFrame | pd.DataFrame) -> gpd.GeoDataFrame:
    """Return ``gdf`` as layer ``name``: schema columns first, cast to their types.

    Missing optional columns are added as nulls; extra columns are kept after the schema
    columns. The CRS must be EPSG:4326 (or EPSG:4490, which is relabelled as equivalent);
    nothing is reprojected silently.

    Parameters
    ----------
    name
        Layer name.
    gdf
        Data with at least the required columns.

    Returns
    -------
    geopandas.GeoDataFrame
        A new frame with a fresh ``RangeIndex``.

    Raises
    ------
    ValidationError
        If a required column is missing or a value cannot be cast.
    """
    layer = _layer(name)
    df = gdf.copy()
    if not isinstance(df, gpd.GeoDataFrame):
        df = gpd.GeoDataFrame(df, geometry=gpd.GeoSeries([None] * len(df)), crs=STORAGE_CRS)
    elif df.geometry.name != "geometry":
        df = df.rename_geometry("geometry")
    if df.crs is None:
        if layer.has_geometry and df.geometry.notna().any():
            raise ValidationError(
                f"layer {name}: the data has no CRS; declare it (e.g. --crs wgs84) before import"
            )
        df = df.set_crs(STORAGE_CRS)
    elif df.crs.to_epsg() == 4490:
        df = df.set_crs(STORAGE_CRS, allow_override=True)
    elif df.crs.to_epsg() != 4326:
        raise ValidationError(
            f"layer {name}: data is in {df.crs.to_string()}, store needs EPSG:4326; "
            "reproject with gisgov.crs.to_storage() first"
        )
    missing = [c.name for c in layer.columns if c.required and c.name not in df.columns]
    if missing:
        raise ValidationError(
            f"layer {name}: missing required column(s) {', '.join(missing)}; "
            "rename your columns or map them with --map yours=ours"
        )
    out: dict[str, pd.Series] = {}
    for c in layer.columns:
        if c.name not in df.columns:
            out[c.name] = pd.Series([None] * len(df), index=df.index, dtype=_pandas_dtype(c.dtype))
            continue
        s = df[c.name]
        try:
            if c.dtype == "str":
                out[c.name] = _to_str(s)
            elif c.dtype == "int":
                out[c.name] = pd.to_numeric(s, errors="raise").round().astype("Int64")
            elif c.dtype == "float":
                out[c.name] = pd.to_numeric(s, errors="raise").astype("float64")
            else:
                out[c.name] = _to_bool(s)
        except (ValueError, TypeError) as exc:
            raise ValidationError(
                f"layer {name}: column {c.name} must be {c.dtype}: {exc}"
            ) from None
    extras = [c for c in df.columns if c not in out and c != "geometry"]
    for c in extras:
        out[c] = df[c]
    result = gpd.GeoDataFrame(out, geometry=df.geometry.values, crs=STORAGE_CRS)
    return result.reset_index(drop=True)


def validate_layer(name: str, gdf: gpd.GeoDataFrame) -> list[Problem]:
    """Check one layer against the schema.

    Checks CRS, required columns and values, types, choices, code patterns, unique keys,
    geometry presence, type and validity.

    Returns
    -------
    list of Problem
        Empty when the layer is valid.
    """
    layer = _layer(name)
    problems: list[Problem] = []

    def add(key: object, rule: str, msg: str, severity: str = "error") -> None:
        problems.append(
            Problem(name, None if key is None else str(key), rule, msg, severity)  # type: ignore[arg-type]
        )

    if layer.has_geometry and gdf.crs is None and len(gdf):
        add(None, "crs_missing", "layer has no CRS; store data in EPSG:4326 (WGS-84)")
    elif gdf.crs is not None and gdf.crs.to_epsg() not in (4326, 4490):
        add(None, "crs_wrong", f"layer is in {gdf.crs.to_string()}; store data in EPSG:4326")
    for c in layer.columns:
        if c.required and c.name not in gdf.columns:
            add(None, "column_missing", f"required column {c.name} ({c.label_zh}) is missing")
    if layer.key not in gdf.columns:
        return problems
    keys = gdf[layer.key].astype(object).where(gdf[layer.key].notna(), None)
    for i in np.flatnonzero(keys.isna().to_numpy()):
        add(f"row {i}", "key_missing", f"row {i} has no {layer.key}; every row needs a unique key")
    dup = keys[keys.duplicated(keep="first") & keys.notna()]
    for k in dup.unique():
        add(k, "key_duplicate", f"{layer.key} {k} appears more than once; keys must be unique")
    for c in layer.columns:
        if c.name not in gdf.columns:
            continue
        s = gdf[c.name]
        if c.required:
            for k in keys[s.isna().to_numpy()]:
                add(k, "value_missing", f"{c.name} ({c.label_zh}) is required")
        present = s.notna().to_numpy()
        if c.choices:
            bad = present & ~s.astype(object).isin(c.choices).to_numpy()
            for k, v in zip(keys[bad], s[bad], strict=True):
                add(k, "value_choice", f"{c.name}={v!r} is not one of {', '.join(c.choices)}")
        if c.pattern:
            vals = s.astype(object)
            bad = present & ~vals.map(_matcher(c.pattern)).to_numpy(dtype=bool)
            for k, v in zip(keys[bad], vals[bad], strict=True):
                add(k, "code_malformed",
                    f"{c.name}={v!r} is not a well-formed code ({_pattern_hint(c.pattern)})")
        if c.dtype in ("int", "float") and present.any():
            num = pd.to_numeric(s, errors="coerce")
            bad = present & num.isna().to_numpy()
            for k, v in zip(keys[bad], s[bad], strict=True):
                add(k, "value_type", f"{c.name}={v!r} is not a number")
            neg = present & (num < 0).fillna(False).to_numpy(dtype=bool)
            for k in keys[neg]:
                add(k, "value_negative", f"{c.name} must not be negative")
    if layer.has_geometry and "geometry" in gdf.columns and len(gdf):
        geoms = gdf.geometry.values
        missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
        if layer.geometry_required:
            for k in keys[missing]:
                add(k, "geometry_missing", "row has no geometry")
        gtypes = np.asarray(shapely.get_type_id(geoms))
        names = np.array(
            ["Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString",
             "MultiPolygon", "GeometryCollection"]
        )
        type_names = np.where(gtypes >= 0, names[np.clip(gtypes, 0, 7)], "")
        bad_type = ~missing & ~np.isin(type_names, layer.geometry_types)
        for k, t in zip(keys[bad_type], type_names[bad_type], strict=True):
            add(k, "geometry_type",
                f"geometry is {t}; this layer takes {'/'.join(layer.geometry_types)}")
        invalid = ~missing & ~shapely.is_valid(geoms)
        for k, g in zip(keys[invalid], geoms[invalid], strict=True):
            add(k, "geometry_invalid",
                f"invalid geometry ({shapely.is_valid_reason(g)}); repair it (make_valid) "
                "or redraw it")
        if gdf.crs is not None and (~missing).any():
            b = shapely.bounds(geoms[~missing])
            out_of_range = (np.abs(b[:, 0]) > 180) | (np.abs(b[:, 2]) > 180) | (
                np.abs(b[:, 1]) > 90) | (np.abs(b[:, 3]) > 90)
            for k in keys[~missing][out_of_range]:
                add(k, "coordinates_out_of_range",
                    "coordinates are outside lon ±180 / lat ±90: projected data labelled as "
                    "WGS-84?")
    elif not layer.has_geometry and "geometry" in gdf.columns and len(gdf):
        pass
    return problems


def _matcher(pattern: str) -> Callable[[object], bool]:
    rx = re.compile(pattern)
    return lambda v: bool(rx.fullmatch(str(v)))


def _pattern_hint(pattern: str) -> str:
    m = re.fullmatch(r"\\d\{(\d+)\}", pattern)
    return f"{m.group(1)} digits" if m else f"pattern {pattern}"


def validate_workspace(
    layers: Mapping[str, gpd.GeoDataFrame], *, only: list[str] | None = None
) -> list[Problem]:
    """Validate every layer and the references between layers.

    Parameters
    ----------
    layers
        Layer name to GeoDataFrame; layers that are absent are not checked.
    only
        Restrict the checks to these layers (references into other layers still resolve).

    Returns
    -------
    list of Problem
    """
    problems: list[Problem] = []
    names = [n for n in LAYER_ORDER if n in layers and (only is None or n in only)]
    for name in names:
        problems.extend(validate_layer(name, layers[name]))
    for name in names:
        layer = LAYERS[name]
        gdf = layers[name]
        if layer.key not in gdf.columns:
            continue
        for c in layer.columns:
            if not c.references or c.name not in gdf.columns:
                continue
            target_layer, target_col = c.references.split(".")
            if target_layer not in layers:
                continue
            target = layers[target_layer]
            if target_col not in target.columns:
                continue
            valid = set(target[target_col].dropna().astype(str))
            vals = gdf[c.name]
            present = vals.notna().to_numpy()
            dangling = present & ~vals.astype(str).isin(valid).to_numpy()
            for k, v in zip(gdf[layer.key][dangling], vals[dangling], strict=True):
                problems.append(
                    Problem(
                        name, str(k), "reference_missing",
                        f"{c.name}={v} refers to {target_layer} {v}, which does not exist; "
                        f"import {target_layer} first or fix the value",
                    )
                )
    if "grids" in layers and "communities" in layers and "grids" in names:
        grids = layers["grids"]
        if {"code", "community_code"} <= set(grids.columns):
            bad = grids["code"].astype(str).str[:12] != grids["community_code"].astype(str)
            for k in grids["code"][bad.to_numpy()]:
                problems.append(
                    Problem("grids", str(k), "code_prefix",
                            "grid code must start with its community's 12-digit code")
                )
    return problems


def schema_markdown(lang: Literal["zh", "en"] = "zh") -> str:
    """Render the schema as a Markdown table (used by the docs and ``gisgov schema``)."""
    lines = ["| layer | key | columns | geometry |", "|---|---|---|---|"]
    for layer in LAYERS.values():
        label = layer.label_zh if lang == "zh" else layer.label_en
        cols = ", ".join(
            f"`{c.name}` {c.dtype}{' (P)' if c.personal or c.sensitive else ''}"
            for c in layer.columns
        )
        geom = "/".join(layer.geometry_types) or "none"
        lines.append(f"| `{layer.name}` {label} | `{layer.key}` | {cols} | {geom} |")
    return "\n".join(lines)


def schema_document() -> str:
    """The whole schema as a Markdown document, Chinese and English (``docs/SCHEMA.md``).

    Generated, never written by hand, so the document users read cannot drift from the
    schema the stores validate against: ``gisgov schema --markdown > docs/SCHEMA.md``
    regenerates it and a test fails when it is stale.
    """

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    out = [
        "# Layer schema · 图层与字段",
        "",
        "<!-- generated from gisgov/layers.py by `gisgov schema --markdown > docs/SCHEMA.md`; "
        "do not edit (tests/test_architecture.py checks it is current) -->",
        "",
        "Every layer users see, with its columns in Chinese and English. Layers are stored in "
        f"{STORAGE_CRS} (WGS-84) with a `geometry` column (all-null for layers without "
        "geometry) and a text key. Names are a contract (imports, exports, the API, scripts): "
        "extend, never rename.",
        "",
        "Marks: **req** present and non-null on every row; **P** personal information (masked "
        "unless the role may see it, audited when shown); **S** sensitive personal information "
        "(never shown below the planner role); → the layer.column a value refers to.",
        "",
        "| layer | 图层 | layer (en) | key | geometry |",
        "|---|---|---|---|---|",
    ]
    for layer in LAYERS.values():
        geom = "/".join(layer.geometry_types) or "none"
        if layer.geometry_types and not layer.geometry_required:
            geom += " (optional)"
        out.append(f"| [`{layer.name}`](#{layer.name}) | {layer.label_zh} | {layer.label_en} "
                   f"| `{layer.key}` | {geom} |")
    for layer in LAYERS.values():
        out += ["", f"## {layer.name}", "", f"{layer.label_zh} · {layer.label_en}"]
        if layer.description:
            out += ["", cell(layer.description)]
        out += ["", "| column | 中文 | English | type | marks | values |",
                "|---|---|---|---|---|---|"]
        for c in layer.columns:
            marks = " ".join(m for m, on in (("req", c.required), ("P", c.personal),
                                               ("S", c.sensitive)) if on)
            values = []
            if c.choices:
                values.append(", ".join(f"`{v}`" for v in c.choices))
            if c.pattern:
                values.append(f"pattern `{cell(c.pattern)}`")
            if c.references:
                values.append(f"→ `{c.references}`")
            out.append(f"| `{c.name}` | {cell(c.label_zh)} | {cell(c.label_en)} | {c.dtype} "
                       f"| {marks} | {'; '.join(values)} |")
    return "\n".join(out) + "\n"
