"""Benchmark: messages per second through ``scan_message`` for typical document attachments.

    PYTHONPATH=. python bench/detection.py [--seconds 3]

Builds (with the corpus generator, so fpdf2 is needed) a message carrying a ~200 KB PDF and one
carrying a ~1 MB DOCX (text plus an embedded image, as real ones are), then scans each repeatedly
with the default policy on one thread. A benchmark, not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: the checkout's govmilter and bench

import bench  # noqa: E402, F401  (puts tests/ on sys.path for make_corpus)

# isort: split
from make_corpus import (  # noqa: E402
    attachment,
    docx_bytes,
    envelope,
    make_document,
    pdf_bytes,
    with_cover,
)

from govmilter.policy import load_policy  # noqa: E402
from govmilter.scan import scan_message  # noqa: E402


def pdf_message(target: int = 200 * 1024) -> bytes:
    """A message with one official PDF of about ``target`` bytes (text pages added to reach it)."""
    doc = make_document(0, random.Random(1))
    pages = 0
    data = pdf_bytes(doc.header, doc.lines)
    while len(data) < target:
        pages += 2
        data = pdf_bytes(doc.header, doc.lines, pad_pages=pages)
    message = with_cover("Văn thư gửi văn bản đính kèm.", [attachment(data, "vb.pdf", "pdf")])
    return envelope(message, "Văn bản", "vanthu@mic.gov.vn", "a@gmail.com", 0)


def docx_message(target: int = 1024 * 1024) -> bytes:
    """A message with one official DOCX of about ``target`` bytes (text and a 'photo')."""
    doc = make_document(1, random.Random(2))
    rng = random.Random(3)
    lines = list(doc.text(columns=False).split("\n")) + [
        f"Mục {i}: " + " ".join(rng.choice(doc.lines[-6:-3]).split()[:12]) for i in range(600)]
    text_only = docx_bytes(lines)
    image = bytes(rng.getrandbits(8) for _ in range(max(target - len(text_only), 0)))
    data = docx_bytes(lines, media=image)
    message = with_cover("Gửi anh văn bản.", [attachment(data, "vb.docx")])
    return envelope(message, "Văn bản", "vanthu@mic.gov.vn", "a@gmail.com", 1)


def rate(raw: bytes, seconds: float) -> tuple[float, bool]:
    """Messages per second scanning ``raw`` for about ``seconds``, and whether it was official."""
    policy = load_policy(None)
    official = scan_message(raw, policy).document.official  # warm-up: imports, font caches
    count = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        scan_message(raw, policy)
        count += 1
    return count / (time.perf_counter() - start), official


def main() -> int:
    """Print one line per message kind."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    args = parser.parse_args()
    for name, raw in (("PDF ~200 KB", pdf_message()), ("DOCX ~1 MB", docx_message())):
        per_second, official = rate(raw, args.seconds)
        print(f"{name:12} message {len(raw) / 1024:7.0f} KiB: {per_second:8.1f} messages/s "
              f"({1000 / per_second:6.1f} ms each), official={official}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
