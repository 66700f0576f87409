"""``govmilter explain``: why each rule did or did not match, recipient by recipient.

The walk uses :func:`govmilter.policy.rule_conditions`, the checks ``decide()`` itself makes, and
the verdict shown is the one :func:`govmilter.policy.decide_saved` returns (the milter's RCPT stage
and ``decide()``): the explanation cannot drift from what the milter does.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from govmilter.document.evidence import OfficialDocumentEvidence
from govmilter.document.settings import DocumentClass
from govmilter.domains.classify import Classifier
from govmilter.policy import (
    ConditionCheck,
    Policy,
    Rule,
    decide_saved,
    list_classifier,
    rule_conditions,
)
from govmilter.policy.verdict import Envelope, MessageFacts, RecipientVerdict, Verdict
from govmilter.tools.render import class_text, message_action_line, verdict_heading, verdict_to_json


class RuleStatus(enum.StrEnum):
    """Where a rule stands in the first-match walk for one recipient."""

    MATCH = "match"  #: the first rule whose conditions all hold: it decides
    NO_MATCH = "no match"  #: tried, and at least one condition does not hold
    NOT_REACHED = "not reached"  #: after the deciding rule: never tried


@dataclass(frozen=True, slots=True)
class RuleStep:
    """One rule of the walk, with every condition it sets checked (not only the first failing)."""

    rule: Rule
    status: RuleStatus
    conditions: tuple[ConditionCheck, ...]

    @property
    def would_match(self) -> bool:
        """True when every condition holds (for a not-reached rule: it would have matched too)."""
        return all(c.matched for c in self.conditions)


@dataclass(frozen=True, slots=True)
class RecipientExplanation:
    """The walk of the rules for one recipient and the verdict it ends in."""

    verdict: RecipientVerdict
    steps: tuple[RuleStep, ...]


@dataclass(frozen=True)
class Explanation:
    """A message's verdict with the reasons behind each recipient's rule and the document class."""

    verdict: Verdict
    recipients: tuple[RecipientExplanation, ...]

    @property
    def secrecy_evidence(self) -> tuple[str, ...]:
        """The evidence that made the document secret (its secrecy markings)."""
        return secrecy_evidence(self.verdict.document)


def secrecy_evidence(document: OfficialDocumentEvidence) -> tuple[str, ...]:
    """The evidence items that are secrecy markings (empty when the document is not secret)."""
    if document.document_class not in (DocumentClass.SECRET, DocumentClass.MARKED):
        return ()
    return tuple(e for e in document.evidence if "secrecy marking" in e)


def explain(envelope: Envelope, facts: MessageFacts, policy: Policy,
            classify: Classifier | None = None) -> Explanation:
    """Decide the message and walk the rules in order for each recipient, saying why.

    ``classify`` is the address classifier ``decide()`` gets (the DNS-backed one, as ``check``
    uses); None classifies by the policy's lists alone.
    """
    classify = classify or list_classifier(policy)
    verdict = decide_saved(envelope, facts, policy, classify)
    document = facts.document.document_class
    recipients = []
    for recipient in verdict.recipients:
        steps = []
        decided = False
        for rule in policy.rules:
            checks = tuple(rule_conditions(rule, envelope, verdict.sender_class,
                                           recipient.classification, document,
                                           verdict.sender_unit, verdict.forward))
            if decided:
                status = RuleStatus.NOT_REACHED
            elif all(c.matched for c in checks):
                status, decided = RuleStatus.MATCH, True
            else:
                status = RuleStatus.NO_MATCH
            steps.append(RuleStep(rule, status, checks))
        recipients.append(RecipientExplanation(recipient, tuple(steps)))
    return Explanation(verdict, tuple(recipients))


def explanation_to_json(explanation: Explanation, policy: Policy) -> dict[str, Any]:
    """The ``check --json`` object, with each recipient's rule walk added under ``rules``."""
    data = verdict_to_json(explanation.verdict, policy)
    data["secrecy_evidence"] = list(explanation.secrecy_evidence)
    for item, recipient in zip(data["recipients"], explanation.recipients, strict=True):
        item["rules"] = [
            {"rule": step.rule.id, "line": step.rule.line, "action": step.rule.action.value,
             "status": step.status.value, "would_match": step.would_match,
             "conditions": [{"condition": c.condition, "matched": c.matched, "reason": c.reason}
                            for c in step.conditions]}
            for step in recipient.steps
        ]
    return data


def _document_lines(document: OfficialDocumentEvidence, policy: Policy) -> list[str]:
    threshold = policy.detection.threshold
    cls = document.document_class
    lines = [f"document: {cls.value.upper()}"]
    if document.official:
        lines.append(f"  official: the score {document.score} reaches the threshold {threshold}; "
                     "cues found:")
    elif document.score >= threshold:
        lines.append(f"  not official: the score {document.score} reaches the threshold "
                     f"{threshold}, but nothing names a document (detection.require_symbol); "
                     "cues found:")
    elif document.evidence:
        lines.append(f"  not official: the score {document.score} is below the threshold "
                     f"{threshold}; cues found:")
    else:
        lines.append(f"  not official: no cue found (threshold {threshold})")
    lines += [f"    {item}" for item in document.evidence]
    if cls in (DocumentClass.SECRET, DocumentClass.MARKED):
        lines.append(f"  {cls.value}: marked {document.secrecy} ("
                     + "; ".join(secrecy_evidence(document)) + ")")
    if document.urgency:
        lines.append(f"  urgency: {document.urgency}")
    for item in document.unscannable:
        lines.append(f"  not scanned: {item}")
    return lines


def _step_line(number: int, step: RuleStep, width: int) -> str:
    label = f"{number}. {step.rule.id}".ljust(width)
    if step.status is RuleStatus.NOT_REACHED:
        why = "would also match" if step.would_match else ""
    elif not step.conditions:
        why = "no conditions: matches every message"
    elif step.status is RuleStatus.NO_MATCH:
        why = "; ".join(c.reason for c in step.conditions if not c.matched)
    else:
        why = "; ".join(c.reason for c in step.conditions)
    status = "MATCH" if step.status is RuleStatus.MATCH else step.status.value
    return f"  {label}  {status:<11}  {why}".rstrip()


def explanation_to_text(explanation: Explanation, policy: Policy) -> str:
    """The walk as a person reads it: document first, then each recipient's rules in order."""
    verdict = explanation.verdict
    lines = [*verdict_heading(verdict, policy), *_document_lines(verdict.document, policy)]
    width = max((len(f"{len(policy.rules)}. {r.id}") for r in policy.rules), default=0)
    for recipient in explanation.recipients:
        r = recipient.verdict
        lines.append("")
        lines.append(f"recipient {r.address} {class_text(r.classification)}")
        lines += [_step_line(n, step, width) for n, step in enumerate(recipient.steps, start=1)]
        if not any(step.status is RuleStatus.MATCH for step in recipient.steps):
            lines.append(f"  no rule matched: {r.rule_id}")
        state = "" if r.applied else " (monitor mode: reported, not applied)"
        compliance = "compliant" if r.compliant else "NON-COMPLIANT"
        lines.append(f"  => {r.action.value.upper()} by rule {r.rule_id}{state}, {compliance}")
        if r.reply is not None and r.action.value == "reject":
            lines.append(f"     reply: {r.reply.code} {r.reply.enhanced} {r.reply.lines[0]}")
    lines.append("")
    lines.append(message_action_line(verdict))
    return "\n".join(lines)
