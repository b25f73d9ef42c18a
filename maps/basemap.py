"""A basemap drawn from the workspace's own layers: named streets, compounds, buildings.

A map with no online basemap used to be red outlines on grey: nothing to recognise in the
street, and no way to check a 四至 ("east to 人民路") against the streets it names. The
workspace already holds the streets (with names and a class), the compounds (named) and the
buildings (with their door addresses): this module turns them into one GeoJSON document the
browser draws under the overlays, offline, with no request beyond the service.

Labels are points computed here, not in the browser: one per ~400 m of each named street
(main streets first), one per compound and one per building, each with a *rank* (lower wins a
collision) and the lowest zoom it shows at; building labels sit in the building's upper part,
clear of the markers drawn at its centre. The browser side (``maps/assets/gisgov/
basemap.js``) draws them as Leaflet permanent tooltips and hides any label overlapping a
better-ranked one after every zoom and pan (a greedy collision pass, as map renderers do).

Every layer used here is a place layer, public to every role (:mod:`gisgov.policy`).

Examples
--------
>>> basemap_features({})["features"]
[]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from maps._crs import to_draw

__all__ = ["LABEL_STEP_M", "STREET_STYLE", "add_workspace_basemap", "basemap_features"]

#: One street label per this many metres of a named street (at least one per street).
LABEL_STEP_M = 400.0
#: Street class → (label rank, lowest zoom of its label, line weight in px at zoom 16).
STREET_STYLE: dict[str, tuple[int, int, float]] = {
    "main": (0, 13, 7.0),
    "secondary": (1, 15, 5.0),
    "minor": (2, 16, 3.0),
    "footway": (9, 99, 1.5),
}
_COMPOUND = (3, 16)
_BUILDING = (4, 18)


def _text(value: Any) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    return text or None


def _feature(geom: Any, props: dict[str, Any]) -> dict[str, Any]:
    import json

    return {"type": "Feature", "properties": props,
            "geometry": json.loads(shapely.to_geojson(geom))}


def _upper_anchor(geoms: np.ndarray) -> np.ndarray:
    """Label points of buildings in their upper part (a quarter of the height below the top,
    on the vertical centre line, else any inside point): the centre is where the
    households' and the user's own markers sit, and a label there would cover them."""
    b = shapely.bounds(geoms)
    pts = shapely.points((b[:, 0] + b[:, 2]) / 2, b[:, 3] - (b[:, 3] - b[:, 1]) / 4)
    inside = shapely.contains(geoms, pts)
    fallback = np.asarray(shapely.point_on_surface(geoms), dtype=object)
    return np.where(inside, np.asarray(pts, dtype=object), fallback)


def _street_labels(streets: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Label points along every named street: merged by name, one per LABEL_STEP_M."""
    named = streets[streets["name"].map(_text).notna()]
    if named.empty:
        return gpd.GeoDataFrame({"t": [], "r": [], "z": []}, geometry=[], crs=streets.crs)
    metric = named.to_crs(named.estimate_utm_crs())
    rows: list[dict[str, Any]] = []
    points: list[Any] = []
    for (name, cls), part in metric.groupby([metric["name"].map(_text),
                                             metric["class"].astype(str)], sort=True):
        rank, minzoom, _ = STREET_STYLE.get(cls, STREET_STYLE["minor"])
        if rank >= 9:
            continue
        merged = shapely.line_merge(shapely.union_all(np.asarray(part.geometry.values)))
        lines = list(getattr(merged, "geoms", [merged]))
        for line in lines:
            length = float(line.length)
            if length < 30:  # a stub: its name would cover more than the street
                continue
            n = max(1, int(length // LABEL_STEP_M))
            for i in range(n):
                points.append(line.interpolate((i + 0.5) / n, normalized=True))
                rows.append({"t": name, "r": rank, "z": minzoom})
    out = gpd.GeoDataFrame(rows, geometry=points, crs=metric.crs)
    return out.to_crs(streets.crs)


def basemap_features(layers: Mapping[str, gpd.GeoDataFrame], *, basemap: str = "none"
                     ) -> dict[str, Any]:
    """The workspace basemap as one GeoJSON FeatureCollection in ``basemap``'s system.

    Parameters
    ----------
    layers
        The workspace's layers; ``streets``, ``compounds`` and ``buildings`` are used when
        present (storage CRS, EPSG:4326).
    basemap
        The online basemap it is drawn over (``none``: it is the basemap), for the
        coordinate system (GCJ-02 under Gaode).

    Returns
    -------
    dict
        Features with property ``k``: ``street`` (lines; ``c`` class, ``n`` name),
        ``compound`` and ``building`` (polygons; ``n`` name or address) and ``label``
        (points; ``t`` text, ``r`` rank, ``z`` lowest zoom), in drawing order.
    """
    feats: list[dict[str, Any]] = []
    compounds = layers.get("compounds")
    if compounds is not None and len(compounds):
        drawn = to_draw(compounds[["name", compounds.geometry.name]], basemap=basemap,
                        simplify_m=0.5)
        feats += [_feature(g, {"k": "compound", "n": _text(n)})
                  for g, n in zip(drawn.geometry, drawn["name"], strict=True)]
    buildings = layers.get("buildings")
    if buildings is not None and len(buildings):
        cols = [c for c in ("address",) if c in buildings.columns]
        drawn = to_draw(buildings[[*cols, buildings.geometry.name]], basemap=basemap,
                        simplify_m=0.3)
        names = drawn["address"] if "address" in drawn else [None] * len(drawn)
        feats += [_feature(g, {"k": "building", "n": _text(n)})
                  for g, n in zip(drawn.geometry, names, strict=True)]
    streets = layers.get("streets")
    labels: list[dict[str, Any]] = []
    if streets is not None and len(streets):
        order = streets["class"].map(lambda c: -STREET_STYLE.get(str(c), (2, 0, 0))[0])
        ordered = streets.assign(_o=order.to_numpy()).sort_values("_o", kind="stable")
        drawn = to_draw(ordered[["name", "class", ordered.geometry.name]], basemap=basemap,
                        simplify_m=1.0)
        feats += [_feature(g, {"k": "street", "c": str(c), "n": _text(n)})
                  for g, c, n in zip(drawn.geometry, drawn["class"], drawn["name"],
                                     strict=True)]
        points = to_draw(_street_labels(streets), basemap=basemap)
        labels += [_feature(g, {"k": "label", "t": t, "r": int(r), "z": int(z)})
                   for g, t, r, z in zip(points.geometry, points["t"], points["r"], points["z"],
                                         strict=True)]
    for layer, (rank, minzoom), column in ((compounds, _COMPOUND, "name"),
                                           (buildings, _BUILDING, "address")):
        if layer is None or not len(layer) or column not in layer.columns:
            continue
        named = layer[layer[column].map(_text).notna()]
        if named.empty:
            continue
        anchors = (_upper_anchor(np.asarray(named.geometry.values)) if layer is buildings
                   else named.geometry.representative_point().to_numpy())
        pts = gpd.GeoDataFrame({"t": named[column].map(_text).to_numpy()},
                               geometry=anchors, crs=layer.crs)
        pts = to_draw(pts, basemap=basemap)
        labels += [_feature(g, {"k": "label", "t": t, "r": rank, "z": minzoom})
                   for g, t in zip(pts.geometry, pts["t"], strict=True)]
    return {"type": "FeatureCollection", "features": feats + labels}


def _clip(layers: Mapping[str, gpd.GeoDataFrame], bounds: tuple[float, float, float, float],
          names: tuple[str, ...]) -> dict[str, gpd.GeoDataFrame]:
    minx, miny, maxx, maxy = bounds
    out = {}
    for name in names:
        gdf = layers.get(name)
        if gdf is not None and len(gdf):
            out[name] = gdf.cx[minx:maxx, miny:maxy]
    return out


def add_workspace_basemap(
    m: Any,
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    basemap: str = "none",
    extent: gpd.GeoDataFrame | None = None,
    buildings: bool = True,
    margin_deg: float = 0.004,
) -> None:
    """Draw the workspace basemap under a folium map's overlays (inlined: no request).

    Parameters
    ----------
    m
        The :class:`folium.Map`.
    layers
        The workspace's layers (``streets``, ``compounds``, ``buildings`` used).
    basemap
        The online basemap underneath (its coordinate system); pages pass ``none``.
    extent
        Draw only around this layer's bounds (plus ``margin_deg``, ~400 m): a community's
        page carries its own streets, not the county's.
    buildings
        Include buildings (county-wide pages leave them out: thousands of outlines nobody
        sees at county zoom would only make the page heavy).
    margin_deg
        Margin around ``extent`` in degrees.
    """
    import json

    import folium
    from branca.element import Element, MacroElement
    from jinja2 import Template

    names = ("streets", "compounds", "buildings") if buildings else ("streets", "compounds")
    if extent is not None and len(extent):
        minx, miny, maxx, maxy = extent.total_bounds
        chosen = _clip(layers, (minx - margin_deg, miny - margin_deg, maxx + margin_deg,
                                maxy + margin_deg), names)
    else:
        chosen = {n: layers[n] for n in names if n in layers}
    fc = basemap_features(chosen, basemap=basemap)
    if not fc["features"]:
        return
    from importlib import resources

    script = resources.files("maps").joinpath("templates/basemap.js").read_text("utf-8")
    m.get_root().header.add_child(Element(f"<script>{script}</script>"),
                                  name="gisgov_basemap_js")
    data = json.dumps(fc, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")

    class _Basemap(MacroElement):  # type: ignore[misc]
        _template = Template("{% macro script(this, kwargs) %}"
                             "gisgovBasemap({{ this._parent.get_name() }}, " + data + ");"
                             "{% endmacro %}")

    _Basemap().add_to(m)
    assert isinstance(m, folium.Map)
