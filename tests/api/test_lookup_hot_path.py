"""Nothing slow on the lookup's path: a reload mid-load, grouped audit commits, no store query.

- The service's index reloads in the background: while a rebuild is held in the middle of
  loading, ``/lookup`` keeps answering from the old index, and from the new one after the swap.
- Audited lookups wait for *their* record's commit (nothing unmasked is sent before it), and
  records that arrive while one commit runs are committed together.
- A public lookup asks the store nothing (no version check per request).
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from api.state import AuditBuffer
from gisgov.audit import read_audit
from gisgov.keys import create_key
from gisgov.privacy import Principal
from gisgov.store import open_workspace
from tests.api.api_test_helpers import FIELD_BUILDING_POINT, auth
from tests.api.conftest import make_client
from tests.conftest import HANG_GUARD_S
from tests.gisgov.test_lookup_reload import HeldBuild


def test_lookup_answers_from_the_old_index_while_a_reload_is_held(world_url: Any) -> None:
    url = world_url("gpkg")
    lon, lat = FIELD_BUILDING_POINT
    with make_client(url, index_check_seconds=0.05) as client:  # the service's mode
        state = client.app.state.gisgov  # type: ignore[attr-defined]
        first = client.get("/lookup", params={"lon": lon, "lat": lat})
        assert first.status_code == 200
        code, old_name = first.json()["grid"]["code"], first.json()["grid"]["name"]
        held = HeldBuild()
        held.calls = 1  # the first build is done: the next one is held
        state.index._build_fn = held
        ws = open_workspace(url)
        grids = ws.read("grids")
        grids.loc[grids["code"] == code, "name"] = "改名网格"
        ws.write("grids", grids)
        assert held.loading.wait(HANG_GUARD_S)  # the watcher is mid-rebuild
        during = [client.get("/lookup", params={"lon": lon, "lat": lat}) for _ in range(30)]
        assert [r.status_code for r in during] == [200] * 30
        assert {r.json()["grid"]["name"] for r in during} == {old_name}
        held.go.set()
        deadline = time.monotonic() + HANG_GUARD_S
        while state.index.current.version != ws.version and time.monotonic() < deadline:
            time.sleep(0.02)
        after = client.get("/lookup", params={"lon": lon, "lat": lat})
        assert after.json()["grid"]["name"] == "改名网格"


def test_public_lookup_asks_the_store_nothing(world_url: Any,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    url = world_url("gpkg")
    lon, lat = FIELD_BUILDING_POINT
    with make_client(url, index_check_seconds=3600) as client:
        state = client.app.state.gisgov  # type: ignore[attr-defined]
        assert client.get("/lookup", params={"lon": lon, "lat": lat}).status_code == 200
        kind, mine = type(state.ws), state.ws
        calls: list[str] = []

        def note(ws: Any, name: str) -> None:
            if ws is mine:  # this service's workspace, not another test's
                calls.append(name)

        for name in ("version", "read", "read_table", "get_meta", "layers"):
            original = getattr(kind, name)
            if isinstance(original, property):
                monkeypatch.setattr(kind, name, property(
                    lambda self, _f=original.fget, _n=name: note(self, _n) or _f(self)))
            else:
                monkeypatch.setattr(kind, name, lambda self, *a, _f=original, _n=name, **k:
                                    note(self, _n) or _f(self, *a, **k))
        for _ in range(20):
            r = client.get("/lookup", params={"lon": lon, "lat": lat})
            assert r.status_code == 200
            assert r.json()["households"] == []  # public: no personal data, no audit
        assert calls == []


class _HeldStore:
    """A workspace whose first audit write waits for :attr:`go` (a slow disk)."""

    def __init__(self, path: Path) -> None:
        self.ws = open_workspace(path, create=True)
        self.go = threading.Event()
        self.writing = threading.Event()
        self.writes = 0

    def write_table(self, *args: Any, **kwargs: Any) -> None:
        self.writes += 1
        if self.writes == 1:
            self.writing.set()
            assert self.go.wait(HANG_GUARD_S)
        self.ws.write_table(*args, **kwargs)


def test_audited_requests_wait_for_their_commit_and_commit_together(tmp_path: Path) -> None:
    store = _HeldStore(tmp_path / "ws.gpkg")
    audit = AuditBuffer(store)  # type: ignore[arg-type]
    who = Principal(role="planner", key_id="k1")

    async def scenario() -> None:
        first = asyncio.ensure_future(audit.record_async(who, action="lookup", target="grid 0"))
        assert await asyncio.to_thread(store.writing.wait, HANG_GUARD_S)
        rest = [asyncio.ensure_future(audit.record_async(who, action="lookup",
                                                         target=f"grid {i}"))
                for i in range(1, 31)]
        await asyncio.sleep(0.05)
        # the event loop runs (we are here), yet nobody is answered before its commit
        assert not first.done()
        assert not any(t.done() for t in rest)
        store.go.set()
        await asyncio.gather(first, *rest)

    asyncio.run(scenario())
    assert audit.written == 31
    assert audit.commits == 2  # the held one, then the thirty that queued behind it
    assert sorted(read_audit(store.ws)["target"]) == sorted(f"grid {i}" for i in range(31))
    audit.close()


def test_keyed_lookups_are_each_audited(world_url: Any) -> None:
    url = world_url("gpkg")
    ws = open_workspace(url)
    key = create_key(ws, role="planner")[0]
    ws.close()
    lon, lat = FIELD_BUILDING_POINT
    with make_client(url, index_check_seconds=3600) as client:
        for _ in range(5):
            r = client.get("/lookup", params={"lon": lon, "lat": lat}, headers=auth(key))
            assert r.json()["household"]["head_name"]
        state = client.app.state.gisgov  # type: ignore[attr-defined]
        assert len(read_audit(state.ws)) == 5


def test_a_caller_gone_before_the_commit_does_not_stop_the_writer(tmp_path: Path) -> None:
    store = _HeldStore(tmp_path / "ws.gpkg")
    audit = AuditBuffer(store)  # type: ignore[arg-type]
    who = Principal(role="planner", key_id="k1")

    async def scenario() -> None:
        gone = asyncio.ensure_future(audit.record_async(who, action="lookup", target="a"))
        assert await asyncio.to_thread(store.writing.wait, HANG_GUARD_S)
        queued = asyncio.ensure_future(audit.record_async(who, action="lookup", target="b"))
        await asyncio.sleep(0.01)
        gone.cancel()  # the client disconnected while its record was being committed
        store.go.set()
        await queued
        await audit.record_async(who, action="lookup", target="c")

    asyncio.run(scenario())
    assert sorted(read_audit(store.ws)["target"]) == ["a", "b", "c"]
    audit.close()


def test_a_record_after_close_is_still_committed(tmp_path: Path) -> None:
    ws = open_workspace(tmp_path / "ws.gpkg", create=True)
    audit = AuditBuffer(ws)
    who = Principal(role="planner", key_id="k1")
    audit.record(who, action="lookup", target="before")
    audit.close()  # the app shut down while a request was still finishing
    audit.record(who, action="lookup", target="after")
    audit.close()
    assert read_audit(ws)["target"].tolist() == ["before", "after"]
