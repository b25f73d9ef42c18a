"""Audit log of personal-data access and exports (PIPL art. 51, GB/T 35273 processing records).

Kept as the workspace table ``audit_log`` (who, what, when) in the same store as the data, so
an audit record and the read it describes share one backup and one permission model.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["AUDIT_TABLE", "read_audit", "record_access"]

AUDIT_TABLE = "audit_log"


def record_access(
    workspace: Any,
    *,
    actor: str,
    action: str,
    target: str,
    detail: str = "",
    when: pd.Timestamp | None = None,
) -> None:
    """Append one record to the audit log.

    Parameters
    ----------
    workspace
        The workspace whose data was read or exported.
    actor
        Who: an API key id with its role (``key:3f2a/coordinator``) or ``cli:<user>``.
    action
        What kind of access: ``read_personal``, ``export``, ``lookup`` …
    target
        What was accessed (layer, feature ids, file).
    detail
        Anything else worth keeping (row counts, filters).
    when
        Timestamp (UTC); now by default.
    """
    stamp = when if when is not None else pd.Timestamp.now(tz="UTC")
    row = pd.DataFrame(
        {
            "at": [stamp.isoformat()],
            "actor": [actor],
            "action": [action],
            "target": [target],
            "detail": [detail],
        }
    )
    workspace.write_table(AUDIT_TABLE, row, mode="append", bump_version=False)


def read_audit(workspace: Any) -> pd.DataFrame:
    """The audit log, oldest first (empty frame when nothing was recorded)."""
    if not workspace.has_table(AUDIT_TABLE):
        return pd.DataFrame(columns=["at", "actor", "action", "target", "detail"])
    frame = pd.DataFrame(workspace.read_table(AUDIT_TABLE))
    return frame.sort_values("at", kind="stable").reset_index(drop=True)
