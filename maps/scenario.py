"""The scenario diff map: old and new boundaries, the units that move, before/after metrics."""

from __future__ import annotations

import html
from collections.abc import Mapping

import folium
import geopandas as gpd
import numpy as np

from gisgov.locate import rows_at
from maps._assets import AssetMode
from maps._crs import to_draw
from maps._errors import MapError
from maps._frame import MapStyle, finish_map, start_map
from maps._geojson import features
from maps._i18n import Lang, text
from maps._leaflet import LegendItem, Panel, popup_fields

__all__ = ["metric_label", "scenario_diff_map", "scenario_metrics"]

_T = {
    "zh": {"before": "调整前边界", "after": "调整后边界", "moved": "调整归属的单元",
           "areas": "区域数", "hh_min": "最少户数", "hh_max": "最多户数", "hh_mean": "平均户数",
           "pp": "平均紧凑度 (Polsby-Popper)", "moved_units": "调整单元数",
           "moved_hh": "调整户数", "from": "原属", "to": "调整后归属", "title": "方案对比",
           "max_dev": "最大户数偏差 (%)", "reock": "平均紧凑度 (Reock)",
           "cut_edges": "边界切开的相邻单元对"},
    "en": {"before": "Boundaries before", "after": "Boundaries after", "moved": "Moved units",
           "areas": "Areas", "hh_min": "Min households", "hh_max": "Max households",
           "hh_mean": "Mean households", "pp": "Mean compactness (Polsby-Popper)",
           "moved_units": "Units moved", "moved_hh": "Households moved", "from": "From",
           "to": "To", "title": "Scenario comparison", "max_dev": "Max household deviation (%)",
           "reock": "Mean compactness (Reock)", "cut_edges": "Adjacent unit pairs cut"},
}


def metric_label(key: str, lang: Lang) -> str:
    """The panel label of a metric key of :func:`scenario_metrics` (``areas``, ``pp``,
    ``hh_min``…, ``max_dev``, ``reock``, ``cut_edges``, ``moved_units``, ``moved_hh``);
    an unknown key is returned as is."""
    return _T[lang].get(key, key)


def scenario_metrics(
    before: gpd.GeoDataFrame,
    after: gpd.GeoDataFrame,
    *,
    households: gpd.GeoDataFrame | None = None,
    key: str = "code",
) -> dict[str, tuple[float, float]]:
    """Before/after figures of two plans of the same area.

    Parameters
    ----------
    before, after
        Areas (communities or grids) in EPSG:4326.
    households
        Household points, to count households per area and those that change area.
    key
        Column of the areas' codes: a household on a shared edge counts in the area with the
        lowest code (:mod:`gisgov.locate`), as in the grid report and the lookup.

    Returns
    -------
    dict
        Metric key → (before, after): ``areas``, ``pp`` (mean Polsby-Popper 4πA/P², in a
        metric CRS) and, with households, ``hh_min``, ``hh_max``, ``hh_mean``.
    """
    out: dict[str, tuple[float, float]] = {"areas": (float(len(before)), float(len(after)))}
    metric = before.estimate_utm_crs()
    pp = []
    for plan in (before, after):
        g = plan.to_crs(metric).geometry
        pp.append(float(np.mean(4 * np.pi * g.area / g.length**2)) if len(g) else 0.0)
    out["pp"] = (round(pp[0], 3), round(pp[1], 3))
    if households is not None and len(households):
        stats = []
        for plan in (before, after):
            pos = rows_at(households, plan, column=key)
            n = np.bincount(pos[pos >= 0], minlength=len(plan))
            stats.append((float(n.min()), float(n.max()), round(float(n.mean()), 1)))
        out["hh_min"] = (stats[0][0], stats[1][0])
        out["hh_max"] = (stats[0][1], stats[1][1])
        out["hh_mean"] = (stats[0][2], stats[1][2])
    return out


