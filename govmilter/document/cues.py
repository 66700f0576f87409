"""Text cues of a Vietnamese administrative document, and their weights.

Each cue found adds to a score; the message is official when the score reaches the policy's
threshold (and, by default, a document number/symbol was found). Evidence strings name the cue
and where it was found, never the surrounding text. Key phrases are matched on diacritic-free
skeletons (see :mod:`govmilter.mail.vntext`); secrecy and urgency markings are matched
accent-aware on NFC text, as standalone lines, so that *mất* and *mặt* are never read as ``MẬT``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from govmilter.document.markings import (
    SECRECY_LEVELS,
    find_secrecy_marking,
    find_urgency_marking,
)
from govmilter.mail.vntext import (
    fold_lookalikes,
    is_common_vietnamese,
    nfc,
    skeleton_of_stripped,
    strip_diacritics,
)

#: Cues stand in a document's first page (heading, number, V/v, addressee) and its end (Nơi
#: nhận, Lưu, signer): a long text is scored on this many characters of head and of tail.
SCORED_HEAD_CHARS = 8 * 1024
SCORED_TAIL_CHARS = 8 * 1024

_UP = "A-ZĐÂĂÊÔƠƯ"
_ABBR = rf"[{_UP}][{_UP}a-zđ0-9&.]*"
# A number of 1 to 5 digits not preceded by a digit or "/". The look-behind comes after the first
# digit so that the pattern starts with a character class, which the regex engine scans for
# quickly; a leading look-behind would make it try every position of a long text.
_NUMBER = r"(\d(?<![\d/]\d)\d{0,4})"
#: Legal documents: 30/2020/NĐ-CP, 01/2011/TT-BNV, 50/2005/QH11
VBQPPL_RE = re.compile(rf"{_NUMBER}/(\d{{4}})/({_ABBR})(?:-({_ABBR}))?")
#: Administrative documents: 588/BTTTT-THH, 05/TTr-UBND, 12/SGD&ĐT-GDTH
ADMIN_RE = re.compile(rf"{_NUMBER}/({_ABBR})-({_ABBR}(?:-{_ABBR})*)")
#: Party documents: 15-CV/TU, 36-HD/VPTW
PARTY_RE = re.compile(rf"{_NUMBER}-({_ABBR})/({_ABBR})")
# "Số: 588/BTTTT-THH" opens a line (or follows a colon); "công văn số 588/..." inside a sentence
# is a citation, which news and replies do all the time, and only counts as a symbol.
# The pattern starts with the letter S so the regex engine can skip ahead; where it stands (line
# start, or after a word boundary with a colon) is checked in number_line(): an alternation
# starting with "^" would make the engine try every position. "Số" is spelled in both
# cases (and "ſ", which IGNORECASE also matches for "s"): under IGNORECASE the engine does not
# skip ahead either. The first spaces are possessive ("*+"): "Số" and a long run of spaces
# retried every split of the run between the two "\s*" (2 s on 16,000 spaces).
# Blanks may stand around the separators ("15 /2014/QĐ-UBND", "123 / UBND - VP": typed, or
# left by a PDF's justified text); each run of them is possessive, and _ABBR holds no blank, so
# a failed match retries nothing. number_line() gives the number with its blanks taken out.
_NUMBER_LINE_RE = re.compile(
    rf"[Ssſ][ỐốOo](?i:\s*+([:.]?)\s*(\d{{1,5}}[^\S\n]*+[/-][^\S\n]*+"
    rf"(?:\d{{4}}[^\S\n]*+/[^\S\n]*+)?{_ABBR}(?:[^\S\n]*+-[^\S\n]*+{_ABBR})*+[^\s,;]*))")
#: Separators a symbol may be typed with that read as "/" and "-": the fraction and division
#: slashes, hyphens and dashes of every width, the minus sign (NFKC, in fold_lookalikes(), only
#: covers the full-width forms).
_SEPARATOR_LOOKALIKES_RE = re.compile("[\u2010-\u2015\u2212\u2043\u2044\u2215\u29f8]")
_SEPARATOR_TABLE = str.maketrans({**dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015"
                                                  "\u2212\u2043", "-"),
                                  **dict.fromkeys("\u2044\u2215\u29f8", "/")})


def fold_separators(text: str) -> str:
    """``text`` with the look-alikes of ``/`` and ``-`` (en dash, fraction slash...) as those."""
    # most text has none: the en and em dashes are the only common characters among them
    if (is_common_vietnamese(text) and "\u2013" not in text and "\u2014" not in text) \
            or _SEPARATOR_LOOKALIKES_RE.search(text) is None:
        return text
    return text.translate(_SEPARATOR_TABLE)


def number_line(text: str) -> str | None:
    """The number and symbol of a "Số: ..." line (``588/BTTTT-THH``), or None."""
    if "/" not in text and "-" not in text:  # the number's separator: most mail is spared a scan
        return None
    for match in _NUMBER_LINE_RE.finditer(text):
        start = match.start()
        line_start = text.rfind("\n", 0, start) + 1
        before = text[start - 1] if start else " "
        if text[line_start:start].strip(" \t") and not (
                match.group(1) == ":" and not (before.isalnum() or before == "_")):
            continue  # neither opening its line nor "... Số: 588/..." after a word boundary
        return "".join(match.group(2).split())
    return None


# Whole-line patterns start with "\n", not "^", and are searched in "\n" + text: the regex engine
# then skips from newline to newline instead of trying "^" at every position.
# Linear on any text (tests/test_linear_patterns.py): the space that opens a line is
# [^\S\n] (a blank line is the next line's start; "\s*" there made every line of a blank run
# scan the whole run again), and two quantifiers over the same characters in a row ("\s*:?\s*")
# are possessive ("*+"), so a failed match does not retry every split of a run of spaces.
# A draft or template leaves the number blank: "Số:      /QĐ-UBND".
_BLANK_NUMBER_RE = re.compile(rf"\n[ \t]*S[ốo]\s*+:?[ \t._…]*+/\s*{_ABBR}-{_ABBR}",
                              re.IGNORECASE)
_VV_RE = re.compile(r"\n[^\S\n]*V/v(?:\s*+:)?\s++\S", re.IGNORECASE)
_SIGN_RE = re.compile(r"\n[^\S\n]*(TM|KT|TL|TUQ|Q)\.\s+\S")


def _word_first(word: str, rest: str) -> re.Pattern[str]:
    """``\\b`` + ``word`` + ``rest``, with the word boundary checked after the word.

    A pattern starting with ``\\b`` gives the regex engine no literal to skip ahead to, so it
    tries every position of the text instead of searching for the word.
    """
    literal = re.escape(word)
    return re.compile(rf"{literal}(?<!\w{literal}){rest}")


# Skeleton phrases (diacritics removed, casefolded) with their weights.
_HEADING = "cong hoa xa hoi chu nghia viet nam"
_HEADING_JOINED = _HEADING.replace(" ", "")
_PARTY_HEADING = "dang cong san viet nam"
_MOTTO_RE = re.compile(r"doc lap\s*-\s*tu do\s*-\s*hanh phuc")
_SK_CUES: tuple[tuple[str, re.Pattern[str], float, str], ...] = (
    ("salutation", _word_first("kinh gui", r"\s*:"), 1.0, "salutation 'Kính gửi:'"),
    ("recipients", _word_first("noi nhan", r"\s*:"), 1.5, "recipient list 'Nơi nhận:'"),
    ("archive", _word_first("luu", r"\s*+(?::\s*+)?vt\b"), 1.0, "archive mark 'Lưu: VT'"),
    # "ngày 5 tháng 3 năm 2024", a draft's "ngày   tháng   năm 2024" (blanks, dots, "…"), typed
    # without a space ("ngày05"); in digits only after the place ("Hà Nội, ngày 05/3/2024"),
    # as a sentence names a day that way too ("họp ngày 05/3/2024")
    ("date", _word_first("ngay", r"\s*+(?:\d{1,2}|[._…]*+)\s*+thang\s*+(?:\d{1,2}|[._…]*+)"
                                 r"\s*+nam\s*+\d{4}"), 1.0, "date line"),
    ("date", re.compile(r",\s*+ngay\s*+\d{1,2}\s*+[/.-]\s*+\d{1,2}\s*+[/.-]\s*+\d{4}"), 1.0,
     "date line"),
    ("closing", re.compile(r"\./\.\s*$", re.MULTILINE), 0.5, "closing mark './.'"),
)
DOCUMENT_TYPES = (
    "nghi quyet", "quyet dinh", "chi thi", "quy che", "quy dinh", "thong cao", "thong bao",
    "huong dan", "chuong trinh", "ke hoach", "phuong an", "de an", "du an", "bao cao",
    "bien ban", "to trinh", "hop dong", "cong van", "cong dien", "ban ghi nho", "ban thoa thuan",
    "giay uy quyen", "giay moi", "giay gioi thieu", "giay nghi phep", "phieu gui",
    "phieu chuyen", "phieu bao", "thu cong", "nghi dinh", "thong tu",
)
_TYPE_LINE_RE = re.compile(
    r"(?m)\n[^\S\n]*(" + "|".join(t.upper() for t in DOCUMENT_TYPES) + r")[^\S\n]*$"
)
# The issuer stands in the first lines, above the number: a state body (ministry, people's
# committee, department...), a state-owned enterprise, or a private company (see _issuer()).
_HEAD_LINES = 12
_AGENCY_RE = re.compile(
    r"\s*(bo |uy ban nhan dan|ubnd|hoi dong nhan dan|so (?![\d:])|cuc |tong cuc |van phong |"
    r"chinh phu|thu tuong|ban |toa an|vien kiem sat|kiem toan nha nuoc|quoc hoi|tinh uy|"
    r"thanh uy|huyen uy|dang uy|truong dai hoc|benh vien)")
#: State-body words that companies use too ("BAN GIÁM ĐỐC", "VĂN PHÒNG ĐẠI DIỆN"): they name
#: the issuer only above a company line (an owner), never below it.
_GENERIC_AGENCY = ("ban ", "van phong ")
_COMPANY_RE = re.compile(
    r"\b(cong ty|tong cong ty|tap doan|ngan hang tmcp|tnhh|co phan|jsc|co\.,? ltd|corporation"
    r"|doanh nghiep tu nhan|hop tac xa)\b")
#: Economic groups and corporations: state-owned unless their name gives a private legal form.
_SOE_RE = re.compile(r"\s*(tap doan|tong cong ty)\b")
_PRIVATE_FORM_RE = re.compile(r"\b(co phan|ctcp|cp|tnhh|jsc|ltd|j\.s\.c)\b")
#: Signing authorities that only a state body has: "TM. ỦY BAN NHÂN DÂN", "KT. BỘ TRƯỞNG".
_STATE_SIGNER_RE = re.compile(
    r"\n[^\S\n]*(tm|kt|tl|tuq|q)\.\s+(uy ban nhan dan|hoi dong nhan dan|bo truong|thu tuong|"
    r"chinh phu|ban thuong vu|ban chap hanh)")
#: Issuer parts of a symbol that only state bodies use (588/BTTTT-THH, 123/UBND-VP, 05/CT-TTg).
_STATE_SYMBOL_PARTS = frozenset({
    "UBND", "HDND", "TTG", "CP", "VPCP", "UBTVQH", "BTTTT", "BNV", "BTC", "BYT", "BCA", "BQP",
    "BGDDT", "BKHDT", "BNNPTNT", "BTNMT", "BXD", "BGTVT", "BLDTBXH", "BVHTTDL", "BKHCN", "BTP",
    "BCT", "BNG", "NHNN", "TTCP", "UBDT", "KTNN", "TANDTC", "VKSNDTC",
})
_SYMBOL_PART_RE = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True, slots=True)
class Cue:
    """One piece of evidence: what was found, where, and how much it weighs.

    Cues with the same ``key`` count once per message (the strongest wins), so that a body and
    its HTML twin, or a symbol in the subject and in the attachment, do not add up. ``identity``
    marks the cues that name a document (number/symbol, edXML envelope, Government CA signature).
    """

    weight: float
    description: str
    source: str
    key: str = ""
    identity: bool = False

    def __str__(self) -> str:
        return f"{self.source}: {self.description}"

    @property
    def group(self) -> str:
        """The key cues are deduplicated on (the description when no key was given)."""
        return self.key or self.description


def find_symbol(text: str) -> str | None:
    """Return the first document number/symbol in ``text`` (``588/BTTTT-THH``), or None."""
    if "/" not in text:  # every form has one; most ordinary mail is spared three scans
        return None
    for pattern in (VBQPPL_RE, ADMIN_RE, PARTY_RE):
        match = pattern.search(text)
        if match:
            return match.group(0)
    return None


def find_secrecy(text: str) -> str | None:
    """Return the most severe secrecy marking (see :mod:`.markings`), or None."""
    return find_secrecy_marking(prepare_text(text).text)


# A stamp read by OCR may lose its accents ("TOI MAT", "TÓI MẠT") and pick up the stamp's box
# ("| MẬT |"): matched on the accent-free text, in capitals, alone on its line.
# Its line opens with [^\S\n], not \s, to stay linear (see the note above _BLANK_NUMBER_RE).
_OCR_SECRECY_RE = re.compile(r"^(?:[^\S\n]|[|!\[\](){}*\"'“”_—–.:,-])*(TUYET MAT|TOI MAT|MAT)"
                             r"[\s|!\[\](){}*\"'“”_—–.:,-]*$", re.MULTILINE)
_OCR_LEVELS = {"MAT": "MẬT", "TOI MAT": "TỐI MẬT", "TUYET MAT": "TUYỆT MẬT"}


def find_secrecy_ocr(text: str) -> str | None:
    """:func:`find_secrecy` for text read by OCR: accents may be missing or wrong.

    Only a line in capitals counts, as a stamp is: "mặt"/"mất" in running text never does.
    """
    flat = strip_diacritics(nfc(text))
    if "MAT" not in flat:
        return None
    found = {_OCR_LEVELS[m.group(1)] for m in _OCR_SECRECY_RE.finditer(flat)}
    for level in SECRECY_LEVELS[::-1]:
        if level in found:
            return level
    return None


def more_secret(a: str | None, b: str | None) -> str | None:
    """The more severe of two secrecy markings (None for no marking)."""
    rank = {level: i + 1 for i, level in enumerate(SECRECY_LEVELS)}
    return a if rank.get(a or "", 0) >= rank.get(b or "", 0) else b


def find_urgency(text: str) -> str | None:
    """Return the urgency marking (``HỎA TỐC``...; see :mod:`.markings`), or None."""
    return find_urgency_marking(prepare_text(text).text)


_HEAD_END_RE = re.compile(r"\s*(kinh gui|v/v|can cu|noi nhan)")
#: Lines of a forwarded or quoted message's header ("From:", "Sent:", "Gửi:", "---- Forwarded
#: message ----", "On ... wrote:"), which stand above a forwarded document's issuer.
_MAIL_HEADER_LINE_RE = re.compile(
    r"\s*(?:(?:from|sent|date|to|cc|subject|tu|gui|ngay|den|chu de|tieu de|thoi gian)\s*:|-{3,}"
    r"|on .{0,200}wrote:|vao .{0,200}da viet:)")


def _head(folded: str) -> list[str]:
    """The issuer zone: the first lines, up to the addressee or abstract (which may name a firm).

    Lines of a forwarded message's header are skipped (they are not the document's).
    """
    lines: list[str] = []
    for line in folded.split("\n"):
        if _HEAD_END_RE.match(line) or len(lines) >= _HEAD_LINES:
            break
        if line.strip() and not _MAIL_HEADER_LINE_RE.match(line):
            lines.append(line.strip())
    return lines


def _state_symbol(symbol: str | None) -> bool:
    """Whether a symbol's issuer part names a state body (``123/UBND-VP``, ``05/CT-TTg``)."""
    if not symbol:
        return False
    parts = _SYMBOL_PART_RE.findall(strip_diacritics(symbol).upper())
    return any(p in _STATE_SYMBOL_PARTS or p.endswith(("UBND", "HDND")) for p in parts)


