"""The running daemon over its socket, driven by an independent milter client.

The client is the pure-Python ``miltertest`` package (flowerysong/miltertest), which speaks the
MTA side of the milter protocol; no Postfix is needed.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import miltertest as mt
import pytest
from dns_harness import DnsServer
from mta_session import MtaSession, Reply
from postfix_harness import RunningMilter, wait_until
from samples import (
    EXTERNAL_RCPT,
    FREEMAIL_RCPT,
    OFFICER,
    OFFICIAL,
    OFFICIAL_RCPT,
    OFFICIAL_SENDER,
    PLAIN,
    SECRET,
    SECRET_REPLY_EN,
    policy_yaml,
)


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    # short: a unix socket path has at most 107 bytes, too few for pytest's tmp_path names
    path = Path(tempfile.mkdtemp(prefix="gm-proto-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def daemon(workdir: Path) -> Iterator[RunningMilter]:
    policy = workdir / "policy.yaml"
    policy.write_text(policy_yaml())
    with RunningMilter(workdir / "milter", policy) as running:
        yield running


def actions(eom: list[Reply], kind: str) -> list[dict[str, Any]]:
    return [params for cmd, params in eom if cmd == kind]


def test_several_recipients_and_messages_on_one_connection(daemon: RunningMilter) -> None:
    session = MtaSession(daemon.socket_path)
    # headers, end of headers and body chunks need no reply: no round trip for each of them
    assert session.conn.protocol_flags & mt.SMFIP_NR_HDR
    assert session.conn.protocol_flags & mt.SMFIP_NR_EOH
    assert session.conn.protocol_flags & mt.SMFIP_NR_BODY
    # 1. a secret document to an official and a freemail recipient: only the freemail one goes
    rcpt, eom = session.message(OFFICIAL_SENDER, [OFFICIAL_RCPT, FREEMAIL_RCPT], SECRET, "Q1")
    assert [r[0] for r in rcpt] == [mt.SMFIR_CONTINUE, mt.SMFIR_CONTINUE]
    assert actions(eom, mt.SMFIR_DELRCPT) == [{"rcpt": f"<{FREEMAIL_RCPT}>"}]
    assert actions(eom, mt.SMFIR_ADDHEADER) == [
        {"name": "X-GovMilter", "value": "compliant; rule=official-to-official; document=secret"}]
    assert eom[-1][0] == mt.SMFIR_CONTINUE
    # 2. the same document to the freemail recipient alone: the whole message is refused
    _, eom = session.message(OFFICIAL_SENDER, [FREEMAIL_RCPT], SECRET, "Q2")
    assert eom[-1][0] == mt.SMFIR_REPLYCODE
    # on the wire '%' stays doubled (libmilter's format escaping); Postfix shows it single
    assert eom[-1][1]["smtpcode"] == "550"
    assert SECRET_REPLY_EN.replace("%", "%%") in eom[-1][1]["text"]
    # 3. ordinary mail between official mailboxes: tagged compliant
    _, eom = session.message(OFFICIAL_SENDER, [OFFICIAL_RCPT], PLAIN, "Q3")
    assert actions(eom, mt.SMFIR_ADDHEADER)[0]["value"].startswith("compliant;")
    session.close()
    wait_until(lambda: all(f"qid=Q{n} " in daemon.log() for n in (1, 2, 3)), 10, "log lines")


def test_content_free_rule_refuses_one_recipient_at_rcpt(daemon: RunningMilter) -> None:
    session = MtaSession(daemon.socket_path, service="submission")
    rcpt, eom = session.message(OFFICIAL_SENDER, [EXTERNAL_RCPT, OFFICIAL_RCPT], PLAIN, "Q4")
    assert rcpt[0][0] == mt.SMFIR_REPLYCODE and rcpt[0][1]["smtpcode"] == "554"
    assert rcpt[1][0] == mt.SMFIR_CONTINUE
    assert eom[-1][0] == mt.SMFIR_CONTINUE and actions(eom, mt.SMFIR_DELRCPT) == []
    session.close()


def test_invalid_reload_is_refused_and_connections_keep_their_policy(
        daemon: RunningMilter, workdir: Path) -> None:
    policy = workdir / "policy.yaml"
    sha = daemon.log().split("sha256=")[1].split()[0]
    early = MtaSession(daemon.socket_path)
    early.message(OFFICIAL_SENDER, [OFFICIAL_RCPT], PLAIN, "Q5")  # connection is under way

    policy.write_text("rules:\n  - id: Bad Rule\n    action: explode\n")
    daemon.reload()
    wait_until(lambda: "policy reload refused" in daemon.log(), 10, "the refusal")
    assert daemon.metric("govmilter_policy_reload_failures_total") >= 1
    assert daemon.metric("govmilter_policy_info", sha256=sha, mode="enforce") == 1

    policy.write_text(policy_yaml(mode="monitor"))  # the file watcher picks this up
    wait_until(lambda: daemon.metric("govmilter_policy_info", 0.0, mode="monitor") == 1, 10,
               "the monitor policy")
    late = MtaSession(daemon.socket_path)
    _, eom = late.message(OFFICIAL_SENDER, [FREEMAIL_RCPT], SECRET, "Q6")
    assert eom[-1][0] == mt.SMFIR_CONTINUE  # monitor mode: nothing refused
    _, eom = early.message(OFFICIAL_SENDER, [FREEMAIL_RCPT], SECRET, "Q7")
    assert eom[-1][0] == mt.SMFIR_REPLYCODE  # still the policy it connected with
    early.close()
    late.close()


@pytest.fixture(scope="module")
def dns_daemon(workdir: Path, dns_server: DnsServer) -> Iterator[RunningMilter]:
    """The daemon with DNS checks against the test's dnsmasq (budget 1 s per message)."""
    policy = workdir / "dns-policy.yaml"
    policy.write_text(policy_yaml(dns=f"dns: {{nameservers: ['127.0.0.1:{dns_server.port}'], "
                                      "timeout: 0.5, budget: 1}"))
    with RunningMilter(workdir / "dns-milter", policy) as running:
        yield running


