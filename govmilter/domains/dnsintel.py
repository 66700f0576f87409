"""Domain intelligence over DNS: what a list of domains cannot see.

* A custom domain whose MX is consumer webmail (``gmail-smtp-in.l.google.com``,
  ``*.olc.protection.outlook.com``, ``*.yahoodns.net``) is ``freemail``, with evidence
  ``mx:<host>``; one at business hosting on the same infrastructure (Google Workspace,
  Microsoft 365) gets the policy's ``dns.hosted_class`` (``hosted`` by default).
* A name under an official suffix that does not exist (NXDOMAIN) is a ``lookalike``; one that does
  exist is official even when the static check found it one edit from a protected agency domain.
* A failed or slow lookup never blocks and never raises: the class is ``unknown`` (for names the
  lists call official, the list class stays), with the failure as evidence.

Lookups for all addresses of a message run concurrently on a small thread pool, and all the
waiting for one message stays within the per-message budget (:class:`MessageLookups`: a lookup
starts when its address is known and is given at most what is left of the budget; once the budget
is spent, the remaining addresses are classified without waiting, evidence ``dns:budget spent``).
Answers are cached by their TTL, "no such name" by the SOA's negative TTL, and failures briefly,
in a bounded LRU cache. This module knows nothing about milters or Prometheus:
``on_lookup(seconds, outcome)`` lets the caller count each query.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import enum
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from typing import Protocol

import dns.exception
import dns.message
import dns.nameserver
import dns.rdatatype
import dns.resolver

from govmilter.domains.classify import (
    BudgetSpent,
    Classifier,
    DomainClass,
    DomainClassification,
    DomainLists,
    DomainSuffixSet,
    ListsClassifier,
    classify_address,
    classify_domain,
)
from govmilter.domains.settings import DnsSettings
from govmilter.mail.addresses import parse_address


class DomainPolicy(Protocol):
    """The two parts of a policy the DNS classifiers read (a :class:`~govmilter.policy.Policy`
    is one; the domains layer does not import the policy layer)."""

    @property
    def domains(self) -> DomainLists: ...

    @property
    def dns(self) -> DnsSettings: ...

#: Called once per DNS query actually sent (cache hits are not queries): seconds, outcome value.
LookupObserver = Callable[[float, str], None]


class LookupOutcome(enum.StrEnum):
    """How one MX query ended."""

    ANSWER = "answer"  #: the name has MX records
    NODATA = "nodata"  #: the name exists but has no MX records
    NXDOMAIN = "nxdomain"  #: the name does not exist
    TIMEOUT = "timeout"  #: no answer within the time allowed
    FAILURE = "failure"  #: SERVFAIL, REFUSED, no nameserver, malformed answer...
    #: not asked: the message's time budget was spent before the query could be sent
    BUDGET_SPENT = "budget spent"

    @property
    def failed(self) -> bool:
        """True when DNS gave no usable answer."""
        return self in (LookupOutcome.TIMEOUT, LookupOutcome.FAILURE, LookupOutcome.BUDGET_SPENT)

    @property
    def exists(self) -> bool:
        """True when the answer proves that the name exists."""
        return self in (LookupOutcome.ANSWER, LookupOutcome.NODATA)


@dataclass(frozen=True, slots=True)
class MxAnswer:
    """The result of one MX lookup, as cached."""

    name: str
    outcome: LookupOutcome
    hosts: tuple[str, ...] = ()  #: MX targets, most preferred first, without the trailing dot
    detail: str = ""  #: why it failed, for evidence (``REFUSED``, ``budget exhausted``...)
    ttl: float = 0.0  #: seconds the answer may be reused


# --- cache --------------------------------------------------------------------------------------


class TtlCache:
    """A bounded, thread-safe LRU cache whose entries expire after their own TTL."""

    def __init__(self, size: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._size = size
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, MxAnswer]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> MxAnswer | None:
        """The cached answer, or None when absent or expired (an expired entry is dropped)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, answer = entry
            if self._clock() >= expires:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return answer

    def put(self, key: str, answer: MxAnswer) -> None:
        """Keep ``answer`` for ``answer.ttl`` seconds; a zero TTL or size is not kept."""
        if answer.ttl <= 0 or self._size <= 0:
            return
        with self._lock:
            self._entries[key] = (self._clock() + answer.ttl, answer)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


