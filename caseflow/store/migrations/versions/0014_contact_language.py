"""the customer's language: contacts.language (en, it, pt; empty: the browser's or the default)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN with a constant default (not batch mode, which would copy `contacts`
    # on SQLite, and cannot while other tables' rows refer to it).
    op.add_column(
        "contacts",
        sa.Column("language", sa.String(length=10), server_default=sa.text("''"), nullable=False),
    )


def downgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("language")
