"""What one running service holds: the workspace, caches, the job runner, audit and limits.

Built by :func:`api.app.create_app` (never at import time) and reached from handlers through
``request.app.state.gisgov``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from api.errors import RateLimitedError
from api.settings import Settings
from gisgov.audit import AUDIT_TABLE
from gisgov.errors import GisgovError, StoreError
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


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """A token bucket per caller, in memory (per worker process).

    Parameters
    ----------
    rate
        Tokens added per second.
    burst
        Bucket size.
    """

    def __init__(self, *, rate: float, burst: int) -> None:
        self.rate = float(rate)
        self.burst = float(burst)
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, who: str) -> None:
        """Spend one token of ``who``.

        Raises
        ------
        RateLimitedError
            When the bucket is empty; says when to retry.
        """
        now = time.monotonic()
        with self._lock:
            b = self._buckets.get(who)
            if b is None:
                if len(self._buckets) > 100_000:  # anonymous callers by IP: bound the memory
                    self._buckets.clear()
                b = self._buckets[who] = _Bucket(self.burst, now)
            b.tokens = min(self.burst, b.tokens + (now - b.stamp) * self.rate)
            b.stamp = now
            if b.tokens < 1.0:
                wait = (1.0 - b.tokens) / self.rate
                raise RateLimitedError(
                    f"too many requests: {self.rate:g}/s with bursts of {self.burst:g} allowed; "
                    f"retry in {wait:.1f} s",
                    retry_after=wait,
                )
            b.tokens -= 1.0


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
            limiter=RateLimiter(rate=settings.rate_limit, burst=settings.rate_burst),
            audit=AuditBuffer(ws, interval=settings.audit_flush_seconds),
            jobs=JobRunner(workspace_factory=lambda: open_workspace(settings.workspace),
                           workers=settings.job_workers),
        )

    def close(self) -> None:
        """Flush the audit log, stop jobs, release connections."""
        self.audit.close()
        self.jobs.shutdown()
        self.ws.close()
