"""Partition communities into grids with the districting engine, one level down.

Community re-drawing and grid partitioning are the same problem — balanced, contiguous,
compact areas of whole units that follow streets — so this module only builds the finer
units and calls :func:`gisgov.districting.partition`; it never searches by itself.

Units inside one community (they tile it exactly, so the grids do too):

* every compound (小区) is one unit — compounds stay whole — unless it holds more households
  than a grid may, in which case it is split into clusters of buildings: the Voronoi cells of
  its buildings, clipped to the compound wall, one unit per building (buildings are never
  split);
* the rest of each street block outside compounds is one unit, split the same way when it
  is larger than a grid;
* a single building larger than a grid's upper bound cannot be balanced: it becomes a grid
  of its own, and the report says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gisgov.blocks import as_coverage, blocks_from_streets, polygonal
from gisgov.errors import InfeasibleError, ValidationError
from gisgov.grids.coding import grid_codes
from gisgov.layers import STORAGE_CRS, conform
from gisgov.locate import codes_at, locate_points

if TYPE_CHECKING:
    from gisgov.districting import PartitionResult

__all__ = [
    "DEFAULT_TARGET_HOUSEHOLDS",
    "TARGET_RANGE",
    "GridsResult",
    "community_units",
    "partition_grids",
]

ProgressFn = Callable[[str, float], None]

#: The reference county: 174 grids for the households of its 5 urban communities (~100 each).
DEFAULT_TARGET_HOUSEHOLDS = 100
#: Planner-settable range of the target (households per grid).
TARGET_RANGE = (30, 1000)
#: Tolerances tried in order: the first that the units allow is used.
TOLERANCES = (0.15, 0.25, 0.35)
#: Share of each community's time budget spent on each tolerance in turn.
TIME_SHARES = (0.3, 0.5, 0.2)
#: Least safety cap (s) per community; the iteration budget normally ends the search first.
MIN_COMMUNITY_SECONDS = 15.0
#: Constructions per community: bisection starts are balanced already, and the compiled
#: annealing makes each one cheap.
GRID_STARTS = 8
#: Annealing proposals per start: a fixed budget (not the clock) keeps grids reproducible.
GRID_ITERATIONS_PER_UNIT = 60
GRID_MIN_ITERATIONS = 20_000
#: Street blocks (no compound wall) above this share of the target are split by building.
BLOCK_SPLIT_SHARE = 0.3
#: Snap-rounding grid (m) when noding unit boundaries into one coverage.
SNAP_GRID_M = 0.05
#: Distance (m) within which a grid takes the gap along its own edge when fitted.
FIT_M = 0.2
#: Gap (m) under which two units count as touching in the unit graph.
SNAP_M = 0.02
#: A stray piece smaller than this (m²) that touches no grid along an edge is dropped; the
#: coverage check treats gaps of this size as drawing noise too.
SPECK_M2 = 5.0
#: Pieces smaller than this (m²) are numerical slivers and join their longest neighbour.
SLIVER_M2 = 1.0


@dataclass
class GridsResult:
    """Grids for some communities, with what the planner needs to judge them.

    Attributes
    ----------
    grids
        The new grids (``grids`` layer, EPSG:4326), one row per grid.
    units
        The units used (metric CRS) with their ``grid_code``.
    per_community
        One row per community: ``community_code``, ``households``, ``grids``,
        ``tolerance``, ``optimal``, ``method``, ``seconds``.
    report
        Notes (oversized buildings, tolerance relaxed, islands …).
    seconds
        Wall time.
    """

    grids: gpd.GeoDataFrame
    units: gpd.GeoDataFrame
    per_community: pd.DataFrame
    report: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> dict[str, object]:
        """The figures ``gisgov grids --json`` prints."""
        hh = self.grids["households"].astype(int) if len(self.grids) else pd.Series([0])
        return {
            "grids": len(self.grids),
            "households_min": int(hh.min()),
            "households_max": int(hh.max()),
            "contiguous_all": bool(
                all(shapely.get_num_geometries(g) == 1 for g in self.grids.geometry)
            ),
            "seconds": round(self.seconds, 3),
            "per_grid": [
                {"code": c, "households": int(h), "community_code": cc}
                for c, h, cc in zip(self.grids["code"], self.grids["households"],
                                    self.grids["community_code"], strict=True)
            ],
        }


def community_units(
    community: shapely.Geometry,
    *,
    streets: gpd.GeoDataFrame,
    compounds: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    households: gpd.GeoDataFrame,
    max_households: float,
    block_split_households: float | None = None,
) -> gpd.GeoDataFrame:
    """Units tiling one community: compounds, street blocks, building cells where too big.

    All inputs in the same metric CRS.

    Parameters
    ----------
    community
        The community polygon.
    streets, compounds, buildings, households
        Layers (any extent; clipped here).
    max_households
        A compound with more households than this (larger than a grid) is split into
        building cells.
    block_split_households
        A street block outside compounds with more households than this is split into
        building cells (blocks have no wall to keep; finer units balance better). Default
        ``max_households``.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``unit_id``, ``kind`` (``compound``/``block``/``building``), ``compound_id``,
        ``households``, ``population``, geometry; tiles ``community``.
    """
    crs = streets.crs
    near = streets[streets.intersects(community)]
    faces = np.asarray(blocks_from_streets(near, crs=crs, extent=community,
                                           min_area_m2=0).geometry.values)
    comp = compounds[compounds.intersects(community)]
    comp_geoms = shapely.intersection(np.asarray(comp.geometry.values), community)
    comp_union = shapely.union_all(comp_geoms) if len(comp_geoms) else shapely.Polygon()
    pieces: list[shapely.Geometry] = []
    kinds: list[str] = []
    comp_ids: list[object] = []
    for cid, g in zip(comp["id"], comp_geoms, strict=True):
        for part in shapely.get_parts(g):
            if shapely.area(part) > SLIVER_M2:
                pieces.append(part)
                kinds.append("compound")
                comp_ids.append(cid)
    rest = shapely.difference(faces, comp_union) if len(faces) else faces
    for g in rest:
        for part in shapely.get_parts(g):
            if shapely.area(part) > SLIVER_M2:
                pieces.append(part)
                kinds.append("block")
                comp_ids.append(None)
    # whatever the faces missed (boundary not on streets) still belongs to the community
    covered = shapely.union_all(np.asarray(pieces)) if pieces else shapely.Polygon()
    for part in shapely.get_parts(shapely.difference(community, covered)):
        if shapely.area(part) > SLIVER_M2:
            pieces.append(part)
            kinds.append("block")
            comp_ids.append(None)
    units = gpd.GeoDataFrame({"kind": kinds, "compound_id": comp_ids},
                             geometry=pieces, crs=crs)
    hh = households[households.intersects(community)]
    units = _count_households(units, hh)
    block_limit = max_households if block_split_households is None else block_split_households
    big = np.where(units["kind"] == "compound", units["households"] > max_households,
                   units["households"] > block_limit)
    if big.any():
        split = [_split_by_buildings(row.geometry, row.compound_id, buildings, hh)
                 for row in units[big].itertuples()]
        units = pd.concat([units[~big], *split], ignore_index=True)
    units = gpd.GeoDataFrame(units, geometry="geometry", crs=crs).reset_index(drop=True)
    units = as_coverage(units, community, grid_size=SNAP_GRID_M)
    # households again: rebuilding moved slivers between units and may have split some
    units = _count_households(units.drop(columns=["households", "population"]), hh)
    units.insert(0, "unit_id", [f"U{i:05d}" for i in range(len(units))])
    return units


def _count_households(units: gpd.GeoDataFrame, households: gpd.GeoDataFrame
                      ) -> gpd.GeoDataFrame:
    units = units.copy()
    n = np.zeros(len(units), dtype=int)
    pop = np.zeros(len(units), dtype=int)
    if len(households) and len(units):
        # a point on an edge counts once, in the lowest unit (gisgov.locate)
        row = locate_points(households.geometry, units.geometry)
        idx_h = np.flatnonzero(row >= 0)
        idx_u = row[idx_h]
        np.add.at(n, idx_u, 1)
        np.add.at(pop, idx_u, households["size"].fillna(1).astype(int).to_numpy()[idx_h])
    units["households"] = n
    units["population"] = pop
    return units


def _within_bounds(points: gpd.GeoDataFrame, bounds: tuple[float, float, float, float]
                   ) -> gpd.GeoDataFrame:
    """The rows of ``points`` inside (or on) ``bounds``, in their order."""
    geoms = np.asarray(points.geometry.values)
    x, y = shapely.get_x(geoms), shapely.get_y(geoms)
    minx, miny, maxx, maxy = bounds
    return points[(x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy)]


def _split_by_buildings(
    area: shapely.Geometry,
    compound_id: object,
    buildings: gpd.GeoDataFrame,
    households: gpd.GeoDataFrame,
) -> gpd.GeoDataFrame:
    """Voronoi cells of the buildings inside ``area``, clipped to it: one unit per building.

    Buildings are found through the spatial index and households by ``area``'s bounds first:
    a community has many such areas, and scanning all its buildings and households for each
    one grew with the square of the community's size (the reference county at 4× density
    spent 23 s here, 13 s of it making points).
    """
    inside = buildings.iloc[np.sort(buildings.sindex.query(area, predicate="intersects"))]
    households = _within_bounds(households, tuple(shapely.bounds(area)))
    if len(inside) < 2:
        one = gpd.GeoDataFrame({"kind": ["building" if len(inside) else "block"],
                                "compound_id": [compound_id]}, geometry=[area],
                               crs=buildings.crs)
        return _count_households(one, households)
    seeds = shapely.point_on_surface(np.asarray(inside.geometry.values))
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=area))
    tree = shapely.STRtree(cells)
    order = tree.query(seeds, predicate="intersects")
    cell_of_seed = np.full(len(seeds), -1)
    cell_of_seed[order[0]] = order[1]
    pieces = [shapely.intersection(cells[c], area) for c in cell_of_seed if c >= 0]
    out = gpd.GeoDataFrame(
        {"kind": "building", "compound_id": [compound_id] * len(pieces)},
        geometry=pieces, crs=buildings.crs,
    ).explode(index_parts=False, ignore_index=True)
    out = out[out.area > SLIVER_M2].reset_index(drop=True)
    return _count_households(out, households)


@dataclass
class _GridsRun:
    """What every community's grid partition reads: the layers in the metric CRS, the
    previous grids, the main streets, the target and each community's time budget."""

    layers: dict[str, gpd.GeoDataFrame]
    metric: dict[str, gpd.GeoDataFrame]
    previous: gpd.GeoDataFrame | None
    main: gpd.GeoDataFrame
    crs: pyproj.CRS
    target: int
    seed: int
    budget: dict[str, float]


