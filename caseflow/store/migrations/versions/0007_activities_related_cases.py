"""activities, related cases (parent / child, merge) and stage requirements

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_activities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_number", sa.String(length=32), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_by", sa.String(length=100), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=False),
        sa.Column("time_spent_minutes", sa.Integer(), nullable=False),
        sa.Column("billable_minutes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_activities")),
        sa.UniqueConstraint(
            "case_number", "activity_id", name=op.f("uq_case_activities_case_number")
        ),
    )
    with op.batch_alter_table("case_activities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_case_activities_case_number"), ["case_number"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_case_activities_owner"), ["owner"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_activities_status"), ["status"], unique=False)

    op.create_table(
        "stage_requirements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stage_requirements")),
        sa.UniqueConstraint("stage", name=op.f("uq_stage_requirements_stage")),
    )

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_number", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("merged_into", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_cases_parent_number"), ["parent_number"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_merged_into"), ["merged_into"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_merged_into"))
        batch_op.drop_index(batch_op.f("ix_cases_parent_number"))
        batch_op.drop_column("merged_into")
        batch_op.drop_column("parent_number")
    op.drop_table("stage_requirements")
    with op.batch_alter_table("case_activities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_activities_status"))
        batch_op.drop_index(batch_op.f("ix_case_activities_owner"))
        batch_op.drop_index(batch_op.f("ix_case_activities_case_number"))
    op.drop_table("case_activities")
