"""What reading the bench's PDF letter costs at the least, without any govmilter code.

    python -m bench.pdf_floor --json out.json

On the messages of the ``pdf`` mix (bench/messages.py: each a different 200 KB letter), the CPU
per letter (best of alternating rounds, one process) of:

- ``base64``: decoding the attachment's base64 (``binascii.a2b_base64``, as the stdlib does);
- ``pdfium_text``: PDFium (pypdfium2) opening the PDF and reading the plain text of the pages
  govmilter reads in it (the first two and the last: ``pdf_text`` reads from the start until
  2,000 characters and from the end until 100), one call per page, then closing it;
- ``floor``: the two together, the least any scanner that reads those pages pays;
- ``govmilter_pdf_text``: govmilter's text of the same PDF (``pdf_text``: the same pages, with
  the column layout and the annotations), for comparison;
- ``govmilter_scan``: govmilter's whole scan of the message (``scan_deferring_ocr``: parse,
  decode, PDF text, signatures, cues), for comparison.

The govmilter measured is the one Python imports: run the file as a script with another
checkout on ``PYTHONPATH`` (from outside both) to measure that checkout in the same way.

docs/performance.md ("PDF letters") sets these beside the CPU per letter the target allows.
"""

from __future__ import annotations

import argparse
import binascii
import email
import email.policy
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.messages import write_messages

CACHE = Path(tempfile.gettempdir()) / "govmilter-bench-messages"  #: as bench.run's


def _pdf_part(raw: bytes) -> bytes:
    """The base64 text of the message's PDF attachment."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    for part in message.walk():
        if part.get_content_type() == "application/pdf":
            payload = part.get_payload()
            assert isinstance(payload, str)
            return payload.encode("ascii")
    raise ValueError("no PDF attachment")


def pdfium_text(data: bytes) -> str:
    """The text of pages 1, 2 and the last, one PDFium call each."""
    import pypdfium2

    document = pypdfium2.PdfDocument(data)
    try:
        texts = []
        for index in sorted({0, 1, len(document) - 1} & set(range(len(document)))):
            page = document[index]
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return "\n".join(texts)
    finally:
        document.close()


def per_item_ms(work: Callable[[Any], object], items: list[Any]) -> float:
    """CPU milliseconds per item of one pass over ``items``."""
    start = time.process_time()
    for item in items:
        work(item)
    return (time.process_time() - start) / len(items) * 1000


def measure(letters: int, rounds: int) -> dict[str, Any]:
    """Best of ``rounds`` alternating rounds of each measurement over ``letters`` letters."""
    kinds = write_messages(CACHE, ["pdf"], {"pdf": letters})
    raws = [path.read_bytes() for path in kinds["pdf"].files]
    encoded = [_pdf_part(raw) for raw in raws]
    pdfs = [binascii.a2b_base64(text) for text in encoded]
    from govmilter.document.budget import ScanBudget
    from govmilter.document.pdf import pdf_text
    from govmilter.policy.loader import load_policy
    from govmilter.scan import scan_deferring_ocr

    policy = load_policy()

    def scan(raw: bytes) -> object:
        return scan_deferring_ocr(raw, policy.limits, policy.detection)

    def text(data: bytes) -> object:
        return pdf_text(data, ScanBudget(policy.limits))

    work: dict[str, tuple[Callable[[Any], object], list[Any]]] = {
        "base64": (binascii.a2b_base64, encoded), "pdfium_text": (pdfium_text, pdfs),
        "govmilter_pdf_text": (text, pdfs), "govmilter_scan": (scan, raws)}
    for function, items in work.values():  # warm: imports, first page loads
        per_item_ms(function, items[:3])
    best = {name: float("inf") for name in work}
    for _ in range(rounds):
        for name, (function, items) in work.items():
            best[name] = min(best[name], per_item_ms(function, items))
    import govmilter

    return {"govmilter": str(Path(govmilter.__file__).parent.parent), "letters": letters,
            "rounds": rounds, "message_bytes": len(raws[0]),
            "pdf_bytes": len(pdfs[0]),
            "ms_per_letter": {**{name: round(value, 3) for name, value in best.items()},
                              "floor": round(best["base64"] + best["pdfium_text"], 3)}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--letters", type=int, default=40, help="different letters (40)")
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds (7)")
    parser.add_argument("--json", metavar="FILE", help="also write the results here")
    args = parser.parse_args(argv)
    report = measure(args.letters, args.rounds)
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
