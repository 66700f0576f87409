"""Text of Word 97-2003 ``.doc`` files through their structure ([MS-DOC]), in OLE compound files
opened by olefile.

The ``WordDocument`` stream starts with the FIB, which says whether the file is encrypted, which
table stream holds the piece table (``0Table`` or ``1Table``) and where (``fcClx``). The piece
table maps the document's characters, in order, to pieces of the ``WordDocument`` stream: 8-bit
(code page 1252) or UTF-16LE. Every piece is read, so headers, footers, footnotes and text boxes
(which follow the main text) are read too. Field codes (between the field begin and separator
marks) are dropped, their results kept.

The bounds: a stream larger than the file itself (only a sector chain looping back can make one)
is refused, the piece table's character positions must increase, and the text is cut at the
per-attachment limit. Other OLE files are named in the reason they were not read for: an Office
document encrypted with a password (``EncryptedPackage``), an Excel or PowerPoint 97-2003 file.
"""

from __future__ import annotations

import io
import re
import struct

import olefile

from govmilter.document.budget import ScanBudget, Unscannable

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_WORD_IDENT = 0xA5EC
_FLAG_ENCRYPTED = 0x0100
_FLAG_TABLE_1 = 0x0200
_FC_CLX_INDEX = 33  # fcClx/lcbClx is the 34th pair of FibRgFcLcb97
_COMPRESSED = 0x40000000
#: What other OLE files are, by a stream they hold (checked in this order).
_OTHER_KINDS = (("EncryptedPackage", "Office document is password-protected (encrypted)"),
                ("Workbook", "Excel 97-2003 workbook: its text is not read"),
                ("Book", "Excel 5 workbook: its text is not read"),
                ("PowerPoint Document", "PowerPoint 97-2003 presentation: its text is not read"))
#: Word's special characters: paragraph and cell marks, breaks, hyphens, and anchors of
#: pictures, objects, footnote and comment references (which hold no text).
_SPECIALS = str.maketrans({"\r": "\n", "\x0b": "\n", "\x0c": "\n", "\x0e": "\n", "\x07": "\n",
                           "\x1e": "-", "\x1f": None, "\x01": None, "\x02": None,
                           "\x03": None, "\x04": None, "\x05": None, "\x08": None,
                           "\x00": None})
_FIELD_MARK_RE = re.compile("([\x13\x14\x15])")


def is_ole(data: bytes) -> bool:
    """True for an OLE compound file (Word, Excel, PowerPoint 97-2003, encrypted Office...)."""
    return data[:8] == OLE2_MAGIC


def ole_text(data: bytes, budget: ScanBudget, source: str) -> str:
    """The text of a Word 97-2003 document.

    :raises Unscannable: not an OLE file, encrypted, another kind of OLE file, or damaged.
    """
    if not is_ole(data):
        raise Unscannable("Word/Excel/PowerPoint 97-2003 file could not be read (not an OLE "
                          "file)")
    try:
        ole = olefile.OleFileIO(io.BytesIO(data), raise_defects=olefile.DEFECT_INCORRECT)
    except (OSError, ValueError, IndexError, struct.error, TypeError) as exc:
        raise Unscannable("Word/Excel/PowerPoint 97-2003 file could not be opened "
                          f"({type(exc).__name__})") from exc
    with ole:
        if not ole.exists("WordDocument"):
            for stream, reason in _OTHER_KINDS:
                if ole.exists(stream):
                    raise Unscannable(reason)
            raise Unscannable("OLE file of no known Office kind: not read")
        try:
            word = _stream(ole, "WordDocument", len(data))
            fib = _Fib.read(word)
            table = _stream(ole, "1Table" if fib.table_1 else "0Table", len(data))
        except (OSError, ValueError, IndexError, struct.error, TypeError) as exc:
            raise Unscannable("Word 97-2003 document could not be read "
                              f"({type(exc).__name__})") from exc
    return _pieces_text(word, table[fib.fc_clx:fib.fc_clx + fib.lcb_clx], budget, source)


