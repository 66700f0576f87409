"""``govmilter report``: the compliance report an agency sends the Ministry.

Three steps, each its own function: :func:`collect` asks Prometheus for the numbers (raw
``govmilter_*`` counters, so no recording rule is needed) or
:func:`govmilter.tools.report_counts.collect_counts` reads the incident store's exact daily counts,
:func:`build_document` turns numbers and
the policy into a list of blocks (headings, sentences, tables, charts) in Vietnamese with English
labels, and :func:`to_html` / :func:`to_markdown` write those blocks out.  The HTML is one
self-contained file with inline SVG charts; the Markdown suits a mail body.

Compliance ratio = recipients of official documents (secret ones included) on the flow
official_to_official / all recipients of official documents, the same definition as the recording
rule ``agency:govmilter_compliance_ratio:ratio_rate1d`` in deploy/prometheus.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from html import escape

from govmilter import __version__
from govmilter.errors import GovmilterError
from govmilter.policy.description import ACTION_VI, PolicyText, vn_date, vn_int
from govmilter.tools.charts import PALETTE, bar_chart, line_chart
from govmilter.tools.prometheus import PrometheusClient, Sample

#: Vietnam keeps UTC+7 all year; the Ministry reads its reports in local time.
VN_TZ = _dt.timezone(_dt.timedelta(hours=7), "UTC+7")
DAY = 86400.0

FLOW_VI = {
    "official_to_official": "Công vụ → công vụ (official_to_official)",
    "official_to_freemail": "Công vụ → thư miễn phí (official_to_freemail)",
    "official_to_lookalike": "Công vụ → tên miền giả danh (official_to_lookalike)",
    "official_to_external": "Công vụ → bên ngoài (official_to_external)",
    "freemail_to_official": "Thư miễn phí → công vụ (freemail_to_official)",
    "external_to_official": "Bên ngoài → công vụ (external_to_official)",
    "other": "Khác (other)",
}
DOCUMENT_VI = {
    "official": "Văn bản (official)",
    "secret": "Văn bản mật (secret)",
    "marked": "Thư có dấu mật (marked)",
    "unscannable": "Không quét được hết (unscannable)",
    "none": "Không có văn bản (none)",
}
MODE_VI = {"enforce": "áp dụng (enforce)", "monitor": "giám sát (monitor)"}
ACTION_VI_BY_NAME = {action.value: text for action, text in ACTION_VI.items()}
OFFICIAL_DOCUMENTS = 'document=~"official|secret|marked"'
#: the flows of documents sent to and received from free webmail, counted per unit
TO_WEBMAIL, FROM_WEBMAIL = "official_to_freemail", "freemail_to_official"


ESTIMATE_NOTE = (
    "Lưu ý về số liệu: các con số trong báo cáo này lấy từ Prometheus và là số ƯỚC TÍNH, không "
    "phải số đếm chính xác. Prometheus chỉ đọc các bộ đếm theo chu kỳ rồi ngoại suy phần tăng "
    "trong kỳ (hàm increase()), nên một con số có thể lệch vài đơn vị tùy lúc lập báo cáo, các "
    "dòng có thể không cộng khớp với tổng, và phần dữ liệu bị gián đoạn thu thập hoặc đã quá hạn "
    "lưu trữ bị thiếu. Để có số đếm chính xác, cấu hình kho sự cố (incidents.database trong tệp "
    "chính sách) và lập báo cáo với --database. (These figures come from Prometheus and are "
    "ESTIMATES: Prometheus samples the counters periodically and extrapolates their increase "
    "over the period, so a figure may be off by a few, rows may not add up, and scrape gaps or "
    "data past retention are missing. For exact counts configure the incident store and run "
    "the report with --database.)")
EXACT_NOTE = (
    "Số liệu là số đếm chính xác theo từng ngày (giờ Việt Nam) do máy chủ thư ghi vào kho sự cố, "
    "tính trọn các ngày trong kỳ. (Exact daily counts, Vietnam days, written by the mail "
    "servers into the incident store; whole days of the period.)")


class ReportError(GovmilterError):
    """The report cannot be made (bad option, no data)."""


# --- options -----------------------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": DAY, "w": 7 * DAY}


def parse_duration(text: str) -> float:
    """``30d``, ``12h``, ``2w``, ``90m`` or ``45s`` in seconds."""
    match = _DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ReportError(f"invalid duration {text!r}: use a number and a unit, e.g. 30d, 12h, 2w")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_time(text: str) -> float:
    """A unix timestamp or an ISO 8601 date/time (Vietnam time when no zone is given)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = _dt.datetime.fromisoformat(text)
    except ValueError:
        raise ReportError(f"invalid time {text!r}: use 2025-01-31, 2025-01-31T17:00+07:00 "
                          "or a unix timestamp") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=VN_TZ)
    return moment.timestamp()


