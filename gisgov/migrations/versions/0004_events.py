"""events and event_log: 事, the closed loop and 吹哨 escalation (issue 15).

Frozen copies of the two layers as ``gisgov.layers`` defines them at this revision (a
migration must not change when the layer module does). A store that already holds the
tables (rebuilt by ``PostGISWorkspace._write_layer`` from the current schema) is left alone.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EVENT_TEXT = ("category", "text", "source", "reporter", "reported_at", "address",
               "external_id", "subdistrict_code", "community_code", "grid_code", "handler_id",
               "unit_id", "level", "status", "due")
_EVENT_TIMES = ("accepted_at", "resolved_at", "resolved_by", "verified_at", "verified_by",
                "closed_at", "updated_at")
_LOG_TEXT_1 = ("event_id",)
_LOG_TEXT_2 = ("action", "actor", "at", "note", "from_status", "to_status", "from_level",
               "to_level", "grid_code", "unit_id")


def upgrade() -> None:
    """Create both tables (with the GiST index on the events' points)."""
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "events" not in existing:
        op.create_table(
            "events",
            sa.Column("id", sa.Text(collation="C"), primary_key=True),
            *(sa.Column(c, sa.Text) for c in _EVENT_TEXT),
            sa.Column("escalations", sa.BigInteger),
            *(sa.Column(c, sa.Text) for c in _EVENT_TIMES),
            sa.Column("geometry", Geometry("POINT", srid=4326, spatial_index=False)),
        )
        op.create_index("ix_events_geometry", "events", ["geometry"], postgresql_using="gist")
    if "event_log" not in existing:
        op.create_table(
            "event_log",
            sa.Column("id", sa.Text(collation="C"), primary_key=True),
            *(sa.Column(c, sa.Text) for c in _LOG_TEXT_1),
            sa.Column("seq", sa.BigInteger),
            *(sa.Column(c, sa.Text) for c in _LOG_TEXT_2),
        )
        op.create_index("ix_event_log_event_id", "event_log", ["event_id"])


def downgrade() -> None:
    """Drop both tables."""
    op.execute("DROP TABLE IF EXISTS event_log")
    op.execute("DROP TABLE IF EXISTS events")
