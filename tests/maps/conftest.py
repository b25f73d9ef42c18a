"""Fixtures for the map tests: the county plus small grids, staff, branches and assignments.

The grid and assignment engines are other issues; these layers are built here, in code, so the
map tests do not depend on them: each community is cut into a 2×2 grid of cells, the first grid
of each community has no leader and the second no grid party organisation, and each grid's
households are linked to its members 8 at a time, leaving the last few unassigned.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gisgov.layers import conform
from tests.conftest import NO_TIME_CAP


def build_grid_layers(layers: dict[str, gpd.GeoDataFrame]) -> dict[str, gpd.GeoDataFrame]:
    """Return ``layers`` with grids, staff, grid branches and assignments filled in."""
    out = dict(layers)
    communities = layers["communities"].sort_values("code")
    grid_rows = []
    for _, com in communities.iterrows():
        minx, miny, maxx, maxy = com.geometry.bounds
        midx, midy = (minx + maxx) / 2, (miny + maxy) / 2
        cells = [shapely.box(minx, midy, midx, maxy), shapely.box(midx, midy, maxx, maxy),
                 shapely.box(minx, miny, midx, midy), shapely.box(midx, miny, maxx, midy)]
        n = 0
        for cell in cells:
            part = shapely.intersection(com.geometry, cell)
            if part.is_empty or part.area == 0:
                continue
            n += 1
            part = max(getattr(part, "geoms", [part]), key=lambda g: g.area)
            grid_rows.append({"code": f"{com['code']}{n:03d}", "name": f"{com['name']}第{n}网格",
                              "community_code": com["code"], "target_households": 100,
                              "geometry": part})
    grids = gpd.GeoDataFrame(grid_rows, crs=communities.crs)
    out["grids"] = conform("grids", grids)

    first = grids.groupby("community_code")["code"].transform("min") == grids["code"]
    staff = pd.DataFrame({
        "id": [f"S{i:04d}" for i in range(len(grids))],
        "grid_code": grids["code"], "role": "leader",
        "name": [f"张{chr(0x4e00 + i)}明" for i in range(len(grids))],
        "phone": [f"138{i:08d}" for i in range(len(grids))],
    })[~first.to_numpy()]
    out["staff"] = conform("staff", gpd.GeoDataFrame(staff, geometry=[None] * len(staff),
                                                     crs=communities.crs))

    second = grids["code"].str.endswith("002")
    gb = grids[~second.to_numpy()]
    branches = layers["branches"]
    grid_branches = gpd.GeoDataFrame({
        "id": "GB" + gb["code"].to_numpy(), "name": gb["name"] + "党支部",
        "level": "grid", "community_code": gb["community_code"].to_numpy(),
        "grid_code": gb["code"].to_numpy()}, geometry=[None] * len(gb), crs=communities.crs)
    out["branches"] = conform("branches", pd.concat([branches, grid_branches],
                                                    ignore_index=True))

    households, members = layers["households"], layers["members"]
    hh_grid = grids.sindex.query(households.geometry, predicate="intersects")
    mem_grid = grids.sindex.query(members.geometry, predicate="intersects")
    rows = []
    for g in range(len(grids)):
        hh = households.iloc[np.unique(hh_grid[0][hh_grid[1] == g])]
        mem = members.iloc[np.unique(mem_grid[0][mem_grid[1] == g])]
        if len(mem) == 0:
            continue
        capacity = len(mem) * 8
        for k, hid in enumerate(hh["id"].iloc[: max(0, min(capacity, len(hh) - 3))]):
            rows.append({"household_id": hid, "member_id": mem["id"].iloc[k // 8],
                         "grid_code": grids["code"].iloc[g], "walk_m": 100.0,
                         "reason": "nearest"})
    asg = gpd.GeoDataFrame(rows, geometry=[None] * len(rows), crs=communities.crs)
    out["assignments"] = conform("assignments", asg)
    return out


@pytest.fixture(scope="session")
def grid_layers(county_layers: dict[str, gpd.GeoDataFrame]) -> dict[str, gpd.GeoDataFrame]:
    """The fixture county with small grids, leaders, grid branches and assignments."""
    return build_grid_layers(county_layers)


@pytest.fixture(scope="session")
def scenario_gpkg_master(tmp_path_factory: pytest.TempPathFactory, county_gpkg_master: Path,
                         county_layers: dict[str, gpd.GeoDataFrame]) -> Path:
    """The fixture county with scenario ``reform`` saved (urban communities re-drawn into 5,
    as ``make demo`` does) but not accepted; copy it before writing (see ``scenario_gpkg``)."""
    from gisgov.districting.community import redistrict
    from gisgov.districting.scenarios import save_scenario
    from gisgov.store import open_workspace

    path = tmp_path_factory.mktemp("scenario") / "county.gpkg"
    shutil.copy2(county_gpkg_master, path)
    result = redistrict(county_layers, areas=5, tolerance=0.10, seed=0,
                        time_limit=NO_TIME_CAP)
    ws = open_workspace(path)
    save_scenario(ws, "reform", result)
    ws.close()
    return path


@pytest.fixture
def scenario_gpkg(tmp_path: Path, scenario_gpkg_master: Path) -> Path:
    """A private, writable copy of the county with the pending scenario ``reform``."""
    path = tmp_path / "county.gpkg"
    shutil.copy2(scenario_gpkg_master, path)
    return path
