"""``govmilter report`` from the incident store after a known load through a real Postfix: the
report's figures equal what was sent, exactly.

Needs root and Postfix (scripts/setup.sh installs them): skipped on a developer machine without
them, failed when CI=true.
"""

from __future__ import annotations

import datetime as _dt
import shutil
import smtplib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from postfix_harness import MilterOn, PrivatePostfix, require, run_govmilter, wait_until
from samples import (
    FREEMAIL_RCPT,
    OFFICIAL,
    OFFICIAL_RCPT,
    OFFICIAL_SENDER,
    PLAIN,
    SECRET,
    policy_yaml,
)

from govmilter.store import open_store

pytestmark = pytest.mark.postfix


#: the load: (message, recipients, how many times)
PLAIN_MESSAGES = 5  # no document, official to official
OFFICIAL_BOTH = 3  # an official document to a gov.vn and a Gmail mailbox: the Gmail copy is held
OFFICIAL_ONLY = 2  # an official document between official mailboxes
SECRET_TO_GMAIL = 2  # a secret document to Gmail only: refused
MESSAGES = PLAIN_MESSAGES + OFFICIAL_BOTH + OFFICIAL_ONLY + SECRET_TO_GMAIL
DOCUMENT_RECIPIENTS = 2 * OFFICIAL_BOTH + OFFICIAL_ONLY + SECRET_TO_GMAIL
VIA_OFFICIAL = OFFICIAL_BOTH + OFFICIAL_ONLY
NON_COMPLIANT = OFFICIAL_BOTH + SECRET_TO_GMAIL


AGENCY = """
agency:
  name: Sở Tài chính
  parent: UBND tỉnh Ninh Bình
  symbol: STC
  place: Ninh Bình
  report_to: Sở Khoa học và Công nghệ tỉnh Ninh Bình
"""


@dataclass(frozen=True)
class Load:
    """The store the milter counted into, its gateway name and the test policy."""

    database: str
    gateway: str
    policy: Path


@pytest.fixture(scope="module")
def load(postfix: PrivatePostfix, milter_on: MilterOn) -> Iterator[Load]:
    """Send the load through the module's Postfix with the milter counting into a new SQLite
    store (under Postfix's own directory, which its smtpd may enter to reach the milter's
    socket)."""
    database = str(postfix.base / "store" / "incidents.sqlite3")
    with milter_on(policy_yaml() + AGENCY, ["--database", database]) as milter:
        assert milter.policy is not None
        for _ in range(PLAIN_MESSAGES):
            assert postfix.send(OFFICIAL_SENDER, [OFFICIAL_RCPT], PLAIN) == {}
        for _ in range(OFFICIAL_BOTH):
            assert postfix.send(OFFICIAL_SENDER, [OFFICIAL_RCPT, FREEMAIL_RCPT], OFFICIAL) == {}
        for _ in range(OFFICIAL_ONLY):
            assert postfix.send(OFFICIAL_SENDER, [OFFICIAL_RCPT], OFFICIAL) == {}
        for _ in range(SECRET_TO_GMAIL):
            with pytest.raises(smtplib.SMTPDataError) as refused:
                postfix.send(OFFICIAL_SENDER, [FREEMAIL_RCPT], SECRET)
            assert refused.value.smtp_code == 550

        def counted() -> int:
            with open_store(database) as store:
                return sum(c.count for c in store.message_counts(_dt.date.min, _dt.date.max))
        wait_until(lambda: counted() >= MESSAGES, 30, "the day's counts", interval=0.3)
        assert counted() == MESSAGES
        with open_store(database) as store:
            gateways = {c.gateway for c in store.message_counts(_dt.date.min, _dt.date.max)}
        [gateway] = gateways
        yield Load(database, gateway, milter.policy)