# --- resolver -----------------------------------------------------------------------------------


def build_resolver(settings: DnsSettings) -> dns.resolver.Resolver | None:
    """A resolver for the policy's nameservers, or the system's; None when there is none."""
    try:
        if settings.nameservers:
            resolver = dns.resolver.Resolver(configure=False)
            resolver.nameservers = [dns.nameserver.Do53Nameserver(ns.address, ns.port)
                                    for ns in settings.nameservers]
        else:
            resolver = dns.resolver.Resolver()  # /etc/resolv.conf
    except (dns.exception.DNSException, OSError):
        return None  # no resolv.conf or no nameserver in it: every lookup fails, fast
    resolver.timeout = settings.timeout
    resolver.lifetime = settings.timeout
    return resolver


def _negative_ttl(response: dns.message.Message | None, default: float) -> float:
    """The negative-caching TTL of an NXDOMAIN/NODATA response (RFC 2308: SOA TTL and minimum)."""
    if response is not None:
        for rrset in response.authority:
            if rrset.rdtype == dns.rdatatype.SOA and len(rrset) > 0:
                return float(min(rrset.ttl, rrset[0].minimum))
    return default


def query_mx(resolver: dns.resolver.Resolver | None, name: str, settings: DnsSettings,
             lifetime: float | None = None) -> MxAnswer:
    """Ask for the MX records of ``name``, giving up after ``lifetime`` seconds (default: the
    policy's ``dns.timeout``); never raises, every failure is an outcome."""
    if resolver is None:
        return MxAnswer(name, LookupOutcome.FAILURE, detail="no nameserver configured",
                        ttl=settings.failure_ttl)
    try:
        answer = resolver.resolve(name + ".", "MX", raise_on_no_answer=False,
                                  lifetime=settings.timeout if lifetime is None else lifetime,
                                  search=False)
    except dns.resolver.NXDOMAIN as exc:
        responses = list(exc.responses().values())  # type: ignore[no-untyped-call]
        ttl = _negative_ttl(responses[0] if responses else None, settings.negative_ttl)
        return MxAnswer(name, LookupOutcome.NXDOMAIN, ttl=min(ttl, settings.max_ttl))
    except dns.exception.Timeout:
        return MxAnswer(name, LookupOutcome.TIMEOUT, detail="timed out",
                        ttl=settings.failure_ttl)
    except dns.resolver.NoNameservers as exc:
        detail = "no server answered usefully"
        errors = exc.kwargs.get("errors") or []
        if errors:
            detail = f"server answered {errors[-1][3]}"  # (server, tcp, port, error or rcode)
        return MxAnswer(name, LookupOutcome.FAILURE, detail=detail, ttl=settings.failure_ttl)
    except Exception as exc:  # a lookup must never take the message down with it
        return MxAnswer(name, LookupOutcome.FAILURE, detail=type(exc).__name__,
                        ttl=settings.failure_ttl)
    if answer.rrset is None:
        ttl = _negative_ttl(answer.response, settings.negative_ttl)
        return MxAnswer(name, LookupOutcome.NODATA, ttl=min(ttl, settings.max_ttl))
    records = sorted(answer.rrset, key=lambda r: (r.preference, str(r.exchange)))
    # A null MX ("0 .", RFC 7505) says the domain takes no mail: the name exists, no host.
    hosts = tuple(h for h in (str(r.exchange).rstrip(".").lower() for r in records) if h)
    return MxAnswer(name, LookupOutcome.ANSWER, hosts,
                    ttl=min(float(answer.rrset.ttl), settings.max_ttl))


# --- classification -----------------------------------------------------------------------------


def _official_anchor(domain: str, lists: DomainLists) -> str | None:
    """The official suffix or agency domain a name sits under (``gov.vn``), if any."""
    hit = lists.official.match(domain)
    return hit.removeprefix("*.") if hit is not None else None


