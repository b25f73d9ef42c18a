"""Assemble one district's parts into the workspace's layers, in EPSG:4326.

Every layer family computed in metres (UTM) by the other modules is projected to WGS-84
here, once, and conformed to :data:`gisgov.layers.LAYERS`.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from numpy.typing import NDArray

from gisgov.layers import STORAGE_CRS, conform
from gisgov.sample import _names as names
from gisgov.sample._buildings import Buildings
from gisgov.sample._compounds import Compounds
from gisgov.sample._draw import seq_ids
from gisgov.sample._members import Members
from gisgov.sample._organisations import Codes, Stations, Units
from gisgov.sample._population import Households, id_numbers, names_of, phones
from gisgov.sample._reference import COMMUNITIES, SUBDISTRICTS, Array
from gisgov.sample._site import Site

__all__ = ["DistrictParts", "district_layers", "to_lonlat"]


@dataclass
class DistrictParts:
    """Everything one district's layers are made from."""

    site: Site
    codes: Codes
    comps: Compounds
    bld: Buildings
    hh: Households
    mem: Members
    units: Units
    stations: Stations
    kin: NDArray[np.object_]
    footways: NDArray[np.object_]
    street_id_start: int
    name_prefix: str


def to_lonlat(geoms: NDArray[np.object_], utm: pyproj.CRS) -> NDArray[np.object_]:
    """Project UTM geometries to WGS-84 lon/lat."""
    to_ll = pyproj.Transformer.from_crs(utm, 4326, always_xy=True)

    def f(c: Array) -> Array:
        x, y = to_ll.transform(c[:, 0], c[:, 1])
        return np.column_stack([x, y])

    return np.asarray(shapely.transform(geoms, f))


def _frame(p: DistrictParts, name: str, data: dict[str, object],
           geoms: NDArray[np.object_] | None, n: int = 0) -> gpd.GeoDataFrame:
    geo = gpd.GeoSeries(to_lonlat(geoms, p.site.utm) if geoms is not None else [None] * n,
                        crs=STORAGE_CRS)
    return conform(name, gpd.GeoDataFrame(data, geometry=geo.values, crs=STORAGE_CRS))


def _areas(p: DistrictParts) -> dict[str, gpd.GeoDataFrame]:
    """Subdistricts and communities: unions of their blocks."""
    blocks, label, codes, pre = p.site.blocks, p.site.label, p.codes, p.name_prefix
    sd_geom = np.array([shapely.coverage_union_all(blocks[codes.comm_sd[label] == s])
                        for s in range(len(SUBDISTRICTS))], dtype=object)
    comm_geom = np.array([shapely.coverage_union_all(blocks[label == c])
                          for c in range(len(COMMUNITIES))], dtype=object)
    return {
        "subdistricts": _frame(p, "subdistricts", {
            "code": codes.subdistricts, "name": [pre + n for _, n in SUBDISTRICTS]}, sd_geom),
        "communities": _frame(p, "communities", {
            "code": codes.communities, "name": [pre + n for _, n, _, _ in COMMUNITIES],
            "kind": [k for _, _, k, _ in COMMUNITIES],
            "subdistrict_code": [codes.subdistricts[sd] for _, _, _, sd in COMMUNITIES],
            "boundary_text": [f"{n[:2]}片区，四至不清" if k == "urban" else None
                              for _, n, k, _ in COMMUNITIES]}, comm_geom),
    }


def _streets(p: DistrictParts) -> gpd.GeoDataFrame:
    net, start = p.site.net, p.street_id_start
    n_streets = len(p.site.street_geoms)
    street_ids = seq_ids("DL", n_streets, 5, start)
    foot_ids = seq_ids("DL", len(p.footways), 5, start + n_streets)
    return _frame(p, "streets", {
        "id": np.concatenate([street_ids, foot_ids]),
        "name": list(net.name) + [None] * len(foot_ids),
        "class": list(net.cls) + ["footway"] * len(foot_ids)},
        np.concatenate([p.site.street_geoms, p.footways]))


def _compounds_and_buildings(p: DistrictParts, comp_ids: NDArray[np.str_]
                             ) -> dict[str, gpd.GeoDataFrame]:
    comps, bld, comm_codes = p.comps, p.bld, np.array(p.codes.communities)
    return {
        "compounds": _frame(p, "compounds", {
            "id": comp_ids, "name": comps.names,
            "community_code": comm_codes[p.site.label[comps.block]],
            "old": comps.old, "property_managed": comps.managed,
            "new_town": p.site.new_town[comps.block]}, comps.geom),
        "buildings": _frame(p, "buildings", {
            "id": bld.ids,
            "compound_id": pd.Series(comp_ids[np.maximum(bld.compound, 0)], dtype=object).where(
                bld.compound >= 0, None),
            "address": bld.address, "floors": bld.floors}, bld.geoms()),
    }


