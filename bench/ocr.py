"""Benchmark: what OCR costs per page and per region, and what reading regions first saves.

    PYTHONPATH=. python bench/ocr.py [--repeat 3]

Pages are made as in the tests (tests/scans.py: a full A4 letter in DejaVu Sans, red boxed
TỐI MẬT stamp, red seal, grey paper, 1.5° rotation, noise, JPEG). Times are CPU seconds of this
process (Tesseract runs in the calling thread, one OpenMP thread), best of ``--repeat``, so other
jobs on the machine change them little. A benchmark, not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from email.message import EmailMessage
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: the checkout's govmilter and bench

import bench  # noqa: E402, F401  (puts tests/ on sys.path for scans)

# isort: split
from scans import degrade, official_letter, render_page, scanned_pdf  # noqa: E402

from govmilter.document.budget import ScanBudget  # noqa: E402
from govmilter.document.images import PageImage  # noqa: E402
from govmilter.document.ocr import OcrEngine  # noqa: E402
from govmilter.document.ocrcache import SHARED_CACHE  # noqa: E402
from govmilter.document.scanned import TOP_SHARE, Judgement, OcrSession, OcrText  # noqa: E402
from govmilter.mail.limits import Limits  # noqa: E402
from govmilter.policy import load_policy  # noqa: E402
from govmilter.scan import scan_message  # noqa: E402


def cpu_ms(work: Callable[[], object], repeat: int) -> float:
    """Best-of-``repeat`` CPU milliseconds of ``work()``."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        work()
        best = min(best, time.process_time() - start)
    return best * 1000


def regions(engine: OcrEngine, repeat: int) -> None:
    print("one full first page: CPU ms, whole page / top third / the other two thirds")
    for dpi in (150, 200, 300):
        page = degrade(render_page(official_letter("TỐI MẬT", body=3)[0], dpi), 1, angle=1.5)
        width, height = page.size
        top = page.crop((0, 0, width, round(height * TOP_SHARE)))
        rest = page.crop((0, round(height * TOP_SHARE), width, height))
        whole_ms, top_ms, rest_ms = (
            cpu_ms(partial(engine.recognise, image, dpi, 60), repeat)
            for image in (page, top, rest))
        print(f"  {dpi} dpi: {whole_ms:6.0f} / {top_ms:5.0f} / {rest_ms:5.0f}"
              f"   (top third = {top_ms / whole_ms:.0%} of the page)")


def letter(engine: OcrEngine, repeat: int) -> None:
    print("scanned letter, 2 pages, 200 dpi, TỐI MẬT: CPU ms and regions read")
    pages = [PageImage(degrade(render_page(p, 200), i, angle=1.0), 200)
             for i, p in enumerate(official_letter("TỐI MẬT", pages=2, body=3))]

    def stamp_and_number(texts: list[OcrText]) -> Judgement:
        joined = "\n".join(t.text for t in texts)
        return Judgement(official="125/UBND-VP" in joined, marked="MẬT" in joined)

    counted: list[int] = []
    for name, judge in (("regions first, stop when decided", stamp_and_number),
                        ("no stop: both pages, every region", None)):

        def read(judge: Callable[[list[OcrText]], Judgement] | None = judge) -> None:
            session = OcrSession(engine, ScanBudget(Limits(max_seconds=120, max_ocr_seconds=120)),
                                 judge=judge)
            session.read("scan", "attachment 1", len(pages), pages.__getitem__)
            counted[:] = [session.regions_read]
        print(f"  {name}: {cpu_ms(read, repeat):6.0f} ms, {counted[0]} region(s)")
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@mic.gov.vn", "b@gmail.com", "scan"
    message.set_content("Gửi bản quét.")
    message.add_attachment(scanned_pdf([p.image for p in pages], 200), maintype="application",
                           subtype="pdf", filename="scan.pdf")
    raw, policy = message.as_bytes(), load_policy(None)
    found: list[str] = []

    def scan() -> None:
        SHARED_CACHE.clear()
        found[:] = [scan_message(raw, policy).document.document_class]
    print(f"  the whole scan (PDF rendering, OCR, detection; as a scan worker does): "
          f"{cpu_ms(scan, repeat):6.0f} ms, class {found[0]}")

    def again() -> None:
        found[:] = [scan_message(raw, policy).document.document_class]
    again()
    print(f"  the same scan again, from the OCR cache: {cpu_ms(again, repeat):6.1f} ms, "
          f"class {found[0]}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    engine = OcrEngine()
    print(engine.status.detail)
    regions(engine, args.repeat)
    letter(engine, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
