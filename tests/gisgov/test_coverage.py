"""Snapping a layer of areas to the storage precision: one coverage, overlaps resolved."""

from __future__ import annotations

import numpy as np
import shapely

from gisgov.coverage import snap_coverage
from gisgov.locate import locate_xy


def test_overlap_goes_to_the_lowest_code_and_neighbours_share_vertices() -> None:
    # B (row 0) reaches 0.01 into A (row 1); A has the lower code and keeps the strip
    b = shapely.box(0.99, 0.0, 2.0, 1.0)
    a = shapely.Polygon([(0, 0), (1.0000003, 0), (1.0000001, 0.5), (1, 1), (0, 1)])
    out = snap_coverage([b, a], codes=["B", "A"], grid_size=1e-6)
    assert shapely.area(shapely.intersection(out[0], out[1])) == 0.0
    assert abs(shapely.area(out[1]) - shapely.area(a)) < 1e-5
    assert abs(shapely.area(out[0]) - (shapely.area(b) - 0.01)) < 1e-5
    # the shared edge has the same vertices on both sides
    edge = shapely.intersection(out[0].boundary, out[1].boundary)
    assert shapely.length(edge) > 0.99
    va = {tuple(p) for p in shapely.get_coordinates(out[1])}
    vb = {tuple(p) for p in shapely.get_coordinates(out[0])}
    assert {tuple(p) for p in shapely.get_coordinates(edge)} <= va & vb
    # and the locator puts a point of the old overlap in A
    row, touching = locate_xy([0.995], [0.5], out, codes=["B", "A"])
    assert row.tolist() == [1]
    assert touching.tolist() == [1]


def test_gaps_stay_gaps_and_missing_rows_are_kept() -> None:
    left, right = shapely.box(0, 0, 1, 1), shapely.box(1.5, 0, 2.5, 1)
    out = snap_coverage([left, None, right], grid_size=1e-6)
    assert out[1] is None
    assert shapely.equals(out[0], left)
    assert shapely.equals(out[2], right)
    assert np.isclose(shapely.area(shapely.union_all(out[[0, 2]])), 2.0)


def test_holes_are_not_filled() -> None:
    ring = shapely.box(0, 0, 3, 3).difference(shapely.box(1, 1, 2, 2))
    out = snap_coverage([ring], grid_size=1e-6)
    assert np.isclose(shapely.area(out[0]), 8.0)
