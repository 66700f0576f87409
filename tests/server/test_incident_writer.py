"""The incident writer: queue, thread, journal and replay, against real stores (no MTA)."""

from __future__ import annotations

import datetime as _dt
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from incident_samples import make_incident
from postfix_harness import wait_until
from postgres_harness import PostgresCluster
from samples import FREEMAIL_RCPT, OFFICIAL_RCPT, OFFICIAL_SENDER, SECRET, policy_yaml

from govmilter.policy import decide, parse_policy
from govmilter.policy.verdict import Envelope, Verdict
from govmilter.scan import scan_message
from govmilter.server.incidents import IncidentWriter
from govmilter.server.metrics import Metrics
from govmilter.store import IncidentStore, StoreError, open_store
from govmilter.store.database import describe_database
from govmilter.store.journal import CURRENT, CountBatch, Journal

NOW = _dt.datetime(2026, 12, 5, 3, 0, tzinfo=_dt.UTC)
DAY = _dt.date(2026, 12, 5)


def secret_verdict() -> Verdict:
    policy = parse_policy(policy_yaml())
    return decide(Envelope(OFFICIAL_SENDER, (OFFICIAL_RCPT, FREEMAIL_RCPT)),
                  scan_message(SECRET, policy), policy)


def counted(database: str) -> int:
    with open_store(database) as store:
        return sum(c.count for c in store.message_counts(DAY, DAY))


def stored(database: str) -> int:
    with open_store(database) as store:
        return store.list_incidents().total


def gauge(metrics: Metrics, name: str) -> float:
    return metrics.registry.get_sample_value(name) or 0.0


def test_incidents_and_counts_reach_the_store_within_a_flush(tmp_path: Path) -> None:
    database = str(tmp_path / "s.db")
    metrics = Metrics()
    writer = IncidentWriter(database, tmp_path / "journal", "mx1", metrics,
                            flush_interval=0.1).start()
    try:
        incident = make_incident()
        writer.record(incident)
        for _ in range(3):
            writer.count(secret_verdict(), NOW)
        wait_until(lambda: counted(database) == 3 and stored(database) == 1, 10,
                   "the flush")
    finally:
        writer.stop()
    assert metrics.registry.get_sample_value("govmilter_incidents_total",
                                             {"mode": "enforce"}) == 1
    with open_store(database) as store:
        [recipients_official, recipients_freemail] = store.recipient_counts(DAY, DAY)
    assert (recipients_official.count, recipients_freemail.count) == (3, 3)
    assert recipients_freemail.gateway == "mx1"
    assert not list((tmp_path / "journal").iterdir())  # nothing journaled on the happy path


def test_stop_writes_what_is_queued_and_counted(tmp_path: Path) -> None:
    database = str(tmp_path / "s.db")
    writer = IncidentWriter(database, tmp_path / "journal", "mx1",
                            flush_interval=3600).start()
    writer.record(make_incident())
    writer.count(secret_verdict(), NOW)
    writer.stop()
    assert (stored(database), counted(database)) == (1, 1)


def test_a_store_that_is_down_fills_the_journal_and_the_backlog_is_replayed_in_full(
        tmp_path: Path, postgres_factory: Callable[[], PostgresCluster]) -> None:
    cluster = postgres_factory()
    database = cluster.create_database()
    metrics = Metrics()
    writer = IncidentWriter(database, tmp_path / "journal", "mx1", metrics,
                            flush_interval=0.1, retry_interval=0.2).start()
    try:
        writer.record(make_incident())
        wait_until(lambda: stored(database) == 1, 20, "the first incident")
        cluster.stop()
        for _ in range(20):
            writer.record(make_incident())
            writer.count(secret_verdict(), NOW)
            time.sleep(0.02)
        wait_until(lambda: gauge(metrics, "govmilter_incident_journal_records") >= 20, 20,
                   "the journal backlog")
        assert gauge(metrics, "govmilter_incident_write_failures_total") >= 1
        cluster.start()
        wait_until(lambda: gauge(metrics, "govmilter_incident_journal_records") == 0, 30,
                   "the replay")
        assert (stored(database), counted(database)) == (21, 20)
    finally:
        writer.stop()


