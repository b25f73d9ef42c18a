"""The closed loop as a state machine: which action may move an event from which state.

Pure functions on one event row (a ``dict`` of the ``events`` layer's columns): they check
the step, and return the new row and the ``event_log`` row, or raise
:class:`~gisgov.errors.ValidationError` with a Chinese message and change nothing. The store
work (reading the row inside the writer's transaction, writing both rows together) is
:mod:`gisgov.events.service`'s, so these rules are tested without a workspace.

The loop (上报 → 受理 → 办结 → 核查 → 结案)::

    reported --accept--> accepted --resolve--> resolved --verify--> verified --close--> closed
       ^                    |  ^                  |                    |                  |
       +-------return-------+  +------return------+--------return------+                  |
       +-------------------------------------reopen---------------------------------------+

- ``verify`` must be done by someone other than the resolver (核查 is a second pair of eyes).
- ``return`` (退回) and ``reopen`` (重新打开) need a reason (``note``).
- ``escalate`` (吹哨) moves an open event (reported or accepted) one level up — grid →
  community → subdistrict → department — with a reason; it then waits to be accepted at the
  new level with a new due time from the catalogue. At department level it is dispatched to a
  stationed unit, which reports (报到) by accepting it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from gisgov.errors import ValidationError
from gisgov.events.catalogue import Catalogue
from gisgov.layers import EVENT_LEVELS

__all__ = [
    "ACTIONS",
    "ACTION_LABELS",
    "LEVEL_LABELS",
    "OPEN_STATUSES",
    "STATUS_LABELS",
    "TZ",
    "Step",
    "apply_action",
    "format_time",
    "is_overdue",
    "parse_time",
]

#: Times are kept in China Standard Time, written with their offset.
TZ = "Asia/Shanghai"
#: Times outside these are typing errors (and far ones would overflow a due-time sum).
_EARLIEST = pd.Timestamp("2000-01-01", tz=TZ)
_LATEST = pd.Timestamp("2100-01-01", tz=TZ)

STATUS_LABELS = {"reported": "待受理", "accepted": "已受理", "resolved": "已办结",
                 "verified": "已核查", "closed": "已结案"}
LEVEL_LABELS = {"grid": "网格", "community": "社区", "subdistrict": "街道",
                "department": "部门"}
ACTION_LABELS = {"report": "上报", "accept": "受理", "resolve": "办结", "verify": "核查",
                 "close": "结案", "return": "退回", "reopen": "重新打开", "escalate": "吹哨"}
#: Actions ``act`` takes (``report`` is its own command).
ACTIONS = ("accept", "resolve", "verify", "close", "return", "reopen", "escalate")
#: Statuses still in the handler's hands: these go overdue and are escalated by the sweep.
OPEN_STATUSES = ("reported", "accepted")

#: action: (statuses it starts from, status it leads to; None = decided by the action).
_MOVES: dict[str, tuple[tuple[str, ...], str | None]] = {
    "accept": (("reported",), "accepted"),
    "resolve": (("accepted",), "resolved"),
    "verify": (("resolved",), "verified"),
    "close": (("verified",), "closed"),
    "return": (("accepted", "resolved", "verified"), None),
    "reopen": (("closed",), "reported"),
    "escalate": (OPEN_STATUSES, "reported"),
}
#: What must come first, to say so when a step is skipped.
_NEEDS = {"resolve": "受理", "verify": "办结", "close": "核查", "accept": "上报或退回",
          "reopen": "结案", "return": "受理", "escalate": "上报或受理"}


def parse_time(value: Any) -> pd.Timestamp:
    """A time given as ISO-8601 (or a timestamp), in China Standard Time.

    A time without an offset is read as China Standard Time (+08:00), the only zone the
    grids work in.
    """
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise ValidationError(
            f"时间 {value!r} 不是 ISO-8601 格式; 例如 2026-03-01T09:30:00+08:00"
        ) from None
    if pd.isna(ts):
        raise ValidationError(f"时间 {value!r} 为空")
    ts = ts.tz_localize(TZ) if ts.tzinfo is None else ts.tz_convert(TZ)
    if not _EARLIEST <= ts <= _LATEST:
        raise ValidationError(f"时间 {value!r} 超出范围 (2000–2100 年)")
    return ts


def format_time(ts: pd.Timestamp) -> str:
    """``2026-03-01T09:30:00+08:00``: to the second, always the same offset (so sortable)."""
    return parse_time(ts).floor("s").isoformat()


def is_overdue(row: dict[str, Any], now: pd.Timestamp) -> bool:
    """Whether an open (reported or accepted) event's due time has passed at ``now``."""
    due = row.get("due")
    return (row.get("status") in OPEN_STATUSES and isinstance(due, str)
            and parse_time(due) < now)


