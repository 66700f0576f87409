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
    BODY,
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

#: The default policy with room for a busy CI machine: OCR time is not what these tests measure
#: (the time limit has its own test, the default policy its end-to-end test through Postfix).
POLICY = dataclasses.replace(load_policy(None), limits=dataclasses.replace(
    load_policy(None).limits, max_seconds=120.0, max_ocr_seconds=120.0))


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
    page = degrade(render_page(official_letter(stamp)[0], dpi), seed=dpi, angle=angle)
    found = mail(scanned_pdf([page], dpi), "scan.pdf")
    assert found.official, found.evidence
    assert found.score >= POLICY.detection.threshold + 5  # well past the bar, not just over
    assert found.secrecy == stamp
    assert found.unscannable == ()
    assert any(e.startswith("attachment 1 (OCR, page 1, top of page, confidence ")
               and e.endswith("number/symbol 125/UBND-VP") for e in found.evidence), found.evidence


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "WEBP", "HEIF"])
def test_image_attachments_of_every_common_format_are_read(fmt: str) -> None:
    if fmt == "HEIF":
        import pillow_heif  # its encoder makes the iPhone-style file

        pillow_heif.register_heif_opener()
    page = degrade(render_page(official_letter("MẬT")[0], 150), seed=7, angle=1.0)
    found = mail(image_bytes(page, fmt, 150), f"scan.{fmt.lower()}")
    assert found.official, found.evidence
    assert found.secrecy == "MẬT"


def test_a_multi_page_tiff_is_read_page_by_page_until_the_page_limit() -> None:
    # The letter is page 3 of 4: page 1 (a cover note without number) and page 4 (blank) are
    # read first, then pages 2 and 3; with two pages allowed the letter is never reached.
    letter = official_letter("TỐI MẬT")[0]
    cover = degrade(render_page(dataclasses.replace(letter, header=(), stamp=None, seal=False,
                                                    lines=BODY), 150), 1)
    blank = degrade(render_page(dataclasses.replace(letter, header=(), lines=(), stamp=None),
                                150), 2)
    data = tiff_pages([cover, blank, degrade(render_page(letter, 150), 3), blank], 150)
    found = mail(data, "scan.tif")
    assert found.official and found.secrecy == "TỐI MẬT"
    assert found.unscannable == ()
    assert any("(OCR, page 3, whole page, " in e for e in found.evidence), found.evidence
    limited = mail(data, "scan.tif", with_limits(max_ocr_pages=2))
    assert not limited.official
    assert limited.unscannable == ("attachment 1: OCR page limit of 2 reached "
                                   "(limits.max_ocr_pages); 4 pages, not all read",)


def test_a_phone_photo_of_an_official_letter_is_official() -> None:
    photo = photograph(render_page(official_letter(None)[0], 200), seed=3)
    found = mail(image_bytes(photo, "JPEG"), "IMG_2041.jpg")
    assert found.official, found.evidence
    assert found.document_class == "official"


def test_an_image_without_text_is_none_and_a_pdf_scan_without_text_unscannable() -> None:
    blank = degrade(render_page(dataclasses.replace(official_letter(None)[0], header=(), lines=()),
                                150), 4)
    assert mail(image_bytes(blank, "JPEG"), "holiday.jpg").document_class == "none"
    pdf = mail(scanned_pdf([blank], 150), "scan.pdf")
    assert pdf.document_class == "unscannable"
    assert pdf.unscannable == ("attachment 1: PDF has no text layer (a scanned image?); "
                               "OCR read no text",)


def test_the_ocr_time_limit_stops_reading_and_says_so() -> None:
    page = degrade(render_page(official_letter("TỐI MẬT")[0], 200), seed=5)
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
    page = image_bytes(degrade(render_page(official_letter(None)[0], 150), 1), "PNG")
    found = mail(page[:2000], "scan.png")
    assert found.document_class == "unscannable"
    assert found.unscannable == ("attachment 1: image frame 1 could not be decoded",)


def test_without_ocr_scans_and_images_are_unscannable_not_lost() -> None:
    page = degrade(render_page(official_letter("TỐI MẬT")[0], 150), 1)
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