def _issuer(head: list[str], flat_lines: str, symbol: str | None) -> str:
    """Who issues the text, from its heading: ``state``, ``soe``, ``private`` or ``""``.

    Decree 30/2020/NĐ-CP (Art. 1) governs the documents of state bodies and of state-owned
    enterprises, not those of private companies, which copy the layout all the same. A company
    line counts as the issuer only when nothing else in the text names a state issuer: a state
    body above it (its owner: the company is state-owned), a state body below it (the issuer,
    under a line someone added), a state-owned group or corporation, a symbol only state bodies
    use (``/UBND-``), or a state body's signing authority (``TM. ỦY BAN NHÂN DÂN``).
    """
    soe = [i for i, line in enumerate(head)
           if _SOE_RE.match(line) and not _PRIVATE_FORM_RE.search(line)]
    agency = [i for i, line in enumerate(head) if _AGENCY_RE.match(line)]
    company = next((i for i, line in enumerate(head)
                    if i not in soe and _COMPANY_RE.match(line)), None)
    if soe:
        return "soe"
    if company is None:
        return "state" if agency else ""
    if any(i < company for i in agency):
        return "soe"  # a state body above the company is its owner
    if any(i > company and not head[i].startswith(_GENERIC_AGENCY) for i in agency):
        return "state"
    if _state_symbol(symbol) or _STATE_SIGNER_RE.search(flat_lines.casefold()):
        return "state"
    return "private"


