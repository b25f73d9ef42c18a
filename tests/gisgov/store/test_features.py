"""Store contract of one-statement feature pages (``WorkspaceBase.features``), both stores.

The same :class:`FeatureQuery` must give the same page on GeoPackage and PostGIS: exact
bbox hits (not only bounding boxes), the policy's row predicate and scoped columns, CQL2,
sortby, keyset paging, JSON properties with the schema's types, and bound values only.
"""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
from pygeofilter.parsers.cql2_text import parse
from shapely.geometry import MultiPolygon, box

from gisgov.errors import ValidationError
from gisgov.store import WorkspaceBase
from gisgov.store._features import (
    AnyOf,
    FeatureQuery,
    InSet,
    IsNull,
    Nothing,
    ShownColumn,
)


def _write(ws: WorkspaceBase, layer_frames: dict[str, gpd.GeoDataFrame]) -> None:
    with ws.transaction() as tx:
        for name in ("communities", "households", "staff"):
            tx.write(name, layer_frames[name])


def _query(ws: WorkspaceBase, table: str, **kw: object) -> FeatureQuery:
    info = ws.describe(table)
    cols = tuple(ShownColumn(c, t) for c, t in info.columns.items())
    from gisgov.layers import LAYERS

    types = {c.name: c.dtype for c in LAYERS[table].columns}
    cols = tuple(ShownColumn(c.name, types[c.name], c.only_if) for c in cols)
    base: dict[str, object] = {"table": table, "key": LAYERS[table].key, "columns": cols,
                               "geometry": info.geometry, "limit": 100, "queryables": types}
    base.update(kw)
    return FeatureQuery(**base)  # type: ignore[arg-type]


def _keys(ws: WorkspaceBase, q: FeatureQuery) -> list[str]:
    return [str(r.key) for r in ws.features(q, ws.describe(q.table)).rows]


def test_properties_are_typed_json(workspace: WorkspaceBase,
                                   layer_frames: dict[str, gpd.GeoDataFrame]) -> None:
    _write(workspace, layer_frames)
    page = workspace.features(_query(workspace, "households"), workspace.describe("households"))
    frame = layer_frames["households"].sort_values("id")
    assert [r.key for r in page.rows] == frame["id"].tolist()
    first = json.loads(page.rows[0].properties)
    assert first["id"] == frame["id"].iloc[0]
    assert isinstance(first["size"], int)
    assert first["elderly"] in (True, False, None)
    assert page.matched == len(frame)  # the last page counts itself
    assert not page.has_next


def test_bbox_is_exact_and_counted(workspace: WorkspaceBase,
                                   layer_frames: dict[str, gpd.GeoDataFrame]) -> None:
    _write(workspace, layer_frames)
    x0, y0 = 113.62, 34.74
    near_b1 = (x0 + 0.00125, y0 + 0.00125, x0 + 0.00145, y0 + 0.0014)
    q = _query(workspace, "households", bbox=near_b1, count=True, limit=1)
    page = workspace.features(q, workspace.describe("households"))
    assert [r.key for r in page.rows] == ["h001"]
    assert page.has_next
    assert page.matched == 2
    # between the parts of a MultiPolygon: its bounding box, not the community
    between = (x0 + 0.0401, y0 + 0.001, x0 + 0.0449, y0 + 0.002)
    assert _keys(workspace, _query(workspace, "communities", bbox=between)) == []
    # the geometry of the bbox path and the CQL2 path agree
    cql = parse("S_INTERSECTS(geometry, BBOX({}, {}, {}, {}))".format(*near_b1))
    assert _keys(workspace, _query(workspace, "households", cql=cql)) == ["h001", "h002"]


def test_only_multipolygon_parts_count(workspace: WorkspaceBase) -> None:
    frame = gpd.GeoDataFrame(
        {"code": ["410102001", "410102002"], "name": ["两块地", "中间"]},
        geometry=[MultiPolygon([box(0.0, 0.0, 1.0, 1.0), box(9.0, 9.0, 10.0, 10.0)]),
                  box(4.0, 4.0, 6.0, 6.0)], crs="EPSG:4326")
    workspace.write("subdistricts", frame)
    q = _query(workspace, "subdistricts", bbox=(4.5, 4.5, 5.5, 5.5))
    assert _keys(workspace, q) == ["410102002"]


def test_policy_predicates_and_scoped_columns(workspace: WorkspaceBase,
                                              layer_frames: dict[str, gpd.GeoDataFrame]) -> None:
    _write(workspace, layer_frames)
    staff = layer_frames["staff"]
    grid = str(staff["grid_code"].iloc[0])
    info = workspace.describe("staff")
    q = _query(workspace, "staff")
    cols = tuple(ShownColumn(c.name, c.dtype, InSet("grid_code", (grid,))
                             if c.name == "name" else None) for c in q.columns)
    rows = AnyOf((InSet("role", ("leader",)), InSet("grid_code", (grid,))))
    page = workspace.features(FeatureQuery(**{**q.__dict__, "columns": cols, "rows": rows}),
                              info)
    expected = staff[(staff["role"] == "leader") | (staff["grid_code"] == grid)]
    assert sorted(r.key for r in page.rows) == sorted(expected["id"])
    for r in page.rows:
        props = json.loads(r.properties)
        assert (props["name"] is None) == (props["grid_code"] != grid)
    assert workspace.features(FeatureQuery(**{**q.__dict__, "rows": Nothing()}), info).rows == []
    nulls = workspace.features(FeatureQuery(**{**q.__dict__, "rows": IsNull("member_id")}), info)
    assert sorted(r.key for r in nulls.rows) == sorted(staff[staff["member_id"].isna()]["id"])
    # a plain read is flagged per row
    flagged = workspace.features(FeatureQuery(**{**q.__dict__, "plain_rows": InSet(
        "role", ("leader",)), "plain_columns": ("phone",)}), info)
    leaders = set(staff[(staff["role"] == "leader") & staff["phone"].notna()]["id"])
    assert {r.key for r in flagged.rows if r.plain} == leaders


