"""Text and structural cues from attachments: PDF, DOCX, ODT, edXML, text, HTML, RTF, Word
97-2003 ``.doc``, archives (ZIP; RAR, 7z, tar, gzip, bzip2, xz through :mod:`.packed`), and by
OCR (:mod:`.scanned`) scanned PDFs and images (PNG, JPEG, TIFF, GIF, BMP, WebP).

The format is sniffed from the bytes first (a ``.pdf`` name on a ZIP is read as a ZIP), then
from the declared type and file name; a file that claims a format it then fails to open is
``unscannable``, never skipped. Archives and edXML packages are opened inside each other down to
``limits.max_archive_depth`` levels; deeper ones are not opened (and that is said in
``unscannable``). Reasons name the attachment by position ("attachment 2"), never by file name
or content.
"""

from __future__ import annotations

import binascii
import hashlib
import re
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from govmilter.document.archive import GuardedZip
from govmilter.document.budget import ScanBudget, Unscannable
from govmilter.document.cues import Cue, filename_cues
from govmilter.document.edxml import is_edxml, read_edxml
from govmilter.document.images import image_format, image_frames
from govmilter.document.office import (
    docx_text,
    flat_xml_text,
    is_docx,
    is_odp,
    is_ods,
    is_odt,
    is_pptx,
    is_xlsx,
    odt_text,
    pptx_text,
    xlsx_text,
)
from govmilter.document.ole import is_ole, ole_text
from govmilter.document.packed import packed_kind, packed_magic, read_packed
from govmilter.document.pdf import NoTextLayer, pdf_signature, pdf_text, render_pdf_page
from govmilter.document.rtf import is_rtf, rtf_text
from govmilter.document.scanned import OcrSession, OcrText
from govmilter.mail.htmltext import html_to_text
from govmilter.mail.message import Attachment, TextPart, parse_message
from govmilter.mail.text import decode_text, utf16_codec

_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\r\f") + b"\x7f"
_TEXT_EXTENSIONS = (".txt", ".htm", ".html", ".eml", ".csv", ".xml")
_ZIP_EXTENSIONS = (".zip", ".docx", ".docm", ".dotx", ".xlsx", ".xlsm", ".pptx", ".pptm", ".odt",
                   ".ods", ".odp")
_OOXML = "application/vnd.openxmlformats-officedocument."
_ZIP_TYPES = frozenset({
    "application/zip", "application/x-zip-compressed", f"{_OOXML}wordprocessingml.document",
    f"{_OOXML}spreadsheetml.sheet", f"{_OOXML}presentationml.presentation",
    "application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation"})
#: Office documents that are ZIP containers: (test, name, reader), tried in this order.
_OFFICE_ZIPS: tuple[tuple[Callable[[GuardedZip], bool], str, Callable[[GuardedZip], str]], ...] = (
    (is_docx, "DOCX", docx_text), (is_odt, "ODT", odt_text), (is_xlsx, "XLSX", xlsx_text),
    (is_pptx, "PPTX", pptx_text), (is_ods, "ODS", odt_text), (is_odp, "ODP", odt_text))
_OLE_EXTENSIONS = (".doc", ".dot", ".xls", ".ppt", ".pps")
_OLE_TYPES = frozenset({"application/msword", "application/vnd.ms-excel",
                        "application/vnd.ms-powerpoint"})


@dataclass(frozen=True, slots=True)
class ExtractedText:
    """Text read from one file; ``source`` says which (``attachment 2 (PDF)``)."""

    source: str
    text: str
    ocr: bool = False  #: recognised from an image: accents may be lost, no legacy encoding


@dataclass
class Extraction:
    """What the attachments yielded (mutable while being filled, then read once), and the OCR
    that reads its scans and images (none: they are ``unscannable``)."""

    ocr: OcrSession
    texts: list[ExtractedText] = field(default_factory=list)
    cues: list[Cue] = field(default_factory=list)
    urgency: str | None = None


