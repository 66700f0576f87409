"""The Prometheus metrics: names (a contract), zeroed series, counting a verdict, the endpoint."""

from __future__ import annotations

import dataclasses
import os
import signal
import threading
import time
import urllib.request

import pytest
from postfix_harness import require
from processes import ends_within
from prometheus_client.parser import text_string_to_metric_families
from samples import FREEMAIL_RCPT, OFFICIAL_RCPT, OFFICIAL_SENDER, PLAIN, SECRET, policy_yaml
from scans import degrade, image_bytes, official_letter, render_page, scan_mail

from govmilter.document.ocr import ocr_status
from govmilter.policy import decide, parse_policy
from govmilter.policy.verdict import Envelope
from govmilter.scan import scan_message
from govmilter.server.metrics import Metrics, start_metrics_server
from govmilter.server.workers import ScanFailed, ScanPool

#: Recording rules, dashboards and the compliance report are written against these names.
CONTRACT = {
    "govmilter_messages_total": {"document", "compliance", "unit"},
    "govmilter_recipients_total": {"flow", "document", "compliance", "unit"},
    "govmilter_recipient_actions_total": {"action", "mode"},
    "govmilter_message_actions_total": {"action", "mode"},
    "govmilter_rule_matches_total": {"rule", "compliance"},
    "govmilter_errors_total": {"stage"},
    "govmilter_failure_actions_total": {"action"},
    "govmilter_policy_reloads_total": set(),
    "govmilter_policy_reload_failures_total": set(),
    "govmilter_policy_last_reload_success_timestamp_seconds": set(),
    "govmilter_policy_info": {"sha256", "mode"},
    "govmilter_build_info": {"version"},
    "govmilter_processing_seconds_bucket": {"le"},
    "govmilter_scanned_bytes_bucket": {"le"},
    "govmilter_dns_lookup_seconds_bucket": {"le"},
    "govmilter_connections_in_progress": set(),
    "govmilter_scan_workers": {"lane"},
    "govmilter_scans_in_progress": {"lane"},
    "govmilter_scan_worker_replacements_total": {"cause", "lane"},
    "govmilter_scan_queue_wait_seconds_bucket": {"le", "lane"},
    "govmilter_resident_memory_bytes": {"process"},
    "govmilter_ocr_lane_busy_total": set(),
    # the incident store (docs/incidents.md): an alert on the journal is the one on data loss
    "govmilter_incidents_total": {"mode"},
    "govmilter_incident_write_failures_total": set(),
    "govmilter_incident_journal_records": set(),
    "govmilter_incident_journal_failures_total": set(),
}


def samples(metrics: Metrics) -> dict[str, list[dict[str, str]]]:
    found: dict[str, list[dict[str, str]]] = {}
    for family in metrics.registry.collect():
        for sample in family.samples:
            found.setdefault(sample.name, []).append(dict(sample.labels))
    return found


def test_every_contract_metric_is_exported_with_its_labels_before_any_mail() -> None:
    metrics = Metrics()
    metrics.policy_loaded(parse_policy(policy_yaml()), initial=True)
    exported = samples(metrics)
    for name, labels in CONTRACT.items():
        assert name in exported, name
        assert all(set(series) == labels for series in exported[name]), name
    # zeroed series: every document/compliance pair, every action/mode pair, every stage
    assert len(exported["govmilter_messages_total"]) == 5 * 2  # five document classes
    assert len(exported["govmilter_recipient_actions_total"]) == 4 * 2
    assert {s["stage"] for s in exported["govmilter_errors_total"]} >= {
        "connect", "envfrom", "envrcpt", "header", "body", "eom", "scan", "dns", "reload",
        "abort"}
    rules = {s["rule"] for s in exported["govmilter_rule_matches_total"]}
    assert rules == {"official-to-official", "submission-to-external", "secret-to-freemail",
                     "document-to-freemail", "unscannable-to-freemail", "default-accept",
                     "implicit-accept"}
    assert metrics.registry.get_sample_value(
        "govmilter_processing_seconds_bucket", {"le": "300.0"}) == 0


def test_names_follow_prometheus_conventions() -> None:
    for name in samples(Metrics()):
        assert name.startswith("govmilter_")
        # "_records": a gauge of things waiting (the incident journal), named by its unit
        assert name.endswith(("_total", "_seconds", "_bytes", "_info", "_bucket", "_count",
                              "_sum", "_created", "_in_progress",
                              "_available",  # a 0/1 state, as "up"
                              "_workers",  # a count of processes, as node_procs_running
                              "_records")), name  # things waiting: the incident journal


