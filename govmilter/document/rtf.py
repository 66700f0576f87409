"""Text of RTF documents, read by a linear-time tokenizer.

RTF is 7-bit text: control words (``\\par``, ``\\u7853?``), hex escapes (``\\'e0``) in the
current font's code page, and groups in braces. Every token is matched once from where the last
one ended (``\\binN`` data is stepped over), so the cost is linear in the file; groups live on an
explicit stack (no recursion). Vietnamese arrives as ``\\uN`` (Word) or as hex bytes in Windows
code page 1258 (``\\ansicpg1258``, ``\\fcharset163``); bytes of a legacy font (TCVN3 ``.VnTime``
under ``\\fcharset0``) come out as their code page 1252 letters, which the detector's legacy
repair then reads.

Destinations that hold no document text (font and colour tables, style sheet, pictures, embedded
objects, field instructions, ``\\*`` extensions) are skipped; headers and footers, where secrecy
markings sit, are kept.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field

from govmilter.document.budget import ScanBudget, Unscannable

_TOKEN_RE = re.compile(
    rb"\\([a-zA-Z]{1,32})(-?\d{1,10})? ?"  # control word with optional parameter
    rb"|\\'([0-9a-fA-F]{2})"  # hex byte
    rb"|\\(.)"  # control symbol
    rb"|([{}])"
    rb"|([^\\{}\r\n]+)"  # a run of plain text
    rb"|[\r\n]+"  # line ends in the file are not text
    rb"|\\",  # a lone backslash at the end
    re.DOTALL)
#: Destinations whose content is not document text.
_SKIPPED = frozenset({
    "fonttbl", "colortbl", "stylesheet", "info", "pict", "object", "objdata", "fldinst",
    "themedata", "colorschememapping", "datastore", "latentstyles", "listtable",
    "listoverridetable", "rsidtbl", "generator", "xmlnstbl", "mmathPr", "filetbl", "revtbl",
    "nonshppict", "shpinst", "bkmkstart", "bkmkend", "xe", "tc", "pn", "listtext",
})
_BREAKS = {"par": "\n", "line": "\n", "sect": "\n", "page": "\n", "row": "\n", "cell": "\n",
           "tab": "\t", "emdash": "—", "endash": "–", "bullet": "•", "lquote": "‘",
           "rquote": "’", "ldblquote": "“", "rdblquote": "”", "enspace": " ", "emspace": " "}
_SYMBOLS = {b"\\": "\\", b"{": "{", b"}": "}", b"~": "\u00a0", b"_": "-", b"-": "",
            b"\n": "\n", b"\r": "\n", b"\t": "\t"}
#: \fcharsetN -> Python codec (Windows code pages; 163 is Vietnamese)
_CHARSETS = {0: "cp1252", 128: "cp932", 129: "cp949", 134: "gbk", 136: "cp950", 161: "cp1253",
             162: "cp1254", 163: "cp1258", 177: "cp1255", 178: "cp1256", 186: "cp1257",
             204: "cp1251", 222: "cp874", 238: "cp1250", 255: "cp437"}
_MAX_DEPTH = 1000  # deeper braces open no group: their text belongs to the deepest one
_CHECK_EVERY = 4096  # tokens between looks at the clock


@dataclass(slots=True)
class _Group:
    """The state a ``{`` saves and its ``}`` restores."""

    skip: bool = False
    uc: int = 1  # characters that stand in for each \\uN (skipped after it)
    codec: str = "cp1252"
    fonttbl: bool = False


@dataclass
class _Reader:
    """Mutable state of one RTF read."""

    default_codec: str = "cp1252"
    fonts: dict[int, str] = field(default_factory=dict)
    out: list[str] = field(default_factory=list)
    pending: bytearray = field(default_factory=bytearray)  # hex bytes not yet decoded
    to_skip: int = 0  # fallback characters left to skip after \\uN
    font: int | None = None  # the font being defined in the font table

    def flush(self, codec: str) -> None:
        if self.pending:
            self.out.append(bytes(self.pending).decode(codec, errors="replace"))
            self.pending.clear()


def is_rtf(data: bytes) -> bool:
    """True for data that starts as RTF does."""
    return data.lstrip()[:5] == b"{\\rtf"


def rtf_text(data: bytes, budget: ScanBudget) -> str:
    """The document text of an RTF file, one line per paragraph.

    :raises Unscannable: the file is not RTF.
    """
    if not is_rtf(data):
        raise Unscannable("RTF document could not be read (no {\\rtf header)")
    reader = _Reader()
    stack: list[_Group] = []
    group = _Group()
    pos = 0
    tokens = 0
    end = len(data)
    while pos < end:
        match = _TOKEN_RE.match(data, pos)
        if match is None:  # unreachable: every byte starts some token
            break
        pos = match.end()
        tokens += 1
        if tokens % _CHECK_EVERY == 0 and budget.expired():
            break
        word, param, hexbyte, symbol, brace, text = match.groups()
        if brace == b"{":
            reader.flush(group.codec)
            reader.to_skip = 0
            if len(stack) < _MAX_DEPTH:
                stack.append(group)
                group = _Group(group.skip, group.uc, group.codec, group.fonttbl)
        elif brace == b"}":
            reader.flush(group.codec)
            reader.to_skip = 0
            if stack:
                group = stack.pop()
        elif text is not None:
            reader.flush(group.codec)
            if reader.to_skip:
                skipped = min(reader.to_skip, len(text))
                reader.to_skip -= skipped
                text = text[skipped:]
            if text and group.fonttbl:
                reader.font = None  # the font's name ends its definition
            elif text and not group.skip:
                reader.pending += text
                reader.flush(group.codec)
        elif hexbyte is not None:
            if reader.to_skip:
                reader.to_skip -= 1
            elif not group.skip:
                reader.pending.append(int(hexbyte, 16))
        elif symbol is not None:
            reader.flush(group.codec)
            if symbol == b"*":
                group.skip = True  # an extension destination this reader does not know
            elif reader.to_skip:
                reader.to_skip -= 1
            elif not group.skip:
                reader.out.append(_SYMBOLS.get(symbol, ""))
        elif word is not None:
            reader.flush(group.codec)
            pos = _control_word(word.decode("ascii"), param, data, pos, group, reader)
    reader.flush(group.codec)
    # \uN gives UTF-16 units: pair the surrogates, replace any left alone
    return "".join(reader.out).encode("utf-16-le", "surrogatepass").decode("utf-16-le",
                                                                          "replace")


def _control_word(word: str, param: bytes | None, data: bytes, pos: int, group: _Group,
                  reader: _Reader) -> int:
    """Apply one control word; returns where reading goes on (past ``\\bin`` data)."""
    number = int(param) if param is not None else None
    if word == "bin":
        return pos + max(number or 0, 0)  # raw bytes, whatever they hold
    if reader.to_skip and word != "u":
        reader.to_skip -= 1
        return pos
    if word in _SKIPPED:
        group.skip = True
        group.fonttbl = word == "fonttbl"
    elif word == "u" and number is not None:
        if not group.skip:
            reader.out.append(chr(number % 0x10000 if number < 0 else min(number, 0x10FFFF)))
        reader.to_skip = group.uc
    elif word == "uc" and number is not None:
        group.uc = max(0, min(number, 10))
    elif word == "ansicpg" and number is not None:
        reader.default_codec = _codec(f"cp{number}", reader.default_codec)
        group.codec = reader.default_codec
    elif word == "f" and number is not None:
        if group.fonttbl:
            reader.font = number
        else:
            group.codec = reader.fonts.get(number, reader.default_codec)
    elif word == "fcharset" and number is not None and reader.font is not None:
        charset = _CHARSETS.get(number)
        reader.fonts[reader.font] = charset if charset and number else reader.default_codec
    elif word in _BREAKS and not group.skip:
        reader.out.append(_BREAKS[word])
    return pos


def _codec(name: str, fallback: str) -> str:
    """``name`` when Python knows that codec, else ``fallback``."""
    try:
        codecs.lookup(name)
    except LookupError:
        return fallback
    return name