def sniff(data: bytes, filename: str | None, content_type: str) -> str | None:
    """The format to read a file as: pdf, zip, packed (:mod:`.packed`), edxml, ole, rtf, text,
    html, image, or None to skip it (a binary file of no format read here: a program...)."""
    name = (filename or "").lower()
    if data.startswith(b"%PDF-"):
        return "pdf"
    if image_format(data):
        return "image"
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return "zip"
    if is_ole(data):
        return "ole"
    if is_rtf(data):
        return "rtf"
    # before the PDF search below: a tar's first file starts 512 bytes in
    if packed_magic(data):
        return "packed"
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if is_edxml(data, filename):
        return "edxml"
    # before the name's claims: Word saves a web page (.mht, a MIME message), HTML and XML
    # documents that it opens under any name (.doc), and a forwarded .eml may come as anything
    if looks_like_message(data):
        return "message"
    markup = markup_kind(data)
    if markup:
        return markup
    # from here on the name or the declared type claims a format: failing to open it says so
    if content_type == "application/pdf" or name.endswith(".pdf"):
        return "pdf"
    if name.endswith(_ZIP_EXTENSIONS) or content_type in _ZIP_TYPES:
        return "zip"
    if name.endswith(_OLE_EXTENSIONS) or content_type in _OLE_TYPES:
        return "ole"
    if name.endswith(".rtf") or content_type in ("application/rtf", "text/rtf"):
        return "rtf"
    if packed_kind(data, filename, content_type):
        return "packed"
    if content_type == "text/html" or name.endswith((".htm", ".html")):
        return "html"
    if content_type.startswith("text/") or name.endswith(_TEXT_EXTENSIONS):
        return "text"
    if looks_like_text(data):
        return "text"  # a letter.txt renamed letter.dat (or sent with no name) is still read
    return None


#: A header field's name and colon: an RFC 5322 message's first lines are all such fields.
_HEADER_FIELD_RE = re.compile(rb"[!-9;-~]++[ \t]*:")
_MIME_FIELDS = (b"content-type", b"mime-version", b"content-transfer-encoding")
_HEADER_BLOCK = 16 * 1024


def looks_like_message(data: bytes) -> bool:
    """True for an RFC 5322 message or a MIME document (an .eml, Word's single-file web page
    .mht): it opens with header fields up to a blank line, one of them MIME's."""
    head = data[:_HEADER_BLOCK].lstrip(b"\r\n")
    end = min((i for i in (head.find(b"\n\n"), head.find(b"\r\n\r\n")) if i >= 0), default=-1)
    if end <= 0:
        return False
    mime = False
    for line in head[:end].splitlines():
        if line[:1] in (b" ", b"\t"):
            continue  # a folded field's next line
        if not _HEADER_FIELD_RE.match(line):
            return False
        mime = mime or line.lower().startswith(_MIME_FIELDS)
    return mime


_HTML_STARTS = (b"<!doctype html", b"<html")
_XML_STARTS = (b"<?xml", b"<w:worddocument", b"<pkg:package", b"<office:document")


def markup_kind(data: bytes) -> str | None:
    """``html`` or ``xml`` when the bytes open with that markup (after a byte-order mark and
    blanks), whatever the file is called; else None."""
    head = data[:256].removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    if head.startswith(_HTML_STARTS):
        return "html"
    if head.startswith(_XML_STARTS):
        return "xml"
    return None


def looks_like_text(data: bytes) -> bool:
    """True when the first 4 KiB hold no NUL and almost no other control bytes: text in UTF-8
    or an 8-bit code page (TCVN3, VNI), not an image or another binary format; or UTF-16."""
    head = data[:4096]
    if head and utf16_codec(head):
        return True
    if not head or b"\0" in head:
        return False
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    return controls * 100 <= len(head)


def extract_attachments(attachments: tuple[Attachment, ...], budget: ScanBudget,
                        ocr: OcrSession | None = None) -> Extraction:
    """Read every attachment within the budget; what could not be read goes to its reasons.

    Scans and images are read by ``ocr``; without one (the milter process), they are
    ``unscannable``.
    """
    found = Extraction(ocr or OcrSession(None, budget))
    for index, attachment in enumerate(attachments, 1):
        if budget.expired():
            break
        budget.give_back(len(attachment.data))  # from here its text stands in for its bytes
        _extract(attachment.filename, attachment.content_type, attachment.data,
                 f"attachment {index}", budget, found, depth=0)
    return found


