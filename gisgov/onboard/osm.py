"""OpenStreetMap extracts (``.osm.pbf`` / ``.osm``) to gisgov layers, offline.

GDAL's OSM driver (through pyogrio) reads the extract; nothing is fetched from the network.
What comes out:

- **streets** from ``highway=*`` ways, classed as below and split wherever two ways share a
  node, so that they form a routable graph (:mod:`gisgov.network`) without joining a bridge to
  the road beneath it (crossing ways that share no node stay apart, as OSM means them to);
- **buildings** from ``building=*`` areas, with ``building:levels`` (or ``height`` ÷ 3 m) as
  ``floors``, ``addr:street`` + ``addr:housenumber`` as ``address`` and an extra ``use``
  column (``residential`` / ``other`` / ``unknown``) that household estimation reads;
- **compounds** (小区) from named ``landuse=residential`` areas;
- **places**: named ``place=*`` points and areas (suburb, neighbourhood, village…), used to
  name derived compounds and a placeholder community.

Street classes (``streets.class``), chosen so that ``main`` streets are the ones that bound
communities and grids and ``footway`` rows count only for walking:

========== ==================================================================================
class      OSM ``highway`` values
========== ==================================================================================
main       motorway, trunk, primary, secondary (and their ``_link`` roads)
secondary  tertiary, tertiary_link, unclassified, road
minor      residential, living_street, service, track
footway    footway, pedestrian, path, steps, cycleway, bridleway, corridor
========== ==================================================================================

Other values (``construction``, ``proposed``, ``platform``, ``raceway``, ``bus_guideway``…) are
not streets anyone walks on and are skipped. Motorways are kept as ``main`` although nobody
walks on them: they are the hardest boundaries a community or grid can follow.
"""

from __future__ import annotations

import itertools
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from numpy.typing import NDArray

from gisgov.crs import to_storage
from gisgov.errors import ImportDataError
from gisgov.layers import STORAGE_CRS, conform

__all__ = [
    "HIGHWAY_CLASSES",
    "OSM_SUFFIXES",
    "OsmExtract",
    "extract_summary",
    "is_osm_file",
    "parse_other_tags",
    "read_osm",
    "split_at_shared_vertices",
]

#: OSM ``highway`` value → ``streets.class``.
HIGHWAY_CLASSES: dict[str, str] = {
    **dict.fromkeys(
        ["motorway", "motorway_link", "trunk", "trunk_link", "primary", "primary_link",
         "secondary", "secondary_link"], "main"),
    **dict.fromkeys(["tertiary", "tertiary_link", "unclassified", "road"], "secondary"),
    **dict.fromkeys(["residential", "living_street", "service", "track"], "minor"),
    **dict.fromkeys(
        ["footway", "pedestrian", "path", "steps", "cycleway", "bridleway", "corridor"],
        "footway"),
}

#: File name endings read as OSM extracts.
OSM_SUFFIXES = (".osm.pbf", ".pbf", ".osm")

#: ``building=*`` values that are homes; ``yes`` and unknown values are ``unknown``.
_RESIDENTIAL_BUILDINGS = frozenset({
    "residential", "apartments", "house", "detached", "semidetached_house", "terrace",
    "dormitory", "bungalow", "farm", "houseboat", "static_caravan",
})
#: Values that are certainly not homes (shops, sheds, schools…); everything else is unknown.
_OTHER_BUILDINGS = frozenset({
    "commercial", "industrial", "retail", "office", "warehouse", "school", "university",
    "college", "kindergarten", "hospital", "church", "chapel", "mosque", "temple", "shrine",
    "cathedral", "public", "civic", "government", "train_station", "transportation",
    "garage", "garages", "carport", "shed", "hut", "roof", "kiosk", "parking", "service",
    "stadium", "sports_hall", "supermarket", "hotel", "barn", "greenhouse", "farm_auxiliary",
    "construction", "ruins", "bunker", "toilets", "fire_station", "hangar", "storage_tank",
})
#: ``place=*`` values worth keeping as names of neighbourhoods.
_PLACE_VALUES = frozenset({
    "city", "town", "suburb", "quarter", "neighbourhood", "village", "hamlet",
    "isolated_dwelling", "city_block", "borough", "locality",
})
# A storey is ~3 m: used when only `height` is mapped; beyond 200 storeys a value is a typo.
_STOREY_M = 3.0
_MAX_FLOORS = 200
# Coordinates of one OSM node are identical in every way that uses it; rounding to 1e-7°
# (~1 cm, OSM's own precision) only guards against float noise.
_COORD_DECIMALS = 7

