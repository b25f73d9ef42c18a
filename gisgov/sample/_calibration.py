"""Measure a workspace against the reference county's figures (seed 002).

Which subset each figure counts is part of the contract, so it is spelt out here:

- *urban area*: total area of the communities of kind ``urban``, in the workspace's UTM zone.
- *main streets*: distinct non-null names among streets of class ``main``.
- *old compounds without property management*: 95% of 33 is 31.35; the sample has 31.
- *members of the old urban communities*: members whose branch is a ``community``-level
  branch of an ``urban`` community and whose status is not ``in_service`` (the 社区党员
  registered in the community, including those working away). Before the reform these are the
  4 old urban communities; the shares aged 50+ and working away are taken of that subset.
- *urban community branches over 50 members*: the target is how many of
  :data:`~gisgov.sample.OLD_BRANCH_SIZES` stay over 50 at ``scale`` (all 4 at scale 1).
- *households in urban communities*: households whose point lies in an urban community;
  the county runs 174 grids there at about 100 households each, so about 17,400.
- *members available for red grids*: class A/B members not working away who live in an urban
  community; at least one per 10 households of the urban communities (5-10 households each).
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisgov.crs import working_crs_for
from gisgov.errors import ValidationError
from gisgov.sample._reference import OLD_BRANCH_SIZES, REFERENCE

__all__ = ["calibration", "calibration_by_district", "district_layers"]

_NEEDED = ("communities", "streets", "compounds", "households", "members", "branches", "units",
           "stations", "subdistricts")


def _figure(figure: str, target: float, actual: float, tolerance: float,
            *, at_least: bool = False) -> dict[str, object]:
    if at_least:
        ok = actual >= target
    elif tolerance == 0:
        ok = actual == target
    else:
        ok = abs(actual - target) <= tolerance * abs(target)
    return {"figure": figure, "target": target, "actual": actual, "tolerance": tolerance,
            "ok": bool(ok)}


def calibration(
    layers: Mapping[str, gpd.GeoDataFrame], *, scale: float = 1.0
) -> list[dict[str, object]]:
    """Compare a workspace with the reference county's figures.

    Parameters
    ----------
    layers
        Layer name to GeoDataFrame, as returned by :func:`gisgov.sample.generate_county`
        (or read back from a workspace).
    scale
        The scale the sample was generated at; population, members and area targets are
        multiplied by it, counts of streets, compounds, units and stations are not.

    Returns
    -------
    list of dict
        One dict per figure: ``figure``, ``target``, ``actual``, ``tolerance`` (a fraction of
        the target; 0 means exact) and ``ok``. Shares are fractions (0.3643), areas km².

    Raises
    ------
    ValidationError
        If a layer the figures need is missing or ``scale`` is not positive.
    """
    missing = [n for n in _NEEDED if n not in layers]
    if missing:
        raise ValidationError(f"calibration needs the layers {', '.join(missing)}")
    if not scale > 0:
        raise ValidationError(f"scale must be positive, got {scale!r}")
    R = REFERENCE
    comm = layers["communities"]
    urban = comm[comm["kind"] == "urban"]
    metric = working_crs_for(comm) if len(comm) else None
    area = float(urban.to_crs(metric).area.sum() / 1e6) if metric is not None else 0.0
    streets = layers["streets"]
    main_names = streets.loc[streets["class"] == "main", "name"].dropna().nunique()
    cp = layers["compounds"]
    old = cp["old"].fillna(False).to_numpy(dtype=bool)
    managed = cp["property_managed"].fillna(False).to_numpy(dtype=bool)
    hh = layers["households"]
    mem = layers["members"]
    br = layers["branches"]
    urban_codes = set(urban["code"])
    comm_branches = br[(br["level"] == "community") & br["community_code"].isin(urban_codes)]
    in_comm = mem["branch_id"].isin(set(comm_branches["id"])).to_numpy(dtype=bool)
    cm = mem[in_comm & (mem["status"] != "in_service").to_numpy(dtype=bool)]
    n_cm = len(cm)
    share50 = float((cm["age"] >= 50).sum() / n_cm) if n_cm else 0.0
    share_away = float((cm["status"] == "away").sum() / n_cm) if n_cm else 0.0
    sizes = cm["branch_id"].value_counts().reindex(comm_branches["id"], fill_value=0)
    target_over50 = sum(1 for s in OLD_BRANCH_SIZES if round(s * scale) > 50)
    target_over100 = sum(1 for s in OLD_BRANCH_SIZES if round(s * scale) > 100)
    st = layers["stations"]

    # red-grid capacity: households and available members inside urban communities
    urban_poly = shapely.union_all(urban.geometry.values) if len(urban) else None
    if urban_poly is not None and len(hh):
        shapely.prepare(urban_poly)
        hh_in = shapely.covers(urban_poly, hh.geometry.values)
        m_in = shapely.covers(urban_poly, mem.geometry.values)
    else:
        hh_in = np.zeros(len(hh), dtype=bool)
        m_in = np.zeros(len(mem), dtype=bool)
    available = int((m_in & mem["class"].isin(["A", "B"]).to_numpy(dtype=bool)
                     & (mem["status"] != "away").to_numpy(dtype=bool)).sum())
    needed = int(np.ceil(hh_in.sum() / 10))

    return [
        _figure("urban area (km²)", round(R["urban_area_km2"] * scale, 4), round(area, 4), 0.02),
        _figure("subdistricts", R["subdistricts"], len(layers["subdistricts"]), 0),
        _figure("main streets (named)", R["main_streets"], int(main_names), 0),
        _figure("compounds", R["compounds"], len(cp), 0),
        _figure("old compounds", R["old_compounds"], int(old.sum()), 0),
        _figure("old compounds without property management", R["old_compounds_unmanaged"],
                int((old & ~managed).sum()), 0),
        _figure("new compounds", R["new_compounds"], int((~old).sum()), 0),
        _figure("residents", round(R["residents"] * scale), int(hh["size"].sum()), 0.02),
        _figure("floating residents", round(R["floating"] * scale),
                int(hh["floating"].fillna(0).sum()), 0.02),
        _figure("stationed units", R["units"], len(layers["units"]), 0),
        _figure("volunteer stations", R["volunteer_stations"],
                int((st["kind"] == "volunteer").sum()), 0),
        _figure("members of the old urban communities",
                round(R["old_community_members"] * scale), n_cm, 0.02),
        _figure("share of those aged 50+",
                round(R["old_community_members_50plus"] / R["old_community_members"], 4),
                round(share50, 4), 0.02),
        _figure("share of those working away",
                round(R["old_community_members_away"] / R["old_community_members"], 4),
                round(share_away, 4), 0.02),
        _figure("urban communities (before the reform)", R["urban_communities_before"],
                len(urban), 0),
        _figure("mixed communities", R["mixed_communities"],
                int((comm["kind"] == "mixed").sum()), 0),
        _figure("urban community branches over 50 members", target_over50,
                int((sizes > 50).sum()), 0),
        _figure("urban community branches over 100 members", target_over100,
                int((sizes > 100).sum()), 0),
        _figure("in-service members (2,700+ registered as volunteers)",
                round(R["in_service_members"] * scale),
                int((mem["status"] == "in_service").sum()), 0.02),
        _figure("households in urban communities (174 grids × ~100)",
                round(R["urban_grids"] * R["households_per_grid"] * scale),
                int(hh_in.sum()), 0.02),
        _figure("members available for red grids (at least 1 per 10 households)", needed,
                available, 0, at_least=True),
    ]


def _district_of_branches(br: pd.DataFrame) -> pd.Series:
    """District code (6 digits) of each branch: its community's, or its subdistrict's."""
    return br["community_code"].where(br["community_code"].notna(),
                                      br["id"].astype(str).str[3:]).astype(str).str[:6]


def district_layers(layers: Mapping[str, gpd.GeoDataFrame], code: str
                    ) -> dict[str, gpd.GeoDataFrame]:
    """The rows of one district of a city (see :func:`calibration_by_district`)."""
    sd = layers["subdistricts"]
    sd = sd[sd["code"].astype(str).str[:6] == code]
    area = shapely.union_all(sd.geometry.values)
    streets = layers["streets"]
    covered = shapely.STRtree(streets.geometry.values).query(area, predicate="covers")
    br = layers["branches"]
    br_here = br[(_district_of_branches(br) == code).to_numpy()]
    out = {
        "subdistricts": sd,
        "streets": streets.iloc[np.sort(covered)],
        "branches": br_here,
        "members": layers["members"][layers["members"]["branch_id"].isin(set(br_here["id"]))],
        "households": layers["households"][
            layers["households"]["id_number"].astype(str).str[:6] == code],
    }
    for name, col in (("communities", "code"), ("compounds", "community_code"),
                      ("units", "community_code"), ("stations", "community_code")):
        frame = layers[name]
        out[name] = frame[frame[col].astype(str).str[:6] == code]
    return out


def calibration_by_district(
    layers: Mapping[str, gpd.GeoDataFrame], *, scale: float = 1.0
) -> dict[str, list[dict[str, object]]]:
    """:func:`calibration` of each district of a city (``gisgov sample --districts N``).

    A district is the rows whose code starts with its 6-digit code: subdistricts and
    communities by their code, compounds/units/stations by their community's, branches by
    their community's (or subdistrict's), members by their branch's, households by the
    district code that opens the head's ID number, streets by lying in the district's
    subdistricts (the seam roads between districts belong to none).

    Returns
    -------
    dict of str to list of dict
        District code to its figures, in code order.
    """
    missing = [n for n in _NEEDED if n not in layers]
    if missing:
        raise ValidationError(f"calibration needs the layers {', '.join(missing)}")
    codes = sorted(set(layers["subdistricts"]["code"].astype(str).str[:6]))
    return {code: calibration(district_layers(layers, code), scale=scale) for code in codes}
