"""One edit a sender makes to a letter, and whether the detector still sees what it hides.

The table of docs/detection.md ("What one edit defeats"): each row is one edit of the marking,
the national heading, the number line or the date line of a People's Committee's letter, checked
the gateway's way (scan, then the default policy, for one Gmail recipient). A marked letter must
still be refused; an unmarked one must still carry the edited cue. Rows found by the adversarial
sweep of December 2026; the carriers (DOCX parts, HTML, PDF, attachments in other clothes) are
in test_one_edit_carriers.py.
"""

from __future__ import annotations

import unicodedata

import pytest
from letters import UBND_OFFICIAL, UBND_SECRET, message, verdict_of

from govmilter.policy.model import Action

REJECTED = (Action.REJECT, "secret-to-freemail")
TAGGED = (Action.TAG, "document-to-freemail")
HEADING = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"

#: The marking line "MẬT" as an edit writes it, and the level it must still read as.
MARKING_EDITS = {
    "zero-width spaces": ("M\u200bẬ\u200bT", "MẬT"),
    "soft hyphens": ("M\u00adẬ\u00adT", "MẬT"),
    "word joiners": ("M\u2060Ậ\u2060T", "MẬT"),
    "combining grapheme joiners": ("M\u034fẬ\u034fT", "MẬT"),
    "invisible tag characters": ("M\U000e0020Ậ\U000e0020T", "MẬT"),
    "combining underline (styled text)": ("M\u0332Ậ\u0332T\u0332", "MẬT"),
    "combining overline": ("M\u0305Ậ\u0305T\u0305", "MẬT"),
    "combining strike-through": ("M\u0336Ậ\u0336T\u0336", "MẬT"),
    "decomposed (NFD)": ("MA\u0323\u0302T", "MẬT"),
    "marks in the other order": ("MA\u0302\u0323T", "MẬT"),
    "letters spaced": ("M Ậ T", "MẬT"),
    "letters spaced, two spaces": ("M  Ậ  T", "MẬT"),
    "letters spaced by non-breaking spaces": ("M\u00a0Ậ\u00a0T", "MẬT"),
    "letters spaced by thin spaces": ("M\u2009Ậ\u2009T", "MẬT"),
    "letters spaced by tabs": ("M\tẬ\tT", "MẬT"),
    "letters between dots": ("M.Ậ.T", "MẬT"),
    "letters between hyphens": ("M-Ậ-T", "MẬT"),
    "broken over two lines": ("M\nẬT", "MẬT"),
    "a letter a line": ("M\nẬ\nT", "MẬT"),
    "TỐI MẬT spaced": ("T Ố I  M Ậ T", "TỐI MẬT"),
    "TUYỆT MẬT spaced": ("T U Y Ệ T  M Ậ T", "TUYỆT MẬT"),
    "TỐI MẬT spaced and decomposed": ("T O\u0302\u0301 I  M A\u0323\u0302 T", "TỐI MẬT"),
    "Cyrillic М and Т": ("МẬТ", "MẬT"),
    "Greek Μ and Τ": ("ΜẬΤ", "MẬT"),
    "Cyrillic А under the marks": ("MА\u0323\u0302T", "MẬT"),
    "full-width letters": ("ＭẬＴ", "MẬT"),
    "mathematical bold": ("𝐌Ậ𝐓", "MẬT"),
    "Latin small capitals": ("ᴍẬᴛ", "MẬT"),
    "Roman numeral Ⅿ": ("\u216fẬT", "MẬT"),
    "circled letters": ("ⓂẬⓉ", "MẬT"),
    "Cherokee Ꮇ and Ꭲ": ("\u13b7Ậ\u13a2", "MẬT"),
    "Lisu ꓟ and ꓔ": ("\ua4dfẬ\ua4d4", "MẬT"),
    "Cyrillic in TỐI MẬT": ("ТỐІ МẬТ", "TỐI MẬT"),
}


@pytest.mark.parametrize("edit", list(MARKING_EDITS))
def test_an_edited_marking_is_still_refused(edit: str) -> None:
    written, level = MARKING_EDITS[edit]
    verdict = verdict_of(message(UBND_SECRET.replace("MẬT\n", written + "\n", 1)))
    assert (verdict.action, verdict.rule) == REJECTED, verdict.evidence
    assert f"body: secrecy marking {level}" in verdict.evidence


#: The national heading as an edit writes it.
HEADING_EDITS = {
    "zero-width spaces inside words": "CỘ\u200bNG HÒ\u200bA XÃ HỘ\u200bI CHỦ NGHĨA VIỆT NAM",
    "soft hyphen": "CỘNG HÒA XÃ HỘI CHỦ NGHĨ\u00adA VIỆT NAM",
    "decomposed (NFD)": unicodedata.normalize("NFD", HEADING),
    "old tone placement HOÀ": "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM",
    "Cyrillic letters": "СỘNG НÒА ХÃ НỘІ СНỦ NGHĨА VIỆТ NАМ",
    "full-width letters": "ＣỘＮＧ ＨÒＡ ＸÃ ＨỘＩ ＣＨỦ ＮＧＨĨＡ ＶＩỆＴ ＮＡＭ",
    "Lisu ꓚ": "ꓚỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
    "letter-spaced": "C Ộ N G  H Ò A  X Ã  H Ộ I  C H Ủ  N G H Ĩ A  V I Ệ T  N A M",
    "non-breaking spaces": "CỘNG\u00a0HÒA\u00a0XÃ\u00a0HỘI CHỦ NGHĨA VIỆT NAM",
    "combining underline": "".join(c + "\u0332" if c != " " else c for c in HEADING),
    "lower case": "Cộng hòa xã hội chủ nghĩa Việt Nam",
    "words run together": "CỘNG HÒA XÃHỘI CHỦNGHĨA VIỆT NAM",
}


