"""The overview page's figures: today, the last 7 and 30 days, from the store's daily counts.

The daily counts are exact (every message, not only incidents); held mail comes from the open,
held incidents. "Stopped" means refused or held in enforce mode (monitor mode stops nothing).
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from dataclasses import dataclass

from govmilter.store import IncidentQuery, IncidentStatus, IncidentStore
from govmilter.store.records import DailyMessageCount, DailyRecipientCount
from govmilter.tools.incidents import VN_TZ

#: The periods of the overview: (text key, days including today).
PERIODS = (("today", 1), ("week", 7), ("month", 30))
DOCUMENTS = frozenset({"official", "secret"})
STOPPING = frozenset({"reject", "quarantine"})


@dataclass(frozen=True, slots=True)
class PeriodFigures:
    """One period's figures."""

    key: str
    checked: int
    compliant: int
    noncompliant: int
    to_webmail: int
    secret_stopped: int


@dataclass(frozen=True, slots=True)
class DayBar:
    """One day of the chart: compliant and non-compliant messages."""

    day: _dt.date
    compliant: int
    noncompliant: int


@dataclass(frozen=True, slots=True)
class UnitFigures:
    """One unit's figures over the longest period: its messages (the sender's unit) and its
    documents to and from webmail (recipients; received ones count for the recipient's unit)."""

    unit: str  #: the policy's unit id; "" for none
    checked: int
    noncompliant: int
    to_webmail: int
    from_webmail: int


@dataclass(frozen=True, slots=True)
class Overview:
    """Everything the overview page shows."""

    periods: tuple[PeriodFigures, ...]
    days: tuple[DayBar, ...]
    by_rule: tuple[tuple[str, int], ...]
    held_now: int
    oldest_hold: _dt.datetime | None
    #: per unit over the longest period, the busiest first; empty when no count has a unit
    by_unit: tuple[UnitFigures, ...] = ()


def _figures(key: str, messages: list[DailyMessageCount],
             recipients: list[DailyRecipientCount]) -> PeriodFigures:
    return PeriodFigures(
        key=key,
        checked=sum(c.count for c in messages),
        compliant=sum(c.count for c in messages if c.compliant),
        noncompliant=sum(c.count for c in messages if not c.compliant),
        to_webmail=sum(c.count for c in recipients if c.flow == "official_to_freemail"
                       and c.document_class in DOCUMENTS),
        secret_stopped=sum(c.count for c in messages if c.document_class == "secret"
                           and c.action in STOPPING and c.mode == "enforce"),
    )


def _documents(recipients: list[DailyRecipientCount], flow: str) -> Counter[str]:
    found: Counter[str] = Counter()
    for c in recipients:
        if c.flow == flow and c.document_class in DOCUMENTS:
            found[c.unit] += c.count
    return found


def _by_unit(messages: list[DailyMessageCount], recipients: list[DailyRecipientCount],
             declared: tuple[str, ...]) -> tuple[UnitFigures, ...]:
    checked: Counter[str] = Counter()
    noncompliant: Counter[str] = Counter()
    for c in messages:
        checked[c.unit] += c.count
        if not c.compliant:
            noncompliant[c.unit] += c.count
    sent = _documents(recipients, "official_to_freemail")
    received = _documents(recipients, "freemail_to_official")
    units = set(declared) | {u for counts in (checked, sent, received) for u in counts}
    if not units - {""}:
        return ()
    rows = (UnitFigures(u, checked[u], noncompliant[u], sent[u], received[u]) for u in units)
    return tuple(sorted(rows, key=lambda r: (r.unit == "", -r.checked, r.unit)))


def make_overview(store: IncidentStore, now: _dt.datetime | None = None,
                  units: tuple[str, ...] = ()) -> Overview:
    """The overview as of ``now`` (Vietnam days); ``units`` are the declared unit ids, listed
    even without mail."""
    today = (now or _dt.datetime.now(_dt.UTC)).astimezone(VN_TZ).date()
    longest = max(days for _, days in PERIODS)
    first = today - _dt.timedelta(days=longest - 1)
    messages = store.message_counts(first, today)
    recipients = store.recipient_counts(first, today)
    periods = []
    for key, days in PERIODS:
        start = today - _dt.timedelta(days=days - 1)
        periods.append(_figures(key, [c for c in messages if c.day >= start],
                                [c for c in recipients if c.day >= start]))
    good: Counter[_dt.date] = Counter()
    bad: Counter[_dt.date] = Counter()
    for c in messages:
        (good if c.compliant else bad)[c.day] += c.count
    dates = [first + _dt.timedelta(days=n) for n in range(longest)]
    bars = tuple(DayBar(day, good[day], bad[day]) for day in dates)
    rules: Counter[str] = Counter()
    for r in recipients:
        if not r.compliant:
            rules[r.rule_id] += r.count
    held = IncidentQuery(held=True, status=IncidentStatus.OPEN, limit=0)
    held_now = store.list_incidents(held).total
    oldest = next(store.iter_incidents(held, page_size=1), None)
    return Overview(tuple(periods), bars, tuple(rules.most_common(8)), held_now,
                    oldest.created_at if oldest is not None else None,
                    _by_unit(messages, recipients, units))
