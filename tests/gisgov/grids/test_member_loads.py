"""The check judges a member's load by the assignment's class bounds (A/B 5–10, C up to 5)."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from gisgov.grids.compliance import member_loads


def _layers(loads: dict[str, tuple[str, str, int]]) -> dict[str, gpd.GeoDataFrame]:
    members = pd.DataFrame({"id": list(loads), "class": [v[0] for v in loads.values()],
                            "status": [v[1] for v in loads.values()]})
    links = pd.DataFrame({"member_id": [m for m, v in loads.items() for _ in range(v[2])]})
    links["household_id"] = [f"H{i}" for i in range(len(links))]
    return {"members": gpd.GeoDataFrame(members), "assignments": gpd.GeoDataFrame(links)}


def test_loads_within_class_bounds_are_not_warned() -> None:
    found = {p.key: p.message for p in member_loads(_layers({
        "a_ok": ("A", "resident", 7), "a_low": ("A", "resident", 1),
        "c_ok": ("C", "resident", 1), "c_high": ("C", "resident", 6),
    }))}
    assert set(found) == {"a_low", "c_high"}
    assert "expected 5–10" in found["a_low"]
    assert "expected 0–5" in found["c_high"]