# matched on the value with its blanks taken out: blank runs on both sides of an optional part
# would make the pattern quadratic (tests/test_linear_patterns.py)
_QUARTER = re.compile(r"(?:(\d{4})-?)?[Qq]?([1-4])")


def _year_start(year: int) -> float:
    return _dt.datetime(year, 1, 1, tzinfo=VN_TZ).timestamp()


def report_period(now: float, *, year: int | None = None, quarter: str | None = None,
                  since: str | None = None, until: str | None = None) -> tuple[float, float]:
    """The report's [start, end) in unix time: year to date by default; ``year``, ``quarter``
    (``4``, ``Q4``, ``2026-Q4``; the year from ``year``, else this year) or ``since`` (a duration
    before ``until``, or a date/time) to ``until`` (default: now). Days are Vietnam days; a
    period never ends in the future."""
    if since is not None and (year is not None or quarter is not None):
        raise ReportError("--since cannot be combined with --year or --quarter")
    if until is not None and (year is not None or quarter is not None):
        raise ReportError("--until cannot be combined with --year or --quarter")
    end = min(now, _until_time(until)) if until is not None else now
    this_year = _dt.datetime.fromtimestamp(end, VN_TZ).year
    if quarter is not None:
        match = _QUARTER.fullmatch("".join(quarter.split()))
        if not match:
            raise ReportError(f"invalid quarter {quarter!r}: use 1-4, Q4 or 2026-Q4")
        if match.group(1) and year is not None and int(match.group(1)) != year:
            raise ReportError(f"--quarter {quarter} names another year than --year {year}")
        in_year = int(match.group(1) or year or this_year)
        first_month = 3 * int(match.group(2)) - 2
        start = _dt.datetime(in_year, first_month, 1, tzinfo=VN_TZ).timestamp()
        after = (_dt.datetime(in_year + 1, 1, 1, tzinfo=VN_TZ) if first_month == 10 else
                 _dt.datetime(in_year, first_month + 3, 1, tzinfo=VN_TZ)).timestamp()
        return _bounded(start, min(after, now))
    if year is not None:
        return _bounded(_year_start(year), min(_year_start(year + 1), now))
    if since is None:
        return _bounded(_year_start(this_year), end)
    if _DURATION.match(since):
        return _bounded(end - parse_duration(since), end)
    try:
        start = parse_time(since)
    except ReportError:
        raise ReportError(f"invalid --since {since!r}: use a date (2026-07-01), a date/time "
                          "(2026-07-01T08:00) or a length before --until (30d, 2w, 12h)") from None
    return _bounded(start, end)


def _until_time(text: str) -> float:
    """``--until``: a bare date means the end of that day, anything else as :func:`parse_time`."""
    try:
        day = _dt.date.fromisoformat(text.strip())
    except ValueError:
        return parse_time(text)
    return _dt.datetime.combine(day, _dt.time(), VN_TZ).timestamp() + DAY


def _bounded(start: float, end: float) -> tuple[float, float]:
    if end <= start:
        raise ReportError(f"the period from {vn_datetime(start)} to {vn_datetime(end)} is empty "
                          "(or in the future)")
    return start, end


# --- the numbers -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgencyCompliance:
    """Official-document recipients of one agency over the report window."""

    agency: str
    via_official: float  #: recipients on the flow official_to_official
    total: float  #: all recipients of official documents

    @property
    def ratio(self) -> float | None:
        """The compliance ratio, or None when the agency saw no official document."""
        return self.via_official / self.total if self.total > 0 else None


@dataclass(frozen=True, slots=True)
class UnitWebmail:
    """Official-document recipients one unit sent to free webmail and received from it."""

    unit: str  #: the policy's unit id; "" for senders and recipients in no unit
    sent: float  #: recipients on official_to_freemail whose sender is in the unit
    received: float  #: recipients in the unit on freemail_to_official