def names_to_look_up(base: DomainClassification, lists: DomainLists) -> tuple[str, ...]:
    """The names whose MX answers refine a list classification; empty when DNS cannot help.

    External domains need their MX. Names under an official suffix need their own answer (does it
    exist?) and the suffix's: a resolver that calls ``gov.vn`` itself non-existent is lying or cut
    off, and its NXDOMAIN answers must not turn official mail into look-alikes.
    """
    domain = base.domain
    if domain is None or base.internal or domain.startswith("["):  # [192.0.2.1] has no MX
        return ()
    if base.domain_class is DomainClass.EXTERNAL:
        return (domain,)
    anchor = _official_anchor(domain, lists)
    if anchor is not None and base.domain_class in (DomainClass.OFFICIAL, DomainClass.LOOKALIKE):
        return tuple(dict.fromkeys((domain, anchor)))
    return ()


def _failure_evidence(answer: MxAnswer) -> str:
    if answer.outcome is LookupOutcome.BUDGET_SPENT:
        return "dns:budget spent"  # the size of the budget goes in the reason
    return f"dns:{answer.outcome.value}" + (f" ({answer.detail})" if answer.detail else "")


def _with(base: DomainClassification, note: str, evidence: str) -> DomainClassification:
    """The list class kept, with what DNS said appended."""
    return replace(base, reason=f"{base.reason}; {note}", evidence=(*base.evidence, evidence))


class MxPatterns:
    """The policy's consumer and hosted MX patterns; the more specific match wins, so
    ``mx-biz.mail.am0.yahoodns.net`` (business) beats ``yahoodns.net`` (consumer)."""

    def __init__(self, settings: DnsSettings) -> None:
        self.consumer = DomainSuffixSet(settings.consumer_mx)
        self.hosted = DomainSuffixSet(settings.hosted_mx)
        self.hosted_class = settings.hosted_class

    def kind(self, host: str) -> tuple[str, str] | None:
        """``("consumer" | "hosted", pattern)`` for an MX host, or None."""
        consumer, hosted = self.consumer.match(host), self.hosted.match(host)
        if consumer is not None and (hosted is None or len(consumer) > len(hosted)):
            return "consumer", consumer
        if hosted is not None:
            return "hosted", hosted
        return None


def _refine_external(base: DomainClassification, answer: MxAnswer, patterns: MxPatterns
                     ) -> DomainClassification:
    if answer.outcome.failed:
        return DomainClassification(
            DomainClass.UNKNOWN, base.domain,
            f"{base.reason}; MX lookup failed: {answer.detail or answer.outcome.value}",
            evidence=(_failure_evidence(answer),))
    if answer.outcome is LookupOutcome.NXDOMAIN:
        return _with(base, "the domain does not exist in DNS", "dns:nxdomain")
    if not answer.hosts:
        return _with(base, "no MX records", "dns:no-mx")
    kinds = [(host, patterns.kind(host)) for host in answer.hosts]
    for wanted, domain_class, wording in (
        ("consumer", DomainClass.FREEMAIL, "consumer webmail"),
        ("hosted", patterns.hosted_class, "business hosting at a webmail provider"),
    ):
        for host, kind in kinds:
            if kind is not None and kind[0] == wanted:
                return DomainClassification(
                    domain_class, base.domain, f"MX {host} is {wording} ({kind[1]})",
                    evidence=(f"mx:{host}",))
    return _with(base, f"MX {answer.hosts[0]}", f"mx:{answer.hosts[0]}")


def _refine_official(base: DomainClassification, answer: MxAnswer, anchor_answer: MxAnswer,
                     anchor: str) -> DomainClassification:
    if answer.outcome.failed:
        return _with(base, f"existence not checked: {answer.detail or answer.outcome.value}",
                     _failure_evidence(answer))
    if answer.outcome.exists:
        if base.domain_class is DomainClass.LOOKALIKE:
            return DomainClassification(
                DomainClass.OFFICIAL, base.domain,
                f"official suffix {anchor}, exists in DNS (though it {base.reason})",
                evidence=(*base.evidence, "dns:exists"))
        return replace(base, evidence=(*base.evidence, "dns:exists"))
    # NXDOMAIN: trust it only if the resolver shows the suffix itself exists.
    if base.domain == anchor or not anchor_answer.outcome.exists:
        return _with(base, f"DNS denies {anchor} itself ({anchor_answer.outcome.value}): "
                     "its answers are not trusted", "dns:untrusted")
    reason = f"does not exist in DNS (NXDOMAIN) although under official suffix {anchor}"
    if base.domain_class is DomainClass.LOOKALIKE:
        reason += f"; it {base.reason}"
    return DomainClassification(DomainClass.LOOKALIKE, base.domain, reason,
                                evidence=(*base.evidence, "dns:nxdomain"))


