"""Benchmark: responsibility lookup in process vs geopandas.sjoin vs PostGIS, and over HTTP.

Same grids, same points, one run, one table of ratios (written to
``benchmarks/results/lookup.json``):

* **county** — the reference county (``gisgov.sample.generate_county``) at ``--county-scale``
  (10 by default), with a lattice of grids clipped to each community (~100 households per grid,
  the county's size; the grid engine would give other shapes, not other counts), queried at
  every household and at random points;
* **city** — a synthetic city of ``--city-grids`` (20,000) jittered quadrilateral grids and
  ``--points`` (200,000) random points.

Measured: batch throughput (points/s) of ``LookupIndex.lookup_many`` vs ``geopandas.sjoin``
(predicate ``intersects``, the same semantics) vs one PostGIS ``ST_Covers`` join on a GiST
index; single-point latency (p50/p99) of ``LookupIndex.locate`` (point → grid, what PostGIS
answers) and of the full ``lookup`` (people, household, distance) vs a PostGIS round trip; and
``GET /lookup`` over loopback HTTP against ``gisgov serve`` (p50/p99, requests/s).

Run: ``.venv/bin/python benchmarks/lookup.py`` (``--quick`` for a small smoke run).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gisgov.lookup import LookupIndex  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "lookup.json"


# ---- data ---------------------------------------------------------------------------------

def county_with_grids(scale: float, seed: int = 1) -> dict[str, gpd.GeoDataFrame]:
    """The reference county with lattice grids of ~100 households clipped to communities."""
    from gisgov.crs import working_crs_for
    from gisgov.sample import generate_county

    layers = generate_county(seed=seed, scale=scale)
    crs = working_crs_for(layers["communities"])
    communities = layers["communities"].to_crs(crs)
    households = layers["households"].to_crs(crs)
    rows, geoms = [], []
    for _, c in communities.sort_values("code").iterrows():
        inside = households[households.within(c.geometry)]
        n_grids = max(1, round(len(inside) / 100))
        side = float(np.sqrt(c.geometry.area / n_grids))
        minx, miny, maxx, maxy = c.geometry.bounds
        cells = [shapely.box(x, y, x + side, y + side)
                 for y in np.arange(maxy, miny - side, -side) - side
                 for x in np.arange(minx, maxx, side)]  # numbered west→east, north→south
        pieces = [p for p in shapely.intersection(cells, c.geometry)
                  if not p.is_empty and p.area > 1.0]
        for i, piece in enumerate(pieces[:999]):
            rows.append({"code": f"{c['code']}{i + 1:03d}", "name": f"{c['name']}第{i + 1}网格",
                         "community_code": c["code"]})
            geoms.append(piece)
    grids = gpd.GeoDataFrame(rows, geometry=geoms, crs=crs).to_crs(4326)
    grids = grids[grids.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    layers["grids"] = grids.reset_index(drop=True)
    staff = [{"id": f"s{i}", "grid_code": code, "role": "leader", "name": "张网格长",
              "phone": "13800000000"} for i, code in enumerate(layers["grids"]["code"])]
    layers["staff"] = gpd.GeoDataFrame(staff, geometry=[None] * len(staff), crs=4326)
    return layers


def synthetic_city(n_grids: int, seed: int = 0) -> gpd.GeoDataFrame:
    """``n_grids`` jittered quadrilaterals tiling a city (~300 m each) near 114.2°E, 34.4°N."""
    rng = np.random.default_rng(seed)
    nx = int(np.ceil(np.sqrt(n_grids * 1.25)))
    ny = int(np.ceil(n_grids / nx))
    d = 0.003
    xs = 114.0 + np.arange(nx + 1) * d
    ys = 34.0 + np.arange(ny + 1) * d
    gx, gy = np.meshgrid(xs, ys)
    gx[1:-1, 1:-1] += rng.uniform(-d / 4, d / 4, (ny - 1, nx - 1))
    gy[1:-1, 1:-1] += rng.uniform(-d / 4, d / 4, (ny - 1, nx - 1))
    polys, codes = [], []
    for j in range(ny):
        for i in range(nx):
            k = len(polys)
            if k == n_grids:
                break
            polys.append(shapely.Polygon([(gx[j, i], gy[j, i]), (gx[j, i + 1], gy[j, i + 1]),
                                          (gx[j + 1, i + 1], gy[j + 1, i + 1]),
                                          (gx[j + 1, i], gy[j + 1, i])]))
            codes.append(f"410223{k // 10000 + 1:03d}{k // 100 % 100 + 1:03d}{k % 100 + 1:03d}")
    return gpd.GeoDataFrame({"code": codes, "name": codes,
                             "community_code": [c[:12] for c in codes]},
                            geometry=polys, crs=4326)


def random_points(grids: gpd.GeoDataFrame, n: int, seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uniform points over the grids' bounds (some fall outside every grid)."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = grids.total_bounds
    return rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)


# ---- measurements -------------------------------------------------------------------------

def best_of(fn: Callable[[], Any], repeat: int) -> float:
    """Fastest of ``repeat`` runs, in seconds (other processes share these cores)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def latencies(fn: Callable[[int], Any], n: int) -> dict[str, float]:
    """p50/p99 in microseconds of ``n`` calls ``fn(i)``."""
    out = np.empty(n)
    for i in range(n):
        t = time.perf_counter_ns()
        fn(i)
        out[i] = (time.perf_counter_ns() - t) / 1000.0
    return {"p50_us": round(float(np.percentile(out, 50)), 2),
            "p99_us": round(float(np.percentile(out, 99)), 2)}