def webmail_by_unit(rows: Iterable[tuple[str, str, float]]) -> tuple[UnitWebmail, ...]:
    """Add up (unit, flow, recipients) rows of official documents into one row per unit that
    sent to or received from webmail, the most first."""
    sent: dict[str, float] = {}
    received: dict[str, float] = {}
    for unit, flow, count in rows:
        if flow in (TO_WEBMAIL, FROM_WEBMAIL):
            into = sent if flow == TO_WEBMAIL else received
            into[unit] = into.get(unit, 0.0) + count
    units = {unit for unit in (*sent, *received) if round(sent.get(unit, 0.0))
             or round(received.get(unit, 0.0))}
    rows_out = (UnitWebmail(unit, sent.get(unit, 0.0), received.get(unit, 0.0)) for unit in units)
    return tuple(sorted(rows_out, key=lambda u: (-(u.sent + u.received), u.unit)))


@dataclass(frozen=True, slots=True)
class ServerPolicy:
    """The policy one govmilter host reports (``govmilter_policy_info``)."""

    agency: str
    instance: str
    sha256: str
    mode: str
    loaded_at: float | None  #: last successful load, unix time


@dataclass(frozen=True)
class ReportData:
    """Everything the report shows, from Prometheus or from the incident store."""

    source: str  #: where the figures come from, for the reader: "Prometheus http://..."
    agency: str | None
    start: float
    end: float
    step: float
    agencies: tuple[AgencyCompliance, ...]
    ratio_over_time: dict[str, tuple[tuple[float, float], ...]]
    documents_by_flow: tuple[tuple[str, float], ...]
    non_compliant_by_flow: tuple[tuple[str, float], ...]
    non_compliant_by_rule: tuple[tuple[str, float], ...]
    messages_by_document: tuple[tuple[str, float], ...]
    recipient_actions: tuple[tuple[str, str, float], ...]
    message_actions: tuple[tuple[str, str, float], ...]
    errors: tuple[tuple[str, float], ...]
    failure_actions: tuple[tuple[str, float], ...]
    servers: tuple[ServerPolicy, ...]
    #: True when the figures are exact counts (the incident store), False for Prometheus
    #: estimates
    exact: bool = False
    #: recipients of secret documents refused or held in enforce mode (None: not known)
    secret_stopped: float | None = None
    #: held messages by what became of them (status: open, released, deleted...)
    held_outcomes: tuple[tuple[str, float], ...] = ()
    #: official documents to and from free webmail per unit (the policy's units:)
    webmail_units: tuple[UnitWebmail, ...] = ()

    @property
    def total(self) -> AgencyCompliance:
        """All agencies together: sums of numerators and denominators, never a mean of ratios."""
        return AgencyCompliance("", sum(a.via_official for a in self.agencies),
                                sum(a.total for a in self.agencies))

    @property
    def non_compliant(self) -> float:
        """Recipients whose flow the policy calls non-compliant (any document class)."""
        return sum(n for _, n in self.non_compliant_by_flow)


def curve_step(window: float) -> float:
    """The length of one point of the curve over time: an hour for a short period, a day up to
    two months, a week beyond (a year of daily rows would bury the table)."""
    if window < 2 * DAY:
        return 3600.0
    return DAY if window <= 62 * DAY else 7 * DAY


def _by(samples: Iterable[Sample], *labels: str) -> list[tuple[tuple[str, ...], float]]:
    """(label values, value) pairs, largest first, NaN (0/0) and zero rows left out."""
    rows = [(tuple(s.labels.get(label, "") for label in labels), s.value) for s in samples
            if not math.isnan(s.value) and round(s.value) > 0]
    return sorted(rows, key=lambda row: (-row[1], row[0]))


