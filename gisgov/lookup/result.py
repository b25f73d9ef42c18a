"""What a lookup answers: areas, people, households, one point's result and a batch's.

Plain frozen dataclasses, so a result can be cached, compared in tests and handed to
:func:`gisgov.privacy.redact_lookup` without the index that produced it. Values are unmasked:
the redaction by role happens at the edge (the service, the CLI), never here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["Area", "BatchResult", "FloatArray", "HouseholdHit", "IntArray", "LookupResult",
           "Person"]

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Area:
    """An administrative area or grid: code and name."""

    code: str
    name: str


@dataclass(frozen=True)
class Person:
    """Someone responsible: grid staff or a red-grid member (values unmasked)."""

    id: str
    name: str | None
    phone: str | None
    role: str


@dataclass(frozen=True)
class HouseholdHit:
    """A household in the building under the point, with its red-grid member."""

    id: str
    address: str | None
    head_name: str | None
    phone: str | None
    id_number: str | None
    size: int | None
    distance_m: float
    member: Person | None


@dataclass(frozen=True)
class LookupResult:
    """Everything a lookup found for one position (unmasked; see :mod:`gisgov.privacy`).

    Attributes
    ----------
    lon, lat
        The position in WGS-84 (after conversion from ``input_crs``).
    input_crs
        The system the position arrived in.
    subdistrict, community, grid
        Where the point is.
    on_boundary
        The point lies on a grid edge; ``grid`` is then the lowest code among ``grids``.
    grids
        Codes of every grid the point touches (one unless on a shared edge).
    distance_to_boundary_m
        Distance from the point to the edge of ``grid`` in metres.
    leader, workers
        Grid leader and the other grid staff.
    building
        The building under the point, if any.
    households
        Households of that building, nearest first, each with its red-grid member.
    """

    lon: float
    lat: float
    input_crs: str
    subdistrict: Area | None
    community: Area | None
    grid: Area
    on_boundary: bool
    grids: tuple[str, ...]
    distance_to_boundary_m: float
    leader: Person | None
    workers: tuple[Person, ...]
    building: Area | None
    households: tuple[HouseholdHit, ...] = ()

    @property
    def household(self) -> HouseholdHit | None:
        """The household nearest the point in its building, if any."""
        return self.households[0] if self.households else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (unmasked)."""
        out = asdict(self)
        out["household"] = asdict(self.household) if self.household else None
        out["grids"] = list(self.grids)
        return out


@dataclass
class BatchResult:
    """Results of :meth:`LookupIndex.lookup_many`, one entry per input point.

    Attributes
    ----------
    grid_index
        Row of the grid in :attr:`LookupIndex.grid_codes` (``-1``: outside every grid).
    grid_codes
        Grid codes (``None`` outside), as an object array.
    on_boundary
        Whether the point touched more than one grid or lies on the edge of its grid.
    distance_m
        Distance to the grid's edge in metres (``nan`` outside, or when not computed).
    """

    grid_index: IntArray
    grid_codes: NDArray[np.object_]
    on_boundary: NDArray[np.bool_]
    distance_m: FloatArray

    def __len__(self) -> int:
        return len(self.grid_index)

