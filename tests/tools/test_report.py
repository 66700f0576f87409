"""``govmilter report`` against a real Prometheus holding three days of backfilled counters.

The test writes an OpenMetrics file with known increases for two agencies (three hosts), turns it
into TSDB blocks with ``promtool tsdb create-blocks-from openmetrics``, starts Debian's
``prometheus`` on a free loopback port over those blocks, runs ``govmilter report`` as a user
would (a subprocess) and checks the numbers the report prints.
"""

from __future__ import annotations

import datetime as _dt
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from postfix_harness import require, run_govmilter, stop_process

from govmilter.policy import default_policy_path, load_policy
from govmilter.policy.description import describe_policy
from govmilter.tools.charts import bar_chart, line_chart

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
STEP = 900  # one sample every 15 minutes
PER_DAY = 96  # samples per day
DAYS = 3


@dataclass(frozen=True)
class Counter:
    """A counter series growing by ``per_step[day]`` every 15 minutes of each day."""

    name: str
    labels: dict[str, str]
    per_step: Sequence[int]

    def value(self, index: int) -> int:
        """The counter after ``index`` steps (0 at the first sample)."""
        full_days, rest = divmod(index, PER_DAY)
        return sum(self.per_step[:full_days]) * PER_DAY + (
            self.per_step[full_days] * rest if full_days < DAYS else 0)


def _series(agency: str, instance: str, name: str, per_step: Sequence[int],
            **labels: str) -> Counter:
    return Counter(name, {"job": "govmilter", "agency": agency, "instance": instance, **labels},
                   per_step)


def _recipients(agency: str, instance: str, flow: str, document: str, compliance: str,
                per_step: Sequence[int], unit: str = "") -> Counter:
    # unit "" is as Prometheus stores it: no label at all
    return _series(agency, instance, "govmilter_recipients", per_step, flow=flow,
                   document=document, compliance=compliance, **({"unit": unit} if unit else {}))


MIC, HANOI = "bo-tttt", "ubnd-hanoi"
COUNTERS = (
    # bo-tttt: 1152 + 288 official documents between official mailboxes, 288 + 96 to webmail.
    _recipients(MIC, "mx1", "official_to_official", "official", "compliant", (4, 4, 4)),
    _recipients(MIC, "mx2", "official_to_official", "secret", "compliant", (1, 1, 1)),
    _recipients(MIC, "mx1", "official_to_freemail", "official", "non_compliant", (0, 1, 2),
                "ke-toan"),
    _recipients(MIC, "mx2", "official_to_freemail", "secret", "non_compliant", (0, 0, 1),
                "van-phong"),
    _recipients(MIC, "mx1", "official_to_official", "none", "compliant", (20, 20, 20)),
    # ubnd-hanoi: 576 between official mailboxes, 96 arriving from webmail on the first day.
    _recipients(HANOI, "mail", "official_to_official", "official", "compliant", (2, 2, 2)),
    _recipients(HANOI, "mail", "freemail_to_official", "official", "non_compliant", (1, 0, 0)),
    _series(MIC, "mx1", "govmilter_rule_matches", (0, 1, 2), rule="document-to-freemail",
            compliance="non_compliant"),
    _series(MIC, "mx2", "govmilter_rule_matches", (0, 0, 1), rule="secret-to-freemail",
            compliance="non_compliant"),
    _series(HANOI, "mail", "govmilter_rule_matches", (1, 0, 0), rule="document-from-freemail",
            compliance="non_compliant"),
    _series(MIC, "mx1", "govmilter_rule_matches", (24, 24, 24), rule="official-to-official",
            compliance="compliant"),
    _series(MIC, "mx1", "govmilter_recipient_actions", (0, 1, 2), action="tag", mode="enforce"),
    _series(MIC, "mx2", "govmilter_recipient_actions", (0, 0, 1), action="reject",
            mode="enforce"),
    _series(HANOI, "mail", "govmilter_recipient_actions", (1, 0, 0), action="tag",
            mode="monitor"),
    _series(MIC, "mx1", "govmilter_recipient_actions", (24, 24, 24), action="accept",
            mode="enforce"),
    _series(MIC, "mx1", "govmilter_message_actions", (0, 1, 2), action="tag", mode="enforce"),
    _series(MIC, "mx1", "govmilter_messages", (20, 20, 20), document="none",
            compliance="compliant"),
    _series(MIC, "mx1", "govmilter_messages", (2, 3, 4), document="official",
            compliance="non_compliant"),
    _series(HANOI, "mail", "govmilter_errors", (0, 1, 0), stage="dns"),
)


