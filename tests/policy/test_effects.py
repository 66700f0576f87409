"""plan(): what the milter does with a verdict, as values, without a milter context."""

from __future__ import annotations

import dataclasses
from email.header import decode_header, make_header

import pytest
from samples import (
    EXTERNAL_RCPT,
    FREEMAIL_RCPT,
    OFFICER,
    OFFICIAL_RCPT,
    OFFICIAL_SENDER,
    SECRET_REPLY_EN,
    policy_yaml,
)

from govmilter.document.evidence import OfficialDocumentEvidence
from govmilter.policy import decide_saved, parse_policy
from govmilter.policy.effects import (
    HEADER_NAME,
    AddHeader,
    AddRecipient,
    ChangeHeader,
    DeleteRecipient,
    Hold,
    ReceivedHeaders,
    Reject,
    RemoveHeader,
    plan,
)
from govmilter.policy.verdict import Envelope, MessageFacts, Verdict

SECRET = MessageFacts(OfficialDocumentEvidence(True, 12.0, secrecy="MẬT"))
OFFICIAL = MessageFacts(OfficialDocumentEvidence(True, 9.0))
UNSCANNABLE = MessageFacts(OfficialDocumentEvidence(False, 0.0, unscannable=("encrypted",)))
PLAIN = MessageFacts()


def verdict(facts: MessageFacts, *rcpts: str, mode: str = "enforce", rules: str | None = None,
            service: str | None = None) -> Verdict:
    policy = parse_policy(policy_yaml(mode=mode) if rules is None
                          else policy_yaml(mode=mode, rules=rules))
    return decide_saved(Envelope(OFFICIAL_SENDER, rcpts, service=service), facts, policy)


def test_a_message_every_recipient_rejects_gets_one_reject_with_the_rules_reply() -> None:
    (action,) = plan(verdict(SECRET, FREEMAIL_RCPT), ReceivedHeaders(b"x", stamped=2))
    assert isinstance(action, Reject) and action.reply is not None
    assert (action.reply.code, action.reply.enhanced) == (550, "5.7.1")
    assert SECRET_REPLY_EN in action.reply.lines


def test_a_reject_rule_without_a_reply_answers_with_the_permanent_default() -> None:
    rules = "rules:\n  - id: refuse-freemail\n    when: {recipient: freemail}\n    action: reject\n"
    (action,) = plan(verdict(PLAIN, FREEMAIL_RCPT, rules=rules))
    assert isinstance(action, Reject) and action.reply is not None
    assert (action.reply.code, action.reply.enhanced) == (550, "5.7.1")


def test_mixed_recipients_delete_only_the_rejected_one_and_tag_for_the_rest() -> None:
    assert plan(verdict(SECRET, OFFICIAL_RCPT, FREEMAIL_RCPT)) == (
        DeleteRecipient(FREEMAIL_RCPT),
        AddHeader(HEADER_NAME, "compliant; rule=official-to-official; document=secret"),
    )


def test_a_recipient_refused_at_rcpt_is_not_deleted_again() -> None:
    refused = verdict(SECRET, EXTERNAL_RCPT, OFFICIAL_RCPT, service="submission")
    assert [r.refused_at_rcpt for r in refused.recipients] == [True, False]
    assert plan(refused) == (
        AddHeader(HEADER_NAME, "compliant; rule=official-to-official; document=secret"),)


def test_quarantine_holds_with_the_rules_reason_and_copies_the_officer() -> None:
    assert plan(verdict(OFFICIAL, FREEMAIL_RCPT)) == (
        Hold("official document to free webmail", "document-to-freemail"),
        AddRecipient(OFFICER),
    )
    # the officer already a recipient: no second copy
    actions = plan(verdict(OFFICIAL, FREEMAIL_RCPT, OFFICER))
    assert AddRecipient(OFFICER) not in actions
    assert Hold("official document to free webmail", "document-to-freemail") in actions


def test_a_hold_without_a_reason_names_its_rule() -> None:
    rules = "rules:\n  - id: hold-all\n    action: quarantine\n"
    assert plan(verdict(PLAIN, OFFICIAL_RCPT, rules=rules)) == (
        Hold("govmilter rule hold-all", "hold-all"),)


def test_received_verdict_headers_are_removed_last_first_before_ours_is_added() -> None:
    actions = plan(verdict(PLAIN, OFFICIAL_RCPT), ReceivedHeaders(stamped=2))
    assert actions == (
        RemoveHeader(HEADER_NAME, 2), RemoveHeader(HEADER_NAME, 1),
        AddHeader(HEADER_NAME, "compliant; rule=official-to-official; document=none"),
    )


@pytest.mark.parametrize(("subject", "expected"), [
    pytest.param(None, None, id="no-subject-is-added"),
    pytest.param(b"Bao cao", "Bao cao", id="plain-subject-is-changed"),
    pytest.param(b"=?utf-8?q?B=C3=A1o?=", "Báo", id="encoded-subject-keeps-its-space"),
])
def test_subject_prefix_goes_in_front_of_the_original(subject: bytes | None,
                                                       expected: str | None) -> None:
    actions = plan(verdict(UNSCANNABLE, FREEMAIL_RCPT), ReceivedHeaders(subject))
    (header,) = [a for a in actions if getattr(a, "name", "") == "Subject"]
    if subject is None:
        assert isinstance(header, AddHeader)
        assert str(make_header(decode_header(header.value))) == "[VĂN BẢN GỬI WEBMAIL]"
    else:
        assert isinstance(header, ChangeHeader) and header.index == 1
        assert str(make_header(decode_header(header.value))) == \
            f"[VĂN BẢN GỬI WEBMAIL] {expected}"


def test_a_subject_that_is_not_utf8_is_left_alone() -> None:
    actions = plan(verdict(UNSCANNABLE, FREEMAIL_RCPT), ReceivedHeaders(b"B\xe1o c\xe1o"))
    assert not [a for a in actions if isinstance(a, AddHeader | ChangeHeader)
                and a.name == "Subject"]


def test_monitor_mode_plans_nothing_unless_the_monitor_header_is_on() -> None:
    monitored = verdict(SECRET, FREEMAIL_RCPT, mode="monitor")
    assert plan(monitored, ReceivedHeaders(stamped=1)) == ()
    assert plan(monitored, ReceivedHeaders(stamped=1), monitor_header=True) == (AddHeader(
        HEADER_NAME, "non-compliant; rule=secret-to-freemail; document=secret; mode=monitor"),)


def test_the_plan_is_made_of_frozen_values() -> None:
    actions = plan(verdict(OFFICIAL, FREEMAIL_RCPT, OFFICIAL_RCPT), ReceivedHeaders(stamped=1))
    assert actions == plan(verdict(OFFICIAL, FREEMAIL_RCPT, OFFICIAL_RCPT),
                           ReceivedHeaders(stamped=1))
    assert len(set(actions)) == len(actions)  # hashable: they can be counted and recorded
    with pytest.raises(dataclasses.FrozenInstanceError):
        actions[0].name = "X-Other"  # type: ignore[union-attr,misc]

