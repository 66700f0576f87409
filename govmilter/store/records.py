"""The values the store keeps and returns: frozen, so the writer thread, the commands and a
console share them safely. No message body is ever part of them."""

from __future__ import annotations

import datetime as _dt
import enum
import secrets
from dataclasses import dataclass, field

#: Crockford's base 32: no I, L, O or U, so an id read aloud or retyped from paper survives.
_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
#: Random characters of an incident id: 60 bits, unique across gateways sharing one store.
_ID_RANDOM = 12
#: A random byte -> a character of the alphabet: its low five bits, so each of the 32
#: characters stands for 8 of the 256 byte values and all are equally likely.
_ID_CHARACTERS = bytes(ord(_ID_ALPHABET[value % len(_ID_ALPHABET)]) for value in range(256))


def new_incident_id(now: _dt.datetime | None = None) -> str:
    """A new incident id, ``YYYYMMDD-`` and 12 random base-32 characters (``20261205-7K3M...``).

    Made by the milter before anything is written, so the SMTP reply, the log line, the
    ``X-GovMilter-Hold`` header and the journal all carry it. The date (UTC) sorts ids by day and
    lets an officer see at a glance how old one is.
    """
    day = (now or _dt.datetime.now(_dt.UTC)).strftime("%Y%m%d")
    # one read of the system's randomness for all twelve characters, not one per character:
    # the id is made on the milter's thread for every incident
    return f"{day}-" + secrets.token_bytes(_ID_RANDOM).translate(_ID_CHARACTERS).decode("ascii")


def looks_like_incident_id(text: str) -> bool:
    """Whether ``text`` has the shape of an incident id (else it may be a Postfix queue id)."""
    day, _, rest = text.partition("-")
    return (len(day) == 8 and day.isdigit() and len(rest) == _ID_RANDOM
            and all(c in _ID_ALPHABET for c in rest))


class IncidentStatus(enum.StrEnum):
    """Where an incident stands; every change is kept in its history with who, when and why."""

    OPEN = "open"  #: recorded; a held message waits for an officer
    RELEASED = "released"  #: the held message was released to its recipients
    DELETED = "deleted"  #: the held message was deleted
    EXPIRED = "expired"  #: the held message left the hold queue without a decision


@dataclass(frozen=True, slots=True)
class RecipientRecord:
    """One recipient the incident concerns: its class, the rule and action, whether removed."""

    address: str
    domain_class: str
    rule_id: str
    action: str
    compliant: bool
    removed: bool  #: refused at RCPT or deleted at end of message (not delivered)


@dataclass(frozen=True, slots=True)
class AttachmentRecord:
    """An attachment of the message: its name, SHA-256 and size (never its content)."""

    name: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One step of an incident's history."""

    at: _dt.datetime
    status: IncidentStatus
    actor: str  #: the acting user, or ``govmilter`` for the milter itself
    reason: str


@dataclass(frozen=True, slots=True)
class Incident:
    """A non-compliant verdict on one message, with everything an officer needs to review it.

    ``rule_id`` and ``action`` are those of the message as a whole (the most severe recipient
    verdict); each recipient keeps its own in ``recipients``. ``mode`` ``monitor`` means the
    action was only reported, not carried out.
    """

    id: str
    created_at: _dt.datetime  #: UTC
    gateway: str  #: host name of the gateway that saw the message
    queue_id: str | None  #: Postfix queue id (None when refused before DATA)
    rule_id: str
    action: str
    mode: str
    stage: str  #: "rcpt" (decided at RCPT) or "eom" (end of message)
    sender: str
    sender_class: str
    authenticated: bool
    subject: str | None
    document_class: str
    document_kind: str | None  #: "công văn", "quyết định"... when the text names it
    document_number: str | None  #: the number/symbol, ``588/BTTTT-THH``
    issuer: str | None
    secrecy: str | None
    urgency: str | None
    score: float
    evidence: tuple[str, ...]
    held: bool
    recipients: tuple[RecipientRecord, ...]
    attachments: tuple[AttachmentRecord, ...] = ()
    status: IncidentStatus = IncidentStatus.OPEN
    policy_sha256: str | None = None
    history: tuple[StatusChange, ...] = ()  #: filled when read back from the store
    hold_reason: str | None = None  #: why a held message was held (the rule's hold_reason)
    sender_unit: str | None = None  #: the policy's unit of the sender, None for none

    @property
    def removed(self) -> tuple[str, ...]:
        """The addresses that were not delivered."""
        return tuple(r.address for r in self.recipients if r.removed)


@dataclass(frozen=True, slots=True)
class IncidentQuery:
    """Filters and paging for :meth:`IncidentStore.list_incidents` (all filters optional)."""

    since: _dt.datetime | None = None
    until: _dt.datetime | None = None
    rule_id: str | None = None  #: the message's rule or any recipient's
    sender: str | None = None  #: exact address, case-insensitive
    status: IncidentStatus | None = None
    held: bool | None = None
    queue_id: str | None = None
    action: str | None = None  #: the message's action (tag, quarantine, reject)
    secrecy: str | None = None  #: the document's secrecy marking, as stored (``MẬT``...)
    document_number: str | None = None  #: the number/symbol, exact, case-insensitive
    text: str | None = None  #: a piece of the subject, sender, document number or id
    #: the sender's unit id; :data:`~govmilter.policy.units.NO_UNIT` for mail from no unit
    #: (and for incidents stored before units were recorded)
    unit: str | None = None
    #: keyset paging: only incidents older than this (created_at, id), the last one shown;
    #: a page then costs the same at the 100,000th incident as at the first
    before: tuple[_dt.datetime, str] | None = None
    limit: int = 100
    offset: int = 0
    #: count the matches only up to one more than this (None: count them all); a total above
    #: it means "more than count_limit"
    count_limit: int | None = None


@dataclass(frozen=True, slots=True)
class IncidentPage:
    """One page of incidents, newest first, and how many match in all."""

    incidents: tuple[Incident, ...]
    total: int
    query: IncidentQuery = field(default_factory=IncidentQuery)


@dataclass(frozen=True, slots=True)
class DailyRecipientCount:
    """Recipient verdicts of one day (Vietnam time) by flow, document, compliance, rule, unit."""

    day: _dt.date
    gateway: str
    flow: str
    document_class: str
    compliant: bool
    rule_id: str
    action: str
    mode: str
    count: int
    #: the unit the flow counts for (:func:`govmilter.policy.verdict.flow_unit`), "" for none
    unit: str = ""


@dataclass(frozen=True, slots=True)
class DailyMessageCount:
    """Messages of one day (Vietnam time) by document class, compliance, message action and
    the sender's unit."""

    day: _dt.date
    gateway: str
    document_class: str
    compliant: bool
    action: str
    mode: str
    count: int
    unit: str = ""  #: the sender's unit, "" for none


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One access to or change of the store by a person or a command."""

    at: _dt.datetime
    actor: str
    action: str  #: "release", "delete", "show", "export", "purge", "migrate"...
    incident_id: str | None
    detail: str
