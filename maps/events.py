"""事 on the maps: events as clustered points, coloured by status, overdue ones marked.

A county has thousands of events a year (the seeded sample: about 8,500), so the layer is a
marker cluster (Leaflet.markercluster through :class:`folium.plugins.MarkerCluster`, vendored
in ``maps/assets``); a cluster holding overdue events wears a red ring and says how many, so
a coordinator sees where work is late before zooming in (dark blue: the cluster holds open
events; light: all handled). Each point is coloured by its status
in the closed loop (待受理 red, 已受理 orange, 已办结 blue, 已核查 purple, 已结案 green) and an
overdue one (open past its due time, :func:`gisgov.events.service.overdue_mask`) is drawn
larger with a black ring.

Only what the map needs reaches the HTML: id, category, status, level, report and due times.
Never the reporter (personal) or the text (residents' matters): those are read in the event
list, where reads are scoped and audited. Which events a caller gets is the policy's
(events are read like people: :mod:`gisgov.policy`); this module draws what it is given.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from folium.plugins import MarkerCluster
from folium.template import Template

from gisgov.events.loop import LEVEL_LABELS, STATUS_LABELS, parse_time
from gisgov.events.service import overdue_mask
from maps._crs import to_draw
from maps._frame import MapStyle
from maps._i18n import Lang
from maps._leaflet import LegendItem

__all__ = ["STATUS_COLOURS", "EventMarkerCluster", "add_events", "event_rows"]

#: Colour of each status of the closed loop (ColorBrewer Set1: red → green along the loop).
STATUS_COLOURS: dict[str, str] = {
    "reported": "#e41a1c", "accepted": "#ff7f00", "resolved": "#377eb8",
    "verified": "#984ea3", "closed": "#4daf4a",
}
_LEVEL_EN = {"grid": "grid", "community": "community", "subdistrict": "subdistrict",
             "department": "department"}
_T = {
    "zh": {"events": "事件", "overdue": "超期未办", "category": "类别", "status": "状态",
           "level": "层级", "reported": "上报", "due": "时限", "group": "事件"},
    "en": {"events": "Events", "overdue": "Overdue", "category": "Category",
           "status": "Status", "level": "Level", "reported": "Reported", "due": "Due",
           "group": "Events"},
}


def _short_time(value: Any) -> str:
    """``2026-03-01 09:30`` (China Standard Time), or empty."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(parse_time(value).strftime("%Y-%m-%d %H:%M"))


def event_rows(events: gpd.GeoDataFrame, *, basemap: str, now: pd.Timestamp
               ) -> list[list[Any]]:
    """Rows ``[lat, lon, id, category, status, level, reported, due, overdue]`` to draw.

    Overdue rows come last so their markers are drawn on top of the others.
    """
    located = events[events.geometry.notna() & ~events.geometry.is_empty]
    if not len(located):
        return []
    late = overdue_mask(located, now)
    pts = to_draw(located[["id", "category", "status", "level", "reported_at", "due",
                           "geometry"]], basemap=basemap)
    rows: list[list[Any]] = [
        [float(y), float(x), str(i), str(c), str(s), str(lv), _short_time(r), _short_time(d),
         int(o)]
        for x, y, i, c, s, lv, r, d, o in zip(
            pts.geometry.x, pts.geometry.y, pts["id"], pts["category"], pts["status"],
            pts["level"], pts["reported_at"], pts["due"], late, strict=True)
    ]
    rows.sort(key=lambda r: int(r[8]))
    return rows


