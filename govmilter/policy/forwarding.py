"""Whether a message is an automatic forward out of an official mailbox: the ``forwarded:``
rule condition.

The provincial e-mail regulations of 2025 (Ninh Bình's Decision 162/2025/QĐ-UBND and its peers)
forbid forwarding an official mailbox automatically to a mailbox outside the state system. Mail
that leaves that way was delivered to (or accepted for) an official mailbox first, and the
servers on its way say so: :mod:`govmilter.mail.forwarding` reads those traces, this module
judges them. Each signal found is a reason in plain words (no address: reasons reach logs and
reports); docs/detection.md lists what each signal is and what defeats it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from govmilter.domains.classify import Classifier, DomainClass
from govmilter.mail.addresses import Address, parse_address
from govmilter.mail.forwarding import ForwardTrace, ForwardTraces, TraceKind, srs_forwarder


class Forwarded(enum.StrEnum):
    """The values of a rule's ``forwarded:`` condition."""

    AUTO = "auto"  #: an automatic forward out of an official mailbox
    NONE = "none"  #: no sign of one


@dataclass(frozen=True, slots=True)
class ForwardFinding:
    """The signals that make a message an automatic forward, each a reason (none: not one)."""

    signals: tuple[str, ...] = ()

    @property
    def forwarded(self) -> Forwarded:
        """``auto`` when any signal was found."""
        return Forwarded.AUTO if self.signals else Forwarded.NONE


NOT_FORWARDED = ForwardFinding()

#: What each trace that names an official mailbox means, for the reason text.
_MAILBOX_MEANING = {
    TraceKind.DELIVERED_TO: "it was delivered to that mailbox before",
    TraceKind.ORIGINAL_TO: "it was addressed to that mailbox before an alias or forward "
                           "changed the recipient",
    TraceKind.RECEIVED_FOR: "a server accepted it for that mailbox before the recipient "
                            "changed",
    TraceKind.SIEVE_REDIRECT: "a Sieve redirect rule of that mailbox sent it on",
}


def find_forwarding(traces: ForwardTraces, sender: str, recipients: tuple[str, ...],
                    classify: Classifier,
                    original_recipients: tuple[tuple[str, str], ...] = ()) -> ForwardFinding:
    """Judge the traces of a message sent by ``sender`` to ``recipients``.

    ``original_recipients``: (recipient, ORCPT mailbox) pairs from the envelope; an ORCPT naming
    an official mailbox other than its recipient is a signal (an alias or forward changed it).

    ``classify``: the policy's list classifier (no DNS: an official domain is one the lists
    name). A trace naming a mailbox counts when that mailbox is official and is not one of the
    message's own recipients (a server's own ``for <recipient>`` is the normal path). Resent-*
    fields and ``auto-forwarded`` markers count by themselves.
    """
    given = {r.lower() for r in recipients}
    signals: list[str] = []
    resent: list[ForwardTrace] = []
    for trace in traces.traces:
        if trace.kind is TraceKind.RESENT:
            resent.append(trace)
            continue
        reason = _reason(trace, given, classify)
        if reason is not None and reason not in signals:
            signals.append(reason)
    if resent:
        signals.append(_resent_reason(resent))
    for recipient, original in original_recipients:
        address = parse_address(original)
        if address.text.lower() != recipient.lower() and address.domain \
                and _official(address, classify):
            signals.append(f"the envelope's ORCPT names a mailbox at the official domain "
                           f"{address.domain}: an alias or forward changed the recipient")
            break
    srs = srs_forwarder(sender)
    if srs is not None and _official(srs, classify):
        signals.append(f"the envelope sender was rewritten by SRS at the official domain "
                       f"{srs.domain}: a forwarder sent it on in the original sender's name")
    return ForwardFinding(tuple(signals))


def _reason(trace: ForwardTrace, given: set[str], classify: Classifier) -> str | None:
    address = trace.address
    if trace.kind is TraceKind.AUTO_FORWARDED:
        return f"{trace.field}: the sending software marked it as automatically forwarded"
    if address is None or address.text.lower() in given or not _official(address, classify):
        return None
    return (f"{trace.field}: names a mailbox at the official domain {address.domain}, not a "
            f"recipient of this copy: {_MAILBOX_MEANING[trace.kind]}")


def _resent_reason(resent: list[ForwardTrace]) -> str:
    names = ", ".join(dict.fromkeys(t.field for t in resent))
    by = next((t.address.domain for t in resent if t.address is not None), None)
    return (f"Resent-* header fields ({names}): the message was re-sent"
            + (f" by a mailbox at {by}" if by else "") + " (a redirect)")


def _official(address: Address, classify: Classifier) -> bool:
    return classify(address.text).domain_class is DomainClass.OFFICIAL
