"""Registers kept in Excel or CSV with Chinese headers → gisgov layers.

A community's population register (人口台账) and party-member roster (党员花名册) arrive as
spreadsheets: a title row or two above the headers, Chinese column names that differ from
office to office, coordinates picked on a Gaode map (GCJ-02) for some rows and only a 门牌
address for others. :func:`read_register` handles that:

- the header row is found among the first rows (the one with most known names), and headers
  are mapped by :data:`HEADER_ALIASES` (户主姓名→head_name, 联系电话→phone, 身份证号→id_number,
  人口数→size, 门牌地址→address, 经度/纬度, 党员姓名→name, 党员类别→class, 所属支部→branch_id, …)
  after ``mapping`` (``--map``) has been applied;
- the coordinate system comes from ``crs``, else from a hint in the header
  (``经度(高德)`` → GCJ-02, ``经度（百度）`` → BD-09), else a ``坐标系`` column per row, else WGS-84
  (and the result says it was assumed);
- rows without coordinates are placed on the building whose address has the same street name
  and house number (门牌号 + 路名), and the rest are listed as unmatched, never guessed.

Unmatched rows are reported by row number and address only: the report must not spread the
personal information (names, phones, ID numbers) that the layer itself keeps masked.
"""

from __future__ import annotations

import io
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisgov.crs import normalise_crs_name, transform_points
from gisgov.errors import CRSError, ImportDataError
from gisgov.layers import LAYERS, STORAGE_CRS

__all__ = [
    "HEADER_ALIASES",
    "REGISTER_LAYERS",
    "TEMPLATES",
    "Register",
    "address_key",
    "has_chinese_headers",
    "match_addresses",
    "read_register",
    "write_templates",
]

#: Layers that come from registers (tables with one row per person/household/unit).
REGISTER_LAYERS = ("households", "members", "staff", "units", "stations")

_COMMON: dict[str, str] = {
    "编号": "id", "id": "id", "经度": "lon", "纬度": "lat", "lon": "lon", "lng": "lon",
    "lat": "lat", "longitude": "lon", "latitude": "lat", "x": "lon", "y": "lat",
    "联系电话": "phone", "电话": "phone", "手机": "phone", "手机号": "phone",
    "手机号码": "phone", "联系方式": "phone", "电话号码": "phone",
    "门牌地址": "address", "地址": "address", "住址": "address", "家庭住址": "address",
    "详细地址": "address", "门牌号": "address", "门牌": "address", "居住地址": "address",
    "现住址": "address",
    "所属社区": "community_code", "社区代码": "community_code", "社区编码": "community_code",
    "坐标系": "crs",
}

#: Chinese (and plain English) header → schema column, per layer. Compared after removing
#: spaces, ``*`` marks and any bracketed note such as ``（必填）`` or ``(高德)``.
HEADER_ALIASES: dict[str, dict[str, str]] = {
    "households": {
        **_COMMON,
        "户编号": "id", "户号": "id",
        "户主姓名": "head_name", "户主": "head_name", "姓名": "head_name",
        "身份证号": "id_number", "身份证号码": "id_number", "公民身份号码": "id_number",
        "户主身份证号": "id_number",
        "人口数": "size", "家庭人口": "size", "家庭人口数": "size", "户人口数": "size",
        "人数": "size", "户内人口": "size",
        "流动人口": "floating", "流动人口数": "floating", "是否流动人口": "floating",
        "老年人": "elderly", "是否老年人": "elderly", "有无老年人": "elderly",
        "低保": "low_income", "低保户": "low_income", "是否低保": "low_income",
        "残疾人": "disabled", "是否残疾": "disabled", "有无残疾人": "disabled",
        "楼栋编号": "building_id", "所在楼栋": "building_id",
        "亲属党员": "kin_member_id", "亲属党员编号": "kin_member_id",
    },
    "members": {
        **_COMMON,
        "党员编号": "id",
        "党员姓名": "name", "姓名": "name",
        "党员类别": "class", "类别": "class", "分类": "class", "积分类别": "class",
        "年龄": "age",
        "状态": "status", "党员状态": "status", "在职状态": "status",
        "流动党员": "away", "是否流动党员": "away",
        "所属支部": "branch_id", "所在支部": "branch_id", "党支部": "branch_id",
        "所属党组织": "branch_id", "所在党组织": "branch_id",
        "工作单位": "workplace", "所在单位": "workplace",
    },
    "staff": {
        **_COMMON,
        "姓名": "name", "网格员姓名": "name",
        "所属网格": "grid_code", "网格编码": "grid_code", "网格代码": "grid_code",
        "角色": "role", "岗位": "role", "职务": "role",
        "党员编号": "member_id", "职责": "duty",
    },
    "units": {
        **_COMMON,
        "单位名称": "name", "名称": "name",
        "类型": "kind", "单位类型": "kind", "单位性质": "kind",
    },
    "stations": {
        **_COMMON,
        "站点名称": "name", "名称": "name",
        "类型": "kind", "站点类型": "kind",
    },
}

