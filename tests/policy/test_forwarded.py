"""The ``forwarded:`` condition: automatic forwards out of an official mailbox, in the default
policy and in policies of their own."""

from __future__ import annotations

import textwrap

import pytest

from govmilter.document.evidence import OfficialDocumentEvidence
from govmilter.mail.forwarding import read_forward_traces
from govmilter.policy import (
    Action,
    Policy,
    PolicyError,
    decide,
    decide_at_rcpt,
    decide_saved,
    load_policy,
    parse_policy,
)
from govmilter.policy.analysis import find_shadowed_rules
from govmilter.policy.description import describe_policy
from govmilter.policy.forwarding import Forwarded
from govmilter.policy.verdict import Envelope, MessageFacts, Verdict

DEFAULT = load_policy()
OFFICIAL_BOX = "chanh@hanoi.gov.vn"
GMAIL = "chanh.private@gmail.com"
PARTNER = "partner@vnpt.vn"


def facts(*fields: tuple[str, str], document: OfficialDocumentEvidence | None = None
          ) -> MessageFacts:
    if document is None:
        return MessageFacts(forward=read_forward_traces(fields))
    return MessageFacts(document=document, forward=read_forward_traces(fields))


def verdict_for(sender: str, recipient: str, message: MessageFacts) -> Verdict:
    return decide_saved(Envelope(sender, (recipient,)), message, DEFAULT)


# Each kind of trace an automatic forward leaves, as the gateway sees it.
FORWARDS = {
    "postfix .forward / alias (local adds Delivered-To)": (
        PARTNER, facts(("Delivered-To", OFFICIAL_BOX))),
    "virtual alias (the first server's Received for)": (
        PARTNER, facts(("Received", f"from mx by mail.hanoi.gov.vn (Postfix) with ESMTP id 4Q "
                                    f"for <{OFFICIAL_BOX}>; Sat, 5 Dec 2026 10:00:00 +0700"))),
    "X-Original-To of a delivery": (PARTNER, facts(("X-Original-To", OFFICIAL_BOX))),
    "Sieve redirect": (PARTNER, facts(("X-Sieve-Redirected-From", OFFICIAL_BOX))),
    "procmail-style redirect (Resent-*)": (
        PARTNER, facts(("Resent-From", OFFICIAL_BOX), ("Resent-To", GMAIL))),
    "Auto-Submitted: auto-forwarded": (PARTNER, facts(("Auto-Submitted", "auto-forwarded"))),
    "SRS sender of an official forwarder": (
        "SRS0=AbCd=TT=vnpt.vn=partner@hanoi.gov.vn", facts()),
}


@pytest.mark.parametrize("kind", sorted(FORWARDS))
def test_each_kind_of_forward_to_freemail_is_tagged_non_compliant(kind: str) -> None:
    sender, message = FORWARDS[kind]
    verdict = verdict_for(sender, GMAIL, message)
    assert verdict.forward.forwarded is Forwarded.AUTO
    assert len(verdict.forward.signals) == 1, verdict.forward.signals
    [recipient] = verdict.recipients
    assert (recipient.rule_id, recipient.action, recipient.compliant) == (
        "auto-forward-to-non-state", Action.TAG, False)
    # the reasons name domains, never mailboxes (they reach logs and reports)
    assert OFFICIAL_BOX not in verdict.forward.signals[0]


@pytest.mark.parametrize("recipient", [PARTNER, "someone@company.com.vn"])
def test_a_forward_to_any_mailbox_outside_the_state_system_counts(recipient: str) -> None:
    verdict = verdict_for(PARTNER, recipient, facts(("Delivered-To", OFFICIAL_BOX)))
    assert verdict.recipients[0].rule_id == "auto-forward-to-non-state"


def test_ordinary_mail_to_gmail_is_no_forward() -> None:
    # a user writing to Gmail from the official mailbox: the server's own Received names the
    # recipient, as it does for every single-recipient message
    message = facts(("Received", f"from pc by mail.hanoi.gov.vn (Postfix) with ESMTPSA id 4Q "
                                 f"for <{GMAIL}>; Sat, 5 Dec 2026 10:00:00 +0700"))
    verdict = verdict_for(OFFICIAL_BOX, GMAIL, message)
    assert verdict.forward.forwarded is Forwarded.NONE and verdict.forward.signals == ()
    assert verdict.recipients[0].rule_id == "default-accept"
    assert verdict.recipients[0].compliant


@pytest.mark.parametrize("fields", [
    (("Delivered-To", GMAIL),),  # delivered to a Gmail box before: not an official mailbox
    (("Delivered-To", "user@company.com.vn"),),
    (("X-Original-To", "user@gov.vn.com"),),  # a look-alike is not official
    (("Auto-Submitted", "auto-replied"),),  # an out-of-office reply
])
def test_traces_of_non_official_mailboxes_are_no_forward_out_of_one(
        fields: tuple[tuple[str, str], ...]) -> None:
    verdict = verdict_for(PARTNER, GMAIL, facts(*fields))
    assert verdict.forward.forwarded is Forwarded.NONE
    assert verdict.recipients[0].rule_id == "default-accept"


