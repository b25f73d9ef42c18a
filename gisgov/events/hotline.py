"""Import a 12345 hotline export (CSV/XLSX with Chinese headers) as events.

Hotline work orders carry an address more often than a position, so a row without
coordinates is placed on the workspace's buildings: among the buildings of the row's street
and house number (the 门牌 key of :func:`gisgov.onboard.registers.address_key`, as register
rows are matched), the one whose full address the row contains, else the lowest id; without
a 门牌, the compound whose name the address contains. Rows that place nowhere, or outside every grid, are listed with the
reason and not imported; the rest are reported in one transaction (all or none). A ticket
number already in the workspace is skipped, so importing the same export twice adds nothing.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

from gisgov.errors import ImportDataError, ValidationError
from gisgov.events.catalogue import load_catalogue
from gisgov.events.loop import parse_time
from gisgov.events.service import EVENTS, Report, report_events, route_points

__all__ = ["HEADERS", "HotlineImport", "import_hotline"]

#: Our field ← the headers hotline systems use for it.
HEADERS: dict[str, tuple[str, ...]] = {
    "external_id": ("工单号", "工单编号", "工单编码", "编号", "受理编号"),
    "category": ("事件类别", "类别", "诉求类别", "问题分类", "事项分类", "分类"),
    "text": ("诉求内容", "事件描述", "问题描述", "内容", "来电内容", "诉求描述"),
    "address": ("地址", "事发地址", "诉求地址", "发生地址", "事发地点"),
    "lon": ("经度", "lon", "lng", "longitude"),
    "lat": ("纬度", "lat", "latitude"),
    "crs": ("坐标系", "crs"),
    "at": ("来电时间", "受理时间", "上报时间", "反映时间", "时间", "创建时间"),
    "reporter": ("来电人", "反映人", "上报人", "诉求人"),
    "source": ("来源", "渠道"),
}
_SOURCES = {"12345": "hotline", "热线": "hotline", "hotline": "hotline", "网格员": "field",
            "field": "field", "居民": "resident", "resident": "resident", "巡查": "patrol",
            "patrol": "patrol"}
_FALLBACK_CATEGORY = "其他事项"


@dataclass
class HotlineImport:
    """What an import did: events added, rows skipped as already present, rows not placed."""

    added: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    unmatched: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"added": len(self.added), "ids": self.added, "duplicates": self.duplicates,
                "unmatched": self.unmatched, "notes": self.notes}


def _key(text: Any) -> str:
    return re.sub(r"[\s*＊:：]", "", unicodedata.normalize("NFKC", str(text))).lower()


def _table(path: Path) -> pd.DataFrame:
    from gisgov.onboard.registers import read_cells

    raw = read_cells(path)
    if not len(raw):
        raise ImportDataError(f"{path.name}: 文件为空")
    header = [_key(v) for v in raw.iloc[0].tolist()]
    renames: dict[int, str] = {}
    for ours, theirs in HEADERS.items():
        wanted = [_key(t) for t in theirs]
        for i, h in enumerate(header):
            if h in wanted and i not in renames:
                renames[i] = ours
                break
    body = raw.iloc[1:].reset_index(drop=True)
    frame = pd.DataFrame({ours: body.iloc[:, i] for i, ours in renames.items()})
    if "category" not in frame:
        raise ImportDataError(
            f"{path.name}: 找不到事件类别列 (表头之一: {'、'.join(HEADERS['category'])})")
    if "address" not in frame and not {"lon", "lat"} <= set(frame):
        raise ImportDataError(f"{path.name}: 需要地址列或经纬度列")
    return frame


def _place_by_address(addresses: pd.Series, ws: Any) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat (WGS-84) of each address on the buildings (nan where nothing matched).

    Buildings are indexed by 门牌 (street, house number, :func:`address_key`), so each row
    compares against the few buildings of its number only: a row whose address names the
    street (after any 省/市/区 prefix) and number matches; among that 门牌's buildings the
    one whose full address (…1号楼) the row contains wins, else the lowest id. No 门牌: the
    compound whose name the address contains.
    """
    from gisgov.onboard.registers import address_key

    n = len(addresses)
    x, y = np.full(n, np.nan), np.full(n, np.nan)
    buildings = ws.read("buildings").sort_values("id", kind="stable")
    index: dict[str, list[tuple[str, str, Any]]] = {}
    centres = shapely.point_on_surface(np.asarray(buildings.geometry.values))
    for addr, point in zip(buildings["address"].tolist(), centres, strict=True):
        key = address_key(addr)
        if key is not None and point is not None:
            index.setdefault(key[1], []).append((key[0], _key(addr), point))
    compounds = ws.read("compounds")
    names = sorted(((str(nm), g) for nm, g in zip(compounds["name"], compounds.geometry,
                                                 strict=True) if isinstance(nm, str) and g),
                   key=lambda t: -len(t[0]))
    for i, addr in enumerate(addresses.tolist()):
        if not isinstance(addr, str) or not addr.strip():
            continue
        point = None
        key = address_key(addr)
        if key is not None:
            same = [(full, p) for street, full, p in index.get(key[1], [])
                    if key[0].endswith(street)]
            text = _key(addr)
            point = next((p for full, p in same if full in text),
                         same[0][1] if same else None)
        if point is None:
            point = next((shapely.point_on_surface(g) for nm, g in names if nm in addr), None)
        if point is not None:
            x[i], y[i] = point.x, point.y
    return x, y


