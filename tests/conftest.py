"""Fixtures shared across test modules: the real DNS server, the real PostgreSQL."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator

import pytest
from dns_harness import DNSMASQ, DnsServer, running_dnsmasq, silent_socket
from postfix_harness import require
from postgres_harness import PostgresCluster, postgres_available, running_postgres


@pytest.fixture(scope="session")
def silent() -> Iterator[socket.socket]:
    """A UDP socket on loopback that receives DNS queries and never answers."""
    with silent_socket() as sock:
        yield sock


@pytest.fixture(scope="session")
def dns_server(silent: socket.socket, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[DnsServer]:
    """dnsmasq with the test zones, for the whole run."""
    require(os.path.exists(DNSMASQ), "dnsmasq is missing: scripts/setup.sh installs it")
    with running_dnsmasq(tmp_path_factory.mktemp("dnsmasq"), int(silent.getsockname()[1])
                         ) as server:
        yield server


POSTGRES_MISSING = "PostgreSQL's server is missing: scripts/setup.sh installs it"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A private PostgreSQL cluster shared by the whole run; take a database of your own with
    ``postgres.create_database()``. Tests that stop the server use ``postgres_factory``."""
    require(postgres_available(), POSTGRES_MISSING)
    with running_postgres() as cluster:
        yield cluster


@pytest.fixture
def postgres_factory() -> Iterator[Callable[[], PostgresCluster]]:
    """Make private clusters of the test's own (started); each is destroyed after the test."""
    require(postgres_available(), POSTGRES_MISSING)
    made: list[PostgresCluster] = []

    def make() -> PostgresCluster:
        cluster = PostgresCluster()
        made.append(cluster)
        cluster.start()
        return cluster

    yield make
    for cluster in made:
        cluster.destroy()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_database(request: pytest.FixtureRequest) -> str:
    """A new, empty incident store's ``database`` setting: a SQLite file, then a PostgreSQL
    database of the shared cluster (each test runs once on each)."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("tmp_path") / "incidents.sqlite3")
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return cluster.create_database()
