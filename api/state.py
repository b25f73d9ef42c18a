"""What one running service holds: the workspace, caches, the job runner, audit and limits.

Built by :func:`api.app.create_app` (never at import time) and reached from handlers through
``request.app.state.gisgov``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from limits import RateLimitItemPerSecond
from limits.strategies import MovingWindowRateLimiter

from api.errors import RateLimitedError
from api.limit_storage import open_storage
from api.settings import Settings
from gisgov.audit import AUDIT_TABLE
from gisgov.errors import StoreError
from gisgov.jobs import JobRunner
from gisgov.keys import KEYS_TABLE, KeyRing
from gisgov.lookup import LiveIndex
from gisgov.privacy import Principal
from gisgov.sessions import CODES_TABLE, SESSIONS_TABLE, SessionRing
from gisgov.store import WorkspaceBase, open_workspace

__all__ = ["INTERNAL_TABLES", "AppState", "AuditBuffer", "RateLimiter"]

log = logging.getLogger(__name__)

#: Product tables that are the service's own bookkeeping, never published as collections.
INTERNAL_TABLES = frozenset({KEYS_TABLE, AUDIT_TABLE, "jobs", CODES_TABLE, SESSIONS_TABLE})


class AuditBuffer:
    """Commits audit records in groups, and lets no caller go on before its record is committed.

    Why committed before the response: a record that sits in memory is lost when the process
    dies, and PIPL art. 51 wants every access to personal data on record. So :meth:`record`
    (threads) and :meth:`record_async` (the event loop) return only once the record is
    committed; when the write fails they raise :class:`~gisgov.errors.StoreError` (HTTP 503)
    and the handler does not send the personal data. No read without its record, and no
    record to lose.

    Why in groups: one transaction per record costs milliseconds (a synced commit: about
    5 ms on a GeoPackage through its kept append connection, more on a loaded disk), which
    under load would serialise every audited request behind the store. One writer thread takes *every* record waiting when it starts a
    transaction and commits them together (a group commit, as databases do with their own
    log): a burst of 100 audited lookups costs a few transactions, not 100, and each caller
    still waits for exactly the commit that holds its record. :meth:`record_async` waits
    without blocking the event loop, so requests that need no audit are not held up at all.

    Audit rows do not bump the workspace version, so caches keyed on it stay warm.

    Parameters
    ----------
    ws
        The workspace to write ``audit_log`` into.
    interval
        Ignored (kept for the ``audit_flush_seconds`` setting of older configurations):
        records are never held back to wait for more.
    """

    def __init__(self, ws: WorkspaceBase, *, interval: float = 0.0) -> None:
        self._ws = ws
        self._interval = interval
        self._pending: list[tuple[dict[str, str], Future[None]]] = []
        self._cond = threading.Condition()
        self._closed = False
        self._writer: threading.Thread | None = None
        #: Records committed so far, and the transactions that committed them.
        self.written = 0
        self.commits = 0

    def submit(self, principal: Principal, *, action: str, target: str,
               detail: str = "") -> Future[None]:
        """Queue one record; the future completes when it is committed (or fails with
        :class:`~gisgov.errors.StoreError`)."""
        row = {"at": pd.Timestamp.now(tz="UTC").isoformat(), "actor": principal.actor,
               "action": action, "target": target, "detail": detail}
        done: Future[None] = Future()
        with self._cond:
            self._pending.append((row, done))
            if self._writer is None:  # the writer clears this, under the lock, as it ends
                self._writer = threading.Thread(target=self._write_loop, name="audit-writer",
                                                daemon=True)
                self._writer.start()
            self._cond.notify()
        return done

    def record(self, principal: Principal, *, action: str, target: str, detail: str = "") -> None:
        """Commit one record (who: the key, what, when: now, UTC) before returning.

        Raises
        ------
        StoreError
            The record could not be written; the caller must not send the data.
        """
        self.submit(principal, action=action, target=target, detail=detail).result()

    async def record_async(self, principal: Principal, *, action: str, target: str,
                           detail: str = "") -> None:
        """:meth:`record` for the event loop: waits for the commit without blocking it."""
        await asyncio.wrap_future(self.submit(principal, action=action, target=target,
                                              detail=detail))

    def _write_loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if not self._pending:
                    self._writer = None
                    return
                batch, self._pending = self._pending, []
            self._commit(batch)

    def _commit(self, batch: list[tuple[dict[str, str], Future[None]]]) -> None:
        try:
            self._ws.write_table(AUDIT_TABLE, pd.DataFrame([row for row, _ in batch]),
                                 mode="append", bump_version=False)
        except Exception as exc:
            log.error("audit: cannot record %d access(es); the data is withheld: %s",
                      len(batch), exc)
            error = StoreError("the access could not be recorded in the audit log, so the "
                               "data is not sent; try again shortly")
            error.__cause__ = exc
            for _, done in batch:
                _settle(done, error)
            return
        self.written += len(batch)
        self.commits += 1
        for _, done in batch:
            _settle(done, None)

    def flush(self, timeout: float = 30.0) -> int:
        """Wait until every record queued so far is committed; returns how many were waiting."""
        with self._cond:
            waiting = [done for _, done in self._pending]
        for done in waiting:
            with contextlib.suppress(Exception):
                done.result(timeout)
        return len(waiting)

    def close(self) -> None:
        """Commit what is queued and stop the writer (service shutdown). A record submitted
        afterwards (a request still finishing) starts a new writer: it is never refused."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            writer = self._writer
        if writer is not None:
            writer.join(30.0)
        with self._cond:
            self._closed = False


