"""The pymilter adapter, driven callback by callback through pymilter's own ``TestCtx``."""

from __future__ import annotations

import email
import errno
import io
import logging
import os
import random
from collections.abc import Callable
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import Milter
import pytest
from Milter.testctx import TestCtx as MilterTestCtx
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

from govmilter.domains.classify import Classifier, DomainClassification, ListsClassifier
from govmilter.policy import Policy, parse_policy
from govmilter.policy.decide import list_classifier
from govmilter.policy.effects import HEADER_NAME
from govmilter.policy.verdict import MessageFacts
from govmilter.server.metrics import Metrics
from govmilter.server.milter import (
    GovMilter,
    MilterRuntime,
    declared_size,
    is_local_submission,
    milter_factory,
)
from govmilter.server.spool import FILE_BLOCK, Handover, MessageSpool, SpooledFile
from govmilter.server.workers import ScanPool

ENCRYPTED = (
    b"From: <vanthu@mic.gov.vn>\nTo: <nguyenvana@gmail.com>\n"
    b"Subject: =?utf-8?q?B=C3=A1o_c=C3=A1o?=\n"
    b"MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
    b"Content-Type: text/plain\n\nsee attachment\n--b\nContent-Type: application/pkcs7-mime\n"
    b"Content-Transfer-Encoding: base64\n\nAAAA\n--b--\n"
)


def _reply_or_continue(rc: int) -> int:
    return int(Milter.CONTINUE if rc == Milter.NOREPLY else rc)


class RecordingCtx(MilterTestCtx):  # type: ignore[misc]
    __test__ = False
    """pymilter's TestCtx, recording the header and quarantine actions it cannot show itself."""

    def __init__(self) -> None:
        super().__init__()
        self.headers_added: list[tuple[str, str]] = []
        self.headers_changed: list[tuple[str, int, str]] = []
        self.quarantined: str | None = None

    # TestCtx stops at any answer but CONTINUE; like Postfix, go on past the events the milter
    # negotiated no reply for (headers, end of headers, body chunks)
    def _header(self, field: str, value: str) -> int:
        return _reply_or_continue(super()._header(field, value))

    def _eoh(self) -> int:
        return _reply_or_continue(super()._eoh())

    def _feed_body(self, fp: Any) -> int:
        while chunk := fp.read(8192):
            rc = _reply_or_continue(self._priv.body(chunk))
            if rc != Milter.CONTINUE:
                return rc
        return int(Milter.CONTINUE)

    def addheader(self, field: str, value: str, idx: int) -> None:
        super().addheader(field, value, idx)
        self.headers_added.append((field, value))

    def chgheader(self, field: str, idx: int, value: str) -> None:
        super().chgheader(field, idx, value)
        self.headers_changed.append((field, idx, value))

    def quarantine(self, reason: str) -> None:  # TestCtx raises NotImplemented here
        self.quarantined = reason


class Harness:
    """A milter runtime on a policy, and the ctx of one connection to it."""

    def __init__(self, policy: Policy, classifier_factory: Callable[[Policy], Classifier]
                 = list_classifier) -> None:
        self.policy = policy
        self.metrics = Metrics()
        self.runtime = MilterRuntime(lambda: self.policy, self.metrics, classifier_factory)
        Milter.factory = milter_factory(self.runtime)
        self.ctx = RecordingCtx()

    def connect(self, service: str = "smtpd", auth: str | None = None) -> int:
        self.ctx._setsymval("{daemon_name}", service)
        if auth:
            self.ctx._setsymval("{auth_authen}", auth)
        self.ctx._setsymval("i", "QID42")
        return int(self.ctx._connect("client.example", "client.example", "192.0.2.1"))

    def feed(self, message: bytes, sender: str, *rcpts: str) -> int:
        self.ctx.headers_added.clear()
        self.ctx.headers_changed.clear()
        self.ctx._delrcpt.clear()
        self.ctx._addrcpt.clear()
        self.ctx.quarantined = None
        return int(self.ctx._feedFile(io.BytesIO(message), sender, *rcpts))

    def sample(self, name: str, **labels: str) -> float:
        value = self.metrics.registry.get_sample_value(name, labels)
        assert value is not None, f"{name}{labels} not exported"
        return value

    @property
    def milter(self) -> GovMilter:
        milter = self.ctx.getpriv()
        assert isinstance(milter, GovMilter)
        return milter


