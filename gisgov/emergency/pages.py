"""The sweep on paper: a CSV with Chinese headers and a printable HTML page per sweep.

The printable page is what a community office prints and hands out in an emergency: a summary
(the area, how many households, how many to reach first, how many belong to the neighbouring
office), then one section per grid with the staff to call and the grid's households, priority
households first, each with its red-grid member. It is built on the skeleton every gisgov
printout shares (:func:`gisgov.assignment.contacts.printable_head`), in the contact lists'
style. Columns follow the sweep: the care flags appear only when the caller saw them
(planners).
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from gisgov.assignment.contacts import PRINT_CSS, printable_head
from gisgov.emergency.sweep import CARE_FLAGS, Sweep

__all__ = ["HOUSEHOLD_HEADERS", "STAFF_HEADERS", "sweep_csv", "sweep_html", "write_sweep"]

#: Chinese column names of the household list (Excel users read these).
HOUSEHOLD_HEADERS: dict[str, str] = {
    "rank": "序号",
    "priority": "优先关照",
    "elderly": "老年人",
    "disabled": "残疾人",
    "low_income": "低保",
    "household_id": "户编号",
    "head_name": "户主",
    "address": "地址",
    "phone": "联系电话",
    "size": "人口数",
    "grid_code": "网格代码",
    "grid_name": "网格",
    "community_code": "社区代码",
    "community_name": "社区",
    "member_id": "党员编号",
    "member_name": "红色网格员",
    "member_phone": "党员电话",
    "leader_name": "网格长",
    "leader_phone": "网格长电话",
    "distance_m": "距离（米）",
}
#: Chinese column names of the staff list.
STAFF_HEADERS: dict[str, str] = {
    "grid_code": "网格代码", "grid_name": "网格", "role": "角色代码", "role_zh": "角色",
    "name": "姓名", "phone": "联系电话",
}
_FLAG_ZH = {"elderly": "老", "disabled": "残", "low_income": "低保"}


def _yes_no(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in ("priority", *CARE_FLAGS):
        if col in out:
            out[col] = out[col].map({True: "是", False: "否"})
    return out


def sweep_csv(sweep: Sweep) -> tuple[bytes, bytes]:
    """The household list and the staff list as UTF-8 CSV with a byte-order mark (so Excel
    reads the Chinese), headers in Chinese."""
    households = _yes_no(sweep.households).rename(columns=HOUSEHOLD_HEADERS)
    staff = sweep.staff.rename(columns=STAFF_HEADERS)
    return (households.to_csv(index=False).encode("utf-8-sig"),
            staff.to_csv(index=False).encode("utf-8-sig"))


def _text(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    return html.escape(str(value))


def _household_rows(rows: pd.DataFrame, flags: bool) -> list[str]:
    e = _text
    out = []
    for r in rows.to_dict("records"):
        mark = "★" if r["priority"] else ""
        if flags:
            mark += "".join(z for f, z in _FLAG_ZH.items() if r.get(f))
        member = e(r["member_name"]) or e(r["member_id"]) or "未分配"
        row_class = ' class="first"' if r["priority"] else ""
        out.append(
            f"<tr{row_class}><td class=\"num\">{r['rank']}"
            f"</td><td>{mark}</td><td>{e(r['head_name']) or e(r['household_id'])}</td>"
            f"<td>{e(r['address'])}</td><td>{e(r['phone'])}</td>"
            f"<td class=\"num\">{e(r['size'])}</td><td>{member}</td>"
            f"<td>{e(r['member_phone'])}</td><td class=\"num\">{r['distance_m']:.0f}</td></tr>")
    return out


def sweep_html(sweep: Sweep, *, title: str = "应急联系名单") -> str:
    """The sweep as one printable page: summary, then per grid its staff and households.

    Examples
    --------
    >>> import pyproj
    >>> from gisgov.emergency.area import circle_area
    >>> area = circle_area(114.3, 30.6, 300, metric_crs=pyproj.CRS.from_epsg(32650))
    >>> empty = Sweep(area, "planner", pd.DataFrame(columns=list(HOUSEHOLD_HEADERS)),
    ...               pd.DataFrame(columns=list(STAFF_HEADERS)), 0)
    >>> "区域内没有住户" in sweep_html(empty)
    True
    """
    e = html.escape
    hh, staff = sweep.households, sweep.staff
    flags = sweep.sensitive_shown
    parts = [
        *printable_head(title, (*PRINT_CSS, "tr.first td{font-weight:bold}",
                                "section{page-break-before:auto}",
                                "@media print{section{page-break-inside:avoid}"
                                "h1{font-size:16pt}}"), viewport=True),
        f"<p>范围：{e(sweep.area.label)}。区域内 {len(hh)} 户，其中优先关照 "
        f"{int(hh['priority'].sum()) if len(hh) else 0} 户（★"
        f"{'；老＝老年人，残＝残疾人，低保＝低保户' if flags else ''}），"
        f"未分配红色网格员 {int(hh['member_id'].isna().sum()) if len(hh) else 0} 户。</p>",
    ]
    if sweep.outside_scope:
        parts.append(f"<p>另有 {sweep.outside_scope} 户属于其他社区，不在本名单内，"
                     "请联系所属社区。</p>")
    if not len(hh):
        parts.append("<p>区域内没有住户。</p>")
    for grid, rows in hh.groupby("grid_code", sort=True, dropna=False):
        code = "" if grid is None or grid != grid else str(grid)
        name = _text(rows["grid_name"].iloc[0]) or "不在任何网格"
        parts.append(f"<section><h2>{name} {e(code)}</h2>")
        people = staff[staff["grid_code"] == code] if code else staff.iloc[0:0]
        if len(people):
            calls = "；".join(f"{_text(p['role_zh'])} {_text(p['name'])} {_text(p['phone'])}"
                             for p in people.to_dict("records"))
            parts.append(f"<p>网格人员：{calls}</p>")
        else:
            parts.append("<p>网格人员：无记录</p>")
        parts.append(
            "<table><thead><tr><th>序号</th><th>优先</th><th>户主</th><th>地址</th>"
            "<th>联系电话</th><th>人口</th><th>红色网格员</th><th>党员电话</th>"
            "<th>距离（米）</th></tr></thead><tbody>")
        parts += _household_rows(rows, flags)
        parts.append("</tbody></table></section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_sweep(sweep: Sweep, out_dir: str | Path) -> list[Path]:
    """Write ``应急联系名单.csv``, ``应急网格人员.csv`` and ``应急联系名单.html`` into ``out_dir``
    (created if needed) and return their paths, household list first."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    households, staff = sweep_csv(sweep)
    paths = [out / "应急联系名单.csv", out / "应急网格人员.csv", out / "应急联系名单.html"]
    paths[0].write_bytes(households)
    paths[1].write_bytes(staff)
    paths[2].write_text(sweep_html(sweep), encoding="utf-8")
    return paths
