"""The dependency rule and packaging promises of ../shared/ARCHITECTURE.md, enforced."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN_IN_CORE = ("fastapi", "folium", "api", "maps", "starlette", "uvicorn", "branca")


def _module_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:  # module level only: lazy imports inside commands are allowed
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("path", sorted((ROOT / "gisgov").rglob("*.py")), ids=str)
def test_core_does_not_import_service_or_renderers(path: Path) -> None:
    bad = _module_level_imports(path) & set(FORBIDDEN_IN_CORE)
    assert not bad, f"{path.relative_to(ROOT)} imports {bad} at module level"


@pytest.mark.parametrize("path", sorted((ROOT / "maps").rglob("*.py")), ids=str)
def test_maps_do_not_import_the_service(path: Path) -> None:
    bad = _module_level_imports(path) & {"api", "fastapi", "starlette"}
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_importing_gisgov_loads_no_web_stack() -> None:
    code = (
        "import sys, gisgov.layers, gisgov.store, gisgov.cli; "
        "bad = [m for m in ('fastapi', 'folium') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("package", ["gisgov", "api", "maps"])
def test_packages_import_from_this_repository(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__file__ is not None
    assert Path(module.__file__).resolve().is_relative_to(ROOT / package)
