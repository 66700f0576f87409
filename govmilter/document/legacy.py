"""Repairing Vietnamese text written in a legacy encoding, or seen through the wrong charset.

Before Unicode, Vietnamese documents were typed in font encodings (TCVN3/ABC, VNI) whose bytes
look like Latin-1 text with odd letters (``chµo`` for *chào*, ``chaøo`` for *chào*). Mail clients
also mislabel charsets: UTF-8 read as Windows-1252 (``Cá»˜NG HÃ’A``) or CP1258 (tones as separate
combining bytes) read as Latin-1. Each repair below turns such text back into Unicode; the one
that yields the most Vietnamese letters and the fewest stray symbols wins. Text that already
reads as Vietnamese, or is plain ASCII (typed without diacritics), is left alone.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from govmilter.mail.vntext import is_common_vietnamese

# --- TCVN3 (ABC) ---------------------------------------------------------------------------------
# One byte per precomposed lowercase letter; the upper-case "H" fonts reuse the lowercase codes
# (so a heading reads "CéNG HßA" once decoded as Latin-1). Only Ă Â Ê Ô Ơ Ư Đ have own capitals.
_TCVN3_LOWER = "¸µ¶·¹¨¾»¼½Æ©ÊÇÈÉËÐÌÎÏÑªÕÒÓÔÖÝ×ØÜÞãßáâä«èåæçé¬íêëìîóïñòô\xadøõö÷ùýúûüþ®"
_UNICODE_LOWER = "áàảãạăắằẳẵặâấầẩẫậéèẻẽẹêếềểễệíìỉĩịóòỏõọôốồổỗộơớờởỡợúùủũụưứừửữựýỳỷỹỵđ"
_TCVN3_UPPER = {"¡": "Ă", "¢": "Â", "£": "Ê", "¤": "Ô", "¥": "Ơ", "¦": "Ư", "§": "Đ"}
_TCVN3_TABLE = str.maketrans({**dict(zip(_TCVN3_LOWER, _UNICODE_LOWER, strict=True)),
                              **_TCVN3_UPPER})

# --- VNI (VNI-Windows) ---------------------------------------------------------------------------
# A base letter followed by one or two mark bytes: "aø" = à, "aâ" = â, "aá" = ấ, "ô" = ơ, "ö" = ư.
_COMBINING_TONES = ("\u0301", "\u0300", "\u0309", "\u0303", "\u0323")  # sắc huyền hỏi ngã nặng


def _vni_pairs() -> dict[str, str]:
    lower: dict[str, str] = {}
    plain_marks = "ùøûõï"
    circumflex_marks = "áàåãä"
    breve_marks = "éèúüë"
    for base in "aeouy":
        for mark, tone in zip(plain_marks, _COMBINING_TONES, strict=True):
            lower[base + mark] = base + tone
    for base in "aeo":
        lower[base + "â"] = base + "\u0302"
        for mark, tone in zip(circumflex_marks, _COMBINING_TONES, strict=True):
            lower[base + mark] = base + "\u0302" + tone
    lower["aê"] = "a\u0306"
    for mark, tone in zip(breve_marks, _COMBINING_TONES, strict=True):
        lower["a" + mark] = "a\u0306" + tone
    for vni, base in (("ô", "o\u031b"), ("ö", "u\u031b")):  # horn letters ơ, ư
        lower[vni] = base
        for mark, tone in zip(plain_marks, _COMBINING_TONES, strict=True):
            lower[vni + mark] = base + tone
    for mark, tone in zip("íìæóò", _COMBINING_TONES, strict=True):
        lower[mark] = "i" + tone
    lower["î"] = "y\u0323"
    lower["ñ"] = "đ"
    pairs = {}
    for vni, uni in lower.items():
        pairs[vni] = unicodedata.normalize("NFC", uni)
        pairs[vni.upper()] = unicodedata.normalize("NFC", uni.upper())
    return pairs


_VNI_PAIRS = _vni_pairs()
# Longest sequences first so that "ôù" (ớ) wins over "ô" (ơ).
_VNI_RE = re.compile("|".join(re.escape(k) for k in sorted(_VNI_PAIRS, key=len, reverse=True)))

# --- scoring -------------------------------------------------------------------------------------
#: Letters only Vietnamese uses (outside Latin-1): ă â đ ơ ư ĩ ũ and the whole U+1EA0 block.
_VIETNAMESE_RE = re.compile("[ĂăĐđĨĩŨũƠơƯưẠ-ỹ]")
_VIETNAMESE_LETTERS = _UNICODE_LOWER + _UNICODE_LOWER.upper() + "\u0300\u0301\u0303\u0309\u0323"
#: Anything but ASCII, Vietnamese letters and common typography: the traces of a wrong decoding.
_STRAY_RE = re.compile("[^\x00-\x7f" + _VIETNAMESE_LETTERS + "\xa0“”‘’–—…•·°«»]")
_SAMPLE = 65536  # characters looked at to choose a repair: enough, and bounded


@dataclass(frozen=True, slots=True)
class Repair:
    """A legacy-encoded text turned back into Unicode, and the encoding it came from."""

    encoding: str
    text: str


def _to_bytes(text: str) -> bytes:
    """The bytes a single-byte decoder read: Latin-1 where it fits, else Windows-1252."""
    out = bytearray()
    for ch in text:
        code = ord(ch)
        if code < 256:
            out.append(code)
        else:
            try:
                out += ch.encode("cp1252")
            except UnicodeEncodeError:
                out += b"?"
    return bytes(out)


def _uppercase_heading_lines(text: str) -> str:
    # TCVN3 capitals come from a separate font with the lowercase codes: a line whose ASCII
    # letters are all capitals was a capital line ("MËT" → "MẬT", not "MậT").
    lines = []
    for line in text.split("\n"):
        ascii_letters = [c for c in line if c.isascii() and c.isalpha()]
        if ascii_letters and all(c.isupper() for c in ascii_letters):
            line = line.upper()
        lines.append(line)
    return "\n".join(lines)


def decode_tcvn3(text: str) -> str:
    """Read text typed in TCVN3 (ABC) fonts and decoded as Latin-1/Windows-1252."""
    return _uppercase_heading_lines(text.translate(_TCVN3_TABLE))


def decode_vni(text: str) -> str:
    """Read text typed in VNI fonts and decoded as Latin-1/Windows-1252."""
    return _VNI_RE.sub(lambda m: _VNI_PAIRS[m.group(0)], text)


def decode_mojibake(text: str) -> str:
    """Undo UTF-8 bytes that were decoded as Windows-1252 or Latin-1 (``Cá»˜NG`` → ``CỘNG``)."""
    return _to_bytes(text).decode("utf-8", errors="replace")


def decode_cp1258(text: str) -> str:
    """Undo Windows-1258 bytes (tones as combining bytes) that were decoded as Latin-1."""
    return unicodedata.normalize("NFC", _to_bytes(text).decode("cp1258", errors="replace"))


_DECODERS: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("UTF-8 mojibake", decode_mojibake),
    ("CP1258", decode_cp1258),
    ("VNI", decode_vni),
    ("TCVN3", decode_tcvn3),
)


_WORD_RE = re.compile(r"[^\W\d_]+")


def _quality(text: str) -> int:
    # A Vietnamese syllable carries at most one tone mark: a wrong decoder makes words like
    # "CỄŨNG" (two tones) or leaves stray symbols; the right one makes many well-formed words.
    score = -2 * len(_STRAY_RE.findall(text))
    for word in _WORD_RE.findall(text):
        if not _VIETNAMESE_RE.search(word) and word.isascii():
            continue
        tones = sum(1 for c in unicodedata.normalize("NFD", word) if c in _COMBINING_TONES)
        score += 1 if tones <= 1 else -2
    return score


def looks_legacy(text: str) -> bool:
    """True when the text has the stray Latin-1 letters of a legacy encoding, not Vietnamese."""
    if is_common_vietnamese(text):  # none of its characters is stray: one C-level encode
        return False
    sample = text[:_SAMPLE]
    stray = len(_STRAY_RE.findall(sample))
    return stray >= 3 and stray > len(_VIETNAMESE_RE.findall(sample))


def repair(text: str) -> Repair | None:
    """Return the text repaired from the legacy encoding it most likely uses, or None.

    None when the text does not look legacy-encoded, or no decoder makes it read better.
    """
    return best_repair(text) if looks_legacy(text) else None


def best_repair(text: str) -> Repair | None:
    """:func:`repair` of a text already known to look legacy-encoded (:func:`looks_legacy`)."""
    sample = text[:_SAMPLE]
    best: tuple[int, str] | None = None
    baseline = _quality(sample)
    for name, decoder in _DECODERS:
        score = _quality(decoder(sample))
        if score > baseline + 2 and (best is None or score > best[0]):
            best = (score, name)
    if best is None:
        return None
    decoder = dict(_DECODERS)[best[1]]
    return Repair(best[1], decoder(text))


def encode_tcvn3(text: str) -> str:
    """Write Unicode Vietnamese as TCVN3 would show through Latin-1 (for tests and fixtures)."""
    table = {u: t for t, u in zip(_TCVN3_LOWER, _UNICODE_LOWER, strict=True)}
    table.update({u: t for t, u in _TCVN3_UPPER.items()})
    out = []
    for ch in unicodedata.normalize("NFC", text):
        if ch in table:
            out.append(table[ch])
        elif ch.lower() in table and not ch.isascii():
            out.append(table[ch.lower()])  # capitals are the lowercase code in an "H" font
        else:
            out.append(ch)
    return "".join(out)


def encode_cp1258(text: str) -> bytes:
    """Encode Unicode Vietnamese as Windows-1258, tones as combining bytes (for fixtures)."""
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        # Split off the tone only: â, ê, ô, ơ, ư, ă keep their own byte in CP1258.
        decomposed = unicodedata.normalize("NFD", ch)
        tone = "".join(c for c in decomposed if c in _COMBINING_TONES)
        base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in tone))
        out += (base + tone).encode("cp1258", errors="replace")
    return bytes(out)


def encode_vni(text: str) -> str:
    """Write Unicode Vietnamese as VNI would show through Latin-1 (for tests and fixtures)."""
    reverse = {uni: vni for vni, uni in _VNI_PAIRS.items()}
    return "".join(reverse.get(ch, ch) for ch in unicodedata.normalize("NFC", text))
