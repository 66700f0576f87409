"""The benchmark's quick path end to end, with tiny counts: it runs, writes its JSON, loses
nothing. No timing is asserted (speed is a benchmark result, never a test)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from postfix_harness import require, require_postfix

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.postfix

RUN_FIELDS = {"config", "mix", "sessions", "round", "sent", "received", "accepted_per_s",
              "delivered_per_s", "milter_p50_ms", "milter_p99_ms", "milter_p50_log_ms",
              "milter_p99_log_ms", "peak_rss_mb", "peak_pss_mb", "milter_cpu_ms_per_msg",
              "lossless"}


def run_bench(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """``python -m bench.run ARGS`` from this checkout, output captured."""
    return subprocess.run([sys.executable, "-m", "bench.run", *args], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                          text=True, timeout=timeout)


C_CONFIGS = ("passthrough-c", "passthrough-c-noreply", "passthrough-c-minimal")


@dataclass(frozen=True)
class BenchRun:
    """One ``bench.run`` invocation: its output, its JSON report and each run by config."""

    result: subprocess.CompletedProcess[str]
    report: dict[str, Any]

    @property
    def runs(self) -> dict[str, dict[str, Any]]:
        return {run["config"]: run for run in self.report["runs"]}

    @property
    def ratios(self) -> dict[str, Any]:
        [ratios] = self.report["ratios"]
        return dict(ratios)


@pytest.fixture(scope="module")
def beside_govmilter(tmp_path_factory: pytest.TempPathFactory) -> BenchRun:
    """One quick run of the configurations measured beside govmilter, one Postfix baseline for
    them all: the C pass-through in its three variants, rspamd (when installed: its own test
    says so otherwise), and another checkout's govmilter (this commit's files, as ``git
    archive`` gives them) as ``govmilter@other``."""
    require_postfix()
    base = tmp_path_factory.mktemp("beside")
    other = base / "other"
    other.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "HEAD"], capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(other)], input=archive, check=True)
    configs = ["postfix", *C_CONFIGS, *(["rspamd"] if shutil.which("rspamd") else []),
               "govmilter"]
    out = base / "bench.json"
    result = run_bench("--quick", "--scale", "0.05", "--mixes", "plain", "--configs",
                       ",".join(configs), "--tree", f"other={other}", "--json", str(out),
                       timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    run = BenchRun(result, json.loads(out.read_text()))
    assert set(run.runs) == {*configs, "govmilter@other"}  # each once: no --repeat
    assert len(run.report["runs"]) == len(configs) + 1
    return run


def test_quick_benchmark_delivers_every_message_and_reports_each_configuration(
        tmp_path: Path) -> None:
    require_postfix()
    out = tmp_path / "bench.json"
    result = run_bench("--quick", "--scale", "0.05", "--mixes", "plain", "--configs",
                       "postfix,passthrough,govmilter,govmilter-nostore", "--repeat", "2",
                       "--json", str(out), "--postfix", "in_flow_delay=0")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["machine"]["cores"]
    assert report["postfix_settings"] == {"in_flow_delay": "0"}
    assert sorted((run["config"], run["round"]) for run in report["runs"]) == [
        (config, number) for config in ("govmilter", "govmilter-nostore", "passthrough", "postfix")
        for number in (0, 1)]
    for run in report["runs"]:
        assert set(run) >= RUN_FIELDS
        assert run["sent"] == run["received"] == 15
        assert run["lossless"] is True
    runs = {run["config"]: run for run in report["runs"] if run["round"] == 1}
    # the milters' own histograms counted every message; Postfix alone has no milter
    assert runs["govmilter"]["milter_samples"] == runs["passthrough"]["milter_samples"] == 15
    assert runs["postfix"]["milter_p99_ms"] is None
    # govmilter's exact quantiles come from its log lines, which the others do not write
    assert runs["govmilter"]["milter_p99_log_ms"] is not None
    assert runs["passthrough"]["milter_p99_log_ms"] is None
    [ratios] = report["ratios"]
    assert {"govmilter/postfix", "govmilter/passthrough"} <= set(ratios)
    low, high = ratios["govmilter/postfix range"]  # two rounds: the median and its range
    assert low <= ratios["govmilter/postfix"] <= high
    # what the incident store costs: CPU per message with it over without it, round by round
    low, high = ratios["cpu store/nostore range"]
    assert low <= ratios["cpu store/nostore"] <= high
    assert runs["govmilter-nostore"]["milter_cpu_ms_per_msg"] > 0
    # the wait for a free scan worker, from govmilter's own histogram (a part of its time)
    assert runs["govmilter"]["scan_wait_p99_ms"] is not None
    assert runs["passthrough"]["scan_wait_p99_ms"] is None
    assert "cpu store/nostore=" in result.stdout
    # PSS, sampled with RSS, counts shared pages once: never above RSS (a sampling margin)
    assert 0 < runs["govmilter"]["peak_pss_mb"] <= runs["govmilter"]["peak_rss_mb"] * 1.05
    assert runs["postfix"]["peak_pss_mb"] is None


def test_another_checkouts_govmilter_runs_in_the_same_rounds(
        beside_govmilter: BenchRun) -> None:
    """``--tree NAME=PATH``: the govmilter of another checkout (here this commit's files, as
    ``git archive`` gives them) runs as ``govmilter@NAME`` beside this one's, with the ratios."""
    runs = beside_govmilter.runs
    assert {config for config in runs if config.startswith("govmilter")} == {
        "govmilter", "govmilter@other"}
    assert runs["govmilter@other"]["received"] == 15
    assert runs["govmilter@other"]["milter_cpu_ms_per_msg"] > 0
    assert {"govmilter/govmilter@other", "cpu govmilter/govmilter@other"} <= set(
        beside_govmilter.ratios)


