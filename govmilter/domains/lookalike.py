"""Static look-alike checks: domains that imitate an official suffix or a protected agency domain.

Pure string work on normalised (IDNA A-label, lower-case) domains; no DNS. Deciding whether a
``.gov.vn`` name really exists is :mod:`govmilter.domains.dnsintel`'s job.

Ways a domain imitates a target such as ``gov.vn`` or ``mic.gov.vn``:

* it *embeds* the target's labels somewhere other than at the end: ``gov.vn.com``,
  ``mic.gov.vn.mail-box.net``, glued to a neighbour (``hanoigov.vn.com``, ``gov.vnmail.com``,
  and at the end ``bacninhgov.vn``);
* it *joins* the target's labels into one label: ``govvn.com``, ``gov-vn.net``, ``mic-gov-vn.org``;
* it *inserts* a label into the target: ``hanoi.gov.com.vn`` (a name under ``gov.com.vn``);
* one of its tails is *one edit* away from the target (a letter changed, added, removed, or two
  neighbours swapped, dots included): ``hanoi.gov.vm``, ``gob.vn``, ``mlc.gov.vn``, ``micgov.vn``;
* it *reads as* the target, or a name below it, once written another way.

Each check runs on the name as written and on the forms a reader cannot tell from it (a
:data:`FORMS` entry, named in the evidence): hyphens read as dots (``mic-gov.vn``), without
diacritics (``góv.vn``), and the Unicode confusable skeleton (``gоv.vn`` with a Cyrillic о,
``ɡov.vn`` with a Latin script g).

False positives cost real mail, so: a domain at or below a target never imitates it, edit distance
is only measured against the policy's targets (official suffixes and the configured agency and
internal domains, never every ``.gov.vn`` name), the checks that add or glue labels leave names
under an official suffix alone (they are real agencies' names), and ``allow`` exempts real
neighbours such as other countries' ``gov.cn`` or a sister agency ``moh.gov.vn`` one letter from
``mof.gov.vn``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field

from govmilter.domains.confusables import skeleton, without_marks
from govmilter.mail.names import display_domain

#: Real government suffixes one edit from ``gov.vn`` (``.cn``, ``.in``, ``.vu``... are
#: country-code TLDs): exempt by default so that mail to those governments is not a look-alike.
REAL_NEIGHBOURS_OF_GOV_VN = (
    "gov.bn", "gov.cn", "gov.gn", "gov.hn", "gov.in", "gov.kn", "gov.mn", "gov.sn", "gov.tn",
    "gov.va", "gov.vc", "gov.ve", "gov.vg", "gov.vi", "gov.vu",
)

#: A joined target shorter than this (``ab.vn`` → ``abvn``) would match inside unrelated labels.
_MIN_JOINED_LENGTH = 5

#: The forms of a name that are compared, least rewritten first: the name as written (A-labels),
#: hyphens read as dots, without diacritics, and the confusable skeleton (without diacritics).
FORMS = ("name", "hyphens", "diacritics", "diacritics+hyphens", "skeleton", "skeleton+hyphens")

#: Domains whose forms are remembered: the targets of every policy, and recent senders and
#: recipients (each classifier also remembers its own answers).
_FORMS_MEMORY = 4096


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
    how: str  #: ``embeds``, ``joins``, ``inserts``, ``one-edit`` or ``reads-as``
    part: str  #: the part of the domain that does the imitating, in the form compared
    form: str = "name"  #: the :data:`FORMS` entry in which it imitates the target

    @property
    def reason(self) -> str:
        """A sentence for people: ``imitates gov.vn: 'gov.vn.com' embeds it``, ``imitates
        gov.vn: 'gov.vn' reads as it (written without diacritics)``."""
        wording = {"embeds": "embeds it", "joins": "joins its labels",
                   "inserts": "inserts a label into it", "one-edit": "is one edit from it",
                   "reads-as": "reads as it or a name below it"}[self.how]
        written = {"name": "", "hyphens": " (hyphens read as dots)",
                   "diacritics": " (written without diacritics)",
                   "diacritics+hyphens": " (without diacritics, hyphens read as dots)",
                   "skeleton": " (confusable letters read as Latin)",
                   "skeleton+hyphens": " (confusable letters read as Latin, hyphens as dots)",
                   }[self.form]
        return f"imitates {self.target}: {self.part!r} {wording}{written}"

    @property
    def evidence(self) -> str:
        """A short machine-readable token: ``lookalike:one-edit:mic.gov.vn`` for the name as
        written, ``lookalike:reads-as:gov.vn:skeleton`` for another form."""
        token = f"lookalike:{self.how}:{self.target}"
        return token if self.form == "name" else f"{token}:{self.form}"


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


def _dotted(name: str) -> str:
    """``mic-gov.vn`` -> ``mic.gov.vn``: the name with its hyphens read as dots."""
    return ".".join(label for label in name.replace("-", ".").split(".") if label)


@functools.lru_cache(maxsize=_FORMS_MEMORY)
def name_forms(domain: str) -> tuple[str, ...]:
    """The normalised ``domain`` in each of :data:`FORMS`, in that order, then as people read
    it (U-labels)."""
    shown = display_domain(domain)
    plain = without_marks(shown)
    confusable = without_marks(skeleton(shown))
    return (domain, _dotted(shown), plain, _dotted(plain), confusable, _dotted(confusable),
            shown)


def _embedded(labels: list[str], target_labels: list[str], inner_only: bool) -> str | None:
    """The labels of ``labels`` that hold the target's labels, the first one possibly glued to
    more letters before it and the last to more after it (``hanoigov.vn.com``,
    ``gov.vnmail.com``); at the end of the domain (the real suffix position) only glued before
    (``bacninhgov.vn``), and only when ``inner_only`` is false."""
    size = len(target_labels)
    first, middle, last = target_labels[0], target_labels[1:-1], target_labels[-1]
    for start in range(len(labels) - size + 1):
        window = labels[start:start + size]
        at_end = start + size == len(labels)
        glued_before = window[0][:-len(first)]
        if not (window[0].endswith(first) and window[1:-1] == middle) or \
                glued_before.endswith("-"):  # a hyphen: the "hyphens" form's match
            continue
        if not at_end and window[-1].startswith(last) and \
                not window[-1][len(last):].startswith("-"):
            return ".".join(window)
        if at_end and not inner_only and window[-1] == last and window[0] != first:
            return ".".join(window)
    return None


def _inserted(labels: list[str], target_labels: list[str]) -> str | None:
    """The domain's tail when it is the target with one label added inside it
    (``gov.com.vn`` for ``gov.vn``)."""
    size = len(target_labels)
    if len(labels) < size + 1:
        return None
    tail = labels[-(size + 1):]
    for extra in range(1, size):
        if tail[:extra] + tail[extra + 1:] == target_labels:
            return ".".join(tail)
    return None


def imitation_of(domain: str, target: str, form: str = "name", official: bool = False,
                 edits: bool = True) -> Lookalike | None:
    """Say how ``domain`` (the form ``form`` of a normalised domain) imitates ``target`` (in the
    same form), or None when it does not.

    A name as written at or below the target is the real thing, never an imitation; in another
    form it *reads as* the target. ``official`` (the domain is under an official suffix) turns
    off the checks that add or glue labels: those would flag real agencies' names. ``edits``
    false leaves out the one-edit check.
    """
    if _at_or_below(domain, target):
        return None if form == "name" else Lookalike(target, "reads-as", domain, form)
    labels = domain.split(".")
    target_labels = target.split(".")
    size = len(target_labels)
    if size >= 2:
        part = _embedded(labels, target_labels, official)
        if part is not None:
            return Lookalike(target, "embeds", part, form)
        for joined in ("".join(target_labels), "-".join(target_labels)):
            if len(joined) >= _MIN_JOINED_LENGTH:
                for label in labels:
                    if joined in label:
                        return Lookalike(target, "joins", label, form)
        part = None if official else _inserted(labels, target_labels)
        if part is not None:
            return Lookalike(target, "inserts", part, form)
    for tail in _tails(labels, size) if edits else ():
        if tail != target and within_one_edit(tail, target):
            return Lookalike(target, "one-edit", tail, form)
    return None


def find_lookalike(domain: str, settings: LookalikeSettings) -> Lookalike | None:
    """Check a normalised domain against every target of the settings, in every form; None if
    it is clean. The answer is the first imitation found: exact imitations before one-edit
    ones, the suffixes before the protected domains, the least rewritten form first.

    Protected and allowed domains (and their sub-domains) are never look-alikes.
    """
    if not settings.enabled or domain.startswith("["):
        return None
    if is_allowed(domain, settings.allow) or is_allowed(domain, settings.protected):
        return None
    official = any(_at_or_below(domain, suffix) for suffix in settings.suffixes)
    # a name at or below a target is that target's, in whatever form it is written
    targets = [t for t in settings.targets() if not _at_or_below(domain, t)]
    forms = name_forms(domain)
    for edits in (False, True):
        for target in targets:
            for form, pair in _distinct_pairs(forms, name_forms(target)):
                found = imitation_of(*pair, form, official, edits)
                if found is not None:
                    return dataclasses.replace(found, target=target)  # named as written
    return None


def _distinct_pairs(forms: tuple[str, ...], target_forms: tuple[str, ...]
                    ) -> Iterable[tuple[str, tuple[str, str]]]:
    """(form, (domain, target)) for each of :data:`FORMS` that rewrote either side."""
    compared = {(forms[-1], target_forms[-1])}  # the names as people read them
    for index, form in enumerate(FORMS):
        pair = (forms[index], target_forms[index])
        if index == 0 or pair not in compared:
            compared.add(pair)
            yield form, pair
