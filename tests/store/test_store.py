"""The incident store on SQLite and on a real PostgreSQL: schema, writes, queries, decisions."""

from __future__ import annotations

import collections
import dataclasses
import datetime as _dt
import os
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from incident_samples import T0, make_incident
from postfix_harness import checkout_env
from sqlalchemy import inspect

from govmilter.store import (
    DailyMessageCount,
    DailyRecipientCount,
    IncidentQuery,
    IncidentStatus,
    StoreError,
    database_url,
    open_store,
)
from govmilter.store.database import head_revision, make_engine, migrate, shipped_head
from govmilter.store.records import looks_like_incident_id, new_incident_id
from govmilter.store.schema import (
    OUTSIDE_METADATA_PREFIX,
    OUTSIDE_METADATA_SUFFIX,
    metadata,
)

DAY = _dt.timedelta(days=1)


def in_metadata(name: str | None, kind: str, _parents: object) -> bool:
    """Whether a database object is one ``metadata`` describes (not the search index's)."""
    return not (name and (name.startswith(OUTSIDE_METADATA_PREFIX)
                          or name.endswith(OUTSIDE_METADATA_SUFFIX)))


def test_the_migrations_build_exactly_the_schema_the_queries_use(store_database: str) -> None:
    with open_store(store_database) as store, store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": in_metadata})
        differences = compare_metadata(context, metadata)
        outside = set(inspect(conn).get_table_names()) - set(metadata.tables)
        indexes = {i["name"] for i in inspect(conn).get_indexes("incidents")}
    assert differences == []
    if store.engine.dialect.name == "sqlite":  # the FTS5 table and its shadow tables
        assert {"incidents_text", "incidents_text_data"} <= outside
    else:
        assert "ix_incidents_subject_trgm" in indexes


def test_migrating_again_changes_nothing(store_database: str) -> None:
    engine = make_engine(database_url(store_database))
    try:
        assert migrate(engine) == (None, head_revision())
        assert migrate(engine) == (head_revision(), head_revision())
    finally:
        engine.dispose()


def test_an_incident_reads_back_as_written(store_database: str) -> None:
    incident = make_incident()
    with open_store(store_database) as store:
        assert store.add_incidents([incident]) == 1
        found = store.get_incident(incident.id)
    assert found is not None
    assert dataclasses.replace(found, history=()) == incident
    assert found.created_at.tzinfo is not None and found.created_at == T0
    assert found.removed == ("ban.be@gmail.com",)
    [opened] = found.history
    assert (opened.status, opened.actor) == (IncidentStatus.OPEN, "govmilter")
    assert "secret-to-freemail" in opened.reason and "@" not in opened.reason


def test_a_replayed_incident_is_stored_once(store_database: str) -> None:
    first, second = make_incident(), make_incident()
    with open_store(store_database) as store:
        assert store.add_incidents([first, first]) == 1
        assert store.add_incidents([first, second]) == 1
        page = store.list_incidents()
        assert page.total == 2
        assert len(store.get_incident(first.id).recipients) == 2  # type: ignore[union-attr]


def test_an_incident_is_found_by_its_queue_id_too(store_database: str) -> None:
    older = make_incident(queue_id="QID1")
    newer = make_incident(queue_id="QID1", created_at=T0 + DAY)
    with open_store(store_database) as store:
        store.add_incidents([older, newer])
        assert store.get_incident("QID1").id == newer.id  # type: ignore[union-attr]
        assert store.get_incident("NOSUCHQID") is None
        assert store.get_incident(new_incident_id()) is None


def test_list_filters_and_pages_newest_first(store_database: str) -> None:
    incidents = [make_incident(created_at=T0 + n * DAY) for n in range(5)]
    other_rule = make_incident(created_at=T0 + 10 * DAY, rule_id="freemail-tag",
                               sender="khac@mic.gov.vn", held=True, recipients=(
                                   dataclasses.replace(incidents[0].recipients[0],
                                                       rule_id="only-on-a-recipient"),))
    with open_store(store_database) as store:
        store.add_incidents([*incidents, other_rule])
        everything = store.list_incidents(IncidentQuery(limit=2, offset=1))
        assert everything.total == 6
        assert [i.id for i in everything.incidents] == [incidents[4].id, incidents[3].id]
        window = store.list_incidents(IncidentQuery(since=T0 + DAY, until=T0 + 3 * DAY))
        assert {i.id for i in window.incidents} == {incidents[1].id, incidents[2].id}
        by_sender = store.list_incidents(IncidentQuery(sender="CHUYEN.VIEN@MIC.GOV.VN"))
        assert by_sender.total == 5
        assert store.list_incidents(IncidentQuery(rule_id="freemail-tag")).total == 1
        # a rule that decided only one recipient finds the incident too
        assert [i.id for i in store.list_incidents(
            IncidentQuery(rule_id="only-on-a-recipient")).incidents] == [other_rule.id]
        assert store.list_incidents(IncidentQuery(held=True)).total == 1
        assert store.list_incidents(IncidentQuery(status=IncidentStatus.RELEASED)).total == 0


