"""A PDF page of thousands of separate words is read in time linear in its words, in every
layout a hostile sender would use (``hostile_mail.crowded_page``), and ``govmilter check``
answers within the deadline on a page of 50,000 words with the outcome of a budget cut.

Laying a page out costs PDFium one pass over the page's characters per text rectangle read
apart (its columns, its hidden words): past :data:`~govmilter.document.pdf.MAX_LAYOUT_WORK` the
page is read as PDFium's plain text, all of it, and the scan says so (docs/security.md, "A PDF
page of thousands of words").
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile_mail import (
    PAGE_LAYOUTS,
    SECRET,
    UNSCANNABLE,
    check_process,
    crowded_page,
    rule_action,
    with_attachment,
)
from linear_time import assert_linear

from govmilter.document.budget import ScanBudget
from govmilter.document.markings import find_secrecy_marking
from govmilter.document.pdf import pdf_text
from govmilter.mail.limits import Limits
from govmilter.policy import load_policy

#: Words on the smaller page (the larger has 8 times as many): the smaller one is laid out
#: column by column, the larger one is past the bound.
WORDS = 1000
#: MẬT and a KHẨU right after it: read together they make *mật khẩu* (a password), no marking.
PARTNER = b"BT /F2 12 Tf 72 770 Td (MAT) Tj ET\n%s BT /F2 %d Tf 100 770 Td (KHBU) Tj ET\n"
WHITE_PARTNER, BLACK_PARTNER = PARTNER % (b"1 g", 12), PARTNER % (b"0 g", 12)
#: KHẨU in 1 pt: a decoy no reader reads, which a layout leaves out.
SMALL_PARTNER = PARTNER % (b"0 g", 1)
#: The same decoy drawn across the end of MẬT: PDFium reads its first letter in MẬT's rectangle.
SMALL_PARTNER_ACROSS = SMALL_PARTNER.replace(b"100 770", b"97 770")


def read(data: bytes) -> str:
    """The page's text as the scan reads it, with room for any time it takes; the marking
    drawn after the words must be in it, whatever the layout."""
    text = pdf_text(data, ScanBudget(Limits(max_seconds=3600)))
    assert find_secrecy_marking(text) == "MẬT", text[-200:]
    return text


@pytest.mark.parametrize("layout", PAGE_LAYOUTS)
def test_a_page_of_many_words_is_read_in_linear_time(layout: str) -> None:
    assert_linear(lambda count: crowded_page(layout, count), read, WORDS, layout)


def test_a_page_past_the_bound_is_read_whole_and_the_cut_is_noted() -> None:
    budget = ScanBudget(Limits())
    text = pdf_text(crowded_page("text objects", 20_000), budget, "attachment 2: a.pdf")
    assert text.count("thang") == 2000 and find_secrecy_marking(text) == "MẬT"
    assert budget.reasons == ["attachment 2: a.pdf: PDF page 1 holds too many separate pieces "
                              "of text to lay out; it was read as plain text (its columns not "
                              "told apart)"]
    small = ScanBudget(Limits())
    assert "thang" in pdf_text(crowded_page("text objects", 100), small) and small.reasons == []


@pytest.mark.parametrize(("layout", "partner", "first"), [
    *((layout, WHITE_PARTNER, True) for layout in ("text objects", "overlapping", "scattered",
                                                   "invisible")),
    ("text objects", SMALL_PARTNER, True), ("text objects", SMALL_PARTNER, False),
    ("tiny fonts", SMALL_PARTNER, False)])
def test_a_partner_word_not_read_on_a_page_past_the_bound_is_read_apart(
        layout: str, partner: bytes, first: bool) -> None:
    """MẬT and KHẨU in white (drawn first, where the hidden-text walk sees it) or in 1 pt
    (first or last), and 20,000 words: the page is read as plain text, and the characters in
    the hidden text's box, or the small letters beside MẬT, are cut from it and read after it,
    so MẬT is a marking; the same words in black stay *mật khẩu*."""
    budget = ScanBudget(Limits())
    apart = pdf_text(crowded_page(layout, 20_000, marking=b"" if first else partner,
                                  before=partner if first else b""), budget)
    assert budget.reasons and find_secrecy_marking(apart) == "MẬT"
    assert "KHẨU" in apart.split("\n") and apart.count("KHẨU") == 1
    black = pdf_text(crowded_page(layout, 20_000, marking=b"", before=BLACK_PARTNER),
                     ScanBudget(Limits()))
    assert find_secrecy_marking(black) is None and "KHẨU" not in black.split("\n")
    # nothing else is cut (PDFium leaves out some of the overlapping words' letters itself)
    assert apart.count("thang") == black.count("thang") > 1900


@pytest.mark.parametrize(("layout", "marking", "outcome"), [
    # the marking drawn after 50,000 invisible words: still found, the mail still refused
    pytest.param("invisible", None, SECRET, id="MẬT after invisible words"),
    pytest.param("overlapping", None, SECRET, id="MẬT after overlapping words"),
    # no marking: the page is noted, the mail tagged for review
    pytest.param("text objects", b"", UNSCANNABLE, id="no marking"),
    # the one edit the bound leaves open: MẬT and a white KHẨU drawn after 50,000 words lie
    # past the objects the hidden-text walk looks at and read "MẬT KHẨU": tagged, not passed
    pytest.param("text objects", WHITE_PARTNER, UNSCANNABLE, id="MẬT and a white KHẨU"),
])
def test_govmilter_check_answers_a_page_of_50000_words_within_the_deadline(
        layout: str, marking: bytes | None, outcome: tuple[str, str], tmp_path: Path) -> None:
    page = crowded_page(layout, 50_000) if marking is None else \
        crowded_page(layout, 50_000, marking)
    path = tmp_path / "message.eml"
    path.write_bytes(with_attachment(page, "van-ban.pdf", "application/pdf"))
    verdict, cpu = check_process(path)
    assert cpu < load_policy(None).limits.max_seconds, f"{layout}: {cpu:.1f} s of CPU"
    assert rule_action(verdict) == outcome, verdict
    assert any("PDF page 1 holds too many separate pieces of text" in reason
               for reason in verdict["unscannable"]), verdict  # type: ignore[attr-defined]


def test_a_small_partner_word_across_a_marking_on_an_ordinary_page_is_read_apart() -> None:
    """One edit on a page that is laid out: KHẨU in 1 pt drawn over the end of MẬT. Its first
    letter lies in MẬT's rectangle, so the layout read "MẬTK", no marking, and the letter was
    accepted; the small letters beside the marking word are read apart, as on a page read as
    plain text. The same words in 12 pt stay *mật khẩu*."""
    budget = ScanBudget(Limits())
    across = pdf_text(crowded_page("text objects", 40, marking=b"",
                                   before=SMALL_PARTNER_ACROSS), budget)
    assert find_secrecy_marking(across) == "MẬT" and "KHẨU" in across.split("\n")
    assert budget.reasons == [] and across.count("thang") == 4
    black = pdf_text(crowded_page("text objects", 40, marking=b"", before=BLACK_PARTNER),
                     ScanBudget(Limits()))
    assert find_secrecy_marking(black) is None and "KHẨU" not in black.split("\n")
