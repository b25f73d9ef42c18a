"""``gisgov redistrict`` and ``gisgov scenarios``: re-draw communities, manage scenarios."""

from __future__ import annotations

import csv
import inspect
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from gisgov.cli._common import (
    console,
    fail,
    open_ws,
    option_parameters,
    options_or_fail,
    print_json,
    progress,
)
from gisgov.errors import GisgovError, InfeasibleError

__all__ = ["register"]


def _redistrict_signature() -> inspect.Signature:
    """The command's parameters: the CLI-only ones, then every :class:`RedistrictOptions`
    field as ``--field-name`` with its type, default and help (the job and the API derive
    theirs from the same model)."""
    from gisgov.districting.options import RedistrictOptions

    kw = inspect.Parameter.KEYWORD_ONLY
    params = [
        inspect.Parameter("ws_path", kw, default=None, annotation=Annotated[str | None, typer.Argument(
            metavar="WS", help="Workspace (.gpkg or postgresql://); not needed with --units")]),
        inspect.Parameter("units", kw, default=None, annotation=Annotated[Path | None, typer.Option(
            "--units", help="Your own polygon units file")]),
        inspect.Parameter("weight", kw, default=None, annotation=Annotated[str | None, typer.Option(
            help="Weight column of --units")]),
        inspect.Parameter("id_col", kw, default=None, annotation=Annotated[str | None, typer.Option(
            "--id", help="Id column of --units")]),
        inspect.Parameter("labels_out", kw, default=None, annotation=Annotated[Path | None, typer.Option(
            help="Write id,area per unit to this CSV")]),
        inspect.Parameter("json_out", kw, default=False, annotation=Annotated[bool, typer.Option(
            "--json", help="Print one JSON document")]),
    ]
    params += option_parameters(RedistrictOptions.specs())
    return inspect.Signature(params)


