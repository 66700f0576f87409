"""What the console needs from the hold queue: a held message's headers and extracted text,
and release or delete, each recorded in the store with the officer and the reason.

The operations are those of ``govmilter quarantine``: :class:`govmilter.tools.quarantine.Quarantine`
implements this protocol and is what ``govmilter console`` serves with (``--postfix-config``);
the console never touches Postfix's queue itself.
"""

from __future__ import annotations

from typing import Protocol

from govmilter.store import Incident, IncidentStore
from govmilter.tools.quarantine import HeldContent

__all__ = ["HeldContent", "HeldMail"]


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
