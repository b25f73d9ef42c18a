"""Workspace commands: init, info, check, import, export, copy, schema."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from gisgov.cli._common import console, fail, import_summary, open_ws, print_json, progress
from gisgov.errors import ValidationError
from gisgov.layers import LAYERS, schema_document, schema_markdown
from gisgov.store import WorkspaceBase

__all__ = [
    "ImportRequest",
    "check_cmd",
    "copy_cmd",
    "export_cmd",
    "import_cmd",
    "info_cmd",
    "init_cmd",
    "parse_mapping",
    "register",
    "schema_cmd",
    "workspace_info",
]

WSArg = Annotated[str, typer.Argument(help="工作空间: a .gpkg file or a postgresql:// URL")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


def parse_mapping(items: list[str] | None) -> dict[str, str]:
    """Parse ``--map theirs=ours`` options into a dict.

    >>> parse_mapping(["户数=size", "名称=name"])
    {'户数': 'size', '名称': 'name'}
    """
    mapping: dict[str, str] = {}
    for item in items or []:
        for part in item.split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise ValidationError(f"--map {part!r}: write it as their_column=our_column")
            theirs, ours = (s.strip() for s in part.split("=", 1))
            if not theirs or not ours:
                raise ValidationError(f"--map {part!r}: both sides of = are needed")
            mapping[theirs] = ours
    return mapping


def workspace_info(ws: Any) -> dict[str, Any]:
    """``ws.info()`` plus the sample calibration when the workspace came from ``gisgov sample``.

    For a city (``--districts N``) each district is measured against the reference county:
    ``calibration_by_district`` maps district codes to figures and ``calibration`` lists them
    all, each with its ``district``.
    """
    info: dict[str, Any] = ws.info()
    sample = ws.get_meta("sample")
    if sample:
        from gisgov.sample import calibration, calibration_by_district

        info["sample"] = sample
        scale = float(sample.get("scale", 1.0))
        if int(sample.get("districts", 1)) > 1:
            by = calibration_by_district(ws.read_all(), scale=scale)
            info["calibration_by_district"] = by
            info["calibration"] = [{**f, "district": code} for code, figs in by.items()
                                   for f in figs]
        else:
            info["calibration"] = calibration(ws.read_all(), scale=scale)
    return info


def _print_district_calibration(by: dict[str, list[dict[str, Any]]]) -> None:
    table = Table(title="各区校准 calibration per district (reference county)")
    for col in ("区 district", "达标 on target", "未达标 off target"):
        table.add_column(col)
    for code, figures in by.items():
        off = [str(f["figure"]) for f in figures if not f.get("ok")]
        table.add_row(code, f"{len(figures) - len(off)}/{len(figures)}", ", ".join(off) or "—")
    console.print(table)


def _layer_option(layer: str) -> str:
    if layer not in LAYERS:
        fail(f"unknown layer {layer!r}; choose one of: {', '.join(LAYERS)}")
    return layer


# Each command is a module-level function whose docstring is its ``--help`` text and whose
# parameters carry their help in ``Annotated``; :func:`register` only wires them to names.


def init_cmd(ws: WSArg) -> None:
    """Create an empty workspace with every layer of the schema (创建工作空间)."""
    if not ws.startswith("postgres") and Path(ws).exists():
        fail(f"{ws} already exists; choose another name or delete it first")
    workspace = open_ws(ws, create=True)
    console.print(f"created workspace {workspace.url} with {len(workspace.layers())} layers")


def info_cmd(ws: WSArg, json_out: JsonOpt = False) -> None:
    """Layers with counts, CRS and extent; calibration figures for sample workspaces."""
    info = workspace_info(open_ws(ws))
    if json_out:
        print_json(info)
        return
    _print_info(info)


def _print_info(info: dict[str, Any]) -> None:
    """The ``info`` document as tables: layers, CRS, tables, then the calibration."""
    table = Table(title=f"gisgov 工作空间 {info['workspace']} ({info['store']})")
    for col in ("图层 layer", "标签", "要素数 count", "范围 bbox (WGS-84)"):
        table.add_column(col)
    for name, li in info["layers"].items():
        bbox = li["bbox"]
        box = "—" if not bbox else ", ".join(f"{v:.4f}" for v in bbox)
        table.add_row(name, li["label"], str(li["count"]), box)
    console.print(table)
    if info.get("working_crs"):
        console.print(f"working CRS (metres): {info['working_crs']}")
    if info.get("tables"):
        console.print(f"tables: {', '.join(info['tables'])}")
    if info.get("calibration_by_district"):
        _print_district_calibration(info["calibration_by_district"])
    elif info.get("calibration"):
        cal = Table(title="校准 calibration (reference county)")
        for col in ("figure", "target", "actual", "ok"):
            cal.add_column(col)
        for row in info["calibration"]:
            cal.add_row(str(row["figure"]), f"{row['target']:g}", f"{row['actual']:g}",
                        "✓" if row.get("ok") else "✗")
        console.print(cal)


def check_cmd(ws: WSArg, json_out: JsonOpt = False) -> None:
    """Validate every layer and the governance rules; exit 1 when there are errors."""
    from gisgov.checks import check_layers, check_report, coverage_by_community

    workspace = open_ws(ws)
    layers = workspace.read_all()
    problems = check_layers(layers)
    report = check_report(problems)
    report["workspace"] = workspace.url
    coverage = coverage_by_community(layers)
    report["coverage"] = coverage.to_dict("records")
    if json_out:
        print_json(report)
    else:
        _print_check(report, problems)
    if report["errors"]:
        raise typer.Exit(1)


def _print_check(report: dict[str, Any], problems: list[Any]) -> None:
    """Coverage per community, the summary by rule, then the problems, errors first.

    The summary comes first: one line per rule with its count, then the total, so 162 rows
    are read as "3 rules" before anyone scrolls.
    """
    if report["coverage"]:
        cov = Table(title="红色网格员覆盖 red-grid coverage per community")
        for col in ("社区 community", "户 households", "已联系 assigned", "覆盖率"):
            cov.add_column(col, justify="right")
        for r in report["coverage"]:
            cov.add_row(str(r["community_code"]), f"{int(r['households']):,}",
                        f"{int(r['assigned']):,}", f"{float(r['coverage']):.1%}")
        console.print(cov)
    if not problems:
        console.print("[green]no problems found 检查通过[/]")
        return
    groups: dict[tuple[str, str], list[Any]] = {}
    for p in problems:
        groups.setdefault((p.rule, p.severity), []).append(p)
    order = sorted(groups, key=lambda k: (k[1] != "error", -len(groups[k]), k[0]))
    console.print(_rule_summary(report, groups, order))
    table = Table(title=f"{report['errors']} error(s), {report['warnings']} warning(s)")
    for col in ("layer", "key", "rule", "severity", "message"):
        table.add_column(col)
    ranked = [p for key in order for p in groups[key]]
    for p in ranked[:200]:
        table.add_row(p.layer, p.key or "", p.rule, p.severity, p.message)
    console.print(table)
    if len(problems) > 200:
        console.print(f"… {len(problems) - 200} more; use --json for all")


def _rule_summary(report: dict[str, Any], groups: dict[tuple[str, str], list[Any]],
                  order: list[tuple[str, str]]) -> Table:
    """One row per (rule, severity) with its layers and count, then the total."""
    summary = Table(title="summary by rule 按规则汇总")
    for col in ("rule 规则", "severity 级别", "layers 图层", "count 数量"):
        summary.add_column(col, justify="right" if col.startswith("count") else "left")
    for rule, severity in order:
        rows = groups[(rule, severity)]
        summary.add_row(rule, severity, ", ".join(sorted({p.layer for p in rows})),
                        str(len(rows)))
    summary.add_section()
    summary.add_row("total 合计", f"{report['errors']} error(s), "
                    f"{report['warnings']} warning(s)", "", str(sum(map(len, groups.values()))))
    return summary


@dataclass(frozen=True)
class ImportRequest:
    """What ``gisgov import`` was asked to read, as the generic reader takes it.

    Attributes
    ----------
    file
        The file to read.
    layer
        Target layer, already checked against :data:`gisgov.layers.LAYERS`.
    mode
        ``"append"``, ``"replace"`` or ``None`` (only allowed into an empty layer).
    force
        Replace even when other layers' rows then refer to deleted rows.
    crs, encoding, mapping, lon, lat
        How to read the file: source CRS, text encoding, column renames, point columns.
    """

    file: Path
    layer: str
    mode: str | None
    force: bool
    crs: str | None
    encoding: str | None
    mapping: dict[str, str]
    lon: str | None
    lat: str | None


def import_cmd(
    ws: WSArg,
    file: Annotated[Path, typer.Argument(help="GeoPackage, GeoJSON, Shapefile, CSV or XLSX")],
    layer: Annotated[str | None, typer.Option(
        "--layer", "-l", help="Target layer (not needed for an OSM extract)")] = None,
    mode: Annotated[str | None, typer.Option(
        help="append or replace; required when the layer already has rows")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace even if rows of other layers then refer to deleted rows")
    ] = False,
    crs: Annotated[
        str | None, typer.Option(help="Source CRS: wgs84|cgcs2000|gcj02|bd09|EPSG:n")
    ] = None,
    encoding: Annotated[
        str | None, typer.Option(help="Text encoding of a shapefile/CSV (e.g. GBK)")
    ] = None,
    mapping: Annotated[
        list[str] | None, typer.Option("--map", help="Rename a column: theirs=ours")
    ] = None,
    lon: Annotated[str | None, typer.Option("--lon", help="Longitude column (CSV/XLSX)")] = None,
    lat: Annotated[str | None, typer.Option("--lat", help="Latitude column (CSV/XLSX)")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Import a file into a layer, all or nothing (导入).

    Into a layer with rows, ``--mode`` is required; a replace that would leave other
    layers' rows referring to deleted rows (assignments → households, staff → members…)
    is refused unless ``--force``. Reports rows added, replaced and deleted.
    """
    from gisgov.cli.cmd_onboard import dispatch_import

    if layer is not None:
        _layer_option(layer)
    if mode not in (None, "append", "replace"):
        fail("--mode must be append or replace")
    if not file.exists():
        fail(f"file {file} does not exist")
    # OSM extracts and Chinese-header registers have their own readers (gisgov.onboard).
    if dispatch_import(ws, file, layer=layer, crs=crs, mapping=parse_mapping(mapping),
                       mode=mode, force=force, json_out=json_out):
        return
    if layer is None:
        fail("--layer is required (only an OSM extract fills its layers by itself)")
    request = ImportRequest(file=file, layer=layer, mode=mode, force=force, crs=crs,
                            encoding=encoding, mapping=parse_mapping(mapping), lon=lon, lat=lat)
    _import_file(open_ws(ws), request, json_out=json_out)