def test_a_journal_left_by_a_stopped_daemon_is_replayed_by_the_next(tmp_path: Path) -> None:
    database = str(tmp_path / "s.db")

    def unreachable() -> IncidentStore:
        raise StoreError("down")

    first = IncidentWriter(database, tmp_path / "journal", "mx1", opener=unreachable,
                           flush_interval=0.1).start()
    incidents = [make_incident() for _ in range(5)]
    for incident in incidents:
        first.record(incident)
    first.count(secret_verdict(), NOW)
    first.stop()
    assert stored(database) == 0 and Journal(tmp_path / "journal").pending == 6
    second = IncidentWriter(database, tmp_path / "journal", "mx1", flush_interval=0.1).start()
    try:
        # the incidents and the day's count are written one after the other: wait for both
        wait_until(lambda: stored(database) == 5 and counted(database) == 1, 10,
                   "the replay on start: five incidents and one message counted")
    finally:
        second.stop()
    assert Journal(tmp_path / "journal").pending == 0


def test_a_store_that_hangs_never_blocks_the_milter(tmp_path: Path) -> None:
    """The writer thread is stuck in the database; the queue fills; record() still returns at
    once and what did not fit is journaled, then written when the store answers."""
    database = str(tmp_path / "s.db")
    release = threading.Event()

    def hanging() -> IncidentStore:
        release.wait(30)
        return open_store(database)

    writer = IncidentWriter(database, tmp_path / "journal", "mx1", opener=hanging,
                            queue_size=5, flush_interval=0.05).start()
    try:
        writer.record(make_incident())
        time.sleep(0.2)  # the thread took it and now waits in the "database"
        started = time.monotonic()
        for _ in range(50):
            writer.record(make_incident())
        assert time.monotonic() - started < 2  # 50 hand-overs, none waited for the store
        assert writer.journal.pending >= 45
        release.set()
        wait_until(lambda: stored(database) == 51, 20, "every incident stored")
    finally:
        release.set()
        writer.stop()


def test_a_line_cut_by_a_crash_is_skipped_and_the_rest_replayed(tmp_path: Path) -> None:
    database = str(tmp_path / "s.db")
    journal = Journal(tmp_path / "journal")
    good = make_incident()
    journal.append([good])
    with (tmp_path / "journal" / CURRENT).open("ab") as stream:
        stream.write(b'{"kind": "incident", "id": "2026')  # the write a crash cut short
    writer = IncidentWriter(database, tmp_path / "journal", "mx1", flush_interval=0.1).start()
    try:
        wait_until(lambda: stored(database) == 1, 10, "the readable incident")
        wait_until(lambda: writer.journal.pending == 0, 10, "the journal emptied")
        assert writer.journal.skipped == 1
    finally:
        writer.stop()


def test_a_journal_the_disk_refuses_is_counted_and_mail_goes_on(tmp_path: Path) -> None:
    journal_dir = tmp_path / "journal"
    metrics = Metrics()

    def unreachable() -> IncidentStore:
        raise StoreError("down")

    writer = IncidentWriter(str(tmp_path / "s.db"), journal_dir, "mx1", metrics,
                            opener=unreachable, queue_size=1, flush_interval=3600)
    (journal_dir / CURRENT).mkdir()  # appending fails even for root, like a full disk
    writer.record(make_incident())
    writer.record(make_incident())  # the queue holds one: this one goes to the journal
    assert gauge(metrics, "govmilter_incident_journal_failures_total") == 1


def test_counts_journaled_before_units_existed_replay_as_no_unit(tmp_path: Path) -> None:
    """A journal line of an older govmilter (count rows without the unit) still replays."""
    journal = Journal(tmp_path / "journal")
    old = ('{"kind": "counts", "id": "old-batch", "recipients": [["2026-12-05", "mx1", '
           '"official_to_freemail", "official", false, "document-to-freemail", "tag", '
           '"enforce", 3]], "messages": [["2026-12-05", "mx1", "official", false, "tag", '
           '"enforce", 2]]}\n')
    (tmp_path / "journal" / CURRENT).write_text(old, encoding="utf-8")
    [batch] = [record for segment in journal.seal() for record in journal.read(segment)]
    assert isinstance(batch, CountBatch)
    with open_store(str(tmp_path / "s.db")) as store:
        store.add_counts(batch.id, batch.recipients, batch.messages)
        assert [(c.unit, c.count) for c in store.recipient_counts(DAY, DAY)] == [("", 3)]
        assert [(c.unit, c.count) for c in store.message_counts(DAY, DAY)] == [("", 2)]


