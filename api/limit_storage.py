"""Where the rate limits count: one process's memory, a file the workers share, or Redis.

The limits themselves are the maintained ``limits`` library's (moving windows, see
:class:`api.state.RateLimiter`); this module only chooses and supplies its storage, named by
``Settings.rate_limit_storage`` (``GISGOV_RATE_LIMIT_STORAGE``):

``memory://`` (the default with one worker)
    :class:`SweptMemoryStorage`: ``limits``' ``MemoryStorage`` with one sweeper thread.
    ``MemoryStorage`` itself re-arms a ``threading.Timer`` every 10 ms while requests arrive,
    i.e. starts a new thread a hundred times a second *on the request's path* (a thread start
    waits for the new thread to run: a millisecond or more on a busy machine, on the event
    loop). Here one daemon thread sweeps expired entries once a second instead; the counting
    is ``limits``' own.
``sqlite:///path/limits.sqlite`` (the default of ``gisgov serve --workers N``)
    :class:`SQLiteStorage`: a moving window in a SQLite file every worker process of one
    machine opens, so ``--workers 4`` allows a client its burst once, not four times.
    ``limits`` ships no storage that processes share without a server (memory is per process;
    Redis, Memcached, MongoDB need one), hence this small one: one ``BEGIN IMMEDIATE``
    transaction per request (tens of microseconds, WAL, no fsync: the counts are worth
    nothing after a reboot).
``redis://host:port`` (several workers, or several machines)
    ``limits``' ``RedisStorage`` (needs the ``redis`` package): the same windows in Redis,
    counted atomically by its Lua scripts; ``?key_prefix=NAME`` keeps two services that
    share one Redis apart.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import weakref
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse, urlsplit, urlunsplit

from limits.storage import MemoryStorage, MovingWindowSupport, Storage, storage_from_string

__all__ = ["SQLiteStorage", "SweptMemoryStorage", "open_storage"]

#: How often expired entries are swept (seconds).
_SWEEP_S = 1.0


class SweptMemoryStorage(MemoryStorage):
    """``limits``' in-memory storage, swept by one long-lived thread instead of a new timer
    thread every 10 ms (see the module docstring)."""

    STORAGE_SCHEME = ["gisgov+memory"]  # noqa: RUF012 - limits declares it a list

    def __init__(self, uri: str | None = None, **options: Any) -> None:
        super().__init__(uri, **options)
        ref = weakref.ref(self)
        threading.Thread(target=_sweep, args=(ref,), name="rate-limit-sweeper",
                         daemon=True).start()

    def _MemoryStorage__schedule_expiry(self) -> None:  # noqa: N802 - overrides a private name
        """No per-request timer: the sweeper thread expires entries."""


def _sweep(ref: weakref.ReferenceType[SweptMemoryStorage]) -> None:
    while True:
        time.sleep(_SWEEP_S)
        storage = ref()
        if storage is None:  # the storage is gone (an app closed): stop
            return
        storage._MemoryStorage__expire_events()  # type: ignore[attr-defined]
        del storage


class SQLiteStorage(Storage, MovingWindowSupport):
    """A ``limits`` storage in one SQLite file, shared by the worker processes of a machine.

    Moving windows (what :class:`api.state.RateLimiter` uses) are rows ``(key, at, expires)``:
    a hit is allowed when fewer than ``limit`` rows of the key are younger than the window.
    Fixed-window counters (the rest of the ``Storage`` interface) are rows of ``counters``.
    Each call is one short transaction; ``BEGIN IMMEDIATE`` serialises the workers, so two
    processes never both take the last slot of a window.

    Parameters
    ----------
    uri
        ``sqlite:///absolute/path.sqlite``.
    """

    STORAGE_SCHEME = ["sqlite"]  # noqa: RUF012 - limits declares it a list

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options: Any) -> None:
        path = urlparse(uri).path
        if not path:
            raise ValueError(f"rate-limit storage {uri!r}: give a file, sqlite:///path.sqlite")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._sweep_at = 0.0
        with self._tx() as db:
            db.execute("CREATE TABLE IF NOT EXISTS hits (key TEXT NOT NULL, at REAL NOT NULL, "
                       "expires REAL NOT NULL)")
            db.execute("CREATE INDEX IF NOT EXISTS hits_key_at ON hits (key, at)")
            db.execute("CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, "
                       "value INTEGER NOT NULL, expires REAL NOT NULL)")
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    # ---- connections ---------------------------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None,
                                 check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=OFF")
            self._local.db = db
        return db

    def _tx(self) -> _Transaction:
        return _Transaction(self._db())

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        """What a failing store raises (``limits`` wraps these on request)."""
        return sqlite3.Error

    # ---- moving window -------------------------------------------------------------------
    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        """Take ``amount`` slots of ``key``'s window if ``limit`` allows."""
        if amount > limit:
            return False
        now = time.time()
        with self._tx() as db:
            self._maybe_sweep(db, now)
            row = db.execute("SELECT at FROM hits WHERE key = ? AND at > ? ORDER BY at DESC "
                             "LIMIT 1 OFFSET ?", (key, now - expiry, limit - amount)).fetchone()
            if row is not None:
                return False
            db.executemany("INSERT INTO hits (key, at, expires) VALUES (?, ?, ?)",
                           [(key, now, now + expiry)] * amount)
            return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        """``(start of the window, hits in it)`` of ``key``."""
        now = time.time()
        row = self._db().execute(
            "SELECT min(at), count(*) FROM (SELECT at FROM hits WHERE key = ? AND at > ? "
            "ORDER BY at DESC LIMIT ?)", (key, now - expiry, limit)).fetchone()
        return (float(row[0]) if row[0] is not None else now), int(row[1])

    def _maybe_sweep(self, db: sqlite3.Connection, now: float) -> None:
        if now - self._sweep_at >= _SWEEP_S:
            self._sweep_at = now
            db.execute("DELETE FROM hits WHERE expires < ?", (now,))
            db.execute("DELETE FROM counters WHERE expires < ?", (now,))

    # ---- fixed-window counters (the rest of the Storage interface) --------------------------
    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add ``amount`` to ``key``'s counter (a new one expires after ``expiry`` s)."""
        now = time.time()
        with self._tx() as db:
            db.execute("DELETE FROM counters WHERE key = ? AND expires < ?", (key, now))
            db.execute("INSERT INTO counters (key, value, expires) VALUES (?, ?, ?) "
                       "ON CONFLICT (key) DO UPDATE SET value = value + excluded.value",
                       (key, amount, now + expiry))
            row = db.execute("SELECT value FROM counters WHERE key = ?", (key,)).fetchone()
        return int(row[0])

    def get(self, key: str) -> int:
        """``key``'s counter (0 when absent or expired)."""
        row = self._db().execute("SELECT value FROM counters WHERE key = ? AND expires >= ?",
                                 (key, time.time())).fetchone()
        return 0 if row is None else int(row[0])

    def get_expiry(self, key: str) -> float:
        """When ``key``'s counter expires (now when absent)."""
        row = self._db().execute("SELECT expires FROM counters WHERE key = ?",
                                 (key,)).fetchone()
        return time.time() if row is None else float(row[0])

    def check(self) -> bool:
        """Whether the file can be read."""
        try:
            self._db().execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def reset(self) -> int | None:
        """Forget every count; returns how many rows went."""
        with self._tx() as db:
            gone = db.execute("DELETE FROM hits").rowcount
            gone += db.execute("DELETE FROM counters").rowcount
        return int(gone)

    def clear(self, key: str) -> None:
        """Forget ``key``'s counts."""
        with self._tx() as db:
            db.execute("DELETE FROM hits WHERE key = ?", (key,))
            db.execute("DELETE FROM counters WHERE key = ?", (key,))


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (``ROLLBACK`` on error) on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, kind: object, *_: object) -> None:
        self.db.execute("ROLLBACK" if kind is not None else "COMMIT")


def open_storage(uri: str | None) -> Storage:
    """The storage named by ``uri`` (``memory://`` or empty: this process's memory).

    Raises
    ------
    ValueError
        For a scheme ``limits`` does not know, so a typo stops the service at start.
    """
    if not uri or uri in ("memory://", "gisgov+memory://"):
        return SweptMemoryStorage()
    if uri.startswith("async+"):
        raise ValueError(f"rate-limit storage {uri!r}: the limiter counts synchronously; "
                         "drop the async+ prefix")
    # ``?key_prefix=…`` keeps two services on one Redis apart; the rest of the URI is the
    # storage's own (``redis://host:port/db``)
    parts = urlsplit(uri)
    query = parse_qs(parts.query)
    options = {"key_prefix": query.pop("key_prefix")[0]} if "key_prefix" in query else {}
    rest = urlunsplit(parts._replace(query=urlencode(query, doseq=True)))
    storage = storage_from_string(rest, **options)
    assert isinstance(storage, Storage)
    return storage