_ID_PREFIX = {"households": "H", "members": "M", "staff": "S", "units": "U", "stations": "T"}

_CLASS_WORDS = {"一": "A", "二": "B", "三": "C", "四": "D", "1": "A", "2": "B", "3": "C", "4": "D"}
_STATUS_WORDS: dict[str, str] = {
    **dict.fromkeys(["居住", "常住", "在册", "居家", "在家", "本地", "退休", "resident"],
                    "resident"),
    **dict.fromkeys(["在职", "在岗", "在职党员", "in_service"], "in_service"),
    **dict.fromkeys(["流动", "外出", "流动党员", "外出务工", "away"], "away"),
}
_ROLE_WORDS: dict[str, str] = {
    **dict.fromkeys(["网格长", "leader"], "leader"),
    **dict.fromkeys(["专职网格员", "专职", "full_time"], "full_time"),
    **dict.fromkeys(["兼职网格员", "兼职", "part_time"], "part_time"),
    **dict.fromkeys(["网格指导员", "指导员", "instructor"], "instructor"),
    **dict.fromkeys(["志愿者", "红色网格员", "网格志愿者", "volunteer"], "volunteer"),
}
_YES = {"是", "有", "1", "true", "yes", "y", "√"}
# Header notes that say which coordinate system the picker used.
_CRS_HINTS = (("高德", "gcj02"), ("gcj", "gcj02"), ("腾讯", "gcj02"), ("百度", "bd09"),
              ("bd", "bd09"), ("2000", "cgcs2000"), ("wgs", "wgs84"), ("gps", "wgs84"))
_HEADER_SCAN_ROWS = 10
_NOTE = re.compile(r"[（(【\[].*?[)）】\]]")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_NUMBER = re.compile(r"(\d+[a-z]?)")


@dataclass
class Register:
    """A register read into a layer.

    Attributes
    ----------
    layer
        Target layer name.
    frame
        The placed rows in EPSG:4326 (schema columns renamed, values normalised; not yet
        conformed: ``branch_id`` may still hold branch names).
    placed_by
        ``{"coordinates": n, "address": n}``.
    unmatched
        Rows left out: ``{"row": spreadsheet row number, "id", "address", "reason"}``.
    source_crs
        Coordinate system of the file's coordinates; ``crs_assumed`` when nothing said it.
    notes
        Human-readable remarks (defaults applied, header row found, …).
    """

    layer: str
    frame: gpd.GeoDataFrame
    placed_by: dict[str, int] = field(default_factory=dict)
    unmatched: list[dict[str, object]] = field(default_factory=list)
    source_crs: str = "wgs84"
    crs_assumed: bool = False
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        """JSON-ready summary (no personal data)."""
        return {"layer": self.layer, "rows": len(self.frame), "placed_by": dict(self.placed_by),
                "unmatched": list(self.unmatched), "source_crs": self.source_crs,
                "crs_assumed": self.crs_assumed, "notes": list(self.notes)}