@pytest.mark.parametrize("direction", ["sqlite-to-postgresql", "postgresql-to-sqlite"])
def test_a_reload_moves_the_writer_to_another_database_losing_nothing(
        tmp_path: Path, postgres: PostgresCluster, direction: str,
        caplog: pytest.LogCaptureFixture) -> None:
    sqlite, postgresql = str(tmp_path / "s.db"), postgres.create_database()
    old, new = (sqlite, postgresql) if direction == "sqlite-to-postgresql" \
        else (postgresql, sqlite)
    writer = IncidentWriter(old, tmp_path / "journal", "mx1", flush_interval=0.05).start()
    before = [make_incident() for _ in range(3)]
    streamed = [make_incident() for _ in range(150)]
    after = [make_incident() for _ in range(3)]
    try:
        for incident in before:
            writer.record(incident)
        writer.count(secret_verdict(), NOW)
        wait_until(lambda: stored(old) == 3 and counted(old) == 1, 20, "the first writes")

        def stream() -> None:  # the milter goes on recording while the reload comes
            for incident in streamed:
                writer.record(incident)
                writer.count(secret_verdict(), NOW)
                time.sleep(0.002)
        sender = threading.Thread(target=stream)
        with caplog.at_level(logging.INFO, logger="govmilter"):
            sender.start()
            time.sleep(0.1)
            assert writer.switch(new) is True
            wait_until(lambda: writer.database == new, 20, "the switch")
            sender.join()
        assert writer.switch(new) is False  # already there
        for incident in after:
            writer.record(incident)
    finally:
        writer.stop()
    with open_store(old) as a, open_store(new) as b:
        in_old = {i.id for i in a.iter_incidents()}
        in_new = {i.id for i in b.iter_incidents()}
    assert {i.id for i in before} <= in_old and {i.id for i in after} <= in_new
    assert not in_old & in_new  # each incident written once ...
    assert in_old | in_new == {i.id for i in [*before, *streamed, *after]}  # ... and none lost
    assert counted(old) + counted(new) == 1 + len(streamed)
    assert counted(new) > 0 and len(in_new) > len(after)  # the stream went on into the new one
    [said] = [r.getMessage() for r in caplog.records if "changed by a reload" in r.getMessage()]
    assert "0 record(s) the old store did not take" in said
    assert f"{describe_database(old)} -> {describe_database(new)};" in said


def test_a_switch_away_from_a_store_that_is_down_replays_its_backlog_into_the_new_one(
        tmp_path: Path, postgres_factory: Callable[[], PostgresCluster]) -> None:
    cluster = postgres_factory()
    old, new = cluster.create_database(), str(tmp_path / "s.db")
    writer = IncidentWriter(old, tmp_path / "journal", "mx1", flush_interval=0.05,
                            retry_interval=0.2).start()
    try:
        first = make_incident()
        writer.record(first)
        wait_until(lambda: stored(old) == 1, 20, "the first incident")
        cluster.stop()
        waiting = [make_incident() for _ in range(10)]
        for incident in waiting:
            writer.record(incident)
        wait_until(lambda: writer.journal.pending >= 10, 20, "the journal backlog")
        writer.switch(new)
        wait_until(lambda: writer.journal.pending == 0 and stored(new) == 10, 30,
                   "the backlog written to the new store")
        later = make_incident()
        writer.record(later)
        wait_until(lambda: stored(new) == 11, 20, "an incident after the switch")
    finally:
        writer.stop()
    with open_store(new) as store:
        assert {i.id for i in store.iter_incidents()} == {i.id for i in [*waiting, later]}
