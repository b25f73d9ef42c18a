"""Fixtures of the API tests: a small world with grids and people, served from both stores.

The world: 2 subdistricts, 4 communities of 2×2 grids (16 grids, codes numbered west→east,
north→south), 2 buildings per grid with 3 households each, one red-grid member per grid
covering them, and a leader and a full-time worker per grid. Built in code, so the tests do
not wait for the grid engine.
"""

from __future__ import annotations

import shutil
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import geopandas as gpd
import pytest
import shapely

from gisgov.store import WorkspaceBase, open_workspace

with warnings.catch_warnings():
    # starlette's TestClient warns about httpx at import; the tests do not care which client.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

X0, Y0 = 114.18, 34.40
COMMUNITY = 0.008  # degrees per community side
GRID = COMMUNITY / 2
SUBS = ("410223001", "410223002")
STORES = ["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)]
WRITE_ORDER = ("subdistricts", "communities", "grids", "buildings", "members", "households",
               "staff", "assignments")


def grid_code(col: int, row: int) -> str:
    """Code of the grid in lattice column ``col`` (west→east) and row ``row`` (north→south)."""
    sub = SUBS[col // 2]
    community = sub + f"{row // 2 + 1:03d}"
    seq = (row % 2) * 2 + (col % 2) + 1
    return community + f"{seq:03d}"


def grid_box(col: int, row: int) -> shapely.Polygon:
    """The lattice cell (row 0 is the northernmost)."""
    x = X0 + col * GRID
    y = Y0 + (3 - row) * GRID
    return shapely.box(x, y, x + GRID, y + GRID)


def world() -> dict[str, gpd.GeoDataFrame]:
    """The test world as layer frames (EPSG:4326)."""

    def gdf(rows: list[dict[str, Any]], geoms: list[Any] | None = None) -> gpd.GeoDataFrame:
        return gpd.GeoDataFrame(rows, geometry=geoms if geoms is not None
                                else [None] * len(rows), crs="EPSG:4326")

    subs = gdf([{"code": SUBS[0], "name": "城关街道"}, {"code": SUBS[1], "name": "城东街道"}],
               [shapely.box(X0, Y0, X0 + COMMUNITY, Y0 + 2 * COMMUNITY),
                shapely.box(X0 + COMMUNITY, Y0, X0 + 2 * COMMUNITY, Y0 + 2 * COMMUNITY)])
    names = {(0, 0): "北关社区", (0, 1): "西关社区", (1, 0): "东关社区", (1, 1): "东城社区"}
    communities, cgeoms = [], []
    for (ci, ri), name in names.items():
        communities.append({"code": SUBS[ci] + f"{ri + 1:03d}", "name": name, "kind": "urban",
                            "subdistrict_code": SUBS[ci]})
        x = X0 + ci * COMMUNITY
        y = Y0 + (1 - ri) * COMMUNITY
        cgeoms.append(shapely.box(x, y, x + COMMUNITY, y + COMMUNITY))
    grids, ggeoms, buildings, bgeoms, households, hgeoms = [], [], [], [], [], []
    members, mgeoms, staff, assignments = [], [], [], []
    surnames = "张王李赵刘陈杨黄周吴徐孙胡朱高林"
    for col in range(4):
        for row in range(4):
            code = grid_code(col, row)
            k = col * 4 + row
            grids.append({"code": code, "name": f"第{k + 1}网格", "community_code": code[:12],
                          "target_households": 6})
            box = grid_box(col, row)
            ggeoms.append(box)
            minx, miny = box.bounds[:2]
            member_id = f"m{k:02d}"
            members.append({"id": member_id, "name": f"{surnames[k]}党员", "class": "A",
                            "phone": f"137{k:04d}1111", "status": "resident", "age": 40})
            mgeoms.append(shapely.Point(minx + GRID * 0.5, miny + GRID * 0.5))
            staff.append({"id": f"s{k:02d}a", "grid_code": code, "role": "leader",
                          "name": f"{surnames[k]}网格长", "phone": f"138{k:04d}5678"})
            staff.append({"id": f"s{k:02d}b", "grid_code": code, "role": "full_time",
                          "name": f"{surnames[k]}专职", "phone": f"139{k:04d}5678"})
            for b in range(2):
                bid = f"b{k:02d}{b}"
                bx, by = minx + GRID * (0.2 + 0.4 * b), miny + GRID * 0.2
                buildings.append({"id": bid, "address": f"{code[-3:]}号院{b + 1}栋", "floors": 6})
                bgeoms.append(shapely.box(bx, by, bx + GRID * 0.2, by + GRID * 0.2))
                for h in range(3):
                    hid = f"h{k:02d}{b}{h}"
                    households.append({
                        "id": hid, "building_id": bid, "address": f"{bid}-{h + 1}01",
                        "head_name": f"{surnames[(k + h) % 16]}{'一二三'[h]}",
                        "phone": f"135{k:02d}{b}{h}{'0' * 3}1",
                        "id_number": f"4102231980010{k:02d}{b}{h}1",
                        "size": 3, "elderly": h == 0, "low_income": False, "disabled": False,
                    })
                    hgeoms.append(shapely.Point(bx + GRID * 0.05 * (h + 1),
                                                by + GRID * 0.05 * (h + 1)))
                    assignments.append({"household_id": hid, "member_id": member_id,
                                        "grid_code": code, "reason": "building"})
    return {
        "subdistricts": subs,
        "communities": gdf(communities, cgeoms),
        "grids": gdf(grids, ggeoms),
        "buildings": gdf(buildings, bgeoms),
        "members": gdf(members, mgeoms),
        "households": gdf(households, hgeoms),
        "staff": gdf(staff),
        "assignments": gdf(assignments),
    }


def fill(ws: WorkspaceBase) -> None:
    """Write the world into ``ws`` in one transaction."""
    layers = world()
    with ws.transaction() as tx:
        for name in WRITE_ORDER:
            tx.write(name, layers[name])


@pytest.fixture(scope="session")
def world_gpkg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GeoPackage holding the world (copy before writing)."""
    path = tmp_path_factory.mktemp("world") / "world.gpkg"
    ws = open_workspace(path, create=True)
    fill(ws)
    ws.close()
    return path


@pytest.fixture(scope="session")
def world_postgis(postgis_url: str) -> Iterator[Callable[[], str]]:
    """Factory of PostGIS workspaces (one schema each) holding the world."""
    import psycopg

    schemas: list[str] = []

    def make() -> str:
        schema = f"api_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(postgis_url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        schemas.append(schema)
        url = f"{postgis_url}?options={quote(f'-csearch_path={schema},public')}"
        ws = open_workspace(url, create=True)
        fill(ws)
        ws.close()
        return url

    yield make
    with psycopg.connect(postgis_url, autocommit=True) as conn:
        for schema in schemas:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture
def world_url(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], str]:
    """``world_url(kind)``: a private, writable world workspace of that store kind."""

    def make(kind: str) -> str:
        if kind == "gpkg":
            path = tmp_path / f"w{uuid.uuid4().hex[:6]}.gpkg"
            shutil.copyfile(request.getfixturevalue("world_gpkg"), path)
            return str(path)
        factory: Callable[[], str] = request.getfixturevalue("world_postgis")
        return factory()

    return make


def make_client(workspace: str, **settings: Any) -> TestClient:
    """A TestClient over a fresh app; audit records are written at once for the tests."""
    from api.app import create_app
    from api.settings import Settings

    options: dict[str, Any] = {"workspace": workspace, "audit_flush_seconds": 0,
                               "index_check_seconds": 0}
    options.update(settings)
    return TestClient(create_app(Settings(**options)), raise_server_exceptions=False)


@pytest.fixture(scope="module", params=STORES)
def store_kind(request: pytest.FixtureRequest) -> str:
    """Store the module's shared client runs on."""
    return str(request.param)


@pytest.fixture(scope="module")
def shared(store_kind: str, tmp_path_factory: pytest.TempPathFactory,
           request: pytest.FixtureRequest) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """A client over a world workspace (read-mostly tests) and API keys of every role."""
    from gisgov.keys import create_key

    if store_kind == "gpkg":
        path = tmp_path_factory.mktemp("shared") / "world.gpkg"
        shutil.copyfile(request.getfixturevalue("world_gpkg"), path)
        url = str(path)
    else:
        url = request.getfixturevalue("world_postgis")()
    ws = open_workspace(url)
    keys = {
        "planner": create_key(ws, role="planner")[0],
        "coordinator": create_key(ws, role="coordinator",
                                  communities=[grid_code(0, 0)[:12]])[0],
        "field": create_key(ws, role="field", grids=[grid_code(0, 0)])[0],
        "public": create_key(ws, role="public")[0],
    }
    ws.close()
    with make_client(url, rate_burst=100_000, rate_limit=100_000) as client:
        yield client, keys