def read_register(
    path: str | Path,
    *,
    layer: str,
    crs: str | None = None,
    mapping: Mapping[str, str] | None = None,
    sheet: str | int | None = None,
    encoding: str | None = None,
    buildings: gpd.GeoDataFrame | None = None,
) -> Register:
    """Read an Excel/CSV register with Chinese headers as layer ``layer``.

    Parameters
    ----------
    path
        ``.xlsx`` or ``.csv`` (UTF-8 or GBK/GB18030, detected).
    layer
        One of :data:`REGISTER_LAYERS`.
    crs
        Coordinate system of the 经度/纬度 columns: ``wgs84``, ``cgcs2000``, ``gcj02`` (Gaode,
        Tencent, WeChat) or ``bd09`` (Baidu). Default: a hint in the header, a ``坐标系``
        column, else WGS-84 (assumed, and reported so).
    mapping
        ``{their_header: our_column}``, applied before the built-in dictionary.
    sheet
        Excel sheet name or index (default the first).
    encoding
        Text encoding of a CSV.
    buildings
        Buildings layer (EPSG:4326, with ``id`` and ``address``) to place rows that have an
        address but no coordinates.

    Returns
    -------
    Register

    Raises
    ------
    ImportDataError
        Unreadable file, unknown ``--map`` columns, duplicate ids, swapped coordinates.
    CRSError
        An unknown coordinate system.
    """
    if layer not in REGISTER_LAYERS:
        raise ImportDataError(
            f"registers fill {', '.join(REGISTER_LAYERS)}; {layer!r} is imported with "
            "`gisgov import --layer`"
        )
    p = Path(path)
    notes: list[str] = []
    df, rows, hint = _register_table(p, layer, mapping, sheet=sheet, encoding=encoding,
                                     notes=notes)
    source = normalise_crs_name(crs) if crs else hint
    assumed = source is None and "crs" not in df.columns
    geoms, has_xy = _points(df, source or "wgs84", p.name)
    if not LAYERS[layer].has_geometry:
        # Staff lists have no place of their own: every row is kept, none needs placing.
        has_xy = np.ones(len(df), dtype=bool)
    placed_by = {"coordinates": sum(g is not None for g in geoms), "address": 0}
    building_ids, unmatched = _place_by_address(df, ~has_xy, buildings, rows, geoms)
    placed_by["address"] = sum(b is not None for b in building_ids)
    placed = has_xy | np.array([g is not None for g in geoms], dtype=bool)
    frame = _layer_frame(df, layer, building_ids, buildings, geoms, placed)
    if assumed and placed_by["coordinates"]:
        notes.append("coordinates taken as WGS-84: pass --crs gcj02 for Gaode/WeChat pickers")
    return Register(layer=layer, frame=frame.reset_index(drop=True), placed_by=placed_by,
                    unmatched=unmatched,
                    source_crs=source or ("per-row 坐标系" if "crs" in df.columns else "wgs84"),
                    crs_assumed=assumed,
                    notes=notes)


def _register_table(
    p: Path, layer: str, mapping: Mapping[str, str] | None, *, sheet: str | int | None,
    encoding: str | None, notes: list[str],
) -> tuple[pd.DataFrame, pd.Series, str | None]:
    """The register's rows under our column names, values normalised, ids checked.

    Returns the table, each row's 1-based spreadsheet row number (for messages a clerk can
    find in the file) and the coordinate system the headers hint at (``None`` without one).
    """
    raw = _read_cells(p, sheet=sheet, encoding=encoding)
    df, header_row = _with_header(raw, layer, mapping)
    if header_row:
        notes.append(f"headers found on row {header_row + 1}")
    hint = _crs_hint(df.columns)
    if mapping:
        unknown = [k for k in mapping if k not in df.columns]
        if unknown:
            raise ImportDataError(
                f"{p.name}: --map names column(s) {', '.join(map(repr, unknown))} that the "
                f"file does not have; columns: {', '.join(map(str, df.columns))}"
            )
        df = df.rename(columns=dict(mapping))
    df = df.rename(columns=_header_renames(df.columns, layer, set((mapping or {}).values())))
    df = df.loc[:, ~df.columns.duplicated()]
    df = df.dropna(how="all").reset_index(drop=True)
    first_data_row = header_row + 2  # 1-based spreadsheet row of df.iloc[0]
    rows = pd.Series(np.arange(len(df)) + first_data_row, index=df.index)
    _normalise_values(df, layer, notes)
    _ensure_ids(df, layer, p.name, rows)
    return df, rows, hint