@dataclass(frozen=True, slots=True)
class PreparedText:
    """A text as matched: look-alike letters folded, reply quoting removed."""

    text: str
    folded: bool  #: look-alike, invisible or compatibility characters were folded


#: Reply quoting at a line start ("> ", ">> ", "> > "), removed so that line-anchored cues work.
_QUOTE_RE = re.compile(r"\n[ \t]*>[ \t>]*")
#: Markings typed with blanks or dots between letters ("M Ậ T", "M . Ậ . T", "M-Ậ-T", "M ẬT",
#: tabs, non-breaking or thin spaces), as letter-spaced headings are, or broken over lines
#: ("M" / "ẬT": two table cells, a narrow text box): each is joined into its word. No Vietnamese
#: word starts with "ật" or "ậ", so a line break inside the letters is no word boundary. A run of
#: separators is possessive and holds no letter, so a failed match retries nothing (the word
#: written whole matches too, and stays as it is).
_LETTER_GAP = r"[\s.\-·_*]*+"
_SPACED_MARKING_WORDS = ("TUYỆT", "TỐI", "MẬT", "KHẨN", "HỎA", "HOẢ", "TỐC")
_SPACED_MARKING_RE = re.compile("|".join(_LETTER_GAP.join(word) for word in _SPACED_MARKING_WORDS))
#: A marking's accented letter beside a separator: the cheap test before the join. It opens
#: with the letter, not with a separator (a blank is everywhere), so that the regex engine
#: tries it only where such a letter is.
_SPACED_LETTER_RE = re.compile(r"[ẬỐẨỆỎẢ](?:(?<=[\s.\-·_*][ẬỐẨỆỎẢ])|(?=[\s.\-·_*]))")
_GAP_TABLE = str.maketrans("", "", ".-·_*")
#: The accented capitals of those words: a text without any of them, nearly all mail, cannot
#: match the test above and skips it after six C-level scans.
_MARKING_CAPITALS = "ẬỐẨỆỎẢ"