def bench_in_process(grids: gpd.GeoDataFrame, x: np.ndarray, y: np.ndarray,
                     layers: dict[str, gpd.GeoDataFrame] | None, *, repeat: int,
                     singles: int) -> tuple[dict[str, Any], LookupIndex]:
    t = time.perf_counter()
    index = LookupIndex.from_layers(layers or {"grids": grids})
    build = time.perf_counter() - t
    n = len(x)
    ours = best_of(lambda: index.lookup_many(x, y, distances=False), repeat)
    ours_d = best_of(lambda: index.lookup_many(x, y), repeat)
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=4326)
    right = grids[["code", "geometry"]]

    def sjoin() -> None:
        # The join alone: reducing its pairs to one grid per point (lowest code, as ours
        # answers) would cost sjoin more again, so leaving it out favours sjoin.
        gpd.sjoin(pts, right, predicate="intersects", how="left")

    theirs = best_of(sjoin, repeat)
    # Check the answers agree before comparing speeds.
    got = index.lookup_many(x, y, distances=False).grid_codes
    joined = gpd.sjoin(pts, right, predicate="intersects", how="left")
    want = joined.groupby(level=0)["code"].min().reindex(range(n))
    agree = float(np.mean([(a is None and pd.isna(b)) or a == b
                           for a, b in zip(got, want.tolist(), strict=True)]))
    one_pt = [gpd.GeoDataFrame(geometry=[shapely.Point(x[i], y[i])], crs=4326)
              for i in range(min(singles, 300))]
    return {
        "grids": len(grids), "points": n, "index_build_s": round(build, 3),
        "answers_agree_with_sjoin": agree,
        "lookup_many_pts_per_s": round(n / ours),
        "lookup_many_with_distance_pts_per_s": round(n / ours_d),
        "sjoin_pts_per_s": round(n / theirs),
        "ratio_lookup_many_vs_sjoin": round(theirs / ours, 2),
        "locate": latencies(lambda i: index.locate(float(x[i % n]), float(y[i % n])), singles),
        "lookup_full": latencies(lambda i: _full(index, x[i % n], y[i % n]), singles),
        "sjoin_single": latencies(lambda i: gpd.sjoin(one_pt[i % len(one_pt)], right,
                                                      predicate="intersects"),
                                  min(singles, 300)),
    }, index


def _full(index: LookupIndex, x: float, y: float) -> None:
    # Outside every grid the NotFoundError path is part of the cost.
    with contextlib.suppress(Exception):
        index.lookup(float(x), float(y))


