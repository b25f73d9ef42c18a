"""members.report_community_code: the community an in-service member reports to (双报到).

The assignment deploys reporting members from this community to others of its subdistrict
(issue 14). ``IF NOT EXISTS``: a store that met the column in data before this revision has
added it on write already (see ``PostGISWorkspace._write_layer``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Add the column."""
    op.execute("ALTER TABLE members ADD COLUMN IF NOT EXISTS report_community_code text")


def downgrade() -> None:
    """Drop the column."""
    op.execute("ALTER TABLE members DROP COLUMN IF EXISTS report_community_code")
