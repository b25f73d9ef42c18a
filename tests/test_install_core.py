"""`pip install gisgov` without extras: the core imports and its main commands run.

The extras' packages are blocked in a subprocess (an import hook that raises
ModuleNotFoundError, as a fresh venv without them would), then every core module is imported
and ``gisgov sample``, ``redistrict``, ``grids`` and ``assign`` run on a small county; a
command that needs an extra fails with one line naming it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gisgov.extras import EXTRAS

ROOT = Path(__file__).resolve().parent
BLOCKED = sorted({*EXTRAS, "networkx", "pyrosm", "api", "maps"})
#: core modules that exist to serve an extra, imported only through it
OPTIONAL_MODULES = ("gisgov.store.postgis", "gisgov.migrations")

BLOCKER = textwrap.dedent(f"""
    import importlib.abc, sys
    BLOCKED = {BLOCKED!r}

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None

    for name in list(sys.modules):
        if name.split(".")[0] in BLOCKED:
            del sys.modules[name]
    sys.meta_path.insert(0, Block())
""")


def _run(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", BLOCKER + textwrap.dedent(code)],
                          capture_output=True, text=True, cwd=ROOT.parent, check=False,
                          env={"PYTHONPATH": str(ROOT.parent), "PATH": "/usr/bin:/bin",
                               "HOME": str(tmp_path), "NUMBA_CACHE_DIR": str(tmp_path / "nb"),
                               "COLUMNS": "200"})


def test_blocker_blocks(tmp_path: Path) -> None:
    out = _run("import folium", tmp_path)
    assert out.returncode != 0
    assert "No module named 'folium'" in out.stderr


def test_every_core_module_imports_without_extras(tmp_path: Path) -> None:
    modules = sorted(
        ".".join(p.relative_to(ROOT.parent).with_suffix("").parts).removesuffix(".__init__")
        for p in (ROOT.parent / "gisgov").rglob("*.py"))
    modules = [m for m in modules if not m.startswith(OPTIONAL_MODULES)]
    assert len(modules) > 50
    out = _run(f"""
        import importlib
        for m in {modules!r}:
            importlib.import_module(m)
        import gisgov
        for name in gisgov.__all__:
            getattr(gisgov, name)
        print("ok", len({modules!r}))
    """, tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["ok", str(len(modules))]


@pytest.mark.slow
def test_main_commands_run_without_extras(tmp_path: Path) -> None:
    ws = tmp_path / "county.gpkg"
    commands = [
        ["sample", str(ws), "--seed", "3", "--scale", "0.1", "--force"],
        ["redistrict", str(ws), "--communities", "urban", "--areas", "3", "--scenario", "r",
         "--apply", "--time-limit", "3600"],
        ["grids", str(ws), "--time-limit", "3600"],
        ["assign", str(ws)],
        ["check", str(ws)],
        ["serve", str(ws)],  # needs the [serve] extra: one line naming it
    ]
    out = _run(f"""
        import sys
        from gisgov.cli import main
        for argv in {commands!r}:
            sys.argv = ["gisgov", *argv]
            try:
                main()
                code = 0
            except SystemExit as exc:
                code = exc.code or 0
            print("EXIT", argv[0], code, flush=True)
    """, tmp_path)
    exits = dict(line.split()[1:] for line in out.stdout.splitlines() if line.startswith("EXIT"))
    assert exits.get("sample") == "0", out.stderr[-3000:]
    assert exits.get("redistrict") == "0", out.stderr[-3000:]
    assert exits.get("grids") == "0", out.stderr[-3000:]
    assert exits.get("assign") == "0", out.stderr[-3000:]
    assert exits.get("check") in {"0", "1"}, out.stderr[-3000:]  # 1: it found problems
    assert exits.get("serve") == "2"
    assert "pip install 'gisgov[serve]'" in out.stderr
