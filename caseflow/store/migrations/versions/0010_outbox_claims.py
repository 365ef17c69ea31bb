"""the outbox's claims: which attempt is sending an email, and until when

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs with defaults: SQLite needs no copy of the table.
    with op.batch_alter_table("outbound_emails", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("claim", sa.String(length=32), server_default=sa.text("''"), nullable=False)
        )
        batch_op.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbound_emails", schema=None) as batch_op:
        batch_op.drop_column("claimed_until")
        batch_op.drop_column("claim")
