"""The live lookup index reloads in the background and swaps atomically.

A rebuild is held in the middle of loading (its ``build`` blocks on an event) while threads
keep looking up: every answer comes whole from the old index until the swap and from the new
one after it, none waits for the rebuild, and none mixes the two.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from gisgov.lookup import LiveIndex, LookupIndex
from tests.conftest import HANG_GUARD_S
from tests.gisgov.test_lookup import NW, micro_world

POINT = (114.195, 34.425)  # inside grid NW


def _world(path: Path) -> Any:
    from gisgov.store import open_workspace

    ws = open_workspace(path, create=True)
    with ws.transaction() as tx:
        for name in ("subdistricts", "communities", "grids", "buildings", "staff"):
            tx.write(name, micro_world()[name])
    return ws


class HeldBuild:
    """``LiveIndex(build=…)`` whose rebuilds (not the first build) wait for :attr:`go`."""

    def __init__(self) -> None:
        self.loading = threading.Event()
        self.go = threading.Event()
        self.calls = 0

    def __call__(self, ws: Any) -> LookupIndex:
        self.calls += 1
        if self.calls > 1:
            self.loading.set()
            assert self.go.wait(HANG_GUARD_S)
        return LookupIndex.from_workspace(ws)


def _rename_nw(ws: Any, name: str) -> None:
    grids = micro_world()["grids"]
    grids.loc[grids["code"] == NW, "name"] = name
    ws.write("grids", grids)


def test_reload_mid_load_answers_every_request_from_old_or_new(tmp_path: Path) -> None:
    ws = _world(tmp_path / "w.gpkg")
    held = HeldBuild()
    live = LiveIndex(ws, check_interval=0.02, background=True, build=held)
    old = live.get()
    old_name = old.lookup(*POINT).grid.name
    answers: list[tuple[int | None, str]] = []
    by_thread: dict[int, list[str]] = {}
    stop = threading.Event()

    def ask() -> None:
        mine = by_thread.setdefault(threading.get_ident(), [])
        while not stop.is_set():
            index = live.get()  # one read of the reference, then answer from that index
            name = index.lookup(*POINT).grid.name
            answers.append((index.version, name))
            mine.append(name)

    _rename_nw(ws, "改名网格")
    assert held.loading.wait(HANG_GUARD_S)  # the watcher is now in the middle of a rebuild
    workers = [threading.Thread(target=ask) for _ in range(4)]
    for t in workers:
        t.start()
    while len(answers) < 200:  # answered while the rebuild is held: nobody waits for it
        time.sleep(0.01)
    during = list(answers)
    assert {name for _, name in during} == {old_name}
    held.go.set()
    deadline = time.monotonic() + HANG_GUARD_S
    while live.current is old and time.monotonic() < deadline:
        time.sleep(0.01)
    new = live.current
    assert new is not old
    assert new is not None
    seen_new = len(answers)
    while len(answers) < seen_new + 200:
        time.sleep(0.01)
    stop.set()
    for t in workers:
        t.join(HANG_GUARD_S)
    by_version = {old.version: old_name, new.version: "改名网格"}
    assert new.version != old.version
    # every answer is whole: the name its index's version stands for, old or new, no third
    assert all(by_version.get(v) == name for v, name in answers), set(answers)
    # after the swap only requests already in flight (one per thread) answer from the old one
    late_old = [a for a in answers[seen_new:] if a[1] == old_name]
    assert len(late_old) <= len(workers)
    for names in by_thread.values():  # once a thread got the new index, never the old again
        first_new = names.index("改名网格") if "改名网格" in names else len(names)
        assert old_name not in names[first_new:]
    assert held.calls == 2  # one first build, one rebuild
    live.stop()


def test_the_store_going_away_keeps_the_last_index(tmp_path: Path) -> None:
    ws = _world(tmp_path / "w.gpkg")
    live = LiveIndex(ws, check_interval=0.02, background=True)
    first = live.get()

    class Down:
        @property
        def version(self) -> int:
            raise OSError("connection refused (simulated)")

    live.ws = Down()
    assert live.check() is False  # one watcher tick against a dead store
    assert live.get() is first
    assert first.lookup(*POINT).grid.code == NW
    live.stop()


def test_a_forgotten_live_index_stops_watching(tmp_path: Path) -> None:
    import gc

    ws = _world(tmp_path / "w.gpkg")
    live = LiveIndex(ws, check_interval=0.02, background=True)
    live.get()
    watcher = live._watcher
    assert watcher is not None
    assert watcher.is_alive()
    del live
    gc.collect()
    watcher.join(HANG_GUARD_S)
    assert not watcher.is_alive()  # no thread polling a workspace nobody asks about
