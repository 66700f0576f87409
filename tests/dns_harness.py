"""A real DNS server for tests: dnsmasq (Debian) on a free loopback port, with test zones.

The zones hold consumer-hosted, business-hosted, plain, look-alike and non-existent domains;
``silent.example`` is forwarded to a loopback socket that never answers. Used by the DNS tests
and by the milter tests that check the daemon still answers in time when DNS is silent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import dns.exception
import dns.resolver
from postfix_harness import stop_process

from govmilter.domains.settings import DnsSettings, Nameserver

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"

RECORDS = [
    "--local=/example/", "--local=/gov.vn/", "--local=/test/",  # unknown names: NXDOMAIN
    "--local-ttl=300",
    # custom domains on consumer webmail
    "--mx-host=familie.example,gmail-smtp-in.l.google.com,5",
    "--mx-host=familie.example,alt1.gmail-smtp-in.l.google.com,10",
    "--mx-host=hotmail-custom.example,hotmail-custom-example.olc.protection.outlook.com,10",
    "--mx-host=yahoo-custom.example,mta6.am0.yahoodns.net,1",
    # business hosting on the same infrastructure
    "--mx-host=workspace.example,aspmx.l.google.com,1",
    "--mx-host=workspace.example,alt1.aspmx.l.google.com,5",
    "--mx-host=m365.example,m365-example.mail.protection.outlook.com,0",
    "--mx-host=yahoo-biz.example,mx-biz.mail.am0.yahoodns.net,1",
    # a company running its own mail, and a name with an address but no MX
    "--mx-host=partner.example,mx.partner.example,10",
    "--host-record=nomx.example,192.0.2.10",
    # official names: the suffix, an agency with MX, an agency with only an address, and
    # mid.gov.vn, which exists although it is one edit from mic.gov.vn
    "--mx-host=gov.vn,mx.gov.vn,10",
    "--mx-host=mic.gov.vn,mail.mic.gov.vn,10",
    "--host-record=hanoi.gov.vn,192.0.2.20",
    "--mx-host=mid.gov.vn,mail.mid.gov.vn,10",
]


@dataclasses.dataclass
class DnsServer:
    """A running dnsmasq and the silent socket behind ``silent.example``."""

    port: int
    silent_port: int
    log: Path

    def queries(self, name: str) -> int:
        """How many queries for ``name`` reached the server (its --log-queries log)."""
        marker = f"] {name} from "
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return sum(1 for line in text.splitlines() if "query[" in line and marker in line)

    def settings(self, **changes: object) -> DnsSettings:
        base = DnsSettings(nameservers=(Nameserver("127.0.0.1", self.port),), timeout=1.0,
                           budget=2.0)
        return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def _free_port() -> int:
    """A port free for both UDP and TCP on loopback (dnsmasq listens on both)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port


def _answers(port: int) -> bool:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = port
    try:
        resolver.resolve("gov.vn.", "MX", lifetime=0.5)
    except dns.exception.DNSException:
        return False
    return True


@contextlib.contextmanager
def silent_socket() -> Iterator[socket.socket]:
    """A UDP socket on loopback that receives queries and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock
    finally:
        sock.close()


@contextlib.contextmanager
def running_dnsmasq(directory: Path, silent_port: int) -> Iterator[DnsServer]:
    """dnsmasq in the foreground on a free loopback port, stopped on exit."""
    directory.chmod(0o777)  # dnsmasq started as root drops to "nobody" and then writes its log
    error = ""
    for _attempt in range(5):  # another test may grab the port between probe and start
        port = _free_port()
        log = directory / f"queries-{port}.log"
        process = subprocess.Popen(
            [DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
             "--pid-file=", f"--port={port}", "--listen-address=127.0.0.1", "--bind-interfaces",
             "--log-queries", f"--log-facility={log}",
             f"--server=/silent.example/127.0.0.1#{silent_port}", *RECORDS],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and process.poll() is None and not _answers(port):
            time.sleep(0.05)
        if process.poll() is None:
            break
        error = process.stderr.read().decode() if process.stderr else ""
        process.wait()
    else:
        raise RuntimeError(f"dnsmasq did not start: {error}")
    try:
        yield DnsServer(port, silent_port, log)
    finally:
        stop_process(process, 5)
        if process.stderr:
            process.stderr.close()


def silent_settings(silent: socket.socket, **changes: object) -> DnsSettings:
    """Settings that send every query to the silent socket."""
    port = int(silent.getsockname()[1])
    return dataclasses.replace(
        DnsSettings(nameservers=(Nameserver("127.0.0.1", port),)),
        **changes)  # type: ignore[arg-type]
