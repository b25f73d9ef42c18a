"""What a good plan is: the weighted objective and the plan constraints.

The engine minimises (all terms normalised so that a weight of 1 makes each term matter about
equally, whatever the number of units)::

    cut_edges    · (#cut edges)                        / m₀
  + cut_length   · Σ_cut ℓₑ · (1 − main_streets · sₑ)  / (m₀ · ℓ̄)
  + disruption   · (weight moved from the current plan) / (total weight)
  + polsby_popper· mean over areas of (1 − PP)

where ``m₀ = 2·sqrt(n·K)`` (about the number of cut edges of a compact plan of ``n`` units in
``K`` areas), ``ℓₑ`` the shared boundary length of edge ``e``, ``ℓ̄`` the mean of ``ℓₑ``,
``sₑ`` the share of edge ``e`` lying along main streets and ``PP = 4πA/P²``. So
``main_streets = 1`` makes a cut along a main street free of length cost, which is how
"boundaries follow main streets" is rewarded. The exact MILP minimises the linear part only
(cut edges, cut length, disruption); Polsby-Popper is reported for it, not optimised.

Constraints are small callables ``plan -> list[str]`` (violations, empty when satisfied), in
the spirit of GerryChain's ``Validator``; the engine enforces them while it searches and checks
every returned plan with them again.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace

import numpy as np

from gisgov.districting.graph import UnitGraph
from gisgov.errors import ValidationError

__all__ = [
    "Constraint",
    "Objective",
    "Plan",
    "check_plan",
    "contiguous",
    "objective_from_text",
    "respects_locks",
    "within_bounds",
]


@dataclass(frozen=True)
class Objective:
    """Weights of the objective terms (see the module docstring for the formula).

    Parameters
    ----------
    cut_edges
        Weight of the number of cut edges (graph compactness).
    cut_length
        Weight of the total cut boundary length (geometric compactness).
    main_streets
        In [0, 1]: discount on the length cost of a boundary lying along a main street.
    disruption
        Weight of the share of weight (households) moved from the current plan.
    polsby_popper
        Weight of the mean ``1 − Polsby-Popper`` of the areas.
    """

    cut_edges: float = 1.0
    cut_length: float = 1.0
    main_streets: float = 0.5
    disruption: float = 0.0
    polsby_popper: float = 1.0

    def __post_init__(self) -> None:
        for name in ("cut_edges", "cut_length", "disruption", "polsby_popper"):
            if getattr(self, name) < 0:
                raise ValueError(f"objective weight {name} must be >= 0")
        if not 0.0 <= self.main_streets <= 1.0:
            raise ValueError("objective weight main_streets must be within [0, 1]")

    def scale(self, n: int, k: int) -> float:
        """``m₀``, the normaliser of the cut terms."""
        return 2.0 * math.sqrt(max(n, 1) * max(k, 1))

    def edge_costs(self, graph: UnitGraph, k: int) -> np.ndarray:
        """Cost of cutting each edge, in objective units."""
        m0 = self.scale(graph.n, k)
        ell = graph.shared_length
        mean = float(ell[ell > 0].mean()) if (ell > 0).any() else 1.0
        length_term = self.cut_length * ell / mean * (1.0 - self.main_streets * graph.main_share)
        cost = (self.cut_edges + length_term) / m0
        # Bridges across gaps are not boundaries anyone walks: cutting one costs an edge only.
        if len(graph.bridges):
            cost[graph.bridges] = self.cut_edges / m0
        return np.asarray(cost, dtype=float)

    def value(
        self,
        graph: UnitGraph,
        labels: np.ndarray,
        *,
        k: int,
        weights: np.ndarray,
        home: np.ndarray | None = None,
    ) -> float:
        """The objective of a full plan (labels ``0..k-1`` per unit)."""
        e = graph.edges
        cut = labels[e[:, 0]] != labels[e[:, 1]]
        total = float(self.edge_costs(graph, k)[cut].sum())
        if home is not None and self.disruption > 0:
            moved = float(weights[labels != home].sum())
            total += self.disruption * moved / max(float(weights.sum()), 1e-12)
        if self.polsby_popper > 0:
            total += self.polsby_popper * float(np.mean(1.0 - area_pp(graph, labels, k)))
        return total


def objective_from_text(text: str, base: Objective | None = None) -> Objective:
    """Objective weights from ``name=value,…`` text, over ``base`` (default :class:`Objective`).

    Parameters
    ----------
    text
        Comma-separated ``name=value`` pairs; names are the :class:`Objective` fields
        (``cut_edges``, ``cut_length``, ``main_streets``, ``disruption``, ``polsby_popper``).
    base
        Weights the text overrides.

    Raises
    ------
    ValidationError
        On an unknown name, a value that is not a number, or a weight out of range.

    Examples
    --------
    >>> objective_from_text("cut_edges=1, cut_length=0.1, polsby_popper=0.25").cut_length
    0.1
    """
    names = [f.name for f in fields(Objective)]
    values: dict[str, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, raw = part.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or name not in names:
            raise ValidationError(
                f"objective weights are NAME=VALUE pairs with NAME one of {', '.join(names)}; "
                f"got {part.strip()!r}"
            )
        try:
            values[name] = float(raw)
        except ValueError:
            raise ValidationError(f"objective weight {name} must be a number, got {raw.strip()!r}") from None
    try:
        return replace(base or Objective(), **values)
    except ValueError as exc:
        raise ValidationError(str(exc)) from None


def area_pp(graph: UnitGraph, labels: np.ndarray, k: int) -> np.ndarray:
    """Polsby-Popper of each area from the graph's areas and perimeters."""
    e = graph.edges
    internal = labels[e[:, 0]] == labels[e[:, 1]]
    per: np.ndarray = np.bincount(labels, weights=graph.perimeter, minlength=k).astype(float)
    per -= 2.0 * np.bincount(
        labels[e[internal, 0]], weights=graph.shared_length[internal], minlength=k
    )
    area = np.bincount(labels, weights=graph.area, minlength=k)
    with np.errstate(divide="ignore", invalid="ignore"):
        pp = np.where(per > 0, 4.0 * math.pi * area / per**2, 0.0)
    return np.asarray(np.clip(pp, 0.0, 1.0), dtype=float)


