"""The recruitment plan (发展/动员计划): where households stay without a red-grid member, how
many members of which class each grid still needs, and who nearby could be invited.

Written by ``gisgov assign --plan-out DIR`` as ``recruit.csv`` (one row per grid, with ``nearest_room_m``: the walk from the grid's
service point to the nearest deployable member who still has room, i.e. how far the cap would
have to reach),
``recruit_candidates.csv`` (one row per member who could be invited, flagged by why they take
no households today: class D, or working away) and a printable ``recruit.html`` in Chinese for
the community party committee. A grid appears only when the solve left households of it
uncovered, i.e. when no eligible member within reach had room (coverage comes first).
"""

from __future__ import annotations

import html
from pathlib import Path

from gisgov.assignment._result import INVITE_RADIUS_M, AssignmentResult
from gisgov.assignment.contacts import PRINT_CSS, printable_head

__all__ = ["recruit_html", "write_recruit_plan"]


def recruit_html(result: AssignmentResult, *, title: str = "红色网格员补充招募计划") -> str:
    """The plan as one printable HTML page: a summary, then one section per grid with the
    members who could be invited (or a line saying no grid needs anyone)."""
    e = html.escape
    s = result.summary
    plan, cands = result.recruit, result.recruit_candidates
    parts = [
        *printable_head(title, (*PRINT_CSS, "@media print{section{page-break-inside:avoid}}")),
        f"<p>共 {s['households']:,} 户，已联系 {s['assigned']:,} 户（覆盖率 "
        f"{s['coverage']:.1%}），未覆盖 {s['unassigned']:,} 户；跨社区统筹调配党员 "
        f"{s['deployed']:,} 名（调配范围：{_SCOPE_ZH.get(str(s['scope']), s['scope'])}，"
        f"步行上限 {s['deploy_cap_m']:,.0f} 米）。</p>",
    ]
    if len(plan) == 0:
        parts.append("<p>所有住户均已有红色网格员联系，无需补充招募。</p>")
    else:
        parts.append(
            f"<p>需补充党员的网格 {len(plan)} 个，共需 A/B 类党员 "
            f"{int(plan['members_needed'].sum())} 名（按每人联系 "
            f"{int(s['bounds']['A'][1])} 户计）。可动员对象：网格服务点 "
            f"{INVITE_RADIUS_M:.0f} 米内的 D 类党员和流动党员（需本人同意、组织审核）。</p>")
        parts.append(
            "<p>" + ("已证明覆盖户数为上限：步行上限内没有任何尚有余量的党员可联系未覆盖住户"
                     "（独立最大流校验）。" if s.get("coverage_maximal") else
                     "注意：覆盖户数未能证明为上限，请核查。")
            + "“最近余量”列为网格服务点到最近一名尚有余量、可调配的在职党员的步行距离"
            "（米）：若放宽步行上限到该距离，可由其调配联系。</p>")
        parts.append(
            "<table><thead><tr><th>网格</th><th>社区</th><th>住户</th><th>未覆盖</th>"
            "<th>需补充党员</th><th>可动员对象</th><th>最近余量（米）</th></tr></thead><tbody>")
        for r in plan.itertuples(index=False):
            parts.append(
                f"<tr><td>{e(str(r.grid_code))}</td><td>{e(str(r.community_code))}</td>"
                f"<td class=\"num\">{r.households}</td><td class=\"num\">{r.unassigned}</td>"
                f"<td class=\"num\">{r.members_needed}（{e(str(r.class_needed))} 类）</td>"
                f"<td class=\"num\">{r.candidates}</td>"
                f"<td class=\"num\">{_metres(r.nearest_room_m)}</td></tr>")
        parts.append("</tbody></table>")
        for grid, rows in cands.groupby("grid_code", sort=True):
            parts.append(f"<section><h2>网格 {e(str(grid))} 可动员对象</h2>")
            parts.append("<table><thead><tr><th>党员编号</th><th>类别</th><th>状态</th>"
                         "<th>距服务点（米）</th><th>说明</th></tr></thead><tbody>")
            for c in rows.to_dict("records"):
                parts.append(
                    f"<tr><td>{e(str(c['member_id']))}</td><td>{e(str(c['class']))}</td>"
                    f"<td>{e(_STATUS_ZH.get(str(c['status']), str(c['status'])))}</td>"
                    f"<td class=\"num\">{float(c['distance_m']):.0f}</td>"
                    f"<td>{e(str(c['flag']))}</td></tr>")
            parts.append("</tbody></table></section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _metres(value: object) -> str:
    """A distance in whole metres, or 无 when there is none."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "无"
    return "无" if v != v else f"{v:,.0f}"


_SCOPE_ZH = {"grid": "本网格", "community": "本社区", "subdistrict": "本街道"}
_STATUS_ZH = {"resident": "居住", "in_service": "在职", "away": "流动（在外）"}


def write_recruit_plan(result: AssignmentResult, out_dir: str | Path) -> list[Path]:
    """Write ``recruit.csv``, ``recruit_candidates.csv`` and ``recruit.html`` to ``out_dir``.

    CSV files are UTF-8 with a byte-order mark so Excel opens the Chinese text correctly.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "recruit.csv", out / "recruit_candidates.csv", out / "recruit.html"]
    result.recruit.to_csv(paths[0], index=False, encoding="utf-8-sig")
    result.recruit_candidates.to_csv(paths[1], index=False, encoding="utf-8-sig")
    paths[2].write_text(recruit_html(result), encoding="utf-8")
    return paths
