"""The reference county generator (see :func:`gisgov.sample.generate_county`).

How a district (the county, or one district of a city) is built, in a local metric frame:

1. Streets (:mod:`~gisgov.sample._network`): a main lattice of 14 north-south and 12 east-west
   main streets (26 named) with jittered spacing and intersections; secondary/minor lanes
   splitting some superblocks; a suburban ring of connectors, a village road and an outer road.
2. Blocks and communities (:mod:`~gisgov.sample._blocks`): blocks are the faces of that
   network; communities and subdistricts are unions of blocks, so they tile each other exactly.
3. The frame (:mod:`~gisgov.sample._site`) is scaled once so the urban communities cover
   exactly ``11.4 km² × scale`` and shifted to UTM around the county seat.
4. Compounds and land use (:mod:`~gisgov.sample._compounds`), buildings
   (:mod:`~gisgov.sample._buildings`), households (:mod:`~gisgov.sample._population`), members
   (:mod:`~gisgov.sample._members`), codes, units and stations
   (:mod:`~gisgov.sample._organisations`), with the counts of the county report (seed 002)
   forced exactly where it gives a count.
5. The layers are projected to EPSG:4326 and conformed (:mod:`~gisgov.sample._layers`).

Every part draws from one ``numpy.random.Generator`` in a fixed order, so the same seed gives
byte-identical layers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely

from gisgov.errors import ValidationError
from gisgov.layers import LAYERS, empty_layer
from gisgov.sample._buildings import place_buildings
from gisgov.sample._compounds import land_use, place_compounds
from gisgov.sample._draw import seq_ids
from gisgov.sample._layers import DistrictParts, district_layers
from gisgov.sample._members import draw_members, kin_links
from gisgov.sample._network import footways
from gisgov.sample._organisations import codes_for, place_stations, place_units
from gisgov.sample._population import place_households
from gisgov.sample._reference import (
    CENTRE_LONLAT,
    COMMUNITIES,
    COUNTY_CODE,
    OLD_BRANCH_SIZES,
    REFERENCE,
    SUBDISTRICTS,
    Array,
    ProgressFn,
)
from gisgov.sample._site import lay_out

__all__ = [
    "CENTRE_LONLAT",
    "COMMUNITIES",
    "COUNTY_CODE",
    "OLD_BRANCH_SIZES",
    "REFERENCE",
    "SUBDISTRICTS",
    "District",
    "DistrictResult",
    "IdStart",
    "generate_county",
    "generate_district",
]


@dataclass(frozen=True)
class IdStart:
    """Where each key numbering of a district starts (0 for the county alone).

    A city continues one numbering per key across its districts, so every key stays unique
    in the workspace and the first district keeps the county's keys.
    """

    streets: int = 0
    compounds: int = 0
    buildings: int = 0
    households: int = 0
    members: int = 0
    units: int = 0
    stations: int = 0

    def after(self, layers: dict[str, gpd.GeoDataFrame], n_streets: int) -> IdStart:
        """The starts for the next district, after ``layers`` and ``n_streets`` more streets."""
        return IdStart(streets=self.streets + n_streets,
                       compounds=self.compounds + len(layers["compounds"]),
                       buildings=self.buildings + len(layers["buildings"]),
                       households=self.households + len(layers["households"]),
                       members=self.members + len(layers["members"]),
                       units=self.units + len(layers["units"]),
                       stations=self.stations + len(layers["stations"]))


@dataclass(frozen=True)
class District:
    """What sets one district apart from the reference county.

    ``code`` is its 6-digit GB/T 2260 code (subdistrict and community codes follow it);
    ``shift`` moves it east/north of the county seat, in metres; ``name_prefix`` goes before
    its subdistrict, community, unit and branch names and its addresses.
    """

    code: str = COUNTY_CODE
    shift: tuple[float, float] = (0.0, 0.0)
    name_prefix: str = ""
    ids: IdStart = field(default_factory=IdStart)


@dataclass
class DistrictResult:
    """One district's populated layers (EPSG:4326) and its outer-road nodes (UTM metres)."""

    layers: dict[str, gpd.GeoDataFrame]
    ring_outer: list[Array]
    bounds: tuple[float, float, float, float]  # of its streets, UTM metres
    next_ids: IdStart


def _check_options(seed: int, scale: float) -> None:
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValidationError(f"seed must be a non-negative integer, got {seed!r}")
    if not np.isfinite(scale) or not 0.005 <= scale <= 20:
        raise ValidationError(
            f"scale must be between 0.005 and 20 (1 = the reference county), got {scale!r}"
        )


