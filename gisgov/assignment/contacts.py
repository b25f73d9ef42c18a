"""Per-member contact lists (CSV and printable HTML) from an :class:`AssignmentResult`.

The lists are for the grid coordinator and carry names, addresses and phones unmasked; who
may receive them is decided by the caller (CLI user or API role), not here.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import pandas as pd

from gisgov.assignment._result import AssignmentResult

__all__ = ["PRINT_CSS", "REASON_ZH", "contact_lists", "contact_lists_html", "printable_head",
           "write_contact_lists"]

#: Chinese label of each assignment reason (就亲、就近、就便).
REASON_ZH = {
    "kin": "就亲（亲属）",
    "building": "就便（同楼栋）",
    "compound": "就便（同小区）",
    "nearest": "就近",
    "borrowed": "邻格借调",
    "deployed": "统筹调配（跨社区）",
}


def _col(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name].astype(object).where(frame[name].notna(), "")
    return pd.Series([""] * len(frame), index=frame.index, dtype=object)


def contact_lists(
    result: AssignmentResult, households: pd.DataFrame, members: pd.DataFrame
) -> pd.DataFrame:
    """One row per assigned household, grouped by member, nearest first.

    Parameters
    ----------
    result
        Output of :func:`gisgov.assignment.assign`.
    households, members
        The layers the assignment was computed from (for names, addresses and phones).

    Returns
    -------
    pandas.DataFrame
        ``grid_code, member_id, member_name, member_phone, household_id, head_name, address,
        phone, walk_m, reason, reason_zh``.
    """
    a = pd.DataFrame(result.assignments.drop(columns="geometry"))
    h = pd.DataFrame({
        "household_id": households["id"].astype(str),
        "head_name": _col(households, "head_name"),
        "address": _col(households, "address"),
        "phone": _col(households, "phone"),
    })
    m = pd.DataFrame({
        "member_id": members["id"].astype(str),
        "member_name": _col(members, "name"),
        "member_phone": _col(members, "phone"),
    })
    out = a.merge(m, on="member_id", how="left").merge(h, on="household_id", how="left")
    out["reason_zh"] = out["reason"].map(REASON_ZH)
    cols = ["grid_code", "member_id", "member_name", "member_phone", "household_id",
            "head_name", "address", "phone", "walk_m", "reason", "reason_zh"]
    return out[cols].sort_values(["grid_code", "member_id", "walk_m"]).reset_index(drop=True)


#: Fonts and table rules shared by the printable pages (contact lists, recruitment plan).
PRINT_CSS = (
    "body{font-family:'Noto Sans CJK SC','Microsoft YaHei',sans-serif;margin:1.5em}",
    "table{border-collapse:collapse;width:100%;margin-bottom:1.2em}",
    "th,td{border:1px solid #999;padding:3px 6px;text-align:left}",
    "td.num{text-align:right}",
)


def printable_head(title: str, css: Iterable[str] = PRINT_CSS, *,
                   viewport: bool = False) -> list[str]:
    """The opening lines of a printable Chinese page, up to its ``<h1>``.

    One skeleton for every page gisgov prints (contact lists, their per-grid index, the
    recruitment plan), so they share the fonts that carry Chinese and the table rules.
    """
    e = html.escape
    return [
        "<!doctype html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        *(['<meta name="viewport" content="width=device-width, initial-scale=1">']
          if viewport else []),
        f"<title>{e(title)}</title>",
        "<style>", *css, "</style></head><body>",
        f"<h1>{e(title)}</h1>",
    ]


def contact_lists_html(lists: pd.DataFrame, *, title: str = "红色网格员联系户名单") -> str:
    """Render :func:`contact_lists` as a printable HTML page, one section per member.

    Examples
    --------
    >>> df = pd.DataFrame({"grid_code": ["1"], "member_id": ["m1"], "member_name": ["张三"],
    ...     "member_phone": [""], "household_id": ["h1"], "head_name": ["李四"],
    ...     "address": ["1号楼101"], "phone": [""], "walk_m": [42.0], "reason": ["nearest"],
    ...     "reason_zh": ["就近"]})
    >>> page = contact_lists_html(df)
    >>> all(w in page for w in ("党员", "联系户", "地址", "步行距离", "张三", "李四"))
    True
    """
    e = html.escape
    parts = [
        *printable_head(title, (*PRINT_CSS, "section{page-break-inside:avoid}",
                                "@media print{section{page-break-inside:avoid}h1{font-size:16pt}}")),
        f"<p>党员 {lists['member_id'].nunique()} 名，联系户 {len(lists)} 户。</p>",
    ]
    for (grid, member), rows in lists.groupby(["grid_code", "member_id"], sort=True):
        first = rows.iloc[0]
        name = str(first["member_name"]) or str(member)
        phone = f"，电话 {e(str(first['member_phone']))}" if first["member_phone"] else ""
        parts.append("<section>")
        parts.append(
            f"<h2>党员：{e(name)}（{e(str(member))}）</h2>"
            f"<p>网格 {e(str(grid))}{phone}，联系户 {len(rows)} 户</p>"
        )
        parts.append(
            "<table><thead><tr><th>序号</th><th>联系户</th><th>地址</th><th>联系电话</th>"
            "<th>步行距离（米）</th><th>依据</th></tr></thead><tbody>"
        )
        for k, r in enumerate(rows.itertuples(index=False), start=1):
            who = str(r.head_name) or str(r.household_id)
            parts.append(
                f"<tr><td>{k}</td><td>{e(who)}</td><td>{e(str(r.address))}</td>"
                f"<td>{e(str(r.phone))}</td><td class=\"num\">{r.walk_m:.0f}</td>"
                f"<td>{e(str(r.reason_zh))}</td></tr>"
            )
        parts.append("</tbody></table></section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_contact_lists(
    result: AssignmentResult,
    households: gpd.GeoDataFrame,
    members: gpd.GeoDataFrame,
    out_dir: str | Path,
) -> list[Path]:
    """Write ``contacts.csv``, ``contacts.html``, ``grids.csv`` and ``unassigned.csv``.

    CSV files are UTF-8 with a byte-order mark so Excel opens the Chinese text correctly.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lists = contact_lists(result, households, members)
    paths = [out / "contacts.csv", out / "contacts.html", out / "grids.csv",
             out / "unassigned.csv"]
    lists.to_csv(paths[0], index=False, encoding="utf-8-sig")
    paths[1].write_text(contact_lists_html(lists), encoding="utf-8")
    result.grids.to_csv(paths[2], index=False, encoding="utf-8-sig")
    result.unassigned.to_csv(paths[3], index=False, encoding="utf-8-sig")
    return paths
