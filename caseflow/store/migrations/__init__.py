"""Alembic migrations of the Caseflow schema."""