def harness(**policy_args: Any) -> Harness:
    h = Harness(parse_policy(policy_yaml(**policy_args)))
    h.connect()
    return h


def test_official_to_official_is_tagged_compliant() -> None:
    h = harness()
    assert h.feed(PLAIN, OFFICIAL_SENDER, OFFICIAL_RCPT) == Milter.CONTINUE
    assert h.ctx.headers_added == [
        (HEADER_NAME, "compliant; rule=official-to-official; document=none")]
    assert h.ctx._delrcpt == [] and h.ctx.quarantined is None
    assert h.sample("govmilter_messages_total", document="none",
                    compliance="compliant", unit="") == 1
    assert h.sample("govmilter_recipients_total", flow="official_to_official", document="none",
                    compliance="compliant", unit="") == 1
    assert h.sample("govmilter_recipient_actions_total", action="tag", mode="enforce") == 1


def test_secret_document_to_freemail_only_rejects_the_message_with_the_policy_reply() -> None:
    h = harness()
    assert h.feed(SECRET, OFFICIAL_SENDER, FREEMAIL_RCPT) == Milter.REJECT
    code, enhanced, *lines = h.ctx._reply
    assert (code, enhanced) == ("550", "5.7.1")
    # ASCII (diacritics folded) and '%' doubled for libmilter
    # MẬT written so that it cannot read as "mất" (lost)
    assert lines == ["Van ban CONFIDENTIAL (MAT) khong duoc gui toi hop thu mien phi",
                     SECRET_REPLY_EN.replace("%", "%%")]
    assert h.sample("govmilter_message_actions_total", action="reject", mode="enforce") == 1
    assert h.sample("govmilter_rule_matches_total", rule="secret-to-freemail",
                    compliance="non_compliant") == 1


def test_secret_document_to_official_and_freemail_removes_only_the_freemail_recipient() -> None:
    h = harness()
    assert h.feed(SECRET, OFFICIAL_SENDER, OFFICIAL_RCPT, FREEMAIL_RCPT) == Milter.CONTINUE
    assert h.ctx._delrcpt == [f"<{FREEMAIL_RCPT}>"]
    assert h.ctx.headers_added == [
        (HEADER_NAME, "compliant; rule=official-to-official; document=secret")]
    assert h.sample("govmilter_messages_total", document="secret",
                    compliance="non_compliant", unit="") == 1
    assert h.sample("govmilter_message_actions_total", action="tag", mode="enforce") == 1
    assert h.sample("govmilter_recipient_actions_total", action="reject", mode="enforce") == 1


def test_quarantine_holds_the_message_and_copies_the_compliance_officer() -> None:
    h = harness()
    assert h.feed(OFFICIAL, OFFICIAL_SENDER, FREEMAIL_RCPT) == Milter.CONTINUE
    assert h.ctx.quarantined == "official document to free webmail"
    assert h.ctx._addrcpt == [(f"<{OFFICER}>", None)]
    assert h.ctx._delrcpt == []


def test_content_free_reject_refuses_just_that_recipient_at_rcpt() -> None:
    h = Harness(parse_policy(policy_yaml()))
    h.connect(service="submission")
    assert h.ctx._envfrom(f"<{OFFICIAL_SENDER}>") == Milter.CONTINUE
    assert h.ctx._envrcpt(f"<{EXTERNAL_RCPT}>") == Milter.REJECT
    assert h.ctx._reply == ("554", "5.7.1", "Log in to send outside")
    assert h.ctx._envrcpt(f"<{OFFICIAL_RCPT}>") == Milter.CONTINUE


