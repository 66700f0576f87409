"""Fixtures shared across test modules: the real DNS server."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest
from dns_harness import DNSMASQ, DnsServer, running_dnsmasq, silent_socket
from postfix_harness import require


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
