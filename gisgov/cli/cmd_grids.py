"""``gisgov grids``: partition communities into grids, code, staff and organise them."""

from __future__ import annotations

import inspect
import time
from typing import Annotated, Any

import typer
from rich.table import Table

from gisgov.cli._common import (
    console,
    fail,
    open_ws,
    option_parameters,
    options_or_fail,
    print_json,
    progress,
)

__all__ = ["grids_cmd", "register"]


def _signature() -> inspect.Signature:
    """The workspace, ``--json``, then every :class:`~gisgov.grids.options.GridsOptions`
    field (the job and the API derive theirs from the same model)."""
    from gisgov.grids.options import GridsOptions

    kw = inspect.Parameter.KEYWORD_ONLY
    return inspect.Signature([
        inspect.Parameter("ws", kw, annotation=Annotated[str, typer.Argument(
            help="Workspace: .gpkg or postgresql:// URL")]),
        *option_parameters(GridsOptions.specs()),
        inspect.Parameter("json_out", kw, default=False, annotation=Annotated[bool, typer.Option(
            "--json", help="Print one JSON document")]),
    ])


def grids_cmd(**kw: Any) -> None:
    """Partition communities into grids (网格划分) with staff and party organisations.

    Each community is one task: in this process (--workers 1), on a local Dask cluster
    (--workers N) or on a running one (--scheduler, PostGIS workspaces).
    """
    from gisgov.errors import GisgovError
    from gisgov.grids import write_grid_plan
    from gisgov.grids.options import GridsOptions
    from gisgov.grids.tasks import run_grids

    opts = options_or_fail(GridsOptions, kw)
    json_out = kw["json_out"]
    workspace = open_ws(kw["ws"])
    started = time.perf_counter()
    with progress(enabled=not json_out, total_label="网格划分") as update:
        try:
            plan = run_grids(workspace, opts, progress=update)
        except GisgovError as exc:
            fail(str(exc))
        update("写入工作空间 writing", 0.95)
        write_grid_plan(workspace, plan)
        update("done", 1.0)
    summary: dict[str, Any] = plan.result.summary()
    summary["seconds"] = round(time.perf_counter() - started, 3)
    summary["communities"] = plan.result.per_community.to_dict(orient="records")
    summary["unfilled_roles"] = plan.unfilled.to_dict(orient="records")
    summary["report"] = plan.result.report
    if json_out:
        print_json(summary)
        return
    _print_grids(summary, plan)


def _print_grids(summary: dict[str, Any], plan: Any) -> None:
    """Grids per community with their balance and time, the load range, unfilled staff
    slots and the partition's notes."""
    codes = plan.result.per_community["community_code"].tolist()
    table = Table(title=f"{summary['grids']} grids 网格 in {len(codes)} communities")
    for col in ("社区 community", "户数 households", "网格 grids", "balance", "seconds"):
        table.add_column(col)
    for row in summary["communities"]:
        table.add_row(str(row["community_code"]), str(row["households"]), str(row["grids"]),
                      f"±{row['tolerance']:.0%}", f"{row['seconds']:.1f}")
    console.print(table)
    console.print(f"households per grid: {summary['households_min']}–"
                  f"{summary['households_max']}; contiguous: {summary['contiguous_all']}; "
                  f"{len(plan.unfilled)} staff slot(s) unfilled "
                  "(see table grid_unfilled_roles)")
    for note in plan.result.report:
        console.print(f"· {note}", highlight=False)


# The command is a module-level function whose docstring is its ``--help`` text and whose
# parameters come from :func:`_signature`; :func:`register` only wires it.
def register(app: typer.Typer) -> None:
    """Add ``grids`` to ``app``."""
    grids_cmd.__signature__ = _signature()  # type: ignore[attr-defined]
    app.command("grids")(grids_cmd)
