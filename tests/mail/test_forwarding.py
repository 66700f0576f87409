"""Forward traces: which header fields say a message was delivered or redirected before."""

from __future__ import annotations

from linear_time import assert_linear

from govmilter.mail.forwarding import (
    MAX_TRACES,
    TraceKind,
    original_recipient,
    read_forward_traces,
    received_for,
    srs_forwarder,
)
from govmilter.mail.limits import Limits
from govmilter.mail.message import parse_message

# As Postfix writes it: the for clause on its own folded line, then the date after the ";".
POSTFIX_RECEIVED = ("from mx.partner.com (mx.partner.com [192.0.2.1])\r\n"
                    "\tby mail.hanoi.gov.vn (Postfix) with ESMTP id 4QxYz1\r\n"
                    "\tfor <chanh@hanoi.gov.vn>; Sat,  5 Dec 2026 10:00:00 +0700 (+07)")


def kinds(fields: list[tuple[str, str]]) -> list[tuple[TraceKind, str, str | None]]:
    return [(t.kind, t.field, t.address.text if t.address else None)
            for t in read_forward_traces(fields).traces]


def test_each_trace_is_read_with_the_mailbox_it_names() -> None:
    assert kinds([
        ("Delivered-To", "chanh@hanoi.gov.vn"),
        ("X-Original-To", "<Chanh@Hanoi.GOV.vn>"),
        ("Received", POSTFIX_RECEIVED),
        ("X-Sieve-Redirected-From", "chanh@hanoi.gov.vn"),
        ("Resent-From", "Văn phòng <vanphong@hanoi.gov.vn>"),
        ("Resent-Date", "Sat, 5 Dec 2026 10:00:00 +0700"),
        ("Auto-Submitted", "auto-forwarded"),
        ("X-MS-Exchange-Organization-AutoForwarded", "true"),
        ("Subject", "for <x@hanoi.gov.vn>;"),
    ]) == [
        (TraceKind.DELIVERED_TO, "Delivered-To", "chanh@hanoi.gov.vn"),
        (TraceKind.ORIGINAL_TO, "X-Original-To", "Chanh@hanoi.gov.vn"),
        (TraceKind.RECEIVED_FOR, "Received for", "chanh@hanoi.gov.vn"),
        (TraceKind.SIEVE_REDIRECT, "X-Sieve-Redirected-From", "chanh@hanoi.gov.vn"),
        (TraceKind.RESENT, "Resent-From", "vanphong@hanoi.gov.vn"),
        (TraceKind.RESENT, "Resent-Date", None),
        (TraceKind.AUTO_FORWARDED, "Auto-Submitted", None),
        (TraceKind.AUTO_FORWARDED, "X-MS-Exchange-Organization-AutoForwarded", None),
    ]


def test_other_auto_submitted_values_and_false_markers_are_no_forward() -> None:
    # an out-of-office reply is automatic, but it is a reply, not a forward
    assert kinds([("Auto-Submitted", "auto-replied"), ("Auto-Submitted", "auto-generated"),
                  ("Auto-Submitted", "no"),
                  ("X-MS-Exchange-Organization-AutoForwarded", "false")]) == []


def test_received_without_a_for_clause_or_with_for_only_in_a_comment() -> None:
    # several recipients: Postfix writes no for clause
    assert received_for("from a (a [192.0.2.1]) by b (Postfix) with ESMTP id 4Q; Sat, 5 Dec "
                        "2026 10:00:00 +0700") is None
    assert received_for("from a (waiting for nothing) by b id 4Q; Sat, 5 Dec 2026") is None
    assert received_for("from a by b id 4Q for x; Sat, 5 Dec 2026") is None  # no domain
    found = received_for("by b.gov.vn id 4Q for chanh@hanoi.gov.vn; Sat, 5 Dec 2026")
    assert found is not None and found.text == "chanh@hanoi.gov.vn"


def test_traces_are_read_from_the_top_level_header_only() -> None:
    # A message forwarded by hand as an attachment carries its old Delivered-To inside: that
    # copy travels as a new message, not as a forward.
    raw = (b"From: chanh@hanoi.gov.vn\r\nTo: me@gmail.com\r\nSubject: fw\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
           b"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
           b"--b\r\nContent-Type: message/rfc822\r\n\r\n"
           b"Delivered-To: chanh@hanoi.gov.vn\r\nResent-From: x@hanoi.gov.vn\r\n"
           b"Auto-Submitted: auto-forwarded\r\nSubject: old\r\n\r\nold body\r\n--b--\r\n")
    assert parse_message(raw, Limits()).forward.traces == ()
    top = b"Delivered-To: chanh@hanoi.gov.vn\r\n" + raw
    assert [t.kind for t in parse_message(top, Limits()).forward.traces] == [
        TraceKind.DELIVERED_TO]


def test_traces_are_bounded() -> None:
    read = read_forward_traces([("Delivered-To", f"u{i}@hanoi.gov.vn")
                                for i in range(MAX_TRACES + 10)])
    assert len(read.traces) == MAX_TRACES and read.cut


def test_srs_senders_name_their_forwarder() -> None:
    found = srs_forwarder("SRS0=HHH=TT=partner.com=alice@hanoi.gov.vn")
    assert found is not None and found.domain == "hanoi.gov.vn"
    assert srs_forwarder("<srs1=HHH=first.vn==HHH=TT=partner.com=alice@hanoi.gov.vn>") is not None
    assert srs_forwarder("alice@hanoi.gov.vn") is None
    assert srs_forwarder("a=b@hanoi.gov.vn") is None  # an "=" alone is no SRS
    assert srs_forwarder("") is None
    assert srs_forwarder("SRS0=no-domain") is None


def test_reading_traces_is_linear_in_the_header_size() -> None:
    # a hostile Received field: thousands of words, "for" everywhere, no address
    # (sizes under MAX_TRACE_VALUE_CHARS, where a value is cut)
    assert_linear(lambda n: [("Received", "for x " * n + "; date")] * 8,
                  read_forward_traces, 60, "Received fields of many 'for' words")
    assert_linear(lambda n: [("Delivered-To", "a" * n + "@" + "b." * n + "gov.vn")] * 8,
                  read_forward_traces, 120, "Delivered-To fields of long addresses")


def test_the_orcpt_parameter_names_the_recipient_before_a_forward() -> None:
    # as Postfix's smtp client sends it after an alias expansion (xtext: "+2B" is "+")
    found = original_recipient(["NOTIFY=NEVER", "ORCPT=rfc822;chanh+2Btin@hanoi.gov.vn"])
    assert found is not None and found.text == "chanh+tin@hanoi.gov.vn"
    assert original_recipient(["orcpt=RFC822;Chanh@Hanoi.gov.vn"]) is not None
    assert original_recipient(["ORCPT=x400;c=vn"]) is None
    assert original_recipient(["ORCPT=rfc822;no-domain"]) is None
    assert original_recipient(["ORCPT=rfc822;a+ZZb@hanoi.gov.vn"]) is not None  # bad escape
    assert original_recipient([]) is None
