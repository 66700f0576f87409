"""edXML packages (QCVN 102:2016/BTTTT), the national document-exchange format.

The envelope's header fields (DocumentId, Code, DocumentType, Subject, SignerInfo) are read with
regular expressions, namespace prefix or not, and never with an XML parser (no entity expansion).
The base64 files in ``AttachmentEncoded`` are returned so that they are scanned like attachments.

Linear in the package size whatever its markup: tags are ``[^<>]*`` (a failed scan ends where the
next one starts) and each attachment's end is looked up once from its start (a lazy ``.*?`` read
the rest of the package again for every unclosed ``<Attachment>``: 8,000 of them took 3.2 s).
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass

from govmilter.document.cues import Cue

NAMESPACE = b"QCVN_102_2016"  # http://www.mic.gov.vn/TBT/QCVN_102_2016
_FIELD_RE = r"<(?:[\w.-]+:)?{name}\b[^<>]*>([^<]{{0,2000}})</(?:[\w.-]+:)?{name}>"
_FIELDS = ("DocumentId", "CodeNumber", "CodeNotation", "TypeName", "Subject", "Competence",
           "Priority", "OrganName")
_FIELD_RES = {name: re.compile(_FIELD_RE.format(name=name)) for name in _FIELDS}
_ATTACHMENT_OPEN_RE = re.compile(r"<(?:[\w.-]+:)?Attachment\b[^<>]*>")
_ATTACHMENT_CLOSE_RE = re.compile(r"</(?:[\w.-]+:)?Attachment>")
_ENCODED_RE = re.compile(_FIELD_RE.replace("{{0,2000}}", "*").format(name="ContentTransferEncoded"))
_NAME_RE = re.compile(_FIELD_RE.format(name="AttachmentName"))
_SPACE_RE = re.compile(r"\s+")
_PRIORITIES = {"1": "KHẨN", "2": "THƯỢNG KHẨN", "3": "HỎA TỐC", "4": "HỎA TỐC HẸN GIỜ"}


@dataclass(frozen=True, slots=True)
class EdxmlFile:
    """One file carried inside the package."""

    name: str | None
    data: bytes


@dataclass(frozen=True, slots=True)
class EdxmlPackage:
    """What an edXML package says about its document, as cues and a header text to score."""

    cues: tuple[Cue, ...]
    header_text: str
    urgency: str | None
    files: tuple[EdxmlFile, ...]


def is_edxml(data: bytes, filename: str | None) -> bool:
    """True for an ``.edxml`` file or XML in the QCVN 102:2016 namespace."""
    if filename and filename.lower().endswith(".edxml"):
        return True
    head = data[:4096]
    return b"<" in head[:64] and (NAMESPACE in head or b"<edXML" in head)


def attachment_blocks(text: str) -> Iterator[str]:
    """The content of each ``<Attachment>`` element, in order; none after one left unclosed."""
    pos = 0
    while (opening := _ATTACHMENT_OPEN_RE.search(text, pos)) is not None:
        closing = _ATTACHMENT_CLOSE_RE.search(text, opening.end())
        if closing is None:
            return
        yield text[opening.end():closing.start()]
        pos = closing.end()


def read_edxml(data: bytes, source: str, max_file_bytes: int) -> EdxmlPackage:
    """Read the header fields and the attached files of an edXML package."""
    text = data.decode("utf-8", errors="replace")
    fields = {}
    for name, pattern in _FIELD_RES.items():
        match = pattern.search(text)
        if match:
            fields[name] = html.unescape(match.group(1)).strip()
    cues: list[Cue] = []
    if NAMESPACE.decode() in text[:8192]:
        cues.append(Cue(4.0, "edXML envelope (QCVN 102:2016)", source, "edxml", identity=True))
    # DocumentId is "OrganId,YYYY/MM/DD,number/notation"; CodeNumber is sometimes junk.
    symbol = fields.get("DocumentId", "").rsplit(",", 1)[-1].strip()
    if "/" not in symbol and fields.get("CodeNumber") and fields.get("CodeNotation"):
        symbol = f"{fields['CodeNumber']}/{fields['CodeNotation']}"
    header_lines = [f"Số: {symbol}" if "/" in symbol else ""]
    header_lines += [fields.get("TypeName", "").upper(), fields.get("Subject", ""),
                     fields.get("Competence", ""), fields.get("OrganName", "")]
    files = []
    for block in attachment_blocks(text):
        encoded = _ENCODED_RE.search(block)
        if not encoded:
            continue
        name_match = _NAME_RE.search(block)
        payload = _SPACE_RE.sub("", encoded.group(1))[: max_file_bytes * 4 // 3 + 4]
        try:
            raw = base64.b64decode(payload[: len(payload) // 4 * 4], validate=False)
        except (binascii.Error, ValueError):
            continue
        files.append(EdxmlFile(html.unescape(name_match.group(1)).strip() if name_match
                               else None, raw[:max_file_bytes]))
    return EdxmlPackage(
        cues=tuple(cues), header_text="\n".join(line for line in header_lines if line),
        urgency=_PRIORITIES.get(fields.get("Priority", "")), files=tuple(files),
    )
