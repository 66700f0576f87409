"""Alembic's environment: migrate over the connection :func:`govmilter.store.database.migrate`
hands in (``config.attributes["connection"]``); there is no alembic.ini."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    if connection.dialect.name == "postgresql":
        # gateways sharing one PostgreSQL store may all start at once: one migrates, the
        # others wait here and then find the schema current
        connection.execute(text("SELECT pg_advisory_xact_lock(7203515)"))
    context.run_migrations()