def write_openmetrics(path: Path, end: int, sha_mic: str) -> None:
    """The samples above from end - 3 days to end, plus policy gauges, as OpenMetrics."""
    start = end - DAYS * PER_DAY * STEP
    steps = range(DAYS * PER_DAY + 1)
    lines: list[str] = []
    for name in dict.fromkeys(c.name for c in COUNTERS):
        lines.append(f"# TYPE {name} counter")
        for counter in (c for c in COUNTERS if c.name == name):
            labels = ",".join(f'{k}="{v}"' for k, v in counter.labels.items())
            lines += [f"{name}_total{{{labels}}} {counter.value(i)} {start + i * STEP}"
                      for i in steps]
    hosts = ((MIC, "mx1", sha_mic, "enforce"), (MIC, "mx2", sha_mic, "enforce"),
             (HANOI, "mail", "f" * 64, "monitor"))
    gauges: tuple[tuple[str, Callable[[int], int]], ...] = (
        ("govmilter_policy_info", lambda _: 1),
        ("govmilter_policy_last_reload_success_timestamp_seconds", lambda _: start + 3600))
    for name, value in gauges:
        lines.append(f"# TYPE {name} gauge")
        for agency, instance, sha, mode in hosts:
            extra = f',sha256="{sha}",mode="{mode}"' if name.endswith("_info") else ""
            labels = f'job="govmilter",agency="{agency}",instance="{instance}"{extra}'
            lines += [f"{name}{{{labels}}} {value(i)} {start + i * STEP}" for i in steps]
    lines.append("# EOF")
    path.write_text("\n".join(lines) + "\n")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class Server:
    """The running Prometheus and the end of its data."""

    url: str
    end: int


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real Prometheus over backfilled blocks; data ends three hours ago, on a 15-min mark."""
    # every test using it skips without them, and fails under CI=true
    require(Path(PROMETHEUS).exists() and Path(PROMTOOL).exists(),
            "prometheus/promtool missing: run scripts/setup.sh (package prometheus)")
    base = tmp_path_factory.mktemp("prometheus")
    end = (int(time.time()) - 3 * 3600) // STEP * STEP
    write_openmetrics(base / "data.om", end, load_policy(None).source.sha256)
    data = base / "data"
    subprocess.run([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", "-q",
                    str(base / "data.om"), str(data)], check=True, capture_output=True,
                   timeout=60)
    (base / "prometheus.yml").write_text("global:\n  scrape_interval: 1m\n")
    port = _free_port()
    log = (base / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [PROMETHEUS, f"--config.file={base / 'prometheus.yml'}", f"--storage.tsdb.path={data}",
         "--storage.tsdb.retention.time=10y", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("prometheus did not start:\n"
                                   + (base / "prometheus.log").read_text()[-2000:])
            time.sleep(0.2)
        yield Server(url, end)
    finally:
        stop_process(process, 10)
        log.close()


def _report(server: Server, *args: str) -> str:
    result = run_govmilter("report", "--prometheus", server.url, "--since", "3d",
                           "--end", str(server.end), *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _day(ts: int) -> str:
    vietnam = _dt.timezone(_dt.timedelta(hours=7))
    return _dt.datetime.fromtimestamp(ts, vietnam).strftime("%d/%m/%Y %H:%M")


def test_markdown_report_numbers_match_the_backfilled_counters(prometheus: Server) -> None:
    md = _report(prometheus, "--format", "md")
    # Summary: 1824 + 672 official-document recipients, 1440 + 576 via official mailboxes.
    assert "| Người nhận văn bản (official-document recipients) | 2.496 |" in md
    assert "| Trong đó qua hộp thư công vụ (via official mailboxes) | 2.016 |" in md
    assert "| Tỷ lệ tuân thủ (compliance ratio) | 80,8% |" in md
    assert "| Người nhận không tuân thủ (non-compliant recipients) | 480 |" in md
    assert "| Thư đã kiểm tra (messages checked) | 6.624 |" in md  # 5760 + 864
    # Per agency, lowest ratio first.
    assert "| bo-tttt | 1.824 | 1.440 | 78,9% |\n| ubnd-hanoi | 672 | 576 | 85,7% |" in md
    # Per day: bo-tttt 480/480, 480/576, 480/768; ubnd-hanoi 192/288 then 100%.
    end = prometheus.end
    assert f"| {_day(end - 2 * 86400)} | 100,0% | 66,7% |" in md
    assert f"| {_day(end - 86400)} | 83,3% | 100,0% |" in md
    assert f"| {_day(end)} | 62,5% | 100,0% |" in md
    # Prometheus figures are estimates, and the report says so (and why) in words.
    assert "là số ƯỚC TÍNH, không phải số đếm chính xác" in md and "increase()" in md
    # Non-compliant flows (the compliant official-to-official flow is not among them) and rules,
    # largest first, with what each rule covers.
    section4 = md[md.index("## 4."):md.index("## 5.")]
    assert "| Công vụ → thư miễn phí (official_to_freemail) | 384 |" in section4
    assert "| Thư miễn phí → công vụ (freemail_to_official) | 96 |" in section4
    assert "official_to_official" not in section4
    assert ("| document-to-freemail | Văn bản (kể cả văn bản mật) gửi từ hộp thư công vụ tới "
            "hộp thư miễn phí (Gmail, Yahoo, ...): gắn nhãn cảnh báo (tag) | 288 |") in md
    assert md.index("| document-to-freemail |") < md.index("| secret-to-freemail |")
    assert "| document-from-freemail |" in md and "official-to-official |" not in md
    # Actions, per recipient and per message.
    assert "| cho qua (accept) | áp dụng (enforce) | 6.912 |" in md
    assert "| gắn nhãn cảnh báo (tag) | áp dụng (enforce) | 288 |" in md
    assert "| từ chối (reject) | áp dụng (enforce) | 96 |" in md
    assert "| gắn nhãn cảnh báo (tag) | giám sát (monitor) | 96 |" in md
    # Operations: 96 DNS errors on the second day.
    assert "Lỗi khi kiểm tra (errors by stage): dns 96." in md
    # Mail gets text bars instead of SVG.
    assert "<svg" not in md
    assert "bo-tttt     " + "█" * 24 + " " * 6 + "  78,9%" in md  # a full bar is 100%


UNITS = """
units:
  - id: ke-toan
    name: Phòng Kế toán
    members: [ketoan.mic.gov.vn]
  - id: van-phong
    name: Văn phòng
    name_en: Office
    members: [mic.gov.vn]
