"""Building blocks shared by the renderers: basemaps, drawing CRS, GeoJSON, controls, legend.

Every renderer follows the same steps: :func:`start_map` (or the caller's map), overlays built
from :func:`features` (converted to the basemap's coordinate system, rounded to 6 decimals),
then :func:`finish_map` adds the controls people expect and points every asset at gisgov's
vendored copies.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from folium.elements import JSCSSMixin
from folium.plugins import Fullscreen, GroupedLayerControl, MarkerCluster, MeasureControl
from folium.template import Template

from gisgov import privacy
from gisgov.crs import from_storage
from gisgov.layers import LAYERS
from gisgov.locate import rows_at
from maps._assets import AssetMode, localise_assets
from maps._errors import MapError

__all__ = [
    "BASEMAPS",
    "Basemap",
    "Lang",
    "Legend",
    "MapStyle",
    "Panel",
    "PermanentLabels",
    "draw_crs",
    "features",
    "finish_map",
    "layer_label",
    "mask_name",
    "mask_phone",
    "start_map",
    "text",
    "to_draw",
]

Basemap = Literal["none", "osm", "gaode", "tianditu"]
Lang = Literal["zh", "en"]
BASEMAPS: tuple[str, ...] = ("none", "osm", "gaode", "tianditu")

#: Tile templates. Gaode tiles are GCJ-02; Tianditu's ``_w`` sets are Web Mercator on
#: CGCS2000 (≈ WGS-84 at map scale) and need a key (docs/REFERENCES.md).
_TILES: dict[str, dict[str, Any]] = {
    "osm": {
        "tiles": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        "attr": "&copy; OpenStreetMap contributors",
        "subdomains": "abc",
    },
    "gaode": {
        "tiles": "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1"
                 "&style=8&x={x}&y={y}&z={z}",
        "attr": "&copy; 高德地图 AutoNavi",
        "subdomains": "1234",
    },
    "tianditu": {
        "tiles": "https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
                 "&VERSION=1.0.0&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
                 "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}",
        "labels": "https://t{s}.tianditu.gov.cn/cva_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
                  "&VERSION=1.0.0&LAYER=cva&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
                  "&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}",
        "attr": "&copy; 天地图 Tianditu",
        "subdomains": "01234567",
    },
}

_TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "search": "搜索网格代码或社区名称", "not_found": "未找到", "cancel": "取消",
        "legend": "图例", "fullscreen": "全屏", "exit_fullscreen": "退出全屏",
        "g_county": "县/街道", "g_community": "社区", "g_grid": "网格", "g_household": "楼栋/户",
        "g_party": "党组织/党员", "g_service": "服务设施", "g_change": "调整",
        "leader": "网格长", "households": "户数", "none": "无", "unassigned": "未联户",
        "main_streets": "主要街道", "before": "调整前", "after": "调整后", "metric": "指标",
    },
    "en": {
        "search": "Search grid code or community", "not_found": "Not found", "cancel": "Cancel",
        "legend": "Legend", "fullscreen": "Full screen", "exit_fullscreen": "Exit full screen",
        "g_county": "County / subdistrict", "g_community": "Community", "g_grid": "Grid",
        "g_household": "Buildings / households", "g_party": "Party", "g_service": "Services",
        "g_change": "Changes", "leader": "Leader", "households": "Households", "none": "none",
        "unassigned": "Unassigned", "main_streets": "Main streets", "before": "Before",
        "after": "After", "metric": "Metric",
    },
}

#: Qualitative palette (ColorBrewer Set3/Paired, colour-blind friendlier ordering).
PALETTE: tuple[str, ...] = (
    "#8dd3c7", "#fdb462", "#bebada", "#fb8072", "#80b1d3",
    "#b3de69", "#fccde5", "#ffed6f", "#bc80bd", "#ccebc5",
)


def text(key: str, lang: Lang) -> str:
    """A user-facing string in ``lang``."""
    return _TEXT[lang][key]


def layer_label(layer: str, lang: Lang, column: str | None = None) -> str:
    """The schema's display label of a layer or one of its columns."""
    spec = LAYERS[layer]
    item: Any = spec if column is None else spec.column(column)
    return str(item.label_zh if lang == "zh" else item.label_en)


