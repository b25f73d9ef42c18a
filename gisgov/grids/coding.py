"""Grid codes: the community's 12-digit code + a 3-digit sequence, west→east, north→south.

The numbering follows the Beijing DB11 unit-grid convention (docs/REFERENCES.md): rows
of grids are read from north to south and, inside a row, from west to east. Re-running the
partition after a local change keeps the codes of grids that did not change, so staff,
branches and printed maps that quote a code stay right.
"""

from __future__ import annotations

from collections.abc import Sequence

import geopandas as gpd
import numpy as np
import shapely

from gisgov.errors import ValidationError

__all__ = ["MAX_GRIDS_PER_COMMUNITY", "grid_codes", "reading_order"]

#: Three digits: 001–999.
MAX_GRIDS_PER_COMMUNITY = 999

#: Area overlap (intersection over union) above which a new grid "is" a previous one.
SAME_GRID_IOU = 0.9


def reading_order(polygons: gpd.GeoSeries) -> np.ndarray:
    """Positions of ``polygons`` in north→south, west→east reading order.

    Rows are bands whose height is the median grid height, so grids whose centres differ by
    a little in latitude still read left to right as one row.

    Parameters
    ----------
    polygons
        Grid polygons in a metric CRS (or any CRS where y grows northwards).

    Returns
    -------
    numpy.ndarray
        Indices into ``polygons`` in reading order.
    """
    if len(polygons) == 0:
        return np.zeros(0, dtype=int)
    pts = shapely.point_on_surface(np.asarray(polygons.values))
    x = shapely.get_x(pts)
    y = shapely.get_y(pts)
    b = polygons.bounds.to_numpy()
    band = float(np.median(b[:, 3] - b[:, 1])) or 1.0
    row = np.floor((y.max() - y) / band).astype(int)
    return np.lexsort((x, row))


def grid_codes(
    community_code: str,
    polygons: gpd.GeoSeries,
    *,
    previous: gpd.GeoDataFrame | None = None,
) -> list[str]:
    """Give each grid polygon its 15-digit code.

    Parameters
    ----------
    community_code
        The community's 12-digit code.
    polygons
        The new grids of that community, in a metric CRS.
    previous
        The community's grids before this run (``code`` and geometry in the same CRS): a new
        grid that covers the same ground as a previous one (area IoU ≥ 0.9) keeps its code;
        the others take the lowest free numbers in reading order.

    Returns
    -------
    list of str
        One code per polygon, in input order.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> cells = gpd.GeoSeries([shapely.box(100, 0, 200, 100), shapely.box(0, 0, 100, 100),
    ...                        shapely.box(0, 100, 100, 200)], crs="EPSG:32650")
    >>> grid_codes("410223001001", cells)
    ['410223001001003', '410223001001002', '410223001001001']
    """
    if len(community_code) != 12 or not community_code.isdigit():
        raise ValidationError(f"community code {community_code!r} must be 12 digits")
    n = len(polygons)
    if n > MAX_GRIDS_PER_COMMUNITY:
        raise ValidationError(
            f"{n} grids in community {community_code}: a 3-digit sequence allows at most "
            f"{MAX_GRIDS_PER_COMMUNITY}; raise --target-households"
        )
    codes: list[str | None] = [None] * n
    used: set[str] = set()
    if previous is not None and len(previous):
        kept = _match_previous(polygons, previous)
        for i, code in kept.items():
            codes[i] = code
            used.add(code)
    free = (f"{community_code}{s:03d}" for s in range(1, MAX_GRIDS_PER_COMMUNITY + 1))
    for i in reading_order(polygons):
        if codes[int(i)] is None:
            code = next(c for c in free if c not in used)
            codes[int(i)] = code
            used.add(code)
    return [str(c) for c in codes]


def _match_previous(polygons: gpd.GeoSeries, previous: gpd.GeoDataFrame) -> dict[int, str]:
    """Map new polygon positions to previous codes when they cover the same ground."""
    # a reprojected layer can carry a folded vertex; overlay needs valid input
    new = shapely.make_valid(np.asarray(polygons.values))
    old = shapely.make_valid(np.asarray(previous.geometry.values))
    old_codes: Sequence[str] = previous["code"].astype(str).tolist()
    tree = shapely.STRtree(old)
    pairs = tree.query(new, predicate="intersects")
    best: dict[int, tuple[float, str]] = {}
    for i, j in zip(pairs[0], pairs[1], strict=True):
        inter = shapely.area(shapely.intersection(new[i], old[j]))
        union = shapely.area(new[i]) + shapely.area(old[j]) - inter
        iou = float(inter / union) if union > 0 else 0.0
        if iou >= SAME_GRID_IOU and iou > best.get(int(i), (0.0, ""))[0]:
            best[int(i)] = (iou, old_codes[int(j)])
    # one previous code for one new grid only: the best match wins
    taken: dict[str, tuple[float, int]] = {}
    for i, (iou, code) in best.items():
        if code not in taken or iou > taken[code][0]:
            taken[code] = (iou, i)
    return {i: code for code, (_, i) in taken.items()}
