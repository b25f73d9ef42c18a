"""四至 text: "东至××路，南至××街，西至××社区，北至××小区" for each area.

Each area's outline is cut into its edges; an edge faces east, south, west or north by its
outward normal. Along each side we measure how much boundary runs beside each named street
(within ``street_buffer`` metres) and how much touches each neighbouring named polygon (other
areas, and any context such as outside communities or compounds). The side is described by the
street running along most of it when that covers at least ``street_share`` of the side,
otherwise by the neighbour along most of it, otherwise by the longest street at all.
"""

from __future__ import annotations

import math
from collections import defaultdict

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

__all__ = ["SIDES", "boundary_text", "sides_of"]

SIDES = ("东", "南", "西", "北")


def _side(nx: float, ny: float) -> str:
    ang = math.degrees(math.atan2(ny, nx))
    if -45 <= ang < 45:
        return "东"
    if 45 <= ang < 135:
        return "北"
    if ang >= 135 or ang < -135:
        return "西"
    return "南"


def sides_of(
    geom: shapely.Geometry,
    *,
    streets: list[tuple[str, shapely.Geometry]],
    neighbours: list[tuple[str, shapely.Geometry]],
    street_buffer: float = 15.0,
    probe: float = 3.0,
) -> dict[str, dict[str, dict[str, float]]]:
    """Metres of each side of ``geom`` along each street and each neighbour (metric CRS)."""
    out: dict[str, dict[str, dict[str, float]]] = {
        s: {"streets": defaultdict(float), "neighbours": defaultdict(float), "length": {"": 0.0}}
        for s in SIDES
    }
    polys: list[shapely.Polygon] = [
        p for p in shapely.get_parts(geom).tolist() if isinstance(p, shapely.Polygon)
    ]
    st_geoms = [shapely.buffer(g, street_buffer) for _, g in streets]
    st_tree = shapely.STRtree(st_geoms) if st_geoms else None
    nb_geoms = [g for _, g in neighbours]
    nb_tree = shapely.STRtree(nb_geoms) if nb_geoms else None
    for poly in polys:
        ring = shapely.geometry.polygon.orient(poly, 1.0).exterior
        coords = np.asarray(ring.coords)
        seg = np.asarray(shapely.linestrings(np.stack([coords[:-1], coords[1:]], axis=1)), dtype=object)
        d = coords[1:] - coords[:-1]
        lengths = np.hypot(d[:, 0], d[:, 1])
        for i in np.flatnonzero(lengths > 0.5):
            # Exterior is counter-clockwise: the outward normal is the direction turned right.
            nx_, ny_ = d[i, 1] / lengths[i], -d[i, 0] / lengths[i]
            side = _side(nx_, ny_)
            out[side]["length"][""] += float(lengths[i])
            mid = coords[i] + d[i] / 2
            if st_tree is not None:
                for j in st_tree.query(seg[i], predicate="intersects"):
                    inside = shapely.length(shapely.intersection(seg[i], st_geoms[j]))
                    if inside > 0.3 * lengths[i]:
                        out[side]["streets"][streets[int(j)][0]] += float(inside)
            if nb_tree is not None:
                pt = shapely.Point(mid[0] + nx_ * probe, mid[1] + ny_ * probe)
                for j in nb_tree.query(pt, predicate="intersects"):
                    out[side]["neighbours"][neighbours[int(j)][0]] += float(lengths[i])
                    break
    return out


def boundary_text(
    areas: gpd.GeoDataFrame,
    *,
    name: str,
    streets: gpd.GeoDataFrame | None = None,
    context: gpd.GeoDataFrame | None = None,
    context_name: str = "name",
    crs: object | None = None,
    street_share: float = 0.3,
    street_buffer: float = 15.0,
) -> dict[object, str]:
    """The 四至 text of each area, keyed by the areas' index.

    Parameters
    ----------
    areas
        Area polygons with a CRS and a ``name`` column (neighbouring areas are named by it).
    name
        Column of ``areas`` holding display names (e.g. ``幸福社区``).
    streets
        Street lines with a ``name`` column; unnamed streets are ignored.
    context
        Other named polygons around (outside communities, compounds) to name a side by.
    context_name
        Name column of ``context``.
    crs
        Metric CRS (default: the areas' UTM zone).
    street_share
        A street names a side when it runs along at least this share of it.
    street_buffer
        Metres from a street centreline that count as "along" it.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> a = gpd.GeoDataFrame({"n": ["甲社区", "乙社区"]},
    ...     geometry=[shapely.box(0, 0, 100, 100), shapely.box(100, 0, 200, 100)], crs=32650)
    >>> s = gpd.GeoDataFrame({"name": ["人民路"]},
    ...     geometry=[shapely.LineString([(-5, -50), (-5, 150)])], crs=32650)
    >>> boundary_text(a, name="n", streets=s)[0]
    '东至乙社区，南至辖区边界，西至人民路，北至辖区边界'
    """
    mcrs = CRS.from_user_input(crs) if crs is not None else (
        CRS.from_user_input(areas.crs) if areas.crs is not None and not areas.crs.is_geographic
        else CRS.from_user_input(areas.estimate_utm_crs())
    )
    a = areas.to_crs(mcrs)
    st: list[tuple[str, shapely.Geometry]] = []
    if streets is not None and len(streets):
        s = streets.to_crs(mcrs)
        named = s[s["name"].notna() & (s["name"].astype(str).str.len() > 0)]
        merged = named.dissolve(by="name")
        st = [(str(nm), g) for nm, g in zip(merged.index, merged.geometry, strict=True)]
    out: dict[object, str] = {}
    for idx, geom in zip(a.index, a.geometry, strict=True):
        nbs = [(str(nm), g) for j, nm, g in zip(a.index, a[name], a.geometry, strict=True) if j != idx]
        if context is not None and len(context):
            c = context.to_crs(mcrs)
            nbs += [(str(nm), g) for nm, g in zip(c[context_name], c.geometry, strict=True)
                    if not shapely.within(g, geom)]
        tally = sides_of(geom, streets=st, neighbours=nbs, street_buffer=street_buffer)
        parts = []
        for side in SIDES:
            t = tally[side]
            total = t["length"][""]
            best_st = max(t["streets"].items(), key=lambda kv: kv[1], default=None)
            best_nb = max(t["neighbours"].items(), key=lambda kv: kv[1], default=None)
            if best_st and best_st[1] >= street_share * total:
                label = best_st[0]
            elif best_nb:
                label = best_nb[0]
            elif best_st:
                label = best_st[0]
            else:
                label = "辖区边界"
            parts.append(f"{side}至{label}")
        out[idx] = "，".join(parts)
    return out
