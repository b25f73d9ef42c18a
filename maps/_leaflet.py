"""The Leaflet elements gisgov adds to folium's: legend, panel, search, minimap, scale bar
and two marker clusters, with the stylesheet they share.

Each is a :class:`branca.element.MacroElement` whose template writes a few lines of Leaflet;
the JavaScript libraries they load (leaflet-search, leaflet-minimap) are declared here and
pointed at gisgov's vendored copies by :func:`maps._assets.localise_assets`.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import folium
from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.plugins import MarkerCluster
from folium.template import Template

from maps._i18n import Lang, text

__all__ = [
    "CSS",
    "InlineMarkerCluster",
    "Legend",
    "LegendItem",
    "MiniMap",
    "Panel",
    "ScaleBar",
    "SearchControl",
    "UrlMarkerCluster",
    "popup_fields",
]

CSS = """<style>
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


class SearchControl(JSCSSMixin, MacroElement):  # type: ignore[misc]
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


class MiniMap(JSCSSMixin, MacroElement):  # type: ignore[misc]
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


class ScaleBar(MacroElement):  # type: ignore[misc]
    """Leaflet's metric scale bar (folium's ``control_scale`` is off: this one comes last)."""

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

    def __init__(
        self, url: str, *, name: str, style: dict[str, Any], popup_js: str, show: bool = True
    ) -> None:
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

    def __init__(
        self, rows: Sequence[Sequence[Any]], *, name: str, style: dict[str, Any], show: bool = True
    ) -> None:
        super().__init__(name=name, show=show, options={"chunkedLoading": True})
        self._name = "InlineMarkerCluster"
        self.style = style
        text_json = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
        # Inside <script>, "</script" or "<!--" would break out; JSON may escape "<".
        self.rows_json = text_json.replace("<", "\\u003c")


def popup_fields(
    pairs: Sequence[tuple[str, str]],
) -> folium.GeoJsonPopup:
    """A popup table of (property, label) pairs."""
    return folium.GeoJsonPopup(
        fields=[p for p, _ in pairs],
        aliases=[a for _, a in pairs],
        labels=True,
        localize=False,
        max_width=320,
    )
