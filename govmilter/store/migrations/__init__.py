"""Alembic migrations of the incident store (run by :func:`govmilter.store.database.migrate`)."""