@dataclass
class _CommunityGrids:
    """One community's grids, units, summary row and report notes."""

    grids: gpd.GeoDataFrame
    units: gpd.GeoDataFrame
    row: dict[str, object]
    notes: list[str]


def partition_grids(
    layers: dict[str, gpd.GeoDataFrame],
    *,
    communities: Sequence[str] | None = None,
    target_households: int = DEFAULT_TARGET_HOUSEHOLDS,
    crs: pyproj.CRS,
    seed: int = 0,
    time_limit: float = 60.0,
    progress: ProgressFn | None = None,
) -> GridsResult:
    """Partition communities into grids of about ``target_households`` households.

    Each community is partitioned on its own (:func:`_community_grids`): its units
    (:func:`_grid_units`), the engine at the tightest tolerance the units allow
    (:func:`_partition_units`), the grids drawn from the plan (:func:`_draw_grids`).

    Parameters
    ----------
    layers
        The workspace's layers (communities, streets, compounds, buildings, households;
        the current ``grids`` keep their codes where a new grid covers the same ground).
    communities
        Community codes to partition (default: every community).
    target_households
        Households per grid, 30–1000 (default 100, the reference county's figure).
    crs
        Metric working CRS.
    seed
        Randomness for the engine (same seed, same grids).
    time_limit
        Seconds for the whole run.
    progress
        ``progress(description, fraction)``.

    Returns
    -------
    GridsResult

    Raises
    ------
    ValidationError
        Unknown community codes or a target outside 30–1000.
    InfeasibleError
        A community whose units cannot be balanced even at the widest tolerance.
    """
    lo, hi = TARGET_RANGE
    if not lo <= target_households <= hi:
        raise ValidationError(f"target households per grid must be {lo}–{hi}, "
                              f"not {target_households}")
    started = time.monotonic()
    report_progress = progress or (lambda _d, _f: None)
    known = layers["communities"]["code"].astype(str).tolist()
    todo = list(communities) if communities else known
    unknown = [c for c in todo if c not in known]
    if unknown:
        raise ValidationError(f"unknown community code(s) {', '.join(unknown)}; "
                              f"the workspace has {', '.join(known)}")
    run = _grids_run(layers, todo, target_households, crs, seed, time_limit)
    done: list[_CommunityGrids] = []
    for i, code in enumerate(todo):
        report_progress(f"网格划分 {code}", i / len(todo))
        done.append(_community_grids(run, code))
    report_progress("网格划分完成", 1.0)
    grids_m = pd.concat([d.grids for d in done], ignore_index=True)
    grids_out = gpd.GeoDataFrame(grids_m, geometry="geometry", crs=crs).to_crs(STORAGE_CRS)
    # reprojection can fold a near-degenerate vertex; repair in the storage CRS too
    grids_out["geometry"] = [_main_parts(polygonal(g)) for g in grids_out.geometry]
    grids_out = conform("grids", grids_out.sort_values("code").reset_index(drop=True))
    units_out = gpd.GeoDataFrame(pd.concat([d.units for d in done], ignore_index=True), crs=crs)
    return GridsResult(grids=grids_out, units=units_out,
                       per_community=pd.DataFrame([d.row for d in done]),
                       report=[n for d in done for n in d.notes],
                       seconds=time.monotonic() - started)


