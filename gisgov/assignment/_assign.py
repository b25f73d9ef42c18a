"""Red-grid assignment in three steps: build the problem, solve it, explain the result."""

from __future__ import annotations

import time
from collections.abc import Callable

import geopandas as gpd
import pandas as pd
import pyproj

from gisgov.assignment._model import DEPLOY_CAP_M, ClassBounds, CostModel
from gisgov.assignment._problem import build_problem
from gisgov.assignment._result import AssignmentResult, make_result
from gisgov.assignment._solve import solve

__all__ = ["AssignmentResult", "assign", "previous_from_layer"]

ProgressFn = Callable[[str, float], None]


def assign(
    households: gpd.GeoDataFrame,
    members: gpd.GeoDataFrame,
    grids: gpd.GeoDataFrame,
    *,
    streets: gpd.GeoDataFrame | None = None,
    buildings: gpd.GeoDataFrame | None = None,
    units: gpd.GeoDataFrame | None = None,
    previous: pd.DataFrame | None = None,
    bounds: ClassBounds | None = None,
    min_load: int = 5,
    max_load: int = 10,
    model: CostModel | None = None,
    scope: str = "subdistrict",
    deploy_cap_m: float = DEPLOY_CAP_M,
    deploy_from: str = "home",
    borrow: bool = True,
    borrow_cost: float = 500.0,
    change_penalty: float = 300.0,
    building_bonus: float = 100.0,
    compound_bonus: float = 50.0,
    deploy_cost: float = 1000.0,
    kin_scope: str = "community",
    k_nearest: int = 6,
    group_radius_m: float = 40.0,
    working_crs: pyproj.CRS | str | int | None = None,
    certify: bool = True,
    one_grid: bool = True,
    relax: bool = False,
    progress: ProgressFn | None = None,
) -> AssignmentResult:
    """Assign households to red-grid members within load bounds: 就亲、就近、就便, coverage first.

    Resident members serve their own grid (and, when it is short, adjacent grids of the same
    community at ``borrow_cost``). Reporting members (in service, ``unit_id`` set, 双报到) may
    also serve other grids of the community they report to and, with ``scope="subdistrict"``
    (default), grids of the other communities of its subdistrict (统筹调配) at ``deploy_cost``
    plus the walk from home (or unit, ``deploy_from``), within ``deploy_cap_m`` metres.
    Covering households comes first, then members' minimum loads, then kin, then walking
    (:mod:`gisgov.assignment._model`), so a household stays unassigned only when no member
    within reach has room; the result then says where, how many members are missing and who
    nearby could be invited (:attr:`AssignmentResult.recruit`).

    The work is three steps, each usable on its own:
    :func:`~gisgov.assignment._problem.build_problem` (who, where, bounds, eligible pairs and
    costs, split into independent pieces), :func:`~gisgov.assignment._solve.solve` (one
    certified min-cost flow per piece) and :func:`~gisgov.assignment._result.make_result`.

    Parameters
    ----------
    households
        ``households`` layer: ``id``, Point; optional ``building_id``, ``kin_member_id``.
    members
        ``members`` layer: ``id``, ``class``, ``status``, Point home; optional ``unit_id``,
        ``report_community_code`` (双报到; default: the home's community), ``min_load`` /
        ``max_load`` overriding the class bounds.
    grids
        ``grids`` layer: ``code``, ``community_code``, Polygon. Must not be empty.
    streets
        For walking distances; ``None`` or empty → straight lines, reported as fallback.
    buildings
        ``buildings`` (``id``, ``compound_id``) for the same-building/compound bonuses.
    units
        ``units`` layer, for ``deploy_from="unit"``.
    previous
        The previous ``assignments`` (``household_id``, ``member_id``): changes from it cost
        ``change_penalty`` and are counted.
    bounds
        Per-class load bounds; default :meth:`ClassBounds.from_loads` of ``min_load``,
        ``max_load``.
    min_load, max_load
        Bounds for classes A and B when ``bounds`` is not given.
    model
        Cost weights; when given, overrides the four weight arguments below.
    scope
        ``"grid"`` (no deployment), ``"community"`` or ``"subdistrict"``.
    deploy_cap_m
        Longest walk (metres, between the service points of the member's grid and the grid
        served) a deployment may take; default 3 km (see :data:`~gisgov.assignment._model.
        DEPLOY_CAP_M` for why).
    deploy_from
        ``"home"`` or ``"unit"``: where a deployed member's walk starts.
    borrow
        Let grids short of members borrow from adjacent grids of the same community.
    borrow_cost, change_penalty, building_bonus, compound_bonus, deploy_cost
        Cost-model weights in metres (:class:`CostModel`).
    kin_scope
        ``"community"``: a kin member elsewhere in the community still counts (就亲 outranks
        the grid line); ``"grid"``: only inside the grid.
    k_nearest
        Direct household → member arcs per household (the sparsification,
        :mod:`gisgov.assignment._problem`).
    group_radius_m
        Households of one building within this many metres of its first household (same
        previous member, no kin member) are one node of the flow, walked from that household
        (:mod:`gisgov.assignment._problem`); 0 keeps every household apart.
    working_crs
        Projected CRS for distances; default the UTM zone of the households.
    certify
        Prove each piece optimal with the LP-dual bound (``False``: nothing is claimed).
    one_grid
        A member serves one grid (kin households aside): members the flow splits are pinned
        to their main grid and the pieces solved again (:mod:`gisgov.assignment._solve`).
    relax
        With ``one_grid``: solve the relaxation (members may span grids) first and pin from it,
        which reports its bound (``relaxed_objective``, ``one_grid_gap_m``) at the cost of a
        second solve; default: pin from the flow between service points and solve once.
    progress
        Callback ``progress(description, fraction)``.

    Returns
    -------
    AssignmentResult

    Raises
    ------
    ValidationError
        If the grids layer is empty, a required column is missing or an option is invalid.
    CRSError
        If a layer has no CRS or ``working_crs`` is not projected.
    """
    t0 = time.perf_counter()
    report: ProgressFn = progress or (lambda _d, _f: None)
    model = model or CostModel(building_bonus=building_bonus, compound_bonus=compound_bonus,
                               borrow_cost=borrow_cost, change_penalty=change_penalty,
                               deploy_cost=deploy_cost)
    bounds = bounds or ClassBounds.from_loads(min_load=min_load, max_load=max_load)
    report("building the problem: grids, members, walking distances", 0.02)
    problem = build_problem(
        households, members, grids, streets=streets, buildings=buildings, units=units,
        previous=previous, bounds=bounds, model=model, scope=scope,
        deploy_cap_m=deploy_cap_m, deploy_from=deploy_from, borrow=borrow,
        kin_scope=kin_scope, k_nearest=k_nearest, group_radius_m=group_radius_m,
        working_crs=working_crs)
    report(f"solving {problem.n_pieces} piece(s)", 0.5)
    solution = solve(problem, certify=certify, one_grid=one_grid, relax=relax,
                     progress=lambda d, f: report(d, 0.5 + 0.4 * f))
    report("writing the report", 0.92)
    return make_result(solution.problem, solution, households, members,
                       time.perf_counter() - t0)


def previous_from_layer(layer: pd.DataFrame | None) -> pd.DataFrame | None:
    """The ``household_id``/``member_id`` columns of a stored assignments layer, if any."""
    if layer is None or len(layer) == 0:
        return None
    return pd.DataFrame({"household_id": layer["household_id"], "member_id": layer["member_id"]})
