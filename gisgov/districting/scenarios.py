"""Named re-drawing scenarios in a workspace: save, list, show, accept, export.

Tables: ``scenarios`` (index: name, created, areas, metrics JSON), ``scenario_<name>_areas``
(the proposed communities) and ``scenario_<name>_units`` (unit → area). Accepting replaces the
``communities`` layer inside one transaction, keeps the old layer in ``history_communities``
(with ``version`` and ``replaced_at``) and re-points ``compounds.community_code``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from gisgov.coverage import snap_layer
from gisgov.districting.community import RedistrictResult
from gisgov.errors import ConflictError, NotFoundError, ValidationError
from gisgov.layers import LAYERS, conform

__all__ = [
    "accept_scenario",
    "export_scenario",
    "list_scenarios",
    "load_scenario",
    "save_scenario",
]

_NAME = re.compile(r"[A-Za-z0-9_]{1,40}")


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise ValidationError(f"scenario name {name!r}: use 1–40 letters, digits or _")


def save_scenario(ws: Any, name: str, result: RedistrictResult, *, replace: bool = True) -> None:
    """Store ``result`` as scenario ``name``.

    The ``scenarios`` index is read, changed and written back under its table version, so
    two scenarios saved at the same time both stay listed (the later save reads again).

    Raises
    ------
    ConflictError
        ``replace`` is false and the name is taken, or the index kept changing.
    """
    _check_name(name)
    areas = result.areas.to_crs("EPSG:4326").drop(columns=["area"])
    units = pd.DataFrame({"unit_id": result.units["unit_id"].astype(str),
                          "area_code": result.units["new_code"].astype(str),
                          "old_code": result.units["community_code"].astype(str),
                          "households": result.units["households"]})
    for _ in range(5):
        version = ws.table_version("scenarios")
        index = ws.read_table("scenarios") if ws.has_table("scenarios") else pd.DataFrame(
            columns=["name", "created", "areas", "summary"])
        if not replace and (index["name"] == name).any():
            raise ConflictError(f"scenario {name!r} exists; choose another name or replace it")
        index = index[index["name"] != name]
        row = pd.DataFrame([{
            "name": name,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "areas": len(result.areas),
            "summary": json.dumps(result.summary(), ensure_ascii=False, default=str),
        }])
        try:
            with ws.transaction() as tx:
                tx.write_table("scenarios", pd.concat([index, row], ignore_index=True),
                               mode="replace", if_version=version)
                tx.write_table(f"scenario_{name}_areas", areas, mode="replace")
                tx.write_table(f"scenario_{name}_units", units, mode="replace")
        except ConflictError:
            continue  # another scenario was saved meanwhile: read the index again
        return
    raise ConflictError("the scenarios index kept changing; scenario not saved, try again")


def list_scenarios(ws: Any) -> pd.DataFrame:
    """The scenarios index (``name``, ``created``, ``areas``, ``summary``)."""
    if not ws.has_table("scenarios"):
        return pd.DataFrame(columns=["name", "created", "areas", "summary"])
    return pd.DataFrame(ws.read_table("scenarios"))


def load_scenario(ws: Any, name: str) -> tuple[gpd.GeoDataFrame, pd.DataFrame, dict[str, Any]]:
    """Areas, unit table and summary of scenario ``name``."""
    index = list_scenarios(ws)
    hit = index[index["name"] == name]
    if hit.empty:
        known = ", ".join(index["name"].astype(str)) or "none"
        raise NotFoundError(f"no scenario {name!r} (known: {known}); run gisgov redistrict --scenario {name}")
    areas = ws.read_table(f"scenario_{name}_areas")
    if not isinstance(areas, gpd.GeoDataFrame):
        areas = gpd.GeoDataFrame(areas, geometry="geometry", crs="EPSG:4326")
    units = ws.read_table(f"scenario_{name}_units")
    return areas, units, json.loads(str(hit["summary"].iloc[0]))


def accept_scenario(ws: Any, name: str, *, keep_grids: bool = False, seed: int = 0,
                    time_limit: float = 60.0,
                    progress: Callable[[str, float], None] | None = None) -> dict[str, Any]:
    """Make scenario ``name`` the communities layer; the replaced one goes to history.

    Grids are drawn inside communities, so the grids of every community the scenario
    changes (new codes, and old codes it replaces) become stale the moment it is accepted:
    ground of a community in no grid, grids of communities that no longer exist, lookups
    answering with the old grids. By default they are re-drawn
    (:func:`gisgov.grids.make_grids` for the changed communities, grids of removed
    communities dropped) and written in the same transaction as the communities, so the
    lookup index (which follows the workspace version) never sees one without the other.
    ``keep_grids=True`` keeps them as they are and lists them in ``stale_grids``; a workspace
    with grids and ``keep_grids=False`` whose grids cannot be re-drawn raises before anything
    is written.

    Returns
    -------
    dict
        ``scenario``, ``communities``, ``version``, ``compounds_updated``, ``changed``
        (community codes), ``grids_redrawn`` (count), ``stale_grids`` (codes left stale).
    """
    areas, units, _ = load_scenario(ws, name)
    old = ws.read("communities")
    replaced = set(units["old_code"].astype(str)) | set(areas["code"].astype(str))
    keep = old[~old["code"].astype(str).isin(replaced)]
    new = conform("communities", pd.concat(
        [keep, areas[[c for c in [*LAYERS["communities"].column_names, "geometry"]
                      if c in areas.columns]]],
        ignore_index=True))
    # kept and redrawn communities tile in the stored coordinates too (gisgov.coverage)
    new = snap_layer(new)
    version = int(ws.get_meta("communities_version", 0) or 0) + 1
    hist = pd.DataFrame(old.drop(columns="geometry"))
    hist["geometry_wkt"] = shapely.to_wkt(old.geometry.to_numpy())
    hist["version"] = version - 1
    hist["replaced_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    hist["scenario"] = name
    if ws.has_table("history_communities"):
        hist = pd.concat([ws.read_table("history_communities"), hist], ignore_index=True)
    comps = ws.read("compounds")
    unit_code = dict(zip(units["unit_id"].astype(str), units["area_code"].astype(str), strict=True))
    moved = comps["id"].astype(str).map(unit_code)
    comps["community_code"] = moved.fillna(comps["community_code"])
    changed = sorted(replaced)
    grids = ws.read("grids") if ws.has_table("grids") else None
    stale: list[str] = []
    plan = None
    if grids is not None and len(grids):
        stale = sorted(grids.loc[grids["community_code"].astype(str).isin(replaced), "code"]
                       .astype(str))
        if stale and not keep_grids:
            from gisgov.grids import make_grids

            layers = ws.read_all()
            layers["communities"] = new
            layers["compounds"] = comps
            live = set(new["code"].astype(str))
            # grids of communities that no longer exist go; the rest of the changed ones
            # are re-drawn below
            layers["grids"] = grids[grids["community_code"].astype(str).isin(live)]
            redraw = [c for c in changed if c in live]
            plan = make_grids(layers, communities=redraw, crs=ws.working_crs, seed=seed,
                              time_limit=time_limit, progress=progress)
    with ws.transaction() as tx:
        tx.write_table("history_communities", hist, mode="replace")
        tx.write("communities", new, mode="replace")
        tx.write("compounds", comps, mode="replace")
        tx.set_meta("communities_version", version)
        if plan is not None:
            from gisgov.grids import UNFILLED_TABLE

            for layer in ("grids", "staff", "branches", "members", "assignments"):
                tx.write(layer, getattr(plan, layer))
            if len(plan.unfilled):
                tx.write_table(UNFILLED_TABLE, plan.unfilled)
            elif tx.has_table(UNFILLED_TABLE):
                tx.drop_table(UNFILLED_TABLE)
    return {"scenario": name, "communities": len(new), "version": version,
            "compounds_updated": int(moved.notna().sum()), "changed": changed,
            "grids_redrawn": 0 if plan is None else len(plan.result.grids),
            "stale_grids": stale if keep_grids else []}


def export_scenario(ws: Any, name: str, out: str | Path) -> Path:
    """Write scenario ``name``'s areas to GeoPackage, GeoJSON or Shapefile (by extension)."""
    areas, _, _ = load_scenario(ws, name)
    p = Path(out)
    ext = p.suffix.lower()
    drivers = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON", ".shp": "ESRI Shapefile"}
    if ext not in drivers:
        raise ValidationError(f"export to .gpkg, .geojson or .shp, not {ext or 'no extension'}")
    frame = areas
    if ext == ".shp":
        # Shapefile field names are at most 10 characters; GB18030 readers expect an encoding.
        frame = areas.rename(columns={"subdistrict_code": "subdist", "boundary_text": "sizhi",
                                      "households": "households", "population": "pop"})
        frame.to_file(p, driver=drivers[ext], encoding="UTF-8")
    else:
        frame.to_file(p, driver=drivers[ext])
    return p
