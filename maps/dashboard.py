"""Per-grid event dashboards (事件看板): plots a coordinator can read at a glance, offline.

One page per grid with events, and an index of them: the grid's figures (events, open,
overdue now, escalated, median hours to close, share closed on time, from
:func:`gisgov.events.stats.event_stats`) and one figure of three plots —

1. events per week over the last year, stacked by category;
2. time to close (hours, log scale) per category, as box plots with the median written;
3. the share of each month's events that ran late (closed after their due time, or open past
   it now), with the month's count.

The plots are drawn with matplotlib (its object API, no global pyplot state, so pages can be
rendered on the service's worker threads) into SVG embedded in the page: no script, no CDN,
nothing to fetch, so a browser with no network shows them, and a printout is sharp. Text stays
text in the SVG (``svg.fonttype = none``) and is set in the reader's own CJK fonts, which keeps
a page small and needs no Chinese font on the server.
"""

from __future__ import annotations

import html
import io
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gisgov.events.loop import TZ, parse_time
from gisgov.events.service import overdue_mask
from gisgov.events.stats import event_stats
from maps._i18n import Lang

__all__ = ["dashboard_grids", "dashboard_html", "dashboard_index_html", "late_mask"]

_FONTS = ["Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC",
          "WenQuanYi Micro Hei", "DejaVu Sans", "sans-serif"]
#: Category colours (ColorBrewer Dark2): the six categories of the default catalogue.
_COLOURS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d",
            "#666666")
_T = {
    "zh": {"per_week": "每周事件数（按类别）", "to_close": "办结用时（小时，对数刻度）",
           "late": "各月超期比例（超期办结或超期未办）", "week": "周", "events": "事件数",
           "hours": "小时", "share": "超期比例", "total": "事件总数", "open": "办理中",
           "overdue": "当前超期", "escalated": "吹哨升级", "median": "办结用时中位数（小时）",
           "on_time": "按时办结比例", "none": "无", "index": "网格事件看板",
           "grid": "网格", "back": "返回看板目录", "asof": "统计截至", "no_events": "暂无事件"},
    "en": {"per_week": "Events per week, by category", "to_close": "Hours to close (log)",
           "late": "Share of each month's events that ran late", "week": "Week",
           "events": "Events", "hours": "Hours", "share": "Late share", "total": "Events",
           "open": "Open", "overdue": "Overdue now", "escalated": "Escalated",
           "median": "Median hours to close", "on_time": "Closed on time",
           "none": "none", "index": "Grid event dashboards", "grid": "Grid",
           "back": "All dashboards", "asof": "As of", "no_events": "No events"},
}


def _local(values: pd.Series) -> pd.Series:
    """ISO times as naive China Standard Time (for weeks and months as people count them)."""
    ts = pd.to_datetime(values, utc=True, format="ISO8601", errors="coerce")
    return ts.dt.tz_convert(TZ).dt.tz_localize(None)


def late_mask(events: pd.DataFrame, now: pd.Timestamp) -> np.ndarray:
    """Events that ran late: closed after their due time, or open past it at ``now``."""
    if not len(events):
        return np.zeros(0, dtype=bool)
    closed = pd.to_datetime(events["closed_at"], utc=True, format="ISO8601", errors="coerce")
    due = pd.to_datetime(events["due"], utc=True, format="ISO8601", errors="coerce")
    closed_late = (closed > due).fillna(False).to_numpy(dtype=bool)
    return closed_late | overdue_mask(events, now)


def _figure(events: pd.DataFrame, now: pd.Timestamp, lang: Lang) -> str:
    """The three plots as one SVG document (text kept as text)."""
    import matplotlib
    from matplotlib.figure import Figure

    t = _T[lang]
    with matplotlib.rc_context({"svg.fonttype": "none", "font.family": "sans-serif",
                                "font.sans-serif": _FONTS, "font.size": 10,
                                "axes.spines.top": False, "axes.spines.right": False,
                                "svg.hashsalt": "gisgov"}):
        # A fixed layout: constrained layout measures every label twice (a second a page).
        fig = Figure(figsize=(9, 10.5))
        top, middle, bottom = fig.subplots(3, 1, height_ratios=[1.1, 1, 0.9])
        fig.subplots_adjust(left=0.17, right=0.98, top=0.96, bottom=0.08, hspace=0.55)
        cats = sorted(events["category"].astype(str).unique())
        colours = {c: _COLOURS[i % len(_COLOURS)] for i, c in enumerate(cats)}
        _per_week(top, events, now, cats, colours, t)
        _to_close(middle, events, cats, colours, t)
        _late_share(bottom, events, now, t)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]