def bench_postgis(url: str, grids: gpd.GeoDataFrame, x: np.ndarray, y: np.ndarray, *,
                  singles: int) -> dict[str, Any]:
    """Same grids in PostGIS (GiST index): a round trip per point and one bulk join."""
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        conn.execute(f"CREATE SCHEMA {schema}")
        try:
            conn.execute(f"SET search_path = {schema}, public")
            conn.execute("CREATE TABLE grids (code text PRIMARY KEY, geom geometry(Geometry, 4326))")
            with conn.cursor().copy("COPY grids (code, geom) FROM STDIN") as cp:
                wkts = shapely.to_wkt(np.asarray(grids.geometry.values), rounding_precision=-1)
                for code, wkt in zip(grids["code"], wkts, strict=True):
                    cp.write_row((code, f"SRID=4326;{wkt}"))
            conn.execute("CREATE INDEX ON grids USING gist (geom)")
            conn.execute("CREATE TABLE pts (id int PRIMARY KEY, geom geometry(Point, 4326))")
            with conn.cursor().copy("COPY pts (id, geom) FROM STDIN") as cp:
                for i, (a, b) in enumerate(zip(x, y, strict=True)):
                    cp.write_row((i, f"SRID=4326;POINT({a:.10f} {b:.10f})"))
            conn.execute("CREATE INDEX ON pts USING gist (geom)")
            conn.execute("ANALYZE grids")
            conn.execute("ANALYZE pts")
            sql = ("SELECT code FROM grids WHERE ST_Covers(geom, ST_SetSRID(ST_MakePoint(%s, %s),"
                   " 4326)) ORDER BY code LIMIT 1")
            cur = conn.cursor()
            cur.execute(sql, (float(x[0]), float(y[0])), prepare=True)
            n = len(x)
            single = latencies(lambda i: cur.execute(sql, (float(x[i % n]), float(y[i % n])),
                                                     prepare=True).fetchone(), singles)
            ping = latencies(lambda i: cur.execute("SELECT 1", prepare=True).fetchone(),
                             singles)
            bulk_sql = ("SELECT p.id, min(g.code) FROM pts p LEFT JOIN grids g "
                        "ON ST_Covers(g.geom, p.geom) GROUP BY p.id")
            bulk = best_of(lambda: conn.execute(bulk_sql).fetchall(), 1)
        finally:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    return {"round_trip": single, "select_1": ping, "bulk_pts_per_s": round(len(x) / bulk)}


def bench_http(layers: dict[str, gpd.GeoDataFrame], x: np.ndarray, y: np.ndarray, *,
               requests: int) -> dict[str, Any]:
    """``gisgov serve`` in a subprocess; sequential GET /lookup over a keep-alive connection."""
    import httpx

    from gisgov.store import open_workspace

    tmp = Path(tempfile.mkdtemp(prefix="gisgov-bench-"))
    path = tmp / "county.gpkg"
    ws = open_workspace(path, create=True)
    with ws.transaction() as tx:
        for name in ("subdistricts", "communities", "grids", "buildings", "households",
                     "staff"):
            tx.write(name, layers[name])
    ws.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GISGOV_RATE_LIMIT": "1000000", "GISGOV_RATE_BURST": "1000000"}
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("gisgov")), "serve", str(path), "--port",
         str(port), "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=30) as client:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("gisgov serve did not start")
                time.sleep(0.3)
            # Warm up: the first lookup builds the index.
            client.get("/lookup", params={"lon": x[0], "lat": y[0]})
            n = len(x)
            codes: dict[int, int] = {}

            def one(i: int) -> None:
                r = client.get("/lookup", params={"lon": float(x[i % n]), "lat": float(y[i % n])})
                codes[r.status_code] = codes.get(r.status_code, 0) + 1

            t = time.perf_counter()
            lat = latencies(one, requests)
            wall = time.perf_counter() - t
    finally:
        proc.terminate()
        proc.wait(10)
    return {"requests": requests, "status_codes": codes, "req_per_s": round(requests / wall),
            "p50_ms": round(lat["p50_us"] / 1000, 2), "p99_ms": round(lat["p99_us"] / 1000, 2)}