def prepare_text(text: str, *, fold: bool = True) -> PreparedText:
    """NFC text as the cues are matched on: see :class:`PreparedText`.

    ``fold=False``: ``text`` is already in NFC and through :func:`fold_lookalikes` (the caller
    did both), so neither is done again.
    """
    folded = False
    if fold:
        text, folded = fold_lookalikes(nfc(text))
    text = fold_separators(text)
    if ">" in text:
        text = _QUOTE_RE.sub("\n", "\n" + text)[1:]
    if any(letter in text for letter in _MARKING_CAPITALS) and _SPACED_LETTER_RE.search(text):
        text = _SPACED_MARKING_RE.sub(lambda m: "".join(m.group().split()).translate(_GAP_TABLE),
                                      text)
    return PreparedText(text, folded)


@dataclass(frozen=True, slots=True)
class TextScore:
    """One text's cues, and its secrecy and urgency markings (read even when it does not count)."""

    cues: tuple[Cue, ...]
    secrecy: str | None
    urgency: str | None


def text_cues(text: str, source: str) -> list[Cue]:
    """Score one text (a body, an extracted attachment, a subject) for document cues."""
    return list(score_nfc_text(nfc(text), source).cues)


def _marking_cues(secrecy: str | None, urgency: str | None, folded: bool,
                  source: str) -> list[Cue]:
    """The cues of a text's markings, and the note that look-alikes were folded to find them."""
    cues: list[Cue] = []
    if secrecy:
        cues.append(Cue(2.0, f"secrecy marking {secrecy}", source, "secrecy"))
    if urgency:
        cues.append(Cue(1.0, f"urgency marking {urgency}", source, "urgency"))
    if folded:
        cues.append(Cue(0.0, "look-alike letters (Cyrillic, Greek, full-width) or invisible "
                             "characters folded before matching", source, f"folded:{source}"))
    return cues