def _grids_run(layers: dict[str, gpd.GeoDataFrame], todo: list[str], target: int,
               crs: pyproj.CRS, seed: int, time_limit: float) -> _GridsRun:
    """The layers in the metric CRS and the time shared out by households, so a large
    community is not starved by small ones."""
    metric = {n: layers[n].to_crs(crs) for n in
              ("communities", "streets", "compounds", "buildings", "households")}
    previous = layers.get("grids")
    prev_metric = previous.to_crs(crs) if previous is not None and len(previous) else None
    comm_metric = metric["communities"].set_index("code")
    hh_points = np.asarray(metric["households"].geometry.values)
    load = {c: 1 + int(shapely.contains_xy(comm_metric.geometry[c], shapely.get_x(hh_points),
                                            shapely.get_y(hh_points)).sum()) for c in todo}
    budget = {c: max(MIN_COMMUNITY_SECONDS, time_limit * load[c] / sum(load.values()))
              for c in todo}
    return _GridsRun(layers=layers, metric=metric, previous=prev_metric,
                     main=metric["streets"][metric["streets"]["class"] == "main"], crs=crs,
                     target=target, seed=seed, budget=budget)


def _community_grids(run: _GridsRun, code: str) -> _CommunityGrids:
    """The grids of one community, its units labelled with their grid code, its row of
    :attr:`GridsResult.per_community` and its notes."""
    t0 = time.monotonic()
    metric = run.metric
    geom = metric["communities"].set_index("code").geometry[code]
    units, k, notes = _grid_units(run, code, geom)
    total = int(units["households"].sum())
    free = units[units["grid"] < 0]
    if run.previous is not None:
        free = free.assign(current=_current_grid(free, run.previous))
    result, tol = _partition_units(run, code, free, max(1, k - int((units["grid"] >= 0).sum())))
    notes.extend(f"{code}: {line}" for line in result.report)
    if tol != TOLERANCES[0]:
        notes.append(f"{code}: balance relaxed to ±{tol:.0%} (the units allow no tighter)")
    units.loc[free.index, "grid"] = result.labels.loc[free.index].to_numpy()
    grids, labels = _draw_grids(run, code, geom, units, notes)
    units["grid_code"] = units["grid"].map(dict(zip(labels, grids["code"], strict=True)))
    units["community_code"] = code
    row = {"community_code": code, "households": total, "grids": len(grids),
           "tolerance": tol, "optimal": result.optimal, "method": result.method,
           "seconds": round(time.monotonic() - t0, 3)}
    return _CommunityGrids(grids=grids, units=units.drop(columns=["current"], errors="ignore"),
                           row=row, notes=notes)


