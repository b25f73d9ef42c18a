"""The scenario diff map: old and new boundaries, the units that move, before/after metrics."""

from __future__ import annotations

import html
from collections.abc import Mapping

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from gisgov.locate import rows_at
from maps._assets import AssetMode
from maps._crs import to_draw
from maps._errors import MapError
from maps._frame import Canvas, MapStyle, start_map
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
    c = Canvas(m, MapStyle(outline=after, legend_title=t["title"]), basemap, lang)
    _plan_layers(c, before, after, key)
    moved_hh = _households_moved(households, before, after, key)
    n_moved = None
    if units is not None and len(units):
        codes_b, codes_a = _unit_codes(units, before, after, key)
        n_moved = int((codes_b != codes_a).sum())
        _moved_unit_layer(c, units, codes_b, codes_a, _names(before, key), _names(after, key))
    figures = dict(metrics) if metrics is not None else {
        t[k]: v for k, v in scenario_metrics(before, after, households=households,
                                             key=key).items()}
    if n_moved is not None:
        figures.setdefault(t["moved_units"], (0, n_moved))
    if moved_hh is not None:
        figures.setdefault(t["moved_hh"], (0, moved_hh))
    _metrics_panel(c, figures)
    return c.finish(assets)


_BEFORE_LINE = {"color": "#636363", "dashArray": "6 6", "weight": 3, "fill": False}
_AFTER_LINE = {"color": "#08519c", "weight": 3, "fillOpacity": 0.08}


def _plan_layers(c: Canvas, before: gpd.GeoDataFrame, after: gpd.GeoDataFrame,
                 key: str) -> None:
    """The old boundaries dashed grey, the new ones solid blue (searchable, with popups)."""
    # popups on the plan that *is* ``after`` (both, when a caller passes one plan twice)
    t = _T[c.lang]
    plans = ((before, t["before"], _BEFORE_LINE), (after, t["after"], _AFTER_LINE))
    for i, (plan, label, line) in enumerate(plans):
        pl = to_draw(plan, basemap=c.basemap, simplify_m=0.5)
        cols = [col for col in (key, "name") if col in pl.columns]
        props = {"search": list(pl["name"].astype(str) if "name" in pl.columns
                                else pl[key].astype(str))}
        c.add(folium.GeoJson(
            features(pl, key=key, columns=cols, properties=props), name=label,
            style_function=lambda _, s=line: s,
            popup=popup_fields([(col, col) for col in cols]) if plan is after else None,
        ), "g_change", search=i == 1)
        c.legend(LegendItem(str(line["color"]), label, "line"))


def _codes(rows: np.ndarray, plan: gpd.GeoDataFrame, key: str) -> np.ndarray:
    """The code of each located row (``""`` outside the plan)."""
    return np.append(plan[key].astype(str).to_numpy(), "")[rows]


def _households_moved(households: gpd.GeoDataFrame | None, before: gpd.GeoDataFrame,
                      after: gpd.GeoDataFrame, key: str) -> int | None:
    """How many households change area (``None`` without households)."""
    if households is None or not len(households):
        return None
    hb = rows_at(households, before, column=key)
    ha = rows_at(households, after, column=key)
    return int((_codes(hb, before, key) != _codes(ha, after, key)).sum())


def _unit_codes(units: gpd.GeoDataFrame, before: gpd.GeoDataFrame, after: gpd.GeoDataFrame,
                key: str) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's area before and after: a stored scenario's ``old_code``/``new_code``, else
    where the unit lies in each plan."""
    if {"old_code", "new_code"} <= set(units.columns):
        return (units["old_code"].astype(str).to_numpy(),
                units["new_code"].astype(str).to_numpy())
    ub = rows_at(units, before, column=key)
    ua = rows_at(units, after, column=key)
    return _codes(ub, before, key), _codes(ua, after, key)


def _names(plan: gpd.GeoDataFrame, key: str) -> pd.Series | None:
    """Area names by code, when the plan has them."""
    return plan.set_index(key)["name"] if "name" in plan.columns else None


def _moved_unit_layer(c: Canvas, units: gpd.GeoDataFrame, codes_b: np.ndarray,
                      codes_a: np.ndarray, names_b: pd.Series | None,
                      names_a: pd.Series | None) -> None:
    """The units whose area changes, filled orange, with where they come from and go to."""
    # Only units with a shape can be drawn (to_draw drops the others, so select first).
    sel = (codes_b != codes_a) & units.geometry.notna().to_numpy()
    sel &= ~units.geometry.is_empty.to_numpy()
    if not sel.any():
        return
    t = _T[c.lang]
    mv = to_draw(units.loc[sel, ["id", "geometry"]], basemap=c.basemap, simplify_m=0.5)

    def name(names: pd.Series | None, code: str) -> str:
        if names is not None and code in names.index:
            return f"{names[code]} ({code})"
        return code

    c.add(folium.GeoJson(
        features(mv, key="id", columns=["id"], properties={
            "from": [name(names_b, code) for code in codes_b[sel]],
            "to": [name(names_a, code) for code in codes_a[sel]]}),
        name=t["moved"],
        style_function=lambda _: {"color": "#d94801", "weight": 1,
                                  "fillColor": "#fd8d3c", "fillOpacity": 0.7},
        popup=popup_fields([("id", "ID"), ("from", t["from"]), ("to", t["to"])]),
    ), "g_change")
    c.legend(LegendItem("#fd8d3c", t["moved"]))


def _metrics_panel(c: Canvas, figures: Mapping[str, tuple[float, float]]) -> None:
    """The before/after table, top right."""
    lang, t = c.lang, _T[c.lang]
    head = (f"<tr><th>{html.escape(text('metric', lang))}</th>"
            f"<th>{html.escape(text('before', lang))}</th>"
            f"<th>{html.escape(text('after', lang))}</th></tr>")
    body = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>{_fmt(b)}</td><td>{_fmt(a)}</td></tr>"
        for k, (b, a) in figures.items())
    Panel(f"<h4>{html.escape(t['title'])}</h4><table class='gisgov-metrics'>{head}{body}"
          "</table>", position="topright").add_to(c.m)


def _fmt(value: float) -> str:
    return f"{int(value)}" if float(value).is_integer() else f"{value:g}"
