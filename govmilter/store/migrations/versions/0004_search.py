"""Text search that an index serves: trigrams of the subject, sender, document number and id.

SQLite: an FTS5 table with the trigram tokenizer (SQLite 3.34 or later), ``incidents_text``,
kept by :class:`govmilter.store.IncidentStore` itself when it adds and purges incidents (not
by triggers, which a batch migration that rebuilds ``incidents`` would silently drop).
PostgreSQL: pg_trgm's GIN indexes on the same columns, which ILIKE uses by itself. pg_trgm is a
trusted extension (PostgreSQL 13 or later: the database's owner may create it); where it cannot
be created the indexes are left out and the search reads every row, as before.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

#: the searched columns (incidents) and their pg_trgm index names
SEARCHED = ("subject", "sender_lower", "document_number", "id")
TRIGRAM_INDEXES = tuple((f"ix_incidents_{column}_trgm", column) for column in SEARCHED)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE incidents_text USING fts5("
                   "id UNINDEXED, subject, sender_lower, document_number, search_id, "
                   "tokenize='trigram')")
        op.execute("INSERT INTO incidents_text (id, subject, sender_lower, document_number, "
                   "search_id) SELECT id, subject, sender_lower, document_number, id "
                   "FROM incidents")
        return
    if bind.dialect.name != "postgresql":
        return
    savepoint = bind.begin_nested()
    try:
        bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError:
        savepoint.rollback()  # not allowed here: search without the index
        return
    savepoint.commit()
    for name, column in TRIGRAM_INDEXES:
        op.execute(f"CREATE INDEX {name} ON incidents USING gin ({column} gin_trgm_ops)")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS incidents_text")
        return
    for name, _ in TRIGRAM_INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
