"""The SMTP envelope a saved message stands for: one rule for ``check``, ``explain`` and ``replay``.

A saved message has lost its envelope. :func:`saved_envelope` rebuilds it, each half on its own:

* sender: ``--sender`` if given, else ``Return-Path`` (``<>`` for bounces), else the From
  header (read the least-privileged way when it offers several mailboxes: From headers are
  attacker-controlled, and the verdict says so in a note);
* recipients: ``--rcpt`` if given, else ``X-Original-To`` (the address as the client sent it in
  RCPT TO, which is what the milter saw), else ``Delivered-To`` (a stored copy was delivered to
  that one recipient), else the To and Cc headers.
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


_HEADER_PARSER = email.parser.BytesHeaderParser(policy=email.policy.compat32)


def _first_address(values: Sequence[Any]) -> str | None:
    """The topmost header value that holds a usable address (the most recent hop adds on top)."""
    for value in values:
        address = parse_address(str(value))
        if address.domain is not None or address.is_null:
            return address.text
    return None


def saved_envelope(raw: bytes, facts: MessageFacts, policy: Policy,
                   sender: str | None = None, rcpts: Sequence[str] = (),
                   auth: str | None = None, service: str | None = None
                   ) -> tuple[Envelope, MessageFacts]:
    """The envelope of a saved message by the module's rule; a given ``sender`` or ``rcpts``
    wins over the headers.

    Returns the facts too: a note is added when the From header had to stand in for the sender
    the least-privileged way.
    """
    headers = _HEADER_PARSER.parsebytes(raw, headersonly=True)
    if sender is None:
        sender = _first_address(headers.get_all("Return-Path", []))
    if sender is None:
        sender, notes = stand_in_sender(facts.header_from, list_classifier(policy))
        if notes:
            facts = replace(facts, notes=(*facts.notes, *notes))
    if not rcpts:
        recipient = (_first_address(headers.get_all("X-Original-To", []))
                     or _first_address(headers.get_all("Delivered-To", [])))
        rcpts = [recipient] if recipient else facts.header_to
    envelope = Envelope(sender=sender, recipients=tuple(rcpts), authenticated_user=auth,
                        service=service)
    return envelope, facts
