"""Turning raw message bytes into the content the document detector reads, within limits.

Pure and defensive: malformed MIME never raises out of :func:`parse_message`; what could not be
read is recorded in ``unscannable`` (with the reason) so that the policy can decide about it.
"""

from __future__ import annotations

import email
import email.header
import email.message
import email.policy
from dataclasses import dataclass
from html.parser import HTMLParser

from govmilter.domains import header_addresses
from govmilter.policy.model import Limits
from govmilter.vntext import nfc


@dataclass(frozen=True, slots=True)
class TextPart:
    """Decoded text from one place in the message; ``source`` says where (``body:html``)."""

    source: str
    text: str


@dataclass(frozen=True, slots=True)
class Attachment:
    """A non-text part: its decoded bytes (possibly cut at the per-attachment limit)."""

    filename: str | None
    content_type: str
    data: bytes
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class MessageContent:
    """What :func:`parse_message` read: headers the detector uses, texts and attachments."""

    subject: str
    header_from: tuple[str, ...]
    header_to: tuple[str, ...]
    texts: tuple[TextPart, ...]
    attachments: tuple[Attachment, ...]
    unscannable: tuple[str, ...]
    size: int

    @property
    def scanned_bytes(self) -> int:
        """How many decoded bytes of text and attachments were kept for scanning."""
        return sum(len(t.text) for t in self.texts) + sum(len(a.data) for a in self.attachments)


def decode_header_value(value: object) -> str:
    """Decode RFC 2047 encoded words in a header value; never raises."""
    if value is None:
        return ""
    text = str(value)
    try:
        return nfc(str(email.header.make_header(email.header.decode_header(text))))
    except (ValueError, LookupError, UnicodeError, AssertionError):
        return nfc(text)


def decode_text(data: bytes, charset: str | None) -> str:
    """Decode bytes with the declared charset, falling back to UTF-8 then CP1258 (never raises)."""
    for candidate in (charset, "utf-8"):
        if not candidate:
            continue
        try:
            return nfc(data.decode(candidate))
        except (LookupError, UnicodeDecodeError):
            continue
    # CP1258 stores Vietnamese tones as combining bytes: NFC composes them.
    return nfc(data.decode("cp1258", errors="replace"))


class _HTMLText(HTMLParser):
    _SKIP = frozenset({"script", "style", "head", "title"})
    _BREAK = frozenset({"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "table", "td"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BREAK:
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1
        elif tag in self._BREAK:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.chunks.append(data)


def html_to_text(html: str) -> str:
    """Strip tags, scripts and styles, keeping line breaks where blocks end."""
    parser = _HTMLText()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):  # malformed markup: keep what was read
        pass
    return "".join(parser.chunks)


def part_filename(part: email.message.Message) -> str | None:
    """The part's file name, RFC 2231 and RFC 2047 decoded, or None."""
    try:
        name = part.get_filename()
    except (ValueError, LookupError, UnicodeError, AttributeError):
        return None
    return decode_header_value(name) if name else None


def parse_message(raw: bytes, limits: Limits) -> MessageContent:
    """Walk the MIME tree (iteratively, within ``limits``), collecting texts and attachments.

    Nested ``message/rfc822`` parts are entered; their subjects count as text.
    """
    message = email.message_from_bytes(raw[: limits.max_scan_bytes * 2],
                                       policy=email.policy.compat32)
    unscannable: list[str] = []
    if len(raw) > limits.max_scan_bytes * 2:
        unscannable.append(f"message larger than the scan limit ({len(raw)} bytes)")
    texts: list[TextPart] = []
    attachments: list[Attachment] = []
    budget = limits.max_scan_bytes
    subject = decode_header_value(message.get("Subject"))
    header_from = tuple(a.text for a in header_addresses(decode_header_value(message.get("From"))))
    to_values = [decode_header_value(v) for v in (message.get_all("To") or [])]
    to_values += [decode_header_value(v) for v in (message.get_all("Cc") or [])]
    header_to = tuple(a.text for value in to_values for a in header_addresses(value))

    stack: list[tuple[email.message.Message, int]] = [(message, 0)]
    depth_noted = count_noted = budget_noted = False
    while stack:
        part, depth = stack.pop()
        if depth > limits.max_depth:
            if not depth_noted:
                unscannable.append(f"MIME nesting deeper than {limits.max_depth}")
                depth_noted = True
            continue
        ctype = part.get_content_type()
        if part.is_multipart() or ctype == "message/rfc822":
            payload = part.get_payload()
            children = payload if isinstance(payload, list) else []
            if ctype == "message/rfc822":
                for inner in children:
                    if not isinstance(inner, email.message.Message):
                        continue
                    inner_subject = decode_header_value(inner.get("Subject"))
                    if inner_subject:
                        texts.append(TextPart("forwarded:subject", inner_subject))
            stack.extend((child, depth + 1) for child in reversed(children)
                         if isinstance(child, email.message.Message))
            continue
        filename = part_filename(part)
        disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        try:
            data = part.get_payload(decode=True) or b""
        except Exception:  # compat32 decoding raises assorted errors on garbage
            unscannable.append("undecodable part")
            continue
        if not isinstance(data, bytes):
            data = b""
        if budget <= 0:
            if not budget_noted:
                unscannable.append(f"scan limit of {limits.max_scan_bytes} bytes reached")
                budget_noted = True
            continue
        is_text = ctype in ("text/plain", "text/html") and disposition != "attachment"
        if is_text:
            chunk = data[:budget]
            budget -= len(chunk)
            text = decode_text(chunk, part.get_content_charset())
            if ctype == "text/html":
                texts.append(TextPart("body:html", html_to_text(text)))
            else:
                texts.append(TextPart("body", text))
            continue
        if ctype in ("application/pkcs7-mime", "application/x-pkcs7-mime",
                     "multipart/encrypted", "application/pgp-encrypted"):
            unscannable.append(f"encrypted part ({ctype})")
            continue
        if len(attachments) >= limits.max_attachments:
            if not count_noted:
                unscannable.append(f"more than {limits.max_attachments} attachments")
                count_noted = True
            continue
        cap = min(limits.max_attachment_bytes, budget)
        truncated = len(data) > cap
        attachments.append(Attachment(filename, ctype, data[:cap], truncated))
        budget -= min(len(data), cap)
        if truncated:
            label = "attachment" if filename is None else "an attachment"
            unscannable.append(f"{label} larger than {cap} bytes was cut")
    return MessageContent(
        subject=subject, header_from=header_from, header_to=header_to, texts=tuple(texts),
        attachments=tuple(attachments), unscannable=tuple(unscannable), size=len(raw),
    )
