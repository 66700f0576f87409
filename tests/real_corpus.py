"""Build the real-document corpus (``tests/data/real``) as labelled messages, one set per carrier.

    python tests/real_corpus.py OUT_DIR

reads ``tests/data/real/SOURCES.tsv`` (one row per text: id, label, kind, issuer, year, secrecy,
source URL, title, date taken, split, note) and writes
``OUT_DIR/<split>/<carrier>/{official,negative}/<id>.eml`` for every carrier, so that
``govmilter eval OUT_DIR/holdout/pdf`` measures one split in one carrier. The texts are public
pages as the search index stored them (see ``docs/detection.md``, "Real documents"); they are
never edited, only carried: as the message body, as a PDF (DejaVu Sans), a DOCX, and that DOCX
inside a ZIP, a 7z and a tar.gz. The subject and sender are the same neutral ones for every
message, so only the text can tell the label.

The split is fixed by the id (:func:`split_of`): ``holdout`` rows are for reporting only; nobody
tunes the detector on them.
"""

from __future__ import annotations

import csv
import hashlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

from archive_tools import seven_zip, tar_archive
from make_corpus import _zip, attachment, docx_bytes, envelope, pdf_bytes, text_part, with_cover

REAL = Path(__file__).parent / "data" / "real"
MANIFEST = REAL / "SOURCES.tsv"
FIELDS = ("id", "label", "kind", "issuer", "year", "secrecy", "url", "title", "taken", "split",
          "note")
SPLITS = ("tune", "holdout")
SUBJECT = "Gửi anh chị"
COVER = "Gửi anh chị file đính kèm."


@dataclass(frozen=True, slots=True)
class Source:
    """One row of the manifest."""

    id: str
    label: str  #: "official" or "negative"
    kind: str
    issuer: str
    year: str
    secrecy: str  #: "-": real secret documents are not public
    url: str
    title: str
    taken: str
    split: str
    note: str

    @property
    def text(self) -> str:
        return (REAL / f"{self.id}.txt").read_text(encoding="utf-8")


def split_of(item_id: str) -> str:
    """The fixed split of an id: the parity of the first byte of its SHA-256."""
    return SPLITS[hashlib.sha256(item_id.encode()).digest()[0] % 2]


def read_manifest(path: Path = MANIFEST) -> list[Source]:
    """Every row of the manifest, in file order."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [Source(**{name: row[name] for name in FIELDS}) for row in rows]


def _lines(text: str) -> list[str]:
    return text.split("\n")


def _body(source: Source) -> Message:
    return text_part(source.text)


def _pdf(source: Source) -> Message:
    return with_cover(COVER, [attachment(pdf_bytes((), _lines(source.text)), "tai-lieu.pdf",
                                         "pdf")])


def _docx(source: Source) -> bytes:
    return docx_bytes(_lines(source.text))


def _docx_part(source: Source) -> Message:
    return with_cover(COVER, [attachment(_docx(source), "tai-lieu.docx")])


def _zip_part(source: Source) -> Message:
    return with_cover(COVER, [attachment(_zip({"tai-lieu.docx": _docx(source)}), "tai-lieu.zip",
                                         "zip")])


def _seven_zip_part(source: Source) -> Message:
    return with_cover(COVER, [attachment(seven_zip({"tai-lieu.docx": _docx(source)}),
                                         "tai-lieu.7z", "x-7z-compressed")])


def _tar_gz_part(source: Source) -> Message:
    return with_cover(COVER, [attachment(tar_archive({"tai-lieu.docx": _docx(source)}, "z"),
                                         "tai-lieu.tar.gz", "gzip")])


CARRIERS: dict[str, Callable[[Source], Message]] = {
    "body": _body, "pdf": _pdf, "docx": _docx_part, "zip": _zip_part, "7z": _seven_zip_part,
    "tar.gz": _tar_gz_part,
}


def build(out: Path, carriers: tuple[str, ...] = tuple(CARRIERS)) -> dict[tuple[str, str], Path]:
    """Write every split x carrier corpus under ``out``; returns their directories."""
    folders: dict[tuple[str, str], Path] = {}
    for index, source in enumerate(read_manifest()):
        for carrier in carriers:
            folder = out / source.split / carrier
            folders[(source.split, carrier)] = folder
            target = folder / source.label / f"{source.id}.eml"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(envelope(CARRIERS[carrier](source), SUBJECT,
                                        "Someone <someone@example.com>", "ban@gmail.com",
                                        5000 + index))
    return folders


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    for (split, carrier), folder in sorted(build(Path(argv[1])).items()):
        print(f"{split}/{carrier}: {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
