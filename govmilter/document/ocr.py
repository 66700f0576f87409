"""Optical character recognition with Tesseract 5 and its Vietnamese data, through its C API.

The engine is Debian's ``libtesseract`` (package ``tesseract-ocr``) with ``tesseract-ocr-vie``,
reached through ``tesserocr`` (MIT, built against that library). The C API was chosen over
running the ``tesseract`` program once per image (``pytesseract``): the language model is loaded
once per process instead of once per image, the image goes over in memory (no temporary file),
a region of a page is read without cutting a copy, and recognition stops at a deadline inside
Tesseract (its progress monitor) instead of by killing a process (docs/ocr.md, measured).

Only scan workers and the offline tools recognise text: the milter process never imports
this module's engine (:func:`govmilter.scan.scan_with` is called there with ``ocr=False``).
Tesseract is not thread-safe; one engine per process serves one page at a time behind a lock.
Its OpenMP threads are limited to one before the library loads: a worker is one of as many
processes as there are cores, and threads on top of them would only contend.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image

#: Tesseract's language: Vietnamese (its data also reads the Latin letters of English text).
LANGUAGE = "vie"
#: Orientation and script detection data (Debian ``tesseract-ocr-osd``), for pages on their side.
OSD_LANGUAGE = "osd"


@dataclass(frozen=True, slots=True)
class OcrStatus:
    """Whether text can be recognised here, and a line that says what was found or what is not."""

    available: bool
    detail: str
    orientation: bool = False  #: the orientation data (osd) is there too


@dataclass(frozen=True, slots=True)
class Recognised:
    """The text Tesseract read in one image or region, and how sure it was."""

    text: str
    confidence: float  #: mean word confidence, 0 to 100 (0 when no word was read)
    seconds: float
    timed_out: bool = False  #: stopped at its deadline: ``text`` is what was read until then


def _limit_openmp() -> None:
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")


def ocr_status() -> OcrStatus:
    """Check the engine and its Vietnamese data without starting a recogniser."""
    _limit_openmp()
    try:
        import tesserocr
    except ImportError as exc:
        return OcrStatus(False, f"tesserocr cannot be imported ({exc}); install Debian "
                                "tesseract-ocr, tesseract-ocr-vie and libtesseract-dev, then "
                                "pip install tesserocr")
    try:
        path, languages = tesserocr.get_languages()
    except RuntimeError as exc:  # no tessdata directory at all
        return OcrStatus(False, f"Tesseract has no language data ({exc}); install Debian "
                                "tesseract-ocr-vie")
    if LANGUAGE not in languages:
        return OcrStatus(False, f"Tesseract has no Vietnamese data in {path}; install Debian "
                                "tesseract-ocr-vie")
    version = str(tesserocr.tesseract_version()).split()[1]
    orientation = OSD_LANGUAGE in languages
    note = "" if orientation else " (no orientation data: install tesseract-ocr-osd)"
    return OcrStatus(True, f"Tesseract {version} with Vietnamese data{note}", orientation)


def ocr_status_apart(timeout: float = 60.0) -> OcrStatus:
    """:func:`ocr_status` checked in a child process (this module run as a program).

    For the milter process, which never recognises text: importing Tesseract's library only to
    list its data would keep it resident there for the daemon's life (docs/performance.md).
    """
    try:
        child = subprocess.run([sys.executable, "-B", "-m", "govmilter.document.ocr"],
                               capture_output=True, text=True, timeout=timeout,
                               stdin=subprocess.DEVNULL)
        return OcrStatus(**json.loads(child.stdout))
    except (OSError, subprocess.SubprocessError, ValueError, TypeError) as exc:
        return OcrStatus(False, f"the OCR check could not run ({type(exc).__name__})")


class OcrEngine:
    """One Tesseract recogniser with the Vietnamese model loaded; one page at a time.

    :raises RuntimeError: when the engine or its data is missing (see :func:`ocr_status`).
    """

    def __init__(self) -> None:
        status = ocr_status()
        if not status.available:
            raise RuntimeError(status.detail)
        import tesserocr

        self.status = status
        self._lock = threading.Lock()
        self._api: Any = tesserocr.PyTessBaseAPI(lang=LANGUAGE, psm=tesserocr.PSM.AUTO)
        self._osd: Any = None
        self._tesserocr: Any = tesserocr

    def recognise(self, image: Image.Image, dpi: int, seconds: float,
                  box: tuple[int, int, int, int] | None = None) -> Recognised:
        """Text of ``image`` (or of the ``box`` left, top, width, height within it).

        Recognition stops after ``seconds``; what was read until then is returned, marked
        ``timed_out``.
        """
        with self._lock:
            started = time.monotonic()
            api = self._api
            api.SetImage(image)
            api.SetSourceResolution(dpi)
            if box is not None:
                api.SetRectangle(*box)
            finished = bool(api.Recognize(timeout=max(int(seconds * 1000), 1)))
            text = str(api.GetUTF8Text()) if finished else ""
            words = [c for c in api.AllWordConfidences() if c >= 0] if finished else []
            api.Clear()
            confidence = sum(words) / len(words) if words else 0.0
            return Recognised(text, round(confidence, 1), time.monotonic() - started,
                              timed_out=not finished)

    def orientation(self, image: Image.Image) -> tuple[int, float] | None:
        """The page's rotation clockwise (0, 90, 180, 270) and Tesseract's confidence in it.

        None without the orientation data, or when too little text is on the page to tell.
        """
        if not self.status.orientation:
            return None
        with self._lock:
            if self._osd is None:
                tess = self._tesserocr
                self._osd = tess.PyTessBaseAPI(lang=OSD_LANGUAGE, psm=tess.PSM.OSD_ONLY)
            self._osd.SetImage(image)
            try:
                found = self._osd.DetectOrientationScript()
            except RuntimeError:
                found = None
            self._osd.Clear()
        if not found:
            return None
        return int(found["orient_deg"]), float(found["orient_conf"])

    def close(self) -> None:
        """Free Tesseract's memory (the model is about 20 MB)."""
        with self._lock:
            self._api.End()
            if self._osd is not None:
                self._osd.End()


_ENGINE_LOCK = threading.Lock()
_engine: OcrEngine | None = None
_engine_error: str | None = None


def shared_engine() -> OcrEngine | None:
    """This process's engine, started on first use; None when OCR is unavailable here."""
    global _engine, _engine_error
    with _ENGINE_LOCK:
        if _engine is None and _engine_error is None:
            try:
                _engine = OcrEngine()
            except RuntimeError as exc:
                _engine_error = str(exc)
        return _engine


def unavailable_reason() -> str:
    """Why :func:`shared_engine` gave None (empty while OCR works or was not tried)."""
    return _engine_error or ""


if __name__ == "__main__":  # ocr_status_apart(): the check as one JSON object
    print(json.dumps(asdict(ocr_status())))
