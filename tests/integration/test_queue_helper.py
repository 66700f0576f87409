"""Held mail from the DEPLOYED console: the console runs as an unprivileged user with no
capability and ``NoNewPrivileges`` (as deploy/govmilter-console.service runs it, where sudo
could gain nothing), and releases through govmilter's queue helper, run as root with the
capabilities deploy/govmilter-queue@.service leaves it, behind a socket of the console's group
(deploy/govmilter-queue.socket), over a real Postfix that then delivers the message.

The helper is started the way systemd starts it (``systemd-socket-activate --accept --inetd``:
one process per connection, the connection as standard input and output). The console runs
as ``nobody``; the test's Python lives under root's home (mode 0700), which a private mount
namespace lends read-only to the console alone, as /opt/govmilter is readable in a real
install. The store is PostgreSQL, which ``nobody`` reaches over TCP like any client.
"""

from __future__ import annotations

import contextlib
import grp
import html
import http.cookiejar
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from console_harness import PASSWORDS, add_accounts
from postfix_harness import (
    REPO_ROOT,
    PrivatePostfix,
    RunningMilter,
    checkout_env,
    free_port,
    port_open,
    require,
    stop_process,
    wait_until,
)
from test_deploy import settings_of  # type: ignore[import-not-found]
from test_incidents_postfix import (  # type: ignore[import-not-found]
    delivered,
    hold_one,
    milter,  # noqa: F401  (the fixture)
)

from govmilter.store import IncidentStatus, open_store

pytestmark = pytest.mark.postfix

HELPER_UNIT = REPO_ROOT / "deploy" / "govmilter-queue@.service"
CONSOLE_USER, CONSOLE_GROUP = "nobody", "nogroup"


@pytest.fixture(scope="module")
def database(postgres: object) -> str:
    """A database of the shared PostgreSQL cluster: the milter's and the console's store."""
    return str(postgres.create_database())  # type: ignore[attr-defined]


def bounding_set(unit: Path) -> str:
    """The unit's CapabilityBoundingSet= as setpriv's --bounding-set (all others dropped)."""
    [caps] = settings_of(unit)["CapabilityBoundingSet"]
    return ",".join(["-all", *(f"+{c.lower().removeprefix('cap_')}" for c in caps.split())])


@contextlib.contextmanager
def queue_helper(postfix: PrivatePostfix, directory: Path) -> Iterator[Path]:
    """The queue helper for ``postfix``, as systemd runs it: root with the unit's capability
    bounding set, one process per connection; yields its socket (root's, mode 0600 until the
    test opens it to a group)."""
    require(shutil.which("systemd-socket-activate"), "systemd-socket-activate is missing: "
            "scripts/setup.sh installs it (package systemd)")
    path = directory / "queue.sock"
    helper = subprocess.Popen(
        ["setpriv", f"--bounding-set={bounding_set(HELPER_UNIT)}", "--no-new-privs",
         "systemd-socket-activate", "--accept", "--inetd", "-l", str(path),
         "-E", "PYTHONPATH", "-E", "PATH", sys.executable, "-m", "govmilter.tools.queue_helper",
         "--postfix-config", str(postfix.conf)],
        env=checkout_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True)
    try:
        # listening, not only bound (connect() is refused between the two); no test connection,
        # which would start a helper
        wait_until(lambda: unix_listening(path), 30, "the queue helper's socket")
        path.chmod(0o600)
        yield path
    finally:
        stop_process(helper, 10)  # type: ignore[arg-type]


def unix_listening(path: Path) -> bool:
    """Whether a unix socket listens at ``path`` (/proc/net/unix: flag __SO_ACCEPTCON)."""
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8 and fields[7] == str(path) and int(fields[3], 16) & 0x10000:
            return True
    return False


def open_to(path: Path, group: str) -> None:
    """The socket as deploy/govmilter-queue.socket makes it: root's, the group's, 0660."""
    os.chown(path, 0, grp.getgrnam(group).gr_gid)
    path.chmod(0o660)


def private_python_root() -> str | None:
    """The directory above this Python that other users cannot enter (root's home), if any."""
    blocked = None
    for parent in Path(sys.prefix).parents:
        if parent != Path("/") and not parent.stat().st_mode & 0o001:
            blocked = str(parent)
    return blocked