def _import_file(workspace: WorkspaceBase, req: ImportRequest, *, json_out: bool) -> None:
    """Read ``req.file`` with the generic reader, write it all or nothing, report it."""
    from gisgov.errors import GisgovError
    from gisgov.io import expected_bounds_of, read_layer_file
    from gisgov.references import import_rows

    expected = expected_bounds_of(workspace)
    started = time.perf_counter()
    with progress(enabled=not json_out) as update:
        update(f"reading {req.file.name}", 0.1)
        gdf = read_layer_file(
            req.file, layer=req.layer, crs=req.crs, encoding=req.encoding,
            mapping=req.mapping, lon_col=req.lon, lat_col=req.lat, expected_bounds=expected,
        )
        if gdf.attrs.get("crs_assumed"):
            console.print("note: no CRS given, coordinates read as WGS-84 (use --crs gcj02 "
                          "for Gaode/WeChat pickers, --crs bd09 for Baidu)",
                          highlight=False)
        update(f"writing {len(gdf)} rows to {req.layer}", 0.6)
        try:  # the rows and their provenance together, after the reference check
            done = import_rows(workspace, req.layer, gdf, mode=req.mode,  # type: ignore[arg-type]
                               force=req.force, source_crs=gdf.attrs.get("source_crs"))
        except GisgovError as exc:
            fail(str(exc))
        update("done", 1.0)
    result = {**done.as_dict(), "count": workspace.count(req.layer),
              "source_crs": gdf.attrs.get("source_crs"),
              "seconds": round(time.perf_counter() - started, 3)}
    if json_out:
        print_json(result)
    else:
        console.print(import_summary(done, LAYERS[req.layer].label_zh, result["count"]),
                      highlight=False)


