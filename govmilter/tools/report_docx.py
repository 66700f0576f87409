"""The report as a *Báo cáo* an agency's clerk edits, signs and files: DOCX in the layout of
Decree 30/2020/NĐ-CP (Appendix I), and PDF made from that same DOCX by LibreOffice.

The layout: A4; margins top and bottom 20 mm, left 30 mm, right 15 mm; Times New Roman, body
14 pt. The heading is a borderless two-column table: the governing body (upper case) and the
agency (upper case, bold) over ``Số: …/BC-…`` on the left; the national heading (upper case,
bold, 13 pt) and the motto (bold, 14 pt) over the place and date (italic) on the right. Then the
type name ``BÁO CÁO`` and its abstract (bold, centred), ``Kính gửi:``, the body (justified,
first line indented 1 cm), the blank *Kiến nghị*, and at the foot ``Nơi nhận:`` (bold italic
12 pt, list 11 pt) beside the signer's block, both left for the clerk.
"""

from __future__ import annotations

import datetime as _dt
import io
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Mm, Pt
from docx.table import _Cell
from docx.text.paragraph import Paragraph

from govmilter.policy.description import PolicyText, vn_int
from govmilter.policy.model import AgencySettings
from govmilter.tools.report import (
    ACTION_VI_BY_NAME,
    ESTIMATE_NOTE,
    EXACT_NOTE,
    VN_TZ,
    ReportData,
    ReportError,
    unit_rows,
    vn_percent,
)

FONT = "Times New Roman"
NATIONAL_HEADING = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO = "Độc lập - Tự do - Hạnh phúc"
TITLE = "BÁO CÁO"
ABSTRACT = "Tình hình sử dụng hệ thống thư điện tử công vụ"
BLANK = "……"
TEXT_WIDTH_MM = 210 - 30 - 15  #: A4 less the left and right margins
#: what became of a held message, in the report's words
HELD_VI = {"open": "đang chờ xử lý (waiting)", "released": "đã cho gửi đi (released)",
           "deleted": "đã xóa (deleted)", "expired": "hết hạn giữ (expired)"}
_ROMAN = ("I", "II", "III", "IV")
_NUMBER = re.compile(r"^[\d.,%—]+$")  #: a figure, right-aligned in its column


def _day(ts: float) -> _dt.date:
    return _dt.datetime.fromtimestamp(ts, VN_TZ).date()


def period_words(start: float, end: float) -> str:
    """The period as the title names it: ``năm 2026``, ``quý IV năm 2026``, or from ... to."""
    first, last = _day(start), _day(end - 1)
    year_end = _dt.date(first.year, 12, 31)
    if first == _dt.date(first.year, 1, 1) and last == year_end:
        return f"năm {first.year}"
    if first.day == 1 and first.month % 3 == 1 and first.year == last.year:
        quarter_end = (_dt.date(first.year, first.month + 3, 1) - _dt.timedelta(days=1)
                       if first.month < 10 else year_end)
        if last == quarter_end:
            return f"quý {_ROMAN[first.month // 3]} năm {first.year}"
    return f"từ ngày {first:%d/%m/%Y} đến ngày {last:%d/%m/%Y}"


def _run(paragraph: Paragraph, text: str, *, size: float = 14, bold: bool = False,
         italic: bool = False) -> None:
    run = paragraph.add_run(text)
    run.font.size, run.font.bold, run.font.italic = Pt(size), bold, italic


def _para(container: DocxDocument | _Cell, text: str = "", *, size: float = 14,
          bold: bool = False, italic: bool = False, center: bool = False,
          indent: bool = False, before: float = 0, after: float = 0) -> Paragraph:
    paragraph = container.add_paragraph()
    if text:
        _run(paragraph, text, size=size, bold=bold, italic=italic)
    fmt = paragraph.paragraph_format
    paragraph.alignment = (WD_ALIGN_PARAGRAPH.CENTER if center
                           else WD_ALIGN_PARAGRAPH.JUSTIFY)
    fmt.space_before, fmt.space_after = Pt(before), Pt(after)
    if indent:
        fmt.first_line_indent = Cm(1)
    return paragraph


def _rule_line(cell: _Cell) -> None:
    """The short line under the agency's name and under the motto (a bottom border would span
    the whole cell; a centred run of a box-drawing line is what templates use)."""
    _para(cell, "────────", size=10, center=True)


def _layout(doc: DocxDocument) -> None:
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(20), Mm(20)
    section.left_margin, section.right_margin = Mm(30), Mm(15)
    normal = doc.styles["Normal"]
    normal.font.name, normal.font.size = FONT, Pt(14)  # type: ignore[attr-defined]
    fonts = normal.element.get_or_add_rPr().get_or_add_rFonts()  # type: ignore[attr-defined]
    for attribute in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attribute), FONT)
    normal.paragraph_format.space_after = Pt(0)  # type: ignore[attr-defined]


