"""The benchmark's messages: plain 5 KB text, a 200 KB PDF official document, a 1 MB DOCX,
the same PDF to 60 agencies, a scanned letter.

Generated, never stored: ``write_messages(directory)`` writes the ``.eml`` files of each mix,
complete RFC 5322 messages sent as they are. In the PDF, DOCX and scan mixes every message is
a different document (its number, date and a line of text differ), so that no cache of any
kind, govmilter's or a peer's, flatters a figure; the mix ``pdf-60`` is the one where the same
attachment goes out 60 times (one document to 60 agencies), where a cache by digest may show
its worth. The sender is an official
mailbox and the recipient a free webmail one, so govmilter walks its whole path (classify,
scan, decide, tag); the documents carry no secrecy marking, so nothing is rejected and every
message must reach the sink.
"""

from __future__ import annotations

import email.policy
import io
import os
import random
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from xml.sax.saxutils import escape

SENDER = "van-thu@mic.gov.vn"
RECIPIENT = "nguyen.van.a@gmail.com"
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")

#: An ordinary working e-mail: no document cues.
PLAIN_PARAGRAPH = (
    "Chào anh, em gửi lại lịch họp nhóm tuần sau và mấy ghi chú sau buổi trao đổi hôm qua. "
    "Anh xem giúp em phần số liệu khảo sát, nếu cần bổ sung thì mình trao đổi thêm vào "
    "chiều thứ Năm. Cảm ơn anh nhiều, chúc anh một ngày làm việc hiệu quả.\n"
)

#: The opening of an official letter (công văn): heading, number/symbol, V/v, Kính gửi.
LETTER_HEAD = """BỘ THÔNG TIN VÀ TRUYỀN THÔNG
CỤC TIN HỌC HÓA
CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
Độc lập - Tự do - Hạnh phúc
Số: 1234/THH-CPĐT
Hà Nội, ngày 12 tháng 3 năm 2025
V/v triển khai hệ thống thư điện tử công vụ
Kính gửi: Ủy ban nhân dân các tỉnh, thành phố trực thuộc Trung ương
"""
LETTER_BODY = (
    "Thực hiện Chỉ thị số 34/2008/CT-TTg ngày 03 tháng 12 năm 2008 của Thủ tướng Chính phủ về "
    "tăng cường sử dụng hệ thống thư điện tử trong hoạt động của cơ quan nhà nước, Cục Tin học "
    "hóa đề nghị các cơ quan, đơn vị sử dụng hộp thư điện tử công vụ để trao đổi văn bản, "
    "không sử dụng các hộp thư miễn phí cho công việc. Đề nghị các đơn vị rà soát, báo cáo "
    "tình hình thực hiện và đề xuất giải pháp bảo đảm an toàn thông tin. "
)
LETTER_TAIL = """Nơi nhận:
- Như trên;
- Lưu: VT, THH.
KT. CỤC TRƯỞNG
PHÓ CỤC TRƯỞNG
"""


@dataclass(frozen=True)
class MessageKind:
    """One benchmark mix: its name, what it is, and its message files (sent in turn)."""

    name: str
    description: str
    files: tuple[Path, ...]

    @property
    def path(self) -> Path:
        """The first message (the only one of a mix that repeats one message)."""
        return self.files[0]

    @property
    def size(self) -> int:
        """The first message's size on the wire, in bytes."""
        return self.path.stat().st_size


@dataclass(frozen=True)
class Variant:
    """What makes one document of a mix different from the others."""

    index: int

    @property
    def number(self) -> str:
        return f"{1000 + self.index}/THH-CPĐT"

    @property
    def date(self) -> str:
        return f"ngày {1 + self.index % 28} tháng {1 + self.index // 28 % 12} năm 2025"

    @property
    def line(self) -> str:
        return f"Đợt rà soát thứ {self.index + 1}: đề nghị báo cáo trước ngày {self.date}."

    def head(self) -> str:
        """LETTER_HEAD with this document's number, date and line."""
        return (LETTER_HEAD.replace("1234/THH-CPĐT", self.number)
                .replace("ngày 12 tháng 3 năm 2025", self.date) + self.line + "\n")


