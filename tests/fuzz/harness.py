"""What every fuzzed message must satisfy: the invariants shared by the fuzzers and the replay test.

For any bytes: scanning and deciding with the default policy never raises, stays within the
limits, and never gives an official sender unless every From candidate is official.

:func:`xml_attachment_message` turns a small fuzzed input into a message with a large XML
attachment (a DOCX or ODT part, or an edXML package, up to 1 MiB): what libFuzzer's input cap
keeps small, the repetition makes large, so that work super-linear in the XML size shows as a
slow input (``-timeout``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from hostile_mail import docx_document, edxml_package, odt_document, with_attachment

from govmilter.domains.classify import DomainClass
from govmilter.policy import decide, list_classifier, load_policy
from govmilter.policy.verdict import Envelope, Verdict
from govmilter.scan import scan_message
from govmilter.tools.envelope import stand_in_sender

POLICY = load_policy()
CLASSIFY = list_classifier(POLICY)
#: Used when the message names no recipient: the flow the policy polices most.
FALLBACK_RECIPIENTS = ("leak@gmail.com", "cntt@hanoi.gov.vn")


def check_message(raw: bytes) -> Verdict:
    """Scan and decide ``raw`` as ``govmilter check`` does; assert the invariants."""
    facts = scan_message(raw, POLICY)
    limits = POLICY.limits
    assert facts.scanned_bytes <= limits.max_scan_bytes, facts.scanned_bytes
    sender, _ = stand_in_sender(facts.header_from, CLASSIFY)
    recipients = facts.header_to[:20] or FALLBACK_RECIPIENTS
    verdict = decide(Envelope(sender, recipients), facts, POLICY)
    if verdict.sender_class.domain_class is DomainClass.OFFICIAL:
        assert all(CLASSIFY(c).domain_class is DomainClass.OFFICIAL for c in facts.header_from)
    assert len(verdict.recipients) == len(recipients)
    return verdict


#: (what the repeated fragment goes into, its start, the attachment's file name)
XML_CONTAINERS = (
    (docx_document, b"<w:document><w:body><w:p>", "van-ban.docx"),
    (odt_document, b"<office:document-content><office:body><office:text>", "van-ban.odt"),
    (edxml_package, b"<edXML:edXMLEnvelope>", "goi.edxml"),
)
#: Sizes of the XML made: 64 KiB to 1 MiB.
XML_SIZES = tuple(64 * 1024 << i for i in range(5))


def xml_attachment_message(data: bytes) -> bytes:
    """A message carrying a large XML attachment made from ``data``: its first byte picks the
    container, its second the size, the rest is the fragment repeated to that size."""
    make, start, filename = XML_CONTAINERS[data[0] % len(XML_CONTAINERS) if data else 0]
    size = XML_SIZES[data[1] % len(XML_SIZES) if len(data) > 1 else 0]
    fragment = data[2:] or b"<"
    return with_attachment(make(start + fragment * (size // len(fragment) + 1)), filename)


def fuzz(target: Callable[[bytes], None], regressions: Path) -> None:
    """Run libFuzzer on ``target`` with this script's arguments; artifacts (crashes, slow
    inputs) go to ``regressions`` unless ``-artifact_prefix`` says otherwise."""
    import atheris  # only the fuzz scripts need it, not the replay tests

    args = list(sys.argv)
    if not any(a.startswith("-artifact_prefix=") for a in args):
        args.append(f"-artifact_prefix={regressions}/")
    atheris.Setup(args, target)
    atheris.Fuzz()
