"""Text of Word, Excel and PowerPoint 97-2003 files through their structure, in OLE compound
files opened by olefile.

- Word ([MS-DOC]): the ``WordDocument`` stream starts with the FIB, which says whether the file
  is encrypted, which table stream holds the piece table (``0Table`` or ``1Table``) and where
  (``fcClx``). The piece table maps the document's characters, in order, to pieces of the
  ``WordDocument`` stream: 8-bit (code page 1252) or UTF-16LE. Every piece is read, so headers,
  footers, footnotes and text boxes (which follow the main text) are read too. Field codes
  (between the field begin and separator marks) are dropped, their results kept.
- Excel ([MS-XLS], BIFF8): the ``Workbook`` stream's records; the shared string table (``SST``
  and the ``CONTINUE`` records that carry it on, where a string's characters may change from
  8-bit to UTF-16 at each record's start) holds the cells' text in order of first use; print
  headers and footers and old ``LABEL`` cells too. ``FILEPASS`` means encrypted.
- PowerPoint ([MS-PPT]): the ``PowerPoint Document`` stream's records, walked into every
  container; text atoms (``TextCharsAtom`` UTF-16, ``TextBytesAtom`` 8-bit) hold the slides'
  text.

The bounds: a stream larger than the file itself (only a sector chain looping back can make one)
is refused; every walk moves forward by at least a record header; the piece table's character
positions must increase; and the text is cut at the per-attachment limit. An Office file
encrypted with a password (``EncryptedPackage``: DOCX, XLSX, PPTX) is named in its reason.
"""

from __future__ import annotations

import io
import re
import struct
from collections.abc import Iterable, Iterator

import olefile

from govmilter.document.budget import ScanBudget, Unscannable
from govmilter.document.office import header_footer_text

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
WORD, EXCEL, POWERPOINT = "Word 97-2003", "Excel 97-2003", "PowerPoint 97-2003"
_WORD_IDENT = 0xA5EC
_FLAG_ENCRYPTED = 0x0100
_FLAG_TABLE_1 = 0x0200
_FC_CLX_INDEX = 33  # fcClx/lcbClx is the 34th pair of FibRgFcLcb97
_COMPRESSED = 0x40000000
#: BIFF8 record types
_BOF, _FILEPASS, _SST, _CONTINUE, _LABEL, _HEADER, _FOOTER = (
    0x0809, 0x002F, 0x00FC, 0x003C, 0x0204, 0x0014, 0x0015)
_BIFF8 = 0x0600
#: PowerPoint record types
_TEXT_CHARS, _TEXT_BYTES = 0x0FA0, 0x0FA8
#: Word's special characters: paragraph and cell marks, breaks, hyphens, and anchors of
#: pictures, objects, footnote and comment references (which hold no text).
_SPECIALS = str.maketrans({"\r": "\n", "\x0b": "\n", "\x0c": "\n", "\x0e": "\n", "\x07": "\n",
                           "\x1e": "-", "\x1f": None, "\x01": None, "\x02": None,
                           "\x03": None, "\x04": None, "\x05": None, "\x08": None,
                           "\x00": None})
_FIELD_MARK_RE = re.compile("([\x13\x14\x15])")
_READ_ERRORS = (OSError, ValueError, IndexError, struct.error, TypeError)


def is_ole(data: bytes) -> bool:
    """True for an OLE compound file (Word, Excel, PowerPoint 97-2003, encrypted Office...)."""
    return data[:8] == OLE2_MAGIC


def ole_text(data: bytes, budget: ScanBudget, source: str) -> tuple[str, str]:
    """What the file is (:data:`WORD`, :data:`EXCEL`, :data:`POWERPOINT`) and its text.

    :raises Unscannable: not an OLE file, encrypted, of no kind read here, or damaged.
    """
    if not is_ole(data):
        raise Unscannable("Word/Excel/PowerPoint 97-2003 file could not be read (not an OLE "
                          "file)")
    try:
        ole = olefile.OleFileIO(io.BytesIO(data), raise_defects=olefile.DEFECT_INCORRECT)
    except _READ_ERRORS as exc:
        raise Unscannable("Word/Excel/PowerPoint 97-2003 file could not be opened "
                          f"({type(exc).__name__})") from exc
    with ole:
        if ole.exists("EncryptedPackage"):
            raise Unscannable("Office document is password-protected (encrypted)")
        for stream, kind, read in _KINDS:
            if ole.exists(stream):
                try:
                    return kind, read(ole, len(data), budget, source)
                except _READ_ERRORS as exc:
                    raise Unscannable(f"{kind} file could not be read ({type(exc).__name__})"
                                      ) from exc
        if ole.exists("Book"):
            raise Unscannable("Excel 5 workbook: its text is not read")
        raise Unscannable("OLE file of no known Office kind: not read")


