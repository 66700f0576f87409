"""Letters typed in the legacy Vietnamese font encodings TCVN3 (ABC) and VNI-Windows, encoded by
a table independent of the detector's (``tests/data/legacy-fonts.tsv``, from a public keyboard
program, with its source in the file), so the detector's repair is not measured against its own
inverse.

A Word document typed in a ``.VnTime`` or ``VNI-Times`` font stores the font's bytes as
Windows-1252 characters (``CéNG HßA`` for CỘNG HÒA in the upper-case TCVN3 font); a text file
holds the bytes themselves.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from pathlib import Path

import pytest
from letters import UBND_OFFICIAL, UBND_SECRET, message, verdict_of
from real_corpus import read_manifest

from govmilter.policy.model import Action

pytest.importorskip("fpdf", reason="make_corpus (the test extra) builds the DOCX")
from make_corpus import docx_bytes

TABLE = Path(__file__).parent.parent / "data" / "legacy-fonts.tsv"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ENCODINGS = ("TCVN3", "VNI")


@cache
def font_table(encoding: str) -> dict[str, str]:
    """Letter -> its characters in ``encoding`` (as Windows-1252), from the independent table."""
    column = 1 + ENCODINGS.index(encoding)
    rows = [line.split("\t") for line in TABLE.read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("#")]
    return {row[0]: bytes.fromhex(row[column]).decode("cp1252") for row in rows}


def typed_in(encoding: str, text: str) -> str:
    """``text`` as a legacy font stores it (characters outside the table stay as they are)."""
    table = font_table(encoding)
    return "".join(table.get(char, char) for char in unicodedata.normalize("NFC", text))


def in_docx(text: str) -> bytes:
    return message("Gửi anh chị file đính kèm.", "Gửi anh chị",
                   attachments=(("vb.docx", DOCX_TYPE, docx_bytes(text.split("\n"))),))


def test_the_table_covers_every_vietnamese_letter() -> None:
    for encoding in ENCODINGS:
        table = font_table(encoding)
        assert len(table) == 134  # 67 letters with diacritics and đ, in both cases
        assert typed_in(encoding, "MẬT") != "MẬT"


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("carrier", ["DOCX", "text file"])
def test_a_secret_letter_in_a_legacy_font_is_refused(encoding: str, carrier: str) -> None:
    typed = typed_in(encoding, UBND_SECRET)
    raw = in_docx(typed) if carrier == "DOCX" else message(
        "Gửi anh.", attachments=(("vb.txt", "application/octet-stream", typed.encode("cp1252")),))
    verdict = verdict_of(raw)
    assert (verdict.action, verdict.rule) == (Action.REJECT, "secret-to-freemail"), \
        verdict.evidence
    assert any("secrecy marking MẬT" in item for item in verdict.evidence)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_an_unmarked_letter_in_a_legacy_font_is_tagged(encoding: str) -> None:
    verdict = verdict_of(in_docx(typed_in(encoding, UBND_OFFICIAL)))
    assert (verdict.action, verdict.rule) == (Action.TAG, "document-to-freemail"), \
        verdict.evidence


def test_the_real_texts_read_the_same_in_a_legacy_font() -> None:
    """Every text of the real corpus (both splits), as a DOCX typed in TCVN3 and in VNI, gets
    the class its Unicode DOCX gets (docs/detection.md, "Real documents")."""
    differ = []
    for source in read_manifest():
        unicode = verdict_of(in_docx(source.text)).document
        for encoding in ENCODINGS:
            legacy = verdict_of(in_docx(typed_in(encoding, source.text))).document
            if legacy is not unicode:
                differ.append(f"{source.id} {encoding}: {legacy.value} (Unicode {unicode.value})")
    assert not differ, differ