def scenario_diff_map(
    before: gpd.GeoDataFrame,
    after: gpd.GeoDataFrame,
    *,
    units: gpd.GeoDataFrame | None = None,
    households: gpd.GeoDataFrame | None = None,
    key: str = "code",
    metrics: Mapping[str, tuple[float, float]] | None = None,
    basemap: str = "none",
    lang: Lang = "zh",
    assets: AssetMode = "inline",
    tianditu_key: str | None = None,
    m: folium.Map | None = None,
) -> folium.Map:
    """Compare two plans: old boundaries dashed, new ones solid, moved units highlighted.

    Parameters
    ----------
    before, after
        The two plans (communities or grids) in EPSG:4326, each with ``key`` and ``name``.
    units
        The building blocks the plans are made of (blocks, compounds, buildings) with ``id``;
        a unit moves when the area covering it differs between the plans (matched by ``key``).
        Units that carry ``old_code`` and ``new_code`` (a stored scenario's unit table) are
        taken at their word instead of being located.
    households
        Household points: adds per-area counts and the number of households that move.
    key
        Column identifying an area in both plans.
    metrics
        Figures to show (label → (before, after)); by default :func:`scenario_metrics`. The
        moved-unit and moved-household counts are added unless ``metrics`` already has them.
    basemap, lang, assets, tianditu_key, m
        As for :func:`maps.county_map`.

    Returns
    -------
    folium.Map
        The comparison map with a before/after metrics panel.
    """
    if len(before) == 0 or len(after) == 0:
        raise MapError("the scenario map needs both plans (before and after) with areas")
    for plan in (before, after):
        if key not in plan.columns:
            raise MapError(f"both plans need the {key!r} column to match areas")
    t = _T[lang]
    m = start_map(before, basemap=basemap, tianditu_key=tianditu_key, m=m)
    style = MapStyle(outline=after, legend_title=t["title"])
    names_b = before.set_index(key)["name"] if "name" in before.columns else None
    names_a = after.set_index(key)["name"] if "name" in after.columns else None

    layers: list[folium.GeoJson] = []
    for plan, label, line in ((before, t["before"], {"color": "#636363", "dashArray": "6 6",
                                                      "weight": 3, "fill": False}),
                              (after, t["after"], {"color": "#08519c", "weight": 3,
                                                   "fillOpacity": 0.08})):
        pl = to_draw(plan, basemap=basemap, simplify_m=0.5)
        cols = [c for c in (key, "name") if c in pl.columns]
        props = {"search": list(pl["name"].astype(str) if "name" in pl.columns
                                else pl[key].astype(str))}
        lyr = folium.GeoJson(
            features(pl, key=key, columns=cols, properties=props), name=label,
            style_function=lambda _, s=line: s,
            popup=popup_fields([(c, c) for c in cols]) if plan is after else None,
        )
        lyr.add_to(m)
        layers.append(lyr)
        style.legend.append(LegendItem(str(line["color"]), label, "line"))
    style.searchable.append(layers[1])
    style.groups[text("g_change", lang)] = list(layers)

    moved_hh = None
    if households is not None and len(households):
        hb, ha = rows_at(households, before, column=key), rows_at(households, after, column=key)
        codes_b = np.append(before[key].astype(str).to_numpy(), "")[hb]
        codes_a = np.append(after[key].astype(str).to_numpy(), "")[ha]
        moved_hh = int((codes_b != codes_a).sum())
    n_moved = None
    if units is not None and len(units):
        if {"old_code", "new_code"} <= set(units.columns):
            codes_b = units["old_code"].astype(str).to_numpy()
            codes_a = units["new_code"].astype(str).to_numpy()
        else:
            ub, ua = rows_at(units, before, column=key), rows_at(units, after, column=key)
            codes_b = np.append(before[key].astype(str).to_numpy(), "")[ub]
            codes_a = np.append(after[key].astype(str).to_numpy(), "")[ua]
        n_moved = int((codes_b != codes_a).sum())
        # Only units with a shape can be drawn (to_draw drops the others, so select first).
        sel = (codes_b != codes_a) & units.geometry.notna().to_numpy()
        sel &= ~units.geometry.is_empty.to_numpy()
        if sel.any():
            mv = to_draw(units.loc[sel, ["id", "geometry"]], basemap=basemap, simplify_m=0.5)

            def name(names: object, code: str) -> str:
                series = names
                if series is not None and code in series.index:  # type: ignore[attr-defined]
                    return f"{series[code]} ({code})"  # type: ignore[index]
                return code

            lyr = folium.GeoJson(
                features(mv, key="id", columns=["id"], properties={
                    "from": [name(names_b, c) for c in codes_b[sel]],
                    "to": [name(names_a, c) for c in codes_a[sel]]}),
                name=t["moved"],
                style_function=lambda _: {"color": "#d94801", "weight": 1,
                                          "fillColor": "#fd8d3c", "fillOpacity": 0.7},
                popup=popup_fields([("id", "ID"), ("from", t["from"]), ("to", t["to"])]),
            )
            lyr.add_to(m)
            style.groups[text("g_change", lang)].append(lyr)
            style.legend.append(LegendItem("#fd8d3c", t["moved"]))

    figures = dict(metrics) if metrics is not None else {
        t[k]: v for k, v in scenario_metrics(before, after, households=households, key=key).items()}
    if n_moved is not None:
        figures.setdefault(t["moved_units"], (0, n_moved))
    if moved_hh is not None:
        figures.setdefault(t["moved_hh"], (0, moved_hh))
    head = (f"<tr><th>{html.escape(text('metric', lang))}</th>"
            f"<th>{html.escape(text('before', lang))}</th>"
            f"<th>{html.escape(text('after', lang))}</th></tr>")
    body = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>{_fmt(b)}</td><td>{_fmt(a)}</td></tr>"
        for k, (b, a) in figures.items())
    Panel(f"<h4>{html.escape(t['title'])}</h4><table class='gisgov-metrics'>{head}{body}"
          "</table>", position="topright").add_to(m)
    return finish_map(m, style, lang=lang, assets=assets)


def _fmt(value: float) -> str:
    return f"{int(value)}" if float(value).is_integer() else f"{value:g}"
