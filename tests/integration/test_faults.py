"""Faults with a real Postfix: what the client is told, and that no accepted message is lost.

Load comes from Postfix's own ``smtp-source`` (numbered recipients, ``-A``), delivery goes to
``smtp-sink``; every test reconciles the messages Postfix answered 250 at the end of DATA with
what the sink received once the queue drained: nothing lost, nothing delivered twice, nothing
delivered that the client was told to retry. Messages refused with 4xx were never accepted;
a real client retries them, and they are counted.

``python -m pytest tests/integration/test_faults.py -s`` prints the table docs/admin.md quotes.

Needs root and Postfix (scripts/setup.sh installs it): skipped on a developer machine without
them, failed when CI=true.
"""

from __future__ import annotations

import contextlib
import os
import re
import smtplib
import socket
import statistics
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from postfix_harness import (
    Dump,
    PrivatePostfix,
    Reconciliation,
    RunningMilter,
    SmtpSource,
    SourceReport,
    plugged_milter,
    reconcile,
    require,
    wait_until,
)
from samples import OFFICIAL_SENDER, policy_yaml

pytestmark = pytest.mark.postfix

TAG = "compliant; rule=official-to-official"  # what the test policy stamps official mail with
OFFICIAL_DOMAIN = "hanoi.gov.vn"


@dataclass
class Figure:
    """One row of the table in docs/admin.md ("Faults and what Postfix does")."""

    fault: str
    default_action: str
    report: SourceReport
    reconciliation: Reconciliation
    delivered: int
    #: delivered without the X-GovMilter header, i.e. the milter never saw it (None: the
    #: policy's answer for this mail adds no header, so the header cannot tell)
    unfiltered: int | None

    def cells(self) -> list[str]:
        codes = self.report.codes()
        stages = Counter((a.code, a.stage) for a in self.report.attempts if a.code != 250)
        refused = ", ".join(f"{n}×{code} at {STAGE_NAMES[stage]}"
                            for (code, stage), n in sorted(stages.items()))
        r = self.reconciliation
        return [self.fault, self.default_action, str(len(self.report.attempts)),
                str(codes.get(250, 0)), refused or "0", str(self.delivered),
                "–" if self.unfiltered is None else str(self.unfiltered), str(len(r.lost)),
                str(len(r.duplicated)), str(len(r.unexpected))]


FIGURES: list[Figure] = []
STAGE_NAMES = {"CONNECT": "greeting", "HELO": "HELO", "MAIL": "MAIL FROM", "RCPT": "RCPT TO",
               "DATA": "DATA", "END": "end of data"}
HEADINGS = ["fault", "milter_default_action", "messages sent", "250 (accepted)", "4xx (retry)",
            "delivered", "of them unfiltered", "lost", "duplicated", "delivered after 4xx"]


@pytest.fixture(scope="module", autouse=True)
def figures_table() -> Iterator[None]:
    """Print the table of every fault run in this module (shown with ``pytest -s``)."""
    yield
    if FIGURES:
        rows = [HEADINGS, ["---"] * len(HEADINGS), *(f.cells() for f in FIGURES)]
        print("\n" + "\n".join("| " + " | ".join(row) + " |" for row in rows))



@dataclass
class Outcome:
    """A load run: what the client saw, what arrived, and the reconciliation."""

    report: SourceReport
    reconciliation: Reconciliation
    dumps: list[Dump] = field(default_factory=list)
    maillog: str = ""  #: what Postfix logged during the run

    @property
    def tagged(self) -> int:
        return sum(1 for d in self.dumps if str(d.headers.get("X-GovMilter", "")).startswith(TAG))

    def assert_nothing_lost(self, messages: int) -> None:
        """The invariant of every fault: each 250 arrives exactly once, nothing else arrives."""
        report, r = self.report, self.reconciliation
        assert set(report.exit_codes) == {0} and report.fatal == (), report.fatal
        assert len(report.attempts) == messages
        assert r.lost == frozenset(), f"accepted but never delivered: {sorted(r.lost)}"
        assert r.duplicated == {}, f"delivered twice: {r.duplicated}"
        assert r.unexpected == frozenset(), f"delivered after a 4xx: {sorted(r.unexpected)}"
        assert len(self.dumps) == len(report.accepted)


