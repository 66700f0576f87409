"""A private Postfix on loopback relaying to ``smtp-sink``: for the benchmark and for tests.

Independent of govmilter (any milter socket can be plugged in), so the tests and the benchmark
share one copy of the fiddly parts (see notes/private-postfix.sh and ops-metrics-postfix.md):

- every path is absolute: a relative ``-c`` makes ``postfix stop`` fail silently with rc=1, and
  a half-reloaded instance then runs a mix of old and new smtpd processes;
- one instance per configuration: changing the milter means a new instance, never a reload,
  so no message is ever handled by a stale smtpd;
- no chroot anywhere, so a ``unix:`` milter socket is an ordinary absolute path;
- ``smtp-sink -c`` counts every message it received, so a caller can check that every message
  sent arrived (speed must never hide loss).

Ports are picked free (bind to port 0) and everything lives in a caller-given directory, so
several instances (other tests, other helpers) run side by side.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

#: Postfix writes its counters with a carriage return between updates: "sess=3 quit=3 mesg=3\r".
_SINK_COUNTER_RE = re.compile(rb"mesg=(\d+)")
#: Queue sub-directories that hold mail not yet delivered.
_QUEUE_DIRS = ("maildrop", "incoming", "active", "deferred", "hold")


class HarnessError(RuntimeError):
    """Postfix or smtp-sink could not be started or stopped; the message says which and why."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    """Return once something accepts TCP connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise HarnessError(f"nothing listens on 127.0.0.1:{port} after {timeout}s"
                                   ) from None
            time.sleep(0.05)


def make_reachable(directory: Path) -> None:
    """Let the unprivileged Postfix user walk into ``directory`` (tempfile makes it 0700)."""
    directory.chmod(0o755)


