"""The Workspace contract: the same tests, run against the GeoPackage and the PostGIS store."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import MultiPolygon, Point, Polygon, box

from gisgov.errors import ConflictError, NotFoundError, ValidationError
from gisgov.layers import LAYERS, conform, validate_workspace
from gisgov.store import Workspace, WorkspaceBase, open_workspace

ALL_LAYERS = list(LAYERS)


def _expected(name: str, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    key = LAYERS[name].key
    return conform(name, frame).sort_values(key, ignore_index=True)


def _assert_layer_equal(got: gpd.GeoDataFrame, expected: gpd.GeoDataFrame) -> None:
    # Extra columns come back in the store's own dtype (object vs str); compare their values.
    schema = [c for c in expected.columns if c in got.columns]
    assert list(got.columns) == list(expected.columns)
    assert_geodataframe_equal(got[schema], expected[schema], check_less_precise=False)


def _write_all(ws: WorkspaceBase, frames: dict[str, gpd.GeoDataFrame],
               only: tuple[str, ...] | None = None) -> None:
    with ws.transaction() as tx:
        for name, frame in frames.items():
            if only is None or name in only:
                tx.write(name, frame)


def test_create_and_reopen(workspace: WorkspaceBase) -> None:
    # Checked on the class: isinstance() on the Protocol would evaluate working_crs.
    members = [m for m in dir(Workspace) if not m.startswith("_")]
    assert all(hasattr(type(workspace), m) or m in ("url", "kind") for m in members)
    assert {"read", "write", "transaction", "ping", "working_crs"} <= set(members)
    assert workspace.layers() == ALL_LAYERS
    assert all(workspace.count(n) == 0 for n in ALL_LAYERS)
    assert workspace.tables() == []
    assert workspace.version == 0
    workspace.ping()
    for name in ALL_LAYERS:
        empty = workspace.read(name)
        assert empty.empty
        assert list(empty.columns) == [*LAYERS[name].column_names, "geometry"]
        assert empty.crs == "EPSG:4326"
    again = open_workspace(workspace.url if workspace.kind == "geopackage"
                           else workspace._sa_url.render_as_string(hide_password=False))  # type: ignore[attr-defined]
    try:
        assert again.layers() == ALL_LAYERS
        assert again.version == 0
    finally:
        again.close()


@pytest.mark.parametrize("name", ALL_LAYERS)
def test_layer_round_trip(
    workspace: WorkspaceBase, layer_frames: dict[str, gpd.GeoDataFrame], name: str
) -> None:
    frame = layer_frames[name]
    workspace.write(name, frame)
    got = workspace.read(name)
    _assert_layer_equal(got, _expected(name, frame))
    assert workspace.count(name) == len(frame)
    # Polygon and MultiPolygon (or Point and Polygon) keep their own type in one layer.
    assert list(got.geom_type) == list(_expected(name, frame).geom_type)


def test_every_layer_together_is_clean(
    workspace: WorkspaceBase, layer_frames: dict[str, gpd.GeoDataFrame]
) -> None:
    assert validate_workspace(layer_frames) == []
    _write_all(workspace, layer_frames)
    back = workspace.read_all()
    assert set(back) == set(ALL_LAYERS)
    assert validate_workspace(back) == []
    info = workspace.info()
    assert info["layers"]["households"]["count"] == 4
    minx, miny, maxx, maxy = info["layers"]["subdistricts"]["bbox"]
    assert (minx, miny) == pytest.approx((113.62, 34.74))
    assert (maxx, maxy) == pytest.approx((113.68, 34.76))
    assert info["layers"]["staff"]["bbox"] is None


def test_extra_columns_are_kept(
    workspace: WorkspaceBase, layer_frames: dict[str, gpd.GeoDataFrame]
) -> None:
    frame = layer_frames["households"].assign(
        note=["一楼", None, "独居", "租户"], rooms=[3, 2, 4, 1]
    )
    workspace.write("households", frame)
    got = workspace.read("households")
    assert list(got.columns[-3:]) == ["note", "rooms", "geometry"]
    assert got["note"].tolist()[0] == "一楼"
    assert pd.isna(got["note"].tolist()[1])
    assert got["rooms"].tolist() == [3, 2, 4, 1]
    # Replacing the layer replaces its extra columns too.
    workspace.write("households", layer_frames["households"])
    assert "note" not in workspace.read("households").columns


def test_bbox_query(workspace: WorkspaceBase, layer_frames: dict[str, gpd.GeoDataFrame]) -> None:
    _write_all(workspace, layer_frames, ("communities", "households", "branches", "staff"))
    x0, y0 = 113.62, 34.74
    near_b1 = (x0 + 0.00125, y0 + 0.00125, x0 + 0.00145, y0 + 0.0014)
    assert workspace.read("households", bbox=near_b1)["id"].tolist() == ["h001", "h002"]
    assert workspace.count("households", bbox=near_b1) == 2
    # Exact intersection, not just the bounding boxes: the box touches only the second
    # part of the MultiPolygon community, between its parts there is nothing.
    between = (x0 + 0.0401, y0 + 0.001, x0 + 0.0449, y0 + 0.002)
    assert workspace.read("communities", bbox=between).empty
    assert workspace.read("communities", bbox=(x0 + 0.051, y0 + 0.001, x0 + 0.052, y0 + 0.002)
                          )["code"].tolist() == ["410102002001"]
    # Rows without geometry never match a box; layers without geometry match nothing.
    assert workspace.read("branches", bbox=(x0 - 1, y0 - 1, x0 + 1, y0 + 1))["id"].tolist() == [
        "br2"
    ]
    assert workspace.read("staff", bbox=(x0 - 1, y0 - 1, x0 + 1, y0 + 1)).empty
    far = (0.0, 0.0, 1.0, 1.0)
    assert workspace.read("households", bbox=far).empty
    got = workspace.read("households", bbox=near_b1, where={"head_name": "王芳"})
    assert got["id"].tolist() == ["h002"]


def test_bbox_with_paging_counts_only_true_hits(workspace: WorkspaceBase) -> None:
    """The first row by key only touches the box with its bounding box: it is no hit."""
    frame = gpd.GeoDataFrame(
        {"code": ["410102001", "410102002"], "name": ["两块地", "中间"]},
        geometry=[MultiPolygon([box(0.0, 0.0, 1.0, 1.0), box(9.0, 9.0, 10.0, 10.0)]),
                  box(4.0, 4.0, 6.0, 6.0)],
        crs="EPSG:4326",
    )
    workspace.write("subdistricts", frame)
    middle = (4.5, 4.5, 5.5, 5.5)
    assert workspace.read("subdistricts", bbox=middle, limit=1)["code"].tolist() == ["410102002"]
    assert workspace.read("subdistricts", bbox=middle, offset=1).empty
    assert workspace.count("subdistricts", bbox=middle) == 1


def test_where_filters(workspace: WorkspaceBase, layer_frames: dict[str, gpd.GeoDataFrame]) -> None:
    workspace.write("households", layer_frames["households"])
    assert workspace.read("households", where={"building_id": "b1"})["id"].tolist() == [
        "h001", "h002"
    ]
    assert workspace.read("households", where={"building_id": ["b2", "b9"]})["id"].tolist() == [
        "h003"
    ]
    assert workspace.read("households", where={"building_id": None})["id"].tolist() == ["h004"]
    assert workspace.read("households", where={"building_id": []}).empty
    assert workspace.read("households", where={"size": 5})["id"].tolist() == ["h003"]
    assert workspace.read("households", where={"elderly": True})["id"].tolist() == [
        "h001", "h004"
    ]
    assert workspace.read("households", where={"head_name": "张伟"})["id"].tolist() == ["h001"]
    assert workspace.count("households", where={"building_id": ["b1", "b2"]}) == 3
    # A value is data, never SQL.
    assert workspace.read("households", where={"head_name": "x' OR '1'='1"}).empty
    assert workspace.count("households") == 4
    with pytest.raises(ValidationError, match="no column"):
        workspace.read("households", where={"nope": 1})


def test_read_only_some_columns(workspace: WorkspaceBase,
                                layer_frames: dict[str, gpd.GeoDataFrame]) -> None:
    workspace.write("households", layer_frames["households"])
    full = workspace.read("households", where={"building_id": ["b1", "b2"]})
    got = workspace.read("households", where={"building_id": ["b1", "b2"]},
                         bbox=tuple(full.total_bounds), columns=["kin_member_id", "building_id"])
    # the asked columns, plus the key and the required ones, in schema order; the filters may
    # use columns that are not read (where on building_id, the key's order)
    assert list(got.columns) == ["id", "building_id", "size", "kin_member_id", "geometry"]
    assert_geodataframe_equal(got, full[list(got.columns)])
    assert "head_name" not in workspace.read("households", columns=[]).columns
    assert list(workspace.read("assignments", columns=["walk_m"]).columns) == [
        "household_id", "member_id", "walk_m", "geometry"]  # absent layer: same shape
    with pytest.raises(ValidationError, match="no column"):
        workspace.read("households", columns=["nope"])
    with pytest.raises(ValidationError, match="list"):
        workspace.read("households", columns="building_id")


def test_limit_offset_in_key_order(
    workspace: WorkspaceBase, layer_frames: dict[str, gpd.GeoDataFrame]
) -> None:
    frame = layer_frames["households"].iloc[::-1]  # written in reverse order
    workspace.write("households", frame)
    assert workspace.read("households")["id"].tolist() == ["h001", "h002", "h003", "h004"]
    assert workspace.read("households", limit=2)["id"].tolist() == ["h001", "h002"]
    assert workspace.read("households", limit=2, offset=2)["id"].tolist() == ["h003", "h004"]
    assert workspace.read("households", offset=3)["id"].tolist() == ["h004"]
    assert workspace.read("households", limit=0).empty
    assert workspace.read("households", where={"building_id": "b1"}, limit=1, offset=1)[
        "id"].tolist() == ["h002"]


def test_append_and_duplicate_keys(
    workspace: WorkspaceBase, layer_frames: dict[str, gpd.GeoDataFrame]
) -> None:
    households = layer_frames["households"]
    workspace.write("households", households.iloc[:2])
    workspace.write("households", households.iloc[2:], mode="append")
    _assert_layer_equal(workspace.read("households"), _expected("households", households))
    before = workspace.info()
    with pytest.raises(ValidationError, match="already exists") as err:
        workspace.write("households", households.iloc[[1]], mode="append")
    assert err.value.problems[0].key == "h002"  # type: ignore[attr-defined]
    assert workspace.info() == before
    with pytest.raises(ValidationError, match="mode"):
        workspace.write("households", households, mode="upsert")  # type: ignore[arg-type]


def test_appended_rows_are_found_by_bbox(
    workspace: WorkspaceBase, layer_frames: dict[str, gpd.GeoDataFrame]
) -> None:
    # the spatial index follows appends (GeoPackage copies the new rows' R-tree in bulk)
    households = layer_frames["households"]
    workspace.write("households", households.iloc[:2])
    workspace.write("households", households.iloc[2:3], mode="append")
    workspace.write("households", households.iloc[3:], mode="append")
    for hid, geom in zip(households["id"], households.geometry, strict=True):
        x, y = geom.x, geom.y
        found = workspace.read("households", bbox=(x - 1e-7, y - 1e-7, x + 1e-7, y + 1e-7))
        assert hid in set(found["id"])
        assert workspace.count("households", bbox=(x - 1e-7, y - 1e-7, x + 1e-7, y + 1e-7)) >= 1
    # and later writes through the restored triggers still keep it
    moved = households.iloc[[0]].copy()
    workspace.write("households", households.iloc[1:])
    workspace.write("households", moved, mode="append")
    x, y = moved.geometry.iloc[0].x, moved.geometry.iloc[0].y
    assert set(workspace.read("households", bbox=(x - 1e-7, y - 1e-7, x + 1e-7, y + 1e-7))[
        "id"]) >= {moved["id"].iloc[0]}
    assert len(workspace.read("households")) == len(households)


def _bad_geometry(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    bowtie = Polygon([(0, 0), (1, 1), (1, 0), (0, 1), (0, 0)])
    return frame.set_geometry([bowtie, *frame.geometry.iloc[1:]], crs=frame.crs)


BAD_INPUTS = {
    "bad_geometry": ("communities", _bad_geometry, "geometry_invalid"),
    "wrong_geometry_type": ("households",
                            lambda f: f.set_geometry([Polygon([(0, 0), (1, 0), (0, 1)])] * len(f),
                                                     crs=f.crs),
                            "geometry_type"),
    "missing_required_column": ("communities", lambda f: f.drop(columns="kind"),
                                "missing required column"),
    "malformed_code": ("communities",
                       lambda f: f.assign(code=["41010200100", *f["code"].iloc[1:]]),
                       "code_malformed"),
    "duplicate_key": ("households", lambda f: f.assign(id="h001"), "key_duplicate"),
    "bad_choice": ("streets", lambda f: f.assign(**{"class": "highway"}), "value_choice"),
    "no_crs": ("households", lambda f: f.set_crs(None, allow_override=True), "no CRS"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_invalid_data_is_rejected_and_nothing_changes(
    workspace: WorkspaceBase, layer_frames: dict[str, gpd.GeoDataFrame], case: str
) -> None:
    _write_all(workspace, layer_frames)
    name, spoil, message = BAD_INPUTS[case]
    before, version = workspace.info(), workspace.version
    stored = workspace.read(name)
    for mode in ("replace", "append"):
        with pytest.raises(ValidationError, match=message):
            workspace.write(name, spoil(layer_frames[name]), mode=mode)  # type: ignore[arg-type]
    assert workspace.info() == before
    assert workspace.version == version
    assert_geodataframe_equal(workspace.read(name), stored)


def test_exception_inside_transaction_rolls_back(
    workspace: WorkspaceBase, layer_frames: dict[str, gpd.GeoDataFrame]
) -> None:
    _write_all(workspace, layer_frames, ("households", "grids"))
    before, version = workspace.info(), workspace.version
    households, grids = workspace.read("households"), workspace.read("grids")
    def crash() -> None:
        with workspace.transaction() as tx:
            tx.write("households", layer_frames["households"].iloc[:1])
            tx.write("grids", layer_frames["grids"].iloc[:1], mode="replace")
            tx.write_table("scenarios", pd.DataFrame({"id": [1]}))
            tx.set_meta("city", "郑州")
            # Inside the transaction the writes are visible ...
            assert tx.count("households") == 1
            raise RuntimeError("crash mid-import")

    with pytest.raises(RuntimeError, match="crash"):
        crash()
    # ... outside, none of them happened.
    assert workspace.info() == before
    assert workspace.version == version
    assert workspace.get_meta("city") is None
    assert_geodataframe_equal(workspace.read("households"), households)
    assert_geodataframe_equal(workspace.read("grids"), grids)


def test_product_tables_round_trip(workspace: WorkspaceBase) -> None:
    frame = pd.DataFrame({
        "id": [1, 2, 3],
        "name": ["方案一", None, "scenario 3"],
        "score": [0.5, None, 2.25],
        "accepted": [True, False, True],
        "households": pd.array([10, None, 30], dtype="Int64"),
    })
    workspace.write_table("scenarios", frame)
    assert workspace.tables() == ["scenarios"]
    assert workspace.has_table("scenarios")
    got = workspace.read_table("scenarios")
    assert not isinstance(got, gpd.GeoDataFrame)
    assert list(got.columns) == list(frame.columns)
    assert got["id"].tolist() == [1, 2, 3]
    assert got["name"].tolist()[0::2] == ["方案一", "scenario 3"]
    assert pd.isna(got["name"].tolist()[1])
    assert got["score"].tolist()[0::2] == [0.5, 2.25]
    assert got["accepted"].astype(bool).tolist() == [True, False, True]
    assert pd.isna(got["households"].iloc[1])
    assert workspace.read_table("scenarios", where={"id": [2, 3]})["id"].tolist() == [2, 3]

    workspace.write_table("scenarios", frame.iloc[:1], mode="append")
    assert workspace.count("scenarios") == 4
    workspace.write_table("scenarios", frame.iloc[:1])
    assert workspace.count("scenarios") == 1

    geo = gpd.GeoDataFrame(
        {"grid_code": ["410102001001001", "410102001001002"], "label": ["甲", "乙"]},
        geometry=[Point(113.6, 34.7), Polygon([(113.6, 34.7), (113.7, 34.7), (113.6, 34.8)])],
        crs="EPSG:4326",
    )
    workspace.write_table("history", geo)
    back = workspace.read_table("history")
    assert isinstance(back, gpd.GeoDataFrame)
    assert back.crs == "EPSG:4326"
    assert back["label"].tolist() == ["甲", "乙"]
    assert back.geometry.geom_equals_exact(geo.geometry, tolerance=0).all()
    assert workspace.tables() == ["history", "scenarios"]

    workspace.drop_table("history")
    assert workspace.tables() == ["scenarios"]
    with pytest.raises(NotFoundError):
        workspace.read_table("history")
    workspace.drop_table("history")  # absent: no error
    with pytest.raises(ValidationError, match="schema layer"):
        workspace.write_table("households", frame)
    with pytest.raises(ValidationError, match="table name"):
        workspace.write_table("1; DROP TABLE scenarios", frame)
    with pytest.raises(ValidationError, match="no CRS"):
        workspace.write_table("history", geo.set_crs(None, allow_override=True))


def test_meta(workspace: WorkspaceBase) -> None:
    assert workspace.get_meta("city") is None
    assert workspace.get_meta("city", "?") == "?"
    workspace.set_meta("city", "郑州市")
    workspace.set_meta("sample", {"seed": 7, "scale": 0.1, "names": ["甲", "乙"]})
    assert workspace.get_meta("city") == "郑州市"
    assert workspace.get_meta("sample") == {"seed": 7, "scale": 0.1, "names": ["甲", "乙"]}
    workspace.set_meta("city", "开封市")
    assert workspace.meta()["city"] == "开封市"


def test_version_bumps_once_per_committed_transaction(
    workspace: WorkspaceBase, layer_frames: dict[str, gpd.GeoDataFrame]
) -> None:
    assert workspace.version == 0
    workspace.write("subdistricts", layer_frames["subdistricts"])
    assert workspace.version == 1
    with workspace.transaction() as tx:
        tx.write("communities", layer_frames["communities"])
        tx.write("grids", layer_frames["grids"])
        tx.set_meta("note", "两次写入")
        with tx.transaction() as inner:  # nested: joins the outer transaction
            inner.write_table("audit", pd.DataFrame({"event": ["import"]}))
    assert workspace.version == 2
    workspace.set_meta("city", "郑州")
    assert workspace.version == 3
    workspace.read("grids")
    workspace.info()
    assert workspace.version == 3


def test_working_crs(workspace: WorkspaceBase, layer_frames: dict[str, gpd.GeoDataFrame]) -> None:
    with pytest.raises(NotFoundError, match="no geometry"):
        _ = workspace.working_crs
    workspace.write("households", layer_frames["households"])
    assert workspace.working_crs.to_epsg() == 32649  # 113.6°E is in UTM zone 49N
    assert workspace.info()["working_crs"] == "WGS 84 / UTM zone 49N"


def test_drop_and_rewrite_layer(
    workspace: WorkspaceBase, layer_frames: dict[str, gpd.GeoDataFrame]
) -> None:
    workspace.write("grids", layer_frames["grids"])
    workspace.drop_table("grids")
    assert "grids" not in workspace.layers()
    assert workspace.read("grids").empty
    assert workspace.count("grids") == 0
    workspace.write("grids", layer_frames["grids"])
    _assert_layer_equal(workspace.read("grids"), _expected("grids", layer_frames["grids"]))


def test_unknown_layer(workspace: WorkspaceBase) -> None:
    with pytest.raises(NotFoundError, match="unknown layer"):
        workspace.read("villages")


def test_whole_county_round_trip(
    workspace: WorkspaceBase, county_layers: dict[str, gpd.GeoDataFrame]
) -> None:
    _write_all(workspace, county_layers)
    assert workspace.version == 1
    back = workspace.read_all()
    for name, frame in county_layers.items():
        _assert_layer_equal(back[name], _expected(name, frame))
    assert [p for p in validate_workspace(back) if p.severity == "error"] == []



def test_table_versions_and_stale_if_version(
    workspace: WorkspaceBase, layer_frames: dict[str, gpd.GeoDataFrame]
) -> None:
    """Optimistic concurrency: a write based on a stale read raises and changes nothing."""
    assert workspace.table_version("notes") == 0
    workspace.write_table("notes", pd.DataFrame({"n": [1]}), if_version=0)
    v1 = workspace.table_version("notes")
    assert v1 >= 1
    # every write moves the counter, bookkeeping writes too
    workspace.write_table("notes", pd.DataFrame({"n": [2]}), mode="append", bump_version=False)
    v2 = workspace.table_version("notes")
    assert v2 > v1
    version = workspace.version
    with pytest.raises(ConflictError, match="changed since it was read"):
        workspace.write_table("notes", pd.DataFrame({"n": [9]}), if_version=v1)
    assert workspace.read_table("notes")["n"].tolist() == [1, 2]
    assert workspace.table_version("notes") == v2
    assert workspace.version == version
    workspace.write_table("notes", pd.DataFrame({"n": [3]}), if_version=v2)
    assert workspace.read_table("notes")["n"].tolist() == [3]
    # a stale write inside a transaction takes the other writes of the block with it
    v3 = workspace.table_version("notes")
    with pytest.raises(ConflictError), workspace.transaction() as tx:  # noqa: PT012
        tx.write("households", layer_frames["households"])
        tx.write_table("notes", pd.DataFrame({"n": [4]}), if_version=v3 - 1)
    assert workspace.count("households") == 0
    assert workspace.table_version("notes") == v3
    # layers too
    hv = workspace.table_version("households")
    workspace.write("households", layer_frames["households"], if_version=hv)
    with pytest.raises(ConflictError):
        workspace.write("households", layer_frames["households"].iloc[:1], if_version=hv)
    assert workspace.count("households") == 4
    # a drop and a re-creation never bring an old value back
    workspace.drop_table("notes")
    assert workspace.table_version("notes") == 0
    with pytest.raises(ConflictError):
        workspace.write_table("notes", pd.DataFrame({"n": [5]}), if_version=v3)
    workspace.write_table("notes", pd.DataFrame({"n": [5]}), if_version=0)
    assert workspace.table_version("notes") > v3
    assert not any(k.startswith("table_version") for k in workspace.meta())


@pytest.mark.parametrize("where", [
    {"id": "h001\x00"},
    {"id": ["h001", "b\x00"]},
    {"size": float("nan")},
    {"size": float("inf")},
    {"size": 1e309},
    {"size": 10**21},
])
def test_unbindable_filter_values_are_refused(
    workspace: WorkspaceBase, layer_frames: dict[str, gpd.GeoDataFrame], where: dict[str, object]
) -> None:
    workspace.write("households", layer_frames["households"])
    with pytest.raises(ValidationError, match=r"NUL|finite|out of range"):
        workspace.read("households", where=where)
    with pytest.raises(ValidationError, match=r"NUL|finite|out of range"):
        workspace.count("households", where=where)
    with pytest.raises(ValidationError, match="finite"):
        workspace.read("households", bbox=(0.0, 0.0, float("inf"), 1.0))
    with pytest.raises(ValidationError, match="offset"):
        workspace.read("households", offset=10**21)
    assert workspace.count("households") == 4


def test_update_replaces_rows_by_key(
    workspace: WorkspaceBase, layer_frames: dict[str, gpd.GeoDataFrame]
) -> None:
    """``update`` swaps the rows named by key (geometry and spatial index included) and
    leaves the others; unknown keys, stale versions and bad rows change nothing."""
    _write_all(workspace, layer_frames, ("events",))
    events = layer_frames["events"]
    version = workspace.table_version("events")
    moved = events.iloc[[1]].assign(status="resolved", resolved_by="u1",
                                    resolved_at="2026-03-06T08:00:00+08:00",
                                    geometry=[Point(113.70, 34.80)])
    workspace.update("events", moved, if_version=version)
    got = workspace.read("events").set_index("id")
    assert got.loc["E0000002", "status"] == "resolved"
    assert got.loc["E0000001", "status"] == "closed"
    assert workspace.count("events") == 2
    assert workspace.read("events", bbox=(113.69, 34.79, 113.71, 34.81))["id"].tolist() == [
        "E0000002"]
    assert workspace.read("events", bbox=(113.631, 34.743, 113.633, 34.745)).empty
    before = workspace.read("events")
    with pytest.raises(ConflictError):
        workspace.update("events", moved.assign(status="closed"), if_version=version)
    with pytest.raises(NotFoundError):
        workspace.update("events", moved.assign(id="E0000009"))
    with pytest.raises(ValidationError):
        workspace.update("events", moved.assign(status="lost"))
    assert_geodataframe_equal(workspace.read("events"), before)
