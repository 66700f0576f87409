"""Security of the running daemon: who it runs as, who can reach it, what it writes down.

* An unprivileged user, a 0660 socket in Postfix's group (checked end to end: Postfix's smtpd,
  which keeps only its primary group, really connects through it).
* The metrics endpoint on loopback unless told otherwise.
* No subject, body, attachment name or address in the log, even with ``--verbose``.
* Big messages spool to private (0600), already unlinked files that are freed at end of message.

That ``govmilter validate`` refuses policy texts which would put CR/LF into an SMTP reply or a
header is tested in tests/policy/test_policy.py (``reply-crlf-injection``,
``subject-header-injection``).
"""

from __future__ import annotations

import argparse
import email.message
import grp
import os
import pwd
import stat
import subprocess
from pathlib import Path

import miltertest as mt
import pytest
from mta_session import MtaSession
from postfix_harness import PrivatePostfix, RunningMilter, wait_until
from samples import OFFICIAL_RCPT, OFFICIAL_SENDER, SECRET, policy_yaml

from govmilter.server.options import add_run_arguments, options_from_args

TEST_USER = "govmilter-test"




@pytest.fixture(scope="module")
def test_user(postfix: PrivatePostfix) -> pwd.struct_passwd:
    """An unprivileged system user for the daemon (created once, as ``adduser --system``)."""
    try:
        return pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", TEST_USER], check=True, capture_output=True)
        return pwd.getpwnam(TEST_USER)


def status_ids(pid: int) -> dict[str, list[int]]:
    """The Uid, Gid and Groups lines of /proc/PID/status."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {key: [int(v) for v in rest.split()] for key, _, rest in
            (line.partition(":") for line in lines) if key in ("Uid", "Gid", "Groups")}


def smtpd_children(master_pid: int) -> list[int]:
    """The smtpd processes of one Postfix master."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = dict(line.split(":\t", 1) for line in
                          (entry / "status").read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("Name") == "smtpd" and int(fields.get("PPid", "0")) == master_pid:
            found.append(int(entry.name))
    return found


def test_daemon_runs_unprivileged_and_postfix_reaches_its_0660_socket(
        postfix: PrivatePostfix, test_user: pwd.struct_passwd) -> None:
    policy = postfix.base / "policy-user.yaml"
    policy.write_text(policy_yaml())
    postfix_gid = grp.getgrnam("postfix").gr_gid
    with RunningMilter(postfix.base / "sec", policy, ("--user", TEST_USER),
                       socket_mode="660") as daemon:
        ids = status_ids(daemon.pid)
        assert ids["Uid"] == [test_user.pw_uid] * 4  # real, effective, saved, filesystem
        assert ids["Gid"] == [test_user.pw_gid] * 4
        assert 0 not in ids["Groups"] and postfix_gid not in ids["Groups"]
        sock = os.stat(daemon.socket_path)
        assert stat.S_IMODE(sock.st_mode) == 0o660
        assert (sock.st_uid, sock.st_gid) == (test_user.pw_uid, postfix_gid)
        directory = os.stat(daemon.directory)
        assert directory.st_gid == postfix_gid and directory.st_mode & stat.S_ISGID
        # the proof: Postfix opens the socket and the unprivileged milter scans the document
        postfix.configure_milter(daemon.spec, "tempfail")
        try:
            assert postfix.send(OFFICIAL_SENDER, [OFFICIAL_RCPT], SECRET) == {}
            [dump] = postfix.wait_for_dumps(1)
            assert dump.headers["X-GovMilter"] == \
                "compliant; rule=official-to-official; document=secret"
            # why the socket's group must be "postfix": smtpd keeps no supplementary group
            master = int((postfix.spool / "pid" / "master.pid").read_text().split()[0])
            smtpds = smtpd_children(master)
            assert smtpds and all(status_ids(pid)["Groups"] == [postfix_gid] for pid in smtpds)
        finally:
            postfix.configure_milter(None)


def test_metrics_endpoint_listens_on_loopback_only_by_default(workdir: Path) -> None:
    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    assert options_from_args(parser.parse_args([])).metrics == "127.0.0.1:9755"
    policy = workdir / "policy.yaml"
    policy.write_text(policy_yaml())
    # a port without a host: the daemon still binds loopback, not every interface
    with RunningMilter(workdir / "m", policy, ("--metrics", ":0")) as daemon:
        port = f"{daemon.metrics_port:04X}"
        listening = [line.split()[1] for line in
                     Path("/proc/net/tcp").read_text().splitlines()[1:] + (
                         Path("/proc/net/tcp6").read_text().splitlines()[1:]
                         if Path("/proc/net/tcp6").exists() else [])
                     if line.split()[3] == "0A" and line.split()[1].endswith(f":{port}")]
        assert listening == [f"0100007F:{port}"]
        assert "# HELP govmilter_messages_total" in daemon.metrics_text()