def collect(client: PrometheusClient, start: float, end: float,
            agency: str | None = None) -> ReportData:
    """Query Prometheus for the window [start, end]; one instant query per table, one range query
    per curve.

    :raises PrometheusError: Prometheus is unreachable or refuses a query.
    :raises ReportError: there is no govmilter data for this agency and window.
    """
    window = end - start
    step = curve_step(window)
    agency_matcher = f"agency={json.dumps(agency)}" if agency else ""

    def selector(*matchers: str) -> str:
        return "{" + ", ".join(m for m in (*matchers, agency_matcher) if m) + "}"

    def increase(metric: str, by: str, *matchers: str, over: float = window) -> str:
        return f"sum by ({by}) (increase({metric}{selector(*matchers)}[{over:.0f}s]))"

    def instant(expr: str) -> list[Sample]:
        return client.query(expr, end)

    recipients = "govmilter_recipients_total"
    official_flow = 'flow="official_to_official"'
    totals = {s.labels.get("agency", ""): s.value
              for s in instant(increase(recipients, "agency", OFFICIAL_DOCUMENTS))}
    via_official = {s.labels.get("agency", ""): s.value
                    for s in instant(increase(recipients, "agency", OFFICIAL_DOCUMENTS,
                                              official_flow))}
    messages = instant(increase("govmilter_messages_total", "document"))
    if not totals and not messages:
        where = f" for agency {agency!r}" if agency else ""
        raise ReportError(f"Prometheus at {client.base_url} has no govmilter data{where} between "
                          f"{vn_datetime(start)} and {vn_datetime(end)}: check --prometheus, "
                          "--agency and --since")
    agencies = tuple(AgencyCompliance(name, via_official.get(name, 0.0), total)
                     for name, total in sorted(totals.items()))

    def range_by_agency(*matchers: str) -> dict[str, dict[float, float]]:
        series = client.query_range(increase(recipients, "agency", OFFICIAL_DOCUMENTS, *matchers,
                                             over=step), start + step, end, step)
        return {s.labels.get("agency", ""): dict(s.points) for s in series}

    total_curve, official_curve = range_by_agency(), range_by_agency(official_flow)
    ratio_over_time = {
        name: tuple((t, official_curve.get(name, {}).get(t, 0.0) / n)
                    for t, n in sorted(points.items()) if n > 0)
        for name, points in sorted(total_curve.items())
    }
    ratio_over_time = {name: points for name, points in ratio_over_time.items() if points}

    def pairs(expr: str, label: str) -> tuple[tuple[str, float], ...]:
        return tuple((key[0], value) for key, value in _by(instant(expr), label))

    def triples(metric: str) -> tuple[tuple[str, str, float], ...]:
        rows = _by(instant(increase(metric, "action, mode")), "action", "mode")
        return tuple((key[0], key[1], value) for key, value in rows)

    webmail = webmail_by_unit(
        (s.labels.get("unit", ""), s.labels.get("flow", ""), s.value)
        for s in instant(increase(recipients, "unit, flow", OFFICIAL_DOCUMENTS,
                                  f'flow=~"{TO_WEBMAIL}|{FROM_WEBMAIL}"'))
        if not math.isnan(s.value))
    info = instant(f"govmilter_policy_info{selector()}")
    loaded = {(s.labels.get("agency", ""), s.labels.get("instance", "")): s.value
              for s in instant(f"govmilter_policy_last_reload_success_timestamp_seconds"
                               f"{selector()}")}
    servers = tuple(sorted(
        (ServerPolicy(s.labels.get("agency", ""), s.labels.get("instance", ""),
                      s.labels.get("sha256", ""), s.labels.get("mode", ""),
                      loaded.get((s.labels.get("agency", ""), s.labels.get("instance", ""))))
         for s in info),
        key=lambda server: (server.agency, server.instance)))

    return ReportData(
        source=f"Prometheus {client.base_url}", agency=agency, start=start, end=end, step=step,
        agencies=agencies, ratio_over_time=ratio_over_time,
        documents_by_flow=pairs(increase(recipients, "flow", OFFICIAL_DOCUMENTS), "flow"),
        non_compliant_by_flow=pairs(increase(recipients, "flow", 'compliance="non_compliant"'),
                                    "flow"),
        non_compliant_by_rule=pairs(increase("govmilter_rule_matches_total", "rule",
                                             'compliance="non_compliant"'), "rule"),
        messages_by_document=tuple((key[0], value) for key, value in _by(messages, "document")),
        recipient_actions=triples("govmilter_recipient_actions_total"),
        message_actions=triples("govmilter_message_actions_total"),
        errors=pairs(increase("govmilter_errors_total", "stage"), "stage"),
        failure_actions=pairs(increase("govmilter_failure_actions_total", "action"), "action"),
        servers=servers, webmail_units=webmail,
    )


# --- formatting --------------------------------------------------------------------------------


def vn_percent(ratio: float | None) -> str:
    """A ratio as a Vietnamese percentage: 93,5%; a dash when there is no ratio."""
    return "—" if ratio is None else f"{ratio * 100:.1f}%".replace(".", ",")