def _stream(ole: olefile.OleFileIO, name: str, file_size: int, kind: str) -> bytes:
    """One stream, refused when it claims more bytes than the file has."""
    if not ole.exists(name):
        raise Unscannable(f"{kind} file has no {name} stream")
    if ole.get_size(name) > file_size:
        raise Unscannable(f"{kind} file is damaged (a stream larger than the file)")
    data: bytes = ole.openstream(name).read()
    return data


def _joined(texts: Iterable[str], budget: ScanBudget, source: str, kind: str) -> str:
    """``texts`` one after the other, cut at the per-attachment limit (and the cut noted)."""
    cap = budget.limits.max_attachment_bytes
    kept: list[str] = []
    total = 0
    for text in texts:
        kept.append(text[:cap - total])
        total += len(kept[-1])
        if total >= cap:
            budget.note(f"{source}: {kind} text longer than {cap} characters was cut")
            break
    return "".join(kept)


# ---- Word ----------------------------------------------------------------------------------

def _word_text(ole: olefile.OleFileIO, size: int, budget: ScanBudget, source: str) -> str:
    word = _stream(ole, "WordDocument", size, WORD)
    fib = _Fib.read(word)
    table = _stream(ole, "1Table" if fib.table_1 else "0Table", size, WORD)
    return _pieces_text(word, table[fib.fc_clx:fib.fc_clx + fib.lcb_clx], budget, source)


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
            raise Unscannable(f"{WORD} file could not be read (no FIB)")
        (flags,) = struct.unpack_from("<H", word, 0x0A)
        if flags & _FLAG_ENCRYPTED:
            raise Unscannable(f"{WORD} document is password-protected (encrypted)")
        pos = 0x20
        (csw,) = struct.unpack_from("<H", word, pos)
        pos += 2 + csw * 2
        (cslw,) = struct.unpack_from("<H", word, pos)
        pos += 2 + cslw * 4
        (pairs,) = struct.unpack_from("<H", word, pos)
        if pairs <= _FC_CLX_INDEX:
            raise Unscannable(f"{WORD} file could not be read (FIB too short: Word 6 or older)")
        fc_clx, lcb_clx = struct.unpack_from("<II", word, pos + 2 + _FC_CLX_INDEX * 8)
        return cls(bool(flags & _FLAG_TABLE_1), fc_clx, lcb_clx)


def _pieces_text(word: bytes, clx: bytes, budget: ScanBudget, source: str) -> str:
    """The document text the piece table in ``clx`` points to."""
    pos = 0
    while pos < len(clx) and clx[pos] == 1:  # Prc: formatting, skipped
        (size,) = struct.unpack_from("<h", clx, pos + 1)
        pos += 3 + max(size, 0)
    if pos >= len(clx) or clx[pos] != 2:
        raise Unscannable(f"{WORD} file could not be read (no piece table)")
    (lcb,) = struct.unpack_from("<I", clx, pos + 1)
    plc = clx[pos + 5:pos + 5 + lcb]
    count = (len(plc) - 4) // 12
    if count <= 0:
        return ""
    cps = struct.unpack_from(f"<{count + 1}I", plc, 0)

    def pieces() -> Iterator[str]:
        for index in range(count):
            start, end = cps[index], cps[index + 1]
            if end < start:
                raise Unscannable(f"{WORD} file is damaged (piece table out of order)")
            (fc,) = struct.unpack_from("<I", plc, 4 * (count + 1) + 8 * index + 2)
            if fc & _COMPRESSED:
                offset = (fc & ~_COMPRESSED) // 2
                yield word[offset:offset + end - start].decode("cp1252", errors="replace")
            else:
                yield word[fc:fc + 2 * (end - start)].decode("utf-16-le", errors="replace")

    text = _joined(pieces(), budget, source, WORD)
    return _without_field_codes(text).translate(_SPECIALS)


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


# ---- Excel ---------------------------------------------------------------------------------

def _records(stream: bytes) -> Iterator[tuple[int, bytes]]:
    """BIFF records: (type, data), each header moving the walk 4 bytes at least."""
    pos = 0
    while pos + 4 <= len(stream):
        kind, size = struct.unpack_from("<HH", stream, pos)
        yield kind, stream[pos + 4:pos + 4 + size]
        pos += 4 + size


def _workbook_text(ole: olefile.OleFileIO, size: int, budget: ScanBudget, source: str) -> str:
    stream = _stream(ole, "Workbook", size, EXCEL)
    return _joined(_workbook_strings(stream), budget, source, EXCEL)