MARKERS = ("zqsubject", "zqbody", "zqfilename", "zqattached", "zqsender", "zqrcpt", "zqdisplay")


def marked_message() -> bytes:
    """A message with a distinctive marker in every place content could leak from."""
    message = email.message.EmailMessage()
    message["From"] = f"Zqdisplay Name <zqsender@{OFFICIAL_SENDER.split('@')[1]}>"
    message["To"] = f"zqrcpt@{OFFICIAL_RCPT.split('@')[1]}"
    message["Subject"] = "zqsubject: Công văn số 12/UBND-VP"
    message.set_content("zqbody: Kính gửi các đơn vị.\n")
    message.add_attachment(b"zqattached payload", maintype="application",
                           subtype="octet-stream", filename="zqfilename-cong-van.docx")
    return message.as_bytes()


def test_the_log_names_no_subject_body_attachment_or_address(
        postfix: PrivatePostfix, workdir: Path) -> None:
    policy = workdir / "policy.yaml"
    policy.write_text(policy_yaml())
    with RunningMilter(postfix.base / "sec-log", policy, ("--verbose",)) as daemon:
        postfix.configure_milter(daemon.spec, "tempfail")
        try:
            sender = f"zqsender@{OFFICIAL_SENDER.split('@')[1]}"
            rcpts = [f"zqrcpt@{OFFICIAL_RCPT.split('@')[1]}", "zqrcpt@gmail.com"]
            assert postfix.send(sender, rcpts, marked_message()) == {}
            wait_until(lambda: " qid=" in daemon.log() and "rules=" in daemon.log(), 15,
                       "the message's log line")
        finally:
            postfix.configure_milter(None)
        log = daemon.log().lower()
    assert "class=" in log and "rcpts=official,freemail" in log  # it was decided and logged
    assert [marker for marker in MARKERS if marker in log] == []
    # the incident store keeps who, what and the attachment's name, never the message's text
    # or an attachment's bytes (the store, its WAL and the journal, read as raw bytes)
    wait_until(lambda: b"zqsubject" in stored_bytes(daemon.state_dir), 15,
               "the incident in the store")
    stored = stored_bytes(daemon.state_dir).lower()
    assert b"zqfilename" in stored and b"zqrcpt" in stored
    assert [m for m in ("zqbody", "zqattached") if m.encode() in stored] == []


def stored_bytes(state_dir: Path) -> bytes:
    """Every byte the daemon's incident store and journal hold on disk."""
    return b"".join(path.read_bytes() for path in sorted(state_dir.rglob("*")) if path.is_file())


def spool_descriptors(pid: int, directory: Path) -> list[tuple[str, int]]:
    """The daemon's open files in ``directory``: (link target, mode)."""
    found = []
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        try:
            target = os.readlink(fd)
            mode = stat.S_IMODE(os.stat(fd).st_mode)
        except OSError:
            continue  # closed meanwhile
        if target.startswith(f"{directory}/"):
            found.append((target, mode))
    return found


def test_big_message_spools_to_a_private_unlinked_file_freed_at_end_of_message(
        workdir: Path) -> None:
    spool_dir = workdir / "spool"
    spool_dir.mkdir(mode=0o700)
    policy = workdir / "policy.yaml"
    policy.write_text(policy_yaml(memory_bytes=65536))
    with RunningMilter(workdir / "m", policy, ("--spool-dir", str(spool_dir))) as daemon:
        session = MtaSession(daemon.socket_path)
        conn = session.conn
        assert conn.send_ar(mt.SMFIC_MAIL, args=[f"<{OFFICIAL_SENDER}>"])[0] == \
            mt.SMFIR_CONTINUE
        assert conn.send_ar(mt.SMFIC_RCPT, args=[f"<{OFFICIAL_RCPT}>"])[0] == mt.SMFIR_CONTINUE
        assert conn.send_ar(mt.SMFIC_DATA)[0] == mt.SMFIR_CONTINUE
        # past memory_bytes: now in a file, message in flight
        session.content([("From", f"<{OFFICIAL_SENDER}>"), ("Subject", "big")], b"x" * 200_000)
        [(target, mode)] = spool_descriptors(daemon.pid, spool_dir)
        assert target.endswith("(deleted)")  # no name on disk: nothing left if it is killed
        assert mode == 0o600
        assert os.listdir(spool_dir) == []
        eom = conn.send_eom()
        assert eom[-1][0] == mt.SMFIR_CONTINUE
        wait_until(lambda: spool_descriptors(daemon.pid, spool_dir) == [], 5,
                   "the spool file to be closed")
        session.close()
