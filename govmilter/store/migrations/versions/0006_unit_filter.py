"""The incident list's unit filter: an index on the sender's unit in the list's order.

Incidents stored before revision 0005 have no unit (NULL); the filter for mail from no unit
finds them together with those whose sender was in no unit.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_incidents_sender_unit", "incidents", ["sender_unit", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_incidents_sender_unit", "incidents")
