"""Compounds (小区) and land use: which blocks hold compounds, units, shops and villages."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray

from gisgov.sample import _names as names
from gisgov.sample._reference import COMMUNITIES, REFERENCE, URBAN
from gisgov.sample._site import Site

__all__ = ["N_BIG_UNITS", "Compounds", "LandUse", "land_use", "place_compounds"]

#: Units large enough to fill a block of their own (schools, hospitals, offices).
N_BIG_UNITS = 18


@dataclass
class Compounds:
    """The 73 compounds: old ones first, then new, in the order their ids are given."""

    block: NDArray[np.int64]
    old: NDArray[np.bool_]
    geom: NDArray[np.object_]
    managed: NDArray[np.bool_]
    names: NDArray[np.str_]

    def __len__(self) -> int:
        return len(self.block)


@dataclass
class LandUse:
    """Blocks of the big units, of street buildings and of villages; each block's street."""

    unit_blocks: NDArray[np.int64]
    street_blocks: NDArray[np.int64]
    ring_village: NDArray[np.int64]
    block_street: NDArray[np.object_]


def _compound_blocks(rng: np.random.Generator, site: Site) -> tuple[NDArray[np.int64], int]:
    """Old compounds near the centre, new ones further out and in the new town."""
    dist, width, urban, new_town = site.dist, site.width, site.urban_block, site.new_town
    cand = np.flatnonzero(urban & ~new_town)
    w_old = np.exp(-dist[cand] / (0.3 * width))
    old_blocks = rng.choice(cand, len(names.OLD_COMPOUNDS), replace=False, p=w_old / w_old.sum())
    cand = np.setdiff1d(np.flatnonzero(urban), old_blocks)
    w_new = np.where(new_town[cand], 6.0, 1.0) * (0.3 + dist[cand] / width)
    new_blocks = rng.choice(cand, len(names.NEW_COMPOUNDS), replace=False, p=w_new / w_new.sum())
    return np.concatenate([old_blocks, new_blocks]), len(old_blocks)


def _halve(rng: np.random.Generator, geom: shapely.Polygon) -> shapely.Geometry:
    """Half of a big block: the rest of the block is shops or offices."""
    minx, miny, maxx, maxy = geom.bounds
    if maxx - minx > maxy - miny:
        mx = (minx + maxx) / 2
        box = shapely.box(minx, miny, mx, maxy) if rng.random() < 0.5 else shapely.box(
            mx, miny, maxx, maxy)
    else:
        my = (miny + maxy) / 2
        box = shapely.box(minx, miny, maxx, my) if rng.random() < 0.5 else shapely.box(
            minx, my, maxx, maxy)
    half: shapely.Geometry = shapely.intersection(geom, box)
    return half


def place_compounds(rng: np.random.Generator, site: Site) -> Compounds:
    """Choose the compounds' blocks, shapes, property management and names."""
    comp_block, n_old = _compound_blocks(rng, site)
    n_comp = len(comp_block)
    comp_old = np.arange(n_comp) < n_old
    comp_geom = site.blocks[comp_block].copy()
    big = site.area[comp_block] > 1.4 * np.median(site.area[site.urban_block])
    halve = big & (rng.random(n_comp) < 0.5)
    for hk in np.flatnonzero(halve):
        comp_geom[int(hk)] = _halve(rng, comp_geom[int(hk)])
    managed = np.where(comp_old, False, rng.random(n_comp) < 0.92)
    old_managed = rng.choice(n_old, n_old - int(REFERENCE["old_compounds_unmanaged"]),
                             replace=False)
    managed[old_managed] = True
    comp_names = np.concatenate(
        [rng.permutation(np.array(names.OLD_COMPOUNDS)),
         rng.permutation(np.array(names.NEW_COMPOUNDS))]
    )
    return Compounds(block=comp_block, old=comp_old, geom=comp_geom, managed=managed,
                     names=comp_names)


def land_use(rng: np.random.Generator, site: Site, comps: Compounds) -> LandUse:
    """The urban blocks left over hold units and street buildings; the suburbs villages."""
    rest = np.setdiff1d(np.flatnonzero(site.urban_block), comps.block)
    unit_blocks = rng.choice(rest, N_BIG_UNITS, replace=False)
    street_blocks = np.setdiff1d(rest, unit_blocks)
    village_blocks = np.flatnonzero(~site.urban_block)
    ring_village = village_blocks[rng.random(len(village_blocks)) < 0.75]
    for c in range(URBAN, len(COMMUNITIES)):  # every suburban community has a village
        mine = village_blocks[site.label[village_blocks] == c]
        if len(mine) and not np.isin(mine, ring_village).any():
            ring_village = np.append(ring_village, mine[0])
    return LandUse(unit_blocks=unit_blocks, street_blocks=street_blocks,
                   ring_village=np.sort(ring_village), block_street=_block_streets(site))


def _block_streets(site: Site) -> NDArray[np.object_]:
    """Addresses: the nearest main street names a compound or block."""
    main_idx = np.flatnonzero(np.array(site.net.cls) == "main")
    tree = shapely.STRtree(site.street_geoms[main_idx])
    near = tree.query_nearest(site.rep, all_matches=False)
    block_street = np.empty(len(site.blocks), dtype=object)
    block_street[near[0]] = np.array(site.net.name, dtype=object)[main_idx][near[1]]
    return block_street
