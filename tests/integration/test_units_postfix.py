"""Units and sender rules end to end: the same official document, sent to Gmail through a real
Postfix by three people, meets three rules: a per-person allow-list (``sender_address``), a
stricter rule for one unit (``sender_unit``) and the policy's default; the unit appears in the
incidents, on the metrics endpoint and in the report's per-unit figures.

Needs root and Postfix (scripts/setup.sh installs them): skipped on a developer machine without
them, failed when CI=true.
"""

from __future__ import annotations

import datetime as _dt
import json
import smtplib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from postfix_harness import MilterOn, PrivatePostfix, RunningMilter, run_govmilter, wait_until
from samples import FREEMAIL_RCPT, OFFICIAL, OFFICIAL_RCPT, policy_yaml
from samples import RULES as SAMPLE_RULES

from govmilter.store import IncidentQuery, open_store

pytestmark = pytest.mark.postfix

ROOT = Path(__file__).resolve().parents[2]

DIRECTOR = "giamdoc@mic.gov.vn"  #: in van-phong, and allowed by name
CLERK = "chuyenvien@mic.gov.vn"  #: in van-phong: the default rule (held)
ACCOUNTANT = "ketoan1@ketoan.mic.gov.vn"  #: in ke-toan: the unit's stricter rule (refused)

UNITS = """
units:
  - id: van-phong
    name: Văn phòng Bộ
    name_en: Ministry Office
    members: [mic.gov.vn]
  - id: ke-toan
    name: Phòng Kế toán
    members: [ketoan.mic.gov.vn]
"""
RULES = SAMPLE_RULES.replace("rules:\n", f"""rules:
  - id: director-may-send
    when: {{sender_address: [{DIRECTOR.upper()}], recipient: freemail, document: official}}
    action: accept
  - id: accounting-never-to-webmail
    when: {{sender_unit: [ke-toan], recipient: freemail, document: official}}
    action: reject
    compliant: false
    reply: {{code: 550, enhanced: 5.7.1, en: "Accounting documents never go to webmail"}}
""", 1)


@dataclass(frozen=True)
class Sent:
    """What the three senders' mail became, and where the milter counted it."""

    milter: RunningMilter
    database: str
    policy: Path


@pytest.fixture(scope="module")
def sent(postfix: PrivatePostfix, milter_on: MilterOn) -> Iterator[Sent]:
    policy = postfix.base / "units-policy.yaml"
    policy.write_text(policy_yaml(rules=RULES) + UNITS, encoding="utf-8")
    database = str(postfix.base / "units-store" / "incidents.sqlite3")
    with milter_on(policy, ["--database", database]) as milter:
        assert postfix.send(DIRECTOR, [FREEMAIL_RCPT], OFFICIAL) == {}
        assert postfix.send(CLERK, [FREEMAIL_RCPT], OFFICIAL) == {}
        # refused for Gmail, delivered to the official mailbox
        assert postfix.send(ACCOUNTANT, [FREEMAIL_RCPT, OFFICIAL_RCPT], OFFICIAL) == {}
        with pytest.raises(smtplib.SMTPDataError) as refused:
            postfix.send(ACCOUNTANT, [FREEMAIL_RCPT], OFFICIAL)
        assert refused.value.smtp_code == 550
        assert b"Accounting documents never go to webmail" in refused.value.smtp_error

        def counted() -> int:
            with open_store(database) as store:
                return sum(c.count for c in store.message_counts(_dt.date.min, _dt.date.max))
        wait_until(lambda: counted() >= 4, 30, "the day's counts", interval=0.3)
        yield Sent(milter, database, policy)


def test_the_same_document_meets_the_allow_list_the_unit_rule_and_the_default(
        sent: Sent, postfix: PrivatePostfix) -> None:
    delivered = postfix.wait_for_dumps(2)
    assert sorted((d.sender, d.recipients) for d in delivered) == [
        (DIRECTOR, (FREEMAIL_RCPT,)), (ACCOUNTANT, (OFFICIAL_RCPT,))]
    assert len(postfix.hold_queue()) == 1  # the clerk's, held by document-to-freemail