def test_postfix_settings_reach_every_private_postfix(tmp_path: Path) -> None:
    from bench.run import Milter, private_postfix

    postfix = private_postfix(tmp_path, Milter(None, "unix:/x.sock", None, ""),
                              {"in_flow_delay": "0"})
    assert postfix.settings()["in_flow_delay"] == "0"
    assert postfix.settings()["smtpd_milters"] == "unix:/x.sock"
    assert "in_flow_delay" not in private_postfix(tmp_path, Milter(None, None, None, "")).settings()


@pytest.mark.parametrize(("option", "message"), [
    (["--postfix", "in flow delay"], "expected a main.cf NAME=VALUE, got 'in flow delay'"),
    (["--configs", "postfix,passthru"], "unknown configuration passthru"),
    (["--mixes", "plain,pdf60"], "unknown mix pdf60"),
    (["--tree", "old=/nonexistent"], "/nonexistent is not a govmilter checkout"),
])
def test_a_malformed_option_is_refused_before_anything_runs(option: list[str],
                                                             message: str) -> None:
    result = run_bench("--quick", *option, timeout=60)
    assert result.returncode == 2
    assert message in result.stderr


def test_the_c_pass_through_is_built_and_every_message_goes_through_it(
        beside_govmilter: BenchRun) -> None:
    """The C baseline (bench/passthrough.c) compiles and sits in the mail path.

    The private Postfix tempfails mail when its milter does not answer
    (``milter_default_action=tempfail``), so delivering every message shows that the C milter
    answered each one, in each of its three protocol variants.
    """
    runs = beside_govmilter.runs
    assert {config for config in runs if config.startswith("passthrough")} == set(C_CONFIGS)
    assert "postfix" in runs
    for config in C_CONFIGS:
        assert runs[config]["sent"] == runs[config]["received"] == 15
        assert runs[config]["lossless"] is True
        assert runs[config]["peak_rss_mb"] is not None  # its process was measured
        assert runs[config]["milter_p99_ms"] is None  # it has no histogram
    assert {f"{config}/postfix" for config in C_CONFIGS} <= set(beside_govmilter.ratios)


def test_rspamd_scans_every_message_and_the_report_compares_govmilter_with_it(
        beside_govmilter: BenchRun) -> None:
    """The peer configuration (bench/peer.py, bench/rspamd/) sits in the mail path and scans.

    Delivery alone shows that rspamd answered each message (the private Postfix tempfails
    mail its milter does not answer); its own per-message log lines show it scanned each one,
    rather than, say, accepting at connect.
    """
    require(shutil.which("rspamd"), "rspamd (scripts/setup.sh installs it)")
    runs = beside_govmilter.runs
    assert {"postfix", "rspamd", "govmilter"} <= set(runs)
    assert runs["rspamd"]["sent"] == runs["rspamd"]["received"] == 15
    assert runs["rspamd"]["lossless"] is True
    assert runs["rspamd"]["milter_samples"] == 15  # rspamd's log: one scanned line each
    assert runs["rspamd"]["peak_rss_mb"] is not None  # its processes were measured
    # rspamd's workers are forked from its main process and share its pages: RSS counts them
    # once per process, PSS once in all
    assert 0 < runs["rspamd"]["peak_pss_mb"] < runs["rspamd"]["peak_rss_mb"]
    assert {"govmilter/rspamd", "rspamd/postfix"} <= set(beside_govmilter.ratios)


