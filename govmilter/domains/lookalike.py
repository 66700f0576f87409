"""Static look-alike checks: domains that imitate an official suffix or a protected agency domain.

Pure string work on normalised (IDNA A-label, lower-case) domains; no DNS. Deciding whether a
``.gov.vn`` name really exists is :mod:`govmilter.domains.dnsintel`'s job.

Three ways a domain imitates a target such as ``gov.vn`` or ``mic.gov.vn``:

* it *embeds* the target's labels somewhere other than at the end: ``gov.vn.com``,
  ``mic.gov.vn.mail-box.net``;
* it *joins* the target's labels into one label: ``govvn.com``, ``gov-vn.net``, ``mic-gov-vn.org``;
* one of its tails is *one edit* away from the target (a letter changed, added, removed, or two
  neighbours swapped, dots included): ``hanoi.gov.vm``, ``gob.vn``, ``mlc.gov.vn``, ``micgov.vn``.

False positives cost real mail, so: a domain at or below a target never imitates it, edit distance
is only measured against the policy's targets (official suffixes and the configured agency and
internal domains, never every ``.gov.vn`` name), and ``allow`` exempts real neighbours such as
other countries' ``gov.cn`` or a sister agency ``moh.gov.vn`` one letter from ``mof.gov.vn``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

#: Real government suffixes one edit from ``gov.vn`` (``.cn``, ``.in``, ``.vu``... are
#: country-code TLDs): exempt by default so that mail to those governments is not a look-alike.
REAL_NEIGHBOURS_OF_GOV_VN = (
    "gov.bn", "gov.cn", "gov.gn", "gov.hn", "gov.in", "gov.kn", "gov.mn", "gov.sn", "gov.tn",
    "gov.va", "gov.vc", "gov.ve", "gov.vg", "gov.vi", "gov.vu",
)

#: A joined target shorter than this (``ab.vn`` → ``abvn``) would match inside unrelated labels.
_MIN_JOINED_LENGTH = 5


@dataclass(frozen=True, slots=True)
class LookalikeSettings:
    """What the static check protects and what it leaves alone (``domains.lookalike``)."""

    enabled: bool = True
    #: official suffixes whose imitation is flagged (``gov.vn``)
    suffixes: tuple[str, ...] = ("gov.vn",)
    #: agency and internal domains whose one-edit neighbours are flagged (``mic.gov.vn``)
    protected: tuple[str, ...] = ()
    #: domains (and their sub-domains) never called look-alikes
    allow: frozenset[str] = field(default_factory=lambda: frozenset(REAL_NEIGHBOURS_OF_GOV_VN))

    def targets(self) -> tuple[str, ...]:
        """Every domain the check compares against, suffixes first, without duplicates."""
        return tuple(dict.fromkeys((*self.suffixes, *self.protected)))


@dataclass(frozen=True, slots=True)
class Lookalike:
    """Why a domain looks like an official one."""

    target: str  #: the suffix or protected domain it imitates
    how: str  #: ``embeds``, ``joins`` or ``one-edit``
    part: str  #: the part of the domain that does the imitating

    @property
    def reason(self) -> str:
        """A sentence for people: ``imitates gov.vn: 'gov.vn.com' embeds it``."""
        wording = {"embeds": "embeds it", "joins": "joins its labels",
                   "one-edit": "is one edit from it"}[self.how]
        return f"imitates {self.target}: {self.part!r} {wording}"

    @property
    def evidence(self) -> str:
        """A short machine-readable token: ``lookalike:one-edit:mic.gov.vn``."""
        return f"lookalike:{self.how}:{self.target}"


def _at_or_below(domain: str, parent: str) -> bool:
    return domain == parent or domain.endswith("." + parent)


def is_allowed(domain: str, allow: Iterable[str]) -> bool:
    """True when ``domain`` is an allowed name or below one."""
    return any(_at_or_below(domain, entry) for entry in allow)


def within_one_edit(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by at most one substitution, insertion, deletion or swap
    of two neighbouring characters (optimal string alignment distance <= 1), in O(len)."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    prefix = 0
    while prefix < min(len(a), len(b)) and a[prefix] == b[prefix]:
        prefix += 1
    if len(a) == len(b):
        if a[prefix + 1:] == b[prefix + 1:]:
            return True  # one substitution
        return (a[prefix:prefix + 2] == b[prefix:prefix + 2][::-1]
                and a[prefix + 2:] == b[prefix + 2:])  # one swap of neighbours
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    return longer[prefix + 1:] == shorter[prefix:]  # one insertion


def _tails(labels: list[str], count: int) -> Iterable[str]:
    """The domain's last ``count - 1``, ``count`` and ``count + 1`` labels: an edit that adds or
    removes a dot changes the number of labels by one."""
    for n in (count - 1, count, count + 1):
        if 1 <= n <= len(labels):
            yield ".".join(labels[-n:])


def imitation_of(domain: str, target: str) -> Lookalike | None:
    """Say how the normalised ``domain`` imitates ``target``, or None when it does not.

    A domain at or below the target is the real thing, never an imitation.
    """
    if _at_or_below(domain, target):
        return None
    labels = domain.split(".")
    target_labels = target.split(".")
    size = len(target_labels)
    if size >= 2:
        for start in range(len(labels) - size):  # "- size": the real suffix position is excluded
            if labels[start:start + size] == target_labels:
                return Lookalike(target, "embeds", domain)
        for joined in ("".join(target_labels), "-".join(target_labels)):
            if len(joined) >= _MIN_JOINED_LENGTH:
                for label in labels:
                    if joined in label:
                        return Lookalike(target, "joins", label)
    for tail in _tails(labels, size):
        if tail != target and within_one_edit(tail, target):
            return Lookalike(target, "one-edit", tail)
    return None


def find_lookalike(domain: str, settings: LookalikeSettings) -> Lookalike | None:
    """Check a normalised domain against every target of the settings; None if it is clean.

    Protected and allowed domains (and their sub-domains) are never look-alikes.
    """
    if not settings.enabled or domain.startswith("["):
        return None
    if is_allowed(domain, settings.allow) or is_allowed(domain, settings.protected):
        return None
    for target in settings.targets():
        found = imitation_of(domain, target)
        if found is not None:
            return found
    return None
