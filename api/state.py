"""What one running service holds: the workspace, caches, the job runner, audit and limits.

Built by :func:`api.app.create_app` (never at import time) and reached from handlers through
``request.app.state.gisgov``.
"""

from __future__ import annotations

import logging
import math
import threading
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
from gisgov.jobs import JobRunner
from gisgov.keys import KEYS_TABLE, KeyRing
from gisgov.lookup import LiveIndex
from gisgov.privacy import Principal
from gisgov.store import WorkspaceBase, open_workspace

__all__ = ["INTERNAL_TABLES", "AppState", "AuditBuffer", "RateLimiter"]

log = logging.getLogger(__name__)

#: Product tables that are the service's own bookkeeping, never published as collections.
INTERNAL_TABLES = frozenset({KEYS_TABLE, AUDIT_TABLE, "jobs"})


class AuditBuffer:
    """Collects audit records and appends them to the workspace in batches.

    Every committed write copies a GeoPackage file and bumps the workspace version (which
    makes caches reload), so one write per unmasked read would cost far more than the read;
    records are flushed at most every ``interval`` seconds by a daemon thread, and on close.

    Parameters
    ----------
    ws
        The workspace to write ``audit_log`` into.
    interval
        Seconds between flushes; 0 writes every record at once.
    """

    def __init__(self, ws: WorkspaceBase, *, interval: float) -> None:
        self._ws = ws
        self._interval = interval
        self._rows: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if interval > 0:
            self._thread = threading.Thread(target=self._loop, name="gisgov-audit", daemon=True)
            self._thread.start()

    def record(self, principal: Principal, *, action: str, target: str, detail: str = "") -> None:
        """Queue one record: who (the key), what, when (now, UTC)."""
        row = {"at": pd.Timestamp.now(tz="UTC").isoformat(), "actor": principal.actor,
               "action": action, "target": target, "detail": detail}
        with self._lock:
            self._rows.append(row)
        if self._interval <= 0:
            self.flush()

    def flush(self) -> int:
        """Write queued records now; returns how many were written."""
        with self._lock:
            rows, self._rows = self._rows, []
        if not rows:
            return 0
        try:
            self._ws.write_table(AUDIT_TABLE, pd.DataFrame(rows), mode="append",
                                 bump_version=False)
        except Exception as exc:  # keep them for the next try: an audit record must not be lost
            log.warning("audit: cannot write %d record(s) yet: %s", len(rows), exc)
            with self._lock:
                self._rows[:0] = rows
            return 0
        return len(rows)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()

    def close(self) -> None:
        """Stop the thread and write what is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.flush()


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
        )

    def close(self) -> None:
        """Flush the audit log, stop jobs, release connections."""
        self.audit.close()
        self.jobs.shutdown()
        self.ws.close()
