"""Responsibility lookup: exact answers on a hand-made world of four grids."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely

from gisgov.crs import wgs84_to_gcj02
from gisgov.errors import NotFoundError, ValidationError
from gisgov.lookup import LiveIndex, LookupIndex

SUB = "410223001"
WEST, EAST = SUB + "001", SUB + "002"
NW, SW, NE, SE = WEST + "001", WEST + "002", EAST + "001", EAST + "002"
X0, X1, X2 = 114.19, 114.20, 114.21
Y0, Y1, Y2 = 34.41, 34.42, 34.43


def micro_world() -> dict[str, gpd.GeoDataFrame]:
    """One subdistrict, two communities (west/east), four grids meeting at (X1, Y1)."""

    def gdf(data: dict[str, list[object]], geoms: list[object] | None = None
            ) -> gpd.GeoDataFrame:
        n = len(next(iter(data.values())))
        return gpd.GeoDataFrame(data, geometry=geoms if geoms is not None else [None] * n,
                                crs="EPSG:4326")

    building = shapely.box(114.192, 34.422, 114.193, 34.423)
    return {
        "subdistricts": gdf({"code": [SUB], "name": ["城关街道"]}, [shapely.box(X0, Y0, X2, Y2)]),
        "communities": gdf(
            {"code": [WEST, EAST], "name": ["西关社区", "东关社区"], "kind": ["urban"] * 2,
             "subdistrict_code": [SUB] * 2},
            [shapely.box(X0, Y0, X1, Y2), shapely.box(X1, Y0, X2, Y2)],
        ),
        "grids": gdf(
            {"code": [SE, NW, SW, NE], "name": ["东南网格", "西北网格", "西南网格", "东北网格"],
             "community_code": [EAST, WEST, WEST, EAST]},
            [shapely.box(X1, Y0, X2, Y1), shapely.box(X0, Y1, X1, Y2),
             shapely.box(X0, Y0, X1, Y1), shapely.box(X1, Y1, X2, Y2)],
        ),
        "buildings": gdf({"id": ["b1"], "address": ["西关路1号1栋"]}, [building]),
        "households": gdf(
            {"id": ["h1", "h2"], "building_id": ["b1", "b1"], "address": ["1单元101", "1单元102"],
             "head_name": ["张三", "李四"], "phone": ["13812345678", "13987654321"],
             "id_number": ["410223199001011234", None], "size": [3, 2]},
            [shapely.Point(114.1922, 34.4222), shapely.Point(114.1928, 34.4228)],
        ),
        "members": gdf(
            {"id": ["m1"], "name": ["王五"], "phone": ["13700001111"], "class": ["A"],
             "status": ["resident"]},
            [shapely.Point(114.1925, 34.4225)],
        ),
        "staff": gdf(
            {"id": ["s1", "s2", "s3"], "grid_code": [NW, NW, NE],
             "role": ["full_time", "leader", "leader"], "name": ["赵六", "钱七", "孙八"],
             "phone": ["13600000001", "13600000002", "13600000003"]},
        ),
        "assignments": gdf({"household_id": ["h1"], "member_id": ["m1"], "grid_code": [NW]}),
    }


@pytest.fixture(scope="module")
def index() -> LookupIndex:
    return LookupIndex.from_layers(micro_world())


def test_interior_point_names_area_grid_and_people(index: LookupIndex) -> None:
    hit = index.lookup(114.195, 34.425)
    assert hit.grid.code == NW
    assert hit.grid.name == "西北网格"
    assert hit.community is not None
    assert hit.community.name == "西关社区"
    assert hit.subdistrict is not None
    assert hit.subdistrict.code == SUB
    assert not hit.on_boundary
    assert hit.grids == (NW,)
    assert hit.leader is not None
    assert hit.leader.name == "钱七"
    assert [w.name for w in hit.workers] == ["赵六"]
    # 0.005° of longitude at 34.4°N is ~460 m, of latitude ~555 m: the nearer edge counts.
    assert 440 < hit.distance_to_boundary_m < 480
    assert hit.building is None
    assert hit.household is None


def test_shared_edge_resolves_to_lowest_code(index: LookupIndex) -> None:
    hit = index.lookup(X1, 34.425)
    assert hit.on_boundary
    assert hit.grids == (NW, NE)
    assert hit.grid.code == NW
    assert hit.distance_to_boundary_m == 0
    corner = index.lookup(X1, Y1)
    assert corner.grids == (NW, SW, NE, SE)
    assert corner.grid.code == NW


def test_outer_edge_is_inside_and_on_boundary(index: LookupIndex) -> None:
    hit = index.lookup(X0, 34.415)
    assert hit.grid.code == SW
    assert hit.on_boundary


def test_outside_names_nearest_grid_and_distance(index: LookupIndex) -> None:
    with pytest.raises(NotFoundError, match="nearest is 410223001002002") as info:
        index.lookup(X2 + 0.001, 34.415)
    assert info.value.nearest_grid == SE  # type: ignore[attr-defined]
    assert 85 < info.value.distance_m < 100  # type: ignore[attr-defined]


def test_building_gives_households_and_red_grid_member(index: LookupIndex) -> None:
    hit = index.lookup(114.1921, 34.4221)
    assert hit.building is not None
    assert hit.building.code == "b1"
    assert [h.id for h in hit.households] == ["h1", "h2"]
    assert hit.household is not None
    assert hit.household.head_name == "张三"
    assert hit.household.member is not None
    assert hit.household.member.name == "王五"
    assert hit.households[1].member is None
    assert hit.to_dict()["household"]["member"]["phone"] == "13700001111"


def test_gcj02_position_from_a_phone_finds_the_right_grid(index: LookupIndex) -> None:
    # A worker stands 100 m west of the west/east community edge; WeChat reports GCJ-02,
    # which is a few hundred metres off and lands in the other community if read as WGS-84.
    lon, lat = 114.1989, 34.425
    glon, glat = wgs84_to_gcj02(np.array([lon]), np.array([lat]))
    assert index.lookup(float(glon[0]), float(glat[0]), crs="gcj02").grid.code == NW
    assert index.lookup(float(glon[0]), float(glat[0]), crs="wgs84").grid.code == NE
    bd = index.lookup_many(glon, glat, crs="GCJ-02")
    assert bd.grid_codes.tolist() == [NW]


def test_batch_agrees_with_single_lookups(index: LookupIndex) -> None:
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.uniform(X0 - 0.002, X2 + 0.002, 300), [X1, X1, X0, X2 + 1]])
    y = np.concatenate([rng.uniform(Y0 - 0.002, Y2 + 0.002, 300), [34.425, Y1, Y0, Y1]])
    batch = index.lookup_many(x, y)
    for i in range(len(x)):
        try:
            one = index.lookup(float(x[i]), float(y[i]))
        except NotFoundError:
            assert batch.grid_codes[i] is None
            assert batch.grid_index[i] == -1
            continue
        assert batch.grid_codes[i] == one.grid.code
        assert bool(batch.on_boundary[i]) == one.on_boundary
        assert batch.distance_m[i] == pytest.approx(one.distance_to_boundary_m, abs=0.01)


def test_bad_positions_are_validation_errors(index: LookupIndex) -> None:
    with pytest.raises(ValidationError, match="longitude first"):
        index.lookup(34.4, 114.19)
    with pytest.raises(ValidationError, match="positions must be in one of"):
        index.lookup(114.19, 34.41, crs="EPSG:3857")
    with pytest.raises(ValidationError):
        index.lookup_many([1.0, 2.0], [1.0])


def test_households_in_grids(index: LookupIndex) -> None:
    assert index.households_in_grids([NW]) == ["h1", "h2"]
    assert index.households_in_grids([NE]) == []
    assert index.grid_of_household("h2") == NW


def test_no_grids_says_what_to_do() -> None:
    empty = LookupIndex.from_layers({})
    with pytest.raises(NotFoundError, match="no grids yet"):
        empty.lookup(114.19, 34.41)
    assert empty.lookup_many([114.19], [34.41]).grid_codes.tolist() == [None]


def test_live_index_follows_workspace_version(tmp_path: Path) -> None:
    from gisgov.store import open_workspace

    ws = open_workspace(tmp_path / "w.gpkg", create=True)
    world = micro_world()
    with ws.transaction() as tx:
        for name in ("subdistricts", "communities", "grids", "buildings", "members",
                     "households", "staff", "assignments"):
            tx.write(name, world[name])
    live = LiveIndex(ws, check_interval=0.0, background=False)
    assert live.get().lookup(114.195, 34.425).grid.code == NW
    assert live.get() is live.get()
    assert live.builds == 1
    grids = world["grids"]
    ws.write("grids", grids[grids["code"] != NW].copy())
    with pytest.raises(NotFoundError, match="outside every grid"):
        live.get().lookup(114.195, 34.425)
    assert live.builds == 2


def test_background_refresh_keeps_answering(tmp_path: Path) -> None:
    from gisgov.store import open_workspace

    ws = open_workspace(tmp_path / "w.gpkg", create=True)
    world = micro_world()
    with ws.transaction() as tx:
        for name in ("subdistricts", "communities", "grids"):
            tx.write(name, world[name])
    live = LiveIndex(ws, check_interval=0.05, background=True)
    first = live.get()
    ws.set_meta("touched", 1)
    assert live.get() is first  # stale but answering while the rebuild runs
    live.wait()
    assert live.get() is not first
    live.stop()


def test_far_away_point_still_names_nearest_grid(index: LookupIndex) -> None:
    # (18, 0) cannot be projected into the grids' UTM zone; the distance is geodesic.
    with pytest.raises(NotFoundError, match="outside every grid") as info:
        index.lookup(18.0, 0.0)
    assert info.value.nearest_grid == SW  # type: ignore[attr-defined]
    assert info.value.distance_m > 9e6  # type: ignore[attr-defined]


def test_cli_lookup_gives_the_api_answer(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from gisgov.cli import build_app
    from gisgov.privacy import Principal, redact_lookup
    from gisgov.store import open_workspace

    ws = open_workspace(tmp_path / "w.gpkg", create=True)
    world = micro_world()
    with ws.transaction() as tx:
        for name in ("subdistricts", "communities", "grids", "buildings", "members",
                     "households", "staff", "assignments"):
            tx.write(name, world[name])
    glon, glat = wgs84_to_gcj02(np.array([114.1921]), np.array([34.4221]))
    args = ["lookup", str(tmp_path / "w.gpkg"), str(glon[0]), str(glat[0]), "--crs", "gcj02",
            "--role", "field", "--json"]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    expected, _ = redact_lookup(
        LookupIndex.from_workspace(ws).lookup(float(glon[0]), float(glat[0]), crs="gcj02"),
        Principal(role="field", grids=frozenset({NW})))  # a field worker of that grid
    assert doc == expected
    assert doc["grid"]["code"] == NW
    assert doc["household"]["head_name"] == "张三"  # their own grid: shown as registered
    table = CliRunner().invoke(build_app(), args[:-1])
    assert "西北网格" in table.output
