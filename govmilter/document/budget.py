"""The bounds of one message's scan as extraction sees them: :class:`ScanBudget`, and
:class:`Unscannable`.

Extraction code asks the budget before each unit of work (an attachment, a PDF page, an archive
entry) and, past a limit, records a reason instead of going on; the reasons become the evidence's
``unscannable`` tuple, on which the policy's ``document: unscannable`` rules act. The deadline and
the byte budget are the message's :class:`~govmilter.mail.limits.MessageBudget`, which the MIME
walk spends first; archives add their own counts here.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from govmilter.mail.limits import Limits, MessageBudget

#: Unpacked sizes below this cannot be bombs whatever their ratio (tiny XML compresses 100:1).
RATIO_FLOOR = 256 * 1024


class Unscannable(Exception):
    """A part could not be scanned; the message says why (no content, no file name)."""


class ScanBudget(MessageBudget):
    """The message's budget (deadline, bytes, reasons) with the archive entries left to read."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(limits, clock)
        self.entries_left = limits.max_zip_entries  #: archive entries, nested ones included
        #: a scan or image was met that this process has no OCR engine to read (a scan worker
        #: of the ordinary lane then hands the message to the OCR lane)
        self.ocr_wanted = False

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
        if unpacked > self.most_unpacked(packed):
            raise Unscannable(f"{what} expands more than {self.limits.max_zip_ratio}:1 "
                              f"(limits.max_zip_ratio): possible {bomb}")

    def most_unpacked(self, packed: int) -> int:
        """The most bytes that ``packed`` bytes may unpack to within ``max_zip_ratio``."""
        return max(RATIO_FLOOR, self.limits.max_zip_ratio * max(packed, 1))