def _per_week(ax: Any, events: pd.DataFrame, now: pd.Timestamp, cats: list[str],
              colours: Mapping[str, str], t: Mapping[str, str]) -> None:
    local_now = parse_time(now).tz_localize(None)
    weeks = pd.period_range(end=local_now.to_period("W-SUN"), periods=52, freq="W-SUN")
    reported = _local(events["reported_at"]).dt.to_period("W-SUN")
    table = (pd.crosstab(reported, events["category"].astype(str))
             .reindex(index=weeks, columns=cats, fill_value=0))
    x = np.arange(len(weeks))
    edges = np.arange(len(weeks) + 1) - 0.5
    bottom = np.zeros(len(weeks))
    for c in cats:
        # One filled step outline per category (not one rectangle per week): 5 shapes
        # instead of 260 keeps a page fast to draw and small.
        top = bottom + table[c].to_numpy()
        ax.stairs(top, edges, baseline=bottom.copy(), fill=True, color=colours[c], label=c)
        bottom = top
    ax.set_ylim(0, max(1.0, float(bottom.max()) * 1.1))
    ticks = x[::6]
    ax.set_xticks(ticks, [weeks[i].start_time.strftime("%m-%d") for i in ticks])
    ax.set_xlabel(t["week"])
    ax.set_ylabel(t["events"])
    ax.set_title(t["per_week"], loc="left", fontweight="bold")
    ax.legend(ncols=min(6, max(1, len(cats))), fontsize=8, frameon=False, loc="upper left",
              bbox_to_anchor=(0, -0.22))


