"""The bounds of one message's scan: a deadline, a text budget, and the reasons scanning stopped.

Extraction code asks the budget before each unit of work (an attachment, a PDF page, a ZIP entry)
and, past a limit, records a reason instead of going on; the reasons become the evidence's
``unscannable`` tuple, on which the policy's ``document: unscannable`` rules act.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from govmilter.mail.limits import Limits

#: Unpacked sizes below this cannot be bombs whatever their ratio (tiny XML compresses 100:1).
RATIO_FLOOR = 256 * 1024


class Unscannable(Exception):
    """A part could not be scanned; the message says why (no content, no file name)."""


class ScanBudget:
    """Mutable per-message scan state: deadline, bytes of text left, reasons for stopping."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self.deadline = clock() + limits.max_seconds
        self.text_left = limits.max_scan_bytes
        self.entries_left = limits.max_zip_entries  #: archive entries, nested ones included
        self.reasons: list[str] = []
        self._time_noted = False

    def note(self, reason: str) -> None:
        """Record why something was not (fully) scanned; each reason once."""
        if reason not in self.reasons:
            self.reasons.append(reason)

    def expired(self) -> bool:
        """True once the time budget is spent (and say so, once)."""
        if self._clock() < self.deadline:
            return False
        if not self._time_noted:
            self.note(f"time budget of {self.limits.max_seconds:g} s reached; scanning stopped")
            self._time_noted = True
        return True

    def take_text(self, text: str) -> str:
        """Charge extracted text against the per-message budget, cutting it when spent."""
        if len(text) <= self.text_left:
            self.text_left -= len(text)
            return text
        kept = text[: max(self.text_left, 0)]
        self.text_left = 0
        self.note(f"scan limit of {self.limits.max_scan_bytes} bytes of text reached")
        return kept

    def take_entry(self, where: str) -> bool:
        """Charge one archive entry against the message's ``max_zip_entries``; False (and the
        reason noted) once they are spent. ``where`` names the archive (``attachment 2: ...``)."""
        if self.entries_left > 0:
            self.entries_left -= 1
            return True
        self.note(f"{where}: more than {self.limits.max_zip_entries} archive entries in this "
                  "message (limits.max_zip_entries); the rest were not read")
        return False

    def check_ratio(self, unpacked: int, packed: int, what: str, bomb: str) -> None:
        """Refuse what unpacks past ``max_zip_ratio`` times its packed size.

        :raises Unscannable: ``what`` (``7z archive``, ``ZIP archive entry``) expands too much.
        """
        ratio = self.limits.max_zip_ratio
        if unpacked > RATIO_FLOOR and unpacked > ratio * max(packed, 1):
            raise Unscannable(f"{what} expands more than {ratio}:1 (limits.max_zip_ratio): "
                              f"possible {bomb}")