@dataclass(frozen=True)
class Plan:
    """A plan as the constraints see it: labels per unit position and the graph."""

    graph: UnitGraph
    labels: np.ndarray
    weights: np.ndarray
    k: int


Constraint = Callable[[Plan], list[str]]


def contiguous(plan: Plan) -> list[str]:
    """Every area is one connected piece of the adjacency graph (and none is empty)."""
    out = []
    for a in range(plan.k):
        mask = plan.labels == a
        if not mask.any():
            out.append(f"area {a} is empty")
            continue
        comp = plan.graph.components(mask)
        if comp.max() > 0:
            out.append(f"area {a} is in {int(comp.max()) + 1} pieces")
    return out


def within_bounds(lower: float, upper: float) -> Constraint:
    """Every area's weight lies within ``[lower, upper]`` (a tiny float slack allowed)."""

    def check(plan: Plan) -> list[str]:
        w = np.bincount(plan.labels, weights=plan.weights, minlength=plan.k)
        eps = 1e-9 * max(upper, 1.0)
        return [
            f"area {a} weighs {w[a]:g}, outside [{lower:g}, {upper:g}]"
            for a in range(plan.k)
            if w[a] < lower - eps or w[a] > upper + eps
        ]

    return check


def respects_locks(locks: Mapping[int, int]) -> Constraint:
    """Locked unit positions carry their locked area."""

    def check(plan: Plan) -> list[str]:
        return [
            f"unit {u} is locked to area {a} but was put in area {int(plan.labels[u])}"
            for u, a in locks.items()
            if int(plan.labels[u]) != a
        ]

    return check


def check_plan(plan: Plan, constraints: Sequence[Constraint]) -> list[str]:
    """All violations of ``constraints`` by ``plan``."""
    out: list[str] = []
    for c in constraints:
        out.extend(c(plan))
    return out
