"""The assignment model: per-member load bounds and the documented cost of each pairing.

Cost of giving household ``h`` to member ``m`` (metres of walking, lower is better)::

    cost(h, m) = walk_m(h, m)
                 - building_bonus   if h and m live in the same building      (就便)
                 - compound_bonus   if h and m live in the same compound      (就便)
                 + borrow_cost      if m lives in another grid (borrowed)
                 + deploy_cost      if m is deployed to another community (统筹调配)
                 + change_penalty   if h had another member in ``previous``   (stability)
                 - KIN_BONUS        if m is h's kin member                    (就亲)

Same building implies same compound, so a neighbour in the same building earns both bonuses.
Pairs reached through a grid's service point (see :mod:`gisgov.assignment._problem`) walk
*via* that point: ``walk_m`` is then the walk household → service point → member, never less
than the direct walk.
Three priorities sit above the walking cost as large weights, in this order:

1. cover every household (``UNASSIGNED_COST`` per household left out);
2. bring every member up to their minimum load (``MIN_FILL_BONUS`` per household below it);
3. honour kin (``KIN_BONUS``);
4. a member serves one grid (``SPLIT_COST`` per household of a member pinned to another grid,
   see :mod:`gisgov.assignment._solve`; kin households never pay it): 10 km, more than any
   walk the model allows, so only a higher priority splits a member.

The weights are far larger than any walking cost (hundreds of kilometres against a grid a few
hundred metres across), so in practice they act as strict priorities; the optimum found is
exact for the weighted sum as written here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from gisgov.errors import ValidationError

__all__ = [
    "CLASSES",
    "COST_SCALE",
    "DEPLOY_CAP_M",
    "KIN_BONUS_M",
    "MIN_FILL_BONUS_M",
    "SCOPES",
    "SPLIT_COST_M",
    "UNASSIGNED_COST_M",
    "ClassBounds",
    "CostModel",
]

CLASSES = ("A", "B", "C", "D")

#: Where reporting (in-service) members may serve: their own ``grid`` only (as residents do),
#: any grid of the ``community`` they report to, or any grid of that community's
#: ``subdistrict`` (统筹调配 through the subdistrict party alliance).
SCOPES = ("grid", "community", "subdistrict")

#: Default cap on a deployed member's walk (metres, along the streets). A county seat's built-up
#: area is about 5-6 km across (the reference county: 5.8 x 4.8 km); 3 km is a 35-40 minute
#: walk or a 12-15 minute ride on the electric bicycle most such members use, so a monthly
#: visit stays an errand, not a trip, while every suburb (村改居 community) of the reference
#: county is within reach of the in-service members living in the town next to it: its
#: farthest mixed-community grid is a 2.6 km walk (median 1.5 km) from the nearest service
#: point of a grid with reporting members. The cap is a walk, not a share of the county: the
#: ``--scale 8`` sample is a county 8 times the area at the same density (16.3 x 13.6 km), whose
#: mixed communities lie a median 3.7 km (up to 7.2 km) from such a point, so only 37% of their
#: households are within 3 km and coverage stops at 87.6% there, as the coverage bound proves
#: (``benchmarks/assignment.py --scale 8``, ``reach``).
DEPLOY_CAP_M = 3000.0

#: Integer cost units per metre: the flow solver needs integers; centimetres keep rounding
#: below 5 mm per pairing.
COST_SCALE = 100

#: Priority weights in metres (see the module docstring).
UNASSIGNED_COST_M = 1.0e8
MIN_FILL_BONUS_M = 1.0e7
KIN_BONUS_M = 1.0e5
SPLIT_COST_M = 1.0e4


def _check_pair(name: str, pair: tuple[int, int]) -> tuple[int, int]:
    lo, hi = (int(pair[0]), int(pair[1]))
    if lo < 0 or hi < lo:
        raise ValidationError(f"load bounds for {name} must satisfy 0 <= min <= max, got {pair}")
    return lo, hi


@dataclass(frozen=True)
class ClassBounds:
    """How many households a member may take, by class (积分制分类) and status.

    Parameters
    ----------
    by_class
        ``{class: (min, max)}``. Defaults: A and B 5-10 (the red-grid rule), C 0-5 (may help,
        never forced: C members are the older or less able), D none.
    away
        Bounds for members working away (流动党员, status ``away``); default none.

    Notes
    -----
    A member row may override its class with ``min_load`` / ``max_load`` columns.

    Examples
    --------
    >>> b = ClassBounds.from_loads(min_load=4, max_load=8)
    >>> b.for_member("A", "resident"), b.for_member("C", "resident"), b.for_member("A", "away")
    ((4, 8), (0, 4), (0, 0))
    """

    by_class: Mapping[str, tuple[int, int]] = field(
        default_factory=lambda: MappingProxyType(
            {"A": (5, 10), "B": (5, 10), "C": (0, 5), "D": (0, 0)}
        )
    )
    away: tuple[int, int] = (0, 0)

    def __post_init__(self) -> None:
        unknown = set(self.by_class) - set(CLASSES)
        if unknown:
            raise ValidationError(
                f"unknown member class(es) {sorted(unknown)}; classes are {', '.join(CLASSES)}"
            )
        for k, v in self.by_class.items():
            _check_pair(f"class {k}", v)
        _check_pair("away members", self.away)

    @classmethod
    def from_loads(cls, *, min_load: int = 5, max_load: int = 10) -> ClassBounds:
        """Bounds where A and B take ``min_load``-``max_load`` and C up to half of ``max_load``."""
        _check_pair("--min/--max", (min_load, max_load))
        return cls(
            by_class=MappingProxyType({
                "A": (min_load, max_load),
                "B": (min_load, max_load),
                "C": (0, max_load // 2),
                "D": (0, 0),
            })
        )

    def for_member(self, member_class: str, status: str) -> tuple[int, int]:
        """Return ``(min, max)`` for a member of this class and status."""
        if status == "away":
            return self.away
        return self.by_class.get(member_class, (0, 0))


@dataclass(frozen=True)
class CostModel:
    """Weights of the cost of a pairing, in metres (module docstring has the formula).

    Parameters
    ----------
    building_bonus
        Subtracted when household and member share a building.
    compound_bonus
        Subtracted when they share a compound (also for the same building).
    borrow_cost
        Added when the member lives in an adjacent grid lent to a grid short of members.
    change_penalty
        Added when the household had a different member in the previous assignment: a
        change must save more than this much walking to happen.
    deploy_cost
        Added when a reporting member serves a grid outside the community they report to
        (统筹调配): 1 km by default, so a member is deployed only where coverage (or a
        member's minimum load) needs it, never to save a few hundred metres, and their own
        community keeps them whenever covering it and the other community conflict at equal
        coverage.
    """

    building_bonus: float = 100.0
    compound_bonus: float = 50.0
    borrow_cost: float = 500.0
    change_penalty: float = 300.0
    deploy_cost: float = 1000.0

    def __post_init__(self) -> None:
        for name in ("building_bonus", "compound_bonus", "borrow_cost", "change_penalty",
                     "deploy_cost"):
            value = getattr(self, name)
            if not 0 <= value < KIN_BONUS_M:
                raise ValidationError(
                    f"{name} must be between 0 and {KIN_BONUS_M:.0f} metres, got {value}"
                )
