"""The parameter model of ``gisgov assign``, the ``assign`` job and ``POST /jobs/assign``.

One dataclass (:class:`AssignOptions`, see :mod:`gisgov.options`) from which the command's
flags (keeping their spelling: ``--min``, ``--max``, ``--deploy-cap``…), the job's parameter
check and the API's request schema are derived.
"""

from __future__ import annotations

from dataclasses import dataclass

from gisgov.errors import ValidationError
from gisgov.options import (
    SCHEDULER_HELP,
    SCHEDULER_META,
    WORKERS_HELP,
    WORKERS_META,
    JobOptions,
    opt,
)

__all__ = ["AssignOptions"]


@dataclass
class AssignOptions(JobOptions):
    """Options of one assignment run (CLI flags, job parameters, API body fields)."""

    min_load: int = opt(5, "Fewest households per A/B member", ge=0, le=100, flag="--min")
    max_load: int = opt(10, "Most households per A/B member", ge=1, le=100, flag="--max")
    borrow: bool = opt(True, "Grids short of members borrow from adjacent grids",
                       flag="--borrow/--no-borrow")
    borrow_cost: float = opt(500.0, "Extra metres charged for a borrowed member", ge=0, le=1e5)
    change_penalty: float = opt(300.0, "Metres a change from the previous assignment costs",
                                ge=0, le=1e5)
    scope: str = opt("subdistrict", "Where reporting (in-service) members may serve: grid, "
                                    "community or subdistrict (统筹调配)",
                     choices=("grid", "community", "subdistrict"))
    deploy_cap_m: float = opt(3000.0, "Longest walk (m) of a member deployed to another grid",
                              ge=1, le=50_000, flag="--deploy-cap")
    deploy_cost: float = opt(1000.0, "Extra metres charged for serving another community",
                             ge=0, le=1e5)
    deploy_from: str = opt("home", "Where a deployed member's walk starts: home or unit",
                           choices=("home", "unit"))
    one_grid: bool = opt(True, "A member serves one grid (kin aside) unless coverage, minimum "
                               "loads or kin need more", flag="--one-grid/--any-grids")
    fresh: bool = opt(False, "Ignore the previous assignment (no stability)", flag="--fresh")
    workers: int = opt(1, WORKERS_HELP, **WORKERS_META)
    scheduler: str | None = opt(None, SCHEDULER_HELP, **SCHEDULER_META)

    def check(self) -> None:
        """``min_load`` may not exceed ``max_load``."""
        if self.min_load > self.max_load:
            raise ValidationError("min_load must not exceed max_load")
