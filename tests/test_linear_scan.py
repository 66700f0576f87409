"""Scanning is linear in the message, format by format, on the inputs that were not (issue #16),
and ``govmilter check`` answers within the deadline on the two that took minutes.

Each test scans a message whose hostile part has 1x and 8x the size, in the same run, the whole
way the milter scans (:func:`govmilter.scan.scan_with`: MIME, the container, the text, the cues),
and fails when the time grows super-linearly (see ``linear_time``). The XML containers are stored
uncompressed, so that a part of megabytes stays within ``limits.max_zip_ratio`` and is read in
full, as an attacker would make it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest
from hostile_mail import (
    OFFICIAL_TEXT,
    check_process,
    docx_document,
    edxml_package,
    message,
    odt_document,
    with_attachment,
)
from linear_time import assert_linear

from govmilter.document.settings import DetectionSettings
from govmilter.mail.limits import Limits
from govmilter.policy import load_policy
from govmilter.scan import scan_with

#: Bytes of the hostile part at the small size (8x: 512 KiB).
SIZE = 64 * 1024
#: Enough room that no limit cuts the work short at 8x: the whole input is scanned.
LIMITS = Limits(max_seconds=3600)


def repeat(unit: bytes, size: int) -> bytes:
    """``unit`` repeated to about ``size`` bytes."""
    return unit * max(1, size // len(unit))


def scan(raw: bytes) -> None:
    """The milter's scan of ``raw``; a limit reached would mean the 8x input was not all read."""
    facts = scan_with(raw, LIMITS, DetectionSettings())
    assert facts.document.unscannable == ()


def as_docx(xml: bytes) -> bytes:
    """A message carrying a DOCX whose document part holds ``xml`` after its opening tags."""
    return with_attachment(docx_document(b"<w:document><w:body><w:p>" + xml), "van-ban.docx")


def as_odt(xml: bytes) -> bytes:
    return with_attachment(odt_document(b"<office:document-content><office:body>" + xml),
                           "van-ban.odt")


def as_edxml(xml: bytes) -> bytes:
    return with_attachment(edxml_package(xml), "goi.edxml")


def as_html(html: bytes) -> bytes:
    return message([("From", "a@mic.gov.vn"), ("To", "b@gmail.com"),
                    ("Content-Type", "text/html; charset=utf-8")], html)


def as_text(text: bytes) -> bytes:
    return with_attachment(OFFICIAL_TEXT.encode() + text, "van-ban.txt", "text/plain")


#: Each format: how a message carries the hostile part, and the shapes of that part (a unit,
#: repeated to the size).
FORMATS: dict[str, tuple[Callable[[bytes], bytes], dict[str, bytes]]] = {
    "DOCX": (as_docx, {
        "unclosed instrText": b"<w:instrText>",
        "unclosed delText and instrText": b'<w:delText xml:space="preserve">x<w:instrText>y',
        "unclosed break tags": b"<w:br <w:tab ",
        "bare brackets": b"<",
        "runs with no paragraph end": b"<w:r><w:t>S\xe1\xbb\x91 </w:t></w:r>",
    }),
    "ODT": (as_odt, {
        "unclosed line breaks": b"<text:line-break <text:tab ",
        "unclosed paragraphs": b"<text:p>",
        "bare brackets": b"<",
    }),
    "edXML": (as_edxml, {
        "unclosed Attachment": b"<Attachment>",
        "unclosed prefixed Attachment": b"<edXML:Attachment >",
        "unclosed header fields": b"<edXML:Subject <edXML:DocumentId>",
        "attachments without their file": b"<Attachment><ContentTransferEncoded>QUJD",
    }),
    "HTML": (as_html, {
        "a tag name that never ends": b"<a" + b"a" * 64,
        "unclosed tags": b"<a ",
        "unclosed scripts": b"<script>",
        "unclosed comments": b"<!--",
        "closing tags without their bracket": b"</style ",
        "styled elements never closed": b'<div style="color:#fff"><span class="k">x',
        "style sheets and the elements they hide": b"<style>.k{color:#fff}</style><b class=k>x",
    }),
    "text": (as_text, {
        "blank lines": b"\n",
        "number line with spaces": "Số".encode() + b" " * 4096,
        "subject line with spaces": b"V/v" + b" " * 4096 + b"\n",
        "archive mark with spaces": "Lưu".encode() + b" " * 4096,
        "secrecy marks with stars": "MẬT".encode() + b"*" * 64 + b"x\n",
        "symbols that never end": b"1/" + b"A" * 4096,
    }),
}
CASES = [(name, shape) for name, (_, shapes) in FORMATS.items() for shape in shapes]


@pytest.mark.parametrize(("name", "shape"), CASES, ids=[f"{n}: {s}" for n, s in CASES])
def test_each_format_is_scanned_in_linear_time(name: str, shape: str) -> None:
    carry, shapes = FORMATS[name]
    unit = shapes[shape]
    # the scan asserts that the input was read in full
    assert_linear(lambda n: carry(repeat(unit, n)), scan, SIZE, f"{name}, {shape}")


def _header_message(name: str, value: bytes) -> bytes:
    return message([("From", "a@mic.gov.vn"), ("To", "b@gmail.com"), (name, value)])


def _many_fields(size: int) -> bytes:
    fields: list[tuple[str, str | bytes]] = [("From", "a@mic.gov.vn")]
    return message(fields + [("To", "b@gmail.com")] * (size // 16))


HEADER_SHAPES: dict[str, Callable[[int], bytes]] = {
    "many To fields": _many_fields,
    "a long address list": lambda n: _header_message("Cc", repeat(b"x@y.vn, ", n)),
    "a display name that never ends": lambda n: _header_message("Cc", repeat(b"a ", n)),
    "a long folded subject": lambda n: _header_message(
        "Subject", repeat("Số  \r\n ".encode(), min(n, 60_000))),
    "many encoded words": lambda n: _header_message("Subject", repeat(
        b"=?utf-8?b?" + base64.b64encode("Số ".encode()) + b"?= ", min(n, 60_000))),
}


@pytest.mark.parametrize("shape", HEADER_SHAPES)
def test_headers(shape: str) -> None:
    make = HEADER_SHAPES[shape]
    # the Subject is read up to 64 KiB: both sizes stay below it
    size = SIZE // 8 if shape in ("a long folded subject", "many encoded words") else SIZE
    assert_linear(make, scan, size, f"headers, {shape}")


CLI_CASES = {
    "DOCX with 1 MB of unclosed w:instrText": lambda: as_docx(repeat(b"<w:instrText>", 1 << 20)),
    "edXML with 8,000 unclosed Attachment tags": lambda: as_edxml(b"<Attachment>" * 8000),
}


@pytest.mark.parametrize("case", CLI_CASES)
def test_govmilter_check_answers_within_the_deadline(case: str, tmp_path: Path) -> None:
    """``govmilter check`` (a new process, the default policy) reads the whole input and
    answers within ``limits.max_seconds`` of CPU, interpreter start included (these took
    minutes). CPU time, not the wall clock: on the shared machine a process may wait for a
    core longer than it runs."""
    path = tmp_path / "message.eml"
    path.write_bytes(CLI_CASES[case]())
    verdict, cpu = check_process(path)
    assert verdict["unscannable"] == [] and verdict["document_class"] == "none"
    assert cpu < load_policy(None).limits.max_seconds, f"{case}: {cpu:.1f} s of CPU"
