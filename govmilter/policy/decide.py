"""``decide()``: the one place a verdict is made, shared by the milter and ``govmilter check``."""

from __future__ import annotations

import datetime as _dt
import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

from govmilter.document.settings import DocumentClass
from govmilter.domains.classify import (
    Classifier,
    DomainClassification,
    ListsClassifier,
)
from govmilter.mail.addresses import Address, parse_address
from govmilter.policy.forwarding import NOT_FORWARDED, ForwardFinding, find_forwarding
from govmilter.policy.model import Action, Mode, Policy, Rule
from govmilter.policy.verdict import Envelope, MessageFacts, RecipientVerdict, Verdict

#: The id reported when no rule matched and the implicit accept applied.
IMPLICIT_RULE_ID = "implicit-accept"

def list_classifier(policy: Policy, today: _dt.date | None = None) -> Classifier:
    """Classify addresses by the policy's lists and exceptions alone (no DNS): see
    :class:`govmilter.domains.classify.ListsClassifier`."""
    return ListsClassifier(policy.domains, today)


def effective_mode(rule: Rule | None, policy: Policy) -> Mode:
    """Monitor if the whole policy or the rule is in monitor mode: the global switch always wins."""
    if policy.mode is Mode.MONITOR or (rule is not None and rule.mode is Mode.MONITOR):
        return Mode.MONITOR
    return Mode.ENFORCE


def _document_matches(wanted: DocumentClass, found: DocumentClass) -> bool:
    if wanted is DocumentClass.ANY:
        return True
    # official covers secret, which covers marked: a secrecy marking alone makes mail count as
    # a secret document for every rule (see DocumentClass)
    if wanted is DocumentClass.OFFICIAL:
        return found in (DocumentClass.OFFICIAL, DocumentClass.SECRET, DocumentClass.MARKED)
    if wanted is DocumentClass.SECRET:
        return found in (DocumentClass.SECRET, DocumentClass.MARKED)
    return wanted is found


@dataclass(frozen=True, slots=True)
class ConditionCheck:
    """One condition of a rule checked against a message: which, whether it holds, and why."""

    #: "sender", "sender_unit", "sender_address", "sender_domain", "recipient",
    #: "authenticated", "service", "document" or "forwarded"
    condition: str
    matched: bool
    reason: str  #: what was found and what the rule wants, e.g. "sender class is official, ..."


#: A condition checked: its name, whether it holds, and a function giving the reason (made only
#: when asked for: a message walks several rules, and most conditions it meets just hold).
_Check = tuple[str, bool, Callable[[], str]]


def _checks(
    rule: Rule,
    envelope: Envelope,
    sender: DomainClassification,
    recipient: DomainClassification,
    document: DocumentClass | None,
    sender_unit: str | None,
    forward: ForwardFinding | None,
) -> Iterator[_Check]:
    """The conditions of :func:`rule_conditions`, each with its reason still unwritten."""
    if rule.senders is not None:
        yield ("sender", sender.domain_class in rule.senders,
               lambda: f"sender class is {sender.domain_class}, rule wants {_names(rule.senders)}")
    if rule.sender_units is not None:
        yield ("sender_unit", sender_unit in rule.sender_units,
               lambda: f"sender unit is {sender_unit or 'none'}, "
                       f"rule wants {_names(rule.sender_units)}")
    if rule.sender_addresses is not None:
        addresses = rule.sender_addresses
        listed = addresses.entry_for(_address(envelope.sender)) is not None
        yield ("sender_address", listed,
               lambda: f"sender address is {'' if listed else 'not '}one of the rule's "
                       f"{len(addresses)} sender_address entries")
    if rule.sender_domains is not None:
        domains = rule.sender_domains
        entry = domains.entry_for(_address(envelope.sender))
        domain = _address(envelope.sender).domain or "none"
        yield ("sender_domain", entry is not None,
               lambda: f"sender domain {domain} is under {entry}" if entry else
                       f"sender domain {domain} is under none of the rule's "
                       f"{len(domains)} sender_domain entries")
    if rule.recipients is not None:
        yield ("recipient", recipient.domain_class in rule.recipients,
               lambda: f"recipient class is {recipient.domain_class}, "
                       f"rule wants {_names(rule.recipients)}")
    if rule.authenticated is not None:
        yield ("authenticated", bool(envelope.authenticated_user) == rule.authenticated,
               lambda: f"sender is "
                       f"{'authenticated' if envelope.authenticated_user else 'not authenticated'}"
                       f", rule wants authenticated={str(rule.authenticated).lower()}")
    if rule.services is not None:
        yield ("service", envelope.service in rule.services,
               lambda: f"service is {envelope.service or 'unknown'}, "
                       f"rule wants {_names(rule.services)}")
    if document is not None and rule.document is not DocumentClass.ANY:
        yield ("document", _document_matches(rule.document, document),
               lambda: f"document is {document}, rule wants {rule.document}")
    if forward is not None and rule.forwarded is not None:
        yield ("forwarded", forward.forwarded is rule.forwarded,
               lambda: f"forwarded is {forward.forwarded}, rule wants {rule.forwarded}")


