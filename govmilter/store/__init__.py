"""The incident store: incidents, their history, daily traffic counts and the audit log.

SQLite by default (one file, WAL), PostgreSQL when several gateways share one store; the schema
is versioned by Alembic migrations (:mod:`.database`). :class:`IncidentStore` is the one query
API for the commands, the milter's writer thread and a web console: list with filters and
paging, get, export, status changes with their audit trail, purge.

May import the pure layers (``mail``, ``domains``, ``document``, ``policy``, ``scan``); never
``server``, ``tools`` or ``console``.
"""

from govmilter.store.database import DEFAULT_DATABASE, StoreError, database_url
from govmilter.store.records import (
    AttachmentRecord,
    AuditEntry,
    DailyMessageCount,
    DailyRecipientCount,
    Incident,
    IncidentPage,
    IncidentQuery,
    IncidentStatus,
    RecipientRecord,
    StatusChange,
)
from govmilter.store.store import IncidentStore, open_store

__all__ = [
    "DEFAULT_DATABASE", "AttachmentRecord", "AuditEntry", "DailyMessageCount",
    "DailyRecipientCount", "Incident", "IncidentPage", "IncidentQuery", "IncidentStatus",
    "IncidentStore", "RecipientRecord", "StatusChange", "StoreError", "database_url",
    "open_store",
]
