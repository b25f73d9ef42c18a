"""``gisgov maps``: write the HTML maps of a workspace and an index page."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from gisgov.cli._common import console, fail, open_ws, print_json, progress

__all__ = ["maps_cmd", "register"]

_BASEMAPS = ("none", "osm", "gaode", "tianditu")


def maps_cmd(
    workspace: Annotated[str, typer.Argument(help="Workspace: .gpkg file or postgresql:// URL")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write the maps into")],
    basemap: Annotated[
        str, typer.Option(help="none (offline) | osm | gaode (GCJ-02) | tianditu")
    ] = "none",
    lang: Annotated[str, typer.Option(help="zh (中文) | en")] = "zh",
    inline: Annotated[
        bool, typer.Option(help="Embed Leaflet in every page (single files to carry)")
    ] = False,
    tianditu_key: Annotated[
        str | None, typer.Option(help="Tianditu key (for --basemap tianditu)")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
) -> None:
    """Write the maps (县域总览, 网格, 红色网格, 合规检查, 方案对比, 事件看板) and index.html — no CDN
    needed."""
    # folium is a renderer dependency: import it only when this command runs.
    from maps.scenarios import scenarios_from_workspace
    from maps.site import write_maps

    if basemap not in _BASEMAPS:
        fail(f"--basemap must be one of {', '.join(_BASEMAPS)}")
    if lang not in ("zh", "en"):
        fail("--lang must be zh or en")
    started = time.perf_counter()
    ws = open_ws(workspace)
    layers = ws.read_all()
    with progress(enabled=not json_out, total_label="maps") as update:
        files = write_maps(layers, out, basemap=basemap, lang=lang,  # type: ignore[arg-type]
                           inline=inline, tianditu_key=tianditu_key,
                           scenarios=scenarios_from_workspace(ws, layers=layers),
                           progress=update)
    summary = {
        "out": str(out), "index": str(files[0]),
        "maps": [{"file": f.name, "bytes": f.stat().st_size} for f in files[1:]],
        "seconds": round(time.perf_counter() - started, 2),
    }
    if json_out:
        print_json(summary)
        return
    dashboards = [f for f in files[1:] if f.name.startswith("dashboard-")]
    for f in files[1:]:
        if f not in dashboards:
            console.print(f"  {f.name:<32} {f.stat().st_size / 1e6:6.2f} MB")
    if dashboards:
        console.print(f"  dashboard-<网格代码>.html × {len(dashboards)} "
                      f"{sum(f.stat().st_size for f in dashboards) / 1e6:6.2f} MB "
                      "(事件看板 per grid, listed in dashboards.html)")
    console.print(f"地图已写入 maps written: {files[0]} ({summary['seconds']} s)")


# The command is a module-level function whose docstring is its ``--help`` text;
# :func:`register` only wires it.
def register(app: typer.Typer) -> None:
    """Add ``maps`` to ``app``."""
    app.command("maps")(maps_cmd)
