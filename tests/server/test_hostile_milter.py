"""Hostile messages through the running daemon (issue #8): answered, counted and logged, none lost.

The real ``govmilter run`` (one scan worker) is driven over its socket by the ``miltertest``
client, as Postfix would: one connection carries every hostile message, with the queue id in
macro ``i``. For each message the milter answers what the policy says (never drops the
connection, never fails over to ``on_error``), writes exactly one log line with that queue id and
no message content, and ``govmilter_messages_total`` counts it, unscannable ones under
``document="unscannable"``. No Postfix is needed.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from email.header import Header
from pathlib import Path

import miltertest as mt
import pytest
from hostile_mail import (
    CRLF,
    OFFICIAL_TEXT,
    encoded_word,
    looping_pdf,
    message,
    multipart,
    nested_multipart,
    with_attachment,
    zip_bomb,
)
from mta_session import MtaSession
from postfix_harness import RunningMilter, wait_until
from prometheus_client.parser import text_string_to_metric_families
from samples import FREEMAIL_RCPT, OFFICIAL_RCPT, OFFICIAL_SENDER, policy_yaml

#: The test policy's unscannable-to-freemail subject tag, as the milter writes it (RFC 2047).
PREFIX = Header("[VĂN BẢN GỬI WEBMAIL]").encode()


def marker(n: int, where: str) -> str:
    """A string that must never reach the log: message ``n``'s subject, body or file name."""
    return f"Zq{n}{where}Marker"


def mailsploit() -> bytes:
    # the display name decodes to "vanthu@mic.gov.vn\0": an official address to a weak parser
    return message([("From", encoded_word("vanthu@mic.gov.vn\x00") + " <attacker@gmail.com>"),
                    ("To", OFFICIAL_RCPT), ("Subject", marker(1, "S"))],
                   f"{marker(1, 'B')}\r\n".encode())


def deep_nesting() -> bytes:
    leaf = f"Content-Type: text/plain\r\n\r\n{marker(2, 'B')}\r\n".encode()
    return f"Subject: {marker(2, 'S')}\r\n".encode() + nested_multipart(1000, leaf)


def base64_garbage() -> bytes:
    return multipart(
        [b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
         + b"!!@@##$$%%^^&&**" * 5000 + CRLF,
         b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
         + f'Content-Disposition: attachment; filename="{marker(3, "F")}.pdf"\r\n\r\n'.encode()
         + b"JVBERi0xLjQgZ2FyYmFnZQ" + b"====" + CRLF,
         f"Content-Type: text/plain\r\n\r\n{marker(3, 'B')}\r\n".encode()],
        headers=[("From", OFFICIAL_SENDER), ("To", FREEMAIL_RCPT), ("Subject", marker(3, "S"))])


def unterminated_multipart() -> bytes:
    # no closing boundary, and the message ends inside its last part, which holds the document
    full = multipart([f"Content-Type: text/plain\r\n\r\n{marker(6, 'B')}\r\n".encode(),
                      b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
                      + OFFICIAL_TEXT.replace("\n", "\r\n").encode()],
                     headers=[("From", OFFICIAL_SENDER), ("To", FREEMAIL_RCPT),
                              ("Subject", marker(6, "S"))])
    return full[:full.rindex(b"--B--")].rstrip(b"\r\n")


def attached(n: int, data: bytes, extension: str) -> bytes:
    return with_attachment(data, f"{marker(n, 'F')}.{extension}", subject=marker(n, "S"),
                           text=f"{marker(n, 'B')}\r\n".encode(), to=FREEMAIL_RCPT)


