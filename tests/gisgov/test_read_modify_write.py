"""Read-modify-write of whole tables keeps concurrent changes (table versions, ``if_version``).

Each test lets a second writer change the table between the function's read and its write
(through a workspace wrapper that writes on the first read), the lost-update race of
issue 13; the change must survive and the function must still do its own work.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from shapely.geometry import box

from gisgov.districting.scenarios import list_scenarios, save_scenario
from gisgov.keys import KEYS_TABLE, create_key, list_keys, revoke_key
from gisgov.store import WorkspaceBase, open_workspace


class _RacingWorkspace:
    """Delegates to ``ws``; the first read of ``table`` lets ``other`` write first."""

    def __init__(self, ws: WorkspaceBase, table: str, other: Callable[[], None]) -> None:
        self._ws, self._table, self._other = ws, table, other
        self.reads = 0

    def read_table(self, name: str, **kwargs: Any) -> Any:
        frame = self._ws.read_table(name, **kwargs)
        if name == self._table:
            self.reads += 1
            if self.reads == 1:
                self._other()  # commits after our read: our copy is now stale
        return frame

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ws, name)


def test_revoke_key_keeps_a_key_created_meanwhile(tmp_path: Path) -> None:
    path = tmp_path / "ws.gpkg"
    ws = open_workspace(path, create=True)
    _, old = create_key(ws, role="planner", label="old")
    created: list[str] = []

    def concurrent() -> None:
        created.append(create_key(open_workspace(path), role="public", label="new")[1].key_id)

    racing = _RacingWorkspace(ws, KEYS_TABLE, concurrent)
    revoked = revoke_key(racing, old.key_id)
    assert revoked.revoked
    assert racing.reads == 2  # the stale write was refused, the table read again
    keys = {k.key_id: k for k in list_keys(ws)}
    assert set(keys) == {old.key_id, created[0]}
    assert keys[old.key_id].revoked
    assert not keys[created[0]].revoked


def _result(code: str) -> Any:
    """The parts of a RedistrictResult that ``save_scenario`` stores."""
    areas = gpd.GeoDataFrame({"code": [code], "area": [1.0]},
                             geometry=[box(113.6, 34.7, 113.61, 34.71)], crs="EPSG:4326")
    units = pd.DataFrame({"unit_id": ["u1"], "new_code": [code],
                          "community_code": ["410102001001"], "households": [10]})
    return types.SimpleNamespace(areas=areas, units=units,
                                 summary=lambda: {"areas": 1, "code": code})


def test_two_scenarios_saved_at_once_are_both_listed(tmp_path: Path) -> None:
    path = tmp_path / "ws.gpkg"
    ws = open_workspace(path, create=True)
    save_scenario(ws, "base", _result("410102001001"))

    def concurrent() -> None:
        save_scenario(open_workspace(path), "theirs", _result("410102001002"))

    racing = _RacingWorkspace(ws, "scenarios", concurrent)
    save_scenario(racing, "mine", _result("410102001003"))
    assert racing.reads == 2
    assert sorted(list_scenarios(ws)["name"]) == ["base", "mine", "theirs"]
    assert ws.read_table("scenario_theirs_areas")["code"].tolist() == ["410102001002"]
    assert ws.read_table("scenario_mine_areas")["code"].tolist() == ["410102001003"]