def load(postfix: PrivatePostfix, marker: str, messages: int, during: Callable[[SmtpSource], None],
         *, sessions: int = 10, delay: int = 1, size: int = 0,
         domain: str = OFFICIAL_DOMAIN) -> Outcome:
    """Send ``messages`` with smtp-source, run ``during`` meanwhile, drain, reconcile."""
    log_start = len(postfix.maillog())
    source = SmtpSource(postfix.smtp_port, OFFICIAL_SENDER, f"{marker}@{domain}", messages,
                        sessions=sessions, delay=delay, size=size)
    with source:
        during(source)
        report = source.wait(120)
    # every accepted message is delivered or still queued: wait for the queue, then compare
    postfix.wait_queue_empty(60)
    time.sleep(1)  # a second delivery of anything would have reached the sink by now
    dumps = [d for d in postfix.dumps() if any(marker in r for r in d.recipients)]
    received = [r for d in dumps for r in d.recipients]
    return Outcome(report, reconcile(report.accepted, received), dumps,
                   postfix.maillog()[log_start:])


def record(fault: str, default_action: str, outcome: Outcome, *, tags: bool = True) -> None:
    FIGURES.append(Figure(fault, default_action, outcome.report, outcome.reconciliation,
                          len(outcome.dumps), len(outcome.dumps) - outcome.tagged if tags
                          else None))


def after_deliveries(postfix: PrivatePostfix, marker: str, count: int) -> None:
    """Wait until the stream is really flowing through the milter."""
    wait_until(lambda: len(postfix.received(marker)) >= count, 30,
               f"{count} deliveries for {marker}")


@contextlib.contextmanager
def main_cf(postfix: PrivatePostfix, **settings: str) -> Iterator[None]:
    """Run with other main.cf settings, then put the previous values back."""
    previous = {key: postfix.settings()[key] for key in settings}
    postfix.configure(**settings)
    try:
        yield
    finally:
        postfix.configure(**previous)


# ---- the milter dies -------------------------------------------------------------------------

