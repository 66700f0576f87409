"""Hostile attachments (issue #8): ZIP and DOCX bombs, looping and broken PDFs, password ZIPs.

Every input goes the public way, ``govmilter check --json`` with the default policy (what the
milter runs too), and each test states what a user sees: the document class, why a part was not
scanned (or the evidence that was read), and the rule and action. Each input is built in code and
is small (the largest, 1.5 MB); what it expands to is not held while building. Encrypted PDFs are
in ``test_document.py`` (``test_encrypted_and_damaged_pdfs_are_unscannable``).
"""

from __future__ import annotations

import functools
import io
import time
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from hostile_mail import (
    NONE,
    OFFICIAL_TEXT,
    PDF_CONTENT,
    PDF_FONT,
    PDF_TEXT,
    SECRET,
    TIME_BOUND,
    UNSCANNABLE,
    docx_bomb,
    docx_many_entries,
    docx_many_parts,
    looping_pdf,
    nested_zip,
    page_tree_dag,
    pdf_from_objects,
    pdf_page,
    rule_action,
    verdict_of,
    with_attachment,
    zip_archive,
    zip_bomb,
    zip_with_lying_size,
    zipcrypto,
)

from govmilter.policy import Limits, load_policy
from govmilter.scan import scan_message

LIMITS = Limits()  # the default policy's limits
CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"


@functools.cache
def real_pdf() -> bytes:
    """A real PDF (fpdf2, DejaVu Sans) of an official document marked MẬT, to mutate."""
    pytest.importorskip("fpdf", reason="fpdf2 (the test extra) builds the PDFs")
    from make_corpus import pdf_bytes

    data = pdf_bytes((), OFFICIAL_TEXT.split("\n"))
    # the mutations below keep every byte offset: they rely on fpdf2's object numbering
    assert b"1 0 obj\n<<\n/Count 1\n/Kids [3 0 R]" in data and b"/Parent 1 0 R" in data
    return data


def startxref(pdf: bytes) -> int:
    return int(pdf.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])


def xref_prev_pair(pdf: bytes) -> bytes:
    """``pdf`` plus an (empty) incremental update whose xref and the original's /Prev each
    other: the chain of xref sections is a two-element loop."""
    base = pdf.replace(b"/Size 14\n", b"/Size 14\n/Prev 0000000000\n", 1)
    update = len(base)
    return (base.replace(b"/Prev 0000000000", b"/Prev %010d" % update)
            + b"xref\n0 0\ntrailer\n<< /Size 14 /Root 2 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n"
            % (startxref(pdf), update))


SYMBOL = "attachment 1 (PDF): number/symbol 588/BTTTT-THH"
PAGE_UNREADABLE = "attachment 1: PDF page could not be read"
DAMAGED = "attachment 1: PDF could not be read (damaged or not a PDF)"

