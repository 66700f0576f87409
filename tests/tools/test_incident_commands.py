"""``govmilter incidents migrate|list|show|export|purge`` as an administrator runs them."""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
from pathlib import Path

import pytest
from incident_samples import make_incident

from govmilter.cli import main
from govmilter.policy import load_policy
from govmilter.store import IncidentStatus, open_store
from govmilter.tools.incidents import CSV_COLUMNS


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_show_and_export_on_each_database(capsys: pytest.CaptureFixture[str],
                                               store_database: str) -> None:
    incident = make_incident()
    with open_store(store_database) as store:
        store.add_incidents([incident])
    code, out, _ = run(capsys, "incidents", "list", "--database", store_database, "--json")
    assert code == 0
    listed = json.loads(out)
    assert (listed["schema"], listed["total"]) == (1, 1)
    [shown] = listed["incidents"]
    assert shown["id"] == incident.id and shown["status"] == "open"
    assert [r["address"] for r in shown["recipients"] if r["removed"]] == ["ban.be@gmail.com"]
    assert shown["document"]["number"] == "12/BC-BTTTT"
    assert shown["attachments"] == [{"name": "Báo cáo mật.pdf", "sha256": "ab" * 32,
                                     "size": 123456}]

    code, out, _ = run(capsys, "incidents", "show", incident.id, "--database", store_database)
    assert code == 0
    assert "Người nhận (recipients):" in out
    assert "ban.be@gmail.com  [freemail]  secret-to-freemail: reject  ĐÃ BỊ LOẠI (removed)" in out
    assert "Số, ký hiệu (number)" in out and "12/BC-BTTTT" in out
    assert "2026-12-01 10:00:00 (UTC+7)" in out  # 03:00 UTC shown in Vietnam time

    code, out, _ = run(capsys, "incidents", "export", "--database", store_database)
    rows = list(csv.reader(io.StringIO(out)))
    assert code == 0 and rows[0] == list(CSV_COLUMNS)
    record = dict(zip(CSV_COLUMNS, rows[1], strict=True))
    assert record["removed"] == "ban.be@gmail.com"
    assert record["subject"] == "V/v báo cáo MẬT số 12/BC-BTTTT"

    with open_store(store_database) as store:
        actions = [e.action for e in store.audit_entries()]
    assert actions == ["export", "show", "list"]  # newest first, each read recorded


def test_show_json_carries_the_history(capsys: pytest.CaptureFixture[str],
                                       tmp_path: Path) -> None:
    database = str(tmp_path / "s.db")
    incident = make_incident(held=True, action="quarantine")
    with open_store(database) as store:
        store.add_incidents([incident])
        store.change_status(incident.id, IncidentStatus.DELETED, "officer1", "gửi nhầm")
    code, out, _ = run(capsys, "incidents", "show", incident.queue_id or "", "--json",
                       "--database", database)
    shown = json.loads(out)
    assert code == 0 and shown["schema"] == 1
    assert [(h["status"], h["actor"], h["reason"]) for h in shown["incident"]["history"]] == [
        ("open", "govmilter", "rule secret-to-freemail: held"),
        ("deleted", "officer1", "gửi nhầm")]


def test_list_filters_by_time_status_and_sender(capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path) -> None:
    database = str(tmp_path / "s.db")
    now = _dt.datetime.now(_dt.UTC)
    recent = make_incident(created_at=now - _dt.timedelta(hours=1))
    old = make_incident(created_at=now - _dt.timedelta(days=10), sender="khac@mic.gov.vn")
    with open_store(database) as store:
        store.add_incidents([recent, old])

    def ids(*options: str) -> list[str]:
        code, out, err = run(capsys, "incidents", "list", "--database", database, "--json",
                             *options)
        assert code == 0, err
        return [i["id"] for i in json.loads(out)["incidents"]]

    assert ids() == [recent.id, old.id]
    assert ids("--since", "2d") == [recent.id]
    assert ids("--until", (now - _dt.timedelta(days=2)).date().isoformat()) == [old.id]
    assert ids("--sender", "KHAC@mic.gov.vn") == [old.id]
    assert ids("--status", "released") == []
    assert ids("--limit", "1", "--offset", "1") == [old.id]
    code, out, _ = run(capsys, "incidents", "list", "--database", database)
    assert code == 0 and recent.id in out.splitlines()[0] and "-- 1-2 of 2" in out


