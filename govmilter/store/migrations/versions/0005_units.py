"""Units: the incident's sender unit, and the unit as one more key of the daily counts.

The daily count tables gain ``unit`` in their primary key, which neither SQLite nor a batch
migration changes in place: each table is rebuilt (a new table, the rows copied with the unit
``""``, none, the old one dropped and the new one renamed). Downgrading adds the units of a day
together again.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: each daily count table and its key columns before this revision (``unit`` is added last)
KEYS: dict[str, tuple[tuple[str, sa.types.TypeEngine[Any]], ...]] = {
    "daily_recipient_counts": (
        ("day", sa.Date()), ("gateway", sa.String(255)), ("flow", sa.String(32)),
        ("document_class", sa.String(16)), ("compliant", sa.Boolean()),
        ("rule_id", sa.String(128)), ("action", sa.String(16)), ("mode", sa.String(16)),
    ),
    "daily_message_counts": (
        ("day", sa.Date()), ("gateway", sa.String(255)), ("document_class", sa.String(16)),
        ("compliant", sa.Boolean()), ("action", sa.String(16)), ("mode", sa.String(16)),
    ),
}


def _rebuild(name: str, with_unit: bool) -> None:
    """Rebuild a daily count table with or without ``unit`` in its key, keeping its counts."""
    keys = [sa.Column(column, kind, primary_key=True) for column, kind in KEYS[name]]
    if with_unit:
        keys.append(sa.Column("unit", sa.String(64), primary_key=True))
    op.create_table(f"{name}_new", *keys, sa.Column("count", sa.BigInteger, nullable=False))
    names = ", ".join(column for column, _ in KEYS[name])
    if with_unit:
        op.execute(f"INSERT INTO {name}_new ({names}, unit, count) "
                   f"SELECT {names}, '', count FROM {name}")
    else:
        op.execute(f"INSERT INTO {name}_new ({names}, count) "
                   f"SELECT {names}, SUM(count) FROM {name} GROUP BY {names}")
    op.drop_table(name)
    op.rename_table(f"{name}_new", name)
    if op.get_bind().dialect.name == "postgresql":  # the key keeps the name it was made with
        op.execute(f"ALTER TABLE {name} RENAME CONSTRAINT {name}_new_pkey TO {name}_pkey")


def upgrade() -> None:
    with op.batch_alter_table("incidents") as table:
        table.add_column(sa.Column("sender_unit", sa.String(64)))
    for name in KEYS:
        _rebuild(name, with_unit=True)


def downgrade() -> None:
    for name in KEYS:
        _rebuild(name, with_unit=False)
    with op.batch_alter_table("incidents") as table:
        table.drop_column("sender_unit")
