"""A workspace's re-drawing scenarios, as the two plans the scenario diff map compares.

:func:`scenarios_from_workspace` is the one place that reads scenarios for the maps: ``gisgov
maps`` and the API's ``/maps/`` both call it, then pass the result to
:func:`maps.site.map_pages` and :func:`maps.site.render_page`.

A stored scenario (``gisgov.districting.scenarios``) keeps its proposed areas and a unit table
(``unit_id``, ``old_code``, ``area_code``, ``households``) but no unit shapes. The map draws:

- *before*: the communities the scenario was drawn from. Once accepted, those are the
  ``history_communities`` rows the acceptance replaced (rebuilt from ``geometry_wkt``); while
  pending, the current communities. Only the communities the scenario re-draws are kept.
- *after*: the scenario's areas.
- *units*: compound units with their compound's shape, and street blocks grouped by move
  (old → new community), each group drawn as the part of the old community that went to the
  new one, outside compounds. The counts in the metrics panel come from the unit table.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisgov.errors import GisgovError
from maps.scenario import scenario_metrics

__all__ = ["ScenarioPlans", "scenario_plans", "scenarios_from_workspace"]

log = logging.getLogger(__name__)

_CRS = "EPSG:4326"


@dataclass(frozen=True)
class ScenarioPlans:
    """One scenario ready to draw.

    Attributes
    ----------
    name
        Scenario name (letters, digits, ``_``).
    before
        The communities the scenario re-draws, as they were (``code``, ``name``, geometry).
    after
        The scenario's areas (``code``, ``name``, geometry).
    units
        ``id``, ``kind`` (``compound``/``blocks``), ``old_code``, ``new_code``, ``households``,
        ``units`` (how many scenario units the row stands for), geometry; all in EPSG:4326.
    metrics
        Metric key → (before, after); keys as :func:`maps.scenario.metric_label` knows them.
    accepted
        Whether the scenario has been accepted (its *before* then comes from history).
    created
        When the scenario was saved (ISO 8601, as stored).
    """

    name: str
    before: gpd.GeoDataFrame
    after: gpd.GeoDataFrame
    units: gpd.GeoDataFrame
    metrics: dict[str, tuple[float, float]] = field(default_factory=dict)
    accepted: bool = False
    created: str = ""


def scenarios_from_workspace(
    ws: Any, *, layers: Mapping[str, gpd.GeoDataFrame] | None = None
) -> list[ScenarioPlans]:
    """Every stored scenario of ``ws`` that can be drawn, by name.

    Parameters
    ----------
    ws
        A :class:`gisgov.store.Workspace`.
    layers
        The workspace's layers if already read (``communities``, ``compounds``,
        ``households``); read from ``ws`` otherwise.

    Returns
    -------
    list of ScenarioPlans
        Sorted by name. A scenario whose tables are missing or unreadable is left out (and
        logged) rather than taking the other maps down with it.
    """
    from gisgov.districting.scenarios import list_scenarios, load_scenario

    index = list_scenarios(ws)
    if index.empty:
        return []
    if layers is None:
        layers = {name: ws.read(name) for name in ("communities", "compounds", "households")
                  if ws.has_table(name)}
    history = (ws.read_table("history_communities") if ws.has_table("history_communities")
               else None)
    out = []
    for _, row in index.sort_values("name").iterrows():
        name = str(row["name"])
        try:
            areas, units, meta = load_scenario(ws, name)
            before, accepted = _before(name, str(row.get("created") or ""), history, layers)
            out.append(scenario_plans(name, before, areas, units, meta, layers=layers,
                                      accepted=accepted, created=str(row.get("created") or "")))
        except (GisgovError, KeyError, ValueError, json.JSONDecodeError) as exc:
            log.warning("scenario %r left out of the maps: %s", name, exc)
    return out


def _before(
    name: str,
    created: str,
    history: pd.DataFrame | None,
    layers: Mapping[str, gpd.GeoDataFrame],
) -> tuple[gpd.GeoDataFrame, bool]:
    """The plan ``name`` was drawn from, and whether it has been accepted."""
    if history is not None and len(history) and "scenario" in history.columns:
        rows = history[history["scenario"].astype(str) == name]
        if "replaced_at" in rows.columns and created:
            # A scenario saved again under the same name after an acceptance is pending again.
            rows = rows[rows["replaced_at"].astype(str) >= created]
        if len(rows):
            if "version" in rows.columns:
                rows = rows[rows["version"] == rows["version"].max()]
            geoms = shapely.from_wkt(rows["geometry_wkt"].astype(str).to_numpy())
            frame = gpd.GeoDataFrame(rows.drop(columns=["geometry_wkt"]), geometry=geoms,
                                     crs=_CRS)
            return frame.reset_index(drop=True), True
    comms = layers.get("communities")
    if comms is None or len(comms) == 0:
        raise KeyError("the workspace has no communities")
    return comms, False


def scenario_plans(
    name: str,
    before: gpd.GeoDataFrame,
    areas: gpd.GeoDataFrame,
    units: pd.DataFrame,
    meta: Mapping[str, Any],
    *,
    layers: Mapping[str, gpd.GeoDataFrame],
    accepted: bool = False,
    created: str = "",
) -> ScenarioPlans:
    """Build :class:`ScenarioPlans` from a scenario's stored parts.

    Parameters
    ----------
    name
        Scenario name.
    before
        Communities before (all of them; those the scenario re-draws are kept).
    areas, units, meta
        As returned by :func:`gisgov.districting.scenarios.load_scenario`.
    layers
        ``compounds`` (shapes of compound units) and ``households`` (counts per area).
    accepted, created
        Copied into the result.
    """
    units = units.copy()
    units["unit_id"] = units["unit_id"].astype(str)
    units["old_code"] = units["old_code"].astype(str)
    units["area_code"] = units["area_code"].astype(str)
    after = areas.to_crs(_CRS).sort_values("code").reset_index(drop=True)
    after["code"] = after["code"].astype(str)
    redrawn = set(units["old_code"]) | set(after["code"])
    before = before.to_crs(_CRS)
    before = before[before["code"].astype(str).isin(redrawn)].copy()
    before["code"] = before["code"].astype(str)
    before = before.sort_values("code").reset_index(drop=True)
    drawn = _unit_shapes(units, before, after, layers.get("compounds"))

    moved = units["old_code"] != units["area_code"]
    households = layers.get("households")
    figures = scenario_metrics(before, after, households=households)
    figures.pop("pp", None)  # the optimiser's compactness (below) is the one the report shows
    old = meta.get("before") or {}

    def pair(key: str, scale: float = 1.0, digits: int = 3) -> tuple[float, float] | None:
        b, a = old.get(key), meta.get(key)
        if b is None or a is None:
            return None
        return round(float(b) * scale, digits), round(float(a) * scale, digits)

    for key, src, scale, digits in (("max_dev", "max_deviation", 100.0, 1),
                                    ("pp", "mean_polsby_popper", 1.0, 3),
                                    ("reock", "mean_reock", 1.0, 3),
                                    ("cut_edges", "cut_edges", 1.0, 0)):
        value = pair(src, scale, digits)
        if value is not None:
            figures[key] = value
    figures["moved_units"] = (0.0, float(moved.sum()))
    hh_moved = meta.get("households_moved")
    if hh_moved is None and "households" in units.columns:
        hh_moved = pd.to_numeric(units.loc[moved, "households"], errors="coerce").sum()
    if hh_moved is not None:
        figures["moved_hh"] = (0.0, float(hh_moved))
    return ScenarioPlans(name=name, before=before, after=after, units=drawn, metrics=figures,
                         accepted=accepted, created=created)


def _unit_shapes(
    units: pd.DataFrame,
    before: gpd.GeoDataFrame,
    after: gpd.GeoDataFrame,
    compounds: gpd.GeoDataFrame | None,
) -> gpd.GeoDataFrame:
    """Shapes for the unit table: compounds as they are, street blocks grouped by move."""
    region = shapely.union_all(np.asarray(after.geometry.values))
    rows: list[dict[str, Any]] = []
    comp_union: shapely.Geometry = shapely.Polygon()
    hh = (pd.to_numeric(units["households"], errors="coerce").fillna(0).to_numpy()
          if "households" in units.columns else np.zeros(len(units)))
    is_comp = np.zeros(len(units), dtype=bool)
    if compounds is not None and len(compounds):
        comps = compounds.to_crs(_CRS)
        shape_of = dict(zip(comps["id"].astype(str), comps.geometry, strict=True))
        is_comp = units["unit_id"].isin(shape_of.keys()).to_numpy()
        for i in np.flatnonzero(is_comp):
            u = units.iloc[i]
            rows.append({"id": u["unit_id"], "kind": "compound", "old_code": u["old_code"],
                         "new_code": u["area_code"], "households": float(hh[i]), "units": 1,
                         "geometry": _polygonal(shapely.intersection(shape_of[u["unit_id"]],
                                                                     region))})
        if rows:
            comp_union = shapely.union_all([r["geometry"] for r in rows
                                            if r["geometry"] is not None])
    shape_b = dict(zip(before["code"], before.geometry, strict=True))
    shape_a = dict(zip(after["code"], after.geometry, strict=True))
    blocks = units.assign(_hh=hh)[~is_comp]
    for (old, new), grp in blocks.groupby(["old_code", "area_code"], sort=True):
        ids = sorted(grp["unit_id"])
        label = ", ".join(ids[:3]) + (f" … ({len(ids)})" if len(ids) > 3 else "")
        geom: shapely.Geometry | None = None
        if old != new and old in shape_b and new in shape_a:
            geom = _polygonal(shapely.difference(
                shapely.intersection(shape_b[old], shape_a[new]), comp_union))
        rows.append({"id": label, "kind": "blocks", "old_code": old, "new_code": new,
                     "households": float(grp["_hh"].sum()), "units": len(ids),
                     "geometry": geom})
    cols = ["id", "kind", "old_code", "new_code", "households", "units", "geometry"]
    return gpd.GeoDataFrame(pd.DataFrame(rows, columns=cols), geometry="geometry", crs=_CRS)


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry | None:
    """The polygons of an overlay result (slivers under ~1 m² and stray lines dropped)."""
    parts = shapely.get_parts(geom)
    while len(parts) and any(isinstance(p, shapely.GeometryCollection) for p in parts):
        parts = shapely.get_parts(parts)
    polys = [p for p in parts if isinstance(p, shapely.Polygon) and p.area > 1e-10]
    if not polys:
        return None
    return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)