def export_cmd(
    ws: WSArg,
    out: Annotated[Path, typer.Argument(help="Output file: .gpkg .geojson .shp .csv")],
    layer: Annotated[str, typer.Option("--layer", "-l", help="Layer to export")],
    crs: Annotated[str, typer.Option(help="Output CRS: wgs84|cgcs2000|gcj02|bd09")] = "wgs84",
) -> None:
    """Export a layer to a file (导出), optionally in GCJ-02 for Gaode maps."""
    from gisgov.io import write_layer_file

    _layer_option(layer)
    workspace = open_ws(ws)
    gdf = workspace.read(layer)
    write_layer_file(gdf, out, crs=crs, layer_name=layer)
    _audit_export(workspace, layer, str(out), len(gdf))
    console.print(f"wrote {len(gdf)} {layer} to {out} ({crs})")


def copy_cmd(
    src: Annotated[str, typer.Argument(help="Source workspace")],
    dst: Annotated[str, typer.Argument(help="Destination workspace (created if needed)")],
    json_out: JsonOpt = False,
) -> None:
    """Copy every layer and table from one store to another (e.g. GeoPackage → PostGIS)."""
    from gisgov.store.copy import copy_workspace

    source = open_ws(src)
    target = open_ws(dst, create=True)
    started = time.perf_counter()
    with progress(enabled=not json_out) as update:
        copied = copy_workspace(
            source, target, progress=lambda name, done, total: update(
                f"copied {name}", done / max(total, 1))
        )
    result = {"source": source.url, "destination": target.url, "copied": copied,
              "seconds": round(time.perf_counter() - started, 3)}
    if json_out:
        print_json(result)
    else:
        console.print(f"copied {source.url} → {target.url}")


