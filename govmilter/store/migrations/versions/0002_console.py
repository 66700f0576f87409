"""The web console: its local accounts, and indexes for the incident list's filters.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from govmilter.store.schema import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: (name, columns) of the indexes the console's filters and keyset paging read
INDEXES = (
    ("ix_incidents_action", ["action", "created_at"]),
    ("ix_incidents_secrecy", ["secrecy", "created_at"]),
    ("ix_incidents_held", ["held", "status", "created_at"]),
    ("ix_incidents_document_number", ["document_number"]),
    ("ix_incidents_created_id", ["created_at", "id"]),
)


def upgrade() -> None:
    op.create_table(
        "console_accounts",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("changed_at", UtcDateTime(), nullable=False),
    )
    for name, columns in INDEXES:
        op.create_index(name, "incidents", columns)


def downgrade() -> None:
    for name, _ in INDEXES:
        op.drop_index(name, "incidents")
    op.drop_table("console_accounts")