_HSTORE = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class OsmExtract:
    """Layers read from one OSM extract, in EPSG:4326.

    Attributes
    ----------
    streets, buildings, compounds
        Conformed to the schema (``buildings`` carries the extra ``use`` column).
    places
        ``name``, ``place``, geometry (points or polygons) of named places.
    source
        The file read.
    skipped
        What was left out and why (``{"highway=construction": 3, …}``).
    """

    streets: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    compounds: gpd.GeoDataFrame
    places: gpd.GeoDataFrame
    source: str = ""
    skipped: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Rows per layer (for reports)."""
        return {"streets": len(self.streets), "buildings": len(self.buildings),
                "compounds": len(self.compounds), "places": len(self.places)}


def is_osm_file(path: str | Path) -> bool:
    """Whether ``path`` names an OSM extract (``.osm.pbf``, ``.pbf`` or ``.osm``).

    >>> is_osm_file("city.osm.pbf"), is_osm_file("roads.gpkg")
    (True, False)
    """
    name = Path(path).name.lower()
    return name.endswith(OSM_SUFFIXES)


def parse_other_tags(value: object) -> dict[str, str]:
    """Parse GDAL's ``other_tags`` column (HStore text) into a dict.

    >>> parse_other_tags('"building:levels"=>"6","name:zh"=>"幸福路"')
    {'building:levels': '6', 'name:zh': '幸福路'}
    """
    if not isinstance(value, str) or not value:
        return {}
    return {
        k.replace('\\"', '"'): v.replace('\\"', '"') for k, v in _HSTORE.findall(value)
    }


def read_osm(path: str | Path, *, crs: str | None = None) -> OsmExtract:
    """Read streets, buildings, residential compounds and named places from an OSM extract.

    Parameters
    ----------
    path
        ``.osm.pbf`` or ``.osm`` (XML) file.
    crs
        Only for extracts that were shifted to GCJ-02/BD-09 by a Chinese map vendor
        (``gcj02``/``bd09``); genuine OSM data is WGS-84 and needs nothing.

    Returns
    -------
    OsmExtract

    Raises
    ------
    ImportDataError
        If the file is missing, unreadable, or holds no streets and no buildings.
    """
    p = Path(path)
    if not p.exists():
        raise ImportDataError(f"{p}: file not found")
    if not is_osm_file(p):
        raise ImportDataError(f"{p.name}: not an OSM extract (.osm.pbf or .osm)")
    skipped: dict[str, int] = {}
    lines = _read(p, "lines", ["osm_id", "name", "highway", "other_tags"], "highway IS NOT NULL")
    areas = _read(
        p, "multipolygons",
        ["osm_id", "osm_way_id", "name", "building", "landuse", "place", "other_tags"],
        "building IS NOT NULL OR landuse = 'residential' OR place IS NOT NULL",
    )
    points = _read(p, "points", ["osm_id", "name", "place", "other_tags"], "place IS NOT NULL")
    if crs is not None:
        lines, areas, points = (to_storage(g, source_crs=crs) for g in (lines, areas, points))

    streets = _streets(lines, skipped)
    buildings = _buildings(areas, skipped)
    compounds = _compounds(areas)
    places = _places(points, areas)
    if streets.empty and buildings.empty:
        raise ImportDataError(
            f"{p.name}: no streets (highway=*) and no buildings (building=*) in the extract; "
            "is it the right area?"
        )
    return OsmExtract(streets=streets, buildings=buildings, compounds=compounds, places=places,
                      source=str(p), skipped=skipped)


def _read(p: Path, layer: str, columns: list[str], where: str) -> gpd.GeoDataFrame:
    try:
        with warnings.catch_warnings():
            # GDAL reports broken multipolygon relations (unclosed rings, odd members) as
            # warnings; those features arrive without geometry and are dropped below.
            warnings.simplefilter("ignore", RuntimeWarning)
            gdf = pyogrio.read_dataframe(
                p, layer=layer, columns=columns, where=where, on_invalid="ignore"
            )
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise ImportDataError(f"{p.name}: cannot read the OSM {layer} ({exc})") from None
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    if gdf.crs is None:
        gdf = gdf.set_crs(STORAGE_CRS)
    return gdf.reset_index(drop=True)


def _tag(tags: list[dict[str, str]], key: str) -> list[str | None]:
    return [t.get(key) for t in tags]


def _best_name(names: pd.Series, tags: list[dict[str, str]]) -> list[str | None]:
    """Chinese name first (``name:zh-Hans``, ``name:zh``), then ``name``."""
    out: list[str | None] = []
    for name, t in zip(names.tolist(), tags, strict=True):
        zh = t.get("name:zh-Hans") or t.get("name:zh")
        plain = name if isinstance(name, str) and name else None
        out.append(zh or plain)
    return out


def _streets(lines: gpd.GeoDataFrame, skipped: dict[str, int]) -> gpd.GeoDataFrame:
    cls = lines["highway"].map(HIGHWAY_CLASSES)
    for value, n in lines.loc[cls.isna(), "highway"].value_counts().items():
        skipped[f"highway={value}"] = int(n)
    lines = lines[cls.notna()].reset_index(drop=True)
    cls = cls[cls.notna()].reset_index(drop=True)
    tags = [parse_other_tags(v) for v in lines["other_tags"]]
    names = _best_name(lines["name"], tags)
    geoms = np.asarray(lines.geometry.values, dtype=object)
    parts, source = split_at_shared_vertices(geoms)
    ids = _part_ids([f"w{i}" for i in lines["osm_id"].astype(str)], source)
    frame = gpd.GeoDataFrame(
        {"id": ids, "name": [names[i] for i in source], "class": cls.to_numpy()[source],
         "highway": lines["highway"].to_numpy()[source]},
        geometry=parts, crs=STORAGE_CRS,
    )
    return conform("streets", frame)


def _part_ids(base: list[str], source: NDArray[np.int64]) -> list[str]:
    """``base`` per source row, suffixed ``-1``, ``-2``… when a row was split."""
    counts = np.bincount(source, minlength=len(base)) if len(source) else np.zeros(0, int)
    seen: dict[int, int] = {}
    ids: list[str] = []
    for s in source.tolist():
        if counts[s] == 1:
            ids.append(base[s])
            continue
        seen[s] = seen.get(s, 0) + 1
        ids.append(f"{base[s]}-{seen[s]}")
    return ids


def split_at_shared_vertices(
    lines: NDArray[np.object_],
) -> tuple[NDArray[np.object_], NDArray[np.int64]]:
    """Split LineStrings at every vertex another line (or the same line again) passes through.

    OSM ways meet at shared nodes but run on past them; a routable graph needs an edge end at
    every junction. Lines that cross without a shared vertex (a bridge over a road) stay whole.

    Parameters
    ----------
    lines
        LineStrings (MultiLineStrings are split into their parts first).

    Returns
    -------
    parts : numpy.ndarray of LineString
    source : numpy.ndarray of int
        Index into ``lines`` of each part.

    Examples
    --------
    >>> import shapely
    >>> a = shapely.LineString([(0, 0), (1, 0), (2, 0)])
    >>> b = shapely.LineString([(1, -1), (1, 0), (1, 1)])
    >>> parts, source = split_at_shared_vertices(np.array([a, b], dtype=object))
    >>> len(parts), source.tolist()
    (4, [0, 0, 1, 1])
    """
    geoms = np.asarray(lines, dtype=object)
    single, owner = shapely.get_parts(geoms, return_index=True)
    keep = shapely.get_type_id(single) == 1
    single, owner = single[keep], owner[keep]
    if len(single) == 0:
        return np.zeros(0, dtype=object), np.zeros(0, dtype=np.int64)
    coords, idx = shapely.get_coordinates(single, return_index=True)
    rounded = np.round(coords, _COORD_DECIMALS)
    _, vertex = np.unique(rounded, axis=0, return_inverse=True)
    vertex = np.asarray(vertex).ravel()
    # A vertex used twice anywhere (two ways, or a way looping back) is a junction.
    junction = np.bincount(vertex)[vertex] >= 2
    starts = np.searchsorted(idx, np.arange(len(single)))
    ends = np.append(starts[1:], len(idx))
    parts: list[shapely.LineString] = []
    source: list[int] = []
    for k in range(len(single)):
        s, e = int(starts[k]), int(ends[k])
        inner = np.flatnonzero(junction[s + 1:e - 1]) + 1
        if len(inner) == 0:
            parts.append(single[k])
            source.append(int(owner[k]))
            continue
        cuts = [0, *inner.tolist(), e - s - 1]
        xy = coords[s:e]
        for a, b in itertools.pairwise(cuts):
            if b > a:
                parts.append(shapely.LineString(xy[a:b + 1]))
                source.append(int(owner[k]))
    out = np.empty(len(parts), dtype=object)
    out[:] = parts
    return out, np.asarray(source, dtype=np.int64)


def _area_ids(areas: gpd.GeoDataFrame) -> list[str]:
    way = areas["osm_way_id"].astype(object)
    rel = areas["osm_id"].astype(object)
    return [f"w{w}" if isinstance(w, str) and w else f"r{r}"
            for w, r in zip(way.tolist(), rel.tolist(), strict=True)]


def _polygonal(geoms: NDArray[np.object_]) -> NDArray[np.object_]:
    """Valid polygonal geometry; single-part multipolygons become Polygons."""
    fixed = shapely.make_valid(geoms)
    out = np.empty(len(fixed), dtype=object)
    for i, g in enumerate(fixed):
        if g is None or g.is_empty:
            out[i] = None
            continue
        polys = [p for p in shapely.get_parts(g) if shapely.get_type_id(p) in (3, 6)]
        polys = [q for p in polys for q in shapely.get_parts(p)]
        if not polys:
            out[i] = None
        elif len(polys) == 1:
            out[i] = polys[0]
        else:
            out[i] = shapely.MultiPolygon(polys)
    return out


def _floors(tags: list[dict[str, str]]) -> list[int | None]:
    out: list[int | None] = []
    for t in tags:
        value: float | None = None
        for key, scale in (("building:levels", 1.0), ("height", 1.0 / _STOREY_M)):
            raw = t.get(key)
            if raw is None:
                continue
            m = re.match(r"\s*(\d+(?:\.\d+)?)", raw)
            if m:
                value = float(m.group(1)) * scale
                break
        if value is None or value <= 0 or value > _MAX_FLOORS:
            out.append(None)
        else:
            out.append(max(1, round(value)))
    return out


def _addresses(tags: list[dict[str, str]]) -> list[str | None]:
    """``addr:street`` + ``addr:housenumber`` in the local order (幸福路12号 / Main St 12)."""
    out: list[str | None] = []
    for t in tags:
        full = t.get("addr:full")
        street = t.get("addr:street")
        number = t.get("addr:housenumber")
        if street and number:
            if _CJK.search(street):
                suffix = "" if number.endswith("号") else "号"
                out.append(f"{street}{number}{suffix}")
            else:
                out.append(f"{street} {number}")
        else:
            out.append(full or None)
    return out


def _building_use(values: pd.Series) -> list[str]:
    out = []
    for v in values.astype(str).str.lower().tolist():
        if v in _RESIDENTIAL_BUILDINGS:
            out.append("residential")
        elif v in _OTHER_BUILDINGS:
            out.append("other")
        else:
            out.append("unknown")
    return out


def _buildings(areas: gpd.GeoDataFrame, skipped: dict[str, int]) -> gpd.GeoDataFrame:
    b = areas[areas["building"].notna() & (areas["building"] != "no")].reset_index(drop=True)
    tags = [parse_other_tags(v) for v in b["other_tags"]]
    geoms = _polygonal(np.asarray(b.geometry.values, dtype=object))
    ok = np.array([g is not None for g in geoms], dtype=bool)
    if (~ok).any():
        skipped["building without a valid area"] = int((~ok).sum())
    frame = gpd.GeoDataFrame(
        {"id": _area_ids(b), "address": _addresses(tags), "floors": _floors(tags),
         "use": _building_use(b["building"]), "name": _best_name(b["name"], tags)},
        geometry=list(geoms), crs=STORAGE_CRS,
    )[ok]
    return conform("buildings", frame)


def _compounds(areas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    c = areas[(areas["landuse"] == "residential") & areas["name"].notna()].reset_index(drop=True)
    tags = [parse_other_tags(v) for v in c["other_tags"]]
    geoms = _polygonal(np.asarray(c.geometry.values, dtype=object))
    ok = np.array([g is not None for g in geoms], dtype=bool)
    frame = gpd.GeoDataFrame(
        {"id": _area_ids(c), "name": _best_name(c["name"], tags)},
        geometry=list(geoms), crs=STORAGE_CRS,
    )[ok]
    return conform("compounds", frame)


def _places(points: gpd.GeoDataFrame, areas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    frames = []
    for src in (points, areas):
        sel = src[src["place"].isin(_PLACE_VALUES) & src["name"].notna()].reset_index(drop=True)
        tags = [parse_other_tags(v) for v in sel["other_tags"]]
        frames.append(gpd.GeoDataFrame(
            {"name": _best_name(sel["name"], tags), "place": sel["place"].to_numpy()},
            geometry=sel.geometry.values, crs=STORAGE_CRS,
        ))
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=STORAGE_CRS)


def extract_summary(extract: OsmExtract) -> Mapping[str, object]:
    """A JSON-ready summary of an extract: counts, street classes, skipped tags."""
    return {
        "source": extract.source,
        "counts": extract.counts(),
        "street_classes": {str(k): int(v)
                           for k, v in extract.streets["class"].value_counts().items()},
        "building_use": {str(k): int(v)
                         for k, v in extract.buildings["use"].value_counts().items()},
        "skipped": dict(extract.skipped),
    }
