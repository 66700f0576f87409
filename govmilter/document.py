"""Official-document detection: is there a Vietnamese administrative document in this message?

Each cue found adds to a score; the message is official when the score reaches the policy's
threshold. Evidence strings name the cue and where it was found, never the surrounding text.
Key phrases are matched on diacritic-free skeletons (see :mod:`govmilter.vntext`); secrecy and
urgency markings are matched accent-aware on NFC text, as standalone lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from govmilter.message import MessageContent
from govmilter.policy.model import DetectionSettings
from govmilter.verdict import OfficialDocumentEvidence
from govmilter.vntext import nfc, skeleton, strip_diacritics

_UP = "A-ZĐÂĂÊÔƠƯ"
_ABBR = rf"[{_UP}][{_UP}a-zđ0-9&.]*"
#: Legal documents: 30/2020/NĐ-CP, 01/2011/TT-BNV, 50/2005/QH11
VBQPPL_RE = re.compile(rf"(?<![\d/])(\d{{1,5}})/(\d{{4}})/({_ABBR})(?:-({_ABBR}))?")
#: Administrative documents: 588/BTTTT-THH, 05/TTr-UBND, 12/SGD&ĐT-GDTH
ADMIN_RE = re.compile(rf"(?<![\d/])(\d{{1,5}})/({_ABBR})-({_ABBR}(?:-{_ABBR})*)")
#: Party documents: 15-CV/TU, 36-HD/VPTW
PARTY_RE = re.compile(rf"(?<![\d/])(\d{{1,5}})-({_ABBR})/({_ABBR})")
_NUMBER_LINE_RE = re.compile(rf"\bS[ốo]\s*[:.]?\s*(\d{{1,5}}\s*[/-]\s*{_ABBR}[^\s,;]*)",
                             re.IGNORECASE)
_VV_RE = re.compile(r"^\s*V/v\s*:?\s+\S", re.IGNORECASE | re.MULTILINE)
_SECRECY_RE = re.compile(r"^[\s*\"'“”(\[]*(TUYỆT MẬT|TỐI MẬT|MẬT)[\s*\"'“”)\].]*$", re.MULTILINE)
_URGENCY_RE = re.compile(r"^[\s*\"'“”(\[]*(HỎA TỐC HẸN GIỜ|HOẢ TỐC HẸN GIỜ|HỎA TỐC|HOẢ TỐC|"
                         r"THƯỢNG KHẨN|KHẨN)[\s*\"'“”)\].]*$", re.MULTILINE)
_SIGN_RE = re.compile(r"(?m)^\s*(TM|KT|TL|TUQ|Q)\.\s+\S")

# Skeleton phrases (diacritics removed, casefolded) with their weights.
_HEADING = "cong hoa xa hoi chu nghia viet nam"
_MOTTO_RE = re.compile(r"doc lap\s*-\s*tu do\s*-\s*hanh phuc")
_SK_CUES: tuple[tuple[re.Pattern[str], float, str], ...] = (
    (re.compile(r"\bkinh gui\s*:"), 1.0, "salutation 'Kính gửi:'"),
    (re.compile(r"\bnoi nhan\s*:"), 1.5, "recipient list 'Nơi nhận:'"),
    (re.compile(r"\bluu\s*:?\s*vt\b"), 1.0, "archive mark 'Lưu: VT'"),
    (re.compile(r"\bngay\s+\d{1,2}\s+thang\s+\d{1,2}\s+nam\s+\d{4}"), 1.0, "date line"),
    (re.compile(r"\./\.\s*$", re.MULTILINE), 0.5, "closing mark './.'"),
)
DOCUMENT_TYPES = (
    "nghi quyet", "quyet dinh", "chi thi", "quy che", "quy dinh", "thong cao", "thong bao",
    "huong dan", "chuong trinh", "ke hoach", "phuong an", "de an", "du an", "bao cao",
    "bien ban", "to trinh", "hop dong", "cong van", "cong dien", "ban ghi nho", "ban thoa thuan",
    "giay uy quyen", "giay moi", "giay gioi thieu", "giay nghi phep", "phieu gui",
    "phieu chuyen", "phieu bao", "thu cong",
)
_TYPE_LINE_RE = re.compile(
    r"(?m)^\s*(" + "|".join(t.upper() for t in DOCUMENT_TYPES) + r")\s*$"
)


@dataclass(frozen=True, slots=True)
class Cue:
    """One piece of evidence: what was found, where, and how much it weighs."""

    weight: float
    description: str
    source: str

    def __str__(self) -> str:
        return f"{self.source}: {self.description}"


def find_symbol(text: str) -> str | None:
    """Return the first document number/symbol in ``text`` (``588/BTTTT-THH``), or None."""
    for pattern in (VBQPPL_RE, ADMIN_RE, PARTY_RE):
        match = pattern.search(text)
        if match:
            return match.group(0)
    return None


def find_secrecy(text: str) -> str | None:
    """Return the most severe secrecy marking written as a standalone line, or None."""
    found = {m.group(1) for m in _SECRECY_RE.finditer(nfc(text))}
    for level in ("TUYỆT MẬT", "TỐI MẬT", "MẬT"):
        if level in found:
            return level
    return None


def find_urgency(text: str) -> str | None:
    """Return the urgency marking written as a standalone line (``HỎA TỐC``...), or None."""
    match = _URGENCY_RE.search(nfc(text))
    return match.group(1).replace("HOẢ", "HỎA") if match else None


def text_cues(text: str, source: str) -> list[Cue]:
    """Score one text (a body, an extracted attachment, a subject) for document cues."""
    cues: list[Cue] = []
    text = nfc(text)
    sk = skeleton(text)
    if _HEADING in sk:
        cues.append(Cue(3.0, "national heading", source))
    if _MOTTO_RE.search(sk):
        cues.append(Cue(2.0, "motto 'Độc lập - Tự do - Hạnh phúc'", source))
    number = _NUMBER_LINE_RE.search(text) or _NUMBER_LINE_RE.search(strip_diacritics(text))
    symbol = find_symbol(text)
    if number and symbol:
        cues.append(Cue(3.0, f"number/symbol {symbol}", source))
    elif symbol:
        cues.append(Cue(1.5, f"symbol {symbol}", source))
    if _VV_RE.search(text):
        cues.append(Cue(1.5, "abstract line 'V/v'", source))
    for pattern, weight, description in _SK_CUES:
        if pattern.search(sk):
            cues.append(Cue(weight, description, source))
    if _SIGN_RE.search(text):
        cues.append(Cue(1.0, "signing authority (TM./KT./TL.)", source))
    type_line = _TYPE_LINE_RE.search(strip_diacritics(text).upper())
    if type_line:
        cues.append(Cue(1.0, f"document type '{type_line.group(1).lower()}'", source))
    secrecy = find_secrecy(text)
    if secrecy:
        cues.append(Cue(2.0, f"secrecy marking {secrecy}", source))
    urgency = find_urgency(text)
    if urgency:
        cues.append(Cue(1.0, f"urgency marking {urgency}", source))
    return cues


def subject_cues(subject: str) -> list[Cue]:
    """Cues in the Subject: a number/symbol or a 'V/v' abstract is common there."""
    cues: list[Cue] = []
    symbol = find_symbol(nfc(subject))
    if symbol:
        cues.append(Cue(2.5, f"number/symbol {symbol}", "subject"))
    if re.search(r"(?i)(^|\s)V/v\b", subject):
        cues.append(Cue(1.0, "abstract 'V/v'", "subject"))
    return cues


def filename_cues(filename: str) -> list[Cue]:
    """Cues in an attachment's file name: ``588_BTTTT-THH.pdf``, ``1896_QD-TTg.doc``."""
    name = strip_diacritics(nfc(filename)).rsplit(".", 1)[0]
    candidate = re.sub(r"^(\d{1,5})[_ ]", r"\1/", name)
    symbol = find_symbol(candidate)
    if symbol:
        return [Cue(2.0, f"number/symbol {symbol} in a file name", "attachment")]
    return []


