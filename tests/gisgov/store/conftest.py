"""Fixtures of the store tests: a fresh workspace of either kind, and small realistic layers.

Every PostGIS workspace lives in its own schema of the session database (``postgis_url``),
which is much faster than a database per test and exercises ``search_path`` workspaces.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import geopandas as gpd
import psycopg
import pytest
from shapely.geometry import LineString, MultiLineString, MultiPolygon, Point, Polygon, box

from gisgov.store import WorkspaceBase, open_workspace

STORES = ["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)]

WorkspaceFactory = Callable[[str], WorkspaceBase]


@pytest.fixture(scope="session")
def empty_gpkg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly created, empty GeoPackage workspace to copy (creating one takes a second)."""
    path = tmp_path_factory.mktemp("empty") / "empty.gpkg"
    open_workspace(path, create=True).close()
    return path


@pytest.fixture
def new_workspace(
    request: pytest.FixtureRequest, tmp_path: Path, empty_gpkg: Path
) -> Iterator[WorkspaceFactory]:
    """Factory ``new_workspace(kind)`` of fresh, empty workspaces, closed after the test."""
    opened: list[WorkspaceBase] = []
    schemas: list[str] = []

    def make(kind: str) -> WorkspaceBase:
        if kind == "gpkg":
            path = tmp_path / f"ws{len(opened)}.gpkg"
            shutil.copyfile(empty_gpkg, path)
            ws = open_workspace(path)
        else:
            base: str = request.getfixturevalue("postgis_url")
            schema = f"ws_{uuid.uuid4().hex[:10]}"
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f"CREATE SCHEMA {schema}")
            schemas.append(schema)
            # synchronous_commit=off: tests need atomicity, not durability, and the fsync on
            # every commit is most of a PostGIS test's time on a busy disk.
            options = quote(f"-csearch_path={schema},public -csynchronous_commit=off")
            ws = open_workspace(f"{base}?options={options}", create=True)
        opened.append(ws)
        return ws

    yield make
    for ws in opened:
        ws.close()
    if schemas:
        base = request.getfixturevalue("postgis_url")
        with psycopg.connect(base, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=STORES)
def workspace(request: pytest.FixtureRequest, new_workspace: WorkspaceFactory) -> WorkspaceBase:
    """A fresh, empty workspace: a GeoPackage file, then a PostGIS schema."""
    return new_workspace(request.param)


def _ring(x: float, y: float, d: float = 0.002) -> Polygon:
    return box(x, y, x + d, y + d)


