"""Community re-drawing (社区服务区域优化): the engine applied to compounds and street blocks.

This module only prepares units and turns a :class:`PartitionResult` into communities: codes
(an area keeps the code of the current community it continues; a new one takes the next free
12-digit code in its subdistrict), names and the 四至 text. Grids (issue 5) call
:func:`~gisgov.districting.engine.partition` the same way with their own units.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from gisgov.districting.boundary_text import boundary_text
from gisgov.districting.engine import DEFAULT_STARTS, PartitionResult, partition
from gisgov.districting.metrics import PlanMetrics, dissolve_areas, plan_metrics
from gisgov.districting.objective import Objective
from gisgov.districting.units import units_from_workspace
from gisgov.errors import ValidationError

__all__ = ["COMMUNITY_OBJECTIVE", "RedistrictResult", "areas_to_communities", "redistrict"]

COMMUNITY_OBJECTIVE = Objective(
    cut_edges=1.0, cut_length=1.0, main_streets=0.8, disruption=0.3, polsby_popper=1.0
)
"""Default community objective: compact, along main streets, a mild preference for the
current plan (the reform is meant to fix messy boundaries, not to preserve them)."""


@dataclass
class RedistrictResult:
    """A re-drawn set of communities.

    Attributes
    ----------
    units
        The atomic units with their new ``area`` and ``new_code``.
    areas
        New communities (schema columns ``code``, ``name``, ``kind``, ``subdistrict_code``,
        ``boundary_text``) plus ``households``, ``population``.
    result
        The engine's :class:`PartitionResult`.
    before, after
        :class:`PlanMetrics` of the current and the new plan on the same units.
    """

    units: gpd.GeoDataFrame
    areas: gpd.GeoDataFrame
    result: PartitionResult
    before: PlanMetrics | None
    after: PlanMetrics

    def summary(self) -> dict[str, Any]:
        """The JSON document the CLI prints."""
        per = self.after.areas.set_index("area")
        code_of = dict(zip(self.units["area"], self.units["new_code"], strict=False))
        comp = self.result.graph
        del comp
        return {
            "feasible": True,
            "areas": [
                {
                    "id": code_of.get(a, str(a)),
                    "name": str(self.areas.loc[self.areas["code"] == code_of.get(a), "name"].iloc[0])
                    if (self.areas["code"] == code_of.get(a)).any() else None,
                    "weight": float(row["weight"]),
                    "population": float(row.get("population", np.nan)),
                    "area_km2": float(row["area_km2"]),
                    "polsby_popper": float(row["polsby_popper"]),
                    "reock": float(row["reock"]),
                    "main_street_share": None if pd.isna(row["main_street_share"]) else float(row["main_street_share"]),
                    "moved_in": float(row["moved_in"]),
                    "moved_out": float(row["moved_out"]),
                    "contiguous": bool(row["contiguous"]),
                    "boundary_text": str(self.areas.loc[self.areas["code"] == code_of.get(a), "boundary_text"].iloc[0])
                    if (self.areas["code"] == code_of.get(a)).any() else None,
                }
                for a, row in per.iterrows()
            ],
            "max_deviation": self.after.max_deviation,
            "cut_edges": self.after.cut_edges,
            "mean_polsby_popper": self.after.mean_polsby_popper,
            "mean_reock": self.after.mean_reock,
            "households_moved": self.after.households_moved,
            **self.result.optimality(),
            "method": self.result.method,
            "seconds": self.result.seconds,
            "units": len(self.units),
            "report": self.result.report,
            "before": None if self.before is None else {
                "max_deviation": self.before.max_deviation,
                "cut_edges": self.before.cut_edges,
                "mean_polsby_popper": self.before.mean_polsby_popper,
                "mean_reock": self.before.mean_reock,
            },
        }


def redistrict(
    layers: Mapping[str, gpd.GeoDataFrame],
    *,
    communities: str | Sequence[str] = "urban",
    areas: int | None = None,
    target_households: float | None = None,
    tolerance: float = 0.10,
    locks: Mapping[Hashable, Hashable] | None = None,
    cross_subdistricts: bool = False,
    objective: Objective | None = None,
    units: gpd.GeoDataFrame | None = None,
    crs: object | None = None,
    exact: bool = False,
    islands: str = "separate",
    seed: int = 0,
    time_limit: float = 30.0,
    starts: int | None = DEFAULT_STARTS,
    progress: Callable[[str, float], None] | None = None,
) -> RedistrictResult:
    """Re-draw the selected communities into ``areas`` balanced communities.

    Parameters
    ----------
    layers
        Workspace layers (``communities``, ``streets``, ``compounds``, ``households``).
    communities
        ``urban``, ``all`` or community codes to re-draw together.
    areas, target_households
        How many communities come out (or the households each should have).
    tolerance
        Balance tolerance on households.
    locks
        ``{unit id: community code or area id}``.
    cross_subdistricts
        Allow a community to span two subdistricts (default: stay inside).
    objective
        Default :data:`COMMUNITY_OBJECTIVE`.
    units
        Prebuilt units (default: :func:`units_from_workspace`).
    crs
        Metric CRS.
    exact
        Solve with the MILP (small instances only).
    islands
        Disconnected units, as in :func:`partition`.
    seed, time_limit, starts, progress
        As in :func:`partition` (``starts=None``: restarts sized from the time limit).
    """
    if progress:
        progress("building units", 0.0)
    u = units if units is not None else units_from_workspace(layers, communities=communities, crs=crs)
    if areas is None and target_households is None:
        areas = int(u["community_code"].nunique())
    streets = layers.get("streets")
    main = None if streets is None else streets[streets["class"] == "main"]
    res = partition(
        u, weight="households", areas=areas, target=target_households, tolerance=tolerance,
        current="community_code", locks=locks,
        # more communities than today: the new one is founded on the new town, if flagged
        new_town="new_town" if "new_town" in u.columns else None,
        groups=None if cross_subdistricts else "subdistrict_code",
        objective=objective or COMMUNITY_OBJECTIVE, method="exact" if exact else "auto",
        islands=islands,  # type: ignore[arg-type]
        main_streets=main, crs=crs, seed=seed, time_limit=time_limit, starts=starts,
        progress=progress,
    )
    kw: dict[str, Any] = {"weight": "households", "graph": res.graph, "population": "population",
                          "current": "community_code", "main_streets": main}
    pos = {uid: i for i, uid in enumerate(u.index)}
    codes = set(layers["communities"]["code"].astype(str))
    fixed = {int(res.labels.iloc[pos[uid]]): str(a) for uid, a in (locks or {}).items()
             if uid in pos and str(a) in codes}
    after = plan_metrics(u, res.labels, fixed=fixed, **kw)
    before = plan_metrics(u, u["community_code"].fillna("-"), **kw)
    u = u.copy()
    u["area"] = res.labels.to_numpy()
    comms = areas_to_communities(u, res, layers=layers, metrics=after, locks=locks)
    u["new_code"] = u["area"].map(dict(zip(comms["area"], comms["code"], strict=True)))
    broken = [f"{uid} (locked to {a}, now in {u.loc[uid, 'new_code']})"
              for uid, a in (locks or {}).items()
              if str(a) in codes and str(u.loc[uid, "new_code"]) != str(a)]
    if broken:
        # cannot happen (locked areas are named after their lock first); said, never hidden
        res.report.append(f"{len(broken)} locked unit(s) did not keep their community: "
                          + ", ".join(broken[:10]))
    elif locks:
        res.report.append(f"{len(locks)} locked unit(s) kept their community code")
    return RedistrictResult(units=u, areas=comms, result=res, before=before, after=after)


def areas_to_communities(
    units: gpd.GeoDataFrame,
    res: PartitionResult,
    *,
    layers: Mapping[str, gpd.GeoDataFrame],
    metrics: PlanMetrics,
    locks: Mapping[Hashable, Hashable] | None = None,
) -> gpd.GeoDataFrame:
    """Dissolve units into communities with codes, names and 四至 text.

    An area holding a unit locked to a community code keeps that code (a lock is a promise
    about the code, so it is honoured before anything else); every other area that continues
    a current community keeps the code of the one it is matched to (the best one-to-one
    household match, with the locked pairs fixed: :func:`plan_metrics` ``fixed``) and its
    name; a new one takes the next free code in its subdistrict (``…001``–``…199`` are
    residents' committees) and a provisional name for the planner to confirm: ``新城社区`` when
    it was founded on the new town or most of its households live there, else named after its
    largest compound
    (``幸福小区`` → ``幸福社区``), else ``新建社区N``.
    """
    old = layers["communities"]
    diss = dissolve_areas(units, units["area"])
    cont = dict(zip(metrics.areas["area"], metrics.areas["continues"], strict=True))
    if res.founded:
        # A community founded on the new town is new even when most of its households come
        # from one current community; the areas the engine grew from the current ones keep
        # their codes (the best household match alone would hand the old code to the town).
        cont = {a: res.continues[a] for a in range(res.k)}
    used = set(old["code"].astype(str))
    names = dict(zip(old["code"].astype(str), old["name"].astype(str), strict=True))
    # Locks first: the area of a unit locked to a code is that code's community.
    by_lock: dict[Any, str] = {}
    for uid, code in (locks or {}).items():
        if str(code) in names and uid in units.index:
            by_lock.setdefault(units.loc[uid, "area"], str(code))
    if by_lock:
        taken = set(by_lock.values())
        cont = {a: c for a, c in cont.items() if c is None or str(c) not in taken}
        cont.update(by_lock)
    sub_of = units.groupby("area")["subdistrict_code"].agg(lambda s: s.value_counts().index[0])
    rows = []
    new_n = 0
    for a in diss.index:
        code = cont.get(a)
        if code is not None and str(code) in names:
            code, name = str(code), names[str(code)]
        else:
            sub = str(sub_of[a])
            code = _next_code(sub, used)
            used.add(code)
            new_n += 1
            name = _new_name(units[units["area"] == a], taken=set(names.values()),
                             on_new_town=a in res.founded, fallback=f"新建社区{new_n}")
            names[code] = name
        rows.append({"area": a, "code": code, "name": name, "kind": "urban",
                     "subdistrict_code": str(sub_of[a])})
    out = gpd.GeoDataFrame(rows, geometry=list(diss.geometry), crs=diss.crs)
    hh = units.groupby("area")[["households", "population"]].sum()
    out["households"] = out["area"].map(hh["households"]).to_numpy()
    out["population"] = out["area"].map(hh["population"]).to_numpy()
    context = old[~old["code"].isin(out["code"])][["name", "geometry"]]
    text = boundary_text(out.set_index("area"), name="name", streets=layers.get("streets"),
                         context=context, crs=res.graph.crs)
    out["boundary_text"] = out["area"].map(text)
    return out


#: Endings of compound names that do not belong in a community's name.
_COMPOUND_SUFFIXES = ("家属院", "小区", "家园", "花园", "公寓", "新村", "苑", "院")


def _new_name(units: gpd.GeoDataFrame, *, taken: set[str], on_new_town: bool,
              fallback: str) -> str:
    """A provisional name for a founded community (see :func:`areas_to_communities`)."""
    hh = units["households"].astype(float)
    candidates = ["新城社区"] if on_new_town else []
    in_town = (units["new_town"].fillna(False).astype(bool) if "new_town" in units.columns
               else pd.Series(False, index=units.index))
    if hh.sum() > 0 and hh[in_town].sum() > 0.5 * hh.sum():
        candidates.append("新城社区")
    compounds = units[units["kind"] == "compound"] if "kind" in units.columns else units[:0]
    for comp in compounds.sort_values("households", ascending=False)["name"].astype(str):
        stem = comp
        for suffix in _COMPOUND_SUFFIXES:
            if stem.endswith(suffix) and len(stem) > len(suffix):
                stem = stem[: -len(suffix)]
                break
        if stem:
            candidates.append(f"{stem}社区")
    return next((c for c in candidates if c not in taken), fallback)


def _next_code(subdistrict: str, used: set[str]) -> str:
    if len(subdistrict) != 9 or not subdistrict.isdigit():
        raise ValidationError(f"subdistrict code {subdistrict!r} is not 9 digits")
    for i in range(1, 200):
        code = f"{subdistrict}{i:03d}"
        if code not in used:
            return code
    raise ValidationError(f"subdistrict {subdistrict} has no free community code left (001–199)")