def test_each_incident_records_the_senders_unit(sent: Sent) -> None:
    with open_store(sent.database) as store:
        wait_until(lambda: store.list_incidents(IncidentQuery()).total >= 3, 30, "incidents")
        found = sorted((i.sender, i.rule_id, i.sender_unit)
                       for i in store.list_incidents(IncidentQuery()).incidents)
    assert found == [(CLERK, "document-to-freemail", "van-phong"),
                     *[(ACCOUNTANT, "accounting-never-to-webmail", "ke-toan")] * 2]


def test_the_metrics_count_per_unit(sent: Sent) -> None:
    def recipients(unit: str, flow: str, compliance: str) -> float:
        return sent.milter.metric("govmilter_recipients_total", flow=flow, document="official",
                                  compliance=compliance, unit=unit)
    assert recipients("van-phong", "official_to_freemail", "compliant") == 1  # the director
    assert recipients("van-phong", "official_to_freemail", "non_compliant") == 1  # the clerk
    assert recipients("ke-toan", "official_to_freemail", "non_compliant") == 2
    assert recipients("ke-toan", "official_to_official", "compliant") == 1
    assert recipients("", "official_to_freemail", "non_compliant") == 0
    assert sent.milter.metric("govmilter_messages_total", document="official",
                              compliance="non_compliant", unit="ke-toan") == 2
    assert sent.milter.metric("govmilter_messages_total", document="official",
                              compliance="compliant", unit="van-phong") == 1


def test_the_report_counts_documents_to_webmail_by_unit(sent: Sent, tmp_path: Path) -> None:
    from docx import Document

    result = run_govmilter("report", "--database", sent.database, "--policy", str(sent.policy),
                           "--format", "md")
    assert result.returncode == 0, result.stderr
    assert "| Văn phòng Bộ (Ministry Office) [van-phong] | 2 | 0 |" in result.stdout
    assert "| Phòng Kế toán [ke-toan] | 2 | 0 |" in result.stdout
    out = tmp_path / "bao-cao.docx"
    result = run_govmilter("report", "--database", sent.database, "--policy", str(sent.policy),
                           "--out", str(out))
    assert result.returncode == 0, result.stderr
    tables = [[[c.text for c in row.cells] for row in t.rows] for t in Document(str(out)).tables]
    [by_unit] = [t for t in tables if t[0][0] == "Đơn vị"]
    assert sorted(by_unit[1:]) == [["Phòng Kế toán [ke-toan]", "2", "0"],
                                   ["Văn phòng Bộ (Ministry Office) [van-phong]", "2", "0"]]


def test_the_log_line_names_the_unit_by_its_id_only(sent: Sent) -> None:
    lines = [line for line in sent.milter.log().splitlines() if " qid=" in line]
    units = sorted(line.split(" unit=", 1)[1].split(" ", 1)[0] for line in lines)
    assert units == ["ke-toan", "ke-toan", "van-phong", "van-phong"]
    for line in lines:  # the unit's id, never its names, its members or an address
        assert "Văn phòng" not in line and "Kế toán" not in line and "Ministry" not in line
        assert "mic.gov.vn" not in line and "@" not in line


def test_the_incidents_command_lists_one_unit(sent: Sent) -> None:
    def listed(*options: str) -> tuple[list[tuple[str, str | None]], str]:
        result = run_govmilter("incidents", "list", "--database", sent.database, "--policy",
                               str(sent.policy), "--json", *options)
        assert result.returncode == 0, result.stderr
        return sorted((i["sender"]["address"], i["sender"]["unit"])
                      for i in json.loads(result.stdout)["incidents"]), result.stderr
    assert listed("--unit", "ke-toan") == ([(ACCOUNTANT, "ke-toan")] * 2, "")
    assert listed("--unit", "VAN-PHONG") == ([(CLERK, "van-phong")], "")
    assert listed("--unit", "-") == ([], "")
    found, said = listed("--unit", "ke-toam")
    assert found == [] and "declares no unit 'ke-toam' (declared: van-phong, ke-toan)" in said
