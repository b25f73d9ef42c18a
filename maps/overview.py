"""The county overview: subdistricts, communities with their 四至, main streets, households."""

from __future__ import annotations

from collections.abc import Mapping

import folium
import geopandas as gpd
import pandas as pd

from maps._assets import AssetMode
from maps._colour import greedy_colours
from maps._crs import to_draw
from maps._errors import MapError
from maps._frame import Canvas, MapStyle, start_map
from maps._geojson import features
from maps._i18n import Lang, layer_label, text
from maps._leaflet import InlineMarkerCluster, LegendItem, UrlMarkerCluster, popup_fields
from maps.events import add_events
from maps.labels import FittedLabels

__all__ = ["county_map"]

_KIND_LABELS = {"zh": {"urban": "城市社区", "mixed": "村改居社区"},
                "en": {"urban": "Urban community", "mixed": "Mixed (village) community"}}
_HOUSEHOLD_STYLE = {"radius": 3, "color": "#7f2704", "weight": 1, "fillColor": "#fd8d3c",
                    "fillOpacity": 0.9}


def _layer(layers: Mapping[str, gpd.GeoDataFrame], name: str) -> gpd.GeoDataFrame | None:
    gdf = layers.get(name)
    if gdf is None or len(gdf) == 0:
        return None
    return gdf


def county_map(
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    basemap: str = "none",
    lang: Lang = "zh",
    assets: AssetMode = "inline",
    tianditu_key: str | None = None,
    households_url: str | None = None,
    m: folium.Map | None = None,
    now: pd.Timestamp | str | None = None,
) -> folium.Map:
    """Draw the county overview.

    Parameters
    ----------
    layers
        gisgov layers in EPSG:4326 (``subdistricts`` and ``communities`` required;
        ``streets``, ``grids``, ``compounds``, ``households`` used when present).
    basemap
        ``none`` (offline, default), ``osm``, ``gaode`` (overlays converted to GCJ-02) or
        ``tianditu`` (needs ``tianditu_key``).
    lang
        ``zh`` (default) or ``en`` labels.
    assets
        ``inline``, ``served`` or a URL prefix (see :func:`maps.localise_assets`).
    tianditu_key
        Tianditu developer key.
    households_url
        GeoJSON URL the browser loads households from (served mode); ``None`` embeds them as a
        :class:`~folium.plugins.FastMarkerCluster` (about 30 bytes per household).
    m
        Existing map to draw on.
    now
        When overdue events are judged (now by default): events (``events`` layer, as the
        caller may see it) are drawn clustered, coloured by status (:mod:`maps.events`).

    Returns
    -------
    folium.Map
        The map; ``m.get_root().render()`` gives the HTML.

    Examples
    --------
    >>> from maps import county_map
    >>> county_map(layers).save("county.html")  # doctest: +SKIP
    """
    subdistricts = _layer(layers, "subdistricts")
    communities = _layer(layers, "communities")
    if subdistricts is None or communities is None:
        raise MapError("the county map needs the subdistricts and communities layers")
    m = start_map(subdistricts, basemap=basemap, tianditu_key=tianditu_key, m=m)
    c = Canvas(m, MapStyle(outline=subdistricts, legend_title=text("legend", lang)), basemap, lang)
    _subdistrict_layer(c, subdistricts)
    _community_layer(c, communities, subdistricts)
    _main_street_layer(c, _layer(layers, "streets"))
    _grid_layer(c, _layer(layers, "grids"))
    _household_layers(c, _layer(layers, "compounds"), _layer(layers, "households"), households_url)
    add_events(m, c.style, _layer(layers, "events"), basemap=basemap, lang=lang,
               now=None if now is None else pd.Timestamp(now))
    return c.finish(assets)


def _subdistrict_layer(c: Canvas, subdistricts: gpd.GeoDataFrame) -> None:
    """Subdistrict outlines, thick and unfilled, named on hover."""
    sub = to_draw(subdistricts, basemap=c.basemap, simplify_m=1)
    c.add(folium.GeoJson(
        features(sub, key="code", columns=["code", "name"]),
        name=layer_label("subdistricts", c.lang),
        style_function=lambda _: {"color": "#3f007d", "weight": 4, "fill": False},
        tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False),
    ), "g_county")