@pytest.mark.parametrize(("stamp", "read"), [
    # official and stamped once the top third of page 1 is read (its red ink read alone too):
    # nothing else is
    ("TỐI MẬT", ["page 1, top of page", "page 1, red ink, top of page"]),
    # official there but no stamp: the rest of page 1, then only where a stamp would stand
    (None, ["page 1, top of page", "page 1, rest of page", "page 2, top of page"])])
def test_regions_are_read_where_the_cues_are_until_the_class_is_decided(
        stamp: str | None, read: list[str]) -> None:
    from govmilter.document.budget import ScanBudget
    from govmilter.document.images import PageImage
    from govmilter.document.ocr import shared_engine
    from govmilter.document.scanned import Judgement, OcrSession, OcrText

    def judge(texts: list[OcrText]) -> Judgement:  # what the detector says, in short
        joined = "\n".join(t.text for t in texts)
        return Judgement(official="125/UBND-VP" in joined, marked="MẬT" in joined)

    pages = [PageImage(degrade(render_page(p, 150), i), 150)
             for i, p in enumerate(official_letter(stamp, pages=2, body=3))]
    session = OcrSession(shared_engine(), ScanBudget(POLICY.limits), judge=judge)
    texts = session.read("scan", "attachment 1", 2, pages.__getitem__)
    assert [t.source.split("(OCR, ")[1].split(", confidence")[0] for t in texts] == read
    assert session.pages_read == len({r.split(",")[0] for r in read})
    # without a verdict to stop at, both pages are read, page 1 in two regions
    everything = OcrSession(shared_engine(), ScanBudget(POLICY.limits))
    read_all = everything.read("scan", "attachment 1", 2, pages.__getitem__)
    assert [t.source.split(", ")[2] for t in read_all if "red ink" not in t.source] == \
        ["top of page", "rest of page", "whole page"]
    assert everything.pages_read == 2 and everything.regions_read == 3


def test_a_scanned_two_page_letter_is_decided_on_the_top_of_its_first_page() -> None:
    pages = [degrade(render_page(p, 200), i) for i, p in
             enumerate(official_letter("TỐI MẬT", pages=2, body=3))]
    found = mail(scanned_pdf(pages, 200), "scan.pdf")
    assert found.document_class == "secret"
    assert all("(OCR, page 1, top of page, " in e for e in found.evidence), found.evidence


def test_a_stamp_on_a_later_page_is_still_read() -> None:
    # An unstamped letter, then a stamped one in the same scan: after page 1 the text is
    # official, so page 2's top (where a stamp stands) is read, and the class is secret.
    first = official_letter(None, body=3)[0]
    second = official_letter("TỐI MẬT", number="77/UBND-VP", body=3)[0]
    pages = [degrade(render_page(p, 150), i) for i, p in enumerate((first, second))]
    found = mail(scanned_pdf(pages, 150), "scan.pdf")
    assert found.document_class == "secret"
    assert any(e.startswith("attachment 1 (OCR, page 2, top of page, ")
               and "secrecy marking TỐI MẬT" in e for e in found.evidence), found.evidence


def test_the_same_scan_in_another_message_is_read_from_the_cache() -> None:
    from govmilter.document.ocrcache import SHARED_CACHE

    page = degrade(render_page(official_letter("MẬT")[0], 150), seed=21)
    scan = scanned_pdf([page], 150)
    SHARED_CACHE.clear()
    hits = SHARED_CACHE.hits
    first = mail(scan, "scan.pdf")
    assert SHARED_CACHE.hits == hits and len(SHARED_CACHE) == 1
    # the same bytes as the second attachment of another message: no OCR, the same evidence
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@mic.gov.vn", "b@gmail.com", "x"
    message.set_content("Kèm theo.")
    message.add_attachment(b"notes", maintype="text", subtype="plain", filename="a.txt")
    message.add_attachment(scan, maintype="application", subtype="pdf", filename="b.pdf")
    second = scan_message(message.as_bytes(), POLICY).document
    assert SHARED_CACHE.hits == hits + 1
    assert second.secrecy == "MẬT" and second.document_class == "secret"
    assert [e.replace("attachment 2", "attachment 1") for e in second.evidence] == \
        list(first.evidence)
    # other detection settings: read again
    stricter = dataclasses.replace(POLICY, detection=dataclasses.replace(POLICY.detection,
                                                                         threshold=6.0))
    mail(scan, "scan.pdf", stricter)
    assert SHARED_CACHE.hits == hits + 1 and len(SHARED_CACHE) == 2
    # a reading the time limit cut short is not kept
    SHARED_CACHE.clear()
    mail(scan, "scan.pdf", with_limits(max_ocr_seconds=0.01))
    assert len(SHARED_CACHE) == 0


