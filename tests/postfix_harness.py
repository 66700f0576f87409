"""Real parts for tests and benchmarks: the govmilter daemon and a private Postfix instance.

``RunningMilter`` starts ``govmilter run`` (this checkout's code) on a unix socket in a directory
Postfix can reach; ``PrivatePostfix`` starts Postfix from the Debian packages as a private
instance (own config, queue and log under one temporary directory, SMTP on a free loopback port,
no chroot) relaying everything to ``smtp-sink``, which dumps each delivered transaction to a file
(or, with ``sink_dumps=False``, only counts them: what a benchmark of 20,000 messages needs).

Both pick free ports, use their own directories and stop only what they started, so several
can run at once on one machine. Typical use (as root, which Postfix needs)::

    with PrivatePostfix() as postfix, RunningMilter(postfix.base / "milter", policy) as milter:
        postfix.configure_milter(milter.spec)
        postfix.send("a@mic.gov.vn", ["b@hanoi.gov.vn"], message_bytes)
        [dump] = postfix.wait_for_dumps(1)
        dump.headers["X-GovMilter"], dump.recipients

This is the ONE copy of the private-Postfix recipe: the benchmark (bench/) imports this module
too (bench/__init__.py puts tests/ on ``sys.path``), so nothing here may import pytest at module
level or depend on govmilter's internals.

Postfix commands always get an ABSOLUTE ``-c`` path: with a relative one ``postfix stop`` and
``reload`` fail silently.
"""

from __future__ import annotations

import contextlib
import email
import email.message
import email.policy
import itertools
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
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from processes import child_pids
from prometheus_client.parser import text_string_to_metric_families

REPO_ROOT = Path(__file__).resolve().parent.parent


class HarnessError(RuntimeError):
    """A real part could not be started or did not do what was expected in time."""


def postfix_available() -> bool:
    """True when Postfix and smtp-sink are installed and we are root (Postfix needs it)."""
    return (shutil.which("postfix", path="/usr/sbin:/usr/bin") is not None
            and shutil.which("smtp-sink", path="/usr/sbin:/usr/bin") is not None
            and os.geteuid() == 0)


def require(available: object, missing: str) -> None:
    """Skip the calling test (or fixture) when a real part is not ``available``; under CI=true
    fail instead: ``scripts/setup.sh`` installs every part, so on CI a skip would hide a broken
    path. ``missing`` says what is missing and how to get it."""
    import pytest  # here, so the harness stays usable from benchmark scripts without pytest

    if available:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {missing}")
    pytest.skip(missing)


def require_postfix() -> None:
    """:func:`require` root, Postfix and smtp-sink."""
    require(postfix_available(), "needs root, postfix and smtp-sink (run scripts/setup.sh)")


def free_port() -> int:
    """A loopback TCP port free right now (bind to port 0 and give it back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_open(port: int) -> bool:
    """True when something accepts TCP connections on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def port_listening(port: int) -> bool:
    """True when a socket listens on 127.0.0.1:``port`` (``/proc/net/tcp``), found without a
    connection: a test connection to Postfix makes its master start an smtpd for it, and an
    smtpd started just before a reload may outlive it (with the old main.cf) by minutes."""
    local = f"0100007F:{port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and fields[1] == local and fields[3] == "0A":  # TCP_LISTEN
            return True
    return False


