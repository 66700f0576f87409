"""The local append-only journal: what could not be written to the database yet.

One JSON object a line, in segment files of one directory. New records go to ``current.jsonl``
(appended, flushed and fsynced under a lock held only for the append); :meth:`Journal.seal`
renames it to a numbered segment that the writer replays into the database and then removes.
A line cut short by a crash is skipped (and counted), never fatal. Replaying is idempotent on
the database side (incident ids, count batch ids), so a segment replayed twice adds nothing.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govmilter.store.records import (
    AttachmentRecord,
    DailyMessageCount,
    DailyRecipientCount,
    Incident,
    IncidentStatus,
    RecipientRecord,
)

log = logging.getLogger("govmilter")

CURRENT = "current.jsonl"
SEGMENT_PREFIX = "segment-"


@dataclass(frozen=True, slots=True)
class CountBatch:
    """One flush of the daily counts; its id makes a replay add nothing twice."""

    id: str
    recipients: tuple[DailyRecipientCount, ...]
    messages: tuple[DailyMessageCount, ...]


Record = Incident | CountBatch


def _time(moment: _dt.datetime) -> str:
    return moment.isoformat()


def record_to_json(record: Record) -> dict[str, Any]:
    """A journal line's object."""
    if isinstance(record, CountBatch):
        return {"kind": "counts", "id": record.id,
                "recipients": [[c.day.isoformat(), c.gateway, c.flow, c.document_class,
                                c.compliant, c.rule_id, c.action, c.mode, c.count, c.unit]
                               for c in record.recipients],
                "messages": [[c.day.isoformat(), c.gateway, c.document_class, c.compliant,
                              c.action, c.mode, c.count, c.unit] for c in record.messages]}
    i = record
    return {
        "kind": "incident", "id": i.id, "created_at": _time(i.created_at), "gateway": i.gateway,
        "queue_id": i.queue_id, "rule_id": i.rule_id, "action": i.action, "mode": i.mode,
        "stage": i.stage, "sender": i.sender, "sender_class": i.sender_class,
        "authenticated": i.authenticated, "subject": i.subject,
        "document_class": i.document_class, "document_kind": i.document_kind,
        "document_number": i.document_number, "issuer": i.issuer, "secrecy": i.secrecy,
        "urgency": i.urgency, "score": i.score, "evidence": list(i.evidence), "held": i.held,
        "recipients": [[r.address, r.domain_class, r.rule_id, r.action, r.compliant, r.removed]
                       for r in i.recipients],
        "attachments": [[a.name, a.sha256, a.size] for a in i.attachments],
        "status": i.status.value, "policy_sha256": i.policy_sha256,
        "hold_reason": i.hold_reason, "sender_unit": i.sender_unit,
    }


def record_from_json(data: dict[str, Any]) -> Record:
    """The record of a journal line's object.

    :raises ValueError, KeyError, TypeError: when the object is not a journal record.
    """
    if data["kind"] == "counts":
        return CountBatch(
            data["id"],
            # a row journaled before units existed ends at its count: the unit is "" (none)
            tuple(DailyRecipientCount(_dt.date.fromisoformat(d), *rest)
                  for d, *rest in data["recipients"]),
            tuple(DailyMessageCount(_dt.date.fromisoformat(d), *rest)
                  for d, *rest in data["messages"]))
    if data["kind"] != "incident":
        raise ValueError(f"unknown journal record kind {data['kind']!r}")
    fields = {k: v for k, v in data.items() if k != "kind"}
    fields["created_at"] = _dt.datetime.fromisoformat(data["created_at"])
    fields["evidence"] = tuple(data["evidence"])
    fields["recipients"] = tuple(RecipientRecord(*r) for r in data["recipients"])
    fields["attachments"] = tuple(AttachmentRecord(*a) for a in data["attachments"])
    fields["status"] = IncidentStatus(data["status"])
    return Incident(**fields)


class Journal:
    """Append-only segments in ``directory`` (made 0750 if missing; files 0640)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(mode=0o750, parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._pending = sum(self._count(path) for path in self._all_files())
        #: lines that could not be read back (cut by a crash), skipped
        self.skipped = 0

    @property
    def pending(self) -> int:
        """Records in the journal not yet written to the database."""
        return self._pending

    def append(self, records: list[Record]) -> None:
        """Add records durably (fsync) to the current segment.

        :raises OSError: when the disk refuses (full, read-only); the caller counts it.
        """
        if not records:
            return
        data = "".join(json.dumps(record_to_json(r), ensure_ascii=False) + "\n"
                       for r in records).encode("utf-8")
        with self._lock:
            fd = os.open(self.directory / CURRENT, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            self._pending += len(records)

    def seal(self) -> list[Path]:
        """Close the current segment (new appends start a new one); every sealed segment,
        oldest first, for the caller to replay and then :meth:`remove`."""
        with self._lock:
            current = self.directory / CURRENT
            if current.exists() and current.stat().st_size:
                current.rename(self.directory / f"{SEGMENT_PREFIX}{time.time_ns():020d}.jsonl")
        return sorted(self.directory.glob(f"{SEGMENT_PREFIX}*.jsonl"))

    def read(self, segment: Path) -> Iterator[Record]:
        """The records of a sealed segment; unreadable lines are skipped and counted."""
        with segment.open("rb") as stream:
            for number, line in enumerate(stream, 1):
                try:
                    yield record_from_json(json.loads(line))
                except (ValueError, KeyError, TypeError):
                    self.skipped += 1
                    log.warning("incident journal: %s line %d unreadable, skipped",
                                segment.name, number)

    def remove(self, segment: Path) -> None:
        """Forget a segment whose records are now in the database."""
        records = self._count(segment)
        segment.unlink(missing_ok=True)
        with self._lock:
            self._pending = max(0, self._pending - records)

    def _all_files(self) -> list[Path]:
        return [*self.directory.glob(f"{SEGMENT_PREFIX}*.jsonl"), self.directory / CURRENT]

    @staticmethod
    def _count(path: Path) -> int:
        if not path.exists():
            return 0
        with path.open("rb") as stream:
            return sum(1 for _ in stream)