def test_cql_sortby_and_keyset(workspace: WorkspaceBase,
                               layer_frames: dict[str, gpd.GeoDataFrame]) -> None:
    _write(workspace, layer_frames)
    frame = layer_frames["households"]
    q = _query(workspace, "households", cql=parse("size >= 3 AND head_name LIKE '王%'"))
    expected = frame[(frame["size"] >= 3) & frame["head_name"].fillna("").str.startswith("王")]
    assert _keys(workspace, q) == sorted(expected["id"])
    ordered = _keys(workspace, _query(workspace, "households", sortby=(("size", True),)))
    want = frame.sort_values(["size", "id"], ascending=[False, True])["id"].tolist()
    assert ordered == want
    every = sorted(frame["id"])
    assert _keys(workspace, _query(workspace, "households", after=every[1], limit=2)) == \
        every[2:4]
    assert _keys(workspace, _query(workspace, "households", offset=2, limit=2)) == every[2:4]


@pytest.mark.parametrize("text", ["size = 'x'", "nope = 1", "size + 1 = 2",
                                  "head_name LIKE 1", "S_INTERSECTS(head_name, POINT(1 2))"])
def test_bad_filters_are_refused_before_sql(workspace: WorkspaceBase,
                                            layer_frames: dict[str, gpd.GeoDataFrame],
                                            text: str) -> None:
    _write(workspace, layer_frames)
    with pytest.raises(ValidationError):
        workspace.features(_query(workspace, "households", cql=parse(text)),
                           workspace.describe("households"))


def test_values_travel_bound(workspace: WorkspaceBase,
                             layer_frames: dict[str, gpd.GeoDataFrame]) -> None:
    """A quote in a value is a value, not SQL."""
    _write(workspace, layer_frames)
    q = _query(workspace, "households", cql=parse("head_name = 'x; DROP TABLE households'"),
               equals={"address": "'; DROP TABLE households; --"})
    assert _keys(workspace, q) == []
    assert workspace.count("households") == len(layer_frames["households"])
    with pytest.raises(ValidationError):
        workspace.features(_query(workspace, "households", equals={"id": "a\x00b"}),
                           workspace.describe("households"))


def test_pages_follow_a_replaced_geopackage(tmp_path: object, empty_gpkg: object,
                                            layer_frames: dict[str, gpd.GeoDataFrame]) -> None:
    """The page connection stays open between requests; a file restored over the workspace
    (a new inode) is read afresh, not through the old one."""
    import os
    import shutil
    from pathlib import Path

    from gisgov.store import open_workspace

    base = Path(str(tmp_path))
    live, other = base / "live.gpkg", base / "other.gpkg"
    shutil.copyfile(str(empty_gpkg), live)
    shutil.copyfile(str(empty_gpkg), other)
    ws = open_workspace(live)
    try:
        _write(ws, layer_frames)
        assert len(_keys(ws, _query(ws, "households"))) == len(layer_frames["households"])
        restored = open_workspace(other)
        restored.write("households", layer_frames["households"].iloc[:1])
        restored.close()
        os.replace(other, live)
        assert _keys(ws, _query(ws, "households")) == [layer_frames["households"]["id"].iloc[0]]
    finally:
        ws.close()


def test_bbox_edges_are_exact(workspace: WorkspaceBase,
                              layer_frames: dict[str, gpd.GeoDataFrame]) -> None:
    """The R-tree holds 32-bit envelopes rounded outward: a point on the box's edge is in,
    one a hair outside is out, on both stores."""
    _write(workspace, layer_frames)
    hx, hy = 113.62 + 0.0013, 34.74 + 0.0013  # household h001
    on_edge = (hx, hy, hx + 0.00005, hy + 0.00005)
    assert _keys(workspace, _query(workspace, "households", bbox=on_edge)) == ["h001"]
    just_off = (hx + 1e-9, hy - 0.00005, hx + 0.00005, hy + 0.00005)
    q = _query(workspace, "households", bbox=just_off, count=True)
    page = workspace.features(q, workspace.describe("households"))
    assert page.rows == []
    assert page.matched == 0


def test_polygons_across_the_box_edge(workspace: WorkspaceBase) -> None:
    """A polygon whose envelope meets the box: in when a corner lies in the box (decided
    without GEOS), in when the box lies inside it with no corner in it, out when only the
    envelopes meet."""
    from shapely.geometry import Polygon

    frame = gpd.GeoDataFrame({"code": ["410102001"], "name": ["三角"]},
                             geometry=[Polygon([(0, 0), (10, 0), (0, 10)])], crs="EPSG:4326")
    workspace.write("subdistricts", frame)
    for box_, keys in (((-1.0, -1.0, 1.0, 1.0), ["410102001"]),
                       ((4.0, 4.0, 5.0, 5.5), ["410102001"]),
                       ((6.0, 6.0, 7.0, 7.0), [])):
        assert _keys(workspace, _query(workspace, "subdistricts", bbox=box_)) == keys, box_