def test_export_walks_every_page_oldest_first(store_database: str) -> None:
    same_time = [make_incident(created_at=T0) for _ in range(3)]
    later = [make_incident(created_at=T0 + n * DAY) for n in range(1, 4)]
    with open_store(store_database) as store:
        store.add_incidents([*later, *same_time])
        walked = [i.id for i in store.iter_incidents(page_size=2)]
    assert walked == sorted(i.id for i in same_time) + [i.id for i in later]


def test_a_decision_keeps_who_when_and_why(store_database: str) -> None:
    incident = make_incident(held=True, action="quarantine")
    at = T0 + _dt.timedelta(hours=2)
    with open_store(store_database) as store:
        store.add_incidents([incident])
        decided = store.change_status(incident.id, IncidentStatus.RELEASED, "officer1",
                                      "  đã xác minh: tài liệu công khai  ", now=at)
        assert decided.status is IncidentStatus.RELEASED
        last = decided.history[-1]
        assert (last.status, last.actor, last.reason, last.at) == (
            IncidentStatus.RELEASED, "officer1", "đã xác minh: tài liệu công khai", at)
        [audit] = store.audit_entries(incident.id)
        assert (audit.actor, audit.action, audit.detail) == (
            "officer1", "released", "đã xác minh: tài liệu công khai")
        with pytest.raises(StoreError, match="already released"):
            store.change_status(incident.id, IncidentStatus.DELETED, "officer2", "oops")
        assert store.get_incident(incident.id).status is IncidentStatus.RELEASED  # type: ignore


@pytest.mark.parametrize(("actor", "reason", "status", "problem"), [
    ("officer1", "   ", IncidentStatus.RELEASED, "reason"),
    ("", "ok", IncidentStatus.RELEASED, "acting user"),
    ("officer1", "ok", IncidentStatus.OPEN, "can be set to"),
])
def test_a_decision_needs_an_actor_a_reason_and_a_final_status(
        tmp_path: Path, actor: str, reason: str, status: IncidentStatus, problem: str) -> None:
    incident = make_incident()
    with open_store(str(tmp_path / "s.db")) as store:
        store.add_incidents([incident])
        with pytest.raises(StoreError, match=problem):
            store.change_status(incident.id, status, actor, reason)
        with pytest.raises(StoreError, match="no incident"):
            store.change_status(new_incident_id(), IncidentStatus.DELETED, "officer1", "x")
        assert store.get_incident(incident.id).status is IncidentStatus.OPEN  # type: ignore


def test_daily_counts_add_up_and_a_replayed_batch_counts_once(store_database: str) -> None:
    day = _dt.date(2026, 12, 1)
    recipients = [DailyRecipientCount(day, "mx1", "official_to_freemail", "secret", False,
                                      "secret-to-freemail", "reject", "enforce", 3)]
    messages = [DailyMessageCount(day, "mx1", "secret", False, "reject", "enforce", 2)]
    with open_store(store_database) as store:
        assert store.add_counts("batch-1", recipients, messages)
        assert store.add_counts("batch-2", recipients, messages)
        assert not store.add_counts("batch-2", recipients, messages)  # replayed from the journal
        [counted] = store.recipient_counts(day, day)
        assert counted.count == 6
        assert [m.count for m in store.message_counts(day, day)] == [4]
        assert store.recipient_counts(day + DAY, day + DAY) == []


def test_daily_counts_keep_each_unit_apart(store_database: str) -> None:
    day = _dt.date(2026, 12, 1)

    def flow(unit: str, count: int) -> DailyRecipientCount:
        return DailyRecipientCount(day, "mx1", "official_to_freemail", "official", False,
                                   "document-to-freemail", "tag", "enforce", count, unit)
    with open_store(store_database) as store:
        store.add_counts("b1", [flow("ke-toan", 2), flow("", 1)],
                         [DailyMessageCount(day, "mx1", "official", False, "tag", "enforce", 2,
                                            "ke-toan")])
        store.add_counts("b2", [flow("ke-toan", 3)], [])
        counted = {c.unit: c.count for c in store.recipient_counts(day, day)}
        assert counted == {"ke-toan": 5, "": 1}
        assert [(m.unit, m.count) for m in store.message_counts(day, day)] == [("ke-toan", 2)]
        incident = make_incident(sender_unit="ke-toan")
        store.add_incidents([incident, make_incident()])
        assert store.get_incident(incident.id).sender_unit == "ke-toan"  # type: ignore[union-attr]