def _stream(ole: olefile.OleFileIO, name: str, file_size: int) -> bytes:
    """One stream, refused when it claims more bytes than the file has."""
    if not ole.exists(name):
        raise Unscannable(f"Word 97-2003 document has no {name} stream")
    if ole.get_size(name) > file_size:
        raise Unscannable("Word 97-2003 document is damaged (a stream larger than the file)")
    data: bytes = ole.openstream(name).read()
    return data


class _Fib:
    """What the FIB says that reading needs."""

    __slots__ = ("fc_clx", "lcb_clx", "table_1")

    def __init__(self, table_1: bool, fc_clx: int, lcb_clx: int) -> None:
        self.table_1 = table_1
        self.fc_clx = fc_clx
        self.lcb_clx = lcb_clx

    @classmethod
    def read(cls, word: bytes) -> _Fib:
        ident, _ = struct.unpack_from("<HH", word, 0)
        if ident != _WORD_IDENT:
            raise Unscannable("Word 97-2003 document could not be read (no FIB)")
        (flags,) = struct.unpack_from("<H", word, 0x0A)
        if flags & _FLAG_ENCRYPTED:
            raise Unscannable("Word 97-2003 document is password-protected (encrypted)")
        pos = 0x20
        (csw,) = struct.unpack_from("<H", word, pos)
        pos += 2 + csw * 2
        (cslw,) = struct.unpack_from("<H", word, pos)
        pos += 2 + cslw * 4
        (pairs,) = struct.unpack_from("<H", word, pos)
        if pairs <= _FC_CLX_INDEX:
            raise Unscannable("Word 97-2003 document could not be read (FIB too short: Word 6 "
                              "or older)")
        fc_clx, lcb_clx = struct.unpack_from("<II", word, pos + 2 + _FC_CLX_INDEX * 8)
        return cls(bool(flags & _FLAG_TABLE_1), fc_clx, lcb_clx)


def _pieces_text(word: bytes, clx: bytes, budget: ScanBudget, source: str) -> str:
    """The document text the piece table in ``clx`` points to."""
    pos = 0
    while pos < len(clx) and clx[pos] == 1:  # Prc: formatting, skipped
        (size,) = struct.unpack_from("<h", clx, pos + 1)
        pos += 3 + max(size, 0)
    if pos >= len(clx) or clx[pos] != 2:
        raise Unscannable("Word 97-2003 document could not be read (no piece table)")
    (lcb,) = struct.unpack_from("<I", clx, pos + 1)
    plc = clx[pos + 5:pos + 5 + lcb]
    count = (len(plc) - 4) // 12
    if count <= 0:
        return ""
    cps = struct.unpack_from(f"<{count + 1}I", plc, 0)
    cap = budget.limits.max_attachment_bytes
    parts: list[str] = []
    total = 0
    for index in range(count):
        start, end = cps[index], cps[index + 1]
        if end < start:
            raise Unscannable("Word 97-2003 document is damaged (piece table out of order)")
        length = min(end - start, cap - total)
        (fc,) = struct.unpack_from("<I", plc, 4 * (count + 1) + 8 * index + 2)
        if fc & _COMPRESSED:
            offset = (fc & ~_COMPRESSED) // 2
            parts.append(word[offset:offset + length].decode("cp1252", errors="replace"))
        else:
            parts.append(word[fc:fc + 2 * length].decode("utf-16-le", errors="replace"))
        total += length
        if total >= cap:
            budget.note(f"{source}: Word 97-2003 document text longer than {cap} characters "
                        "was cut")
            break
    return _without_field_codes("".join(parts)).translate(_SPECIALS)


def _without_field_codes(text: str) -> str:
    """Text with each field's code (begin mark to separator) dropped and its result kept;
    fields nest, and a mark out of place is ignored."""
    kept: list[str] = []
    open_fields: list[bool] = []  # per open field: still in its code part
    in_code = 0  # open fields still in their code part (so the test is O(1))
    for piece in _FIELD_MARK_RE.split(text):
        if piece == "\x13":
            open_fields.append(True)
            in_code += 1
        elif piece == "\x14":
            if open_fields and open_fields[-1]:
                open_fields[-1] = False
                in_code -= 1
        elif piece == "\x15":
            if open_fields and open_fields.pop():
                in_code -= 1
        elif not in_code:
            kept.append(piece)
    return "".join(kept)