@dataclass(frozen=True)
class Step:
    """One action on one event: who, when, why (and the unit chosen for a dispatch)."""

    action: str
    actor: str | None
    at: pd.Timestamp
    note: str | None = None
    unit_id: str | None = None


def apply_action(row: dict[str, Any], step: Step, catalogue: Catalogue
                 ) -> tuple[dict[str, Any], dict[str, Any]]:
    """The event after ``step`` and its log entry (without ``id``/``seq``).

    Parameters
    ----------
    row
        The event as stored (status, level, due, …).
    step
        The action.
    catalogue
        Gives the hours allowed at a level (for the due time after an escalation or a
        reopen).

    Raises
    ------
    ValidationError
        The action does not follow from the event's status (a skipped step), a reason is
        missing, the verifier is the resolver, or the event is at department level already.
    """
    if step.action not in _MOVES:
        raise ValidationError(
            f"未知的操作 {step.action!r}; 可选: {', '.join(ACTIONS)}"
        )
    status, level = str(row["status"]), str(row["level"])
    sources, target = _MOVES[step.action]
    label = ACTION_LABELS[step.action]
    if status not in sources:
        raise ValidationError(
            f"事件 {row['id']} 当前为{STATUS_LABELS.get(status, status)}({status}), 不能{label}"
            f"({step.action}): 须先{_NEEDS[step.action]}; 未做任何更改"
        )
    last = row.get("updated_at") or row.get("reported_at")
    if isinstance(last, str) and step.at < parse_time(last):
        raise ValidationError(
            f"操作时间 {format_time(step.at)} 早于事件 {row['id']} 的上次更新 {last}; "
            "未做任何更改"
        )
    note = (step.note or "").strip() or None
    if step.action in ("return", "reopen", "escalate") and not note:
        raise ValidationError(f"{label}({step.action}) 须写明理由 (--note); 未做任何更改")
    new = dict(row)
    when = format_time(step.at)
    new_level = level
    if step.action == "accept":
        new["accepted_at"] = when
    elif step.action == "resolve":
        new["resolved_at"], new["resolved_by"] = when, step.actor
    elif step.action == "verify":
        _check_verifier(row, step)
        new["verified_at"], new["verified_by"] = when, step.actor
    elif step.action == "close":
        new["closed_at"] = when
    elif step.action == "return":
        # Back one stage: a resolution that failed the check goes back to the handler; an
        # accepted event the handler cannot take goes back to await acceptance.
        target = "reported" if status == "accepted" else "accepted"
        _clear(new, "verified_at", "verified_by", "resolved_at", "resolved_by")
        if status == "accepted":
            _clear(new, "accepted_at")
    elif step.action == "reopen":
        _clear(new, "accepted_at", "resolved_at", "resolved_by", "verified_at",
               "verified_by", "closed_at")
        new["due"] = format_time(step.at + _hours(catalogue, row, level))
    else:  # escalate
        new_level = _next_level(row, level)
        new["level"] = new_level
        new["escalations"] = int(row.get("escalations") or 0) + 1
        _clear(new, "accepted_at")
        new["handler_id"] = row.get("handler_id") if new_level == "grid" else None
        new["unit_id"] = step.unit_id if new_level == "department" else None
        new["due"] = format_time(step.at + _hours(catalogue, row, new_level))
    assert target is not None
    new["status"] = target
    new["updated_at"] = when
    log = {"event_id": row["id"], "action": step.action, "actor": step.actor, "at": when,
           "note": note, "from_status": status, "to_status": target, "from_level": level,
           "to_level": new_level, "grid_code": row.get("grid_code"),
           "unit_id": new.get("unit_id")}
    return new, log


def _check_verifier(row: dict[str, Any], step: Step) -> None:
    if not step.actor:
        raise ValidationError("核查(verify) 须写明核查人 (--by); 未做任何更改")
    if step.actor == row.get("resolved_by"):
        raise ValidationError(
            f"核查人不能是办结人 ({step.actor}): 请由他人核查; 未做任何更改"
        )


def _next_level(row: dict[str, Any], level: str) -> str:
    i = EVENT_LEVELS.index(level)
    if i + 1 >= len(EVENT_LEVELS):
        raise ValidationError(
            f"事件 {row['id']} 已在部门层级, 不能再吹哨; 请督办报到单位; 未做任何更改"
        )
    return EVENT_LEVELS[i + 1]


def _hours(catalogue: Catalogue, row: dict[str, Any], level: str) -> pd.Timedelta:
    return pd.Timedelta(hours=catalogue.hours(str(row["category"]), level))


def _clear(row: dict[str, Any], *cols: str) -> None:
    for c in cols:
        row[c] = None