def test_rcpt_rules_see_the_service_and_the_authenticated_user() -> None:
    on_mx = Harness(parse_policy(policy_yaml()))
    on_mx.connect(service="smtpd")
    assert on_mx.feed(PLAIN, OFFICIAL_SENDER, EXTERNAL_RCPT) == Milter.CONTINUE
    logged_in = Harness(parse_policy(policy_yaml()))
    logged_in.connect(service="submission", auth="vanthu")
    assert logged_in.feed(PLAIN, OFFICIAL_SENDER, EXTERNAL_RCPT) == Milter.CONTINUE


def test_recipients_refused_at_rcpt_are_counted_when_no_message_follows() -> None:
    h = Harness(parse_policy(policy_yaml()))
    h.connect(service="submission")
    h.ctx._envfrom(f"<{OFFICIAL_SENDER}>")
    assert h.ctx._envrcpt(f"<{EXTERNAL_RCPT}>") == Milter.REJECT
    h.ctx._abort()
    assert h.sample("govmilter_rule_matches_total", rule="submission-to-external",
                    compliance="non_compliant") == 1
    assert h.sample("govmilter_messages_total", document="none",
                    compliance="non_compliant", unit="") == 1


def feed_past_refusals(h: Harness, message: bytes, sender: str,
                       *rcpts: str) -> tuple[list[int], int]:
    """As Postfix does: a recipient refused at RCPT leaves the message going on to the others."""
    h.ctx._envfrom(f"<{sender}>")
    answers = [int(h.ctx._envrcpt(f"<{rcpt}>")) for rcpt in rcpts]
    assert h.ctx._data() == Milter.CONTINUE
    h.ctx._msg = email.message_from_bytes(message)  # where TestCtx applies the header actions
    for name, value in h.ctx._msg.items():
        h.ctx._header(name, value)
    h.ctx._eoh()
    h.ctx._feed_body(io.BytesIO(message.split(b"\n\n", 1)[1]))
    return answers, int(h.ctx._eom())


def test_one_verdict_for_a_message_with_a_recipient_refused_at_rcpt(
        caplog: pytest.LogCaptureFixture) -> None:
    """The refused recipient is part of the message's one verdict (counted, logged) but is not
    deleted again at end of message; the others get the message as their rules say."""
    h = Harness(parse_policy(policy_yaml()))
    h.connect(service="submission")
    with caplog.at_level(logging.INFO, logger="govmilter"):
        answers, result = feed_past_refusals(h, SECRET, OFFICIAL_SENDER, EXTERNAL_RCPT,
                                             OFFICIAL_RCPT)
    assert answers == [Milter.REJECT, Milter.CONTINUE] and result == Milter.CONTINUE
    assert h.ctx._delrcpt == []
    assert h.ctx.headers_added == [
        (HEADER_NAME, "compliant; rule=official-to-official; document=secret")]
    [line] = [r.getMessage() for r in caplog.records]
    for fact in ("rcpts=external,official", "rules=submission-to-external,official-to-official",
                 "actions=reject,tag", "message=tag", "applied=tag"):
        assert fact in line
    assert h.sample("govmilter_rule_matches_total", rule="submission-to-external",
                    compliance="non_compliant") == 1
    assert h.sample("govmilter_messages_total", document="secret",
                    compliance="non_compliant", unit="") == 1


class RecordingSource:
    """A classifier source like the DNS one: records when each message's classifier starts an
    address and when it is first asked for its class; one address's DNS budget "is spent"."""

    def __init__(self, policy: Policy, spent_on: str = "") -> None:
        self.lists = list_classifier(policy)
        self.spent_on = spent_on
        self.events: list[tuple[int, str, str]] = []  # (message number, event, address)
        self.messages = 0

    def __call__(self, address: str) -> DomainClassification:
        return self.lists(address)

    def start(self, address: str) -> None:
        self.events.append((0, "start outside a message", address))

    def message(self, on_budget_spent: Callable[[], None] | None = None) -> RecordingMessage:
        self.messages += 1
        return RecordingMessage(self, self.messages, on_budget_spent)