def rule_conditions(
    rule: Rule,
    envelope: Envelope,
    sender: DomainClassification,
    recipient: DomainClassification,
    document: DocumentClass | None,
    sender_unit: str | None = None,
    forward: ForwardFinding | None = None,
) -> Iterator[ConditionCheck]:
    """Check each condition ``rule`` sets, in order; conditions it leaves open are not listed.

    ``document`` and ``forward`` None mean the content is not known yet (RCPT time): the
    document and forwarded conditions are then skipped.
    ``sender_unit`` is the unit of ``envelope.sender`` (``policy.units.unit_of``), None for none.
    """
    for condition, matched, reason in _checks(rule, envelope, sender, recipient, document,
                                              sender_unit, forward):
        yield ConditionCheck(condition, matched, reason())


def rule_mismatch(
    rule: Rule,
    envelope: Envelope,
    sender: DomainClassification,
    recipient: DomainClassification,
    document: DocumentClass | None,
    sender_unit: str | None = None,
    forward: ForwardFinding | None = None,
) -> str | None:
    """Say why ``rule`` does not match, or return None when it does.

    The same checks as :func:`rule_conditions`, stopping at the first that fails; only its
    reason is written. ``document`` and ``forward`` None mean the content is not known yet (RCPT
    time): those conditions are then not checked here. ``sender_unit`` as for
    :func:`rule_conditions`.
    """
    for _, matched, reason in _checks(rule, envelope, sender, recipient, document, sender_unit,
                                      forward):
        if not matched:
            return reason()
    return None


@functools.lru_cache(maxsize=1024)  # a rule's sets are the same on every message
def _names(values: frozenset[object]) -> str:
    return "|".join(sorted(str(v) for v in values))


@functools.lru_cache(maxsize=256)  # every rule with a sender list looks at the same sender
def _address(text: str) -> Address:
    return parse_address(text)


def _verdict_for(address: str, recipient: DomainClassification, rule: Rule | None,
                 policy: Policy) -> RecipientVerdict:
    mode = effective_mode(rule, policy)
    unit = policy.units.unit_of(address)
    if rule is None:
        return RecipientVerdict(address, recipient, IMPLICIT_RULE_ID, Action.ACCEPT, mode, True,
                                unit=unit)
    return RecipientVerdict(
        address=address, classification=recipient, rule_id=rule.id, action=rule.action,
        mode=mode, compliant=rule.compliant, reply=rule.reply,
        tag=rule.tag if rule.action is Action.TAG else None, scope=rule.scope,
        copy_to=rule.copy_to, hold_reason=rule.hold_reason, unit=unit,
    )


def decide_recipient(
    address: str,
    envelope: Envelope,
    sender: DomainClassification,
    document: DocumentClass,
    policy: Policy,
    classify: Classifier,
    sender_unit: str | None = None,
    forward: ForwardFinding = NOT_FORWARDED,
) -> RecipientVerdict:
    """Walk the rules in order for one recipient; the first match wins."""
    recipient = classify(address)
    for rule in policy.rules:
        if rule_mismatch(rule, envelope, sender, recipient, document, sender_unit,
                         forward) is None:
            return _verdict_for(address, recipient, rule, policy)
    return _verdict_for(address, recipient, None, policy)


def refuses_at_rcpt(policy: Policy) -> bool:
    """Whether any rule can refuse a recipient at RCPT time (content-free, enforced reject).

    When none can, nothing decided at RCPT changes what happens to the mail, so the caller need
    not wait for the classes there: the decision (and its DNS waiting) all happens at end of
    message, where :func:`decide` gives the same verdicts.
    """
    return bool(rcpt_refusing_rules(policy))