def _settle(done: Future[None], error: BaseException | None) -> None:
    """Complete a caller's future; one whose request was cancelled meanwhile (the client went
    away) is skipped, its record committed all the same."""
    with contextlib.suppress(InvalidStateError):
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)


class RateLimiter:
    """Moving-window rate limits per caller, by ``limits``, in the storage the workers share.

    The settings speak of a rate and a burst; a moving window of ``burst`` requests per
    ``ceil(burst / rate)`` seconds allows the same bursts and at most the same sustained rate
    (exactly it when ``burst / rate`` is whole seconds, as with the defaults 100 per 5 s). The
    maintained ``limits`` library keeps the windows and expires idle callers, so memory stays
    bounded however many addresses call (the old token buckets were dropped all at once
    past 100,000 callers, which reset everybody's limit).

    Two windows: callers named ``ip:…`` (every request, counted by
    :class:`api.guards.EdgeGuard` before the key is checked) use ``ip_rate``/``ip_burst``;
    everything else (``key:…``, counted once the key is known) ``rate``/``burst``.

    Parameters
    ----------
    rate
        Requests per second, sustained, per key.
    burst
        Requests allowed at once, per key.
    ip_rate, ip_burst
        The same per client address (default: as per key).
    storage
        Where the windows are counted (:mod:`api.limit_storage`): this process's memory by
        default; ``sqlite:///file`` or ``redis://…`` for several workers sharing the limits.
    """

    def __init__(self, *, rate: float, burst: int, ip_rate: float | None = None,
                 ip_burst: int | None = None, storage: str | None = None) -> None:
        self.rate = float(rate)
        self.burst = int(burst)
        self.ip_rate = float(ip_rate if ip_rate is not None else rate)
        self.ip_burst = int(ip_burst if ip_burst is not None else burst)
        self._items = {
            "key": RateLimitItemPerSecond(self.burst, max(1, math.ceil(self.burst / self.rate))),
            "ip": RateLimitItemPerSecond(self.ip_burst,
                                         max(1, math.ceil(self.ip_burst / self.ip_rate))),
        }
        self.storage = open_storage(storage)
        self._limiter = MovingWindowRateLimiter(self.storage)

    def take(self, who: str) -> None:
        """Count one request of ``who`` (``ip:ADDRESS`` or ``key:ID``).

        Raises
        ------
        RateLimitedError
            When ``who`` has used its window; says when to retry.
        """
        item = self._items["ip" if who.startswith("ip:") else "key"]
        if self._limiter.hit(item, who):
            return
        reset, _remaining = self._limiter.get_window_stats(item, who)
        wait = max(0.0, reset - time.time())
        raise RateLimitedError(
            f"too many requests: at most {item.amount} per {item.get_expiry()} s; "
            f"retry in {max(wait, 0.1):.1f} s",
            retry_after=wait,
        )


@dataclass
class AppState:
    """The service's long-lived objects (one per app)."""

    settings: Settings
    ws: WorkspaceBase
    index: LiveIndex
    keys: KeyRing
    limiter: RateLimiter
    audit: AuditBuffer
    jobs: JobRunner
    sessions: SessionRing | None = None
    started: float = field(default_factory=time.time)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, settings: Settings) -> AppState:
        """Open the workspace and build everything around it."""
        ws = open_workspace(settings.workspace)
        return cls(
            settings=settings,
            ws=ws,
            index=LiveIndex(ws, check_interval=settings.index_check_seconds),
            keys=KeyRing(ws, check_interval=settings.index_check_seconds),
            limiter=RateLimiter(rate=settings.rate_limit, burst=settings.rate_burst,
                                ip_rate=settings.ip_rate_limit, ip_burst=settings.ip_rate_burst,
                                storage=settings.rate_limit_storage),
            audit=AuditBuffer(ws, interval=settings.audit_flush_seconds),
            jobs=JobRunner(workspace_factory=lambda: open_workspace(settings.workspace),
                           workers=settings.job_workers),
            sessions=SessionRing(ws, check_interval=settings.index_check_seconds),
        )

    def start(self) -> None:
        """Start the background work: the lookup index's first build and its watcher (the
        first lookups wait for that build in a worker thread, never on the event loop)."""
        self.index.start()

    def close(self) -> None:
        """Flush the audit log, stop jobs and the index watcher, let a lookup-index rebuild
        finish (it reads the store), release connections."""
        self.index.stop()
        self.audit.close()
        self.jobs.shutdown()
        self.index.wait()
        self.ws.close()
