"""Incidents end to end: real SMTP into a private Postfix with the daemon, its store on SQLite and
on a real PostgreSQL, and a PostgreSQL stopped in the middle of a load run.

Needs root, Postfix and PostgreSQL (scripts/setup.sh installs them): skipped on a developer
machine without them, failed when CI=true.
"""

from __future__ import annotations

import datetime as _dt
import email
import email.message
import email.policy
import json
import re
import smtplib
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from postfix_harness import (
    Dump,
    MilterOn,
    PrivatePostfix,
    RunningMilter,
    delivered,
    wait_delivered,
    wait_until,
    with_id,
)
from postgres_harness import PostgresCluster
from samples import (
    FREEMAIL_RCPT,
    OFFICIAL,
    OFFICIAL_RCPT,
    OFFICIAL_SENDER,
    PLAIN,
    SECRET,
    policy_yaml,
)
from samples import RULES as SAMPLE_RULES

from govmilter.cli import main
from govmilter.store import Incident, IncidentQuery, IncidentStatus, IncidentStore, open_store
from govmilter.tools.incidents import acting_user

pytestmark = pytest.mark.postfix

INBOUND_SENDER = "ban.doc@yahoo.com"
#: the sample rules, and inbound mail from webmail refused at RCPT (a content-free reject)
RULES = SAMPLE_RULES.replace("rules:\n", """rules:
  - id: inbound-freemail
    when: {sender: freemail, recipient: official}
    action: reject
    reply: {code: 550, enhanced: 5.7.1, en: "No mail from webmail"}
""", 1)



@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, postfix: PrivatePostfix) -> str:
    """The daemon's store: a SQLite file, then a database of the shared PostgreSQL cluster."""
    if request.param == "sqlite":
        return str(postfix.base / f"store-{time.monotonic_ns()}" / "incidents.sqlite3")
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return cluster.create_database()


@pytest.fixture(scope="module")
def milter(milter_on: MilterOn, database: str) -> Iterator[RunningMilter]:
    with milter_on(policy_yaml(rules=RULES), ["--database", database]) as daemon:
        yield daemon


def recipients_delivered(postfix: PrivatePostfix, ident: str) -> list[tuple[str, ...]]:
    """The recipients of each copy of message ``ident`` at the sink."""
    return [d.recipients for d in delivered(postfix, ident)]


def incident_of(database: str, condition: Callable[[Incident], bool],
                timeout: float = 15) -> Incident:
    """Wait for the writer (it flushes every second) to store an incident that matches."""
    found: list[Incident] = []

    def stored() -> bool:
        with open_store(database) as store:
            found[:] = [i for i in store.list_incidents(IncidentQuery(limit=1000)).incidents
                        if condition(i)]
        return bool(found)
    wait_until(stored, timeout, "the incident in the store", interval=0.3)
    assert len(found) == 1, found
    return found[0]


def test_a_secret_document_to_gov_vn_and_gmail_makes_one_incident_naming_the_removed_address(
        postfix: PrivatePostfix, milter: RunningMilter, database: str) -> None:
    ident = f"mixed-{time.monotonic_ns()}"
    assert postfix.send(OFFICIAL_SENDER, [OFFICIAL_RCPT, FREEMAIL_RCPT],
                        with_id(SECRET, ident)) == {}
    wait_until(lambda: delivered(postfix, ident), 30, "the gov.vn copy at the sink")
    assert recipients_delivered(postfix, ident) == [(OFFICIAL_RCPT,)]
    lines: list[str] = []

    def logged() -> bool:
        lines[:] = [line for line in milter.log().splitlines()
                    if "rules=official-to-official,secret-to-freemail" in line
                    and "incident=2" in line]
        return bool(lines)
    wait_until(logged, 10, "the message's log line")
    log_line = lines[-1]
    incident_id = log_line.rsplit("incident=", 1)[1].strip()
    incident = incident_of(database, lambda i: i.id == incident_id)
    assert incident.removed == (FREEMAIL_RCPT,)
    assert [r.address for r in incident.recipients] == [OFFICIAL_RCPT, FREEMAIL_RCPT]
    assert (incident.rule_id, incident.action, incident.mode, incident.stage) == (
        "secret-to-freemail", "reject", "enforce", "eom")
    assert incident.sender == OFFICIAL_SENDER and incident.secrecy == "MẬT"
    assert incident.document_class == "secret" and incident.document_number
    assert incident.queue_id and incident.queue_id in log_line
    assert not incident.held
    # the log line names the incident, never an address or the subject
    assert "@" not in log_line and (incident.subject or "x") not in log_line


