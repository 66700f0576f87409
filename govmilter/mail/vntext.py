"""Vietnamese text normalisation: NFC, diacritic-free skeletons and ASCII folding.

Accent-aware matching needs NFC, but NFC does not unify old and new tone placement
(``hòa``/``hoà``). Key phrases are therefore matched on a *skeleton*: NFD, combining marks
dropped, ``đ`` → ``d``, whitespace collapsed, casefolded. Secrecy markings are the exception
(``MẬT`` skeletonises to ``mat``, which collides with *mất*/*mặt*) and are matched on NFC text.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

_DASH_RE = re.compile(r"[‐-―−]")  # hyphen, en dash, em dash, minus ... → "-"


def nfc(text: str) -> str:
    """Return ``text`` in Unicode NFC, the form accent-aware patterns are written in."""
    return unicodedata.normalize("NFC", text)


def _combining_marks() -> str:
    """The inside of a character class holding every combining mark of the BMP."""
    marks = [cp for cp in range(0x10000) if unicodedata.combining(chr(cp))]
    ranges: list[tuple[int, int]] = []
    for cp in marks:
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    return "".join(re.escape(chr(a)) + ("-" + re.escape(chr(b)) if b > a else "")
                   for a, b in ranges)


_COMBINING_MARKS = _combining_marks()
#: NFD's combining marks dropped by one C-level regex substitution, cheaper than a
#: ``str.translate`` table on Vietnamese text (this is the scanner's hottest line).
_COMBINING_RE = re.compile(f"[{_COMBINING_MARKS}]+")
_BEYOND_BMP_RE = re.compile("[\U00010000-\U0010ffff]")
#: A character that is neither ASCII nor a combining mark (typography, other scripts).
_NOT_ASCII_OR_MARK_RE = re.compile(f"[^\\x00-\\x7f{_COMBINING_MARKS}]")


#: The characters nearly all Vietnamese mail is written in: ASCII (less its rarest control
#: characters), the 134 precomposed Vietnamese letters, and common typography (no-break space,
#: curly quotes, en and em dashes, ellipsis, bullets, degree, guillemets). At most 256, NUL
#: first, so that :func:`codecs.charmap_build` makes a C-level encoding map of them: one encode
#: tells whether a text holds only these, cheaper than any regular expression's character class
#: (figures: docs/performance.md, "Plain mail").
_TONES = ("", "\u0300", "\u0301", "\u0303", "\u0309", "\u0323")
_VOWELS = "aăâeêioôơuưy"
_COMMON_CHARS = "".join((
    "\x00\t\n\x0b\x0c\r", *map(chr, range(0x20, 0x7f)),
    *(letter for base in _VOWELS + _VOWELS.upper() for tone in _TONES
      if not (letter := unicodedata.normalize("NFC", base + tone)).isascii()),
    "đĐ", "\xa0“”‘’–—…•·°«»"))
_COMMON_TABLE = _COMMON_CHARS + "\ufffe" * (256 - len(_COMMON_CHARS))  # U+FFFE: unmapped
_COMMON_MAP = codecs.charmap_build(_COMMON_TABLE)
#: The text held by the last :func:`_common_bytes` call and its encoding: a body is asked about
#: several times in a row (folding, legacy test, diacritics), as the same string object.
_last_common: tuple[str, bytes | None] = ("", b"")
_CACHED_CHARS = 32 * 1024


def _common_bytes(text: str) -> bytes | None:
    """``text`` encoded by the common characters' map, or None when it holds any other."""
    global _last_common
    last_text, encoded = _last_common  # one read: another thread may replace the pair
    if last_text is text:
        return encoded
    try:
        encoded = codecs.charmap_encode(text, "strict", _COMMON_MAP)[0]
    except UnicodeEncodeError:
        encoded = None
    if len(text) <= _CACHED_CHARS:  # a scored window, not a whole long extraction
        _last_common = (text, encoded)
    return encoded


def is_common_vietnamese(text: str) -> bool:
    """Whether ``text`` holds only ASCII, Vietnamese letters (NFC) and common typography:
    nothing to fold as a look-alike (:func:`fold_lookalikes`) and no stray letter of a legacy
    encoding (``govmilter.document.legacy``), which tests/mail check character by character."""
    return _common_bytes(text) is not None


def strip_diacritics(text: str) -> str:
    """Remove Vietnamese (and other Latin) diacritics, keeping case: ``Hòa Đông`` → ``Hoa Dong``."""
    if text.isascii():
        return text
    common = _common_bytes(text)
    if common is not None:  # each common character has one stripped form: a C-level decode
        return codecs.charmap_decode(common, "strict", _STRIPPED_TABLE)[0]
    return _strip_any(text)


