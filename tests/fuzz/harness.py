"""What every fuzzed message must satisfy: the invariants shared by the fuzzer and the replay test.

For any bytes: scanning and deciding with the default policy never raises, stays within the
limits, and never gives an official sender unless every From candidate is official.
"""

from __future__ import annotations

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