def schema_cmd(
    lang: Annotated[str, typer.Option(help="zh or en labels")] = "zh",
    markdown: Annotated[bool, typer.Option(
        "--markdown", help="The whole document, both languages (docs/SCHEMA.md)")] = False,
) -> None:
    """Print the layer schema as a Markdown table (``--markdown``: docs/SCHEMA.md)."""
    if markdown:
        sys.stdout.write(schema_document())
        return
    if lang not in ("zh", "en"):
        fail("--lang must be zh or en")
    console.print(schema_markdown(lang), markup=False, highlight=False)  # type: ignore[arg-type]


def register(app: typer.Typer) -> None:
    """Add the workspace commands to ``app`` (in this order in ``gisgov --help``)."""
    app.command("init")(init_cmd)
    app.command("info")(info_cmd)
    app.command("check")(check_cmd)
    app.command("import")(import_cmd)
    app.command("export")(export_cmd)
    app.command("copy")(copy_cmd)
    app.command("schema")(schema_cmd)


def _audit_export(workspace: Any, layer: str, target: str, rows: int) -> None:
    """Exports carry personal data out of the system: record who, what, when (PIPL)."""
    import getpass

    import pandas as pd

    from gisgov.audit import record_access

    personal = bool(LAYERS[layer].personal_columns)
    record_access(
        workspace,
        actor=f"cli:{getpass.getuser()}",
        action="export",
        target=f"{layer} → {target}",
        detail=f"{rows} rows{' with personal data' if personal else ''}",
        when=pd.Timestamp.now(tz="UTC"),
    )