def _envelope(subject: str) -> EmailMessage:
    # Bare LF line ends: smtp-source sends the file line by line and adds CRLF itself.
    message = EmailMessage(policy=email.policy.default)
    message["From"] = f"Văn thư <{SENDER}>"
    message["To"] = RECIPIENT
    message["Subject"] = subject
    message["Date"] = "Wed, 12 Mar 2025 09:00:00 +0700"
    message["Message-ID"] = "<bench@mic.gov.vn>"
    return message


def plain_message(size: int = 5 * 1024) -> bytes:
    """A plain UTF-8 text message of about ``size`` bytes with no document cues."""
    message = _envelope("Lịch họp nhóm tuần sau")
    paragraphs = size // len(PLAIN_PARAGRAPH.encode()) + 1
    message.set_content(PLAIN_PARAGRAPH * paragraphs, charset="utf-8", cte="8bit")
    return message.as_bytes()


def official_pdf(target: int = 200 * 1024) -> bytes:
    """A multi-page official letter as a PDF of about ``target`` bytes (text, embedded font)."""
    from fpdf import FPDF  # imported here: only the generator needs fpdf2

    def render(pages: int) -> bytes:
        pdf = FPDF()
        pdf.add_font("DejaVu", fname=str(FONT))
        pdf.set_font("DejaVu", size=11)
        pdf.set_compression(True)
        rng = random.Random(pages)
        for page in range(pages):
            pdf.add_page()
            if page == 0:
                pdf.multi_cell(0, 6, LETTER_HEAD, new_x="LMARGIN", new_y="NEXT")
            words = LETTER_BODY.split()
            # Shuffled sentences: realistic text that compresses like prose, not like a repeat.
            for _ in range(9):
                rng.shuffle(words)
                pdf.multi_cell(0, 6, " ".join(words) + f" (mục {page + 1}).",
                               new_x="LMARGIN", new_y="NEXT")
            if page == pages - 1:
                pdf.multi_cell(0, 6, LETTER_TAIL, new_x="LMARGIN", new_y="NEXT")
        return bytes(pdf.output())

    pages = 8
    data = render(pages)
    while len(data) < target:
        pages = max(pages + 1, int(pages * target / len(data)))
        data = render(pages)
    return data


def distinct_pdf(body: bytes, variant: Variant) -> bytes:
    """``body`` (an :func:`official_pdf`) behind a first page of its own: this document's
    number, date and line, so each document's bytes and text differ."""
    import pypdfium2 as pdfium
    from fpdf import FPDF

    cover = FPDF()
    cover.add_font("DejaVu", fname=str(FONT))
    cover.set_font("DejaVu", size=11)
    cover.add_page()
    cover.multi_cell(0, 6, variant.head(), new_x="LMARGIN", new_y="NEXT")
    document = pdfium.PdfDocument.new()
    document.import_pages(pdfium.PdfDocument(bytes(cover.output())))
    document.import_pages(pdfium.PdfDocument(body))
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def official_docx(target: int = 1024 * 1024, variant: Variant | None = None) -> bytes:
    """A long official report as a DOCX of about ``target`` bytes.

    Text (compressed XML) makes up a few hundred KB; an incompressible embedded image (a
    scanned signature, a seal) fills the rest, as in real documents of that size.
    """
    paragraphs = [*(variant.head() if variant else LETTER_HEAD).splitlines()]
    rng = random.Random(7 if variant is None else 1000 + variant.index)
    words = LETTER_BODY.split()
    for section in range(1500):
        rng.shuffle(words)
        paragraphs.append(" ".join(words) + f" (mục {section + 1}).")
    paragraphs += LETTER_TAIL.splitlines()
    body = "".join(f"<w:p><w:r><w:t>{escape(p)}</w:t></w:r></w:p>" for p in paragraphs)
    document = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        f"<w:body>{body}</w:body></w:document>"
    )
    content_types = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/'
        'vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Default Extension="png" ContentType="image/png"/>'
        '<Override PartName="/word/document.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
    )
    rels = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as docx:
        docx.writestr("[Content_Types].xml", content_types)
        docx.writestr("_rels/.rels", rels)
        docx.writestr("word/document.xml", document)
        text_size = sum(i.compress_size for i in docx.infolist())
        seed = 11 if variant is None else variant.index
        image = random.Random(seed).randbytes(max(0, target - text_size - 1024))
        docx.writestr(zipfile.ZipInfo("word/media/image1.png"), image, zipfile.ZIP_STORED)
    return buffer.getvalue()


