"""``gisgov sample``: write the reference county (before its reform), or a city of them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from gisgov.cli._common import console, fail, open_ws, print_json, progress
from gisgov.layers import LAYERS, empty_layer

__all__ = ["register", "sample_cmd"]


def _fresh_target(out: str, force: bool) -> None:
    if not out.startswith("postgres") and Path(out).exists():
        if not force:
            fail(f"{out} already exists; pass --force to replace it")
        Path(out).unlink()


def _stored(name: str, gdf: Any) -> Any:
    """Areas that tile are written as one coverage on the storage grid (gisgov.coverage)."""
    if name in ("subdistricts", "communities") and len(gdf):
        from gisgov.coverage import snap_layer

        return snap_layer(gdf)
    return gdf


def _write_county(out: str, seed: int, scale: float, update: Any) -> dict[str, Any]:
    from gisgov.sample import calibration, generate_county

    layers = generate_county(seed=seed, scale=scale, progress=lambda d, f: update(d, 0.7 * f))
    workspace = open_ws(out, create=True)
    names = [n for n in LAYERS if n in layers]
    with workspace.transaction() as tx:
        for i, name in enumerate(names):
            update(f"writing {name}", 0.7 + 0.3 * i / len(names))
            tx.write(name, _stored(name, layers[name]))
        tx.set_meta("sample", {"seed": seed, "scale": scale})
    return {"workspace": workspace.url, "counts": {n: len(layers[n]) for n in names},
            "calibration": calibration(layers, scale=scale)}


def _write_city(out: str, seed: int, scale: float, districts: int, update: Any
                ) -> dict[str, Any]:
    """Generate and write district by district in one transaction: memory holds one district,
    and a failure part-way leaves nothing written."""
    from gisgov.sample import calibration, iter_city

    workspace = open_ws(out, create=True)
    counts = dict.fromkeys(LAYERS, 0)
    by_district: dict[str, list[dict[str, object]]] = {}
    with workspace.transaction() as tx:
        for d in iter_city(seed=seed, scale=scale, districts=districts, progress=update):
            update(f"district {d.index + 1}/{districts}: writing", (d.index + 0.95) / districts)
            if d.index == 0:  # every layer exists, populated or not
                for name in LAYERS:
                    if name not in d.layers:
                        tx.write(name, empty_layer(name))
            for name, gdf in d.layers.items():
                tx.write(name, _stored(name, gdf), mode="append" if d.index else "replace")
                counts[name] += len(gdf)
            by_district[d.code] = calibration(d.layers, scale=scale)
        tx.set_meta("sample", {"seed": seed, "scale": scale, "districts": districts})
    flat = [{**f, "district": code} for code, figs in by_district.items() for f in figs]
    return {"workspace": workspace.url, "counts": counts, "calibration": flat,
            "calibration_by_district": by_district}


def sample_cmd(
    out: Annotated[str, typer.Argument(help="Workspace to write: .gpkg or postgresql://")],
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same county)")] = 0,
    scale: Annotated[
        float, typer.Option(help="Size factor: 1 = the reference county, 0.1 = test fixture")
    ] = 1.0,
    districts: Annotated[int, typer.Option(
        help="Districts of a city laid side by side (区): 1 = the reference county")] = 1,
    force: Annotated[bool, typer.Option(help="Replace an existing workspace")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
) -> None:
    """Generate the reference county (参考县城) as it was before the reform, or a city."""
    from gisgov.sample import MAX_DISTRICTS

    if not 0.01 <= scale <= 20:
        fail("--scale must be between 0.01 and 20")
    if not 1 <= districts <= MAX_DISTRICTS:
        fail(f"区数 --districts 须在 1 到 {MAX_DISTRICTS} 之间 (a city of 1 to "
             f"{MAX_DISTRICTS} districts)")
    _fresh_target(out, force)
    started = time.perf_counter()
    label = "生成样例县城" if districts == 1 else f"生成样例城市（{districts} 个区）"
    with progress(enabled=not json_out, total_label=label) as update:
        if districts == 1:
            done = _write_county(out, seed, scale, update)
        else:
            done = _write_city(out, seed, scale, districts, update)
        update("done", 1.0)
    seconds = round(time.perf_counter() - started, 2)
    counts, cal = done["counts"], done["calibration"]
    if json_out:
        doc = {"workspace": done["workspace"], "seed": seed, "scale": scale,
               "seconds": seconds, "layers": counts, "calibration": cal}
        if districts > 1:
            doc["districts"] = districts
            doc["calibration_by_district"] = done["calibration_by_district"]
        print_json(doc)
        return
    console.print(f"wrote {done['workspace']} in {seconds} s: "
                  + ", ".join(f"{n} {c}" for n, c in counts.items() if c or districts == 1))
    off = [c for c in cal if not c.get("ok")]
    console.print("calibration: all figures on target" if not off else
                  "calibration off target: " + ", ".join(
                      f"{c.get('district', '')} {c['figure']}".strip() for c in off))


# The command is a module-level function whose docstring is its ``--help`` text;
# :func:`register` only wires it.
def register(app: typer.Typer) -> None:
    """Add ``sample`` to ``app``."""
    app.command("sample")(sample_cmd)
