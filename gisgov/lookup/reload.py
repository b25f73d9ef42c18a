"""Keeping the lookup index current without a request ever waiting for it.

A service answers lookups from one :class:`~gisgov.lookup.index.LookupIndex` in memory. When
the workspace changes (new grids, a new assignment), the index must follow, but neither the
version check (a store query: a SQLite read, a PostgreSQL round trip, or a connect timeout
while the database restarts) nor the rebuild (seconds on a large county) may sit on a
request's path. So :class:`LiveIndex` in its service mode (``background=True``) runs one
daemon *watcher* thread that polls ``ws.version`` every ``check_interval`` seconds and, when
it changed, builds the new index in that thread and swaps it in with one attribute
assignment. A request reads that attribute once (:attr:`LiveIndex.current`) and works with the
index it got: every answer comes whole from either the old or the new index, never a mix.

The last version the watcher saw is kept in :attr:`LiveIndex.seen_version`, so other caches
keyed on the workspace version (the policy facts of :mod:`api.policy_view`) compare against it
instead of asking the store on every request.

The CLI uses ``background=False`` and the API tests ``check_interval=0``: then
:meth:`LiveIndex.get` checks the version inline and rebuilds before answering (a write is seen
by the very next read), which is what a one-shot command or a test wants and what a service
under load must not do.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from gisgov.lookup.index import LookupIndex

__all__ = ["LiveIndex"]

log = logging.getLogger(__name__)

#: The watcher never polls more often than this (``check_interval=0`` in tests would spin).
_MIN_POLL_S = 0.02


class LiveIndex:
    """A :class:`LookupIndex` that follows the workspace.

    Parameters
    ----------
    ws
        The workspace.
    check_interval
        Seconds between version checks.
    background
        ``True`` (the service): a watcher thread checks and rebuilds, requests never wait
        except for the very first index. ``False`` (CLI), or ``check_interval=0`` (tests:
        read your own writes): :meth:`get` checks at most every ``check_interval`` seconds
        and rebuilds inline.
    build
        How an index is made from the workspace (default
        :meth:`LookupIndex.from_workspace`; tests inject a slow one).

    Notes
    -----
    If the store cannot be reached, the last index keeps answering: lookups survive a
    database restart, and the watcher tries again at its next tick.
    """

    def __init__(self, ws: Any, *, check_interval: float = 1.0, background: bool = True,
                 build: Callable[[Any], LookupIndex] | None = None) -> None:
        self.ws = ws
        self.check_interval = float(check_interval)
        self.background = background
        self._inline = not background or self.check_interval <= 0
        self._build_fn = build or LookupIndex.from_workspace
        self._index: LookupIndex | None = None
        self._build_lock = threading.Lock()  # one build at a time
        self._start_lock = threading.Lock()
        self._checked = 0.0
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        #: Indexes built so far (tests: a write that does not bump the version builds none).
        self.builds = 0
        #: The workspace version the watcher (or the last inline check) read.
        self.seen_version: int | None = None

    # ---- reading ------------------------------------------------------------------------
    @property
    def current(self) -> LookupIndex | None:
        """The index answering now, or ``None`` before the first build (never blocks)."""
        return self._index

    def ready(self) -> LookupIndex | None:
        """The index, when answering from it needs no store query and no build (the
        service's hot path); ``None`` when :meth:`get` must be called (from a worker thread:
        it may block)."""
        return None if self._inline else self._index

    def get(self) -> LookupIndex:
        """The current index; builds the first one (blocking) if there is none yet."""
        index = self._index
        if index is None:
            index = self._first()
        elif self._inline:
            index = self._check_inline(index)
        return index

    def workspace_version(self) -> int:
        """The workspace version as the watcher last read it (no store query), or read now
        in inline mode and before the watcher's first tick.

        Raises
        ------
        Exception
            Whatever the store raises when it must be read and cannot be.
        """
        seen = self.seen_version
        if self._inline or seen is None:
            version = int(self.ws.version)
            self.seen_version = version
            return version
        return seen

    def _first(self) -> LookupIndex:
        with self._build_lock:
            if self._index is None:
                self._swap(self._build())
                self._checked = time.monotonic()
        if not self._inline:
            self.start()
        index = self._index
        assert index is not None
        return index

    def _check_inline(self, index: LookupIndex) -> LookupIndex:
        now = time.monotonic()
        if now - self._checked < self.check_interval:
            return index
        self._checked = now
        version = self._read_version()
        if version is None or version == index.version:
            return index
        return self.refresh()

    # ---- building -----------------------------------------------------------------------
    def _build(self) -> LookupIndex:
        index = self._build_fn(self.ws)
        self.builds += 1
        return index

    def _swap(self, index: LookupIndex) -> None:
        # One reference assignment: atomic under the GIL; readers hold whichever they read.
        self._index = index
        if index.version is not None:
            self.seen_version = max(self.seen_version or 0, int(index.version))

    def _read_version(self) -> int | None:
        try:
            version = int(self.ws.version)
        except Exception as exc:  # the store is down: keep answering from memory
            log.warning("lookup index: cannot read the workspace version (%s); serving the "
                        "last index", exc)
            return None
        self.seen_version = version
        return version

    def refresh(self) -> LookupIndex:
        """Rebuild now (in the calling thread) and return the new index."""
        with self._build_lock:
            index = self._build()
            self._swap(index)
            self._checked = time.monotonic()
            return index

    def check(self) -> bool:
        """One watcher tick: read the version, rebuild and swap when it changed.

        Returns
        -------
        bool
            Whether a new index was swapped in. A failed rebuild keeps the old index (logged;
            the next tick tries again).
        """
        version = self._read_version()
        index = self._index
        if version is None or (index is not None and version == index.version):
            return False
        try:
            with self._build_lock:
                self._swap(self._build())
        except Exception:
            log.exception("lookup index: rebuild failed; serving the last index")
            return False
        return True

    # ---- the watcher --------------------------------------------------------------------
    def start(self) -> None:
        """Start the watcher thread (idempotent); the service calls it at startup."""
        if self._inline:
            return
        with self._start_lock:
            if self._watcher is not None and self._watcher.is_alive():
                return
            self._stop.clear()
            # the thread holds the index only weakly: a LiveIndex nobody uses any more is
            # collected, and its watcher ends at the next tick instead of polling forever
            self._watcher = threading.Thread(target=_watch, args=(weakref.ref(self),),
                                             name="lookup-index", daemon=True)
            self._watcher.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the watcher (service shutdown)."""
        self._stop.set()
        watcher = self._watcher
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join(timeout)

    def wait(self, timeout: float = 30.0) -> None:
        """Wait until the index is built at the workspace's current version (tests, startup).

        Returns early (no error) at ``timeout`` or when the store cannot be read.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            index = self._index
            try:
                version = int(self.ws.version)
            except Exception:
                return
            if index is not None and index.version == version:
                return
            if self._inline or self._watcher is None or not self._watcher.is_alive():
                self.check() if index is not None else self.get()
                continue
            time.sleep(_MIN_POLL_S)


def _watch(ref: weakref.ReferenceType[LiveIndex]) -> None:
    """The watcher thread: the first build if none yet, then a check every interval."""
    live = ref()
    if live is None:
        return
    if live.current is None:
        try:
            live.get()
        except Exception:
            log.exception("lookup index: first build failed; retrying at the next tick")
    stop, pause = live._stop, max(live.check_interval, _MIN_POLL_S)
    del live
    while not stop.wait(pause):
        live = ref()
        if live is None:
            return
        live.check()
        del live
