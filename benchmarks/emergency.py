"""Benchmark: the emergency sweep (``gisgov area`` / ``POST /emergency/contacts``) of a circle.

Issue 15's figure: a 300 m circle returns its households with their red-grid members in under
a second. For each workspace given (built by ``gisgov sample --scale S``, ``gisgov grids``,
``gisgov assign``; copied, never changed), ``--circles`` circles of ``--radius`` metres are
centred on random households (seeded) and swept:

* ``sweep``: :func:`gisgov.emergency.sweep_area` in process, as a planner (the whole answer:
  households by bbox + exact test, grids, assignments, members, staff, the policy, the audit
  record), on the GeoPackage and, with ``--postgis URL``, on a PostGIS copy;
* ``http``: ``POST /emergency/contacts`` through the app (Starlette's TestClient, in process),
  as a planner and as a coordinator of the circle's community;
* ``whole_county``: the same households found by reading every household and testing each
  (what the sweep avoids), for the ratio.

Written to ``benchmarks/results/emergency.json``. The machine is shared with other work:
absolute times are what they were then; the ratio is the comparable figure.

Run: ``.venv/bin/python benchmarks/emergency.py WS.gpkg [WS8.gpkg …] [--postgis URL]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from gisgov.emergency import circle_area, sweep_area
from gisgov.keys import create_key
from gisgov.privacy import Principal
from gisgov.store import copy_workspace, open_workspace

PLANNER = Principal(role="planner", actor_name="bench")


def _stats(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {"p50_ms": round(statistics.median(ms), 1),
            "p95_ms": round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 1),
            "max_ms": round(ms[-1], 1), "n": len(ms)}


def _centres(ws: Any, n: int, seed: int) -> list[tuple[float, float]]:
    hh = ws.read("households")
    pick = np.random.default_rng(seed).choice(len(hh), size=n, replace=False)
    return [(float(hh.geometry.x.iloc[i]), float(hh.geometry.y.iloc[i])) for i in pick]


def _sweeps(ws: Any, centres: list[tuple[float, float]], radius: float
            ) -> tuple[list[float], list[int], list[int]]:
    ms, found, with_member = [], [], []
    for lon, lat in centres:
        t0 = time.perf_counter()
        result = sweep_area(ws, circle_area(lon, lat, radius, metric_crs=ws.working_crs),
                            PLANNER)
        ms.append((time.perf_counter() - t0) * 1000)
        found.append(len(result.households))
        with_member.append(int(result.households["member_id"].notna().sum()))
    return ms, found, with_member


def _whole_county(ws: Any, centres: list[tuple[float, float]], radius: float,
                  repeat: int) -> list[float]:
    ms = []
    for lon, lat in centres[:repeat]:
        area = circle_area(lon, lat, radius, metric_crs=ws.working_crs)
        t0 = time.perf_counter()
        hh = ws.read("households")
        area.covers(hh.geometry.x.to_numpy(), hh.geometry.y.to_numpy())
        ms.append((time.perf_counter() - t0) * 1000)
    return ms


def _http(path: Path, centres: list[tuple[float, float]], radius: float) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    from api.app import create_app
    from api.settings import Settings

    ws = open_workspace(path)
    planner = create_key(ws, role="planner")[0]
    probe = sweep_area(ws, circle_area(*centres[0], radius, metric_crs=ws.working_crs),
                       PLANNER)
    community = str(probe.households["community_code"].dropna().iloc[0])
    coordinator = create_key(ws, role="coordinator", communities=[community])[0]
    ws.close()
    settings = Settings(workspace=str(path), audit_flush_seconds=3600, rate_limit=1e9,
                        rate_burst=10**9, index_check_seconds=3600)
    out: dict[str, Any] = {}
    with TestClient(create_app(settings)) as client:
        for role, key in (("planner", planner), ("coordinator", coordinator)):
            ms = []
            for lon, lat in centres:
                body = {"circle": {"lon": lon, "lat": lat, "radius_m": radius}}
                t0 = time.perf_counter()
                r = client.post("/emergency/contacts", json=body, headers={"X-API-Key": key})
                ms.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200, r.text
            out[role] = _stats(ms)
    return out


def bench(src: str, args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp()) / "bench.gpkg"
    shutil.copyfile(src, tmp)
    ws = open_workspace(tmp)
    meta = ws.get_meta("sample", {}) or {}
    centres = _centres(ws, args.circles, args.seed)
    sweep_area(ws, circle_area(*centres[0], args.radius, metric_crs=ws.working_crs), PLANNER)
    ms, found, with_member = _sweeps(ws, centres, args.radius)
    whole = _whole_county(ws, centres, args.radius, min(3, len(centres)))
    out: dict[str, Any] = {
        "workspace": Path(src).name, "scale": meta.get("scale"),
        "households": ws.count("households"), "grids": ws.count("grids"),
        "assignments": ws.count("assignments"),
        "households_per_circle": {"median": int(np.median(found)), "min": min(found),
                                  "max": max(found)},
        "with_member_share": round(sum(with_member) / max(1, sum(found)), 3),
        "sweep_gpkg": _stats(ms),
        "whole_county_pass_gpkg": _stats(whole),
    }
    out["ratio_whole_county_over_sweep"] = round(
        out["whole_county_pass_gpkg"]["p50_ms"] / out["sweep_gpkg"]["p50_ms"], 1)
    if args.postgis:
        pg = open_workspace(args.postgis, create=True)
        copy_workspace(ws, pg)
        sweep_area(pg, circle_area(*centres[0], args.radius, metric_crs=pg.working_crs),
                   PLANNER)
        out["sweep_postgis"] = _stats(_sweeps(pg, centres, args.radius)[0])
        pg.close()
    ws.close()
    out["http"] = _http(tmp, centres, args.radius)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspaces", nargs="+", help=".gpkg files with grids and assignments")
    parser.add_argument("--circles", type=int, default=30)
    parser.add_argument("--radius", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--postgis", help="postgresql:// URL of an empty database to copy into")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" /
                                             "emergency.json"))
    args = parser.parse_args()
    results = [bench(w, args) for w in args.workspaces]
    doc = {"machine": platform.platform(), "shared_machine": True, "radius_m": args.radius,
           "circles": args.circles, "runs": results}
    Path(args.out).write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(json.dumps(doc, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
