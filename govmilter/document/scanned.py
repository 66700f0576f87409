"""Reading scanned and photographed pages: which pages and regions, within which bounds.

A message's OCR is bounded by the policy: ``limits.max_ocr_pages`` pages (PDF pages, image
files, TIFF pages and GIF frames together) and ``limits.max_ocr_seconds`` of recognition, both
inside the scan's own deadline. Past a bound the reading stops and the reason joins
``unscannable``, as for every other limit. A document's cues stand at the top of its first page
(issuer, number, heading, date, secrecy stamp) and at its end (Nơi nhận, the signer), so the
top third of page 1 is read first, then the rest of it, the last page and the others, and the
reading stops once the text read decides the class (:meth:`OcrSession.read`).

Each region's text comes back as its own text whose source names the OCR, the page, the region
and Tesseract's confidence ("attachment 2 (OCR, page 1, top of page, confidence 91%)"): the
evidence a person reads then says where a cue was seen and how sure the reading was.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from govmilter.document.budget import ScanBudget, Unscannable
from govmilter.document.images import PageImage
from govmilter.document.ocr import OcrEngine, Recognised
from govmilter.document.ocrcache import SHARED_CACHE, CachedReading, OcrCache

#: A page on which OCR read fewer letters than this holds no text (a photo, a drawing, specks).
MIN_LETTERS = 20


@dataclass(frozen=True, slots=True)
class OcrText:
    """What OCR read on one page (or region): where, and the text."""

    source: str
    text: str


@dataclass(frozen=True, slots=True)
class Judgement:
    """What the text read so far (with the message's other cues) says."""

    official: bool
    marked: bool  #: a secrecy marking was found


#: Scores the texts read so far; the reading stops once they decide the document's class.
Judge = Callable[[list[OcrText]], Judgement]

#: The share of page 1 read first: issuer, national heading, number, date, secrecy and urgency
#: stamps, V/v and Kính gửi stand in its top third (Decree 30/2020, appendix I). Reading it
#: costs a quarter of the whole page (docs/ocr.md, measured).
TOP_SHARE = 1 / 3
#: The rest of the page starts a little above the top's end, so a line cut there is read whole.
OVERLAP = 0.02
#: Pages split into regions: portrait images this tall at least (smaller ones are read whole).
MIN_SPLIT_HEIGHT = 800

_TOP, _REST, _WHOLE = "top of page", "rest of page", "whole page"


def reading_order(count: int) -> list[int]:
    """Page indexes (from 0) in the order they are read: first, last, then the rest."""
    if count <= 0:
        return []
    order = [0] if count == 1 else [0, count - 1]
    return order + list(range(1, count - 1))


def _region(page: PageImage, region: str) -> PageImage:
    """The part of ``page`` that ``region`` names.

    Stamps are red (MẬT, KHẨN, boxed at the top) and so are seals (round, over the signer's
    title at the end). The top and whole pages stay in colour: they are read in luminance,
    where red ink is as dark as print and a stamp reads, and their red ink alone again
    (:func:`_red_ink`); the rest of page 1, where the seal stands, is read in the red channel,
    where red ink is as light as paper and the seal drops out of the black text under it.
    """
    image = page.image
    width, height = image.size
    if region == _TOP:
        return PageImage(image.crop((0, 0, width, round(height * TOP_SHARE))), page.dpi)
    if region == _REST:
        top = round(height * (TOP_SHARE - OVERLAP))
        rest = image.crop((0, top, width, height))
        return PageImage(rest.getchannel("R") if rest.mode == "RGB" else rest.convert("L"),
                         page.dpi)
    return page


#: Red ink: the red channel this far above the green and blue ones (print and paper are grey).
RED_MARGIN = 40
#: Red pixels in a region before its red ink alone is read (a stamp has thousands).
MIN_RED_PIXELS = 300


def _red_ink(part: PageImage) -> PageImage | None:
    """The red ink of a region alone, black on white, when there is some: stamps are boxed and
    red, and page segmentation sometimes drops a box among black print; alone it reads."""
    if part.image.mode != "RGB":
        return None
    from PIL import ImageChops  # Pillow is loaded by the first image, as in images.py

    red, green, blue = part.image.split()
    redness = ImageChops.subtract(red, ImageChops.lighter(green, blue))
    ink = redness.point(lambda value: 0 if value > RED_MARGIN else 255)
    if ink.histogram()[0] < MIN_RED_PIXELS:
        return None
    return PageImage(ink, part.dpi)


#: A region read with fewer letters or a lower mean confidence than this may be a page on its
#: side: its orientation is then detected.
POOR_CONFIDENCE = 60.0
#: Time left that orientation detection needs (about 0.3 s a page; more on a busy machine).
ORIENTATION_SECONDS = 1.0
#: Tesseract's orientation confidence needed to turn a page (upright pages score 10 to 15).
MIN_ORIENTATION_CONFIDENCE = 5.0


def _poor(result: Recognised) -> bool:
    return sum(c.isalpha() for c in result.text) < MIN_LETTERS or \
        result.confidence < POOR_CONFIDENCE


def _upright(engine: OcrEngine, page: PageImage) -> PageImage | None:
    """``page`` turned upright when Tesseract's orientation detection is sure it is on its side
    or upside down (scanners do both); None when it is upright or nobody can tell."""
    found = engine.orientation(page.image.convert("L"))
    if found is None or found[0] == 0 or found[1] < MIN_ORIENTATION_CONFIDENCE:
        return None
    return PageImage(page.image.rotate(found[0], expand=True), page.dpi)


def _splits(page: PageImage) -> bool:
    width, height = page.image.size
    return height >= MIN_SPLIT_HEIGHT and height > width


class OcrSession:
    """One message's OCR: the engine (None where OCR is unavailable) and what is left to spend.

    ``judge`` scores what was read so far; without one, every page is read whole. It must
    depend on the OCR texts alone (not on the rest of the message), so that a reading can be
    kept in ``cache`` under the attachment's digest and ``detection`` (what the judge depends
    on: the policy's detection settings).
    """

    def __init__(self, engine: OcrEngine | None, budget: ScanBudget,
                 unavailable: str = "OCR is not available here",
                 clock: Callable[[], float] = time.monotonic, judge: Judge | None = None,
                 detection: Hashable = None, cache: OcrCache | None = SHARED_CACHE) -> None:
        self.engine = engine
        self.detection = detection
        self.cache = cache
        self.budget = budget
        self.unavailable = unavailable
        self.judge = judge
        self._clock = clock
        self.pages_left = budget.limits.max_ocr_pages
        self.deadline = clock() + budget.limits.max_ocr_seconds
        self.pages_read = 0
        self.regions_read = 0

    def seconds_left(self) -> float:
        """Recognition time left: the OCR bound or the scan's own deadline, whichever is first."""
        return min(self.deadline, self.budget.deadline) - self._clock()

    def _judgement(self, found: list[tuple[int, OcrText]]) -> Judgement:
        if self.judge is None or not found:
            return Judgement(official=False, marked=False)
        return self.judge([text for _, text in found])

    def read(self, what: str, source: str, count: int, load: Callable[[int], PageImage],
             digest: bytes | None = None) -> list[OcrText]:
        """Recognise up to ``count`` pages, loaded on demand by ``load(index)``, where the cues
        are first: the top of page 1, the rest of it, the last page, then the others.

        The reading stops once an official document with a secrecy stamp is read (more text
        cannot change that class) or at a limit. Once the text is an official document without
        a stamp, only the top of each further page is read: where a stamp would stand (of an
        attached second document, or put there to be missed).

        ``what`` names the thing read ("PDF has no text layer", "image") for the reasons;
        ``digest``, the SHA-256 of the attachment's bytes, finds an earlier reading of the same
        file in the cache (:mod:`.ocrcache`).

        :raises Unscannable: OCR is unavailable in this process.
        """
        if self.engine is None:
            self.budget.ocr_wanted = True
            raise Unscannable(f"{what}; not read by OCR ({self.unavailable})")
        limits = self.budget.limits
        key = None if digest is None or self.cache is None else (
            digest, self.detection, limits.max_ocr_pages, limits.max_image_pixels)
        reading = None if key is None or self.cache is None else self.cache.get(key)
        if reading is None:
            reading, whole = self._recognise(self.engine, source, count, load)
            if key is not None and self.cache is not None and whole:
                self.cache.put(key, reading)
        for note in reading.notes:
            self.budget.note(f"{source}: {note}")
        return [OcrText(f"{source} ({where})", self.budget.take_text(text))
                for where, text in reading.texts]

    def _recognise(self, engine: OcrEngine, source: str, count: int,
                   load: Callable[[int], PageImage]) -> tuple[CachedReading, bool]:
        """:meth:`read` without the cache; also whether the reading ran to its end (no time
        limit stopped it)."""
        found: list[tuple[int, OcrText]] = []
        notes: list[str] = []
        whole = True
        limits = self.budget.limits
        pages = 0
        steps = [(0, _TOP), (0, _REST), *((index, _WHOLE) for index in reading_order(count)[1:])]
        loaded: tuple[int, PageImage] | None = None
        for index, region in steps:
            judgement = self._judgement(found)
            if index >= count or (judgement.official and judgement.marked):
                break
            if index > 0 and judgement.official:
                region = _TOP
            if loaded is None or loaded[0] != index:
                if self.pages_left <= 0:
                    notes.append(f"OCR page limit of {limits.max_ocr_pages} reached "
                                 f"(limits.max_ocr_pages); {count} pages, not all read")
                    break
                try:
                    loaded = (index, load(index))
                except Unscannable as exc:
                    notes.append(str(exc))
                    loaded = None
                    continue
                self.pages_left -= 1
                self.pages_read += 1
                pages += 1
            page = loaded[1]
            if not _splits(page):
                if region == _REST:
                    continue  # read whole at the first step
                region = _WHOLE
            left = self.seconds_left()
            if left <= 0 or self.budget.expired():
                self._note_time(source)
                whole = False
                break
            part = _region(page, region)
            result = engine.recognise(part.image.convert("L"), part.dpi, left)
            self.regions_read += 1
            # orientation detection has no deadline of its own: only with time to spare
            if region != _REST and _poor(result) and not result.timed_out and \
                    self.seconds_left() > ORIENTATION_SECONDS:
                turned = _upright(engine, page)  # a page scanned on its side or upside down
                if turned is not None:
                    page = turned
                    loaded = (index, turned)
                    part = _region(page, region)
                    result = engine.recognise(part.image.convert("L"), part.dpi,
                                              max(self.seconds_left(), 0.001))
                    self.regions_read += 1
            red = _red_ink(part) if region != _REST else None
            if sum(c.isalpha() for c in result.text) >= MIN_LETTERS:
                where = f"OCR, page {index + 1}, {region}, confidence {result.confidence:.0f}%"
                found.append((index, OcrText(where, result.text)))
            if red is not None and not result.timed_out and self.seconds_left() > 0:
                stamp = engine.recognise(red.image, red.dpi, self.seconds_left())
                if stamp.text.strip():
                    where = (f"OCR, page {index + 1}, red ink, {region}, confidence "
                             f"{stamp.confidence:.0f}%")
                    found.append((index, OcrText(where, stamp.text)))
            if result.timed_out:
                self._note_time(source)
                whole = False
                break
        texts = tuple((t.source, t.text) for _, t in sorted(found, key=lambda item: item[0]))
        return CachedReading(texts, tuple(notes), pages), whole

    def _note_time(self, source: str) -> None:
        if self.deadline <= self.budget.deadline:
            self.budget.note(f"{source}: OCR time limit of {self.budget.limits.max_ocr_seconds:g}"
                             " s reached (limits.max_ocr_seconds)")
        else:
            self.budget.expired()
