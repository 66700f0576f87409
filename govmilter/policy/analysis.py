"""Static analysis of a compiled policy: rules that can never match.

Rules are tried in order and the first match wins, so a rule whose every case is already taken by
earlier rules is dead: editing it changes nothing, which is exactly the surprise a security team
must hear about before shipping. The analysis is exact rather than heuristic: a rule's conditions
only look at a handful of small value sets (sender class, recipient class, document class,
authenticated or not, which service, forwarded or not), so every combination is enumerated and
judged by :func:`govmilter.policy.decide.rule_mismatch`, the same function ``decide()`` uses. A
rule is therefore reported only when no message at all could reach it, whether one broader rule
or several earlier rules together cover it.

Sender lists (``sender_unit``, ``sender_address``, ``sender_domain``) are enumerated through
sample senders: one for each address and domain the policy names (and one just beside it: an
other mailbox of the domain, a sub-domain), plus one nobody names, keeping one sample per
different answer the rules give. The class of a sample is enumerated apart from its address, as
the lists do not say it; a rule is thus never called dead for a sender it could see.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from govmilter.document.settings import DocumentClass
from govmilter.domains.classify import DomainClass, DomainClassification
from govmilter.mail.addresses import parse_address
from govmilter.policy.decide import rcpt_refusing_rules, rule_mismatch
from govmilter.policy.forwarding import NOT_FORWARDED, ForwardFinding
from govmilter.policy.model import Policy, PolicyProblem, Rule
from govmilter.policy.verdict import Envelope

#: The document classes the detector can report (``any`` is only a rule condition).
FOUND_DOCUMENTS = (DocumentClass.SECRET, DocumentClass.OFFICIAL, DocumentClass.MARKED,
                   DocumentClass.UNSCANNABLE, DocumentClass.NONE)

#: A service name no rule can name (rule service names never contain a NUL): "any other service".
_OTHER_SERVICE = "\x00other"


@dataclass(frozen=True, slots=True)
class _Case:
    """One combination of the facts rules look at."""

    envelope: Envelope
    sender: DomainClassification
    recipient: DomainClassification
    document: DocumentClass
    forward: ForwardFinding
    sender_unit: str | None = None


#: A message is either an automatic forward or not: one finding of each kind.
_FORWARD_CASES = (NOT_FORWARDED, ForwardFinding(("forwarded",)))


@dataclass(frozen=True, slots=True)
class ShadowedRule:
    """A rule no message can reach, and the earlier rules that take all its cases."""

    rule: Rule
    by: tuple[Rule, ...]  #: empty when the rule's own conditions accept nothing


def _sample_senders(policy: Policy) -> list[tuple[str, str | None]]:
    """Sample envelope senders with their units: one per different answer of the rules' sender
    lists (see the module docstring)."""
    rules = policy.rules
    entries = {entry for rule in rules for names in (rule.sender_addresses, rule.sender_domains)
               if names is not None for entry in names.entries}
    if any(rule.sender_units is not None for rule in rules):
        entries.update(member for unit in policy.units.units for member in unit.members)
    samples = {"nobody@unlisted.invalid"}
    for entry in entries:
        domain = entry.rpartition("@")[2].removeprefix("*.")
        samples.update((entry, f"nobody-listed@{domain}", f"nobody@sub.{domain}"))
    kept: dict[tuple[object, ...], tuple[str, str | None]] = {}
    for sample in sorted(samples):
        unit = policy.units.unit_of(sample)
        address = parse_address(sample)
        answers = (unit, *((names.entry_for(address) is not None) if names is not None else None
                           for rule in rules
                           for names in (rule.sender_addresses, rule.sender_domains)))
        kept.setdefault(answers, (sample if entries else "", unit))
    return list(kept.values())


def _cases(policy: Policy) -> Iterator[_Case]:
    """Every combination of the facts the policy's rules can tell apart."""
    named = sorted({name for rule in policy.rules for name in rule.services or ()})
    services: list[str | None] = [None, *named, _OTHER_SERVICE]
    classes = [DomainClassification(c, None, "") for c in DomainClass]
    # a forward tells rules apart only when some rule names the condition
    forwards = (_FORWARD_CASES if any(rule.forwarded is not None for rule in policy.rules)
                else _FORWARD_CASES[:1])
    for (address, unit), sender, recipient, document, user, service, forward in \
            itertools.product(_sample_senders(policy), classes, classes, FOUND_DOCUMENTS,
                              (None, "user"), services, forwards):
        envelope = Envelope(sender=address, recipients=(), authenticated_user=user,
                            service=service)
        yield _Case(envelope, sender, recipient, document, forward, unit)