def mask_name(name: object) -> str:
    """:func:`gisgov.privacy.mask_name` for possibly-missing values: maps never show a full name."""
    return privacy.mask_name(name) if isinstance(name, str) and name else ""


def mask_phone(phone: object) -> str:
    """:func:`gisgov.privacy.mask_phone` for possibly-missing values (``138****5678``)."""
    return privacy.mask_phone(phone) if isinstance(phone, str) and phone else ""


def draw_crs(basemap: str) -> str:
    """The coordinate system overlays are drawn in over ``basemap``."""
    _check_basemap(basemap)
    return "gcj02" if basemap == "gaode" else "wgs84"


def _check_basemap(basemap: str) -> None:
    if basemap not in BASEMAPS:
        raise MapError(f"unknown basemap {basemap!r}; use one of {', '.join(BASEMAPS)}")


def to_draw(
    gdf: gpd.GeoDataFrame, *, basemap: str, simplify_m: float = 0.0
) -> gpd.GeoDataFrame:
    """Return storage data ready to draw over ``basemap``.

    Parameters
    ----------
    gdf
        Layer in EPSG:4326 (storage CRS).
    basemap
        ``none``, ``osm``, ``gaode`` or ``tianditu``. Gaode tiles are GCJ-02, so every vertex
        goes through :func:`gisgov.crs.from_storage` (a WGS-84 overlay would sit a few hundred
        metres off).
    simplify_m
        Douglas–Peucker tolerance in metres (0: none), applied before the offset.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy with the same index, coordinates rounded to 6 decimals (~0.1 m).
    """
    if gdf.crs is None:
        raise MapError("a layer has no CRS; gisgov layers are stored in EPSG:4326")
    out = gdf[~gdf.geometry.isna()].copy()
    geoms = np.asarray(out.geometry.values)
    if simplify_m > 0:
        # ~1e-5 degree per metre at these latitudes is precise enough for a display tolerance.
        geoms = shapely.simplify(geoms, simplify_m * 1e-5, preserve_topology=True)
    out[out.geometry.name] = geoms
    target = draw_crs(basemap)
    if target != "wgs84":
        out = from_storage(out, target_crs=target)
    out[out.geometry.name] = shapely.transform(
        np.asarray(out.geometry.values), lambda xy: np.round(xy, 6)
    )
    return out


