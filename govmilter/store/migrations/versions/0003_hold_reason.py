"""The reason a held message was held (the rule's hold_reason), for the quarantine list.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as table:
        table.add_column(sa.Column("hold_reason", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as table:
        table.drop_column("hold_reason")
