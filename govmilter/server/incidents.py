"""Incidents and daily counts, off the mail path: a bounded queue, a writer thread, a journal.

The milter's threads only build values and hand them over: :meth:`IncidentWriter.record` puts an
incident on a bounded queue (when it is full, the incident goes straight to the local journal:
a short append, never a wait for the database) and :meth:`IncidentWriter.count` adds a message
to the day's counts in memory. The writer thread writes both to the store at least every
``flush_interval`` seconds. When the store is slow or down, what could not be written goes to
the journal (:mod:`govmilter.store.journal`) and is replayed, in order, once the store answers
again; until then new batches join the journal behind it. At stop, the queue and the counts are
written, or journaled when the store does not answer.

A reload that names another database (:meth:`IncidentWriter.switch`) is carried out by the
writer thread between two flushes: what was queued and counted before it, and the journal's
backlog, are written to the old store first; what the old store does not take (it is down) stays
in the journal and is replayed into the new one; then the old store is closed and the new one
opened (and migrated) as at start-up. Nothing is lost and nothing is copied: the incidents
already in the old store stay there.
"""

from __future__ import annotations

import collections
import datetime as _dt
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from govmilter.policy.verdict import Verdict
from govmilter.server.metrics import Metrics
from govmilter.store import StoreError
from govmilter.store.database import describe_database
from govmilter.store.incidents import MessageKey, RecipientKey, count_keys, vietnam_day
from govmilter.store.journal import CountBatch, Journal, Record
from govmilter.store.records import DailyMessageCount, DailyRecipientCount, Incident
from govmilter.store.store import IncidentStore, open_store

log = logging.getLogger("govmilter")

#: Incidents waiting for the writer thread before the milter journals them itself.
DEFAULT_QUEUE_SIZE = 10_000
#: Records the writer takes from the journal per database transaction when replaying.
REPLAY_CHUNK = 500

StoreOpener = Callable[[], IncidentStore]


