"""The facts a decision is made on, and the decision itself: frozen values shared by every room."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from govmilter.document.evidence import NO_DOCUMENT, OfficialDocumentEvidence
from govmilter.domains.classify import DomainClass, DomainClassification
from govmilter.mail.forwarding import NO_TRACES, ForwardTraces
from govmilter.policy.forwarding import NOT_FORWARDED, ForwardFinding
from govmilter.policy.model import Action, Mode, RejectScope, Reply, Tag
from govmilter.policy.units import NO_UNIT


@dataclass(frozen=True, slots=True)
class Envelope:
    """The SMTP envelope and the session facts rules may use."""

    sender: str
    recipients: tuple[str, ...]
    authenticated_user: str | None = None  #: Postfix macro {auth_authen}
    service: str | None = None  #: Postfix macro {daemon_name}: which smtpd (MX, submission)
    queue_id: str | None = None
    #: (recipient, its ORCPT mailbox) for each recipient whose RCPT carried a DSN ``ORCPT``
    original_recipients: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class AttachmentFacts:
    """An attachment as an incident records it: name, SHA-256 and size of what was read."""

    name: str
    sha256: str
    size: int  #: decoded bytes read (cut at ``limits.max_attachment_bytes``: then ``truncated``)
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """Everything :func:`govmilter.policy.decide` needs to know about the message content."""

    document: OfficialDocumentEvidence = NO_DOCUMENT
    header_from: tuple[str, ...] = ()
    header_to: tuple[str, ...] = ()
    scanned_bytes: int = 0
    #: what was odd about the headers (several From fields, malformed lists); no addresses
    notes: tuple[str, ...] = ()
    subject: str = ""  #: decoded; kept for the incident store only, never logged
    attachments: tuple[AttachmentFacts, ...] = ()
    #: header fields that say the message was delivered or redirected before (Delivered-To...)
    forward: ForwardTraces = NO_TRACES


@dataclass(frozen=True, slots=True)
class RecipientVerdict:
    """The decision for one recipient."""

    address: str
    classification: DomainClassification
    rule_id: str
    action: Action
    mode: Mode
    compliant: bool
    reply: Reply | None = None
    tag: Tag | None = None
    scope: RejectScope = RejectScope.RECIPIENT
    copy_to: str | None = None
    hold_reason: str | None = None
    #: refused at RCPT, before the content arrived: out of the envelope by end of message
    refused_at_rcpt: bool = False
    #: the unit of the recipient's address (``policy.units``), None when none covers it
    unit: str | None = None

    @property
    def applied(self) -> bool:
        """False when the rule runs in monitor mode: the action is reported, not carried out."""
        return self.mode is Mode.ENFORCE


@dataclass(frozen=True)
class Verdict:
    """The decision for one message: a verdict per recipient plus the facts behind it.

    Every recipient the client gave is here, in its order, those refused at RCPT included
    (marked :attr:`RecipientVerdict.refused_at_rcpt`).
    """

    sender: str
    sender_class: DomainClassification
    document: OfficialDocumentEvidence
    recipients: tuple[RecipientVerdict, ...]
    policy_mode: Mode
    notes: tuple[str, ...] = field(default=())
    #: the unit of the envelope sender (``policy.units``), None when none covers it
    sender_unit: str | None = None
    #: the signals of an automatic forward out of an official mailbox (rule ``forwarded: auto``)
    forward: ForwardFinding = NOT_FORWARDED

    def enforced(self) -> tuple[RecipientVerdict, ...]:
        """The recipient verdicts whose action is carried out (not monitor-only)."""
        return tuple(r for r in self.recipients if r.applied)

    # cached: metrics, the log line and the milter each read them (a Verdict never changes)
    @functools.cached_property
    def message_action(self) -> Action:
        """The action on the message as a whole, as it would be without monitor mode.

        Reject when every recipient is rejected or a reject rule has ``scope: message``;
        otherwise the most severe of quarantine, tag, accept.
        """
        return _message_action(self.recipients)

    @functools.cached_property
    def applied_message_action(self) -> Action:
        """The message-level action actually carried out (monitor-mode verdicts count as accept)."""
        return _message_action(self.enforced(), total=len(self.recipients))

    @property
    def compliant(self) -> bool:
        """True when every recipient's flow is compliant."""
        return all(r.compliant for r in self.recipients)


def _message_action(verdicts: tuple[RecipientVerdict, ...], total: int | None = None) -> Action:
    if not verdicts:
        return Action.ACCEPT
    rejected = [v for v in verdicts if v.action is Action.REJECT]
    if any(v.scope is RejectScope.MESSAGE for v in rejected):
        return Action.REJECT
    if rejected and len(rejected) == (total if total is not None else len(verdicts)):
        return Action.REJECT
    remaining = [v.action for v in verdicts if v.action is not Action.REJECT]
    return max(remaining, key=lambda a: a.severity, default=Action.ACCEPT)


def flow_unit(verdict: Verdict, recipient: RecipientVerdict) -> str:
    """The unit a recipient's flow counts for: the agency's side of it, the sender's unit, or
    for mail coming in (a sender in no unit) the recipient's; ``""`` when neither has one.

    A document sent to webmail counts for the unit that sent it, one received from webmail for
    the unit that received it.
    """
    return verdict.sender_unit or recipient.unit or NO_UNIT


def message_mode(verdict: Verdict) -> str:
    """``monitor`` when the message-level action was decided but not carried out.

    Under a global ``mode: monitor`` every message counts as monitor, even an accept, so the
    monitor share of the traffic reads straight from the counter (and the store's daily counts).
    """
    if verdict.policy_mode is Mode.MONITOR or \
            verdict.message_action is not verdict.applied_message_action:
        return Mode.MONITOR.value
    return Mode.ENFORCE.value


#: The bounded set of flows that metrics and reports count (sender class → recipient class).
FLOWS = (
    "official_to_official", "official_to_freemail", "official_to_lookalike",
    "official_to_external", "freemail_to_official", "external_to_official", "other",
)


def flow_label(sender: DomainClass, recipient: DomainClass) -> str:
    """Name the flow of one recipient for metrics: one of :data:`FLOWS`.

    Hosted and unknown recipients of an official sender count as external; lookalikes have their
    own flow because a document leaking to one is what monitoring staff must see first.
    """
    official = DomainClass.OFFICIAL
    if sender is official:
        if recipient is official:
            return "official_to_official"
        if recipient is DomainClass.FREEMAIL:
            return "official_to_freemail"
        if recipient is DomainClass.LOOKALIKE:
            return "official_to_lookalike"
        return "official_to_external"
    if recipient is official:
        return "freemail_to_official" if sender is DomainClass.FREEMAIL else "external_to_official"
    return "other"
