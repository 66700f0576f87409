"""Traces a forward leaves in a message: the header fields (and the envelope sender form) that
say it was delivered to a mailbox, or redirected, before it reached this server again.

Syntax only: which trace names which mailbox. Whether that mailbox is an official one, and so
whether the mail is an automatic forward out of an official mailbox, is decided by the policy
(:mod:`govmilter.policy.forwarding`). Only the top-level header fields are read: a message
forwarded by hand as an attachment (``message/rfc822``) carries its old traces inside, and those
say nothing about how this copy travels.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from govmilter.mail.addresses import Address, header_addresses, parse_address

#: Most traces kept per message: a message with thousands of Received fields (a loop or an
#: attack) costs no more than this to judge.
MAX_TRACES = 64
#: Longest header value read for a trace (RFC 5322 lines stop at 998 characters).
MAX_TRACE_VALUE_CHARS = 4096


class TraceKind(enum.StrEnum):
    """What kind of header field (or envelope form) a trace is."""

    #: ``Delivered-To:``, added by the delivery agent that stored the message in a mailbox
    #: (Postfix local/virtual/pipe, Dovecot LDA/LMTP, Gmail); Postfix local adds it again to the
    #: copy a ``.forward`` or alias sends on, for its loop detection
    DELIVERED_TO = "delivered-to"
    #: ``X-Original-To:``, the recipient as given before alias expansion (Postfix delivery agents)
    ORIGINAL_TO = "x-original-to"
    #: the ``for <mailbox>`` clause of a ``Received:`` field: the one recipient a server accepted
    #: the message for (Postfix writes it when the message had exactly one recipient)
    RECEIVED_FOR = "received-for"
    #: ``X-Sieve-Redirected-From:``, added by Dovecot Pigeonhole's Sieve ``redirect``
    SIEVE_REDIRECT = "sieve-redirect"
    #: ``Resent-From/-Sender/-To/-Cc/-Bcc/-Date/-Message-ID:`` (RFC 5322 3.6.6): the message was
    #: re-introduced by a redirect (procmail/formail -R, mail clients' "redirect", some servers)
    RESENT = "resent"
    #: ``Auto-Submitted: auto-forwarded`` (not a registered RFC 3834 keyword, but written by
    #: forwarding software), or Exchange's ``X-MS-Exchange-Organization-AutoForwarded: true``
    AUTO_FORWARDED = "auto-forwarded"


@dataclass(frozen=True, slots=True)
class ForwardTrace:
    """One trace: its kind, the header field it came from, and the mailbox it names (if any)."""

    kind: TraceKind
    field: str  #: the header field name as found (``Delivered-To``)
    address: Address | None = None


@dataclass(frozen=True, slots=True)
class ForwardTraces:
    """Every trace of one message, in header order, at most :data:`MAX_TRACES`."""

    traces: tuple[ForwardTrace, ...] = ()
    cut: bool = False  #: more traces were found than kept


NO_TRACES = ForwardTraces()

#: Header fields that name the mailbox a message was delivered to (or accepted for) before.
_MAILBOX_FIELDS = {
    "delivered-to": TraceKind.DELIVERED_TO,
    "x-original-to": TraceKind.ORIGINAL_TO,
    "x-sieve-redirected-from": TraceKind.SIEVE_REDIRECT,
}
_RESENT_FIELDS = frozenset({"resent-from", "resent-sender", "resent-to", "resent-cc",
                            "resent-bcc", "resent-date", "resent-message-id"})
#: Resent fields whose mailbox is the one that re-sent the message.
_RESENT_BY = frozenset({"resent-from", "resent-sender"})


def read_forward_traces(fields: Iterable[tuple[str, str]]) -> ForwardTraces:
    """Read the traces of the top-level header ``fields`` (name, raw value), in order.

    Never raises; linear in the size of the header fields read (each value is cut at
    :data:`MAX_TRACE_VALUE_CHARS`, at most :data:`MAX_TRACES` are kept).
    """
    traces: list[ForwardTrace] = []
    cut = False
    for name, raw in fields:
        lower = name.strip().lower()
        found = _trace(lower, name.strip(), raw[:MAX_TRACE_VALUE_CHARS])
        if found is None:
            continue
        if len(traces) >= MAX_TRACES:
            cut = True
            break
        traces.append(found)
    return ForwardTraces(tuple(traces), cut)


def _trace(lower: str, name: str, value: str) -> ForwardTrace | None:
    if lower in _MAILBOX_FIELDS:
        return ForwardTrace(_MAILBOX_FIELDS[lower], name, _first_mailbox(value))
    if lower == "received":
        mailbox = received_for(value)
        return ForwardTrace(TraceKind.RECEIVED_FOR, f"{name} for", mailbox) if mailbox else None
    if lower in _RESENT_FIELDS:
        return ForwardTrace(TraceKind.RESENT, name,
                            _first_mailbox(value) if lower in _RESENT_BY else None)
    if lower == "auto-submitted" and _first_word(value) == "auto-forwarded":
        return ForwardTrace(TraceKind.AUTO_FORWARDED, name)
    if lower == "x-ms-exchange-organization-autoforwarded" and _first_word(value) == "true":
        return ForwardTrace(TraceKind.AUTO_FORWARDED, name)
    return None


def _first_word(value: str) -> str:
    words = value.replace(";", " ").split(None, 1)
    return words[0].lower() if words else ""


def _first_mailbox(value: str) -> Address | None:
    found = [a for a in header_addresses(value) if a.domain]
    return found[0] if found else None


def received_for(value: str) -> Address | None:
    """The mailbox of a ``Received:`` field's ``for`` clause (RFC 5321 4.4), or None.

    The clause sits before the ``;`` that starts the date: ``... id 4Q; for <a@b.gov.vn>; ...``
    is read as Postfix and Sendmail write it (``for <a@b>;`` or ``for a@b;``). A comment may hold
    the word "for" too: only a ``for`` followed by an address with an ``@`` counts.
    """
    head = value.rsplit(";", 1)[0] if ";" in value else value
    words = head.split()
    for index in range(len(words) - 1, 0, -1):
        if words[index - 1].lower() != "for":
            continue
        candidate = words[index].rstrip(";")
        if "@" in candidate:
            address = parse_address(candidate)
            return address if address.domain else None
    return None


#: Longest ORCPT parameter read (RFC 3461 bounds an ORCPT at 500 characters).
MAX_ORCPT_CHARS = 1000


def original_recipient(esmtp: Iterable[str]) -> Address | None:
    """The mailbox of an RCPT's DSN ``ORCPT=rfc822;<xtext>`` parameter (RFC 3461 4.2), or None.

    Postfix passes it on when an alias, a ``.forward`` or ``virtual_alias_maps`` changed the
    recipient: the next hop learns what the recipient was before. ``+XX`` xtext escapes are
    decoded; another address type than ``rfc822`` gives None.
    """
    for parameter in esmtp:
        keyword, _, value = parameter.partition("=")
        if keyword.strip().upper() != "ORCPT":
            continue
        kind, _, encoded = value[:MAX_ORCPT_CHARS].partition(";")
        if kind.strip().lower() != "rfc822":
            return None
        address = parse_address(_xtext(encoded))
        return address if address.domain else None
    return None


def _xtext(text: str) -> str:
    """Decode RFC 3461 xtext: ``+`` and two hex digits stand for one character."""
    parts = text.split("+")
    decoded = [parts[0]]
    for part in parts[1:]:
        try:
            decoded.append(chr(int(part[:2], 16)) + part[2:])
        except ValueError:
            decoded.append("+" + part)
    return "".join(decoded)


def srs_forwarder(sender: str) -> Address | None:
    """The envelope sender when it is SRS-rewritten (``SRS0=hash=tt=domain=local@forwarder``,
    ``SRS1=...``); its domain is the forwarder's. None for any other sender.

    A sender without ``=`` (nearly every one) cannot be SRS, quoted or not: it is not parsed.
    """
    if "=" not in sender:
        return None
    address = parse_address(sender)
    if address.domain and address.local[:5].upper() in ("SRS0=", "SRS1="):
        return address
    return None
