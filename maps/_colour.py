"""Colouring: a qualitative palette, assigned so that touching polygons differ."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

__all__ = ["PALETTE", "greedy_colours"]

#: Qualitative palette (ColorBrewer Set3/Paired, colour-blind friendlier ordering).
PALETTE: tuple[str, ...] = (
    "#8dd3c7",
    "#fdb462",
    "#bebada",
    "#fb8072",
    "#80b1d3",
    "#b3de69",
    "#fccde5",
    "#ffed6f",
    "#bc80bd",
    "#ccebc5",
)


def greedy_colours(gdf: gpd.GeoDataFrame) -> list[str]:
    """Palette colours so that touching polygons differ (greedy graph colouring)."""
    geoms = np.asarray(gdf.geometry.values)
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    neighbours: dict[int, set[int]] = {i: set() for i in range(len(geoms))}
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        if a != b:
            neighbours[a].add(b)
    colour: dict[int, int] = {}
    for i in range(len(geoms)):
        used = {colour[j] for j in neighbours[i] if j in colour}
        colour[i] = next(c for c in range(len(PALETTE) + len(geoms)) if c not in used)
    return [PALETTE[colour[i] % len(PALETTE)] for i in range(len(geoms))]
