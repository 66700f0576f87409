"""From a :class:`Verdict` to what the store keeps: the incident and the day's counts.

Pure: the milter calls these on its own thread (cheap, no I/O) and hands the values to the
writer thread; tests and a replay tool can call them the same way.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from govmilter.document.settings import DocumentClass
from govmilter.policy.effects import DeleteRecipient, MilterAction, Reject
from govmilter.policy.units import NO_UNIT
from govmilter.policy.verdict import (
    AttachmentFacts,
    RecipientVerdict,
    Verdict,
    flow_label,
    flow_unit,
    message_mode,
)
from govmilter.scan import OCR_LANE_BUSY
from govmilter.store.records import AttachmentRecord, Incident, RecipientRecord

#: Vietnam keeps UTC+7 all year: the daily counts are Vietnam days, as the reports are.
VN_TZ = _dt.timezone(_dt.timedelta(hours=7), "UTC+7")

# What the detector's evidence says about the document's identity (document/cues.py wording;
# tests/store/test_incident_building.py scans a real document, so a change of wording fails there)
_NUMBER = re.compile(r"number/symbol (\S+)")
_KIND = re.compile(r"document type '([^']+)'")
_ISSUER = re.compile(r"issuer is (?:an? )?([^:(]+?)(?: \(|$|,)")


@dataclass(frozen=True, slots=True)
class MessageContext:
    """What the milter knows about a message besides its verdict."""

    gateway: str
    queue_id: str | None
    authenticated: bool
    subject: str | None
    stage: str  #: "rcpt" when no content arrived (every recipient refused at RCPT), else "eom"
    held: bool
    removed: frozenset[str]  #: addresses refused at RCPT or deleted at end of message
    attachments: tuple[AttachmentFacts, ...] = ()
    policy_sha256: str | None = None
    hold_reason: str | None = None


def is_incident(verdict: Verdict) -> bool:
    """Whether the verdict makes an incident: some recipient's flow is not compliant (the
    action carried out or, in monitor mode, only reported)."""
    return not verdict.compliant


def _deciding(verdict: Verdict) -> RecipientVerdict:
    """The recipient verdict that names the message's rule: the most severe non-compliant one."""
    offending = [r for r in verdict.recipients if not r.compliant] or list(verdict.recipients)
    return max(offending, key=lambda r: r.action.severity)


def removed_by(verdict: Verdict, actions: tuple[MilterAction, ...]) -> frozenset[str]:
    """The recipients not delivered: all when the message is rejected, else those refused at
    RCPT and those deleted at end of message."""
    if any(isinstance(a, Reject) for a in actions):
        return frozenset(r.address for r in verdict.recipients)
    deleted = {a.address for a in actions if isinstance(a, DeleteRecipient)}
    return frozenset(r.address for r in verdict.recipients
                     if r.refused_at_rcpt or r.address in deleted)


def document_identity(evidence: Iterable[str]) -> tuple[str | None, str | None, str | None]:
    """The document's kind, number/symbol and issuer as the evidence names them."""
    kind = number = issuer = None
    for line in evidence:
        if number is None and (found := _NUMBER.search(line)):
            number = found.group(1)
        if kind is None and (found := _KIND.search(line)):
            kind = found.group(1)
        if issuer is None and (found := _ISSUER.search(line)):
            issuer = found.group(1).strip()
    return kind, number, issuer


#: The prefix of an incident's evidence line that is a signal of an automatic forward.
FORWARD_EVIDENCE = "forwarded: "
#: The prefix of an incident's evidence line that says why an unscannable document was not read.
UNREAD_EVIDENCE = "không đọc được — not read: "


def build_incident(verdict: Verdict, incident_id: str, context: MessageContext,
                   now: _dt.datetime) -> Incident:
    """The incident of a non-compliant verdict (see :func:`is_incident`)."""
    deciding = _deciding(verdict)
    document = verdict.document
    kind, number, issuer = document_identity(document.evidence)
    monitor = any(not r.applied for r in verdict.recipients if not r.compliant)
    return Incident(
        id=incident_id, created_at=now, gateway=context.gateway, queue_id=context.queue_id,
        rule_id=deciding.rule_id, action=deciding.action.value,
        mode="monitor" if monitor else "enforce", stage=context.stage, sender=verdict.sender,
        sender_class=verdict.sender_class.domain_class.value,
        authenticated=context.authenticated, subject=context.subject or None,
        document_class=document.document_class.value, document_kind=kind,
        document_number=number, issuer=issuer, secrecy=document.secrecy,
        urgency=document.urgency, score=document.score,
        # the signals of an automatic forward sit with the document's evidence, marked; so do
        # the reasons an unscannable document was not read, and the OCR lane's being busy
        evidence=document.evidence + tuple(f"{FORWARD_EVIDENCE}{signal}"
                                           for signal in verdict.forward.signals)
        + (tuple(f"{UNREAD_EVIDENCE}{reason}" for reason in document.unscannable)
           if document.document_class is DocumentClass.UNSCANNABLE else ())
        + tuple(note for note in verdict.notes if note == OCR_LANE_BUSY),
        held=context.held,
        recipients=tuple(RecipientRecord(
            address=r.address, domain_class=r.classification.domain_class.value,
            rule_id=r.rule_id, action=r.action.value, compliant=r.compliant,
            removed=r.address in context.removed) for r in verdict.recipients),
        attachments=tuple(AttachmentRecord(a.name, a.sha256, a.size)
                          for a in context.attachments),
        policy_sha256=context.policy_sha256, hold_reason=context.hold_reason,
        sender_unit=verdict.sender_unit,
    )


def vietnam_day(moment: _dt.datetime) -> _dt.date:
    """The Vietnam calendar day of an instant."""
    return moment.astimezone(VN_TZ).date()


#: a recipient count's key: flow, document class, compliant, rule, action, mode, unit
RecipientKey = tuple[str, str, bool, str, str, str, str]
#: a message count's key: document class, compliant, action, mode, the sender's unit
MessageKey = tuple[str, bool, str, str, str]


def count_keys(verdict: Verdict) -> tuple[list[RecipientKey], MessageKey]:
    """What one message adds to the day's counts: a key per recipient, one for the message.

    Counted as the metrics count them: the message's action as decided, its mode monitor when
    that action was not carried out (or the whole policy is in monitor mode).
    """
    document = verdict.document.document_class.value
    sender = verdict.sender_class.domain_class
    recipients = [(flow_label(sender, r.classification.domain_class), document, r.compliant,
                   r.rule_id, r.action.value, r.mode.value, flow_unit(verdict, r))
                  for r in verdict.recipients]
    return recipients, (document, verdict.compliant, verdict.message_action.value,
                        message_mode(verdict), verdict.sender_unit or NO_UNIT)