"""


def test_documents_to_and_from_webmail_by_unit(prometheus: Server, tmp_path: Path) -> None:
    policy = tmp_path / "units.yaml"
    policy.write_text(default_policy_path().read_text(encoding="utf-8") + UNITS,
                      encoding="utf-8")
    md = _report(prometheus, "--format", "md", "--policy", str(policy))
    section2 = md[md.index("## 2."):md.index("## 3.")]
    assert ("| Đơn vị (unit) | Gửi tới hộp thư miễn phí (sent to webmail) | Nhận từ hộp thư "
            "miễn phí (received from webmail) |") in section2
    table = section2[section2.index("theo đơn vị"):].splitlines()
    rows = [line for line in table if line.startswith("| ") and line[2:].split(" |")[0]
            not in ("Đơn vị (unit)", "---")]
    assert rows == ["| Phòng Kế toán [ke-toan] | 288 | 0 |",
                    "| Không thuộc đơn vị nào (no unit) | 0 | 96 |",
                    "| Văn phòng (Office) [van-phong] | 96 | 0 |"]
    assert "- Văn phòng (Office) [van-phong]: người gửi thuộc (senders) mic.gov.vn" in md
    # without units in the policy, a store of figures with units still names them
    plain = _report(prometheus, "--format", "md")
    assert "| ke-toan (không còn trong chính sách) | 288 | 0 |" in plain


def test_report_opens_with_the_policy_and_where_it_runs(prometheus: Server) -> None:
    md = _report(prometheus, "--format", "md")
    policy_part = md[:md.index("## 2.")]
    assert "## 1. Quy định đang áp dụng (Policy in force)" in policy_part
    assert ("- Văn bản mật hoặc thư có dấu mật (MẬT, TỐI MẬT, TUYỆT MẬT) gửi từ hộp thư công vụ "
            "tới hộp thư miễn phí "
            "(Gmail, Yahoo, ...): từ chối (reject) [secret-to-freemail]") in policy_part
    assert "Chế độ chung (mode): áp dụng (enforce)." in policy_part
    assert ("  - Mô tả (description): Hộp thư công vụ gửi tới hộp thư công vụ: đường trao đổi "
            "văn bản đúng quy định. (Official mailbox") in policy_part
    assert "Không có ngoại lệ (no exceptions)." in policy_part
    loaded = _day(prometheus.end - 3 * 86400 + 3600)
    assert (f"| bo-tttt | mx1 | {load_policy(None).source.sha256[:16]}… khớp tệp trên (matches) "
            f"| áp dụng (enforce) | {loaded} |") in policy_part
    assert "| ubnd-hanoi | mail | ffffffffffffffff… KHÁC tệp trên (differs) | giám sát" in md


def test_one_agency_and_html_file(prometheus: Server, tmp_path: Path) -> None:
    out = tmp_path / "bao-cao.html"
    result = run_govmilter("report", "--prometheus", prometheus.url, "--since", "3d", "--end",
                           str(prometheus.end), "--agency", HANOI, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and '<html lang="vi">' in html
    assert "<td>ubnd-hanoi</td><td class=n>672</td><td class=n>576</td><td class=n>85,7%</td>" \
        in html
    assert "bo-tttt</td>" not in html
    assert html.count("<svg") >= 3  # ratio per agency, over time, non-compliant by flow/rule
    assert "<script" not in html and "http://" not in html.replace(prometheus.url, "") \
        .replace("http://www.w3.org/2000/svg", "")


def test_hourly_points_for_a_short_period(prometheus: Server) -> None:
    md = _report(prometheus, "--format", "md", "--since", "6h")
    assert "Theo thời gian (over time), từng giờ (per hour)" in md
    # Last day only: bo-tttt 5 of 8 documents every 15 minutes, 24 steps in 6 hours.
    assert "| bo-tttt | 192 | 120 | 62,5% |" in md


def test_unknown_agency_is_a_clear_error(prometheus: Server) -> None:
    result = run_govmilter("report", "--prometheus", prometheus.url, "--end", str(prometheus.end),
                           "--since", "3d", "--agency", "khong-co")
    assert result.returncode == 1
    assert "has no govmilter data for agency 'khong-co'" in result.stderr
    assert "Traceback" not in result.stderr


def test_prometheus_errors_are_clear(prometheus: Server) -> None:
    wrong_path = run_govmilter("report", "--prometheus", prometheus.url + "/nothing/here")
    assert wrong_path.returncode == 1
    assert "refused the query (404)" in wrong_path.stderr
    closed = run_govmilter("report", "--prometheus", f"http://127.0.0.1:{_free_port()}")
    assert closed.returncode == 1
    assert "cannot reach Prometheus at http://127.0.0.1:" in closed.stderr
    for result in (wrong_path, closed):
        assert "Traceback" not in result.stderr and result.stdout == ""


@pytest.mark.parametrize("args, message", [
    (["--since", "forever"], "invalid --since 'forever': use a date (2026-07-01)"),
    (["--since", "0d"], "invalid duration '0d'"),
    (["--quarter", "Q5"], "invalid quarter 'Q5'"),
    (["--year", "2025", "--since", "30d"], "--since cannot be combined with --year"),
    (["--format", "docx"], "--format docx needs --out FILE"),
    (["--end", "yesterday"], "invalid time 'yesterday'"),
    (["--prometheus", "localhost:9090"], "not an http(s) URL"),
])
def test_bad_options_are_clear(args: list[str], message: str) -> None:
    result = run_govmilter("report", "--prometheus", "http://127.0.0.1:1", *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_policy_text_exceptions_modes_and_details(tmp_path: Path) -> None:
    text = default_policy_path().read_text(encoding="utf-8")
    text = text.replace("mode: enforce", "mode: monitor", 1).replace("  exceptions: []", """\
  exceptions:
    - address: tro.ly@gmail.com
      treat_as: official
      expires: 2099-06-30
      reason: "Quyết định 12/QĐ-VP"
    - domain: old-partner.vn
      treat_as: official
      expires: 2020-01-01
      reason: "Hết hợp đồng"
