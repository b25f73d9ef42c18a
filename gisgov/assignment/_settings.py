"""What an assignment run is given: the layers (:class:`AssignmentInput`) and how the problem is
built and solved (:class:`AssignSettings`), each one frozen dataclass.

Before, :func:`~gisgov.assignment.assign` took 28 arguments and handed 17 of them to
:func:`~gisgov.assignment._problem.build_problem`, which handed 14 on again (issue 17). The
layers and the settings now travel as two values; :meth:`AssignSettings.of` keeps the flat
keyword names (``min_load``, ``borrow_cost``, ``deploy_cap_m``…) that callers and the command
line use, and :meth:`AssignSettings.from_options` maps the command's / job's
:class:`~gisgov.assignment.options.AssignOptions` onto it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd
import pyproj

from gisgov.assignment._model import DEPLOY_CAP_M, SCOPES, ClassBounds, CostModel
from gisgov.errors import ValidationError

if TYPE_CHECKING:
    from gisgov.assignment.options import AssignOptions

__all__ = ["AssignSettings", "AssignmentInput"]

#: Flat names of the :class:`CostModel` weights, accepted by :meth:`AssignSettings.of`.
_WEIGHTS = ("building_bonus", "compound_bonus", "borrow_cost", "change_penalty", "deploy_cost")
#: Flat names of the A/B load bounds (:meth:`ClassBounds.from_loads`).
_LOADS = ("min_load", "max_load")


@dataclass(frozen=True, eq=False)
class AssignmentInput:
    """The layers one assignment reads (see :func:`gisgov.assignment.assign` for columns).

    ``streets`` ``None`` or empty means straight-line walks (reported as fallback);
    ``previous`` is the last run's ``household_id``/``member_id`` pairs (stability);
    ``working_crs`` defaults to the UTM zone of the households.
    """

    households: gpd.GeoDataFrame
    members: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    streets: gpd.GeoDataFrame | None = None
    buildings: gpd.GeoDataFrame | None = None
    units: gpd.GeoDataFrame | None = None
    previous: pd.DataFrame | None = None
    working_crs: pyproj.CRS | str | int | None = None


@dataclass(frozen=True)
class AssignSettings:
    """How the problem is built (who may serve whom, at what cost) and solved.

    Attributes
    ----------
    bounds
        Per-class load bounds (default: A/B 5-10, C 0-5, D and away none).
    model
        Cost weights in metres (:class:`~gisgov.assignment._model.CostModel`).
    scope
        Where reporting (in-service) members may serve: ``"grid"``, ``"community"`` or
        ``"subdistrict"`` (统筹调配).
    deploy_cap_m
        Longest walk (metres, between service points) a deployment may take.
    deploy_from
        ``"home"`` or ``"unit"``: where a deployed member's walk starts.
    borrow
        Grids short of members borrow from adjacent grids of the same community.
    kin_scope
        ``"community"`` (a kin member elsewhere in the community still counts) or ``"grid"``.
    k_nearest
        Direct household → member arcs per household group (the sparsification).
    group_radius_m
        Households of one building within this many metres are one flow node (0: none).
    certify
        Prove each piece optimal with the LP-dual bound (``False``: nothing is claimed).
    one_grid
        A member serves one grid (kin aside) unless coverage, minimum loads or kin need more.
    relax
        With ``one_grid``: solve the relaxation first and pin from it (reports its bound).
    """

    bounds: ClassBounds = field(default_factory=ClassBounds)
    model: CostModel = field(default_factory=CostModel)
    scope: str = "subdistrict"
    deploy_cap_m: float = DEPLOY_CAP_M
    deploy_from: str = "home"
    borrow: bool = True
    kin_scope: str = "community"
    k_nearest: int = 6
    group_radius_m: float = 40.0
    certify: bool = True
    one_grid: bool = True
    relax: bool = False

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise ValidationError(f"scope must be one of {', '.join(SCOPES)}, got {self.scope!r}")
        if not 0 < self.deploy_cap_m <= 50_000:
            raise ValidationError(
                f"the deployment distance cap must be 0-50,000 m, got {self.deploy_cap_m}"
            )
        if self.deploy_from not in ("home", "unit"):
            raise ValidationError(f"deploy_from must be 'home' or 'unit', got {self.deploy_from!r}")
        if self.kin_scope not in ("grid", "community"):
            raise ValidationError(
                f"kin_scope must be 'grid' or 'community', got {self.kin_scope!r}"
            )
        if not 1 <= self.k_nearest <= 100:
            raise ValidationError(f"k_nearest must be 1-100, got {self.k_nearest}")

    @classmethod
    def of(cls, base: AssignSettings | None = None, **flat: Any) -> AssignSettings:
        """Settings from flat keyword names, on top of ``base`` (default: the defaults).

        Accepts every field name, the :class:`CostModel` weights (``building_bonus``,
        ``compound_bonus``, ``borrow_cost``, ``change_penalty``, ``deploy_cost``) and
        ``min_load``/``max_load`` (A/B bounds, :meth:`ClassBounds.from_loads`). ``model`` or
        ``bounds``, when given, win over the flat names that would build them.

        Raises
        ------
        ValidationError
            An unknown name, or a value out of range.
        """
        base = base or cls()
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(flat) - names - set(_WEIGHTS) - set(_LOADS))
        if unknown:
            raise ValidationError(f"unknown assignment option(s): {', '.join(unknown)}")
        direct = {k: v for k, v in flat.items() if k in names}
        weights = {k: flat[k] for k in _WEIGHTS if k in flat}
        if weights and "model" not in direct:
            direct["model"] = replace(base.model, **weights)
        loads = {k: int(flat[k]) for k in _LOADS if k in flat}
        if loads and "bounds" not in direct:
            direct["bounds"] = ClassBounds.from_loads(**loads)
        return replace(base, **direct) if direct else base

    @classmethod
    def from_options(cls, options: AssignOptions) -> AssignSettings:
        """The settings of a ``gisgov assign`` run / ``assign`` job (its options model)."""
        o = options
        return cls.of(
            min_load=o.min_load,
            max_load=o.max_load,
            borrow=o.borrow,
            borrow_cost=o.borrow_cost,
            change_penalty=o.change_penalty,
            scope=o.scope,
            deploy_cap_m=o.deploy_cap_m,
            deploy_cost=o.deploy_cost,
            deploy_from=o.deploy_from,
            one_grid=o.one_grid,
        )