def _workbook_strings(stream: bytes) -> Iterator[str]:
    """The workbook's strings, each followed by a newline."""
    records = _records(stream)
    pending: tuple[int, bytes] | None = None
    first = True
    while True:
        record = pending or next(records, None)
        pending = None
        if record is None:
            return
        kind, body = record
        if first and (kind != _BOF or struct.unpack_from("<H", body, 0)[0] != _BIFF8):
            raise Unscannable(f"{EXCEL} file could not be read (not BIFF8: Excel 95 or older)")
        first = False
        if kind == _FILEPASS:
            raise Unscannable(f"{EXCEL} workbook is password-protected (encrypted)")
        if kind == _SST:
            segments = [body[8:]]  # past the string counts
            while (record := next(records, None)) is not None and record[0] == _CONTINUE:
                segments.append(record[1])
            pending = record
            for text in _Continued(segments).strings():
                yield text + "\n"
        elif kind in (_HEADER, _FOOTER) and body:
            yield header_footer_text(_Continued([body]).string()) + "\n"
        elif kind == _LABEL:
            yield _Continued([body[6:]]).string() + "\n"


class _Continued:
    """A reader of BIFF8 strings over a record and its CONTINUE records.

    At each CONTINUE's start inside a string's characters, one byte says whether the rest are
    8-bit or UTF-16; elsewhere (counts, formatting runs) a CONTINUE just goes on.
    """

    def __init__(self, segments: list[bytes]) -> None:
        self.segments = segments
        self.index = 0
        self.pos = 0

    def _left(self) -> int:
        return len(self.segments[self.index]) - self.pos

    def _next_segment(self) -> bool:
        if self.index + 1 >= len(self.segments):
            return False
        self.index += 1
        self.pos = 0
        return True

    def _take(self, count: int) -> bytes:
        """``count`` bytes, across segments; IndexError when they run out."""
        out = bytearray()
        while len(out) < count:
            if self._left() <= 0 and not self._next_segment():
                raise IndexError("BIFF string runs past its records")
            piece = self.segments[self.index][self.pos:self.pos + count - len(out)]
            out += piece
            self.pos += len(piece)
        return bytes(out)

    def _chars(self, count: int, wide: bool) -> str:
        parts: list[str] = []
        while count > 0:
            if self._left() <= 0:
                if not self._next_segment():
                    raise IndexError("BIFF string runs past its records")
                wide = bool(self._take(1)[0] & 0x01)
                continue
            width = 2 if wide else 1
            taken = min(count, self._left() // width)
            if taken == 0:  # half a UTF-16 unit at a segment's end: damaged
                raise IndexError("BIFF string splits a character")
            raw = self.segments[self.index][self.pos:self.pos + taken * width]
            self.pos += taken * width
            count -= taken
            parts.append(raw.decode("utf-16-le" if wide else "latin-1", errors="replace"))
        return "".join(parts)

    def string(self) -> str:
        """One XLUnicodeRichExtendedString (XLUnicodeString is the plain case)."""
        (count,) = struct.unpack("<H", self._take(2))
        flags = self._take(1)[0]
        runs = struct.unpack("<H", self._take(2))[0] if flags & 0x08 else 0
        extra = struct.unpack("<I", self._take(4))[0] if flags & 0x04 else 0
        text = self._chars(count, bool(flags & 0x01))
        self._skip(4 * runs + extra)
        return text

    def _skip(self, count: int) -> None:
        while count > 0:
            if self._left() <= 0 and not self._next_segment():
                return
            step = min(count, self._left())
            self.pos += step
            count -= step

    def strings(self) -> Iterator[str]:
        """Every string of a shared string table, until its records end."""
        while self._left() > 0 or self._next_segment():
            try:
                yield self.string()
            except IndexError:
                return  # cut short: what was read stands


# ---- PowerPoint ----------------------------------------------------------------------------

def _slides_text(ole: olefile.OleFileIO, size: int, budget: ScanBudget, source: str) -> str:
    if ole.exists("EncryptedSummary"):
        raise Unscannable(f"{POWERPOINT} presentation is password-protected (encrypted)")
    stream = _stream(ole, "PowerPoint Document", size, POWERPOINT)
    return _joined(_text_atoms(stream), budget, source, POWERPOINT)


def _text_atoms(stream: bytes) -> Iterator[str]:
    """Every text atom's text, a line each, walking into containers (record version 0xF)."""
    pos = 0
    while pos + 8 <= len(stream):
        version, kind, size = struct.unpack_from("<HHI", stream, pos)
        if version & 0x0F == 0x0F:
            pos += 8  # a container: its records follow its header
            continue
        body = stream[pos + 8:pos + 8 + size]
        if kind == _TEXT_CHARS:
            yield body.decode("utf-16-le", errors="replace").replace("\r", "\n") + "\n"
        elif kind == _TEXT_BYTES:
            yield body.decode("latin-1").replace("\r", "\n") + "\n"
        pos += 8 + size


#: The OLE streams that say what a file is, and how it is read (in this order).
_KINDS = (("WordDocument", WORD, _word_text), ("Workbook", EXCEL, _workbook_text),
          ("PowerPoint Document", POWERPOINT, _slides_text))
