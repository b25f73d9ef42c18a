"""``gisgov area``: the emergency contact sweep (应急联系名单) of a circle or a polygon.

The same sweep as ``POST /emergency/contacts`` (:mod:`gisgov.emergency`): every household in
the area, priority households first, with its red-grid member and the grid staff to call;
viewed as a planner by default (the operator holds the file), or as a coordinator of
``--communities`` to print one office's share. Audited like every unmasked read.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated, Any

import typer

from gisgov.cli._common import console, fail, open_ws, print_json

__all__ = ["area_cmd", "register"]


def _circle(text: str) -> tuple[float, float, float]:
    parts = [p.strip() for p in text.split(",")]
    try:
        lon, lat, metres = (float(p) for p in parts)
    except ValueError:
        fail(f"--circle {text!r}: give LON,LAT,METRES, e.g. --circle 114.30,30.60,300")
    return lon, lat, metres


def area_cmd(
    ws: Annotated[str, typer.Argument(help="Workspace: .gpkg file or postgresql:// URL")],
    polygon: Annotated[Path | None, typer.Option(
        help="Polygon file (GeoJSON, GeoPackage, shapefile, KML): the area")] = None,
    circle: Annotated[str | None, typer.Option(
        help="LON,LAT,METRES: a circle of METRES around the position")] = None,
    crs: Annotated[str | None, typer.Option(
        help="wgs84 | cgcs2000 | gcj02 (WeChat, Gaode) | bd09 (Baidu); default: the "
             "file's own, else wgs84")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Folder for 应急联系名单.csv/.html and 应急网格人员.csv")] = None,
    role: Annotated[str, typer.Option(
        help="View as planner (default) or coordinator (care flags hidden)")] = "planner",
    communities: Annotated[str | None, typer.Option(
        help="Coordinator view: comma-separated community codes")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
) -> None:
    """Every household in an area, vulnerable first, with whom to call (应急联系名单)."""
    from gisgov.emergency import (
        circle_area,
        read_polygon_file,
        sweep_area,
        write_sweep,
    )
    from gisgov.privacy import Principal, parse_role

    if (polygon is None) == (circle is None):
        fail("give exactly one of --polygon FILE or --circle LON,LAT,METRES")
    checked = parse_role(role)
    if checked not in ("planner", "coordinator"):
        fail("--role: a sweep is for planner or coordinator")
    if checked == "coordinator" and not communities:
        fail("--role coordinator needs --communities CODE[,CODE…] (their scope)")
    workspace = open_ws(ws)
    metric = workspace.working_crs
    if circle is not None:
        area = circle_area(*_circle(circle), crs=crs or "wgs84", metric_crs=metric)
    else:
        assert polygon is not None
        area = read_polygon_file(polygon, crs=crs, metric_crs=metric)
    principal = Principal(
        role=checked, actor_name=f"cli:{getpass.getuser()}",
        communities=(frozenset(c.strip() for c in (communities or "").split(",")
                               if c.strip()) if checked == "coordinator" else None))
    result = sweep_area(workspace, area, principal)
    files = [str(p) for p in write_sweep(result, out)] if out is not None else []
    if json_out:
        print_json({**result.to_dict(), "files": files})
        return
    _print(result.to_dict(), files)


# The command is a module-level function whose docstring is its ``--help`` text;
# :func:`register` only wires it.
def register(app: typer.Typer) -> None:
    """Add ``area`` to ``app``."""
    app.command("area")(area_cmd)


def _print(doc: dict[str, Any], files: list[str]) -> None:
    from rich.table import Table

    console.print(f"{doc['area']['label']}：{doc['count']} 户，优先关照 {doc['priority']} 户，"
                  f"未分配红色网格员 {doc['without_member']} 户"
                  + (f"；另有 {doc['outside_scope']} 户属其他社区" if doc["outside_scope"]
                     else ""), highlight=False)
    t = Table(title="应急联系名单 (前 20 户)")
    for head in ("序号", "优先", "户主", "地址", "联系电话", "网格", "红色网格员", "党员电话"):
        t.add_column(head)
    for h in doc["households"][:20]:
        t.add_row(str(h["rank"]), "★" if h["priority"] else "", h["head_name"] or h[
            "household_id"], h["address"] or "", h["phone"] or "", h["grid_name"] or "",
            h["member_name"] or h["member_id"] or "未分配", h["member_phone"] or "")
    console.print(t)
    for f in files:
        console.print(f"wrote {f}", highlight=False)