def test_a_forward_between_official_mailboxes_is_compliant() -> None:
    message = facts(("Delivered-To", OFFICIAL_BOX), ("Resent-From", OFFICIAL_BOX))
    for sender in (PARTNER, "vanthu@mic.gov.vn"):
        verdict = verdict_for(sender, "truongphong@hanoi.gov.vn", message)
        assert verdict.forward.forwarded is Forwarded.AUTO
        assert verdict.recipients[0].compliant
        assert verdict.recipients[0].action is Action.ACCEPT


def test_a_forwarded_secret_document_is_still_refused() -> None:
    secret = OfficialDocumentEvidence(True, 12.0, secrecy="MẬT")
    verdict = verdict_for("vanthu@mic.gov.vn", GMAIL,
                          facts(("Delivered-To", OFFICIAL_BOX), document=secret))
    assert verdict.recipients[0].rule_id == "secret-to-freemail"
    assert verdict.recipients[0].action is Action.REJECT


def test_the_forwarded_condition_waits_for_the_header_fields() -> None:
    # at RCPT nothing is known of the header: a rule on forwarded decides at end of message
    assert decide_at_rcpt(GMAIL, Envelope(PARTNER, (GMAIL,)), DEFAULT) is None
    envelope = Envelope(PARTNER, (GMAIL,))
    plain = decide(envelope, MessageFacts(), DEFAULT)
    assert plain.recipients[0].rule_id == "default-accept"


def policy_with(rules: str) -> Policy:
    return parse_policy(textwrap.dedent("""\
        domains:
          official: {suffixes: [gov.vn]}
          freemail: {builtin: false, extra: [gmail.com]}
        rules:
        """) + textwrap.indent(textwrap.dedent(rules), "  "), "test.yaml")


def test_forwarded_none_names_mail_that_is_no_forward() -> None:
    policy = policy_with("""\
        - id: plain-to-freemail
          when: {forwarded: none, recipient: freemail}
          action: tag
          compliant: true
        - id: rest
          action: accept
        """)
    assert policy.rule("plain-to-freemail").forwarded is Forwarded.NONE
    plain = decide_saved(Envelope(PARTNER, (GMAIL,)), facts(), policy)
    forwarded = decide_saved(Envelope(PARTNER, (GMAIL,)),
                             facts(("Delivered-To", OFFICIAL_BOX)), policy)
    assert plain.recipients[0].rule_id == "plain-to-freemail"
    assert forwarded.recipients[0].rule_id == "rest"


def test_an_unknown_forwarded_value_is_refused_with_its_line() -> None:
    with pytest.raises(PolicyError) as failure:
        policy_with("""\
            - id: odd
              when: {forwarded: sometimes}
              action: tag
            """)
    assert "test.yaml:6:" in str(failure.value)  # the line of the when: mapping
    assert "forwarded" in str(failure.value) and "auto" in str(failure.value)


def test_a_forwarded_rule_shadows_only_what_it_covers() -> None:
    # auto then none cover every message: the third rule is dead; a forwarded rule alone is not
    policy = policy_with("""\
        - id: forwarded
          when: {forwarded: auto, recipient: freemail}
          action: tag
        - id: to-freemail
          when: {recipient: freemail}
          action: tag
        - id: not-forwarded
          when: {forwarded: none, recipient: freemail}
          action: tag
        - id: rest
          action: accept
        """)
    assert [s.rule.id for s in find_shadowed_rules(policy)] == ["not-forwarded"]
    assert find_shadowed_rules(DEFAULT) == ()


def test_the_description_says_what_the_condition_means() -> None:
    [rule] = [r for r in describe_policy(DEFAULT).rules if r.rule_id == "auto-forward-to-non-state"]
    assert any(d.startswith("Chỉ thư được chuyển tiếp tự động từ hộp thư công vụ")
               for d in rule.details)


def test_an_orcpt_of_an_official_mailbox_is_a_forward() -> None:
    envelope = Envelope(PARTNER, (GMAIL,), original_recipients=((GMAIL, OFFICIAL_BOX),))
    verdict = decide_saved(envelope, facts(), DEFAULT)
    assert verdict.forward.forwarded is Forwarded.AUTO
    assert "ORCPT" in verdict.forward.signals[0] and OFFICIAL_BOX not in verdict.forward.signals[0]
    assert verdict.recipients[0].rule_id == "auto-forward-to-non-state"
    # an ORCPT that is the recipient itself (a client asking for DSN) is no forward
    same = Envelope(PARTNER, (GMAIL,), original_recipients=((GMAIL, GMAIL),))
    assert decide_saved(same, facts(), DEFAULT).forward.forwarded is Forwarded.NONE