def _place_by_address(
    df: pd.DataFrame, todo: np.ndarray, buildings: gpd.GeoDataFrame | None, rows: pd.Series,
    geoms: np.ndarray,
) -> tuple[pd.Series, list[dict[str, object]]]:
    """Place the rows without coordinates (``todo``) on the building their address names.

    A placed row's point (in ``geoms``, filled in place) is its building's representative
    point. Returns the building id per row (``None`` where not placed by address) and the
    rows left unplaced, each with the reason a clerk can act on.
    """
    building_ids = pd.Series([None] * len(df), index=df.index, dtype=object)
    unmatched: list[dict[str, object]] = []
    if not todo.any():
        return building_ids, unmatched
    addresses = df["address"] if "address" in df.columns else pd.Series(
        [None] * len(df), index=df.index, dtype=object)
    usable = buildings is not None and len(buildings) > 0
    found = (match_addresses(addresses[todo], buildings) if usable
             else pd.Series([None] * int(todo.sum()), index=df.index[todo], dtype=object))
    reps = None
    if buildings is not None and usable:
        reps = buildings.set_index(buildings["id"].astype(str)).geometry.representative_point()
    for i in df.index[todo]:
        bid = found.get(i)
        if bid is not None and reps is not None:
            geoms[i] = reps[bid]
            building_ids[i] = bid
            continue
        addr = addresses[i]
        has_addr = isinstance(addr, str) and bool(addr.strip())
        reason = ("no building with this street name and house number" if has_addr
                  and buildings is not None else
                  "no buildings to match the address against" if has_addr else
                  "no coordinates and no address")
        unmatched.append({"row": int(rows[i]), "id": str(df.at[i, "id"]),
                          "address": addr if has_addr else None, "reason": reason})
    return building_ids, unmatched


def _layer_frame(
    df: pd.DataFrame, layer: str, building_ids: pd.Series, buildings: gpd.GeoDataFrame | None,
    geoms: np.ndarray, placed: np.ndarray,
) -> gpd.GeoDataFrame:
    """The placed rows as the layer's columns: coordinates dropped, building ids kept where
    the layer has them (a register's own building id wins over the address match)."""
    out = df.drop(columns=[c for c in ("lon", "lat", "crs") if c in df.columns])
    if "building_id" not in out.columns or buildings is not None:
        existing = out["building_id"] if "building_id" in out.columns else None
        out["building_id"] = building_ids if existing is None else existing.where(
            existing.notna(), building_ids)
    if layer == "members":
        # A member's home is the point; the address text would be an unmasked personal column.
        out = out.drop(columns=[c for c in ("address", "building_id") if c in out.columns])
    elif layer != "households":
        out = out.drop(columns=["building_id"])
    return gpd.GeoDataFrame(out[placed], geometry=list(geoms[placed]), crs=STORAGE_CRS)


def has_chinese_headers(path: str | Path, *, sheet: str | int | None = None) -> bool:
    """Whether a table's first rows hold Chinese text (a register, not a schema export)."""
    try:
        raw = _read_cells(Path(path), sheet=sheet, encoding=None)
    except ImportDataError:
        return False
    head = raw.head(_HEADER_SCAN_ROWS).to_numpy().ravel().tolist()
    return any(isinstance(c, str) and _CJK.search(c) and len(c) <= 20 for c in head)