@pytest.fixture
def layer_frames() -> dict[str, gpd.GeoDataFrame]:
    """One small frame per layer, consistent across layers (``validate_workspace``-clean).

    Covers nulls in every column type, Chinese text, nullable ints and booleans, Polygon and
    MultiPolygon (and Point/Polygon) in the same layer, and rows without geometry.
    """
    x0, y0 = 113.62, 34.74  # Zhengzhou
    sd = ["410102001", "410102002"]
    cm = ["410102001001", "410102001002", "410102002001"]
    frames: dict[str, dict[str, object]] = {
        "subdistricts": {
            "code": sd, "name": ["林山寨街道", "建设路街道"],
            "geometry": [_ring(x0, y0, 0.02),
                         MultiPolygon([_ring(x0 + 0.03, y0, 0.01), _ring(x0 + 0.05, y0, 0.01)])],
        },
        "streets": {
            "id": ["s1", "s2", "s3"], "name": ["中原路", None, "桐柏路"],
            "class": ["main", "minor", "footway"],
            "geometry": [LineString([(x0, y0), (x0 + 0.02, y0)]),
                         MultiLineString([[(x0, y0 + 0.01), (x0 + 0.01, y0 + 0.01)],
                                          [(x0 + 0.012, y0 + 0.01), (x0 + 0.02, y0 + 0.012)]]),
                         LineString([(x0 + 0.03, y0), (x0 + 0.04, y0 + 0.005)])],
        },
        "communities": {
            "code": cm, "name": ["绿东村社区", "百花社区", "建新社区"],
            "kind": ["urban", "mixed", "urban"], "subdistrict_code": [sd[0], sd[0], sd[1]],
            "boundary_text": ["东至桐柏路，西至秦岭路", None, "北至中原路"],
            "geometry": [_ring(x0, y0, 0.01), _ring(x0 + 0.01, y0, 0.01),
                         MultiPolygon([_ring(x0 + 0.03, y0, 0.005), _ring(x0 + 0.05, y0, 0.005)])],
        },
        "compounds": {
            "id": ["c1", "c2", "c3"], "name": ["碧水苑", "国棉三厂家属院", "无名小区"],
            "community_code": [cm[0], cm[1], None], "old": [False, True, None],
            "property_managed": [True, None, False],
            "geometry": [_ring(x0 + 0.001, y0 + 0.001), _ring(x0 + 0.011, y0 + 0.001),
                         _ring(x0 + 0.031, y0 + 0.001)],
        },
        "buildings": {
            "id": ["b1", "b2", "b3"], "compound_id": ["c1", "c2", None],
            "address": ["碧水苑1号楼", "建设西路12号", None], "floors": [18, None, 6],
            "geometry": [_ring(x0 + 0.0012, y0 + 0.0012, 0.0003),
                         _ring(x0 + 0.0112, y0 + 0.0012, 0.0003),
                         _ring(x0 + 0.0312, y0 + 0.0012, 0.0003)],
        },
        "households": {
            "id": ["h001", "h002", "h003", "h004"], "building_id": ["b1", "b1", "b2", None],
            "address": ["1号楼1单元101", "1号楼2单元502", "12号院3户", None],
            "head_name": ["张伟", "王芳", None, "李娜"],
            "phone": ["13800000001", None, "13800000003", "13800000004"],
            "id_number": [None, "41010219800101002X", None, None],
            "size": [3, 1, 5, 2], "floating": [0, None, 2, 1],
            "elderly": [True, False, None, True], "low_income": [False, None, True, False],
            "disabled": [None, False, False, True], "kin_member_id": ["m1", None, None, "m2"],
            "geometry": [Point(x0 + 0.0013, y0 + 0.0013), Point(x0 + 0.0014, y0 + 0.0013),
                         Point(x0 + 0.0113, y0 + 0.0013), Point(x0 + 0.0313, y0 + 0.0013)],
        },
        "members": {
            "id": ["m1", "m2"], "name": ["赵强", None], "phone": [None, "13900000002"],
            "class": ["A", "C"], "age": [45, None], "status": ["resident", "in_service"],
            "unit_id": [None, "u1"], "branch_id": ["br1", "br2"],
            "geometry": [Point(x0 + 0.0015, y0 + 0.0015), Point(x0 + 0.0115, y0 + 0.0015)],
        },
        "branches": {
            "id": ["br1", "br2"], "name": ["绿东村社区党委", "第一网格党支部"],
            "level": ["community", "grid"], "community_code": [cm[0], cm[0]],
            "parent_id": [None, "br1"], "grid_code": [None, cm[0] + "001"],
            "geometry": [None, _ring(x0, y0, 0.005)],
        },
        "grids": {
            "code": [cm[0] + "001", cm[0] + "002", cm[1] + "001"],
            "name": ["第一网格", "第二网格", "第一网格"], "community_code": [cm[0], cm[0], cm[1]],
            "target_households": [300, None, 250], "households": [2, 0, None],
            "geometry": [_ring(x0, y0, 0.005), _ring(x0 + 0.005, y0, 0.005),
                         _ring(x0 + 0.01, y0, 0.01)],
        },
        "staff": {
            "id": ["st1", "st2"], "grid_code": [cm[0] + "001", cm[0] + "002"],
            "role": ["leader", "volunteer"], "name": ["刘洋", None],
            "phone": ["13700000001", None], "member_id": ["m1", None],
            "duty": [None, "巡查"],
            "geometry": [None, None],
        },
        "units": {
            "id": ["u1", "u2"], "name": ["市第一人民医院", "郑州市第三中学"],
            "kind": ["hospital", None], "community_code": [cm[1], None],
            "geometry": [Point(x0 + 0.012, y0 + 0.004), _ring(x0 + 0.013, y0 + 0.005, 0.001)],
        },
        "stations": {
            "id": ["sta1"], "name": ["党群服务中心"], "kind": ["service_center"],
            "community_code": [cm[0]], "geometry": [Point(x0 + 0.002, y0 + 0.002)],
        },
        "assignments": {
            "household_id": ["h001", "h002", "h003"], "member_id": ["m1", "m1", "m2"],
            "grid_code": [cm[0] + "001", None, cm[0] + "001"], "walk_m": [12.5, None, 830.0],
            "reason": ["kin", "building", None],
            "geometry": [LineString([(x0 + 0.0013, y0 + 0.0013), (x0 + 0.0015, y0 + 0.0015)]),
                         None, None],
        },
        "events": {
            "id": ["E0000001", "E0000002"], "category": ["环境卫生", "矛盾纠纷"],
            "text": ["楼道堆物", None], "source": ["field", "hotline"],
            "reporter": ["张网格", None],
            "reported_at": ["2026-03-01T09:00:00+08:00", "2026-03-02T10:30:00+08:00"],
            "address": [None, "建设路1号"], "external_id": [None, "RX-1"],
            "subdistrict_code": [sd[0], sd[0]], "community_code": [cm[0], cm[1]],
            "grid_code": [cm[0] + "001", None], "handler_id": ["s1", None],
            "unit_id": [None, "u1"], "level": ["grid", "department"],
            "status": ["closed", "accepted"],
            "due": ["2026-03-03T09:00:00+08:00", None], "escalations": [0, 3],
            "accepted_at": ["2026-03-01T10:00:00+08:00", "2026-03-05T08:00:00+08:00"],
            "resolved_at": ["2026-03-02T09:00:00+08:00", None],
            "resolved_by": ["s1", None], "verified_at": ["2026-03-02T15:00:00+08:00", None],
            "verified_by": ["社区核查员", None], "closed_at": ["2026-03-02T16:00:00+08:00", None],
            "updated_at": ["2026-03-02T16:00:00+08:00", "2026-03-05T08:00:00+08:00"],
            "geometry": [Point(x0 + 0.0014, y0 + 0.0014), Point(x0 + 0.012, y0 + 0.004)],
        },
        "event_log": {
            "id": ["E0000001-001", "E0000001-002", "E0000002-001"],
            "event_id": ["E0000001", "E0000001", "E0000002"], "seq": [1, 2, 1],
            "action": ["report", "accept", "report"], "actor": ["张网格", "s1", None],
            "at": ["2026-03-01T09:00:00+08:00", "2026-03-01T10:00:00+08:00",
                   "2026-03-02T10:30:00+08:00"],
            "note": ["楼道堆物", None, None], "from_status": [None, "reported", None],
            "to_status": ["reported", "accepted", "reported"],
            "from_level": [None, "grid", None], "to_level": ["grid", "grid", "grid"],
            "grid_code": [cm[0] + "001", cm[0] + "001", None], "unit_id": [None, None, None],
            "geometry": [None, None, None],
        },
    }
    return {
        name: gpd.GeoDataFrame(cols, geometry="geometry", crs="EPSG:4326")
        for name, cols in frames.items()
    }

