"""Layers derived when a county does not have them: compounds, households, joins, placeholders.

- :func:`compounds_from_blocks`: every street block holding homes becomes a compound (小区)
  where none was mapped; mapped compounds are kept and only the rest of the block is added.
- :func:`households_from_buildings`: households estimated from the footprint area × floors ÷
  the floor area of one dwelling (default 90 m², a typical Chinese flat's 建筑面积), marked
  ``estimated``; buildings of unknown use count at ``residential_share`` of their floor area.
- :func:`assign_to_areas`: the area (compound, community, building) each feature lies in.
- :func:`community_from_extent`: a placeholder community and subdistrict covering the data,
  for a county that has no boundary files yet.
- :func:`branches_from_members`: party branches named in a roster (所属支部) as a layer.

All functions are pure: GeoDataFrames in EPSG:4326 in, new GeoDataFrames out.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gisgov.errors import ValidationError
from gisgov.layers import STORAGE_CRS, conform

__all__ = [
    "DEFAULT_DWELLING_M2",
    "DEFAULT_FLOORS",
    "DEFAULT_PERSONS_PER_HOUSEHOLD",
    "DEFAULT_RESIDENTIAL_SHARE",
    "assign_to_areas",
    "branches_from_members",
    "community_from_extent",
    "compounds_from_blocks",
    "households_from_buildings",
    "subdistricts_from_communities",
]

#: Gross floor area of one dwelling (m²).
DEFAULT_DWELLING_M2 = 90.0
#: Share of the floor area of a building of unknown use (OSM ``building=yes``) that is homes.
DEFAULT_RESIDENTIAL_SHARE = 0.5
#: Floors assumed when a building has none recorded: the walk-up blocks of a county town.
DEFAULT_FLOORS = 3
#: Mean household size (2020 census: 2.62 persons).
DEFAULT_PERSONS_PER_HOUSEHOLD = 2.62
# Footprints smaller than this are sheds, kiosks and garages, not homes.
_MIN_FOOTPRINT_M2 = 30.0


def households_from_buildings(
    buildings: gpd.GeoDataFrame,
    *,
    crs: pyproj.CRS | str | int,
    dwelling_m2: float = DEFAULT_DWELLING_M2,
    residential_share: float = DEFAULT_RESIDENTIAL_SHARE,
    default_floors: int = DEFAULT_FLOORS,
    persons_per_household: float = DEFAULT_PERSONS_PER_HOUSEHOLD,
) -> gpd.GeoDataFrame:
    """Estimate households from building footprints.

    Parameters
    ----------
    buildings
        Buildings layer (EPSG:4326) with ``id`` and ``floors``; an optional ``use`` column
        (``residential``/``other``/``unknown``, as :func:`gisgov.onboard.osm.read_osm` adds)
        says which are homes; without it every building is of unknown use.
    crs
        Metric CRS for footprint areas (the workspace's working CRS).
    dwelling_m2
        Floor area of one dwelling.
    residential_share
        Share of an unknown-use building's floor area counted as homes (0–1).
    default_floors
        Floors of a building with none recorded.
    persons_per_household
        Mean household size; sizes alternate between the neighbouring integers so the mean
        holds (2.62 → 2, 3, 3, 2, 3, …), deterministically.

    Returns
    -------
    geopandas.GeoDataFrame
        Households layer: ``id`` = building id + ``-001``…, ``building_id``, ``address`` (the
        building's), ``size``, ``estimated`` = True, at the building's representative point.

    Raises
    ------
    ValidationError
        If an option is out of range.
    """
    if dwelling_m2 <= 0 or default_floors < 1 or persons_per_household < 1:
        raise ValidationError(
            "dwelling_m2 must be > 0, default_floors >= 1 and persons_per_household >= 1"
        )
    if not 0 <= residential_share <= 1:
        raise ValidationError("residential_share must be between 0 and 1")
    use = (buildings["use"].astype(object).fillna("unknown") if "use" in buildings.columns
           else pd.Series(["unknown"] * len(buildings), index=buildings.index))
    share = use.map({"residential": 1.0, "other": 0.0}).fillna(residential_share).to_numpy()
    footprint = buildings.geometry.to_crs(crs).area.to_numpy(dtype=float)
    floors = pd.to_numeric(buildings["floors"], errors="coerce").fillna(default_floors)
    dwellings = np.floor(footprint * floors.to_numpy(dtype=float) * share / dwelling_m2 + 0.5)
    dwellings = np.where((footprint >= _MIN_FOOTPRINT_M2) & (share > 0),
                         np.maximum(dwellings, share >= 1), 0).astype(np.int64)
    reps = buildings.geometry.representative_point().to_numpy()
    counts = dwellings
    rows = np.repeat(np.arange(len(buildings)), counts)
    seq = np.concatenate([np.arange(1, c + 1) for c in counts]) if counts.sum() else np.zeros(0)
    k = np.arange(len(rows), dtype=float)
    sizes = (np.floor((k + 1) * persons_per_household) - np.floor(k * persons_per_household))
    ids = buildings["id"].astype(str).to_numpy()
    frame = gpd.GeoDataFrame(
        {"id": [f"{ids[r]}-{int(s):03d}" for r, s in zip(rows, seq, strict=True)],
         "building_id": ids[rows],
         "address": buildings["address"].to_numpy()[rows] if "address" in buildings else None,
         "size": sizes.astype(np.int64),
         "estimated": np.ones(len(rows), dtype=bool)},
        geometry=list(reps[rows]), crs=STORAGE_CRS,
    )
    return conform("households", frame)


def compounds_from_blocks(
    blocks: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame,
    *,
    compounds: gpd.GeoDataFrame | None = None,
    places: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Compounds for the blocks whose homes are not inside a mapped compound.

    Parameters
    ----------
    blocks
        From :func:`gisgov.blocks.blocks_from_streets` (EPSG:4326).
    buildings
        Buildings; those of ``use == "other"`` do not make a compound.
    compounds
        Mapped compounds (kept as they are, returned first); derived ones do not overlap them.
    places
        Named places; a derived compound is named after the place inside it (or the nearest),
        else ``街区 B0001``.

    Returns
    -------
    geopandas.GeoDataFrame
        Compounds layer (mapped + derived); derived rows have ``id`` ``C`` + block id and an
        extra ``derived`` = True column.
    """
    existing = (compounds.copy() if compounds is not None and len(compounds)
                else gpd.GeoDataFrame({"id": [], "name": []}, geometry=[], crs=STORAGE_CRS))
    existing["derived"] = False
    homes = buildings
    if "use" in buildings.columns:
        homes = buildings[buildings["use"].astype(object).fillna("unknown") != "other"]
    pts = homes.geometry.representative_point()
    if len(existing):
        inside = assign_to_areas(gpd.GeoDataFrame(geometry=pts, crs=STORAGE_CRS), existing,
                                 key="id")
        pts = pts[inside.isna().to_numpy()]
    block_of = assign_to_areas(gpd.GeoDataFrame(geometry=pts, crs=STORAGE_CRS), blocks, key="id")
    wanted = blocks[blocks["id"].isin(set(block_of.dropna()))]
    taken = existing.geometry.union_all() if len(existing) else None
    rows: list[dict[str, object]] = []
    for bid, geom in zip(wanted["id"], wanted.geometry, strict=True):
        g = shapely.difference(geom, taken) if taken is not None else geom
        g = _polygonal(g)
        if g is None:
            continue
        rows.append({"id": f"C{bid}", "name": _place_name(g, places) or f"街区 {bid}",
                     "derived": True, "geometry": g})
    derived = gpd.GeoDataFrame(rows or None, columns=["id", "name", "derived", "geometry"],
                               geometry="geometry", crs=STORAGE_CRS)
    both = pd.concat([existing, derived], ignore_index=True)
    return conform("compounds", gpd.GeoDataFrame(both, geometry="geometry", crs=STORAGE_CRS))


def _polygonal(g: shapely.Geometry) -> shapely.Geometry | None:
    parts = [p for p in shapely.get_parts(shapely.make_valid(g))
             if shapely.get_type_id(p) == 3 and p.area > 0]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)


def _place_name(area: shapely.Geometry, places: gpd.GeoDataFrame | None) -> str | None:
    if places is None or places.empty:
        return None
    pts = places.geometry.representative_point()
    inside = shapely.contains(area, pts.to_numpy())
    if inside.any():
        return str(places["name"].to_numpy()[np.flatnonzero(inside)[0]])
    return None


def assign_to_areas(
    features: gpd.GeoDataFrame, areas: gpd.GeoDataFrame, *, key: str
) -> pd.Series:
    """The ``key`` of the area each feature's representative point lies in.

    Points on a shared edge go to the lowest key (``covers``, not ``within``, so an edge
    point is never lost); features outside every area get ``None``.

    Parameters
    ----------
    features
        Any geometries, same CRS as ``areas``.
    areas
        Polygons with column ``key``.
    key
        Column of ``areas`` to return.

    Returns
    -------
    pandas.Series
        With ``features``' index.
    """
    out = pd.Series([None] * len(features), index=features.index, dtype=object)
    if features.empty or areas.empty:
        return out
    pts = features.geometry.representative_point().to_numpy()
    present = ~(shapely.is_missing(pts) | shapely.is_empty(pts))
    tree = shapely.STRtree(areas.geometry.to_numpy())
    pi, ai = tree.query(pts[present], predicate="covered_by")
    keys = areas[key].astype(str).to_numpy()
    best: dict[int, str] = {}
    rows = np.flatnonzero(present)
    for p, a in zip(pi.tolist(), ai.tolist(), strict=True):
        k = keys[a]
        r = int(rows[p])
        if r not in best or k < best[r]:
            best[r] = k
    values = out.to_numpy(copy=True)
    for r, k in best.items():
        values[r] = k
    return pd.Series(values, index=features.index, dtype=object)


def community_from_extent(
    geometries: list[gpd.GeoSeries],
    *,
    code: str,
    name: str,
    subdistrict_name: str | None = None,
    kind: str = "urban",
    crs: pyproj.CRS | str | int,
    margin_m: float = 30.0,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """A placeholder community (and its subdistrict) covering all the data.

    For a county without boundary files: one community whose area is the convex hull of the
    data plus ``margin_m``, so every building and street is inside it; grids can be drawn
    within it at once and the boundary re-drawn later (``gisgov districts``).

    Parameters
    ----------
    geometries
        GeoSeries (EPSG:4326) whose extent the community must cover.
    code
        12-digit 统计用区划代码; the subdistrict is its first 9 digits.
    name
        Community name.
    subdistrict_name
        Default ``<code[:9]> 街道``.
    kind
        ``urban`` or ``mixed``.
    crs
        Metric CRS for the margin.
    margin_m
        Buffer around the hull.

    Returns
    -------
    tuple of geopandas.GeoDataFrame
        ``(communities, subdistricts)`` layers.

    Raises
    ------
    ValidationError
        If ``code`` is not 12 digits or there is no geometry.
    """
    if not (len(code) == 12 and code.isdigit()):
        raise ValidationError(
            f"--community-code {code!r} must be the 12-digit 统计用区划代码 (6 county + 3 街道 "
            "+ 3 社区), e.g. 410223001001"
        )
    parts = [g.dropna() for g in geometries if g is not None and len(g)]
    if not parts or not any(len(p) for p in parts):
        raise ValidationError("no geometry to build a community around; import streets first")
    metric = pd.concat([p.to_crs(crs) for p in parts], ignore_index=True)
    hull = shapely.buffer(shapely.convex_hull(metric.union_all()), margin_m)
    area = gpd.GeoSeries([hull], crs=crs).to_crs(STORAGE_CRS)
    communities = gpd.GeoDataFrame(
        {"code": [code], "name": [name], "kind": [kind], "subdistrict_code": [code[:9]]},
        geometry=area.values, crs=STORAGE_CRS,
    )
    subdistricts = gpd.GeoDataFrame(
        {"code": [code[:9]], "name": [subdistrict_name or f"{code[:9]} 街道"]},
        geometry=area.values, crs=STORAGE_CRS,
    )
    return conform("communities", communities), conform("subdistricts", subdistricts)


def subdistricts_from_communities(
    communities: gpd.GeoDataFrame, *, names: dict[str, str] | None = None
) -> gpd.GeoDataFrame:
    """Subdistricts as the union of their communities (by ``subdistrict_code``)."""
    rows = []
    for code, group in communities.groupby("subdistrict_code", sort=True):
        rows.append({"code": str(code), "name": (names or {}).get(str(code), f"{code} 街道"),
                     "geometry": shapely.union_all(group.geometry.to_numpy())})
    frame = gpd.GeoDataFrame(rows or None, columns=["code", "name", "geometry"],
                             geometry="geometry", crs=STORAGE_CRS)
    return conform("subdistricts", frame)


def branches_from_members(
    members: gpd.GeoDataFrame, communities: gpd.GeoDataFrame
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Turn the branch names of a roster (所属支部) into a branches layer.

    Parameters
    ----------
    members
        Members with ``branch_id`` holding branch *names* (or ids already).
    communities
        Communities; a branch belongs to the community most of its members live in.

    Returns
    -------
    tuple of geopandas.GeoDataFrame
        ``(branches, members)``: branches ``P001``… at level ``community`` without geometry,
        and the members with ``branch_id`` pointing at them.
    """
    members = members.copy()
    if "branch_id" not in members.columns or members["branch_id"].isna().all():
        return conform("branches", gpd.GeoDataFrame(
            {"id": [], "name": [], "level": []}, geometry=[], crs=STORAGE_CRS)), members
    community = assign_to_areas(members, communities, key="code")
    names = sorted(members["branch_id"].dropna().astype(str).unique())
    ids = {n: f"P{i + 1:03d}" for i, n in enumerate(names)}
    rows = []
    for n in names:
        home = community[members["branch_id"] == n].dropna()
        rows.append({"id": ids[n], "name": n, "level": "community",
                     "community_code": home.mode().iloc[0] if len(home) else None})
    members["branch_id"] = members["branch_id"].map(lambda v: ids.get(v) if v else None)
    branches = gpd.GeoDataFrame(rows, geometry=[None] * len(rows), crs=STORAGE_CRS)
    return conform("branches", branches), members
