"""One scan budget: ``limits.max_scan_bytes`` spent by the MIME walk and the extraction alike,
and one reason when it runs out, wherever that is."""

from __future__ import annotations

import io
import zipfile
from email.message import EmailMessage

import pytest

from govmilter.document import detect_document
from govmilter.document.budget import ScanBudget
from govmilter.document.settings import DetectionSettings
from govmilter.mail.limits import Limits
from govmilter.mail.message import parse_message
from govmilter.scan import scan_with

LIMITS = Limits(max_scan_bytes=1000, max_attachment_bytes=1000)


def message(body: str, attachments: dict[str, bytes] | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@mic.gov.vn", "b@hanoi.gov.vn", "x"
    msg.set_content(body)
    for name, data in (attachments or {}).items():
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return msg.as_bytes()


def zipped(text: str) -> bytes:
    """A ZIP whose one text entry expands well past its own size."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("note.txt", text)
    return out.getvalue()


def unscannable(raw: bytes) -> tuple[str, ...]:
    return scan_with(raw, LIMITS, DetectionSettings()).document.unscannable


def test_body_text_and_extracted_text_share_one_budget() -> None:
    """600 bytes of body leave 400 for the 800 bytes a small ZIP expands to: cut, and said."""
    archive = zipped("van ban " * 100)
    assert len(archive) < 400
    assert unscannable(message("b" * 600, {"a.zip": archive})) == (LIMITS.scan_limit_reason,)
    assert unscannable(message("b" * 100, {"a.zip": archive})) == ()


def test_an_attachment_gives_its_bytes_back_when_its_text_replaces_it() -> None:
    """Two attachments that fill the budget together are both read whole."""
    raw = message("b", {"one.txt": b"x" * 450, "two.txt": b"y" * 450})
    budget = ScanBudget(LIMITS)
    content = parse_message(raw, LIMITS, budget)
    assert budget.bytes_left < 100  # the walk charged both
    evidence = detect_document(content, DetectionSettings(), budget=budget)
    assert evidence.unscannable == ()
    assert budget.bytes_left >= 0


@pytest.mark.parametrize("raw", [
    pytest.param(message("b" * 2000), id="body-past-the-budget"),
    pytest.param(message("b", {"big.txt": b"x" * 1500}), id="attachment-past-what-is-left"),
    pytest.param(message("b" * 650, {"a.zip": zipped("van ban " * 100)}), id="extracted-text"),
    pytest.param(message("b" * 3000).replace(b"\n", b"\r\n"), id="raw-message-past-twice"),
])
def test_every_place_the_budget_runs_out_gives_the_same_reason(raw: bytes) -> None:
    reasons = unscannable(raw)
    assert reasons == (LIMITS.scan_limit_reason,), reasons
    assert LIMITS.scan_limit_reason == "scan limit of 1000 bytes reached"


def test_the_raw_message_read_is_twice_the_budget() -> None:
    """What the milter reads from its spool and what the parser is given (room for base64)."""
    assert Limits(max_scan_bytes=1000).raw_scan_bytes == 2000