def _two_columns(doc: DocxDocument, left_width: float) -> tuple[_Cell, _Cell]:
    table = doc.add_table(rows=1, cols=2)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    left, right = table.rows[0].cells
    for column, cell, width in zip(table.columns, (left, right),
                                   (Mm(left_width), Mm(TEXT_WIDTH_MM - left_width)), strict=True):
        column.width = cell.width = width  # the grid for LibreOffice, the cell for Word
    for cell in (left, right):
        cell.paragraphs[0]._p.getparent().remove(cell.paragraphs[0]._p)
    return left, right


def _heading(doc: DocxDocument, agency: AgencySettings, today: _dt.date) -> None:
    left, right = _two_columns(doc, 57)  # the national heading keeps to one line
    if agency.parent:
        _para(left, agency.parent.upper(), size=13, center=True)
    _para(left, (agency.name or "TÊN CƠ QUAN").upper(), size=13, bold=True, center=True)
    _rule_line(left)
    _para(left, f"Số: {BLANK}/BC-{agency.symbol or BLANK}", size=13, center=True)
    _para(right, NATIONAL_HEADING, size=13, bold=True, center=True)
    _para(right, MOTTO, size=14, bold=True, center=True)
    _rule_line(right)
    _para(right, f"{agency.place or BLANK}, ngày {today.day:02d} tháng {today.month:02d} năm "
                 f"{today.year}", size=14, italic=True, center=True)