# ---- report -------------------------------------------------------------------------------

def table(results: dict[str, Any]) -> str:
    lines = [f"{'dataset':<8} {'grids':>7} {'points':>8} | {'ours pts/s':>11} "
             f"{'sjoin pts/s':>11} {'ratio':>6} {'PostGIS pts/s':>13} | "
             f"{'locate p50/p99 µs':>18} {'full lookup p50/p99 µs':>23} "
             f"{'PostGIS rt p50 µs':>17} {'rt/locate':>9}"]
    for name in ("county", "city"):
        r = results.get(name)
        if not r:
            continue
        pg = r.get("postgis") or {}
        rt = pg.get("round_trip", {}).get("p50_us")
        lines.append(
            f"{name:<8} {r['grids']:>7} {r['points']:>8} | {r['lookup_many_pts_per_s']:>11,} "
            f"{r['sjoin_pts_per_s']:>11,} {r['ratio_lookup_many_vs_sjoin']:>5}× "
            f"{pg.get('bulk_pts_per_s', float('nan')):>13,} | "
            f"{r['locate']['p50_us']:>8}/{r['locate']['p99_us']:<9} "
            f"{r['lookup_full']['p50_us']:>11}/{r['lookup_full']['p99_us']:<11} "
            f"{rt if rt is not None else '—':>17} "
            f"{(round(rt / r['locate']['p50_us'], 1) if rt else '—'):>8}×")
    http = results.get("http")
    if http:
        lines.append(f"HTTP GET /lookup (county, loopback, 1 client): {http['req_per_s']} req/s, "
                     f"p50 {http['p50_ms']} ms, p99 {http['p99_ms']} ms, "
                     f"statuses {http['status_codes']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--county-scale", type=float, default=10.0)
    parser.add_argument("--city-grids", type=int, default=20_000)
    parser.add_argument("--points", type=int, default=200_000)
    parser.add_argument("--singles", type=int, default=5_000)
    parser.add_argument("--http-requests", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgis-url", default=os.environ.get(
        "GISGOV_TEST_POSTGIS_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--no-postgis", action="store_true")
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.county_scale, args.city_grids, args.points = 1.0, 2_000, 20_000
        args.singles, args.http_requests, args.repeat = 500, 200, 1

    results: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform()},
        "args": vars(args),
    }
    t = time.perf_counter()
    county = county_with_grids(args.county_scale)
    hh = county["households"]
    hx, hy = hh.geometry.x.to_numpy(), hh.geometry.y.to_numpy()
    rx, ry = random_points(county["grids"], len(hx))
    cx, cy = np.concatenate([hx, rx]), np.concatenate([hy, ry])
    print(f"county scale {args.county_scale}: {len(county['grids'])} grids, {len(hh)} "
          f"households, built in {time.perf_counter() - t:.1f} s", flush=True)
    results["county"], _ = bench_in_process(county["grids"], cx, cy, county,
                                            repeat=args.repeat, singles=args.singles)
    city = synthetic_city(args.city_grids)
    x, y = random_points(city, args.points)
    print(f"city: {len(city)} grids, {len(x)} points", flush=True)
    results["city"], _ = bench_in_process(city, x, y, None, repeat=args.repeat,
                                          singles=args.singles)
    if not args.no_postgis:
        try:
            results["county"]["postgis"] = bench_postgis(args.postgis_url, county["grids"],
                                                         cx, cy, singles=args.singles)
            results["city"]["postgis"] = bench_postgis(args.postgis_url, city, x, y,
                                                       singles=args.singles)
        except Exception as exc:
            print(f"PostGIS skipped: {exc}", flush=True)
    if not args.no_http:
        results["http"] = bench_http(county, cx, cy, requests=args.http_requests)
    print(table(results))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n",
                       encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