def stop_process(process: subprocess.Popen[bytes], timeout: float) -> int:
    """SIGTERM ``process`` (one we started), SIGKILL it after ``timeout`` s; its exit code."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()


def checkout_env(extra: dict[str, str] | None = None, root: Path = REPO_ROOT) -> dict[str, str]:
    """The environment for a subprocess that must run THIS checkout's code (PYTHONPATH), or
    that of the checkout at ``root``."""
    path = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, **(extra or {}), "PYTHONPATH": path}


def run_govmilter(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a ``govmilter`` command as a user runs it, with this checkout's code."""
    return subprocess.run([sys.executable, "-m", "govmilter", *args], capture_output=True,
                          text=True, env=checkout_env(), timeout=timeout, check=False)


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
                 extra_args: Sequence[str] = (), *, socket_mode: str = "666",
                 env: dict[str, str] | None = None, inet: bool = False,
                 root: Path = REPO_ROOT) -> None:
        self.directory = Path(directory).resolve()
        #: the checkout whose govmilter runs (the benchmark compares other commits' with this)
        self.root = root
        self.policy = policy
        self.extra_args = tuple(extra_args)
        self.socket_mode = socket_mode
        self.env = dict(env or {})
        self.socket_path = self.directory / "govmilter.sock"
        #: ``inet=True``: listen on a free loopback TCP port instead of the unix socket.
        self.inet_port = free_port() if inet else None
        self.log_path = self.directory / "govmilter.log"
        #: the incident store (SQLite, unless the policy or --database names another) and journal
        self.state_dir = self.directory / "state"
        self.metrics_port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def spec(self) -> str:
        """The socket as libmilter writes it (``unix:/path`` or ``inet:PORT@127.0.0.1``)."""
        if self.inet_port is not None:
            return f"inet:{self.inet_port}@127.0.0.1"
        return f"unix:{self.socket_path}"

    @property
    def postfix_spec(self) -> str:
        """The socket as Postfix's ``smtpd_milters`` writes it."""
        if self.inet_port is not None:
            return f"inet:127.0.0.1:{self.inet_port}"
        return self.spec

    def has_option(self, option: str) -> bool:
        """Whether the checkout's ``govmilter run`` knows ``option`` (an older commit may not)."""
        # where the options were defined: their own module, the daemon's, or (a checkout from
        # before the layout by packages) the one daemon.py
        for path in ("server/options.py", "server/daemon.py", "daemon.py"):
            source = self.root / "govmilter" / path
            if source.is_file():
                return option in source.read_text()
        return False

    def start(self, timeout: float = 20.0) -> RunningMilter:
        """Start the daemon and wait until it listens."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o755)
        args = [sys.executable, "-m", "govmilter", "run", "--socket", self.spec,
                "--metrics", "127.0.0.1:0", "--socket-mode", self.socket_mode,
                "--watch-interval", "0.2",
                *self.extra_args]
        # never the machine's /var/lib/govmilter (a checkout from before --state-dir has none)
        if "--state-dir" not in self.extra_args and self.has_option("--state-dir"):
            args += ["--state-dir", str(self.state_dir)]
        if self.policy is not None:
            args += ["--policy", str(self.policy)]
        env = checkout_env(self.env, self.root)
        start_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=log, env=env, cwd=self.root)

        def ready() -> bool:
            if self.process is not None and self.process.poll() is not None:
                raise HarnessError(f"govmilter exited with {self.process.returncode}:\n"
                                   + self.log()[-3000:])
            match = re.search(r"starting: .* metrics=[^ ]*:(\d+)", self.log()[start_offset:])
            if not match:
                return False
            self.metrics_port = int(match.group(1))
            if self.inet_port is not None:
                return port_open(self.inet_port)
            if not self.socket_path.exists():
                return False
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

    @property
    def pid(self) -> int:
        """The daemon's process id."""
        assert self.process is not None
        return self.process.pid

    def pause(self) -> None:
        """SIGSTOP: a real stall (the socket still accepts connections, nothing answers)."""
        self.signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        self.signal(signal.SIGCONT)

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM and wait; returns the exit code (0 for a clean stop)."""
        if self.process is None:
            return 0
        code = stop_process(self.process, timeout)
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

    def metric(self, name: str, absent: float | None = None, **labels: str) -> float:
        """One sample's value from the endpoint; ``absent`` for a sample not (yet) there.

        :raises LookupError: no such sample and no ``absent`` value. Every label combination
            the milter knows is exported from start-up, so an absent one is a bug, never a zero;
            only series made later (the info of a policy still to be loaded) may be absent.
        """
        for family in text_string_to_metric_families(self.metrics_text()):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v
                                               for k, v in labels.items()):
                    return float(sample.value)
        if absent is not None:
            return absent
        raise LookupError(f"no sample {name}{labels or ''} on /metrics")

    def __enter__(self) -> RunningMilter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---- Postfix ------------------------------------------------------------------------------

#: Postfix's queues; the first four hold mail still on its way, ``hold`` what was put aside.
IN_FLIGHT_QUEUES = ("maildrop", "incoming", "active", "deferred")
MAIL_QUEUES = (*IN_FLIGHT_QUEUES, "hold", "corrupt")

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


#: What Debian's Postfix start-up (configure-instance.sh) copies into the chroot's etc/.
CHROOT_FILES = ("localtime", "services", "resolv.conf", "hosts", "nsswitch.conf", "host.conf")


class PrivatePostfix:
    """A private Postfix instance on loopback relaying to smtp-sink (see module docstring).

    ``milter`` is a Postfix milter spec (``unix:/abs/path`` or ``inet:host:port``) or None;
    ``default_action`` is ``milter_default_action``; ``main`` adds or overrides main.cf settings.

    ``sink_dumps=False`` makes smtp-sink only count (``-c``) instead of writing one file per
    transaction: :meth:`received_count` then says how many messages arrived, and :meth:`dumps`
    stays empty. ``process_limit`` is ``default_process_limit`` (smtpd, smtp and cleanup
    processes each): a load of N parallel sessions needs at least N.

    ``chroot=True`` keeps the chroot column of Debian's master.cf (smtpd, cleanup and smtp in
    the queue directory, as on an installed system) and copies into the queue directory the
    files Debian's start-up copies there (``/etc/services``, ``/etc/hosts``, ...); by default
    nothing runs chrooted.
    """

    def __init__(self, base_dir: Path | None = None, milter: str | None = None,
                 default_action: str = "tempfail", main: dict[str, str] | None = None, *,
                 sink_dumps: bool = True, process_limit: int = 20, chroot: bool = False) -> None:
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
        #: what :meth:`reset` puts back: the milter, default action and settings it was made with
        self._made_with = (milter, default_action, dict(self.main))
        self.smtp_port = free_port()
        self.sink_port = free_port()
        self.sink_dumps = sink_dumps
        self.process_limit = process_limit
        self.chroot = chroot
        #: smtp-sink's ``-c`` counters, rewritten with a carriage return after each update
        self.sink_counters = self.base / "smtp-sink.out"
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
            "default_process_limit": str(self.process_limit),
            # the sink is on loopback: let the smtp client open as many sessions as smtpd does,
            # and let one client (smtp-source) open as many as it likes
            "default_destination_concurrency_limit": str(self.process_limit),
            "smtpd_client_connection_count_limit": "0",
            "smtpd_client_connection_rate_limit": "0",
            "smtpd_client_message_rate_limit": "0",
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
        # SMTP on a private port instead of *:25; chroot as Debian ships it, or nowhere
        self._postconf("-M", f"smtp/inet=127.0.0.1:{self.smtp_port} inet n - "
                       f"{'y' if self.chroot else 'n'} - - smtpd")
        if self.chroot:
            (self.spool / "etc").mkdir(exist_ok=True)
            for name in CHROOT_FILES:
                if Path("/etc", name).exists():
                    shutil.copy(Path("/etc", name), self.spool / "etc" / name)
        else:
            fields = subprocess.run(["postconf", "-c", str(self.conf), "-F"], check=True,
                                    text=True, capture_output=True).stdout
            for line in fields.splitlines():
                key, _, value = line.partition(" = ")
                if key.endswith("/chroot") and value.strip() != "n":
                    self._postconf("-F", f"{key}=n")
        # -c counts every message; -m raises the cap on simultaneous sessions (default 256);
        # the last argument is the listen backlog.
        sink = ["smtp-sink", "-c", "-u", "postfix", "-m", "1000"]
        if self.sink_dumps:
            sink += ["-d", f"{self.sink_dir}/msg."]
        with self.sink_counters.open("wb") as counters:
            self.sink = subprocess.Popen(
                [*sink, f"127.0.0.1:{self.sink_port}", str(max(100, self.process_limit * 2))],
                stdin=subprocess.DEVNULL, stdout=counters, stderr=subprocess.STDOUT)
        # Postfix must find the sink at once: a deferred first message waits a retry cycle.
        wait_until(lambda: port_open(self.sink_port), 10, "smtp-sink to listen")
        self._postfix("check")
        log_offset = self.maillog_path.stat().st_size if self.maillog_path.exists() else 0
        self._postfix("start")
        self.started = True
        # up when the master logged its start (a reload sent before then is lost) and smtpd's
        # port listens, seen without a connection: a probe's smtpd, started just before the
        # first reset's reload, may outlive that reload with the old main.cf
        wait_until(lambda: b" daemon started -- " in self.maillog_bytes(log_offset)
                   and port_listening(self.smtp_port), 20, "Postfix to accept SMTP")
        return self


    def configure(self, **settings: str) -> None:
        """Change main.cf settings (e.g. ``milter_command_timeout="2s"``) and reload."""
        self.main.update(settings)
        self._postconf("-e", *(f"{k}={v}" for k, v in settings.items()))
        if self.started:
            self.reload()

    def configure_milter(self, milter: str | None, default_action: str | None = None) -> None:
        """Point ``smtpd_milters`` at ``milter`` (and set the default action), then reload."""
        self.milter = milter
        if default_action is not None:
            self.default_action = default_action
        self._postconf("-e", f"smtpd_milters={milter or ''}",
                       f"milter_default_action={self.default_action}")
        if self.started:
            self.reload()

    def reset(self) -> None:
        """Make a started instance as it was new, for the next tests that share it: the main.cf
        it was made with (no milter plugged in unless it was made with one), every queue, the
        sink's dumps and the log emptied. smtp-sink's running count goes on
        (:meth:`received_count`: compare with the count before)."""
        self.milter, self.default_action, main = self._made_with
        self.main = dict(main)
        (self.conf / "main.cf").write_text("")
        self._postconf("-e", *(f"{k}={v}" for k, v in self.settings().items()))
        subprocess.run(["postsuper", "-c", str(self.conf), "-d", "ALL"], check=True,
                       capture_output=True)
        for dump in self.sink_dir.glob("msg.*"):
            dump.unlink()
        self.maillog_path.write_bytes(b"")  # Postfix appends: its next line starts the file
        self.reload()

    def reload(self) -> None:
        """``postfix reload``, and wait until it took effect: the master logged its reload and
        the smtpd processes started before it are gone (each new one reads the new main.cf).

        The master handles the signal ``postfix reload`` sends after the command returns; an
        idle smtpd of the old configuration would otherwise take the next connection.
        """
        log_offset = self.maillog_path.stat().st_size if self.maillog_path.exists() else 0
        old_smtpd = set(self._children("smtpd"))
        self._postfix("reload")

        def old_smtpd_gone() -> bool:
            return not old_smtpd & set(self._children("smtpd"))
        wait_until(lambda: b" reload -- " in self.maillog_bytes(log_offset), 20,
                   "Postfix to log its reload of main.cf")
        try:
            wait_until(old_smtpd_gone, 15, "the smtpd processes of the old main.cf to exit")
        except HarnessError:
            # one still serving a client an earlier test left connected keeps the old main.cf
            # until smtpd_timeout, and killing it makes the master throttle the service: start
            # Postfix afresh instead (smtp-sink goes on)
            self._postfix("stop", check=False)
            wait_until(self._master_gone, 20, "the Postfix master to exit")
            self._postfix("start")
            wait_until(lambda: port_open(self.smtp_port), 20, "Postfix to accept SMTP")

    def _children(self, program: str) -> list[int]:
        """The running processes of ``program`` (smtpd, cleanup ...) under this master."""
        try:
            master = int((self.spool / "pid" / "master.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return []
        return child_pids(master, program)

    def _master_gone(self) -> bool:
        """True when this instance's Postfix master is not running."""
        try:
            pid = int((self.spool / "pid" / "master.pid").read_text().split()[0])
            os.kill(pid, 0)
        except (OSError, ValueError, IndexError):
            return True
        return False

    def stop(self) -> None:
        """Stop Postfix and smtp-sink (only the processes this instance started)."""
        if self.started:
            self._postfix("stop", check=False)
            self.started = False
            wait_until(self._master_gone, 20, "the Postfix master to exit")
        if self.sink is not None:
            stop_process(self.sink, 10)
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

    def queued(self, queues: Sequence[str] = MAIL_QUEUES) -> dict[str, int]:
        """How many queue files each queue holds (``postqueue -c`` refuses a private config)."""
        return {queue: len(self.queue_files(queue)) for queue in queues}

    def wait_queue_empty(self, timeout: float = 60,
                         queues: Sequence[str] = IN_FLIGHT_QUEUES) -> None:
        """Wait until nothing is waiting for delivery (the hold queue is left alone)."""
        wait_until(lambda: not any(self.queued(queues).values()), timeout,
                   f"an empty queue (still {self.queued(queues)})", interval=0.2)

    def received(self, marker: str) -> list[str]:
        """Every recipient smtp-sink got, one entry per delivery, of those containing ``marker``."""
        return [r for dump in self.dumps() for r in dump.recipients if marker in r]

    def received_count(self) -> int:
        """How many messages smtp-sink accepted so far (its last ``mesg=`` counter).

        Works in both sink modes; with ``sink_dumps=False`` it is the only record.
        """
        try:
            tail = self.sink_counters.read_bytes()[-4096:]
        except OSError:
            return 0
        counts = re.findall(rb"mesg=(\d+)", tail)
        return int(counts[-1]) if counts else 0

    def wait_for_count(self, count: int, timeout: float, idle: float = 15.0) -> int:
        """Wait until smtp-sink received ``count`` messages; give up after ``timeout`` seconds
        overall or ``idle`` seconds without progress. Returns how many arrived (a loss shows
        as a smaller number, never as an exception: a benchmark reports it)."""
        deadline = time.monotonic() + timeout
        last, last_change = self.received_count(), time.monotonic()
        while last < count and time.monotonic() < deadline:
            time.sleep(0.05)
            now = self.received_count()
            if now != last:
                last, last_change = now, time.monotonic()
            elif time.monotonic() - last_change > idle:
                break
        return self.received_count()

    def hold_queue(self) -> list[str]:
        """Queue ids held by the milter's quarantine."""
        return [p.name for p in self.queue_files("hold")]

    def maillog_bytes(self, offset: int = 0) -> bytes:
        """Postfix's log of this instance from byte ``offset`` on."""
        try:
            with self.maillog_path.open("rb") as log:
                log.seek(offset)
                return log.read()
        except FileNotFoundError:
            return b""

    def maillog(self) -> str:
        """Postfix's log of this instance."""
        return self.maillog_bytes().decode(errors="replace")


