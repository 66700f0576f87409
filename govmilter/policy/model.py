"""The compiled, immutable policy: what ``policies/*.yaml`` means once validated."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from govmilter.document.settings import DetectionSettings, DocumentClass
from govmilter.domains.addressmap import AddressMap
from govmilter.domains.classify import DomainClass, DomainLists
from govmilter.domains.settings import DnsSettings
from govmilter.mail.limits import Limits
from govmilter.policy.forwarding import Forwarded
from govmilter.policy.units import Units


class Mode(enum.StrEnum):
    """Whether a rule's action is applied to the mail or only reported."""

    ENFORCE = "enforce"
    MONITOR = "monitor"


class Action(enum.StrEnum):
    """What a rule does to a recipient (or, for quarantine, to the whole message)."""

    ACCEPT = "accept"  #: deliver untouched
    TAG = "tag"  #: deliver with an X-GovMilter header (and optional subject prefix)
    QUARANTINE = "quarantine"  #: put the whole message in Postfix's hold queue
    REJECT = "reject"  #: refuse this recipient (or the message, with ``scope: message``)

    @property
    def severity(self) -> int:
        """Order used to pick the message-level action: reject > quarantine > tag > accept."""
        return _SEVERITY[self]


_SEVERITY = {Action.ACCEPT: 0, Action.TAG: 1, Action.QUARANTINE: 2, Action.REJECT: 3}


class RejectScope(enum.StrEnum):
    """What a reject removes: only the matching recipient, or the whole message."""

    RECIPIENT = "recipient"
    MESSAGE = "message"


class FailureAction(enum.StrEnum):
    """What the milter answers when it cannot reach a verdict (exception, timeout)."""

    TEMPFAIL = "tempfail"
    ACCEPT = "accept"


@dataclass(frozen=True, slots=True)
class Reply:
    """An SMTP reply: code, enhanced status code and the text lines (Vietnamese, then English)."""

    code: int
    enhanced: str
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Tag:
    """How a tag action marks the message."""

    header: bool = True
    subject_prefix: str | None = None


#: The fields a notice template may use (``{incident}``...), each filled by govmilter.
NOTICE_FIELDS = frozenset({"incident", "rule", "subject", "recipients", "removed", "reasons",
                           "outcome_vi", "outcome_en", "document_number", "time"})

#: The shipped notice, Vietnamese first (with diacritics), English below.
DEFAULT_NOTICE_VI = """\
Thư của bạn gửi lúc {time} với tiêu đề "{subject}" đã bị hệ thống thư công vụ xử lý theo quy tắc
"{rule}" của cơ quan.

Người nhận bị ảnh hưởng: {recipients}
Điều đã xảy ra: {outcome_vi}
Lý do (các dấu hiệu tìm thấy): {reasons}

Văn bản chính thức (có số, ký hiệu, độ mật) phải được gửi qua hộp thư công vụ (.gov.vn) hoặc hệ
thống quản lý văn bản và điều hành của cơ quan, không gửi tới hộp thư miễn phí (Gmail, Yahoo...).
Nếu bạn cho rằng đây là nhầm lẫn, hãy liên hệ cán bộ phụ trách và cho biết mã sự cố: {incident}"""
DEFAULT_NOTICE_EN = """\
Your message sent at {time} with the subject "{subject}" was handled by the official mail
system under the agency's rule "{rule}".

Recipients affected: {recipients}
What happened: {outcome_en}
Why (the cues found): {reasons}

Official documents (with a number, a symbol, a secrecy marking) go through official (.gov.vn)
mailboxes or the agency's document management system, never to free webmail. If you think this
is a mistake, contact the compliance officer with the incident id: {incident}"""


@dataclass(frozen=True, slots=True)
class NoticeTemplate:
    """A rule's notice to the sender: Vietnamese text first, English below."""

    vi: str = DEFAULT_NOTICE_VI
    en: str = DEFAULT_NOTICE_EN


@dataclass(frozen=True, slots=True)
class NoticeSettings:
    """The policy's ``notices:`` section: telling internal senders what happened to their mail."""

    enabled: bool = False
    #: the notice's From: address (its envelope sender is empty, as auto-replies' are)
    sender: str = "postmaster@localhost"
    smtp: str = "127.0.0.1:25"  #: the local Postfix, HOST:PORT
    per_sender_per_hour: int = 5


