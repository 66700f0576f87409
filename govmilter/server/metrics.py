"""Prometheus metrics of the daemon: the registry, the counters, the HTTP endpoint.

The metric names below are a contract: recording rules, dashboards and the compliance report are
written against them. Every label has a bounded set of values (rule ids and unit ids come from
the policy and are validated as such, units at most ``MAX_UNITS``); no address, domain or subject
is ever a label. Every known label
combination is created at zero so a series never appears out of nowhere.

Only the daemon imports this module; the pure core (policy, domains, document, scan, verdict)
does not, so it runs without prometheus_client.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from functools import partial
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from govmilter import __version__
from govmilter.policy import IMPLICIT_RULE_ID, Action, DocumentClass, FailureAction, Mode, Policy
from govmilter.policy.units import NO_UNIT
from govmilter.policy.verdict import FLOWS, Verdict, flow_label, flow_unit, message_mode
from govmilter.server.options import DEFAULT_METRICS_PORT
from govmilter.server.speedups import LabelledChildren
from govmilter.server.workers import LANES, REPLACEMENT_CAUSES, ResidentMemory, ScanPool

#: Document classes as counted (``any`` is a rule condition, never a finding).
DOCUMENT_LABELS = tuple(d.value for d in DocumentClass if d is not DocumentClass.ANY)
COMPLIANCE_LABELS = ("compliant", "non_compliant")
ACTION_LABELS = tuple(a.value for a in Action)
MODE_LABELS = tuple(m.value for m in Mode)
FAILURE_LABELS = tuple(f.value for f in FailureAction)
#: Where an error can happen: one per milter callback, plus the work done inside them.
ERROR_STAGES = (
    "connect", "helo", "envfrom", "envrcpt", "data", "header", "eoh", "body", "eom", "abort",
    "close", "scan", "dns", "reload", "other",
)

#: Seconds per message: fine below 100 ms (the normal case), and up to Postfix's 30 s command
#: and 300 s content timeouts, so alerts can compare latency with them.
PROCESSING_BUCKETS = (.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300)
#: Bytes scanned per message: 1 KiB to the 20 MiB default scan limit and beyond.
SCANNED_BYTES_BUCKETS = tuple(float(1024 * 4**i) for i in range(10))  # 1 KiB .. 256 MiB
DNS_BUCKETS = (.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10)
#: Seconds a message waits for a free scan worker: none at all normally (a worker is idle),
#: up to a scan's whole ``limits.max_seconds`` and beyond when every worker is busy.
QUEUE_WAIT_BUCKETS = (.0001, .001, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60)
#: Whose memory ``govmilter_resident_memory_bytes`` tells.
MEMORY_PROCESSES = ("milter", "scan_workers", "ocr_workers")
#: The memory series of each lane's workers.
_LANE_MEMORY = {"ordinary": "scan_workers", "ocr": "ocr_workers"}

DEFAULT_METRICS_HOST = "127.0.0.1"


def _compliance(compliant: bool) -> str:
    return "compliant" if compliant else "non_compliant"


class Metrics:
    """All govmilter metrics, registered in one registry.

    ``registry`` defaults to a fresh :class:`CollectorRegistry`, so tests are isolated; the daemon
    makes one instance and serves it with :func:`start_metrics_server`. Tests read values back with
    ``metrics.registry.get_sample_value(name, labels)``.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        reg = self.registry
        self.messages = Counter(
            "govmilter_messages_total", "Messages decided, by document class, compliance "
            "(non_compliant if any recipient is) and the sender's unit (empty: none).",
            ["document", "compliance", "unit"], registry=reg)
        self.recipients = Counter(
            "govmilter_recipients_total", "Recipients decided, by flow (sender class to "
            "recipient class), document class, compliance and unit (the sender's; for mail "
            "coming in, the recipient's; empty: none).",
            ["flow", "document", "compliance", "unit"], registry=reg)
        self.recipient_actions = Counter(
            "govmilter_recipient_actions_total", "Actions decided per recipient; mode=monitor "
            "means decided but not carried out.", ["action", "mode"], registry=reg)
        self.message_actions = Counter(
            "govmilter_message_actions_total", "Actions decided per message; mode=monitor means "
            "the action was not carried out.", ["action", "mode"], registry=reg)
        self.rule_matches = Counter(
            "govmilter_rule_matches_total", "Recipients matched by each policy rule.",
            ["rule", "compliance"], registry=reg)
        self.errors = Counter(
            "govmilter_errors_total", "Errors caught, by the stage they happened in.",
            ["stage"], registry=reg)
        self.failure_actions = Counter(
            "govmilter_failure_actions_total", "Answers given from the policy's on_error setting "
            "because a callback failed.", ["action"], registry=reg)
        self.policy_reloads = Counter(
            "govmilter_policy_reloads_total", "Policy reload attempts (signal or file change).",
            registry=reg)
        self.policy_reload_failures = Counter(
            "govmilter_policy_reload_failures_total", "Policy reloads refused (invalid or "
            "unreadable file); the previous policy kept running.", registry=reg)
        self.policy_last_reload_success = Gauge(
            "govmilter_policy_last_reload_success_timestamp_seconds",
            "When a policy was last loaded successfully (Unix time).", registry=reg)
        self.policy_info = Gauge(
            "govmilter_policy_info", "The active policy (value 1): its sha256 and mode.",
            ["sha256", "mode"], registry=reg)
        self.build_info = Gauge(
            "govmilter_build_info", "govmilter version (value 1).", ["version"], registry=reg)
        self.ocr_available = Gauge(
            "govmilter_ocr_available", "1 when the scan workers can read scans and images "
            "(Tesseract with Vietnamese data), 0 when such attachments are unscannable.",
            registry=reg)
        self.processing_seconds = Histogram(
            "govmilter_processing_seconds", "Time per message, from MAIL FROM to the verdict "
            "applied.", buckets=PROCESSING_BUCKETS, registry=reg)
        self.scanned_bytes = Histogram(
            "govmilter_scanned_bytes", "Bytes of text and attachments scanned per message.",
            buckets=SCANNED_BYTES_BUCKETS, registry=reg)
        self.dns_lookup_seconds = Histogram(
            "govmilter_dns_lookup_seconds", "Time per DNS lookup made to classify a domain.",
            buckets=DNS_BUCKETS, registry=reg)
        self.connections_in_progress = Gauge(
            "govmilter_connections_in_progress", "Milter connections from Postfix now open.",
            registry=reg)
        self.scan_workers = Gauge(
            "govmilter_scan_workers", "Scan worker processes running, by lane: ordinary "
            "(every message, without OCR; 0: messages are scanned in the milter process, "
            "--scan-workers 0), ocr (messages with scans or images, --ocr-workers; 0 until the "
            "first such message starts one).", ["lane"],
            registry=reg)
        self.scans_in_progress = Gauge(
            "govmilter_scans_in_progress", "Scan workers scanning a message now, by lane.",
            ["lane"], registry=reg)
        self.scan_worker_replacements = Counter(
            "govmilter_scan_worker_replacements_total", "Scan workers replaced, by cause: "
            "deadline (still scanning at limits.max_seconds: killed), crash (died), memory "
            "(held more than --scan-worker-memory after a message), tasks (served its "
            "messages); and lane.", ["cause", "lane"], registry=reg)
        self.scan_queue_wait_seconds = Histogram(
            "govmilter_scan_queue_wait_seconds", "Time a message waited for a free scan "
            "worker, by lane (ocr: with the start of a worker started for it).", ["lane"],
            buckets=QUEUE_WAIT_BUCKETS, registry=reg)
        self.ocr_lane_busy_total = Counter(
            "govmilter_ocr_lane_busy_total", "Messages with scans or images decided without "
            "OCR: no OCR worker came free within limits.max_seconds (raise --ocr-workers when "
            "it grows).", registry=reg)
        self.resident_memory = Gauge(
            "govmilter_resident_memory_bytes", "Resident memory now: of the milter process, "
            "of its scan workers together, and of its OCR workers together.", ["process"],
            registry=reg)
        self._own_memory = ResidentMemory()
        self.incidents = Counter(
            "govmilter_incidents_total", "Incidents recorded (non-compliant messages); "
            "mode=monitor: the action was only reported.", ["mode"], registry=reg)
        self.incident_write_failures = Counter(
            "govmilter_incident_write_failures_total", "Failed writes to the incident store "
            "(what failed went to the local journal).", registry=reg)
        self.incident_journal_backlog = Gauge(
            "govmilter_incident_journal_records", "Records in the local journal waiting for the "
            "incident store.", registry=reg)
        self.notices = Counter(
            "govmilter_notices_total", "Notices to senders: sent, failed (the local Postfix "
            "refused or did not answer), limited (the sender's hourly limit), dropped (queue "
            "full).", ["outcome"], registry=reg)
        self.incident_journal_failures = Counter(
            "govmilter_incident_journal_failures_total", "Appends to the local journal that "
            "failed (disk full or read-only): those incidents or counts are lost.", registry=reg)
        self._policy_lock = threading.Lock()
        self._message_count, self._recipient_count, self._recipient_action_count, \
            self._message_action_count, self._rule_count = (
                LabelledChildren(m) for m in (self.messages, self.recipients,
                                              self.recipient_actions, self.message_actions,
                                              self.rule_matches))
        self._initialise()

    def _initialise(self) -> None:
        for mode in ("enforce", "monitor"):
            self.incidents.labels(mode)
        for outcome in ("sent", "failed", "limited", "dropped"):
            self.notices.labels(outcome)
        self._init_units((NO_UNIT,))
        for action in ACTION_LABELS:
            for mode in MODE_LABELS:
                self.recipient_actions.labels(action, mode)
                self.message_actions.labels(action, mode)
        for stage in ERROR_STAGES:
            self.errors.labels(stage)
        for failure in FAILURE_LABELS:
            self.failure_actions.labels(failure)
        for lane in LANES:
            for cause in REPLACEMENT_CAUSES:
                self.scan_worker_replacements.labels(cause, lane)
            self.scan_queue_wait_seconds.labels(lane)
            self.scan_workers.labels(lane)
            self.scans_in_progress.labels(lane)
        for process in MEMORY_PROCESSES:
            self.resident_memory.labels(process)
        self.resident_memory.labels("milter").set_function(self._own_memory.bytes)
        self.build_info.labels(__version__).set(1)
        self._init_rules((IMPLICIT_RULE_ID,))

    def _init_units(self, unit_ids: Iterable[str]) -> None:
        for unit in unit_ids:
            for document in DOCUMENT_LABELS:
                for compliance in COMPLIANCE_LABELS:
                    self.messages.labels(document, compliance, unit)
                    for flow in FLOWS:
                        self.recipients.labels(flow, document, compliance, unit)

    def _init_rules(self, rule_ids: Iterable[str]) -> None:
        for rule_id in rule_ids:
            for compliance in COMPLIANCE_LABELS:
                self.rule_matches.labels(rule_id, compliance)

    def observe_verdict(self, verdict: Verdict, seconds: float, scanned_bytes: int) -> None:
        """Count one decided message: per message, per recipient, per rule, and its cost."""
        document = verdict.document.document_class.value
        self._message_count(document, _compliance(verdict.compliant),
                            verdict.sender_unit or NO_UNIT).inc()
        sender_class = verdict.sender_class.domain_class
        for r in verdict.recipients:
            compliance = _compliance(r.compliant)
            flow = flow_label(sender_class, r.classification.domain_class)
            self._recipient_count(flow, document, compliance, flow_unit(verdict, r)).inc()
            self._recipient_action_count(r.action.value, r.mode.value).inc()
            self._rule_count(r.rule_id, compliance).inc()
        self._message_action_count(verdict.message_action.value, message_mode(verdict)).inc()
        self.processing_seconds.observe(seconds)
        self.scanned_bytes.observe(scanned_bytes)

    def watch_scan_pool(self, pool: ScanPool) -> None:
        """Read the pool's workers (count, busy, memory) at each scrape; hear of replacements
        and waits (pass this object as the pool's ``events``)."""
        for lane in LANES:
            self.scan_workers.labels(lane).set_function(partial(pool.worker_count, lane))
            self.scans_in_progress.labels(lane).set_function(partial(pool.busy_workers, lane))
            self.resident_memory.labels(_LANE_MEMORY[lane]).set_function(
                partial(pool.workers_resident_bytes, lane))

    def scan_worker_replaced(self, cause: str, lane: str) -> None:
        """Count a replaced scan worker (:class:`~govmilter.server.workers.PoolEvents`)."""
        self.scan_worker_replacements.labels(cause, lane).inc()

    def scan_waited(self, seconds: float, lane: str) -> None:
        """Time a message's wait for a free worker of ``lane``."""
        self.scan_queue_wait_seconds.labels(lane).observe(seconds)

    def ocr_lane_busy(self) -> None:
        """Count a message decided without OCR for want of a free OCR worker."""
        self.ocr_lane_busy_total.inc()

    def dns_lookup(self, seconds: float, outcome: str) -> None:
        """Time one DNS lookup; a failed or timed-out one also counts as a ``dns`` error."""
        self.dns_lookup_seconds.observe(seconds)
        if outcome in ("timeout", "failure"):
            self.errors.labels("dns").inc()

    def error(self, stage: str) -> None:
        """Count an error caught in ``stage`` (one of :data:`ERROR_STAGES`, else ``other``)."""
        self.errors.labels(stage if stage in ERROR_STAGES else "other").inc()

    def failure_action(self, action: FailureAction) -> None:
        """Count an answer given from the policy's ``on_error`` setting."""
        self.failure_actions.labels(action.value).inc()

    def policy_loaded(self, policy: Policy, *, initial: bool = False) -> None:
        """Record a successful (re)load: info gauge, timestamp, zeroed series for its rules and
        units."""
        with self._policy_lock:
            if not initial:
                self.policy_reloads.inc()
            self.policy_info.clear()
            self.policy_info.labels(policy.source.sha256, policy.mode.value).set(1)
            self.policy_last_reload_success.set(time.time())
            self._init_rules(rule.id for rule in policy.rules)
            self._init_units(policy.units.ids)

    def policy_reload_failed(self) -> None:
        """Record a refused reload: the previous policy keeps running."""
        with self._policy_lock:
            self.policy_reloads.inc()
            self.policy_reload_failures.inc()
            self.errors.labels("reload").inc()


def start_metrics_server(metrics: Metrics, host: str = DEFAULT_METRICS_HOST,
                         port: int = DEFAULT_METRICS_PORT) -> tuple[Any, threading.Thread]:
    """Serve ``/metrics`` on ``host:port`` in a daemon thread; loopback unless told otherwise.

    Returns ``(server, thread)``; ``server.server_port`` is the bound port (useful with port 0).
    Start it only after the daemon blocked its signals (see :mod:`govmilter.server.daemon`).
    """
    server, thread = start_http_server(port, addr=host, registry=metrics.registry)
    return server, thread
