"""``gisgov grids``: partition communities into grids, code, staff and organise them."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.table import Table

from gisgov.cli._common import console, fail, open_ws, print_json, progress

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``grids`` to ``app``."""

    @app.command("grids")
    def grids_cmd(
        ws: Annotated[str, typer.Argument(help="Workspace: .gpkg or postgresql:// URL")],
        target_households: Annotated[
            int, typer.Option(help="Households per grid (30–1000; the county runs ~100)")
        ] = 100,
        communities: Annotated[
            str | None, typer.Option(help="CODE,CODE… | urban | all (default all)")
        ] = None,
        seed: Annotated[int, typer.Option(help="Random seed (same seed, same grids)")] = 0,
        time_limit: Annotated[float, typer.Option(help="Seconds for the whole run")] = 60.0,
        json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
    ) -> None:
        """Partition communities into grids (网格划分) with staff and party organisations."""
        from gisgov.grids import make_grids, resolve_communities, write_grid_plan

        workspace = open_ws(ws)
        layers = workspace.read_all()
        if not len(layers.get("communities", [])):
            fail("the workspace has no communities; import or draw them first")
        if not len(layers.get("households", [])):
            fail("the workspace has no households; grids are balanced by households")
        codes = resolve_communities(layers["communities"], communities)
        if not codes:
            fail(f"no community matches {communities!r}")
        started = time.perf_counter()
        with progress(enabled=not json_out, total_label="网格划分") as update:
            plan = make_grids(layers, communities=codes, target_households=target_households,
                              crs=workspace.working_crs, seed=seed, time_limit=time_limit,
                              progress=lambda d, f: update(d, 0.9 * f))
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