def test_migrating_to_units_keeps_the_counts_and_incidents_of_before(
        store_database: str) -> None:
    from alembic import command
    from sqlalchemy import text

    from govmilter.store.database import _alembic_config

    engine = make_engine(database_url(store_database))
    day = _dt.date(2026, 12, 1)
    try:
        with engine.begin() as connection:
            command.upgrade(_alembic_config(connection), "0004")
        with engine.begin() as connection:
            connection.execute(text(
                "INSERT INTO daily_recipient_counts VALUES (:day, 'mx1', 'official_to_freemail', "
                "'official', :no, 'document-to-freemail', 'tag', 'enforce', 7)"),
                {"day": day, "no": False})
            connection.execute(text(
                "INSERT INTO daily_message_counts VALUES (:day, 'mx1', 'official', :no, 'tag', "
                "'enforce', 4)"), {"day": day, "no": False})
        assert migrate(engine) == ("0004", head_revision())
    finally:
        engine.dispose()
    with open_store(store_database) as store:
        assert [(c.unit, c.count) for c in store.recipient_counts(day, day)] == [("", 7)]
        assert [(c.unit, c.count) for c in store.message_counts(day, day)] == [("", 4)]
        # the rebuilt tables still add a replayed row to its day's count
        store.add_counts("after", [DailyRecipientCount(
            day, "mx1", "official_to_freemail", "official", False, "document-to-freemail",
            "tag", "enforce", 1)], [])
        assert [(c.unit, c.count) for c in store.recipient_counts(day, day)] == [("", 8)]
        store.add_counts("unit", [], [DailyMessageCount(day, "mx1", "official", False, "tag",
                                                        "enforce", 1, "ke-toan")])
        store.add_incidents([make_incident(sender_unit="ke-toan")])
    engine = make_engine(database_url(store_database))
    try:
        with engine.begin() as connection:  # back down: the units of a day add up again
            command.downgrade(_alembic_config(connection), "0004")
            assert connection.execute(text("SELECT count FROM daily_message_counts")
                                      ).scalars().all() == [5]
    finally:
        engine.dispose()


def test_the_unit_filter_finds_a_units_incidents_and_old_rows_as_no_unit(
        store_database: str) -> None:
    from alembic import command

    from govmilter.store.database import _alembic_config
    from govmilter.store.store import IncidentStore

    engine = make_engine(database_url(store_database))
    before = make_incident()  # stored at 0005 with no unit, as every incident before 0005 was
    accounting = [make_incident(sender_unit="ke-toan", created_at=T0 + n * DAY)
                  for n in range(3)]
    try:
        with engine.begin() as connection:
            command.upgrade(_alembic_config(connection), "0005")
        IncidentStore(engine).add_incidents([before, accounting[0]])
        assert migrate(engine) == ("0005", head_revision())
    finally:
        engine.dispose()
    office = make_incident(sender_unit="van-phong", created_at=T0 + 5 * DAY)
    with open_store(store_database) as store:
        store.add_incidents([*accounting[1:], office])

        def ids(**query: Any) -> list[str]:
            return [i.id for i in store.list_incidents(IncidentQuery(**query)).incidents]
        assert ids(unit="ke-toan") == [i.id for i in reversed(accounting)]
        assert ids(unit="van-phong") == [office.id]
        assert ids(unit="") == [before.id]
        assert ids(unit="phap-che") == []
        assert ids(unit="ke-toan", limit=1, before=(accounting[2].created_at,
                                                     accounting[2].id)) == [accounting[1].id]
        assert ids(unit="ke-toan", since=T0 + DAY) == [accounting[2].id, accounting[1].id]
        assert [i.id for i in store.iter_incidents(IncidentQuery(unit="ke-toan"))] == [
            i.id for i in accounting]
        with store.engine.connect() as conn:
            indexes = {i["name"]: i["column_names"] for i in inspect(conn).get_indexes("incidents")}
        assert indexes["ix_incidents_sender_unit"] == ["sender_unit", "created_at"]