def test_the_cache_is_bounded_by_entries_and_characters() -> None:
    from govmilter.document.ocrcache import CachedReading, OcrCache

    cache = OcrCache(max_entries=3, max_chars=100)
    for key in "abcd":
        cache.put(key, CachedReading((("OCR, page 1", key * 10),), (), 1))
    assert len(cache) == 3 and cache.get("a") is None  # the least recently used went first
    assert cache.get("b") is not None
    cache.put("e", CachedReading((("OCR, page 1", "x" * 90),), (), 1))
    assert cache.get("c") is None and cache.get("d") is None  # past 100 characters
    assert cache.get("b") is not None and cache.get("e") is not None
    cache.put("huge", CachedReading((("OCR, page 1", "x" * 101),), (), 1))
    assert cache.get("huge") is None  # larger than the whole cache: not kept


@pytest.mark.parametrize("turn", [90, 180, 270])
def test_a_page_scanned_on_its_side_or_upside_down_is_turned_and_read(turn: int) -> None:
    page = degrade(render_page(official_letter("TỐI MẬT", body=3)[0], 150), seed=turn)
    found = mail(image_bytes(page.rotate(turn, expand=True), "JPEG", 150), "scan.jpg")
    assert found.document_class == "secret", found.evidence
    assert found.secrecy == "TỐI MẬT"


@pytest.mark.parametrize("office", ["docx", "odt"])
def test_a_scan_pasted_into_word_is_read_and_a_long_documents_pictures_are_not(
        office: str) -> None:
    from make_corpus import docx_bytes, odt_bytes

    make = {"docx": docx_bytes, "odt": odt_bytes}[office]
    page = degrade(render_page(official_letter("MẬT")[0], 150), seed=31)
    png = image_bytes(page, "PNG", 150)
    pasted = mail(make(["Kính gửi anh"], media=png), f"van-ban.{office}")
    assert pasted.document_class == "secret"
    assert any(e.startswith("attachment 1 > image 1 (OCR, page 1, ") for e in pasted.evidence)
    long_text = ["Báo cáo tình hình hoạt động của câu lạc bộ trong quý một."] * 6
    written = mail(make(long_text, media=png), f"bao-cao.{office}")
    assert not any("OCR" in e for e in written.evidence)
    assert written.document_class == "none"


@pytest.mark.parametrize("archive", ["zip", "tar.gz", "7z"])
def test_a_scan_inside_an_archive_is_read(archive: str) -> None:
    """A folder of scans zipped (or tarred, or 7-zipped) by a clerk: each image is read as an
    image attachment would be, its evidence naming the archive entry."""
    from archive_tools import seven_zip, tar_archive
    from make_corpus import _zip

    page = degrade(render_page(official_letter("TỐI MẬT")[0], 150), seed=17, angle=-1.0)
    files = {"ghi-chu.txt": "Hồ sơ quét gửi anh.".encode(),
             "scan0001.jpg": image_bytes(page, "JPEG", 150)}
    packed = (_zip(files) if archive == "zip" else seven_zip(files) if archive == "7z"
              else tar_archive(files, "z"))
    found = mail(packed, f"ho-so.{archive}")
    assert found.document_class == "secret", found.evidence
    assert found.secrecy == "TỐI MẬT"
    assert any(e.startswith("attachment 1 > entry 2 (OCR, page 1, ") for e in found.evidence), \
        found.evidence