def unprivileged(argv: list[str], workdir: Path) -> list[str]:
    """``argv`` as ``nobody``, no capability, NoNewPrivileges (the console unit's user and
    confinement), with this Python reachable in a private mount namespace when it is not."""
    drop = ["setpriv", f"--reuid={CONSOLE_USER}", f"--regid={CONSOLE_GROUP}", "--clear-groups",
            "--no-new-privs", "--bounding-set=-all", "--inh-caps=-all", *argv]
    blocked = private_python_root()
    if blocked is None:
        return drop
    stash = workdir / "python"
    stash.mkdir()
    script = (f"mount --bind {shlex.quote(sys.prefix)} {stash} && "
              f"mount -t tmpfs -o mode=0755 tmpfs {shlex.quote(blocked)} && "
              f"mkdir -p {shlex.quote(sys.prefix)} && "
              f"mount -o bind,ro {stash} {shlex.quote(sys.prefix)} && "
              f"exec {shlex.join(drop)}")
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]


@contextlib.contextmanager
def unprivileged_console(database: str, helper: Path, workdir: Path
                         ) -> Iterator[tuple[str, int]]:
    """``govmilter console --queue-helper`` run as ``nobody``; yields its URL and pid."""
    port = free_port()
    console = subprocess.Popen(
        unprivileged([sys.executable, "-m", "govmilter", "console", "--database", database,
                      "--listen", f"127.0.0.1:{port}", "--queue-helper", str(helper)],
                     workdir),
        env=checkout_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True)
    try:
        wait_until(lambda: port_open(port) or console.poll() is not None, 60,
                   "the console's port")
        assert console.poll() is None, console.stderr.read() if console.stderr else ""
        yield f"http://127.0.0.1:{port}", console.pid
    finally:
        stop_process(console, 10)  # type: ignore[arg-type]


class Browser:
    """Forms and cookies over HTTP, as an officer's browser sends them."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> tuple[int, str]:
        return self._open(urllib.request.Request(self.base + path))

    def post(self, path: str, form_page: str, **fields: str) -> tuple[int, str]:
        """Submit ``fields`` with the CSRF token of ``form_page``."""
        token = re.search(r'name="csrf" value="([^"]*)"', form_page)
        assert token, "no CSRF token on the page"
        data = urllib.parse.urlencode({"csrf": html.unescape(token[1]), **fields}).encode()
        return self._open(urllib.request.Request(self.base + path, data=data))

    def _open(self, request: urllib.request.Request) -> tuple[int, str]:
        try:
            with self.opener.open(request, timeout=60) as answer:
                return int(answer.status), answer.read().decode("utf-8")
        except urllib.error.HTTPError as refused:
            return refused.code, refused.read().decode("utf-8")

    def sign_in(self, name: str) -> None:
        _, page = self.get("/login")
        status, page = self.post("/login", page, username=name, password=PASSWORDS[name],
                                 next="/")
        assert status == 200 and "/logout" in page, page[:500]


def proc_status(pid: int) -> dict[str, str]:
    return dict(line.split(":\t", 1) for line in
                Path(f"/proc/{pid}/status").read_text().splitlines() if ":\t" in line)


def test_the_unprivileged_console_releases_held_mail_through_the_helper_and_postfix_delivers(
        postfix: PrivatePostfix, milter: RunningMilter, database: str,  # noqa: F811
        workdir: Path) -> None:
    ident = f"helper-{time.monotonic_ns()}"
    incident = hold_one(postfix, database, ident)
    reason = "Đã xác minh với người gửi (verified with the sender)"
    with open_store(database) as store:
        add_accounts(store)
    with queue_helper(postfix, workdir) as helper, \
            unprivileged_console(database, helper, workdir) as (base, pid):
        status = proc_status(pid)
        nobody = str(pwd.getpwnam(CONSOLE_USER).pw_uid)
        assert status["Uid"].split() == [nobody] * 4
        assert (status["NoNewPrivs"], int(status["CapBnd"], 16)) == ("1", 0)
        officer = Browser(base)
        officer.sign_in("officer")

        # the helper's socket still root's alone: a clear error, nothing done, nothing recorded
        code, page = officer.get(f"/held/{incident.id}")
        assert code == 200 and "may not use the queue helper" in html.unescape(page)
        code, page = officer.post(f"/held/{incident.id}/release", page, reason=reason)
        assert code == 409 and "may not use the queue helper" in html.unescape(page)
        assert incident.queue_id in postfix.hold_queue()
        with open_store(database) as store:
            assert store.get_incident(incident.id).status is IncidentStatus.OPEN  # type: ignore

        # opened to the console's group: it reads the held message and releases it
        open_to(helper, CONSOLE_GROUP)
        code, page = officer.get(f"/held/{incident.id}")
        assert code == 200 and "588/BTTTT-THH" in page
        code, page = officer.post(f"/held/{incident.id}/release", page, reason=reason)
        assert code == 200 and "Đã cho đi" in page, page[:2000]
    wait_until(lambda: delivered(postfix, ident), 60, "the released message at the sink")
    assert incident.queue_id not in postfix.hold_queue()
    with open_store(database) as store:
        released = store.get_incident(incident.id)
    assert released is not None and released.status is IncidentStatus.RELEASED
    assert (released.history[-1].actor, released.history[-1].reason) == ("officer", reason)


def ask(path: Path, request: bytes) -> bytes:
    """One raw request to the helper and its whole answer.

    The helper reads one line of at most MAX_REQUEST + 1 bytes and never the rest: when it
    exits with more of the request unread, the kernel resets the connection, which reaches
    this side after the answer or instead of the end of it, whichever the scheduler makes
    first. A reset ends the answer only after answer bytes that end a line (the caller checks
    what they say); a reset before that is an error.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(60)
        conn.connect(str(path))
        conn.sendall(request)
        conn.shutdown(socket.SHUT_WR)
        answer = b""
        try:
            while chunk := conn.recv(65536):
                answer += chunk
        except ConnectionResetError:
            if not answer.endswith(b"\n"):
                raise
    return answer


