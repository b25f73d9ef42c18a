"""``gisgov sample``: write the reference county (before its reform) as a workspace."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from gisgov.cli._common import console, fail, open_ws, print_json, progress
from gisgov.layers import LAYERS

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``sample`` to ``app``."""

    @app.command("sample")
    def sample_cmd(
        out: Annotated[str, typer.Argument(help="Workspace to write: .gpkg or postgresql://")],
        seed: Annotated[int, typer.Option(help="Random seed (same seed, same county)")] = 0,
        scale: Annotated[
            float, typer.Option(help="Size factor: 1 = the reference county, 0.1 = test fixture")
        ] = 1.0,
        force: Annotated[bool, typer.Option(help="Replace an existing workspace")] = False,
        json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document")] = False,
    ) -> None:
        """Generate the reference county (参考县城) as it was before the reform."""
        from gisgov.sample import calibration, generate_county

        if not 0.01 <= scale <= 20:
            fail("--scale must be between 0.01 and 20")
        is_file = not out.startswith("postgres")
        if is_file and Path(out).exists():
            if not force:
                fail(f"{out} already exists; pass --force to replace it")
            Path(out).unlink()
        started = time.perf_counter()
        with progress(enabled=not json_out, total_label="生成样例县城") as update:
            layers = generate_county(
                seed=seed, scale=scale, progress=lambda d, f: update(d, 0.7 * f)
            )
            workspace = open_ws(out, create=True)
            names = [n for n in LAYERS if n in layers]
            with workspace.transaction() as tx:
                for i, name in enumerate(names):
                    update(f"writing {name}", 0.7 + 0.3 * i / len(names))
                    tx.write(name, layers[name])
                tx.set_meta("sample", {"seed": seed, "scale": scale})
            update("done", 1.0)
        seconds = round(time.perf_counter() - started, 2)
        cal = calibration(layers, scale=scale)
        if json_out:
            print_json({
                "workspace": workspace.url, "seed": seed, "scale": scale, "seconds": seconds,
                "layers": {n: len(layers[n]) for n in names}, "calibration": cal,
            })
            return
        console.print(f"wrote {workspace.url} in {seconds} s: "
                      + ", ".join(f"{n} {len(layers[n])}" for n in names))
        off = [c for c in cal if not c.get("ok")]
        console.print("calibration: all figures on target" if not off else
                      "calibration off target: " + ", ".join(str(c["figure"]) for c in off))
