"""The ``gisgov`` command.

Each command group lives in ``gisgov/cli/cmd_<name>.py`` and defines
``register(app: typer.Typer) -> None``; this module discovers them, so adding a command never
means editing a shared list. ``main()`` turns every :class:`~gisgov.errors.GisgovError` into a
one-line message and a non-zero exit: users never see a traceback for bad input.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import sys

import typer
from rich.markup import escape

from gisgov.errors import GisgovError
from gisgov.extras import missing_extra_message

__all__ = ["app", "build_app", "main"]


def build_app() -> typer.Typer:
    """Create the Typer app with every ``cmd_*`` module registered."""
    application = typer.Typer(
        name="gisgov",
        help="gisgov — 社区网格化治理 GIS: layers, boundaries, grids, red-grid members, map API.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode="rich",
    )
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("cmd_"):
            module = importlib.import_module(f"{__name__}.{info.name}")
            module.register(application)
    return application


app = build_app()


def main() -> None:
    """Entry point of the ``gisgov`` console script."""
    from gisgov.cli._common import err_console

    try:
        app()
    except GisgovError as exc:
        err_console.print(f"[bold red]错误 error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted; the workspace is unchanged by the unfinished step")
        sys.exit(130)
    except Exception as exc:
        # an optional part (PostGIS, maps, the service) whose extra is not installed
        message = missing_extra_message(exc)
        if message is not None:
            err_console.print(f"[bold red]错误 error:[/] {escape(message)}", highlight=False,
                              soft_wrap=True)
            sys.exit(2)
        # a bug, not bad input: one line for the user, the traceback when asked for
        if os.environ.get("GISGOV_DEBUG"):
            raise
        err_console.print(
            f"[bold red]内部错误 internal error:[/] {type(exc).__name__}: {exc} — the "
            "workspace is unchanged; run again with GISGOV_DEBUG=1 for the traceback and "
            "report it", highlight=False, soft_wrap=True)
        sys.exit(3)
