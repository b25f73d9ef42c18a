"""``gisgov onboard``: a county's own files → a checked workspace; OSM/register imports.

``gisgov import`` hands two kinds of file to this module (:func:`dispatch_import`): OSM
extracts, which fill streets, buildings and compounds without ``--layer``, and Excel/CSV
registers with Chinese headers, which go through the header dictionary and address matching
of :mod:`gisgov.onboard.registers`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from gisgov.cli._common import console, fail, import_summary, open_ws, print_json, progress
from gisgov.layers import LAYERS

if TYPE_CHECKING:
    from gisgov.onboard.chain import OnboardInputs
    from gisgov.store import WorkspaceBase

__all__ = ["dispatch_import", "onboard_cmd", "register"]

WSArg = Annotated[str, typer.Argument(help="工作空间: a .gpkg file or a postgresql:// URL")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
# How many unmatched register rows the console lists before "and N more" (all are in --json).
_SHOWN_UNMATCHED = 20


def dispatch_import(
    ws: str, file: Path, *, layer: str | None, crs: str | None,
    mapping: dict[str, str], mode: str | None, json_out: bool, force: bool = False,
) -> bool:
    """Handle ``gisgov import`` for OSM extracts and Chinese-header registers.

    Returns
    -------
    bool
        ``True`` when the file was imported here; ``False`` leaves it to the generic reader.
    """
    from gisgov.onboard.osm import is_osm_file
    from gisgov.onboard.registers import REGISTER_LAYERS, has_chinese_headers

    if is_osm_file(file):
        if mode == "append":
            fail("an OSM extract replaces streets, buildings and compounds; drop --mode append")
        if mode is None:
            targets = [layer] if layer else ["streets", "buildings", "compounds"]
            filled = [t for t in targets if open_ws(ws).count(t)]
            if filled:
                fail(f"an OSM extract replaces {', '.join(filled)}, which already "
                     f"{'has' if len(filled) == 1 else 'have'} rows: pass --mode replace")
        _import_osm(ws, file, layer=layer, crs=crs, force=force, json_out=json_out)
        return True
    if (layer in REGISTER_LAYERS and file.suffix.lower() in (".xlsx", ".csv")
            and has_chinese_headers(file)):
        _import_register(ws, file, layer=layer, crs=crs, mapping=mapping, mode=mode,
                         force=force, json_out=json_out)
        return True
    return False


def _import_osm(ws: str, file: Path, *, layer: str | None, crs: str | None,
                force: bool, json_out: bool) -> None:
    from gisgov.errors import GisgovError
    from gisgov.onboard.chain import import_osm

    workspace = open_ws(ws)
    started = time.perf_counter()
    with progress(enabled=not json_out) as update:
        update(f"reading {file.name}", 0.1)
        try:
            result = import_osm(workspace, file, layers=[layer] if layer else None, crs=crs,
                                force=force)
        except GisgovError as exc:
            fail(str(exc))
        update("done", 1.0)
    result["seconds"] = round(time.perf_counter() - started, 3)
    if json_out:
        print_json(result)
        return
    written = ", ".join(f"{n} {LAYERS[k].label_zh}/{k}" for k, n in result["written"].items())
    console.print(f"imported from {file.name}: {written}")
    if result["skipped"]:
        console.print("skipped: " + ", ".join(f"{k} ({v})" for k, v in result["skipped"].items()))


def _import_register(ws: str, file: Path, *, layer: str, crs: str | None,
                     mapping: dict[str, str], mode: str | None, force: bool,
                     json_out: bool) -> None:
    from gisgov.errors import GisgovError
    from gisgov.io import check_bounds, expected_bounds_of
    from gisgov.onboard.registers import read_register
    from gisgov.references import import_rows

    workspace = open_ws(ws)
    started = time.perf_counter()
    with progress(enabled=not json_out) as update:
        update(f"reading {file.name}", 0.1)
        reg = read_register(file, layer=layer, crs=crs, mapping=mapping,
                            buildings=workspace.read("buildings"))
        expected = expected_bounds_of(workspace)
        if expected is not None and reg.frame.geometry.notna().any():
            check_bounds(reg.frame[reg.frame.geometry.notna()], expected, layer=layer,
                         name=file.name)
        update(f"writing {len(reg.frame)} rows to {layer}", 0.6)
        try:
            done = import_rows(workspace, layer, reg.frame, mode=mode,  # type: ignore[arg-type]
                               force=force, source_crs=reg.source_crs)
        except GisgovError as exc:
            fail(str(exc))
        update("done", 1.0)
    summary: dict[str, Any] = {**reg.summary(), **done.as_dict(),
                               "count": workspace.count(layer),
                               "seconds": round(time.perf_counter() - started, 3)}
    if json_out:
        print_json(summary)
        return
    console.print(import_summary(done, LAYERS[layer].label_zh, summary["count"]),
                  highlight=False)
    console.print(f"placed {reg.placed_by.get('coordinates', 0)} by coordinates "
                  f"({reg.source_crs}{', assumed' if reg.crs_assumed else ''}), "
                  f"{reg.placed_by.get('address', 0)} by address")
    _print_notes(reg.notes)
    _print_unmatched(reg.unmatched, layer)


def _print_notes(notes: list[str]) -> None:
    for note in notes:
        console.print(f"  · {note}", highlight=False)


def _print_unmatched(rows: list[dict[str, object]], layer: str) -> None:
    if not rows:
        return
    table = Table(title=f"{len(rows)} {layer} row(s) not placed 未匹配 (not imported)")
    for col in ("row 行", "id", "address 地址", "reason"):
        table.add_column(col)
    for r in rows[:_SHOWN_UNMATCHED]:
        table.add_row(str(r["row"]), str(r["id"]), str(r["address"] or "—"), str(r["reason"]))
    console.print(table)
    if len(rows) > _SHOWN_UNMATCHED:
        console.print(f"… {len(rows) - _SHOWN_UNMATCHED} more; use --json for all")


def onboard_cmd(
    ws: WSArg,
    streets: Annotated[Path, typer.Option(
        help="Streets: an OSM extract (.osm.pbf/.osm) or a centre-line file")],
    buildings: Annotated[Path | None, typer.Option(
        help="Building footprints (optional with an OSM extract)")] = None,
    communities: Annotated[Path | None, typer.Option(
        help="Community boundaries (code, name, kind, subdistrict_code)")] = None,
    households: Annotated[Path | None, typer.Option(
        help="Household register (.xlsx/.csv, Chinese headers) or layer file")] = None,
    members: Annotated[Path | None, typer.Option(
        help="Party-member roster (.xlsx/.csv, Chinese headers) or layer file")] = None,
    crs: Annotated[str | None, typer.Option(
        help="CRS of coordinates in the files: wgs84|cgcs2000|gcj02|bd09|EPSG:n")] = None,
    community_code: Annotated[str | None, typer.Option(
        help="Without --communities: 12-digit code of one community covering the data")
    ] = None,
    community_name: Annotated[str | None, typer.Option(
        help="Name of that community")] = None,
    subdistrict_name: Annotated[str | None, typer.Option(
        help="Name of its subdistrict (街道)")] = None,
    dwelling_m2: Annotated[float, typer.Option(
        help="Estimated households: floor area of one dwelling (m²)")] = 90.0,
    residential_share: Annotated[float, typer.Option(
        help="Estimated households: share of unknown-use buildings that is homes")] = 0.5,
    default_floors: Annotated[int, typer.Option(
        help="Estimated households: floors of buildings with none recorded")] = 3,
    json_out: JsonOpt = False,
) -> None:
    """Build a workspace from your own data in one step, then check it (接入自有数据).

    Streets and buildings (an OSM extract gives both), communities (or one placeholder
    community), households (a register, or estimated from buildings) and members; street
    blocks, compounds and joins are derived. All or nothing: one transaction.
    """
    from gisgov.onboard.chain import EstimateOptions, OnboardInputs

    for given in (streets, buildings, communities, households, members):
        if given is not None and not given.exists():
            fail(f"file {given} does not exist")
    inputs = OnboardInputs(
        streets=streets, buildings=buildings, communities=communities,
        households=households, members=members, crs=crs,
        community_code=community_code, community_name=community_name,
        subdistrict_name=subdistrict_name,
        estimate=EstimateOptions(dwelling_m2=dwelling_m2, residential_share=residential_share,
                                 default_floors=default_floors),
    )
    report = _onboard(open_ws(ws, create=True), inputs, json_out=json_out)
    if json_out:
        print_json(report)
    else:
        _print_onboard(report)
    if report["check"]["errors"]:
        raise typer.Exit(1)


def _onboard(workspace: WorkspaceBase, inputs: OnboardInputs, *, json_out: bool
             ) -> dict[str, Any]:
    """Build the layers, write them in one transaction, check them; the JSON report."""
    from gisgov.checks import check_layers, check_report
    from gisgov.onboard.chain import onboard_layers, onboard_workspace

    started = time.perf_counter()
    with progress(enabled=not json_out, total_label="onboarding") as update:
        result = onboard_layers(inputs, progress=update)
        update("writing the workspace", 0.92)
        onboard_workspace(workspace, result)
        update("gisgov check", 0.96)
        problems = check_layers(workspace.read_all())
        update("done", 1.0)
    return {"workspace": workspace.url, **result.report(), "check": check_report(problems),
            "total_seconds": round(time.perf_counter() - started, 3)}


# The command is a module-level function whose docstring is its ``--help`` text;
# :func:`register` only wires it.
def register(app: typer.Typer) -> None:
    """Add ``gisgov onboard`` to ``app``."""
    app.command("onboard")(onboard_cmd)


def _print_onboard(rep: dict[str, Any]) -> None:
    """What was imported and derived per layer, notes, unmatched rows, what is missing,
    then the check (its first 20 problems)."""
    check = rep["check"]
    table = Table(title=f"onboarded in {rep['total_seconds']:.1f} s 接入完成")
    for col in ("layer 图层", "imported 导入", "derived 生成"):
        table.add_column(col)
    for name in LAYERS:
        i, d = rep["imported"].get(name), rep["derived"].get(name)
        if i is None and d is None:
            continue
        table.add_row(f"{name} {LAYERS[name].label_zh}", str(i or ""), str(d or ""))
    table.add_row("street blocks 街区", "", str(rep["blocks"]))
    console.print(table)
    _print_notes(rep["notes"])
    for layer, reg in rep["registers"].items():
        _print_unmatched(reg["unmatched"], layer)
    if rep["missing"]:
        console.print("[bold]still missing 尚缺[/]")
        _print_notes(rep["missing"])
    console.print(f"gisgov check: {check['errors']} error(s), {check['warnings']} warning(s)")
    for p in check["problems"][:20]:
        console.print(f"  {p['severity']} {p['layer']}[{p['key'] or ''}] {p['rule']}: "
                      f"{p['message']}", highlight=False)
    if len(check["problems"]) > 20:
        console.print(f"  … {len(check['problems']) - 20} more: run `gisgov check --json`")
