"""Which pages of a long PDF are read: its first and its last, more only where they are short."""

from __future__ import annotations

import pytest
from fpdf import FPDF
from make_corpus import BODY, FONT

from govmilter.document import detect_document
from govmilter.document.pdf import PDF_HEAD_CHARS, PDF_TAIL_CHARS, pages_to_read
from govmilter.mail.message import Attachment, MessageContent
from govmilter.policy import DetectionSettings, Limits

FULL = "x" * PDF_HEAD_CHARS  # a page of text as long as the head wants
SHORT = "x" * (PDF_TAIL_CHARS // 2)  # a page holding a signer's name, a seal, a cover title


def read(lengths: list[str], max_pages: int = 30) -> tuple[list[int], bool]:
    """The page numbers ``pages_to_read`` asks for, in the order it asks, and ``cut``."""
    asked: list[int] = []

    def text_of(index: int) -> str:
        asked.append(index)
        return lengths[index]

    texts, cut = pages_to_read(len(lengths), max_pages, PDF_HEAD_CHARS, PDF_TAIL_CHARS, text_of)
    assert len(texts) == len(asked) == len(set(asked)), "each page is read once"
    assert texts == [lengths[i] for i in sorted(asked)], "texts come in document order"
    return asked, cut


def test_a_long_document_costs_its_first_and_last_page() -> None:
    assert read([FULL] * 92) == ([0, 91], False)


def test_a_short_last_page_brings_the_page_before_it() -> None:
    assert read([FULL] * 91 + [SHORT]) == ([0, 91, 90], False)


def test_a_short_cover_page_brings_the_next_page() -> None:
    assert read([SHORT] + [FULL] * 40) == ([0, 1, 40], False)


def test_a_document_of_short_pages_is_read_whole_once() -> None:
    assert read([SHORT] * 4) == ([0, 1, 2, 3], False)
    assert read([FULL]) == ([0], False)
    assert read([]) == ([], False)


@pytest.mark.parametrize(("max_pages", "asked"), [(1, [0]), (2, [0, 4]), (3, [0, 1, 4])])
def test_the_page_limit_keeps_the_first_and_last_pages_and_says_it_cut(
        max_pages: int, asked: list[int]) -> None:
    assert read([SHORT] * 5, max_pages) == (asked, True)


def test_a_long_official_letter_is_found_from_its_two_ends_with_nothing_unscannable() -> None:
    pdf = FPDF()
    pdf.add_font("DejaVu", fname=str(FONT))
    pdf.set_font("DejaVu", size=11)
    pdf.add_page()
    for line in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc",
                 "Số: 588/BTTTT-THH", "V/v tăng cường sử dụng hệ thống thư điện tử công vụ",
                 "Kính gửi: Các Bộ, cơ quan ngang Bộ", " ".join(BODY) * 6):
        pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    for _ in range(38):  # the body: nothing here decides anything
        pdf.add_page()
        pdf.multi_cell(0, 6, " ".join(BODY) * 6, new_x="LMARGIN", new_y="NEXT")
    pdf.add_page()
    for line in ("Nơi nhận:", "- Như trên;", "- Lưu: VT, THH.", "KT. BỘ TRƯỞNG"):
        pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    content = MessageContent(subject="", header_from=(), header_to=(), texts=(),
                             attachments=(Attachment("vb.pdf", "application/pdf",
                                                     bytes(pdf.output())),),
                             unscannable=(), size=0)
    found = detect_document(content, DetectionSettings(), Limits())
    assert found.official
    evidence = " | ".join(found.evidence)
    assert "number/symbol 588/BTTTT-THH" in evidence  # first page
    assert "recipient list 'Nơi nhận:'" in evidence  # last page
    assert found.unscannable == ()  # 40 pages, over max_pdf_pages, yet nothing it needs was cut


def test_a_pages_text_by_one_buffer_is_pypdfium2s_text_rectangle_by_rectangle() -> None:
    """``_page_text`` reads each text rectangle with one PDFium call into a buffer of the
    page; the result is exactly the per-rectangle ``get_text_bounded`` it replaces."""
    import pypdfium2 as pdfium

    from govmilter.document.pdf import MIN_LETTER_HEIGHT, _page_text, layout_text

    pdf = FPDF()
    pdf.add_font("DejaVu", fname=str(FONT))
    pdf.set_font("DejaVu", size=11)
    pdf.add_page()  # a two-column heading, a marking in a cell, then body text
    for y, left, right in ((10, "ỦY BAN NHÂN DÂN", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"),
                           (16, "TỈNH BẮC NINH", "Độc lập - Tự do - Hạnh phúc"),
                           (22, "Số: 12/UBND-VP      MẬT", "Bắc Ninh, ngày 5 tháng 12 năm 2026")):
        pdf.text(15, y, left)
        pdf.text(105, y, right)
    pdf.set_xy(15, 30)
    pdf.multi_cell(0, 6, " ".join(BODY) * 3)
    pdf.add_page()  # no text at all
    document = pdfium.PdfDocument(bytes(pdf.output()))
    for index in range(len(document)):
        textpage = document[index].get_textpage()
        count = textpage.count_rects()
        segments = [(textpage.get_rect(i), textpage.get_text_bounded(*textpage.get_rect(i)))
                    for i in range(count)]
        expected = layout_text([(box, text) for box, text in segments
                                if box[3] - box[1] >= MIN_LETTER_HEIGHT
                                or not any(c.isalnum() for c in text)]) if count > 0 else \
            textpage.get_text_bounded()
        assert _page_text(textpage) == expected
        if index == 0:
            assert "MẬT\t" in expected or "MẬT \t" in expected or "\tMẬT" in expected, expected