def register(app: typer.Typer) -> None:
    """Add ``redistrict`` and ``scenarios`` to ``app``."""

    def redistrict_cmd(**kw: Any) -> None:
        """Re-draw communities (or your own units) into balanced, contiguous, compact areas."""
        from gisgov.districting import partition
        from gisgov.districting.metrics import plan_metrics
        from gisgov.districting.options import (
            RedistrictOptions,
            objective_for,
            parse_locks,
            run_redistrict,
        )
        from gisgov.districting.units import units_from_file

        ws_path, units, weight, id_col = kw["ws_path"], kw["units"], kw["weight"], kw["id_col"]
        labels_out, json_out = kw["labels_out"], kw["json_out"]
        opts = options_or_fail(RedistrictOptions, kw)
        if opts.apply and not opts.scenario:
            opts.scenario = "applied"
        t0 = time.perf_counter()
        try:
            with progress(enabled=not json_out) as update:
                if units is not None:
                    if weight is None:
                        fail("--units needs --weight COL")
                    if opts.scenario or opts.apply:
                        fail("--scenario/--apply need workspace units; use --labels-out with --units")
                    gdf = units_from_file(units, weight=weight, id=id_col)
                    res = partition(
                        gdf, weight=weight, areas=opts.areas, target=opts.target_households,
                        tolerance=opts.tolerance, locks=parse_locks(opts.lock),
                        objective=objective_for(opts, community=False),
                        method="exact" if opts.exact else "auto",
                        islands=opts.islands, seed=opts.seed,  # type: ignore[arg-type]
                        time_limit=opts.time_limit, starts=None, progress=update,
                    )
                    met = plan_metrics(gdf, res.labels, weight=weight, graph=res.graph)
                    per = met.areas
                    doc: dict[str, Any] = {
                        "feasible": True,
                        "areas": [{"id": int(r["area"]), "weight": float(r["weight"]),
                                   "polsby_popper": float(r["polsby_popper"]),
                                   "reock": float(r["reock"]), "area_km2": float(r["area_km2"]),
                                   "contiguous": bool(r["contiguous"])}
                                  for r in per.to_dict(orient="records")],
                        "max_deviation": met.max_deviation, "cut_edges": met.cut_edges,
                        "mean_polsby_popper": met.mean_polsby_popper,
                        "households_moved": 0.0, **res.optimality(),
                        "method": res.method, "objective": opts.objective,
                        "seconds": res.seconds, "units": len(gdf), "report": res.report,
                    }
                    label_rows = [(str(i), int(a)) for i, a in res.labels.items()]
                else:
                    if ws_path is None:
                        fail("give a workspace WS or --units FILE --weight COL")
                    ws = open_ws(ws_path)
                    layers = {n: ws.read(n) for n in ("communities", "streets", "compounds", "households")}
                    rr = run_redistrict(layers, opts, crs=ws.working_crs, progress=update)
                    doc = rr.summary()
                    doc["objective"] = opts.objective
                    label_rows = list(zip(rr.units["unit_id"].astype(str), rr.units["new_code"].astype(str), strict=True))
                    if opts.scenario:
                        from gisgov.districting.scenarios import accept_scenario, save_scenario

                        save_scenario(ws, opts.scenario, rr)
                        doc["scenario"] = opts.scenario
                        if opts.apply:
                            doc["accepted"] = accept_scenario(ws, opts.scenario,
                                                              keep_grids=opts.keep_grids)
        except InfeasibleError as exc:
            if json_out:
                print_json({"feasible": False, "error": str(exc), "reasons": exc.reasons,
                            "seconds": time.perf_counter() - t0})
                raise typer.Exit(1) from None
            fail(str(exc), code=1)
        except GisgovError as exc:
            fail(str(exc))
        doc["seconds"] = time.perf_counter() - t0
        if labels_out is not None:
            with labels_out.open("w", newline="", encoding="utf-8") as fh:
                wr = csv.writer(fh)
                wr.writerow(["id", "area"])
                wr.writerows(label_rows)
        if json_out:
            print_json(doc)
            return
        _print_plan(doc)

    redistrict_cmd.__signature__ = _redistrict_signature()  # type: ignore[attr-defined]
    app.command("redistrict")(redistrict_cmd)

    scen = typer.Typer(help="Stored re-drawing scenarios: list, show, accept, export.", no_args_is_help=True)
    app.add_typer(scen, name="scenarios")

    @scen.callback()
    def scen_ws(ctx: typer.Context,
                ws_path: Annotated[str, typer.Argument(metavar="WS", help="Workspace")]) -> None:
        """``gisgov scenarios WS list|show NAME|accept NAME|export NAME OUT``."""
        ctx.obj = ws_path

    @scen.command("list")
    def scen_list(ctx: typer.Context,
                  json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
        """List scenarios."""
        from gisgov.districting.scenarios import list_scenarios

        idx = list_scenarios(open_ws(ctx.obj))
        rows = idx[["name", "created", "areas"]].to_dict(orient="records")
        if json_out:
            print_json(rows)
            return
        for r in rows:
            console.print(f"{r['name']}\t{r['created']}\t{r['areas']} areas")

    @scen.command("show")
    def scen_show(ctx: typer.Context, name: str,
                  json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
        """Show a scenario's metrics and 四至."""
        from gisgov.districting.scenarios import load_scenario

        try:
            _, _, summary = load_scenario(open_ws(ctx.obj), name)
        except GisgovError as exc:
            fail(str(exc))
        if json_out:
            print_json(summary)
        else:
            _print_plan(summary)

    @scen.command("accept")
    def scen_accept(ctx: typer.Context, name: str,
                    keep_grids: Annotated[bool, typer.Option(
                        "--keep-grids", help="Keep the grids of changed communities as they "
                                             "are (stale, listed) instead of re-drawing them")] = False,
                    seed: Annotated[int, typer.Option(help="Seed of the grid re-draw")] = 0,
                    time_limit: Annotated[float, typer.Option(
                        help="Seconds at most for the grid re-draw")] = 60.0,
                    json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
        """Replace the communities layer by the scenario (old layer kept as history) and
        re-draw the grids of the communities it changes."""
        from gisgov.districting.scenarios import accept_scenario

        try:
            with progress(enabled=not json_out) as update:
                out = accept_scenario(open_ws(ctx.obj), name, keep_grids=keep_grids, seed=seed,
                                      time_limit=time_limit, progress=update)
        except GisgovError as exc:
            fail(str(exc))
        if json_out:
            print_json(out)
            return
        console.print(f"accepted {name}: {out['communities']} communities, version "
                      f"{out['version']}; {out['grids_redrawn']} grids re-drawn in "
                      f"{len(out['changed'])} changed communities")
        if out["stale_grids"]:
            console.print(f"[yellow]{len(out['stale_grids'])} grid(s) are stale[/yellow] (kept "
                          f"with --keep-grids; re-draw them with gisgov grids): "
                          + ", ".join(out["stale_grids"][:20]))

    @scen.command("export")
    def scen_export(ctx: typer.Context, name: str,
                    out: Annotated[Path, typer.Argument(help=".gpkg, .geojson or .shp")]) -> None:
        """Export a scenario's areas for QGIS/ArcGIS."""
        from gisgov.districting.scenarios import export_scenario

        try:
            p = export_scenario(open_ws(ctx.obj), name, out)
        except GisgovError as exc:
            fail(str(exc))
        console.print(f"wrote {p}")


def _print_plan(doc: dict[str, Any]) -> None:
    from rich.table import Table

    t = Table(title=f"{len(doc['areas'])} areas · max deviation {doc['max_deviation']:.1%} · "
                    f"cut edges {doc['cut_edges']} · moved {doc['households_moved']:.0f} · "
                    f"{doc['seconds']:.1f} s")
    for col in ("id", "name", "weight", "PP", "四至"):
        t.add_column(col)
    for a in doc["areas"]:
        t.add_row(str(a["id"]), str(a.get("name") or ""), f"{a['weight']:.0f}",
                  f"{a['polsby_popper']:.2f}", str(a.get("boundary_text") or ""))
    console.print(t)
    if doc.get("method", "exact") != "heuristic" and doc.get("proven"):
        if doc.get("optimal_for") == "full objective":
            console.print("[green]optimal[/green] (proven)")
        elif doc.get("optimal_for") == "linear part":
            console.print("[yellow]optimal for the linear part[/yellow] (cut edges, length, "
                          "streets, disruption; Polsby-Popper not proven)")
        else:
            gap = doc.get("gap")
            console.print(f"[red]not proven optimal[/red]: the solver stopped with a gap of "
                          f"{gap:.2%} — allow more --time-limit" if gap is not None
                          else "[red]not proven optimal[/red]")
        console.print(f"proven: {doc['proven']}")
    for note in doc.get("report", []):
        console.print(f"· {note}")