class CutTransaction:
    """One SMTP transaction of the test's own, held open in DATA while the milter is killed.

    smtp-source's sessions are cut wherever the kill lands, often between two messages; this one
    is certainly inside the milter: MAIL and RCPT were answered by it, the content has been sent,
    and the end of data (which Postfix's cleanup turns into the milter's header, body and
    end-of-message events) comes only after the kill. Its reply and delivery are checked apart
    from smtp-source's numbered messages.
    """

    def __init__(self, port: int, recipient: str, size: int) -> None:
        self.recipient = recipient
        self.reply: tuple[int, bytes] | None = None
        self.client = smtplib.SMTP("127.0.0.1", port, timeout=60)
        try:
            self.client.ehlo("cut.test")
            self.client.mail(OFFICIAL_SENDER)
            code, _ = self.client.rcpt(recipient)
            assert code == 250, f"the milter must accept the recipient before the kill: {code}"
            code, _ = self.client.docmd("DATA")
            assert code == 354, code
            line = b"x" * 76 + b"\r\n"
            self.client.send(f"From: <{OFFICIAL_SENDER}>\r\nTo: <{recipient}>\r\n"
                             "Subject: cut in the milter\r\n\r\n".encode()
                             + line * (size // len(line)))
        except BaseException:
            self.close()
            raise

    def finish(self) -> tuple[int, bytes]:
        """End the data (the milter is gone by now) and read Postfix's answer."""
        try:
            self.client.send(b"\r\n.\r\n")
            self.reply = self.client.getreply()
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.client.quit()
            return self.reply
        finally:
            self.close()

    def close(self) -> None:
        """Hang up, finished or not. A transaction left open (a failure between the start and
        :meth:`finish`) keeps its smtpd, and the main.cf it started with, until Postfix's
        smtpd_timeout: the next module's reset of the shared Postfix would wait for it."""
        with contextlib.suppress(OSError):
            self.client.close()


def taken(source: SmtpSource) -> int:
    """The messages Postfix answered 250 so far, at the client: each after the milter's answer."""
    return sum(attempt.accepted for session in source.progress() for attempt in session)


def kill_and_restart(postfix: PrivatePostfix, milter: RunningMilter, marker: str,
                     cut: list[CutTransaction]) -> Callable[[SmtpSource], None]:
    def during(source: SmtpSource) -> None:
        # the stream really flows through the milter (counted at the client: on a loaded
        # machine deliveries lag behind, and the sessions would have sent most of their mail)
        wait_until(lambda: taken(source) >= 20, 60, f"20 messages taken for {marker}")
        held = CutTransaction(postfix.smtp_port, cut_recipient(marker), KILL_SIZE)
        cut.append(held)
        # freeze the milter first, so that smtp-source's sessions under way pile up waiting
        # for its replies too, then kill it: no goodbye to Postfix, transactions cut wherever
        wait_until(lambda: milter.metric("govmilter_connections_in_progress") >= 2, 60,
                   "messages in the milter", interval=0.01)
        milter.pause()
        time.sleep(0.5)
        milter.kill()
        killed = time.monotonic()
        held.finish()
        at_kill = [len(done) for done in source.progress()]
        # Mail keeps coming while it is down: from every session, at least once. Each session
        # waits (SIGSTOP) from its first message after the kill until the milter is back, so
        # that the quick ones do not use up their mail while a slow one is still on its way;
        # and the milter stays down for 2 s at least.
        waiting: set[int] = set()

        def every_session_came() -> bool:
            for index, (done, before) in enumerate(zip(source.progress(), at_kill,
                                                       strict=True)):
                if index not in waiting and len(done) > before:
                    source.pause([index])
                    waiting.add(index)
            return len(waiting) == len(at_kill)
        try:
            wait_until(every_session_came, 60,
                       "a message from every session while the milter is down")
            time.sleep(max(0.0, killed + 2 - time.monotonic()))
            # each then sends the rest of its mail to the restarted milter. One message of a
            # session may be under way, begun while the milter was down; another must follow
            source.pause()
            assert min(source.left()) >= 2, f"the milter must die mid-stream: {source.left()}"
            milter.start()
        finally:
            source.resume()
    return during


#: 200 kB messages keep the milter busy long enough for the kill to cut some of them
KILL_SIZE = 200_000


def cut_recipient(marker: str) -> str:
    """The held transaction's recipient: not matched by ``marker`` (kept out of the reconcile)."""
    return f"cut{marker.replace('-', '')}@{OFFICIAL_DOMAIN}"


def killed_mid_stream(postfix: PrivatePostfix, default_action: str, marker: str
                      ) -> tuple[Outcome, CutTransaction]:
    """Kill and restart the milter under load; check what holds for every default action."""
    cut: list[CutTransaction] = []
    try:
        with plugged_milter(postfix, policy_yaml(), default_action=default_action) as milter:
            outcome = load(postfix, marker, 100, kill_and_restart(postfix, milter, marker, cut),
                           size=KILL_SIZE)
    finally:
        for held in cut:
            held.close()
    record("milter killed (SIGKILL) mid-stream, restarted 2 s later", default_action, outcome)
    outcome.assert_nothing_lost(100)
    # the held transaction was cut inside the milter, and Postfix says so (waiting for a reply,
    # or writing an event); smtp-source's cut sessions may add more such lines
    said = [line for line in outcome.maillog.splitlines() if "milter" in line]
    signs = ("can't read SMFIC_", "error writing command", "error in initial handshake")
    assert any(sign in line for line in said for sign in signs), said
    # mail flows again after the restart: each session's last message was accepted, and
    # filtered by the restarted milter
    assert all(session[-1].accepted for session in outcome.report.sessions)
    tagged = {r for d in outcome.dumps for r in d.recipients
              if str(d.headers.get("X-GovMilter", "")).startswith(TAG)}
    assert {session[-1].recipient for session in outcome.report.sessions} <= tagged
    return outcome, cut[0]


def test_milter_killed_mid_stream_tempfail_defers_and_loses_nothing(
        postfix: PrivatePostfix) -> None:
    outcome, cut = killed_mid_stream(postfix, "tempfail", "kill-t")
    # the transaction cut inside the milter is refused at the end of data, and never delivered
    assert cut.reply is not None and cut.reply[0] // 100 == 4, cut.reply
    assert postfix.received(cut.recipient) == []
    codes = outcome.report.codes()
    assert codes[250] >= 20 and set(codes) <= {250, 451}
    # the sessions while it was down were told to retry; those cut during the content were
    # refused at the end of data (see the table), not taken
    assert codes[451] > 0
    assert "4.7.1 Service unavailable - try again later" in outcome.maillog
    assert outcome.tagged == len(outcome.dumps)  # tempfail: nothing passed unfiltered


def test_milter_killed_mid_stream_accept_delivers_unfiltered_and_loses_nothing(
        postfix: PrivatePostfix) -> None:
    outcome, cut = killed_mid_stream(postfix, "accept", "kill-a")
    # fail open: the transaction cut inside the milter is taken and delivered once, unfiltered
    assert cut.reply is not None and cut.reply[0] == 250, cut.reply
    assert postfix.received(cut.recipient) == [cut.recipient]
    assert outcome.report.codes() == {250: 100}  # fail open: every message taken
    assert 0 < outcome.tagged < len(outcome.dumps)  # filtered before and after, not while down


# ---- the milter stalls -----------------------------------------------------------------------

def test_milter_stalled_past_postfix_timeouts_gets_default_action_then_recovers(
        postfix: PrivatePostfix) -> None:
    timeouts = {"milter_connect_timeout": "2s", "milter_command_timeout": "2s",
                "milter_content_timeout": "2s"}
    with main_cf(postfix, **timeouts), plugged_milter(postfix, policy_yaml()) as milter:
        def stall(source: SmtpSource) -> None:
            after_deliveries(postfix, "stall", 20)
            milter.pause()  # SIGSTOP: the socket still accepts, nothing answers
            time.sleep(5)
            milter.resume()
            assert source.running
        outcome = load(postfix, "stall", 100, stall)
        alive = milter.process is not None and milter.process.poll() is None
    record("milter frozen (SIGSTOP) 5 s, Postfix milter timeouts 2 s", "tempfail", outcome)
    outcome.assert_nothing_lost(100)
    codes = outcome.report.codes()
    assert set(codes) <= {250, 451} and codes[451] > 0 and codes[250] > 20
    assert outcome.tagged == len(outcome.dumps)
    assert all(session[-1].accepted for session in outcome.report.sessions)
    assert alive
    assert "timed out" in outcome.maillog


# ---- DNS never answers -----------------------------------------------------------------------

def test_silent_dns_delays_each_message_by_its_lookup_timeouts_only_and_mail_flows(
        postfix: PrivatePostfix, silent: socket.socket) -> None:
    """Sender and recipient need a lookup each; each gives up after dns.timeout (0.5 s).

    The sender's lookup starts at MAIL FROM and the recipient's at RCPT, so they overlap, and all
    DNS waiting of a message stays within dns.budget (1 s). ``failure_ttl: 0`` keeps failures
    out of the cache, so every message meets the silence. One session: a lookup still in flight
    is shared by the messages that ask for the same name meanwhile, so with several sessions a
    message that joins another's query late is decided early (seen on a loaded machine).
    """
    port = silent.getsockname()[1]
    budget = 1.0
    dns = (f"dns: {{enabled: true, nameservers: ['127.0.0.1:{port}'], timeout: 0.5, "
           f"budget: {budget}, failure_ttl: 0}}")
    messages = 10
    with plugged_milter(postfix, policy_yaml(dns=dns)) as milter:
        outcome = load(postfix, "dns", messages, lambda source: None, sessions=1, delay=0,
                       domain="partner.example")  # on no list: only DNS could classify it
        m = milter.metric
        dns_errors, lookups = m("govmilter_errors_total", stage="dns"), \
            m("govmilter_dns_lookup_seconds_count")
        decided, quick = m("govmilter_processing_seconds_count"), \
            m("govmilter_processing_seconds_bucket", le="0.5")
        seconds = [float(s) for s in re.findall(r" seconds=([\d.]+)", milter.log())]
    record(f"DNS silent (timeout 0.5 s, budget 1 s): each message decided in {min(seconds):.1f}–"
           f"{max(seconds):.1f} s", "tempfail", outcome, tags=False)
    outcome.assert_nothing_lost(messages)
    assert outcome.report.codes() == {250: messages}
    assert decided == messages == len(seconds)
    assert quick == 0  # every message really waited for the silent server
    # the whole message, MAIL FROM to verdict, within the budget: the two lookups overlap
    # (about 0.6 s); one time-out after the other would put every message past 1.0 s. The
    # time also holds Postfix's own steps between MAIL FROM and the end of data, which a
    # loaded machine stretches for a message or two: the median is within the budget, and no
    # message took twice the budget
    assert statistics.median(seconds) < budget, f"the lookups did not overlap: {seconds}"
    assert max(seconds) < 2 * budget, f"a message waited past the DNS budget: {seconds}"
    # every lookup timed out and was counted; so would be one the budget left no time for
    assert dns_errors >= lookups > 0


# ---- an invalid policy arrives ---------------------------------------------------------------

def test_invalid_policy_under_load_is_refused_and_the_old_one_keeps_deciding(
        postfix: PrivatePostfix) -> None:
    with plugged_milter(postfix, policy_yaml()) as milter:
        assert milter.policy is not None
        policy_file = milter.policy

        def replace_policy(source: SmtpSource) -> None:
            after_deliveries(postfix, "badpol", 15)
            # what config management does: write a new file, rename it over the old one
            staged = policy_file.with_suffix(".new")
            staged.write_text(policy_yaml().replace("action: tag", "action: explode"))
            os.replace(staged, policy_file)
            wait_until(lambda: milter.metric("govmilter_policy_reload_failures_total") == 1,
                       10, "the file watcher to refuse the new file")
            milter.reload()  # and an operator's `systemctl reload` on top
            wait_until(lambda: milter.metric("govmilter_policy_reload_failures_total") == 2,
                       10, "SIGUSR1 to refuse it too")
            assert source.running
        outcome = load(postfix, "badpol", 80, replace_policy)
        assert milter.metric("govmilter_policy_reloads_total") == 2
        log = milter.log()
    record("policy file replaced by an invalid one under load", "tempfail", outcome)
    outcome.assert_nothing_lost(80)
    assert outcome.report.codes() == {250: 80}
    assert outcome.tagged == 80  # every message decided by the old policy's rule
    assert log.count("policy reload refused") == 2 and "unknown value 'explode'" in log


# ---- the spool directory is full -------------------------------------------------------------

@pytest.fixture
def tiny_spool(postfix: PrivatePostfix) -> Iterator[Path]:
    """A 256 KiB tmpfs: the directory big messages spool to fills up."""
    mount_point = postfix.base / "tinyspool"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs",
                              str(mount_point)], capture_output=True, text=True)
    require(mounted.returncode == 0, f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)


