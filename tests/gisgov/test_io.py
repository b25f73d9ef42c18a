"""Tests for gisgov.io: reading files into layers and writing them out again.

Every fixture file is made by code in ``tmp_path``; nothing is committed.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import pytest
import shapely

from gisgov.crs import wgs84_to_gcj02
from gisgov.errors import CRSError, ImportDataError
from gisgov.io import detect_dbf_encoding, read_layer_file, write_layer_file
from gisgov.layers import conform

# A few points around Dongcheng, Beijing (WGS-84).
LON = np.array([116.3975, 116.4012, 116.4103, 116.3921])
LAT = np.array([39.9087, 39.9132, 39.9051, 39.9170])
NAMES = ["东华门社区", "景山社区", "交道口社区", "安定门社区"]
BEIJING_BOX = (116.0, 39.6, 116.8, 40.2)


def _metres(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray, lat2: np.ndarray) -> np.ndarray:
    return np.asarray(pyproj.Geod(ellps="WGS84").inv(lon1, lat1, lon2, lat2)[2])


def _households() -> gpd.GeoDataFrame:
    df = gpd.GeoDataFrame(
        {
            "id": ["h001", "h002", "h003", "h004"],
            "building_id": ["b01", "b01", "b02", None],
            "address": ["东城区景山前街4号", "1单元101", "2单元302", "南锣鼓巷8号"],
            "head_name": ["张三", "李四", "王五", "赵六"],
            "size": [3, 1, 4, 2],
            "elderly": [True, False, True, None],
        },
        geometry=shapely.points(LON, LAT),
        crs=4326,
    )
    return conform("households", df)


def _grids() -> gpd.GeoDataFrame:
    boxes = [shapely.box(116.39, 39.90, 116.40, 39.91), shapely.box(116.40, 39.90, 116.41, 39.91)]
    boxes.append(
        shapely.MultiPolygon([shapely.box(116.41, 39.90, 116.42, 39.91),
                              shapely.box(116.43, 39.90, 116.44, 39.91)])
    )
    df = gpd.GeoDataFrame(
        {
            "code": ["110101001001001", "110101001001002", "110101001001003"],
            "name": ["第一网格", "第二网格", "第三网格"],
            "community_code": ["110101001001"] * 3,
            "target_households": [120, 95, 110],
        },
        geometry=boxes,
        crs=4326,
    )
    return conform("grids", df)


def _assert_same_layer(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame, *, tol: float = 1e-9) -> None:
    pd.testing.assert_frame_equal(
        pd.DataFrame(a.drop(columns="geometry")), pd.DataFrame(b.drop(columns="geometry"))
    )
    assert b.crs.to_epsg() == 4326
    # normalize(): shapefiles store outer rings clockwise, the other formats keep ours.
    for ga, gb in zip(a.geometry, b.geometry, strict=True):
        assert ga.geom_type == gb.geom_type
        assert shapely.equals_exact(shapely.normalize(ga), shapely.normalize(gb), tol), (ga, gb)


# --- shapefiles and encodings ------------------------------------------------------------------


def _gbk_shapefile(tmp_path: Path, *, prj: bool = True) -> Path:
    gdf = gpd.GeoDataFrame(
        {"code": ["110101001", "110101002", "110101003", "110101004"], "name": NAMES},
        geometry=[shapely.Point(x, y).buffer(0.002) for x, y in zip(LON, LAT, strict=True)],
        crs=4326,
    )
    path = tmp_path / "街道.shp"
    pyogrio.write_dataframe(gdf, path, encoding="GBK")
    path.with_suffix(".cpg").unlink()
    if not prj:
        path.with_suffix(".prj").unlink()
    return path


def test_gbk_shapefile_without_cpg_reads_chinese(tmp_path: Path) -> None:
    path = _gbk_shapefile(tmp_path)
    assert detect_dbf_encoding(path.with_suffix(".dbf")) == "GB18030"
    out = read_layer_file(path, layer="subdistricts")
    assert list(out["name"]) == NAMES
    assert out.attrs["encoding"] == "GB18030"
    assert list(out["code"]) == ["110101001", "110101002", "110101003", "110101004"]
    forced = read_layer_file(path, layer="subdistricts", encoding="GBK")
    assert list(forced["name"]) == NAMES


def test_utf8_shapefile_without_cpg_detected_as_utf8(tmp_path: Path) -> None:
    path = _gbk_shapefile(tmp_path)
    gdf = pyogrio.read_dataframe(path, encoding="GBK")
    utf8 = tmp_path / "utf8.shp"
    pyogrio.write_dataframe(gdf, utf8, encoding="UTF-8")
    utf8.with_suffix(".cpg").unlink()
    assert detect_dbf_encoding(utf8.with_suffix(".dbf")) == "UTF-8"
    assert list(read_layer_file(utf8, layer="subdistricts")["name"]) == NAMES


def test_zipped_shapefile(tmp_path: Path) -> None:
    import zipfile

    _gbk_shapefile(tmp_path)
    archive = tmp_path / "subdistricts.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in tmp_path.glob("街道.*"):
            zf.write(f, f"data/{f.name}")
    assert list(read_layer_file(archive, layer="subdistricts")["name"]) == NAMES


def test_shapefile_without_prj_needs_crs(tmp_path: Path) -> None:
    path = _gbk_shapefile(tmp_path, prj=False)
    with pytest.raises(CRSError, match=r"no coordinate system.*--crs"):
        read_layer_file(path, layer="subdistricts")
    out = read_layer_file(path, layer="subdistricts", crs="cgcs2000")
    assert out.crs.to_epsg() == 4326
    assert out.attrs["source_crs"] == "cgcs2000"


# --- tables ------------------------------------------------------------------------------------


def _household_table(lon: np.ndarray, lat: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {"编号": ["h1", "h2", "h3", "h4"], "户数": [3, 1, 4, 2], "经度": lon, "纬度": lat}
    )


def test_gcj02_csv_lands_within_half_a_metre(tmp_path: Path) -> None:
    g_lon, g_lat = wgs84_to_gcj02(LON, LAT)
    path = tmp_path / "gaode.csv"
    _household_table(g_lon, g_lat).to_csv(path, index=False, encoding="gbk")
    out = read_layer_file(
        path, layer="households", crs="gcj02", mapping={"编号": "id", "户数": "size"}
    )
    assert out.attrs["source_crs"] == "gcj02"
    assert out.attrs["encoding"] == "gb18030"
    assert not out.attrs["crs_assumed"]
    err = _metres(out.geometry.x.to_numpy(), out.geometry.y.to_numpy(), LON, LAT)
    assert err.max() < 0.5
    assert list(out["size"]) == [3, 1, 4, 2]
    assert "经度" not in out.columns


def test_csv_without_crs_is_assumed_wgs84_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    _household_table(LON, LAT).to_csv(path, index=False)
    out = read_layer_file(path, layer="households", mapping={"编号": "id", "户数": "size"})
    assert out.attrs["crs_assumed"]
    np.testing.assert_allclose(out.geometry.x, LON)


def test_xlsx_with_named_sheet_and_given_columns(tmp_path: Path) -> None:
    path = tmp_path / "h.xlsx"
    df = pd.DataFrame({"id": ["h1", "h2"], "size": [2, 5], "E": LON[:2], "N": LAT[:2],
                       "building_id": ["007", "008"]})
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"note": ["cover"]}).to_excel(writer, sheet_name="说明", index=False)
        df.to_excel(writer, sheet_name="户", index=False)
    out = read_layer_file(path, layer="households", sheet="户", lon_col="E", lat_col="N")
    np.testing.assert_allclose(out.geometry.y, LAT[:2])
    assert list(out["building_id"]) == ["007", "008"]  # text cells keep leading zeros
    with pytest.raises(ImportDataError, match="说明"):
        read_layer_file(path, layer="households", sheet="nope", lon_col="E", lat_col="N")


def test_swapped_lon_lat_reported_not_fixed(tmp_path: Path) -> None:
    path = tmp_path / "swapped.csv"
    _household_table(LAT, LON).to_csv(path, index=False)  # 经度 holds latitudes
    with pytest.raises(ImportDataError, match=r"columns look swapped: '经度'.*--lon/--lat"):
        read_layer_file(path, layer="households", mapping={"编号": "id", "户数": "size"})
    # Latitudes beyond ±90 are swapped anywhere in the world.
    world = pd.DataFrame({"id": ["a"], "size": [1], "lon": [45.0], "lat": [120.0]})
    world.to_csv(path, index=False)
    with pytest.raises(ImportDataError, match="columns look swapped"):
        read_layer_file(path, layer="households")


def test_projected_numbers_without_crs(tmp_path: Path) -> None:
    path = tmp_path / "xy.csv"
    pd.DataFrame({"id": ["a"], "size": [1], "x": [448_000.0], "y": [4_418_000.0]}).to_csv(
        path, index=False
    )
    with pytest.raises(CRSError, match="not degrees"):
        read_layer_file(path, layer="households")
    out = read_layer_file(path, layer="households", crs="EPSG:32650")
    assert out.attrs["source_crs"] == "EPSG:32650"
    assert 116 < out.geometry.x[0] < 117


def test_far_away_rows_rejected(tmp_path: Path) -> None:
    lon = LON.copy()
    lat = LAT.copy()
    lon[2], lat[2] = 121.47, 31.23  # Shanghai, not Beijing
    path = tmp_path / "far.csv"
    _household_table(lon, lat).to_csv(path, index=False)
    with pytest.raises(
        ImportDataError, match=r"1 of 4 rows lie outside the expected area.*row 3 \(id h3\)"
    ):
        read_layer_file(path, layer="households", mapping={"编号": "id", "户数": "size"},
                        expected_bounds=BEIJING_BOX)


def test_mapping_unknown_column_lists_available(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    _household_table(LON, LAT).to_csv(path, index=False)
    with pytest.raises(ImportDataError, match=r"'人口'.*available columns: 编号, 户数, 经度, 纬度"):
        read_layer_file(path, layer="households", mapping={"人口": "size"})
    with pytest.raises(ImportDataError, match="missing required column"):
        read_layer_file(path, layer="households", mapping={"编号": "id"})


def test_no_coordinate_columns(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    pd.DataFrame({"id": ["a"], "size": [1]}).to_csv(path, index=False)
    with pytest.raises(ImportDataError, match=r"no coordinate columns.*--lon/--lat"):
        read_layer_file(path, layer="households")
    staff = tmp_path / "staff.csv"
    pd.DataFrame({"id": ["s1"], "grid_code": ["110101001001001"], "role": ["leader"]}).to_csv(
        staff, index=False
    )
    out = read_layer_file(staff, layer="staff")
    assert out.geometry.isna().all()


def test_non_numeric_coordinate(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    pd.DataFrame({"id": ["a", "b"], "size": [1, 2], "lon": ["116.4", "东经116"],
                  "lat": [39.9, 39.9]}).to_csv(path, index=False)
    with pytest.raises(ImportDataError, match=r"'lon' has 1 non-numeric.*row 2"):
        read_layer_file(path, layer="households")


# --- validation --------------------------------------------------------------------------------


def test_invalid_geometry_and_duplicate_key_reported(tmp_path: Path) -> None:
    bowtie = shapely.Polygon([(116.39, 39.90), (116.40, 39.91), (116.40, 39.90),
                              (116.39, 39.91), (116.39, 39.90)])
    gdf = gpd.GeoDataFrame(
        {"id": ["c1", "c2", "c2"], "name": ["甲小区", "乙小区", "丙小区"]},
        geometry=[bowtie, shapely.box(116.40, 39.90, 116.41, 39.91),
                  shapely.box(116.41, 39.90, 116.42, 39.91)],
        crs=4326,
    )
    path = tmp_path / "compounds.geojson"
    pyogrio.write_dataframe(gdf, path)
    with pytest.raises(ImportDataError) as info:
        read_layer_file(path, layer="compounds")
    found = {(p.layer, p.key, p.rule) for p in info.value.problems}
    assert ("compounds", "c1", "geometry_invalid") in found
    assert ("compounds", "c2", "key_duplicate") in found
    msg = str(info.value)
    assert "\n" not in msg
    assert "compounds c1 [geometry_invalid]" in msg
    assert "compounds c2 [key_duplicate]" in msg


def test_unsupported_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(ImportDataError, match="not found"):
        read_layer_file(tmp_path / "none.csv", layer="households")
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(ImportDataError, match="unsupported file type"):
        read_layer_file(tmp_path / "a.txt", layer="households")
    with pytest.raises(ImportDataError, match="unknown layer"):
        read_layer_file(tmp_path / "a.txt", layer="household")


# --- writing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", [".gpkg", ".geojson", ".shp", ".csv"])
@pytest.mark.parametrize("make", [_households, _grids], ids=["points", "polygons"])
def test_export_and_reimport_equal(tmp_path: Path, ext: str, make) -> None:
    layer = make()
    name = "households" if "size" in layer.columns else "grids"
    path = write_layer_file(layer, tmp_path / f"out{ext}")
    assert path.exists()
    if ext == ".shp":
        assert path.with_suffix(".cpg").read_text().upper().startswith("UTF-8")
    back = read_layer_file(path, layer=name)
    _assert_same_layer(layer, back)


def test_gpkg_picks_named_layer(tmp_path: Path) -> None:
    path = tmp_path / "workspace.gpkg"
    write_layer_file(_grids(), path, layer_name="grids")
    write_layer_file(_households(), path, layer_name="households")
    assert len(read_layer_file(path, layer="households")) == 4
    assert len(read_layer_file(path, layer="grids")) == 3


def test_export_gcj02_and_back(tmp_path: Path) -> None:
    layer = _households()
    path = write_layer_file(layer, tmp_path / "gaode.geojson", crs="gcj02")
    raw = pyogrio.read_dataframe(path)
    shift = _metres(raw.geometry.x.to_numpy(), raw.geometry.y.to_numpy(), LON, LAT)
    assert shift.min() > 100  # really moved onto the Gaode grid
    back = read_layer_file(path, layer="households", crs="gcj02")
    err = _metres(back.geometry.x.to_numpy(), back.geometry.y.to_numpy(), LON, LAT)
    assert err.max() < 0.5
    csv = write_layer_file(layer, tmp_path / "gaode.csv", crs="gcj02")
    table = pd.read_csv(csv, encoding="utf-8-sig")
    g_lon, _ = wgs84_to_gcj02(LON, LAT)
    np.testing.assert_allclose(table["lon"], g_lon)


def test_export_rejects_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ImportDataError, match="cannot write"):
        write_layer_file(_households(), tmp_path / "out.kml")
