"""Red-grid assignment in three steps: build the problem, solve it, explain the result."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import pandas as pd
import pyproj

from gisgov.assignment._problem import build_problem
from gisgov.assignment._result import AssignmentResult, make_result
from gisgov.assignment._settings import AssignmentInput, AssignSettings
from gisgov.assignment._solve import solve
from gisgov.gcpause import gc_paused

__all__ = ["AssignmentResult", "assign", "previous_from_layer", "run"]

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
    working_crs: pyproj.CRS | str | int | None = None,
    settings: AssignSettings | None = None,
    progress: ProgressFn | None = None,
    **options: Any,
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

    The layers become an :class:`~gisgov.assignment._settings.AssignmentInput` and the options
    an :class:`~gisgov.assignment._settings.AssignSettings`; :func:`run` does the three steps:
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
    working_crs
        Projected CRS for distances; default the UTM zone of the households.
    settings
        How the problem is built and solved; default :class:`AssignSettings` ``()``.
    progress
        Callback ``progress(description, fraction)``.
    **options
        Flat overrides of ``settings`` (:meth:`AssignSettings.of`): any of its fields
        (``scope``, ``deploy_cap_m``, ``deploy_from``, ``borrow``, ``kin_scope``,
        ``k_nearest``, ``group_radius_m``, ``certify``, ``one_grid``, ``relax``, ``bounds``,
        ``model``), the cost weights (``borrow_cost``, ``change_penalty``,
        ``building_bonus``, ``compound_bonus``, ``deploy_cost``) and ``min_load`` /
        ``max_load`` (A/B bounds).

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
    data = AssignmentInput(households, members, grids, streets=streets, buildings=buildings,
                           units=units, previous=previous, working_crs=working_crs)
    return run(data, AssignSettings.of(settings, **options), progress=progress)


def run(data: AssignmentInput, settings: AssignSettings | None = None, *,
        progress: ProgressFn | None = None) -> AssignmentResult:
    """Build the problem of ``data`` under ``settings``, solve it and explain the result."""
    t0 = time.perf_counter()
    settings = settings or AssignSettings()
    report: ProgressFn = progress or (lambda _d, _f: None)
    # the steps make arrays, frames and many short-lived tuples, no reference cycles:
    # the collector would only walk them (gisgov.gcpause)
    with gc_paused():
        report("building the problem: grids, members, walking distances", 0.02)
        problem = build_problem(data, settings)
        report(f"solving {problem.n_pieces} piece(s)", 0.5)
        solution = solve(problem, certify=settings.certify, one_grid=settings.one_grid,
                         relax=settings.relax, progress=lambda d, f: report(d, 0.5 + 0.4 * f))
        report("writing the report", 0.92)
        return make_result(solution.problem, solution, data.households, data.members,
                           time.perf_counter() - t0)


def previous_from_layer(layer: pd.DataFrame | None) -> pd.DataFrame | None:
    """The ``household_id``/``member_id`` columns of a stored assignments layer, if any."""
    if layer is None or len(layer) == 0:
        return None
    return pd.DataFrame({"household_id": layer["household_id"], "member_id": layer["member_id"]})
