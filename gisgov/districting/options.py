"""One parameter model for a community re-drawing, shared by the CLI, the job and the API.

``gisgov redistrict`` (typer), the ``redistrict`` job (:func:`gisgov.jobs.redistrict_job`) and
``POST /jobs/redistrict`` (pydantic) all derive their options from :class:`RedistrictOptions`:
names, types, defaults, bounds and help text are written once here, so the three cannot drift
apart again (they had: the job had no locks, no ``exact``, and a 60 s time limit against the
CLI's 30 s). This module imports neither typer nor pydantic; the front ends build their own
declarations from :func:`option_specs`.

:func:`run_redistrict` is the one code path from options to a :class:`RedistrictResult`.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable, Hashable, Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

from gisgov.errors import ValidationError

__all__ = ["OBJECTIVE_PRESETS", "OptionSpec", "RedistrictOptions", "objective_for",
           "option_specs", "parse_locks", "run_redistrict"]

OBJECTIVE_PRESETS = ("balanced-compact", "cut-edges")
"""``balanced-compact``: the default objective of the context (communities:
:data:`~gisgov.districting.community.COMMUNITY_OBJECTIVE`; own units:
:class:`~gisgov.districting.objective.Objective`) — cut edges, boundary length, main streets
and Polsby-Popper together. ``cut-edges``: the districting literature's criterion, the number
of cut edges alone (every other weight 0), which the exact MILP optimises completely."""


@dataclass(frozen=True)
class OptionSpec:
    """How one option is declared on every front end.

    Attributes
    ----------
    name
        Field name (``time_limit``); the CLI flag is ``--time-limit``.
    type
        Python type of the value (``int``, ``float | None``…).
    default
        Default value (the same on every front end).
    help
        One line for ``--help`` and the OpenAPI description.
    ge, le, gt
        Numeric bounds, checked by :meth:`RedistrictOptions.validate` and by pydantic.
    choices
        Allowed strings.
    pattern, max_length
        String constraints.
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