def find_shadowed_rules(policy: Policy) -> tuple[ShadowedRule, ...]:
    """Return the rules that can never match, in policy order."""
    rules = policy.rules
    # For each rule, the earlier rules that win the cases it matches (by index).
    winners: list[set[int]] = [set() for _ in rules]
    reachable = [False] * len(rules)
    for case in _cases(policy):
        winner: int | None = None
        for index, rule in enumerate(rules):
            if rule_mismatch(rule, case.envelope, case.sender, case.recipient,
                             case.document, case.sender_unit,
                             forward=case.forward) is not None:
                continue
            if winner is None:
                winner = index
                reachable[index] = True
            else:
                winners[index].add(winner)
    return tuple(
        ShadowedRule(rule, tuple(rules[i] for i in sorted(winners[index])))
        for index, rule in enumerate(rules) if not reachable[index]
    )


def shadowed_rule_warnings(policy: Policy) -> tuple[PolicyProblem, ...]:
    """One ``file:line`` warning per dead rule, at the dead rule's line, naming what hides it."""
    problems = []
    for shadowed in find_shadowed_rules(policy):
        rule = shadowed.rule
        if not shadowed.by:
            message = f"rule {rule.id!r} can never match: its conditions accept no message"
        elif len(shadowed.by) == 1:
            earlier = shadowed.by[0]
            message = (f"rule {rule.id!r} can never match: it is shadowed by the earlier rule "
                       f"{earlier.id!r} (line {earlier.line}), which matches every message it "
                       "would")
        else:
            names = ", ".join(f"{r.id!r} (line {r.line})" for r in shadowed.by)
            message = (f"rule {rule.id!r} can never match: it is shadowed by the earlier rules "
                       f"{names}, which together match every message it would")
        problems.append(PolicyProblem(policy.source.path, rule.line, message, "warning"))
    return tuple(problems)


def rcpt_refusal_warnings(policy: Policy) -> tuple[PolicyProblem, ...]:
    """One ``file:line`` warning per rule that refuses recipients at RCPT in every service.

    Postfix cannot refuse a recipient of mail that did not come by SMTP: with
    ``non_smtpd_milters`` (deploy/postfix-main.cf sets it) such a refusal kept sendmail(1) mail
    in the maildrop queue, retried for ever. The milter now decides that mail at end of message,
    but qmqpd mail, which carries a real client address, cannot be told apart.
    """
    return tuple(PolicyProblem(
        policy.source.path, rule.line,
        f"rule {rule.id!r} rejects at RCPT (it has no document: condition), which Postfix "
        "cannot do for mail not received by SMTP: with non_smtpd_milters (as "
        "deploy/postfix-main.cf sets it) govmilter decides sendmail(1) mail at end of message "
        "instead (Postfix bounces it), and qmqpd mail would stay queued; name the SMTP services "
        "(service:) or leave non_smtpd_milters empty if you use qmqpd", "warning")
        for rule in rcpt_refusing_rules(policy) if not rule.services)


#: "mat" alone in a reply written without diacritics: the reader cannot tell MẬT from mất
_BARE_MAT = re.compile(r"(?<![\w])mat(?![\w])", re.IGNORECASE)


def ambiguous_reply_warnings(policy: Policy) -> tuple[PolicyProblem, ...]:
    """One ``file:line`` warning per rule whose reply writes "mat" without diacritics.

    SMTP replies are ASCII: govmilter writes the marking MẬT as ``CONFIDENTIAL (MAT)`` when the
    policy gives it with its diacritics; a reply already folded by hand says "mat", which reads
    as *mất* (lost).
    """
    return tuple(PolicyProblem(
        policy.source.path, rule.line,
        f"rule {rule.id!r}: its reply says \"mat\" without diacritics, which reads as \"mất\" "
        "(lost); write MẬT (the reply then shows CONFIDENTIAL (MAT))", "warning")
        for rule in policy.rules if rule.reply is not None
        and any(_BARE_MAT.search(line) for line in rule.reply.lines))
