"""The store's one query API: write incidents and counts, list, get, export, change status, purge.

Every method is one transaction. The milter's writer thread calls :meth:`add_incidents` and
:meth:`add_counts`; the commands (and later a web console) the rest. A status change is only
recorded here: moving the held message itself is the quarantine module's work, which calls
:meth:`change_status` once Postfix has done it.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Insert,
    Table,
    and_,
    delete,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from govmilter.policy.units import NO_UNIT
from govmilter.store import schema
from govmilter.store.database import (
    StoreError,
    database_url,
    describe,
    is_current,
    make_engine,
    migrate,
    migrate_apart,
    short_error,
)
from govmilter.store.records import (
    AttachmentRecord,
    AuditEntry,
    DailyMessageCount,
    DailyRecipientCount,
    Incident,
    IncidentPage,
    IncidentQuery,
    IncidentStatus,
    RecipientRecord,
    StatusChange,
    looks_like_incident_id,
)

#: The actor of the history entries the milter itself writes.
MILTER_ACTOR = "govmilter"
#: The shortest search a trigram index serves.
TRIGRAM = 3
#: Past this many matches a SQLite search scans rows instead of fetching them from its index.
FEW_MATCHES = 2000
#: The most incidents one page may hold.
MAX_PAGE = 1000
#: Status changes an officer may make, from open only: a decided incident stays decided.
_FINAL = (IncidentStatus.RELEASED, IncidentStatus.DELETED, IncidentStatus.EXPIRED)


def _utcnow() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


class IncidentStore:
    """Incidents, daily counts and the audit log in one database (see :func:`open_store`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._dialect = engine.dialect.name

    def __enter__(self) -> IncidentStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the database connections."""
        self.engine.dispose()

    @property
    def where(self) -> str:
        """The database, password hidden, for messages."""
        return describe(str(self.engine.url))

    # ---- writing (the milter's writer thread) ---------------------------------------------
    def add_incidents(self, incidents: Sequence[Incident]) -> int:
        """Insert incidents not yet stored (an id already there is skipped); returns how many
        were new. Idempotent, so a journal replayed after a crash adds nothing twice."""
        if not incidents:
            return 0
        with self._begin() as conn:
            ids = [i.id for i in incidents]
            present = set(conn.scalars(select(schema.incidents.c.id)
                                       .where(schema.incidents.c.id.in_(ids))))
            new = list({i.id: i for i in incidents if i.id not in present}.values())
            if not new:
                return 0
            conn.execute(schema.incidents.insert(), [_incident_row(i) for i in new])
            recipients = [_recipient_row(i.id, n, r) for i in new
                          for n, r in enumerate(i.recipients)]
            if recipients:
                conn.execute(schema.incident_recipients.insert(), recipients)
            attachments = [_attachment_row(i.id, n, a) for i in new
                           for n, a in enumerate(i.attachments)]
            if attachments:
                conn.execute(schema.incident_attachments.insert(), attachments)
            conn.execute(schema.incident_events.insert(), [
                {"incident_id": i.id, "at": i.created_at, "status": IncidentStatus.OPEN.value,
                 "actor": MILTER_ACTOR, "reason": _opening_reason(i)} for i in new])
            if self._dialect == "sqlite":
                conn.execute(schema.incident_text.insert(), [
                    {"id": i.id, "subject": i.subject, "sender_lower": i.sender.lower(),
                     "document_number": i.document_number, "search_id": i.id} for i in new])
            return len(new)

    def add_counts(self, batch_id: str, recipients: Sequence[DailyRecipientCount],
                   messages: Sequence[DailyMessageCount]) -> bool:
        """Add one batch of daily counts; False when this batch was already added (replayed)."""
        with self._begin() as conn:
            if conn.scalar(select(schema.count_batches.c.id)
                           .where(schema.count_batches.c.id == batch_id)) is not None:
                return False
            conn.execute(schema.count_batches.insert(),
                         {"id": batch_id, "applied_at": _utcnow()})
            self._add_up(conn, schema.daily_recipient_counts, schema.RECIPIENT_COUNT_KEY,
                         [_count_row(c) for c in recipients])
            self._add_up(conn, schema.daily_message_counts, schema.MESSAGE_COUNT_KEY,
                         [_count_row(c) for c in messages])
            return True

    def _add_up(self, conn: Connection, table: Table, key: tuple[str, ...],
                rows: list[dict[str, Any]]) -> None:
        """Insert count rows, adding to the count of a row already there."""
        if not rows:
            return
        insert: Any = (postgresql.insert(table) if self._dialect == "postgresql"
                       else sqlite.insert(table))
        statement: Insert = insert.on_conflict_do_update(
            index_elements=list(key), set_={"count": table.c.count + insert.excluded.count})
        conn.execute(statement, rows)

    # ---- reading ----------------------------------------------------------------------------
    def list_incidents(self, query: IncidentQuery | None = None) -> IncidentPage:
        """One page of the incidents matching ``query``, newest first, and the total."""
        query = query or IncidentQuery()
        limit = max(0, min(query.limit, MAX_PAGE))
        t = schema.incidents
        with self._connect() as conn:
            condition = _conditions(query, self._dialect, conn)
            counted = select(t.c.id).where(condition)
            if query.count_limit is not None:
                # stop counting past the limit: a filter that matches most of a large store
                # costs a bounded read, not a whole scan
                counted = counted.limit(query.count_limit + 1)
            total = conn.scalar(select(func.count()).select_from(counted.subquery())) or 0
            page = select(t).where(condition)
            if query.before is not None:
                at, key = query.before
                # a row-value comparison: both databases walk ix_incidents_created_id from it
                page = page.where(tuple_(t.c.created_at, t.c.id) < tuple_(
                    literal(at, schema.UtcDateTime()), literal(key, t.c.id.type)))
            rows = conn.execute(page.order_by(t.c.created_at.desc(), t.c.id.desc())
                                .limit(limit).offset(max(0, query.offset))).mappings().all()
            return IncidentPage(self._complete(conn, rows), total, query)

    def iter_incidents(self, query: IncidentQuery | None = None,
                       page_size: int = 500) -> Iterator[Incident]:
        """Every incident matching ``query`` (its paging ignored), oldest first, page by page:
        for exports of any size."""
        query = query or IncidentQuery()
        with self._connect() as conn:
            condition = _conditions(query, self._dialect, conn)
        t = schema.incidents
        after: tuple[_dt.datetime, str] | None = None
        while True:
            page = select(t).where(condition)
            if after is not None:
                page = page.where(or_(t.c.created_at > after[0],
                                      and_(t.c.created_at == after[0], t.c.id > after[1])))
            with self._connect() as conn:
                rows = conn.execute(page.order_by(t.c.created_at, t.c.id).limit(page_size)
                                    ).mappings().all()
                found = self._complete(conn, rows)
            yield from found
            if len(found) < page_size:
                return
            after = (found[-1].created_at, found[-1].id)

    def get_incident(self, key: str) -> Incident | None:
        """The incident with this id, or the latest one of this Postfix queue id."""
        t = schema.incidents
        by = t.c.id == key if looks_like_incident_id(key) else t.c.queue_id == key
        with self._connect() as conn:
            rows = conn.execute(select(t).where(by).order_by(t.c.created_at.desc()).limit(1)
                                ).mappings().all()
            found = self._complete(conn, rows)
        return found[0] if found else None

    def recipient_counts(self, first: _dt.date, last: _dt.date) -> list[DailyRecipientCount]:
        """The daily recipient counts from ``first`` to ``last`` (Vietnam days, inclusive)."""
        t = schema.daily_recipient_counts
        with self._connect() as conn:
            rows = conn.execute(select(t).where(t.c.day.between(first, last))
                                .order_by(*[t.c[k] for k in schema.RECIPIENT_COUNT_KEY])
                                ).mappings().all()
        return [DailyRecipientCount(**dict(row)) for row in rows]

    def message_counts(self, first: _dt.date, last: _dt.date) -> list[DailyMessageCount]:
        """The daily message counts from ``first`` to ``last`` (Vietnam days, inclusive)."""
        t = schema.daily_message_counts
        with self._connect() as conn:
            rows = conn.execute(select(t).where(t.c.day.between(first, last))
                                .order_by(*[t.c[k] for k in schema.MESSAGE_COUNT_KEY])
                                ).mappings().all()
        return [DailyMessageCount(**dict(row)) for row in rows]

    def audit_entries(self, incident_id: str | None = None, limit: int = 100
                      ) -> list[AuditEntry]:
        """The latest audit entries, newest first (only this incident's when given)."""
        t = schema.audit_log
        statement = select(t).order_by(t.c.at.desc(), t.c.id.desc()).limit(limit)
        if incident_id is not None:
            statement = statement.where(t.c.incident_id == incident_id)
        with self._connect() as conn:
            rows = conn.execute(statement).mappings().all()
        return [AuditEntry(r["at"], r["actor"], r["action"], r["incident_id"], r["detail"])
                for r in rows]

    # ---- changing (officers, through the commands or a console) -----------------------------
    def change_status(self, incident_id: str, status: IncidentStatus, actor: str,
                      reason: str, *, now: _dt.datetime | None = None) -> Incident:
        """Record a decision on an open incident: who, when, why; audited.

        :raises StoreError: when the incident does not exist, is already decided, or the reason
            or actor is empty.
        """
        if status not in _FINAL:
            raise StoreError(f"an incident can be set to {', '.join(_FINAL)} only")
        if not reason.strip() or not actor.strip():
            raise StoreError("a status change needs the acting user and a reason")
        at = now or _utcnow()
        t = schema.incidents
        with self._begin() as conn:
            current = conn.scalar(select(t.c.status).where(t.c.id == incident_id))
            if current is None:
                raise StoreError(f"no incident {incident_id}")
            if current != IncidentStatus.OPEN:
                raise StoreError(f"incident {incident_id} is already {current}")
            conn.execute(update(t).where(t.c.id == incident_id)
                         .values(status=status.value, status_changed_at=at))
            conn.execute(schema.incident_events.insert(), {
                "incident_id": incident_id, "at": at, "status": status.value, "actor": actor,
                "reason": reason.strip()})
            _audit(conn, at, actor, status.value, incident_id, reason.strip())
        found = self.get_incident(incident_id)
        assert found is not None
        return found

    def audit(self, actor: str, action: str, incident_id: str | None = None,
              detail: str = "") -> None:
        """Record that ``actor`` did ``action`` (read an incident, exported, purged...)."""
        with self._begin() as conn:
            _audit(conn, _utcnow(), actor, action, incident_id, detail)

    def purge(self, older_than: _dt.timedelta, actor: str,
              now: _dt.datetime | None = None) -> int:
        """Delete the incidents (with recipients, attachments, history) created more than
        ``older_than`` ago; returns how many. Daily counts hold no addresses and are kept."""
        at = now or _utcnow()
        cutoff = at - older_than
        t = schema.incidents
        with self._begin() as conn:
            old = select(t.c.id).where(t.c.created_at < cutoff)
            if self._dialect == "sqlite":
                conn.execute(delete(schema.incident_text)
                             .where(schema.incident_text.c.id.in_(old)))
            for child in (schema.incident_recipients, schema.incident_attachments,
                          schema.incident_events):
                # explicit: SQLite enforces ON DELETE CASCADE only with foreign_keys on
                conn.execute(delete(child).where(child.c.incident_id.in_(old)))
            removed = conn.execute(delete(t).where(t.c.created_at < cutoff)).rowcount or 0
            conn.execute(delete(schema.count_batches)
                         .where(schema.count_batches.c.applied_at < cutoff))
            _audit(conn, at, actor, "purge", None,
                   f"{removed} incidents created before {cutoff.isoformat(timespec='seconds')}")
        return removed

    # ---- helpers ----------------------------------------------------------------------------
    def _connect(self) -> contextlib.AbstractContextManager[Connection]:
        return self._guarded(self.engine.connect)

    def _begin(self) -> contextlib.AbstractContextManager[Connection]:
        return self._guarded(self.engine.begin)

    @contextlib.contextmanager
    def _guarded(self, opener: Callable[[], contextlib.AbstractContextManager[Connection]]
                 ) -> Iterator[Connection]:
        """A connection (or transaction) whose database errors become :class:`StoreError`."""
        try:
            with opener() as connection:
                yield connection
        except SQLAlchemyError as exc:
            raise StoreError(f"incident store {self.where}: {short_error(exc)}") from exc

    def _complete(self, conn: Connection, rows: Sequence[Any]) -> tuple[Incident, ...]:
        """Incidents from their rows, with recipients, attachments and history."""
        ids = [row["id"] for row in rows]
        if not ids:
            return ()
        recipients: dict[str, list[RecipientRecord]] = {i: [] for i in ids}
        r = schema.incident_recipients
        for row in conn.execute(select(r).where(r.c.incident_id.in_(ids))
                                .order_by(r.c.incident_id, r.c.position)).mappings():
            recipients[row["incident_id"]].append(RecipientRecord(
                row["address"], row["domain_class"], row["rule_id"], row["action"],
                row["compliant"], row["removed"]))
        attachments: dict[str, list[AttachmentRecord]] = {i: [] for i in ids}
        a = schema.incident_attachments
        for row in conn.execute(select(a).where(a.c.incident_id.in_(ids))
                                .order_by(a.c.incident_id, a.c.position)).mappings():
            attachments[row["incident_id"]].append(
                AttachmentRecord(row["name"], row["sha256"], row["size"]))
        history: dict[str, list[StatusChange]] = {i: [] for i in ids}
        e = schema.incident_events
        for row in conn.execute(select(e).where(e.c.incident_id.in_(ids))
                                .order_by(e.c.incident_id, e.c.at, e.c.id)).mappings():
            history[row["incident_id"]].append(StatusChange(
                row["at"], IncidentStatus(row["status"]), row["actor"], row["reason"]))
        return tuple(_incident(row, recipients[row["id"]], attachments[row["id"]],
                               history[row["id"]]) for row in rows)


def open_store(database: str | None = None, *, create: bool = True,
               migrate_in_child: bool = False) -> IncidentStore:
    """Open the store at ``database`` (path or URL; None: the default file), migrated to the
    current schema when ``create`` (else it must already be current).

    ``migrate_in_child``: a schema that is not current is migrated by a child process
    (:func:`~govmilter.store.database.migrate_apart`), for the daemon.

    :raises StoreError: when it cannot be opened or migrated.
    """
    url = database_url(database)
    engine = make_engine(url)
    if create:
        try:
            if not migrate_in_child:
                migrate(engine)
            elif not is_current(engine):
                migrate_apart(url)
                # connections opened before the child changed the file are not used again
                # (SQLite: one opened on the empty file fails on the migrated one)
                engine.dispose()
        except StoreError:
            engine.dispose()
            raise
    return IncidentStore(engine)


def _conditions(query: IncidentQuery, dialect: str, conn: Connection) -> Any:
    t = schema.incidents
    parts: list[Any] = []
    if query.since is not None:
        parts.append(t.c.created_at >= query.since)
    if query.until is not None:
        parts.append(t.c.created_at < query.until)
    if query.status is not None:
        parts.append(t.c.status == query.status.value)
    if query.held is not None:
        parts.append(t.c.held == query.held)
    if query.queue_id is not None:
        parts.append(t.c.queue_id == query.queue_id)
    if query.sender is not None:
        parts.append(t.c.sender_lower == query.sender.strip().lower())
    if query.action is not None:
        parts.append(t.c.action == query.action)
    if query.secrecy is not None:
        parts.append(t.c.secrecy == query.secrecy)
    if query.document_number is not None:
        # numbers are written in capitals ("588/BTTTT-THH"): as typed or in capitals, so that
        # the index serves it
        typed = query.document_number.strip()
        parts.append(t.c.document_number.in_(sorted({typed, typed.upper()})))
    if query.unit is not None:
        parts.append(t.c.sender_unit == query.unit if query.unit != NO_UNIT
                     else or_(t.c.sender_unit.is_(None), t.c.sender_unit == NO_UNIT))
    if query.text:
        parts.append(_text_search(query.text.strip(), dialect, conn))
    if query.rule_id is not None:
        # per row, through the recipients' primary key: a page walking the time index stops
        # after its rows (a union of both rule indexes made every page sort the whole set)
        r = schema.incident_recipients
        parts.append(or_(t.c.rule_id == query.rule_id,
                         exists().where(and_(r.c.incident_id == t.c.id,
                                             r.c.rule_id == query.rule_id))))
    return and_(True, *parts)


def _text_search(text: str, dialect: str, conn: Connection) -> Any:
    """A piece of text in the subject, sender, document number or id, case-insensitive.

    PostgreSQL: ILIKE, which pg_trgm's indexes serve from three characters on. SQLite: a text
    of three characters or more that few incidents hold is looked up in the FTS5 trigram table
    (Unicode case folded) and those ids probed while the list walks its time index; a common
    one (more than :data:`FEW_MATCHES`) is matched by LIKE row by row instead, since the page
    then stops after its first rows and the count at its limit, where fetching every match
    from the index cost seconds. SQLite's LIKE ignores the case of ASCII letters only, so it is
    also tried in small and in capital letters.
    """
    t = schema.incidents
    columns = (t.c.subject, t.c.sender_lower, t.c.document_number, t.c.id)
    if dialect == "postgresql":
        pattern = "%" + _escape_like(text) + "%"
        return or_(*(column.ilike(pattern, escape="\\") for column in columns))
    if len(text) >= TRIGRAM:
        f = schema.incident_text
        phrase = '"' + text.replace('"', '""') + '"'
        matching = select(f.c.id).where(literal_column(f.name).op("MATCH")(literal(phrase)))
        found = conn.scalar(select(func.count()).select_from(
            matching.limit(FEW_MATCHES + 1).subquery())) or 0
        if found <= FEW_MATCHES:
            # "+id": walk the time index and probe the few ids, not fetch and sort them
            return literal_column(f"+{t.name}.id").in_(matching)
    forms = sorted({text, text.lower(), text.upper()})
    return or_(*(column.like("%" + _escape_like(form) + "%", escape="\\")
                 for form in forms for column in columns))


def _escape_like(text: str) -> str:
    """``text`` matched literally by LIKE: its own %, _ and the escape character escaped."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _opening_reason(incident: Incident) -> str:
    """The first history entry's reason: what the milter did (no addresses)."""
    done = "held" if incident.held else incident.action
    mode = " (monitor mode: not carried out)" if incident.mode == "monitor" else ""
    return f"rule {incident.rule_id}: {done}{mode}"


def _incident_row(i: Incident) -> dict[str, Any]:
    return {
        "id": i.id, "created_at": i.created_at, "gateway": i.gateway, "queue_id": i.queue_id,
        "rule_id": i.rule_id, "action": i.action, "mode": i.mode, "stage": i.stage,
        "sender": i.sender, "sender_lower": i.sender.lower(), "sender_class": i.sender_class,
        "authenticated": i.authenticated, "subject": i.subject,
        "document_class": i.document_class, "document_kind": i.document_kind,
        "document_number": i.document_number, "issuer": i.issuer, "secrecy": i.secrecy,
        "urgency": i.urgency, "score": i.score, "evidence": json.dumps(list(i.evidence),
                                                                       ensure_ascii=False),
        "held": i.held, "status": i.status.value, "status_changed_at": i.created_at,
        "policy_sha256": i.policy_sha256, "hold_reason": i.hold_reason,
        "sender_unit": i.sender_unit,
    }


def _recipient_row(incident_id: str, position: int, r: RecipientRecord) -> dict[str, Any]:
    return {"incident_id": incident_id, "position": position, "address": r.address,
            "domain_class": r.domain_class, "rule_id": r.rule_id, "action": r.action,
            "compliant": r.compliant, "removed": r.removed}


def _attachment_row(incident_id: str, position: int, a: AttachmentRecord) -> dict[str, Any]:
    return {"incident_id": incident_id, "position": position, "name": a.name,
            "sha256": a.sha256, "size": a.size}


def _count_row(count: DailyRecipientCount | DailyMessageCount) -> dict[str, Any]:
    return {name: getattr(count, name) for name in count.__slots__}  # type: ignore[union-attr]


def _incident(row: Any, recipients: list[RecipientRecord], attachments: list[AttachmentRecord],
              history: list[StatusChange]) -> Incident:
    return Incident(
        id=row["id"], created_at=row["created_at"], gateway=row["gateway"],
        queue_id=row["queue_id"], rule_id=row["rule_id"], action=row["action"],
        mode=row["mode"], stage=row["stage"], sender=row["sender"],
        sender_class=row["sender_class"], authenticated=row["authenticated"],
        subject=row["subject"], document_class=row["document_class"],
        document_kind=row["document_kind"], document_number=row["document_number"],
        issuer=row["issuer"], secrecy=row["secrecy"], urgency=row["urgency"],
        score=row["score"], evidence=tuple(json.loads(row["evidence"])), held=row["held"],
        recipients=tuple(recipients), attachments=tuple(attachments),
        status=IncidentStatus(row["status"]), policy_sha256=row["policy_sha256"],
        history=tuple(history), hold_reason=row["hold_reason"], sender_unit=row["sender_unit"],
    )


def _audit(conn: Connection, at: _dt.datetime, actor: str, action: str,
           incident_id: str | None, detail: str) -> None:
    conn.execute(schema.audit_log.insert(), {"at": at, "actor": actor, "action": action,
                                             "incident_id": incident_id, "detail": detail})
