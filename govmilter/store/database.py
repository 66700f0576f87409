"""Where the store lives and how it is opened: database URLs, the SQLite file, migrations.

``incidents.database`` in the policy and ``--database`` on the commands take a path (SQLite),
``sqlite:///path`` or ``postgresql://user@host/db`` (psycopg 3). A new SQLite file is made
with mode 0640 (the officers' group may read it; others may not), in WAL mode so the commands
read while the milter writes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from govmilter.errors import GovmilterError

if TYPE_CHECKING:
    from alembic.config import Config

#: Where the milter keeps its store unless told otherwise (systemd's StateDirectory=govmilter).
DEFAULT_DATABASE = "/var/lib/govmilter/incidents.sqlite3"
#: Mode of a new SQLite file (and, through SQLite, of its -wal and -shm files).
DATABASE_FILE_MODE = 0o640
#: How long a SQLite writer waits for another's lock before it reports the store busy.
SQLITE_BUSY_SECONDS = 5.0
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
#: Alembic keeps its migration context in module globals: one migration per process at a time
#: (other processes, other gateways, are kept apart by the database's own lock, see env.py).
_MIGRATING = threading.Lock()


class StoreError(GovmilterError):
    """The incident store cannot be opened, migrated or written."""


def database_url(database: str | None) -> str:
    """The SQLAlchemy URL for a policy's or a command's ``database`` (None: the default file).

    :raises StoreError: for a URL of a database the store does not support.
    """
    text = (database or DEFAULT_DATABASE).strip()
    if "://" not in text:
        return f"sqlite:///{os.path.abspath(text)}"
    try:
        url = make_url(text)
    except ArgumentError as exc:
        raise StoreError(f"invalid database URL: {exc}") from None
    backend = url.get_backend_name()
    if backend == "postgresql":
        return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if backend == "sqlite":
        return text
    raise StoreError(f"unsupported database {backend!r}: use a file path, sqlite:///PATH or "
                     "postgresql://USER@HOST/DB")


def describe(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


def describe_database(database: str | None) -> str:
    """A policy's or a command's ``database`` for messages and logs: password hidden."""
    try:
        return describe(database_url(database))
    except StoreError:
        return "(invalid database URL)"


def _prepare_sqlite_file(path: str) -> None:
    """Make the file's directory and the file itself (mode 0640) before SQLite opens it."""
    if path in ("", ":memory:"):
        return
    target = Path(path)
    try:
        target.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
        fd = os.open(target, os.O_CREAT | os.O_WRONLY, DATABASE_FILE_MODE)
        os.close(fd)
    except OSError as exc:
        raise StoreError(f"cannot create the incident store {path}: "
                         f"{exc.strerror or exc}") from None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at checkpoints, never corrupt
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_SECONDS * 1000)}")
    cursor.close()


def make_engine(url: str, *, connect_timeout: float = 5.0) -> Engine:
    """An engine for ``url`` (from :func:`database_url`); a SQLite file is created if missing."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _prepare_sqlite_file(parsed.database or "")
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=2,
                         connect_args={"connect_timeout": max(1, round(connect_timeout))})


# alembic is imported where a schema is read or changed, not with the package: every command
# line imports the store, and most never migrate.
def _alembic_config(connection: Any) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The schema version this govmilter's migrations lead to."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None
    return head


_REVISION_RE = re.compile(r"""^(down_revision|revision)\b[^=\n]*=\s*(?:["']([^"'\n]+)["']|None)""",
                          re.MULTILINE)


def shipped_head() -> str | None:
    """:func:`head_revision` read from the migration files themselves, without alembic; None
    when they cannot be read so (a file with another shape: then alembic decides)."""
    revisions: dict[str, str | None] = {}
    files = sorted((MIGRATIONS / "versions").glob("[0-9]*.py"))
    for path in files:
        found = dict((m.group(1), m.group(2)) for m in _REVISION_RE.finditer(path.read_text()))
        if "revision" not in found or not found["revision"] or "down_revision" not in found:
            return None
        revisions[found["revision"]] = found["down_revision"]
    heads = set(revisions) - set(revisions.values())
    return heads.pop() if len(revisions) == len(files) and len(heads) == 1 else None


def recorded_revision(engine: Engine) -> str | None:
    """The schema version the database records, read with plain SQL (None: no schema yet)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def is_current(engine: Engine) -> bool:
    """Whether the schema is at this govmilter's head, found without importing alembic (the
    daemon checks this at every start; alembic is needed only to change the schema).

    :raises StoreError: when the database cannot be reached.
    """
    try:
        return _at_head(engine)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot open the incident store {describe(str(engine.url))}: "
                         f"{short_error(exc)}") from None


