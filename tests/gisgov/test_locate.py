"""One locator: every part of gisgov puts a point on a shared edge or vertex in the same grid.

The boundary rule (gisgov.locate): boundary included, the lowest code among the polygons
covering a point. Checked on an exact lattice (edge midpoints and four-way corners are
representable, so they lie *on* the edges) and on the reference county's communities (their
shared vertices), through every caller: the locator's batch and indexed forms, the
responsibility lookup, the grid report (party), staffing, the grid partition's counts and
the maps (the grid map's household counts and a community map's households).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gisgov.grids.partition import _count_in, _current_grid
from gisgov.grids.party import grid_of_points
from gisgov.grids.staffing import _community_of, _grids_with_property_management
from gisgov.locate import Locator, codes_at, locate_points, locate_xy, rows_at
from gisgov.lookup import LookupIndex
from maps._subset import subset
from maps.grids import grid_summary

# A 4×4 lattice of grids with sides of 1/256 degree: every corner and edge midpoint is a
# binary fraction, so the points below lie exactly on the edges they name.
SIDE = 1 / 256
LON0, LAT0 = 114.0, 34.5


def lattice() -> gpd.GeoDataFrame:
    """Sixteen square grids in lattice order whose codes are shuffled against the rows."""
    rng = np.random.default_rng(7)
    cells = [(i, j) for i in range(4) for j in range(4)]
    codes = [f"4102230010010{k:02d}" for k in rng.permutation(len(cells))]
    geoms = [shapely.box(LON0 + i * SIDE, LAT0 + j * SIDE, LON0 + (i + 1) * SIDE,
                         LAT0 + (j + 1) * SIDE) for i, j in cells]
    return gpd.GeoDataFrame({"code": codes, "name": codes, "community_code": codes},
                            geometry=geoms, crs="EPSG:4326")


def lattice_points() -> tuple[np.ndarray, np.ndarray]:
    """Interior points, edge midpoints, corners (2-, 3- and 4-way) and outside points."""
    half = np.arange(0, 9) * SIDE / 2  # 0, ½, 1, … 4 sides
    xx, yy = np.meshgrid(LON0 + half, LAT0 + half)
    x = np.concatenate([xx.ravel(), [LON0 - SIDE, LON0 + 5 * SIDE]])
    y = np.concatenate([yy.ravel(), [LAT0, LAT0 + 2 * SIDE]])
    return x, y


def expected(grids: gpd.GeoDataFrame, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The rule written out the slow way: lowest code among the grids covering the point."""
    codes = grids["code"].to_numpy()
    out = np.full(len(x), None, dtype=object)
    for k in range(len(x)):
        hit = [c for c, g in zip(codes, grids.geometry, strict=True)
               if shapely.covers(g, shapely.Point(x[k], y[k]))]
        out[k] = min(hit) if hit else None
    return out


def every_caller(grids: gpd.GeoDataFrame, x: np.ndarray, y: np.ndarray
                 ) -> dict[str, np.ndarray]:
    """The grid code each caller gives every point."""
    codes = grids["code"].astype(str).to_numpy()
    pts = gpd.GeoSeries(shapely.points(x, y), crs=grids.crs)
    frame = gpd.GeoDataFrame({"id": [f"p{i}" for i in range(len(x))]}, geometry=pts)

    def code_of(rows: np.ndarray) -> np.ndarray:
        return np.array([codes[r] if r >= 0 else None for r in rows], dtype=object)

    row, _ = locate_xy(x, y, grids.geometry, codes=codes)
    indexed, _ = Locator(grids.geometry, codes=codes).locate_many(x, y)
    single = [Locator(grids.geometry, codes=codes).locate(float(a), float(b))
              for a, b in zip(x, y, strict=True)]
    lookup = LookupIndex.from_layers({"grids": grids}).lookup_many(x, y, distances=False)
    # the partition counts polygons in row order, so give it the grids sorted by code
    by_code = grids.sort_values("code").reset_index(drop=True)
    partition_counts = []
    for k in range(len(x)):
        n, _ = _count_in(np.asarray(by_code.geometry.values), frame.iloc[[k]].assign(size=1))
        partition_counts.append(by_code["code"].iloc[int(np.argmax(n))] if n.sum() else None)
    # staffing: a member's community is that of its grid (community_code == code here)
    community = _community_of(frame, grids)
    managed = []
    for k in range(len(x)):
        compound = frame.iloc[[k]].assign(property_managed=True)
        flags = _grids_with_property_management(grids, compound)
        managed.append(codes[int(np.flatnonzero(flags)[0])] if flags.any() else None)
    # maps: the grid map's household count per grid, and a community map's households
    counted = []
    for k in range(len(x)):
        summary = grid_summary({"grids": grids, "households": frame.iloc[[k]]})
        hit = summary.loc[summary["households"] > 0, "code"]
        counted.append(hit.iloc[0] if len(hit) == 1 else None if not len(hit) else "twice")
    shown = np.full(len(x), None, dtype=object)
    as_communities = {"communities": grids, "households": frame}
    for code in codes:
        ids = subset(as_communities, code)[0]["households"]["id"]
        rows = ids.str[1:].astype(int).to_numpy()
        shown[rows] = np.where(shown[rows] == None, code, "twice")  # noqa: E711
    return {
        "locate_xy": code_of(row),
        "Locator.locate_many": code_of(indexed),
        "Locator.locate": np.array([codes[s[0]] if s else None for s in single], dtype=object),
        "locate_points": code_of(locate_points(pts, grids.geometry, codes=codes)),
        "codes_at": codes_at(pts, grids),
        "lookup.lookup_many": lookup.grid_codes,
        "party.grid_of_points": grid_of_points(pts, grids),
        "staffing._community_of": np.array([c or None for c in community], dtype=object),
        "staffing._grids_with_property_management": np.array(managed, dtype=object),
        "partition._count_in": np.array(partition_counts, dtype=object),
        "partition._current_grid": _current_grid(frame, grids).to_numpy(dtype=object),
        "rows_at": code_of(rows_at(frame, grids)),
        "maps.grid_summary": np.array(counted, dtype=object),
        "maps._subset.subset": shown,
    }


