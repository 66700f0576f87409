"""From raw message bytes to :class:`MessageFacts`: the one path the milter and the CLI share."""

from __future__ import annotations

from govmilter.document import detect_document
from govmilter.message import parse_message
from govmilter.policy.model import Policy
from govmilter.verdict import MessageFacts


def scan_message(raw: bytes, policy: Policy) -> MessageFacts:
    """Parse the message within the policy's limits and detect an official document in it."""
    content = parse_message(raw, policy.limits)
    document = detect_document(content, policy.detection, policy.limits)
    return MessageFacts(
        document=document, header_from=content.header_from, header_to=content.header_to,
        scanned_bytes=content.scanned_bytes, notes=content.notes,
    )