class RecordingMessage:
    def __init__(self, source: RecordingSource, number: int,
                 on_budget_spent: Callable[[], None] | None) -> None:
        self.source, self.number, self.on_budget_spent = source, number, on_budget_spent
        self.known: dict[str, DomainClassification] = {}

    def start(self, address: str) -> None:
        self.source.events.append((self.number, "start", address))

    def __call__(self, address: str) -> DomainClassification:
        if address not in self.known:
            self.source.events.append((self.number, "class", address))
            if address == self.source.spent_on and self.on_budget_spent is not None:
                self.on_budget_spent()
            self.known[address] = self.source(address)
        return self.known[address]

    def message(self, on_budget_spent: Callable[[], None] | None = None) -> RecordingMessage:
        return self.source.message(on_budget_spent)


def test_lookups_start_at_mail_and_rcpt_and_wait_only_where_a_rule_needs_them() -> None:
    """Each address's classification starts as soon as it arrives. A policy that cannot refuse
    a recipient at RCPT (here: monitor mode) asks for no class before the end of the message, so
    slow lookups overlap; each message gets a classifier (a DNS budget) of its own."""
    policy = parse_policy(policy_yaml(mode="monitor"))
    source = RecordingSource(policy, spent_on=FREEMAIL_RCPT)
    h = Harness(policy, lambda _policy: source)
    h.connect()
    assert h.feed(SECRET, OFFICIAL_SENDER, OFFICIAL_RCPT, FREEMAIL_RCPT) == Milter.CONTINUE
    assert h.feed(PLAIN, OFFICIAL_SENDER, OFFICIAL_RCPT) == Milter.CONTINUE
    assert source.events == [
        (1, "start", OFFICIAL_SENDER), (1, "start", OFFICIAL_RCPT), (1, "start", FREEMAIL_RCPT),
        (1, "class", OFFICIAL_SENDER), (1, "class", OFFICIAL_RCPT), (1, "class", FREEMAIL_RCPT),
        (2, "start", OFFICIAL_SENDER), (2, "start", OFFICIAL_RCPT),
        (2, "class", OFFICIAL_SENDER), (2, "class", OFFICIAL_RCPT),
    ]
    # a lookup the budget left no time for counts as a DNS error (no address in the label)
    assert h.sample("govmilter_errors_total", stage="dns") == 1


def test_a_policy_that_refuses_at_rcpt_waits_for_the_classes_there() -> None:
    policy = parse_policy(policy_yaml())  # submission-to-external refuses at RCPT
    source = RecordingSource(policy)
    h = Harness(policy, lambda _policy: source)
    h.connect(service="submission")
    assert h.ctx._envfrom(f"<{OFFICIAL_SENDER}>") == Milter.CONTINUE
    assert h.ctx._envrcpt(f"<{EXTERNAL_RCPT}>") == Milter.REJECT
    assert h.ctx._envrcpt(f"<{OFFICIAL_RCPT}>") == Milter.CONTINUE
    assert source.events == [
        (1, "start", OFFICIAL_SENDER),
        (1, "start", EXTERNAL_RCPT), (1, "class", OFFICIAL_SENDER), (1, "class", EXTERNAL_RCPT),
        (1, "start", OFFICIAL_RCPT), (1, "class", OFFICIAL_RCPT),
    ]


def test_subject_prefix_is_rfc2047_encoded_in_front_of_the_original_subject() -> None:
    h = harness()
    assert h.feed(ENCRYPTED, OFFICIAL_SENDER, FREEMAIL_RCPT) == Milter.CONTINUE
    [(field, index, value)] = h.ctx.headers_changed
    assert (field, index) == ("Subject", 1)
    assert value.isascii()
    assert str(make_header(decode_header(value))) == "[VĂN BẢN GỬI WEBMAIL] Báo cáo"
    assert h.ctx.headers_added == [
        (HEADER_NAME, "non-compliant; rule=unscannable-to-freemail; document=unscannable")]


