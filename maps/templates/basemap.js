/* gisgov's own basemap (maps/basemap.py): streets, compounds and buildings from the
 * workspace, with labels that never overlap. Inlined into every page; no request. */
window.gisgovBasemap = function (map, fc) {
  "use strict";
  var base = map.createPane("gisgovBase");
  base.style.zIndex = 250;  // under the overlays (400), over the tiles (200)
  base.style.pointerEvents = "none";
  var lab = map.createPane("gisgovBaseLabels");
  lab.style.zIndex = 450;   // over the overlays' fill, under markers (600) and popups
  lab.style.pointerEvents = "none";
  map.getContainer().style.background = "#f2efe9";
  if (!document.getElementById("gisgov-basemap-css")) {
    var css = document.createElement("style");
    css.id = "gisgov-basemap-css";
    css.textContent =
      ".gisgov-bl{white-space:nowrap;position:absolute;transform:translate(-50%,-50%);" +
      "font:12px/1.2 'Noto Sans CJK SC','PingFang SC','Microsoft YaHei',sans-serif;" +
      "color:#444;text-shadow:0 0 2px #fff,0 0 2px #fff,0 0 3px #fff;}" +
      ".gisgov-bl.r0{font-size:14px;font-weight:bold;color:#5d4037}" +
      ".gisgov-bl.r1{font-size:13px;color:#4e342e}" +
      ".gisgov-bl.r3{color:#6d4c41;font-style:italic}.gisgov-bl.r4{font-size:11px;color:#777}";
    document.head.appendChild(css);
  }
  var WEIGHT = {main: 7, secondary: 5, minor: 3, footway: 1.5};
  var FILL = {main: "#fbd26a", secondary: "#ffffff", minor: "#ffffff", footway: "#9e9e9e"};
  var polys = [], streets = [], labels = [];
  fc.features.forEach(function (f) {
    var p = f.properties || {};
    if (p.k === "street") { streets.push(f); }
    else if (p.k === "label") { labels.push(f); }
    else { polys.push(f); }
  });
  L.geoJSON({type: "FeatureCollection", features: polys}, {
    pane: "gisgovBase", interactive: false,
    style: function (f) {
      return f.properties.k === "compound"
        ? {color: "#c9bda5", weight: 1, fillColor: "#ebe3d3", fillOpacity: 1}
        : {color: "#b5a993", weight: 0.6, fillColor: "#ddd3c3", fillOpacity: 1};
    }
  }).addTo(map);
  function width(cls) {
    var w = (WEIGHT[cls] || 3) * Math.pow(2, (map.getZoom() - 16) / 1.5);
    return Math.max(cls === "main" ? 2 : 0.8, Math.min(w, 18));
  }
  var casing = L.geoJSON({type: "FeatureCollection", features: streets}, {
    pane: "gisgovBase", interactive: false,
    style: function (f) { return {color: "#b3a88f", weight: width(f.properties.c) + 2,
                                  opacity: f.properties.c === "footway" ? 0 : 1}; }
  }).addTo(map);
  var fill = L.geoJSON({type: "FeatureCollection", features: streets}, {
    pane: "gisgovBase", interactive: false,
    style: function (f) { return {color: FILL[f.properties.c] || "#fff",
                                  weight: width(f.properties.c),
                                  dashArray: f.properties.c === "footway" ? "3 3" : null}; }
  }).addTo(map);
  labels.sort(function (a, b) { return a.properties.r - b.properties.r; });
  var items = labels.map(function (f) {
    var c = f.geometry.coordinates, t = String(f.properties.t);
    return {ll: L.latLng(c[1], c[0]), t: t, r: f.properties.r, z: f.properties.z,
            w: t.length * (f.properties.r === 0 ? 14 : 12) + 6,
            h: f.properties.r === 0 ? 18 : 16, m: null};
  });
  function place() {
    // Greedy collision pass: best rank first; a label overlapping one already placed
    // (boxes estimated from the text, so no layout is forced) is left off.
    var z = map.getZoom(), size = map.getSize(), taken = [];
    items.forEach(function (it) {
      var show = z >= it.z, box = null;
      if (show) {
        var pt = map.latLngToContainerPoint(it.ll);
        box = [pt.x - it.w / 2 - 2, pt.y - it.h / 2 - 2, pt.x + it.w / 2 + 2, pt.y + it.h / 2 + 2];
        show = box[2] > 0 && box[3] > 0 && box[0] < size.x && box[1] < size.y;
        for (var i = 0; show && i < taken.length; i++) {
          var o = taken[i];
          if (box[0] < o[2] && box[2] > o[0] && box[1] < o[3] && box[3] > o[1]) { show = false; }
        }
      }
      if (show) {
        taken.push(box);
        if (!it.m) {
          it.m = L.marker(it.ll, {pane: "gisgovBaseLabels", interactive: false, keyboard: false,
            icon: L.divIcon({className: "", iconSize: null,
                             html: '<span class="gisgov-bl r' + it.r + '"></span>'})});
        }
        if (!map.hasLayer(it.m)) {
          it.m.addTo(map);
          it.m.getElement().firstChild.textContent = it.t;
        }
      } else if (it.m && map.hasLayer(it.m)) {
        map.removeLayer(it.m);
      }
    });
  }
  map.on("zoomend", function () {
    casing.setStyle(function (f) { return {weight: width(f.properties.c) + 2}; });
    fill.setStyle(function (f) { return {weight: width(f.properties.c)}; });
  });
  map.on("moveend zoomend resize", place);
  map.whenReady(place);
  return {labels: items, place: place};
};