def test_a_verdict_is_counted_per_message_recipient_rule_and_action() -> None:
    policy = parse_policy(policy_yaml())
    metrics = Metrics()
    envelope = Envelope(OFFICIAL_SENDER, (OFFICIAL_RCPT, FREEMAIL_RCPT))
    facts = scan_message(SECRET, policy)
    metrics.observe_verdict(decide(envelope, facts, policy), 0.02, facts.scanned_bytes)

    def value(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, labels)
    assert value("govmilter_messages_total", document="secret",
                 compliance="non_compliant", unit="") == 1
    assert value("govmilter_recipients_total", flow="official_to_freemail", document="secret",
                 compliance="non_compliant", unit="") == 1
    assert value("govmilter_recipients_total", flow="official_to_official", document="secret",
                 compliance="compliant", unit="") == 1
    assert value("govmilter_recipient_actions_total", action="reject", mode="enforce") == 1
    assert value("govmilter_message_actions_total", action="tag", mode="enforce") == 1
    assert value("govmilter_rule_matches_total", rule="secret-to-freemail",
                 compliance="non_compliant") == 1
    assert value("govmilter_processing_seconds_bucket", le="0.025") == 1
    assert value("govmilter_scanned_bytes_count") == 1


def test_monitor_mode_is_counted_as_decided_not_applied() -> None:
    policy = parse_policy(policy_yaml(mode="monitor"))
    metrics = Metrics()
    envelope = Envelope(OFFICIAL_SENDER, (FREEMAIL_RCPT,))
    metrics.observe_verdict(decide(envelope, scan_message(SECRET, policy), policy), 0.01, 10)
    assert metrics.registry.get_sample_value(
        "govmilter_message_actions_total", {"action": "reject", "mode": "monitor"}) == 1
    assert metrics.registry.get_sample_value(
        "govmilter_message_actions_total", {"action": "reject", "mode": "enforce"}) == 0


def test_reloads_swap_the_policy_info_and_count_failures() -> None:
    metrics = Metrics()
    first, second = parse_policy(policy_yaml()), parse_policy(policy_yaml(mode="monitor"))
    metrics.policy_loaded(first, initial=True)
    metrics.policy_loaded(second)
    metrics.policy_reload_failed()
    info = samples(metrics)["govmilter_policy_info"]
    assert info == [{"sha256": second.source.sha256, "mode": "monitor"}]
    get = metrics.registry.get_sample_value
    assert get("govmilter_policy_reloads_total") == 2
    assert get("govmilter_policy_reload_failures_total") == 1
    assert get("govmilter_errors_total", {"stage": "reload"}) == 1
    assert (get("govmilter_policy_last_reload_success_timestamp_seconds") or 0) > 1.7e9


def test_the_endpoint_serves_the_registry_on_loopback() -> None:
    metrics = Metrics()
    server, _ = start_metrics_server(metrics, port=0)
    try:
        assert server.server_address[0] == "127.0.0.1"
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
        names = {f.name for f in text_string_to_metric_families(text)}
        assert {"govmilter_messages", "govmilter_build_info"} <= names
    finally:
        server.shutdown()


@pytest.mark.parametrize(("stage", "counted_as"), [("envrcpt", "envrcpt"),
                                                   ("no-such-stage", "other")])
def test_errors_stay_within_the_fixed_stage_set(stage: str, counted_as: str) -> None:
    metrics = Metrics()
    metrics.error(stage)
    assert metrics.registry.get_sample_value("govmilter_errors_total",
                                             {"stage": counted_as}) == 1
    stages = {s["stage"] for s in samples(metrics)["govmilter_errors_total"]}
    assert "no-such-stage" not in stages


