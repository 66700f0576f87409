"""The compiled, immutable policy: what ``policies/*.yaml`` means once validated."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from govmilter.domains import DomainClass, DomainLists


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


class DocumentClass(enum.StrEnum):
    """What a message carries, as seen by the document detector.

    ``secret`` is a kind of ``official``: a rule on ``official`` also matches secret documents, so
    a policy without a secret rule never lets them through more easily than other documents.
    """

    ANY = "any"
    OFFICIAL = "official"  #: an official document, secret or not
    SECRET = "secret"  #: an official document marked MẬT, TỐI MẬT or TUYỆT MẬT
    UNSCANNABLE = "unscannable"  #: no document found, but some part could not be scanned
    NONE = "none"  #: no official document, everything scanned


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
    action: Action = Action.ACCEPT
    mode: Mode | None = None
    compliant: bool = True
    reply: Reply | None = None
    tag: Tag = field(default_factory=Tag)
    scope: RejectScope = RejectScope.RECIPIENT
    copy_to: str | None = None
    hold_reason: str | None = None

    @property
    def content_free(self) -> bool:
        """True when the rule needs no message content, so it can decide at RCPT time."""
        return self.document is DocumentClass.ANY


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on the work done per message (the policy's ``limits:`` section)."""

    max_scan_bytes: int = 20 * 1024 * 1024
    max_attachment_bytes: int = 10 * 1024 * 1024
    max_attachments: int = 50
    max_depth: int = 10
    max_pdf_pages: int = 30
    max_zip_entries: int = 200
    max_zip_ratio: int = 100
    max_seconds: float = 10.0
    memory_bytes: int = 1024 * 1024


@dataclass(frozen=True, slots=True)
class DetectionSettings:
    """Thresholds of the official-document detector."""

    threshold: float = 5.0
    #: Count a message as official only when it also names the document: a number/symbol
    #: (``Số: 588/BTTTT-THH``, in the text, subject or a file name), an edXML envelope or a
    #: Government CA signature. Decree 30/2020 makes the number a mandatory component; without
    #: it, letters that merely copy the national heading (job applications) would count.
    require_symbol: bool = True


#: MX hosts of consumer webmail: a custom domain whose mail goes there is free webmail.
#: An entry matches the host and its sub-domains; ``*.name`` only the sub-domains.
CONSUMER_MX = (
    "gmail-smtp-in.l.google.com",  # gmail.com, alt1..4.gmail-smtp-in.l.google.com
    "*.olc.protection.outlook.com",  # outlook.com / hotmail.com ("OutLook Consumer")
    "yahoodns.net",  # mta5.am0.yahoodns.net, mx-eu.mail.gm0.yahoodns.net (business: see HOSTED_MX)
    "mail.icloud.com",  # iCloud+ custom e-mail domains
)

#: MX hosts of business hosting on infrastructure shared with consumer webmail (Google
#: Workspace, Microsoft 365, Yahoo and Zoho business): a company's own mail, rented abroad.
HOSTED_MX = (
    "aspmx.l.google.com", "googlemail.com", "smtp.google.com",
    "*.mail.protection.outlook.com", "mail.eo.outlook.com", "mx.microsoft",
    "mx-biz.mail.am0.yahoodns.net", "biz.mail.yahoo.com",
    "zoho.com", "zoho.eu", "zoho.in", "zoho.com.au", "zoho.jp",
)


@dataclass(frozen=True, slots=True)
class Nameserver:
    """A DNS server to ask: an IP address and a port."""

    address: str
    port: int = 53

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return host if self.port == 53 else f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class DnsSettings:
    """The policy's ``dns:`` section: how MX and existence lookups are made and bounded."""

    enabled: bool = True
    #: servers to ask; empty means the system's ``/etc/resolv.conf``
    nameservers: tuple[Nameserver, ...] = ()
    timeout: float = 1.0  #: seconds for one lookup, retries included
    budget: float = 2.0  #: seconds for all lookups of one message, run concurrently
    cache_size: int = 10000  #: answers kept (least recently used dropped first)
    negative_ttl: float = 300.0  #: seconds to keep "no such name" / "no MX" without an SOA TTL
    failure_ttl: float = 30.0  #: seconds to keep a time-out or server failure
    max_ttl: float = 3600.0  #: upper bound on any answer's TTL (MX records change unannounced)
    consumer_mx: tuple[str, ...] = CONSUMER_MX
    hosted_mx: tuple[str, ...] = HOSTED_MX
    #: the class given to domains whose MX is at ``hosted_mx``
    hosted_class: DomainClass = DomainClass.HOSTED


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
    warnings: tuple[PolicyProblem, ...] = ()

    def rule(self, rule_id: str) -> Rule:
        """Return the rule with this id.

        :raises KeyError: if there is none.
        """
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)
