"""``gisgov redistrict`` and ``gisgov scenarios``: re-draw communities, manage scenarios."""

from __future__ import annotations

import csv
import math
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from gisgov.cli._common import console, fail, open_ws, print_json, progress
from gisgov.errors import GisgovError, InfeasibleError

__all__ = ["register"]


def _parse_locks(text: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        if "=" not in part:
            fail(f"--lock expects UNIT=AREA pairs separated by commas, got {part!r}")
        u, a = part.split("=", 1)
        out[u.strip()] = a.strip()
    return out


def _lock_values(locks: dict[str, str]) -> dict[Any, Any]:
    return {u: int(a) if a.isdigit() and len(a) < 6 else a for u, a in locks.items()}


def register(app: typer.Typer) -> None:
    """Add ``redistrict`` and ``scenarios`` to ``app``."""

    @app.command("redistrict")
    def redistrict_cmd(
        ws_path: Annotated[str | None, typer.Argument(metavar="WS", help="Workspace (.gpkg or postgresql://); not needed with --units")] = None,
        communities: Annotated[str, typer.Option(help="CODE,CODE… | urban | all")] = "urban",
        areas: Annotated[int | None, typer.Option("--areas", help="Number of areas K")] = None,
        target_households: Annotated[float | None, typer.Option(help="Households per area (sets K)")] = None,
        tolerance: Annotated[float, typer.Option(help="Balance tolerance (0.10 = ±10%)")] = 0.10,
        units: Annotated[Path | None, typer.Option("--units", help="Your own polygon units file")] = None,
        weight: Annotated[str | None, typer.Option(help="Weight column of --units")] = None,
        id_col: Annotated[str | None, typer.Option("--id", help="Id column of --units")] = None,
        lock: Annotated[str | None, typer.Option(help="UNIT=AREA,… units kept in an area")] = None,
        scenario: Annotated[str | None, typer.Option(help="Save the plan as this scenario")] = None,
        apply: Annotated[bool, typer.Option("--apply", help="Accept it: replace the communities layer")] = False,
        cross_subdistricts: Annotated[bool, typer.Option(help="Allow areas across subdistricts")] = False,
        seed: Annotated[int, typer.Option(help="Random seed (same seed, same plan)")] = 0,
        time_limit: Annotated[float, typer.Option(help="Seconds at most")] = 30.0,
        exact: Annotated[bool, typer.Option("--exact", help="Solve with the MILP (≤ ~150 units)")] = False,
        islands: Annotated[str, typer.Option(help="Disconnected units: separate | bridge | error")] = "separate",
        weights: Annotated[str | None, typer.Option(
            "--weights",
            help="Objective weights NAME=VALUE,… over the defaults (cut_edges, cut_length, "
                 "main_streets, disruption, polsby_popper); e.g. cut_edges=1,cut_length=0.1,"
                 "main_streets=0,polsby_popper=0.25 puts cut edges first")] = None,
        labels_out: Annotated[Path | None, typer.Option(help="Write id,area per unit to this CSV")] = None,
        json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
    ) -> None:
        """Re-draw communities (or your own units) into balanced, contiguous, compact areas."""
        from gisgov.districting import Objective, partition
        from gisgov.districting.community import COMMUNITY_OBJECTIVE, redistrict
        from gisgov.districting.metrics import plan_metrics
        from gisgov.districting.objective import objective_from_text
        from gisgov.districting.units import units_from_file

        try:
            unit_objective = objective_from_text(weights or "", Objective())
            community_objective = objective_from_text(weights or "", COMMUNITY_OBJECTIVE)
        except GisgovError as exc:
            fail(f"--weights: {exc}")

        if areas is not None and target_households is not None:
            fail("give --areas or --target-households, not both")
        if apply and not scenario:
            scenario = "applied"
        locks = _lock_values(_parse_locks(lock))
        t0 = time.perf_counter()
        try:
            with progress(enabled=not json_out) as update:
                if units is not None:
                    if weight is None:
                        fail("--units needs --weight COL")
                    if scenario or apply:
                        fail("--scenario/--apply need workspace units; use --labels-out with --units")
                    gdf = units_from_file(units, weight=weight, id=id_col)
                    res = partition(
                        gdf, weight=weight, areas=areas, target=target_households,
                        tolerance=tolerance, locks=locks,
                        objective=unit_objective, method="exact" if exact else "auto",
                        islands=islands, seed=seed, time_limit=time_limit, progress=update,  # type: ignore[arg-type]
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
                        "households_moved": 0.0, "optimal": res.optimal,
                        "gap": None if math.isnan(res.gap) else res.gap,
                        "linear_optimal": res.linear_optimal, "proven": res.proven,
                        "seconds": res.seconds, "units": len(gdf), "report": res.report,
                    }
                    label_rows = [(str(i), int(a)) for i, a in res.labels.items()]
                else:
                    if ws_path is None:
                        fail("give a workspace WS or --units FILE --weight COL")
                    ws = open_ws(ws_path)
                    layers = {n: ws.read(n) for n in ("communities", "streets", "compounds", "households")}
                    rr = redistrict(
                        layers, communities=communities, areas=areas,
                        target_households=target_households, tolerance=tolerance, locks=locks,
                        cross_subdistricts=cross_subdistricts, objective=community_objective,
                        crs=ws.working_crs, exact=exact, seed=seed, time_limit=time_limit,
                        progress=update,
                    )
                    doc = rr.summary()
                    label_rows = list(zip(rr.units["unit_id"].astype(str), rr.units["new_code"].astype(str), strict=True))
                    if scenario:
                        from gisgov.districting.scenarios import accept_scenario, save_scenario

                        save_scenario(ws, scenario, rr)
                        doc["scenario"] = scenario
                        if apply:
                            doc["accepted"] = accept_scenario(ws, scenario)
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
                    json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
        """Replace the communities layer by the scenario (old layer kept as history)."""
        from gisgov.districting.scenarios import accept_scenario

        try:
            out = accept_scenario(open_ws(ctx.obj), name)
        except GisgovError as exc:
            fail(str(exc))
        if json_out:
            print_json(out)
        else:
            console.print(f"accepted {name}: {out['communities']} communities, version {out['version']}")

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
        console.print(f"proven: {doc['proven']}")
    for note in doc.get("report", []):
        console.print(f"· {note}")
