"""Vietnamese text normalisation: NFC, diacritic-free skeletons and ASCII folding.

Accent-aware matching needs NFC, but NFC does not unify old and new tone placement
(``hòa``/``hoà``). Key phrases are therefore matched on a *skeleton*: NFD, combining marks
dropped, ``đ`` → ``d``, whitespace collapsed, casefolded. Secrecy markings are the exception
(``MẬT`` skeletonises to ``mat``, which collides with *mất*/*mặt*) and are matched on NFC text.
"""

from __future__ import annotations

import re
import unicodedata

_SPACE_RE = re.compile(r"\s+")
_DASH_RE = re.compile(r"[‐-―−]")  # hyphen, en dash, em dash, minus ... → "-"
_D_TABLE = str.maketrans({"đ": "d", "Đ": "D"})


def nfc(text: str) -> str:
    """Return ``text`` in Unicode NFC, the form accent-aware patterns are written in."""
    return unicodedata.normalize("NFC", text)


def strip_diacritics(text: str) -> str:
    """Remove Vietnamese (and other Latin) diacritics, keeping case: ``Hòa Đông`` → ``Hoa Dong``."""
    decomposed = unicodedata.normalize("NFD", text.translate(_D_TABLE))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).translate(_D_TABLE)


def skeleton(text: str) -> str:
    """Return the diacritic-free, casefolded, whitespace-collapsed form used for key phrases.

    Dashes of every width become ``-`` so that the motto ``Độc lập – Tự do – Hạnh phúc`` matches
    whatever separator the author typed.
    """
    folded = strip_diacritics(text).casefold()
    folded = _DASH_RE.sub("-", folded)
    return _SPACE_RE.sub(" ", folded).strip()


def to_ascii(text: str) -> str:
    """Fold text to printable ASCII for SMTP replies: diacritics dropped, anything else replaced.

    SMTP reply text must be ASCII unless the client negotiated SMTPUTF8; unaccented Vietnamese
    stays readable, which a replacement character would not.
    """
    folded = strip_diacritics(text)
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in folded)