#: A block of base64 pasted into a text: lines of 40 or more base64 characters (or one long
#: line), and the shorter last line. Each repetition is possessive and the classes hold no line
#: end, so a failed match retries nothing.
_PASTED_LINE_CHARS = 40
_PASTED_BASE64_RE = re.compile(rf"[A-Za-z0-9+/]{{{_PASTED_LINE_CHARS},}}+=*+"
                               rf"(?:[ \t\r]*+\n[A-Za-z0-9+/]{{{_PASTED_LINE_CHARS},}}+=*+)*+"
                               r"(?:[ \t\r]*+\n[A-Za-z0-9+/]++=*+)?")
_PASTED_MIN_CHARS = 200
#: Each byte as the pre-test of :func:`_pasted_blocks` sees it: a base64 character as ``a``,
#: anything else as a blank.
_BASE64_MARKS = bytes(ord("a") if chr(byte).isascii() and (chr(byte).isalnum() or chr(byte) in "+/")
                      else ord(" ") for byte in range(256))
#: A uuencoded file in a text ("begin 644 name" ... "end"), as old clients attach.
_UUENCODE_BEGIN_RE = re.compile(r"(?m)^begin [0-7]{3,4} [^\n]+\n")
_PASTED_BLOCKS = 8  #: encoded blocks decoded per text


def extract_pasted(texts: Sequence[TextPart], budget: ScanBudget, found: Extraction) -> None:
    """Read files pasted into the message's texts as base64 or uuencode: a sender who cannot
    attach a document may paste its encoding for the recipient to decode. A block that decodes
    to no format read here is passed over."""
    for part in texts:
        pasted = _pasted_blocks(part.text, budget.limits.max_attachment_bytes)
        for number, data in enumerate(pasted, 1):
            if budget.expired() or number > _PASTED_BLOCKS:
                break
            _extract(None, "", data, f"{part.source} > pasted file {number}", budget, found,
                     depth=0)


