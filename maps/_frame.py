"""A map's frame: :func:`start_map` before the overlays, :func:`finish_map` after.

Every renderer follows the same steps: :func:`start_map` (or the caller's map) and a
:class:`Canvas`; one builder per overlay, each built from :func:`maps._geojson.features`
(converted by :func:`maps._crs.to_draw` to the basemap's coordinate system, rounded to 6
decimals) and added with :meth:`Canvas.add` to its group of the layer control, with its
legend rows; then :func:`finish_map` adds the controls people expect (grouped layers, search,
full screen, measure, minimap, scale bar, legend) and points every asset at gisgov's vendored
copies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

import folium
import geopandas as gpd
from branca.element import Element
from folium.plugins import Fullscreen, GroupedLayerControl, MeasureControl

from maps._assets import AssetMode, localise_assets
from maps._crs import TILES, check_basemap, to_draw
from maps._errors import MapError
from maps._geojson import features
from maps._i18n import Lang, text
from maps._leaflet import CSS, Legend, LegendItem, MiniMap, ScaleBar, SearchControl

__all__ = ["Canvas", "MapStyle", "finish_map", "start_map"]


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
    check_basemap(basemap)
    if m is None:
        # Canvas draws thousands of households faster than SVG; the scale bar is added later.
        m = folium.Map(
            tiles=None,
            prefer_canvas=True,
            control_scale=False,
            zoom_control=True,
            maxZoom=19,  # folium gives max_zoom only to tiles; clustering needs it on the map
        )
        if basemap != "none":
            spec = TILES[basemap]
            url = spec["tiles"]
            if basemap == "tianditu":
                if not tianditu_key:
                    raise MapError(
                        "the Tianditu basemap needs a key: pass tianditu_key= "
                        "(service: GISGOV_TIANDITU_KEY; CLI: --tianditu-key)"
                    )
                url = url.replace("{key}", tianditu_key)
            folium.TileLayer(
                url,
                attr=spec["attr"],
                name=basemap,
                subdomains=spec["subdomains"],
                max_zoom=19,
                control=False,
            ).add_to(m)
            if basemap == "tianditu":
                folium.TileLayer(
                    str(spec["labels"]).replace("{key}", str(tianditu_key)),
                    attr=spec["attr"],
                    name="tianditu labels",
                    subdomains=spec["subdomains"],
                    overlay=True,
                    control=False,
                    max_zoom=19,
                ).add_to(m)
        m.get_root().header.add_child(Element(CSS), name="gisgov_css")  # type: ignore[attr-defined]
    m.gisgov_basemap = basemap  # type: ignore[attr-defined]  # read by finish_map
    if extent is not None and len(extent) and extent.geometry.notna().any():
        minx, miny, maxx, maxy = to_draw(extent[["geometry"]], basemap=basemap).total_bounds
        m.fit_bounds([[miny, minx], [maxy, maxx]])
    return m


@dataclass
class MapStyle:
    """What :func:`finish_map` adds: grouped layers, search targets and a legend."""

    groups: dict[str, list[folium.map.Layer]] = field(default_factory=dict)
    searchable: list[folium.GeoJson] = field(default_factory=list)
    legend_title: str = ""
    legend: list[LegendItem] = field(default_factory=list)
    outline: gpd.GeoDataFrame | None = None


L = TypeVar("L", bound=folium.map.Layer)


@dataclass
class Canvas:
    """The map being drawn, its style and how to draw: what every layer builder takes.

    A renderer starts one (:func:`start_map`, a :class:`MapStyle`), hands it to small steps
    that each add a layer, its group and its legend rows, and ends with :meth:`finish`.
    """

    m: folium.Map
    style: MapStyle
    basemap: str
    lang: Lang

    def add(self, layer: L, group: str | None = None, *, search: bool = False) -> L:
        """Add ``layer`` to the map, to the layer control's ``group`` (a :func:`text` key),
        and to the search targets when ``search``."""
        layer.add_to(self.m)
        if group is not None:
            self.style.groups.setdefault(text(group, self.lang), []).append(layer)
        if search and isinstance(layer, folium.GeoJson):  # the search reads GeoJSON properties
            self.style.searchable.append(layer)
        return layer

    def legend(self, *items: LegendItem) -> None:
        """Append rows to the legend."""
        self.style.legend.extend(items)

    def finish(self, assets: AssetMode) -> folium.Map:
        """:func:`finish_map` on this canvas."""
        return finish_map(self.m, self.style, lang=self.lang, assets=assets)


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
        SearchControl(style.searchable, lang).add_to(m)
    Fullscreen(
        position="topleft",
        title=text("fullscreen", lang),
        title_cancel=text("exit_fullscreen", lang),
    ).add_to(m)
    MeasureControl(
        position="topleft",
        primary_length_unit="meters",
        secondary_length_unit="kilometers",
        primary_area_unit="sqmeters",
        localization="cn" if lang == "zh" else "en",
    ).add_to(m)
    outline = None
    if basemap == "none" and style.outline is not None and len(style.outline):
        simple = to_draw(
            style.outline[["geometry"]].assign(k=range(len(style.outline))),
            basemap=basemap,
            simplify_m=20,
        )
        outline = features(simple, key="k")
    tiles = None
    if basemap in ("osm", "gaode"):
        tiles = str(TILES[basemap]["tiles"])
    if tiles or outline:
        MiniMap(
            tiles=tiles,
            subdomains=str(TILES.get(basemap, {}).get("subdomains", "abc")),
            outline=outline,
        ).add_to(m)
    ScaleBar().add_to(m)
    if style.legend:
        Legend(style.legend_title or text("legend", lang), style.legend).add_to(m)
    return localise_assets(m, assets=assets)
