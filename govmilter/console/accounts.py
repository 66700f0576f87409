"""Passwords of console accounts: argon2id hashes (argon2-cffi), checked in constant work.

A name that does not exist costs the same hash check as a wrong password, so the time of a
failed login does not tell which names exist.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from govmilter.store import IncidentStore, StoreError
from govmilter.store.accounts import Account, Role, get_account, hash_of, replace_hash, save_account

#: argon2-cffi's defaults (RFC 9106's second recommended profile: 64 MiB, 3 passes).
_HASHER = PasswordHasher()
#: The hash a login with an unknown name is checked against (never matches a password).
_DECOY = _HASHER.hash("govmilter-console-decoy-password")
#: Shortest password accepted by ``adduser``.
MIN_PASSWORD = 12


def add_account(store: IncidentStore, name: str, role: Role, password: str,
                actor: str) -> Account:
    """Create (or reset) an account with this password.

    :raises StoreError: for an invalid name or a password shorter than :data:`MIN_PASSWORD`.
    """
    if len(password) < MIN_PASSWORD:
        raise StoreError(f"the password must have at least {MIN_PASSWORD} characters")
    return save_account(store, name, role, _HASHER.hash(password), actor)


def authenticate(store: IncidentStore, name: str, password: str) -> Account | None:
    """The enabled account when ``password`` is its password, else None."""
    stored = hash_of(store, name) if name else None
    try:
        _HASHER.verify(stored or _DECOY, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if stored is None:
        return None
    if _HASHER.check_needs_rehash(stored):
        replace_hash(store, name, _HASHER.hash(password))
    return get_account(store, name)
