"""Secrecy and urgency markings (``MẬT``, ``TỐI MẬT - HỎA TỐC``) wherever a document puts them.

A marking stands on a line of its own in the model layout, but real text puts it elsewhere too:
a cell of a two-column heading read as one line (``Số: 12/UBND-VP      MẬT``), beside the urgency
(``MẬT - KHẨN``), in a subject tag (``[MẬT]``, ``(TỐI MẬT)``), after a label (``Độ mật: Mật``),
in a quoted reply (``> MẬT``). The rule, for each occurrence of the word:

- on its own (line or cell edge, quote marks, brackets and urgency words around it): any case
  (Word's "all caps" and CSS ``text-transform`` store ``Mật`` for what the reader sees as MẬT);
- in brackets ``[...]``/``(...)`` or after the label ``Độ mật:``: any case;
- among other words: only written in capitals, and only when neither neighbour word is in
  capitals too (``BÍ MẬT NHÀ NƯỚC``, ``MẬT KHẨU`` are phrases) or forms a word with it
  (``mật khẩu`` password, ``mật ong`` honey, ``bí mật`` a secret, ``mật mã`` a cipher).

Matching is accent-aware on NFC text: *mất* (lost) and *mặt* (face) are other words. Each
occurrence looks at most :data:`_WINDOW` characters either side, so the scan is linear.
"""

from __future__ import annotations

import re
from enum import Enum

#: Secrecy levels, least secret first.
SECRECY_LEVELS = ("MẬT", "TỐI MẬT", "TUYỆT MẬT")
#: Urgency levels, least urgent first (the old tone placement HOẢ is read as HỎA).
URGENCY_LEVELS = ("KHẨN", "THƯỢNG KHẨN", "HỎA TỐC", "HỎA TỐC HẸN GIỜ")

_WINDOW = 48  # characters looked at either side of an occurrence
# The commonest phrases are passed over by the search itself (look-arounds after the literal,
# so that the engine still skips ahead to it): "mật khẩu", "bí mật", "bảo mật", "khẩn cấp"...
# Whatever they miss, _is_marking() still judges.
_SECRECY_FIND_RE = re.compile(
    "(?i)mật(?<!bí mật)(?<!bảo mật)(?<!cơ mật)(?<!thân mật)(?! khẩu)(?! ong)(?! mã)(?! độ)"
    "(?! thiết)")
_URGENCY_FIND_RE = re.compile("(?i)(?:khẩn(?! cấp)(?! trương)|tốc(?! độ))")
_SECRECY_PREFIX_RE = re.compile(r"(?i)(tuyệt|tối)[ \t]+$")
_URGENCY_PREFIX_RE = re.compile(r"(?i)(thượng|hỏa|hoả)[ \t]+$")
_APPOINTED_RE = re.compile(r"(?i)[ \t]+hẹn[ \t]+giờ")
_LABEL_RE = re.compile(r"(?i)(mức[ \t]+)?(độ|mức)[ \t]+(mật|khẩn)[ \t]*:[ \t]*$")
#: Characters around a marking that do not make it part of a phrase: quote marks, brackets,
#: reply quoting, bullets and punctuation.
_DECORATION = "\"'“”‘’()[]{}<>«»|*•·.,;:!?_=~#"
_SEPARATORS = "-–—/+&"
#: Words that make a phrase with MẬT (and are not markings): "mật khẩu" (password), "mật ong"
#: (honey), "bí mật" (a secret), "cơ mật", "thân mật", "mật mã", "mật độ", "mật thiết"...
_SECRECY_PARTNERS = frozenset({
    "khẩu", "ong", "mã", "độ", "thiết", "vụ", "thám", "ước", "ngữ", "hiệu", "lệnh", "đàm",
    "danh", "báo", "phục", "thư", "gấu", "mía", "rỉ", "đường", "bí", "bảo", "cơ", "thân", "giữ",
    "túi", "đắng",
})
#: ...and with KHẨN/TỐC: "khẩn cấp" (emergency), "khẩn trương" (quickly), "tốc độ" (speed).
_URGENCY_PARTNERS = frozenset({
    "cấp", "trương", "thiết", "hoang", "cầu", "khoản", "độ", "hành", "ký", "chiến", "tăng",
    "gia", "cao", "tối", "thần",
})
_MARKING_WORDS = frozenset({"mật", "khẩn", "tốc", "giờ", "hẹn", "tối", "tuyệt", "thượng",
                            "hỏa", "hoả"})


class _Side(Enum):
    """What stands beside an occurrence on one side."""

    EDGE = 1  #: nothing but decoration up to the line or cell edge, or another marking
    WORD = 2  #: an ordinary word (not in capitals), or a number or symbol
    BLOCK = 3  #: a word in capitals, or one that makes a phrase with the occurrence


