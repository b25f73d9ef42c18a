"""``gisgov events`` on the reference county: the JSON each command prints, the hotline
import (addresses placed on buildings, unmatched rows listed), the catalogue, the seed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shapely
from typer.testing import CliRunner

from gisgov.cli import app
from gisgov.crs import wgs84_to_bd09
from gisgov.errors import ValidationError
from gisgov.locate import codes_at
from gisgov.store import open_workspace


@pytest.fixture
def ws_path(tmp_path: Path, gridded_gpkg_master: Path) -> Path:
    path = tmp_path / "county.gpkg"
    path.write_bytes(gridded_gpkg_master.read_bytes())
    return path


def run(*args: str) -> Any:
    out = CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})
    if out.exception is not None and not isinstance(out.exception, SystemExit):
        raise out.exception
    assert out.exit_code == 0, out.output
    return json.loads(out.stdout) if "--json" in args else out.stdout


def _inside_point(ws_path: Path) -> tuple[float, float, str]:
    ws = open_workspace(ws_path)
    hh = ws.read("households")
    codes = codes_at(hh.geometry, ws.read("grids"))
    i = next(i for i, c in enumerate(codes) if c is not None)
    return float(hh.geometry.x.iloc[i]), float(hh.geometry.y.iloc[i]), str(codes[i])


def test_report_act_sweep_list_stats(ws_path: Path) -> None:
    x, y, grid = _inside_point(ws_path)
    bx, by = wgs84_to_bd09(np.array([x]), np.array([y]))
    doc = run("events", "report", ws_path, "--lon", float(bx[0]), "--lat", float(by[0]),
              "--crs", "bd09", "--category", "安全隐患", "--text", "消防通道被占",
              "--source", "patrol", "--reporter", "巡查员", "--at", "2026-05-01T08:00:00",
              "--json")
    assert {"id", "grid_code", "community_code", "subdistrict_code", "level", "status",
            "due"} <= set(doc)
    assert doc["grid_code"] == grid
    assert (doc["level"], doc["status"], doc["due"]) == ("grid", "reported",
                                                         "2026-05-02T08:00:00+08:00")
    eid = doc["id"]
    acted = run("events", "act", ws_path, eid, "accept", "--by", "网格长",
                "--at", "2026-05-01T09:00:00+08:00", "--json")
    assert (acted["status"], acted["level"]) == ("accepted", "grid")
    listed = run("events", "list", ws_path, "--overdue", "--now", "2026-05-03T00:00:00+08:00",
                 "--json")
    assert [e["id"] for e in listed["events"]] == [eid]
    assert run("events", "list", ws_path, "--status", "closed", "--json")["count"] == 0
    assert run("events", "list", ws_path, "--grid", grid, "--json")["count"] == 1
    swept = run("events", "sweep", ws_path, "--now", "2026-05-03T00:00:00+08:00", "--json")
    assert swept == {"escalated": [{"id": eid, "from": "grid", "to": "community"}]}
    assert run("events", "sweep", ws_path, "--now", "2026-05-03T00:00:00+08:00",
               "--json") == {"escalated": []}
    stats = run("events", "stats", ws_path, "--now", "2026-05-03T00:00:00+08:00", "--json")
    assert stats["total"] == 1
    assert stats["by_status"]["reported"] == 1
    assert stats["by_level"]["community"] == 1
    assert stats["overdue"] == 0  # escalated: due again a day later
    assert stats["grids"][0]["code"] == grid
    assert stats["communities"][0]["count"] == 1
    out = CliRunner().invoke(app, ["events", "act", str(ws_path), eid, "close"])
    assert isinstance(out.exception, ValidationError)
    assert "须先核查" in str(out.exception)


def test_hotline_import_places_addresses_and_lists_unmatched(ws_path: Path,
                                                             tmp_path: Path) -> None:
    ws = open_workspace(ws_path)
    buildings = ws.read("buildings")
    grids = ws.read("grids")
    inside = codes_at(buildings.geometry.representative_point(), grids)
    b = buildings[[c is not None for c in inside]].iloc[:2]
    x, y, _ = _inside_point(ws_path)
    rows = [
        {"工单编号": "RX001", "诉求类别": "环境卫生", "诉求内容": "垃圾未清运",
         "事发地址": f"某市某县{b['address'].iloc[0]}3单元", "来电时间": "2026-06-01 10:00"},
        {"工单编号": "RX002", "诉求类别": "路灯报修", "诉求内容": "路灯不亮",
         "事发地址": b["address"].iloc[1], "来电时间": "2026-06-02 11:00"},
        {"工单编号": "RX003", "诉求类别": "设施损坏", "诉求内容": "井盖丢失",
         "事发地址": "", "经度": x, "纬度": y, "来电时间": "2026-06-03 12:00"},
        {"工单编号": "RX004", "诉求类别": "矛盾纠纷", "诉求内容": "邻里纠纷",
         "事发地址": "火星路999号", "来电时间": "2026-06-04 13:00"},
    ]
    path = tmp_path / "12345导出.csv"
    pd.DataFrame(rows).to_csv(path, index=False, encoding="gb18030")
    result = run("events", "import", ws_path, path, "--json")
    assert result["added"] == 3
    assert [u["external_id"] for u in result["unmatched"]] == ["RX004"]
    assert result["unmatched"][0]["line"] == 5
    assert any("其他事项" in n for n in result["notes"])  # 路灯报修 is not in the catalogue
    events = open_workspace(ws_path).read("events").set_index("external_id")
    assert events.loc["RX001", "source"] == "hotline"
    assert events.loc["RX001", "reported_at"] == "2026-06-01T10:00:00+08:00"
    placed = events.loc["RX001"].geometry
    assert placed.equals(b.geometry.iloc[0].representative_point())  # that very building
    assert events.loc["RX003"].geometry.equals_exact(shapely.Point(x, y), 1e-9)
    again = run("events", "import", ws_path, path, "--json")
    assert again["added"] == 0
    assert sorted(again["duplicates"]) == ["RX001", "RX002", "RX003"]


def test_catalogue_is_editable_per_workspace(ws_path: Path, tmp_path: Path) -> None:
    from gisgov.events.catalogue import default_catalogue_text

    text = default_catalogue_text().replace(
        "hours = { grid = 24, community = 24,", "hours = { grid = 6, community = 24,")
    edited = tmp_path / "catalogue.toml"
    edited.write_text(text, "utf-8")
    cat = run("events", "catalogue", ws_path, "--set", edited, "--json")
    assert cat["安全隐患"]["hours"]["grid"] == 6
    x, y, _ = _inside_point(ws_path)
    doc = run("events", "report", ws_path, "--lon", x, "--lat", y, "--category", "hazard",
              "--text", "t", "--at", "2026-05-01T08:00:00+08:00", "--json")
    assert doc["category"] == "安全隐患"
    assert doc["due"] == "2026-05-01T14:00:00+08:00"
    broken = tmp_path / "broken.toml"
    broken.write_text(text.replace("grid = 6,", "grid = -1,"), "utf-8")
    out = CliRunner().invoke(app, ["events", "catalogue", str(ws_path), "--set", str(broken)])
    assert isinstance(out.exception, ValidationError)
    assert run("events", "catalogue", ws_path, "--json")["安全隐患"]["hours"]["grid"] == 6


def test_seeded_year_runs_through_the_loop(ws_path: Path) -> None:
    from gisgov.events.loop import parse_time
    from gisgov.sample import EVENTS_PER_HOUSEHOLD_YEAR, seed_events

    summary = run("events", "seed", ws_path, "--seed", 3, "--end", "2026-11-30T18:00:00",
                  "--json")
    ws = open_workspace(ws_path)
    events = ws.read("events")
    n_hh = ws.count("households")
    assert summary["events"] == len(events)
    # the households inside grids, at the stated rate (Poisson, 4 standard deviations)
    expected = EVENTS_PER_HOUSEHOLD_YEAR * n_hh
    assert 0.6 * expected < len(events) < expected + 4 * np.sqrt(expected)
    stamps = events["reported_at"].map(parse_time)
    assert stamps.min() >= parse_time("2025-11-30T18:00:00")
    assert stamps.max() <= parse_time("2026-11-30T18:00:00")
    assert 0.5 < (events["level"] == "grid").mean() < 0.98  # most stay in the grid
    assert summary["escalated"] == int((events["escalations"] > 0).sum()) > 0
    log = ws.read("event_log")
    # every event's log starts with its report and replays its status and level
    for eid, steps in log.sort_values("seq").groupby("event_id"):
        assert steps["action"].iloc[0] == "report"
        row = events.set_index("id").loc[eid]
        assert steps["to_status"].iloc[-1] == row["status"]
        assert steps["to_level"].iloc[-1] == row["level"]
    verifies = log[log["action"] == "verify"].set_index("event_id")["actor"]
    resolvers = log[log["action"] == "resolve"].groupby("event_id")["actor"].last()
    assert (verifies != resolvers.reindex(verifies.index)).all()
    with pytest.raises(ValidationError, match="already holds"):
        seed_events(ws, seed=3)
