"""The report's figures from the incident store's daily counts: exact, unlike Prometheus'.

The milter adds every message and every recipient verdict to per-day counters in the store
(:class:`~govmilter.store.DailyMessageCount`, :class:`~govmilter.store.DailyRecipientCount`, by
Vietnam day), so the report adds up whole days. One "agency" row per gateway (the host that
counted), since the store has no Prometheus ``agency`` label.
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy.engine import make_url

from govmilter.store import (
    DailyMessageCount,
    DailyRecipientCount,
    IncidentQuery,
    IncidentStore,
    database_url,
    open_store,
)
from govmilter.tools.report import (
    DAY,
    VN_TZ,
    AgencyCompliance,
    ReportData,
    ReportError,
    curve_step,
    webmail_by_unit,
)

OFFICIAL_CLASSES = frozenset({"official", "secret", "marked"})
OFFICIAL_FLOW = "official_to_official"
#: what keeps a document from its recipient: refused, or held for an officer
STOPPING_ACTIONS = frozenset({"reject", "quarantine"})


def open_counts(database: str) -> IncidentStore:
    """The store to report from, never created: a mistyped path is an error, not an empty store.

    :raises ReportError: a SQLite file that does not exist.
    :raises StoreError: a store that cannot be opened or is not at the current schema.
    """
    url = make_url(database_url(database))
    if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
        raise ReportError(f"there is no incident store at {url.database}: check --database or "
                          "the policy's incidents.database")
    return open_store(database, create=False)


def vn_days(start: float, end: float) -> tuple[_dt.date, _dt.date]:
    """The Vietnam days a period touches, first and last (an end at midnight excludes that day)."""
    first = _dt.datetime.fromtimestamp(start, VN_TZ).date()
    last = _dt.datetime.fromtimestamp(max(start, end - 1), VN_TZ).date()
    return first, last


def _day_start(day: _dt.date) -> float:
    return _dt.datetime.combine(day, _dt.time(), VN_TZ).timestamp()


def _largest_first(counts: Counter[str]) -> tuple[tuple[str, float], ...]:
    return tuple((key, float(n)) for key, n in sorted(counts.items(), key=lambda kv: (-kv[1],
                                                                                     kv[0])) if n)


def _actions(rows: Iterable[DailyRecipientCount | DailyMessageCount]
             ) -> tuple[tuple[str, str, float], ...]:
    counts: Counter[tuple[str, str]] = Counter()
    for row in rows:
        counts[(row.action, row.mode)] += row.count
    return tuple((action, mode, float(n)) for (action, mode), n
                 in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n)


def collect_counts(store: IncidentStore, start: float, end: float,
                   agency: str | None = None) -> ReportData:
    """The report's numbers for the Vietnam days from ``start`` to ``end``, from the store.

    ``agency`` keeps one gateway (host name) when given.

    :raises ReportError: the store has no counts for this period (or this gateway).
    :raises StoreError: the store cannot be read.
    """
    first, last = vn_days(start, end)
    recipients = [r for r in store.recipient_counts(first, last)
                  if agency is None or r.gateway == agency]
    messages = [m for m in store.message_counts(first, last)
                if agency is None or m.gateway == agency]
    if not recipients and not messages:
        where = f" for gateway {agency!r}" if agency else ""
        raise ReportError(f"the incident store at {store.where} has no daily counts{where} from "
                          f"{first.isoformat()} to {last.isoformat()}: check --database, "
                          "--agency and the period")
    start, end = _day_start(first), _day_start(last) + DAY
    step = curve_step(end - start)
    documents = [r for r in recipients if r.document_class in OFFICIAL_CLASSES]
    totals: Counter[str] = Counter()
    via_official: Counter[str] = Counter()
    curve_total: Counter[tuple[str, float]] = Counter()
    curve_official: Counter[tuple[str, float]] = Counter()
    for row in documents:
        point = min(end, start + ((_day_start(row.day) - start) // step + 1) * step)
        totals[row.gateway] += row.count
        curve_total[(row.gateway, point)] += row.count
        if row.flow == OFFICIAL_FLOW:
            via_official[row.gateway] += row.count
            curve_official[(row.gateway, point)] += row.count
    ratio_over_time: dict[str, list[tuple[float, float]]] = {}
    for (gateway, point), n in sorted(curve_total.items()):
        if n:
            ratio_over_time.setdefault(gateway, []).append(
                (point, curve_official[(gateway, point)] / n))
    flows: Counter[str] = Counter()
    for row in documents:
        flows[row.flow] += row.count
    non_compliant_flows: Counter[str] = Counter()
    non_compliant_rules: Counter[str] = Counter()
    for row in recipients:
        if not row.compliant:
            non_compliant_flows[row.flow] += row.count
            non_compliant_rules[row.rule_id] += row.count
    secret_stopped = sum(r.count for r in recipients if r.document_class == "secret"
                         and r.action in STOPPING_ACTIONS and r.mode == "enforce")
    held: Counter[str] = Counter()
    query = IncidentQuery(since=_dt.datetime.fromtimestamp(start, _dt.UTC),
                          until=_dt.datetime.fromtimestamp(end, _dt.UTC), held=True)
    for incident in store.iter_incidents(query):
        if agency is None or incident.gateway == agency:
            held[incident.status.value] += 1
    by_document: Counter[str] = Counter()
    for message in messages:
        by_document[message.document_class] += message.count
    return ReportData(
        source=(f"kho sự cố (incident store) {store.where}, từ ngày {first:%d/%m/%Y} đến hết "
                f"ngày {last:%d/%m/%Y}"),
        agency=agency, start=start, end=end, step=step,
        agencies=tuple(AgencyCompliance(g, float(via_official[g]), float(n))
                       for g, n in sorted(totals.items())),
        ratio_over_time={g: tuple(points) for g, points in ratio_over_time.items()},
        documents_by_flow=_largest_first(flows),
        non_compliant_by_flow=_largest_first(non_compliant_flows),
        non_compliant_by_rule=_largest_first(non_compliant_rules),
        messages_by_document=_largest_first(by_document),
        recipient_actions=_actions(recipients), message_actions=_actions(messages),
        errors=(), failure_actions=(), servers=(), exact=True,
        secret_stopped=float(secret_stopped), held_outcomes=_largest_first(held),
        webmail_units=webmail_by_unit((r.unit, r.flow, float(r.count)) for r in documents))

