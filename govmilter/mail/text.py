"""Decoding text whatever its label says: charsets, RFC 2047 words (HTML: :mod:`.htmltext`).

Every function here is linear in its input and never raises on bad input.
"""

from __future__ import annotations

import codecs
import email
import email.errors
import email.header
import email.message
import email.policy

from govmilter.mail.vntext import nfc

#: Codecs that are quadratic or not charsets at all (docs/security.md, "Hostile input").
_UNSAFE_CODECS = frozenset({"punycode", "idna", "unicode-escape", "raw-unicode-escape"})
_WIDE_CODECS = ("utf-16", "utf-32")


def decode_header_value(value: object) -> str:
    """Decode RFC 2047 encoded words in a header value; never raises."""
    if value is None:
        return ""
    text = str(value)
    try:
        return nfc(str(email.header.make_header(email.header.decode_header(text))))
    except (ValueError, LookupError, UnicodeError, AssertionError,
            email.errors.MessageError):  # found by the fuzzer: bad base64 or charset in a word
        return nfc(text)


def _text_codec(charset: str | None) -> str | None:
    """The codec name for a declared charset, or None when unknown, unsafe or not a charset."""
    if not charset:
        return None
    try:
        info = codecs.lookup(charset)
    except (LookupError, ValueError, TypeError):
        return None
    if info.name in _UNSAFE_CODECS or not getattr(info, "_is_text_encoding", True):
        return None
    return info.name


_UTF16_BOMS = ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def utf16_codec(data: bytes) -> str | None:
    """The UTF-16 codec of text bytes without a declared charset (a Notepad "Unicode" file, with
    or without its byte-order mark), or None: Latin-script UTF-16 has a NUL in every other byte.
    """
    for bom, codec in _UTF16_BOMS:
        if data.startswith(bom):
            return codec
    head = data[:4096]
    half = len(head) // 2
    if half < 8:
        return None
    even, odd = head[0:half * 2:2].count(0), head[1:half * 2:2].count(0)
    if odd >= half * 0.4 and even == 0:
        return "utf-16-le"
    if even >= half * 0.4 and odd == 0:
        return "utf-16-be"
    return None


def decode_text(data: bytes, charset: str | None) -> str:
    """Decode text bytes whatever the declared charset says; never raises, linear time.

    Valid UTF-8 with non-ASCII bytes is read as UTF-8 even when labelled otherwise (mislabelled
    Vietnamese mail is common, and legacy 8-bit text is practically never valid UTF-8); then the
    declared charset (or, with none, UTF-16 when the bytes are: :func:`utf16_codec`); then
    CP1258, whose combining tone bytes NFC composes.
    """
    codec = _text_codec(charset) or utf16_codec(data)
    # UTF-16/32 text of Latin script is full of NUL bytes; without them the label is wrong.
    wide = (codec or "").startswith(_WIDE_CODECS) and b"\x00" in data
    if not data.isascii() and not wide:
        try:
            return nfc(data.decode("utf-8"))
        except UnicodeDecodeError:
            pass
    if codec is not None:
        try:
            return nfc(data.decode(codec, errors="replace" if wide else "strict"))
        except (UnicodeError, ValueError, LookupError):
            pass
    return nfc(data.decode("cp1258", errors="replace"))
