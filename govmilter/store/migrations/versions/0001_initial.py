"""The first schema: incidents with recipients, attachments and history; daily counts; audit.

Revision ID: 0001
Revises:
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from govmilter.store.schema import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _cascade(column: str) -> sa.ForeignKey:
    return sa.ForeignKey(column, ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("gateway", sa.String(255), nullable=False),
        sa.Column("queue_id", sa.String(32)),
        sa.Column("rule_id", sa.String(128), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(8), nullable=False),
        sa.Column("sender", sa.Text, nullable=False),
        sa.Column("sender_lower", sa.Text, nullable=False),
        sa.Column("sender_class", sa.String(16), nullable=False),
        sa.Column("authenticated", sa.Boolean, nullable=False),
        sa.Column("subject", sa.Text),
        sa.Column("document_class", sa.String(16), nullable=False),
        sa.Column("document_kind", sa.String(128)),
        sa.Column("document_number", sa.String(255)),
        sa.Column("issuer", sa.Text),
        sa.Column("secrecy", sa.String(32)),
        sa.Column("urgency", sa.String(32)),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("held", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_changed_at", UtcDateTime(), nullable=False),
        sa.Column("policy_sha256", sa.String(64)),
    )
    op.create_index("ix_incidents_created_at", "incidents", ["created_at"])
    op.create_index("ix_incidents_status", "incidents", ["status", "created_at"])
    op.create_index("ix_incidents_queue_id", "incidents", ["queue_id"])
    op.create_index("ix_incidents_sender_lower", "incidents", ["sender_lower"])
    op.create_index("ix_incidents_rule_id", "incidents", ["rule_id"])

    op.create_table(
        "incident_recipients",
        sa.Column("incident_id", sa.String(32), _cascade("incidents.id"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("domain_class", sa.String(16), nullable=False),
        sa.Column("rule_id", sa.String(128), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("compliant", sa.Boolean, nullable=False),
        sa.Column("removed", sa.Boolean, nullable=False),
    )
    op.create_index("ix_incident_recipients_rule_id", "incident_recipients", ["rule_id"])

    op.create_table(
        "incident_attachments",
        sa.Column("incident_id", sa.String(32), _cascade("incidents.id"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_incident_attachments_sha256", "incident_attachments", ["sha256"])

    op.create_table(
        "incident_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.String(32), _cascade("incidents.id"), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_index("ix_incident_events_incident_id", "incident_events", ["incident_id"])

    op.create_table(
        "daily_recipient_counts",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("gateway", sa.String(255), primary_key=True),
        sa.Column("flow", sa.String(32), primary_key=True),
        sa.Column("document_class", sa.String(16), primary_key=True),
        sa.Column("compliant", sa.Boolean, primary_key=True),
        sa.Column("rule_id", sa.String(128), primary_key=True),
        sa.Column("action", sa.String(16), primary_key=True),
        sa.Column("mode", sa.String(16), primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "daily_message_counts",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("gateway", sa.String(255), primary_key=True),
        sa.Column("document_class", sa.String(16), primary_key=True),
        sa.Column("compliant", sa.Boolean, primary_key=True),
        sa.Column("action", sa.String(16), primary_key=True),
        sa.Column("mode", sa.String(16), primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "count_batches",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("applied_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_count_batches_applied_at", "count_batches", ["applied_at"])

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("incident_id", sa.String(32)),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_incident_id", "audit_log", ["incident_id"])


def downgrade() -> None:
    for table in ("audit_log", "count_batches", "daily_message_counts",
                  "daily_recipient_counts", "incident_events", "incident_attachments",
                  "incident_recipients", "incidents"):
        op.drop_table(table)
