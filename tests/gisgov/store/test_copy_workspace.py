"""Both stores give the same answers, and copy_workspace moves a county between them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
from geopandas.testing import assert_geodataframe_equal

from gisgov.layers import LAYERS
from gisgov.store import WorkspaceBase
from gisgov.store.copy import copy_workspace

pytestmark = pytest.mark.postgis

Factory = Callable[[str], WorkspaceBase]

X0, Y0 = 113.62, 34.74
QUERIES: list[dict[str, Any]] = [
    {},
    {"bbox": (X0, Y0, X0 + 0.012, Y0 + 0.003)},
    {"bbox": (X0 + 0.0401, Y0 + 0.001, X0 + 0.0449, Y0 + 0.002)},
    {"limit": 2},
    {"limit": 2, "offset": 1},
    {"offset": 2},
]
WHERE: dict[str, dict[str, Any]] = {
    "households": {"building_id": ["b1", "b2"]},
    "communities": {"subdistrict_code": "410102001"},
    "grids": {"community_code": "410102001001"},
    "staff": {"role": "leader"},
}


def _fill(ws: WorkspaceBase, frames: dict[str, gpd.GeoDataFrame]) -> None:
    with ws.transaction() as tx:
        for name, frame in frames.items():
            tx.write(name, frame)
        tx.write_table("scenarios", pd.DataFrame({"id": [1, 2], "name": ["现状", "方案"]}))
        tx.write_table("history", gpd.GeoDataFrame(
            {"grid_code": ["410102001001001"]}, geometry=frames["grids"].geometry.iloc[:1],
            crs="EPSG:4326",
        ))
        tx.set_meta("city", "郑州市")
        tx.set_meta("sample", {"seed": 7})


def _assert_same_reads(a: WorkspaceBase, b: WorkspaceBase) -> None:
    assert a.layers() == b.layers()
    for name in LAYERS:
        for query in [*QUERIES, *([{"where": WHERE[name]}] if name in WHERE else [])]:
            got_a, got_b = a.read(name, **query), b.read(name, **query)
            assert list(got_a.columns) == list(got_b.columns), (name, query)
            assert_geodataframe_equal(got_a, got_b, check_dtype=True)
            assert a.count(name, **{k: v for k, v in query.items()
                                    if k in ("bbox", "where")}) == b.count(
                name, **{k: v for k, v in query.items() if k in ("bbox", "where")})
    assert a.tables() == b.tables()
    for table in a.tables():
        ta, tb = a.read_table(table), b.read_table(table)
        assert type(ta) is type(tb)
        assert list(ta.columns) == list(tb.columns)
        pd.testing.assert_frame_equal(ta.astype(object), tb.astype(object), check_dtype=False)


def _meta_without_version(ws: WorkspaceBase) -> dict[str, Any]:
    return {k: v for k, v in ws.meta().items() if k != "version"}


@pytest.mark.parametrize(("src_kind", "dst_kind"), [("gpkg", "postgis"), ("postgis", "gpkg")])
def test_copy_both_ways_gives_the_same_reads(
    new_workspace: Factory, layer_frames: dict[str, gpd.GeoDataFrame],
    src_kind: str, dst_kind: str,
) -> None:
    src, dst = new_workspace(src_kind), new_workspace(dst_kind)
    _fill(src, layer_frames)
    dst.set_meta("city", "old")
    steps: list[tuple[str, int, int]] = []
    counts = copy_workspace(src, dst, progress=lambda *s: steps.append(s))
    assert counts["households"] == 4
    assert counts["scenarios"] == 2
    assert steps[-1] == ("meta", len(steps), len(steps))
    _assert_same_reads(src, dst)
    assert _meta_without_version(dst) == _meta_without_version(src)
    assert dst.version == 2  # set_meta, then one for the whole copy


def test_a_failed_copy_leaves_the_destination_unchanged(
    new_workspace: Factory, layer_frames: dict[str, gpd.GeoDataFrame]
) -> None:
    src, dst = new_workspace("gpkg"), new_workspace("postgis")
    _fill(src, layer_frames)
    dst.write("grids", layer_frames["grids"].iloc[:1])
    before, version = dst.info(), dst.version

    def interrupt(step: str, done: int, total: int) -> None:
        if step == "assignments":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        copy_workspace(src, dst, progress=interrupt)
    assert dst.info() == before
    assert dst.version == version


def test_the_county_reads_the_same_in_both_stores(
    new_workspace: Factory, county_layers: dict[str, gpd.GeoDataFrame]
) -> None:
    gpkg, pg = new_workspace("gpkg"), new_workspace("postgis")
    with gpkg.transaction() as tx:
        for name, frame in county_layers.items():
            tx.write(name, frame)
    copy_workspace(gpkg, pg)
    for name in LAYERS:
        assert_geodataframe_equal(pg.read(name), gpkg.read(name))
    bounds = gpkg.bounds("households")
    assert bounds is not None
    minx, miny, maxx, maxy = bounds
    quarter = (minx, miny, (minx + maxx) / 2, (miny + maxy) / 2)
    assert_geodataframe_equal(pg.read("households", bbox=quarter),
                              gpkg.read("households", bbox=quarter))
    assert pg.info()["layers"] == gpkg.info()["layers"]
