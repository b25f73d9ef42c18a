"""Party members (党员): community branches, in-service members, classes and kin links.

The old urban communities' branches get the report's counts exactly (280 members at scale 1,
102 aged 50+, 89 working away); in-service members (在职党员) live across the urban
communities and belong to their units' branches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from gisgov.sample import _names as names
from gisgov.sample._draw import largest_remainder, seq_ids
from gisgov.sample._population import Households
from gisgov.sample._reference import (
    COMMUNITIES,
    MIXED_BRANCH_SIZES,
    OLD_BRANCH_SIZES,
    REFERENCE,
    URBAN,
)

__all__ = ["Members", "draw_members", "kin_links", "member_classes"]


@dataclass
class Members:
    """Community-branch members first, then in-service members, as parallel arrays."""

    home: NDArray[np.int64]  # household index
    age: NDArray[np.int64]
    status: NDArray[np.str_]
    cls: NDArray[np.str_]
    ids: NDArray[np.str_]
    comm: NDArray[np.int64]  # branch community of the first n_comm members
    service_unit: NDArray[np.int64]  # unit index of the in-service members

    @property
    def n_comm(self) -> int:
        return len(self.comm)

    def __len__(self) -> int:
        return len(self.age)


def member_classes(
    age: NDArray[np.int64], status: NDArray[np.str_], poor_health: NDArray[np.bool_]
) -> NDArray[np.str_]:
    """A/B/C/D classes (积分制分类管理) by age, health and job.

    D: aged 75+ or in poor health; C: working away (流动党员) or aged 65-74; B: aged 50-64,
    present and healthy; A: under 50, present (resident or in service) and healthy.
    """
    d = (age >= 75) | poor_health
    c = ~d & ((status == "away") | (age >= 65))
    b = ~d & ~c & (age >= 50)
    return np.where(d, "D", np.where(c, "C", np.where(b, "B", "A")))


def _age_profile(ages: NDArray[np.int64], young: float = 0.0) -> NDArray[np.float64]:
    """Weights over ``ages`` for older party members: most in their 50s-60s, a tail to 90."""
    w = np.exp(-((ages - 62.0) / 11.0) ** 2) + young * (ages < 50)
    return np.asarray(w / w.sum(), dtype=np.float64)


def _branch_sizes(scale: float) -> NDArray[np.int64]:
    n_old = round(REFERENCE["old_community_members"] * scale)
    old_sizes = largest_remainder(np.array(OLD_BRANCH_SIZES, dtype=float), n_old)
    mixed_sizes = np.maximum(np.round(np.array(MIXED_BRANCH_SIZES) * scale), 1).astype(np.int64)
    mixed_sizes[0] = max(int(mixed_sizes[0]), 51)
    return np.concatenate([old_sizes, mixed_sizes])


def _old_community_ages(rng: np.random.Generator, m_comm: NDArray[np.int64],
                        age: NDArray[np.int64], status: NDArray[np.object_],
                        scale: float) -> None:
    """The 4 old communities: exactly 102/280 aged 50+ and 89/280 away at scale 1."""
    old_idx = np.flatnonzero(m_comm < URBAN)
    n50 = round(REFERENCE["old_community_members_50plus"] * scale)
    n_away = round(REFERENCE["old_community_members_away"] * scale)
    perm = rng.permutation(old_idx)
    older, younger = perm[:n50], perm[n50:]
    age[older] = rng.choice(np.arange(50, 91), len(older), p=_age_profile(np.arange(50, 91)))
    n_away_old = min(round(n_away * 14 / 89), len(older))
    away = np.concatenate([older[:n_away_old], younger[: n_away - n_away_old]])
    age[older[:n_away_old]] = rng.integers(50, 60, n_away_old)
    status[away] = "away"


def draw_members(rng: np.random.Generator, hh: Households, scale: float,
                 *, id_start: int = 0) -> Members:
    """Community-branch members at home in their community, then in-service members."""
    hh_by_comm = [np.flatnonzero(hh.label == c) for c in range(len(COMMUNITIES))]
    n_service = round(REFERENCE["in_service_members"] * scale)
    comm_sizes = _branch_sizes(scale)
    m_comm = np.repeat(np.arange(len(COMMUNITIES)), comm_sizes)
    m_home = np.concatenate(
        [rng.choice(hh_by_comm[c], int(comm_sizes[c])) for c in range(len(COMMUNITIES))]
    ).astype(np.int64)
    n_comm_members = len(m_comm)
    age = rng.integers(23, 50, n_comm_members)
    status = np.full(n_comm_members, "resident", dtype=object)
    _old_community_ages(rng, m_comm, age, status, scale)
    mix_idx = np.flatnonzero(m_comm >= URBAN)
    age[mix_idx] = rng.choice(np.arange(25, 91), len(mix_idx),
                              p=_age_profile(np.arange(25, 91), young=0.6))
    status[mix_idx[rng.random(len(mix_idx)) < 0.18]] = "away"
    # in-service members live in the urban communities, mostly of hospitals and schools
    s_home = rng.choice(np.flatnonzero(hh.label < URBAN), n_service)
    s_age = rng.integers(23, 60, n_service)
    units_kind = np.array([k for k, _ in names.UNITS])
    w_unit = np.select(
        [units_kind == "医院", units_kind == "学校", units_kind == "机关"], [8.0, 4.0, 3.0], 1.5
    )
    s_unit = rng.choice(len(names.UNITS), n_service, p=w_unit / w_unit.sum())

    m_age = np.concatenate([age, s_age]).astype(np.int64)
    m_status = np.concatenate([status.astype(str), np.full(n_service, "in_service")])
    poor = rng.random(len(m_age)) < np.where(m_age >= 60, 0.12, 0.02)
    return Members(home=np.concatenate([m_home, s_home]), age=m_age, status=m_status,
                   cls=member_classes(m_age, m_status, poor),
                   ids=seq_ids("DY", len(m_age), 6, id_start), comm=m_comm,
                   service_unit=s_unit)


def kin_links(rng: np.random.Generator, hh: Households, mem: Members) -> NDArray[np.object_]:
    """就亲: ~9% of households have a member relative in their community (member id)."""
    kin = np.full(len(hh), None, dtype=object)
    m_home_comm = hh.label[mem.home]
    for c in range(len(COMMUNITIES)):
        members_here = np.flatnonzero(m_home_comm == c)
        hh_here = np.flatnonzero(hh.label == c)
        if len(members_here) == 0 or len(hh_here) == 0:
            continue
        chosen = hh_here[rng.random(len(hh_here)) < 0.09]
        kin[chosen] = mem.ids[rng.choice(members_here, len(chosen))]
    return kin
