"""``gisgov events``: report, act on, sweep, list, count and import events (事, issue 15)."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gisgov.cli._common import console, open_ws, print_json

if TYPE_CHECKING:
    from gisgov.events.hotline import HotlineImport

__all__ = [
    "act_cmd",
    "catalogue_cmd",
    "import_cmd",
    "list_cmd",
    "register",
    "report_cmd",
    "seed_cmd",
    "stats_cmd",
    "sweep_cmd",
]

WS = Annotated[str, typer.Argument(help="Workspace: .gpkg file or postgresql:// URL")]
JSON = Annotated[bool, typer.Option("--json", help="Print one JSON document")]


def _actor(by: str | None) -> str:
    return by or f"cli:{getpass.getuser()}"


def _show(doc: dict[str, Any], title: str) -> None:
    from rich.table import Table

    from gisgov.events.loop import LEVEL_LABELS, STATUS_LABELS

    t = Table(title=title, show_header=False)
    labels = {"id": "编号", "category": "类别", "text": "描述", "status": "状态",
              "level": "层级", "grid_code": "网格", "community_code": "社区",
              "subdistrict_code": "街道", "handler_id": "承办人", "unit_id": "报到单位",
              "reported_at": "上报时间", "due": "办理时限", "escalations": "吹哨次数"}
    for key, label in labels.items():
        value = doc.get(key)
        if key == "status":
            value = f"{STATUS_LABELS.get(str(value), value)} ({value})"
        elif key == "level":
            value = f"{LEVEL_LABELS.get(str(value), value)} ({value})"
        t.add_row(f"{label} {key}", "—" if value is None else str(value))
    console.print(t)


def report_cmd(
    ws: WS,
    lon: Annotated[float, typer.Option(help="Longitude")],
    lat: Annotated[float, typer.Option(help="Latitude")],
    category: Annotated[str, typer.Option(help="Category, e.g. 环境卫生")],
    text: Annotated[str, typer.Option(help="What was found")],
    crs: Annotated[str, typer.Option(
        help="wgs84 | cgcs2000 | gcj02 (WeChat, Gaode) | bd09 (Baidu)")] = "wgs84",
    source: Annotated[str, typer.Option(
        help="field | hotline | resident | patrol")] = "field",
    reporter: Annotated[str | None, typer.Option(help="Who reported it")] = None,
    at: Annotated[str | None, typer.Option(help="When (ISO-8601; default now)")] = None,
    json_out: JSON = False,
) -> None:
    """Report an event; it is routed to the grid holding the point (上报)."""
    from gisgov.events.service import Report, event_dict, report_events

    workspace = open_ws(ws)
    frame = report_events(workspace, [Report(
        lon, lat, category, text=text, source=source,
        reporter=reporter or _actor(None), at=at, crs=crs)])
    doc = event_dict(frame.iloc[0])
    if json_out:
        print_json(doc)
        return
    _show(doc, "事件已上报 event reported")


def act_cmd(
    ws: WS,
    event_id: Annotated[str, typer.Argument(help="Event id")],
    action: Annotated[str, typer.Argument(
        help="accept | resolve | verify | close | return | reopen | escalate")],
    note: Annotated[str | None, typer.Option(
        help="Note; the reason for return, reopen and escalate")] = None,
    by: Annotated[str | None, typer.Option(help="Who acts (default cli:<user>)")] = None,
    at: Annotated[str | None, typer.Option(help="When (ISO-8601; default now)")] = None,
    json_out: JSON = False,
) -> None:
    """Move an event through its loop (受理 办结 核查 结案 退回 重新打开) or escalate it (吹哨)."""
    from gisgov.events.service import act, event_dict

    doc = event_dict(act(open_ws(ws), event_id, action, by=_actor(by), note=note, at=at))
    if json_out:
        print_json(doc)
        return
    _show(doc, f"事件 {event_id}: {action}")


def sweep_cmd(
    ws: WS,
    now: Annotated[str | None, typer.Option(help="As of (ISO-8601; default now)")] = None,
    json_out: JSON = False,
) -> None:
    """Escalate every open overdue event one level (超时自动吹哨)."""
    from gisgov.events.loop import LEVEL_LABELS
    from gisgov.events.service import sweep

    escalated = sweep(open_ws(ws), now=now)
    if json_out:
        print_json({"escalated": escalated})
        return
    console.print(f"吹哨 escalated {len(escalated)} overdue event(s)")
    for e in escalated:
        console.print(f"  {e['id']}: {LEVEL_LABELS[e['from']]} → {LEVEL_LABELS[e['to']]}")


def list_cmd(
    ws: WS,
    status: Annotated[str | None, typer.Option(
        help="reported | accepted | resolved | verified | closed")] = None,
    grid: Annotated[str | None, typer.Option(help="Grid code")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Open and past due only")
                       ] = False,
    now: Annotated[str | None, typer.Option(
        help="As of, for --overdue (ISO-8601; default now)")] = None,
    json_out: JSON = False,
) -> None:
    """List events (by id)."""
    from gisgov.events.service import event_dict, list_events

    frame = list_events(open_ws(ws), status=status, grid=grid, overdue=overdue, now=now)
    docs = [event_dict(frame.iloc[i]) for i in range(len(frame))]
    if json_out:
        print_json({"count": len(docs), "events": docs})
        return
    _print_list(docs)


def _print_list(docs: list[dict[str, Any]]) -> None:
    """One row per event: id, category, grid, level, status and due time."""
    from rich.table import Table

    from gisgov.events.loop import LEVEL_LABELS, STATUS_LABELS

    t = Table(title=f"事件 events ({len(docs)})")
    for col in ("编号", "类别", "网格", "层级", "状态", "办理时限"):
        t.add_column(col)
    for d in docs:
        t.add_row(d["id"], d["category"], d.get("grid_code") or "—",
                  LEVEL_LABELS[d["level"]], STATUS_LABELS[d["status"]], d.get("due") or "—")
    console.print(t)


def stats_cmd(
    ws: WS,
    now: Annotated[str | None, typer.Option(
        help="As of, for overdue (ISO-8601; default now)")] = None,
    json_out: JSON = False,
) -> None:
    """Counts by status and level, overdue, and per grid and community: counts, median
    hours to close, share closed on time."""
    from gisgov.events.service import list_events
    from gisgov.events.stats import event_stats

    doc = event_stats(list_events(open_ws(ws)), now=now)
    if json_out:
        print_json(doc)
        return
    _print_stats(doc)


def import_cmd(
    ws: WS,
    file: Annotated[Path, typer.Argument(help="Hotline export (.csv or .xlsx)")],
    json_out: JSON = False,
) -> None:
    """Import a 12345 hotline export (Chinese headers); addresses are placed on the
    workspace's buildings where no coordinates are given; unmatched rows are listed."""
    from gisgov.events.hotline import import_hotline

    result = import_hotline(open_ws(ws), file)
    if json_out:
        print_json(result.to_dict())
        return
    _print_hotline(result)


