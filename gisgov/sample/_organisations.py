"""Codes and organisations: subdistrict/community codes, party branches, units, stations."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gisgov.sample import _names as names
from gisgov.sample._compounds import N_BIG_UNITS, LandUse
from gisgov.sample._draw import random_points, seq_ids
from gisgov.sample._reference import COMMUNITIES, SUBDISTRICTS, URBAN, VOLUNTEER_STATIONS, Array
from gisgov.sample._site import Site

__all__ = ["Codes", "Stations", "Units", "codes_for", "place_stations", "place_units"]


@dataclass
class Codes:
    """GB/T 2260-style codes and the branch ids that follow them, for one district."""

    district: str
    subdistricts: list[str]
    communities: list[str]
    sd_branch: list[str]
    comm_branch: list[str]
    comm_sd: NDArray[np.int64]  # subdistrict index of each community


def codes_for(district_code: str) -> Codes:
    """Subdistrict codes follow the 6-digit district code, community codes the subdistrict's."""
    sd_codes = [district_code + c for c, _ in SUBDISTRICTS]
    comm_codes = [sd_codes[sd] + c for c, _, _, sd in COMMUNITIES]
    return Codes(district=district_code, subdistricts=sd_codes, communities=comm_codes,
                 sd_branch=[f"DGW{c}" for c in sd_codes],
                 comm_branch=[f"DZB{c}" for c in comm_codes],
                 comm_sd=np.array([sd for _, _, _, sd in COMMUNITIES]))


@dataclass
class Units:
    """Stationed units (驻区单位): the big ones on their own blocks, the rest in street blocks."""

    ids: NDArray[np.str_]
    block: NDArray[np.int64]
    xy: Array
    comm: NDArray[np.int64]

    @property
    def branch(self) -> NDArray[np.str_]:
        return np.char.add("DZB", self.ids)


def place_units(rng: np.random.Generator, site: Site, land: LandUse, *, id_start: int = 0
                ) -> Units:
    """Big units at their block's centre; the others at a random point of a street block."""
    unit_block = np.concatenate(
        [land.unit_blocks, rng.choice(land.street_blocks, len(names.UNITS) - N_BIG_UNITS)]
    )
    unit_xy = np.vstack(
        [site.rep_xy[land.unit_blocks]]
        + [random_points(rng, site.blocks[b], 1) for b in unit_block[N_BIG_UNITS:]]
    )
    return Units(ids=seq_ids("DW", len(names.UNITS), 3, id_start), block=unit_block, xy=unit_xy,
                 comm=site.label[unit_block])


@dataclass
class Stations:
    """Volunteer stations of the urban communities, then one service centre per community."""

    block: NDArray[np.int64]
    xy: Array
    comm: NDArray[np.int64]
    kind: list[str]
    name: list[str]
    ids: NDArray[np.str_]


def place_stations(rng: np.random.Generator, site: Site, comm_names: list[str],
                   *, id_start: int = 0) -> Stations:
    """Stations on random blocks of their community, named after it."""
    st_comm = np.repeat(np.arange(URBAN), VOLUNTEER_STATIONS)
    blocks_by = [np.flatnonzero(site.label == c) for c in range(len(COMMUNITIES))]
    st_block = np.array([rng.choice(blocks_by[c]) for c in st_comm]
                        + [rng.choice(blocks_by[c]) for c in range(len(COMMUNITIES))])
    st_xy = np.vstack([random_points(rng, site.blocks[b], 1) for b in st_block])
    ordinal = np.concatenate([np.arange(1, n + 1) for n in VOLUNTEER_STATIONS])
    st_name = [f"{comm_names[c]}志愿服务站{o}号" for c, o in zip(st_comm, ordinal, strict=True)]
    st_name += [f"{n}党群服务中心" for n in comm_names]
    return Stations(block=st_block, xy=st_xy, comm=site.label[st_block],
                    kind=["volunteer"] * len(st_comm) + ["service_center"] * len(COMMUNITIES),
                    name=st_name, ids=seq_ids("ZD", len(st_block), 3, id_start))
