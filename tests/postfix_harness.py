"""Real parts for tests and benchmarks: the govmilter daemon and a private Postfix instance.

``RunningMilter`` starts ``govmilter run`` (this checkout's code) on a unix socket in a directory
Postfix can reach; ``PrivatePostfix`` starts Postfix from the Debian packages as a private
instance (own config, queue and log under one temporary directory, SMTP on a free loopback port,
no chroot) relaying everything to ``smtp-sink``, which dumps each delivered transaction to a file.

Both pick free ports, use their own directories and stop only what they started, so several
can run at once on one machine. Typical use (as root, which Postfix needs)::

    with PrivatePostfix() as postfix, RunningMilter(postfix.base / "milter", policy) as milter:
        postfix.configure_milter(milter.spec)
        postfix.send("a@mic.gov.vn", ["b@hanoi.gov.vn"], message_bytes)
        [dump] = postfix.wait_for_dumps(1)
        dump.headers["X-GovMilter"], dump.recipients

Postfix commands always get an ABSOLUTE ``-c`` path: with a relative one ``postfix stop`` and
``reload`` fail silently (measured, see notes/ops-metrics-postfix.md).
"""

from __future__ import annotations

import email
import email.message
import email.policy
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from prometheus_client.parser import text_string_to_metric_families

REPO_ROOT = Path(__file__).resolve().parent.parent


class HarnessError(RuntimeError):
    """A real part could not be started or did not do what was expected in time."""


def postfix_available() -> bool:
    """True when Postfix and smtp-sink are installed and we are root (Postfix needs it)."""
    return (shutil.which("postfix", path="/usr/sbin:/usr/bin") is not None
            and shutil.which("smtp-sink", path="/usr/sbin:/usr/bin") is not None
            and os.geteuid() == 0)


def free_port() -> int:
    """A loopback TCP port free right now (bind to port 0 and give it back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: object, timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll ``condition()`` until true, else raise :class:`HarnessError` naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(interval)
    raise HarnessError(f"timed out after {timeout}s waiting for {what}")


# ---- the milter ---------------------------------------------------------------------------

class RunningMilter:
    """``govmilter run`` as a subprocess, on ``unix:<directory>/govmilter.sock``.

    The socket is made world-writable (``--socket-mode 666``) because the test milter runs as
    root while Postfix's smtpd runs as ``postfix``; the metrics endpoint is on a free port.
    """

    def __init__(self, directory: Path, policy: Path | None = None,
                 extra_args: Sequence[str] = ()) -> None:
        self.directory = Path(directory).resolve()
        self.policy = policy
        self.extra_args = tuple(extra_args)
        self.socket_path = self.directory / "govmilter.sock"
        self.log_path = self.directory / "govmilter.log"
        self.metrics_port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def spec(self) -> str:
        """The socket as both libmilter and Postfix write it."""
        return f"unix:{self.socket_path}"

    def start(self, timeout: float = 20.0) -> RunningMilter:
        """Start the daemon and wait until it listens."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o755)
        args = [sys.executable, "-m", "govmilter", "run", "--socket", self.spec,
                "--metrics", "127.0.0.1:0", "--socket-mode", "666", "--watch-interval", "0.2",
                *self.extra_args]
        if self.policy is not None:
            args += ["--policy", str(self.policy)]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p))
        start_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=log, env=env, cwd=REPO_ROOT)

        def ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise HarnessError(f"govmilter exited with {self.process.returncode}:\n"
                                   + self.log()[-3000:])
            match = re.search(r"starting: .* metrics=[^ ]*:(\d+)", self.log()[start_offset:])
            if not match or not self.socket_path.exists():
                return False
            self.metrics_port = int(match.group(1))
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                try:
                    probe.connect(str(self.socket_path))
                except OSError:
                    return False
            return True
        wait_until(ready, timeout, "govmilter to listen")
        return self

    def log(self) -> str:
        """Everything the daemon logged so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def signal(self, signum: int) -> None:
        """Send a signal to the daemon."""
        assert self.process is not None
        self.process.send_signal(signum)

    def reload(self) -> None:
        """Ask for a policy reload (SIGUSR1, what ``systemctl reload`` sends)."""
        self.signal(signal.SIGUSR1)

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait; returns the exit code (0 for a clean stop)."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        code = self.process.returncode
        self.process = None
        return code

    def kill(self) -> None:
        """SIGKILL: the crash Postfix must survive."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        self.process = None

    def metrics_text(self) -> str:
        """The Prometheus exposition text of the running daemon."""
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            return str(response.read().decode())

    def metric(self, name: str, **labels: str) -> float:
        """One sample's value from the endpoint (0.0 if absent)."""
        for family in text_string_to_metric_families(self.metrics_text()):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v
                                               for k, v in labels.items()):
                    return float(sample.value)
        return 0.0

    def __enter__(self) -> RunningMilter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---- Postfix ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Dump:
    """One transaction as smtp-sink received it."""

    path: Path
    sender: str
    recipients: tuple[str, ...]
    headers: email.message.Message
    raw: bytes


