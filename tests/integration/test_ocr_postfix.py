"""End to end with OCR: scans and phone photos through a private Postfix, the daemon on its
embedded default policy (no --policy), one scan worker with Tesseract's Vietnamese data.

Needs root, Postfix and Tesseract (scripts/setup.sh installs them); without them these tests skip
on a developer machine, and fail when CI=true.
"""

from __future__ import annotations

import os
import smtplib
from collections.abc import Iterator
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest
from postfix_harness import (
    PrivatePostfix,
    RunningMilter,
    plugged_milter,
    require,
    require_postfix,
    run_govmilter,
    wait_until,
)
from samples import FREEMAIL_RCPT, OFFICIAL_SENDER
from scans import degrade, image_bytes, official_letter, photograph, render_page, scanned_pdf

from govmilter.document.ocr import ocr_status
from govmilter.scan import OCR_LANE_BUSY, OCR_LANE_BUSY_REASON
from govmilter.store import open_store

pytestmark = pytest.mark.postfix

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def postfix() -> Iterator[PrivatePostfix]:
    require_postfix()
    status = ocr_status()
    require(status.available, f"needs Tesseract with Vietnamese data ({status.detail})")
    with PrivatePostfix() as instance:
        daemon = RunningMilter(instance.base / "ocr", None, ["--scan-workers", "1"])
        with daemon:
            instance.configure_milter(daemon.spec, "tempfail")
            yield instance
        instance.configure_milter(None)


def message(ident: str, subject: str, data: bytes, maintype: str, subtype: str,
            filename: str) -> bytes:
    mail = EmailMessage(policy=SMTP)
    mail["From"], mail["To"], mail["Subject"] = OFFICIAL_SENDER, FREEMAIL_RCPT, subject
    mail["Message-ID"] = f"<{ident}@test>"
    mail.set_content("Gửi anh văn bản đính kèm.")
    mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return mail.as_bytes()


def test_a_scanned_secret_letter_to_gmail_is_refused_by_the_default_policy(
        postfix: PrivatePostfix) -> None:
    pages = [degrade(render_page(p, 200), seed=i, angle=1.2)
             for i, p in enumerate(official_letter("TỐI MẬT", pages=2, body=3))]
    raw = message("scan-secret", "Gui tai lieu", scanned_pdf(pages, 200), "application", "pdf",
                  "scan0001.pdf")
    with pytest.raises(smtplib.SMTPDataError) as refused:
        postfix.send(OFFICIAL_SENDER, [FREEMAIL_RCPT], raw)
    assert refused.value.smtp_code == 550
    error = refused.value.smtp_error
    text = error.decode() if isinstance(error, bytes) else error
    assert "5.7.1" in text
    assert "Classified official documents must not be sent to free webmail" in text
    assert all(d.headers["Message-ID"] != "<scan-secret@test>" for d in postfix.dumps())


def test_a_phone_photo_of_an_official_letter_to_gmail_is_tagged(postfix: PrivatePostfix) -> None:
    photo = photograph(render_page(official_letter(None, body=2)[0], 200), seed=5)
    raw = message("photo", "Anh chup", image_bytes(photo, "JPEG"), "image", "jpeg",
                  "IMG_20240312.jpg")
    assert postfix.send(OFFICIAL_SENDER, [FREEMAIL_RCPT], raw) == {}

    def delivered() -> bool:
        return any(d.headers["Message-ID"] == "<photo@test>" for d in postfix.dumps())
    wait_until(delivered, 60, "the photo at smtp-sink")
    [dump] = [d for d in postfix.dumps() if d.headers["Message-ID"] == "<photo@test>"]
    assert dump.headers["X-GovMilter"].startswith("non-compliant; rule=document-to-freemail;"), \
        dump.headers["X-GovMilter"]
    subject = str(make_header(decode_header(dump.headers["Subject"])))
    assert subject == "[VĂN BẢN GỬI WEBMAIL] Anh chup"


#: Loaded by every interpreter on its path (``site``): an OCR worker (``-m
#: govmilter.server.workers FD PARENT USER NICE``, told apart by its nice increment) starts
#: slowly, so that a scan's whole budget passes while the OCR lane has no worker ready.
SLOW_OCR_START = """import os, sys, time
if sys.argv[:1] == ["-m"] and len(sys.argv) == 5 and sys.argv[4] == "7":
    time.sleep(float(os.environ.get("GOVMILTER_TEST_OCR_START", "0")))
"""


def test_a_scan_meeting_a_busy_ocr_lane_is_tagged_unscannable_and_says_why(
        postfix: PrivatePostfix, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What each reader sees when the OCR lane is busy: the message is decided at its budget
    on what was read without OCR (a secret scan, unread, is tagged unscannable, not refused);
    the admin reads one log line with its queue id and the counter; the officer reads why and
    what to do in the incident, Vietnamese first."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SLOW_OCR_START, encoding="utf-8")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        p for p in (os.environ.get("PYTHONPATH", ""), str(hook)) if p))
    monkeypatch.setenv("GOVMILTER_TEST_OCR_START", "30")
    policy = (ROOT / "govmilter" / "policies" / "default.yaml").read_text(encoding="utf-8")
    policy = policy.replace("  max_seconds: 10 ", "  max_seconds: 3 ", 1) \
        .replace("  max_ocr_seconds: 8 ", "  max_ocr_seconds: 2 ", 1)
    assert "max_seconds: 3 " in policy and "max_ocr_seconds: 2 " in policy
    page = degrade(render_page(official_letter("TỐI MẬT")[0], 150), seed=2, angle=1.0)
    raw = message("busy-lane", "Gui tai lieu", image_bytes(page, "PNG", 150), "image", "png",
                  "scan0001.png")
    with plugged_milter(postfix, policy, ["--scan-workers", "1", "--ocr-workers", "1",
                                          "--ocr-nice", "7"]) as daemon:
        assert postfix.send(OFFICIAL_SENDER, [FREEMAIL_RCPT], raw) == {}
        wait_until(lambda: any(d.headers["Message-ID"] == "<busy-lane@test>"
                               for d in postfix.dumps()), 60, "the scan at smtp-sink")
        assert daemon.metric("govmilter_ocr_lane_busy_total") == 1
        lines = [line for line in daemon.log().splitlines() if "qid=" in line]
        [busy] = [line for line in lines if "OCR lane busy" in line]
        qid = busy.split("qid=", 1)[1].split()[0]
        [decided] = [line for line in lines if f"qid={qid} sender=" in line]
        database = str(daemon.state_dir / "incidents.sqlite3")
    [dump] = [d for d in postfix.dumps() if d.headers["Message-ID"] == "<busy-lane@test>"]
    assert dump.headers["X-GovMilter"].startswith("non-compliant; rule=unscannable-to-freemail")
    assert "class=unscannable" in decided and "raise --ocr-workers" in busy
    for line in (busy, decided):  # no subject, file name or address in the admin's lines
        assert "Gui tai lieu" not in line and "scan0001" not in line and "@" not in line
    with open_store(database) as store:
        [incident] = store.list_incidents().incidents
    assert incident.queue_id == qid and incident.rule_id == "unscannable-to-freemail"
    assert incident.evidence == (
        f"không đọc được — not read: attachment 1: image; not read by OCR "
        f"({OCR_LANE_BUSY_REASON})", OCR_LANE_BUSY)
    shown = run_govmilter("incidents", "show", incident.id, "--database", database)
    assert shown.returncode == 0, shown.stderr
    assert "Bộ đọc chữ trong ảnh (OCR) đang bận nên ảnh và bản quét" in shown.stdout
