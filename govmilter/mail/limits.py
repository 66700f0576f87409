"""Bounds on the work done per message: the policy's ``limits:`` section as a value, and one
message's spending of them (:class:`MessageBudget`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

#: The scan stops starting new work this long before ``max_seconds`` (at most a tenth of it), so
#: that it still answers, with what it read, before the milter kills its scan worker at
#: ``max_seconds``: what is left to do then is scoring the texts already read.
ANSWER_MARGIN_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on the work done per message (the policy's ``limits:`` section)."""

    max_scan_bytes: int = 20 * 1024 * 1024
    max_attachment_bytes: int = 10 * 1024 * 1024
    max_attachments: int = 50
    max_depth: int = 10
    max_pdf_pages: int = 30
    max_zip_entries: int = 200
    max_zip_ratio: int = 100
    max_archive_depth: int = 3
    max_seconds: float = 10.0
    #: Scanned pages recognised per message (PDF pages, images, TIFF pages, GIF frames).
    max_ocr_pages: int = 10
    #: Recognition time per message, within ``max_seconds``.
    max_ocr_seconds: float = 8.0
    #: Pixels of one image or rendered page; larger ones are refused before decoding.
    max_image_pixels: int = 40_000_000
    memory_bytes: int = 1024 * 1024

    @property
    def stop_seconds(self) -> float:
        """Seconds after its start at which a scan stops reading (see ANSWER_MARGIN_SECONDS)."""
        return self.max_seconds - min(ANSWER_MARGIN_SECONDS, self.max_seconds / 10)

    @property
    def raw_scan_bytes(self) -> int:
        """The most bytes of the raw message read for scanning: twice the scan budget, room for
        base64 (4 bytes for 3) and the headers around what is decoded."""
        return self.max_scan_bytes * 2

    @property
    def scan_limit_reason(self) -> str:
        """Why part of a message was not scanned once ``max_scan_bytes`` is spent (one text for
        every place the budget runs out, so rules and reports see one reason)."""
        return f"scan limit of {self.max_scan_bytes} bytes reached"


class MessageBudget:
    """Mutable per-message scan state: a deadline, one byte budget, the reasons for stopping.

    One budget of ``limits.max_scan_bytes`` for everything the scan works on: the body text and
    attachment bytes the MIME walk keeps, and the text extracted from attachments. An attachment's
    bytes are given back as it is extracted, its text standing in for it, so a message of two
    large PDFs is read whole while a compressed document that expands past the budget is cut.
    Extraction uses it as :class:`govmilter.document.budget.ScanBudget`, which adds the archive
    counts.
    """

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        #: when reading stops: ``limits.stop_seconds`` from now (the hard end is max_seconds)
        self.deadline = clock() + limits.stop_seconds
        self.bytes_left = limits.max_scan_bytes
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

    def take(self, size: int) -> int:
        """Charge up to ``size`` bytes: how many may be kept (fewer once spent, and then why is
        noted)."""
        kept = min(size, max(self.bytes_left, 0))
        self.bytes_left -= kept
        if kept < size:
            self.note(self.limits.scan_limit_reason)
        return kept

    def take_text(self, text: str) -> str:
        """Charge extracted text against the budget, cutting it when spent."""
        return text[:self.take(len(text))]

    def give_back(self, size: int) -> None:
        """Return bytes charged earlier (an attachment about to be replaced by its text)."""
        self.bytes_left = min(self.bytes_left + size, self.limits.max_scan_bytes)