def _grid_units(run: _GridsRun, code: str, geom: shapely.Geometry
                ) -> tuple[gpd.GeoDataFrame, int, list[str]]:
    """The community's units (:func:`community_units`) with a ``grid`` column: ``-1`` to be
    partitioned, or a grid of its own for a building cell heavier than any grid may be; the
    number of grids and the notes."""
    metric, target = run.metric, run.target
    upper = target * (1 + TOLERANCES[-1])
    units = community_units(
        geom, streets=metric["streets"], compounds=metric["compounds"],
        buildings=metric["buildings"], households=metric["households"],
        max_households=target * (1 + TOLERANCES[0]),
        block_split_households=BLOCK_SPLIT_SHARE * target,
    )
    k = max(1, round(int(units["households"].sum()) / target))
    units["grid"] = -1
    notes: list[str] = []
    solo = units.index[units["households"] > upper]
    for j, idx in enumerate(solo):
        units.loc[idx, "grid"] = 10_000 + j
        notes.append(f"{code}: building cell {units.loc[idx, 'unit_id']} holds "
                     f"{units.loc[idx, 'households']} households, more than a grid "
                     f"may; it forms a grid of its own")
    return units, k, notes


def _partition_units(run: _GridsRun, code: str, free: gpd.GeoDataFrame, k: int
                     ) -> tuple[PartitionResult, float]:
    """The engine on the free units, at each tolerance of :data:`TOLERANCES` in turn (the
    heuristic; the MILP fallback of ``method="auto"`` costs tens of seconds and is kept for
    the widest tolerance only); the plan and the tolerance it met."""
    from gisgov.districting import graph_from_units, partition

    # Units here come from one noded overlay, so they share exact edges: a tight snap
    # keeps corner-touching units from counting as neighbours (they would make grids
    # whose parts meet at a point).
    graph = graph_from_units(free, crs=run.crs, main_streets=run.main, snap=SNAP_M)
    per_deadline = run.budget[code]
    attempts: list[tuple[float, Literal["heuristic", "auto"], float]] = [
        (t, "heuristic", share * per_deadline) for t, share in zip(TOLERANCES, TIME_SHARES,
                                                                   strict=True)
    ] + [(TOLERANCES[-1], "auto", per_deadline)]
    last_error: InfeasibleError | None = None
    for tol, method, seconds in attempts:
        try:
            result = partition(
                free, weight="households", areas=k, tolerance=tol, method=method,
                current="current" if "current" in free.columns else None,
                crs=run.crs, seed=run.seed, time_limit=seconds, islands="bridge",
                starts=GRID_STARTS,
                iterations=max(GRID_MIN_ITERATIONS, GRID_ITERATIONS_PER_UNIT * len(free)),
                main_streets=run.main, graph=graph,
            )
            return result, tol
        except InfeasibleError as exc:
            last_error = exc
    assert last_error is not None
    raise InfeasibleError(f"community {code}: {last_error}", last_error.reasons)


