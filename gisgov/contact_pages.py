"""Contact lists split per grid, with an index page and Chinese CSV headers.

``gisgov assign --lists-out DIR`` wrote one ``contacts.html`` for the whole county: at the
reference county's size a 4 MB page 1.18 million pixels tall, with no way to find a grid,
and CSV files with English column names a grid office opens in Excel. A coordinator hands
each grid its own list; so this module writes, next to those files:

- ``contacts/index.html``: every grid with its member and household counts and the longest
  walk, linking to
- ``contacts/<grid code>.html`` (printable, one section per party member) and
  ``contacts/<grid code>.csv``;
- ``联系户名单.csv``: the whole list with Chinese headers (党员、联系户、地址、步行距离 …).

The lists carry names and phones unmasked, as the county-wide files do: who receives them is
the caller's decision (the CLI user, a planner).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

__all__ = ["ZH_HEADERS", "write_grid_contact_pages"]

#: Chinese column names of the contact-list CSV files (Excel users read these).
ZH_HEADERS: dict[str, str] = {
    "grid_code": "网格代码",
    "member_id": "党员编号",
    "member_name": "党员",
    "member_phone": "党员电话",
    "household_id": "联系户编号",
    "head_name": "联系户",
    "address": "地址",
    "phone": "联系电话",
    "walk_m": "步行距离（米）",
    "reason": "依据代码",
    "reason_zh": "依据",
}

_SAFE = re.compile(r"^[0-9A-Za-z_-]+$")


def _zh(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.rename(columns=ZH_HEADERS)
    if "步行距离（米）" in out:
        out["步行距离（米）"] = out["步行距离（米）"].round(0).astype("Int64")
    return out


def write_grid_contact_pages(
    lists: pd.DataFrame,
    out_dir: str | Path,
    *,
    grid_names: Mapping[str, str] | None = None,
) -> list[Path]:
    """Write the per-grid contact pages, their index and the Chinese-headed CSV.

    Parameters
    ----------
    lists
        :func:`gisgov.assignment.contact_lists` (one row per assigned household).
    out_dir
        The ``--lists-out`` folder.
    grid_names
        Grid code → name, for the index and titles.

    Returns
    -------
    list of pathlib.Path
        The files written (index first).

    Raises
    ------
    ValueError
        A grid code that is not a plain code (it becomes a file name).
    """
    from gisgov.assignment.contacts import contact_lists_html, printable_head

    out = Path(out_dir)
    folder = out / "contacts"
    folder.mkdir(parents=True, exist_ok=True)
    names = dict(grid_names or {})
    e = html.escape
    written: list[Path] = []
    rows_html: list[str] = []
    for grid, rows in lists.groupby("grid_code", sort=True):
        code = str(grid)
        if not _SAFE.match(code):
            raise ValueError(f"grid code {code!r} cannot name a file")
        title = f"{names.get(code, '')} {code} 红色网格员联系户名单".strip()
        page = folder / f"{code}.html"
        page.write_text(contact_lists_html(rows, title=title), encoding="utf-8")
        table = folder / f"{code}.csv"
        _zh(rows).to_csv(table, index=False, encoding="utf-8-sig")
        written += [page, table]
        rows_html.append(
            f"<tr><td><a href=\"{e(code)}.html\">{e(names.get(code, code))}</a></td>"
            f"<td>{e(code)}</td><td class=\"num\">{rows['member_id'].nunique()}</td>"
            f"<td class=\"num\">{len(rows)}</td>"
            f"<td class=\"num\">{float(rows['walk_m'].max()):.0f}</td>"
            f"<td><a href=\"{e(code)}.csv\">CSV</a></td></tr>")
    index = folder / "index.html"
    index.write_text("\n".join([
        *printable_head("红色网格员联系户名单 · 目录", (
            "body{font-family:'Noto Sans CJK SC','Microsoft YaHei',sans-serif;margin:1.5em}"
            "table{border-collapse:collapse}th,td{border:1px solid #999;padding:3px 8px;"
            "text-align:left}td.num{text-align:right}",), viewport=True),
        f"<p>{lists['grid_code'].nunique()} 个网格，党员 {lists['member_id'].nunique()} 名，"
        f"联系户 {len(lists)} 户。全部名单：<a href=\"../联系户名单.csv\">联系户名单.csv</a></p>",
        "<table><thead><tr><th>网格</th><th>网格代码</th><th>党员</th><th>联系户</th>"
        "<th>最远步行（米）</th><th>表格</th></tr></thead><tbody>",
        *rows_html, "</tbody></table></body></html>"]), encoding="utf-8")
    everything = out / "联系户名单.csv"
    _zh(lists).to_csv(everything, index=False, encoding="utf-8-sig")
    return [index, everything, *written]
