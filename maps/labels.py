"""Polygon labels that fit: full text when the polygon is big on screen, a short code when it
is not, none when even that would cover another label.

``PermanentLabels`` put every grid's three-line label ("001 / 张三 / 351户") on the map at
every zoom, so at a community's default zoom fifteen labels lay on top of each other. Map
renderers solve this with a placement pass; here it runs in the browser after every zoom and
pan: polygons are taken largest first, each gets its full label if its on-screen box is big
enough for it, else its short label, and a label whose box would overlap one already placed is
hidden (its details stay one click away, in the popup). The pass reads the label boxes once
per run (one layout), not once per label.
"""

from __future__ import annotations

from typing import Any

import folium
from branca.element import MacroElement
from jinja2 import Template

__all__ = ["FittedLabels", "add_title"]


class FittedLabels(MacroElement):  # type: ignore[misc]
    """Labels of a GeoJSON layer's polygons chosen and placed by size and collision.

    Parameters
    ----------
    layer
        The folium GeoJson layer (its features carry the label properties).
    full
        Property with the full label (may hold ``<br>`` line breaks, already escaped).
    short
        Property with the short label (a grid's code, a community's name).
    full_px
        ``(width, height)`` in pixels a polygon's box needs on screen for the full label.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
          var layer = {{ this.layer_name }}, map = {{ this.map_name }};
          var FULL = {{ this.full|tojson }}, SHORT = {{ this.short|tojson }};
          var NEED = {{ this.full_px|tojson }};
          var items = [];
          layer.eachLayer(function (l) {
            var p = l.feature && l.feature.properties;
            if (!p || (!p[FULL] && !p[SHORT])) { return; }
            l.bindTooltip("", {permanent: true, direction: "center",
                               className: "gisgov-label", interactive: false});
            items.push({l: l, b: l.getBounds(), full: String(p[FULL] || p[SHORT]),
                        short: String(p[SHORT] || p[FULL]), text: null});
          });
          function place() {
            if (!map.hasLayer(layer)) { return; }
            var size = map.getSize();
            items.forEach(function (it) {
              var a = map.latLngToContainerPoint(it.b.getNorthWest());
              var c = map.latLngToContainerPoint(it.b.getSouthEast());
              it.w = c.x - a.x; it.h = c.y - a.y;
              it.on = c.x > 0 && c.y > 0 && a.x < size.x && a.y < size.y;
              var text = it.w >= NEED[0] && it.h >= NEED[1] ? it.full : it.short;
              if (!it.on) { it.l.closeTooltip(); return; }
              if (text !== it.text) { it.l.setTooltipContent(text); it.text = text; }
              it.l.openTooltip();
            });
            // One read of every box, then the greedy pass: biggest polygons first.
            var shown = items.filter(function (it) { return it.on; });
            shown.forEach(function (it) {
              var el = it.l.getTooltip() && it.l.getTooltip().getElement();
              it.r = el ? el.getBoundingClientRect() : null;
            });
            shown.sort(function (x, y) { return y.w * y.h - x.w * x.h; });
            var taken = [];
            shown.forEach(function (it) {
              var r = it.r;
              if (!r) { return; }
              var hit = taken.some(function (o) {
                return r.left < o.right && r.right > o.left && r.top < o.bottom &&
                       r.bottom > o.top;
              });
              if (hit) { it.l.closeTooltip(); } else { taken.push(r); }
            });
          }
          map.on("zoomend moveend resize overlayadd", place);
          map.whenReady(place);
        })();
        {% endmacro %}
        """
    )

    def __init__(self, layer: folium.GeoJson, m: Any, *, full: str, short: str,
                 full_px: tuple[int, int] = (80, 56)) -> None:
        super().__init__()
        self._name = "FittedLabels"
        self.layer_name = layer.get_name()
        self.map_name = m.get_name()
        self.full = full
        self.short = short
        self.full_px = list(full_px)


def add_title(m: Any, title: str, subtitle: str = "") -> None:
    """A title box at the top centre of a map (pages had none: a printed or shared map said
    nothing about what it shows). Text only, escaped here."""
    import html

    from branca.element import Element

    sub = f"<div class='gisgov-title-sub'>{html.escape(subtitle)}</div>" if subtitle else ""
    box = (
        "<div class='gisgov-title' role='heading' aria-level='1'>"
        f"{html.escape(title)}{sub}</div>"
        "<style>.gisgov-title{position:absolute;top:10px;left:50%;transform:translateX(-50%);"
        "z-index:1000;background:rgba(255,255,255,.92);padding:4px 14px;border-radius:4px;"
        "box-shadow:0 1px 4px rgba(0,0,0,.35);font:bold 16px/1.4 'Noto Sans CJK SC',"
        "'Microsoft YaHei',sans-serif;pointer-events:none;max-width:60%;text-align:center;}"
        ".gisgov-title-sub{font-weight:normal;font-size:12px;color:#555}</style>"
    )
    m.get_root().html.add_child(Element(box), name="gisgov_title")
