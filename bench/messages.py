"""The benchmark's messages: plain 5 KB text, a 200 KB PDF official document, a 1 MB DOCX.

Generated, never stored: ``write_messages(directory)`` writes one ``.eml`` per kind, each a
complete RFC 5322 message that ``smtp-source -F`` sends as is. The sender is an official
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
from collections.abc import Callable, Iterable
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
    """One benchmark message: its name, what it is, and its file."""

    name: str
    description: str
    path: Path

    @property
    def size(self) -> int:
        """The message's size on the wire, in bytes."""
        return self.path.stat().st_size


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


def official_docx(target: int = 1024 * 1024) -> bytes:
    """A long official report as a DOCX of about ``target`` bytes.

    Text (compressed XML) makes up a few hundred KB; an incompressible embedded image (a
    scanned signature, a seal) fills the rest, as in real documents of that size.
    """
    paragraphs = [*LETTER_HEAD.splitlines()]
    rng = random.Random(7)
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
        image = random.Random(11).randbytes(max(0, target - text_size - 1024))
        docx.writestr(zipfile.ZipInfo("word/media/image1.png"), image, zipfile.ZIP_STORED)
    return buffer.getvalue()


def attachment_message(subject: str, body: str, data: bytes, filename: str,
                       maintype: str, subtype: str) -> bytes:
    """A short covering note with one attachment (base64)."""
    message = _envelope(subject)
    message.set_content(body, charset="utf-8", cte="8bit")
    message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


def write_messages(directory: Path, names: Iterable[str] = ("plain", "pdf", "docx")
                   ) -> dict[str, MessageKind]:
    """Write the benchmark messages ``names`` into ``directory`` (reused when already there)."""
    directory.mkdir(parents=True, exist_ok=True)
    makers: dict[str, tuple[str, Callable[[], bytes]]] = {
        "plain": ("plain 5 KB text", lambda: plain_message()),
        "pdf": ("official letter, 200 KB PDF attachment", lambda: attachment_message(
            "V/v triển khai hệ thống thư điện tử công vụ",
            "Kính gửi anh, Cục gửi kèm công văn số 1234/THH-CPĐT.\n", official_pdf(),
            "1234_THH-CPDT.pdf", "application", "pdf")),
        "docx": ("official report, 1 MB DOCX attachment", lambda: attachment_message(
            "Báo cáo tình hình sử dụng thư điện tử công vụ",
            "Kính gửi anh, Cục gửi kèm báo cáo.\n", official_docx(), "bao-cao.docx",
            "application", "vnd.openxmlformats-officedocument.wordprocessingml.document")),
    }
    kinds = {}
    for name in names:
        description, make = makers[name]
        path = directory / f"{name}.eml"
        if not path.exists():
            # Write then rename: a concurrent run never sends a half-written file.
            partial = directory / f".{name}.{os.getpid()}.tmp"
            partial.write_bytes(make())
            partial.replace(path)
        kinds[name] = MessageKind(name, description, path)
    return kinds
