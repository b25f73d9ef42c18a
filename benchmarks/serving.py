"""Benchmark: OGC API Features items pages, gisgov against tipg on the same PostGIS table.

One run, one table (written to ``benchmarks/results/serving.json``): requests/s, p50 and p99
of ``/collections/households/items`` under ``--connections`` (16) concurrent connections
with ``wrk`` (a Lua script draws a random request per call), for

* **bbox** — a random ~500 m box around a random household, ``limit=100``;
* **filtered** — the same boxes with a CQL2 filter ``size >= 3``;
* **deep** — ``limit=100`` at a random ``offset`` between 50,000 and the end of the layer
  (gisgov also by key: ``after=<a random household id>``, what its ``next`` links carry);
* **buildings** — the same boxes on the buildings layer (polygons): a public layer, so
  gisgov writes no audit record, while every households page holds personal data and
  gisgov commits its audit record before answering (tipg has no audit);

served by tipg (its own process, ``DATABASE_URL`` on the database), gisgov on the same
PostGIS database, and gisgov on the GeoPackage the database was copied from. Each server runs
``--workers`` uvicorn workers (the same number for every server). gisgov is asked with a
planner key (every row and column: tipg has no roles) and a rate limit raised past the load.
Before timing, the first box of each kind is fetched from every server and the features
compared (same ids), so the servers answer the same question. The table gives each server's
requests/s as a ratio to tipg's and, for the GeoPackage, to gisgov on PostGIS in the same run
(``benchmarks/results/serving_gpkg.txt`` keeps runs of that comparison).

Data: ``gisgov sample county8.gpkg --scale 8`` (≈194k households) copied to PostGIS with
``gisgov copy county8.gpkg postgresql://…``; pass both with ``--gpkg`` and ``--postgis``, or
only ``--postgis`` to have the program make and copy the county first.
tipg comes with the ``bench`` extra (``pip install -e .[bench]``); ``wrk`` from Debian
(``apt-get install wrk``).

Run: ``.venv/bin/python benchmarks/serving.py --gpkg county8.gpkg --postgis
postgresql://postgres@127.0.0.1:5432/county8`` (``--duration`` seconds per cell, 15 by
default; ``make bench`` makes the county into ``$GISGOV_BENCH_POSTGIS_URL``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results" / "serving.json"
BOX_M = 500.0
#: One degree of latitude in metres (boxes are drawn in degrees around ~34°N).
DEG_M = 111_320.0


# ---- servers ------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _server(argv: list[str], env: dict[str, str], health: str, log: Path
            ) -> Iterator[subprocess.Popen[bytes]]:
    """A uvicorn process, up when ``health`` answers 200; stopped (its group) afterwards."""
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env={**os.environ, **env}, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        for _ in range(600):
            if proc.poll() is not None:
                raise RuntimeError(f"{argv[0]} exited: {log.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(health, timeout=5).status_code == 200:
                    break
            time.sleep(0.5)
        else:
            raise RuntimeError(f"{' '.join(argv)} did not come up: {log.read_text()[-2000:]}")
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=20)


def _uvicorn(app: str, port: int, workers: int, *, factory: bool) -> list[str]:
    argv = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers), "--no-access-log", "--log-level", "warning"]
    if factory:
        argv += ["--factory", "--no-proxy-headers"]
    return argv


def _gisgov_env(workspace: str) -> dict[str, str]:
    return {"GISGOV_WORKSPACE": workspace, "GISGOV_RATE_LIMIT": "1000000",
            "GISGOV_RATE_BURST": "1000000", "GISGOV_AUDIT_FLUSH_SECONDS": "5",
            "PYTHONPATH": str(ROOT)}


def _planner_key(workspace: str) -> str:
    from gisgov.keys import create_key
    from gisgov.store import open_workspace

    ws = open_workspace(workspace)
    try:
        return create_key(ws, role="planner", label="serving benchmark")[0]
    finally:
        ws.close()


# ---- requests -----------------------------------------------------------------------------

def _households(gpkg: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Points and ids of every household (to draw boxes and keys from)."""
    with contextlib.closing(sqlite3.connect(gpkg)) as con:
        rows = con.execute("SELECT r.minx, r.miny, h.id FROM households h JOIN "
                           "rtree_households_geom r ON r.id = h.fid").fetchall()
    xs = np.array([r[0] for r in rows])
    ys = np.array([r[1] for r in rows])
    return xs, ys, sorted(str(r[2]) for r in rows)


