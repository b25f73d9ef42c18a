"""members.grid_code (the member's grid) and households.estimated (position guessed).

``IF NOT EXISTS``: a store that met these columns in data before this revision has added
them on write already (see ``PostGISWorkspace._write_layer``).

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the two columns."""
    op.execute("ALTER TABLE members ADD COLUMN IF NOT EXISTS grid_code text")
    op.execute("ALTER TABLE households ADD COLUMN IF NOT EXISTS estimated boolean")


def downgrade() -> None:
    """Drop the two columns."""
    op.execute("ALTER TABLE households DROP COLUMN IF EXISTS estimated")
    op.execute("ALTER TABLE members DROP COLUMN IF EXISTS grid_code")