# ---- reading ------------------------------------------------------------------------------

def read_cells(path: str | Path, *, sheet: str | int | None = None,
               encoding: str | None = None) -> pd.DataFrame:
    """Every cell of a ``.csv`` (UTF-8 or GB18030) or ``.xlsx`` table as text, no header
    (shared with other Chinese-header imports, e.g. the hotline export of
    :mod:`gisgov.events.hotline`)."""
    return _read_cells(Path(path), sheet=sheet, encoding=encoding)


def _read_cells(p: Path, *, sheet: str | int | None, encoding: str | None) -> pd.DataFrame:
    """Every cell as text, no header yet (the header row is found later)."""
    if not p.exists():
        raise ImportDataError(f"{p}: file not found")
    ext = p.suffix.lower()
    if ext == ".csv":
        data = p.read_bytes()
        enc = encoding
        if enc is None:
            try:
                data.decode("utf-8-sig")
                enc = "utf-8-sig"
            except UnicodeDecodeError:
                enc = "gb18030"  # superset of GBK/GB2312: what Chinese Excel saves as CSV
        try:
            return pd.read_csv(io.StringIO(data.decode(enc)), header=None, dtype=str,
                               skipinitialspace=True, keep_default_na=False, na_values=[""])
        except (UnicodeDecodeError, LookupError) as exc:
            raise ImportDataError(f"{p.name}: cannot decode as {enc} ({exc}); pass --encoding"
                                  ) from None
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise ImportDataError(f"{p.name}: not a readable CSV table ({exc})") from None
    if ext != ".xlsx":
        raise ImportDataError(f"{p.name}: registers are .xlsx or .csv files")
    try:
        with warnings.catch_warnings():
            # openpyxl warns about styles and data validation it ignores; values are unaffected.
            warnings.simplefilter("ignore", UserWarning)
            return pd.read_excel(p, sheet_name=sheet if sheet is not None else 0, header=None,
                                 dtype=str)
    except ValueError as exc:
        raise ImportDataError(f"{p.name}: {exc}") from None
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise ImportDataError(f"{p.name}: not a readable .xlsx workbook ({exc})") from None


def _clean_header(value: object) -> str:
    text = unicodedata.normalize("NFKC", str(value)) if isinstance(value, str) else ""
    text = _NOTE.sub("", text)
    return re.sub(r"[\s*＊:：]", "", text).lower()


def _with_header(
    raw: pd.DataFrame, layer: str, mapping: Mapping[str, str] | None
) -> tuple[pd.DataFrame, int]:
    """Pick the header row: the one among the first rows with most recognised names."""
    aliases = HEADER_ALIASES[layer]
    known = set(aliases) | {c.name for c in LAYERS[layer].columns} | set(mapping or {})
    best, best_hits = 0, -1
    for r in range(min(_HEADER_SCAN_ROWS, len(raw))):
        cells = raw.iloc[r].tolist()
        hits = sum(1 for c in cells if _clean_header(c) in known or c in known)
        if hits > best_hits:
            best, best_hits = r, hits
    if len(raw) == 0:
        return raw, 0
    header = [str(c).strip() if isinstance(c, str) else f"column{i + 1}"
              for i, c in enumerate(raw.iloc[best].tolist())]
    df = raw.iloc[best + 1:].reset_index(drop=True)
    df.columns = pd.Index(header)
    return df, best


def _header_renames(columns: pd.Index, layer: str, taken: set[str]) -> dict[str, str]:
    aliases = HEADER_ALIASES[layer]
    schema = {c.name for c in LAYERS[layer].columns}
    renames: dict[str, str] = {}
    used = set(taken) | {c for c in columns if c in schema}
    for col in columns:
        if col in taken or col in schema:
            continue
        target = aliases.get(_clean_header(col))
        if target and target not in used:
            renames[col] = target
            used.add(target)
    return renames


