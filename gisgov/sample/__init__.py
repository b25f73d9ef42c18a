"""The reference county ("xx县" of the field report, seed 002) as seeded sample data.

:func:`generate_county` builds every layer of the workspace schema in its state *before* the
reform; :func:`seed_events` adds a simulated year of events once grids are drawn;
:func:`calibration` measures a workspace against the report's figures.
"""

from __future__ import annotations

from gisgov.sample._calibration import calibration
from gisgov.sample._county import (
    CENTRE_LONLAT,
    COMMUNITIES,
    COUNTY_CODE,
    OLD_BRANCH_SIZES,
    REFERENCE,
    SUBDISTRICTS,
    generate_county,
)
from gisgov.sample._events import EVENTS_PER_HOUSEHOLD_YEAR, seed_events

__all__ = [
    "CENTRE_LONLAT",
    "COMMUNITIES",
    "COUNTY_CODE",
    "EVENTS_PER_HOUSEHOLD_YEAR",
    "OLD_BRANCH_SIZES",
    "REFERENCE",
    "SUBDISTRICTS",
    "calibration",
    "generate_county",
    "seed_events",
]
