"""Domain intelligence over DNS: what a list of domains cannot see.

* A custom domain whose MX is consumer webmail (``gmail-smtp-in.l.google.com``,
  ``*.olc.protection.outlook.com``, ``*.yahoodns.net``) is ``freemail``, with evidence
  ``mx:<host>``; one at business hosting on the same infrastructure (Google Workspace,
  Microsoft 365) gets the policy's ``dns.hosted_class`` (``hosted`` by default).
* A name under an official suffix that does not exist (NXDOMAIN) is a ``lookalike``; one that does
  exist is official even when the static check found it one edit from a protected agency domain.
* A failed or slow lookup never blocks and never raises: the class is ``unknown`` (for names the
  lists call official, the list class stays), with the failure as evidence.

Lookups for all addresses of a message run concurrently on a small thread pool and are cut at the
per-message budget; answers are cached by their TTL, "no such name" by the SOA's negative TTL, and
failures briefly, in a bounded LRU cache. This module knows nothing about milters or Prometheus:
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

import dns.exception
import dns.message
import dns.nameserver
import dns.rdatatype
import dns.resolver

from govmilter.domains import (
    DomainClass,
    DomainClassification,
    DomainLists,
    DomainSuffixSet,
    classify_address,
    classify_domain,
    parse_address,
)
from govmilter.policy.decide import Classifier, list_classifier
from govmilter.policy.model import DnsSettings, Policy

#: Called once per DNS query actually sent (cache hits are not queries): seconds, outcome value.
LookupObserver = Callable[[float, str], None]


class LookupOutcome(enum.StrEnum):
    """How one MX query ended."""

    ANSWER = "answer"  #: the name has MX records
    NODATA = "nodata"  #: the name exists but has no MX records
    NXDOMAIN = "nxdomain"  #: the name does not exist
    TIMEOUT = "timeout"  #: no answer within the time allowed
    FAILURE = "failure"  #: SERVFAIL, REFUSED, no nameserver, malformed answer...

    @property
    def failed(self) -> bool:
        """True when DNS gave no usable answer."""
        return self in (LookupOutcome.TIMEOUT, LookupOutcome.FAILURE)

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


def query_mx(resolver: dns.resolver.Resolver | None, name: str, settings: DnsSettings
             ) -> MxAnswer:
    """Ask for the MX records of ``name``; never raises, every failure is an outcome."""
    if resolver is None:
        return MxAnswer(name, LookupOutcome.FAILURE, detail="no nameserver configured",
                        ttl=settings.failure_ttl)
    try:
        answer = resolver.resolve(name + ".", "MX", raise_on_no_answer=False,
                                  lifetime=settings.timeout, search=False)
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

    def _query(self, name: str) -> MxAnswer:
        started = time.monotonic()
        try:
            answer = query_mx(self._resolver, name, self.settings)
            self._cache.put(name, answer)
        finally:
            with self._lock:
                self._inflight.pop(name, None)
        if self._on_lookup is not None:
            with contextlib.suppress(Exception):  # a broken observer must not lose the answer
                self._on_lookup(time.monotonic() - started, answer.outcome.value)
        return answer

    def _future(self, name: str) -> Future[MxAnswer]:
        """The pending query for ``name``: an identical one in flight is shared, not repeated."""
        with self._lock:
            future = self._inflight.get(name)
            if future is None:
                future = self._pool.submit(self._query, name)
                self._inflight[name] = future
            return future

    def lookup_many(self, names: Iterable[str], budget: float | None = None
                    ) -> dict[str, MxAnswer]:
        """MX answers for ``names``, from the cache or queried concurrently.

        Returns within ``budget`` seconds (default: the policy's ``dns.budget``); a name still
        unanswered then gets a ``timeout`` answer saying the budget ran out (its query goes on in
        the background and fills the cache for the next message).
        """
        limit = self.settings.budget if budget is None else budget
        results: dict[str, MxAnswer] = {}
        pending: dict[str, Future[MxAnswer]] = {}
        for name in dict.fromkeys(names):
            cached = self._cache.get(name)
            if cached is not None:
                results[name] = cached
            else:
                try:
                    pending[name] = self._future(name)
                except RuntimeError:  # pool shut down: answer without DNS, do not raise
                    results[name] = MxAnswer(name, LookupOutcome.FAILURE, detail="shut down")
        if pending:
            wait(pending.values(), timeout=max(limit, 0.0))
        for name, future in pending.items():
            if future.done() and not future.cancelled() and future.exception() is None:
                results[name] = future.result()
            else:
                results[name] = MxAnswer(name, LookupOutcome.TIMEOUT,
                                         detail=f"budget of {limit:g} s exhausted")
        return results

    def classify_many(self, addresses: Iterable[str], lists: DomainLists, *,
                      today: _dt.date | None = None, budget: float | None = None
                      ) -> dict[str, DomainClassification]:
        """Classify addresses by the lists, then refine with DNS, all lookups within one budget.

        Exceptions, internal domains, freemail-list hits and static look-alikes are final: DNS only
        looks at external domains and at names under an official suffix.
        """
        day = today or _dt.date.today()
        bases: dict[str, DomainClassification] = {}
        final: dict[str, DomainClassification] = {}
        for text in dict.fromkeys(addresses):
            address = parse_address(text)
            exception = lists.find_exception(address, day)
            if address.domain is None or exception is not None:
                final[text] = classify_address(address, lists, day)
            else:
                bases[text] = classify_domain(address.domain, lists)
        names = [name for base in bases.values() for name in names_to_look_up(base, lists)]
        answers = self.lookup_many(names, budget) if names else {}
        for text, base in bases.items():
            final[text] = refine(base, lists, self.patterns, answers)
        return final


def dns_classifier(policy: Policy, intel: DnsIntel | None, addresses: Iterable[str], *,
                   today: _dt.date | None = None, budget: float | None = None) -> Classifier:
    """A classifier for ``decide()`` with the DNS answers for ``addresses`` computed up front.

    The lookups for every address run now, concurrently, within the budget; the classifier then
    answers from memory, so ``decide()`` never waits on DNS. Addresses outside the batch, or a
    policy with ``dns.enabled: false`` (or no ``intel``), get the list-only classification.
    """
    fallback = list_classifier(policy, today)
    if intel is None or not policy.dns.enabled:
        return fallback
    known = intel.classify_many(addresses, policy.domains, today=today, budget=budget)
    return lambda text: known[text] if text in known else fallback(text)


class DnsClassifierFactory:
    """Per-policy classifiers backed by one shared :class:`DnsIntel` (for a long-running daemon).

    Calling the factory with a policy returns a classifier that looks an address up on demand,
    within the policy's per-message budget, and answers from the cache afterwards: the milter
    classifies each recipient at RCPT time, so by end of message every answer is cached. The
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

    def __call__(self, policy: Policy) -> Classifier:
        fallback = list_classifier(policy)
        if not policy.dns.enabled:
            return fallback
        intel = self._intel_for(policy.dns)
        lists = policy.domains

        def classify(text: str) -> DomainClassification:
            return intel.classify_many((text,), lists).get(text) or fallback(text)

        return classify

    def close(self) -> None:
        """Stop the shared lookup threads."""
        with self._lock:
            if self._intel is not None:
                self._intel.close()
                self._intel = None
