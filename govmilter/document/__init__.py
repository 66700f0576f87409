"""Official-document detection: is there a Vietnamese administrative document in this message?

``detect_document`` reads the subject, the text bodies and the attachments (PDF, DOCX, ODT,
XLSX, PPTX, Word/Excel/PowerPoint 97-2003, RTF, edXML, text, and archives: ZIP, RAR, 7z, tar,
gzip, bzip2, xz, inside each other down to ``limits.max_archive_depth``) within the policy's
limits, and scores the cues it finds:

- :mod:`.cues`: text cues and their weights (heading, number/symbol, V/v, markings...);
- :mod:`.legacy`: repair of TCVN3, VNI, CP1258 and UTF-8 mojibake text;
- :mod:`.extract` with :mod:`.pdf`, :mod:`.office` (OOXML, ODF), :mod:`.ole` (Office 97-2003),
  :mod:`.rtf`, :mod:`.edxml`, :mod:`.archive` (ZIP), :mod:`.packed` (the other archives, through
  libarchive): attachment text, bounded by :mod:`.budget`;
- :mod:`.detect`: the scoring and the evidence (:mod:`.evidence`, :mod:`.settings`).

May import: :mod:`govmilter.mail` only.
"""

from govmilter.document.cues import (
    ADMIN_RE,
    DOCUMENT_TYPES,
    PARTY_RE,
    VBQPPL_RE,
    Cue,
    filename_cues,
    find_secrecy,
    find_symbol,
    find_urgency,
    subject_cues,
    text_cues,
)
from govmilter.document.detect import detect_document

__all__ = [
    "ADMIN_RE",
    "DOCUMENT_TYPES",
    "PARTY_RE",
    "VBQPPL_RE",
    "Cue",
    "detect_document",
    "filename_cues",
    "find_secrecy",
    "find_symbol",
    "find_urgency",
    "subject_cues",
    "text_cues",
]