@dataclass(frozen=True, slots=True)
class Rule:
    """One policy rule; ``None`` conditions match anything."""

    id: str
    line: int
    description: str = ""
    senders: frozenset[DomainClass] | None = None
    recipients: frozenset[DomainClass] | None = None
    document: DocumentClass = DocumentClass.ANY
    authenticated: bool | None = None
    services: frozenset[str] | None = None
    #: the sender's unit must be one of these declared unit ids
    sender_units: frozenset[str] | None = None
    #: the envelope sender must be one of these mailboxes
    sender_addresses: AddressMap[bool] | None = None
    #: the envelope sender's domain must be covered by one of these (``*.`` as in domains:)
    sender_domains: AddressMap[bool] | None = None
    #: ``forwarded: auto`` matches automatic forwards out of an official mailbox, ``none`` the rest
    forwarded: Forwarded | None = None
    action: Action = Action.ACCEPT
    mode: Mode | None = None
    compliant: bool = True
    reply: Reply | None = None
    tag: Tag = field(default_factory=Tag)
    scope: RejectScope = RejectScope.RECIPIENT
    copy_to: str | None = None
    hold_reason: str | None = None
    #: the notice sent to an internal sender when this rule acts (None: ``notice: false``)
    notice: NoticeTemplate | None = field(default_factory=NoticeTemplate)

    @property
    def content_free(self) -> bool:
        """True when the rule needs no message content, so it can decide at RCPT time (whether
        mail was forwarded is read from its header fields)."""
        return self.document is DocumentClass.ANY and self.forwarded is None


@dataclass(frozen=True, slots=True)
class IncidentSettings:
    """The policy's ``incidents:`` section: where incidents are kept and for how long."""

    #: a file path (SQLite) or ``postgresql://...``; None: the store's default file
    database: str | None = None
    retention_days: int = 365


#: whom the yearly report goes to when the policy does not say (Decision 162/2025/QĐ-UBND of
#: Ninh Bình and its peers: the provincial Department of Science and Technology)
DEFAULT_REPORT_TO = ("Sở Khoa học và Công nghệ",)


@dataclass(frozen=True, slots=True)
class AgencySettings:
    """The policy's ``agency:`` section: who files the report (``govmilter report --format
    docx``) and to whom; everything optional, the clerk fills the rest in."""

    name: str | None = None  #: as in the heading of its documents: "SỞ TÀI CHÍNH"
    parent: str | None = None  #: the governing body above it: "UBND TỈNH NINH BÌNH"
    symbol: str | None = None  #: its abbreviation in document symbols: "STC" (Số: …/BC-STC)
    place: str | None = None  #: the place name of the date line: "Ninh Bình"
    report_to: tuple[str, ...] = DEFAULT_REPORT_TO  #: the "Kính gửi:" lines


@dataclass(frozen=True, slots=True)
class PolicySource:
    """Where a policy came from, for logs, metrics and reports."""

    path: str
    sha256: str


@dataclass(frozen=True, slots=True)
class PolicyProblem:
    """One validation finding, rendered as ``path:line: message``."""

    path: str
    line: int
    message: str
    severity: str = "error"  #: "error" or "warning"

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{self.path}:{self.line}: {prefix}{self.message}"


@dataclass(frozen=True)
class Policy:
    """A validated policy; immutable, so a connection can keep the snapshot it started with."""

    source: PolicySource
    mode: Mode
    domains: DomainLists
    rules: tuple[Rule, ...]
    limits: Limits = field(default_factory=Limits)
    detection: DetectionSettings = field(default_factory=DetectionSettings)
    on_error: FailureAction = FailureAction.TEMPFAIL
    monitor_header: bool = False
    dns: DnsSettings = field(default_factory=DnsSettings)
    incidents: IncidentSettings = field(default_factory=IncidentSettings)
    agency: AgencySettings = field(default_factory=AgencySettings)
    notices: NoticeSettings = field(default_factory=NoticeSettings)
    units: Units = field(default_factory=Units)
    warnings: tuple[PolicyProblem, ...] = ()

    def rule(self, rule_id: str) -> Rule:
        """Return the rule with this id.

        :raises KeyError: if there is none.
        """
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)
