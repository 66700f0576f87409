"""E-mail addresses: the envelope's and the headers' (RFC 5322 lists), parsed within bounds.

An address's domain is normalised once, by :func:`govmilter.mail.names.normalize_domain`; what the
domain is for the policy is decided in :mod:`govmilter.domains.classify`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from govmilter.mail.names import DomainError, normalize_domain


@dataclass(frozen=True, slots=True)
class Address:
    """An e-mail address split into local part and normalised domain.

    ``domain`` is ``None`` for the null sender ``<>`` and for text that holds no domain.
    """

    text: str
    local: str
    domain: str | None

    @property
    def is_null(self) -> bool:
        """True for the null reverse-path ``<>`` used by bounces."""
        return self.text == "" and self.domain is None

    @property
    def mailbox(self) -> str | None:
        """``local@domain`` with the local part unquoted and case-folded: how the policy's
        address lists (exceptions, units, ``sender_address``) name a mailbox, so that
        ``"GiamDoc"@x`` is the listed ``giamdoc@x`` it means (RFC 5321 4.1.2); None without a
        domain."""
        if self.domain is None or not self.local:
            return None
        local = self.local
        if len(local) >= 2 and local[0] == local[-1] == '"':
            local = _QUOTED_PAIR.sub(r"\1", local[1:-1])
        return f"{local.casefold()}@{self.domain}" if local else None


#: a backslash-escaped character of a quoted local part
_QUOTED_PAIR = re.compile(r"\\(.)")


def _split_at_sign(text: str) -> tuple[str, str] | None:
    """Split at the last ``@`` outside a quoted local part."""
    in_quote = escaped = False
    at = -1
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            in_quote = not in_quote
        elif ch == "@" and not in_quote:
            at = i
    if at < 0:
        return None
    return text[:at], text[at + 1 :]


def parse_address(text: str) -> Address:
    """Parse an envelope or bare address: ``<a@b>``, ``<>``, source routes, quoted local parts.

    Never raises: text without a usable domain gives an :class:`Address` whose ``domain`` is None.
    Display names and comments belong to header parsing (:func:`header_addresses`).
    """
    raw = text.strip()
    if raw.startswith("<") and ">" in raw:
        raw = raw[1 : raw.index(">")].strip()
    if raw == "":
        return Address("", "", None)
    if raw.startswith("@") and ":" in raw:  # source route <@relay1,@relay2:user@host>
        raw = raw.split(":", 1)[1]
    parts = _split_at_sign(raw)
    if parts is None:
        return Address(raw, raw, None)
    local, domain_text = parts
    try:
        domain: str | None = normalize_domain(domain_text)
    except DomainError:
        domain = None
    canonical = f"{local}@{domain}" if domain else raw
    return Address(canonical, local, domain)


#: Longest address header value read; the rest is ignored (and noted). RFC 5322 lines stop at
#: 998 characters, so only hostile or broken mail comes near it.
MAX_ADDRESS_HEADER_CHARS = 64 * 1024
#: Most mailboxes read from one header value.
MAX_HEADER_ADDRESSES = 1000
#: Longest list element handed to the standard library's RFC 5322 parser, which is quadratic on
#: some input (docs/security.md, "Hostile input").
_MAX_PARSED_ELEMENT = 2048
#: Defects after which readers (MUAs, other filters) may disagree on the mailbox.
_AMBIGUOUS_DEFECTS = frozenset({
    "InvalidHeaderDefect", "NonPrintableDefect", "HeaderMissingRequiredValue",
    "InvalidMessageIdDefect", "UndecodableBytesDefect",
})
_FOLD_RE = re.compile(r"\r?\n(?=[ \t])")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
#: Where an address-like text ends: space, specials, and every control character (a NUL must not
#: glue two addresses into one, as in ``attacker@gmail.com<NUL>@mic.gov.vn``).
_ADDRESS_STOP = frozenset(' <>()[],;:"\\@' + "".join(map(chr, range(32))) + "\x7f")


@dataclass(frozen=True, slots=True)
class HeaderAddresses:
    """Every mailbox a reader could take from an address header, and what was odd about it.

    ``notes`` name the oddities (never the addresses: they may be logged). When ``ambiguous`` is
    set, ``addresses`` also holds every address-like text of the field, so that a caller picking
    the least-privileged reading sees the mailbox a lenient mail client would show.
    """

    addresses: tuple[Address, ...]
    notes: tuple[str, ...] = ()
    ambiguous: bool = False


def header_addresses(value: str) -> list[Address]:
    """Parse the addresses of a header field value (From, To, Cc) with display names and comments.

    See :func:`read_address_header`; this returns only the addresses.
    """
    return list(read_address_header(value).addresses)


def read_address_header(value: str, name: str = "address header") -> HeaderAddresses:
    """Read the mailboxes of one From/To/Cc value, defensively and in linear time.

    ``value`` is the raw field value (folded, encoded words not decoded): decoding encoded words
    before parsing would let a display name such as ``=?utf-8?q?boss=40mic.gov.vn=00?=`` pose as
    the address (Mailsploit). The standard library's RFC 5322 parser (policy ``default``) reads
    each list element; when it reports defects (CVE-2023-27043-style lists, control characters,
    an ``@`` in an unquoted display name), every address-like text of the element is added and
    the result is marked ambiguous. Never raises.
    """
    notes: list[str] = []
    text = _FOLD_RE.sub("", value)
    if len(text) > MAX_ADDRESS_HEADER_CHARS:
        notes.append(f"{name}: longer than {MAX_ADDRESS_HEADER_CHARS} characters, the rest "
                     "was not read")
        text = text[:MAX_ADDRESS_HEADER_CHARS]
    ambiguous = len(notes) > 0  # a mailbox may sit in the part that was not read
    if _CONTROL_RE.search(text):
        notes.append(f"{name}: control characters")
        ambiguous = True
    found: dict[str, Address] = {}
    elements = [text] if len(text) <= _MAX_PARSED_ELEMENT else split_address_list(text)
    for element in elements:
        if len(element) > _MAX_PARSED_ELEMENT:
            parsed: list[Address] = []
            odd, unclear = [f"{name}: an element longer than {_MAX_PARSED_ELEMENT} "
                                        "characters was read leniently"], True
        else:
            parsed, odd, unclear = _parse_element(element, name)
        for address in parsed:
            found.setdefault(address.text, address)
        for note in odd:
            _add_once(notes, note)
        if unclear:
            ambiguous = True
            for address in address_like(element):
                found.setdefault(address.text, address)
        if len(found) >= MAX_HEADER_ADDRESSES:
            notes.append(f"{name}: more than {MAX_HEADER_ADDRESSES} addresses, the rest was "
                         "not read")
            ambiguous = True
            break
    return HeaderAddresses(tuple(found.values())[:MAX_HEADER_ADDRESSES], tuple(notes), ambiguous)


def _parse_element(element: str, name: str) -> tuple[list[Address], list[str], bool]:
    """Parse one address-list element with the stdlib: addresses, notes, and whether readers
    could disagree on the mailbox (defects, a mailbox without a domain)."""
    plain = _plain_mailboxes(element)
    if plain is not None:
        return plain, [], False
    from email.headerregistry import AddressHeader

    kwds: dict[str, Any] = {}
    try:
        AddressHeader.parse(element, kwds)
    except Exception:  # the stdlib parser raises assorted errors on hostile input
        return [], [f"{name}: unparseable address list"], True
    notes: list[str] = []
    defects = {type(d).__name__ for d in kwds.get("defects", ())}
    ambiguous = bool(defects & _AMBIGUOUS_DEFECTS)
    if ambiguous:
        notes.append(f"{name}: malformed address list ({', '.join(sorted(defects))})")
    found: list[Address] = []
    for group in kwds.get("groups", ()):
        for addr in group.addresses:
            if "@" in (addr.display_name or ""):
                # The mailbox is well defined, but clients may show the display name instead.
                _add_once(notes, f"{name}: a display name holds an address")
            if addr.domain:
                found.append(parse_address(f"{addr.username}@{addr.domain}"))
            else:
                _add_once(notes, f"{name}: a mailbox without a domain")
                ambiguous = True
    return found, notes, ambiguous


#: The plain forms :func:`_plain_mailboxes` reads without the stdlib parser (about 40% of the
#: time of parsing a plain message went to it). Deliberately narrow: no comments, groups, quoted
#: local parts, routes, literals, dots in names, ``=``/``?`` outside encoded words, ``@`` in a
#: name, nor non-ASCII; anything else goes to the stdlib parser, which alone judges defects.
_PLAIN_ATEXT = r"[A-Za-z0-9!#$%&'*+/^_`{|}~-]"
_PLAIN_ADDR = (rf"({_PLAIN_ATEXT}+(?:\.{_PLAIN_ATEXT}+)*)"
               r"@([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)")
#: Encoded words of common charsets whose text holds no specials (``<``, ``@``, ``"``, space).
_PLAIN_EW = r"=\?(?i:utf-8|us-ascii|iso-8859-1|windows-1258)\?[BbQq]\?[A-Za-z0-9+/=_.!*-]+\?="
_PLAIN_WORD = rf"(?:{_PLAIN_ATEXT}+|{_PLAIN_EW})"
_PLAIN_MAILBOX_RE = re.compile(
    rf"(?:{_PLAIN_ADDR}"
    rf"|(?:({_PLAIN_WORD}(?:[ \t]+{_PLAIN_WORD})*)[ \t]+"  # Name <addr>
    r'|"[ !#-<>A-Z\[\]-~]*"[ \t]*'  # "Quoted Name" <addr>: no \\, ", =, ?, @
    rf")?<{_PLAIN_ADDR}>)")
_PLAIN_EW_RE = re.compile(_PLAIN_EW)
_PLAIN_SPACE = " \t"


def _plain_mailboxes(element: str) -> list[Address] | None:
    """The mailboxes of a comma list of plain forms, exactly as the stdlib parser reads them
    (``local@domain``, ``Name <local@domain>``, ``"Name" <local@domain>``, encoded-word names),
    or None when the element is anything else."""
    found: list[Address] = []
    pos, end = 0, len(element)
    while True:
        while pos < end and element[pos] in _PLAIN_SPACE:
            pos += 1
        match = _PLAIN_MAILBOX_RE.match(element, pos)
        if match is None:
            return None
        bare_local, bare_domain, words, local, domain = match.groups()
        if words is not None and not _plain_encoded_words(words):
            return None
        if bare_local is not None:
            local, domain = bare_local, bare_domain
        found.append(parse_address(f"{local}@{domain}"))
        pos = match.end()
        while pos < end and element[pos] in _PLAIN_SPACE:
            pos += 1
        if pos == end:
            return found
        if element[pos] != ",":
            return None
        pos += 1


def _plain_encoded_words(words: str) -> bool:
    """True when every encoded word of a display name decodes cleanly to printable text
    without ``@`` (the stdlib would note an address in the name, or a defect)."""
    # The decoder the stdlib parser itself uses (private, untyped): same text, same defects.
    from email import _encoded_words  # type: ignore[attr-defined]

    for word in _PLAIN_EW_RE.finditer(words):
        try:
            text, _charset, _lang, defects = _encoded_words.decode(word.group())
        except Exception:  # the stdlib decoder raises assorted errors on hostile input
            return False
        if defects or "@" in text or not text.isprintable():
            return False
    return True


def _add_once(notes: list[str], note: str) -> None:
    if note not in notes:
        notes.append(note)


def split_address_list(text: str) -> list[str]:
    """Split an address list at the commas outside quotes, comments and angle brackets.

    Linear in the length of the text; group syntax (``name: a, b;``) is split too, each element
    keeping its part of the group markers, which the element parser tolerates.
    """
    elements: list[str] = []
    start = depth = 0
    in_quote = in_angle = escaped = False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_quote:
            in_quote = ch != '"'
        elif ch == '"':
            in_quote = True
        elif ch == "(":
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
        elif depth:
            continue
        elif ch == "<":
            in_angle = True
        elif ch == ">":
            in_angle = False
        elif ch in ",;" and not in_angle:
            elements.append(text[start:i])
            start = i + 1
    elements.append(text[start:])
    return [e for e in elements if e.strip()]


def address_like(text: str) -> list[Address]:
    """Every ``local@domain`` text in ``text``, found around each ``@`` (linear, never raises).

    This is how a lenient reader sees a damaged header; used to take the least-privileged
    reading when the strict parse is ambiguous.
    """
    found: list[Address] = []
    at = text.find("@")
    while at >= 0 and len(found) < MAX_HEADER_ADDRESSES:
        left = at
        while left > 0 and at - left < 256 and text[left - 1] not in _ADDRESS_STOP:
            left -= 1
        right = at + 1
        while right < len(text) and right - at < 256 and text[right] not in _ADDRESS_STOP:
            right += 1
        candidate = parse_address(text[left:right])
        if candidate.domain is not None and candidate.local:
            found.append(candidate)
        at = text.find("@", at + 1)
    return found
