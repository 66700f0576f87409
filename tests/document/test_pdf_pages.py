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


def heading_pdf() -> bytes:
    """A two-column heading with the marking in a cell, body lines below it, a page without
    text, and a page whose body is interrupted by a column of its own."""
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
    pdf.add_page()  # body lines, a two-cell row among them, body lines again
    pdf.set_xy(15, 20)
    pdf.multi_cell(0, 6, " ".join(BODY) * 2)
    pdf.text(15, pdf.get_y() + 6, "Nơi nhận:")
    pdf.text(120, pdf.get_y() + 6, "TUYỆT MẬT")
    pdf.set_xy(15, pdf.get_y() + 10)
    pdf.multi_cell(0, 6, " ".join(BODY))
    return bytes(pdf.output())


def corpus_pdfs() -> list[bytes]:
    """The PDFs of the accuracy corpora: the synthetic documents (two-column headings, markings
    among their lines) and the real public documents, as the corpus builders make them."""
    import random

    from make_corpus import SEED, make_document, pdf_bytes
    from real_corpus import read_manifest

    rng = random.Random(SEED)
    synthetic = [make_document(index, rng) for index in range(35)]
    return ([pdf_bytes(doc.header, doc.lines) for doc in synthetic]
            + [pdf_bytes((), source.text.split("\n")) for source in read_manifest()])


def test_a_pages_text_is_its_text_read_rectangle_by_rectangle() -> None:
    """``_page_text`` reads lines that stand alone in one PDFium call and each other text
    rectangle by one call into a buffer of the page; on the corpora's PDFs and on a two-column
    heading with a marking in a cell, the text and the marking found are exactly those of
    pypdfium2's ``get_text_bounded`` read rectangle by rectangle."""
    import pypdfium2 as pdfium

    from govmilter.document.markings import find_secrecy_marking
    from govmilter.document.pdf import MIN_LETTER_HEIGHT, _page_text, layout_text, single_lines

    pages = runs = markings = 0
    for data in [heading_pdf(), *corpus_pdfs()]:
        document = pdfium.PdfDocument(data)
        for index in sorted({0, 1, 2, len(document) - 1} & set(range(len(document)))):
            textpage = document[index].get_textpage()
            count = textpage.count_rects()
            boxes = [textpage.get_rect(i) for i in range(count)]
            segments = [(box, textpage.get_text_bounded(*box)) for box in boxes]
            expected = layout_text([(box, text) for box, text in segments
                                    if box[3] - box[1] >= MIN_LETTER_HEIGHT
                                    or not any(c.isalnum() for c in text)]) if count > 0 else \
                textpage.get_text_bounded()
            found = _page_text(textpage)
            assert found is not None
            assert found == expected
            assert find_secrecy_marking(found) == find_secrecy_marking(expected)
            pages += 1
            runs += bool(single_lines(boxes))
            markings += find_secrecy_marking(expected) is not None
            if pages == 1:
                assert single_lines(boxes), "the body below the heading is read as one run"
                assert "MẬT\t" in found or "MẬT \t" in found or "\tMẬT" in found, found
    assert pages > 100 and runs > pages // 2 and markings >= 5, (pages, runs, markings)


Box = tuple[float, float, float, float]
LINE_1: Box = (10, 700, 300, 712)
LINE_2: Box = (10, 680, 280, 692)
LINE_3: Box = (10, 660, 290, 672)


@pytest.mark.parametrize(("boxes", "runs"), [
    ([LINE_1, LINE_2, LINE_3], [(0, 3)]),
    # a cell beside the second line: the lines around it are no run of two or more
    ([LINE_1, LINE_2, (350, 681, 450, 693), LINE_3], []),
    # a marking's glyphs drawn apart share one height
    ([LINE_1, (10, 680, 20, 692), (40, 680, 50, 692), (70, 680, 80, 692), LINE_3, LINE_1], []),
    # a word in 1 pt on a line of its own is never part of a run
    ([LINE_1, LINE_2, (10, 675, 30, 676), LINE_3, (10, 640, 200, 652)], [(0, 2), (3, 5)]),
    # two cells side by side inside the box around a run (between its lines, on the right)
    ([LINE_1, LINE_2, (10, 660, 500, 672), (310, 693, 320, 699), (330, 693, 340, 699)], []),
])
def test_single_lines_are_runs_of_lines_nothing_else_touches(boxes: list[Box],
                                                              runs: list[tuple[int, int]]) -> None:
    from govmilter.document.pdf import single_lines

    assert single_lines(boxes) == runs


def interleaved_lines(n: int) -> list[Box]:
    """``n`` lines, each alone on its height, whose order on the page alternates between two
    halves (two runs by position in the text, each spanning the other's lines), and every
    tenth line with a cell beside it: the shapes that cost a pairwise check the most."""
    boxes: list[Box] = []
    for index in range(n):
        y = 10.0 * (index // 2 if index % 2 else n + index // 2)
        boxes.append((10.0, y, 300.0, y + 8))
        if index % 10 == 0:
            boxes.append((350.0, y + 1, 400.0, y + 7))
    return boxes


def test_single_lines_is_linear_in_the_rectangles() -> None:
    from linear_time import assert_linear

    from govmilter.document.pdf import single_lines

    assert_linear(interleaved_lines, single_lines, 2000, "single_lines")