def test_purge_deletes_only_what_is_older_than_the_retention(store_database: str) -> None:
    old, recent = make_incident(created_at=T0), make_incident(created_at=T0 + 30 * DAY)
    with open_store(store_database) as store:
        store.add_incidents([old, recent])
        assert store.purge(_dt.timedelta(days=20), "admin", now=T0 + 31 * DAY) == 1
        assert store.get_incident(old.id) is None
        assert store.get_incident(recent.id) is not None
        assert store.audit_entries()[0].action == "purge"
        # nothing of the purged incident is left behind in the other tables
        with store.engine.connect() as conn:
            for table in ("incident_recipients", "incident_attachments", "incident_events"):
                rows = conn.exec_driver_sql(f"SELECT incident_id FROM {table}").all()
                assert {r[0] for r in rows} == {recent.id}, table


def test_a_new_sqlite_store_is_a_wal_file_only_its_group_may_read(tmp_path: Path) -> None:
    path = tmp_path / "state" / "govmilter" / "incidents.sqlite3"
    old_umask = os.umask(0)  # the file's mode must not depend on the caller's umask
    try:
        with open_store(str(path)) as store:
            store.add_incidents([make_incident()])
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_unreachable_database_is_a_clear_error() -> None:
    with pytest.raises(StoreError, match=r"cannot migrate .*127\.0\.0\.1.*refused"):
        open_store("postgresql://postgres@127.0.0.1:1/govmilter")


@pytest.mark.parametrize(("given", "expected"), [
    ("/var/lib/govmilter/i.db", "sqlite:////var/lib/govmilter/i.db"),
    ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ("postgresql://gm:pw@db.example/govmilter", "postgresql+psycopg://gm:pw@db.example/govmilter"),
])
def test_database_settings_become_urls(given: str, expected: str) -> None:
    assert database_url(given) == expected


def test_a_database_the_store_does_not_support_is_refused() -> None:
    with pytest.raises(StoreError, match="unsupported database 'mysql'"):
        database_url("mysql://root@localhost/x")


def test_incident_ids_are_unique_and_recognisable() -> None:
    ids = {new_incident_id(T0) for _ in range(2000)}
    assert len(ids) == 2000
    assert all(i.startswith("20261201-") and looks_like_incident_id(i) for i in ids)
    assert not looks_like_incident_id("4XyZ1234Ab")  # a Postfix queue id
    assert not looks_like_incident_id("20261201-ILOU00000000")  # letters base 32 leaves out
    # every character of the alphabet, each about as often (24,000 drawn: 750 each, ±27)
    drawn = collections.Counter(c for i in ids for c in i.partition("-")[2])
    assert len(drawn) == 32 and all(550 < n < 950 for n in drawn.values()), drawn


def test_processes_starting_together_migrate_one_store_once(store_database: str) -> None:
    """Gateways sharing PostgreSQL, or the daemon and a command on one SQLite file: each its
    own process, all starting at once on an empty store."""
    url = store_database
    code = "import sys; from govmilter.store import open_store; open_store(sys.argv[1]).close()"
    gateways = [subprocess.Popen([sys.executable, "-c", code, url], env=checkout_env(),
                                 stderr=subprocess.PIPE, text=True) for _ in range(4)]
    failures = [g.communicate(timeout=120)[1] for g in gateways if g.wait(120) != 0]
    assert failures == []
    with open_store(url) as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").all() == [
            (head_revision(),)]


def test_the_head_read_from_the_migration_files_is_alembics() -> None:
    assert shipped_head() == head_revision()


def test_the_daemon_migrates_in_a_child_and_never_loads_alembic(store_database: str) -> None:
    """The incident writer opens its store so: a new store is migrated by a child process and
    alembic stays out of the milter process; a current one is opened without it."""
    code = ("import sys; from govmilter.store import open_store; "
            "open_store(sys.argv[1], migrate_in_child=True).close(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))")
    for _ in ("new", "current"):
        opened = subprocess.run([sys.executable, "-c", code, store_database], env=checkout_env(),
                                capture_output=True, text=True, timeout=120)
        assert (opened.returncode, opened.stdout.strip()) == (0, "[]"), opened.stderr
    with open_store(store_database) as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").all() == [
            (head_revision(),)]


def test_a_migration_the_child_cannot_make_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with sqlite3.connect(path) as conn:  # a schema from a newer govmilter than this one
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.execute("INSERT INTO alembic_version VALUES ('9999')")
    with pytest.raises(StoreError, match="9999"):
        open_store(str(path), migrate_in_child=True)


def test_threads_of_one_process_may_open_the_store_at_once(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    errors: list[Exception] = []

    def open_it() -> None:
        try:
            open_store(path).close()
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