def test_dns_turns_a_gmail_hosted_domain_into_freemail(dns_daemon: RunningMilter) -> None:
    """familie.example is on no list; its MX is Gmail's, so a document to it is held."""
    session = MtaSession(dns_daemon.socket_path)
    _, eom = session.message(OFFICIAL_SENDER, ["ba@familie.example"], OFFICIAL, "D1")
    assert actions(eom, mt.SMFIR_QUARANTINE)
    assert actions(eom, mt.SMFIR_ADDRCPT) == [{"rcpt": f"<{OFFICER}>"}]
    assert eom[-1][0] == mt.SMFIR_CONTINUE
    session.close()
    assert dns_daemon.metric("govmilter_dns_lookup_seconds_count") >= 1
    wait_until(lambda: "qid=D1 sender=official rcpts=freemail " in dns_daemon.log(), 10, "log")


def test_silent_dns_costs_at_most_the_budget_and_mail_flows(dns_daemon: RunningMilter) -> None:
    """A recipient whose DNS never answers is classified unknown in time; the mail goes on."""
    session = MtaSession(dns_daemon.socket_path)
    started = time.monotonic()
    rcpt, eom = session.message(OFFICIAL_SENDER, ["ba@x.silent.example"], OFFICIAL, "D2")
    elapsed = time.monotonic() - started
    session.close()
    assert rcpt[0][0] == mt.SMFIR_CONTINUE and eom[-1][0] == mt.SMFIR_CONTINUE
    # the per-message budget (1 s) is honoured, with slack for a loaded 2-core machine
    assert elapsed < 1.0 + 0.5, elapsed
    wait_until(lambda: "qid=D2 sender=official rcpts=unknown " in dns_daemon.log(), 10, "log")
    wait_until(lambda: dns_daemon.metric("govmilter_errors_total", stage="dns") >= 1, 10,
               "the DNS time-out counted")


def test_several_silent_recipients_share_one_budget(dns_daemon: RunningMilter) -> None:
    """Four recipients whose DNS never answers, on one message (timeout 0.5 s, budget 1 s): the
    end-of-message answer comes after about the budget, not after a time-out per recipient
    (2 s and more). The test policy can refuse at RCPT, so each RCPT waits for its class until
    the budget is spent; the rest are classified without DNS. All four are class unknown."""
    recipients = [f"r{i}@budget{i}.silent.example" for i in range(4)]  # no cached failures
    errors = dns_daemon.metric("govmilter_errors_total", stage="dns")
    session = MtaSession(dns_daemon.socket_path)
    started = time.monotonic()
    rcpt, eom = session.message(OFFICIAL_SENDER, recipients, OFFICIAL, "D3")
    elapsed = time.monotonic() - started
    session.close()
    print(f"\n1 sender + 4 silent recipients through the daemon: {elapsed:.2f} s")
    assert [r[0] for r in rcpt] == [mt.SMFIR_CONTINUE] * 4 and eom[-1][0] == mt.SMFIR_CONTINUE
    assert elapsed < 1.0 + 0.5, elapsed  # budget + slack (a time-out each would be 2.4 s)
    wait_until(lambda: "qid=D3 sender=official rcpts=unknown,unknown,unknown,unknown "
               in dns_daemon.log(), 10, "log")
    # each lookup that timed out, and each one the budget left no time for, is a DNS error
    wait_until(lambda: dns_daemon.metric("govmilter_errors_total", stage="dns") >= errors + 4,
               10, "the DNS failures counted")