def vn_datetime(ts: float) -> str:
    """A moment in Vietnam time: 31/01/2025 17:00."""
    return _dt.datetime.fromtimestamp(ts, VN_TZ).strftime("%d/%m/%Y %H:%M")


def _day(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, VN_TZ).strftime("%d/%m")


def _period_point(step: float) -> Callable[[float], str]:
    if step >= DAY:
        return _day
    return lambda ts: _dt.datetime.fromtimestamp(ts, VN_TZ).strftime("%d/%m %H:%M")


# --- the document ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Heading:
    """A section title."""

    level: int
    text: str


@dataclass(frozen=True, slots=True)
class Paragraph:
    """A sentence or two of plain text."""

    text: str


@dataclass(frozen=True, slots=True)
class Bullets:
    """A list; each item may carry sub-items."""

    items: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True, slots=True)
class Table:
    """Rows of text; ``numeric`` columns are right-aligned."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class Chart:
    """An SVG chart for HTML and, for mail, the same figures as text bars (or nothing)."""

    svg: str
    text_bars: tuple[tuple[str, float, str], ...] = ()  #: (label, value, value as text)
    scale: float | None = None  #: the value of a full bar (default: the largest value)


Block = Heading | Paragraph | Bullets | Table | Chart


def _bars(items: Sequence[tuple[str, float]], title: str, fmt: Callable[[float], str],
          colors: Sequence[str] = PALETTE[:1], max_value: float | None = None) -> Chart:
    return Chart(bar_chart(items, title, fmt, colors=colors, max_value=max_value),
                 tuple((label, value, fmt(value)) for label, value in items), max_value)


UNIT_HEADING = ("Văn bản gửi tới và nhận từ hộp thư miễn phí, theo đơn vị (official documents "
                "to and from free webmail, by unit)")
UNIT_COLUMNS = ("Đơn vị (unit)", "Gửi tới hộp thư miễn phí (sent to webmail)",
                "Nhận từ hộp thư miễn phí (received from webmail)")


def unit_rows(data: ReportData, policy: PolicyText) -> list[tuple[str, str, str]] | None:
    """The per-unit table's rows; None when the policy declares no units and no figure has
    one (the report then leaves the table out)."""
    if not policy.unit_titles and not any(u.unit for u in data.webmail_units):
        return None
    return [(policy.unit_title(u.unit), vn_int(u.sent), vn_int(u.received))
            for u in data.webmail_units]


def _unit_blocks(data: ReportData, policy: PolicyText) -> list[Block]:
    rows = unit_rows(data, policy)
    if rows is None:
        return []
    if not rows:
        return [Heading(3, UNIT_HEADING),
                Paragraph("Không đơn vị nào gửi văn bản tới hay nhận văn bản từ hộp thư miễn phí "
                          "(no unit sent documents to or received them from free webmail).")]
    chart = [(policy.unit_title(u.unit), u.sent) for u in data.webmail_units if round(u.sent)]
    return [Heading(3, UNIT_HEADING), Table(UNIT_COLUMNS, tuple(rows), frozenset({1, 2})),
            *([_bars(chart, "Văn bản gửi tới hộp thư miễn phí theo đơn vị (documents sent to "
                     "webmail by unit)", vn_int, colors=(PALETTE[1],))] if chart else [])]


def _units_in_force(policy: PolicyText) -> list[Block]:
    if not policy.units:
        return []
    return [Heading(3, "Đơn vị (Units)"), Bullets(tuple((text, ()) for text in policy.units))]


def _policy_blocks(policy: PolicyText, data: ReportData) -> list[Block]:
    blocks: list[Block] = [
        Heading(2, "1. Quy định đang áp dụng (Policy in force)"),
        Paragraph(f"Tệp chính sách (policy file): {policy.source}, "
                  f"SHA-256 {policy.sha256[:16]}…"),
        Bullets(tuple((line, ()) for line in policy.general)),
        Heading(3, "Các quy tắc (Rules), theo thứ tự áp dụng"),
        Bullets(tuple((f"{rule.sentence} [{rule.rule_id}]",
                       rule.details + ((f"Mô tả (description): {rule.description}",)
                                       if rule.description else ()))
                      for rule in policy.rules)),
        Heading(3, "Ngoại lệ (Exceptions)"),
        (Bullets(tuple((text, ()) for text in policy.exceptions)) if policy.exceptions
         else Paragraph("Không có ngoại lệ (no exceptions).")),
        *_units_in_force(policy),
        Heading(3, "Trên các máy chủ (On the mail servers)"),
    ]
    if not data.servers:
        blocks.append(Paragraph(
            "Kho sự cố không ghi chính sách từng máy chủ đang chạy; xem govmilter_policy_info "
            "trên Prometheus (the incident store does not record the policy each server runs)."
            if data.exact else
            "Prometheus không có govmilter_policy_info trong kỳ này "
            "(no policy information from the servers)."))
        return blocks
    rows = []
    for server in data.servers:
        same = ("khớp tệp trên (matches)" if server.sha256 == policy.sha256
                else "KHÁC tệp trên (differs)")
        since = vn_datetime(server.loaded_at) if server.loaded_at else "—"
        rows.append((server.agency, server.instance, f"{server.sha256[:16]}… {same}",
                     MODE_VI.get(server.mode, server.mode), since))
    blocks.append(Table(("Cơ quan (agency)", "Máy chủ (host)", "Chính sách (policy sha256)",
                         "Chế độ (mode)", "Nạp lúc (loaded since)"), tuple(rows)))
    return blocks


def build_document(data: ReportData, policy: PolicyText) -> list[Block]:
    """The report as blocks: policy, summary, ratio per agency and over time, non-compliant
    flows and rules, actions, operations."""
    total = data.total
    rule_sentences = {rule.rule_id: rule.sentence for rule in policy.rules}
    period = f"{vn_datetime(data.start)} – {vn_datetime(data.end)} (giờ Việt Nam, UTC+7)"
    blocks: list[Block] = [
        Heading(1, "Báo cáo tình hình sử dụng thư điện tử công vụ "
                   "(Official e-mail compliance report)"),
        Bullets((
            (f"Cơ quan (agency): {data.agency or 'tất cả (all agencies)'}", ()),
            (f"Kỳ báo cáo (period): {period}", ()),
            (f"Nguồn số liệu (data source): {data.source}; lập ngày (generated) "
             f"{vn_date(_dt.datetime.now(VN_TZ).date())} bởi govmilter {__version__}", ()),
        )),
        Paragraph(EXACT_NOTE if data.exact else ESTIMATE_NOTE),
        Paragraph("Theo Công văn 588/BTTTT-THH, văn bản điện tử được trao đổi qua hệ thống thư "
                  "điện tử công vụ (.gov.vn), không qua hộp thư miễn phí. Báo cáo này nêu quy "
                  "định cơ quan đang áp dụng và mức độ tuân thủ, đo trên máy chủ thư."),
        *_policy_blocks(policy, data),
        Heading(2, "2. Tổng quan (Summary)"),
        Table(("Chỉ số (measure)", "Giá trị (value)"), (
            ("Người nhận văn bản (official-document recipients)", vn_int(total.total)),
            ("Trong đó qua hộp thư công vụ (via official mailboxes)",
             vn_int(total.via_official)),
            ("Tỷ lệ tuân thủ (compliance ratio)", vn_percent(total.ratio)),
            ("Người nhận không tuân thủ (non-compliant recipients)", vn_int(data.non_compliant)),
            ("Thư đã kiểm tra (messages checked)",
             vn_int(sum(n for _, n in data.messages_by_document))),
        ), frozenset({1})),
        Paragraph("Tỷ lệ tuân thủ = số người nhận văn bản (kể cả văn bản mật) gửi từ hộp thư "
                  "công vụ tới hộp thư công vụ / tổng số người nhận văn bản (compliance ratio = "
                  "official-document recipients on official_to_official / all official-document "
                  "recipients)."),
        Heading(3, "Văn bản theo luồng (official documents by flow)"),
        Table(("Luồng văn bản (official-document flow)", "Người nhận (recipients)"),
              tuple((FLOW_VI.get(flow, flow), vn_int(n)) for flow, n in data.documents_by_flow),
              frozenset({1})),
        *_unit_blocks(data, policy),
        Heading(2, "3. Tỷ lệ tuân thủ theo cơ quan (Compliance ratio per agency)"),
    ]
    ranked = sorted(data.agencies, key=lambda a: (a.ratio is None, a.ratio or 0.0, a.agency))
    blocks.append(Table(
        ("Cơ quan (agency)", "Người nhận văn bản (recipients)", "Qua công vụ (official)",
         "Tỷ lệ (ratio)"),
        tuple((a.agency, vn_int(a.total), vn_int(a.via_official), vn_percent(a.ratio))
              for a in ranked),
        frozenset({1, 2, 3})))
    with_ratio = [(a.agency, a.ratio) for a in ranked if a.ratio is not None]
    if with_ratio:
        blocks.append(_bars(with_ratio, "Tỷ lệ tuân thủ (compliance ratio)", vn_percent,
                            colors=[_ratio_color(r) for _, r in with_ratio], max_value=1.0))
    if data.ratio_over_time:
        unit = ("tuần (per week)" if data.step > DAY else "ngày (per day)" if data.step == DAY
                else "giờ (per hour)")
        point = _period_point(data.step)
        blocks.append(Heading(3, f"Theo thời gian (over time), từng {unit}"))
        blocks.append(Chart(line_chart(data.ratio_over_time,
                                       f"Tỷ lệ tuân thủ theo {unit.split(' ')[0]} "
                                       "(compliance ratio over time)", point, vn_percent)))
        times = sorted({t for points in data.ratio_over_time.values() for t, _ in points})
        names = list(data.ratio_over_time)
        values = {name: dict(points) for name, points in data.ratio_over_time.items()}
        blocks.append(Table(
            ("Kết thúc lúc (period ending)", *names),
            tuple((vn_datetime(t), *(vn_percent(values[n].get(t)) for n in names))
                  for t in times),
            frozenset(range(1, len(names) + 1))))
    blocks += [
        Heading(2, "4. Luồng không tuân thủ (Non-compliant flows)"),
    ]
    if data.non_compliant_by_flow:
        blocks.append(Table(
            ("Luồng không tuân thủ (non-compliant flow)", "Người nhận (recipients)"),
            tuple((FLOW_VI.get(flow, flow), vn_int(n)) for flow, n in data.non_compliant_by_flow),
            frozenset({1})))
        blocks.append(_bars([(FLOW_VI.get(f, f), n) for f, n in data.non_compliant_by_flow],
                            "Người nhận không tuân thủ theo luồng (non-compliant by flow)",
                            vn_int, colors=(PALETTE[1],)))
    blocks.append(Heading(3, "Theo quy tắc (by rule)"))
    if data.non_compliant_by_rule:
        blocks.append(Table(
            ("Quy tắc (rule)", "Nội dung (what it covers)", "Người nhận (recipients)"),
            tuple((rule, rule_sentences.get(rule, "(không có trong tệp chính sách này / not in "
                                                  "this policy file)"), vn_int(n))
                  for rule, n in data.non_compliant_by_rule),
            frozenset({2})))
        blocks.append(_bars(list(data.non_compliant_by_rule),
                            "Không tuân thủ theo quy tắc (non-compliant by rule)", vn_int,
                            colors=(PALETTE[1],)))
    else:
        blocks.append(Paragraph("Không có trường hợp không tuân thủ (no non-compliant flow)."))
    blocks.append(Heading(2, "5. Hành động đã thực hiện (Actions taken)"))
    for title, rows in (("Trên từng người nhận (per recipient)", data.recipient_actions),
                        ("Trên cả thư (per message)", data.message_actions)):
        blocks.append(Heading(3, title))
        blocks.append(Table(
            ("Hành động (action)", "Chế độ (mode)", "Số lượng (count)"),
            tuple((ACTION_VI_BY_NAME.get(a, a), MODE_VI.get(m, m), vn_int(n))
                  for a, m, n in rows),
            frozenset({2})) if rows else Paragraph("Không có số liệu (no data)."))
    if data.recipient_actions:
        blocks.append(_bars([(f"{a} ({m})", n) for a, m, n in data.recipient_actions],
                            "Hành động trên người nhận (recipient actions)", vn_int,
                            colors=PALETTE))
    blocks += [
        Heading(2, "6. Vận hành (Operations)"),
        Table(("Loại thư (document)", "Số thư (messages)"),
              tuple((DOCUMENT_VI.get(d, d), vn_int(n)) for d, n in data.messages_by_document),
              frozenset({1})),
        Paragraph("Lỗi khi kiểm tra và xử lý khi lỗi: xem Prometheus (govmilter_errors_total); "
                  "kho sự cố không đếm lỗi (errors are counted by Prometheus only)."
                  if data.exact else
                  "Lỗi khi kiểm tra (errors by stage): "
                  + (", ".join(f"{stage} {vn_int(n)}" for stage, n in data.errors)
                     or "không có (none)")
                  + ". Xử lý khi lỗi (on_error actions): "
                  + (", ".join(f"{action} {vn_int(n)}" for action, n in data.failure_actions)
                     or "không có (none)") + "."),
    ]
    return blocks


def _ratio_color(ratio: float | None) -> str:
    """Green from 98%, orange from 90%, vermilion below: the dashboard's thresholds."""
    if ratio is not None and ratio >= 0.98:
        return PALETTE[2]
    if ratio is not None and ratio >= 0.9:
        return PALETTE[4]
    return PALETTE[1]