def _households(rng: np.random.Generator, p: DistrictParts) -> gpd.GeoDataFrame:
    hh, n = p.hh, len(p.hh)
    return _frame(p, "households", {
        "id": hh.ids, "building_id": p.bld.ids[hh.building], "address": hh.address,
        "head_name": names_of(rng, n), "phone": phones(rng, n),
        "id_number": id_numbers(rng, hh.head_age, p.codes.district), "size": hh.size,
        "floating": hh.floating, "elderly": hh.elderly, "low_income": rng.random(n) < 0.03,
        "disabled": rng.random(n) < 0.02, "kin_member_id": p.kin},
        np.asarray(shapely.points(hh.x, hh.y)))


def _members(rng: np.random.Generator, p: DistrictParts,
             households: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Members at their home's point; branch, unit and 双报到 community from their roles."""
    mem, codes, n_comm = p.mem, p.codes, p.mem.n_comm
    branch = np.concatenate([np.array(codes.comm_branch)[mem.comm],
                             p.units.branch[mem.service_unit]])
    unit = np.concatenate([np.full(n_comm, None, dtype=object),
                           p.units.ids[mem.service_unit].astype(object)])
    # 双报到: in-service members report to the community they live in (no random draw, so
    # every calibrated figure stays as it was).
    report = np.concatenate([np.full(n_comm, None, dtype=object),
                             np.array(codes.communities, dtype=object)[
                                 p.hh.label[mem.home[n_comm:]]]])
    frame = _frame(p, "members", {
        "id": mem.ids, "name": names_of(rng, len(mem)), "phone": phones(rng, len(mem)),
        "class": mem.cls, "age": mem.age, "status": mem.status, "unit_id": unit,
        "branch_id": branch, "report_community_code": report}, None, len(mem))
    return frame.set_geometry(
        gpd.GeoSeries(np.asarray(households.geometry.values)[mem.home], crs=STORAGE_CRS).values)


def _organisations(p: DistrictParts) -> dict[str, gpd.GeoDataFrame]:
    codes, units, st, pre = p.codes, p.units, p.stations, p.name_prefix
    comm_codes = np.array(codes.communities)
    n_units = len(units.ids)
    return {
        "branches": _frame(p, "branches", {
            "id": codes.sd_branch + codes.comm_branch + list(units.branch),
            "name": [f"{pre}{n}党工委" for _, n in SUBDISTRICTS]
            + [f"{pre}{n}党支部" for _, n, _, _ in COMMUNITIES]
            + [f"{pre}{n}党支部" for _, n in names.UNITS],
            "level": ["subdistrict"] * len(SUBDISTRICTS) + ["community"] * len(COMMUNITIES)
            + ["unit"] * n_units,
            "community_code": [None] * len(SUBDISTRICTS) + codes.communities
            + list(comm_codes[units.comm]),
            "parent_id": [None] * len(SUBDISTRICTS) + [codes.sd_branch[sd] for sd in codes.comm_sd]
            + [codes.sd_branch[codes.comm_sd[c]] for c in units.comm]},
            None, len(SUBDISTRICTS) + len(COMMUNITIES) + n_units),
        "units": _frame(p, "units", {
            "id": units.ids, "name": [pre + n for _, n in names.UNITS],
            "kind": np.array([k for k, _ in names.UNITS]),
            "community_code": comm_codes[units.comm]}, np.asarray(shapely.points(units.xy))),
        "stations": _frame(p, "stations", {
            "id": st.ids, "name": st.name, "kind": st.kind,
            "community_code": comm_codes[st.comm]}, np.asarray(shapely.points(st.xy))),
    }


def district_layers(rng: np.random.Generator, p: DistrictParts,
                    comp_ids: NDArray[np.str_]) -> dict[str, gpd.GeoDataFrame]:
    """Every populated layer of one district (grids, staff and assignments are left out)."""
    out = _areas(p)
    out["streets"] = _streets(p)
    out.update(_compounds_and_buildings(p, comp_ids))
    out["households"] = _households(rng, p)
    out["members"] = _members(rng, p, out["households"])
    out.update(_organisations(p))
    return out
