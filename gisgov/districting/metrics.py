"""Plan metrics: per area and for the whole plan, before vs after.

Compactness is measured on the dissolved area polygons in the metric CRS: Polsby-Popper
``4πA/P²`` and Reock ``A / (π r²)`` with ``r`` the minimum bounding circle's radius. Households
moved are counted against the best one-to-one matching of new areas to current labels
(Hungarian), so relabelling alone never counts as moving anyone.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.optimize import linear_sum_assignment

from gisgov.districting.graph import UnitGraph

__all__ = ["PlanMetrics", "dissolve_areas", "match_current", "plan_metrics"]


@dataclass
class PlanMetrics:
    """Metrics of one plan.

    Attributes
    ----------
    areas
        One row per area: ``area``, ``weight``, ``population`` (when given), ``area_km2``,
        ``polsby_popper``, ``reock``, ``main_street_share``, ``moved_in``, ``moved_out``,
        ``contiguous``, ``continues`` (matched current label or null).
    max_deviation
        Largest ``|weight − ideal| / ideal``.
    cut_edges
        Adjacent unit pairs in different areas.
    mean_polsby_popper, mean_reock
        Means over areas.
    households_moved
        Weight whose area does not continue the unit's current label.
    """

    areas: pd.DataFrame
    max_deviation: float
    cut_edges: int
    mean_polsby_popper: float
    mean_reock: float
    households_moved: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "max_deviation": self.max_deviation,
            "cut_edges": self.cut_edges,
            "mean_polsby_popper": self.mean_polsby_popper,
            "mean_reock": self.mean_reock,
            "households_moved": self.households_moved,
            "areas": [
                {k: (None if (isinstance(v, float) and math.isnan(v)) else _plain(v))
                 for k, v in row.items()}
                for row in self.areas.to_dict(orient="records")
            ],
        }


def _plain(v: object) -> object:
    if isinstance(v, np.generic):
        return v.item()
    return v


def dissolve_areas(units: gpd.GeoDataFrame, labels: pd.Series | np.ndarray) -> gpd.GeoDataFrame:
    """Dissolve units into area polygons (index = area label), in the units' CRS."""
    lab = np.asarray(labels)
    geoms = shapely.make_valid(np.asarray(units.geometry.to_numpy(), dtype=object))
    keys = sorted(set(lab.tolist()), key=lambda v: (str(type(v)), v))
    out = []
    for key in keys:
        part = geoms[lab == key]
        try:
            merged = shapely.union_all(part)
        except shapely.errors.GEOSException:
            # Round-tripped coordinates can leave near-coincident edges; a tiny snap fixes it.
            merged = shapely.union_all(shapely.set_precision(part, 1e-9 if units.crs and units.crs.is_geographic else 1e-3))
        out.append(_fill_slivers(shapely.make_valid(merged), units.crs))
    return gpd.GeoDataFrame({"area": keys}, geometry=out, crs=units.crs).set_index("area")


def _fill_slivers(geom: shapely.Geometry, crs: object) -> shapely.Geometry:
    """Drop hairline holes left where unit edges do not share vertices exactly (they would
    otherwise inflate perimeters and wreck Polsby-Popper); real holes (> 1 m²) stay."""
    geographic = bool(getattr(crs, "is_geographic", False))
    tiny = 1e-10 if geographic else 1.0
    polys = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon"]
    fixed = [
        shapely.Polygon(p.exterior, [r for r in p.interiors if shapely.Polygon(r).area > tiny])
        for p in polys
    ]
    if not fixed:
        return geom
    return fixed[0] if len(fixed) == 1 else shapely.MultiPolygon(fixed)


def match_current(labels: np.ndarray, current: list[Hashable | None], weights: np.ndarray,
                  fixed: Mapping[Any, Any] | None = None) -> dict[Any, Any]:
    """Best one-to-one match of new areas to current labels by shared weight.

    ``fixed`` pairs ``{area: current label}`` are matched first (locks to a community code:
    the area of the locked unit *is* that community), the rest by shared weight.
    """
    lab = np.asarray(labels)
    cur = pd.Series(current, dtype=object)
    present = cur.notna().to_numpy()
    if not present.any():
        return {}
    areas = sorted(set(lab.tolist()))
    olds = sorted({str(v) for v in cur[present]})
    a_pos = {a: i for i, a in enumerate(areas)}
    o_pos = {o: i for i, o in enumerate(olds)}
    mat = np.zeros((len(areas), len(olds)))
    for a, o, wu in zip(lab[present], cur[present], weights[present], strict=True):
        mat[a_pos[a], o_pos[str(o)]] += wu
    raw = {str(v): v for v in cur[present]}
    out: dict[Any, Any] = {}
    for a, o in (fixed or {}).items():
        if a in a_pos:
            out[a] = raw.get(str(o), o)
            if str(o) in o_pos:
                mat[:, o_pos[str(o)]] = -1.0  # nobody else takes a locked code
            mat[a_pos[a], :] = -1.0
    r, c = linear_sum_assignment(-mat)
    out.update({areas[i]: raw[olds[j]] for i, j in zip(r, c, strict=True)
                if mat[i, j] > 0 and areas[i] not in out})
    return out


