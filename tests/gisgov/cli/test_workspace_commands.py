"""The workspace commands as a user runs them: init, import, export, info, check, copy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from gisgov.crs import wgs84_to_gcj02
from tests.conftest import HANG_GUARD_S

EXE = str(Path(sys.executable).parent / "gisgov")
LON, LAT = 114.19, 34.41


def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([EXE, *args], capture_output=True, text=True, timeout=HANG_GUARD_S)
    if ok:
        assert out.returncode == 0, out.stderr
    else:
        assert out.returncode != 0
        assert "Traceback" not in out.stderr
        lines = [ln for ln in out.stderr.strip().splitlines() if ln.strip()]
        assert 1 <= len(lines) <= 3, out.stderr  # one message (rich may wrap it)
    return out


def info(ws: Path | str) -> dict[str, object]:
    doc: dict[str, object] = json.loads(run("info", str(ws), "--json").stdout)
    return doc


def subdistricts() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": ["410223001", "410223002"], "name": ["城关街道", "城东街道"]},
        geometry=[shapely.box(LON - 0.02, LAT - 0.02, LON, LAT + 0.02),
                  shapely.box(LON, LAT - 0.02, LON + 0.02, LAT + 0.02)], crs="EPSG:4326")


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    path = tmp_path / "county.gpkg"
    run("init", str(path))
    shp = tmp_path / "sub.shp"
    pyogrio.write_dataframe(subdistricts(), shp, encoding="GBK")
    shp.with_suffix(".cpg").unlink()  # as many Chinese shapefiles arrive: GBK, no .cpg
    run("import", str(path), str(shp), "--layer", "subdistricts")
    return path


def test_gbk_shapefile_without_cpg_imports_chinese_names(ws: Path) -> None:
    from gisgov.store import open_workspace

    names = open_workspace(ws).read("subdistricts")["name"].tolist()
    assert names == ["城关街道", "城东街道"]


def test_gcj02_csv_lands_on_the_wgs84_position(ws: Path, tmp_path: Path) -> None:
    lon = np.array([LON + 0.001, LON - 0.003])
    lat = np.array([LAT + 0.002, LAT - 0.001])
    glon, glat = wgs84_to_gcj02(lon, lat)
    csv = tmp_path / "stations.csv"
    pd.DataFrame({"编号": ["Z1", "Z2"], "名称": ["志愿服务站一", "志愿服务站二"],
                  "类型": ["volunteer", "volunteer"], "经度": glon, "纬度": glat}
                 ).to_csv(csv, index=False)
    run("import", str(ws), str(csv), "--layer", "stations", "--crs", "gcj02",
        "--map", "编号=id", "--map", "名称=name", "--map", "类型=kind")
    from gisgov.store import open_workspace

    got = open_workspace(ws).read("stations").sort_values("id")
    metres = np.hypot((got.geometry.x.to_numpy() - lon) * 92_000,
                      (got.geometry.y.to_numpy() - lat) * 111_000)
    assert metres.max() < 0.5
    assert open_workspace(ws).get_meta("source_crs")["stations"] == "gcj02"


@pytest.mark.parametrize("case", ["invalid_geometry", "duplicate_key", "missing_crs",
                                  "swapped_lat_lon", "far_away"])
def test_broken_input_is_refused_and_the_workspace_unchanged(ws: Path, tmp_path: Path,
                                                             case: str) -> None:
    before = info(ws)
    bad = subdistricts()
    target = tmp_path / f"{case}.geojson"
    layer = "subdistricts"
    if case == "invalid_geometry":
        bad.loc[0, "geometry"] = shapely.Polygon([(LON, LAT), (LON + 0.01, LAT + 0.01),
                                                  (LON + 0.01, LAT), (LON, LAT + 0.01)])
        bad.to_file(target)
        expect = "invalid geometry"
    elif case == "duplicate_key":
        bad.loc[1, "code"] = bad.loc[0, "code"]
        bad.to_file(target)
        expect = "more than once"
    elif case == "missing_crs":
        target = tmp_path / "nocrs.shp"
        with pytest.warns(UserWarning, match="crs"):  # geopandas warns: no .prj written
            bad.set_crs(None, allow_override=True).to_file(target, encoding="UTF-8")
        expect = "--crs"
    else:
        target = tmp_path / f"{case}.csv"
        layer = "stations"
        lon, lat = (LON, LAT) if case != "far_away" else (LON + 20, LAT + 10)
        cols = ({"lon": [lat], "lat": [lon]} if case == "swapped_lat_lon"
                else {"lon": [lon], "lat": [lat]})
        pd.DataFrame({"id": ["Z9"], "name": ["站"], "kind": ["volunteer"], **cols}
                     ).to_csv(target, index=False)
        expect = "swapped" if case == "swapped_lat_lon" else "outside"
    out = run("import", str(ws), str(target), "--layer", layer, "--mode", "replace", ok=False)
    assert expect in out.stderr
    after = info(ws)
    assert after["layers"] == before["layers"]
    assert after["version"] == before["version"]


def test_export_in_gcj02_and_back(ws: Path, tmp_path: Path) -> None:
    out = tmp_path / "sub_gcj.geojson"
    run("export", str(ws), str(out), "--layer", "subdistricts", "--crs", "gcj02")
    exported = gpd.read_file(out)
    x0 = subdistricts().geometry.iloc[0].bounds[0]
    assert abs(exported.geometry.iloc[0].bounds[0] - x0) > 1e-4  # shifted by the GCJ offset
    from gisgov.audit import read_audit
    from gisgov.store import open_workspace

    assert read_audit(open_workspace(ws))["action"].tolist() == ["export"]


def test_check_json_and_exit_code(ws: Path) -> None:
    out = run("check", str(ws), "--json")
    assert json.loads(out.stdout)["ok"] is True
    bad = subprocess.run([EXE, "check", str(ws.with_name("missing.gpkg"))],
                         capture_output=True, text=True)
    assert bad.returncode == 2
    assert "does not exist" in bad.stderr


def test_info_json_reports_count_crs_bbox(ws: Path) -> None:
    layer = info(ws)["layers"]["subdistricts"]  # type: ignore[index]
    assert layer["count"] == 2
    assert layer["crs"] == "EPSG:4326"
    assert layer["bbox"][0] == pytest.approx(LON - 0.02)


@pytest.mark.postgis
def test_copy_to_postgis_and_back(ws: Path, tmp_path: Path, postgis_url: str) -> None:
    import uuid
    from urllib.parse import quote

    import psycopg

    schema = f"cli_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgis_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        url = f"{postgis_url}?options={quote(f'-csearch_path={schema},public')}"
        run("copy", str(ws), url)
        assert info(url)["layers"]["subdistricts"]["count"] == 2  # type: ignore[index]
        back = tmp_path / "back.gpkg"
        run("copy", url, str(back))
        assert info(back)["layers"]["subdistricts"]["count"] == 2  # type: ignore[index]
    finally:
        with psycopg.connect(postgis_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def test_check_prints_the_summary_by_rule_before_the_rows(county_gpkg: Path) -> None:
    """Counts per rule and the total first, then the rows, errors first (issue 16)."""
    from gisgov.store import open_workspace

    ws = open_workspace(county_gpkg)
    members = ws.read("members")
    members.loc[members.index[:3], "grid_code"] = "410223999999999"  # three dangling refs
    ws.write("members", members)
    ws.close()
    out = subprocess.run([EXE, "check", str(county_gpkg)], capture_output=True, text=True,
                         env={**os.environ, "COLUMNS": "200"}, timeout=HANG_GUARD_S)
    assert out.returncode == 1
    doc = json.loads(subprocess.run([EXE, "check", str(county_gpkg), "--json"],
                                    capture_output=True, text=True,
                                    timeout=HANG_GUARD_S).stdout)
    text = out.stdout
    summary_at, rows_at = text.index("summary by rule"), text.index("message")
    assert summary_at < rows_at
    summary = text[summary_at:rows_at]
    for rule, count in doc["by_rule"].items():
        line = next(li for li in summary.splitlines() if f" {rule} " in li)
        assert line.rstrip(" │┃").endswith(str(count)), line
    total = next(li for li in summary.splitlines() if "total 合计" in li)
    assert total.rstrip(" │┃").endswith(str(len(doc["problems"])))
    assert len(doc["by_rule"]) >= 2
