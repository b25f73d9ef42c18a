"""``gisgov serve --workers 2``: two real worker processes, one shared rate limit.

A client's burst is allowed once across the workers, not once per worker: the requests are
spread over fresh connections (the kernel hands each to whichever worker accepts it), both
workers answer, and exactly ``burst`` requests succeed before the 429s start. Run once with
the default shared storage (a SQLite file) and once with Redis when one answers on
127.0.0.1:6379.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import HANG_GUARD_S

ROOT = Path(__file__).resolve().parents[2]
BURST = 80


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:  # a new connection every time
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {}


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.parametrize("storage", ["default", "redis"])
def test_two_workers_share_one_rate_limit(storage: str, tmp_path: Path,
                                          world_gpkg: Path) -> None:
    if storage == "redis" and not _redis_up():
        pytest.skip("no Redis on 127.0.0.1:6379")
    ws = tmp_path / "world.gpkg"
    shutil.copyfile(world_gpkg, ws)
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               TMPDIR=str(tmp_path),  # the default shared file goes here
               GISGOV_IP_RATE_BURST=str(BURST), GISGOV_IP_RATE_LIMIT="0.1")  # 80 per 800 s
    env.pop("GISGOV_RATE_LIMIT_STORAGE", None)
    if storage == "redis":
        env["GISGOV_RATE_LIMIT_STORAGE"] = \
            f"redis://127.0.0.1:6379?key_prefix=gisgov-test-{uuid.uuid4().hex}"
    gisgov = Path(sys.executable).with_name("gisgov")
    proc = subprocess.Popen([str(gisgov), "serve", str(ws), "--port", str(port), "--workers",
                             "2", "--log-level", "info"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + HANG_GUARD_S
        # both workers ready, seen in the log (a request to find out would count)
        while sum("Application startup complete" in line for line in list(lines)) < 2:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("gisgov serve --workers 2 did not start:\n" + "".join(lines))
            time.sleep(0.1)
        with ThreadPoolExecutor(16) as pool:  # concurrent fresh connections reach both workers
            answers = list(pool.map(_get, [f"{base}/healthz"] * (3 * BURST)))
        ok = [doc for status, doc in answers if status == 200]
        statuses = {status for status, _ in answers}
        assert statuses <= {200, 429}, statuses
        assert len({doc["worker"] for doc in ok}) == 2, "both workers answered"
        # per-worker memory would have allowed 2 × BURST; shared, exactly BURST in all
        assert len(ok) == BURST
        assert _get(f"{base}/healthz")[0] == 429
    finally:
        proc.terminate()
        try:
            proc.wait(HANG_GUARD_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