# ---- load: Postfix's smtp-source, and what came out ----------------------------------------

_plugged = itertools.count()
#: ``milter_on(policy, extra_args=(), default_action="tempfail")``, the shared fixture of
#: tests/integration/conftest.py: :func:`plugged_milter` on the module's Postfix.
MilterOn = Callable[..., contextlib.AbstractContextManager["RunningMilter"]]


@contextlib.contextmanager
def plugged_milter(postfix: PrivatePostfix, policy: str | Path | None,
                   extra_args: Sequence[str] = (), *, default_action: str = "tempfail",
                   ) -> Iterator[RunningMilter]:
    """A fresh daemon plugged into ``postfix``; what was plugged before is plugged back after.

    ``policy`` is the policy's YAML text (written to a file next to the daemon), a policy file,
    or None for the embedded default. The daemon's directory is under Postfix's own (which its
    smtpd may enter), with a short name: a unix socket path must fit in 107 bytes.
    """
    name = f"p{next(_plugged)}"
    if isinstance(policy, str):
        text, policy = policy, postfix.base / f"{name}.yaml"
        policy.write_text(text)
    previous = (postfix.milter, postfix.default_action)
    with RunningMilter(postfix.base / name, policy, extra_args) as daemon:
        postfix.configure_milter(daemon.spec, default_action)
        try:
            yield daemon
        finally:
            postfix.configure_milter(*previous)