def test_full_spool_directory_tempfails_big_messages_only_and_the_milter_keeps_running(
        postfix: PrivatePostfix, tiny_spool: Path) -> None:
    big, small = 12, 60
    policy = policy_yaml(memory_bytes=65536)  # past 64 KiB a message goes to the spool
    with plugged_milter(postfix, policy, ("--spool-dir", str(tiny_spool))) as milter:
        big_source = SmtpSource(postfix.smtp_port, OFFICIAL_SENDER,
                                f"big@{OFFICIAL_DOMAIN}", big, sessions=3, size=400_000)
        with big_source:  # 400 kB each: none fits in 256 KiB
            small_outcome = load(postfix, "small", small, lambda source: None, sessions=5,
                                 delay=0)
            big_report = big_source.wait(120)
        postfix.wait_queue_empty(60)
        alive = milter.process is not None and milter.process.poll() is None
        errors = milter.metric("govmilter_errors_total", stage="body")
        tempfails = milter.metric("govmilter_failure_actions_total", action="tempfail")
        log = milter.log()
    big_outcome = Outcome(big_report, reconcile(big_report.accepted, postfix.received("big@")),
                          [d for d in postfix.dumps() if any("big@" in r for r in d.recipients)])
    record("spool directory full (256 KiB tmpfs), 400 kB messages", "tempfail", big_outcome)
    record("spool directory full, small messages at the same time", "tempfail", small_outcome)
    big_outcome.assert_nothing_lost(big)
    small_outcome.assert_nothing_lost(small)
    assert alive
    assert small_outcome.report.codes() == {250: small}
    assert big_report.codes() == {451: big}
    # refused after the content, with the policy's on_error reply (not Postfix's 4.7.1)
    assert {(a.stage, a.text) for a in big_report.attempts} == {
        ("END", "4.3.0 govmilter: temporary failure, please try again later")}
    assert errors == big and tempfails == big
    assert log.count("exception=OSError(ENOSPC)") == big
    assert os.listdir(tiny_spool) == [] and os.statvfs(tiny_spool).f_bfree == \
        os.statvfs(tiny_spool).f_blocks  # every spool file was freed
