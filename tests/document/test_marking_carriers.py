"""Markings in every place a file puts them: DOCX text boxes, headers, footers, tables and
fields; ODT frames and page styles; PDF columns, annotations and form fields; HTML split into
spans and table cells (issue 18). Each file travels as an attachment through scan and decide."""

from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import escape

import pytest
from hostile_mail import pdf_from_objects
from letters import UBND_OFFICIAL, message, verdict_of

from govmilter.document.pdf import layout_text
from govmilter.document.settings import DocumentClass
from govmilter.policy.model import Action

pytest.importorskip("fpdf", reason="fpdf2 (the test extra) builds the PDFs")
from make_corpus import _zip, docx_bytes, odt_bytes, pdf_bytes

LINES = UBND_OFFICIAL.splitlines()
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def run(text: str) -> str:
    return f'<w:r><w:t xml:space="preserve">{escape(text)}</w:t></w:r>'


def para(*runs: str) -> str:
    return f"<w:p>{''.join(runs)}</w:p>"


def unzipped(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def docx_with(body_xml: str, parts: dict[str, str] | None = None) -> bytes:
    """The letter as a DOCX, with ``body_xml`` put before its paragraphs and extra parts."""
    files = unzipped(docx_bytes(LINES))
    document = files["word/document.xml"].decode()
    files["word/document.xml"] = document.replace("<w:body>", "<w:body>" + body_xml).encode()
    ns = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    for name, xml in (parts or {}).items():
        root = {"header": "w:hdr", "footer": "w:ftr"}.get(name[5:11], "w:endnotes")
        files[name] = f'<{root} {ns}>{xml}</{root}>'.encode()
    return _zip(files)


def secret_verdict(data: bytes, filename: str, mime: str) -> tuple[Action, DocumentClass]:
    verdict = verdict_of(message("Gửi anh văn bản.", attachments=((filename, mime, data),)))
    return verdict.action, verdict.document


REJECTED_SECRET = (Action.REJECT, DocumentClass.SECRET)

TEXT_BOX = (
    f'<w:p>{run("Ghi chú")}<w:r><mc:AlternateContent xmlns:mc="http://schemas.openxmlformats.org/'
    'markup-compatibility/2006"><mc:Choice Requires="wps"><w:drawing><wps:wsp><wps:txbx>'
    f'<w:txbxContent>{para(run("MẬT"))}</w:txbxContent></wps:txbx></wps:wsp></w:drawing>'
    f'</mc:Choice></mc:AlternateContent></w:r>{run("Kính gửi")}</w:p>'
)


@pytest.mark.parametrize("place", ["text box", "header", "footer", "endnote", "table",
                                   "simple field", "complex field", "split runs", "all caps",
                                   "hidden run inside"])
def test_docx_marking_in_each_place_is_rejected(place: str) -> None:
    body, parts = "", {}
    if place == "text box":
        body = TEXT_BOX
    elif place == "header":
        parts = {"word/header1.xml": para(run("TỐI MẬT"))}
    elif place == "endnote":
        parts = {"word/endnotes.xml": para(run("MẬT"))}
    elif place == "footer":
        parts = {"word/footer2.xml": para(run("Độ mật: Mật"))}
    elif place == "table":
        body = ("<w:tbl><w:tr><w:tc>" + para(run("ỦY BAN NHÂN DÂN")) + para(run("MẬT"))
                + "</w:tc><w:tc>" + para(run("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"))
                + "</w:tc></w:tr></w:tbl>")
    elif place == "simple field":
        body = para('<w:fldSimple w:instr=" DOCPROPERTY DoMat ">' + run("MẬT") + "</w:fldSimple>")
    elif place == "complex field":
        body = para('<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
                    '<w:r><w:instrText> DOCPROPERTY DoMat </w:instrText></w:r>'
                    '<w:r><w:fldChar w:fldCharType="separate"/></w:r>' + run("MẬT")
                    + '<w:r><w:fldChar w:fldCharType="end"/></w:r>')
    elif place == "split runs":
        body = para(run("M"), "<w:proofErr/>", run("Ậ"), run("T"))
    elif place == "all caps":  # Word's "all caps" shows "Mật" as MẬT
        body = para('<w:r><w:rPr><w:caps/></w:rPr><w:t>Mật</w:t></w:r>')
    else:  # hidden text typed inside the word: the reader sees MẬT
        body = para(run("M"), '<w:r><w:rPr><w:b/><w:vanish/></w:rPr><w:t>xyz</w:t></w:r>',
                    run("ẬT"))
    assert secret_verdict(docx_with(body, parts), "cong-van.docx", DOCX) == REJECTED_SECRET


def test_a_field_code_alone_is_not_a_marking() -> None:
    # The instruction of a field is not shown; only its result is.
    body = para('<w:r><w:instrText> IF MẬT = 1 </w:instrText></w:r>')
    assert secret_verdict(docx_with(body), "cong-van.docx", DOCX) == (
        Action.TAG, DocumentClass.OFFICIAL)


def test_odt_marking_in_a_frame_and_in_the_page_style_is_rejected() -> None:
    frame = ('<text:p><draw:frame draw:name="Khung"><draw:text-box><text:p>TỐI MẬT</text:p>'
             '</draw:text-box></draw:frame>Kính gửi</text:p>')
    files = unzipped(odt_bytes(LINES))
    files["content.xml"] = files["content.xml"].replace(b"<office:text>",
                                                        b"<office:text>" + frame.encode())
    assert secret_verdict(_zip(files, stored=("mimetype",)), "cong-van.odt",
                          "application/vnd.oasis.opendocument.text") == REJECTED_SECRET
    files = unzipped(odt_bytes(LINES))
    files["styles.xml"] = ('<office:document-styles xmlns:office="o" xmlns:text="t" '
                           'xmlns:style="s"><style:header><text:p>MẬT</text:p></style:header>'
                           '</office:document-styles>').encode()
    assert secret_verdict(_zip(files, stored=("mimetype",)), "cong-van.odt",
                          "application/vnd.oasis.opendocument.text") == REJECTED_SECRET


HEADER = (("ỦY BAN NHÂN DÂN", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"),
          ("QUẬN HOÀN KIẾM", "Độc lập - Tự do - Hạnh phúc"))
BODY = ["V/v triển khai phương án", "Kính gửi: Công an quận", "Nơi nhận:", "- Lưu: VT.",
        "TM. ỦY BAN NHÂN DÂN"]


@pytest.mark.parametrize(("left", "right"), [
    ("MẬT", "Hoàn Kiếm, ngày 5 tháng 3 năm 2024"),
    ("Số: 123/UBND-VP", "MẬT"),
    ("MẬT - KHẨN", "Hoàn Kiếm, ngày 5 tháng 3 năm 2024"),
    ("QUẬN HOÀN KIẾM", "TỐI MẬT"),  # beside a line in capitals: the column gap tells them apart
])
def test_pdf_marking_on_the_same_line_as_other_header_text_is_rejected(left: str,
                                                                        right: str) -> None:
    rows: tuple[tuple[str, str], ...] = (*HEADER, (left, right))
    if "Số:" not in left:
        rows = (*rows, ("Số: 123/UBND-VP", ""))
    data = pdf_bytes(rows, BODY)
    assert secret_verdict(data, "cong-van.pdf", "application/pdf") == REJECTED_SECRET


def test_pdf_columns_are_read_with_a_tab_between_them() -> None:
    same_line = ((10.0, 780.0, 60.0, 792.0), "MẬT ")
    column = ((250.0, 780.0, 480.0, 792.0), "Hà Nội, ngày 5")
    next_word = ((62.0, 780.0, 90.0, 792.0), "anh")
    below = ((10.0, 760.0, 60.0, 772.0), "Số: 1")
    assert layout_text([same_line, column, below]) == "MẬT \tHà Nội, ngày 5\nSố: 1"
    assert layout_text([same_line, next_word]) == "MẬT anh"


def _utf16(text: str) -> bytes:
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode() + b">"


def annotated_pdf(annotation: bytes, acroform: bool) -> bytes:
    """One page with the letter's number line, and one annotation (object 6)."""
    content = (b"BT /F1 11 Tf 40 760 Td (CONG HOA XA HOI CHU NGHIA VIET NAM) Tj 0 -16 Td "
               b"(Doc lap - Tu do - Hanh phuc) Tj 0 -16 Td (So: 123/UBND-VP) Tj 0 -16 Td "
               b"(Kinh gui: Cong an quan) Tj ET")
    form = b" /AcroForm << /Fields [6 0 R] >>" if acroform else b""
    return pdf_from_objects([
        b"<< /Type /Catalog /Pages 2 0 R%s >>" % form,
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> /Annots [6 0 R] >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        annotation,
    ])


@pytest.mark.parametrize("kind", ["free text", "sticky note", "form field"])
def test_pdf_marking_in_an_annotation_or_form_field_is_rejected(kind: str) -> None:
    if kind == "free text":
        annotation = (b"<< /Type /Annot /Subtype /FreeText /Rect [400 740 500 760] /Contents "
                      + _utf16("TỐI MẬT") + b" /DA (/Helv 12 Tf 0 g) >>")
    elif kind == "sticky note":
        annotation = (b"<< /Type /Annot /Subtype /Text /Rect [400 740 420 760] /Contents "
                      + _utf16("MẬT") + b" >>")
    else:
        annotation = (b"<< /Type /Annot /Subtype /Widget /FT /Tx /T (DoMat) "
                      b"/Rect [400 740 500 760] /V " + _utf16("Mật") + b" >>")
    data = annotated_pdf(annotation, acroform=kind == "form field")
    assert secret_verdict(data, "cong-van.pdf", "application/pdf") == REJECTED_SECRET
    # the same PDF without the annotation's text is only official
    plain = annotated_pdf(b"<< /Type /Annot /Subtype /Text /Rect [400 740 420 760] >>", False)
    assert secret_verdict(plain, "cong-van.pdf", "application/pdf") == (
        Action.TAG, DocumentClass.OFFICIAL)


@pytest.mark.parametrize("html", [
    "<p><span>M</span><span style='color:red'>Ậ</span><b>T</b></p>",
    "<p><span style='letter-spacing:4px;text-transform:uppercase'>mật</span></p>",
    "<table><tr><td>ỦY BAN NHÂN DÂN</td><td>MẬT</td></tr></table>",
    "<blockquote type='cite'><div>MẬT</div></blockquote>",
    "<p>&#77;&#7852;&#84;</p>",
    "<h5>MẬT</h5>",
    "<p>M<span style='display: none'>xyz</span>Ậ<font style=\"font-size:0px\">q</font>T</p>",
    "<p>TỐI M<span hidden>-</span>ẬT</p>",
])
def test_html_marking_split_or_styled_is_rejected(html: str) -> None:
    page = html + "".join(f"<p>{escape(line)}</p>" for line in LINES)
    verdict = verdict_of(message("Xem bản HTML.", html=page))
    assert (verdict.action, verdict.document) == REJECTED_SECRET, verdict.evidence


def test_hidden_markup_is_only_passed_over_when_it_holds_text_alone() -> None:
    # A hidden span holding a cell: its end is implied by the cell's, so the marking after it
    # is visible and must still be read.
    page = ("<table><tr><td><span style='display:none'>x<td>MẬT</td></tr></table>"
            + "".join(f"<p>{escape(line)}</p>" for line in LINES))
    verdict = verdict_of(message("Xem bản HTML.", html=page))
    assert (verdict.action, verdict.document) == REJECTED_SECRET
