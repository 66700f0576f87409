"""Reading scanned and photographed pages: which pages, within which bounds, into which texts.

A message's OCR is bounded by the policy: ``limits.max_ocr_pages`` pages (PDF pages, image
files, TIFF pages and GIF frames together) and ``limits.max_ocr_seconds`` of recognition, both
inside the scan's own ``limits.max_seconds``. Past a bound the reading stops and the reason
joins ``unscannable``, as for every other limit. A document's cues stand on its first page and
its last (issuer, number, heading, date, secrecy stamp; Nơi nhận and the signer), so pages are
read in that order: the first, the last, then the others from the front.

Each page's text comes back as its own text whose source names the OCR, the page, the region
and Tesseract's confidence ("attachment 2 (OCR, page 1, whole page, confidence 91%)"): the
evidence a person reads then says where a cue was seen and how sure the reading was.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from govmilter.document.budget import ScanBudget, Unscannable
from govmilter.document.images import PageImage
from govmilter.document.ocr import OcrEngine

#: A page on which OCR read fewer letters than this holds no text (a photo, a drawing, specks).
MIN_LETTERS = 20


@dataclass(frozen=True, slots=True)
class OcrText:
    """What OCR read on one page (or region): where, and the text."""

    source: str
    text: str


def reading_order(count: int) -> list[int]:
    """Page indexes (from 0) in the order they are read: first, last, then the rest."""
    if count <= 0:
        return []
    order = [0] if count == 1 else [0, count - 1]
    return order + list(range(1, count - 1))


class OcrSession:
    """One message's OCR: the engine (None where OCR is unavailable) and what is left to spend."""

    def __init__(self, engine: OcrEngine | None, budget: ScanBudget,
                 unavailable: str = "OCR is not available here",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.budget = budget
        self.unavailable = unavailable
        self._clock = clock
        self.pages_left = budget.limits.max_ocr_pages
        self.deadline = clock() + budget.limits.max_ocr_seconds
        self.pages_read = 0

    def seconds_left(self) -> float:
        """Recognition time left: the OCR bound or the scan's own deadline, whichever is first."""
        return min(self.deadline, self.budget.deadline) - self._clock()

    def read(self, what: str, source: str, count: int,
             load: Callable[[int], PageImage]) -> list[OcrText]:
        """Recognise up to ``count`` pages, loaded on demand by ``load(index)``.

        ``what`` names the thing read ("PDF has no text layer", "image") for the reasons.

        :raises Unscannable: OCR is unavailable in this process.
        """
        engine = self.engine
        if engine is None:
            raise Unscannable(f"{what}; not read by OCR ({self.unavailable})")
        found: list[tuple[int, OcrText]] = []
        limits = self.budget.limits
        for index in reading_order(count):
            if self.pages_left <= 0:
                self.budget.note(f"{source}: OCR page limit of {limits.max_ocr_pages} reached "
                                 f"(limits.max_ocr_pages); {count} pages, not all read")
                break
            left = self.seconds_left()
            if left <= 0 or self.budget.expired():
                self._note_time(source)
                break
            try:
                page = load(index)
            except Unscannable as exc:
                self.budget.note(f"{source}: {exc}")
                continue
            self.pages_left -= 1
            self.pages_read += 1
            result = engine.recognise(page.image, page.dpi, left)
            if result.timed_out:
                self._note_time(source)
            if sum(c.isalpha() for c in result.text) >= MIN_LETTERS:
                where = f"{source} (OCR, page {index + 1}, whole page, confidence " \
                        f"{result.confidence:.0f}%)"
                found.append((index, OcrText(where, self.budget.take_text(result.text))))
            if result.timed_out:
                break
        return [text for _, text in sorted(found, key=lambda item: item[0])]

    def _note_time(self, source: str) -> None:
        if self.deadline <= self.budget.deadline:
            self.budget.note(f"{source}: OCR time limit of {self.budget.limits.max_ocr_seconds:g}"
                             " s reached (limits.max_ocr_seconds)")
        else:
            self.budget.expired()