class SmtpSink:
    """``smtp-sink`` on 127.0.0.1, counting the messages it accepted.

    ``dump_dir`` set: every transaction is also written there (``-d``), for end-to-end
    assertions on headers the milter added.
    """

    def __init__(self, workdir: Path, port: int | None = None, dump_dir: Path | None = None,
                 backlog: int = 512) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.dump_dir = dump_dir
        self.backlog = backlog
        self.counter_file = workdir / "smtp-sink.out"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> SmtpSink:
        """Start the sink and wait until it accepts connections."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        command = ["smtp-sink", "-c", "-u", "postfix", "-m", "1000"]
        if self.dump_dir is not None:
            self.dump_dir.mkdir(parents=True, exist_ok=True)
            shutil.chown(self.dump_dir, "postfix")
            command += ["-d", f"{self.dump_dir}/%M%S."]
        command += [f"127.0.0.1:{self.port}", str(self.backlog)]
        with self.counter_file.open("wb") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        wait_for_port(self.port)
        return self

    def received(self) -> int:
        """How many messages the sink accepted (its last ``mesg=`` counter)."""
        data = self.counter_file.read_bytes()[-4096:] if self.counter_file.exists() else b""
        counts = _SINK_COUNTER_RE.findall(data)
        # The probe connection of start() counts as a session, never as a message.
        return int(counts[-1]) if counts else 0

    def wait_for(self, count: int, timeout: float, idle: float = 15.0) -> int:
        """Wait until ``count`` messages arrived; give up after ``timeout`` seconds overall or
        ``idle`` seconds without progress. Returns how many arrived."""
        deadline = time.monotonic() + timeout
        last, last_change = self.received(), time.monotonic()
        while last < count and time.monotonic() < deadline:
            time.sleep(0.05)
            now = self.received()
            if now != last:
                last, last_change = now, time.monotonic()
            elif time.monotonic() - last_change > idle:
                break
        return self.received()

    def stop(self) -> None:
        """Stop the sink (only the process this object started)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class PrivatePostfix:
    """A Postfix instance with its config and queue under ``base``, SMTP on 127.0.0.1.

    Everything received is relayed to ``relay_port`` (an :class:`SmtpSink`). ``milter`` is a
    Postfix milter address (``unix:/abs/path`` or ``inet:127.0.0.1:port``) or None.
    ``settings`` adds or overrides main.cf parameters (e.g. ``milter_default_action``).
    """

    def __init__(self, base: Path, relay_port: int, milter: str | None = None,
                 settings: dict[str, str] | None = None, process_limit: int = 120) -> None:
        self.base = base.absolute()  # relative -c paths make postfix stop fail silently
        self.conf = self.base / "conf"
        self.spool = self.base / "spool"
        self.relay_port = relay_port
        self.milter = milter
        self.settings = settings or {}
        self.process_limit = process_limit
        self.smtp_port = free_port()
        self.maillog = self.base / "maillog"

    def _postconf(self, *args: str) -> None:
        subprocess.run(["postconf", "-c", str(self.conf), *args], check=True,
                       capture_output=True)

    def _postfix(self, action: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["postfix", "-c", str(self.conf), action], capture_output=True,
                              text=True, timeout=60)

    def configure(self) -> None:
        """Write main.cf and master.cf (the private-postfix.sh recipe)."""
        if self.base.exists():
            shutil.rmtree(self.base)
        for directory in (self.conf, self.spool, self.base / "data"):
            directory.mkdir(parents=True)
        make_reachable(self.base)
        shutil.chown(self.base / "data", "postfix")
        shutil.copy("/etc/postfix/master.cf", self.conf / "master.cf")
        (self.conf / "main.cf").write_text("")
        params = {
            "compatibility_level": "3.6",
            "queue_directory": str(self.spool), "data_directory": str(self.base / "data"),
            "mail_owner": "postfix", "setgid_group": "postdrop",
            "myhostname": "bench.local", "mydomain": "local", "myorigin": "bench.local",
            "mydestination": "", "inet_interfaces": "127.0.0.1", "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8", "relayhost": f"[127.0.0.1]:{self.relay_port}",
            "smtp_host_lookup": "native", "disable_dns_lookups": "yes",
            "maillog_file": str(self.maillog), "maillog_file_prefixes": str(self.base),
            "smtpd_milters": self.milter or "", "milter_default_action": "tempfail",
            "alias_maps": "", "alias_database": "", "local_recipient_maps": "",
            "smtp_tls_security_level": "none", "smtpd_tls_security_level": "none",
            "default_process_limit": str(self.process_limit),
            # The sink is on loopback: let the smtp client open as many sessions as smtpd does.
            "default_destination_concurrency_limit": "50",
            "smtpd_client_connection_count_limit": "0",
            "smtpd_client_connection_rate_limit": "0",
            "smtpd_client_message_rate_limit": "0",
            "message_size_limit": str(50 * 1024 * 1024),
            **self.settings,
        }
        self._postconf("-e", *(f"{k}={v}" for k, v in params.items()))
        self._postconf("-M", f"smtp/inet=127.0.0.1:{self.smtp_port} inet n - n - - smtpd")
        listing = subprocess.run(["postconf", "-c", str(self.conf), "-F"], check=True,
                                 capture_output=True, text=True).stdout
        for line in listing.splitlines():
            service, kind, field = line.split(" =")[0].split("/", 2)
            if field == "chroot":
                self._postconf("-F", f"{service}/{kind}/chroot=n")

    def start(self) -> PrivatePostfix:
        """Configure, check and start the instance; wait until smtpd answers."""
        self.configure()
        for action in ("check", "start"):
            result = self._postfix(action)
            if result.returncode != 0:
                raise HarnessError(f"postfix {action} failed: {result.stderr.strip()}")
        wait_for_port(self.smtp_port)
        return self

    def master_pid(self) -> int | None:
        """The running master's pid, or None."""
        try:
            return int((self.spool / "pid" / "master.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def queued(self) -> int:
        """How many messages are in the queue (not yet delivered)."""
        total = 0
        for name in _QUEUE_DIRS:
            for _root, _dirs, files in os.walk(self.spool / name):
                total += len(files)
        return total

    def wait_queue_empty(self, timeout: float = 60.0) -> bool:
        """Wait until every queued message was delivered; False on timeout."""
        deadline = time.monotonic() + timeout
        while self.queued() and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.queued() == 0

    def log(self) -> str:
        """The instance's mail log so far."""
        try:
            return self.maillog.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        """Stop the instance and wait for its master to exit (only this instance's master)."""
        pid = self.master_pid()
        self._postfix("stop")
        if pid is None:
            return
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        # postfix stop failed or hung: end this master by pid (its children notice and exit).
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    def __enter__(self) -> PrivatePostfix:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
