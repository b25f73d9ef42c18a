"""One parameter model for a community re-drawing, shared by the CLI, the job and the API.

``gisgov redistrict`` (typer), the ``redistrict`` job (:func:`gisgov.jobs.redistrict_job`) and
``POST /jobs/redistrict`` (pydantic) all derive their options from :class:`RedistrictOptions`:
names, types, defaults, bounds and help text are written once here, so the three cannot drift
apart again (they had: the job had no locks, no ``exact``, and a 60 s time limit against the
CLI's 30 s). The parsing and bound checks are :class:`gisgov.options.JobOptions`, shared
with the grids and assign models. This module imports neither typer nor pydantic; the front
ends build their own declarations from :func:`option_specs`.

:func:`run_redistrict` is the one code path from options to a :class:`RedistrictResult`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from gisgov.errors import ValidationError
from gisgov.options import JobOptions, OptionSpec, opt
from gisgov.options import option_specs as _option_specs

__all__ = ["OBJECTIVE_PRESETS", "OptionSpec", "RedistrictOptions", "objective_for",
           "option_specs", "parse_locks", "run_redistrict"]

OBJECTIVE_PRESETS = ("balanced-compact", "cut-edges")
"""``balanced-compact``: the default objective of the context (communities:
:data:`~gisgov.districting.community.COMMUNITY_OBJECTIVE`; own units:
:class:`~gisgov.districting.objective.Objective`) — cut edges, boundary length, main streets
and Polsby-Popper together. ``cut-edges``: the districting literature's criterion, the number
of cut edges alone (every other weight 0), which the exact MILP optimises completely."""


@dataclass
class RedistrictOptions(JobOptions):
    """Options of one community re-drawing (CLI flags, job parameters, API body fields).

    See each field's ``help`` (``option_specs()``); numbers are checked against their bounds
    by :meth:`validate`.
    """

    communities: str = opt("urban", "Communities to re-draw: CODE,CODE… | urban | all",
                            max_length=2000)
    areas: int | None = opt(None, "Number of areas (communities) K", ge=1, le=1000)
    target_households: float | None = opt(None, "Households per area (sets K)", gt=0, le=1e7)
    tolerance: float = opt(0.10, "Balance tolerance (0.10 = ±10%)", ge=0, le=0.99)
    lock: str | None = opt(None, "UNIT=COMMUNITY_CODE,… units kept in a community (the "
                                  "output keeps that code)", max_length=20000)
    cross_subdistricts: bool = opt(False, "Allow communities across subdistricts")
    objective: str = opt("balanced-compact", "Objective preset: balanced-compact (cut edges, "
                          "boundary length, main streets, Polsby-Popper) | cut-edges (cut "
                          "edges only, the literature's criterion)", choices=OBJECTIVE_PRESETS)
    weights: str | None = opt(None, "Objective weights NAME=VALUE,… over the preset "
                                     "(cut_edges, cut_length, main_streets, disruption, "
                                     "polsby_popper)", max_length=300)
    exact: bool = opt(False, "Prove optimality with the MILP (SCIP; ≲ 100 units per piece)")
    islands: str = opt("separate", "Disconnected units: separate | bridge | error",
                        choices=("separate", "bridge", "error"))
    seed: int = opt(0, "Random seed (same seed, same plan)", ge=0, le=2**31)
    time_limit: float = opt(30.0, "Seconds at most (the heuristic's restarts are sized from "
                                   "it; the MILP stops there and reports its gap)",
                             ge=1, le=3600)
    scenario: str | None = opt(None, "Save the plan as this scenario", max_length=60,
                                pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    apply: bool = opt(False, "Accept the plan: replace the communities layer (re-draws the "
                              "grids of changed communities)")
    keep_grids: bool = opt(False, "With apply: keep the grids of changed communities as they "
                                   "are (stale; listed) instead of re-drawing them")

    def check(self) -> None:
        """Areas or a target (not both), the lock and weights texts, the objective."""
        if self.areas is not None and self.target_households is not None:
            raise ValidationError("give areas or target_households, not both")
        parse_locks(self.lock)
        objective_for(self, community=True)


def option_specs() -> list[OptionSpec]:
    """Every option of :class:`RedistrictOptions` with its type, default, help and bounds."""
    return _option_specs(RedistrictOptions)


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
