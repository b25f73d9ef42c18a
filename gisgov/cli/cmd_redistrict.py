"""``gisgov redistrict`` and ``gisgov scenarios``: re-draw communities, manage scenarios."""

from __future__ import annotations

import csv
import inspect
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

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
from gisgov.errors import GisgovError, InfeasibleError

if TYPE_CHECKING:
    from gisgov.districting.options import RedistrictOptions

__all__ = [
    "redistrict_cmd",
    "register",
    "scen_accept",
    "scen_export",
    "scen_list",
    "scen_show",
    "scen_ws",
]


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


def redistrict_cmd(**kw: Any) -> None:
    """Re-draw communities (or your own units) into balanced, contiguous, compact areas."""
    from gisgov.districting.options import RedistrictOptions

    json_out = kw["json_out"]
    opts = options_or_fail(RedistrictOptions, kw)
    if opts.apply and not opts.scenario:
        opts.scenario = "applied"
    t0 = time.perf_counter()
    try:
        with progress(enabled=not json_out) as update:
            if kw["units"] is not None:
                doc, label_rows = _redistrict_units(kw["units"], kw["weight"], kw["id_col"],
                                                    opts, update)
            else:
                doc, label_rows = _redistrict_workspace(kw["ws_path"], opts, update)
    except InfeasibleError as exc:
        _fail_infeasible(exc, json_out=json_out, seconds=time.perf_counter() - t0)
    except GisgovError as exc:
        fail(str(exc))
    doc["seconds"] = time.perf_counter() - t0
    if kw["labels_out"] is not None:
        _write_labels(kw["labels_out"], label_rows)
    if json_out:
        print_json(doc)
        return
    _print_plan(doc)


#: One row per unit for ``--labels-out``: its id and the area it is drawn into.
LabelRows = list[tuple[str, Any]]


def _redistrict_units(units: Path, weight: str | None, id_col: str | None,
                      opts: RedistrictOptions, update: ProgressFn) -> tuple[dict[str, Any],
                                                                            LabelRows]:
    """Partition the polygons of a user's own file (``--units``) and measure the plan.

    Nothing is stored: without workspace communities there is no scenario to save, so the
    plan leaves through the JSON document and ``--labels-out`` only.
    """
    from gisgov.districting import partition
    from gisgov.districting.metrics import plan_metrics
    from gisgov.districting.options import objective_for, parse_locks
    from gisgov.districting.units import units_from_file

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
    doc: dict[str, Any] = {
        "feasible": True,
        "areas": [{"id": int(r["area"]), "weight": float(r["weight"]),
                   "polsby_popper": float(r["polsby_popper"]),
                   "reock": float(r["reock"]), "area_km2": float(r["area_km2"]),
                   "contiguous": bool(r["contiguous"])}
                  for r in met.areas.to_dict(orient="records")],
        "max_deviation": met.max_deviation, "cut_edges": met.cut_edges,
        "mean_polsby_popper": met.mean_polsby_popper,
        "households_moved": 0.0, **res.optimality(),
        "method": res.method, "objective": opts.objective,
        "seconds": res.seconds, "units": len(gdf), "report": res.report,
    }
    return doc, [(str(i), int(a)) for i, a in res.labels.items()]


def _redistrict_workspace(ws_path: str | None, opts: RedistrictOptions,
                          update: ProgressFn) -> tuple[dict[str, Any], LabelRows]:
    """Re-draw the workspace's communities; save (``--scenario``) and accept (``--apply``)."""
    from gisgov.districting.options import run_redistrict

    if ws_path is None:
        fail("give a workspace WS or --units FILE --weight COL")
    ws = open_ws(ws_path)
    layers = {n: ws.read(n) for n in ("communities", "streets", "compounds", "households")}
    rr = run_redistrict(layers, opts, crs=ws.working_crs, progress=update)
    doc = rr.summary()
    doc["objective"] = opts.objective
    label_rows: LabelRows = list(zip(rr.units["unit_id"].astype(str),
                                     rr.units["new_code"].astype(str), strict=True))
    if opts.scenario:
        from gisgov.districting.scenarios import accept_scenario, save_scenario

        save_scenario(ws, opts.scenario, rr)
        doc["scenario"] = opts.scenario
        if opts.apply:
            doc["accepted"] = accept_scenario(ws, opts.scenario, keep_grids=opts.keep_grids)
    return doc, label_rows


def _fail_infeasible(exc: InfeasibleError, *, json_out: bool, seconds: float) -> NoReturn:
    """Exit 1 on a plan no constraint set allows: the reasons as JSON, or one line."""
    if json_out:
        print_json({"feasible": False, "error": str(exc), "reasons": exc.reasons,
                    "seconds": seconds})
        raise typer.Exit(1) from None
    fail(str(exc), code=1)


def _write_labels(path: Path, rows: LabelRows) -> None:
    """``--labels-out``: ``id,area`` per unit, for joining back onto the user's file."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        wr = csv.writer(fh)
        wr.writerow(["id", "area"])
        wr.writerows(rows)


def scen_ws(ctx: typer.Context,
            ws_path: Annotated[str, typer.Argument(metavar="WS", help="Workspace")]) -> None:
    """``gisgov scenarios WS list|show NAME|accept NAME|export NAME OUT``."""
    ctx.obj = ws_path


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


def scen_export(ctx: typer.Context, name: str,
                out: Annotated[Path, typer.Argument(help=".gpkg, .geojson or .shp")]) -> None:
    """Export a scenario's areas for QGIS/ArcGIS."""
    from gisgov.districting.scenarios import export_scenario

    try:
        p = export_scenario(open_ws(ctx.obj), name, out)
    except GisgovError as exc:
        fail(str(exc))
    console.print(f"wrote {p}")


# Each command is a module-level function whose docstring is its ``--help`` text;
# :func:`register` only wires them (``scenarios`` is a group whose callback takes WS).
def register(app: typer.Typer) -> None:
    """Add ``redistrict`` and ``scenarios`` to ``app``."""
    redistrict_cmd.__signature__ = _redistrict_signature()  # type: ignore[attr-defined]
    app.command("redistrict")(redistrict_cmd)

    scen = typer.Typer(help="Stored re-drawing scenarios: list, show, accept, export.", no_args_is_help=True)
    app.add_typer(scen, name="scenarios")
    scen.callback()(scen_ws)
    scen.command("list")(scen_list)
    scen.command("show")(scen_show)
    scen.command("accept")(scen_accept)
    scen.command("export")(scen_export)


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