def _draw_grids(run: _GridsRun, code: str, geom: shapely.Geometry, units: gpd.GeoDataFrame,
                notes: list[str]) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """The grid polygons of a labelled community: units merged per grid, fitted to the
    community, stray parts joined to their neighbour, coded (keeping the previous grids'
    codes where they cover the same ground) and named; with the unit label of each grid."""
    metric = run.metric
    community_hh = metric["households"][metric["households"].intersects(geom)]
    sums = units.groupby("grid")[["households", "population"]].sum()
    labels = sums.index.to_numpy()
    merged, moved = _contiguous(_fill_gaps(_grid_polygons(units, labels), geom), community_hh)
    grids = gpd.GeoDataFrame(sums.reset_index(drop=True), geometry=merged, crs=units.crs)
    if moved:
        # parts changed hands: count households by where they stand
        grids["households"], grids["population"] = _count_in(merged, community_hh)
        notes.append(f"{code}: {moved} stray part(s) of grids joined the neighbouring grid "
                     "they share most boundary with")
    prev_here = (run.previous[run.previous["community_code"] == code]
                 if run.previous is not None else None)
    grids["code"] = grid_codes(code, grids.geometry, previous=prev_here)
    grids["community_code"] = code
    grids["target_households"] = run.target
    comm = run.layers["communities"]
    grids["name"] = [f"{_community_name(comm, code)}第{c[-3:]}网格" for c in grids["code"]]
    return grids, labels


def _grid_polygons(units: gpd.GeoDataFrame, labels: np.ndarray) -> np.ndarray:
    """One polygon per grid label: the coverage union of its units (exact, see
    :func:`_as_coverage`)."""
    geoms = np.asarray(units.geometry.values)
    grid = units["grid"].to_numpy()
    return np.asarray([polygonal(shapely.coverage_union_all(geoms[grid == lab]))
                       for lab in labels], dtype=object)