def _json_value(value: Any) -> Any:
    if value is None or (not isinstance(value, str | list | dict) and pd.isna(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def features(
    gdf: gpd.GeoDataFrame,
    *,
    key: str,
    properties: Mapping[str, Sequence[Any] | pd.Series] | None = None,
    columns: Iterable[str] = (),
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection with only the properties the map needs.

    Parameters
    ----------
    gdf
        Layer already passed through :func:`to_draw`.
    key
        Column used as the feature ``id`` (folium needs a unique one to style features).
    properties
        Extra per-row values (same order as ``gdf``).
    columns
        Columns of ``gdf`` to copy into the properties.

    Returns
    -------
    dict
        The FeatureCollection; values are JSON-ready (missing values are ``null``).
    """
    extra = {k: list(v) for k, v in (properties or {}).items()}
    cols = [c for c in columns if c in gdf.columns]
    geoms = shapely.to_geojson(np.asarray(gdf.geometry.values))
    feats = []
    for i, (geom, fid) in enumerate(zip(geoms, gdf[key].astype(str), strict=True)):
        props = {c: _json_value(gdf[c].iloc[i]) for c in cols}
        props.update({k: _json_value(v[i]) for k, v in extra.items()})
        feats.append(
            {"type": "Feature", "id": fid, "properties": props, "geometry": json.loads(geom)}
        )
    return {"type": "FeatureCollection", "features": feats}


def start_map(
    extent: gpd.GeoDataFrame | None,
    *,
    basemap: str,
    tianditu_key: str | None = None,
    m: folium.Map | None = None,
) -> folium.Map:
    """Return ``m`` or a new map over ``basemap`` framing ``extent`` (storage CRS).

    Parameters
    ----------
    extent
        Layer whose bounds the map should show; ``None`` keeps folium's default view.
    basemap
        ``none`` (no tiles: offline, no request), ``osm``, ``gaode`` or ``tianditu``.
    tianditu_key
        Tianditu developer key (``GISGOV_TIANDITU_KEY`` in the service settings).
    m
        An existing map to draw on (like ``GeoDataFrame.explore``); then no tiles are added.
    """
    _check_basemap(basemap)
    if m is None:
        # Canvas draws thousands of households faster than SVG; the scale bar is added later.
        m = folium.Map(
            tiles=None, prefer_canvas=True, control_scale=False, zoom_control=True,
            maxZoom=19,  # folium gives max_zoom only to tiles; clustering needs it on the map
        )
        if basemap != "none":
            spec = _TILES[basemap]
            url = spec["tiles"]
            if basemap == "tianditu":
                if not tianditu_key:
                    raise MapError(
                        "the Tianditu basemap needs a key: pass tianditu_key= "
                        "(service: GISGOV_TIANDITU_KEY; CLI: --tianditu-key)"
                    )
                url = url.replace("{key}", tianditu_key)
            folium.TileLayer(
                url, attr=spec["attr"], name=basemap, subdomains=spec["subdomains"],
                max_zoom=19, control=False,
            ).add_to(m)
            if basemap == "tianditu":
                folium.TileLayer(
                    str(spec["labels"]).replace("{key}", str(tianditu_key)), attr=spec["attr"],
                    name="tianditu labels", subdomains=spec["subdomains"], overlay=True,
                    control=False, max_zoom=19,
                ).add_to(m)
        m.get_root().header.add_child(Element(_CSS), name="gisgov_css")  # type: ignore[attr-defined]
    m.gisgov_basemap = basemap  # type: ignore[attr-defined]  # read by finish_map
    if extent is not None and len(extent) and extent.geometry.notna().any():
        minx, miny, maxx, maxy = to_draw(extent[["geometry"]], basemap=basemap).total_bounds
        m.fit_bounds([[miny, minx], [maxy, maxx]])
    return m


_CSS = """<style>
.gisgov-legend, .gisgov-panel {background: rgba(255,255,255,.92); padding: 6px 8px;
  border-radius: 4px; box-shadow: 0 1px 4px rgba(0,0,0,.35); font: 13px/1.4 "Noto Sans CJK SC",
  "Microsoft YaHei", sans-serif; max-width: 260px;}
.gisgov-legend h4, .gisgov-panel h4 {margin: 0 0 4px; font-size: 14px;}
.gisgov-legend i {display: inline-block; width: 14px; height: 14px; margin-right: 6px;
  vertical-align: -2px; border: 1px solid #555;}
.gisgov-legend i.line {height: 0; border-width: 2px 0 0 0; vertical-align: 4px;}
.gisgov-legend i.dot {border-radius: 50%;}
.gisgov-panel table {border-collapse: collapse;} .gisgov-panel td, .gisgov-panel th
  {padding: 1px 6px; text-align: right;} .gisgov-panel td:first-child {text-align: left;}
.gisgov-label {background: transparent; border: 0; box-shadow: none; font-size: 11px;
  text-align: center; text-shadow: 0 0 2px #fff, 0 0 2px #fff;}
.leaflet-popup-content table th {text-align: left; padding-right: 6px; white-space: nowrap;}
</style>"""


@dataclass
class LegendItem:
    """One row of a legend: a swatch and its label."""

    color: str
    label: str
    shape: Literal["box", "line", "dot"] = "box"
    border: str = "#555"


class Legend(MacroElement):  # type: ignore[misc]
    """A legend control (bottom right) listing swatches with labels."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function(){
          var legend = L.control({position: "bottomright"});
          legend.onAdd = function() {
            var div = L.DomUtil.create("div", "gisgov-legend");
            div.innerHTML = {{ this.html|tojson }};
            L.DomEvent.disableClickPropagation(div);
            return div;
          };
          legend.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(self, title: str, items: Sequence[LegendItem]) -> None:
        super().__init__()
        self._name = "Legend"
        rows = []
        for it in items:
            if it.shape == "line":
                style = f"border-color:{it.color}"
            else:
                style = f"background:{it.color};border-color:{it.border}"
            rows.append(
                f'<div><i class="{it.shape}" style="{style}"></i>{html.escape(it.label)}</div>'
            )
        self.html = f"<h4>{html.escape(title)}</h4>" + "".join(rows)


class Panel(MacroElement):  # type: ignore[misc]
    """A fixed information panel (a Leaflet control) holding trusted HTML."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function(){
          var panel = L.control({position: {{ this.position|tojson }}});
          panel.onAdd = function() {
            var div = L.DomUtil.create("div", "gisgov-panel");
            div.innerHTML = {{ this.html|tojson }};
            L.DomEvent.disableClickPropagation(div);
            return div;
          };
          panel.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(self, html_text: str, *, position: str = "bottomleft") -> None:
        super().__init__()
        self._name = "Panel"
        self.html = html_text
        self.position = position


class _SearchControl(JSCSSMixin, MacroElement):  # type: ignore[misc]
    """leaflet-search over several GeoJSON layers by their ``search`` property."""

    default_js = [  # noqa: RUF012 - folium's own declaration
        ("Leaflet.Search.js", "leaflet-search.min.js")
    ]
    default_css = [  # noqa: RUF012 - folium's own declaration
        ("Leaflet.Search.css", "leaflet-search.min.css")
    ]
    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function(){
          var layers = L.featureGroup([{{ this.layer_names|join(", ") }}]);
          var control = new L.Control.Search({
            layer: layers, propertyName: "search", initial: false, marker: false,
            collapsed: false, position: "topleft", textPlaceholder: {{ this.placeholder|tojson }},
            textErr: {{ this.not_found|tojson }}, textCancel: {{ this.cancel|tojson }},
            moveToLocation: function(latlng, title, map) {
              if (latlng.layer && latlng.layer.getBounds) {
                map.fitBounds(latlng.layer.getBounds(), {maxZoom: 18});
              } else { map.setView(latlng, 18); }
            }
          });
          control.on("search:locationfound", function(e) {
            // folium binds popups on the GeoJSON group, not on each feature: a propagated
            // click opens the group's popup for this feature.
            if (e.layer) { e.layer.fire("click", {latlng: e.latlng}, true); }
          });
          {{ this._parent.get_name() }}.addControl(control);
        })();
        {% endmacro %}
        """
    )

    def __init__(self, layers: Sequence[folium.GeoJson], lang: Lang) -> None:
        super().__init__()
        self._name = "SearchControl"
        self.layer_names = [layer.get_name() for layer in layers]
        self.placeholder = text("search", lang)
        self.not_found = text("not_found", lang)
        self.cancel = text("cancel", lang)


class _MiniMap(JSCSSMixin, MacroElement):  # type: ignore[misc]
    """leaflet-minimap over the basemap's tiles, or over an outline when there are none."""

    default_js = [  # noqa: RUF012 - folium's own declaration
        ("Control_MiniMap_js", "Control.MiniMap.min.js")
    ]
    default_css = [  # noqa: RUF012 - folium's own declaration
        ("Control_MiniMap_css", "Control.MiniMap.min.css")
    ]
    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function(){
          {% if this.tiles %}
          var layer = L.tileLayer({{ this.tiles|tojson }}, {subdomains: {{ this.subdomains|tojson }}});
          {% else %}
          var layer = L.geoJSON({{ this.outline|tojson }},
              {style: {color: "#333", weight: 1, fillColor: "#ddd", fillOpacity: 0.6}});
          {% endif %}
          new L.Control.MiniMap(layer, {toggleDisplay: true, position: "bottomleft",
              zoomLevelOffset: -4, width: 120, height: 120})
            .addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(self, *, tiles: str | None, subdomains: str, outline: dict[str, Any] | None):
        super().__init__()
        self._name = "MiniMap"
        self.tiles = tiles
        self.subdomains = subdomains
        self.outline = outline


class _ScaleBar(MacroElement):  # type: ignore[misc]
    _template = Template(
        """
        {% macro script(this, kwargs) %}
        L.control.scale({imperial: false}).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )


class UrlMarkerCluster(MarkerCluster):  # type: ignore[misc]
    """Clustered points loaded at view time from a GeoJSON URL (following ``next`` links).

    Keeps the HTML small when the API serves the points (``/maps/data/households.geojson``).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.markerClusterGroup({{ this.options|tojavascript }});
        (function(cluster){
          function load(url) {
            fetch(url).then(function(r){ return r.json(); }).then(function(fc){
              var markers = [];
              fc.features.forEach(function(f){
                var c = f.geometry.coordinates;
                var m = L.circleMarker([c[1], c[0]], {{ this.style|tojson }});
                m.bindPopup({{ this.popup_js }});
                markers.push(m);
              });
              cluster.addLayers(markers);
              var next = (fc.links || []).filter(function(l){ return l.rel === "next"; })[0];
              if (next) { load(next.href); }
            });
          }
          load({{ this.url|tojson }});
        })({{ this.get_name() }});
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, url: str, *, name: str, style: dict[str, Any], popup_js: str,
                 show: bool = True) -> None:
        super().__init__(name=name, show=show, options={"chunkedLoading": True})
        self._name = "UrlMarkerCluster"
        self.url = url
        self.style = style
        self.popup_js = popup_js


class InlineMarkerCluster(MarkerCluster):  # type: ignore[misc]
    """Clustered circle markers from embedded ``[lat, lon, id, text]`` rows.

    Like :class:`folium.plugins.FastMarkerCluster`, but the rows are written as UTF-8 JSON
    (folium's ``tojson`` escapes every Chinese character to six bytes) and popups are built
    in the browser, which keeps a county of 30,000 households well under 5 MB.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.markerClusterGroup({{ this.options|tojavascript }});
        (function(cluster){
          var rows = {{ this.rows_json }};
          var style = {{ this.style|tojson }};
          var markers = rows.map(function(r){
            var m = L.circleMarker([r[0], r[1]], style);
            m.bindPopup(function(){
              var div = document.createElement("div");
              var b = document.createElement("b"); b.textContent = r[2];
              div.appendChild(b); div.appendChild(document.createElement("br"));
              div.appendChild(document.createTextNode(r[3]));
              return div;
            });
            return m;
          });
          cluster.addLayers(markers);
        })({{ this.get_name() }});
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, rows: Sequence[Sequence[Any]], *, name: str, style: dict[str, Any],
                 show: bool = True) -> None:
        super().__init__(name=name, show=show, options={"chunkedLoading": True})
        self._name = "InlineMarkerCluster"
        self.style = style
        text_json = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
        # Inside <script>, "</script" or "<!--" would break out; JSON may escape "<".
        self.rows_json = text_json.replace("<", "\\u003c")


@dataclass
class MapStyle:
    """What :func:`finish_map` adds: grouped layers, search targets and a legend."""

    groups: dict[str, list[folium.map.Layer]] = field(default_factory=dict)
    searchable: list[folium.GeoJson] = field(default_factory=list)
    legend_title: str = ""
    legend: list[LegendItem] = field(default_factory=list)
    outline: gpd.GeoDataFrame | None = None


def finish_map(
    m: folium.Map,
    style: MapStyle,
    *,
    lang: Lang,
    assets: AssetMode,
) -> folium.Map:
    """Add layer control (grouped by level), legend, search, fullscreen, minimap, measure and
    scale bar, then point every asset at gisgov's vendored copies.

    Parameters
    ----------
    m
        The map from :func:`start_map`, holding the overlays.
    style
        Groups, search targets, legend and the outline used by the minimap when offline.
    lang
        ``zh`` or ``en`` for the controls' texts.
    assets
        See :func:`maps.localise_assets`.
    """
    basemap = getattr(m, "gisgov_basemap", "none")
    groups = {name: layers for name, layers in style.groups.items() if layers}
    if groups:
        GroupedLayerControl(groups, exclusive_groups=False, collapsed=False).add_to(m)
    if style.searchable:
        _SearchControl(style.searchable, lang).add_to(m)
    Fullscreen(
        position="topleft", title=text("fullscreen", lang),
        title_cancel=text("exit_fullscreen", lang),
    ).add_to(m)
    MeasureControl(
        position="topleft", primary_length_unit="meters", secondary_length_unit="kilometers",
        primary_area_unit="sqmeters", localization="cn" if lang == "zh" else "en",
    ).add_to(m)
    outline = None
    if basemap == "none" and style.outline is not None and len(style.outline):
        simple = to_draw(style.outline[["geometry"]].assign(k=range(len(style.outline))),
                         basemap=basemap, simplify_m=20)
        outline = features(simple, key="k")
    tiles = None
    if basemap in ("osm", "gaode"):
        tiles = str(_TILES[basemap]["tiles"])
    if tiles or outline:
        _MiniMap(tiles=tiles, subdomains=str(_TILES.get(basemap, {}).get("subdomains", "abc")),
                 outline=outline).add_to(m)
    _ScaleBar().add_to(m)
    if style.legend:
        Legend(style.legend_title or text("legend", lang), style.legend).add_to(m)
    return localise_assets(m, assets=assets)


def popup_fields(
    pairs: Sequence[tuple[str, str]],
) -> folium.GeoJsonPopup:
    """A popup table of (property, label) pairs."""
    return folium.GeoJsonPopup(
        fields=[p for p, _ in pairs], aliases=[a for _, a in pairs], labels=True,
        localize=False, max_width=320,
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


def style_by(prop_colours: Mapping[str, str], prop: str, base: Mapping[str, Any]
             ) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A folium style function colouring features by ``properties[prop]``."""

    def style(feature: dict[str, Any]) -> dict[str, Any]:
        value = feature["properties"].get(prop)
        return {**base, "fillColor": prop_colours.get(str(value), base.get("fillColor", "#ccc"))}

    return style


def subset(
    layers: Mapping[str, gpd.GeoDataFrame], community: str | None
) -> tuple[dict[str, gpd.GeoDataFrame], gpd.GeoDataFrame | None]:
    """Layers restricted to one community (by code or name); all layers when ``None``.

    Parameters
    ----------
    layers
        gisgov layers; ``communities`` is needed to filter.
    community
        The community's 12-digit code or its name.

    Returns
    -------
    (dict, GeoDataFrame or None)
        The restricted layers and the community's row (``None`` for the whole county).
    """
    out = {k: v for k, v in layers.items() if v is not None}
    if community is None:
        return out, None
    com = out.get("communities")
    if com is None or len(com) == 0:
        raise MapError("filtering by community needs the communities layer")
    match = np.flatnonzero(((com["code"] == community) | (com["name"] == community)).to_numpy())
    if len(match) == 0:
        raise MapError(
            f"no community {community!r}; use a 12-digit code or a name from: "
            + ", ".join(com["name"].astype(str))
        )
    row = com.iloc[[match[0]]]
    code = str(row["code"].iloc[0])
    for name in ("grids", "stations", "units", "compounds", "branches", "events"):
        gdf = out.get(name)
        if gdf is not None and "community_code" in gdf.columns:
            out[name] = gdf[gdf["community_code"] == code]
    for name in ("households", "members", "buildings"):
        gdf = out.get(name)
        if gdf is not None and len(gdf):
            # against every community, so a point on a shared edge goes to one of them
            out[name] = gdf[rows_at(gdf, com) == match[0]]
    return out, row


class PermanentLabels(MacroElement):  # type: ignore[misc]
    """A permanent centred label on every feature of a GeoJSON layer.

    folium's ``GeoJsonTooltip(permanent=True)`` binds one tooltip to the whole layer, so only
    one label shows; this binds one per feature.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this.layer_name }}.eachLayer(function(layer) {
          var text = layer.feature && layer.feature.properties[{{ this.prop|tojson }}];
          if (text) {
            layer.bindTooltip(String(text), {permanent: true, direction: "center",
                                             className: "gisgov-label", interactive: false});
          }
        });
        {% endmacro %}
        """
    )

    def __init__(self, layer: folium.GeoJson, prop: str) -> None:
        super().__init__()
        self._name = "PermanentLabels"
        self.layer_name = layer.get_name()
        self.prop = prop