def test_every_document_of_a_mix_is_a_different_document_but_pdf_60_repeats_one(
        tmp_path: Path) -> None:
    """No cache flatters a figure: the PDF, DOCX and scan mixes send a different attachment
    in each message (bytes and text), while ``pdf-60`` sends one attachment again and again."""
    import email
    import email.policy
    import hashlib

    import pypdfium2 as pdfium

    from bench.messages import write_messages

    kinds = write_messages(tmp_path, ["pdf", "docx", "scan", "pdf-60"],
                           {"pdf": 3, "docx": 3, "scan": 2, "pdf-60": 60})

    def attachment(path: Path) -> bytes:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        [part] = list(message.iter_attachments())  # type: ignore[attr-defined]
        data = part.get_content()
        assert isinstance(data, bytes)
        return data

    for name, count in (("pdf", 3), ("docx", 3), ("scan", 2)):
        files = kinds[name].files
        assert len(files) == count
        assert len({hashlib.sha256(attachment(f)).digest() for f in files}) == count, name
    first_pages = {pdfium.PdfDocument(attachment(f))[0].get_textpage().get_text_range()
                   for f in kinds["pdf"].files}
    assert len(first_pages) == 3  # the text differs too: number, date, a line
    assert all("THH-CPĐT" in text for text in first_pages)
    assert len(kinds["pdf-60"].files) == 1  # one file, sent 60 times


def test_distinct_documents_reach_the_sink_through_the_bench_sender(tmp_path: Path) -> None:
    require_postfix()
    out = tmp_path / "bench.json"
    result = run_bench("--quick", "--scale", "0.1", "--mixes", "docx,pdf-60", "--configs",
                       "postfix,govmilter", "--json", str(out), timeout=420)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    runs = json.loads(out.read_text())["runs"]
    assert {(run["config"], run["mix"]) for run in runs} == {
        (config, mix) for config in ("postfix", "govmilter") for mix in ("docx", "pdf-60")}
    for run in runs:
        assert run["lossless"] is True
        assert run["sent"] == run["received"] == (2 if run["mix"] == "docx" else 6)


def test_the_scan_lane_mix_times_plain_mail_alone_and_while_scans_arrive(tmp_path: Path) -> None:
    """``plain-scans``: plain mail alone, then with one scan per 20 plain messages, then scans
    with the OCR cache cold and warm, all through one govmilter; nothing is lost and every
    figure is there (their values are results: the cache itself is tested in test_ocr.py)."""
    require_postfix()
    from govmilter.document.ocr import ocr_status

    status = ocr_status()
    require(status.available, f"needs Tesseract with Vietnamese data ({status.detail})")
    out = tmp_path / "bench.json"
    result = run_bench("--quick", "--scale", "0.2", "--mixes", "plain-scans", "--configs",
                       "govmilter", "--json", str(out), timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    [run] = json.loads(out.read_text())["runs"]
    assert run["mix"] == "plain-scans" and run["lossless"] is True
    # 20 plain alone, 20 plain and 1 scan, 6 different scans, one of them 6 times
    assert run["sent"] == run["received"] == 20 + 21 + 6 + 6
    lane = run["scan_lane"]
    assert lane["scans_with_plain"] == 1 and lane["plain_per_scan"] == 20
    assert None not in lane.values() and min(lane.values()) > 0, lane
    assert lane["plain_p99_ratio"] == round(
        lane["plain_with_scans_p99_ms"] / lane["plain_alone_p99_ms"], 2)
    assert "plain-scans s=10 r=0 govmilter: plain p50/p99 " in result.stdout


def test_rounds_rotate_the_first_configuration_and_change_each_ones_neighbour() -> None:
    from bench.run import round_order

    configs = ["postfix", "c-floor", "rspamd", "govmilter", "govmilter-nostore"]
    rounds = [round_order(configs, number) for number in range(len(configs))]
    assert all(sorted(order) == sorted(configs) for order in rounds)
    assert [order[0] for order in rounds] == configs  # each round starts with another one
    for config in configs:  # the one run just before it is not always the same
        before = {order[order.index(config) - 1] for order in rounds if order[0] != config}
        assert len(before) > 1, config
    assert [round_order(["a", "b"], number) for number in range(2)] == [["a", "b"], ["b", "a"]]