def rcpt_refusing_rules(policy: Policy) -> tuple[Rule, ...]:
    """The rules that refuse recipients at RCPT time: content-free, enforced rejects."""
    return tuple(rule for rule in policy.rules if rule.content_free
                 and rule.action is Action.REJECT
                 and effective_mode(rule, policy) is Mode.ENFORCE)


def decide_at_rcpt(
    address: str,
    envelope: Envelope,
    policy: Policy,
    classify: Classifier | None = None,
) -> RecipientVerdict | None:
    """Decide for a recipient before the content is known, if the rules allow it.

    Returns the verdict when the first rule whose envelope conditions match needs no content
    (``document: any``), or when no rule can match at all; returns None when the decision has to
    wait for the end of the message. The result always equals what :func:`decide` gives later.
    """
    classify = classify or list_classifier(policy)
    sender = classify(envelope.sender)
    sender_unit = policy.units.unit_of(envelope.sender)
    recipient = classify(address)
    for rule in policy.rules:
        if rule_mismatch(rule, envelope, sender, recipient, None, sender_unit) is None:
            return _verdict_for(address, recipient, rule, policy) if rule.content_free else None
    return _verdict_for(address, recipient, None, policy)


def refusal_at_rcpt(
    address: str,
    envelope: Envelope,
    policy: Policy,
    classify: Classifier | None = None,
) -> RecipientVerdict | None:
    """The verdict that refuses ``address`` at RCPT, or None when RCPT lets it through.

    A recipient is refused there when :func:`decide_at_rcpt` answers an enforced reject; the
    verdict returned is marked :attr:`~RecipientVerdict.refused_at_rcpt` and goes to
    :func:`decide` at the end of the message.
    """
    verdict = decide_at_rcpt(address, envelope, policy, classify)
    if verdict is None or verdict.action is not Action.REJECT or not verdict.applied:
        return None
    return replace(verdict, refused_at_rcpt=True)


def decide(
    envelope: Envelope,
    facts: MessageFacts,
    policy: Policy,
    classify: Classifier | None = None,
    refused: Sequence[RecipientVerdict] = (),
) -> Verdict:
    """Decide what happens to each recipient of a message: the one verdict for the message.

    ``envelope.recipients`` is every recipient the client gave, in order; ``refused`` the
    verdicts of those already refused at RCPT (:func:`refusal_at_rcpt`): they stand as given,
    every other recipient is decided here. Pure: the same envelope, facts, policy and refusals
    always give the same verdict, whether called by the milter at end of message or by
    ``govmilter check`` on a saved file (through :func:`decide_saved`).
    """
    classify = classify or list_classifier(policy)
    sender = classify(envelope.sender)
    sender_unit = policy.units.unit_of(envelope.sender)
    document = facts.document.document_class
    forward = forward_finding(envelope, facts, policy)
    given = {r.address: r for r in refused}
    # a refusal whose address the envelope lacks is still part of what happened to the message
    verdicts = tuple(r for r in refused if r.address not in envelope.recipients) + tuple(
        given.get(address) or decide_recipient(address, envelope, sender, document, policy,
                                               classify, sender_unit, forward)
        for address in envelope.recipients
    )
    return Verdict(
        sender=envelope.sender, sender_class=sender, document=facts.document,
        recipients=verdicts, policy_mode=policy.mode, notes=facts.notes,
        sender_unit=sender_unit, forward=forward,
    )


def forward_finding(envelope: Envelope, facts: MessageFacts, policy: Policy) -> ForwardFinding:
    """Whether the message is an automatic forward out of an official mailbox (the
    ``forwarded:`` condition). The traces' mailboxes are classified by the policy's lists alone:
    an official domain is one the lists name, so no DNS answer is waited for."""
    return find_forwarding(facts.forward, envelope.sender, envelope.recipients,
                           list_classifier(policy), envelope.original_recipients)


def decide_saved(
    envelope: Envelope,
    facts: MessageFacts,
    policy: Policy,
    classify: Classifier | None = None,
) -> Verdict:
    """:func:`decide` for a message without an SMTP session (``check``, ``explain``, ``replay``).

    The RCPT stage runs first, recipient by recipient, as the milter runs it, so the verdict is
    the one the milter would reach, refusals at RCPT included.
    """
    classify = classify or list_classifier(policy)
    refused: tuple[RecipientVerdict, ...] = ()
    if refuses_at_rcpt(policy):
        refused = tuple(r for address in envelope.recipients
                        if (r := refusal_at_rcpt(address, envelope, policy, classify)))
    return decide(envelope, facts, policy, classify, refused)