class EventMarkerCluster(MarkerCluster):  # type: ignore[misc]
    """Clustered event markers from embedded rows (:func:`event_rows`).

    Popups are built in the browser with ``textContent`` (no HTML from the data is ever
    parsed); clusters count their overdue events and show them with a red ring.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.markerClusterGroup({
          chunkedLoading: true,
          iconCreateFunction: function(cluster) {
            var kids = cluster.getAllChildMarkers(), late = 0, open = 0;
            kids.forEach(function(k){
              if (k.options.gisgovOverdue) { late += 1; }
              if (k.options.gisgovOpen) { open += 1; }
            });
            var n = kids.length, d = n < 100 ? 34 : (n < 1000 ? 40 : 46);
            var label = late ? n + "<br><small>" + {{ this.late_word|tojson }} + late
                               + "</small>" : String(n);
            return L.divIcon({
              html: "<div style='width:" + d + "px;height:" + d + "px;border-radius:50%;"
                    + "background:" + (open ? "#253494" : "#41b6c4") + ";color:#fff;"
                    + "font:bold 11px/1.1 sans-serif;display:flex;align-items:center;"
                    + "justify-content:center;text-align:center;border:2px solid #fff;"
                    + (late ? "box-shadow:0 0 0 3px #b10026;" : "") + "'>" + label
                    + "</div>",
              className: "gisgov-event-cluster", iconSize: L.point(d, d)});
          }
        });
        (function(cluster){
          var rows = {{ this.rows_json }};
          var colours = {{ this.colours|tojson }};
          var statuses = {{ this.statuses|tojson }};
          var levels = {{ this.levels|tojson }};
          var words = {{ this.words|tojson }};
          var markers = rows.map(function(r){
            var late = r[8] === 1;
            var m = L.circleMarker([r[0], r[1]], {
              radius: late ? 8 : 5, weight: late ? 3 : 1,
              color: late ? "#000000" : "#ffffff", fillColor: colours[r[4]] || "#999999",
              fillOpacity: 0.95, gisgovOverdue: late,
              gisgovOpen: r[4] === "reported" || r[4] === "accepted"});
            m.bindPopup(function(){
              var div = document.createElement("div");
              var b = document.createElement("b"); b.textContent = r[2];
              div.appendChild(b);
              [[words.category, r[3]], [words.status, statuses[r[4]] || r[4]],
               [words.level, levels[r[5]] || r[5]], [words.reported, r[6]],
               [words.due, r[7]]].forEach(function(kv){
                div.appendChild(document.createElement("br"));
                div.appendChild(document.createTextNode(kv[0] + "：" + kv[1]));
              });
              if (late) {
                div.appendChild(document.createElement("br"));
                var s = document.createElement("b"); s.style.color = "#b10026";
                s.textContent = words.overdue; div.appendChild(s);
              }
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

    def __init__(self, rows: Sequence[Sequence[Any]], *, name: str, lang: Lang,
                 show: bool = True) -> None:
        super().__init__(name=name, show=show)
        self._name = "EventMarkerCluster"
        words = _T[lang]
        self.colours = STATUS_COLOURS
        self.statuses = STATUS_LABELS if lang == "zh" else {s: s for s in STATUS_COLOURS}
        self.levels = LEVEL_LABELS if lang == "zh" else _LEVEL_EN
        self.words = {k: words[k] for k in ("category", "status", "level", "reported", "due",
                                            "overdue")}
        self.late_word = "超期 " if lang == "zh" else "late "
        text_json = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
        # Inside <script>, "</script" or "<!--" would break out; JSON may escape "<".
        self.rows_json = text_json.replace("<", "\\u003c")


def add_events(m: folium.Map, style: MapStyle, events: gpd.GeoDataFrame | None, *,
               basemap: str, lang: Lang, now: pd.Timestamp | None = None) -> int:
    """Draw ``events`` on ``m`` as one clustered layer, with its legend and layer group.

    Parameters
    ----------
    m
        The map (between :func:`maps._frame.start_map` and :func:`maps._frame.finish_map`).
    style
        The map's style: the layer joins group 事件, the legend gets the status colours.
    events
        The ``events`` layer as the caller may see it (``None`` or empty: nothing drawn).
    basemap, lang
        As for the map.
    now
        The time overdue is judged at (now by default).

    Returns
    -------
    int
        How many events were drawn.
    """
    if events is None or not len(events):
        return 0
    when = parse_time(pd.Timestamp.now(tz="UTC") if now is None else now)
    rows = event_rows(events, basemap=basemap, now=when)
    if not rows:
        return 0
    words = _T[lang]
    late = sum(r[8] for r in rows)
    layer = EventMarkerCluster(rows, name=f"{words['events']} ({len(rows)})", lang=lang)
    layer.add_to(m)
    style.groups[words["group"]] = [layer]
    labels = STATUS_LABELS if lang == "zh" else {s: s for s in STATUS_COLOURS}
    style.legend += [LegendItem(c, f"{words['events']}：{labels[s]}", "dot")
                     for s, c in STATUS_COLOURS.items()]
    style.legend.append(LegendItem("#ffffff", f"{words['overdue']} ({late})", "dot",
                                   border="#000000"))
    return len(rows)