def test_the_helper_refuses_all_options_paths_and_smuggled_requests(
        postfix: PrivatePostfix, milter: RunningMilter, database: str,  # noqa: F811
        workdir: Path) -> None:
    incident = hold_one(postfix, database, f"hostile-{time.monotonic_ns()}")
    held = incident.queue_id
    assert held is not None
    hostile = [b"delete ALL\n", b"release ALL\n", b"delete -\n", b"release -d ALL\n",
               b"delete -d ALL\n", b"show ../../../etc/shadow\n", b"show /etc/shadow\n",
               f"delete {held} ALL\n".encode(), f"delete {held} hold deferred\n".encode(),
               f"release {held} -c /tmp\n".encode(), b"delete --help\n",
               f"delete  {held}\n".encode(), f"release {held}\r\n".encode(),
               b"DELETE " + held.encode() + b"\n", b"purge\n", b"list ALL\n",
               b"release " + b"A" * 80 + b"\n", f"delete {held}".encode(),  # no newline
               "release Ả1234\n".encode(), b"delete \xff\xfe12345\n", b"\n", b""]
    with queue_helper(postfix, workdir) as helper:
        for request in hostile:
            answer = ask(helper, request)
            assert answer.startswith(b"error "), (request, answer)
            assert answer.count(b"\n") == 1, (request, answer)
        # a second request after the first line is never read: only "list" is done
        assert ask(helper, f"list\ndelete {held}\n".encode()).startswith(b"ok\n")
        # show is for held mail only: a valid queue id that is not held is not read
        assert ask(helper, b"show ABCDEF12345\n") == \
            b"error ABCDEF12345 is not in the hold queue\n"
        assert held in postfix.hold_queue()  # nothing above touched it
        listed = ask(helper, b"list\n")
        assert listed.startswith(b"ok\n") and held.encode() in listed
        assert ask(helper, f"show {held}\n".encode()).startswith(b"ok\n")
        assert ask(helper, f"delete {held}\n".encode()) == b"ok\n"
    wait_until(lambda: held not in postfix.hold_queue(), 10, "the deleted message gone")