#: (id, PDF builder, document class, unscannable reason or evidence expected, rule and action)
PDF_CASES: list[tuple[str, Callable[[], bytes], str, str, tuple[str, str]]] = [
    ("kids-point-back-to-their-pages", looping_pdf, "unscannable", PAGE_UNREADABLE, UNSCANNABLE),
    ("kids-loop-through-two-pages-nodes", lambda: pdf_from_objects([
        CATALOG, b"<< /Type /Pages /Kids [6 0 R] /Count 1 >>", pdf_page(6), PDF_CONTENT,
        PDF_FONT, b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>"]),
     "unscannable", PAGE_UNREADABLE, UNSCANNABLE),
    ("real-pdf-pages-is-its-own-kid",
     lambda: real_pdf().replace(b"/Kids [3 0 R]", b"/Kids [1 0 R]"),
     "unscannable", PAGE_UNREADABLE, UNSCANNABLE),
    ("page-tree-of-65536-pages-in-20-objects", lambda: page_tree_dag(16), "unscannable",
     "attachment 1: PDF has 65536 pages; 30 were read (limits.max_pdf_pages)", UNSCANNABLE),
    ("page-tree-of-2**20-pages-in-24-objects", lambda: page_tree_dag(20), "unscannable",
     DAMAGED, UNSCANNABLE),
    ("parent-loop-between-pages-nodes", lambda: pdf_from_objects([
        CATALOG, b"<< /Type /Pages /Kids [3 0 R] /Count 1 /Parent 6 0 R >>", pdf_page(2),
        PDF_CONTENT, PDF_FONT, b"<< /Type /Pages /Kids [2 0 R] /Count 1 /Parent 2 0 R >>"]),
     "none", SYMBOL, NONE),
    ("page-is-its-own-parent", lambda: pdf_from_objects([
        CATALOG, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>", pdf_page(3), PDF_CONTENT,
        PDF_FONT]), "none", SYMBOL, NONE),
    ("real-pdf-page-is-its-own-parent",
     lambda: real_pdf().replace(b"/Parent 1 0 R", b"/Parent 3 0 R"), "secret", SYMBOL, SECRET),
    ("stream-length-is-an-indirect-object-loop", lambda: pdf_from_objects([
        CATALOG, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>", pdf_page(2),
        b"<< /Length 6 0 R >>\nstream\n" + PDF_TEXT + b"\nendstream", PDF_FONT,
        b"7 0 R", b"6 0 R"]), "none", SYMBOL, NONE),
    ("xref-prev-points-at-itself", lambda: pdf_from_objects([
        CATALOG, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>", pdf_page(2), PDF_CONTENT,
        PDF_FONT], prev="self"), "none", SYMBOL, NONE),
    ("real-pdf-xref-prev-points-at-itself", lambda: real_pdf().replace(
        b"/Size 14\n", b"/Size 14\n/Prev %d\n" % startxref(real_pdf())), "secret", SYMBOL,
     SECRET),
    ("real-pdf-two-xref-sections-prev-each-other", lambda: xref_prev_pair(real_pdf()),
     "secret", SYMBOL, SECRET),
    ("catalog-is-its-own-page-tree", lambda: pdf_from_objects([
        b"<< /Type /Catalog /Pages 1 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        pdf_page(2), PDF_CONTENT, PDF_FONT]),
     # PDFium sees one empty page: the reason given is that of a scan
     "unscannable", "attachment 1: PDF has no text layer (a scanned image?); OCR read no text",
     UNSCANNABLE),
    *[(f"real-pdf-truncated-to-{percent}-percent",
       functools.partial(lambda p: real_pdf()[:len(real_pdf()) * p // 100], percent),
       "unscannable", DAMAGED, UNSCANNABLE) for percent in (10, 50, 90, 99)],
]


@pytest.mark.parametrize(("build", "document", "expected", "outcome"),
                         [case[1:] for case in PDF_CASES], ids=[case[0] for case in PDF_CASES])
def test_looping_and_malformed_pdfs_give_a_verdict(
        tmp_path: Path, build: Callable[[], bytes], document: str, expected: str,
        outcome: tuple[str, str]) -> None:
    data = build()
    assert len(data) < 20_000
    verdict = verdict_of(tmp_path, data, "cong-van.pdf")
    assert verdict["document_class"] == document
    said = [*verdict["unscannable"], *verdict["evidence"]]  # type: ignore[misc]
    assert expected in said, said
    assert rule_action(verdict) == outcome


# ---- ZIP and DOCX ------------------------------------------------------------------------

BOMB = "expands more than 100:1 (limits.max_zip_ratio): possible ZIP bomb"
TOO_DEEP = "archive nested more than 3 deep was not opened (limits.max_archive_depth)"
PREFIX = b"a" * 1000
HIDDEN = PREFIX + OFFICIAL_TEXT.encode()  # a secret document after 1,000 harmless bytes

#: (id, archive builder, file name, document class, unscannable reason, rule and action)
ARCHIVE_CASES: list[tuple[str, Callable[[], bytes], str, str, str | None, tuple[str, str]]] = [
    ("docx-document-xml-inflates-to-256-mib", lambda: docx_bomb(256 << 20), "vb.docx",
     "unscannable", f"attachment 1: DOCX document entry {BOMB}", UNSCANNABLE),
    ("docx-with-10000-entries", lambda: docx_many_entries(10_000), "vb.docx", "unscannable",
     "attachment 1: ZIP archive has 10002 entries, more than 200 (limits.max_zip_entries)",
     UNSCANNABLE),
    ("docx-bomb-inside-a-zip", lambda: zip_archive({"vb.docx": docx_bomb(64 << 20)}), "a.zip",
     "unscannable", f"attachment 1 > entry 1: DOCX document entry {BOMB}", UNSCANNABLE),
    ("zip-entry-inflates-to-64-mib", lambda: zip_bomb(64 << 20), "a.zip", "unscannable",
     f"attachment 1 > entry 1: ZIP archive entry {BOMB}", UNSCANNABLE),
    # the header says 1,000 bytes (and gives their CRC); the stream inflates to 20 MiB
    ("zip-entry-claims-1000-bytes-inflates-to-20-mib",
     lambda: zip_with_lying_size(zip_bomb(20 << 20), 1000, zlib.crc32(PREFIX)), "a.zip",
     "unscannable", f"attachment 1 > entry 1: ZIP archive entry {BOMB}", UNSCANNABLE),
    # the same lie hiding a document past the declared size: zipfile stopped at 1,000 bytes
    # and found nothing (document none, accepted) while unzip extracts the whole document
    ("zip-entry-claims-1000-bytes-hides-a-document",
     lambda: zip_with_lying_size(zip_archive({"notes.txt": HIDDEN}), 1000, zlib.crc32(PREFIX)),
     "a.zip", "unscannable", "attachment 1 > entry 1: ZIP archive entry could not be read "
     "(BadZipFile)", UNSCANNABLE),
    ("zip-entry-claims-1000-bytes-crc-of-all",  # the whole stream is read, the document found
     lambda: zip_with_lying_size(zip_archive({"notes.txt": HIDDEN}), 1000), "a.zip", "secret",
     None, SECRET),
    ("password-zip", lambda: zipcrypto("588_BTTTT-THH.txt", OFFICIAL_TEXT.encode(), b"hunter2"),
     "a.zip", "unscannable",
     "attachment 1 > entry 1: ZIP archive is password-protected (encrypted entries)",
     UNSCANNABLE),
    # Word's "encrypt with password" writes an OLE2 file holding an EncryptedPackage stream
    ("password-docx", lambda: (Path(__file__).parent.parent / "data" / "office"
                               / "cong-van-mat-password.docx").read_bytes(),
     "vb.docx", "unscannable",
     "attachment 1: Office document is password-protected (encrypted)", UNSCANNABLE),
    ("zip-nested-100-deep", lambda: nested_zip(100, {"588.txt": OFFICIAL_TEXT.encode()}),
     "a.zip", "unscannable",
     f"attachment 1 > entry 1 > entry 1 > entry 1: {TOO_DEEP}",
     UNSCANNABLE),
    ("zip-of-16-zips-each-nested-5-deep",
     lambda: zip_archive({f"{n}.zip": nested_zip(5, {"a.txt": b"a" * 100_000})
                          for n in range(16)}), "a.zip", "unscannable",
     f"attachment 1 > entry 16 > entry 1 > entry 1: {TOO_DEEP}",
     UNSCANNABLE),
]


@pytest.mark.parametrize(("build", "filename", "document", "reason", "outcome"),
                         [case[1:] for case in ARCHIVE_CASES],
                         ids=[case[0] for case in ARCHIVE_CASES])
def test_zip_and_docx_attacks_give_a_verdict(
        tmp_path: Path, build: Callable[[], bytes], filename: str, document: str,
        reason: str | None, outcome: tuple[str, str]) -> None:
    data = build()
    assert len(data) < 2_000_000
    verdict = verdict_of(tmp_path, data, filename)
    assert verdict["document_class"] == document
    if reason is None:
        assert verdict["unscannable"] == []
    else:
        assert reason in verdict["unscannable"], verdict["unscannable"]  # type: ignore[operator]
    assert rule_action(verdict) == outcome


def test_the_password_zip_is_a_real_one() -> None:
    archive = zipfile.ZipFile(io.BytesIO(zipcrypto("a.txt", b"secret text", b"hunter2")))
    assert archive.read("a.txt", pwd=b"hunter2") == b"secret text"
    with pytest.raises(RuntimeError, match="Bad password"):
        archive.read("a.txt", pwd=b"wrong")


def test_lying_zip_header_is_what_zipfile_alone_trusts() -> None:
    # what the gateway used to read: 1,000 bytes, CRC fine, the document after them unseen
    data = zip_with_lying_size(zip_archive({"notes.txt": HIDDEN}), 1000, zlib.crc32(PREFIX))
    assert zipfile.ZipFile(io.BytesIO(data)).read("notes.txt") == PREFIX


def test_docx_of_twelve_10_mib_parts_stays_within_the_text_budget() -> None:
    # 1.5 MB on the wire; every part within the 100:1 ratio, 120 MiB of XML in all. All the
    # parts' text used to be held at once (peak 240 MB); reading now stops at the text budget.
    data = docx_many_parts(12)
    assert len(data) < 2_000_000
    raw = with_attachment(data, "vb.docx")
    tracemalloc.start()
    try:
        start = time.monotonic()
        facts = scan_message(raw, load_policy())
        elapsed = time.monotonic() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < TIME_BOUND
    assert peak < 120 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB"
    assert facts.document.document_class.value == "unscannable"
    assert LIMITS.scan_limit_reason in facts.document.unscannable