@pytest.mark.parametrize("edit", list(HEADING_EDITS))
def test_an_edited_heading_is_still_the_heading(edit: str) -> None:
    verdict = verdict_of(message(UBND_OFFICIAL.replace(HEADING, HEADING_EDITS[edit])))
    assert (verdict.action, verdict.rule) == TAGGED, verdict.evidence
    assert "body: national heading" in verdict.evidence


#: The number line "Số: 123/UBND-VP" as an edit writes it, and the symbol it must still give.
NUMBER_EDITS = {
    "en dash": ("Số: 12/2026/QĐ–UBND", "12/2026/QĐ-UBND"),
    "em dash": ("Số: 12/2026/QĐ—UBND", "12/2026/QĐ-UBND"),
    "minus sign": ("Số: 12/2026/QĐ\u2212UBND", "12/2026/QĐ-UBND"),
    "non-breaking hyphen": ("Số: 12/2026/QĐ\u2011UBND", "12/2026/QĐ-UBND"),
    "full-width solidus": ("Số: 12／2026／QĐ-UBND", "12/2026/QĐ-UBND"),
    "division slash": ("Số: 12\u22152026\u2215QĐ-UBND", "12/2026/QĐ-UBND"),
    "fraction slash": ("Số: 12\u20442026\u2044QĐ-UBND", "12/2026/QĐ-UBND"),
    "blanks around every separator": ("Số: 12 / 2026 / QĐ - UBND", "12/2026/QĐ-UBND"),
    "a blank before the slash": ("Số: 15 /2014/QĐ-UBND", "15/2014/QĐ-UBND"),
    "administrative symbol, en dash": ("Số: 123/UBND–VP", "123/UBND-VP"),
    "administrative symbol, blanks": ("Số: 123 / UBND - VP", "123/UBND-VP"),
    "no blank after the colon": ("Số:12/2026/QĐ-UBND", "12/2026/QĐ-UBND"),
    "no colon": ("Số 12/2026/QĐ-UBND", "12/2026/QĐ-UBND"),
    "capitals": ("SỐ: 12/2026/QĐ-UBND", "12/2026/QĐ-UBND"),
    "non-breaking space": ("Số:\u00a012/2026/QĐ-UBND", "12/2026/QĐ-UBND"),
    "full-width digits": ("Số: １２/２０２６/QĐ-UBND", "12/2026/QĐ-UBND"),
    "zero-width space in the symbol": ("Số: 12/2026/Q\u200bĐ-UBND", "12/2026/QĐ-UBND"),
    "Cyrillic В in the symbol": ("Số: 12/2026/QĐ-UВND", "12/2026/QĐ-UBND"),
    "decomposed (NFD)": (unicodedata.normalize("NFD", "Số: 12/2026/QĐ-UBND"), "12/2026/QĐ-UBND"),
}


@pytest.mark.parametrize("edit", list(NUMBER_EDITS))
def test_an_edited_number_line_still_names_the_document(edit: str) -> None:
    written, symbol = NUMBER_EDITS[edit]
    verdict = verdict_of(message(UBND_OFFICIAL.replace("Số: 123/UBND-VP", written)))
    assert (verdict.action, verdict.rule) == TAGGED, verdict.evidence
    assert f"body: number/symbol {symbol}" in verdict.evidence


DATE_EDITS = {
    "blank day and month (a draft)": "Hà Nội, ngày   tháng   năm 2026",
    "dots for the day and month": "Hà Nội, ngày ... tháng ... năm 2026",
    "ellipses": "Hà Nội, ngày … tháng … năm 2026",
    "underscores": "Hà Nội, ngày __ tháng __ năm 2026",
    "in digits": "Hà Nội, ngày 05/3/2026",
    "in digits with dashes": "Hà Nội, ngày 05-03-2026",
    "no blank after ngày": "Hà Nội, ngày05 tháng 03 năm 2026",
    "non-breaking spaces": "Hà Nội, ngày\u00a05\u00a0tháng\u00a03\u00a0năm\u00a02026",
    "full-width digits": "Hà Nội, ngày ５ tháng ３ năm ２０２６",
    "capitals": "HÀ NỘI, NGÀY 5 THÁNG 3 NĂM 2026",
}


@pytest.mark.parametrize("edit", list(DATE_EDITS))
def test_an_edited_date_line_is_still_read(edit: str) -> None:
    body = UBND_OFFICIAL.replace("Hoàn Kiếm, ngày 5 tháng 3 năm 2024", DATE_EDITS[edit])
    verdict = verdict_of(message(body))
    assert "body: date line" in verdict.evidence


@pytest.mark.parametrize("text", [
    "Chúng ta họp ngày 05/3/2026 tại phòng 2.",  # a day in a sentence is not a date line
    "Mẹ về quê ngày 12-04-2026, con nhớ đón.",
])
def test_a_day_in_a_sentence_is_not_a_date_line(text: str) -> None:
    assert "body: date line" not in verdict_of(message(text)).evidence


@pytest.mark.parametrize("text", [
    "M A T H 101: bài tập tuần này",  # spaced letters that are no marking
    "Anh ấy bị M-ất ví hôm qua",
    "Phiếu số 5 / 2026 của lớp",
])
def test_spaced_and_separated_words_stay_ordinary(text: str) -> None:
    verdict = verdict_of(message(text))
    assert verdict.action is Action.ACCEPT, verdict.evidence