def with_id(message: bytes, ident: str) -> bytes:
    """The message with its own Message-ID ``<ident@test>``, to find it at the sink."""
    head, body = message.split(b"\n\n", 1)
    lines = [line for line in head.split(b"\n") if not line.lower().startswith(b"message-id:")]
    return b"\n".join([*lines, f"Message-ID: <{ident}@test>".encode()]) + b"\n\n" + body


def delivered(postfix: PrivatePostfix, ident: str) -> list[Dump]:
    """The copies of message ``ident`` (see :func:`with_id`) smtp-sink received so far."""
    return [d for d in postfix.dumps() if d.headers["Message-ID"] == f"<{ident}@test>"]


def wait_delivered(postfix: PrivatePostfix, ident: str, timeout: float = 30) -> Dump:
    """Wait for the first copy of message ``ident`` at smtp-sink."""
    wait_until(lambda: delivered(postfix, ident), timeout, f"message {ident} at smtp-sink")
    return delivered(postfix, ident)[0]


@dataclass(frozen=True)
class Attempt:
    """One message smtp-source tried to send, as its ``-v`` transcript shows it."""

    recipient: str | None  #: the numbered recipient; None when refused before RCPT
    code: int  #: the final reply: 250 when Postfix took the message
    stage: str  #: the command that got the final reply: CONNECT, HELO, MAIL, RCPT, DATA or END
    queue_id: str | None = None
    text: str = ""  #: the reply after the code, e.g. ``4.3.0 govmilter: temporary failure ...``

    @property
    def accepted(self) -> bool:
        """Postfix answered the end of DATA with 250: from here the mail is Postfix's to keep."""
        return self.stage == "END" and self.code == 250