def _crs_hint(columns: pd.Index) -> str | None:
    for col in columns:
        text = unicodedata.normalize("NFKC", str(col)).lower()
        if not any(k in text for k in ("经度", "纬度", "lon", "lat", "lng")):
            continue
        for needle, name in _CRS_HINTS:
            if needle in text:
                return name
    return None


# ---- values ---------------------------------------------------------------------------------

def _strip(s: pd.Series) -> pd.Series:
    return s.map(lambda v: unicodedata.normalize("NFKC", v).strip() if isinstance(v, str) else v)


def _normalise_values(df: pd.DataFrame, layer: str, notes: list[str]) -> None:
    for col in df.columns:
        df[col] = _strip(df[col]).replace("", None)
    if layer == "members":
        if "class" in df.columns:
            df["class"] = df["class"].map(_member_class)
        if "status" in df.columns:
            df["status"] = df["status"].map(
                lambda v: _STATUS_WORDS.get(str(v).lower(), v) if isinstance(v, str) else v)
        if "away" in df.columns:
            away = df["away"].map(lambda v: isinstance(v, str) and v.lower() in _YES)
            status = df["status"] if "status" in df.columns else pd.Series(
                [None] * len(df), index=df.index, dtype=object)
            df["status"] = status.where(~away, "away")
            del df["away"]
        if "status" not in df.columns or df["status"].isna().any():
            n = len(df) if "status" not in df.columns else int(df["status"].isna().sum())
            notes.append(f"{n} member(s) without 状态: taken as resident (居住)")
            df["status"] = (df["status"] if "status" in df.columns else pd.Series(
                [None] * len(df), index=df.index, dtype=object)).fillna("resident")
        if "class" not in df.columns or df["class"].isna().any():
            n = len(df) if "class" not in df.columns else int(df["class"].isna().sum())
            notes.append(f"{n} member(s) without 党员类别: taken as A until classified")
            df["class"] = (df["class"] if "class" in df.columns else pd.Series(
                [None] * len(df), index=df.index, dtype=object)).fillna("A")
        if "age" in df.columns:
            df["age"] = df["age"].map(_leading_int)
    elif layer == "households":
        if "size" in df.columns:
            df["size"] = df["size"].map(_leading_int)
        if "floating" in df.columns:
            sizes = df["size"].tolist() if "size" in df.columns else [None] * len(df)
            df["floating"] = pd.Series(
                [_floating(v, s) for v, s in zip(df["floating"], sizes, strict=True)],
                index=df.index, dtype=object)
        if "size" not in df.columns or df["size"].isna().any():
            n = len(df) if "size" not in df.columns else int(df["size"].isna().sum())
            notes.append(f"{n} household(s) without 人口数: counted as 1 person")
            df["size"] = (df["size"] if "size" in df.columns else pd.Series(
                [None] * len(df), index=df.index, dtype=object)).fillna(1)
    elif layer == "staff" and "role" in df.columns:
        df["role"] = df["role"].map(
            lambda v: _ROLE_WORDS.get(str(v).lower(), v) if isinstance(v, str) else v)
    elif layer == "stations" and "kind" in df.columns:
        df["kind"] = df["kind"].map(
            lambda v: {"志愿服务站": "volunteer", "志愿者服务站": "volunteer",
                       "党群服务中心": "service_center", "服务中心": "service_center"}.get(v, v))


def _member_class(value: object) -> object:
    if not isinstance(value, str):
        return value
    v = value.upper().replace("类", "").replace("CLASS", "").strip()
    return _CLASS_WORDS.get(v, v)


def _leading_int(value: object) -> object:
    if not isinstance(value, str):
        return value
    m = re.match(r"\s*(\d+)", value)
    return int(m.group(1)) if m else None


def _floating(value: object, size: object) -> object:
    """A count stays a count; 是/否 means the whole household or nobody."""
    if not isinstance(value, str):
        return value
    if value.isdigit():
        return int(value)
    if value.lower() in _YES:
        return size if isinstance(size, int) else 1
    return 0


