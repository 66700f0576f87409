"""The web console's local accounts, kept in the incident store (docs/console.md).

Only a password's hash is stored (argon2, made by :mod:`govmilter.console.accounts`); this
module never sees a password. A name is unique; an account is disabled, never reused, so the
audit log's names keep meaning one person.
"""

from __future__ import annotations

import datetime as _dt
import enum
import re
from dataclasses import dataclass

from sqlalchemy import select, update

from govmilter.store import schema
from govmilter.store.database import StoreError
from govmilter.store.store import IncidentStore

#: Account names: letters, digits and . _ - @ (an agency's login or mail address), 64 at most.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


class Role(enum.StrEnum):
    """What an account may do; each role may do what the ones before it may."""

    VIEWER = "viewer"  #: read the overview, incidents, held mail, the audit log
    OFFICER = "officer"  #: and release or delete held mail
    ADMIN = "admin"  #: and manage accounts

    def may(self, needed: Role) -> bool:
        """Whether this role includes ``needed``."""
        order = list(Role)
        return order.index(self) >= order.index(needed)


@dataclass(frozen=True, slots=True)
class Account:
    """One console account (its password hash stays in the store but for :func:`hash_of`)."""

    name: str
    role: Role
    disabled: bool
    created_at: _dt.datetime
    changed_at: _dt.datetime


def check_name(name: str) -> str:
    """``name`` when it is a valid account name.

    :raises StoreError: otherwise.
    """
    if not NAME_PATTERN.fullmatch(name):
        raise StoreError(f"invalid account name {name!r}: letters, digits and . _ - @, "
                         "starting with a letter or digit, 64 at most")
    return name


def save_account(store: IncidentStore, name: str, role: Role, password_hash: str,
                 actor: str) -> Account:
    """Create the account, or set the role and password of an existing one (enabled again);
    audited as ``account`` by ``actor``."""
    check_name(name)
    t = schema.console_accounts
    now = _dt.datetime.now(_dt.UTC)
    with store._begin() as conn:
        exists = conn.scalar(select(t.c.name).where(t.c.name == name)) is not None
        if exists:
            conn.execute(update(t).where(t.c.name == name).values(
                role=role.value, password_hash=password_hash, disabled=False, changed_at=now))
        else:
            conn.execute(t.insert(), {"name": name, "role": role.value,
                                      "password_hash": password_hash, "disabled": False,
                                      "created_at": now, "changed_at": now})
    store.audit(actor, "account", None,
                f"{'changed' if exists else 'created'} {name} as {role.value}")
    found = get_account(store, name)
    assert found is not None
    return found


def set_account(store: IncidentStore, name: str, actor: str, *, role: Role | None = None,
                disabled: bool | None = None) -> Account:
    """Change an account's role or disable/enable it; audited.

    :raises StoreError: when there is no such account.
    """
    t = schema.console_accounts
    values: dict[str, object] = {"changed_at": _dt.datetime.now(_dt.UTC)}
    said = []
    if role is not None:
        values["role"] = role.value
        said.append(f"role {role.value}")
    if disabled is not None:
        values["disabled"] = disabled
        said.append("disabled" if disabled else "enabled")
    with store._begin() as conn:
        changed = conn.execute(update(t).where(t.c.name == name).values(**values)).rowcount
    if not changed:
        raise StoreError(f"no console account {name!r}")
    store.audit(actor, "account", None, f"{name}: {', '.join(said) or 'unchanged'}")
    found = get_account(store, name)
    assert found is not None
    return found


def get_account(store: IncidentStore, name: str) -> Account | None:
    """The account of this name, or None."""
    t = schema.console_accounts
    with store._connect() as conn:
        row = conn.execute(select(t).where(t.c.name == name)).mappings().first()
    return _account(row) if row is not None else None


def hash_of(store: IncidentStore, name: str) -> str | None:
    """The password hash of an enabled account, or None (no such account, or disabled)."""
    t = schema.console_accounts
    with store._connect() as conn:
        return conn.scalar(select(t.c.password_hash)
                           .where(t.c.name == name, t.c.disabled.is_(False)))


def replace_hash(store: IncidentStore, name: str, password_hash: str) -> None:
    """Store a re-computed hash of the same password (argon2 parameters raised)."""
    t = schema.console_accounts
    with store._begin() as conn:
        conn.execute(update(t).where(t.c.name == name).values(password_hash=password_hash))


def list_accounts(store: IncidentStore) -> list[Account]:
    """Every account, by name."""
    t = schema.console_accounts
    with store._connect() as conn:
        rows = conn.execute(select(t).order_by(t.c.name)).mappings().all()
    return [_account(row) for row in rows]


def _account(row: object) -> Account:
    r = dict(row)  # type: ignore[call-overload]
    return Account(r["name"], Role(r["role"]), bool(r["disabled"]), r["created_at"],
                   r["changed_at"])