_COMMANDS = {"HELO": "HELO", "EHLO": "HELO", "MAIL": "MAIL", "RCPT": "RCPT", "DATA": "DATA",
             ".": "END", "RSET": "RSET", "QUIT": "QUIT"}


def parse_transcript(text: str) -> tuple[list[Attempt], list[str]]:
    """The attempts of ONE smtp-source session (``-s 1 -v``), and its fatal errors."""
    attempts: list[Attempt] = []
    fatal: list[str] = []
    command, recipient = "CONNECT", None
    for line in text.splitlines():
        line = line.removeprefix("smtp-source: ")
        if line.startswith("fatal:"):
            fatal.append(line)
            continue
        reply = re.match(r"<<< (\d{3})([ -]?)(.*)", line)
        if reply is None:
            verb = _COMMANDS.get(line.split(" ", 1)[0].split(":", 1)[0])
            if verb is not None:
                command = verb
                if verb == "MAIL":
                    recipient = None
                elif verb == "RCPT":
                    recipient = line.split("<", 1)[1].rstrip(">")
            continue
        if reply.group(2) == "-":
            continue  # a continued multi-line reply: the last line decides
        code = int(reply.group(1))
        if command == "END":
            queued = re.search(r"queued as (\w+)", reply.group(3))
            attempts.append(Attempt(recipient, code, "END", queued.group(1) if queued else None,
                                    reply.group(3)))
        elif code >= 400 and command in ("CONNECT", "HELO", "MAIL", "RCPT", "DATA"):
            attempts.append(Attempt(recipient, code, command, None, reply.group(3)))
    return attempts, fatal