def _paths(kind: str, prefix: str, xs: np.ndarray, ys: np.ndarray, ids: list[str],
           rng: np.random.Generator, n: int, *, keyset: bool = False) -> list[str]:
    """``n`` request paths of one kind (the same draws for every server)."""
    out = []
    deep = min(50_000, len(ids) // 2)  # small test counties have fewer rows
    half_y = BOX_M / 2 / DEG_M
    for _ in range(n):
        i = int(rng.integers(len(xs)))
        half_x = half_y / np.cos(np.radians(ys[i]))
        box = f"{xs[i] - half_x:.6f},{ys[i] - half_y:.6f},{xs[i] + half_x:.6f},{ys[i] + half_y:.6f}"
        if kind == "bbox":
            out.append(f"{prefix}?bbox={box}&limit=100")
        elif kind == "buildings":
            out.append(f"{prefix.replace('households', 'buildings')}?bbox={box}&limit=100")
        elif kind == "filtered":
            out.append(f"{prefix}?bbox={box}&limit=100&filter={quote('size >= 3')}"
                       "&filter-lang=cql2-text")
        elif keyset:
            out.append(f"{prefix}?limit=100&after={ids[int(rng.integers(deep, len(ids)))]}")
        else:
            out.append(f"{prefix}?limit=100&offset={int(rng.integers(deep, len(ids)))}")
    return out


_LUA = """
local paths = {%s}
local n = #paths
local headers = {%s}
math.randomseed(%d)
request = function()
  return wrk.format("GET", paths[math.random(n)], headers)
end
"""


def _wrk(base: str, paths: list[str], headers: dict[str, str], *, connections: int,
         duration: int, work: Path) -> dict[str, float]:
    """requests/s, p50, p99 (ms) and errors of one wrk run over ``paths``."""
    lua = work / "paths.lua"
    quoted = ",".join(json.dumps(p) for p in paths)
    head = ",".join(f"[{json.dumps(k)}]={json.dumps(v)}" for k, v in headers.items())
    lua.write_text(_LUA % (quoted, head, 7))
    out = subprocess.run(["wrk", "-t", str(min(2, connections)), "-c", str(connections), "-d", f"{duration}s",
                          "--latency", "--timeout", "10s", "-s", str(lua), base],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        assert m, out
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
        return float(m.group(1)) * scale

    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*?timeout (\d+)", out)
    return {"rps": rps, "p50_ms": pct("50"), "p99_ms": pct("99"),
            "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "timeouts": int(errors.group(1)) if errors else 0}


def _same_answers(servers: dict[str, tuple[str, str, dict[str, str]]], kinds: dict[str, Any]
                  ) -> dict[str, Any]:
    """The first path of each kind on every server: the same feature ids?"""
    check: dict[str, Any] = {}
    for kind, per_server in kinds.items():
        answers = {}
        for name, (base, _, headers) in servers.items():
            path = per_server[name][0]
            r = httpx.get(base + path, headers=headers, timeout=60)
            r.raise_for_status()
            feats = r.json()["features"]
            answers[name] = sorted(str(f["properties"].get("id", f.get("id"))) for f in feats)
        first = next(iter(answers.values()))
        check[kind] = {"features": {k: len(v) for k, v in answers.items()},
                       "same_ids": all(v == first for v in answers.values())}
    return check


# ---- the run ------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gpkg", type=Path, help="the county GeoPackage (default: made with "
                        "`gisgov sample --scale SCALE` and copied to --postgis first)")
    parser.add_argument("--postgis", required=True, help="PostGIS database holding the same "
                        "county (filled from the new sample when --gpkg is not given)")
    parser.add_argument("--scale", type=float, default=8.0)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--paths", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")

    work = Path(tempfile.mkdtemp(prefix="gisgov-serving-"))
    gpkg = work / "county.gpkg"
    if args.gpkg is None:
        gisgov = [sys.executable, "-c", "from gisgov.cli import main; main()"]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        subprocess.run([*gisgov, "sample", str(gpkg), "--scale", str(args.scale)], check=True,
                       env=env)
        subprocess.run([*gisgov, "copy", str(gpkg), args.postgis], check=True, env=env)
    else:
        shutil.copyfile(args.gpkg, gpkg)  # keys are written into it; the source stays
    xs, ys, ids = _households(gpkg)
    keys = {"gisgov-postgis": _planner_key(args.postgis), "gisgov-gpkg": _planner_key(str(gpkg))}
    ports = {name: _free_port() for name in ("tipg", "gisgov-postgis", "gisgov-gpkg")}
    tipg_env = {"DATABASE_URL": args.postgis, "TIPG_DB_SCHEMAS": '["public"]',
                "TIPG_DB_TABLES": '["public.households", "public.buildings"]',
                "TIPG_MAX_FEATURES_PER_QUERY": "10000"}
    servers = {
        "tipg": (f"http://127.0.0.1:{ports['tipg']}", "/collections/public.households/items",
                 {}),
        "gisgov-postgis": (f"http://127.0.0.1:{ports['gisgov-postgis']}",
                           "/collections/households/items",
                           {"X-API-Key": keys["gisgov-postgis"]}),
        "gisgov-gpkg": (f"http://127.0.0.1:{ports['gisgov-gpkg']}",
                        "/collections/households/items", {"X-API-Key": keys["gisgov-gpkg"]}),
    }
    kinds = ("bbox", "filtered", "deep", "buildings")
    per_kind: dict[str, dict[str, list[str]]] = {}
    for kind in kinds:
        per_kind[kind] = {}
        for name, (_, prefix, _) in servers.items():
            rng = np.random.default_rng(19)  # the same draws for every server
            per_kind[kind][name] = _paths(kind, prefix, xs, ys, ids, rng, args.paths)
    rng = np.random.default_rng(19)
    keyset = _paths("deep", servers["gisgov-postgis"][1], xs, ys, ids, rng, args.paths,
                    keyset=True)

    results: dict[str, dict[str, Any]] = {}
    with contextlib.ExitStack() as stack:
        stack.enter_context(_server(
            _uvicorn("tipg.main:app", ports["tipg"], args.workers, factory=False), tipg_env,
            f"{servers['tipg'][0]}/collections", work / "tipg.log"))
        for name, ws in (("gisgov-postgis", args.postgis), ("gisgov-gpkg", str(gpkg))):
            stack.enter_context(_server(
                _uvicorn("api.app:create_app", ports[name], args.workers, factory=True),
                _gisgov_env(ws), f"{servers[name][0]}/healthz", work / f"{name}.log"))
        check = _same_answers(servers, per_kind)
        print(json.dumps(check, indent=1))
        for kind in kinds:
            for name, (base, _, headers) in servers.items():
                # warm: the first requests open connections and fill caches
                _wrk(base, per_kind[kind][name], headers, connections=args.connections,
                     duration=2, work=work)
                results.setdefault(kind, {})[name] = _wrk(
                    base, per_kind[kind][name], headers, connections=args.connections,
                    duration=args.duration, work=work)
                print(kind, name, results[kind][name], flush=True)
        base, _, headers = servers["gisgov-postgis"]
        results["deep"]["gisgov-postgis (after=key)"] = _wrk(
            base, keyset, headers, connections=args.connections, duration=args.duration,
            work=work)
        base, _, headers = servers["gisgov-gpkg"]
        results["deep"]["gisgov-gpkg (after=key)"] = _wrk(
            base, keyset, {"X-API-Key": keys["gisgov-gpkg"]},
            connections=args.connections, duration=args.duration, work=work)
    shutil.rmtree(work, ignore_errors=True)
    table = _table(results)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "what": "GET /collections/households/items, wrk, random requests per kind",
        "households": len(ids), "connections": args.connections, "workers": args.workers,
        "duration_s": args.duration, "box_m": BOX_M, "same_answers": check,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "note": "2 cores shared with other work during the run"},
        "results": results, "table": table,
    }, indent=1, ensure_ascii=False) + "\n")


def _table(results: dict[str, dict[str, Any]]) -> str:
    """The run as a Markdown table; the GeoPackage rows also as a ratio to gisgov on PostGIS
    (the same pages: the issue asks the GeoPackage to be at least as fast)."""
    lines = ["| pages | server | requests/s | p50 ms | p99 ms | × tipg req/s | "
             "× PostGIS req/s |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for kind, per in results.items():
        tipg = per.get("tipg", {}).get("rps")
        for name, r in per.items():
            ratio = f"{r['rps'] / tipg:.2f}" if tipg else "–"
            peer = per.get(name.replace("gisgov-gpkg", "gisgov-postgis"), {}).get("rps")
            vs_pg = f"{r['rps'] / peer:.2f}" if "gpkg" in name and peer else "–"
            lines.append(f"| {kind} | {name} | {r['rps']:.0f} | {r['p50_ms']:.0f} | "
                         f"{r['p99_ms']:.0f} | {ratio} | {vs_pg} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
