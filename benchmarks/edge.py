"""Benchmark: the API edge under oversized and heavy requests (issue 13, "bad input").

Serves the API test world (16 grids, tests/api/conftest.py) under uvicorn in a subprocess,
as ``gisgov serve`` does, and measures from outside:

1. a 50 MB ``POST /lookup/batch`` with ``Content-Length``: status, time to the answer, the
   server's resident memory (``VmRSS``) before and after, and how many bytes the client got
   to send before the answer;
2. the same 50 MB sent chunked (no length): the same figures;
3. a valid 100,000-point batch, as CSV and as GeoJSON, while another thread asks ``/healthz``
   every 10 ms: the
   batch's time and the slowest health answer meanwhile (the event loop is not blocked when
   the slowest health answer stays far below the batch's time), and the same poll for 3 s
   with nothing else running (the machine's own noise: it is shared).

Run: ``.venv/bin/python benchmarks/edge.py``; writes ``benchmarks/results/edge.json``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "edge.json"
sys.path.insert(0, str(ROOT))


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _send_raw(port: int, total: int, *, chunked: bool) -> dict[str, Any]:
    """Send ``total`` bytes of CSV-ish body; stop when the server answers or hangs up."""
    head = ("POST /lookup/batch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\n"
            + ("Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {total}\r\n")
            + "\r\n").encode()
    chunk = b"1" * (64 * 1024)
    sent = 0
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head)
        sock.settimeout(0.0)
        answer = b""
        try:
            while sent < total:
                with contextlib.suppress(BlockingIOError):
                    answer += sock.recv(65536)
                if answer:
                    break
                piece = chunk[: total - sent]
                data = (f"{len(piece):x}\r\n".encode() + piece + b"\r\n") if chunked else piece
                sock.setblocking(True)
                sock.sendall(data)
                sock.setblocking(False)
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass
        sock.settimeout(10)
        try:
            while b"\r\n\r\n" not in answer:
                more = sock.recv(65536)
                if not more:
                    break
                answer += more
        except (TimeoutError, ConnectionResetError):
            pass
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else None
    return {"status": status, "seconds": round(time.perf_counter() - start, 3),
            "client_sent_mb": round(sent / 2**20, 2)}


def main() -> dict[str, Any]:
    from gisgov.store import open_workspace
    from tests.api.conftest import X0, Y0, fill

    tmp = Path(tempfile.mkdtemp())
    ws_path = tmp / "world.gpkg"
    ws = open_workspace(ws_path, create=True)
    fill(ws)
    ws.close()
    port = _free_port()
    env = {**os.environ, "GISGOV_WORKSPACE": str(ws_path), "GISGOV_RATE_LIMIT": "100000",
           "GISGOV_RATE_BURST": "100000", "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app", "--no-proxy-headers",
         "--port", str(port), "--log-level", "warning"], env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        out: dict[str, Any] = {}
        for label, chunked in (("content_length_50mb", False), ("chunked_50mb", True)):
            before = _rss_mb(server.pid)
            result = _send_raw(port, 50 * 2**20, chunked=chunked)
            time.sleep(0.2)
            result.update(rss_before_mb=round(before, 1),
                          rss_after_mb=round(_rss_mb(server.pid), 1))
            out[label] = result
            print(label, result)
        rng = np.random.default_rng(0)
        n = 100_000
        xs = X0 + rng.uniform(0, 0.016, n)
        ys = Y0 + rng.uniform(0, 0.016, n)
        csv = "lon,lat\n" + "\n".join(f"{x:.6f},{y:.6f}" for x, y in zip(xs, ys, strict=True))
        waits: list[float] = []
        stop = threading.Event()

        def poll() -> None:
            with httpx.Client() as c:
                while not stop.is_set():
                    t = time.perf_counter()
                    c.get(base + "/healthz")
                    waits.append(time.perf_counter() - t)
                    time.sleep(0.01)

        geojson = json.dumps({"type": "FeatureCollection", "features": [
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]}}
            for x, y in zip(xs.round(6).tolist(), ys.round(6).tolist(), strict=True)]})
        poller = threading.Thread(target=poll)
        poller.start()
        time.sleep(3.0)  # the same poll with nothing else running: the machine's baseline
        idle = list(waits)
        for label, body, kind in (("batch_100k_csv", csv, "text/csv"),
                                  ("batch_100k_geojson", geojson, "application/geo+json")):
            waits.clear()
            t0 = time.perf_counter()
            r = httpx.post(base + "/lookup/batch", content=body.encode(),
                           headers={"Content-Type": kind}, timeout=120)
            batch_s = time.perf_counter() - t0
            during = list(waits)
            out[label] = {"status": r.status_code, "body_mb": round(len(body) / 2**20, 2),
                          "found": r.json().get("found"), "seconds": round(batch_s, 3),
                          "healthz_calls": len(during),
                          "healthz_max_ms": round(1000 * max(during), 1),
                          "healthz_median_ms": round(1000 * float(np.median(during)), 1),
                          "idle_healthz_max_ms": round(1000 * max(idle), 1),
                          "idle_healthz_median_ms": round(1000 * float(np.median(idle)), 1)}
            print(label, out[label])
        stop.set()
        poller.join()
    finally:
        server.terminate()
        server.wait(10)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    return out


if __name__ == "__main__":
    main()