def detect_document(content: MessageContent, settings: DetectionSettings
                    ) -> OfficialDocumentEvidence:
    """Decide whether the message carries an official document, with evidence and markings."""
    cues = subject_cues(content.subject)
    secrecy: str | None = None
    urgency: str | None = None
    # Each cue description counts once per message: a body and its HTML twin must not double up.
    for part in content.texts:
        cues.extend(text_cues(part.text, part.source))
        secrecy = _more_secret(secrecy, find_secrecy(part.text))
        urgency = urgency or find_urgency(part.text)
    for attachment in content.attachments:
        if attachment.filename:
            cues.extend(filename_cues(attachment.filename))
    unique: dict[str, Cue] = {}
    for cue in cues:
        key = cue.description
        if key not in unique or unique[key].weight < cue.weight:
            unique[key] = cue
    score = sum(c.weight for c in unique.values())
    official = score >= settings.threshold
    return OfficialDocumentEvidence(
        official=official, score=round(score, 2), secrecy=secrecy if official else None,
        urgency=urgency if official else None,
        evidence=tuple(str(c) for c in unique.values()), unscannable=content.unscannable,
    )


_SECRECY_ORDER = {None: 0, "MẬT": 1, "TỐI MẬT": 2, "TUYỆT MẬT": 3}


def _more_secret(a: str | None, b: str | None) -> str | None:
    return a if _SECRECY_ORDER.get(a, 0) >= _SECRECY_ORDER.get(b, 0) else b
