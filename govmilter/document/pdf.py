"""Text and signatures of PDF attachments.

Text comes from PDFium (pypdfium2, Apache-2.0/BSD), imported only when a PDF is seen so that the
pure core stays light. PDFium is not thread-safe, and the milter serves connections in threads:
every use goes through one lock. Signatures are found on the raw bytes (``/ByteRange`` and a
``/Sig`` object), and the signer's certificate chain in ``/Contents`` is searched for the
Government CA (``O=Ban Co yeu Chinh phu``); nothing is validated, this is evidence, not proof.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from govmilter.document.budget import ScanBudget, Unscannable

_PDFIUM_LOCK = threading.Lock()
_SIG_RE = re.compile(rb"/(?:Type|FT)\s*/Sig\b")
_CONTENTS_RE = re.compile(rb"/Contents\s*<([0-9A-Fa-f\s]{64,})>")
_GOV_CA_NAMES = (
    b"Ban Co yeu Chinh phu",
    "Ban Cơ yếu Chính phủ".encode(),
    "Ban Cơ yếu Chính phủ".encode("utf-16-be"),
)
_MAX_SIGNATURES = 4  # /Contents blobs looked into
_MAX_CONTENTS_HEX = 256 * 1024


@dataclass(frozen=True, slots=True)
class PdfSignature:
    """What the raw bytes say about digital signatures."""

    signed: bool
    government_ca: bool


def pdf_signature(data: bytes) -> PdfSignature:
    """Look for a signature dictionary and a Government CA name in its certificates."""
    if b"/ByteRange" not in data or not _SIG_RE.search(data):
        return PdfSignature(signed=False, government_ca=False)
    for count, match in enumerate(_CONTENTS_RE.finditer(data)):
        if count >= _MAX_SIGNATURES:
            break
        hex_digits = re.sub(rb"\s+", b"", match.group(1)[:_MAX_CONTENTS_HEX])
        try:
            blob = bytes.fromhex(hex_digits[: len(hex_digits) // 2 * 2].decode("ascii"))
        except ValueError:
            continue
        if any(name in blob for name in _GOV_CA_NAMES):
            return PdfSignature(signed=True, government_ca=True)
    return PdfSignature(signed=True, government_ca=False)


def pdf_text(data: bytes, budget: ScanBudget, source: str = "PDF",
             enough: int | None = None) -> str:
    """Text of the PDF's pages within ``max_pdf_pages``: the first ones and the last one.

    The last page is kept because that is where ``Nơi nhận:`` and the signer stand. Once
    ``enough`` characters are read, middle pages are skipped (only a document's head and tail
    are scored), which keeps long reports cheap.

    :raises Unscannable: encrypted, unreadable, or without a text layer (a scan).
    """
    import pypdfium2  # lazy: only messages with a PDF pay for the import

    max_pages = budget.limits.max_pdf_pages
    texts: list[str] = []
    with _PDFIUM_LOCK:
        try:
            document = pypdfium2.PdfDocument(data)
        except pypdfium2.PdfiumError as exc:
            if "password" in str(exc).lower():
                raise Unscannable("PDF is encrypted (password required)") from exc
            raise Unscannable("PDF could not be read (damaged or not a PDF)") from exc
        try:
            count = len(document)
            pages = list(range(count))
            if count > max_pages:
                pages = [*range(max_pages - 1), count - 1] if max_pages > 1 else [0]
                budget.note(f"{source}: PDF has {count} pages; {max_pages} were read "
                            "(limits.max_pdf_pages)")
            read = 0
            for index in pages:
                if budget.expired():
                    break
                if enough is not None and read >= enough and index != count - 1:
                    continue
                page = document[index]
                try:
                    textpage = page.get_textpage()
                    try:
                        texts.append(textpage.get_text_bounded())
                        read += len(texts[-1])
                    finally:
                        textpage.close()
                finally:
                    page.close()
        except pypdfium2.PdfiumError as exc:
            raise Unscannable("PDF page could not be read") from exc
        finally:
            document.close()
    text = "\n".join(texts).replace("\r\n", "\n").replace("\r", "\n")
    if count and not text.strip():
        raise Unscannable("PDF has no text layer (a scanned image?)")
    return text