def score_nfc_text(text: str, source: str, *, folded: bool = False,
                   fold: bool = True) -> TextScore:
    """:func:`text_cues` and the markings of a text already in NFC, in one pass.

    ``folded`` says that the caller already folded look-alikes out of ``text`` (see
    :func:`prepare_text`), for the evidence; ``fold=False`` that the caller already ran
    :func:`fold_lookalikes` on it (whatever it found), so it is not run again.
    """
    prepared = prepare_text(text, fold=fold)
    text = prepared.text
    cues: list[Cue] = []
    secrecy, urgency = find_secrecy_marking(text), find_urgency_marking(text)
    flat = strip_diacritics(text)
    sk = skeleton_of_stripped(flat)
    lines, flat_lines = "\n" + text, "\n" + flat  # for the whole-line patterns
    # the heading letter-spaced ("C Ộ N G  H Ò A ...") or its words run together by extraction
    if _HEADING in sk or (_HEADING_JOINED in sk.replace(" ", "")):
        cues.append(Cue(3.0, "national heading", source, "heading"))
    elif _PARTY_HEADING in sk and PARTY_RE.search(text):
        cues.append(Cue(3.0, "Party heading 'ĐẢNG CỘNG SẢN VIỆT NAM'", source, "heading"))
    if _MOTTO_RE.search(sk):
        cues.append(Cue(2.0, "motto 'Độc lập - Tự do - Hạnh phúc'", source, "motto"))
    number = number_line(text) or number_line(flat)
    # The number line names the document; other symbols in the text are citations.
    # (a number line typed in lower case, "số: 123/ubnd-vp", is still one)
    symbol = ((find_symbol(number) or find_symbol(number.upper()) if number else None)
              or find_symbol(text))
    if number and symbol:
        cues.append(Cue(3.0, f"number/symbol {symbol}", source, "symbol", identity=True))
    elif _BLANK_NUMBER_RE.search(flat_lines):
        cues.append(Cue(2.0, "unnumbered (draft) number line", source, "symbol", identity=True))
    elif symbol:
        cues.append(Cue(1.5, f"symbol {symbol}", source, "symbol"))
    if _VV_RE.search(lines):
        cues.append(Cue(1.5, "abstract line 'V/v'", source, "abstract"))
    found_keys: set[str] = set()
    for key, pattern, weight, description in _SK_CUES:
        if key not in found_keys and pattern.search(sk):
            found_keys.add(key)
            cues.append(Cue(weight, description, source, key))
    if _SIGN_RE.search(lines):
        cues.append(Cue(1.0, "signing authority (TM./KT./TL.)", source, "signer"))
    type_line = _TYPE_LINE_RE.search(flat_lines.upper())
    if type_line:
        cues.append(Cue(1.0, f"document type '{type_line.group(1).lower()}'", source, "type"))
    # The issuer only matters for a text in letter form (heading or number line).
    letter = any(c.key in ("heading", "symbol") for c in cues)
    issuer = _issuer(_head(flat.casefold()), flat_lines, number and symbol) if letter else ""
    markings = _marking_cues(secrecy, urgency,
                             (folded or prepared.folded) and bool(cues or secrecy), source)
    if issuer == "private":
        # A private company's letter in administrative form is not a văn bản of a state body
        # or a state-owned enterprise: its layout does not count (other texts of the message
        # still do), but a secrecy marking in it always does.
        company = Cue(0.0, "issuer is a private company, not a state body or state-owned "
                           "enterprise: this text's layout is not counted (its markings are)",
                      source, f"company:{source}")
        kept = [c for c in markings if c.key != "urgency"]
        return TextScore((company, *kept), secrecy, urgency)
    if issuer == "state":
        cues.append(Cue(1.0, "issuer is a state body", source, "issuer"))
    elif issuer == "soe":
        cues.append(Cue(1.0, "issuer is a state-owned enterprise (Decree 30/2020 applies)",
                        source, "issuer"))
    return TextScore((*cues, *markings), secrecy, urgency)


