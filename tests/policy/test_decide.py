"""decide(): the default policy's verdict table, monitor mode, RCPT-time decisions."""

from __future__ import annotations

import textwrap

import pytest

from govmilter.document.evidence import OfficialDocumentEvidence
from govmilter.policy import (
    Action,
    DocumentClass,
    Mode,
    Policy,
    decide,
    decide_at_rcpt,
    decide_saved,
    load_policy,
    parse_policy,
    refusal_at_rcpt,
)
from govmilter.policy.verdict import Envelope, MessageFacts

DEFAULT = load_policy()

DOCUMENTS = {
    "secret": OfficialDocumentEvidence(True, 12.0, secrecy="TỐI MẬT"),
    "official": OfficialDocumentEvidence(True, 9.0),
    "unscannable": OfficialDocumentEvidence(False, 0.0, unscannable=("encrypted part",)),
    "none": OfficialDocumentEvidence(False, 1.0),
}
ADDRESSES = {
    "official": "vanthu@mic.gov.vn",
    "freemail": "someone@gmail.com",
    "external": "partner@vnpt.vn",
}


def facts(document: str) -> MessageFacts:
    return MessageFacts(document=DOCUMENTS[document])


# The default policy, as the README's table promises it: (sender, recipient, document) -> outcome.
TABLE = [
    ("official", "official", "secret", "accept", "official-to-official", True),
    ("official", "official", "official", "accept", "official-to-official", True),
    ("official", "official", "none", "accept", "official-to-official", True),
    ("official", "freemail", "secret", "reject", "secret-to-freemail", False),
    ("official", "freemail", "official", "tag", "document-to-freemail", False),
    ("official", "freemail", "unscannable", "tag", "unscannable-to-freemail", False),
    ("official", "freemail", "none", "accept", "default-accept", True),
    ("freemail", "official", "secret", "tag", "document-from-freemail", False),
    ("freemail", "official", "official", "tag", "document-from-freemail", False),
    ("freemail", "official", "none", "accept", "default-accept", True),
    ("official", "external", "official", "accept", "default-accept", True),
    ("external", "official", "official", "accept", "default-accept", True),
    ("freemail", "freemail", "secret", "accept", "default-accept", True),
]


@pytest.mark.parametrize(
    ("sender", "recipient", "document", "action", "rule", "compliant"),
    [pytest.param(*row, id=f"{row[0]}-to-{row[1]}-{row[2]}") for row in TABLE],
)
def test_default_policy_table(sender: str, recipient: str, document: str, action: str,
                              rule: str, compliant: bool) -> None:
    envelope = Envelope(ADDRESSES[sender], (ADDRESSES[recipient],))
    verdict = decide(envelope, facts(document), DEFAULT)
    (r,) = verdict.recipients
    assert (r.action.value, r.rule_id, r.compliant) == (action, rule, compliant)
    assert r.applied


def test_non_documents_are_never_a_violation() -> None:
    for sender in ADDRESSES.values():
        for recipient in ADDRESSES.values():
            verdict = decide(Envelope(sender, (recipient,)), facts("none"), DEFAULT)
            assert verdict.compliant


def test_mixed_recipients_only_the_freemail_one_is_rejected() -> None:
    envelope = Envelope(ADDRESSES["official"], ("a@hanoi.gov.vn", "b@gmail.com"))
    verdict = decide(envelope, facts("secret"), DEFAULT)
    assert [r.action for r in verdict.recipients] == [Action.ACCEPT, Action.REJECT]
    assert verdict.message_action is Action.ACCEPT  # delivered to the official recipient
    assert not verdict.compliant


def test_every_recipient_rejected_rejects_the_message() -> None:
    envelope = Envelope(ADDRESSES["official"], ("a@gmail.com", "b@yahoo.com"))
    verdict = decide(envelope, facts("secret"), DEFAULT)
    assert verdict.message_action is Action.REJECT


def policy(rules: str, mode: str = "enforce") -> Policy:
    text = f"mode: {mode}\nrules:\n" + textwrap.indent(textwrap.dedent(rules), "  ")
    return parse_policy(text, "t.yaml", freemail_source=lambda: frozenset({"gmail.com"}))


def test_global_monitor_mode_reports_but_does_not_apply() -> None:
    monitored = policy("- id: block\n  when: {recipient: freemail}\n  action: reject\n",
                       mode="monitor")
    verdict = decide(Envelope("a@mic.gov.vn", ("b@gmail.com",)), facts("none"), monitored)
    (r,) = verdict.recipients
    assert r.action is Action.REJECT and r.mode is Mode.MONITOR and not r.applied
    assert verdict.message_action is Action.REJECT
    assert verdict.applied_message_action is Action.ACCEPT


def test_rule_monitor_mode_only_affects_that_rule() -> None:
    p = policy("""\
        - id: trial
          when: {recipient: freemail}
          action: reject
          mode: monitor
        - id: hold-external
          when: {recipient: external}
          action: quarantine
        """)
    verdict = decide(Envelope("a@mic.gov.vn", ("b@gmail.com", "c@corp.vn")), facts("none"), p)
    assert [(r.rule_id, r.applied) for r in verdict.recipients] == [
        ("trial", False), ("hold-external", True)]
    assert verdict.applied_message_action is Action.QUARANTINE


