"""The reference county ("xx县" of the field report, seed 002) as seeded sample data.

:func:`generate_county` builds every layer of the workspace schema in its state *before* the
reform; :func:`calibration` measures a workspace against the report's figures.
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

__all__ = [
    "CENTRE_LONLAT",
    "COMMUNITIES",
    "COUNTY_CODE",
    "OLD_BRANCH_SIZES",
    "REFERENCE",
    "SUBDISTRICTS",
    "calibration",
    "generate_county",
]