def test_the_report_counts_exactly_what_was_sent(load: Load) -> None:
    result = run_govmilter("report", "--database", load.database, "--policy", str(load.policy),
                       "--format", "md")
    assert result.returncode == 0, result.stderr
    md = result.stdout
    assert "số đếm chính xác" in md and "ƯỚC TÍNH" not in md
    assert f"| Người nhận văn bản (official-document recipients) | {DOCUMENT_RECIPIENTS} |" in md
    assert f"| Trong đó qua hộp thư công vụ (via official mailboxes) | {VIA_OFFICIAL} |" in md
    assert "| Tỷ lệ tuân thủ (compliance ratio) | 50,0% |" in md
    assert f"| Người nhận không tuân thủ (non-compliant recipients) | {NON_COMPLIANT} |" in md
    assert f"| Thư đã kiểm tra (messages checked) | {MESSAGES} |" in md
    assert f"| {load.gateway} | {DOCUMENT_RECIPIENTS} | {VIA_OFFICIAL} | 50,0% |" in md
    section4 = md[md.index("## 4."):md.index("## 5.")]
    assert f"| Công vụ → thư miễn phí (official_to_freemail) | {NON_COMPLIANT} |" in section4
    assert "official_to_official" not in section4  # the compliant flow is not listed there
    rule_rows = {line.split(" | ")[0][2:]: line.rsplit(" | ", 1)[1] for line in
                 section4.splitlines() if line.startswith("| ") and "-to-" in line}
    assert rule_rows == {"document-to-freemail": f"{OFFICIAL_BOTH} |",
                         "secret-to-freemail": f"{SECRET_TO_GMAIL} |"}
    assert section4.index("| document-to-freemail |") < section4.index("| secret-to-freemail |")
    assert f"| Văn bản (official) | {OFFICIAL_BOTH + OFFICIAL_ONLY} |" in md
    assert f"| Văn bản mật (secret) | {SECRET_TO_GMAIL} |" in md
    assert f"| Không có văn bản (none) | {PLAIN_MESSAGES} |" in md


def test_periods_select_whole_days_of_the_store(load: Load) -> None:
    today = _dt.datetime.now(_dt.timezone(_dt.timedelta(hours=7))).date()
    this_quarter = f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    for period in (["--year", str(today.year)], ["--quarter", this_quarter],
                   ["--since", today.isoformat(), "--until", today.isoformat()]):
        result = run_govmilter("report", "--database", load.database, "--format", "md", *period)
        assert result.returncode == 0, (period, result.stderr)
        assert f"| Thư đã kiểm tra (messages checked) | {MESSAGES} |" in result.stdout, period
    last_year = run_govmilter("report", "--database", load.database, "--year", str(today.year - 1))
    assert last_year.returncode == 1
    assert "has no daily counts from" in last_year.stderr and "Traceback" not in last_year.stderr



def _numbers_in_body(text: str) -> None:
    """The Báo cáo's figures, the same in the DOCX and the PDF."""
    flat = " ".join(text.split())
    assert f"{MESSAGES} thư đã được kiểm tra; {DOCUMENT_RECIPIENTS} lượt người nhận văn bản" in flat
    assert (f"{VIA_OFFICIAL} trên {DOCUMENT_RECIPIENTS} lượt người nhận văn bản được gửi từ "
            "hộp thư công vụ tới hộp thư công vụ, đạt tỷ lệ 50,0%") in flat
    assert (f"tới hộp thư miễn phí (Gmail, Yahoo...): {NON_COMPLIANT} lượt người nhận; nhận từ "
            "hộp thư miễn phí: 0 lượt") in flat
    assert f"không tới người nhận ngoài hệ thống công vụ: {SECRET_TO_GMAIL + OFFICIAL_BOTH}" \
        not in flat  # only the secret ones count as secret documents stopped
    assert f"không tới người nhận ngoài hệ thống công vụ: {SECRET_TO_GMAIL} lượt" in flat
    assert f"Thư bị giữ lại để kiểm tra: đang chờ xử lý (waiting): {OFFICIAL_BOTH}." in flat
    assert "số đếm chính xác" in flat and "ƯỚC TÍNH" not in flat


