"""What the console needs from the hold queue: a held message's headers and extracted text,
and release or delete, each recorded in the store with the officer and the reason.

The operations are those of ``govmilter quarantine`` (the same module, see
:mod:`govmilter.console.app`'s ``held_mail``); the console never touches Postfix's queue itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from govmilter.store import Incident, IncidentStore


@dataclass(frozen=True, slots=True)
class HeldContent:
    """A held message as an officer may read it: headers and the text govmilter extracted
    (never the raw attachments)."""

    headers: tuple[tuple[str, str], ...]
    text: str


class HeldMail(Protocol):
    """The hold-queue operations the console calls."""

    def content(self, store: IncidentStore, incident: Incident) -> HeldContent | None:
        """The held message of ``incident``, or None when it is no longer in the queue."""

    def release(self, store: IncidentStore, incident_id: str, actor: str,
                reason: str) -> Incident:
        """Release the held message to its recipients; the incident becomes released."""

    def delete(self, store: IncidentStore, incident_id: str, actor: str,
               reason: str) -> Incident:
        """Delete the held message; the incident becomes deleted."""