def attachment_message(subject: str, body: str, data: bytes, filename: str,
                       maintype: str, subtype: str) -> bytes:
    """A short covering note with one attachment (base64)."""
    message = _envelope(subject)
    message.set_content(body, charset="utf-8", cte="8bit")
    message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


PDF_NOTE = ("V/v triển khai hệ thống thư điện tử công vụ",
            "Kính gửi anh, Cục gửi kèm công văn số 1234/THH-CPĐT.\n")
DOCX_TYPE = ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document")


def pdf_message(data: bytes) -> bytes:
    """An official letter sent as a PDF attachment."""
    return attachment_message(*PDF_NOTE, data, "cong-van.pdf", "application", "pdf")


def scanned_letter(variant: Variant) -> bytes:
    """A scanned letter: two A4 pages at 200 dpi, slightly skewed and noisy, in a PDF."""
    from scans import degrade, official_letter, render_page, scanned_pdf

    pages = [degrade(render_page(page, 200), variant.index + number, angle=1.0)
             for number, page in enumerate(official_letter(number=variant.number, pages=2,
                                                           body=3))]
    return scanned_pdf(pages, 200)


#: Each mix: its description, whether every message is a different document, and its maker
#: (given the message's variant, and a cached renderer of the PDF letter's body).
MIXES: dict[str, tuple[str, bool, Callable[[Variant, Callable[[], bytes]], bytes]]] = {
    "plain": ("plain 5 KB text", False, lambda v, body: plain_message()),
    "pdf": ("official letter, 200 KB PDF attachment, each a different document", True,
            lambda v, body: pdf_message(distinct_pdf(body(), v))),
    "docx": ("official report, 1 MB DOCX attachment, each a different document", True,
             lambda v, body: attachment_message(
                 "Báo cáo tình hình sử dụng thư điện tử công vụ",
                 "Kính gửi anh, Cục gửi kèm báo cáo.\n", official_docx(variant=v),
                 "bao-cao.docx", *DOCX_TYPE)),
    "pdf-60": ("one document to 60 agencies: the same 200 KB PDF letter in every message",
               False, lambda v, body: pdf_message(body())),
    "scan": ("scanned letter, 2 pages, 200 dpi, PDF, each a different document", True,
             lambda v, body: attachment_message(*PDF_NOTE, scanned_letter(v), "scan.pdf",
                                                "application", "pdf")),
}


def write_messages(directory: Path, names: Iterable[str], counts: Mapping[str, int] | None = None
                   ) -> dict[str, MessageKind]:
    """Write the messages of the mixes ``names`` into ``directory`` (reused when there).

    A mix of different documents gets ``counts[name]`` files (one per message of a run); the
    others one file, sent again and again.
    """
    directory.mkdir(parents=True, exist_ok=True)
    body_path = directory / "letter-body.pdf"

    def body() -> bytes:
        if not body_path.exists():
            _write_atomically(body_path, official_pdf())
        return body_path.read_bytes()

    kinds = {}
    for name in names:
        description, distinct, make = MIXES[name]
        files = []
        for index in range((counts or {}).get(name, 1) if distinct else 1):
            path = directory / f"{name}-{index:05d}.eml"
            if not path.exists():
                _write_atomically(path, make(Variant(index), body))
            files.append(path)
        kinds[name] = MessageKind(name, description, tuple(files))
    return kinds


def _write_atomically(path: Path, data: bytes) -> None:
    """Write then rename: a concurrent run never reads a half-written file."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    partial.write_bytes(data)
    partial.replace(path)