""")
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    described = describe_policy(load_policy(path), _dt.date(2025, 1, 1))
    assert described.general[0].startswith("Chế độ chung (mode): chỉ giám sát (monitor)")
    assert described.exceptions == (
        "Địa chỉ tro.ly@gmail.com được coi là hộp thư công vụ, đến hết ngày 30/06/2099 "
        "(expires). Lý do (reason): Quyết định 12/QĐ-VP",
        "Tên miền old-partner.vn được coi là hộp thư công vụ, đã hết hạn ngày 01/01/2020, "
        "không còn hiệu lực (expired). Lý do (reason): Hết hợp đồng",
    )
    rules = {rule.rule_id: rule for rule in described.rules}
    secret = rules["secret-to-freemail"]
    assert not secret.compliant
    assert "Chế độ (mode): chỉ giám sát (monitor): thư không bị thay đổi, chỉ ghi nhận" \
        in secret.details
    assert any(d.startswith("Trả lời người gửi (reply): 550 5.7.1 ") for d in secret.details)
    assert ("Thêm vào đầu tiêu đề (subject prefix): [VĂN BẢN GỬI WEBMAIL]"
            in rules["document-to-freemail"].details)
    assert rules["default-accept"].sentence == "Mọi thư gửi từ bất kỳ ai tới bất kỳ ai: cho qua " \
                                               "(accept)"


@pytest.mark.parametrize("chart", [
    lambda: bar_chart([("a <b>", 3.0), ("c", 1.0)], "T & t", str),
    lambda: line_chart({"x": [(0.0, 0.5), (1.0, 1.0)], "y": [(1.0, 0.25)]}, "T", str, str),
])
def test_charts_are_well_formed_svg(chart: Callable[[], str]) -> None:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(chart())
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert texts and all(texts)


def test_bar_lengths_follow_values() -> None:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(bar_chart([("a", 4.0), ("b", 1.0)], "T", str, width=720))
    widths = [float(r.get("width", 0)) for r in root.iter("{http://www.w3.org/2000/svg}rect")
              if r.get("fill") not in ("#ffffff", "#f0f0f0")]
    assert widths[0] == pytest.approx(4 * widths[1], abs=0.5)  # lengths rounded to 0.1 px


def test_a_missing_store_and_no_source_are_clear_errors(tmp_path: Path) -> None:
    missing = run_govmilter("report", "--database", str(tmp_path / "nothing.sqlite3"))
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert "there is no incident store at" in missing.stderr
    assert not (tmp_path / "nothing.sqlite3").exists()
    none = run_govmilter("report")
    assert none.returncode == 2 and "no data source" in none.stderr