def _community_layer(c: Canvas, communities: gpd.GeoDataFrame,
                     subdistricts: gpd.GeoDataFrame) -> None:
    """Communities, each its own colour (touching ones differ), the kind shown by the border
    (dashed: 村改居), so twenty urban communities are not one blue sheet; names placed by
    :class:`~maps.labels.FittedLabels`, never piled."""
    lang = c.lang
    names = dict(zip(subdistricts["code"], subdistricts["name"], strict=True))
    com = to_draw(communities, basemap=c.basemap, simplify_m=1)
    kinds = _KIND_LABELS[lang]
    com_colours = greedy_colours(com)
    props = {
        "colour": com_colours,
        "kind_label": [kinds.get(k, str(k)) for k in com["kind"]],
        "subdistrict": [names.get(s, s) for s in com["subdistrict_code"]],
        "search": list(com["name"].astype(str)),
    }
    com_layer = c.add(folium.GeoJson(
        features(com, key="code", columns=["code", "name", "kind", "boundary_text"],
                 properties=props),
        name=layer_label("communities", lang),
        style_function=lambda f: {
            "color": "#08519c", "weight": 2, "fillOpacity": 0.35,
            "fillColor": f["properties"]["colour"],
            "dashArray": "6 4" if f["properties"]["kind"] == "mixed" else None,
        },
        highlight_function=lambda _: {"weight": 4, "fillOpacity": 0.5},
        popup=popup_fields([
            ("name", layer_label("communities", lang, "name")),
            ("code", layer_label("communities", lang, "code")),
            ("kind_label", layer_label("communities", lang, "kind")),
            ("subdistrict", layer_label("communities", lang, "subdistrict_code")),
            ("boundary_text", layer_label("communities", lang, "boundary_text")),
        ]),
        tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False),
    ), "g_community", search=True)
    FittedLabels(com_layer, c.m, full="name", short="name").add_to(c.m)
    c.legend(
        LegendItem("transparent", layer_label("subdistricts", lang), border="#3f007d"),
        LegendItem("#ffffff", kinds["urban"], border="#08519c"),
        LegendItem("#ffffff", kinds["mixed"] + ("（虚线边界）" if lang == "zh" else " (dashed)"),
                   border="#08519c"),
    )
    if len(com) <= 24:  # each community by name and colour (a county has a few dozen)
        c.legend(*[LegendItem(colour, str(n))
                   for colour, n in sorted(zip(com_colours, com["name"], strict=True),
                                           key=lambda cn: str(cn[1]))])


def _main_street_layer(c: Canvas, streets: gpd.GeoDataFrame | None) -> None:
    """The main streets, grey lines named on hover (the others would be clutter here)."""
    if streets is None:
        return
    main = streets[streets["class"] == "main"]
    if not len(main):
        return
    st = to_draw(main, basemap=c.basemap, simplify_m=1)
    c.add(folium.GeoJson(
        features(st, key="id", columns=["id", "name"]),
        name=text("main_streets", c.lang),
        style_function=lambda _: {"color": "#636363", "weight": 3, "opacity": 0.8},
        tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False),
    ), "g_county")
    c.legend(LegendItem("#636363", text("main_streets", c.lang), "line"))


def _grid_layer(c: Canvas, grids: gpd.GeoDataFrame | None) -> None:
    """Grid outlines, searchable by code and name."""
    if grids is None:
        return
    lang = c.lang
    gr = to_draw(grids, basemap=c.basemap, simplify_m=1)
    c.add(folium.GeoJson(
        features(gr, key="code", columns=["code", "name"],
                 properties={"search": list(gr["code"].astype(str) + " " +
                                            gr["name"].astype(str))}),
        name=layer_label("grids", lang),
        style_function=lambda _: {"color": "#e31a1c", "weight": 1, "fillOpacity": 0.05},
        popup=popup_fields([("code", layer_label("grids", lang, "code")),
                            ("name", layer_label("grids", lang, "name"))]),
    ), "g_grid", search=True)
    c.legend(LegendItem("#e31a1c", layer_label("grids", lang), "line"))


def _household_layers(c: Canvas, compounds: gpd.GeoDataFrame | None,
                      households: gpd.GeoDataFrame | None, households_url: str | None) -> None:
    """Compounds (hidden at first) and the households, clustered: loaded from
    ``households_url`` when served, else embedded as rows without any personal column."""
    added = False
    if compounds is not None:
        cp = to_draw(compounds, basemap=c.basemap, simplify_m=0.5)
        c.add(folium.GeoJson(
            features(cp, key="id", columns=["id", "name", "old"]),
            name=layer_label("compounds", c.lang),
            style_function=lambda f: {
                "color": "#a63603" if f["properties"]["old"] else "#31a354", "weight": 1,
                "fillOpacity": 0.15,
            },
            tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False),
            show=False,
        ), "g_household")
        added = True
    hh_name = layer_label("households", c.lang)
    if households_url is not None:
        popup_js = "'<b>' + f.id + '</b><br>' + (f.properties.address || '')"
        c.add(UrlMarkerCluster(households_url, name=hh_name, style=_HOUSEHOLD_STYLE,
                               popup_js=popup_js), "g_household")
        added = True
    elif households is not None:
        hh = to_draw(households[["id", "address", "geometry"]], basemap=c.basemap)
        # Rows are [lat, lon, id, address]: no personal column ever reaches the HTML.
        rows = [
            [y, x, str(i), "" if a is None or pd.isna(a) else str(a)]
            for x, y, i, a in zip(hh.geometry.x, hh.geometry.y, hh["id"],
                                  hh["address"].astype(object), strict=True)
        ]
        c.add(InlineMarkerCluster(rows, name=hh_name, style=_HOUSEHOLD_STYLE), "g_household")
        added = True
    if added:
        c.legend(LegendItem(str(_HOUSEHOLD_STYLE["fillColor"]), hh_name, "dot"))