def test_list_and_export_filter_by_the_senders_unit(capsys: pytest.CaptureFixture[str],
                                                    tmp_path: Path) -> None:
    database = str(tmp_path / "s.db")
    accounting = make_incident(sender_unit="ke-toan")
    nowhere = make_incident()
    with open_store(database) as store:
        store.add_incidents([accounting, nowhere])
    code, out, err = run(capsys, "incidents", "list", "--database", database, "--unit", "ke-toan")
    assert code == 0 and err == "" and accounting.id in out and nowhere.id not in out
    code, out, _ = run(capsys, "incidents", "export", "--database", database, "--unit", "-")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [(r["id"], r["sender_unit"]) for r in rows] == [(nowhere.id, "")]


def test_export_json_to_a_file_is_one_document(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    database = str(tmp_path / "s.db")
    incidents = [make_incident() for _ in range(3)]
    with open_store(database) as store:
        store.add_incidents(incidents)
    out_file = tmp_path / "export.json"
    code, _, err = run(capsys, "incidents", "export", "--format", "json", "--out",
                       str(out_file), "--database", database)
    assert code == 0 and "wrote" in err
    exported = json.loads(out_file.read_text(encoding="utf-8"))
    assert exported["schema"] == 1
    assert sorted(i["id"] for i in exported["incidents"]) == sorted(i.id for i in incidents)


def test_purge_uses_the_policys_retention_unless_told(capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path) -> None:
    database = tmp_path / "s.db"
    policy = tmp_path / "policy.yaml"
    policy.write_text(f"incidents:\n  database: {database}\n  retention_days: 5\n"
                      "rules:\n  - id: all\n    action: accept\n", encoding="utf-8")
    now = _dt.datetime.now(_dt.UTC)
    ages = (1, 7, 40)
    with open_store(str(database)) as store:
        store.add_incidents([make_incident(created_at=now - _dt.timedelta(days=d))
                             for d in ages])
    code, out, _ = run(capsys, "incidents", "purge", "--policy", str(policy), "--older-than",
                       "30", "--json")
    assert code == 0 and json.loads(out)["purged"] == 1
    code, out, _ = run(capsys, "incidents", "purge", "--policy", str(policy))
    assert code == 0 and out.strip() == "purged 1 incident(s) older than 5 days"
    with open_store(str(database)) as store:
        assert store.list_incidents().total == 1
    # without incidents.retention_days: a year (issue 20), in the shipped policy too
    plain = tmp_path / "plain.yaml"
    plain.write_text("rules:\n  - id: all\n    action: accept\n", encoding="utf-8")
    assert load_policy(str(plain)).incidents.retention_days == 365
    assert load_policy(None).incidents.retention_days == 365


def test_migrate_reports_the_schema_versions(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    database = str(tmp_path / "new" / "s.db")
    code, out, _ = run(capsys, "incidents", "migrate", "--database", database, "--json")
    first = json.loads(out)
    assert code == 0 and first["before"] is None and first["after"]
    code, out, _ = run(capsys, "incidents", "migrate", "--database", database)
    assert code == 0 and out.strip().endswith("(already current)")


@pytest.mark.parametrize(("argv", "code", "message"), [
    (["show", "20261201-ABCDEFGHJKMN"], 1, "no incident 20261201-ABCDEFGHJKMN"),
    (["list", "--since", "yesterday"], 2, "invalid time 'yesterday'"),
    (["list", "--limit", "-1"], 2, "--limit and --offset must be 0 or more"),
    (["purge", "--older-than", "0"], 2, "--older-than must be at least 1 day"),
    (["export", "--unit", "Kế toán"], 2, "invalid --unit 'Kế toán': a unit id is lower-case"),
])
def test_bad_requests_say_what_is_wrong(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                        argv: list[str], code: int, message: str) -> None:
    result, out, err = run(capsys, "incidents", *argv, "--database", str(tmp_path / "s.db"))
    assert result == code and message in err and out == ""


def test_an_unreachable_database_is_exit_1_with_the_reason(
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "incidents", "list", "--database",
                         "postgresql://postgres:secret@127.0.0.1:1/x")
    assert code == 1 and "Connection refused" in err and out == ""
    assert "secret" not in err  # the password is never printed


def test_validate_names_the_store_and_refuses_a_database_it_cannot_use(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    rules = "rules:\n  - id: all\n    action: accept\n"
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text("incidents:\n  database: postgresql://gm:secret@db.example/gm\n"
                    "  retention_days: 90\n" + rules, encoding="utf-8")
    bad.write_text("incidents:\n  database: mysql://root@db.example/gm\n" + rules,
                   encoding="utf-8")
    code, out, _ = run(capsys, "validate", str(good))
    assert code == 0
    assert "incidents:  postgresql+psycopg://gm:***@db.example/gm (kept 90 days)" in out
    code, out, err = run(capsys, "validate", str(bad))
    assert code == 2 and "incidents.database: unsupported database 'mysql'" in err
