"""The set of maps for a workspace: which pages exist, rendering one, writing them all + index."""

from __future__ import annotations

import html
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd

from maps._assets import ASSETS_DIR, AssetMode
from maps._errors import MapError
from maps._i18n import Lang
from maps.basemap import add_workspace_basemap
from maps.dashboard import dashboard_grids, dashboard_html, dashboard_index_html
from maps.grids import compliance_map, grid_map
from maps.labels import add_title
from maps.overview import county_map
from maps.redgrid import red_grid_map
from maps.scenario import metric_label, scenario_diff_map
from maps.scenarios import ScenarioPlans

__all__ = ["MapPage", "index_html", "map_pages", "page_events", "render_page", "write_maps"]


@dataclass(frozen=True)
class MapPage:
    """One map of the site: file name, kind, community, scenario or grid (if any), titles.

    Kinds: ``county``, ``compliance``, ``scenario``, ``grids``, ``redgrid`` (Leaflet maps)
    and ``dashboards`` / ``dashboard`` (the event dashboards' index and one grid's page,
    :mod:`maps.dashboard`).
    """

    name: str
    kind: str
    community: str | None
    title_zh: str
    title_en: str
    scenario: str | None = None
    grid: str | None = None

    def title(self, lang: Lang) -> str:
        """Title in ``lang``."""
        return self.title_zh if lang == "zh" else self.title_en


def _has(layers: Mapping[str, gpd.GeoDataFrame], name: str) -> bool:
    gdf = layers.get(name)
    return gdf is not None and len(gdf) > 0


def map_pages(layers: Mapping[str, gpd.GeoDataFrame],
              scenarios: Sequence[ScenarioPlans] = ()) -> list[MapPage]:
    """The maps the layers allow: county, compliance, one comparison per scenario, and per
    community grids and red grids.

    Parameters
    ----------
    layers
        gisgov layers; grid maps need grids, red-grid maps households and members.
    scenarios
        The workspace's scenarios (:func:`maps.scenarios.scenarios_from_workspace`): each gets
        ``scenario-<name>.html``.

    Returns
    -------
    list of MapPage
        In index order.
    """
    if not (_has(layers, "subdistricts") and _has(layers, "communities")):
        raise MapError("maps need at least the subdistricts and communities layers")
    pages = [MapPage("county.html", "county", None, "县域总览", "County overview")]
    coms = layers["communities"].sort_values("code")
    grids = layers.get("grids")
    if grids is not None and len(grids):
        pages.append(MapPage("compliance.html", "compliance", None, "合规检查（网格长、党组织、"
                             "党支部人数）", "Compliance (leaders, party organisations, "
                             "branch size)"))
    for sc in sorted(scenarios, key=lambda s: s.name):
        pages.append(MapPage(f"scenario-{sc.name}.html", "scenario", None,
                             f"{sc.name} 方案对比（调整前后）",
                             f"{sc.name} scenario comparison (before/after)", scenario=sc.name))
    if grids is not None and len(grids):
        with_grids = set(grids["community_code"])
        for code, name in zip(coms["code"], coms["name"], strict=True):
            if code in with_grids:
                pages.append(MapPage(f"grids-{code}.html", "grids", code, f"{name} 网格",
                                     f"{code} grids"))
    if _has(layers, "households") and _has(layers, "members"):
        for code, name in zip(coms["code"], coms["name"], strict=True):
            pages.append(MapPage(f"redgrid-{code}.html", "redgrid", code, f"{name} 红色网格联户",
                                 f"{code} red-grid members"))
    with_events = dashboard_grids(layers)
    if with_events:
        pages.append(MapPage("dashboards.html", "dashboards", None, "网格事件看板（目录）",
                             "Grid event dashboards"))
        for code, name in with_events:
            pages.append(MapPage(f"dashboard-{code}.html", "dashboard", code[:12],
                                 f"{name} 事件看板", f"{code} event dashboard", grid=code))
    return pages


def _grid_events(layers: Mapping[str, gpd.GeoDataFrame], grid: str | None
                 ) -> gpd.GeoDataFrame:
    events = layers["events"]
    return events[events["grid_code"].astype(str) == str(grid)]


def page_events(layers: Mapping[str, gpd.GeoDataFrame], page: MapPage) -> int:
    """How many events (rows of a table read like people) a page draws one by one: the
    county map all, a community's grid map its own, a grid's dashboard its grid's; the
    dashboards' index shows counts only."""
    events = layers.get("events")
    if events is None or not len(events):
        return 0
    if page.kind == "county":
        return len(events)
    if page.kind == "grids":
        return int((events["community_code"].astype(str) == str(page.community)).sum())
    if page.kind == "dashboard":
        return len(_grid_events(layers, page.grid))
    return 0


def _community_row(layers: Mapping[str, gpd.GeoDataFrame], page: MapPage
                   ) -> gpd.GeoDataFrame | None:
    communities = layers.get("communities")
    if page.community is None or communities is None or "code" not in communities:
        return None
    row = communities[communities["code"].astype(str) == str(page.community)]
    return row if len(row) else None


