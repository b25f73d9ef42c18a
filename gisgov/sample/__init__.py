"""The reference county ("xx县" of the field report, seed 002) as seeded sample data.

:func:`generate_county` builds every layer of the workspace schema in its state *before* the
reform; :func:`calibration` measures a workspace against the report's figures.
:func:`generate_city` / :func:`iter_city` lay out N such districts side by side as a city,
and :func:`calibration_by_district` measures each of them.
"""

from __future__ import annotations

from gisgov.sample._calibration import calibration, calibration_by_district
from gisgov.sample._city import MAX_DISTRICTS, generate_city, iter_city
from gisgov.sample._county import (
    CENTRE_LONLAT,
    COMMUNITIES,
    COUNTY_CODE,
    OLD_BRANCH_SIZES,
    REFERENCE,
    SUBDISTRICTS,
    generate_county,
)

__all__ = [
    "CENTRE_LONLAT",
    "COMMUNITIES",
    "COUNTY_CODE",
    "MAX_DISTRICTS",
    "OLD_BRANCH_SIZES",
    "REFERENCE",
    "SUBDISTRICTS",
    "calibration",
    "calibration_by_district",
    "generate_city",
    "generate_county",
    "iter_city",
]
