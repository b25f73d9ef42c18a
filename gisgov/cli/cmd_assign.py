"""``gisgov assign``: red-grid members ↔ households (5–10 each, coverage first, 就亲、就近、就便).

What is printed is what was measured: the coverage, the members deployed across communities,
the unassigned households (with their share) and the members still needed whenever members
are too few, and "certified" only when every flow problem's dual bound proved it.
"""

from __future__ import annotations

import inspect
import time
from typing import Annotated, Any

import typer

from gisgov.cli._common import (
    ProgressFn,
    console,
    fail,
    open_ws,
    option_parameters,
    options_or_fail,
    print_json,
    progress,
)

__all__ = ["assign_cmd", "register"]

#: Keys the ``--json`` document always carries (issue 6), in this order.
JSON_KEYS = (
    "households", "assigned", "unassigned", "members_used", "min_load", "max_load",
    "total_walk_m", "kin_honoured", "changed_from_previous", "optimal", "seconds",
    "coverage", "deployed", "recruit",
)


def _signature() -> inspect.Signature:
    """The workspace, every :class:`~gisgov.assignment.options.AssignOptions` field (the job
    and the API derive theirs from the same model), then the output options."""
    from gisgov.assignment.options import AssignOptions

    kw = inspect.Parameter.KEYWORD_ONLY
    return inspect.Signature([
        inspect.Parameter("workspace", kw, annotation=Annotated[str, typer.Argument(
            help="Workspace: .gpkg file or postgresql://")]),
        *option_parameters(AssignOptions.specs()),
        inspect.Parameter("lists_out", kw, default=None, annotation=Annotated[
            str | None, typer.Option("--lists-out", help="Directory for contact lists (CSV, "
                                                         "HTML) and summaries")]),
        inspect.Parameter("plan_out", kw, default=None, annotation=Annotated[
            str | None, typer.Option("--plan-out", help="Directory for the recruitment plan "
                                                        "(CSV, HTML)")]),
        inspect.Parameter("json_out", kw, default=False, annotation=Annotated[bool, typer.Option(
            "--json", help="Print one JSON document")]),
    ])


def assign_cmd(**kw: Any) -> None:
    """Assign households red-grid members within load bounds (红色网格员联户).

    Reporting members may be deployed across the subdistrict (--scope) within
    --deploy-cap metres; households no member within reach can take stay unassigned, are
    counted, and get a recruitment plan (--plan-out). The assignment is claimed optimal
    only when the LP-dual certificate proves it. --workers N runs one task per
    subdistrict on a local Dask cluster; --scheduler on a running one (PostGIS).
    """
    from gisgov.assignment import write_assignment
    from gisgov.assignment.options import AssignOptions
    from gisgov.assignment.tasks import run_assign
    from gisgov.errors import GisgovError

    opts = options_or_fail(AssignOptions, kw)
    json_out = kw["json_out"]
    started = time.perf_counter()
    ws = open_ws(kw["workspace"])
    with progress(enabled=not json_out, total_label="红色网格员联户") as update:
        try:
            result = run_assign(ws, opts, progress=update)
        except GisgovError as exc:
            fail(str(exc))
        update("writing assignments", 0.92)
        write_assignment(ws, result)
        files = _write_files(ws, result, kw["lists_out"], kw["plan_out"], update)
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


def _write_files(ws: Any, result: Any, lists_out: str | None, plan_out: str | None,
                 update: ProgressFn) -> list[str]:
    """``--lists-out``: contact lists, and one page and one CSV per grid with an index
    (Chinese headers, issue 16); ``--plan-out``: the recruitment plan. The paths written."""
    from gisgov.assignment import write_contact_lists, write_recruit_plan

    files: list[str] = []
    if lists_out:
        update("writing contact lists", 0.97)
        households, members = ws.read("households"), ws.read("members")
        grids = ws.read("grids")
        files = [str(p) for p in write_contact_lists(result, households, members,
                                                     lists_out)]
        from gisgov.assignment.contacts import contact_lists
        from gisgov.contact_pages import write_grid_contact_pages

        names = dict(zip(grids["code"].astype(str), grids["name"].astype(str),
                         strict=True))
        files += [str(p) for p in write_grid_contact_pages(
            contact_lists(result, households, members), lists_out, grid_names=names)]
    if plan_out:
        update("writing the recruitment plan", 0.98)
        files += [str(p) for p in write_recruit_plan(result, plan_out)]
    return files


# The command is a module-level function whose docstring is its ``--help`` text and whose
# parameters come from :func:`_signature`; :func:`register` only wires it.
def register(app: typer.Typer) -> None:
    """Add ``assign`` to ``app``."""
    assign_cmd.__signature__ = _signature()  # type: ignore[attr-defined]
    app.command("assign")(assign_cmd)


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
