"""Event statistics: counts by status and level, overdue, and per grid and community the
count, the median hours to close and the share closed on time.

"On time" is ``closed_at`` at or before the event's last ``due`` (after escalations the due
time is the last level's): the loop is judged by when the citizen's matter was finished,
verification included. "Overdue" is an open (reported or accepted) event past its due time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gisgov.events.loop import parse_time
from gisgov.events.service import overdue_mask
from gisgov.layers import EVENT_LEVELS, EVENT_STATUSES

__all__ = ["event_stats"]


def event_stats(events: pd.DataFrame, *, now: Any = None) -> dict[str, Any]:
    """Summary of an ``events`` frame at ``now`` (JSON-ready).

    Returns
    -------
    dict
        ``total``, ``by_status``, ``by_level``, ``by_category``, ``overdue``,
        ``escalations``, ``median_hours_to_close``, ``closed_on_time_share``, ``grids`` and
        ``communities`` (lists of ``{code, count, closed, overdue, median_hours_to_close,
        closed_on_time_share}``, by code).
    """
    when = parse_time(pd.Timestamp.now(tz="UTC") if now is None else now)
    frame = pd.DataFrame(events).copy()
    n = len(frame)
    status = frame["status"].astype(str) if n else pd.Series([], dtype=object)
    frame["_overdue"] = overdue_mask(frame, when) if n else np.zeros(0, bool)
    if n:
        rep = pd.to_datetime(frame["reported_at"], utc=True, format="ISO8601")
        closed = pd.to_datetime(frame["closed_at"], utc=True, format="ISO8601", errors="coerce")
        due = pd.to_datetime(frame["due"], utc=True, format="ISO8601", errors="coerce")
        frame["_hours"] = (closed - rep) / pd.Timedelta(hours=1)
        frame["_on_time"] = (closed <= due).where(closed.notna())
    else:
        frame["_hours"] = pd.Series([], dtype=float)
        frame["_on_time"] = pd.Series([], dtype=object)
    out: dict[str, Any] = {
        "total": n,
        "by_status": {s: int((status == s).sum()) for s in EVENT_STATUSES},
        "by_level": {lv: int((frame["level"] == lv).sum()) if n else 0 for lv in EVENT_LEVELS},
        "by_category": ({str(k): int(v) for k, v in
                         frame["category"].value_counts().sort_index().items()} if n else {}),
        "overdue": int(frame["_overdue"].sum()),
        "escalations": int(pd.to_numeric(frame["escalations"], errors="coerce")
                           .fillna(0).sum()) if n else 0,
        **_summary(frame),
        "grids": _by(frame, "grid_code"),
        "communities": _by(frame, "community_code"),
    }
    return out


def _summary(part: pd.DataFrame) -> dict[str, Any]:
    hours = part["_hours"].dropna()
    on_time = part["_on_time"].dropna()
    return {
        "median_hours_to_close": round(float(hours.median()), 1) if len(hours) else None,
        "closed_on_time_share": round(float(on_time.astype(bool).mean()), 3)
        if len(on_time) else None,
    }


def _by(frame: pd.DataFrame, column: str) -> list[dict[str, Any]]:
    if not len(frame):
        return []
    out = []
    for code, part in frame.groupby(frame[column].astype(object).fillna("-"), sort=True):
        out.append({"code": None if code == "-" else str(code), "count": len(part),
                    "closed": int((part["status"] == "closed").sum()),
                    "overdue": int(part["_overdue"].sum()), **_summary(part)})
    return out
