"""Held mail: Postfix's hold queue joined with the incidents, and the officer's two decisions.

One module for ``govmilter quarantine`` and the web console (:class:`Quarantine` is the
console's ``HeldMail``): list, read (headers and the text govmilter extracts, never the raw
attachments), release and delete, each through Postfix's own commands (directly as root, or
through govmilter's queue helper: :mod:`govmilter.tools.postfix_queue`), and each recorded in
the store with the acting user and a reason that may not be empty. Postfix acts first; only what
it did is recorded, and when the store then fails the error says what Postfix already did.
"""

from __future__ import annotations

import datetime as _dt
import email
import email.header
import email.policy
import logging
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from govmilter.mail.limits import Limits
from govmilter.scan import readable_text
from govmilter.store import Incident, IncidentQuery, IncidentStatus, IncidentStore, StoreError
from govmilter.store.records import looks_like_incident_id
from govmilter.tools.postfix_queue import HoldQueue, QuarantineError, QueuedMessage

log = logging.getLogger("govmilter")

#: The actor of status changes govmilter makes itself (a hold that vanished from the queue).
SYSTEM_ACTOR = "govmilter"
#: A held incident whose message has been gone from the hold queue this long is expired.
EXPIRY_GRACE = _dt.timedelta(minutes=5)
#: Characters of extracted text shown for one held message.
MAX_SHOWN_TEXT = 20_000

__all__ = ["HeldContent", "HeldMessage", "Quarantine", "QuarantineError", "QueuedMessage",
           "held_to_json", "held_to_text"]


@dataclass(frozen=True, slots=True)
class HeldMessage:
    """A message in the hold queue and the incident that held it (None: held by someone else)."""

    message: QueuedMessage
    incident: Incident | None


@dataclass(frozen=True, slots=True)
class HeldContent:
    """A held message as an officer may read it: headers and the text govmilter extracted
    (never the raw attachments)."""

    headers: tuple[tuple[str, str], ...]
    text: str