def test_a_refusal_at_rcpt_carries_the_incident_id_in_the_reply(
        postfix: PrivatePostfix, milter: RunningMilter, database: str) -> None:
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        postfix.send(INBOUND_SENDER, [OFFICIAL_RCPT], PLAIN)
    code, text = refused.value.recipients[OFFICIAL_RCPT]
    reply = text.decode()
    assert code == 550 and "No mail from webmail" in reply
    match = re.search(r"Ma su co \(incident\): (\d{8}-[0-9A-Z]{12})", reply)
    assert match, reply
    incident = incident_of(database, lambda i: i.id == match.group(1))
    assert (incident.stage, incident.rule_id, incident.sender) == (
        "rcpt", "inbound-freemail", INBOUND_SENDER)
    assert incident.removed == (OFFICIAL_RCPT,) and incident.queue_id is None


def test_compliant_mail_makes_no_incident_but_is_counted_for_the_day(
        postfix: PrivatePostfix, milter: RunningMilter, database: str) -> None:
    day = _dt.datetime.now(_dt.timezone(_dt.timedelta(hours=7))).date()

    def official_messages(store: IncidentStore) -> int:
        return sum(c.count for c in store.recipient_counts(day, day)
                   if c.rule_id == "official-to-official")

    with open_store(database) as store:
        before_incidents = store.list_incidents().total
        before = official_messages(store)
    ident = f"plain-{time.monotonic_ns()}"
    assert postfix.send(OFFICIAL_SENDER, [OFFICIAL_RCPT], with_id(PLAIN, ident)) == {}
    wait_until(lambda: delivered(postfix, ident), 30, "the message at the sink")

    def counted() -> bool:
        with open_store(database) as store:
            return official_messages(store) == before + 1
    wait_until(counted, 15, "the day's count", interval=0.3)
    with open_store(database) as store:
        assert store.list_incidents().total == before_incidents


