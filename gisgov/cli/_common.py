"""What every command shares: console, progress bars, JSON output and one-line errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from gisgov.errors import GisgovError
from gisgov.options import OptT
from gisgov.store import WorkspaceBase, open_workspace

__all__ = ["ProgressFn", "console", "err_console", "fail", "open_ws", "print_json", "progress"]

#: Progress callback used by algorithms: ``update(description, fraction 0..1)``.
ProgressFn = Callable[[str, float], None]

console = Console()
err_console = Console(stderr=True)


def fail(message: str, *, code: int = 2) -> NoReturn:
    """Print a one-line error (no traceback) and exit with ``code``."""
    err_console.print(f"[bold red]错误 error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def print_json(obj: Any) -> None:
    """Print one JSON document on stdout (UTF-8, Chinese kept readable)."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2, default=_json_default) + "\n")
    sys.stdout.flush()


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


@contextmanager
def progress(*, enabled: bool = True, total_label: str = "") -> Iterator[ProgressFn]:
    """A rich progress bar on stderr; yields ``update(description, fraction)``.

    Disabled (a no-op callback) when ``enabled`` is false, e.g. under ``--json`` so stdout
    stays one JSON document, or when stderr is not a terminal and nothing should be drawn.
    """
    if not enabled:
        yield lambda _d, _f: None
        return
    bar = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    )
    with bar:
        task = bar.add_task(total_label or "…", total=1.0)

        def update(description: str, fraction: float) -> None:
            bar.update(task, description=description, completed=max(0.0, min(1.0, fraction)))

        yield update
        bar.update(task, completed=1.0)


def open_ws(target: str, *, create: bool = False) -> WorkspaceBase:
    """Open a workspace or exit with a one-line error."""
    try:
        return open_workspace(target, create=create)
    except GisgovError as exc:
        fail(str(exc))


def import_summary(report: Any, label: str, count: int) -> str:
    """The one line ``gisgov import`` prints: rows added, replaced and deleted, and what a
    forced replace broke (``report`` is a :class:`gisgov.references.ImportReport`)."""
    line = (f"imported {report.rows:,} rows into {report.layer} ({label}), {report.mode}: "
            f"{report.added:,} added, {report.replaced:,} replaced, {report.deleted:,} deleted; "
            f"the layer now has {count:,}")
    if report.orphans:
        line += "; forced: " + ", ".join(
            f"{o.rows:,} {o.layer} now refer to deleted {o.target}" for o in report.orphans)
    return line


def option_parameters(specs: Any) -> list[Any]:
    """Keyword-only typer parameters for every :class:`~gisgov.options.OptionSpec` shown on
    the command line: ``--field-name`` (or the spec's own flag) with its type, default and
    help — the job and the API derive theirs from the same model (:mod:`gisgov.options`)."""
    import inspect
    from typing import Annotated

    out = []
    for spec in specs:
        if not spec.cli:
            continue
        extra = f" [{' | '.join(spec.choices)}]" if spec.choices else ""
        option = typer.Option(spec.cli_flag, help=spec.help + extra)
        out.append(inspect.Parameter(spec.name, inspect.Parameter.KEYWORD_ONLY,
                                     default=spec.default,
                                     annotation=Annotated[spec.type, option]))
    return out


def options_or_fail(cls: type[OptT], kw: dict[str, Any]) -> OptT:
    """The job's options model from the command's keyword arguments, validated; a bad value
    exits with one line naming the flag (the model names fields)."""
    from dataclasses import fields

    opts = cls(**{f.name: kw[f.name] for f in fields(cls)})
    try:
        opts.validate()
    except GisgovError as exc:
        msg = str(exc)
        head = msg.split(" ", 1)[0].rstrip(":")
        flags = {s.name: s.cli_flag.split("/")[0] for s in cls.specs()}
        if head in flags:
            msg = flags[head] + msg[len(head):]
        fail(msg)
    return opts
