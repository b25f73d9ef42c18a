"""Benchmark: what the one policy (gisgov.policy) costs per request, by role, in process.

Times, over a workspace with grids (e.g. ``gisgov sample`` + ``gisgov grids`` + ``gisgov
assign``), with ``fastapi.testclient`` (no network, so the figures are the service's own):

* building the policy facts once per workspace version (grid of every household, community
  and subdistrict of every grid);
* ``GET /collections/households/items?limit=100`` (first page) and a single household, for a
  planner, a coordinator of one community, a coordinator of one subdistrict, a field worker of
  one grid (the scoped roles filter in the store by key when their area has at most 20,000
  households, in memory beyond);
* ``GET /lookup`` at a household and ``GET /maps/data/households.geojson`` (first: rendered;
  then: cached per role and scope).

Writes ``benchmarks/results/policy.json``.
Run: ``.venv/bin/python benchmarks/policy.py WS.gpkg [--repeat 20]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gisgov.keys import create_key
from gisgov.store import open_workspace


def _ms(fn: Any, repeat: int) -> dict[str, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 2),
            "max_ms": round(times[-1], 2), "n": repeat}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspace", help="A .gpkg with grids (copied, not changed)")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from api.app import create_app
    from api.policy_view import context
    from api.settings import Settings

    tmp = Path(tempfile.mkdtemp()) / "bench.gpkg"
    shutil.copyfile(args.workspace, tmp)
    ws = open_workspace(tmp)
    grids = ws.read("grids")
    communities = ws.read("communities")
    households = ws.read("households")
    grid = str(grids["code"].iloc[0])
    community = str(grids["community_code"].iloc[0])
    subdistrict = str(communities.set_index("code").loc[community, "subdistrict_code"])
    keys = {
        "planner": create_key(ws, role="planner")[0],
        "coordinator_community": create_key(ws, role="coordinator",
                                            communities=[community])[0],
        "coordinator_subdistrict": create_key(ws, role="coordinator",
                                              subdistricts=[subdistrict])[0],
        "field": create_key(ws, role="field", grids=[grid])[0],
    }
    ws.close()
    settings = Settings(workspace=str(tmp), audit_flush_seconds=3600, rate_limit=1e9,
                        rate_burst=10**9, index_check_seconds=3600)
    out: dict[str, Any] = {"workspace": {"households": len(households), "grids": len(grids),
                                         "communities": len(communities)},
                           "machine": platform.platform(), "repeat": args.repeat}
    with TestClient(create_app(settings)) as client:
        state = client.app.state.gisgov
        state.index.get()
        t0 = time.perf_counter()
        ctx = context(state)
        out["policy_facts_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        hx, hy = households.geometry.x.iloc[0], households.geometry.y.iloc[0]
        per_role: dict[str, Any] = {}
        for role, key in keys.items():
            h = {"X-API-Key": key}
            principal = state.keys.principal_for(key)
            scope = ctx.scope(principal)
            mine = [i for i, g in ctx.household_grid.items() if scope is None or g in scope]
            first = client.get("/collections/households/items", params={"limit": 100},
                               headers=h).json()
            assert first["numberReturned"] == min(100, len(mine)), (role, first)
            fid = mine[0]
            per_role[role] = {
                "households_in_scope": len(mine),
                "items_page_100": _ms(lambda h=h: client.get(
                    "/collections/households/items", params={"limit": 100}, headers=h),
                    args.repeat),
                "one_household": _ms(lambda h=h, fid=fid: client.get(
                    f"/collections/households/items/{fid}", headers=h), args.repeat),
                "lookup": _ms(lambda h=h: client.get(
                    "/lookup", params={"lon": hx, "lat": hy}, headers=h), args.repeat),
                "maps_households_first": _ms(lambda h=h: client.get(
                    "/maps/data/households.geojson", headers=h), 1),
                "maps_households_cached": _ms(lambda h=h: client.get(
                    "/maps/data/households.geojson", headers=h), args.repeat),
            }
        per_role["public"] = {
            "households_items": client.get("/collections/households/items").status_code,
            "lookup": _ms(lambda: client.get("/lookup", params={"lon": hx, "lat": hy}),
                          args.repeat),
        }
        out["roles"] = per_role
    target = Path(__file__).parent / "results" / "policy.json"
    target.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
