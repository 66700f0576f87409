"""Forms of a domain name that a reader cannot tell apart: Unicode's confusable skeleton (UTS #39)
and the name without its diacritics.

The table (``confusables.txt`` beside this module) holds the rows of Unicode's UTS #39 data that
a normalised domain label can contain, each character with its prototype; it is made by
``scripts/make_confusables.py`` and read once, on first use.
"""

from __future__ import annotations

import functools
import unicodedata
from pathlib import Path

_TABLE = Path(__file__).with_name("confusables.txt")

#: Letters with a stroke that Unicode does not decompose, to their plain letter.
_STROKED = str.maketrans({"đ": "d", "Đ": "D", "ħ": "h", "ł": "l", "ŧ": "t", "ƀ": "b", "ɨ": "i"})


@functools.cache
def _prototypes() -> dict[int, str]:
    """Code point -> prototype string, for :meth:`str.translate`."""
    table: dict[int, str] = {}
    for line in _TABLE.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        source, target = line.split("\t")
        table[int(source, 16)] = "".join(chr(int(point, 16)) for point in target.split())
    return table


def data_version() -> str:
    """The Unicode version of the table (``13.0.0``)."""
    for line in _TABLE.read_text(encoding="utf-8").splitlines():
        if line.startswith("# Version:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def skeleton(text: str) -> str:
    """The UTS #39 skeleton of ``text``, lower-cased (domain names ignore case): NFD, each
    character replaced by its prototype, NFD again. Two names with one skeleton look alike:
    ``gоv`` (Cyrillic о) and ``ɡov`` (Latin script g) both give ``gov``; ``mic`` gives ``rnic``."""
    mapped = unicodedata.normalize("NFD", text).translate(_prototypes())
    return unicodedata.normalize("NFD", mapped).lower()


def without_marks(text: str) -> str:
    """``text`` without its diacritics: ``bộ`` -> ``bo``, ``đà`` -> ``da``."""
    decomposed = unicodedata.normalize("NFD", text.translate(_STROKED))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
