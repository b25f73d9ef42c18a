"""The CLI's shape: each command a module-level function, ``register()`` only wiring.

A command written as a closure inside ``register()`` cannot be imported, read or tested on
its own, and the closures had grown to 230 lines (issue 17); these checks keep the shape
``docs/ARCHITECTURE.md`` describes.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from typing import Any

import typer

import gisgov.cli
from gisgov.cli import build_app

#: Lines a ``register()`` may take: a docstring, a sub-Typer per group and one line a command.
MAX_REGISTER_LINES = 25


def _callbacks(app: typer.Typer, path: str = "gisgov") -> Iterator[tuple[str, Callable[..., Any]]]:
    for info in app.registered_commands:
        assert info.callback is not None
        yield f"{path} {info.name}", info.callback
    for group in app.registered_groups:
        sub = group.typer_instance
        assert sub is not None
        name = f"{path} {group.name}"
        if sub.registered_callback is not None and sub.registered_callback.callback:
            yield name, sub.registered_callback.callback
        yield from _callbacks(sub, name)


def test_every_command_is_a_module_level_function() -> None:
    found = dict(_callbacks(build_app()))
    assert {"gisgov import", "gisgov events report", "gisgov keys add", "gisgov redistrict",
            "gisgov scenarios list", "gisgov onboard", "gisgov assign"} <= set(found)
    for name, fn in found.items():
        assert "<locals>" not in fn.__qualname__, f"`{name}` is a closure: {fn.__qualname__}"
        module = importlib.import_module(fn.__module__)
        assert getattr(module, fn.__name__) is fn, name
        assert fn.__module__.startswith("gisgov.cli.cmd_"), name
        assert inspect.getdoc(fn), f"`{name}` has no docstring, so no --help text"


def test_register_only_wires() -> None:
    for info in pkgutil.iter_modules(gisgov.cli.__path__):
        if not info.name.startswith("cmd_"):
            continue
        module = importlib.import_module(f"gisgov.cli.{info.name}")
        lines = inspect.getsource(module.register).splitlines()
        assert len(lines) <= MAX_REGISTER_LINES, f"{info.name}.register is {len(lines)} lines"
        assert not any(line.lstrip().startswith(("def ", "@")) for line in lines[1:]), (
            f"{info.name}.register defines a function: define it at module level")