def parse_dump(path: Path) -> Dump:
    """Read an ``smtp-sink -d`` file: ``X-Mail-Args``/``X-Rcpt-Args`` lines, then the message."""
    raw = path.read_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    sender = (message.get("X-Mail-Args") or "").split()[0:1]
    rcpts = tuple(value.split()[0] for value in message.get_all("X-Rcpt-Args") or [])
    return Dump(path, (sender or [""])[0].strip("<>").removeprefix("FROM:").strip("<>"),
                tuple(r.removeprefix("TO:").strip("<>") for r in rcpts), message, raw)


class PrivatePostfix:
    """A private Postfix instance on loopback relaying to smtp-sink (see module docstring).

    ``milter`` is a Postfix milter spec (``unix:/abs/path`` or ``inet:host:port``) or None;
    ``default_action`` is ``milter_default_action``; ``main`` adds or overrides main.cf settings.
    """

    def __init__(self, base_dir: Path | None = None, milter: str | None = None,
                 default_action: str = "tempfail", main: dict[str, str] | None = None) -> None:
        if base_dir is None:
            # under /tmp, not pytest's 0700 tmp_path: Postfix's daemons run as user postfix
            base_dir = Path(tempfile.mkdtemp(prefix="govmilter-postfix-"))
        self.base = Path(base_dir).resolve()
        self.conf = self.base / "conf"
        self.spool = self.base / "spool"
        self.sink_dir = self.base / "sink"
        self.maillog_path = self.base / "maillog"
        self.milter = milter
        self.default_action = default_action
        self.main = dict(main or {})
        self.smtp_port = free_port()
        self.sink_port = free_port()
        self.sink: subprocess.Popen[bytes] | None = None
        self.started = False

    # -- lifecycle
    def _postconf(self, *args: str) -> None:
        subprocess.run(["postconf", "-c", str(self.conf), *args], check=True,
                       capture_output=True)

    def _postfix(self, command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(["postfix", "-c", str(self.conf), command], text=True,
                                capture_output=True)
        if check and result.returncode != 0:
            raise HarnessError(f"postfix {command} failed ({result.returncode}): "
                               f"{result.stderr.strip()}")
        return result

    def settings(self) -> dict[str, str]:
        """The main.cf settings this instance runs with."""
        base = str(self.base)
        return {
            "compatibility_level": "3.6",
            "queue_directory": str(self.spool), "data_directory": f"{base}/data",
            "mail_owner": "postfix", "setgid_group": "postdrop",
            "myhostname": "mx.test.local", "mydomain": "test.local", "myorigin": "test.local",
            "mydestination": "", "inet_interfaces": "127.0.0.1", "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8", "relayhost": f"[127.0.0.1]:{self.sink_port}",
            "smtp_host_lookup": "native", "disable_dns_lookups": "yes",
            "maillog_file": str(self.maillog_path), "maillog_file_prefixes": base,
            "alias_maps": "", "alias_database": "", "local_recipient_maps": "",
            "smtp_tls_security_level": "none", "smtpd_tls_security_level": "none",
            "default_process_limit": "20",
            # the milter settings deploy/postfix-main.cf recommends, with shorter timeouts
            "smtpd_milters": self.milter or "", "non_smtpd_milters": "",
            "milter_default_action": self.default_action, "milter_protocol": "6",
            "milter_connect_timeout": "5s", "milter_command_timeout": "10s",
            "milter_content_timeout": "30s",
            "milter_connect_macros": "j {daemon_name} {daemon_addr} v _ {client_addr}",
            "milter_mail_macros": "i {auth_type} {auth_authen} {auth_author} {mail_addr}",
            "milter_end_of_data_macros": "i",
            # deliver at once and do not wait between retries
            "queue_run_delay": "1s", "minimal_backoff_time": "1s", "maximal_backoff_time": "2s",
            **self.main,
        }

    def start(self) -> PrivatePostfix:
        """Write the configuration, start smtp-sink and Postfix."""
        for directory in (self.conf, self.spool, self.base / "data", self.sink_dir):
            directory.mkdir(parents=True, exist_ok=True)
        self.base.chmod(0o755)
        shutil.chown(self.base / "data", user="postfix")
        shutil.chown(self.sink_dir, user="postfix")
        shutil.copy("/etc/postfix/master.cf", self.conf / "master.cf")
        (self.conf / "main.cf").write_text("")
        self._postconf("-e", *(f"{k}={v}" for k, v in self.settings().items()))
        # SMTP on a private port instead of *:25, and no chroot anywhere
        self._postconf("-M", f"smtp/inet=127.0.0.1:{self.smtp_port} inet n - n - - smtpd")
        fields = subprocess.run(["postconf", "-c", str(self.conf), "-F"], check=True, text=True,
                                capture_output=True).stdout
        for line in fields.splitlines():
            key, _, value = line.partition(" = ")
            if key.endswith("/chroot") and value.strip() != "n":
                self._postconf("-F", f"{key}=n")
        self.sink = subprocess.Popen(
            ["smtp-sink", "-u", "postfix", "-d", f"{self.sink_dir}/msg.",
             f"127.0.0.1:{self.sink_port}", "100"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._postfix("check")
        self._postfix("start")
        self.started = True
        wait_until(self._smtp_ready, 20, "Postfix to accept SMTP")
        return self

    def _smtp_ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.smtp_port), timeout=1):
                return True
        except OSError:
            return False

    def configure_milter(self, milter: str | None, default_action: str | None = None) -> None:
        """Point ``smtpd_milters`` at ``milter`` (and set the default action), then reload."""
        self.milter = milter
        if default_action is not None:
            self.default_action = default_action
        self._postconf("-e", f"smtpd_milters={milter or ''}",
                       f"milter_default_action={self.default_action}")
        if self.started:
            self.reload()

    def reload(self) -> None:
        """``postfix reload``: new smtpd processes read the new main.cf."""
        self._postfix("reload")
        time.sleep(0.5)  # master re-reads main.cf asynchronously

    def stop(self) -> None:
        """Stop Postfix and smtp-sink (only the processes this instance started)."""
        pid_file = self.spool / "pid" / "master.pid"
        if self.started:
            self._postfix("stop", check=False)
            self.started = False

            def master_gone() -> bool:
                try:
                    pid = int(pid_file.read_text().split()[0])
                    os.kill(pid, 0)
                except (OSError, ValueError, IndexError):
                    return True
                return False
            wait_until(master_gone, 20, "the Postfix master to exit")
        if self.sink is not None:
            self.sink.terminate()
            try:
                self.sink.wait(10)
            except subprocess.TimeoutExpired:
                self.sink.kill()
            self.sink = None

    def cleanup(self) -> None:
        """Remove the instance's directory."""
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> PrivatePostfix:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
        if exc_type is None:
            self.cleanup()  # on failure the directory (maillog, queue, dumps) stays to look at

    # -- mail in
    def smtp(self, timeout: float = 30) -> smtplib.SMTP:
        """A connected SMTP client (use it as a context manager)."""
        return smtplib.SMTP("127.0.0.1", self.smtp_port, local_hostname="client.test.local",
                            timeout=timeout)

    def send(self, sender: str, recipients: Iterable[str], message: bytes
             ) -> dict[str, tuple[int, bytes]]:
        """Send one message; returns the refused recipients (raises if all were refused)."""
        with self.smtp() as client:
            return client.sendmail(sender, list(recipients), message)

    # -- what came out
    def dumps(self) -> list[Dump]:
        """Every transaction smtp-sink has written so far."""
        return [parse_dump(p) for p in sorted(self.sink_dir.glob("msg.*")) if p.is_file()]

    def wait_for_dumps(self, count: int, timeout: float = 30) -> list[Dump]:
        """Wait until at least ``count`` transactions arrived at the sink."""
        wait_until(lambda: len(list(self.sink_dir.glob("msg.*"))) >= count, timeout,
                   f"{count} messages at smtp-sink")
        time.sleep(0.1)  # let the last file be completely written
        return self.dumps()

    def queue_files(self, queue: str) -> list[Path]:
        """Queue files in one of Postfix's queues (``hold``, ``active``, ``deferred`` ...)."""
        root = self.spool / queue
        return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []

    def hold_queue(self) -> list[str]:
        """Queue ids held by the milter's quarantine."""
        return [p.name for p in self.queue_files("hold")]

    def maillog(self) -> str:
        """Postfix's log of this instance."""
        return self.maillog_path.read_text(errors="replace") if self.maillog_path.exists() \
            else ""