def generate_district(rng: np.random.Generator, scale: float, district: District,
                      progress: ProgressFn | None = None) -> DistrictResult:
    """Generate one reference-county district; :func:`generate_county` for the parameters.

    The order of the steps is the order of the draws from ``rng``: changing it changes
    every sample.
    """

    def report(stage: str, frac: float) -> None:
        if progress is not None:
            progress(stage, frac)

    report("streets", 0.0)
    shift = None if district.shift == (0.0, 0.0) else np.array(district.shift, dtype=float)
    site = lay_out(rng, scale, shift)
    report("compounds", 0.15)
    comps = place_compounds(rng, site)
    land = land_use(rng, site, comps)
    report("buildings", 0.3)
    ids = district.ids
    bld = place_buildings(rng, site, comps, land, id_start=ids.buildings,
                          address_prefix=district.name_prefix)
    report("households", 0.5)
    hh = place_households(rng, bld, site.label, scale, id_start=ids.households)
    report("members", 0.7)
    mem = draw_members(rng, hh, scale, id_start=ids.members)
    report("organisations", 0.8)
    codes = codes_for(district.code)
    units = place_units(rng, site, land, id_start=ids.units)
    stations = place_stations(rng, site, [district.name_prefix + n for _, n, _, _ in COMMUNITIES],
                              id_start=ids.stations)
    kin = kin_links(rng, hh, mem)
    report("frames", 0.9)
    parts = DistrictParts(site=site, codes=codes, comps=comps, bld=bld, hh=hh, mem=mem,
                          units=units, stations=stations, kin=kin,
                          footways=footways(rng, comps.geom, site.street_geoms),
                          street_id_start=ids.streets, name_prefix=district.name_prefix)
    layers = district_layers(rng, parts, seq_ids("XQ", len(comps), 3, ids.compounds))
    minx, miny, maxx, maxy = (float(v) for v in shapely.total_bounds(site.street_geoms))
    return DistrictResult(layers=layers, ring_outer=site.ring_outer,
                          bounds=(minx, miny, maxx, maxy),
                          next_ids=ids.after(layers, len(layers["streets"])))


def generate_county(
    *,
    seed: int = 0,
    scale: float = 1.0,
    progress: ProgressFn | None = None,
) -> dict[str, gpd.GeoDataFrame]:
    """Generate the reference county ("xx县", seed 002) in its state before the reform.

    Two subdistricts; four old urban communities with interlocking, unbalanced boundaries
    (北关社区 has a detached exclave, the old cotton-mill quarter, so it is a MultiPolygon);
    东城社区 also holds the new town's compounds; four mixed village-to-residence
    communities around the edge, with a few urban villages (城中村) inside the street
    lattice. 26 named main streets, 73 compounds (33 old, 40 new), 88 stationed units,
    11 volunteer stations, 68,000 residents (24,400 floating) and the party members of the
    report, plus enough in-service members for red-grid work. Grids, staff and assignments
    are returned empty: gisgov produces them.

    Parameters
    ----------
    seed
        Seed of the only random generator used (``numpy.random.default_rng``).
    scale
        1 is the reference county. Population, members and area scale with it (side
        lengths with its square root); the structure (streets, compounds, units, stations,
        communities) stays the same at every scale. 0.1 is the test fixture.
    progress
        Called as ``progress(stage, fraction_done)``.

    Returns
    -------
    dict of str to geopandas.GeoDataFrame
        Every layer of :data:`gisgov.layers.LAYERS`, conformed, in EPSG:4326. ``compounds``
        carries one extra column, ``new_town`` (bool), marking the new town's compounds that
        a planner moves into a fifth urban community. Members: the community-branch members
        of the 4 old communities (280 at scale 1) have status resident/away; in-service
        members (``unit_id`` set, branch = their unit's branch) live across the urban
        communities and report to the one they live in (``report_community_code``, 双报到);
        members of the mixed communities belong to those communities' branches.

    Raises
    ------
    ValidationError
        If ``seed`` or ``scale`` is out of range.
    """
    _check_options(seed, scale)
    out = generate_district(np.random.default_rng(seed), scale, District(), progress).layers
    result = {name: out.get(name, empty_layer(name)) for name in LAYERS}
    if progress is not None:
        progress("done", 1.0)
    return result