def test_monitor_mode_leaves_the_mail_untouched() -> None:
    h = harness(mode="monitor")
    assert h.feed(SECRET, OFFICIAL_SENDER, FREEMAIL_RCPT) == Milter.CONTINUE
    assert h.ctx._reply is None
    assert h.ctx.headers_added == [] and h.ctx.headers_changed == [] and h.ctx._delrcpt == []
    assert h.sample("govmilter_recipient_actions_total", action="reject", mode="monitor") == 1
    assert h.sample("govmilter_message_actions_total", action="reject", mode="monitor") == 1


def test_monitor_header_says_what_would_have_happened() -> None:
    h = harness(mode="monitor", monitor_header=True)
    assert h.feed(SECRET, OFFICIAL_SENDER, FREEMAIL_RCPT) == Milter.CONTINUE
    assert h.ctx.headers_added == [
        (HEADER_NAME, "non-compliant; rule=secret-to-freemail; document=secret; mode=monitor")]
    assert h.ctx._delrcpt == [] and h.ctx._reply is None


def test_a_forged_header_is_removed_before_ours_is_added() -> None:
    h = harness()
    forged = b"X-GovMilter: compliant; rule=nothing; document=none\n" + PLAIN
    assert h.feed(forged, OFFICIAL_SENDER, OFFICIAL_RCPT) == Milter.CONTINUE
    assert h.ctx.headers_changed == [(HEADER_NAME, 1, "")]
    assert len(h.ctx.headers_added) == 1


def test_several_messages_on_one_connection_are_decided_separately() -> None:
    h = harness()
    assert h.feed(SECRET, OFFICIAL_SENDER, FREEMAIL_RCPT) == Milter.REJECT
    assert h.feed(PLAIN, OFFICIAL_SENDER, OFFICIAL_RCPT) == Milter.CONTINUE
    assert h.ctx.headers_added[0][1].startswith("compliant;")
    assert h.sample("govmilter_messages_total", document="secret",
                    compliance="non_compliant", unit="") == 1
    assert h.sample("govmilter_messages_total", document="none",
                    compliance="compliant", unit="") == 1


class _BrokenClassifier(ListsClassifier):
    def __call__(self, address: str) -> DomainClassification:
        raise RuntimeError(f"resolver exploded on {address}")


def _broken_classifier(policy: Policy) -> Classifier:
    return _BrokenClassifier(policy.domains)


@pytest.mark.parametrize(("on_error", "expected"), [("tempfail", Milter.TEMPFAIL),
                                                    ("accept", Milter.ACCEPT)])
def test_an_exception_answers_with_the_failure_action_and_is_counted(
        on_error: str, expected: int, caplog: pytest.LogCaptureFixture) -> None:
    h = Harness(parse_policy(policy_yaml(on_error=on_error)), _broken_classifier)
    h.connect()
    with caplog.at_level(logging.ERROR, logger="govmilter"):
        assert h.feed(PLAIN, OFFICIAL_SENDER, OFFICIAL_RCPT) == expected
    assert h.sample("govmilter_errors_total", stage="envrcpt") == 1
    assert h.sample("govmilter_failure_actions_total", action=on_error) == 1
    if on_error == "tempfail":
        assert h.ctx._reply[:2] == ("451", "4.3.0")
    [record] = caplog.records
    assert "stage=envrcpt" in record.getMessage() and "RuntimeError" in record.getMessage()
    assert OFFICIAL_RCPT not in record.getMessage()  # no addresses or content in the log
    # the milter lives on: the next message on the connection gets the same answer
    assert h.feed(PLAIN, OFFICIAL_SENDER, OFFICIAL_RCPT) == expected
    assert h.sample("govmilter_errors_total", stage="envrcpt") == 2