@dataclass(frozen=True)
class SourceReport:
    """What the smtp-source processes of one run saw."""

    sessions: tuple[tuple[Attempt, ...], ...]  #: each session's attempts, in order
    exit_codes: tuple[int, ...]
    fatal: tuple[str, ...]

    @property
    def attempts(self) -> tuple[Attempt, ...]:
        """Every attempt of every session."""
        return tuple(a for session in self.sessions for a in session)

    @property
    def accepted(self) -> list[str]:
        """The recipients of the messages Postfix answered 250 at the end of DATA."""
        return [a.recipient for a in self.attempts if a.accepted and a.recipient]

    def codes(self) -> Counter[int]:
        """How many attempts ended with each reply code (250, 451, ...)."""
        return Counter(a.code for a in self.attempts)


class SmtpSource:
    """Postfix's ``smtp-source -A -N -v`` against a port, as ``sessions`` parallel processes.

    One process per session (``-s 1``) so each ``-v`` transcript is in order and every reply can
    be tied to its message; each process gets its own recipient prefix (``w3-``) and ``-N``
    numbers its messages, so every message has a unique recipient such as ``17w3-x@host``.
    ``-A`` keeps going after 4xx replies; ``delay`` (``-w``, whole seconds) paces each session.
    """

    def __init__(self, port: int, sender: str, recipient: str, messages: int, *,
                 sessions: int = 5, delay: int = 0, size: int = 0) -> None:
        self.port = port
        self.sender = sender
        self.recipient = recipient
        self.messages = messages
        self.sessions = sessions
        self.delay = delay
        self.size = size
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []
        #: the messages of each session started (the sessions of ``self.processes``)
        self.counts: list[int] = []
        self._dir = Path(tempfile.mkdtemp(prefix="govmilter-source-"))

    def start(self) -> SmtpSource:
        """Start every session; returns at once."""
        share, extra = divmod(self.messages, self.sessions)
        for worker in range(self.sessions):
            count = share + (1 if worker < extra else 0)
            if count == 0:
                continue
            args = ["smtp-source", "-A", "-N", "-v", "-s", "1", "-m", str(count),
                    "-f", self.sender, "-t", f"w{worker}-{self.recipient}"]
            if self.delay:
                args += ["-w", str(self.delay)]
            if self.size:
                args += ["-l", str(self.size)]
            log = self._dir / f"session-{worker}.log"
            with log.open("wb") as out:
                self.processes.append(subprocess.Popen(
                    [*args, f"127.0.0.1:{self.port}"], stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL, stderr=out))
            self.logs.append(log)
            self.counts.append(count)
        return self

    def wait(self, timeout: float = 120) -> SourceReport:
        """Wait for every session to end and read the transcripts."""
        deadline = time.monotonic() + timeout
        codes = []
        for process in self.processes:
            try:
                codes.append(process.wait(max(deadline - time.monotonic(), 0.1)))
            except subprocess.TimeoutExpired:
                self.kill()
                raise HarnessError(f"smtp-source still running after {timeout}s") from None
        sessions: list[tuple[Attempt, ...]] = []
        fatal: list[str] = []
        for log in self.logs:
            found, errors = parse_transcript(log.read_text(errors="replace"))
            sessions.append(tuple(found))
            fatal += errors
        shutil.rmtree(self._dir, ignore_errors=True)
        return SourceReport(tuple(sessions), tuple(codes), tuple(fatal))

    @property
    def running(self) -> bool:
        """True while a session is still sending."""
        return any(process.poll() is None for process in self.processes)

    def progress(self) -> list[tuple[Attempt, ...]]:
        """Each session's attempts so far, read from its transcript while it runs (a reply
        still being written may be missing)."""
        return [tuple(parse_transcript(log.read_text(errors="replace"))[0])
                for log in self.logs]

    def left(self) -> list[int]:
        """How many messages each session has not finished yet (one may be under way)."""
        return [count - len(done) for count, done in zip(self.counts, self.progress(),
                                                          strict=True)]

    def pause(self, sessions: Iterable[int] | None = None) -> None:
        """SIGSTOP every session still running (or those numbered ``sessions``, in the order
        of :meth:`progress`): nothing more goes out until :meth:`resume` (Postfix waits for
        the next command as for a slow client)."""
        chosen = self.processes if sessions is None else [self.processes[i] for i in sessions]
        for process in chosen:
            if process.poll() is None:
                process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)

    def kill(self) -> None:
        """Stop every session still running."""
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()

    def __enter__(self) -> SmtpSource:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()
        shutil.rmtree(self._dir, ignore_errors=True)


@dataclass(frozen=True)
class Reconciliation:
    """Messages accepted by Postfix against messages the sink received."""

    lost: frozenset[str]  #: answered 250, never delivered
    duplicated: dict[str, int]  #: delivered more than once (recipient → deliveries)
    unexpected: frozenset[str]  #: delivered although the client was not told 250 (it retries)


def reconcile(accepted: Iterable[str], received: Iterable[str]) -> Reconciliation:
    """Compare what Postfix accepted with what smtp-sink received, recipient by recipient."""
    taken = set(accepted)
    deliveries = Counter(received)
    return Reconciliation(
        lost=frozenset(taken - set(deliveries)),
        duplicated={r: n for r, n in deliveries.items() if n > 1},
        unexpected=frozenset(set(deliveries) - taken))