def refine(base: DomainClassification, lists: DomainLists, patterns: MxPatterns,
           answers: dict[str, MxAnswer]) -> DomainClassification:
    """Combine a list classification with the MX answers of :func:`names_to_look_up`."""
    names = names_to_look_up(base, lists)
    if not names or base.domain is None:
        return base
    answer = answers[base.domain]
    if base.domain_class is DomainClass.EXTERNAL:
        return _refine_external(base, answer, patterns)
    anchor = names[-1]
    return _refine_official(base, answer, answers[anchor], anchor)


# --- the service --------------------------------------------------------------------------------

#: What :meth:`DnsIntel.ask` gives: an answer now (cached, or not asked), or the query under way.
Asked = MxAnswer | Future[MxAnswer]


def _budget_spent(name: str, budget: float) -> MxAnswer:
    """The answer for a name never asked: the message's budget was spent first (not cached)."""
    return MxAnswer(name, LookupOutcome.BUDGET_SPENT,
                    detail=f"the message's DNS budget of {budget:g} s was spent")


def _exhausted(budget: float) -> str:
    return f"budget of {budget:g} s exhausted"


class DnsIntel:
    """Cached, concurrent, time-bounded MX lookups and the classification built on them.

    One instance serves the whole process (it is thread-safe); rebuild it when the policy's
    ``dns:`` section changes. ``resolver`` overrides the one built from the settings.
    """

    def __init__(self, settings: DnsSettings, resolver: dns.resolver.Resolver | None = None, *,
                 on_lookup: LookupObserver | None = None,
                 clock: Callable[[], float] = time.monotonic, max_workers: int = 8) -> None:
        self.settings = settings
        self.patterns = MxPatterns(settings)
        self._resolver = resolver if resolver is not None else build_resolver(settings)
        self._on_lookup = on_lookup
        self._cache = TtlCache(settings.cache_size, clock)
        self._inflight: dict[str, Future[MxAnswer]] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="govmilter-dns")

    def close(self) -> None:
        """Stop the worker threads (queries already sent finish within their timeout)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> DnsIntel:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _query(self, name: str, until: float, budget: float) -> MxAnswer:
        started = time.monotonic()
        # never longer than dns.timeout, nor past the time the asking message has left
        lifetime = min(self.settings.timeout, until - started)
        cut = lifetime < self.settings.timeout
        try:
            if lifetime <= 0:  # waited in the pool's queue until the budget was gone: not sent
                return _budget_spent(name, budget)
            answer = query_mx(self._resolver, name, self.settings, lifetime)
            if cut and answer.outcome is LookupOutcome.TIMEOUT:
                # cut short by a message's budget: says nothing about the server, not cached
                answer = replace(answer, detail=_exhausted(budget))
            else:
                self._cache.put(name, answer)
        finally:
            with self._lock:
                self._inflight.pop(name, None)
        if self._on_lookup is not None:
            with contextlib.suppress(Exception):  # a broken observer must not lose the answer
                self._on_lookup(time.monotonic() - started, answer.outcome.value)
        return answer

    def _future(self, name: str, until: float, budget: float) -> Future[MxAnswer]:
        """The pending query for ``name``: an identical one in flight is shared, not repeated."""
        with self._lock:
            future = self._inflight.get(name)
            if future is None:
                future = self._pool.submit(self._query, name, until, budget)
                self._inflight[name] = future
            return future

    def ask(self, name: str, until: float, budget: float | None = None) -> Asked:
        """Start looking ``name`` up, for an answer by ``until`` (a ``time.monotonic()`` time).

        Gives the cached answer when there is one, a ``budget spent`` answer (nothing sent) when
        ``until`` has passed, else the query under way, given at most the time left (a query for
        the same name already under way is shared). ``budget`` (default ``dns.budget``) is only
        quoted in the evidence of an answer cut short.
        """
        limit = self.settings.budget if budget is None else budget
        cached = self._cache.get(name)
        if cached is not None:
            return cached
        if until <= time.monotonic():
            return _budget_spent(name, limit)
        try:
            return self._future(name, until, limit)
        except RuntimeError:  # pool shut down: answer without DNS, do not raise
            return MxAnswer(name, LookupOutcome.FAILURE, detail="shut down")

    def collect(self, asked: dict[str, Asked], until: float, budget: float | None = None
                ) -> dict[str, MxAnswer]:
        """The answers to :meth:`ask`, waiting for the queries under way until ``until`` at most.

        A query still unanswered then gets a ``timeout`` answer saying the budget ran out.
        """
        limit = self.settings.budget if budget is None else budget
        pending = [a for a in asked.values() if isinstance(a, Future)]
        if pending:
            wait(pending, timeout=max(until - time.monotonic(), 0.0))
        results: dict[str, MxAnswer] = {}
        for name, asking in asked.items():
            if isinstance(asking, MxAnswer):
                results[name] = asking
            elif asking.done() and not asking.cancelled() and asking.exception() is None:
                results[name] = asking.result()
            else:
                results[name] = MxAnswer(name, LookupOutcome.TIMEOUT, detail=_exhausted(limit))
        return results

    def lookup_many(self, names: Iterable[str], budget: float | None = None
                    ) -> dict[str, MxAnswer]:
        """MX answers for ``names``, from the cache or queried concurrently.

        Returns within ``budget`` seconds (default: the policy's ``dns.budget``); a name still
        unanswered then gets a ``timeout`` answer saying the budget ran out.
        """
        limit = self.settings.budget if budget is None else budget
        until = time.monotonic() + limit
        asked = {name: self.ask(name, until, limit) for name in dict.fromkeys(names)}
        return self.collect(asked, until, limit)

    def classify_many(self, addresses: Iterable[str], lists: DomainLists, *,
                      today: _dt.date | None = None, budget: float | None = None
                      ) -> dict[str, DomainClassification]:
        """Classify addresses by the lists, then refine with DNS, all lookups within one budget.

        Exceptions, internal domains, freemail-list hits and static look-alikes are final: DNS only
        looks at external domains and at names under an official suffix.
        """
        lookups = MessageLookups(self, lists, today=today, budget=budget)
        texts = list(dict.fromkeys(addresses))
        for text in texts:
            lookups.start(text)  # every lookup under way before the first wait
        return {text: lookups(text) for text in texts}


class MessageLookups:
    """The DNS side of one message: the :class:`~govmilter.domains.classify.Classifier` that
    :meth:`DnsClassifier.message` opens.

    A lookup starts as soon as its address is known (:meth:`start`: the sender at MAIL FROM, each
    recipient at its RCPT), and the lookups run concurrently. Asking for a class waits for that
    address's answers only. All the waiting for the message together stays within ``budget``
    seconds (default ``dns.budget``): a lookup is given at most what is left of it, and once it is
    spent the remaining addresses are classified at once without DNS (evidence
    ``dns:budget spent``; ``on_budget_spent`` is called for each lookup not made). Time nobody
    waits (the client sending its next command) is not charged. Each address is classified once.
    """

    def __init__(self, intel: DnsIntel, lists: DomainLists, *, today: _dt.date | None = None,
                 budget: float | None = None,
                 on_budget_spent: BudgetSpent | None = None) -> None:
        self._intel = intel
        self._lists = lists
        self._day = today or _dt.date.today()
        self.budget = intel.settings.budget if budget is None else budget
        self._left = self.budget
        self._on_budget_spent = on_budget_spent
        self._asked: dict[str, tuple[DomainClassification, dict[str, Asked]]] = {}
        self._known: dict[str, DomainClassification] = {}

    @property
    def left(self) -> float:
        """Seconds of waiting this message still has."""
        return self._left

    def start(self, address: str) -> None:
        """Classify by the lists now and start the DNS lookups the address needs; never waits."""
        if address in self._known or address in self._asked:
            return
        parsed = parse_address(address)
        if parsed.domain is None or self._lists.find_exception(parsed, self._day) is not None:
            self._known[address] = classify_address(parsed, self._lists, self._day)
            return
        base = classify_domain(parsed.domain, self._lists)
        names = names_to_look_up(base, self._lists)
        if not names:
            self._known[address] = base
            return
        until = time.monotonic() + self._left
        self._asked[address] = (base, {n: self._intel.ask(n, until, self.budget) for n in names})

    def __call__(self, address: str) -> DomainClassification:
        """The class of ``address``, waiting for its lookups no longer than the budget left."""
        self.start(address)
        known = self._known.get(address)
        if known is not None:
            return known
        base, asked = self._asked.pop(address)
        began = time.monotonic()
        answers = self._intel.collect(asked, began + self._left, self.budget)
        self._left = max(self._left - (time.monotonic() - began), 0.0)
        if self._on_budget_spent is not None:
            for answer in answers.values():
                if answer.outcome is LookupOutcome.BUDGET_SPENT:
                    with contextlib.suppress(Exception):  # counting must not lose the answer
                        self._on_budget_spent()
        result = self._known[address] = refine(base, self._lists, self._intel.patterns, answers)
        return result

    def message(self, on_budget_spent: BudgetSpent | None = None) -> MessageLookups:
        """The classifier of another message: a budget of its own."""
        return MessageLookups(self._intel, self._lists, budget=self.budget,
                              on_budget_spent=on_budget_spent)


def dns_classifier(policy: DomainPolicy, intel: DnsIntel | None, addresses: Iterable[str], *,
                   today: _dt.date | None = None, budget: float | None = None) -> Classifier:
    """A classifier for ``decide()`` with the DNS answers for ``addresses`` computed up front.

    The lookups for every address run now, concurrently, within the budget; the classifier then
    answers from memory, so ``decide()`` never waits on DNS. Addresses outside the batch, or a
    policy with ``dns.enabled: false`` (or no ``intel``), get the list-only classification.
    """
    if intel is None or not policy.dns.enabled:
        return ListsClassifier(policy.domains, today)
    known = intel.classify_many(addresses, policy.domains, today=today, budget=budget)
    return ListsClassifier(policy.domains, today, answers=known)


class DnsClassifier:
    """The classifier of one policy backed by a shared :class:`DnsIntel`.

    Called with an address, it classifies that address on its own within the budget. The milter
    opens one :meth:`message` per transaction instead, so that the lookups of the sender and
    every recipient overlap and share one budget.
    """

    def __init__(self, policy: DomainPolicy, intel: DnsIntel) -> None:
        self._intel = intel
        self._lists = policy.domains

    def __call__(self, address: str) -> DomainClassification:
        return self._intel.classify_many((address,), self._lists)[address]

    def start(self, address: str) -> None:
        """Nothing: called alone, each address is looked up when asked (a message's start)."""

    def message(self, on_budget_spent: BudgetSpent | None = None) -> MessageLookups:
        """The classifier of one message: one budget for all of its addresses."""
        return MessageLookups(self._intel, self._lists, on_budget_spent=on_budget_spent)


class DnsClassifierFactory:
    """Per-policy classifiers backed by one shared :class:`DnsIntel` (for a long-running daemon).

    Calling the factory with a policy returns a :class:`DnsClassifier` (or the list classifier
    when the policy's DNS is off); the milter opens one :meth:`DnsClassifier.message` per
    transaction, so all DNS waiting of a message stays within the policy's ``dns.budget``. The
    :class:`DnsIntel` is rebuilt only when the policy's ``dns:`` section changes.
    """

    def __init__(self, on_lookup: LookupObserver | None = None) -> None:
        self._on_lookup = on_lookup
        self._lock = threading.Lock()
        self._intel: DnsIntel | None = None

    def _intel_for(self, settings: DnsSettings) -> DnsIntel:
        with self._lock:
            if self._intel is None or self._intel.settings != settings:
                if self._intel is not None:
                    self._intel.close()
                self._intel = DnsIntel(settings, on_lookup=self._on_lookup)
            return self._intel

    def __call__(self, policy: DomainPolicy) -> Classifier:
        if not policy.dns.enabled:
            return ListsClassifier(policy.domains)
        return DnsClassifier(policy, self._intel_for(policy.dns))

    def close(self) -> None:
        """Stop the shared lookup threads."""
        with self._lock:
            if self._intel is not None:
                self._intel.close()
                self._intel = None
