"""docs/ARCHITECTURE.md kept true: its dependency rule, the paths it names, docs/SCHEMA.md.

The dependency rule is read from the table in docs/ARCHITECTURE.md, so the document and the
check cannot disagree; every repository path the document names must exist.
"""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"


def _dependency_rule() -> list[tuple[str, set[str], list[str]]]:
    """``(package, forbidden modules, exempt paths)`` rows of the table in ARCHITECTURE.md."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    table = text.split("<!-- dependency-rule:", 1)[1].split("\n\n", 1)[0]
    rows = []
    for line in table.splitlines()[3:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3:
            continue
        names = set(re.findall(r"`([^`]+)`", cells[1]))
        rows.append((cells[0].strip("`"), names, re.findall(r"`([^`]+)`", cells[2])))
    return rows


RULE = _dependency_rule()
FORBIDDEN_IN_CORE = tuple(sorted(set().union(*(f for p, f, e in RULE if p == "gisgov" and not e))))


def _module_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:  # module level only: lazy imports inside commands are allowed
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_the_rule_table_is_read() -> None:
    packages = {p for p, _, _ in RULE}
    assert packages == {"gisgov", "maps"}
    assert {"fastapi", "folium", "api", "maps", "sqlalchemy"} <= set().union(*(f for _, f, _ in RULE))


@pytest.mark.parametrize("path", sorted((ROOT / "gisgov").rglob("*.py"))
                         + sorted((ROOT / "maps").rglob("*.py")), ids=str)
def test_modules_follow_the_dependency_rule(path: Path) -> None:
    rel = path.relative_to(ROOT).as_posix()
    imported = _module_level_imports(path)
    for package, forbidden, exempt in RULE:
        if not rel.startswith(package + "/") or any(rel.startswith(e) for e in exempt):
            continue
        bad = imported & forbidden
        assert not bad, f"{rel} imports {sorted(bad)} at module level (docs/ARCHITECTURE.md)"


def test_paths_named_in_the_architecture_exist() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    named = {m for m in re.findall(r"`([A-Za-z_./<>-]+)`", text)
             if "/" in m and "<" not in m and not m.startswith("postgresql")}
    assert len(named) > 30
    missing = sorted(p for p in named if not (ROOT / p).exists())
    assert not missing, f"docs/ARCHITECTURE.md names paths that do not exist: {missing}"
    # and every top-level module of the core appears in the layer picture
    picture = text.split("```", 2)[1]
    for module in ("layers", "crs", "store", "locate", "coverage", "sample", "districting",
                   "grids", "assignment", "lookup", "onboard", "checks", "jobs", "cli"):
        assert (ROOT / "gisgov" / module).exists() or (ROOT / "gisgov" / f"{module}.py").exists()
        assert re.search(rf"\b{module}\b", picture), module


def test_schema_doc_is_generated_from_the_layers() -> None:
    from gisgov.layers import LAYERS, schema_document

    doc = (ROOT / "docs" / "SCHEMA.md").read_text(encoding="utf-8")
    assert doc == schema_document(), (
        "docs/SCHEMA.md is stale: run `gisgov schema --markdown > docs/SCHEMA.md`")
    for layer in LAYERS.values():
        assert f"## {layer.name}" in doc
        for c in layer.columns:
            assert f"| `{c.name}` | {c.label_zh.replace('|', chr(92) + '|')} |" in doc


def test_docs_do_not_point_outside_the_repository() -> None:
    files = [p for p in ROOT.rglob("*") if p.suffix in {".py", ".md", ".toml", ".cfg"}
             and p.is_file() and not any(part.startswith(".") for part in
                                         p.relative_to(ROOT).parts)
             and "build" not in p.relative_to(ROOT).parts and "demo" not in
             p.relative_to(ROOT).parts]
    needle = "shared" + "/"
    bad = [p.relative_to(ROOT).as_posix() for p in files
           if needle in p.read_text(encoding="utf-8", errors="replace")]
    assert not bad, f"these files point to a {needle} folder outside the repository: {bad}"


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


@pytest.mark.parametrize(("name", "module"), [
    ("PlanState", "gisgov.districting.engine"),
    ("PieceArrays", "gisgov.districting._kernel"),
    ("partition", "gisgov.districting.engine"),
    ("open_workspace", "gisgov.store"),
    ("Workspace", "gisgov.store"),
    ("STORAGE_CRS", "gisgov.layers"),
    ("register_job", "gisgov.jobs"),
    ("ROUTERS", "api.app"),
])
def test_code_names_in_the_architecture_exist(name: str, module: str) -> None:
    assert f"`{name}`" in ARCHITECTURE.read_text(encoding="utf-8") or \
        f".{name}`" in ARCHITECTURE.read_text(encoding="utf-8")
    assert hasattr(importlib.import_module(module), name)
