"""Excel/CSV registers: Chinese headers, GCJ-02 coordinates, address matching, unmatched rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely

from gisgov.errors import ImportDataError
from gisgov.onboard.osm import read_osm
from gisgov.onboard.registers import address_key, match_addresses, read_register
from tests.gisgov.onboard.onboard_data import gcj, write_workbook

MEMBER_HEADER = ["序号", "党员姓名", "联系电话", "党员类别", "年龄", "所属支部", "是否流动党员",
                 "经度（高德）", "纬度（高德）", "家庭住址"]


def test_address_keys() -> None:
    assert address_key("河南省某县城关镇幸福路０８号2栋") == ("河南省某县城关镇幸福路", "8")
    assert address_key("幸福路8号") == ("幸福路", "8")
    assert address_key("幸福路") is None


def test_members_workbook_gcj02(tmp_path: Path, town_osm: Path) -> None:
    buildings = read_osm(town_osm).buildings
    target = buildings.geometry.iloc[5].representative_point()
    lon, lat = gcj(target.x, target.y)
    rows: list[list[object]] = [
        [1, "张三", "13812345678", "A类", "45", "幸福社区第一支部", "否", lon, lat, None],
        [2, "李四", "13900001111", "C", "71岁", "幸福社区第一支部", "是", None, None,
         "某县幸福路3号"],
        [3, "王五", "13700002222", None, "52", "幸福社区第二支部", None, None, None,
         "解放路99号"],
    ]
    path = write_workbook(tmp_path / "党员花名册.xlsx", "幸福社区党员花名册（2024年）",
                          MEMBER_HEADER, rows)
    reg = read_register(path, layer="members", buildings=buildings)
    assert reg.source_crs == "gcj02"
    assert not reg.crs_assumed
    assert reg.placed_by == {"coordinates": 1, "address": 1}
    assert reg.unmatched == [{"row": 5, "id": "M0003", "address": "解放路99号",
                              "reason": "no building with this street name and house number"}]
    m = reg.frame.set_index("id")
    # the GCJ-02 pick lands back on the WGS-84 building (the raw pick is ~500 m off)
    assert shapely.distance(m.geometry["M0001"], target) < 1e-6
    assert m["class"].tolist() == ["A", "C"]
    assert m["status"].tolist() == ["resident", "away"]
    assert m["age"].tolist() == [45, 71]
    house3 = buildings.set_index("address").geometry["幸福路3号"]
    assert house3.contains(m.geometry["M0002"])
    assert "address" not in m.columns  # a member's home is the point, not an unmasked text
    assert not any("张三" in str(u) for u in reg.unmatched)


def test_households_csv_gbk_with_crs_option(tmp_path: Path, town_osm: Path) -> None:
    buildings = read_osm(town_osm).buildings
    p = buildings.geometry.iloc[0].representative_point()
    lon, lat = gcj(p.x, p.y)
    text = ("户主姓名,联系电话,身份证号,家庭人口,流动人口,是否低保,经度,纬度,门牌地址\n"
            f"赵六,13600000000,410223199001011234,4,是,否,{lon},{lat},\n"
            "钱七,,,2,0,是,,,幸福路 ８号\n")
    path = tmp_path / "户籍.csv"
    path.write_bytes(text.encode("gbk"))
    reg = read_register(path, layer="households", crs="gcj02", buildings=buildings)
    h = reg.frame
    assert len(h) == 2
    assert not reg.unmatched
    assert h["size"].tolist() == [4, 2]
    assert h["floating"].tolist() == [4, 0]
    assert h["building_id"].iloc[1] == buildings.set_index("address")["id"]["幸福路8号"]
    assert h["id_number"].iloc[0] == "410223199001011234"  # kept as text, no float mangling
    assert np.isclose(h.geometry.iloc[0].x, p.x, atol=1e-7)


def test_swapped_and_duplicate_rows_are_refused(tmp_path: Path) -> None:
    swapped = write_workbook(tmp_path / "a.xlsx", None, ["户主姓名", "经度", "纬度"],
                             [["甲", 34.7, 113.6]])
    with pytest.raises(ImportDataError, match="swapped"):
        read_register(swapped, layer="households")
    dup = write_workbook(tmp_path / "b.xlsx", None, ["户编号", "户主姓名", "经度", "纬度"],
                         [["H1", "甲", 113.6, 34.7], ["H1", "乙", 113.6, 34.7]])
    with pytest.raises(ImportDataError, match="unique"):
        read_register(dup, layer="households")


def test_match_prefers_lowest_building_id(town_osm: Path) -> None:
    b = read_osm(town_osm).buildings
    b.loc[:, "address"] = "幸福路1号"
    found = match_addresses(b["address"].head(1), b)
    assert found.iloc[0] == sorted(b["id"])[0]
