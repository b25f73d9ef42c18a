"""``gisgov lookup``: who is responsible for a position (the same answer as ``/lookup``)."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from gisgov.cli._common import console, open_ws, print_json

__all__ = ["lookup_cmd", "register"]


def lookup_cmd(
    ws: Annotated[str, typer.Argument(help="Workspace: .gpkg file or postgresql:// URL")],
    lon: Annotated[float, typer.Argument(help="Longitude")],
    lat: Annotated[float, typer.Argument(help="Latitude")],
    crs: Annotated[str, typer.Option(
        help="wgs84 | cgcs2000 | gcj02 (WeChat, Gaode) | bd09 (Baidu)")] = "wgs84",
    role: Annotated[str, typer.Option(
        help="View the answer as this role (masking as in the API)")] = "planner",
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
) -> None:
    """Subdistrict, community, grid, grid staff and household at a position (网格责任查询)."""
    from gisgov.audit import record_access
    from gisgov.lookup import LookupIndex
    from gisgov.privacy import Principal, parse_role, redact_lookup

    workspace = open_ws(ws)
    from gisgov.policy import PUBLISH_STAFF_META

    result = LookupIndex.from_workspace(workspace).lookup(lon, lat, crs=crs)
    # Viewed as a holder of that role whose scope covers the position (a field worker of
    # its grid, a coordinator of its community): the operator has the file anyway.
    checked = parse_role(role)
    principal = Principal(
        role=checked, actor_name=f"cli:{getpass.getuser()}",
        grids=frozenset({result.grid.code}) if checked == "field" else None,
        communities=(frozenset({result.community.code})
                     if checked == "coordinator" and result.community else None))
    doc, plain = redact_lookup(
        result, principal, publish_staff=bool(workspace.get_meta(PUBLISH_STAFF_META, True)))
    if plain:
        record_access(workspace, actor=principal.actor, action="lookup",
                      target=f"grid {result.grid.code}", detail=f"({lon}, {lat}) {crs}")
    if json_out:
        print_json(doc)
        return
    _print(doc)


# The command is a module-level function whose docstring is its ``--help`` text;
# :func:`register` only wires it.
def register(app: typer.Typer) -> None:
    """Add ``lookup`` to ``app``."""
    app.command("lookup")(lookup_cmd)


def _print(doc: dict[str, object]) -> None:
    from rich.table import Table

    def area(value: object) -> str:
        return "—" if not isinstance(value, dict) else f"{value['name']} ({value['code']})"

    def person(value: object) -> str:
        if not isinstance(value, dict):
            return "—"
        return " ".join(str(value[k]) for k in ("name", "phone") if value.get(k)) or str(
            value.get("id"))

    t = Table(title="网格责任查询 responsibility lookup", show_header=False)
    t.add_row("街道 subdistrict", area(doc["subdistrict"]))
    t.add_row("社区 community", area(doc["community"]))
    t.add_row("网格 grid", area(doc["grid"]) + ("  (on a boundary 在边界上)"
                                               if doc["on_boundary"] else ""))
    t.add_row("距边界 to boundary", f"{doc['distance_to_boundary_m']} m")
    t.add_row("网格长 leader", person(doc["leader"]))
    workers = doc["workers"]
    t.add_row("网格员 workers", ", ".join(person(w) for w in workers)
              if isinstance(workers, list) else "—")
    t.add_row("楼栋 building", area(doc["building"]))
    household = doc["household"]
    if isinstance(household, dict):
        t.add_row("住户 household", f"{household['id']} {household.get('head_name') or ''} "
                  f"{household.get('address') or ''}")
        t.add_row("红色网格员 red-grid member", person(household.get("member")))
    console.print(t)
