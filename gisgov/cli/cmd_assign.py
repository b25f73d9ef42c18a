"""``gisgov assign``: red-grid members ↔ households (5–10 each, coverage first, 就亲、就近、就便).

What is printed is what was measured: the coverage, the members deployed across communities,
the unassigned households (with their share) and the members still needed whenever members
are too few, and "certified" only when every flow problem's dual bound proved it.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from gisgov.cli._common import console, fail, open_ws, print_json, progress

__all__ = ["register"]

#: Keys the ``--json`` document always carries (issue 6), in this order.
JSON_KEYS = (
    "households", "assigned", "unassigned", "members_used", "min_load", "max_load",
    "total_walk_m", "kin_honoured", "changed_from_previous", "optimal", "seconds",
    "coverage", "deployed", "recruit",
)


def register(app: typer.Typer) -> None:
    """Add ``assign`` to ``app``."""

    @app.command("assign")
    def assign_cmd(
        workspace: Annotated[str, typer.Argument(help="Workspace: .gpkg file or postgresql://")],
        min_load: Annotated[
            int, typer.Option("--min", help="Fewest households per A/B member")
        ] = 5,
        max_load: Annotated[
            int, typer.Option("--max", help="Most households per A/B member")
        ] = 10,
        borrow: Annotated[
            bool, typer.Option("--borrow/--no-borrow",
                               help="Grids short of members borrow from adjacent grids")
        ] = True,
        borrow_cost: Annotated[
            float, typer.Option(help="Extra metres charged for a borrowed member")
        ] = 500.0,
        change_penalty: Annotated[
            float, typer.Option(help="Metres a change from the previous assignment costs")
        ] = 300.0,
        scope: Annotated[
            str, typer.Option(help="Where reporting (in-service) members may serve: grid, "
                                   "community or subdistrict (统筹调配)")
        ] = "subdistrict",
        deploy_cap: Annotated[
            float, typer.Option("--deploy-cap",
                                help="Longest walk (m) of a member deployed to another grid")
        ] = 3000.0,
        deploy_cost: Annotated[
            float, typer.Option(help="Extra metres charged for serving another community")
        ] = 1000.0,
        deploy_from: Annotated[
            str, typer.Option(help="Where a deployed member's walk starts: home or unit")
        ] = "home",
        one_grid: Annotated[
            bool, typer.Option("--one-grid/--any-grids",
                               help="A member serves one grid (kin aside) unless coverage, "
                                    "minimum loads or kin need more")
        ] = True,
        fresh: Annotated[
            bool, typer.Option("--fresh", help="Ignore the previous assignment (no stability)")
        ] = False,
        lists_out: Annotated[
            str | None, typer.Option("--lists-out",
                                     help="Directory for contact lists (CSV, HTML) and summaries")
        ] = None,
        plan_out: Annotated[
            str | None, typer.Option("--plan-out",
                                     help="Directory for the recruitment plan (CSV, HTML)")
        ] = None,
        json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
    ) -> None:
        """Assign households red-grid members within load bounds (红色网格员联户).

        Reporting members may be deployed across the subdistrict (--scope) within
        --deploy-cap metres; households no member within reach can take stay unassigned, are
        counted, and get a recruitment plan (--plan-out). The assignment is claimed optimal
        only when the LP-dual certificate proves it.
        """
        from gisgov.assignment import (
            assign,
            previous_from_layer,
            write_assignment,
            write_contact_lists,
            write_recruit_plan,
        )
        from gisgov.errors import GisgovError

        if not 0 <= min_load <= max_load or max_load < 1:
            fail("--min and --max must satisfy 0 <= min <= max and max >= 1")
        if scope not in ("grid", "community", "subdistrict"):
            fail(f"--scope must be grid, community or subdistrict, not {scope!r}")
        if deploy_from not in ("home", "unit"):
            fail(f"--deploy-from must be home or unit, not {deploy_from!r}")
        started = time.perf_counter()
        ws = open_ws(workspace)
        grids = ws.read("grids")
        if len(grids) == 0:
            fail("the grids layer is empty: run gisgov grids first")
        with progress(enabled=not json_out, total_label="红色网格员联户") as update:
            update("reading layers", 0.0)
            households = ws.read("households")
            members = ws.read("members")
            streets = ws.read("streets")
            buildings = ws.read("buildings")
            units = ws.read("units")
            previous = None if fresh else previous_from_layer(ws.read("assignments"))
            try:
                result = assign(
                    households, members, grids, streets=streets, buildings=buildings,
                    units=units, previous=previous, min_load=min_load, max_load=max_load,
                    borrow=borrow, borrow_cost=borrow_cost, change_penalty=change_penalty,
                    scope=scope, deploy_cap_m=deploy_cap, deploy_cost=deploy_cost,
                    deploy_from=deploy_from, one_grid=one_grid,
                    working_crs=ws.working_crs,
                    progress=lambda d, f: update(d, 0.05 + 0.85 * f),
                )
            except GisgovError as exc:
                fail(str(exc))
            update("writing assignments", 0.92)
            write_assignment(ws, result)
            files = []
            if lists_out:
                update("writing contact lists", 0.97)
                files = [str(p) for p in write_contact_lists(result, households, members,
                                                             lists_out)]
                # One page and one CSV per grid, an index, Chinese headers (issue 16).
                from gisgov.assignment.contacts import contact_lists
                from gisgov.contact_pages import write_grid_contact_pages

                names = dict(zip(grids["code"].astype(str), grids["name"].astype(str),
                                 strict=True))
                files += [str(p) for p in write_grid_contact_pages(
                    contact_lists(result, households, members), lists_out, grid_names=names)]
            if plan_out:
                update("writing the recruitment plan", 0.98)
                files += [str(p) for p in write_recruit_plan(result, plan_out)]
            update("done", 1.0)
        doc: dict[str, Any] = {k: result.summary[k] for k in JSON_KEYS}
        doc.update({k: v for k, v in result.summary.items() if k not in doc})
        doc["seconds"] = round(time.perf_counter() - started, 3)
        doc["solve_seconds"] = result.summary["seconds"]
        doc["files"] = files
        if json_out:
            print_json(doc)
            return
        _print_summary(doc, result)


def _share(part: int, whole: int) -> str:
    """``"5,170 (21.4%)"``: a count with its share of the whole."""
    return f"{part:,} ({part / whole:.1%})" if whole else f"{part:,}"


def _print_summary(doc: dict[str, Any], result: Any) -> None:
    from rich.table import Table

    t = Table(title="红色网格员联户 red-grid assignment", show_header=False)
    t.add_column("figure")
    t.add_column("value", justify="right")
    rows = [
        ("户 households", f"{doc['households']:,}"),
        ("已分配 assigned", f"{doc['assigned']:,}"),
        ("覆盖率 coverage", f"{doc['coverage']:.2%}"),
        ("统筹调配 deployed members (scope)",
         f"{doc['deployed']:,} ({doc['scope']}, ≤ {doc['deploy_cap_m']:,.0f} m)"),
        ("未分配 unassigned", _share(doc["unassigned"], doc["households"])),
        ("党员 members used / eligible", f"{doc['members_used']:,} / {doc['members_eligible']:,}"),
        ("联系户数 load (min–max)", f"{doc['min_load']}–{doc['max_load']}"),
        ("低于下限 members below minimum", f"{doc['members_below_min']:,}"),
        ("就亲 kin honoured / possible / total",
         f"{doc['kin_honoured']:,} / {doc['kin_possible']:,} / {doc['kin_total']:,}"),
        ("步行 total walk (km)", f"{doc['total_walk_m'] / 1000:,.1f}"),
        ("平均步行 mean walk (m)", f"{doc['mean_walk_m']:,.0f}"),
        ("借调 borrowed", f"{doc['borrowed']:,}"),
        ("变动 changed from previous", f"{doc['changed_from_previous']:,}"),
        ("直线兜底 straight-line pairs", f"{doc['fallback_pairs']:,} of {doc['pairs']:,}"),
        ("最优 optimal", "yes (certified by the LP-dual bound)" if doc["optimal"]
         else "NOT PROVEN"),
        ("用时 seconds", f"{doc['seconds']}"),
    ]
    for k, v in rows:
        t.add_row(k, v)
    console.print(t)
    if not doc["optimal"]:
        console.print(doc["optimality"])
    if doc["unassigned"]:
        console.print(
            f"{doc['unassigned']:,} of {doc['households']:,} households have no member "
            f"({doc['grids_short']:,} grids are short of members; "
            f"{doc['more_members_needed']:,} more members needed); every such household and "
            "its reason is in the assignment_unassigned table and --lists-out; the "
            "recruitment plan is in --plan-out"
        )
    short = result.grids[(result.grids["unassigned"] > 0) | (result.grids["members_below_min"] > 0)]
    if len(short):
        g = Table(title="需要关注的网格 grids needing attention")
        for col in ("网格 grid", "户 hh", "容量 cap", "未分配 left", "缺员 need",
                    "低于下限 below"):
            g.add_column(col, justify="right", no_wrap=True)
        for r in short.head(20).itertuples(index=False):
            g.add_row(str(r.grid_code), str(r.households), str(r.capacity_max),
                      str(r.unassigned), str(r.more_members_needed), str(r.members_below_min))
        console.print(g)
        if len(short) > 20:
            console.print(f"… and {len(short) - 20} more grids (see --lists-out grids.csv)")
    if doc["files"]:
        console.print("wrote " + ", ".join(doc["files"]))