def _contiguous(polys: np.ndarray, households: gpd.GeoDataFrame) -> tuple[np.ndarray, int]:
    """Give every part but the main one of a multi-part grid to its best-bordering neighbour.

    The unit graph counts units as neighbours when they share at least a metre of edge, but
    once units are merged into polygons a grid can still come out in parts (units joined
    through a sliver). A stray part goes to the grid it shares most boundary with; an
    isolated part (an exclave of the community) stays and is reported as non-contiguous.
    The main part is the one with most households (then the largest), so the grid keeps
    the people it was balanced for.
    """
    out = np.array(polys, dtype=object)
    moved = 0
    for i in range(len(out)):
        parts = shapely.get_parts(out[i])
        if len(parts) <= 1:
            continue
        people, _ = _count_in(parts, households)
        order = np.lexsort((-shapely.area(parts), -people))
        keep = [parts[order[0]]]
        for p in parts[order[1:]]:
            others = np.array([j for j in range(len(out)) if j != i], dtype=np.int64)
            shared = shapely.length(shapely.intersection(shapely.boundary(p),
                                                         shapely.boundary(out[others])))
            if len(others) and shared.max() > 0:
                j = int(others[int(np.argmax(shared))])
                out[j] = polygonal(shapely.union(out[j], p))
                # specks left by the overlays are not worth a note; parts with area are
                moved += int(shapely.area(p) > SLIVER_M2)
            elif shapely.area(p) < SPECK_M2:
                continue  # a speck touching only at a corner: drawing noise, dropped
            else:
                keep.append(p)
        out[i] = shapely.union_all(keep)
    return out, moved


def _count_in(polys: np.ndarray, households: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    n = np.zeros(len(polys), dtype=int)
    pop = np.zeros(len(polys), dtype=int)
    if len(households):
        row = locate_points(households.geometry, polys)  # the boundary rule of gisgov.locate
        idx_h = np.flatnonzero(row >= 0)
        np.add.at(n, row[idx_h], 1)
        np.add.at(pop, row[idx_h], households["size"].fillna(1).astype(int).to_numpy()[idx_h])
    return n, pop


def _fill_gaps(geoms: np.ndarray, community: shapely.Geometry) -> np.ndarray:
    """Fit the grids to the community exactly: clip what sticks out, fill what is missing.

    Snap rounding moves edges by centimetres, so the grids' outline runs a hair inside or
    outside the community's. Each grid is clipped to the community, then takes the strip of
    the gap lying along its own edge (within :data:`FIT_M`); any gap left (a sliver the units
    dropped) goes to the grid it borders most. Grids then tile their community exactly.
    """
    out = np.asarray([polygonal(shapely.intersection(g, community)) for g in geoms],
                     dtype=object)
    gap = shapely.difference(community, shapely.union_all(out))
    if not shapely.is_empty(gap) and shapely.area(gap) > 0:
        near = shapely.STRtree(out).query(gap, predicate="dwithin", distance=FIT_M)
        for i in near:
            take = shapely.intersection(gap, shapely.buffer(out[i], FIT_M, join_style="mitre"))
            if shapely.is_empty(take) or shapely.area(take) <= 0:
                continue
            out[i] = polygonal(shapely.union(out[i], take))
            gap = shapely.difference(gap, take)
    for part in shapely.get_parts(gap):
        if shapely.is_empty(part) or shapely.area(part) <= SLIVER_M2:
            continue
        touching = shapely.length(shapely.intersection(shapely.boundary(part), out))
        nearest = (int(np.argmax(touching)) if touching.max() > 0
                   else int(np.argmin(shapely.distance(part, out))))
        out[nearest] = polygonal(shapely.union(out[nearest], part))
    return out


def _main_parts(geom: shapely.Geometry) -> shapely.Geometry:
    """Drop parts of no extent (under a millionth of the whole) that repairs leave behind."""
    parts = shapely.get_parts(geom)
    if len(parts) <= 1:
        return geom
    areas = shapely.area(parts)
    return shapely.union_all(parts[areas > 1e-6 * areas.sum()])


def _current_grid(units: gpd.GeoDataFrame, previous: gpd.GeoDataFrame) -> pd.Series:
    """The previous grid each unit mostly lay in (its representative point), if any."""
    return pd.Series(codes_at(shapely.point_on_surface(np.asarray(units.geometry.values)),
                              previous), index=units.index, dtype=object)


def _community_name(communities: gpd.GeoDataFrame, code: str) -> str:
    names = communities.set_index("code")["name"]
    return str(names.get(code, code))
