"""What one running service holds: the workspace, caches, the job runner, audit and limits.

Built by :func:`api.app.create_app` (never at import time) and reached from handlers through
``request.app.state.gisgov``.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from api.errors import RateLimitedError
from api.settings import Settings
from gisgov.audit import AUDIT_TABLE
from gisgov.errors import GisgovError, StoreError
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
    """Writes every audit record into the workspace before the response is sent.

    Why written at once and not buffered: a record that sits in memory is lost when the
    process dies, and PIPL art. 51 wants every access to personal data on record. Since the
    GeoPackage store writes in place (one SQLite transaction, WAL, ``synchronous=FULL``) and
    PostGIS commits one row, an append costs one small transaction (median 5–19 ms on the
    92 MB ``--scale 8`` county, ``benchmarks/results/store_write.txt``) instead of a copy of
    the file. The alternative, an append-only log flushed on a signal and at shutdown, is
    only crash-safe with an ``fsync`` per record, which costs about as much as the insert,
    and would leave the audit trail in two places. So :meth:`record` returns once the
    record is committed, and the handler builds its response afterwards: when the write
    fails, :meth:`record` raises :class:`~gisgov.errors.StoreError` (HTTP 503) and the
    personal data is not sent. No read without its record, and no record to lose.

    Audit rows do not bump the workspace version, so caches keyed on it stay warm.

    Parameters
    ----------
    ws
        The workspace to write ``audit_log`` into.
    interval
        Ignored (kept for the ``audit_flush_seconds`` setting of older configurations):
        records are no longer batched.
    """

    def __init__(self, ws: WorkspaceBase, *, interval: float = 0.0) -> None:
        self._ws = ws
        self._interval = interval
        self.written = 0

    def record(self, principal: Principal, *, action: str, target: str, detail: str = "") -> None:
        """Commit one record (who: the key, what, when: now, UTC) before returning.

        Raises
        ------
        StoreError
            The record could not be written; the caller must not send the data.
        """
        row = {"at": pd.Timestamp.now(tz="UTC").isoformat(), "actor": principal.actor,
               "action": action, "target": target, "detail": detail}
        try:
            self._ws.write_table(AUDIT_TABLE, pd.DataFrame([row]), mode="append",
                                 bump_version=False)
        except GisgovError as exc:
            log.error("audit: cannot record a %s access; the data is withheld: %s", action, exc)
            raise StoreError("the access could not be recorded in the audit log, so the "
                             "data is not sent; try again shortly") from exc
        self.written += 1

    def flush(self) -> int:
        """Nothing is ever pending (records are written at once); returns 0."""
        return 0

    def close(self) -> None:
        """Nothing to write at shutdown: every record is already committed."""


class RateLimiter:
    """Moving-window rate limits per caller, in memory (per worker process), by ``limits``.

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
    """

    def __init__(self, *, rate: float, burst: int, ip_rate: float | None = None,
                 ip_burst: int | None = None) -> None:
        self.rate = float(rate)
        self.burst = int(burst)
        self.ip_rate = float(ip_rate if ip_rate is not None else rate)
        self.ip_burst = int(ip_burst if ip_burst is not None else burst)
        self._items = {
            "key": RateLimitItemPerSecond(self.burst, max(1, math.ceil(self.burst / self.rate))),
            "ip": RateLimitItemPerSecond(self.ip_burst,
                                         max(1, math.ceil(self.ip_burst / self.ip_rate))),
        }
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

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
                                ip_rate=settings.ip_rate_limit, ip_burst=settings.ip_rate_burst),
            audit=AuditBuffer(ws, interval=settings.audit_flush_seconds),
            jobs=JobRunner(workspace_factory=lambda: open_workspace(settings.workspace),
                           workers=settings.job_workers),
            sessions=SessionRing(ws, check_interval=settings.index_check_seconds),
        )

    def close(self) -> None:
        """Flush the audit log, stop jobs, let a lookup-index rebuild finish (it reads the
        store), release connections."""
        self.audit.close()
        self.jobs.shutdown()
        self.index.wait()
        self.ws.close()