def _table(doc: DocxDocument, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = ""
        _run(cell.paragraphs[0], text, size=12, bold=True)
    for row in rows:
        cells = table.add_row().cells
        for index, (cell, text) in enumerate(zip(cells, row, strict=True)):
            _run(cell.paragraphs[0], text, size=12)
            if index and _NUMBER.match(text):
                cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
    _para(doc, size=6)


def _body(doc: DocxDocument, data: ReportData, policy: PolicyText) -> None:
    total = data.total
    messages = sum(n for _, n in data.messages_by_document)
    flows = dict(data.documents_by_flow)
    section = ("I. TÌNH HÌNH CHUNG", "II. KẾT QUẢ THỰC HIỆN", "III. QUY ĐỊNH ĐANG ÁP DỤNG",
               "IV. KIẾN NGHỊ, ĐỀ XUẤT")
    _para(doc, section[0], bold=True, indent=True, before=6, after=6)
    _para(doc, f"Hệ thống thư điện tử công vụ của cơ quan được kiểm tra tự động bởi "
               f"govmilter. Trong kỳ báo cáo, {vn_int(messages)} thư đã được kiểm tra; "
               f"{vn_int(total.total)} lượt người nhận văn bản (kể cả văn bản mật).",
          indent=True, after=6)
    _para(doc, EXACT_NOTE if data.exact else ESTIMATE_NOTE, size=12, italic=True, indent=True,
          after=6)
    _para(doc, section[1], bold=True, indent=True, before=6, after=6)
    _para(doc, "1. Văn bản trao đổi qua hộp thư công vụ", bold=True, indent=True, after=6)
    _para(doc, f"{vn_int(total.via_official)} trên {vn_int(total.total)} lượt người nhận văn "
               f"bản được gửi từ hộp thư công vụ tới hộp thư công vụ, đạt tỷ lệ "
               f"{vn_percent(total.ratio)}.", indent=True, after=6)
    _table(doc, ("Máy chủ / cơ quan", "Người nhận văn bản", "Qua hộp thư công vụ", "Tỷ lệ"),
           [(a.agency, vn_int(a.total), vn_int(a.via_official), vn_percent(a.ratio))
            for a in data.agencies])
    _para(doc, "2. Văn bản gửi tới hoặc nhận từ hộp thư miễn phí", bold=True, indent=True,
          after=6)
    _para(doc, f"Gửi từ hộp thư công vụ tới hộp thư miễn phí (Gmail, Yahoo...): "
               f"{vn_int(flows.get('official_to_freemail', 0))} lượt người nhận; nhận từ hộp "
               f"thư miễn phí: {vn_int(flows.get('freemail_to_official', 0))} lượt.",
          indent=True, after=6)
    by_unit = unit_rows(data, policy)
    if by_unit:
        _table(doc, ("Đơn vị", "Gửi tới hộp thư miễn phí", "Nhận từ hộp thư miễn phí"), by_unit)
    _para(doc, "3. Văn bản mật bị ngăn chặn", bold=True, indent=True, after=6)
    stopped = ("không có số liệu (chỉ kho sự cố đếm được)" if data.secret_stopped is None
               else f"{vn_int(data.secret_stopped)} lượt người nhận")
    _para(doc, f"Văn bản mật bị từ chối hoặc giữ lại, không tới người nhận ngoài hệ thống "
               f"công vụ: {stopped}.", indent=True, after=6)
    _para(doc, "4. Các trường hợp vi phạm theo quy tắc và việc xử lý", bold=True, indent=True,
          after=6)
    sentences = {rule.rule_id: rule.sentence for rule in policy.rules}
    if data.non_compliant_by_rule:
        _table(doc, ("Quy tắc", "Nội dung", "Lượt người nhận"),
               [(rule, sentences.get(rule, "(không còn trong chính sách)"), vn_int(n))
                for rule, n in data.non_compliant_by_rule])
    else:
        _para(doc, "Không có trường hợp vi phạm.", indent=True, after=6)
    held = "; ".join(f"{HELD_VI.get(status, status)}: {vn_int(n)}"
                     for status, n in data.held_outcomes)
    _para(doc, "Thư bị giữ lại để kiểm tra: " + (held or "không có") + ".", indent=True, after=6)
    actions = "; ".join(f"{ACTION_VI_BY_NAME.get(a, a)}: {vn_int(n)}"
                        for a, mode, n in data.message_actions if mode == "enforce")
    if actions:
        _para(doc, f"Xử lý trên cả thư: {actions}.", indent=True, after=6)
    _para(doc, section[2], bold=True, indent=True, before=6, after=6)
    for line in policy.general:
        _para(doc, f"- {line}", indent=True)
    for rule in policy.rules:
        _para(doc, f"- {rule.sentence}" + (f" ({rule.description})" if rule.description else "")
              + ".", indent=True)
    for text in policy.exceptions:
        _para(doc, f"- Ngoại lệ: {text}", indent=True)
    for text in policy.units:
        _para(doc, f"- Đơn vị: {text}", indent=True)
    _para(doc, section[3], bold=True, indent=True, before=12, after=6)
    for _ in range(3):
        _para(doc, "…" * 26, indent=True)  # one line of dots to write on
    _para(doc, "Trên đây là báo cáo tình hình sử dụng hệ thống thư điện tử công vụ./.",
          indent=True, before=6)


def _foot(doc: DocxDocument) -> None:
    left, right = _two_columns(doc, 80)
    paragraph = _para(left, "", before=12)
    paragraph.alignment = WD_ALIGN_PARAGRAPH.LEFT
    _run(paragraph, "Nơi nhận:", size=12, bold=True, italic=True)
    for line in ("- Như trên;", f"- {BLANK};", "- Lưu: VT."):
        _para(left, line, size=11).alignment = WD_ALIGN_PARAGRAPH.LEFT
    _para(right, "THỦ TRƯỞNG CƠ QUAN", size=14, bold=True, center=True, before=12)
    _para(right, "(Ký, ghi rõ họ tên, đóng dấu)", size=14, italic=True, center=True)


def to_docx(data: ReportData, policy: PolicyText, agency: AgencySettings,
            today: _dt.date | None = None) -> bytes:
    """The Báo cáo as DOCX bytes."""
    today = today or _dt.datetime.now(VN_TZ).date()
    doc = Document()
    _layout(doc)
    _heading(doc, agency, today)
    _para(doc, TITLE, bold=True, center=True, before=18)
    _para(doc, f"{ABSTRACT} {period_words(data.start, data.end)}", bold=True, center=True)
    _rule_line_below_title(doc)
    lines = agency.report_to
    if len(lines) == 1:
        _para(doc, f"Kính gửi: {lines[0]}.", center=True, after=12)
    else:
        _para(doc, "Kính gửi:", center=True)
        for index, line in enumerate(lines):
            _para(doc, f"- {line}{'.' if index == len(lines) - 1 else ';'}", center=True)
        _para(doc, after=6)
    _body(doc, data, policy)
    _foot(doc)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _rule_line_below_title(doc: DocxDocument) -> None:
    _para(doc, "──────", size=10, center=True, after=6)


SOFFICE = ("soffice", "libreoffice")


def docx_to_pdf(docx: bytes, timeout: float = 180) -> bytes:
    """The same document as PDF, by LibreOffice headless (fonts embedded: LibreOffice embeds the
    subsets it uses; Times New Roman falls back to the metric-compatible Liberation Serif).

    :raises ReportError: LibreOffice is missing or fails.
    """
    program = next((found for name in SOFFICE if (found := shutil.which(name))), None)
    if program is None:
        raise ReportError("--format pdf needs LibreOffice (Debian: apt-get install "
                          "libreoffice-writer-nogui fonts-liberation2)")
    with tempfile.TemporaryDirectory(prefix="govmilter-report-") as work:
        base = Path(work)
        (base / "bao-cao.docx").write_bytes(docx)
        # a private profile: two conversions at once would otherwise share (and lock) one
        profile = (base / "profile").as_uri()
        try:
            result = subprocess.run(
                [program, f"-env:UserInstallation={profile}", "--headless", "--norestore",
                 "--convert-to", "pdf", "--outdir", str(base), str(base / "bao-cao.docx")],
                capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise ReportError(f"LibreOffice did not convert the report within {timeout:.0f} "
                              "s") from None
        pdf = base / "bao-cao.pdf"
        if result.returncode != 0 or not pdf.exists():
            detail = (result.stderr or result.stdout).strip()[-300:]
            raise ReportError(f"LibreOffice could not convert the report: {detail or 'no PDF'}")
        return pdf.read_bytes()

