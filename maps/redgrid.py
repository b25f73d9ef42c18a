"""The red-grid map: party members, the households each one links (联户), their loads, the
members deployed across communities (统筹调配) and the grids still short of members
(the recruitment plan)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from gisgov.locate import codes_at
from maps._assets import AssetMode
from maps._crs import to_draw
from maps._errors import MapError
from maps._frame import Canvas, MapStyle, start_map
from maps._geojson import features
from maps._i18n import Lang, layer_label, mask_name, text
from maps._leaflet import LegendItem, popup_fields
from maps._subset import subset

__all__ = ["LOAD_CLASSES", "load_class", "red_grid_map"]

#: Each red grid member links 5–10 households (docs/DOMAIN.md): (upper bound, key, colour).
LOAD_CLASSES: tuple[tuple[float, str, str], ...] = (
    (0, "idle", "#969696"),
    (4, "under", "#fdae61"),
    (10, "ok", "#1a9641"),
    (np.inf, "over", "#d7191c"),
)
_T = {
    "zh": {"idle": "未联户", "under": "联户不足5户", "ok": "联户5–10户", "over": "联户超过10户",
           "assigned": "已联户的户", "links": "联户连线", "load": "联户数",
           "title": "红色网格员联户", "deployed": "统筹调配（党员→网格）",
           "recruit": "补充招募计划（需补充党员的网格）", "needed": "需补充党员",
           "uncovered": "未覆盖户数", "households": "联系户数"},
    "en": {"idle": "No households", "under": "Under 5 households", "ok": "5–10 households",
           "over": "Over 10 households", "assigned": "Assigned households",
           "links": "Member–household links", "load": "Households linked",
           "title": "Red-grid loads", "deployed": "Deployed members (member → grid)",
           "recruit": "Recruitment plan (grids short of members)",
           "needed": "Members needed", "uncovered": "Households uncovered",
           "households": "Households served"},
}


def load_class(load: int) -> str:
    """``idle``, ``under``, ``ok`` or ``over`` for a member linking ``load`` households."""
    return next(key for upper, key, _ in LOAD_CLASSES if load <= upper)


def red_grid_map(
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
    """Draw red grid members and the households they link, coloured by load.

    Parameters
    ----------
    layers
        ``households``, ``members`` and ``assignments`` required (assignments may be empty:
        then every household is drawn as unassigned); ``grids`` and ``communities`` used.
    community
        12-digit code or name; ``None`` for the whole county.
    basemap, lang, assets, tianditu_key, m
        As for :func:`maps.county_map`.
    masked
        Mask member names (the default, for files written to disk). The service passes
        ``False`` because its layers are already the caller's view under the policy
        (:mod:`gisgov.policy`): a coordinator then sees the names of their community.

    Returns
    -------
    folium.Map
        Members coloured by load class (:data:`LOAD_CLASSES`), a line from each household to
        its member, unassigned households marked red, a dashed line from each member deployed
        to another community's grid to that grid (assignments with reason ``deployed``), and
        the grids with households left over shaded with the members they still need (A/B
        members at 10 households each, as in ``gisgov assign --plan-out``). Member names are
        masked unless ``masked=False``.
    """
    for name in ("households", "members"):
        if layers.get(name) is None or len(layers[name]) == 0:
            raise MapError(f"the red-grid map needs the {name} layer")
    part, row = subset(layers, community)
    d = _links_here(layers, part)
    m = start_map(d.households if row is None else row, basemap=basemap,
                  tianditu_key=tianditu_key, m=m)
    style = MapStyle(outline=d.households.dissolve() if row is None else row,
                     legend_title=_T[lang]["title"])
    c = Canvas(m, style, basemap, lang)
    grids = part.get("grids")
    _grid_outlines(c, grids)
    _link_lines(c, d)
    _deployments(c, d.asg, d.members_all, layers.get("grids"))
    _recruitment(c, d.households, d.asg, grids)
    _household_points(c, d)
    _member_points(c, d, masked=masked)
    return c.finish(assets)


@dataclass
class _Links:
    """The red-grid map's data: the households drawn, their assignments and the members."""

    households: gpd.GeoDataFrame
    #: Assignments of the households drawn.
    asg: gpd.GeoDataFrame
    #: Every member (to draw a link to one living elsewhere) and those shown as points.
    members_all: gpd.GeoDataFrame
    members: gpd.GeoDataFrame
    #: Households each member links here, by member id.
    loads: pd.Series


