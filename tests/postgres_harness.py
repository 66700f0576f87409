"""A real PostgreSQL for tests: a private cluster from Debian's packages, on a free loopback port.

``initdb`` makes the cluster in a new temporary directory, ``pg_ctl`` starts and stops it; its
unix socket stays in that directory too, so it never meets the system's cluster or another
test's. PostgreSQL refuses to run as root: as root the cluster belongs to the ``postgres``
user (Debian's package makes it) and its commands run as that user. Authentication is
``trust`` on loopback only: the cluster lives as long as the test session.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from postfix_harness import HarnessError, free_port, port_open, wait_until

#: The user that owns the cluster when the tests run as root.
CLUSTER_USER = "postgres"


def postgres_bin() -> Path | None:
    """Where initdb and pg_ctl are (Debian: /usr/lib/postgresql/N/bin), newest version first."""
    found = shutil.which("pg_ctl")
    if found and Path(found).with_name("initdb").exists():
        return Path(os.path.realpath(found)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                      key=lambda p: int(Path(p).parent.parent.name), reverse=True)
    return Path(versions[0]).parent if versions else None


def postgres_available() -> bool:
    """True when PostgreSQL's server programs are installed (and, as root, its user exists)."""
    if postgres_bin() is None:
        return False
    if os.geteuid() != 0:
        return True
    try:
        pwd.getpwnam(CLUSTER_USER)
    except KeyError:
        return False
    return True


class PostgresCluster:
    """One private cluster: :meth:`start`, :meth:`stop` (again and again), :meth:`destroy`."""

    def __init__(self) -> None:
        bin_dir = postgres_bin()
        if bin_dir is None:
            raise HarnessError("PostgreSQL is not installed (scripts/setup.sh installs it)")
        self.bin = bin_dir
        self.base = Path(tempfile.mkdtemp(prefix="govmilter-pg-"))
        self.data = self.base / "data"
        self.port = free_port()
        self._as_root = os.geteuid() == 0
        if self._as_root:
            entry = pwd.getpwnam(CLUSTER_USER)
            os.chown(self.base, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")

    def _run(self, program: str, *args: str, timeout: float = 120) -> None:
        result = subprocess.run([str(self.bin / program), *args], capture_output=True,
                                text=True, timeout=timeout, cwd=self.base,
                                user=CLUSTER_USER if self._as_root else None,
                                env={**os.environ, "LC_ALL": "C.UTF-8"})
        if result.returncode != 0:
            raise HarnessError(f"{program} failed ({result.returncode}): "
                               f"{result.stderr.strip() or result.stdout.strip()}")

    @property
    def running(self) -> bool:
        return port_open(self.port)

    def start(self) -> None:
        """Start the server (listening on 127.0.0.1 only) and wait until it takes connections."""
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} "
                   f"-c unix_socket_directories={self.base} -c fsync=off "
                   "-c full_page_writes=off -c max_connections=50")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.base / "server.log"),
                  "-o", options, "-w", "-t", "60", "start")
        wait_until(lambda: self.running, 30, f"PostgreSQL on port {self.port}")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: close sessions; ``immediate``: like a crash)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def url(self, database: str = "postgres") -> str:
        """The ``postgresql://`` URL of one database, as a policy or ``--database`` takes it."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its URL (one per test keeps tests apart)."""
        import psycopg

        name = name or f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def destroy(self) -> None:
        """Stop the server if it runs and remove its directory."""
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(HarnessError):
                self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresCluster]:
    """A started private cluster, destroyed afterwards."""
    cluster = PostgresCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()