def test_lattice_edges_and_corners_go_to_the_lowest_code_everywhere() -> None:
    grids = lattice()
    x, y = lattice_points()
    want = expected(grids, x, y)
    # the lattice really has points on 2-way edges and 4-way corners, and outside points
    touching = locate_xy(x, y, grids.geometry)[1]
    assert {0, 1, 2, 4} <= set(touching.tolist())
    for caller, got in every_caller(grids, x, y).items():
        assert got.tolist() == want.tolist(), caller


def test_lookup_single_answers_agree_on_the_lattice() -> None:
    grids = lattice()
    x, y = lattice_points()
    index = LookupIndex.from_layers({"grids": grids})
    want = expected(grids, x, y)
    for k in range(len(x)):
        if want[k] is None:
            continue
        hit = index.lookup(float(x[k]), float(y[k]))
        assert hit.grid.code == want[k]
        assert hit.on_boundary == (len(hit.grids) > 1 or hit.distance_to_boundary_m < 0.01)


def test_county_shared_vertices_agree(county_layers: dict[str, gpd.GeoDataFrame]) -> None:
    """The reference county's communities as grids: their own shared vertices."""
    comm = county_layers["communities"][["code", "name", "geometry"]].copy()
    comm["community_code"] = comm["code"]
    comm = comm.iloc[::-1].reset_index(drop=True)  # row order against code order
    xy = shapely.get_coordinates(np.asarray(comm.geometry.values))
    xy = np.unique(xy, axis=0)
    touching = locate_xy(xy[:, 0], xy[:, 1], comm.geometry)[1]
    shared = xy[touching > 1]
    assert len(shared) >= 10  # the county's communities do share edges
    rng = np.random.default_rng(1)
    pick = shared[rng.choice(len(shared), size=min(40, len(shared)), replace=False)]
    x, y = pick[:, 0], pick[:, 1]
    want = expected(comm, x, y)
    assert all(w is not None for w in want)
    for caller, got in every_caller(comm, x, y).items():
        assert got.tolist() == want.tolist(), caller


def test_codes_must_match_polygons() -> None:
    with pytest.raises(ValueError, match="2 polygons but 1 codes"):
        locate_xy([0.0], [0.0], [shapely.box(0, 0, 1, 1)] * 2, codes=["a"])


def test_given_points_are_located_as_built_ones(
        county_layers: dict[str, gpd.GeoDataFrame]) -> None:
    """``locate_xy(..., points=)`` queries a layer's own Point geometries instead of building
    them again: the same rows and counts, also on the communities' shared vertices."""
    comm = county_layers["communities"]
    codes = comm["code"].to_numpy()
    vertices = np.unique(shapely.get_coordinates(np.asarray(comm.geometry.values)), axis=0)
    pts = np.concatenate([np.asarray(county_layers["households"].geometry.values),
                          shapely.points(vertices)])
    x, y = shapely.get_x(pts), shapely.get_y(pts)
    built = locate_xy(x, y, comm.geometry, codes=codes)
    given = locate_xy(x, y, comm.geometry, codes=codes, points=pts)
    assert (built[1] > 1).sum() >= 10  # shared vertices among them
    assert given[0].tolist() == built[0].tolist()
    assert given[1].tolist() == built[1].tolist()
    assert locate_points(pts, comm.geometry, codes=codes).tolist() == built[0].tolist()
    with pytest.raises(ValueError, match="coordinates but"):
        locate_xy(x, y, comm.geometry, points=pts[:-1])