def _ensure_ids(df: pd.DataFrame, layer: str, name: str, rows: pd.Series) -> None:
    if "id" not in df.columns or df["id"].isna().all():
        width = max(4, len(str(len(df))))
        df["id"] = [f"{_ID_PREFIX[layer]}{i + 1:0{width}d}" for i in range(len(df))]
        return
    missing = df["id"].isna()
    if missing.any():
        raise ImportDataError(
            f"{name}: {int(missing.sum())} row(s) have no 编号, e.g. row {int(rows[missing].iloc[0])}; "
            "fill them or delete the 编号 column to have ids generated"
        )
    dup = df["id"].duplicated(keep=False)
    if dup.any():
        raise ImportDataError(
            f"{name}: 编号 {df['id'][dup].iloc[0]!r} appears on rows "
            f"{', '.join(str(int(r)) for r in rows[df['id'] == df['id'][dup].iloc[0]])}; "
            "ids must be unique"
        )


# ---- coordinates ------------------------------------------------------------------------------

def _points(df: pd.DataFrame, source: str, name: str) -> tuple[np.ndarray, np.ndarray]:
    n = len(df)
    geoms = np.full(n, None, dtype=object)
    if "lon" not in df.columns or "lat" not in df.columns:
        return geoms, np.zeros(n, dtype=bool)
    lon = pd.to_numeric(df["lon"], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(df["lat"], errors="coerce").to_numpy(dtype=float)
    ok = np.isfinite(lon) & np.isfinite(lat) & ~((lon == 0) & (lat == 0))
    if not ok.any():
        return geoms, ok
    lo, la = lon[ok], lat[ok]
    if (np.abs(lo) > 180).any() or (np.abs(la) > 90).any():
        if ((lo >= 18) & (lo <= 54) & (la >= 73) & (la <= 135)).mean() > 0.5 or ((
                np.abs(la) > 90).any() and (np.abs(lo) <= 90).all()):
            raise ImportDataError(f"{name}: 经度 and 纬度 look swapped; swap the columns")
        raise CRSError(f"{name}: 经度/纬度 are not degrees; registers take lon/lat in degrees")
    if ((lo >= 18) & (lo <= 54) & (la >= 73) & (la <= 135)).mean() > 0.5:
        raise ImportDataError(f"{name}: 经度 and 纬度 look swapped; swap the columns")
    systems = (df["crs"].map(lambda v: _row_crs(v) if isinstance(v, str) else source)
               if "crs" in df.columns else pd.Series([source] * n, index=df.index))
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    for system in systems[ok].unique():
        sel = ok & (systems == system).to_numpy()
        x[sel], y[sel] = transform_points(lon[sel], lat[sel], source=system, target="wgs84")
    geoms[ok] = shapely.points(x[ok], y[ok])
    return geoms, ok


def _row_crs(value: str) -> str:
    """A 坐标系 cell: 高德/百度/GPS/2000 as well as the names gisgov.crs knows."""
    text = value.strip().lower()
    for needle, name in _CRS_HINTS:
        if needle in text:
            return name
    return normalise_crs_name(value)


#: Template files (``geodata/templates/<layer>.csv``): headers and one example row each.
TEMPLATES: dict[str, tuple[list[str], list[str]]] = {
    "households": (
        ["户编号", "户主姓名", "联系电话", "身份证号", "人口数", "流动人口数", "是否老年人",
         "是否低保", "是否残疾", "门牌地址", "经度", "纬度", "坐标系"],
        ["H0001", "张某某", "13800000000", "", "3", "0", "否", "否", "否", "幸福路12号",
         "113.6012", "34.7008", "高德"],
    ),
    "members": (
        ["党员编号", "党员姓名", "联系电话", "党员类别", "年龄", "状态", "所属支部",
         "门牌地址", "经度", "纬度", "坐标系"],
        ["M0001", "李某某", "13900000000", "A", "45", "居住", "幸福社区第一支部",
         "幸福路12号", "113.6012", "34.7008", "高德"],
    ),
    "staff": (
        ["编号", "姓名", "联系电话", "所属网格", "角色", "党员编号", "职责"],
        ["S0001", "王某某", "13700000000", "410223001001001", "网格长", "M0001",
         "信息采集、政策宣传"],
    ),
    "units": (
        ["编号", "单位名称", "单位类型", "所属社区", "经度", "纬度", "坐标系"],
        ["U0001", "县供电公司", "国有企业", "410223001001", "113.6030", "34.7020", "高德"],
    ),
    "stations": (
        ["编号", "站点名称", "站点类型", "所属社区", "经度", "纬度", "坐标系"],
        ["T0001", "幸福社区志愿服务站", "志愿服务站", "410223001001", "113.6025", "34.7015",
         "高德"],
    ),
}


def write_templates(directory: str | Path) -> list[Path]:
    """Write the register templates as CSV (UTF-8 with BOM, so Excel shows the Chinese).

    Parameters
    ----------
    directory
        Folder to write ``<layer>.csv`` into (created if needed).

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for layer, (header, example) in TEMPLATES.items():
        path = folder / f"{layer}.csv"
        frame = pd.DataFrame([example], columns=header)
        path.write_bytes(frame.to_csv(index=False, lineterminator="\n").encode("utf-8-sig"))
        written.append(path)
    return written


# ---- address matching -------------------------------------------------------------------------

def address_key(address: object) -> tuple[str, str] | None:
    """``(street, house number)`` of a 门牌 address, normalised for matching.

    Full-width characters and spaces are normalised; anything after the house number
    (栋, 单元, 室) is ignored, since the building is what is being found.

    >>> address_key("幸福路 １２号3栋2单元")
    ('幸福路', '12')
    >>> address_key("Mannerheimintie 10 A")
    ('mannerheimintie', '10')
    >>> address_key("无门牌") is None
    True
    """
    if not isinstance(address, str):
        return None
    text = unicodedata.normalize("NFKC", address).lower()
    if _CJK.search(text):
        text = re.sub(r"\s+", "", text)
        m = re.search(r"^(.*?)(\d+)(?:-\d+)?号", text) or re.search(r"^(.*?\D)(\d+)$", text)
        if not m or not m.group(1):
            return None
        return m.group(1), m.group(2).lstrip("0") or "0"
    m = re.search(r"^(.*?[^\d\s,])[\s,]+(\d+)", text.strip())
    if not m:
        return None
    return re.sub(r"\s+", " ", m.group(1)).strip(" ,"), m.group(2).lstrip("0") or "0"


def match_addresses(addresses: pd.Series, buildings: gpd.GeoDataFrame) -> pd.Series:
    """Building id for each address whose street name and house number match a building's.

    A register address often carries more in front (省/市/区/社区 names) than the building's
    门牌, so a match needs the same house number and a register street text that *ends with*
    the building's street name. When several buildings share one 门牌 (a compound's
    buildings), the lowest id is taken.

    Parameters
    ----------
    addresses
        Address strings (any index).
    buildings
        With ``id`` and ``address``.

    Returns
    -------
    pandas.Series
        Building ids (``None`` where unmatched), with ``addresses``' index.
    """
    index: dict[str, dict[str, str]] = {}
    order = buildings.sort_values("id", kind="stable")
    for bid, addr in zip(order["id"].astype(str), order["address"], strict=True):
        key = address_key(addr)
        if key is not None:
            index.setdefault(key[1], {}).setdefault(key[0], bid)
    out: list[str | None] = []
    for addr in addresses.tolist():
        key = address_key(addr)
        found = None
        if key is not None:
            for street, bid in index.get(key[1], {}).items():
                if key[0].endswith(street):
                    found = bid
                    break
        out.append(found)
    return pd.Series(out, index=addresses.index, dtype=object)
