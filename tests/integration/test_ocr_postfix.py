"""End to end with OCR: scans and phone photos through a private Postfix, the daemon on its
embedded default policy (no --policy), one scan worker with Tesseract's Vietnamese data.

Needs root, Postfix and Tesseract (scripts/setup.sh installs them); without them these tests skip
on a developer machine, and fail when CI=true.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.policy import SMTP

import pytest
from postfix_harness import PrivatePostfix, RunningMilter, require, require_postfix, wait_until
from samples import FREEMAIL_RCPT, OFFICIAL_SENDER
from scans import degrade, image_bytes, official_letter, photograph, render_page, scanned_pdf

from govmilter.document.ocr import ocr_status

pytestmark = pytest.mark.postfix


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