def test_scope_message_rejects_everyone() -> None:
    p = policy("""\
        - id: stop-all
          when: {recipient: freemail, document: official}
          action: reject
          scope: message
        """)
    verdict = decide(Envelope("a@mic.gov.vn", ("x@hanoi.gov.vn", "b@gmail.com")),
                     facts("official"), p)
    assert verdict.message_action is Action.REJECT


def test_authenticated_and_service_conditions() -> None:
    p = policy("""\
        - id: submission-only
          when: {authenticated: true, service: [submission], recipient: freemail}
          action: tag
        """)
    base = Envelope("a@mic.gov.vn", ("b@gmail.com",))
    assert decide(base, facts("none"), p).recipients[0].rule_id == "implicit-accept"
    logged_in = Envelope("a@mic.gov.vn", ("b@gmail.com",), authenticated_user="a",
                         service="submission")
    assert decide(logged_in, facts("none"), p).recipients[0].rule_id == "submission-only"


def test_official_condition_covers_secret_documents() -> None:
    p = policy("- id: docs\n  when: {document: official}\n  action: tag\n")
    verdict = decide(Envelope("a@mic.gov.vn", ("b@gmail.com",)), facts("secret"), p)
    assert verdict.recipients[0].rule_id == "docs"
    assert verdict.document.document_class is DocumentClass.SECRET


def test_rcpt_time_decision_only_for_content_free_rules() -> None:
    p = policy("""\
        - id: no-lookalike
          when: {recipient: freemail, sender: external}
          action: reject
        - id: docs-to-freemail
          when: {recipient: freemail, document: official}
          action: reject
        """)
    early = decide_at_rcpt("b@gmail.com", Envelope("x@corp.vn", ()), p)
    assert early is not None and early.action is Action.REJECT and early.rule_id == "no-lookalike"
    # A content rule matches first for an official sender: wait for the end of message.
    assert decide_at_rcpt("b@gmail.com", Envelope("a@mic.gov.vn", ()), p) is None
    # No rule can match: the implicit accept is known at once.
    late = decide_at_rcpt("c@hanoi.gov.vn", Envelope("a@mic.gov.vn", ()), p)
    assert late is not None and late.rule_id == "implicit-accept"


def test_rcpt_time_verdict_equals_the_end_of_message_verdict() -> None:
    for sender in ADDRESSES.values():
        for recipient in ADDRESSES.values():
            early = decide_at_rcpt(recipient, Envelope(sender, ()), DEFAULT)
            if early is None:
                continue
            for document in DOCUMENTS:
                late = decide(Envelope(sender, (recipient,)), facts(document), DEFAULT)
                assert late.recipients[0] == early


REFUSING = """\
    - id: no-freemail
      when: {recipient: freemail, sender: external}
      action: reject
      reply: {code: 550, enhanced: 5.7.1, en: no freemail}
    - id: tag-freemail
      when: {recipient: freemail}
      action: tag
    """


def test_one_verdict_holds_the_recipients_refused_at_rcpt_in_envelope_order() -> None:
    p = policy(REFUSING)
    envelope = Envelope("x@corp.vn", ("a@hanoi.gov.vn", "b@gmail.com", "c@gmail.com"))
    refused = [r for a in envelope.recipients if (r := refusal_at_rcpt(a, envelope, p))]
    assert [r.address for r in refused] == ["b@gmail.com", "c@gmail.com"]
    assert all(r.refused_at_rcpt and r.reply and r.reply.code == 550 for r in refused)
    verdict = decide(envelope, facts("secret"), p, refused=refused)
    assert [(r.address, r.action, r.refused_at_rcpt) for r in verdict.recipients] == [
        ("a@hanoi.gov.vn", Action.ACCEPT, False),
        ("b@gmail.com", Action.REJECT, True), ("c@gmail.com", Action.REJECT, True)]
    assert verdict.recipients[1] is refused[0]  # what was carried out at RCPT stands as given
    assert verdict.applied_message_action is Action.ACCEPT  # the official recipient gets it
    # a saved message goes through the same RCPT stage: check, explain and replay agree
    assert decide_saved(envelope, facts("secret"), p) == verdict


def test_refusals_the_envelope_lacks_still_count_for_the_message() -> None:
    """All recipients refused and no message followed: the verdict is the refusals alone."""
    p = policy(REFUSING)
    refused = refusal_at_rcpt("b@gmail.com", Envelope("x@corp.vn", ()), p)
    assert refused is not None
    verdict = decide(Envelope("x@corp.vn", ()), MessageFacts(), p, refused=[refused])
    assert verdict.recipients == (refused,)
    assert verdict.applied_message_action is Action.REJECT


def test_rcpt_refuses_only_enforced_rejects() -> None:
    p = policy(REFUSING)
    assert refusal_at_rcpt("b@gmail.com", Envelope("a@mic.gov.vn", ()), p) is None  # tag
    monitored = policy(REFUSING, mode="monitor")
    assert refusal_at_rcpt("b@gmail.com", Envelope("x@corp.vn", ()), monitored) is None
    verdict = decide_saved(Envelope("x@corp.vn", ("b@gmail.com",)), facts("none"), monitored)
    (r,) = verdict.recipients
    assert r.action is Action.REJECT and not r.applied and not r.refused_at_rcpt