#: (queue id, envelope sender, recipient, message, document class logged, final answer)
MESSAGES: list[tuple[str, str, str, bytes, str, str]] = [
    ("HOSTILE1", "attacker@gmail.com", OFFICIAL_RCPT, mailsploit(), "none",
     mt.SMFIR_CONTINUE),
    ("HOSTILE2", OFFICIAL_SENDER, FREEMAIL_RCPT, deep_nesting(), "unscannable",
     mt.SMFIR_CONTINUE),
    ("HOSTILE3", OFFICIAL_SENDER, FREEMAIL_RCPT, base64_garbage(), "unscannable",
     mt.SMFIR_CONTINUE),
    ("HOSTILE4", OFFICIAL_SENDER, FREEMAIL_RCPT, attached(4, zip_bomb(64 << 20), "zip"),
     "unscannable", mt.SMFIR_CONTINUE),
    ("HOSTILE5", OFFICIAL_SENDER, FREEMAIL_RCPT, attached(5, looping_pdf(), "pdf"),
     "unscannable", mt.SMFIR_CONTINUE),
    ("HOSTILE6", OFFICIAL_SENDER, FREEMAIL_RCPT, unterminated_multipart(), "secret",
     mt.SMFIR_REPLYCODE),
]


@pytest.fixture(scope="module")
def daemon() -> Iterator[RunningMilter]:
    # short: a unix socket path has at most 107 bytes, too few for pytest's tmp_path names
    workdir = Path(tempfile.mkdtemp(prefix="gm-hostile-"))
    policy = workdir / "policy.yaml"
    policy.write_text(policy_yaml())
    try:
        with RunningMilter(workdir / "milter", policy, ["--scan-workers", "1"]) as running:
            yield running
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def total(daemon: RunningMilter, name: str, **labels: str) -> float:
    """The sum of a counter's samples over every label set matching ``labels``."""
    return sum(sample.value for family in text_string_to_metric_families(daemon.metrics_text())
               for sample in family.samples
               if sample.name == name and all(sample.labels.get(k) == v
                                              for k, v in labels.items()))


def test_hostile_messages_are_answered_counted_and_logged(daemon: RunningMilter) -> None:
    before = {"all": total(daemon, "govmilter_messages_total"),
              "unscannable": total(daemon, "govmilter_messages_total", document="unscannable"),
              "errors": total(daemon, "govmilter_errors_total"),
              "failures": total(daemon, "govmilter_failure_actions_total")}
    mta = MtaSession(daemon.socket_path)
    for queue_id, sender, rcpt, raw, document, answer in MESSAGES:
        _, eom = mta.message(sender, [rcpt], raw, queue_id)
        assert eom[-1][0] == answer, (queue_id, eom)
        if document == "unscannable":  # the policy tags: the subject gets the prefix
            changes = [p for cmd, p in eom if cmd in (mt.SMFIR_CHGHEADER, mt.SMFIR_ADDHEADER)
                       and p["name"] == "Subject"]
            assert changes and changes[0]["value"].startswith(PREFIX), (queue_id, eom)
        if answer == mt.SMFIR_REPLYCODE:
            assert eom[-1][1]["smtpcode"] == "550"
    mta.close()  # the same connection carried every message: none dropped it

    sent = len(MESSAGES)
    unscannable = sum(1 for m in MESSAGES if m[4] == "unscannable")
    wait_until(lambda: total(daemon, "govmilter_messages_total") >= before["all"] + sent, 10,
               "every message counted")
    assert total(daemon, "govmilter_messages_total") == before["all"] + sent
    assert total(daemon, "govmilter_messages_total", document="unscannable") \
        == before["unscannable"] + unscannable
    # decided, not failed over to on_error
    assert total(daemon, "govmilter_errors_total") == before["errors"]
    assert total(daemon, "govmilter_failure_actions_total") == before["failures"]

    wait_until(lambda: all(f"qid={m[0]} " in daemon.log() for m in MESSAGES), 10, "log lines")
    log = daemon.log()
    for queue_id, _, _, _, document, _ in MESSAGES:
        [line] = [line for line in log.splitlines() if f"qid={queue_id} " in line]
        assert f" class={document} " in line, line
        if queue_id == "HOSTILE1":  # the envelope decides: a header trick is not official
            assert " sender=freemail rcpts=official " in line, line
    for n in range(1, sent + 1):
        for where in "SBF":
            assert marker(n, where) not in log
    assert daemon.process is not None and daemon.process.poll() is None
