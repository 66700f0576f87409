"""OCR of scanned and photographed documents with a real Tesseract (Debian tesseract-ocr-vie).

Every scan is made in code the way a scanner or a phone makes it (tests/scans.py): a letter laid
out in DejaVu Sans at 150, 200 or 300 dpi, a red boxed secrecy stamp, a red seal over the signer,
grey paper, a small rotation, noise and JPEG. Each goes through ``govmilter check --json`` or
:func:`govmilter.scan.scan_message`, the paths the milter's scan workers take, and the tests
assert what a user sees: the class, the secrecy level, the evidence naming the OCR, page and
confidence, and the reasons when a limit stops the reading.
"""

from __future__ import annotations

import dataclasses
import struct
import zlib
from email.message import EmailMessage
from typing import Any

import pytest
from postfix_harness import require
from scans import (
    degrade,
    image_bytes,
    official_letter,
    photograph,
    render_page,
    scanned_pdf,
    tiff_pages,
)

from govmilter.document.evidence import OfficialDocumentEvidence
from govmilter.document.ocr import ocr_status
from govmilter.mail.limits import Limits
from govmilter.policy import load_policy
from govmilter.policy.model import Policy
from govmilter.scan import scan_message

POLICY = load_policy(None)


@pytest.fixture(autouse=True)
def _tesseract() -> None:
    status = ocr_status()
    require(status.available, f"needs Tesseract with Vietnamese data ({status.detail}); run "
                              "scripts/setup.sh")


def mail(data: bytes, filename: str, policy: Policy = POLICY, ocr: bool = True
         ) -> OfficialDocumentEvidence:
    message = EmailMessage()
    message["From"], message["To"] = "vanthu@quangngai.gov.vn", "nguoinhan@gmail.com"
    message["Subject"] = "Gui tai lieu"
    message.set_content("Gửi anh tài liệu đính kèm.")
    message.add_attachment(data, maintype="application", subtype="octet-stream",
                           filename=filename)
    return scan_message(message.as_bytes(), policy, ocr=ocr).document


def with_limits(**changes: Any) -> Policy:
    return dataclasses.replace(POLICY, limits=dataclasses.replace(POLICY.limits, **changes))


@pytest.mark.parametrize(("dpi", "angle", "stamp"), [
    (150, 0.5, "TỐI MẬT"), (200, -1.5, "MẬT"), (300, 3.0, "TỐI MẬT"), (200, 2.0, None)])
def test_a_scanned_pdf_is_read_with_its_secrecy_stamp(dpi: int, angle: float,
                                                      stamp: str | None) -> None:
    page = degrade(render_page(official_letter(stamp), dpi), seed=dpi, angle=angle)
    found = mail(scanned_pdf([page], dpi), "scan.pdf")
    assert found.official, found.evidence
    assert found.score >= POLICY.detection.threshold + 5  # well past the bar, not just over
    assert found.secrecy == stamp
    assert found.unscannable == ()
    assert any(e.startswith("attachment 1 (OCR, page 1, whole page, confidence ")
               and e.endswith("number/symbol 125/UBND-VP") for e in found.evidence), found.evidence


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "WEBP"])
def test_image_attachments_of_every_common_format_are_read(fmt: str) -> None:
    page = degrade(render_page(official_letter("MẬT"), 150), seed=7, angle=1.0)
    found = mail(image_bytes(page, fmt, 150), f"scan.{fmt.lower()}")
    assert found.official, found.evidence
    assert found.secrecy == "MẬT"


def test_a_multi_page_tiff_is_read_first_and_last_page_and_within_the_page_limit() -> None:
    letter = official_letter("TỐI MẬT")
    first = degrade(render_page(dataclasses.replace(letter, lines=letter.lines[:5]), 150), 1)
    blank = degrade(render_page(dataclasses.replace(letter, header=(), lines=(), stamp=None),
                                150), 2)
    data = tiff_pages([first, blank, blank, blank], 150)
    found = mail(data, "scan.tif")
    assert found.official and found.secrecy == "TỐI MẬT"
    assert found.unscannable == ()
    limited = mail(data, "scan.tif", with_limits(max_ocr_pages=2))
    assert limited.official  # page 1 and the last page were read first
    assert limited.unscannable == ("attachment 1: OCR page limit of 2 reached "
                                   "(limits.max_ocr_pages); 4 pages, not all read",)


