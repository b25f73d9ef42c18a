"""The public API gisgov/__init__.py states: every name resolves, importing stays light."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import gisgov

ROOT = Path(__file__).resolve().parents[2]


def test_version_is_the_packaging_version() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'version = { attr = "gisgov.__version__" }' in text
    parts = gisgov.__version__.split(".")
    assert len(parts) == 3
    assert all(p.isdigit() for p in parts)


@pytest.mark.parametrize("name", sorted(set(gisgov.__all__) - {"__version__"}))
def test_every_public_name_resolves_to_its_module(name: str) -> None:
    value = getattr(gisgov, name)
    module = importlib.import_module(gisgov._EXPORTS[name])
    assert getattr(module, name) is value
    # it is part of that module's own public API too
    assert name in getattr(module, "__all__", [name])


def test_all_lists_exactly_the_exports() -> None:
    assert set(gisgov.__all__) == {"__version__", *gisgov._EXPORTS}
    assert len(gisgov.__all__) == len(set(gisgov.__all__))


def test_unknown_names_are_attribute_errors() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = gisgov.nope  # type: ignore[attr-defined]


def test_import_gisgov_loads_no_engine_and_no_web_stack() -> None:
    code = ("import sys, gisgov; gisgov.LAYERS; "
            "print(','.join(m for m in ('numba', 'ortools', 'fastapi', 'folium', 'sqlalchemy', "
            "'gisgov.districting', 'gisgov.store') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == ""
