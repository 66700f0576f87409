"""Decoding text whatever its label says: charsets, RFC 2047 words, HTML to text.

Every function here is linear in its input and never raises on bad input.
"""

from __future__ import annotations

import codecs
import email
import email.errors
import email.header
import email.message
import email.policy
import html
import re

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


_SKIP_TAGS = {name: re.compile(rf"(?i)</{name}\s*>") for name in ("script", "style", "head",
                                                                   "title")}
_BREAK_TAGS = frozenset({"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6",
                         "table", "td", "th", "blockquote", "pre", "hr", "ul", "ol", "dl", "dt",
                         "dd", "section", "article", "header", "footer", "caption"})
#: A comment opening, a tag, or a declaration/processing instruction. ``[^<>]*`` stops at the
#: next bracket, so the scan over a document is linear (``html.parser`` is not: docs/security.md);
#: the name is possessive (``*+``): ``[^<>]*`` also takes letters, and an unclosed ``<aaaa…``
#: retried every split of the name between the two.
_MARKUP_RE = re.compile(r"<(?:(!--)|(/?)([A-Za-z][A-Za-z0-9]*+)[^<>]*>|[!?][^<>]*>)")


#: Attributes that hide an element from the reader: the ``hidden`` attribute, ``display:none``,
#: ``visibility:hidden``, Outlook's ``mso-hide:all``, a zero font size or one under 2 px or pt
#: (or 0.1 em), ``opacity:0``, a transparent colour.
_HIDDEN_RE = re.compile(r"(?i)display\s*:\s*none|visibility\s*:\s*hidden|mso-hide\s*:\s*all"
                        r"|font-size\s*:\s*0+(?:\.0*)?(?:px|pt|em|rem|%)?\s*(?:[;\"']|$)"
                        r"|font-size\s*:\s*(?:[01](?:\.\d*)?|\.\d+)(?:px|pt)"
                        r"|font-size\s*:\s*0*\.0\d*(?:em|rem)"
                        r"|opacity\s*:\s*0*(?:\.0*)?\s*(?:[;\"'!]|$)"
                        r"|(?<!-)color\s*:\s*transparent"
                        r"|\shidden(?=[\s=/>]|$)")


def _hidden_text_end(text: str, tag: re.Match[str], name: str) -> int:
    """Where a hidden element holding text only ends (past its closing tag), or -1.

    Only an element whose next tag is its own closing tag is passed over: text hidden inside a
    word (``M<span style="display:none">x</span>ẬT``) is not what the reader sees. An element
    holding other markup is read as before: its end may be implied by a parent's, and passing
    over it could hide text the reader does see.
    """
    if not _HIDDEN_RE.search(tag.group()):
        return -1
    after = text.find("<", tag.end())
    closing = f"</{name}"
    if after < 0 or text[after:after + len(closing)].lower() != closing:
        return -1
    end = text.find(">", after)
    return end + 1 if end >= 0 else -1


def html_to_text(text: str) -> str:
    """Strip tags, comments, scripts and styles, keeping line breaks where blocks end.

    Hidden elements that hold only text are left out (see :func:`_hidden_text_end`). Linear in
    the size of the input, whatever the markup (unclosed tags, comments, scripts).
    """
    chunks: list[str] = []
    pos = 0
    while True:
        match = _MARKUP_RE.search(text, pos)
        if match is None:
            chunks.append(html.unescape(text[pos:]))
            break
        chunks.append(html.unescape(text[pos:match.start()]))
        pos = match.end()
        if match.group(1):  # <!-- ... -->: an unclosed comment hides the rest
            end = text.find("-->", pos)
            if end < 0:
                break
            pos = end + 3
            continue
        name = (match.group(3) or "").lower()
        hidden_end = -1 if match.group(2) else _hidden_text_end(text, match, name)
        if hidden_end >= 0:
            pos = hidden_end
        elif name in _SKIP_TAGS and not match.group(2):
            close = _SKIP_TAGS[name].search(text, pos)
            if close is None:
                break
            pos = close.end()
        elif name in _BREAK_TAGS:
            chunks.append("\n")
    return "".join(chunks)
