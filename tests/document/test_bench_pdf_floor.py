"""bench/pdf_floor.py, briefly: it measures every part it names on the bench's own letters, and
what it calls PDFium's text of the pages is the letter's text (its number, its addressee, its
closing). No timing is asserted (speed is a benchmark result, never a test)."""

from __future__ import annotations

import binascii
import json
from pathlib import Path

import pytest

pytest.importorskip("fpdf", reason="fpdf2 (the test extra) builds the bench's letters")


def test_the_floor_benchmark_reads_the_letters_pages_and_reports_each_part(
        tmp_path: Path) -> None:
    from bench.messages import Variant
    from bench.pdf_floor import CACHE, _pdf_part, main, pdfium_text

    out = tmp_path / "floor.json"
    assert main(["--letters", "2", "--rounds", "1", "--json", str(out)]) == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["letters"] == 2 and report["message_bytes"] > report["pdf_bytes"] > 100_000
    parts = report["ms_per_letter"]
    assert set(parts) == {"base64", "pdfium_text", "govmilter_pdf_text", "govmilter_scan",
                          "floor"}
    assert all(value > 0 for value in parts.values())
    assert parts["floor"] == pytest.approx(parts["base64"] + parts["pdfium_text"], abs=0.002)
    # the second letter (written by the run above): its own number, first and last page read
    text = pdfium_text(binascii.a2b_base64(_pdf_part((CACHE / "pdf-00001.eml").read_bytes())))
    assert Variant(1).number in text and "Kính gửi" in text and "Nơi nhận" in text
