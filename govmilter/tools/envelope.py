"""The SMTP envelope a saved message stands for (``check``, ``explain``, ``replay``).

A saved message has lost its envelope. What the user gives wins; otherwise trace headers
(``Return-Path``, ``X-Original-To``, ``Delivered-To``) tell how it was delivered, and the From and
To/Cc headers stand in last. From headers are attacker-controlled: when they offer several
mailboxes, the least-privileged reading stands in for the sender, and the verdict says so.
"""

from __future__ import annotations

import email.parser
import email.policy
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from govmilter.domains.classify import Classifier, DomainClass
from govmilter.mail.addresses import parse_address
from govmilter.policy.decide import list_classifier
from govmilter.policy.model import Policy
from govmilter.policy.verdict import Envelope, MessageFacts


def stand_in_sender(candidates: Sequence[str], classify: Classifier) -> tuple[str, tuple[str, ...]]:
    """Pick the header address that stands in for a missing envelope sender, with a note.

    When the From fields offer several mailboxes (several fields, a list, a malformed header read
    both ways), the least-privileged reading wins: the first candidate that is not official, and
    an official one only when every candidate is official. No candidate gives the null sender.
    """
    if not candidates:
        return "", ("sender: no From address, the null sender stands in",)
    if len(candidates) == 1:
        return candidates[0], ()
    for candidate in candidates:
        if classify(candidate).domain_class is not DomainClass.OFFICIAL:
            return candidate, (f"sender: {len(candidates)} From candidates, the first "
                               "non-official one stands in for the envelope sender",)
    return candidates[0], (f"sender: {len(candidates)} From candidates, all official",)


def envelope_for(facts: MessageFacts, policy: Policy, sender: str | None = None,
                 rcpts: Sequence[str] = (), auth: str | None = None,
                 service: str | None = None) -> tuple[Envelope, MessageFacts]:
    """The envelope ``check`` assumes: the given addresses, else the From and To/Cc headers.

    Returns the facts too: a note is added when the From header had to be read the
    least-privileged way.
    """
    if sender is None:
        sender, notes = stand_in_sender(facts.header_from, list_classifier(policy))
        if notes:
            facts = replace(facts, notes=(*facts.notes, *notes))
    recipients = tuple(rcpts) if rcpts else facts.header_to
    envelope = Envelope(sender=sender, recipients=recipients, authenticated_user=auth,
                        service=service)
    return envelope, facts


_HEADER_PARSER = email.parser.BytesHeaderParser(policy=email.policy.compat32)


def _first_address(values: Sequence[Any]) -> str | None:
    """The topmost header value that holds a usable address (the most recent hop adds on top)."""
    for value in values:
        address = parse_address(str(value))
        if address.domain is not None or address.is_null:
            return address.text
    return None


def envelope_from_headers(raw: bytes, facts: MessageFacts, policy: Policy,
                          sender: str | None = None, rcpts: Sequence[str] = (),
                          auth: str | None = None, service: str | None = None
                          ) -> tuple[Envelope, MessageFacts]:
    """Rebuild the SMTP envelope a stored message was delivered with, as far as headers tell.

    The sender is ``Return-Path`` (``<>`` for bounces); the recipient is ``X-Original-To`` (the
    address as the client sent it in RCPT TO, which is what the milter saw), else
    ``Delivered-To``: a stored copy was delivered to that one recipient. Without those headers
    the envelope is From and To/Cc, as for ``govmilter check``. A given ``sender`` or ``rcpts``
    wins over the headers.
    """
    headers = _HEADER_PARSER.parsebytes(raw, headersonly=True)
    if sender is None:
        sender = _first_address(headers.get_all("Return-Path", []))
    if not rcpts:
        recipient = (_first_address(headers.get_all("X-Original-To", []))
                     or _first_address(headers.get_all("Delivered-To", [])))
        rcpts = [recipient] if recipient else []
    return envelope_for(facts, policy, sender, rcpts, auth, service)