def _to_close(ax: Any, events: pd.DataFrame, cats: list[str], colours: Mapping[str, str],
              t: Mapping[str, str]) -> None:
    spent = _local(events["closed_at"]) - _local(events["reported_at"])
    hours = spent.dt.total_seconds() / 3600.0
    data = [hours[(events["category"].astype(str) == c).to_numpy()].dropna().clip(lower=0.1)
            .to_numpy() for c in cats]
    shown = [(c, d) for c, d in zip(cats, data, strict=True) if len(d)]
    ax.set_title(t["to_close"], loc="left", fontweight="bold")
    if not shown:
        ax.text(0.5, 0.5, t["none"], ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    box = ax.boxplot([d for _, d in shown], orientation="horizontal", widths=0.6,
                     patch_artist=True, showfliers=True, flierprops={"markersize": 2})
    for patch, (c, _) in zip(box["boxes"], shown, strict=True):
        patch.set_facecolor(colours[c])
        patch.set_alpha(0.7)
    ax.set_yticks(np.arange(1, len(shown) + 1), [f"{c} ({len(d)})" for c, d in shown])
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    ax.set_xscale("log")
    # Plain tick labels (1, 10, 100): the default 10^n labels go through mathtext, slowly.
    lo, hi = min(float(d.min()) for _, d in shown), max(float(d.max()) for _, d in shown)
    ticks = [v for v in (0.1, 1, 4, 12, 24, 72, 168, 720, 2160) if lo / 2 <= v <= hi * 2]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.set_xticks(ticks, [f"{v:g}" for v in ticks])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(t["hours"])
    for i, (_, d) in enumerate(shown, start=1):
        ax.annotate(f"{np.median(d):.0f}", (float(np.median(d)), i + 0.38), ha="center",
                    fontsize=8)


def _late_share(ax: Any, events: pd.DataFrame, now: pd.Timestamp,
                t: Mapping[str, str]) -> None:
    months = _local(events["reported_at"]).dt.to_period("M")
    late = pd.Series(late_mask(events, now), index=events.index)
    local_now = parse_time(now).tz_localize(None)
    span = pd.period_range(end=local_now.to_period("M"), periods=12, freq="M")
    count = months.value_counts().reindex(span, fill_value=0)
    share = late.groupby(months).mean().reindex(span)
    x = np.arange(len(span))
    bars = ax.bar(x, share.fillna(0).to_numpy() * 100, color="#b10026", width=0.7)
    for b, n, s in zip(bars, count.to_numpy(), share.to_numpy(), strict=True):
        label = f"{s:.0%}\n({n})" if n else "—"
        ax.annotate(label, (b.get_x() + b.get_width() / 2, b.get_height()), ha="center",
                    va="bottom", fontsize=8)
    ax.set_xticks(x, [p.strftime("%Y-%m") for p in span], rotation=45, ha="right")
    top = float(np.nanmax(share.to_numpy(dtype=float))) if share.notna().any() else 0.0
    ax.set_ylim(0, max(10.0, min(118.0, top * 100 * 1.35)))
    ax.set_ylabel(f"{t['share']} (%)")
    ax.set_title(t["late"], loc="left", fontweight="bold")


def _summary_rows(events: pd.DataFrame, now: pd.Timestamp, t: Mapping[str, str]
                  ) -> list[tuple[str, str]]:
    stats = event_stats(events, now=now)
    open_ = stats["by_status"]["reported"] + stats["by_status"]["accepted"]
    escalated = int((pd.to_numeric(events["escalations"], errors="coerce").fillna(0) > 0)
                    .sum()) if len(events) else 0
    median = stats["median_hours_to_close"]
    on_time = stats["closed_on_time_share"]
    return [(t["total"], str(stats["total"])), (t["open"], str(open_)),
            (t["overdue"], str(stats["overdue"])), (t["escalated"], str(escalated)),
            (t["median"], t["none"] if median is None else f"{median:.1f}"),
            (t["on_time"], t["none"] if on_time is None else f"{on_time:.1%}")]


_CSS = ("body{font:15px/1.5 'Noto Sans CJK SC','Microsoft YaHei',sans-serif;margin:1em;"
        "max-width:60em}table{border-collapse:collapse}th,td{border:1px solid #bbb;"
        "padding:3px 8px;text-align:left}td.num{text-align:right}"
        "figure{margin:1em 0}svg{max-width:100%;height:auto}"
        ".cards{display:flex;flex-wrap:wrap;gap:.6em}.card{border:1px solid #ccc;"
        "border-radius:6px;padding:.4em .8em;min-width:8em}.card b{display:block;"
        "font-size:1.4em}.late b{color:#b10026}")


def _page(title: str, body: list[str], lang: Lang) -> str:
    e = html.escape
    return "\n".join([
        "<!DOCTYPE html>",
        f'<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>", *body, "</body></html>", ""])


def dashboard_html(events: pd.DataFrame, *, title: str, now: Any = None, lang: Lang = "zh",
                   index_href: str | None = "dashboards.html") -> str:
    """One grid's dashboard: its figures as cards, then the three plots (SVG).

    Parameters
    ----------
    events
        The grid's events (the ``events`` layer rows, as the caller may see them).
    title
        Page title (the grid's name and code).
    now
        Time overdue is judged at (now by default).
    lang
        ``zh`` or ``en``.
    index_href
        Link back to the index (``None``: none).
    """
    t = _T[lang]
    when = parse_time(pd.Timestamp.now(tz="UTC") if now is None else now)
    e = html.escape
    cards = "".join(
        f'<div class="card{" late" if label == t["overdue"] and value != "0" else ""}">'
        f"{e(label)}<b>{e(value)}</b></div>" for label, value in _summary_rows(events, when, t))
    body = [f"<p>{e(t['asof'])} {e(when.strftime('%Y-%m-%d %H:%M'))}"
            + (f' · <a href="{e(index_href)}">{e(t["back"])}</a>' if index_href else "")
            + "</p>", f'<div class="cards">{cards}</div>']
    if len(events):
        body.append(f"<figure>{_figure(pd.DataFrame(events), when, lang)}</figure>")
    else:
        body.append(f"<p>{e(t['no_events'])}</p>")
    return _page(title, body, lang)


def dashboard_grids(layers: Mapping[str, gpd.GeoDataFrame]) -> list[tuple[str, str]]:
    """``(grid code, grid name)`` of every grid with at least one event, by code."""
    events, grids = layers.get("events"), layers.get("grids")
    if events is None or not len(events) or grids is None or not len(grids):
        return []
    with_events = set(events["grid_code"].dropna().astype(str))
    rows = grids[grids["code"].astype(str).isin(with_events)].sort_values("code")
    return list(zip(rows["code"].astype(str), rows["name"].astype(str), strict=True))


def dashboard_index_html(layers: Mapping[str, gpd.GeoDataFrame], *, now: Any = None,
                         lang: Lang = "zh", href: str = "dashboard-{code}.html") -> str:
    """The index of the dashboards: one row per grid with its figures, linking its page."""
    t = _T[lang]
    when = parse_time(pd.Timestamp.now(tz="UTC") if now is None else now)
    events = pd.DataFrame(layers["events"]) if "events" in layers else pd.DataFrame()
    stats = event_stats(events, now=when) if len(events) else {"grids": []}
    by_grid = {g["code"]: g for g in stats["grids"]}
    e = html.escape
    rows = []
    for code, name in dashboard_grids(layers):
        g = by_grid.get(code, {})
        median = g.get("median_hours_to_close")
        on_time = g.get("closed_on_time_share")
        rows.append(
            f'<tr><td><a href="{e(href.format(code=code))}">{e(name)}</a></td>'
            f"<td>{e(code)}</td><td class=\"num\">{g.get('count', 0)}</td>"
            f"<td class=\"num\">{g.get('overdue', 0)}</td>"
            f"<td class=\"num\">{'—' if median is None else f'{median:.1f}'}</td>"
            f"<td class=\"num\">{'—' if on_time is None else f'{on_time:.0%}'}</td></tr>")
    head = (f"<tr><th>{e(t['grid'])}</th><th>code</th><th>{e(t['total'])}</th>"
            f"<th>{e(t['overdue'])}</th><th>{e(t['median'])}</th><th>{e(t['on_time'])}</th>"
            "</tr>")
    body = [f"<p>{e(t['asof'])} {e(when.strftime('%Y-%m-%d %H:%M'))}</p>",
            f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"]
    return _page(t["index"], body, lang)