def _print_hotline(result: HotlineImport) -> None:
    """Added, duplicate and unmatched counts, the notes, then every unmatched row."""
    console.print(f"导入 imported {len(result.added)} event(s); "
                  f"{len(result.duplicates)} already present; "
                  f"{len(result.unmatched)} unmatched")
    for note in result.notes:
        console.print(f"  注意 {note}")
    for u in result.unmatched:
        console.print(f"  未匹配 line {u['line']} {u.get('external_id') or ''} "
                      f"{u.get('address') or ''}: {u['reason']}")


def catalogue_cmd(
    ws: WS,
    set_file: Annotated[Path | None, typer.Option(
        "--set", help="Store this TOML catalogue in the workspace")] = None,
    reset: Annotated[bool, typer.Option(
        "--reset", help="Go back to the shipped catalogue")] = False,
    json_out: JSON = False,
) -> None:
    """Show or set the category catalogue (类别, hours per level, units to dispatch to)."""
    from gisgov.events.catalogue import load_catalogue, set_catalogue

    workspace = open_ws(ws)
    if set_file is not None:
        cat = set_catalogue(workspace, set_file.read_text("utf-8"))
    elif reset:
        cat = set_catalogue(workspace, None)
    else:
        cat = load_catalogue(workspace)
    doc = cat.to_dict()
    if json_out:
        print_json(doc)
        return
    for name, c in doc.items():
        hours = ", ".join(f"{k} {v:g} h" for k, v in c["hours"].items())
        console.print(f"{name} ({c['code']}): {hours}; 报到单位 {'、'.join(c['units'])}")


def seed_cmd(
    ws: WS,
    seed: Annotated[int, typer.Option(help="Random seed")] = 1,
    end: Annotated[str | None, typer.Option(
        help="Last day of the simulated year (ISO date; default today)")] = None,
    json_out: JSON = False,
) -> None:
    """Fill a workspace with grids with a simulated year of events (sample data)."""
    from gisgov.sample import seed_events

    summary = seed_events(open_ws(ws), seed=seed, end=end)
    if json_out:
        print_json(summary)
        return
    console.print(f"seeded {summary['events']} events over a year "
                  f"({summary['escalated']} escalated, {summary['open']} still open)")


# Each command is a module-level function whose docstring is its ``--help`` text;
# :func:`register` only wires them into the ``events`` group.
def register(app: typer.Typer) -> None:
    """Add the ``events`` group to ``app``."""
    events = typer.Typer(help="事件: report, act (受理/办结/核查/结案/退回/重开/吹哨), sweep, "
                              "list, stats, import.", no_args_is_help=True)
    app.add_typer(events, name="events")
    events.command("report")(report_cmd)
    events.command("act")(act_cmd)
    events.command("sweep")(sweep_cmd)
    events.command("list")(list_cmd)
    events.command("stats")(stats_cmd)
    events.command("import")(import_cmd)
    events.command("catalogue")(catalogue_cmd)
    events.command("seed")(seed_cmd)


def _print_stats(doc: dict[str, Any]) -> None:
    from rich.table import Table

    from gisgov.events.loop import LEVEL_LABELS, STATUS_LABELS

    console.print(f"事件 events {doc['total']}, 超时 overdue {doc['overdue']}, "
                  f"吹哨 escalations {doc['escalations']}, 中位办结时长 median hours to close "
                  f"{doc['median_hours_to_close']}, 按时结案率 on time "
                  f"{doc['closed_on_time_share']}")
    console.print("  " + ", ".join(f"{STATUS_LABELS[k]} {v}" for k, v in doc["by_status"].items()))
    console.print("  " + ", ".join(f"{LEVEL_LABELS[k]} {v}" for k, v in doc["by_level"].items()))
    for key, title in (("communities", "社区 communities"), ("grids", "网格 grids")):
        t = Table(title=title)
        for col in ("code", "count", "closed", "overdue", "median h", "on time"):
            t.add_column(col)
        for row in doc[key]:
            t.add_row(str(row["code"]), str(row["count"]), str(row["closed"]),
                      str(row["overdue"]), str(row["median_hours_to_close"]),
                      str(row["closed_on_time_share"]))
        console.print(t)