def _links_here(layers: Mapping[str, gpd.GeoDataFrame],
                part: Mapping[str, gpd.GeoDataFrame]) -> _Links:
    """The assignments of the households in ``part``, the members' loads, the members shown:
    those living here plus those linking households here from outside."""
    households = part["households"]
    members_all = layers["members"]
    assignments = layers.get("assignments")
    if assignments is None:
        assignments = gpd.GeoDataFrame({"household_id": [], "member_id": []},
                                       geometry=[], crs=households.crs)
    asg = assignments[assignments["household_id"].isin(households["id"])]
    local = part.get("members", members_all)
    members = members_all[members_all["id"].isin(set(local["id"]) | set(asg["member_id"]))]
    return _Links(households, asg, members_all, members, asg.groupby("member_id").size())


def _grid_outlines(c: Canvas, grids: gpd.GeoDataFrame | None) -> None:
    """Grid outlines, searchable by code and name."""
    if grids is None or not len(grids):
        return
    lang = c.lang
    gr = to_draw(grids, basemap=c.basemap, simplify_m=0.5)
    c.add(folium.GeoJson(
        features(gr, key="code", columns=["code", "name"], properties={
            "search": list(gr["code"].astype(str) + " " + gr["name"].astype(str))}),
        name=layer_label("grids", lang),
        style_function=lambda _: {"color": "#e31a1c", "weight": 2, "fillOpacity": 0.03},
        popup=popup_fields([("code", layer_label("grids", lang, "code")),
                            ("name", layer_label("grids", lang, "name"))]),
    ), "g_grid", search=True)


def _link_lines(c: Canvas, d: _Links) -> None:
    """A line per assignment: the stored household→member line, else one drawn between the
    two points."""
    hh_xy = d.households.set_index("id").geometry
    mem_xy = d.members_all.set_index("id").geometry
    links = d.asg[d.asg["member_id"].isin(mem_xy.index)].copy()
    if not len(links):
        return
    t = _T[c.lang]
    drawn = links.geometry if "geometry" in links.columns else None
    made: NDArray[np.object_] = shapely.linestrings(  # type: ignore[assignment]
        np.stack([
            shapely.get_coordinates(np.asarray(hh_xy.loc[links["household_id"]].values)),
            shapely.get_coordinates(np.asarray(mem_xy.loc[links["member_id"]].values)),
        ], axis=1)
    )
    geoms = made if drawn is None else np.where(drawn.isna().to_numpy(), made,
                                                 np.asarray(drawn.values))
    links = gpd.GeoDataFrame(links.drop(columns="geometry", errors="ignore"),
                             geometry=list(geoms), crs=d.households.crs)
    ln = to_draw(links[["household_id", "member_id", "geometry"]], basemap=c.basemap)
    c.add(folium.GeoJson(
        features(ln, key="household_id", columns=["household_id", "member_id"]),
        name=t["links"],
        style_function=lambda _: {"color": "#cb181d", "weight": 1, "opacity": 0.6},
    ), "g_party")
    c.legend(LegendItem("#cb181d", t["links"], "line"))


def _household_points(c: Canvas, d: _Links) -> None:
    """Households: assigned ones small and blue, unassigned ones larger and red."""
    lang, t = c.lang, _T[c.lang]
    assigned = d.households["id"].isin(d.asg["household_id"])
    hh = to_draw(d.households[["id", "address", "geometry"]], basemap=c.basemap)
    member_of = d.asg.set_index("household_id")["member_id"]
    none = text("none", lang)
    for flag, colour, radius in ((True, "#4575b4", 3), (False, "#d7191c", 5)):
        sel = hh[assigned.loc[hh.index].to_numpy() == flag]
        if len(sel) == 0:
            continue
        label = t["assigned"] if flag else text("unassigned", lang)
        c.add(folium.GeoJson(
            features(sel, key="id", columns=["id", "address"], properties={
                "member": [member_of.get(i, none) for i in sel["id"]]}),
            name=label,
            marker=folium.CircleMarker(radius=radius, fill=True),
            style_function=lambda _, c=colour, f=flag: {
                "color": "#000" if not f else c, "weight": 1 if f else 2, "fillColor": c,
                "fillOpacity": 0.8},
            popup=popup_fields([("id", layer_label("households", lang, "id")),
                                ("address", layer_label("households", lang, "address")),
                                ("member", layer_label("assignments", lang, "member_id"))]),
        ), "g_household")
        c.legend(LegendItem(colour, label, "dot"))