def test_end_of_message_log_line_has_the_facts_and_no_content(
        caplog: pytest.LogCaptureFixture) -> None:
    h = harness()
    with caplog.at_level(logging.INFO, logger="govmilter"):
        h.feed(SECRET, OFFICIAL_SENDER, OFFICIAL_RCPT, FREEMAIL_RCPT)
    [line] = [r.getMessage() for r in caplog.records]
    for fact in ("qid=QID42", "sender=official", "rcpts=official,freemail", "document=yes",
                 "rules=official-to-official,secret-to-freemail", "actions=tag,reject",
                 "mode=enforce", " unit=- ", "seconds="):
        assert fact in line
    for private in (OFFICIAL_RCPT, FREEMAIL_RCPT, "588", "BTTTT"):
        assert private not in line


def test_a_connection_keeps_the_policy_it_started_with() -> None:
    h = harness()
    h.policy = parse_policy(policy_yaml(mode="monitor"))  # a reload while connected
    assert h.feed(SECRET, OFFICIAL_SENDER, FREEMAIL_RCPT) == Milter.REJECT
    fresh = RecordingCtx()
    fresh._connect()
    assert fresh._feedFile(io.BytesIO(SECRET), OFFICIAL_SENDER, FREEMAIL_RCPT) == Milter.CONTINUE


def large_secret() -> bytes:
    """The secret message with 20 kB of base64 attached: past a 4 kB memory limit."""
    attachment = b"QUFB" * 5000
    big = SECRET.replace(b"Content-Type: text/plain; charset=utf-8\n", b"") \
        .replace(b"MIME-Version: 1.0\n", b"MIME-Version: 1.0\n"
                 b"Content-Type: multipart/mixed; boundary=zz\n")
    head, body = big.split(b"\n\n", 1)
    return (head + b"\n\n--zz\nContent-Type: text/plain; charset=utf-8\n\n" + body +
            b"\n--zz\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64"
            b"\n\n" + attachment + b"\n--zz--\n")


def test_large_messages_spool_to_a_file_and_are_still_decided() -> None:
    h = harness(memory_bytes=4096)
    big = large_secret()
    seen: list[bool] = []
    original_eom = GovMilter.eom

    def spy_eom(self: GovMilter) -> int:
        txn = self.txn
        seen.append(bool(txn and txn.spool and txn.spool.on_disk))
        return int(original_eom(self))
    GovMilter.eom = spy_eom  # type: ignore[method-assign]
    try:
        assert h.feed(big, OFFICIAL_SENDER, FREEMAIL_RCPT) == Milter.REJECT
    finally:
        GovMilter.eom = original_eom  # type: ignore[method-assign]
    assert seen == [True]
    assert h.milter.txn is None  # freed at end of message


def test_spool_keeps_small_messages_in_memory_and_leaves_no_file(tmp_path: Path) -> None:
    spool = MessageSpool(100, directory=str(tmp_path))
    spool.write(b"x" * 50)
    assert not spool.on_disk
    spool.write(b"y" * 100)
    assert spool.on_disk
    assert list(tmp_path.iterdir()) == []  # anonymous file: nothing to leak
    assert spool.read(60) == b"x" * 50 + b"y" * 10
    spool.write(b"z")  # still appended after a read
    assert spool.read(1000) == b"x" * 50 + b"y" * 100 + b"z"
    assert spool.size == 151
    small = MessageSpool(100)
    small.write(b"abc")
    assert small.read(2) == b"ab" and small.read(100) == b"abc"
    small.close()
    spool.close()
    spool.close()


@pytest.mark.parametrize(("size", "in_file_at_once"), [
    ("SIZE=999999", True), ("size=4097", True), ("SIZE=4096", False), ("SIZE=100", False),
    ("SIZE=12x", False), (None, False)])