def test_postgresql_stopped_during_a_load_run_delays_no_mail_and_loses_no_incident(
        postfix: PrivatePostfix, postgres_factory: Callable[[], PostgresCluster],
        milter_on: MilterOn) -> None:
    cluster = postgres_factory()
    database = cluster.create_database()
    messages, incidents_every = 120, 3
    with milter_on(policy_yaml(rules=RULES), ["--database", database]) as daemon:
        sent_at: list[float] = []
        outcome: list[str] = []

        def send_all() -> None:
            for n in range(messages):
                secret = n % incidents_every == 0
                recipients = [OFFICIAL_RCPT, FREEMAIL_RCPT] if secret else [OFFICIAL_RCPT]
                start = time.monotonic()
                refused = postfix.send(OFFICIAL_SENDER, recipients,
                                       with_id(SECRET if secret else PLAIN, f"load-{n}"))
                sent_at.append(time.monotonic() - start)
                outcome.append("ok" if refused == {} else repr(refused))
                time.sleep(0.05)

        sender = threading.Thread(target=send_all)
        sender.start()
        wait_until(lambda: len(sent_at) >= messages // 4, 120, "the first quarter sent")
        cluster.stop()
        wait_until(lambda: daemon.metric("govmilter_incident_journal_records") > 0, 60,
                   "incidents journaled while PostgreSQL is down")
        wait_until(lambda: len(sent_at) >= 3 * messages // 4, 180, "three quarters sent")
        cluster.start()
        sender.join(300)
        assert outcome == ["ok"] * messages
        # no message waited for the database: each SMTP transaction stays quick throughout
        assert max(sent_at) < 10, max(sent_at)
        wait_until(lambda: daemon.metric("govmilter_incident_journal_records") == 0, 60,
                   "the journal replayed")
        assert daemon.metric("govmilter_incident_write_failures_total") >= 1
        day = _dt.datetime.now(_dt.timezone(_dt.timedelta(hours=7))).date()
        expected_incidents = len(range(0, messages, incidents_every))

        def all_stored() -> bool:
            with open_store(database) as store:
                return store.list_incidents().total == expected_incidents
        wait_until(all_stored, 30, "every incident in PostgreSQL", interval=0.5)

        def counted() -> int:
            with open_store(database) as store:
                return sum(c.count for c in store.message_counts(
                    day - _dt.timedelta(days=1), day + _dt.timedelta(days=1)))
        # the day's counts equal what was sent: nothing lost (the last second's counts are
        # flushed within a second) and, a flush later, nothing counted twice
        wait_until(lambda: counted() >= messages, 15, "the last counts", interval=0.5)
        time.sleep(2)
        assert counted() == messages
        with open_store(database) as store:
            incidents = list(store.iter_incidents())
        assert len({i.queue_id for i in incidents}) == expected_incidents
        assert all(i.removed == (FREEMAIL_RCPT,) for i in incidents)


def test_a_reload_moves_the_store_to_the_policys_new_database_during_a_load_run(
        postfix: PrivatePostfix, postgres: PostgresCluster, milter_on: MilterOn) -> None:
    sqlite = str(postfix.base / f"store-{time.monotonic_ns()}" / "incidents.sqlite3")
    postgresql = postgres.create_database()
    policy = postfix.base / f"moving-{time.monotonic_ns()}.yaml"

    def policy_on(database: str) -> str:
        return policy_yaml(rules=RULES) + f"incidents:\n  database: '{database}'\n"
    policy.write_text(policy_on(sqlite), encoding="utf-8")
    messages, incidents_every = 60, 2
    with milter_on(policy, ["--watch-interval", "0"]) as daemon:
        outcome: list[str] = []

        def send_all() -> None:
            for n in range(messages):
                secret = n % incidents_every == 0
                recipients = [OFFICIAL_RCPT, FREEMAIL_RCPT] if secret else [OFFICIAL_RCPT]
                refused = postfix.send(OFFICIAL_SENDER, recipients,
                                       with_id(SECRET if secret else PLAIN, f"moving-{n}"))
                outcome.append("ok" if refused == {} else repr(refused))
                time.sleep(0.03)

        sender = threading.Thread(target=send_all)
        sender.start()
        wait_until(lambda: len(outcome) >= messages // 3, 120, "the first third sent")
        policy.write_text(policy_on(postgresql), encoding="utf-8")
        daemon.reload()
        wait_until(lambda: "incident store changed by a reload" in daemon.log(), 30,
                   "the writer's switch")
        sender.join(300)
        assert outcome == ["ok"] * messages
        # a database the store cannot use is refused like any invalid file: the store stays
        policy.write_text(policy_on("mysql://root@db.example/gm"), encoding="utf-8")
        daemon.reload()
        wait_until(lambda: "policy reload refused" in daemon.log(), 30, "the refusal")
        assert postfix.send(OFFICIAL_SENDER, [OFFICIAL_RCPT, FREEMAIL_RCPT],
                            with_id(SECRET, "after-refusal")) == {}
        expected = len(range(0, messages, incidents_every)) + 1

        def stored() -> tuple[set[str | None], set[str | None]]:
            with open_store(sqlite) as old, open_store(postgresql) as new:
                return ({i.queue_id for i in old.iter_incidents()},
                        {i.queue_id for i in new.iter_incidents()})
        wait_until(lambda: sum(map(len, stored())) >= expected, 30, "every incident stored",
                   interval=0.5)
        in_old, in_new = stored()
        log = daemon.log()
    assert len(in_old) + len(in_new) == expected and not in_old & in_new
    assert len(in_old) >= messages // 3 // incidents_every and len(in_new) >= 2
    day = _dt.datetime.now(_dt.timezone(_dt.timedelta(hours=7))).date()

    def counted(database: str) -> int:
        with open_store(database) as store:
            return sum(c.count for c in store.message_counts(day - _dt.timedelta(days=1),
                                                            day + _dt.timedelta(days=1)))
    assert counted(sqlite) + counted(postgresql) == messages + 1  # stopped: all flushed
    assert "incidents.database changed by the reload" in log
    assert "incidents.database: unsupported database 'mysql'" in log
    assert "@" not in "".join(line for line in log.splitlines() if " qid=" in line)


def test_one_daemons_notice_limit_holds_across_its_smtp_connections(
        postfix: PrivatePostfix, milter_on: MilterOn) -> None:
    """The per-sender hourly limit lives in the daemon (its milter connections are threads of
    one process; the scan workers send no notices): three refused secrets, each on an SMTP
    connection of its own, give the sender two notices and one counted as limited."""
    database = str(postfix.base / f"store-{time.monotonic_ns()}" / "incidents.sqlite3")
    policy = policy_yaml(rules=RULES).replace("\nrules:\n", (
        "\nnotices: {enabled: true, sender: postmaster@mic.gov.vn, per_sender_per_hour: 2, "
        f"smtp: '127.0.0.1:{postfix.smtp_port}'}}\nrules:\n"), 1)
    sent = [f"limit-{n}-{time.monotonic_ns()}" for n in range(3)]
    with milter_on(policy, ["--database", database, "--scan-workers", "2"]) as daemon:
        for ident in sent:
            assert postfix.send(OFFICIAL_SENDER, [OFFICIAL_RCPT, FREEMAIL_RCPT],
                                with_id(SECRET, ident)) == {}
        wait_until(lambda: daemon.metric("govmilter_notices_total", outcome="limited") == 1
                   and daemon.metric("govmilter_notices_total", outcome="sent") == 2, 30,
                   "two notices sent and one limited")
        with open_store(database) as store:
            wait_until(lambda: store.list_incidents().total == 3, 30, "the three incidents")
            ids = {i.id for i in store.list_incidents().incidents}
        wait_until(lambda: len([d for d in postfix.dumps()
                                if d.headers.get("X-GovMilter-Notice") in ids]) == 2, 30,
                   "the two notices at the sink")


def quarantine(capsys: pytest.CaptureFixture[str], postfix: PrivatePostfix, database: str,
               *argv: str) -> tuple[int, str, str]:
    """``govmilter quarantine ...`` on the private Postfix and the daemon's store."""
    code = main(["quarantine", *argv, "--postfix-config", str(postfix.conf),
                 "--database", database])
    out, err = capsys.readouterr()
    return code, out, err


def hold_one(postfix: PrivatePostfix, database: str, ident: str) -> Incident:
    """Send an official (not secret) document to Gmail: the sample policy holds it."""
    before = set(postfix.hold_queue())
    assert postfix.send(OFFICIAL_SENDER, [FREEMAIL_RCPT], with_id(OFFICIAL, ident)) == {}
    wait_until(lambda: len(set(postfix.hold_queue()) - before) == 1, 20, "the held message")
    [queue_id] = set(postfix.hold_queue()) - before
    return incident_of(database, lambda i: i.queue_id == queue_id)


def test_a_held_message_is_listed_released_with_a_reason_and_delivered(
        capsys: pytest.CaptureFixture[str], postfix: PrivatePostfix, milter: RunningMilter,
        database: str) -> None:
    ident = f"held-{time.monotonic_ns()}"
    incident = hold_one(postfix, database, ident)
    assert incident.held and incident.hold_reason == "official document to free webmail"

    code, out, _ = quarantine(capsys, postfix, database, "list", "--json")
    assert code == 0
    [listed] = [h for h in json.loads(out)["held"] if h["incident"] == incident.id]
    assert (listed["queue_id"], listed["rule"], listed["reason"], listed["status"]) == (
        incident.queue_id, "document-to-freemail", "official document to free webmail", "open")
    assert listed["sender"] == OFFICIAL_SENDER and FREEMAIL_RCPT in listed["recipients"]

    code, out, _ = quarantine(capsys, postfix, database, "show", incident.id)
    assert code == 0
    assert (f"X-GovMilter-Hold: rule=document-to-freemail; incident={incident.id}" in out)
    assert "588/BTTTT-THH" in out  # the text govmilter extracted

    code, _, err = quarantine(capsys, postfix, database, "release", incident.id,
                              "--reason", "   ")
    assert code == 2 and "reason is required" in err
    assert incident.queue_id in postfix.hold_queue()  # nothing done without a reason

    reason = "Đã xác minh: văn bản được phép gửi (verified with the sender)"
    code, out, _ = quarantine(capsys, postfix, database, "release", incident.queue_id or "",
                              "--reason", reason)
    assert code == 0 and f"released: {incident.queue_id}" in out
    wait_until(lambda: delivered(postfix, ident), 60, "the released message at the sink")
    [dump] = [d for d in postfix.dumps() if d.headers["Message-ID"] == f"<{ident}@test>"]
    assert FREEMAIL_RCPT in dump.recipients
    assert dump.headers["X-GovMilter-Hold"] == \
        f"rule=document-to-freemail; incident={incident.id}"
    with open_store(database) as store:
        released = store.get_incident(incident.id)
    assert released is not None and released.status is IncidentStatus.RELEASED
    last = released.history[-1]
    assert (last.actor, last.reason) == (acting_user(), reason)

    code, _, err = quarantine(capsys, postfix, database, "release", incident.id,
                              "--reason", "again")
    assert code == 1 and "already released" in err


def test_a_held_message_deleted_with_a_reason_is_never_delivered(
        capsys: pytest.CaptureFixture[str], postfix: PrivatePostfix, milter: RunningMilter,
        database: str) -> None:
    ident = f"deleted-{time.monotonic_ns()}"
    incident = hold_one(postfix, database, ident)
    code, out, _ = quarantine(capsys, postfix, database, "delete", incident.id, "--reason",
                              "gửi nhầm ra ngoài", "--json")
    assert code == 0 and json.loads(out)["status"] == "deleted"
    assert incident.queue_id not in postfix.hold_queue()
    time.sleep(1)
    assert not delivered(postfix, ident)
    with open_store(database) as store:
        deleted = store.get_incident(incident.id)
    assert deleted is not None and deleted.status is IncidentStatus.DELETED
    assert deleted.history[-1].reason == "gửi nhầm ra ngoài"


def test_a_hold_header_that_arrives_with_the_message_is_removed(
        postfix: PrivatePostfix, milter: RunningMilter) -> None:
    ident = f"forged-{time.monotonic_ns()}"
    forged = PLAIN.replace(b"Subject:", b"X-GovMilter-Hold: rule=x; incident=20260101-"
                           b"ABCDEFGHJKMN\nSubject:", 1)
    assert postfix.send(OFFICIAL_SENDER, [OFFICIAL_RCPT], with_id(forged, ident)) == {}
    dump = wait_delivered(postfix, ident)
    assert "X-GovMilter-Hold" not in dump.headers


def test_a_secret_document_to_gov_vn_and_gmail_sends_the_sender_a_vietnamese_notice(
        postfix: PrivatePostfix, milter: RunningMilter, database: str,
        milter_on: MilterOn) -> None:
    """The sample rules with notices on, through the private Postfix itself (SMTP on loopback):
    one incident naming the removed Gmail address, the gov.vn copy delivered, and a notice in
    Vietnamese (English below) delivered to the sender; none to an outside sender."""
    policy = policy_yaml(rules=RULES).replace("\nrules:\n", (
        "\nnotices: {enabled: true, sender: postmaster@mic.gov.vn, "
        f"smtp: '127.0.0.1:{postfix.smtp_port}'}}\nrules:\n"), 1)
    with milter_on(policy, ["--database", database]) as daemon:
        ident = f"notice-{time.monotonic_ns()}"
        assert postfix.send(OFFICIAL_SENDER, [OFFICIAL_RCPT, FREEMAIL_RCPT],
                            with_id(SECRET, ident)) == {}
        wait_until(lambda: delivered(postfix, ident), 30, "the gov.vn copy")
        assert recipients_delivered(postfix, ident) == [(OFFICIAL_RCPT,)]
        incident = incident_of(database, lambda i: i.sender == OFFICIAL_SENDER
                               and i.created_at > _dt.datetime.now(_dt.UTC)
                               - _dt.timedelta(seconds=60) and i.queue_id is not None
                               and i.queue_id in daemon.log())
        assert incident.removed == (FREEMAIL_RCPT,)

        def notices() -> list[Dump]:
            return [d for d in postfix.dumps()
                    if d.headers.get("X-GovMilter-Notice") == incident.id]
        wait_until(notices, 30, "the notice at the sink")
        [notice] = notices()
        assert notice.recipients == (OFFICIAL_SENDER,)
        assert notice.headers["Auto-Submitted"] == "auto-generated"
        message = email.message_from_bytes(notice.raw, policy=email.policy.default)
        assert isinstance(message, email.message.EmailMessage)
        body = message.get_content()
        vietnamese, english = body.split("-- English --")
        assert f"Người nhận bị ảnh hưởng: {FREEMAIL_RCPT}" in vietnamese
        assert "thư KHÔNG được gửi tới những người nhận này" in vietnamese
        assert incident.id in vietnamese and "secret-to-freemail" in vietnamese
        assert f"Recipients affected: {FREEMAIL_RCPT}" in english
        assert "Thư của bạn" in str(message["Subject"])

        # an outside sender refused at RCPT gets no notice (no backscatter)
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            postfix.send(INBOUND_SENDER, [OFFICIAL_RCPT], PLAIN)
        time.sleep(3)
        assert not [d for d in postfix.dumps() if INBOUND_SENDER in d.recipients]
        assert daemon.metric("govmilter_notices_total", outcome="sent") == 1