def test_a_phone_photo_of_an_official_letter_is_official() -> None:
    photo = photograph(render_page(official_letter(None), 200), seed=3)
    found = mail(image_bytes(photo, "JPEG"), "IMG_2041.jpg")
    assert found.official, found.evidence
    assert found.document_class == "official"


def test_an_image_without_text_is_none_and_a_pdf_scan_without_text_unscannable() -> None:
    blank = degrade(render_page(dataclasses.replace(official_letter(None), header=(), lines=()),
                                150), 4)
    assert mail(image_bytes(blank, "JPEG"), "holiday.jpg").document_class == "none"
    pdf = mail(scanned_pdf([blank], 150), "scan.pdf")
    assert pdf.document_class == "unscannable"
    assert pdf.unscannable == ("attachment 1: PDF has no text layer (a scanned image?); "
                               "OCR read no text",)


def test_the_ocr_time_limit_stops_reading_and_says_so() -> None:
    page = degrade(render_page(official_letter("TỐI MẬT"), 200), seed=5)
    found = mail(image_bytes(page, "PNG"), "scan.png", with_limits(max_ocr_seconds=0.01))
    assert found.document_class == "unscannable"
    assert found.unscannable == ("attachment 1: OCR time limit of 0.01 s reached "
                                 "(limits.max_ocr_seconds)",)


def _png_header(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` pixels and holds one compressed row."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack("!I", len(body)) + kind + body
                + struct.pack("!I", zlib.crc32(kind + body)))
    header = struct.pack("!IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * (width + 1))) + chunk(b"IEND", b""))


@pytest.mark.parametrize(("width", "height", "reason"), [
    (7_000, 7_000, "image of 7000x7000 pixels is larger than limits.max_image_pixels (40000000)"),
    # past twice the cap Pillow itself refuses to open it
    (50_000, 50_000, "image larger than limits.max_image_pixels (40000000)")])
def test_an_image_past_the_pixel_cap_is_refused_before_decoding(width: int, height: int,
                                                                reason: str) -> None:
    found = mail(_png_header(width, height), "bomb.png")
    assert found.document_class == "unscannable"
    assert found.unscannable == (f"attachment 1: {reason}",)


def test_a_damaged_image_is_unscannable_with_its_reason() -> None:
    page = image_bytes(degrade(render_page(official_letter(None), 150), 1), "PNG")
    found = mail(page[:2000], "scan.png")
    assert found.document_class == "unscannable"
    assert found.unscannable == ("attachment 1: image frame 1 could not be decoded",)


def test_without_ocr_scans_and_images_are_unscannable_not_lost() -> None:
    page = degrade(render_page(official_letter("TỐI MẬT"), 150), 1)
    image = mail(image_bytes(page, "JPEG"), "scan.jpg", ocr=False)
    assert image.document_class == "unscannable"
    assert image.unscannable == ("attachment 1: image; not read by OCR (OCR runs in scan "
                                 "workers only)",)
    pdf = mail(scanned_pdf([page], 150), "scan.pdf", ocr=False)
    assert pdf.unscannable == ("attachment 1: PDF has no text layer (a scanned image?); not "
                               "read by OCR (OCR runs in scan workers only)",)


def test_a_stamp_that_lost_its_accents_still_counts_but_running_text_does_not() -> None:
    from govmilter.document.cues import find_secrecy_ocr

    assert find_secrecy_ocr("Số: 12/UBND\n| TOI MAT |\nV/v") == "TỐI MẬT"
    assert find_secrecy_ocr("[TÓI MẠT]") == "TỐI MẬT"
    assert find_secrecy_ocr("TUYET MAT") == "TUYỆT MẬT"
    assert find_secrecy_ocr("mặt\nMất điện\nMAT KHAU: 1234") is None
    assert find_secrecy_ocr("Mat") is None


def test_limits_are_policy_settings_with_file_and_line_errors() -> None:
    from govmilter.policy.loader import PolicyError, parse_policy

    rules = "rules:\n  - {id: all, action: accept}\n"
    policy = parse_policy("version: 1\nlimits:\n  max_ocr_pages: 3\n  max_ocr_seconds: 2.5\n"
                          "  max_image_pixels: 1000000\n" + rules)
    assert policy.limits == dataclasses.replace(Limits(), max_ocr_pages=3, max_ocr_seconds=2.5,
                                                max_image_pixels=1_000_000)
    with pytest.raises(PolicyError, match=r"<string>:3: .*max_ocr_pages"):
        parse_policy("version: 1\nlimits:\n  max_ocr_pages: 0\n" + rules)
