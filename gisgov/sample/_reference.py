"""The reference county's figures and fixed structure (seed 002 of the field report).

Plain data shared by every part of the generator and by :mod:`gisgov.sample._calibration`:
what the report counts, the subdistricts and communities before the reform, and the shape of
the street lattice the generator draws (:mod:`gisgov.sample._network`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from gisgov.sample import _names as names

__all__ = [
    "CENTRE_LONLAT",
    "COMMUNITIES",
    "COUNTY_CODE",
    "MIXED_BRANCH_SIZES",
    "OLD_BRANCH_SIZES",
    "REFERENCE",
    "REFERENCE_YEAR",
    "SUBDISTRICTS",
    "VOLUNTEER_STATIONS",
    "Array",
    "ProgressFn",
]

#: County code (GB/T 2260) used as the prefix of every code and ID number. The county is
#: fictional ("xx县" in the field report); the code and centre are those of a real Henan county
#: seat only so that basemaps show a plausible place.
COUNTY_CODE = "410223"
#: Centre of the county seat (lon, lat, WGS-84).
CENTRE_LONLAT = (114.19, 34.41)
#: Reference year for ages and ID-number birth dates.
REFERENCE_YEAR = 2025

#: The figures of the county report (seed 002) at scale 1.
REFERENCE: dict[str, float] = {
    "urban_area_km2": 11.4,
    "subdistricts": 2,
    "main_streets": 26,
    "compounds": 73,
    "old_compounds": 33,
    # 95% of 33 is 31.35: 31 old compounds have no property management (94%), 2 got one.
    "old_compounds_unmanaged": 31,
    "new_compounds": 40,
    "residents": 68_000,
    "floating": 24_400,
    "units": 88,
    "volunteer_stations": 11,
    "old_community_members": 280,
    "old_community_members_50plus": 102,
    "old_community_members_away": 89,
    "urban_communities_before": 4,
    "mixed_communities": 4,
    "in_service_members": 2_720,
    # 174 grids in the 5 urban communities at about 100 households each
    "urban_grids": 174,
    "households_per_grid": 100,
}

#: (3-digit code, name) of the two subdistricts, west then east.
SUBDISTRICTS: tuple[tuple[str, str], ...] = (("001", "城关街道"), ("002", "城东街道"))
#: (3-digit code, name, kind, subdistrict index) of the communities before the reform.
COMMUNITIES: tuple[tuple[str, str, str, int], ...] = (
    ("001", "北关社区", "urban", 0),
    ("002", "西关社区", "urban", 0),
    ("001", "东关社区", "urban", 1),
    ("002", "东城社区", "urban", 1),  # also holds the new town (新城区) east of 车站路's west
    ("201", "王庄社区", "mixed", 0),  # north-west suburbs
    ("202", "李寨社区", "mixed", 0),  # south-west
    ("201", "孙营社区", "mixed", 1),  # north-east
    ("202", "刘店社区", "mixed", 1),  # south-east
)
#: Community-branch members of the 4 old urban communities at scale 1 (sum 280): all over the
#: 50-member cap, 东城社区 (with the new town) over 100.
OLD_BRANCH_SIZES: tuple[int, ...] = (60, 56, 58, 106)
#: Branch members of the 4 mixed communities at scale 1; the first is floored at 51 at every
#: scale so that a small sample still has a branch over the cap.
MIXED_BRANCH_SIZES: tuple[int, ...] = (66, 47, 62, 58)
VOLUNTEER_STATIONS: tuple[int, ...] = (3, 2, 2, 4)

NX, NY = len(names.MAIN_STREETS_NS), len(names.MAIN_STREETS_EW)
DIV = 6  # 解放大道: the subdistrict boundary
JMID = 6  # 迎宾大道: north/south suburbs
NEW_TOWN_COL = 11  # lattice columns >= this are the new town
URBAN = 4  # community indices < 4 are urban
WIDTH, HEIGHT, RING = 3900.0, 2920.0, 1100.0

# household groups: where a household lives
OLD, NEW, STREET, VILLAGE = 0, 1, 2, 3
#: Shares of households in old compounds, new compounds, street buildings and villages. The
#: first three make up the urban communities: 71.9% of ~24,200 households is the ~17,400 that
#: 174 grids of ~100 households hold; the villages of the 4 mixed communities hold the rest.
GROUP_SHARE = (0.25, 0.33, 0.139, 0.281)

ProgressFn = Callable[[str, float], None]
Array = NDArray[np.float64]
