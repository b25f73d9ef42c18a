"""One parameter model per job, from which the CLI flags, the job check and the API schema derive.

A job's options are a dataclass whose fields carry their help text and bounds in
``field(metadata=…)`` (:func:`opt`). :func:`option_specs` turns it into :class:`OptionSpec`
rows; ``gisgov <command>`` builds its typer options from them (:func:`typer_parameters` in
:mod:`gisgov.cli._common`), :meth:`JobOptions.from_mapping` checks a job's parameters and
``api/jobs_routes.py`` builds the pydantic request model. Names, types, defaults, bounds and
help are written once, so the three front ends cannot drift apart (they had: the API's assign
model lacked ``deploy_cost``, the job accepted it). This module imports neither typer nor
pydantic.

Examples
--------
>>> from gisgov.grids.options import GridsOptions
>>> GridsOptions.from_mapping({"target_households": 120}).target_households
120
>>> GridsOptions.from_mapping({"target_households": 5})
Traceback (most recent call last):
...
gisgov.errors.ValidationError: target_households must be >= 30 and <= 1000, not 5
"""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, TypeVar

from gisgov.errors import ValidationError

__all__ = [
    "SCHEDULER_HELP",
    "SCHEDULER_META",
    "WORKERS_HELP",
    "WORKERS_META",
    "JobOptions",
    "OptT",
    "OptionSpec",
    "opt",
    "option_specs",
]

OptT = TypeVar("OptT", bound="JobOptions")


@dataclass(frozen=True)
class OptionSpec:
    """How one option is declared on every front end.

    Attributes
    ----------
    name
        Field name (``time_limit``): the job parameter and API body field.
    type
        Python type of the value (``int``, ``float | None``…).
    default
        Default value (the same on every front end).
    help
        One line for ``--help`` and the OpenAPI description.
    ge, le, gt
        Numeric bounds, checked by :meth:`JobOptions.validate` and by pydantic.
    choices
        Allowed strings.
    pattern, max_length
        String constraints.
    flag
        The command-line declaration when it is not ``--field-name`` (``--min``,
        ``--borrow/--no-borrow``): flags users know are a contract and keep their spelling.
    cli
        False for options the command line does not offer.
    api
        False for options a request body may not set: the scheduler address (a client must
        not point the service at a machine of its choosing, whose results it would unpickle)
        and the number of worker processes (nor decide how many processes the server
        starts); the operator sets :data:`gisgov.distributed.SCHEDULER_ENV` instead.
    """

    name: str
    type: Any
    default: Any
    help: str
    ge: float | None = None
    le: float | None = None
    gt: float | None = None
    choices: tuple[str, ...] | None = None
    pattern: str | None = None
    max_length: int | None = None
    flag: str | None = None
    cli: bool = True
    api: bool = True

    @property
    def cli_flag(self) -> str:
        """The typer declaration of this option."""
        return self.flag or "--" + self.name.replace("_", "-")


def opt(default: Any, help: str, **kw: Any) -> Any:
    """A dataclass field with its help and constraints (see :class:`OptionSpec`)."""
    return field(default=default, metadata={"help": help, **kw})


def option_specs(cls: type[JobOptions]) -> list[OptionSpec]:
    """Every option of ``cls`` with its type, default, help and bounds, in field order."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in fields(cls):
        md = dict(f.metadata)
        out.append(OptionSpec(
            name=f.name, type=hints[f.name],
            default=None if f.default is MISSING else f.default, help=str(md.pop("help")),
            **md,
        ))
    return out


def _base_type(tp: Any) -> Any:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return args[0] if args else tp


def _coerce(name: str, base: Any, value: Any) -> Any:
    """A JSON value as the field's type, or a one-line :class:`ValidationError`."""
    if base is bool:
        if not isinstance(value, bool):
            raise ValidationError(f"parameter {name} must be true or false, not {value!r}")
        return value
    if base in (int, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError(f"parameter {name} must be a number, not {value!r}")
        if base is int and int(value) != value:
            raise ValidationError(f"parameter {name} must be an integer, not {value}")
        return base(value)
    if not isinstance(value, str):
        raise ValidationError(f"parameter {name} must be a string, not {value!r}")
    return value


@dataclass
class JobOptions:
    """Base of every job's parameter model: parsing job parameters and checking bounds.

    Subclasses are dataclasses of :func:`opt` fields; they add cross-field checks by
    overriding :meth:`check`.
    """

    @classmethod
    def specs(cls) -> list[OptionSpec]:
        """:func:`option_specs` of this model."""
        return option_specs(cls)

    @classmethod
    def from_mapping(cls: type[OptT], params: Mapping[str, Any]) -> OptT:
        """Options from a job's parameters: unknown names, wrong types and values out of
        bounds are refused with one clear line (:class:`ValidationError`)."""
        specs = {s.name: s for s in cls.specs()}
        unknown = sorted(set(params) - set(specs))
        if unknown:
            raise ValidationError(f"unknown parameter(s) {', '.join(unknown)}; allowed: "
                                  f"{', '.join(sorted(specs))}")
        values = {name: _coerce(name, _base_type(specs[name].type), value)
                  for name, value in params.items() if value is not None}
        opts = cls(**values)
        opts.validate()
        return opts

    def validate(self) -> None:
        """Check bounds, choices and text constraints, then :meth:`check`; raise
        :class:`ValidationError`."""
        for s in self.specs():
            v = getattr(self, s.name)
            if v is None:
                continue
            number = isinstance(v, int | float) and not isinstance(v, bool)
            if number and ((s.ge is not None and v < s.ge) or (s.le is not None and v > s.le)
                           or (s.gt is not None and v <= s.gt)):
                lo = f">= {s.ge:g}" if s.ge is not None else f"> {s.gt:g}"
                raise ValidationError(f"{s.name} must be {lo} and <= {s.le:g}, not {v}")
            if isinstance(v, str):
                if s.choices and v not in s.choices:
                    raise ValidationError(f"{s.name} must be one of {', '.join(s.choices)}, "
                                          f"not {v!r}")
                if s.max_length and len(v) > s.max_length:
                    raise ValidationError(f"{s.name} is longer than {s.max_length} characters")
                if s.pattern and not re.fullmatch(s.pattern, v):
                    raise ValidationError(f"{s.name} {v!r} must match {s.pattern}")
        self.check()

    def check(self) -> None:
        """Checks across fields (none by default)."""

    def to_dict(self) -> dict[str, Any]:
        """The options as a plain dict (for job documents)."""
        return asdict(self)


#: Metadata of the ``workers`` option: the command line and jobs only, never a request body.
WORKERS_META = {"ge": 1, "le": 64, "api": False}
#: Help of the ``workers`` option of every job that runs per community on Dask.
WORKERS_HELP = ("Processes on this machine (1: in this process, no Dask; more: a Dask "
                "LocalCluster of that many worker processes)")
#: Help of the ``scheduler`` option (its default comes from ``GISGOV_DASK_SCHEDULER``).
SCHEDULER_HELP = ("Address of a running Dask scheduler (tcp://host:8786; default: environment "
                  "GISGOV_DASK_SCHEDULER); needs a PostGIS workspace every worker can reach")
#: Metadata of the ``scheduler`` option: the command line and jobs only, never a request body.
SCHEDULER_META = {"max_length": 300, "api": False}