def test_a_message_declared_past_the_memory_limit_is_spooled_to_a_file_from_its_first_byte(
        size: str | None, in_file_at_once: bool) -> None:
    """ESMTP SIZE past ``limits.memory_bytes``: no megabyte buffer gathered only to be copied to
    the file; the message (20 kB here, whatever was declared) is decided all the same."""
    h = harness(memory_bytes=4096)
    h.ctx._envfrom(f"<{OFFICIAL_SENDER}>", "BODY=8BITMIME", *([size] if size else []))
    assert h.ctx._envrcpt(f"<{FREEMAIL_RCPT}>") == Milter.CONTINUE
    assert h.ctx._data() == Milter.CONTINUE
    message = large_secret()
    h.ctx._msg = email.message_from_bytes(message)
    headers = h.ctx._msg.items()
    h.ctx._header(*headers[0])
    txn = h.milter.txn
    assert txn is not None and txn.spool is not None
    assert txn.spool.on_disk is in_file_at_once
    for name, value in headers[1:]:
        h.ctx._header(name, value)
    h.ctx._eoh()
    h.ctx._feed_body(io.BytesIO(message.split(b"\n\n", 1)[1]))
    assert txn.spool.on_disk  # 20 kB: past the limit whatever the client declared
    assert h.ctx._eom() == Milter.REJECT
    assert h.milter.txn is None


def test_the_declared_size_is_mail_froms_size_parameter_and_only_a_number() -> None:
    assert declared_size(("BODY=8BITMIME", "SIZE=1400000")) == 1400000
    assert declared_size(("size = 12",)) == 12
    for parameters in ((), ("SIZE",), ("SIZE=",), ("SIZE=-5",), ("SIZE=1e6",), ("SIZE=١٢٣",),
                       ("SIZE=" + "9" * 21,), ("SIZES=5",), ("BODY=8BITMIME",)):
        assert declared_size(parameters) is None, parameters


def test_the_spool_hands_its_message_over_without_a_copy_and_the_file_read_only(
        tmp_path: Path) -> None:
    small = MessageSpool(100)
    small.write(b"abcdef")
    view = small.handover(4)
    assert isinstance(view, memoryview) and bytes(view) == b"abcd"
    view.release()
    small.close()
    spool = MessageSpool(100, directory=str(tmp_path))
    spool.write(b"x" * 150)
    spool.write(b"y" * 10)  # waiting for its block (the file's last) until handed over
    handed = spool.handover(1000)
    assert isinstance(handed, SpooledFile) and handed.size == 160
    assert handed.read() == b"x" * 150 + b"y" * 10
    assert spool.handover(155) == SpooledFile(handed.fd, 155)  # one descriptor per message
    with pytest.raises(OSError):  # a worker that reads it cannot change what is scanned next
        os.write(handed.fd, b"z")
    spool.close()
    with pytest.raises(OSError):  # closed with the message
        os.fstat(handed.fd)


@pytest.mark.parametrize("seed", range(8))
def test_the_spool_file_holds_exactly_what_was_written_in_whole_blocks_as_it_arrives(
        tmp_path: Path, seed: int) -> None:
    """Differential: whatever the pieces (header lines, Postfix's 65,535-byte chunks, empty
    ones, pieces larger than a block; bytes, bytearray or memoryview), the file and what is
    handed over are the bytes written, in order. While the message arrives the file grows in
    whole blocks and less than one block waits in memory; a bytearray the caller changes after
    writing it does not change the message."""
    rng = random.Random(seed)
    declared = rng.choice([None, 10**7])
    spool = MessageSpool(1000, directory=str(tmp_path), declared_size=declared)
    written = bytearray()
    for _ in range(rng.randrange(20, 80)):
        size = rng.choice([0, 1, 40, 200, 65535, FILE_BLOCK, FILE_BLOCK + 7,
                           rng.randrange(1, 3 * FILE_BLOCK)])
        data = rng.randbytes(size)
        kind = rng.choice(["bytes", "bytearray", "memoryview"])
        piece: bytes | bytearray | memoryview = (
            data if kind == "bytes" else bytearray(data) if kind == "bytearray"
            else memoryview(bytearray(data)))
        spool.write(piece)
        if isinstance(piece, bytearray) and piece:
            piece[0] ^= 0xFF  # the caller's buffer, reused: the message keeps what was written
        written += data
        if spool.on_disk:
            assert spool._file is not None
            in_file = os.fstat(spool._file.fileno()).st_size
            assert in_file % FILE_BLOCK == 0 and 0 <= len(written) - in_file < FILE_BLOCK
    assert spool.size == len(written)
    handed = spool.handover(len(written) + 1)
    assert isinstance(handed, SpooledFile if spool.on_disk else memoryview)
    assert (handed.read() if isinstance(handed, SpooledFile) else bytes(handed)) == written
    assert spool.read(777) == written[:777]
    spool.close()