# --- output ------------------------------------------------------------------------------------


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: Sequence[Block]) -> str:
    """The report as Markdown for a mail body; charts become text bars."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append("#" * block.level + " " + block.text)
        elif isinstance(block, Paragraph):
            out.append(block.text)
        elif isinstance(block, Bullets):
            out.append("\n".join(f"- {item}" + "".join(f"\n  - {sub}" for sub in subs)
                                 for item, subs in block.items))
        elif isinstance(block, Table):
            align = ["---:" if i in block.numeric else "---" for i in range(len(block.header))]
            lines = ["| " + " | ".join(map(_md_cell, block.header)) + " |",
                     "| " + " | ".join(align) + " |"]
            lines += ["| " + " | ".join(map(_md_cell, row)) + " |" for row in block.rows]
            out.append("\n".join(lines))
        elif block.text_bars:
            scale = block.scale or max(value for _, value, _ in block.text_bars) or 1.0
            width = max(len(label) for label, _, _ in block.text_bars)
            out.append("```\n" + "\n".join(
                f"{label:<{width}}  {'█' * max(0, round(value / scale * 30)):<30}  {text}"
                for label, value, text in block.text_bars) + "\n```")
    return "\n\n".join(out) + "\n"


_CSS = """
body { font-family: 'Segoe UI', 'Noto Sans', 'DejaVu Sans', Arial, sans-serif; color: #1a1a1a;
       max-width: 60rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }
