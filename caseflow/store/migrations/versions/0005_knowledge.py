"""knowledge base: products, versions, use counts and a full-text index of articles

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

The full-text index is made here and not by the models, which cannot describe it:
- SQLite: an FTS5 table `knowledge_fts` over `knowledge_articles.search_terms` (external content,
  so the terms are stored once), kept in step by triggers in the same transaction as every write.
  A later migration that rebuilds `knowledge_articles` in batch mode drops these triggers with the
  old table and must create them again (`create_sqlite_index`).
- PostgreSQL: a GIN index on the terms as a tsvector (`TERMS_VECTOR`, the expression that
  `caseflow.store.knowledge` searches with).
Existing articles get their terms, version 1 in `article_versions`, and their index entries.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from caseflow.store.textsearch import index_terms

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FTS_TABLE = "knowledge_fts"
SEARCH_INDEX = "ix_knowledge_articles_search"
TERMS_VECTOR = "array_to_tsvector(string_to_array(search_terms, ' '))"
SQLITE_INDEX = (
    # `ascii`: the terms are already folded and stemmed; it splits them at the spaces only.
    f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(search_terms, content='knowledge_articles',"
    " content_rowid='id', tokenize='ascii')",
    f"""CREATE TRIGGER {FTS_TABLE}_insert AFTER INSERT ON knowledge_articles BEGIN
        INSERT INTO {FTS_TABLE}(rowid, search_terms) VALUES (new.id, new.search_terms);
    END""",
    f"""CREATE TRIGGER {FTS_TABLE}_delete AFTER DELETE ON knowledge_articles BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search_terms)
        VALUES ('delete', old.id, old.search_terms);
    END""",
    f"""CREATE TRIGGER {FTS_TABLE}_update AFTER UPDATE OF search_terms ON knowledge_articles BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, search_terms)
        VALUES ('delete', old.id, old.search_terms);
        INSERT INTO {FTS_TABLE}(rowid, search_terms) VALUES (new.id, new.search_terms);
    END""",
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')",
)


def upgrade() -> None:
    with op.batch_alter_table("knowledge_articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("product", sa.String(length=100), nullable=True))
        batch_op.add_column(
            sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False)
        )
        batch_op.add_column(
            sa.Column("use_count", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column(
                "updated_by", sa.String(length=100), server_default=sa.text("''"), nullable=False
            )
        )
        batch_op.add_column(
            sa.Column("search_terms", sa.Text(), server_default=sa.text("''"), nullable=False)
        )
        batch_op.create_index(
            batch_op.f("ix_knowledge_articles_product"), ["product"], unique=False
        )
    op.execute("UPDATE knowledge_articles SET updated_at = created_at")
    with op.batch_alter_table("knowledge_articles", schema=None) as batch_op:
        batch_op.alter_column(
            "updated_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )

    op.create_table(
        "article_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("keywords", sa.String(length=500), nullable=False),
        sa.Column("product", sa.String(length=100), nullable=True),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("saved_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["knowledge_articles.id"],
            name=op.f("fk_article_versions_article_id_knowledge_articles"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_versions")),
        sa.UniqueConstraint("article_id", "version", name=op.f("uq_article_versions_article_id")),
    )
    op.create_table(
        "article_uses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("case_number", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["knowledge_articles.id"],
            name=op.f("fk_article_uses_article_id_knowledge_articles"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_uses")),
        sa.UniqueConstraint("case_number", "seq", name=op.f("uq_article_uses_case_number")),
    )
    with op.batch_alter_table("article_uses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_article_uses_article_id"), ["article_id"], unique=False
        )

    _index_existing_articles()
    if op.get_bind().dialect.name == "sqlite":
        create_sqlite_index()
    else:
        op.create_index(
            SEARCH_INDEX, "knowledge_articles", [sa.text(TERMS_VECTOR)], postgresql_using="gin"
        )


def _index_existing_articles() -> None:
    """Terms and a first version for the articles there already are (the demo seed's)."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT id, title, keywords, body, published, created_at FROM knowledge_articles")
    ).all()
    for row in rows:
        bind.execute(
            sa.text("UPDATE knowledge_articles SET search_terms = :terms WHERE id = :id"),
            {"terms": index_terms(row.title, row.keywords, row.body), "id": row.id},
        )
        bind.execute(
            sa.text(
                "INSERT INTO article_versions (article_id, version, title, body, keywords,"
                " published, saved_at, saved_by) VALUES (:id, 1, :title, :body, :keywords,"
                " :published, :saved_at, 'migration')"
            ),
            {
                "id": row.id,
                "title": row.title,
                "body": row.body,
                "keywords": row.keywords,
                "published": row.published,
                "saved_at": row.created_at,
            },
        )


def create_sqlite_index() -> None:
    for statement in SQLITE_INDEX:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {FTS_TABLE}_{trigger}")
        op.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    else:
        op.drop_index(SEARCH_INDEX, table_name="knowledge_articles")
    with op.batch_alter_table("article_uses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_article_uses_article_id"))
    op.drop_table("article_uses")
    op.drop_table("article_versions")
    with op.batch_alter_table("knowledge_articles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_knowledge_articles_product"))
        batch_op.drop_column("search_terms")
        batch_op.drop_column("updated_by")
        batch_op.drop_column("updated_at")
        batch_op.drop_column("use_count")
        batch_op.drop_column("version")
        batch_op.drop_column("product")