def _pasted_blocks(text: str, cap: int) -> Iterator[bytes]:
    """The decoded bytes of each base64 and uuencoded block of ``text`` (at most ``cap``).

    Both patterns are tried by the regex engine at every position of the text (0.1 ms on a
    4 KB letter); a text without a run of base64 characters as long as a line of it, or without
    ``begin ``, cannot match the one or the other (nearly all mail), and is spared it. Dropping
    the text's other characters first can only join runs, never cut one.
    """
    marks = text.encode("ascii", "ignore").translate(_BASE64_MARKS)
    long_run = b"a" * _PASTED_LINE_CHARS in marks
    for match in _PASTED_BASE64_RE.finditer(text) if long_run else ():
        if match.end() - match.start() >= _PASTED_MIN_CHARS:
            encoded = "".join(match.group().split())[:cap * 4 // 3 + 4]
            try:
                yield binascii.a2b_base64(encoded + "=" * (-len(encoded) % 4))
            except (binascii.Error, ValueError):
                continue
    pos = 0 if "begin " in text else len(text)
    while (begin := _UUENCODE_BEGIN_RE.search(text, pos)) is not None:
        decoded = bytearray()
        pos = begin.end()
        while len(decoded) < cap:  # line by line: each line is read once, by one block
            end = text.find("\n", pos)
            line = text[pos:end if end >= 0 else len(text)].rstrip("\r")
            pos = end + 1 if end >= 0 else len(text)
            if line in ("end", "`", "") or line.startswith("begin "):
                break
            try:
                decoded += binascii.a2b_uu(line)
            except (binascii.Error, ValueError):
                break
        yield bytes(decoded)


def _extract(filename: str | None, content_type: str, data: bytes, source: str,
             budget: ScanBudget, found: Extraction, depth: int) -> None:
    if filename:
        found.cues.extend(filename_cues(filename, source))
    kind = sniff(data, filename, content_type)
    try:
        if kind == "pdf":
            _pdf(data, source, budget, found)
        elif kind == "image":
            _image(data, source, budget, found)
        elif kind == "zip":
            _zip(data, source, budget, found, depth)
        elif kind == "packed":
            _packed(data, packed_kind(data, filename, content_type) or "archive", filename,
                    source, budget, found, depth)
        elif kind == "edxml":
            _edxml(data, source, budget, found, depth)
        elif kind == "ole":
            office, text = ole_text(data, budget, source)
            _add(found, budget, f"{source} ({office})", text)
        elif kind == "rtf":
            _add(found, budget, f"{source} (RTF)", rtf_text(data, budget))
        elif kind == "message":
            _message(data, source, budget, found, depth)
        elif kind in ("text", "html", "xml"):
            text = decode_text(data, None)
            reader = {"html": html_to_text, "xml": flat_xml_text}.get(kind)
            _add(found, budget, f"{source} ({kind})", reader(text) if reader else text)
    except Unscannable as exc:
        budget.note(f"{source}: {exc}")


def _add(found: Extraction, budget: ScanBudget, source: str, text: str) -> None:
    if text.strip():
        found.texts.append(ExtractedText(source, budget.take_text(text)))


def _pdf(data: bytes, source: str, budget: ScanBudget, found: Extraction) -> None:
    signature = pdf_signature(data)
    if signature.government_ca:
        found.cues.append(Cue(3.0, "PDF signed with a Government CA certificate "
                                   "(Ban Cơ yếu Chính phủ)", source, "signature", identity=True))
    elif signature.signed:
        found.cues.append(Cue(1.5, "PDF digital signature (/ByteRange)", source, "signature"))
    try:
        text = pdf_text(data, budget, source)
    except NoTextLayer as scan:
        pixels = budget.limits.max_image_pixels
        texts = found.ocr.read(str(scan), source, scan.pages,
                               lambda index: render_pdf_page(data, index, pixels),
                               hashlib.sha256(data).digest())
        if not texts:
            raise Unscannable(f"{scan}; OCR read no text") from None
        _add_ocr(found, texts)
        return
    _add(found, budget, f"{source} (PDF)", text)


def _add_ocr(found: Extraction, texts: list[OcrText]) -> None:
    found.texts.extend(ExtractedText(t.source, t.text, ocr=True) for t in texts)


def _zip(data: bytes, source: str, budget: ScanBudget, found: Extraction, depth: int) -> None:
    archive = GuardedZip(data, budget, "ZIP archive", source)
    for is_kind, kind, read in _OFFICE_ZIPS:
        if is_kind(archive):
            archive.what = f"{kind} document"
            text = read(archive)
            _add(found, budget, f"{source} ({kind})", text)
            if len(text.strip()) < SHORT_OFFICE_TEXT:
                _office_images(archive, source, budget, found)
            _office_embedded(archive, source, budget, found, depth)
            return
    _zip_entries(archive, archive.entries, (source, "entry", "ZIP archive"), budget, found,
                 depth)


def _zip_entries(archive: GuardedZip, entries: list[zipfile.ZipInfo],
                 where: tuple[str, str, str], budget: ScanBudget, found: Extraction,
                 depth: int) -> None:
    """Read ``entries`` of ``archive`` as files one level below it. ``where``: the archive's
    source, what an entry is called in a reason (``entry``), what the archive is."""
    source, label, what = where
    _check_depth(budget, depth)
    for number, info in enumerate(entries, 1):
        if budget.expired() or not budget.take_entry(f"{source}: {what}"):
            break
        entry_source = f"{source} > {label} {number}"
        try:
            entry = archive.read(info)
        except Unscannable as exc:
            budget.note(f"{entry_source}: {exc}")
            continue
        _extract(info.filename, "", entry, entry_source, budget, found, depth + 1)


#: An office document with less text than this may be a scan pasted into Word: its images are
#: read by OCR (largest first, within the OCR limits).
SHORT_OFFICE_TEXT = 200
_OFFICE_MEDIA = ("word/media/", "Pictures/", "xl/media/", "ppt/media/")


def _office_images(archive: GuardedZip, source: str, budget: ScanBudget,
                   found: Extraction) -> None:
    media = sorted((i for i in archive.entries if i.filename.startswith(_OFFICE_MEDIA)),
                   key=lambda info: -info.file_size)
    for number, info in enumerate(media, 1):
        if budget.expired() or found.ocr.pages_left <= 0:
            break
        image_source = f"{source} > image {number}"
        try:
            data = archive.read(info)
            if image_format(data):
                _image(data, image_source, budget, found)
        except Unscannable as exc:
            budget.note(f"{image_source}: {exc}")


#: Files inside an office document that are documents of their own: objects inserted from a
#: file (an embedded .docx, .xlsx, .pdf) and the parts of Word's "alternative format" chunks
#: (``w:altChunk``: HTML, MHT, RTF or another .docx merged in when the document is opened).
#: OLE-wrapped objects (``oleObject1.bin``: equations, packages) are not read.
_EMBEDDED_RE = re.compile(r"^(?:word|xl|ppt)/(?:embeddings/(?!oleObject)[^/]+"
                          r"|afchunk[^/]*|[^/]*\.(?:mht|mhtml|html?|rtf|docx))$", re.IGNORECASE)


def _office_embedded(archive: GuardedZip, source: str, budget: ScanBudget, found: Extraction,
                     depth: int) -> None:
    """Read the documents inside an office document (:data:`_EMBEDDED_RE`), one level down."""
    embedded = [info for info in archive.entries if _EMBEDDED_RE.match(info.filename)]
    if embedded:
        _zip_entries(archive, embedded, (source, "embedded", "embedded file"), budget, found,
                     depth)


def _message(data: bytes, source: str, budget: ScanBudget, found: Extraction,
             depth: int) -> None:
    """A message or MIME document read as a file: its subject, texts and attachments, as the
    message around it is read (its parts' bytes are charged once, as their text)."""
    _check_depth(budget, depth)
    content = parse_message(data, budget.limits, budget)
    for reason in content.unscannable:
        budget.note(f"{source} (message): {reason}")
    if content.subject:
        _add(found, budget, f"{source} (message subject)", content.subject)
    for part in content.texts:
        budget.give_back(len(part.text))
        _add(found, budget, f"{source} (message {part.source})", part.text)
    for number, attachment in enumerate(content.attachments, 1):
        if budget.expired():
            break
        budget.give_back(len(attachment.data))
        _extract(attachment.filename, attachment.content_type, attachment.data,
                 f"{source} > attachment {number}", budget, found, depth + 1)


def _image(data: bytes, source: str, budget: ScanBudget, found: Extraction) -> None:
    count, frame = image_frames(data, budget.limits.max_image_pixels)
    _add_ocr(found, found.ocr.read("image", source, count, frame, hashlib.sha256(data).digest()))


def _check_depth(budget: ScanBudget, depth: int) -> None:
    """Refuse to open a container below ``depth`` others past ``limits.max_archive_depth``."""
    limit = budget.limits.max_archive_depth
    if depth >= limit:
        raise Unscannable(f"archive nested more than {limit} deep was not opened "
                          "(limits.max_archive_depth)")


def _packed(data: bytes, what: str, filename: str | None, source: str, budget: ScanBudget,
            found: Extraction, depth: int) -> None:
    _check_depth(budget, depth)
    for number, entry in enumerate(read_packed(data, what, budget, source, filename), 1):
        _extract(entry.name, "", entry.data, f"{source} > entry {number}", budget, found,
                 depth + 1)


def _edxml(data: bytes, source: str, budget: ScanBudget, found: Extraction, depth: int) -> None:
    package = read_edxml(data, source, budget.limits.max_attachment_bytes)
    found.cues.extend(package.cues)
    found.urgency = found.urgency or package.urgency
    _add(found, budget, f"{source} (edXML header)", package.header_text)
    if package.files:
        _check_depth(budget, depth)
    for number, file in enumerate(package.files, 1):
        if budget.expired():
            break
        _extract(file.name, "", file.data, f"{source} > file {number}", budget, found,
                 depth + 1)
