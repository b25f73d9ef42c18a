"""Benchmark: ``GET /lookup`` over HTTP, one uvicorn worker, this code against the code before.

What issue 19 asks of the lookup: at least 2,000 requests/s with 16 connections on one
worker, p99 under 50 ms, no stalls. Measured with ``wrk`` (a C load generator, so the client
is not the bottleneck) at random household points of the reference county
(``gisgov sample --seed 1``, then ``gisgov grids`` and ``gisgov assign`` as in the
Makefile's demo):

* ``public``: no key (the answer holds no personal data, nothing is audited), 1 and 16
  connections;
* ``planner``: a planner's key (every answer shows households unmasked, so every request
  commits an audit record before it is answered), 16 connections;
* ``public batch of 10``: ``POST /lookup/batch`` with 10 points of CSV, 16 connections.

Each row is run against ``gisgov serve`` of this checkout and, in the same run, of an older
commit (``--before``, default ``main``) exported with ``git archive`` into a temporary folder
and served from the same virtualenv, so the figures sit side by side on the same machine
under the same load. Rate limits are raised for the run (they are not what is measured).
Besides wrk's requests/s, p50, p99 and max, the server's CPU time per request is read from
``/proc`` (less sensitive to what else the machine runs than requests/s).

Run: ``.venv/bin/python benchmarks/serving_lookup.py`` (``--seconds 5`` for a quicker run,
``--workspace X.gpkg`` to reuse a county that has grids, ``--before none`` to skip the old
code). Needs ``wrk`` on the PATH (Debian: ``apt-get install wrk``). Writes
``benchmarks/results/serving_lookup.json``.
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
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "serving_lookup.json"
GISGOV = Path(sys.executable).with_name("gisgov")
#: Points per request of the batch row (``POST /lookup/batch``, CSV).
BATCH = 10

#: Random household points; ``done`` prints wrk's latency percentiles in milliseconds.
LUA = """
local points = {}
for line in io.lines("%(points)s") do
  local lon, lat = line:match("([^,]+),([^,]+)")
  points[#points + 1] = "/lookup?lon=" .. lon .. "&lat=" .. lat
end
math.randomseed(%(seed)d)
local key = os.getenv("GISGOV_BENCH_KEY")
if key and key ~= "" then wrk.headers["X-API-Key"] = key end
local batch = tonumber(os.getenv("GISGOV_BENCH_BATCH") or "0")
local bodies = {}
if batch > 0 then
  wrk.headers["Content-Type"] = "text/csv"
  for i = 1, 500 do
    local rows = {"lon,lat"}
    for j = 1, batch do
      local q = points[math.random(#points)]
      rows[#rows + 1] = q:match("lon=([^&]+)") .. "," .. q:match("lat=(.+)")
    end
    bodies[i] = table.concat(rows, "\\n") .. "\\n"
  end
end
request = function()
  if batch > 0 then
    return wrk.format("POST", "/lookup/batch", nil, bodies[math.random(#bodies)])
  end
  return wrk.format("GET", points[math.random(#points)])
end
done = function(summary, latency, requests)
  io.write(string.format("LAT %%.3f %%.3f %%.3f %%d\\n", latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, summary.errors.status))
end
"""


@dataclass
class Row:
    """One wrk run."""

    code: str
    caller: str
    connections: int
    requests: int
    req_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    non_2xx: int
    cpu_us_per_request: float


# ---- the county -----------------------------------------------------------------------------

def build_county(folder: Path) -> Path:
    """``gisgov sample --seed 1``, grids and an assignment, as the Makefile's demo."""
    ws = folder / "county.gpkg"
    for args in (["sample", str(ws), "--seed", "1", "--scale", "1", "--force"],
                 ["grids", str(ws)], ["assign", str(ws)]):
        subprocess.run([str(GISGOV), *args], check=True, stdout=subprocess.DEVNULL)
    return ws


def planner_key(ws: Path) -> str:
    """A planner's key, added to ``ws`` with the CLI."""
    out = subprocess.run([str(GISGOV), "keys", "add", str(ws), "--role", "planner", "--label",
                          "benchmark"], check=True, capture_output=True, text=True).stdout
    found = re.findall(r"^(gg_\S+)$", out, flags=re.M)
    if not found:
        raise RuntimeError(f"no key in the output of gisgov keys add:\n{out}")
    return found[0]


def household_points(ws: Path, path: Path, n: int = 5000) -> None:
    """``n`` households' positions, one ``lon,lat`` a line."""
    sys.path.insert(0, str(ROOT))
    from gisgov.store import open_workspace

    households = open_workspace(str(ws)).read("households")
    sample = households.sample(min(n, len(households)), random_state=1)
    path.write_text("".join(f"{p.x:.7f},{p.y:.7f}\n" for p in sample.geometry))


# ---- servers --------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(code_dir: Path, ws: Path) -> Iterator[tuple[int, int]]:
    """``gisgov serve`` of the code in ``code_dir``; yields (port, pid)."""
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(code_dir), GISGOV_RATE_LIMIT="1000000",
               GISGOV_RATE_BURST="10000000", GISGOV_IP_RATE_LIMIT="1000000",
               GISGOV_IP_RATE_BURST="10000000")
    proc = subprocess.Popen([str(GISGOV), "serve", str(ws), "--port", str(port),
                             "--log-level", "warning"], env=env, cwd=code_dir,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import httpx

        deadline = time.monotonic() + 600
        base = f"http://127.0.0.1:{port}"
        # ready = the lookup index is built: the old code builds it at the first lookup, the
        # new one in the background at startup; neither build is part of the measurement
        while True:
            with contextlib.suppress(httpx.TransportError):
                health = httpx.get(f"{base}/healthz", timeout=60)
                if health.status_code == 200 and health.json().get("lookup_index"):
                    break
                if health.status_code == 200:
                    httpx.get(f"{base}/lookup", params={"lon": 0, "lat": 0}, timeout=600)
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gisgov serve from {code_dir} did not start")
            time.sleep(0.3)
        yield port, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(port: int, pid: int, script: Path, connections: int, seconds: float,
            key: str | None, batch: int = 0) -> tuple[int, float, float, float, float, int, float]:
    """One wrk run: (requests, req/s, p50, p99, max, non-2xx, server CPU µs per request);
    ``batch``: POST that many points per request to ``/lookup/batch`` instead."""
    env = dict(os.environ, GISGOV_BENCH_KEY=key or "", GISGOV_BENCH_BATCH=str(batch))
    threads = min(2, connections)
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "-s",
           str(script), f"http://127.0.0.1:{port}"]
    cpu0 = _cpu_seconds(pid)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    cpu = _cpu_seconds(pid) - cpu0
    n = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50, p99, mx, bad = re.search(r"LAT ([\d.]+) ([\d.]+) ([\d.]+) (\d+)",
                                  out).groups()  # type: ignore[union-attr]
    return n, rps, float(p50), float(p99), float(mx), int(bad), cpu / max(n, 1) * 1e6


def measure(label: str, code_dir: Path, ws: Path, script: Path, key: str,
            seconds: float) -> list[Row]:
    """Every row of one code version."""
    rows = []
    with serve(code_dir, ws) as (port, pid):
        for caller, conns, k, batch in (("public", 1, None, 0), ("public", 16, None, 0),
                                        ("planner", 16, key, 0),
                                        (f"public batch of {BATCH}", 16, None, BATCH)):
            run_wrk(port, pid, script, conns, min(3.0, seconds), k, batch)  # warm-up
            n, rps, p50, p99, mx, bad, cpu = run_wrk(port, pid, script, conns, seconds, k,
                                                     batch)
            rows.append(Row(label, caller, conns, n, round(rps), round(p50, 2), round(p99, 2),
                            round(mx, 1), bad, round(cpu)))
            print(f"  {label:7} {caller:20} {conns:3} conn: {rps:7.0f} req/s  p50 {p50:6.2f} ms"
                  f"  p99 {p99:7.2f} ms  max {mx:7.1f} ms  CPU {cpu:5.0f} µs/req"
                  + (f"  non-2xx {bad}" if bad else ""), flush=True)
    return rows


def export_before(ref: str, folder: Path) -> Path:
    """The code at ``ref`` (``git archive``), to serve side by side."""
    target = folder / "before"
    target.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def table(rows: list[Row]) -> str:
    """Before and after side by side, with the ratio."""
    lines = ["| caller | conns | before req/s | after req/s | × | before p99 ms | after p99 ms "
             "| after max ms | before CPU µs/req | after CPU µs/req |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    after = [r for r in rows if r.code == "after"]
    for a in after:
        b = next((r for r in rows if r.code == "before" and r.caller == a.caller
                  and r.connections == a.connections), None)
        ratio = f"{a.req_per_s / b.req_per_s:.1f}" if b and b.req_per_s else "–"
        lines.append(
            f"| {a.caller} | {a.connections} | {b.req_per_s if b else '–'} | {a.req_per_s} "
            f"| {ratio} | {b.p99_ms if b else '–'} | {a.p99_ms} | {a.max_ms} "
            f"| {b.cpu_us_per_request if b else '–'} | {a.cpu_us_per_request} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--workspace", type=Path, help="a county with grids (default: build "
                        "the reference county in a temporary folder)")
    parser.add_argument("--before", default="main", help="git ref of the code to compare "
                        "with ('none': skip)")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    with tempfile.TemporaryDirectory(prefix="gisgov-serving-") as tmp:
        folder = Path(tmp)
        ws = folder / "county.gpkg"
        if args.workspace:
            shutil.copyfile(args.workspace, ws)
        else:
            print("building the reference county (sample --seed 1, grids, assign) …", flush=True)
            build_county(folder)
        key = planner_key(ws)
        points = folder / "points.txt"
        household_points(ws, points)
        script = folder / "lookup.lua"
        script.write_text(LUA % {"points": points, "seed": 1})
        rows: list[Row] = []
        if args.before != "none":
            rows += measure("before", export_before(args.before, folder), ws, script, key,
                            args.seconds)
        rows += measure("after", ROOT, ws, script, key, args.seconds)
    text = table(rows)
    print("\nGET /lookup, one uvicorn worker, random household points of the reference "
          f"county (before: {args.before})\n" + text)
    load = os.getloadavg()
    result = {"rows": [asdict(r) for r in rows], "before_ref": args.before,
              "seconds_per_run": args.seconds, "cpus": os.cpu_count(),
              "load_average_at_end": [round(v, 2) for v in load],
              "python": platform.python_version(), "table": text}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    print(f"(load average {load[0]:.1f} on {os.cpu_count()} CPUs at the end; written to "
          f"{args.out})")


if __name__ == "__main__":
    main()