def _at_head(engine: Engine) -> bool:
    head = shipped_head()
    return head is not None and recorded_revision(engine) == head


def current_revision(engine: Engine) -> str | None:
    """The schema version of the database (None: no schema yet)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@contextlib.contextmanager
def _sqlite_migration_lock(engine: Engine) -> Iterator[None]:
    """Keep other processes (the daemon, a command run at the same moment) from migrating the
    same SQLite file at once: SQLite runs DDL outside the transaction, so the second would find
    half a schema. A lock file beside the database, held with flock(2) while migrating."""
    parsed = engine.url
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        yield
        return
    fd = os.open(f"{parsed.database}.migrate-lock", os.O_RDWR | os.O_CREAT, DATABASE_FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def migrate(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to the head revision; returns (before, after).

    :raises StoreError: when the database cannot be reached or a migration fails.
    """
    try:
        with _MIGRATING, _sqlite_migration_lock(engine):
            if _at_head(engine):
                head = shipped_head() or ""
                return head, head
            before = current_revision(engine)
            if before != head_revision():
                from alembic import command

                with engine.begin() as connection:
                    command.upgrade(_alembic_config(connection), "head")
            return before, current_revision(engine) or ""
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot migrate the incident store {describe(str(engine.url))}: "
                         f"{short_error(exc)}") from None


def migrate_apart(url: str, timeout: float = 600.0) -> None:
    """:func:`migrate` in a child process (this module run as a program, the URL on its
    standard input so that no password shows in the process list).

    For the daemon: alembic and the migration scripts then never stay resident in the milter
    process (docs/performance.md).

    :raises StoreError: with the child's message when it could not migrate.
    """
    try:
        child = subprocess.run([sys.executable, "-B", "-m", "govmilter.store.database"],
                               input=url, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError) as exc:
        raise StoreError(f"cannot migrate the incident store {describe(url)}: "
                         f"{type(exc).__name__}") from None
    if child.returncode:
        lines = child.stderr.strip().splitlines()
        raise StoreError(lines[-1] if lines else f"cannot migrate the incident store "
                         f"{describe(url)}: exit status {child.returncode}")


def short_error(exc: SQLAlchemyError) -> str:
    """The driver's own message, first line, without SQLAlchemy's background link."""
    original = getattr(exc, "orig", None) or exc
    return str(original).strip().splitlines()[0] if str(original).strip() else type(exc).__name__


def file_mode(url: str) -> int | None:
    """The permission bits of a SQLite store's file (None for other databases)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return stat.S_IMODE(os.stat(parsed.database).st_mode)


def _migrate_from_stdin() -> int:
    """``python -m govmilter.store.database``: migrate the store whose URL is on standard input
    (:func:`migrate_apart`); its error, if any, as the last line of standard error."""
    url = sys.stdin.read().strip()
    engine = make_engine(url)
    try:
        migrate(engine)
    except StoreError as exc:
        print(exc, file=sys.stderr)
        return 1
    except Exception as exc:  # alembic's own (a revision this govmilter does not know)
        print(f"cannot migrate the incident store {describe(url)}: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(_migrate_from_stdin())