def _strip_any(text: str) -> str:
    """:func:`strip_diacritics` of any text, through NFD."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    if not _NOT_ASCII_OR_MARK_RE.search(decomposed):
        # Plain Vietnamese: ASCII letters and marks only, so an ASCII encode drops exactly the
        # marks (cheaper than the substitution, which stays for everything else).
        return decomposed.encode("ascii", "ignore").decode("ascii")
    stripped = _COMBINING_RE.sub("", decomposed)
    if not _BEYOND_BMP_RE.search(stripped):  # a C-level scan, not max() iterated in Python
        return stripped
    # Rare: characters beyond the BMP, some of which are combining marks too.
    return "".join(ch for ch in stripped if not unicodedata.combining(ch))


#: The common characters' stripped forms, in the map's order (each one character).
_STRIPPED_TABLE = "".join(_strip_any(c) if c != "\ufffe" else c for c in _COMMON_TABLE)


def skeleton(text: str) -> str:
    """Return the diacritic-free, casefolded, whitespace-collapsed form used for key phrases.

    Dashes of every width become ``-`` so that the motto ``Độc lập – Tự do – Hạnh phúc`` matches
    whatever separator the author typed.
    """
    return skeleton_of_stripped(strip_diacritics(text))


def skeleton_of_stripped(stripped: str) -> str:
    """:func:`skeleton` of a text already through :func:`strip_diacritics` (saves a second pass)."""
    folded = stripped.casefold()
    if not folded.isascii():  # the wide dashes are not ASCII: an ASCII text has none to replace
        folded = _DASH_RE.sub("-", folded)
    # str.split() splits on exactly the characters \s matches, cheaper than a regex sub.
    return " ".join(folded.split())


def to_ascii(text: str) -> str:
    """Fold text to printable ASCII for SMTP replies: diacritics dropped, anything else replaced.

    SMTP reply text must be ASCII unless the client negotiated SMTPUTF8; unaccented Vietnamese
    stays readable, which a replacement character would not.
    """
    folded = strip_diacritics(text)
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in folded)


#: Secrecy markings (Law 29/2018/QH14 on state secrets) as an ASCII reply writes them: folded
#: alone, "MẬT" reads "MAT", which a Vietnamese reader takes for "mất" (lost), so the English
#: grade (the law's own translation) comes first and the folded word stays beside it.
_MARKINGS_ASCII = {"tuyệt mật": "TOP SECRET (TUYET MAT)", "tối mật": "SECRET (TOI MAT)",
                   "mật": "CONFIDENTIAL (MAT)"}
#: "mật" as a marking: not inside "mật khẩu" (password), "mật mã" (cipher), "mật ong" (honey),
#: "mật thiết" (close) or "bí mật" (a secret, not a grade)
_MARKING_RE = re.compile(r"(?<![\w])(?:tuyệt mật|tối mật|(?<!bí )mật(?! (?:khẩu|mã|ong|thiết)))"
                         r"(?![\w])", re.IGNORECASE)


def reply_ascii(text: str) -> str:
    """:func:`to_ascii` for SMTP reply text, with secrecy markings written unambiguously:
    ``Văn bản MẬT`` becomes ``Van ban CONFIDENTIAL (MAT)``, never ``Van ban MAT`` (read *mất*)."""
    nfc_text = unicodedata.normalize("NFC", text)
    return to_ascii(_MARKING_RE.sub(lambda m: _MARKINGS_ASCII[m.group(0).lower()], nfc_text))


# Letters of other scripts that look like Latin ones, as a sender would use to hide "MẬT" or
# "CỘNG HÒA" from a matcher: Cyrillic and Greek capitals and the small letters that look the
# same in common fonts (the Cyrillic and Greek rows of Unicode's confusables.txt that map to one
# Latin letter, and the capitals beside them), and the Latin look-alikes of "Đ". Combining marks
# ride on them unchanged (Cyrillic "А" with a circumflex and a dot below becomes "Ậ" after NFC).
_LOOKALIKES = {
    **dict(zip("АВЕЅІЈКМНОРСТХУаеіјорсуху", "ABESIJKMHOPCTXYaeijopcyxy", strict=True)),
    **dict(zip("ԁһԛԝѵӀӏгѕѡүҽ", "dhqwvIirswye", strict=True)),
    **dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧοινανγρσυϳ", "ABEZHIKMNOPTYXoivavypouj", strict=True)),
    "Ð": "Đ", "Ɖ": "Đ", "ı": "i", "ᴦ": "r", "ꙇ": "i",
    # Latin small capitals ("styled" text) read as the capitals they are, and IPA look-alikes
    **dict(zip("ᴀʙᴄᴅᴇɢʜɪᴊᴋʟᴍɴᴏᴘʀꜱᴛᴜᴠᴡʏᴢ", "ABCDEGHIJKLMNOPRSTUVWYZ", strict=True)),
    **dict(zip("ɑɡɣɩǀ", "agyil", strict=True)),
    # Cherokee, Lisu, Canadian syllabics, Coptic, Armenian, Tifinagh and Runic letters that
    # Unicode's confusables.txt (UTS #39) maps to one ASCII letter ("ꓟẬꓔ", Cherokee "ᎷẬᎢ")
    **dict(zip("ՍՏՕագզհոռսցքօᎠᎡᎢᎥᎩᎪᎫᎬᎳᎷᎻᎽᏀᏂᏃᏏᏒᏔᏕᏙᏚᏞᏟᏢᏦᏧᏳᏴᐯᑌᑭᑯᑲᒍᒪᕁᕼᕽᖇᖯᖴᗅᗞᗪᗰᗷᚷ"
               "ᛁᛕᛖⲅⲎⲒⲔⲘⲚⲞⲟⲢⲣⲤⲥⲦⲨⲬⳐⴸⴹⵏⵔⵕⵝꓐꓑꓒꓓꓔꓖꓗꓙꓚꓜꓝꓟꓠꓡꓢꓣꓦꓧꓪꓫꓬꓮꓰꓲꓳꓴꭵꮁꮃꮓꮩꮪꮯ",
               "USOwqqhnnugfoDRTiYAJEWMHYGhZbRWSVSLCPKdGBVUPdbJLxHxRbFADDMBX"
               "lKMrHlKMNOoPpCcTYXLVElOQXBPdDTGKJCZFMNLSRVHWXYAElOUirwzvsc", strict=True)),
}
#: Characters no reader sees: zero-width space, (non-)joiners, word joiner, byte-order mark, soft
#: hyphen, directional marks, and the combining grapheme joiner.
_INVISIBLE = "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e" \
             "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\U000e0000-\U000e007f"
#: Combining marks that only decorate (no Vietnamese letter has them): the over- and underlines
#: and strokes of "styled text" generators (M̲Ậ̲T̲, M̶Ậ̶T̶), and the marks for symbols (circles,
#: keycaps) and half marks.
_DECORATIVE_MARKS = "\u0305\u0331-\u0338\u033f\u20d0-\u20ff\ufe20-\ufe2f"
_INVISIBLE_RE = re.compile(f"[{_INVISIBLE}{_DECORATIVE_MARKS}]+")
#: Anything :func:`fold_lookalikes` may change: the invisible characters, Greek and Cyrillic,
#: Latin look-alikes, and the compatibility forms NFKC folds (full-width letters, styled
#: mathematical letters, ligatures). Wide spaces are left to the patterns' ``\s``.
_FOLDABLE_RE = re.compile(
    f"[{_INVISIBLE}{_DECORATIVE_MARKS}\u00d0\u0131\u0189\u01c0\u0250-\u02af\u0370-\u058f"
    "\u13a0-\u167f\u16a0-\u16ff\u1d00-\u1d7f\u2100-\u24ff\u2c80-\u2cff\u2d30-\u2d7f"
    "\ua4d0-\ua4ff\ua647\ua731\uab70-\uabbf"
    "\ufb00-\ufb06\uff00-\uffef\U0001d400-\U0001d7ff\U0001f130-\U0001f189]")
_LOOKALIKE_TABLE = str.maketrans(_LOOKALIKES)


def fold_lookalikes(text: str) -> tuple[str, bool]:
    """Fold what only looks like Vietnamese text into it, and say whether anything changed.

    Invisible characters (zero-width, soft hyphen, BOM...) are removed, compatibility forms
    (full-width ``ＭẬＴ``, styled ``𝐌ẬＴ``, ligatures, non-breaking spaces) go through NFKC, and
    Cyrillic/Greek look-alike letters become the Latin letters they imitate. The result is NFC.
    Text without any such character (nearly all mail) is returned as it is, after one C-level scan.
    """
    if text.isascii() or is_common_vietnamese(text) or not _FOLDABLE_RE.search(text):
        return text, False
    folded = _INVISIBLE_RE.sub("", text)
    folded = unicodedata.normalize("NFKD", folded).translate(_LOOKALIKE_TABLE)
    folded = unicodedata.normalize("NFC", folded)
    return folded, folded != text
