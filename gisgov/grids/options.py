"""The parameter model of ``gisgov grids``, the ``grids`` job and ``POST /jobs/grids``.

One dataclass (:class:`GridsOptions`, see :mod:`gisgov.options`) from which the command's
flags, the job's parameter check and the API's request schema are derived.
"""

from __future__ import annotations

from dataclasses import dataclass

from gisgov.grids.partition import DEFAULT_TARGET_HOUSEHOLDS, TARGET_RANGE
from gisgov.options import (
    SCHEDULER_HELP,
    SCHEDULER_META,
    WORKERS_HELP,
    WORKERS_META,
    JobOptions,
    opt,
)

__all__ = ["GridsOptions"]


@dataclass
class GridsOptions(JobOptions):
    """Options of one grid partitioning run (CLI flags, job parameters, API body fields)."""

    target_households: int = opt(DEFAULT_TARGET_HOUSEHOLDS,
                                 "Households per grid (30–1000; the county runs ~100)",
                                 ge=TARGET_RANGE[0], le=TARGET_RANGE[1])
    communities: str | None = opt(None, "CODE,CODE… | urban | all (default all)",
                                  max_length=2000)
    seed: int = opt(0, "Random seed (same seed, same grids)", ge=0, le=2**31)
    # a safety cap shared out over the communities by households: a city of hundreds of
    # communities may need more than an hour of it to leave every search to its iteration
    # budget on a loaded machine
    time_limit: float = opt(60.0, "Seconds for the whole run (shared out over the "
                                  "communities by households)", ge=1, le=86_400)
    workers: int = opt(1, WORKERS_HELP, **WORKERS_META)
    scheduler: str | None = opt(None, SCHEDULER_HELP, **SCHEDULER_META)
