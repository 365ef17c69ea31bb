"""the customer portal: account administrators, one-time sign-in links, sessions, deflections

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _by_contact(table: str, *more: sa.Column[object]) -> None:
    """A table of tokens (their keyed hashes) that each sign one contact in."""
    op.create_table(
        table,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        *more,
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f(f"fk_{table}_contact_id_contacts"),
            ondelete="CASCADE",
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("token_hash", name=op.f(f"uq_{table}_token_hash")),
    )
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_{table}_contact_id"), ["contact_id"], unique=False)


def upgrade() -> None:
    # A plain ADD COLUMN with a string default: SQLite needs no copy of `contacts`.
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("account_admin", sa.Boolean(), server_default="0", nullable=False)
        )
    _by_contact("portal_links", sa.Column("used_at", sa.DateTime(timezone=True), nullable=True))
    _by_contact("portal_sessions")
    op.create_table(
        "portal_article_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visitor", sa.String(length=64), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("case_number", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_article_views")),
    )
    with op.batch_alter_table("portal_article_views", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_portal_article_views_visitor"), ["visitor"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_portal_article_views_opened_at"), ["opened_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("portal_article_views", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_article_views_opened_at"))
        batch_op.drop_index(batch_op.f("ix_portal_article_views_visitor"))
    op.drop_table("portal_article_views")
    for table in ("portal_sessions", "portal_links"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{table}_contact_id"))
        op.drop_table(table)
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("account_admin")
