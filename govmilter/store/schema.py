"""The tables, in SQLAlchemy Core: the same definitions serve SQLite and PostgreSQL.

The migrations in :mod:`govmilter.store.migrations` create and change them; this module is
what the queries are written against. A change here needs a new migration.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    column,
    table,
)


class UtcDateTime(TypeDecorator[_dt.datetime]):
    """A UTC instant: stored without zone (SQLite keeps none), always read back as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> _dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, _dt.datetime) or value.tzinfo is None:
            raise ValueError("the store takes aware datetimes only")
        return value.astimezone(_dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> _dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, _dt.datetime)
        return value.replace(tzinfo=_dt.UTC)


metadata = MetaData()

incidents = Table(
    "incidents", metadata,
    Column("id", String(32), primary_key=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("gateway", String(255), nullable=False),
    Column("queue_id", String(32)),
    Column("rule_id", String(128), nullable=False),
    Column("action", String(16), nullable=False),
    Column("mode", String(16), nullable=False),
    Column("stage", String(8), nullable=False),
    Column("sender", Text, nullable=False),
    Column("sender_lower", Text, nullable=False),  # for the case-insensitive sender filter
    Column("sender_class", String(16), nullable=False),
    Column("authenticated", Boolean, nullable=False),
    Column("subject", Text),
    Column("document_class", String(16), nullable=False),
    Column("document_kind", String(128)),
    Column("document_number", String(255)),
    Column("issuer", Text),
    Column("secrecy", String(32)),
    Column("urgency", String(32)),
    Column("score", Float, nullable=False),
    Column("evidence", Text, nullable=False),  # a JSON list of strings
    Column("held", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    Column("status_changed_at", UtcDateTime(), nullable=False),
    Column("policy_sha256", String(64)),
    Column("hold_reason", Text),
    Column("sender_unit", String(64)),  # the policy's unit id of the sender (migration 0005)
    Index("ix_incidents_created_at", "created_at"),
    Index("ix_incidents_status", "status", "created_at"),
    Index("ix_incidents_queue_id", "queue_id"),
    Index("ix_incidents_sender_lower", "sender_lower"),
    Index("ix_incidents_rule_id", "rule_id"),
    # the console's filters, each with the list's order so a filtered page reads few rows
    Index("ix_incidents_action", "action", "created_at"),
    Index("ix_incidents_secrecy", "secrecy", "created_at"),
    Index("ix_incidents_held", "held", "status", "created_at"),
    Index("ix_incidents_document_number", "document_number"),
    Index("ix_incidents_created_id", "created_at", "id"),
    Index("ix_incidents_sender_unit", "sender_unit", "created_at"),  # migration 0006
)

incident_recipients = Table(
    "incident_recipients", metadata,
    Column("incident_id", String(32), ForeignKey("incidents.id", ondelete="CASCADE"),
           primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("address", Text, nullable=False),
    Column("domain_class", String(16), nullable=False),
    Column("rule_id", String(128), nullable=False),
    Column("action", String(16), nullable=False),
    Column("compliant", Boolean, nullable=False),
    Column("removed", Boolean, nullable=False),
    Index("ix_incident_recipients_rule_id", "rule_id"),
)

incident_attachments = Table(
    "incident_attachments", metadata,
    Column("incident_id", String(32), ForeignKey("incidents.id", ondelete="CASCADE"),
           primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Index("ix_incident_attachments_sha256", "sha256"),
)

incident_events = Table(
    "incident_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(32), ForeignKey("incidents.id", ondelete="CASCADE"),
           nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("status", String(16), nullable=False),
    Column("actor", String(255), nullable=False),
    Column("reason", Text, nullable=False),
    Index("ix_incident_events_incident_id", "incident_id"),
)

#: the key columns of a day's recipient count; ``count`` is added up on conflict
RECIPIENT_COUNT_KEY = ("day", "gateway", "flow", "document_class", "compliant", "rule_id",
                       "action", "mode", "unit")
daily_recipient_counts = Table(
    "daily_recipient_counts", metadata,
    Column("day", Date, primary_key=True),
    Column("gateway", String(255), primary_key=True),
    Column("flow", String(32), primary_key=True),
    Column("document_class", String(16), primary_key=True),
    Column("compliant", Boolean, primary_key=True),
    Column("rule_id", String(128), primary_key=True),
    Column("action", String(16), primary_key=True),
    Column("mode", String(16), primary_key=True),
    Column("unit", String(64), primary_key=True),  # "" for none (migration 0005)
    Column("count", BigInteger, nullable=False),
)

MESSAGE_COUNT_KEY = ("day", "gateway", "document_class", "compliant", "action", "mode", "unit")
daily_message_counts = Table(
    "daily_message_counts", metadata,
    Column("day", Date, primary_key=True),
    Column("gateway", String(255), primary_key=True),
    Column("document_class", String(16), primary_key=True),
    Column("compliant", Boolean, primary_key=True),
    Column("action", String(16), primary_key=True),
    Column("mode", String(16), primary_key=True),
    Column("unit", String(64), primary_key=True),
    Column("count", BigInteger, nullable=False),
)

#: count batches already added, so that a batch replayed from the journal is not counted twice
count_batches = Table(
    "count_batches", metadata,
    Column("id", String(64), primary_key=True),
    Column("applied_at", UtcDateTime(), nullable=False),
    Index("ix_count_batches_applied_at", "applied_at"),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("actor", String(255), nullable=False),
    Column("action", String(32), nullable=False),
    Column("incident_id", String(32)),
    Column("detail", Text, nullable=False),
    Index("ix_audit_log_at", "at"),
    Index("ix_audit_log_incident_id", "incident_id"),
)

#: the web console's local accounts (docs/console.md); only the argon2 hash of a password
console_accounts = Table(
    "console_accounts", metadata,
    Column("name", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("changed_at", UtcDateTime(), nullable=False),
)

#: SQLite only: the FTS5 trigram index of the searched text of each incident (migration 0004),
#: written by the store beside each incident; not part of ``metadata`` (a virtual table, made
#: and compared by the migration alone). ``search_id`` is the id again, searchable.
incident_text = table("incidents_text", column("id"), column("subject"), column("sender_lower"),
                      column("document_number"), column("search_id"))
#: names the migrations make outside ``metadata``: the FTS5 table with its shadow tables, and
#: PostgreSQL's pg_trgm indexes
OUTSIDE_METADATA_PREFIX = "incidents_text"
OUTSIDE_METADATA_SUFFIX = "_trgm"
