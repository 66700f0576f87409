"""PDF text the reader cannot see (govmilter.document.pdf.hidden_text_boxes): white or
invisible text is read apart, after the page's text; white on something dark is read in place;
and the walk stays linear on a page of thousands of objects.

The one-edit rows (a white partner word after MẬT) are in test_one_edit_carriers.py.
"""

from __future__ import annotations

import io

import pytest
from linear_time import assert_linear
from PIL import Image

from govmilter.document.budget import ScanBudget
from govmilter.document.pdf import hidden_text_boxes, pdf_text
from govmilter.mail.limits import Limits

pytest.importorskip("fpdf", reason="fpdf2 (the test extra) builds the PDFs")
import pypdfium2
import pypdfium2.raw as pdfium_c
from fpdf import FPDF
from fpdf.enums import TextMode
from make_corpus import FONT


def _marked_page() -> tuple[FPDF, float]:
    """A page with a greeting line and MẬT, and where a word after MẬT starts."""
    pdf = FPDF()
    pdf.add_page()
    pdf.add_font("DejaVu", fname=str(FONT))
    pdf.set_font("DejaVu", size=11)
    pdf.text(20, 40, "Kính gửi: anh")
    pdf.text(20, 20, "MẬT")
    return pdf, 20.5 + pdf.get_string_width("MẬT")


def page(*draw: tuple[str, dict[str, object]]) -> bytes:
    """A one-page PDF: each item a word after ``MẬT`` on the same line and how it is drawn
    (``colour``: grey level of its fill, ``stroke``: of its outline, ``mode``: text render mode,
    ``box``: grey level of a box filled under it first, ``image``: a picture drawn under it
    first, ``cover``: grey level of a box filled over it after, ``cover_opacity``: that box's).
    The line after is drawn first: a text render mode stays set once drawn with."""
    pdf, x = _marked_page()
    for word, how in draw:
        width = pdf.get_string_width(word)
        if "box" in how:
            pdf.set_fill_color(int(str(how["box"])))
            pdf.rect(x - 1, 15, width + 2, 7, style="F")
        if "image" in how:
            picture = io.BytesIO()
            Image.new("RGB", (40, 10), (230, 230, 230)).save(picture, "PNG")
            pdf.image(picture, x - 1, 15, width + 2, 7)
        pdf.set_text_color(int(str(how.get("colour", 0))))
        pdf.set_draw_color(int(str(how.get("stroke", 0))))
        pdf.text_mode = TextMode(int(str(how.get("mode", 0))))
        pdf.text(x, 20, word)
        if "cover" in how:
            pdf.text_mode = TextMode.FILL
            with pdf.local_context(fill_opacity=float(str(how.get("cover_opacity", 1)))):
                pdf.set_fill_color(int(str(how["cover"])))
                pdf.rect(x - 1, 15, width + 2, 7, style="F")
        x += width + 2
    return bytes(pdf.output())


def read(data: bytes) -> list[str]:
    return pdf_text(data, ScanBudget(Limits())).split("\n")


@pytest.mark.parametrize("how", [{"colour": 255}, {"colour": 247}, {"mode": 3},
                                 {"colour": 255, "box": 255}, {"stroke": 255, "mode": 1},
                                 {"cover": 255}, {"cover": 0}, {"mode": 3, "box": 0}])
def test_a_word_not_seen_is_read_apart(how: dict[str, object]) -> None:
    lines = read(page(("KHẨU", how)))
    assert "MẬT" in [line.strip() for line in lines] and lines[-1] == "KHẨU", lines


@pytest.mark.parametrize("how", [{"colour": 0}, {"colour": 200}, {"colour": 255, "box": 30},
                                 {"colour": 255, "mode": 1}, {"colour": 255, "image": 1},
                                 {"cover": 255, "cover_opacity": 0.3}])
def test_a_word_seen_stays_in_place(how: dict[str, object]) -> None:
    lines = read(page(("KHẨU", how)))
    assert ["MẬT", "KHẨU"] in [line.split() for line in lines], lines


def test_invisible_text_over_a_picture_is_a_scans_text_and_stays_in_place() -> None:
    """A searchable scan: the picture of the page, its recognised text drawn invisible over
    it. The reader sees the words in the picture; the text is read as it stands."""
    lines = read(page(("KHẨU", {"mode": 3, "image": 1})))
    assert ["MẬT", "KHẨU"] in [line.split() for line in lines], lines


def test_a_page_without_a_marking_word_is_not_searched() -> None:
    data = page(("KHẨU", {"colour": 255}))
    pdf = FPDF()
    pdf.add_page()
    pdf.add_font("DejaVu", fname=str(FONT))
    pdf.set_font("DejaVu", size=11)
    pdf.text(20, 20, "Kính gửi")
    pdf.set_text_color(255)
    pdf.text(45, 20, "anh")
    assert read(bytes(pdf.output()))[0].split() == ["Kính", "gửi", "anh"]
    assert read(data)[-1] == "KHẨU"


def overlaid(colour: int, shift: float) -> bytes:
    """A page with MẬT, and KHẨU after it in ``colour`` drawn by a form XObject (a page
    imported as an overlay, as stamping tools do), moved ``shift`` points right by the form's
    matrix."""
    letter, x = _marked_page()
    over = FPDF()
    over.add_page()
    over.add_font("DejaVu", fname=str(FONT))
    over.set_font("DejaVu", size=11)
    over.set_text_color(colour)
    over.text(x - shift * 25.4 / 72, 20, "KHẨU")
    source = pypdfium2.PdfDocument(bytes(over.output()))
    document = pypdfium2.PdfDocument(bytes(letter.output()))
    xobject = pdfium_c.FPDF_NewXObjectFromPage(document.raw, source.raw, 0)
    form = pdfium_c.FPDF_NewFormObjectFromXObject(xobject)
    pdfium_c.FPDFPageObj_Transform(form, 1, 0, 0, 1, shift, 0)
    page = document[0]
    pdfium_c.FPDFPage_InsertObject(page.raw, form)
    pdfium_c.FPDFPage_GenerateContent(page.raw)
    pdfium_c.FPDF_CloseXObject(xobject)
    page.close()
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


@pytest.mark.parametrize("shift", [0.0, 85.0])
def test_a_white_word_in_a_form_xobject_is_read_apart(shift: float) -> None:
    lines = read(overlaid(255, shift))
    assert "MẬT" in lines and lines[-1] == "KHẨU", lines
    assert ["MẬT", "KHẨU"] in [line.split() for line in read(overlaid(0, shift))]


def _many_words(count: int) -> bytes:
    """A page of ``count`` words, every other one white, every third over a dark box."""
    pdf = FPDF()
    pdf.add_font("DejaVu", fname=str(FONT))
    pdf.set_font("DejaVu", size=4)
    pdf.add_page()
    for i in range(count):
        x, y = 5 + (i % 40) * 5, 5 + (i // 40) % 280
        if i % 3 == 0:
            pdf.rect(x, y - 2, 4, 3, style="F")
        pdf.set_text_color(255 if i % 2 else 0)
        pdf.text(x, y, "từ")
    return bytes(pdf.output())


def _walk(data: bytes) -> int:
    document = pypdfium2.PdfDocument(data)
    try:
        page = document[0]
        hidden = hidden_text_boxes(page.raw)
        page.close()
    finally:
        document.close()
    return len(hidden)


def test_the_page_walk_is_linear_in_the_page_objects() -> None:
    """The walk alone; the page's text extraction, walk included, is timed in
    test_pdf_linear.py."""
    assert_linear(_many_words, _walk, 500, "a page of white and black words over boxes")