def test_a_full_disk_at_the_spool_file_s_last_block_tempfails_the_message_as_in_the_body(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The last, partial block is written at end of message: a full disk there is answered as
    one during the body (the policy's on_error, counted at stage body), not scanned short."""
    h = harness(memory_bytes=4096)

    def full(spool: MessageSpool) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(MessageSpool, "finish", full)
    assert h.feed(large_secret(), OFFICIAL_SENDER, FREEMAIL_RCPT) == Milter.TEMPFAIL
    assert h.sample("govmilter_errors_total", stage="body") == 1
    assert h.milter.txn is None


def test_a_spooled_message_the_client_abandons_is_freed() -> None:
    h = harness(memory_bytes=4096)
    ctx = h.ctx
    assert ctx._envfrom(f"<{OFFICIAL_SENDER}>") == Milter.CONTINUE
    assert ctx._envrcpt(f"<{FREEMAIL_RCPT}>") == Milter.CONTINUE
    _reply_or_continue(ctx._header("Subject", "big"))
    _reply_or_continue(ctx._eoh())
    _reply_or_continue(ctx._priv.body(b"x" * 20_000))  # past memory_bytes: on disk now
    txn = h.milter.txn
    assert txn is not None and txn.spool is not None and txn.spool.on_disk
    assert txn.spool._file is not None
    descriptor = txn.spool._file.fileno()
    assert os.readlink(f"/proc/self/fd/{descriptor}").endswith("(deleted)")  # anonymous file
    ctx._abort()  # RSET, QUIT or a lost connection
    assert h.milter.txn is None
    with pytest.raises(OSError):  # the file is closed: nothing of the message is kept
        os.fstat(descriptor)


class _ExplodingScanner(ScanPool):
    def scan_lazily(self, read: Callable[[], Handover], policy: Policy) -> MessageFacts:
        raise RuntimeError("scanner exploded")


def test_an_error_at_end_of_message_is_logged_with_the_queue_id(
        caplog: pytest.LogCaptureFixture) -> None:
    policy = parse_policy(policy_yaml())
    h = Harness(policy)
    h.runtime.scanner = _ExplodingScanner(0)
    h.connect()  # sets macro i (the queue id) to QID42
    with caplog.at_level(logging.ERROR, logger="govmilter"):
        assert h.feed(OFFICIAL, OFFICIAL_SENDER, FREEMAIL_RCPT) == Milter.TEMPFAIL
    [record] = caplog.records
    line = record.getMessage()
    assert "stage=scan" in line and "qid=QID42" in line and "RuntimeError" in line
    assert "exploded" not in line  # the exception's text is not logged (it may quote content)
    assert h.sample("govmilter_errors_total", stage="scan") == 1


@pytest.mark.parametrize(("hostname", "hostaddr", "local"), [
    ("localhost", ("127.0.0.1", 0), True),  # Postfix's cleanup, for sendmail(1) mail
    ("localhost", ("127.0.0.1", 48152), False),  # a real client on loopback
    ("mail.example", ("192.0.2.7", 0), False),
    ("localhost", "/var/run/socket", False),  # a unix-socket client: no address pair
])
def test_local_submission_is_postfix_s_pretend_connection(hostname: str, hostaddr: object,
                                                          local: bool) -> None:
    assert is_local_submission(hostname, hostaddr) is local
