"""customers and routing: per-channel entitlement counts, the channel of each use, rule agents

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("entitlements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel_counts", sa.JSON(), nullable=True))
    with op.batch_alter_table("entitlement_uses", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("channel", sa.String(length=20), server_default=sa.text("''"), nullable=False)
        )
    with op.batch_alter_table("routing_rules", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agent_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_routing_rules_agent_id_agents"), "agents", ["agent_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("routing_rules", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_routing_rules_agent_id_agents"), type_="foreignkey")
        batch_op.drop_column("agent_id")
    with op.batch_alter_table("entitlement_uses", schema=None) as batch_op:
        batch_op.drop_column("channel")
    with op.batch_alter_table("entitlements", schema=None) as batch_op:
        batch_op.drop_column("channel_counts")