def test_the_bao_cao_docx_in_the_decree_30_layout(load: Load, tmp_path: Path) -> None:
    from docx import Document
    from docx.shared import Pt

    out = tmp_path / "bao-cao.docx"
    result = run_govmilter("report", "--database", load.database, "--policy", str(load.policy),
                       "--out", str(out))
    assert result.returncode == 0, result.stderr
    doc = Document(str(out))
    section = doc.sections[0]
    sizes = (section.page_width, section.page_height, section.top_margin, section.bottom_margin,
             section.left_margin, section.right_margin)
    # A4; Appendix I: top and bottom 20-25 mm, left 30-35 mm, right 15-20 mm (stored in twips)
    assert [round(size.mm) for size in sizes if size is not None] == [210, 297, 20, 20, 30, 15]
    normal = doc.styles["Normal"]
    assert normal.font.name == "Times New Roman" and normal.font.size == Pt(14)
    heading = doc.tables[0].rows[0].cells
    left = [p.text for p in heading[0].paragraphs]
    right = [p.text for p in heading[1].paragraphs]
    assert left[:2] == ["UBND TỈNH NINH BÌNH", "SỞ TÀI CHÍNH"]
    assert left[-1] == "Số: ……/BC-STC"
    assert right[:2] == ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc"]
    today = _dt.datetime.now(_dt.timezone(_dt.timedelta(hours=7))).date()
    assert right[-1] == (f"Ninh Bình, ngày {today.day:02d} tháng {today.month:02d} năm "
                         f"{today.year}")
    assert heading[1].paragraphs[-1].runs[0].italic
    assert all(r.bold for p in heading[1].paragraphs[:2] for r in p.runs)
    texts = [p.text for p in doc.paragraphs]
    assert texts[texts.index("BÁO CÁO") + 1].startswith(
        "Tình hình sử dụng hệ thống thư điện tử công vụ từ ngày 01/01/")
    assert "Kính gửi: Sở Khoa học và Công nghệ tỉnh Ninh Bình." in texts
    for part in ("I. TÌNH HÌNH CHUNG", "II. KẾT QUẢ THỰC HIỆN", "III. QUY ĐỊNH ĐANG ÁP DỤNG",
                 "IV. KIẾN NGHỊ, ĐỀ XUẤT"):
        assert part in texts
    proposals = texts.index("IV. KIẾN NGHỊ, ĐỀ XUẤT")
    assert set(texts[proposals + 1]) == {"…"}  # left for the agency to write
    assert any(t.startswith("- Văn bản mật hoặc thư có dấu mật") and "từ chối" in t
               for t in texts[texts.index("III. QUY ĐỊNH ĐANG ÁP DỤNG"):proposals])
    _numbers_in_body("\n".join(texts))
    rows = [[c.text for c in row.cells] for row in doc.tables[1].rows]
    assert rows[1] == [load.gateway, str(DOCUMENT_RECIPIENTS), str(VIA_OFFICIAL), "50,0%"]
    by_rule = [[c.text for c in row.cells] for row in doc.tables[2].rows]
    assert [(r[0], r[2]) for r in by_rule[1:]] == [("document-to-freemail", str(OFFICIAL_BOTH)),
                                                  ("secret-to-freemail", str(SECRET_TO_GMAIL))]
    foot = doc.tables[-1].rows[0].cells
    assert foot[0].paragraphs[0].text == "Nơi nhận:"
    assert foot[1].paragraphs[0].text == "THỦ TRƯỞNG CƠ QUAN"


def test_the_bao_cao_pdf_has_the_same_parts_and_embedded_fonts(load: Load,
                                                                tmp_path: Path) -> None:
    import pypdfium2

    require(shutil.which("soffice") and shutil.which("pdftoppm") and shutil.which("pdffonts"),
            "LibreOffice or poppler-utils missing: run scripts/setup.sh")
    out = tmp_path / "bao-cao.pdf"
    result = run_govmilter("report", "--database", load.database, "--policy", str(load.policy),
                       "--format", "pdf", "--out", str(out))
    assert result.returncode == 0, result.stderr
    pdf = pypdfium2.PdfDocument(str(out))
    text = "\n".join(page.get_textpage().get_text_range() for page in pdf)
    width, height = pdf[0].get_size()
    assert (round(width / 72 * 25.4), round(height / 72 * 25.4)) == (210, 297)  # A4
    pages = len(pdf)
    pdf.close()
    for part in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "SỞ TÀI CHÍNH", "BÁO CÁO",
                 "Kính gửi: Sở Khoa học và Công nghệ tỉnh Ninh Bình.", "IV. KIẾN NGHỊ, ĐỀ XUẤT",
                 "Nơi nhận:", "THỦ TRƯỞNG CƠ QUAN"):
        assert part in text, part
    _numbers_in_body(text)
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True, check=True,
                           timeout=60).stdout.splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts), fonts  # emb column
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(out), str(tmp_path / "page")],
                   check=True, timeout=120)
    images = sorted(tmp_path.glob("page-*.png"))
    assert len(images) == pages >= 2
    from PIL import Image

    with Image.open(images[0]) as first:
        gray = first.convert("L")
        dark = sum(gray.histogram()[:128])
        assert dark > 0.005 * gray.width * gray.height  # text was drawn, not a blank page
