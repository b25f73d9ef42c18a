"""Households (户) and the people fields the report's registers hold.

Households fill buildings in proportion to floor space within each group (old compounds, new
compounds, street buildings, villages); the resident and floating totals of the report are
forced exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from gisgov.sample import _names as names
from gisgov.sample._buildings import Buildings
from gisgov.sample._draw import largest_remainder, seq_ids
from gisgov.sample._reference import (
    GROUP_SHARE,
    NEW,
    OLD,
    REFERENCE,
    REFERENCE_YEAR,
    STREET,
    VILLAGE,
    Array,
)

__all__ = ["Households", "id_numbers", "names_of", "phones", "place_households"]


@dataclass
class Households:
    """All households of a district as parallel arrays."""

    building: NDArray[np.int64]  # index into Buildings
    address: NDArray[np.object_]
    x: Array
    y: Array
    label: NDArray[np.int64]  # community index (into COMMUNITIES)
    size: NDArray[np.int64]
    floating: NDArray[np.int64]
    elderly: NDArray[np.bool_]
    head_age: NDArray[np.int64]
    ids: NDArray[np.str_]

    def __len__(self) -> int:
        return len(self.building)


def _fill_buildings(rng: np.random.Generator, bld: Buildings, n_hh: int) -> NDArray[np.int64]:
    """Building index of every household, sorted, drawn by floor space within each group."""
    cap = bld.length * bld.depth * bld.floors
    parts = []
    group_totals = largest_remainder(np.array(GROUP_SHARE), n_hh)
    for grp in (OLD, NEW, STREET, VILLAGE):
        idx = np.flatnonzero(bld.group == grp)
        counts = rng.multinomial(int(group_totals[grp]), cap[idx] / cap[idx].sum())
        parts.append(np.repeat(idx, counts))
    return np.sort(np.concatenate(parts))


def _flat_addresses(bld: Buildings, hh_bld: NDArray[np.int64]) -> NDArray[np.object_]:
    """Unit (单元), floor and room numbers, two flats a floor, counted up each building."""
    n_hh = len(hh_bld)
    first = np.searchsorted(hh_bld, hh_bld, side="left")
    rank = np.arange(n_hh) - first
    per_unit = bld.floors[hh_bld] * 2
    unit_no = rank // per_unit + 1
    floor_no = (rank % per_unit) // 2 + 1
    room = rank % 2 + 1
    addr = pd.Series(bld.address[hh_bld]) + pd.Series(unit_no).astype(str) + "单元" + (
        pd.Series(floor_no * 100 + room).astype(str)) + "室"
    return addr.to_numpy()


def _sizes(rng: np.random.Generator, n_hh: int, residents: int) -> NDArray[np.int64]:
    size = rng.choice(np.arange(1, 7), n_hh, p=[0.15, 0.31, 0.26, 0.17, 0.08, 0.03])
    diff = residents - int(size.sum())
    if diff > 0:  # make the resident total exact
        size[rng.choice(n_hh, diff, replace=False)] += 1
    elif diff < 0:
        size[rng.choice(np.flatnonzero(size > 1), -diff, replace=False)] -= 1
    return np.asarray(size, dtype=np.int64)


def _floating(rng: np.random.Generator, size: NDArray[np.int64], hgroup: NDArray[np.int64],
              total: int) -> NDArray[np.int64]:
    """Floating residents per household, summing exactly to ``total``.

    Tenants live mostly in old compounds and street buildings.
    """
    n_hh = len(size)
    w_float = np.array([3.0, 1.0, 3.0, 0.7])[hgroup]
    order = np.argsort(rng.exponential(1.0, n_hh) / w_float, kind="stable")
    cum = np.cumsum(size[order])
    floating = np.zeros(n_hh, dtype=np.int64)
    full = cum <= total
    floating[order[full]] = size[order[full]]
    k_part = int(full.sum())
    if k_part < n_hh:
        floating[order[k_part]] = total - (int(cum[k_part - 1]) if k_part else 0)
    return floating


def place_households(rng: np.random.Generator, bld: Buildings, block_label: NDArray[np.int64],
                     scale: float, *, id_start: int = 0) -> Households:
    """Households with their flats, sizes, floating residents and elderly heads."""
    residents = round(REFERENCE["residents"] * scale)
    n_hh = round(residents / 2.81)
    hh_bld = _fill_buildings(rng, bld, n_hh)
    address = _flat_addresses(bld, hh_bld)
    hx = bld.cx[hh_bld] + rng.uniform(-0.4, 0.4, n_hh) * bld.length[hh_bld]
    hy = bld.cy[hh_bld] + rng.uniform(-0.4, 0.4, n_hh) * bld.depth[hh_bld]
    hgroup = bld.group[hh_bld]
    label = np.asarray(block_label[bld.block[hh_bld]], dtype=np.int64)
    size = _sizes(rng, n_hh, residents)
    floating = _floating(rng, size, hgroup, round(REFERENCE["floating"] * scale))
    p_elderly = np.array([0.30, 0.13, 0.22, 0.26])[hgroup]
    elderly = rng.random(n_hh) < p_elderly
    head_age = np.where(elderly, rng.integers(60, 91, n_hh), rng.integers(24, 60, n_hh))
    return Households(building=hh_bld, address=address, x=hx, y=hy, label=label, size=size,
                      floating=floating, elderly=elderly, head_age=head_age,
                      ids=seq_ids("H", n_hh, 7, id_start))


def names_of(rng: np.random.Generator, n: int) -> NDArray[np.str_]:
    """Chinese names: a surname by frequency and one or two given characters."""
    sur = np.array([s for s, _ in names.SURNAMES])
    w = np.array([x for _, x in names.SURNAMES])
    chars = np.array(list(names.GIVEN_CHARS))
    s = sur[rng.choice(len(sur), n, p=w / w.sum())]
    g1 = chars[rng.integers(0, len(chars), n)]
    g2 = np.where(rng.random(n) < 0.7, chars[rng.integers(0, len(chars), n)], "")
    return np.char.add(np.char.add(s, g1), g2)


def phones(rng: np.random.Generator, n: int) -> NDArray[np.str_]:
    """11-digit mobile numbers (13x, 15x, 17x, 18x, 19x)."""
    second = np.array([3, 5, 7, 8, 9])[rng.integers(0, 5, n)]
    num = 10_000_000_000 + second.astype(np.int64) * 1_000_000_000 + rng.integers(
        0, 1_000_000_000, n
    )
    return num.astype(str)


_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK = np.array(list("10X98765432"))


def id_numbers(rng: np.random.Generator, ages: NDArray[np.int64], county_code: str
               ) -> NDArray[np.str_]:
    """18-character resident ID numbers (GB 11643) with a valid ISO 7064 check character."""
    n = len(ages)
    year = REFERENCE_YEAR - ages
    date = year * 10_000 + rng.integers(1, 13, n) * 100 + rng.integers(1, 29, n)
    body = int(county_code) * 10**11 + date.astype(np.int64) * 1000 + rng.integers(0, 1000, n)
    digits = (body[:, None] // 10 ** np.arange(16, -1, -1)) % 10
    check = _ID_CHECK[(digits * _ID_WEIGHTS).sum(axis=1) % 11]
    return np.char.add(body.astype(str), check)