def _opt(default: Any, help: str, **kw: Any) -> Any:
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class RedistrictOptions:
    """Options of one community re-drawing (CLI flags, job parameters, API body fields).

    See each field's ``help`` (``option_specs()``); numbers are checked against their bounds
    by :meth:`validate`.
    """

    communities: str = _opt("urban", "Communities to re-draw: CODE,CODE… | urban | all",
                            max_length=2000)
    areas: int | None = _opt(None, "Number of areas (communities) K", ge=1, le=1000)
    target_households: float | None = _opt(None, "Households per area (sets K)", gt=0, le=1e7)
    tolerance: float = _opt(0.10, "Balance tolerance (0.10 = ±10%)", ge=0, le=0.99)
    lock: str | None = _opt(None, "UNIT=COMMUNITY_CODE,… units kept in a community (the "
                                  "output keeps that code)", max_length=20000)
    cross_subdistricts: bool = _opt(False, "Allow communities across subdistricts")
    objective: str = _opt("balanced-compact", "Objective preset: balanced-compact (cut edges, "
                          "boundary length, main streets, Polsby-Popper) | cut-edges (cut "
                          "edges only, the literature's criterion)", choices=OBJECTIVE_PRESETS)
    weights: str | None = _opt(None, "Objective weights NAME=VALUE,… over the preset "
                                     "(cut_edges, cut_length, main_streets, disruption, "
                                     "polsby_popper)", max_length=300)
    exact: bool = _opt(False, "Prove optimality with the MILP (SCIP; ≲ 100 units per piece)")
    islands: str = _opt("separate", "Disconnected units: separate | bridge | error",
                        choices=("separate", "bridge", "error"))
    seed: int = _opt(0, "Random seed (same seed, same plan)", ge=0, le=2**31)
    time_limit: float = _opt(30.0, "Seconds at most (the heuristic's restarts are sized from "
                                   "it; the MILP stops there and reports its gap)",
                             ge=1, le=3600)
    scenario: str | None = _opt(None, "Save the plan as this scenario", max_length=60,
                                pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    apply: bool = _opt(False, "Accept the plan: replace the communities layer (re-draws the "
                              "grids of changed communities)")
    keep_grids: bool = _opt(False, "With apply: keep the grids of changed communities as they "
                                   "are (stale; listed) instead of re-drawing them")

    @classmethod
    def from_mapping(cls, params: Mapping[str, Any]) -> RedistrictOptions:
        """Options from a job's parameters: unknown names, wrong types and values out of
        bounds are refused with one clear line (:class:`ValidationError`)."""
        specs = {s.name: s for s in option_specs()}
        unknown = sorted(set(params) - set(specs))
        if unknown:
            raise ValidationError(f"unknown parameter(s) {', '.join(unknown)}; allowed: "
                                  f"{', '.join(sorted(specs))}")
        values: dict[str, Any] = {}
        for name, value in params.items():
            if value is None:
                continue
            base = _base_type(specs[name].type)
            if base is bool:
                if not isinstance(value, bool):
                    raise ValidationError(f"parameter {name} must be true or false, not {value!r}")
            elif base in (int, float):
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValidationError(f"parameter {name} must be a number, not {value!r}")
                if base is int and int(value) != value:
                    raise ValidationError(f"parameter {name} must be an integer, not {value}")
                value = base(value)
            elif not isinstance(value, str):
                raise ValidationError(f"parameter {name} must be a string, not {value!r}")
            values[name] = value
        opts = cls(**values)
        opts.validate()
        return opts

    def validate(self) -> None:
        """Check bounds, choices and the text options; raise :class:`ValidationError`."""
        for s in option_specs():
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
        if self.areas is not None and self.target_households is not None:
            raise ValidationError("give areas or target_households, not both")
        parse_locks(self.lock)
        objective_for(self, community=True)

    def to_dict(self) -> dict[str, Any]:
        """The options as a plain dict (for job documents)."""
        return asdict(self)


def _base_type(tp: Any) -> Any:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    return args[0] if args else tp


def option_specs() -> list[OptionSpec]:
    """Every option of :class:`RedistrictOptions` with its type, default, help and bounds."""
    hints = typing.get_type_hints(RedistrictOptions)
    out = []
    for f in fields(RedistrictOptions):
        md = dict(f.metadata)
        out.append(OptionSpec(
            name=f.name, type=hints[f.name],
            default=None if f.default is MISSING else f.default, help=str(md.pop("help")),
            **md,
        ))
    return out


def parse_locks(text: str | None) -> dict[Hashable, Hashable]:
    """``UNIT=AREA,…`` → ``{unit: area}``; an AREA of up to 5 digits is an area id, a longer
    one a community code (12 digits)."""
    out: dict[Hashable, Hashable] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise ValidationError(f"lock expects UNIT=AREA pairs separated by commas, got {part!r}")
        u, a = (s.strip() for s in part.split("=", 1))
        if not u or not a:
            raise ValidationError(f"lock expects UNIT=AREA pairs, got {part!r}")
        out[u] = int(a) if a.isdigit() and len(a) < 6 else a
    return out


def objective_for(opts: RedistrictOptions, *, community: bool) -> Any:
    """The :class:`~gisgov.districting.objective.Objective` of the preset, with ``weights``
    over it. ``community`` picks the community default for ``balanced-compact``."""
    from gisgov.districting.objective import Objective, objective_from_text

    if opts.objective == "cut-edges":
        base = Objective(cut_edges=1.0, cut_length=0.0, main_streets=0.0, disruption=0.0,
                         polsby_popper=0.0)
    elif opts.objective == "balanced-compact":
        if community:
            from gisgov.districting.community import COMMUNITY_OBJECTIVE

            base = COMMUNITY_OBJECTIVE
        else:
            base = Objective()
    else:
        raise ValidationError(f"objective must be one of {', '.join(OBJECTIVE_PRESETS)}, "
                              f"not {opts.objective!r}")
    try:
        return objective_from_text(opts.weights or "", base)
    except ValidationError as exc:
        raise ValidationError(f"weights: {exc}") from None


def run_redistrict(
    layers: Mapping[str, Any],
    opts: RedistrictOptions,
    *,
    crs: object | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> Any:
    """Re-draw communities with ``opts``: the one path the CLI and the job both take."""
    from gisgov.districting.community import redistrict

    opts.validate()
    return redistrict(
        layers, communities=opts.communities, areas=opts.areas,
        target_households=opts.target_households, tolerance=opts.tolerance,
        locks=parse_locks(opts.lock), cross_subdistricts=opts.cross_subdistricts,
        objective=objective_for(opts, community=True), crs=crs, exact=opts.exact,
        islands=opts.islands, seed=opts.seed, time_limit=opts.time_limit,
        starts=None,  # restarts sized from the time limit, reproducibly
        progress=progress,
    )
