"""Atomic units for districting: compounds plus the street blocks outside them.

A community boundary should follow streets and never cut a compound (小区), so the natural
atoms are the compounds themselves and the pieces of street blocks left outside compounds.
Each unit carries its households (count — the weight), population (sum of household sizes),
current community (largest overlap) and subdistrict. Grids (issue 5) use the same engine with
other units (buildings or building clusters of one community); see :func:`units_from_file`
for planners' own polygons.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisgov.blocks import as_coverage, blocks_from_streets
from gisgov.districting.graph import metric_crs
from gisgov.errors import ImportDataError, ValidationError

__all__ = ["UNIT_COLUMNS", "select_communities", "units_from_file", "units_from_workspace"]

UNIT_COLUMNS = [
    "unit_id", "kind", "name", "households", "population", "community_code",
    "subdistrict_code", "new_town", "geometry",
]


def select_communities(communities: gpd.GeoDataFrame, which: str | Sequence[str]) -> gpd.GeoDataFrame:
    """The communities named by ``which``: ``"urban"``, ``"all"``, or codes (list or
    comma-separated string)."""
    if isinstance(which, str) and which in ("urban", "all"):
        sel = communities if which == "all" else communities[communities["kind"] == "urban"]
    else:
        codes = [c.strip() for c in which.split(",")] if isinstance(which, str) else list(which)
        unknown = sorted(set(codes) - set(communities["code"].astype(str)))
        if unknown:
            raise ValidationError(
                f"unknown community code(s): {', '.join(unknown)}; known: "
                f"{', '.join(communities['code'].astype(str))}"
            )
        sel = communities[communities["code"].astype(str).isin(codes)]
    if sel.empty:
        raise ValidationError(f"no communities selected by {which!r}")
    return sel


def units_from_workspace(
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    communities: str | Sequence[str] = "urban",
    crs: object | None = None,
    min_area: float = 50.0,
) -> gpd.GeoDataFrame:
    """Build the atomic units of the selected communities.

    Parameters
    ----------
    layers
        Layers by name (``communities``, ``streets``, ``compounds``, ``households``; a
        :class:`dict` from :func:`gisgov.sample.generate_county` or read from a workspace).
    communities
        ``"urban"``, ``"all"`` or community codes.
    crs
        Metric CRS to cut geometry in (default: UTM zone of the data).
    min_area
        Block fragments smaller than this (m²) are merged into the neighbour they share most
        boundary with (slivers between compound walls and streets are not real places).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``UNIT_COLUMNS`` in the communities' CRS, index ``unit_id``. Compound units
        keep the compound id; block units are ``B0001``…. ``new_town`` is the compounds'
        flag of that name (``False`` for blocks, or everywhere when the layer lacks it).
    """
    for name in ("communities", "streets", "compounds", "households"):
        if name not in layers:
            raise ValidationError(f"the workspace has no {name} layer; import or generate it first")
    comm = select_communities(layers["communities"], communities)
    out_crs = comm.crs
    mcrs = metric_crs(comm, crs)
    comm_m = comm.to_crs(mcrs)
    region = shapely.union_all(comm_m.geometry.to_numpy())
    streets = layers["streets"].to_crs(mcrs)
    streets = streets[shapely.intersects(streets.geometry.to_numpy(), shapely.buffer(region, 5.0))]
    # Faces of (streets ∪ region outline) that lie in the region tile it exactly.
    faces = np.asarray(blocks_from_streets(streets, crs=mcrs, extent=region,
                                           min_area_m2=0).geometry.values, dtype=object)
    faces = shapely.intersection(faces, region)
    comps = layers["compounds"].to_crs(mcrs)
    comps = comps[shapely.intersects(comps.geometry.to_numpy(), region)]
    comp_geoms = shapely.intersection(comps.geometry.to_numpy(), region)
    comp_union = shapely.union_all(comp_geoms)
    blocks = shapely.difference(faces, comp_union)
    parts = shapely.get_parts(blocks)
    parts = parts[shapely.area(parts) > 0.01]
    parts = _merge_slivers(parts, np.asarray(comp_geoms, dtype=object), min_area)
    geoms = np.concatenate([np.asarray(comp_geoms, dtype=object), parts])
    ids = list(comps["id"].astype(str)) + [f"B{i + 1:04d}" for i in range(len(parts))]
    kind = ["compound"] * len(comps) + ["block"] * len(parts)
    names = list(comps["name"].astype(str)) + [""] * len(parts)
    # Compounds of a planned new town (optional ``new_town`` column) found the new community
    # when the plan asks for more areas than there are today.
    nt = (
        comps["new_town"].fillna(False).astype(bool).tolist()
        if "new_town" in comps.columns else [False] * len(comps)
    )
    units = gpd.GeoDataFrame(
        {"unit_id": ids, "kind": kind, "name": names, "new_town": nt + [False] * len(parts)},
        geometry=list(geoms), crs=mcrs,
    )
    units = units[~units.geometry.is_empty].reset_index(drop=True)
    # Compound walls, street blocks and the region come from layers reprojected separately:
    # an exact coverage makes neighbours share their edges, so areas dissolve into one piece.
    units = as_coverage(units, region)
    dup = units["unit_id"].duplicated(keep="first")
    if dup.any():  # a unit cut in two by the rebuild: the second piece gets its own id
        units.loc[dup, "unit_id"] = [f"{u}~{i}" for i, u in
                                     enumerate(units.loc[dup, "unit_id"], start=2)]
    # Households → units by location (a household point on a shared edge goes to one unit).
    hh = layers["households"].to_crs(mcrs)
    hh = hh[shapely.intersects(hh.geometry.to_numpy(), region)]
    tree = shapely.STRtree(units.geometry.to_numpy())
    src, dst = tree.query(hh.geometry.to_numpy(), predicate="intersects")
    first = pd.Series(dst).groupby(src).first()
    counts = np.bincount(first.to_numpy(), minlength=len(units))
    size = pd.to_numeric(hh["size"], errors="coerce").fillna(1).to_numpy()
    pop = np.bincount(first.to_numpy(), weights=size[first.index.to_numpy()], minlength=len(units))
    units["households"] = counts.astype(np.int64)
    units["population"] = pop.astype(np.int64)
    # Current community by largest overlap; subdistrict follows the community.
    c_idx, u_idx = shapely.STRtree(units.geometry.to_numpy()).query(
        comm_m.geometry.to_numpy(), predicate="intersects"
    )
    ov = shapely.area(shapely.intersection(comm_m.geometry.to_numpy()[c_idx], units.geometry.to_numpy()[u_idx]))
    overlaps = pd.DataFrame({"u": u_idx, "c": c_idx, "a": ov}).sort_values(
        ["u", "a"], ascending=[True, False]
    )
    best = overlaps.drop_duplicates("u").set_index("u")["c"]
    codes = comm["code"].astype(str).to_numpy()
    subs = comm["subdistrict_code"].astype(str).to_numpy()
    units["community_code"] = pd.Series(codes[best.to_numpy()], index=best.index).reindex(range(len(units))).to_numpy()
    units["subdistrict_code"] = pd.Series(subs[best.to_numpy()], index=best.index).reindex(range(len(units))).to_numpy()
    units = units.to_crs(out_crs)[UNIT_COLUMNS]
    # Polygonal repair only: a GeometryCollection (the default "linework" repair of a
    # self-touching block) has no boundary to measure and cannot be written as a polygon.
    units.geometry = shapely.make_valid(
        units.geometry.to_numpy(), method="structure", keep_collapsed=False
    )
    return units.set_index("unit_id", drop=False).rename_axis(None)


def _merge_slivers(parts: np.ndarray, others: np.ndarray, min_area: float) -> np.ndarray:
    """Merge block fragments under ``min_area`` into the adjacent block sharing most boundary;
    fragments touching no block (a gap between compounds) are kept as they are."""
    parts = np.asarray(parts, dtype=object)
    small = shapely.area(parts) < min_area
    if not small.any() or small.all():
        return parts
    big_idx = np.flatnonzero(~small)
    big = list(parts[big_idx])
    tree = shapely.STRtree(parts[big_idx])
    keep_small = []
    for i in np.flatnonzero(small):
        cand = tree.query(parts[i], predicate="intersects")
        if len(cand) == 0:
            keep_small.append(parts[i])
            continue
        shared = shapely.length(shapely.intersection(shapely.boundary(parts[big_idx[cand]]), shapely.boundary(parts[i])))
        j = int(cand[int(np.argmax(shared))])
        big[j] = shapely.union(big[j], parts[i])
    del others
    return np.asarray(big + keep_small, dtype=object)


def units_from_file(
    path: str | Path,
    *,
    weight: str,
    id: str | None = None,
    current: str | None = None,
) -> gpd.GeoDataFrame:
    """Planners' own polygon units from a file (GeoPackage, GeoJSON, Shapefile…).

    Parameters
    ----------
    path
        The file.
    weight
        Column to balance (e.g. households).
    id
        Column of unit ids (default: row numbers from 1).
    current
        Optional column of the units' current area.

    Returns
    -------
    geopandas.GeoDataFrame
        Index = unit ids; ``weight`` numeric.
    """
    p = Path(path)
    if not p.exists():
        raise ImportDataError(f"{p} does not exist")
    try:
        gdf = gpd.read_file(p)
    except Exception as exc:  # pyogrio raises several types; the message is what matters
        raise ImportDataError(f"cannot read {p}: {exc}") from exc
    if gdf.crs is None:
        raise ImportDataError(f"{p} has no CRS; save it with one (e.g. EPSG:4326 or 4490)")
    for col in [weight, id, current]:
        if col is not None and col not in gdf.columns:
            raise ImportDataError(f"{p} has no column {col!r}; columns: {[c for c in gdf.columns if c != 'geometry']}")
    if not gdf.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        raise ImportDataError(f"{p} must hold polygons only")
    gdf[weight] = pd.to_numeric(gdf[weight], errors="coerce")
    if gdf[weight].isna().any() or (gdf[weight] < 0).any():
        raise ImportDataError(f"column {weight!r} must be a number >= 0 on every row")
    if id is not None:
        if gdf[id].duplicated().any():
            raise ImportDataError(f"column {id!r} has duplicate ids")
        gdf.index = gdf[id].astype(str).to_numpy()
    else:
        gdf.index = [str(i + 1) for i in range(len(gdf))]
    return gdf
