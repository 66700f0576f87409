"""The document detector's settings and the document classes rules match on."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class DocumentClass(enum.StrEnum):
    """What a message carries, as seen by the document detector.

    ``secret`` is a kind of ``official``: a rule on ``official`` also matches secret documents, so
    a policy without a secret rule never lets them through more easily than other documents.
    ``marked`` is mail with a secrecy marking that does not score as an official document (a
    marked page forwarded without its heading, a company letter marked MẬT). It is a kind of
    ``secret`` in turn: rules on ``secret`` and ``official`` match it too, so a marking alone
    is treated as a secret document by every rule, and a rule on ``marked`` names just this case.
    """

    ANY = "any"
    OFFICIAL = "official"  #: an official document, secret or not
    SECRET = "secret"  #: an official document marked MẬT, TỐI MẬT or TUYỆT MẬT
    MARKED = "marked"  #: a secrecy marking on mail that does not score as an official document
    UNSCANNABLE = "unscannable"  #: no document found, but some part could not be scanned
    NONE = "none"  #: no official document, everything scanned


@dataclass(frozen=True, slots=True)
class DetectionSettings:
    """Thresholds of the official-document detector."""

    threshold: float = 5.0
    #: Count a message as official only when it also names the document: a number/symbol
    #: (``Số: 588/BTTTT-THH``, in the text, subject or a file name), an edXML envelope or a
    #: Government CA signature. Decree 30/2020 makes the number a mandatory component; without
    #: it, letters that merely copy the national heading (job applications) would count.
    require_symbol: bool = True