class IncidentWriter:
    """The one writer of a daemon's incidents and counts (see the module docstring)."""

    def __init__(self, database: str | None, journal_dir: Path, gateway: str,
                 metrics: Metrics | None = None, *, queue_size: int = DEFAULT_QUEUE_SIZE,
                 flush_interval: float = 1.0, retry_interval: float = 2.0,
                 opener: StoreOpener | None = None) -> None:
        self.gateway = gateway
        self.metrics = metrics
        self.journal = Journal(journal_dir)
        self.flush_interval = flush_interval
        self.retry_interval = retry_interval
        self.database = database
        self._open = opener or _opener(database)
        self._store: IncidentStore | None = None
        #: a database a reload asked for, with its opener, until the writer thread switches
        self._switch_to: tuple[str | None, StoreOpener] | None = None
        self._switch_lock = threading.Lock()
        self._queue: queue.Queue[Incident] = queue.Queue(queue_size)
        self._counts_lock = threading.Lock()
        self._recipients: collections.Counter[tuple[_dt.date, RecipientKey]] = \
            collections.Counter()
        self._messages: collections.Counter[tuple[_dt.date, MessageKey]] = collections.Counter()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_try = 0.0  # monotonic time of the next attempt at a store that failed
        self._down = False  # the store failed and has not answered since (logged once)
        self._update_backlog()

    # ---- the milter's side: never waits for the database ------------------------------------
    def record(self, incident: Incident) -> None:
        """Hand an incident over; journaled at once when the queue is full."""
        if self.metrics is not None:
            self.metrics.incidents.labels(incident.mode).inc()
        try:
            self._queue.put_nowait(incident)
        except queue.Full:
            self._journal([incident])

    def count(self, verdict: Verdict, now: _dt.datetime | None = None) -> None:
        """Add one decided message to the day's counts."""
        day = vietnam_day(now or _dt.datetime.now(_dt.UTC))
        recipients, message = count_keys(verdict)
        with self._counts_lock:
            for key in recipients:
                self._recipients[(day, key)] += 1
            self._messages[(day, message)] += 1

    def switch(self, database: str | None, opener: StoreOpener | None = None) -> bool:
        """Write to ``database`` from now on (a reload changed ``incidents.database``); carried
        out by the writer thread at its next flush (see the module docstring). False when it
        already writes there and nothing was asked."""
        with self._switch_lock:
            if database == self.database and self._switch_to is None:
                return False
            self._switch_to = (database, opener or _opener(database))
        return True

    def _apply_switch(self) -> None:
        """Carry out a switch asked for: drain into the old store, then open the new one."""
        with self._switch_lock:
            asked, self._switch_to = self._switch_to, None
        if asked is None:
            return
        database, opener = asked
        if database == self.database:
            return  # asked for another and back again before the thread came round
        self._flush(final=True)  # what came before the reload goes where it was meant to go
        old = self._store.where if self._store is not None else describe_database(self.database)
        if self._store is not None:
            self._store.close()
            self._store = None
        self.database, self._open = database, opener
        self._next_try, self._down = 0.0, False
        log.info("incident store changed by a reload: %s -> %s; %d record(s) the old store "
                 "did not take go to the new one; the incidents already in the old store stay "
                 "there", old, describe_database(database), self.journal.pending)
        if self._connected(force=True) is not None and self.journal.pending:
            self._replay(force=True)

    # ---- the thread -------------------------------------------------------------------------
    def start(self) -> IncidentWriter:
        """Start the writer thread (it opens and migrates the store itself, so a database that
        is down at start-up delays nothing)."""
        self._thread = threading.Thread(target=self._run, name="govmilter-incidents",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued and counted (or journal it), then end the thread."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():  # stuck in a store that does not answer: journal all
                self._journal([*self._take(), *filter(None, [self._take_counts()])])
                return
        self._apply_switch()
        self._flush(final=True)
        if self._store is not None:
            self._store.close()
            self._store = None

    def _run(self) -> None:
        # the store is opened (and migrated) at once, not at the first flush: its one-off cost
        # then falls at start-up, before mail arrives
        self._connected(force=False)
        while not self._stopping.wait(self.flush_interval):
            try:
                self._apply_switch()
                self._flush()
            except Exception:  # the writer must outlive any surprise; the journal keeps data
                log.exception("incident writer: unexpected error")

    def _flush(self, final: bool = False) -> None:
        """Write what was queued and counted since the last flush: behind the journal when it
        has a backlog, into the journal when the store fails."""
        incidents = self._take()
        batch = self._take_counts()
        records: list[Record] = [*incidents, *([batch] if batch else [])]
        if self.journal.pending:
            self._journal(records)
            self._replay(force=final)
        elif records and not self._write(records, force=final):
            self._journal(records)

    def _take(self) -> list[Incident]:
        taken: list[Incident] = []
        try:
            while True:
                taken.append(self._queue.get_nowait())
        except queue.Empty:
            return taken

    def _take_counts(self) -> CountBatch | None:
        with self._counts_lock:
            recipients, self._recipients = self._recipients, collections.Counter()
            messages, self._messages = self._messages, collections.Counter()
        if not recipients and not messages:
            return None
        # the unit ends each key and each count record (after the count: it has a default)
        return CountBatch(
            uuid.uuid4().hex,
            tuple(DailyRecipientCount(day, self.gateway, *key[:-1], count, key[-1])
                  for (day, key), count in recipients.items()),
            tuple(DailyMessageCount(day, self.gateway, *key[:-1], count, key[-1])
                  for (day, key), count in messages.items()))

    def _connected(self, force: bool) -> IncidentStore | None:
        """The store, opened (and migrated) on first use; None while it is failing."""
        if self._store is not None:
            return self._store
        if not force and time.monotonic() < self._next_try:
            return None
        try:
            self._store = self._open()
        except StoreError as exc:
            self._failed(exc)
            return None
        log.info("incident store %s open", self._store.where)
        return self._store

    def _write(self, records: list[Record], force: bool = False) -> bool:
        """Write records to the store; False (counted, logged) when it cannot be done now."""
        store = self._connected(force)
        if store is None:
            return False
        try:
            store.add_incidents([r for r in records if isinstance(r, Incident)])
            for batch in (r for r in records if isinstance(r, CountBatch)):
                store.add_counts(batch.id, batch.recipients, batch.messages)
        except StoreError as exc:
            self._failed(exc)
            return False
        if self._down:
            self._down = False
            log.info("incident store %s answers again", store.where)
        return True

    def _replay(self, force: bool = False) -> None:
        """Write the journal's sealed segments to the store, oldest first, and drop them."""
        if self._connected(force) is None:
            return
        for segment in self.journal.seal():
            chunk: list[Record] = []
            for record in self.journal.read(segment):
                chunk.append(record)
                if len(chunk) >= REPLAY_CHUNK:
                    if not self._write(chunk, force):
                        return
                    chunk = []
            if chunk and not self._write(chunk, force):
                return
            self.journal.remove(segment)
            self._update_backlog()
        if not self.journal.pending:
            log.info("incident journal replayed: the store is up to date")

    def _journal(self, records: list[Record]) -> None:
        try:
            self.journal.append(records)
        except OSError as exc:
            # the disk refuses too: these records are lost; say so loudly, mail goes on
            log.error("incident journal %s: cannot append %d record(s): %s",
                      self.journal.directory, len(records), exc.strerror or exc)
            if self.metrics is not None:
                self.metrics.incident_journal_failures.inc()
        self._update_backlog()

    def _failed(self, exc: StoreError) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
        self._next_try = time.monotonic() + self.retry_interval
        if self.metrics is not None:
            self.metrics.incident_write_failures.inc()
        if not self._down:
            self._down = True
            log.warning("incident store unavailable, incidents go to the journal %s until it "
                        "answers: %s", self.journal.directory, exc)

    def _update_backlog(self) -> None:
        if self.metrics is not None:
            self.metrics.incident_journal_backlog.set(self.journal.pending)


def _opener(database: str | None) -> StoreOpener:
    """How the writer thread opens ``database``: migrated by a child process when not current
    (the daemon never loads alembic itself)."""
    return lambda: open_store(database, migrate_in_child=True)