def _member_points(c: Canvas, d: _Links, *, masked: bool) -> None:
    """Members coloured by load class, names masked unless ``masked=False``."""
    lang, t = c.lang, _T[c.lang]
    mem = to_draw(d.members[["id", "name", "class", "status", "geometry"]], basemap=c.basemap)
    load = mem["id"].map(d.loads).fillna(0).astype(int)
    klass = [load_class(int(v)) for v in load]
    colour_of = {key: colour for _, key, colour in LOAD_CLASSES}
    c.add(folium.GeoJson(
        features(mem, key="id", columns=["id", "class", "status"], properties={
            "name_masked": [mask_name(v) if masked else ("" if v is None else str(v))
                            for v in mem["name"]],
            "load": load.tolist(), "load_class": klass,
            "load_label": [t[k] for k in klass],
        }),
        name=layer_label("members", lang),
        marker=folium.CircleMarker(radius=7, fill=True),
        style_function=lambda f: {"color": "#fff", "weight": 2, "fillOpacity": 1,
                                  "fillColor": colour_of[f["properties"]["load_class"]]},
        popup=popup_fields([("name_masked", layer_label("members", lang, "name")),
                            ("id", layer_label("members", lang, "id")),
                            ("class", layer_label("members", lang, "class")),
                            ("status", layer_label("members", lang, "status")),
                            ("load", t["load"]), ("load_label", t["title"])]),
    ), "g_party")
    c.legend(*[LegendItem(colour_of[k], f"{layer_label('members', lang)}: {t[k]}", "dot")
               for _, k, _c in LOAD_CLASSES])


def _deployments(c: Canvas, asg: gpd.GeoDataFrame, members: gpd.GeoDataFrame,
                 grids: gpd.GeoDataFrame | None) -> None:
    """One dashed line per (deployed member, grid served): member's home → the grid."""
    if grids is None or not len(grids) or "reason" not in asg.columns:
        return
    dep = asg[(asg["reason"] == "deployed") & asg["grid_code"].notna()]
    dep = dep[dep["member_id"].isin(members["id"])]
    if not len(dep):
        return
    lang, t = c.lang, _T[c.lang]
    pairs = dep.groupby(["member_id", "grid_code"]).size().rename("households").reset_index()
    centre = grids.set_index("code").geometry.representative_point()
    pairs = pairs[pairs["grid_code"].isin(centre.index)]
    home = members.set_index("id").geometry
    lines = shapely.linestrings(np.stack([
        shapely.get_coordinates(np.asarray(home.loc[pairs["member_id"]].values)),
        shapely.get_coordinates(np.asarray(centre.loc[pairs["grid_code"]].values))], axis=1))
    frame = gpd.GeoDataFrame(pairs, geometry=np.asarray(lines, dtype=object).reshape(-1),
                             crs=members.crs)
    frame["key"] = frame["member_id"] + "→" + frame["grid_code"]
    drawn = to_draw(frame, basemap=c.basemap)
    c.add(folium.GeoJson(
        features(drawn, key="key", columns=["member_id", "grid_code", "households"]),
        name=t["deployed"],
        style_function=lambda _: {"color": "#6a3d9a", "weight": 2, "opacity": 0.8,
                                  "dashArray": "6 4"},
        popup=popup_fields([("member_id", layer_label("members", lang, "id")),
                            ("grid_code", layer_label("grids", lang, "code")),
                            ("households", t["households"])]),
    ), "g_party")
    c.legend(LegendItem("#6a3d9a", t["deployed"], "line"))


def _recruitment(c: Canvas, households: gpd.GeoDataFrame, asg: gpd.GeoDataFrame,
                 grids: gpd.GeoDataFrame | None) -> None:
    """Grids whose households are not all covered, shaded, with the members they need."""
    if grids is None or not len(grids):
        return
    left = households[~households["id"].isin(asg["household_id"])]
    if not len(left):
        return
    lang, t = c.lang, _T[c.lang]
    # the grid each household is served from, by the lookup's rule (gisgov.locate)
    codes = codes_at(left.geometry.to_crs(4326), grids[["code", "geometry"]].to_crs(4326))
    count = pd.Series(codes).dropna().value_counts()
    short = grids[grids["code"].isin(count.index)].copy()
    if not len(short):
        return
    short["uncovered"] = short["code"].map(count).astype(int).to_numpy()
    short["needed"] = [math.ceil(n / 10) for n in short["uncovered"]]
    drawn = to_draw(short[["code", "uncovered", "needed", "geometry"]], basemap=c.basemap,
                    simplify_m=0.5)
    c.add(folium.GeoJson(
        features(drawn, key="code", columns=["code", "uncovered", "needed"]),
        name=t["recruit"],
        style_function=lambda _: {"color": "#ff7f00", "weight": 3, "fillColor": "#ff7f00",
                                  "fillOpacity": 0.25},
        popup=popup_fields([("code", layer_label("grids", lang, "code")),
                            ("uncovered", t["uncovered"]), ("needed", t["needed"])]),
    ), "g_grid")
    c.legend(LegendItem("#ff7f00", t["recruit"], "box"))