def import_hotline(ws: Any, path: str | Path, *, index: Any | None = None) -> HotlineImport:
    """Read a hotline export and report its rows as events (``source`` hotline by default).

    Parameters
    ----------
    ws
        The workspace.
    path
        ``.csv`` or ``.xlsx`` with a Chinese header row (:data:`HEADERS`).
    index
        The workspace's :class:`gisgov.lookup.LookupIndex` (built when not given).

    Returns
    -------
    HotlineImport
    """
    from gisgov.lookup import LookupIndex

    p = Path(path)
    frame = _table(p)
    cat = load_catalogue(ws)
    index = index or LookupIndex.from_workspace(ws)
    out = HotlineImport()
    n = len(frame)
    empty = pd.Series([None] * n, index=frame.index)
    lon = pd.to_numeric(frame.get("lon", empty), errors="coerce").to_numpy(float, copy=True)
    lat = pd.to_numeric(frame.get("lat", empty), errors="coerce").to_numpy(float, copy=True)
    crs = frame.get("crs", empty).fillna("wgs84").astype(str).to_numpy(copy=True)
    has_xy = np.isfinite(lon) & np.isfinite(lat)
    if "address" in frame and (~has_xy).any():
        ax, ay = _place_by_address(frame["address"][~has_xy], ws)
        lon[~has_xy], lat[~has_xy] = ax, ay
        crs[~has_xy] = "wgs84"
    known = set()
    if "external_id" in frame and ws.has_table(EVENTS):
        known = set(ws.read(EVENTS)["external_id"].dropna().astype(str))
    reports: list[Report] = []
    rows: list[int] = []
    for i in range(n):
        row = {k: (None if pd.isna(v) else str(v).strip()) for k, v in frame.iloc[i].items()}
        line = i + 2  # the header is line 1
        ticket = row.get("external_id")
        if ticket and ticket in known:
            out.duplicates.append(ticket)
            continue
        if not (np.isfinite(lon[i]) and np.isfinite(lat[i])):
            out.unmatched.append({"line": line, "external_id": ticket,
                                  "address": row.get("address"),
                                  "reason": "地址未匹配到楼栋或小区, 且无经纬度"})
            continue
        if row.get("at"):
            try:
                parse_time(row["at"])
            except ValidationError as exc:
                out.unmatched.append({"line": line, "external_id": ticket,
                                      "address": row.get("address"), "reason": str(exc)})
                continue
        category = _category(cat, row.get("category"), out, line)
        if category is None:
            out.unmatched.append({"line": line, "external_id": ticket,
                                  "address": row.get("address"),
                                  "reason": f"未知的事件类别 {row.get('category')!r}"})
            continue
        reports.append(Report(
            float(lon[i]), float(lat[i]), category, text=row.get("text"),
            source=_SOURCES.get(str(row.get("source") or "12345").strip().lower(), "hotline"),
            reporter=row.get("reporter"), at=row.get("at"), crs=str(crs[i]),
            address=row.get("address"), external_id=ticket))
        rows.append(line)
    reports, rows = _inside(index, reports, rows, out)
    if reports:
        added = report_events(ws, reports, index=index, catalogue=cat)
        out.added = added["id"].astype(str).tolist()
    return out


def _category(cat: Any, value: str | None, out: HotlineImport, line: int) -> str | None:
    if value is None:
        value = ""
    try:
        return str(cat.get(value).name)
    except ValidationError:
        if _FALLBACK_CATEGORY in cat.categories:
            out.notes.append(f"第 {line} 行: 类别 {value!r} 不在目录中, 记为{_FALLBACK_CATEGORY}")
            return _FALLBACK_CATEGORY
        return None


def _inside(index: Any, reports: list[Report], rows: list[int], out: HotlineImport
            ) -> tuple[list[Report], list[int]]:
    """Drop (and list) the rows whose point lies outside every grid."""
    inside = np.ones(len(reports), dtype=bool)
    for crs in {r.crs for r in reports}:
        idx = [i for i, r in enumerate(reports) if r.crs == crs]
        _, _, routes = route_points(index, [reports[i].lon for i in idx],
                                    [reports[i].lat for i in idx], crs)
        for i, route in zip(idx, routes, strict=True):
            inside[i] = route is not None
    for j in np.flatnonzero(~inside).tolist():
        r = reports[j]
        out.unmatched.append({"line": rows[j], "external_id": r.external_id,
                              "address": r.address, "reason": "位置不在任何网格内"})
    keep = np.flatnonzero(inside).tolist()
    return [reports[i] for i in keep], [rows[i] for i in keep]