def test_scan_worker_health_is_scraped_from_the_endpoint() -> None:
    """Worker count, busy workers, replacements by cause, queue wait, memory: read at each
    scrape from a real pool, per lane, with bounded labels only. An OCR worker still reading at
    ``limits.max_seconds`` is killed then, while plain mail goes on in the ordinary lane."""
    status = ocr_status()
    require(status.available, f"needs Tesseract with Vietnamese data ({status.detail})")
    metrics = Metrics()
    pool = ScanPool(1, events=metrics, ocr_workers=1)
    metrics.watch_scan_pool(pool)
    pool.start()
    server, _ = start_metrics_server(metrics, port=0)
    policy = parse_policy(policy_yaml())
    patient, quick = (dataclasses.replace(policy, limits=dataclasses.replace(
        policy.limits, max_seconds=seconds)) for seconds in (120.0, 3.0))
    page = degrade(render_page(official_letter("MẬT")[0], 150), seed=4, angle=1.0)
    scan = scan_mail(image_bytes(page, "PNG", 150), "scan.png", ("image", "png"))

    def scraped() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as response:
            text = response.read().decode()
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(text) for s in family.samples}

    try:
        pool.scan(SECRET, policy)
        [worker] = pool.worker_pids("ordinary")
        os.kill(worker, signal.SIGKILL)  # a crash
        with pytest.raises(ScanFailed):
            pool.scan(SECRET, policy)
        pool.scan(SECRET, policy)  # the new worker is ready
        assert pool.scan(scan, patient).document.secrecy == "MẬT"  # read in the OCR lane
        [reader] = pool.worker_pids("ocr")
        os.kill(reader, signal.SIGSTOP)  # a hang while reading a scan
        failures: list[str] = []

        def scan_hung() -> None:
            try:
                pool.scan(scan, quick)
            except ScanFailed as exc:
                failures.append(exc.cause)

        hung = threading.Thread(target=scan_hung)
        hung.start()
        wait = time.monotonic() + 5
        while pool.busy_workers("ocr") == 0 and time.monotonic() < wait:
            time.sleep(0.01)
        assert pool.scan(PLAIN, quick).document.official is False  # the ordinary lane is free
        during = scraped()
        hung.join(timeout=10)
        after = scraped()
    finally:
        server.shutdown()
        pool.close()
    assert failures == ["deadline"]
    assert ends_within(reader, 5.0)  # killed at the deadline, not left stopped
    ordinary, ocr = (("lane", "ordinary"),), (("lane", "ocr"),)
    assert during[("govmilter_scans_in_progress", ocr)] == 1
    assert during[("govmilter_scans_in_progress", ordinary)] == 0
    assert after[("govmilter_scans_in_progress", ocr)] == 0
    assert after[("govmilter_scan_workers", ordinary)] == 1
    # the killed one is replaced by the next scan (the OCR lane starts its workers lazily)
    assert after[("govmilter_scan_workers", ocr)] == 0
    replaced = {(dict(labels)["cause"], dict(labels)["lane"]): value
                for (name, labels), value in after.items()
                if name == "govmilter_scan_worker_replacements_total"}
    assert replaced == {(cause, lane): 1 if (cause, lane) in {("crash", "ordinary"),
                                                            ("deadline", "ocr")} else 0
                        for cause in ("deadline", "crash", "memory", "tasks")
                        for lane in ("ordinary", "ocr")}
    # every message waited for an ordinary worker; the two scans for an OCR worker too
    assert after[("govmilter_scan_queue_wait_seconds_count", ordinary)] == 6
    assert after[("govmilter_scan_queue_wait_seconds_count", ocr)] == 2
    assert after[("govmilter_resident_memory_bytes", (("process", "milter"),))] > 10 * 2**20
    assert during[("govmilter_resident_memory_bytes", (("process", "scan_workers"),))] > 2**20
    assert during[("govmilter_resident_memory_bytes", (("process", "ocr_workers"),))] > 2**20
    # no label carries anything but its fixed values (no address, no content)
    labels = {value for (name, pairs), _ in after.items() for key, value in pairs
              if "scan" in name or "resident" in name}
    assert labels <= {"deadline", "crash", "memory", "tasks", "milter", "scan_workers",
                      "ocr_workers", "ordinary", "ocr"} | {
        label for (name, pairs), _ in after.items() for key, label in pairs if key == "le"}


def test_units_are_a_bounded_label_zeroed_at_load_and_counted_per_flow() -> None:
    units = ("units:\n  - id: ke-toan\n    name: Phòng Kế toán\n    members: [kt.mic.gov.vn]\n"
             "  - id: van-phong\n    name: Văn phòng\n    members: [vp.mic.gov.vn]\n")
    policy = parse_policy(units + policy_yaml())
    metrics = Metrics()
    metrics.policy_loaded(policy, initial=True)
    exported = samples(metrics)["govmilter_messages_total"]
    assert {s["unit"] for s in exported} == {"", "ke-toan", "van-phong"}
    assert len(exported) == 3 * 5 * 2
    outgoing = Envelope("a@kt.mic.gov.vn", (FREEMAIL_RCPT, "b@vp.mic.gov.vn"))
    incoming = Envelope(FREEMAIL_RCPT, ("c@vp.mic.gov.vn", "d@x.vn"))
    for envelope in (outgoing, incoming):
        metrics.observe_verdict(decide(envelope, scan_message(SECRET, policy), policy), 0.01, 1)

    def value(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, labels)
    assert value("govmilter_messages_total", document="secret", compliance="non_compliant",
                 unit="ke-toan") == 1
    assert value("govmilter_messages_total", document="secret", compliance="compliant",
                 unit="") == 1  # the sender of mail coming in is in no unit
    # a flow counts for the sender's unit, for mail coming in for the recipient's
    assert value("govmilter_recipients_total", flow="official_to_freemail", document="secret",
                 compliance="non_compliant", unit="ke-toan") == 1
    assert value("govmilter_recipients_total", flow="official_to_official", document="secret",
                 compliance="compliant", unit="ke-toan") == 1
    assert value("govmilter_recipients_total", flow="freemail_to_official", document="secret",
                 compliance="compliant", unit="van-phong") == 1
    assert value("govmilter_recipients_total", flow="other", document="secret",
                 compliance="compliant", unit="") == 1