def render_page(
    layers: Mapping[str, gpd.GeoDataFrame],
    page: MapPage,
    *,
    basemap: str = "none",
    lang: Lang = "zh",
    assets: AssetMode = "inline",
    tianditu_key: str | None = None,
    households_url: str | None = None,
    scenarios: Sequence[ScenarioPlans] = (),
    masked: bool = True,
    now: pd.Timestamp | str | None = None,
) -> str:
    """Render one page of :func:`map_pages` to HTML.

    Parameters
    ----------
    layers
        gisgov layers.
    page
        The page to draw.
    basemap, lang, assets, tianditu_key
        As for :func:`maps.county_map`.
    households_url
        Passed to :func:`maps.county_map` (the API serves households by URL).
    scenarios
        As given to :func:`map_pages` (needed for ``scenario`` pages).
    masked
        Mask grid leaders' names on grid and compliance pages (static files); the service
        passes ``False`` since its layers are already the caller's view (:mod:`gisgov.policy`).
    now
        When events are judged overdue (now by default).

    Returns
    -------
    str
        A complete HTML document.
    """
    if page.kind == "dashboards":
        return dashboard_index_html(layers, now=now, lang=lang)
    if page.kind == "dashboard":
        return dashboard_html(_grid_events(layers, page.grid), title=page.title(lang), now=now,
                              lang=lang)
    opts = {"basemap": basemap, "lang": lang, "assets": assets, "tianditu_key": tianditu_key}
    if page.kind == "county":
        m = county_map(layers, households_url=households_url, now=now,
                       **opts)  # type: ignore[arg-type]
    elif page.kind == "compliance":
        m = compliance_map(layers, masked=masked, **opts)  # type: ignore[arg-type]
    elif page.kind == "grids":
        m = grid_map(layers, community=page.community, masked=masked, now=now,
                     **opts)  # type: ignore[arg-type]
    elif page.kind == "redgrid":
        m = red_grid_map(layers, community=page.community, masked=masked,
                         **opts)  # type: ignore[arg-type]
    elif page.kind == "scenario":
        sc = next((s for s in scenarios if s.name == page.scenario), None)
        if sc is None:
            raise MapError(f"no scenario {page.scenario!r} to draw; pass scenarios=")
        m = scenario_diff_map(
            sc.before, sc.after, units=sc.units, key="code",
            metrics={metric_label(k, lang): v for k, v in sc.metrics.items()},
            **opts)  # type: ignore[arg-type]
    else:
        raise MapError(f"unknown map kind {page.kind!r}")
    if basemap == "none":
        # No online basemap: the workspace's own streets (named), compounds and, on a
        # community's pages, buildings, so a map is never outlines on grey.
        add_workspace_basemap(m, layers, basemap=basemap, extent=_community_row(layers, page),
                              buildings=page.community is not None)
    add_title(m, page.title(lang))  # on screen too, not only in the browser's tab
    root = m.get_root()
    root.title = html.escape(page.title(lang))  # type: ignore[attr-defined]
    html_text: str = root.render()
    return html_text


def index_html(pages: list[MapPage], *, lang: Lang = "zh", field_url: str | None = None,
               title: str | None = None) -> str:
    """A plain, mobile-friendly index page linking every map.

    Parameters
    ----------
    pages
        From :func:`map_pages`.
    lang
        ``zh`` (default) or ``en``.
    field_url
        Link to the field page (``/field`` when served).
    title
        Page heading.
    """
    heading = title or ("社区网格化治理地图" if lang == "zh" else "Grid governance maps")
    items = "\n".join(
        f'<li><a href="{html.escape(p.name)}">{html.escape(p.title(lang))}</a></li>'
        for p in pages)
    field = ""
    if field_url:
        label = "现场查询（手机）：我在哪里、谁负责" if lang == "zh" else "Field lookup (phone)"
        field = f'<p><a href="{html.escape(field_url)}">{label}</a></p>'
    return f"""<!DOCTYPE html>
<html lang="{'zh-CN' if lang == 'zh' else 'en'}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(heading)}</title>
<style>body{{font:16px/1.6 "Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:1em;
max-width:40em}} li{{margin:.3em 0}}</style></head>
<body><h1>{html.escape(heading)}</h1>{field}<ul>
{items}
</ul></body></html>
"""


def write_maps(
    layers: Mapping[str, gpd.GeoDataFrame],
    out_dir: str | Path,
    *,
    basemap: str = "none",
    lang: Lang = "zh",
    inline: bool = False,
    tianditu_key: str | None = None,
    scenarios: Sequence[ScenarioPlans] = (),
    now: pd.Timestamp | str | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> list[Path]:
    """Write every map of :func:`map_pages` and an ``index.html`` into ``out_dir``.

    Parameters
    ----------
    layers
        gisgov layers.
    out_dir
        Folder to write (created if needed).
    basemap, lang, tianditu_key
        As for :func:`maps.county_map`.
    inline
        Embed Leaflet and plugins in every page (single files to carry); otherwise one copy
        goes to ``out_dir/assets`` and pages link it relatively (works from ``file://``).
    scenarios
        The workspace's scenarios (:func:`maps.scenarios.scenarios_from_workspace`).
    now
        When events are judged overdue (now by default).
    progress
        Called as ``progress(page name, fraction done)`` before each page (a county has a
        dashboard per grid: a few hundred pages).

    Returns
    -------
    list of Path
        The files written, index first.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not inline:
        shutil.copytree(ASSETS_DIR, out / "assets", dirs_exist_ok=True)
    pages = map_pages(layers, scenarios)
    index = out / "index.html"
    index.write_text(index_html(pages, lang=lang), encoding="utf-8")
    written = [index]
    for i, page in enumerate(pages):
        if progress is not None:
            progress(page.name, i / len(pages))
        path = out / page.name
        path.write_text(
            render_page(layers, page, basemap=basemap, lang=lang, tianditu_key=tianditu_key,
                        assets="inline" if inline else "assets", scenarios=scenarios,
                        now=now),
            encoding="utf-8")
        written.append(path)
    return written