def plan_metrics(
    units: gpd.GeoDataFrame,
    labels: pd.Series | np.ndarray,
    *,
    weight: str,
    graph: UnitGraph,
    population: str | None = None,
    current: str | None = None,
    main_streets: gpd.GeoDataFrame | gpd.GeoSeries | None = None,
    street_buffer: float = 8.0,
    fixed: Mapping[Any, Any] | None = None,
) -> PlanMetrics:
    """Metrics of the plan ``labels`` over ``units`` (labels indexed like the units).

    Parameters
    ----------
    units
        The units the plan labels.
    labels
        Area label per unit.
    weight
        The balanced weight column (households).
    graph
        The units' graph (cut edges, contiguity, metric CRS).
    population
        Optional population column, summed per area.
    current
        Column of current labels, for households moved in/out.
    main_streets
        Main street lines for the share of area boundary along them.
    street_buffer
        Metres either side of a main street that count as "along" it.
    fixed
        ``{area label: current label}`` pairs the match must keep (locks to a community
        code), see :func:`match_current`.
    """
    lab_raw = np.asarray(labels)
    codes, lab = np.unique(lab_raw, return_inverse=True)
    k = len(codes)
    w = units[weight].to_numpy(dtype=float)
    metric = units.to_crs(graph.crs)
    diss = dissolve_areas(metric, lab)
    geoms = diss.geometry.reindex(range(k)).to_numpy()
    area = shapely.area(geoms)
    per = shapely.length(shapely.boundary(geoms))
    pp = np.where(per > 0, 4 * math.pi * area / per**2, 0.0)
    radius = shapely.minimum_bounding_radius(geoms)
    reock = np.where(radius > 0, area / (math.pi * radius**2), 0.0)
    weights = np.bincount(lab, weights=w, minlength=k)
    ideal = float(w.sum()) / k
    share = np.full(k, np.nan)
    if main_streets is not None and len(main_streets):
        ms = main_streets.geometry if isinstance(main_streets, gpd.GeoDataFrame) else main_streets
        corridor = shapely.union_all(shapely.buffer(ms.to_crs(graph.crs).to_numpy(), street_buffer))
        outer = shapely.union_all(geoms).boundary
        # The plan's outer edge is not a choice; measure only the internal boundaries.
        inner = shapely.difference(shapely.boundary(geoms), shapely.buffer(outer, 1.0))
        inner_len = shapely.length(inner)
        along = shapely.length(shapely.intersection(inner, corridor))
        share = np.where(inner_len > 0, along / np.maximum(inner_len, 1e-9), np.nan)
    e = graph.edges
    cut = int((lab[e[:, 0]] != lab[e[:, 1]]).sum())
    contig = [int(graph.components(lab == a).max()) == 0 for a in range(k)]
    moved_in = np.zeros(k)
    moved_out = np.zeros(k)
    cont: list[Any] = [None] * k
    moved = 0.0
    if current is not None:
        cur = [None if pd.isna(v) else v for v in units[current].tolist()]
        pos_of = {c: i for i, c in enumerate(codes.tolist())}
        match = match_current(lab, cur, w, fixed={pos_of[a]: o for a, o in (fixed or {}).items()
                                                  if a in pos_of})
        cont = [match.get(a) for a in range(k)]
        home_of = {str(v): a for a, v in match.items()}
        for u in range(len(lab)):
            h = home_of.get(str(cur[u])) if cur[u] is not None else None
            if h != lab[u]:
                moved += w[u]
                moved_in[lab[u]] += w[u]
                if h is not None:
                    moved_out[h] += w[u]
    frame = pd.DataFrame(
        {
            "area": codes,
            "weight": weights,
            "area_km2": area / 1e6,
            "polsby_popper": pp,
            "reock": reock,
            "main_street_share": share,
            "moved_in": moved_in,
            "moved_out": moved_out,
            "contiguous": contig,
            "continues": cont,
        }
    )
    if population is not None and population in units.columns:
        frame.insert(2, "population", np.bincount(lab, weights=units[population].to_numpy(dtype=float), minlength=k))
    return PlanMetrics(
        areas=frame,
        max_deviation=float(np.max(np.abs(weights - ideal)) / ideal) if ideal > 0 else 0.0,
        cut_edges=cut,
        mean_polsby_popper=float(np.mean(pp)),
        mean_reock=float(np.mean(reock)),
        households_moved=float(moved),
    )