class Quarantine:
    """The officer's view of held mail on this gateway (see the module docstring)."""

    def __init__(self, queue: HoldQueue, gateway: str | None = None) -> None:
        self.queue = queue
        self.gateway = gateway or socket.gethostname()

    def held(self, store: IncidentStore, now: _dt.datetime | None = None) -> list[HeldMessage]:
        """Every message in the hold queue with its incident. Held incidents of this gateway
        whose message has left the queue (outside govmilter) become expired."""
        messages = self.queue.messages("hold")
        incidents: dict[str, Incident] = {i.queue_id: i for i in store.list_incidents(
            IncidentQuery(held=True, limit=1000)).incidents
            if i.queue_id and i.gateway == self.gateway}
        self._expire(store, incidents, {m.queue_id for m in messages},
                     now or _dt.datetime.now(_dt.UTC))
        return [HeldMessage(m, incidents.get(m.queue_id)) for m in messages]

    def _expire(self, store: IncidentStore, incidents: dict[str, Incident],
                present: set[str], now: _dt.datetime) -> None:
        for queue_id, incident in incidents.items():
            if (incident.status is IncidentStatus.OPEN and queue_id not in present
                    and now - incident.created_at > EXPIRY_GRACE):
                store.change_status(incident.id, IncidentStatus.EXPIRED, SYSTEM_ACTOR,
                                    "no longer in the hold queue: released or deleted outside "
                                    "govmilter, or expired by Postfix", now=now)

    def find(self, store: IncidentStore, key: str) -> tuple[Incident, QueuedMessage | None]:
        """The incident of ``key`` (incident id or queue id) and its held message, if held.

        :raises QuarantineError: when no incident has that id or queue id.
        """
        incident = store.get_incident(key)
        if incident is None or not incident.queue_id:
            what = "incident" if looks_like_incident_id(key) else "held message of queue id"
            raise QuarantineError(f"no {what} {key} in the incident store")
        held = {m.queue_id: m for m in self.queue.messages("hold")}
        return incident, held.get(incident.queue_id)

    def content(self, store: IncidentStore, incident: Incident) -> HeldContent | None:
        """The held message of ``incident``: headers and extracted text; None when it is no
        longer in the hold queue."""
        _, message = self.find(store, incident.id)
        if message is None:
            return None
        raw = self.queue.content(message.queue_id)
        parsed = email.message_from_bytes(raw, policy=email.policy.compat32)
        headers = tuple((name, _decoded(value)) for name, value in parsed.items())
        parts = [f"--- {where} ---\n{text.strip()}" for where, text in
                 readable_text(raw, Limits())]
        text = "\n\n".join(parts)
        if len(text) > MAX_SHOWN_TEXT:
            text = text[:MAX_SHOWN_TEXT] + "\n[...]"
        return HeldContent(headers, text)

    def release(self, store: IncidentStore, key: str, actor: str, reason: str) -> Incident:
        """Release the held message to its recipients; the incident becomes released."""
        return self._decide(store, key, actor, reason, IncidentStatus.RELEASED,
                            self.queue.release, "released")

    def delete(self, store: IncidentStore, key: str, actor: str, reason: str) -> Incident:
        """Delete the held message; the incident becomes deleted."""
        return self._decide(store, key, actor, reason, IncidentStatus.DELETED,
                            self.queue.delete, "deleted")

    def _decide(self, store: IncidentStore, key: str, actor: str, reason: str,
                status: IncidentStatus, operation: Callable[[str], None], done: str
                ) -> Incident:
        if not reason.strip():
            raise QuarantineError("a reason is required (--reason TEXT): it is kept with the "
                                  "decision")
        incident, message = self.find(store, key)
        if incident.status is not IncidentStatus.OPEN:
            raise QuarantineError(f"incident {incident.id} is already {incident.status}")
        if message is None:
            raise QuarantineError(f"the message of incident {incident.id} (queue id "
                                  f"{incident.queue_id}) is not in the hold queue")
        operation(message.queue_id)
        log.info("quarantine: %s %s incident=%s by %s", done, message.queue_id, incident.id,
                 actor)
        try:
            return store.change_status(incident.id, status, actor, reason)
        except StoreError as exc:
            raise QuarantineError(f"Postfix {done} {message.queue_id}, but the incident store "
                                  f"could not record it: {exc}") from exc


def _decoded(value: Any) -> str:
    """A header value with its RFC 2047 words decoded (for reading, not for re-sending)."""
    try:
        return str(email.header.make_header(email.header.decode_header(str(value))))
    except (ValueError, LookupError):
        return str(value)


def held_to_json(entry: HeldMessage, now: _dt.datetime) -> dict[str, Any]:
    """One entry of ``quarantine list --json``."""
    m, i = entry.message, entry.incident
    return {
        "queue_id": m.queue_id,
        "arrival": m.arrival.isoformat(timespec="seconds"),
        "age_seconds": max(0, int((now - m.arrival).total_seconds())),
        "size": m.size,
        "sender": m.sender,
        "recipients": list(m.recipients),
        "incident": i.id if i else None,
        "rule": i.rule_id if i else None,
        "reason": i.hold_reason if i else None,
        "status": i.status.value if i else None,
    }


def _age(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes}m"
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes < 1440 else f"{minutes // 1440}d"


def held_to_text(entries: Sequence[HeldMessage], now: _dt.datetime) -> str:
    """One block per held message: queue id, age, sender, recipients, rule, reason, incident."""
    if not entries:
        return "Không có thư nào bị giữ (no held mail)."
    lines = []
    for entry in entries:
        m, i = entry.message, entry.incident
        lines.append(f"{m.queue_id}  {_age((now - m.arrival).total_seconds())}  {m.sender} -> "
                     f"{', '.join(m.recipients)}")
        if i is None:
            lines.append("    (không phải govmilter giữ: no govmilter incident)")
        else:
            lines.append(f"    sự cố (incident) {i.id}  quy tắc (rule) {i.rule_id}  "
                         f"lý do (reason): {i.hold_reason or '-'}  [{i.status}]")
    lines.append(f"-- {len(entries)} thư bị giữ (held)")
    return "\n".join(lines)