def _side(tokens: list[str], gap: str, partners: frozenset[str]) -> _Side:
    """Classify the nearest token beside an occurrence (``tokens`` nearest first)."""
    if not tokens or len(gap) >= 2 or "\t" in gap:
        return _Side.EDGE  # line edge, or a cell of a two-column line
    for token in tokens:
        core = token.strip(_DECORATION + _SEPARATORS)
        if not core:
            continue  # "[", ">", "-": look past it
        folded = core.casefold()
        if folded in _MARKING_WORDS:
            return _Side.EDGE  # "MẬT - HỎA TỐC", "KHẨN, MẬT"
        if folded in partners:
            return _Side.BLOCK
        if core.isalpha() and core.isupper() and len(core) > 1:
            return _Side.BLOCK
        return _Side.WORD
    return _Side.EDGE


def _is_marking(text: str, start: int, end: int, partners: frozenset[str]) -> bool:
    """Whether ``text[start:end]`` (a marking's words) stands as a marking; see the module doc."""
    if (start and text[start - 1].isalpha()) or (end < len(text) and text[end].isalpha()):
        return False  # part of a longer word
    line_start = text.rfind("\n", max(0, start - _WINDOW), start) + 1
    line_end = text.find("\n", end, end + _WINDOW)
    left = text[max(line_start, start - _WINDOW):start]
    right = text[end:line_end if line_end >= 0 else end + _WINDOW]
    label = _LABEL_RE.search(left)
    if label:
        # "Độ mật: Mật", "Độ khẩn: Khẩn" is a label at the start of a line or cell, or after
        # other header text ("Số: 12/UBND Độ mật: Mật"); after an ordinary word or a count it
        # is a sentence naming the grades ("phân loại thành 3 độ mật: Tuyệt mật, Tối mật").
        head = left[:label.start()]
        if head.rstrip(" ").endswith("\t") or head.endswith("  "):
            return True
        previous = "".join(head.split()[-1:]).strip(_DECORATION + _SEPARATORS)
        return not (previous.isdigit() or (previous.isalpha() and not previous.isupper()))
    opened = left.rstrip(" \t").endswith(("[", "("))
    if opened and right.lstrip(" \t").startswith(("]", ")")):
        return True  # "[MẬT]", "(Tối mật)"
    before = _side(left.split()[::-1], left[len(left.rstrip(" \t")):], partners)
    after = _side(right.split(), right[:len(right) - len(right.lstrip(" \t"))], partners)
    if _Side.BLOCK in (before, after):
        return False
    if text[start:end].isupper():
        return True
    if before is not _Side.EDGE or after is not _Side.EDGE:
        return False
    # Alone on its line but not in capitals: a line may just have been wrapped ("Mật" / "ong",
    # "bí" / "mật"), so the words across the line breaks must not make a phrase with it.
    around = (text[max(0, start - _WINDOW):start].split()[-1:]
              + text[end:end + _WINDOW].split()[:1])
    return not any(word.strip(_DECORATION + _SEPARATORS).casefold() in partners
                   for word in around)


def _level(words: str) -> str:
    """A marking's words in the canonical spelling of :data:`SECRECY_LEVELS`/URGENCY_LEVELS."""
    return " ".join(words.upper().replace("HOẢ", "HỎA").split())


def find_secrecy_marking(text: str) -> str | None:
    """The most severe secrecy marking in an NFC text, or None."""
    if "MẬT" not in text and "Mật" not in text and "mật" not in text:
        return None  # one C-level scan each: most mail is spared the search
    found = 0
    for match in _SECRECY_FIND_RE.finditer(text):
        start, end = match.start(), match.end()
        prefix = _SECRECY_PREFIX_RE.search(text, max(0, start - 8), start)
        if prefix:
            start = prefix.start()
        rank = SECRECY_LEVELS.index(_level(text[start:end])) + 1
        if rank > found and _is_marking(text, start, end, _SECRECY_PARTNERS):
            found = rank  # only a higher level is looked at: repeats cost nothing
            if found == len(SECRECY_LEVELS):
                break
    return SECRECY_LEVELS[found - 1] if found else None


def find_urgency_marking(text: str) -> str | None:
    """The most urgent urgency marking in an NFC text, or None."""
    if "KHẨN" not in text and "TỐC" not in text and "Khẩn" not in text and "Tốc" not in text:
        return None
    found = 0
    for match in _URGENCY_FIND_RE.finditer(text):
        start, end = match.start(), match.end()
        prefix = _URGENCY_PREFIX_RE.search(text, max(0, start - 8), start)
        if prefix:
            start = prefix.start()
        words = text[start:end]
        if match.group().casefold() == "tốc":
            if not prefix:
                continue  # "tốc" alone is not a marking (only "hỏa tốc")
            appointed = _APPOINTED_RE.match(text, end)
            if appointed:
                end, words = appointed.end(), text[start:appointed.end()]
        elif prefix and prefix.group(1).casefold() != "thượng":
            start, words = match.start(), match.group()  # "hỏa khẩn" is not a level
        level = _level(words)
        rank = URGENCY_LEVELS.index(level) + 1 if level in URGENCY_LEVELS else 0
        if rank > found and _is_marking(text, start, end, _URGENCY_PARTNERS):
            found = rank  # only a higher level is looked at: repeats cost nothing
    return URGENCY_LEVELS[found - 1] if found else None