h1 { font-size: 1.6rem; border-bottom: 3px solid #0072B2; padding-bottom: .3rem; }
h2 { font-size: 1.3rem; margin-top: 2.2rem; color: #004d7a; }
h3 { font-size: 1.05rem; margin-top: 1.4rem; }
table { border-collapse: collapse; margin: .8rem 0; }
th, td { border: 1px solid #ccc; padding: .3rem .6rem; vertical-align: top; }
th { background: #eef4f8; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
ul ul { color: #444; font-size: .93rem; }
figure { margin: 1rem 0; }
@media print { h2 { break-after: avoid; } figure, table { break-inside: avoid; } }
"""


def to_html(blocks: Sequence[Block], title: str) -> str:
    """The report as one self-contained HTML page (inline CSS and SVG, nothing fetched)."""
    out = ["<!DOCTYPE html>", '<html lang="vi">', "<head>", '<meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>{escape(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>"]
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"<h{block.level}>{escape(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            out.append(f"<p>{escape(block.text)}</p>")
        elif isinstance(block, Bullets):
            out.append("<ul>" + "".join(
                f"<li>{escape(item)}"
                + ("<ul>" + "".join(f"<li>{escape(s)}</li>" for s in subs) + "</ul>"
                   if subs else "") + "</li>" for item, subs in block.items) + "</ul>")
        elif isinstance(block, Table):
            head = "".join(f"<th>{escape(h)}</th>" for h in block.header)
            rows = "".join(
                "<tr>" + "".join(f'<td{" class=n" if i in block.numeric else ""}>'
                                 f"{escape(cell)}</td>" for i, cell in enumerate(row)) + "</tr>"
                for row in block.rows)
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        else:
            out.append(f"<figure>{block.svg}</figure>")
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


REPORT_TITLE = "Báo cáo tuân thủ thư điện tử công vụ (govmilter compliance report)"


def render(data: ReportData, policy: PolicyText, fmt: str = "html") -> str:
    """The whole report as ``html`` or ``md`` text."""
    blocks = build_document(data, policy)
    return to_markdown(blocks) if fmt == "md" else to_html(blocks, REPORT_TITLE)