def score_subject(subject: str) -> TextScore:
    """Cues and markings of the Subject: a number/symbol, a 'V/v' abstract, a ``[MẬT]`` tag."""
    prepared = prepare_text(subject)
    subject = prepared.text
    cues: list[Cue] = []
    symbol = find_symbol(subject)
    if symbol:
        cues.append(Cue(2.0, f"number/symbol {symbol}", "subject", "symbol", identity=True))
    if re.search(r"(?i)(^|\s)V/v\b", subject):
        cues.append(Cue(1.0, "abstract 'V/v'", "subject", "abstract"))
    secrecy, urgency = find_secrecy_marking(subject), find_urgency_marking(subject)
    cues += _marking_cues(secrecy, urgency, prepared.folded and bool(cues or secrecy), "subject")
    return TextScore(tuple(cues), secrecy, urgency)


def subject_cues(subject: str) -> list[Cue]:
    """The cues of :func:`score_subject`."""
    return list(score_subject(subject).cues)


def filename_cues(filename: str, source: str = "attachment") -> list[Cue]:
    """Cues in an attachment's file name: ``588_BTTTT-THH.pdf``, ``1896_QD-TTg.doc``."""
    name = strip_diacritics(nfc(filename)).rsplit(".", 1)[0]
    # "30_2020_ND-CP" and "588_BTTTT-THH": underscores or spaces stand for the slashes.
    candidate = re.sub(r"^(\d{1,5})[_ ](\d{4})[_ ]", r"\1/\2/", name)
    candidate = re.sub(r"^(\d{1,5})[_ ]", r"\1/", candidate)
    symbol = find_symbol(candidate)
    if symbol:
        return [Cue(2.0, f"number/symbol {symbol} in a file name", source, "symbol",
                    identity=True)]
    return []
