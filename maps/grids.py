"""Grid maps: the grids of a community with their people, and the compliance map."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from gisgov.locate import rows_at
from maps._assets import AssetMode
from maps._colour import greedy_colours
from maps._crs import to_draw
from maps._errors import MapError
from maps._frame import Canvas, MapStyle, start_map
from maps._geojson import features
from maps._i18n import Lang, layer_label, mask_name, mask_phone, text
from maps._leaflet import LegendItem, Panel, popup_fields
from maps._subset import subset
from maps.events import add_events
from maps.labels import FittedLabels

__all__ = ["BRANCH_LIMIT", "compliance_map", "grid_map", "grid_summary"]

#: Party Branch Work Regulations: a branch has at most 50 members (docs/DOMAIN.md).
BRANCH_LIMIT = 50

_T = {
    "zh": {
        "no_leader": "缺网格长", "no_party": "缺党组织", "both": "缺网格长和党组织",
        "ok": "合规网格", "branch_over": "党支部超过50人", "members_outside": "未入网格党员",
        "compliance": "合规检查", "grids": "网格数", "station": "站点", "unit": "驻区单位",
        "persons": "人", "hh": "户", "community": "社区边界", "hidden": "登录后可见",
    },
    "en": {
        "no_leader": "No grid leader", "no_party": "No party organisation",
        "both": "No leader, no party organisation", "ok": "Compliant grid",
        "branch_over": "Branch over 50 members", "members_outside": "Members outside grids",
        "compliance": "Compliance", "grids": "Grids", "station": "Stations",
        "unit": "Stationed units", "persons": "members", "hh": "hh",
        "community": "Community boundary", "hidden": "sign in to see",
    },
}


def _require_grids(layers: Mapping[str, gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    grids = layers.get("grids")
    if grids is None or len(grids) == 0:
        raise MapError(
            "the workspace has no grids yet: partition the communities first (gisgov grids)"
        )
    return grids.sort_values("code")


def grid_summary(layers: Mapping[str, gpd.GeoDataFrame], *, masked: bool = True,
                 hidden: str = "") -> pd.DataFrame:
    """One row per grid: leader (masked), household count and compliance flags.

    Parameters
    ----------
    layers
        ``grids`` required; ``staff``, ``households``, ``branches`` used when present.
    masked
        Mask the leader's name and phone (default: static map files, which anyone holding
        the file can read). ``False`` when ``layers`` are already a caller's view under
        :mod:`gisgov.policy` (served maps): names then appear as that caller may see them.
    hidden
        Text for a leader whose name the caller's view removed (e.g. "登录后可见"), and,
        when not ``masked``, for every grid if the view has no staff table at all.

    Returns
    -------
    pandas.DataFrame
        Indexed like ``grids`` sorted by code, with columns ``code``, ``leader``,
        ``leader_phone`` (both masked), ``households``, ``has_leader``, ``has_party``.
    """
    grids = _require_grids(layers)
    out = pd.DataFrame({"code": grids["code"].astype(str)}, index=grids.index)
    staff = layers.get("staff")
    leaders = pd.DataFrame(columns=["grid_code", "name", "phone"])
    if staff is not None and len(staff):
        leaders = staff[staff["role"] == "leader"].drop_duplicates("grid_code")
    by_grid = leaders.set_index("grid_code")
    out["has_leader"] = out["code"].isin(by_grid.index)

    def shown(column: str, mask: Any) -> list[str]:
        if column not in by_grid:
            return [hidden if c in by_grid.index else "" for c in out["code"]]
        values = by_grid[column]
        return [("" if c not in by_grid.index else
                 hidden if not isinstance(values.get(c), str) or not values.get(c) else
                 mask(values.get(c)) if masked else str(values.get(c)))
                for c in out["code"]]

    out["leader"] = shown("name", mask_name)
    out["leader_phone"] = shown("phone", mask_phone)
    if staff is None and not masked and hidden:
        # A served view without the staff table: the caller may not read it (the notice
        # board is closed), which is not the same as "no leader".
        out["leader"] = hidden
        out["leader_phone"] = hidden
    households = layers.get("households")
    stored = grids["households"] if "households" in grids.columns else None
    if households is not None and len(households):
        pos = rows_at(households, grids)
        counts = np.bincount(pos[pos >= 0], minlength=len(grids))
        out["households"] = counts
    elif stored is not None:
        out["households"] = stored.fillna(0).astype(int).to_numpy()
    else:
        out["households"] = 0
    branches = layers.get("branches")
    with_party: set[str] = set()
    if branches is not None and len(branches) and "grid_code" in branches.columns:
        with_party = set(branches.loc[branches["level"] == "grid", "grid_code"].dropna())
    out["has_party"] = out["code"].isin(with_party)
    return out


def grid_map(
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    community: str | None = None,
    basemap: str = "none",
    lang: Lang = "zh",
    assets: AssetMode = "inline",
    tianditu_key: str | None = None,
    m: folium.Map | None = None,
    masked: bool = True,
    now: pd.Timestamp | str | None = None,
) -> folium.Map:
    """Draw the grids of one community (or all), labelled with code, leader and households.

    Parameters
    ----------
    layers
        gisgov layers in EPSG:4326; ``grids`` required, ``communities``, ``staff``,
        ``households``, ``stations``, ``units``, ``branches`` used when present.
    community
        12-digit code or name of the community; ``None`` draws every grid.
    basemap, lang, assets, tianditu_key, m
        As for :func:`maps.county_map`.
    masked
        As for :func:`grid_summary` (served maps pass ``False``: the policy already decided).
    now
        When overdue events are judged (now by default); the community's events are drawn
        clustered by status (:mod:`maps.events`).

    Returns
    -------
    folium.Map
        Grids coloured so neighbours differ, with permanent labels and popups; stations and
        stationed units as points. Leader names and phones are masked unless ``masked=False``.
    """
    part, row = subset(layers, community)
    grids = _require_grids(part)
    summary = grid_summary(part, masked=masked, hidden=_T[lang]["hidden"])
    m = start_map(grids if row is None else row, basemap=basemap, tianditu_key=tianditu_key,
                  m=m)
    c = Canvas(m, MapStyle(outline=grids if row is None else row), basemap, lang)
    if row is not None:
        c.add(folium.GeoJson(
            features(to_draw(row, basemap=basemap), key="code", columns=["name"]),
            name=_T[lang]["community"],
            style_function=lambda _: {"color": "#08306b", "weight": 4, "fill": False},
        ), "g_community")
    _labelled_grid_layer(c, grids, summary)
    _service_layers(c, part)
    add_events(m, c.style, part.get("events"), basemap=basemap, lang=lang,
               now=None if now is None else pd.Timestamp(now))
    return c.finish(assets)


def _labelled_grid_layer(c: Canvas, grids: gpd.GeoDataFrame, summary: pd.DataFrame) -> None:
    """Grids coloured so neighbours differ, each labelled "code / leader / households"."""
    lang, t = c.lang, _T[c.lang]
    gr = to_draw(grids, basemap=c.basemap, simplify_m=0.5)
    hh_word = t["hh"]
    labels = [
        "<br>".join(html.escape(s) for s in (code[-3:], leader or "—", f"{n}{hh_word}"))
        for code, leader, n in zip(summary["code"], summary["leader"], summary["households"],
                                   strict=True)
    ]
    none = text("none", lang)
    props = {
        "colour": greedy_colours(gr), "label": labels,
        "short": [code[-3:] for code in summary["code"]],
        "leader": [v or none for v in summary["leader"]],
        "leader_phone": [v or none for v in summary["leader_phone"]],
        "n_households": summary["households"].tolist(),
        "search": list(gr["code"].astype(str) + " " + gr["name"].astype(str)),
    }
    gr_layer = c.add(folium.GeoJson(
        features(gr, key="code", columns=["code", "name", "target_households"],
                 properties=props),
        name=layer_label("grids", lang),
        style_function=lambda f: {"color": "#252525", "weight": 1.5, "fillOpacity": 0.55,
                                  "fillColor": f["properties"]["colour"]},
        highlight_function=lambda _: {"weight": 3, "fillOpacity": 0.75},
        popup=popup_fields([
            ("code", layer_label("grids", lang, "code")),
            ("name", layer_label("grids", lang, "name")),
            ("leader", text("leader", lang)),
            ("leader_phone", layer_label("staff", lang, "phone")),
            ("n_households", text("households", lang)),
            ("target_households", layer_label("grids", lang, "target_households")),
        ]),
    ), "g_grid", search=True)
    # The full label where the grid is big enough on screen, its code where not, none where
    # it would cover another (details on click).
    FittedLabels(gr_layer, c.m, full="label", short="short").add_to(c.m)
    c.style.legend_title = layer_label("grids", lang)
    c.legend(LegendItem("#fdb462", f"{layer_label('grids', lang)} ({t['grids']} {len(gr)})"))


def _service_layers(c: Canvas, part: Mapping[str, gpd.GeoDataFrame]) -> None:
    """Service stations and stationed units as coloured points."""
    lang, t = c.lang, _T[c.lang]
    for name, colour, label in (("stations", "#6a3d9a", t["station"]),
                                ("units", "#b15928", t["unit"])):
        gdf = part.get(name)
        if gdf is None or len(gdf) == 0:
            continue
        pts = to_draw(gdf, basemap=c.basemap)
        c.add(folium.GeoJson(
            features(pts, key="id", columns=["id", "name", "kind"]),
            name=label,
            marker=folium.CircleMarker(radius=6, fill=True),
            style_function=lambda _, c=colour: {"color": "#fff", "weight": 1.5,
                                                "fillColor": c, "fillOpacity": 1},
            popup=popup_fields([("name", layer_label(name, lang, "name")),
                                ("kind", layer_label(name, lang, "kind")),
                                ("id", layer_label(name, lang, "id"))]),
        ), "g_service")
        c.legend(LegendItem(colour, label, "dot"))


def _branch_places(layers: Mapping[str, gpd.GeoDataFrame], branches: gpd.GeoDataFrame,
                   grids: gpd.GeoDataFrame) -> gpd.GeoSeries:
    """Where to draw each branch: its own polygon, else its grid's, else its community's."""
    geoms = branches.geometry.copy()
    by_grid = grids.set_index("code").geometry
    com = layers.get("communities")
    by_com = com.set_index("code").geometry if com is not None else None
    for idx, b in branches.iterrows():
        if geoms.loc[idx] is not None and not pd.isna(geoms.loc[idx]):
            continue
        g = b.get("grid_code")
        if isinstance(g, str) and g in by_grid.index:
            geoms.loc[idx] = by_grid.loc[g]
        elif by_com is not None and isinstance(b.get("community_code"), str) \
                and b["community_code"] in by_com.index:
            geoms.loc[idx] = by_com.loc[b["community_code"]]
    return geoms


def compliance_map(
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    community: str | None = None,
    basemap: str = "none",
    lang: Lang = "zh",
    assets: AssetMode = "inline",
    tianditu_key: str | None = None,
    m: folium.Map | None = None,
    masked: bool = True,
) -> folium.Map:
    """Draw the checks "每个网格都有党组织、每名党员都在网格中" and the 50-member branch cap.

    Grids lacking a leader or a grid party organisation are filled red/orange; branches with
    more than :data:`BRANCH_LIMIT` members are marked with their size; party members living
    outside every grid are shown; a panel sums it up.

    Parameters
    ----------
    layers
        ``grids`` required; ``staff``, ``branches``, ``members``, ``communities`` used.
    community, basemap, lang, assets, tianditu_key, m, masked
        As for :func:`grid_map`.

    Returns
    -------
    folium.Map
        The compliance map.
    """
    part, row = subset(layers, community)
    grids = _require_grids(part)
    t = _T[lang]
    summary = grid_summary(part, masked=masked, hidden=t["hidden"])
    m = start_map(grids if row is None else row, basemap=basemap, tianditu_key=tianditu_key,
                  m=m)
    c = Canvas(m, MapStyle(outline=grids, legend_title=t["compliance"]), basemap, lang)
    n_grids = _status_grid_layer(c, grids, summary)
    n_over = _oversized_branches(c, layers, part.get("branches"), grids)
    n_outside = _members_outside(c, layers, part, grids)
    rows = [(t["grids"], n_grids), (t["no_leader"], int((~summary["has_leader"]).sum())),
            (t["no_party"], int((~summary["has_party"]).sum())), (t["branch_over"], n_over),
            (t["members_outside"], n_outside)]
    Panel(f"<h4>{html.escape(t['compliance'])}</h4><table>" + "".join(
        f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in rows) + "</table>",
        position="topright").add_to(m)
    return c.finish(assets)


#: Fill of a grid by what it lacks.
_STATUS_COLOURS = {"both": "#a50f15", "no_leader": "#fb6a4a", "no_party": "#fd8d3c",
                   "ok": "#a1d99b"}


def _status_grid_layer(c: Canvas, grids: gpd.GeoDataFrame, summary: pd.DataFrame) -> int:
    """Grids filled by what they lack: a leader, a grid party organisation, both or nothing;
    how many are drawn."""
    lang, t = c.lang, _T[c.lang]
    status = np.where(
        ~summary["has_leader"] & ~summary["has_party"], "both",
        np.where(~summary["has_leader"], "no_leader",
                 np.where(~summary["has_party"], "no_party", "ok")))
    gr = to_draw(grids, basemap=c.basemap, simplify_m=0.5)
    none = text("none", lang)
    c.add(folium.GeoJson(
        features(gr, key="code", columns=["code", "name"], properties={
            "status": list(status), "status_label": [t[s] for s in status],
            "leader": [v or none for v in summary["leader"]],
            "search": list(gr["code"].astype(str) + " " + gr["name"].astype(str)),
        }),
        name=layer_label("grids", lang),
        style_function=lambda f: {"color": "#252525", "weight": 1, "fillOpacity": 0.6,
                                  "fillColor": _STATUS_COLOURS[f["properties"]["status"]]},
        popup=popup_fields([("code", layer_label("grids", lang, "code")),
                            ("name", layer_label("grids", lang, "name")),
                            ("status_label", t["compliance"]),
                            ("leader", text("leader", lang))]),
    ), "g_grid", search=True)
    c.legend(*[LegendItem(colour, t[s]) for s, colour in _STATUS_COLOURS.items()])
    return len(gr)


def _oversized_branches(c: Canvas, layers: Mapping[str, gpd.GeoDataFrame],
                        branches: gpd.GeoDataFrame | None, grids: gpd.GeoDataFrame) -> int:
    """Mark the branches over :data:`BRANCH_LIMIT` members with their size; how many."""
    members = layers.get("members")
    if branches is None or not len(branches) or members is None or not len(members):
        return 0
    lang, t = c.lang, _T[c.lang]
    sizes = members.groupby("branch_id").size()
    br = branches.assign(n_members=branches["id"].map(sizes).fillna(0).astype(int))
    over = br[br["n_members"] > BRANCH_LIMIT].copy()
    if not len(over):
        return 0
    places = _branch_places(layers, over, grids)
    shown = gpd.GeoDataFrame(over.drop(columns="geometry"),
                             geometry=places.representative_point(), crs=branches.crs)
    pts = to_draw(shown[shown.geometry.notna()], basemap=c.basemap)
    persons = t["persons"]
    c.add(folium.GeoJson(
        features(pts, key="id", columns=["id", "name", "n_members"], properties={
            "label": [f"{html.escape(str(n))}<br>{k}{persons}"
                      for n, k in zip(pts["name"], pts["n_members"], strict=True)]}),
        name=t["branch_over"],
        marker=folium.CircleMarker(radius=10, fill=True),
        style_function=lambda _: {"color": "#67000d", "weight": 2,
                                  "fillColor": "#ef3b2c", "fillOpacity": 0.9},
        popup=popup_fields([("name", layer_label("branches", lang, "name")),
                            ("n_members", t["persons"])]),
        tooltip=folium.GeoJsonTooltip(fields=["label"], labels=False),
    ), "g_party")
    c.legend(LegendItem("#ef3b2c", t["branch_over"], "dot"))
    return len(over)


def _members_outside(c: Canvas, layers: Mapping[str, gpd.GeoDataFrame],
                     part: Mapping[str, gpd.GeoDataFrame], grids: gpd.GeoDataFrame) -> int:
    """Show the party members living in no grid (hidden at first); how many."""
    members = layers.get("members")
    if members is None or not len(members):
        return 0
    lang, t = c.lang, _T[c.lang]
    local = part.get("members", members)
    outside = local[rows_at(local, grids) < 0]
    if not len(outside):
        return 0
    pts = to_draw(outside[["id", "class", "status", "geometry"]], basemap=c.basemap)
    c.add(folium.GeoJson(
        features(pts, key="id", columns=["id", "class", "status"]),
        name=t["members_outside"], marker=folium.CircleMarker(radius=4, fill=True),
        style_function=lambda _: {"color": "#54278f", "weight": 1,
                                  "fillColor": "#9e9ac8", "fillOpacity": 0.9},
        popup=popup_fields([("id", layer_label("members", lang, "id")),
                            ("class", layer_label("members", lang, "class")),
                            ("status", layer_label("members", lang, "status"))]),
        show=False,
    ), "g_party")
    c.legend(LegendItem("#9e9ac8", t["members_outside"], "dot"))
    return len(outside)
