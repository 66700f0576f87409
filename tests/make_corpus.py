"""Build the labelled accuracy corpus: official documents and look-alike negatives as .eml files.

    python tests/make_corpus.py OUT_DIR

writes ``OUT_DIR/official/*.eml`` and ``OUT_DIR/negative/*.eml``; the directory is the label (the
detector never sees it). Everything is synthetic and deterministic (fixed seed, fixed dates):
documents follow Decree 30/2020/NĐ-CP's layout across 16 document types, in body text, HTML, PDF
(DejaVu Sans, a Vietnamese-capable font), DOCX, ODT, edXML, ZIP, forwarded messages, without
diacritics, in NFD, with old tone placement and in legacy encodings (TCVN3, VNI, CP1258, UTF-8
mojibake). Negatives are what a gateway sees every day and what looks most like a document:
company letters with ``Kính gửi:`` and even the national heading, job applications, invoices,
news and newsletters that quote decree numbers, CVs, English and personal mail.

Needs fpdf2 (the ``test`` extra) and the DejaVu font (Debian ``fonts-dejavu-core``).
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import random
import sys
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from email import encoders
from email.message import Message
from email.mime.application import MIMEApplication
from email.mime.base import MIMEBase
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

if TYPE_CHECKING:
    from scans import Letter

from govmilter.document.legacy import encode_cp1258, encode_tcvn3, encode_vni
from govmilter.mail.vntext import strip_diacritics

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
DATE = dt.datetime(2024, 3, 5, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))
SEED = 588

# --- official documents ---------------------------------------------------------------------------

AGENCIES = (  # (name lines, symbol code, unit code, place, head of agency)
    (("BỘ THÔNG TIN VÀ TRUYỀN THÔNG",), "BTTTT", "THH", "Hà Nội", "BỘ TRƯỞNG"),
    (("ỦY BAN NHÂN DÂN", "TỈNH QUẢNG NGÃI"), "UBND", "VP", "Quảng Ngãi", "CHỦ TỊCH"),
    (("BỘ TÀI CHÍNH",), "BTC", "KHTC", "Hà Nội", "BỘ TRƯỞNG"),
    (("UBND THÀNH PHỐ ĐÀ NẴNG", "SỞ GIÁO DỤC VÀ ĐÀO TẠO"), "SGDĐT", "GDTH", "Đà Nẵng",
     "GIÁM ĐỐC"),
    (("VĂN PHÒNG CHÍNH PHỦ",), "VPCP", "TTĐT", "Hà Nội", "BỘ TRƯỞNG, CHỦ NHIỆM"),
    (("ỦY BAN NHÂN DÂN", "HUYỆN HÒA VANG"), "UBND", "TCKH", "Hòa Vang", "CHỦ TỊCH"),
    (("BỘ Y TẾ", "CỤC QUẢN LÝ KHÁM, CHỮA BỆNH"), "KCB", "NV", "Hà Nội", "CỤC TRƯỞNG"),
    (("SỞ THÔNG TIN VÀ TRUYỀN THÔNG", "TỈNH THỪA THIÊN HUẾ"), "STTTT", "CNTT", "Huế", "GIÁM ĐỐC"),
)
# (type name, code in the symbol, or None for công văn, or "law" for a legal document)
TYPES = (
    ("công văn", None), ("quyết định", "QĐ"), ("thông báo", "TB"), ("tờ trình", "TTr"),
    ("báo cáo", "BC"), ("kế hoạch", "KH"), ("giấy mời", "GM"), ("chỉ thị", "CT"),
    ("hướng dẫn", "HD"), ("biên bản", "BB"), ("nghị quyết", "NQ"), ("công điện", "CĐ"),
    ("chương trình", "CTr"), ("giấy giới thiệu", "GGT"), ("thông tư", "law"),
    ("nghị định", "law"),
)
SUBJECTS = (
    "tăng cường sử dụng hệ thống thư điện tử công vụ",
    "triển khai Nền tảng tích hợp, chia sẻ dữ liệu cấp tỉnh",
    "tổ chức hội nghị tổng kết công tác năm 2023",
    "phê duyệt kế hoạch chuyển đổi số năm 2024",
    "bảo đảm an toàn thông tin mạng trong các cơ quan nhà nước",
    "hướng dẫn thực hiện chế độ báo cáo định kỳ",
    "phòng, chống thiên tai và tìm kiếm cứu nạn mùa mưa bão",
    "kiện toàn Ban Chỉ đạo chuyển đổi số của tỉnh",
)
BODY = (
    "Thực hiện Chỉ thị số 34/2008/CT-TTg ngày 03 tháng 12 năm 2008 của Thủ tướng Chính phủ về "
    "việc tăng cường sử dụng hệ thống thư điện tử trong hoạt động của cơ quan nhà nước,",
    "Căn cứ Nghị định số 30/2020/NĐ-CP ngày 05 tháng 3 năm 2020 của Chính phủ về công tác văn "
    "thư; theo đề nghị của Chánh Văn phòng,",
    "Đề nghị các cơ quan, đơn vị quán triệt đến toàn thể cán bộ, công chức, viên chức chỉ sử "
    "dụng hộp thư công vụ để trao đổi văn bản, tài liệu phục vụ công việc.",
    "Các đơn vị tổng hợp tình hình, báo cáo kết quả thực hiện về Văn phòng trước ngày 30 hằng "
    "tháng để tổng hợp, báo cáo cấp có thẩm quyền.",
    "Trong quá trình thực hiện, nếu có khó khăn, vướng mắc, đề nghị phản ánh kịp thời để được "
    "hướng dẫn, giải quyết.",
    "Giao Sở Thông tin và Truyền thông chủ trì, phối hợp với các sở, ban, ngành hướng dẫn, kiểm "
    "tra, đôn đốc việc thực hiện; định kỳ báo cáo Ủy ban nhân dân tỉnh.",
)
SECRECY = ("MẬT", "TỐI MẬT", "TUYỆT MẬT")
URGENCY = ("KHẨN", "THƯỢNG KHẨN", "HỎA TỐC")
SIGNERS = ("Nguyễn Văn Hùng", "Trần Thị Thu Hà", "Lê Quang Minh", "Phạm Thị Hòa")


@dataclass(frozen=True)
class Document:
    """One synthetic official document: its header columns and the lines below them."""

    header: tuple[tuple[str, str], ...]  #: (left column, right column) rows
    lines: tuple[str, ...]
    symbol: str
    type_name: str
    subject: str

    def text(self, columns: bool = True) -> str:
        """The document as plain text: header in two columns, or one column after the other."""
        if columns:
            head = [f"{left:<42}{right}".rstrip() for left, right in self.header]
        else:
            head = [left for left, _ in self.header if left]
            head += [right for _, right in self.header if right]
        return "\n".join([*head, *self.lines]) + "\n"

    def file_stem(self) -> str:
        """A file name like the ones agencies use: ``588_BTTTT-THH``, ``30_2020_ND-CP``."""
        return strip_diacritics(self.symbol).replace("/", "_")


def make_document(index: int, rng: random.Random) -> Document:
    """The index-th official document: type, agency and markings rotate, details are drawn."""
    type_name, code = TYPES[index % len(TYPES)]
    names, agency, unit, place, head = AGENCIES[index % len(AGENCIES)]
    number = rng.randint(1, 2999)
    if code is None:
        symbol = f"{number}/{agency}-{unit}"
    elif code == "law":
        symbol = f"{number % 200 + 1}/2024/{'TT-' + agency if type_name == 'thông tư' else 'NĐ-CP'}"
    else:
        symbol = f"{number:02d}/{code}-{agency}"
    subject = SUBJECTS[index % len(SUBJECTS)]
    marks = []
    if index % 7 == 5:  # 7 and 5 are prime to the number of variants: markings visit them all
        marks.append(SECRECY[(index // 7) % 3])
    if index % 5 == 3:
        marks.append(URGENCY[(index // 5) % 3])
    header = [(names[0], "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")]
    header.append((names[1] if len(names) > 1 else "", "Độc lập - Tự do - Hạnh phúc"))
    header.append((f"Số: {symbol}", f"{place}, ngày {rng.randint(1, 28)} tháng "
                                   f"{rng.randint(1, 12)} năm 2024"))
    lines: list[str] = []
    if code is None:
        lines.append(f"V/v {subject}")
    else:
        lines += [type_name.upper(), f"Về việc {subject}"]
    addressed = ("công văn", "tờ trình", "báo cáo", "giấy mời", "công điện")
    if type_name in addressed or rng.random() < .3:
        lines.append(rng.choice(("Kính gửi: Các sở, ban, ngành thuộc tỉnh",
                                 "Kính gửi: Các Bộ, cơ quan ngang Bộ, cơ quan thuộc Chính phủ",
                                 "Kính gửi: Ủy ban nhân dân các huyện, thị xã, thành phố")))
    lines += rng.sample(BODY, 3)
    lines.append("Trân trọng./.")
    if rng.random() < 0.85:
        lines += ["Nơi nhận:", "- Như trên;", f"- Lưu: VT, {unit}."]
    authority = rng.choice(("KT. ", "TM. ", "TL. ", ""))
    lines += [f"{authority}{head}".strip(), "PHÓ " + head if authority == "KT. " else head,
              SIGNERS[index % len(SIGNERS)]]
    return Document(tuple(header), tuple([*marks, *lines]), symbol, type_name, subject)


def old_tone(text: str) -> str:
    """Move tone marks to the old place (``hòa`` → ``hoà``, ``Ủy`` → ``Uỷ``)."""
    pairs = {"òa": "oà", "óa": "oá", "ỏa": "oả", "õa": "oã", "ọa": "oạ", "ủy": "uỷ", "úy": "uý",
             "ụy": "uỵ", "Ủy": "Uỷ", "ÒA": "OÀ", "ỎA": "OẢ", "ÓA": "OÁ", "ỦY": "UỶ"}
    for new, old in pairs.items():
        text = text.replace(new, old)
    return text


# --- file formats ---------------------------------------------------------------------------------


def pdf_bytes(header: tuple[tuple[str, str], ...], lines: tuple[str, ...] | list[str],
              pad_pages: int = 0) -> bytes:
    """A PDF in DejaVu Sans: header rows in two columns, then one line per paragraph."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_creation_date(DATE)
    pdf.add_page()
    pdf.add_font("DejaVu", fname=str(FONT))
    pdf.set_font("DejaVu", size=11)
    for left, right in header:
        pdf.cell(80, 6, left)
        pdf.cell(0, 6, right, new_x="LMARGIN", new_y="NEXT")
    for line in lines:
        pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    for page in range(pad_pages):
        pdf.add_page()
        pdf.multi_cell(0, 6, f"Phụ lục {page + 1}. " + " ".join(BODY) * 4)
    return bytes(pdf.output())


def scanned_pdf_bytes() -> bytes:
    """A PDF with drawings and no text layer, as a scanner makes."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_creation_date(DATE)
    pdf.add_page()
    for row in range(40):
        pdf.rect(20, 20 + row * 6, 60 + (row * 37) % 100, 3, style="F")
    return bytes(pdf.output())


def sign_pdf(pdf: bytes, government: bool = True) -> bytes:
    """Append a signature dictionary whose certificate names the Government CA (not valid)."""
    issuer = ("CN=Co quan chung thuc so Chinh phu, O=Ban Co yeu Chinh phu, C=VN" if government
              else "CN=VNPT Certification Authority, O=VNPT Group, C=VN")
    contents = ("3082" + issuer.encode().hex()).ljust(8192, "0")
    return pdf + (f"\n9999 0 obj\n<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter "
                  f"/adbe.pkcs7.detached /ByteRange [0 1000 9192 500] /Contents <{contents}> "
                  f">>\nendobj\n").encode()


def _zip(files: dict[str, bytes], stored: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 3, 5, 9, 0, 0))
            info.compress_type = zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def docx_bytes(lines: list[str] | tuple[str, ...], media: bytes = b"") -> bytes:
    """A minimal WordprocessingML document, one paragraph per line (plus an optional image)."""
    body = "".join(f'<w:p><w:r><w:t xml:space="preserve">{escape(line)}</w:t></w:r></w:p>'
                   for line in lines)
    files = {
        "[Content_Types].xml": (
            b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.'
            b'org/package/2006/content-types"><Default Extension="rels" ContentType="application/'
            b'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType'
            b'="application/xml"/><Override PartName="/word/document.xml" ContentType="application'
            b'/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
        ),
        "_rels/.rels": (
            b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
            b'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
            b'schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            b'Target="word/document.xml"/></Relationships>'
        ),
        "word/document.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://'
            f'schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{body}</w:body>'
            '</w:document>'
        ).encode(),
    }
    if media:
        files["word/media/image1.png"] = media
    return _zip(files, stored=("word/media/image1.png",))


def odt_bytes(lines: list[str] | tuple[str, ...], media: bytes = b"") -> bytes:
    """A minimal OpenDocument text, one paragraph per line (plus an optional image)."""
    body = "".join(f"<text:p>{escape(line)}</text:p>" for line in lines)
    pictures = {"Pictures/image1.png": media} if media else {}
    return _zip({
        "mimetype": b"application/vnd.oasis.opendocument.text",
        "META-INF/manifest.xml": (
            b'<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:'
            b'names:tc:opendocument:xmlns:manifest:1.0"><manifest:file-entry manifest:full-path="/"'
            b' manifest:media-type="application/vnd.oasis.opendocument.text"/><manifest:file-entry '
            b'manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>'
        ),
        "content.xml": (
            '<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:'
            'oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:'
            'opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:text>'
            f"{body}</office:text></office:body></office:document-content>"
        ).encode(),
        **pictures,
    }, stored=("mimetype", *pictures))


def edxml_bytes(doc: Document, files: dict[str, bytes]) -> bytes:
    """An edXML package (QCVN 102:2016) carrying the document's metadata and files."""
    number, notation = doc.symbol.split("/", 1)
    attachments = "".join(
        f"<Attachment><ContentId>cid:{i}</ContentId><AttachmentName>{escape(name)}"
        "</AttachmentName><ContentType>application/octet-stream</ContentType>"
        '<edXML:ContentTransferEncoded xmlns:edXML="http://www.mic.gov.vn/TBT/QCVN_102_2016">'
        f"{base64.b64encode(data).decode()}</edXML:ContentTransferEncoded></Attachment>"
        for i, (name, data) in enumerate(files.items(), 1))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<edXML xmlns="http://www.mic.gov.vn/TBT/'
        'QCVN_102_2016">\n<edXML:edXMLEnvelope xmlns:edXML="http://www.mic.gov.vn/TBT/'
        'QCVN_102_2016"><edXML:edXMLHeader><edXML:MessageHeader>'
        "<edXML:From><edXML:OrganId>000.00.00.G22</edXML:OrganId><edXML:OrganName>"
        f"{escape(doc.header[0][0])}</edXML:OrganName></edXML:From>"
        f"<edXML:DocumentId>000.00.00.G22,2024/03/05,{escape(doc.symbol)}</edXML:DocumentId>"
        f"<edXML:Code><edXML:CodeNumber>{number}</edXML:CodeNumber><edXML:CodeNotation>"
        f"{escape(notation)}</edXML:CodeNotation></edXML:Code>"
        f"<edXML:DocumentType><edXML:Type>1</edXML:Type><edXML:TypeName>"
        f"{doc.type_name.capitalize()}</edXML:TypeName></edXML:DocumentType>"
        f"<edXML:Subject>V/v {escape(doc.subject)}</edXML:Subject>"
        "<edXML:SignerInfo><edXML:Competence>KT. BỘ TRƯỞNG</edXML:Competence></edXML:SignerInfo>"
        "<edXML:OtherInfo><edXML:Priority>0</edXML:Priority></edXML:OtherInfo>"
        "</edXML:MessageHeader></edXML:edXMLHeader></edXML:edXMLEnvelope>\n"
        f"<AttachmentEncoded>{attachments}</AttachmentEncoded>\n</edXML>\n"
    ).encode()


# --- messages -------------------------------------------------------------------------------------


def text_part(data: bytes | str, subtype: str = "plain", charset: str = "utf-8") -> Message:
    """A text part with exactly these bytes (str is UTF-8 encoded) and this declared charset."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    part = MIMEBase("text", subtype, charset=charset)
    part.set_payload(raw)
    encoders.encode_base64(part)
    return part


def attachment(data: bytes, filename: str, subtype: str = "octet-stream") -> Message:
    """An attachment part; non-ASCII file names are RFC 2231 encoded."""
    part = MIMEApplication(data, subtype)
    name: str | tuple[str, str, str] = filename
    if not filename.isascii():
        name = ("utf-8", "", filename)
    part.add_header("Content-Disposition", "attachment", filename=name)
    return part


def envelope(message: Message, subject: str, sender: str, to: str, index: int) -> bytes:
    """Add the headers every corpus message has and serialise it."""
    from email.header import Header

    message["From"] = sender
    message["To"] = to
    message["Subject"] = Header(subject, "utf-8").encode()
    message["Date"] = format_datetime(DATE + dt.timedelta(minutes=index))
    message["Message-ID"] = f"<corpus-{index}@example.invalid>"
    return message.as_bytes()


def with_cover(cover: str, parts: list[Message]) -> Message:
    """A multipart/mixed message: a short cover note and the given parts."""
    message = MIMEMultipart("mixed")
    message.attach(text_part(cover))
    for part in parts:
        message.attach(part)
    return message


COVERS = (
    "Kính gửi anh/chị,\nVăn phòng gửi kèm văn bản, đề nghị nghiên cứu, thực hiện.\nTrân trọng.",
    "Văn thư gửi văn bản đính kèm.",
    "Gửi đồng chí văn bản để biết và phối hợp.",
)


def _html(text: str) -> str:
    paragraphs = "".join(f"<p>{escape(line)}</p>" for line in text.split("\n") if line.strip())
    return f"<html><head><style>p{{margin:0}}</style></head><body>{paragraphs}</body></html>"


Variant = Callable[[Document, random.Random], tuple[str, Message]]


def _subject(doc: Document, rng: random.Random) -> str:
    return rng.choice((f"Công văn số {doc.symbol} V/v {doc.subject}",
                       f"V/v {doc.subject}", f"Gửi văn bản: {doc.subject}", "Văn bản mới"))


def _pdf_of(doc: Document) -> bytes:
    return pdf_bytes(doc.header, doc.lines)


def _name(doc: Document, rng: random.Random, ext: str) -> str:
    return rng.choice((f"{doc.file_stem()}{ext}", f"van ban {doc.type_name}{ext}", f"vb{ext}"))


OFFICIAL_VARIANTS: dict[str, Variant] = {
    "body": lambda d, r: (_subject(d, r), text_part(d.text())),
    "html": lambda d, r: (_subject(d, r), text_part(_html(d.text(columns=False)), "html")),
    "pdf": lambda d, r: (_subject(d, r), with_cover(
        r.choice(COVERS), [attachment(_pdf_of(d), _name(d, r, ".pdf"), "pdf")])),
    "pdf-signed": lambda d, r: ("Văn bản điện tử", with_cover(
        r.choice(COVERS), [attachment(sign_pdf(_pdf_of(d)), f"{d.file_stem()}.signed.pdf",
                                      "pdf")])),
    "scan-signed": lambda d, r: ("Văn bản", with_cover(
        r.choice(COVERS), [attachment(sign_pdf(scanned_pdf_bytes()), f"{d.file_stem()}.pdf",
                                      "pdf")])),
    "docx": lambda d, r: (_subject(d, r), with_cover(r.choice(COVERS), [attachment(
        docx_bytes(d.text(columns=False).split("\n")), _name(d, r, ".docx"))])),
    "odt": lambda d, r: (_subject(d, r), with_cover(r.choice(COVERS), [attachment(
        odt_bytes(d.text(columns=False).split("\n")), _name(d, r, ".odt"))])),
    "edxml": lambda d, r: ("Văn bản liên thông", with_cover(r.choice(COVERS), [attachment(
        edxml_bytes(d, {f"{d.file_stem()}.pdf": _pdf_of(d)}), "vanban.edxml", "xml")])),
    "zip": lambda d, r: (_subject(d, r), with_cover(r.choice(COVERS), [attachment(_zip({
        f"{d.file_stem()}.docx": docx_bytes(d.text(columns=False).split("\n")),
        "phu-luc.txt": "Phụ lục kèm theo".encode()}), "vanban.zip", "zip")])),
    "nodiac": lambda d, r: (strip_diacritics(_subject(d, r)), text_part(
        strip_diacritics(d.text()))),
    "nfd": lambda d, r: (_subject(d, r), text_part(unicodedata.normalize("NFD", d.text()))),
    "oldtone": lambda d, r: (old_tone(_subject(d, r)), text_part(old_tone(d.text()))),
    "tcvn3": lambda d, r: (_subject(d, r), text_part(
        encode_tcvn3(d.text()).encode("latin-1"), charset="iso-8859-1")),
    "vni": lambda d, r: (_subject(d, r), text_part(
        encode_vni(d.text()).encode("latin-1"), charset="iso-8859-1")),
    "cp1258": lambda d, r: (_subject(d, r), text_part(encode_cp1258(d.text()),
                                                      charset="windows-1258")),
    "mojibake": lambda d, r: (_subject(d, r), text_part(d.text().encode(),
                                                        charset="iso-8859-1")),
    "docx-vni": lambda d, r: (_subject(d, r), with_cover(r.choice(COVERS), [attachment(
        docx_bytes(encode_vni(d.text(columns=False)).split("\n")), _name(d, r, ".docx"))])),
    "forwarded": lambda d, r: (f"Fwd: {_subject(d, r)}", _forward(d, r)),
}


def _forward(doc: Document, rng: random.Random) -> Message:
    inner = text_part(doc.text())
    inner["Subject"] = f"V/v {doc.subject}"
    inner["From"] = "vanthu@mic.gov.vn"
    return with_cover("Chuyển tiếp để anh chị xử lý.", [MIMEMessage(inner)])


# --- negatives ------------------------------------------------------------------------------------

# Private companies only: a TẬP ĐOÀN or TỔNG CÔNG TY without a private legal form is read as a
# state-owned enterprise, whose letters are văn bản (Decree 30/2020, Art. 1).
COMPANIES = ("CÔNG TY TNHH PHẦN MỀM AN PHÁT", "CÔNG TY CỔ PHẦN THƯƠNG MẠI HOÀNG LONG",
             "CÔNG TY TNHH XÂY DỰNG MINH TÂM", "TẬP ĐOÀN HOA SEN - CÔNG TY CỔ PHẦN")
PEOPLE = ("Nguyễn Thị Lan", "Trần Văn Nam", "Lê Hoàng Yến", "Phạm Minh Tuấn", "Đỗ Thu Trang")
NEWS = (
    "Theo Nghị định 30/2020/NĐ-CP ngày 05 tháng 3 năm 2020 của Chính phủ, văn bản điện tử được "
    "ký số có giá trị pháp lý như bản gốc văn bản giấy.",
    "Bộ Thông tin và Truyền thông vừa ban hành công văn số 588/BTTTT-THH đề nghị các cơ quan sử "
    "dụng thư điện tử công vụ thay cho hộp thư miễn phí.",
    "Thông tư 01/2011/TT-BNV đã được thay thế; nhiều địa phương đã cập nhật quy trình văn thư.",
    "Ngày 12 tháng 3 năm 2024, Ủy ban nhân dân tỉnh đã tổ chức hội nghị trực tuyến về chuyển đổi "
    "số với sự tham gia của các sở, ngành.",
    "Chuyên gia cho rằng việc thực hiện Quyết định 749/QĐ-TTg cần nguồn lực lớn và lộ trình rõ.",
)


def _company_letter(rng: random.Random, i: int, heading: bool) -> list[str]:
    company = COMPANIES[i % len(COMPANIES)]
    lines = [company]
    if heading:
        lines += ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc"]
    lines += [f"Số: {rng.randint(1, 300)}/2024/{rng.choice(('CV', 'BG', 'TB'))}-"
              f"{rng.choice(('APS', 'HL', 'MT', 'SGT'))}",
              f"Hà Nội, ngày {rng.randint(1, 28)} tháng {rng.randint(1, 12)} năm 2024",
              rng.choice(("V/v báo giá thiết bị mạng", "V/v thông báo lịch nghỉ Tết",
                          "V/v xác nhận công nợ quý I")),
              rng.choice(("Kính gửi: Quý khách hàng", "Kính gửi: Ban Giám đốc Công ty ABC",
                          "Kính gửi: Phòng Hành chính - Quản trị")),
              "Công ty trân trọng gửi tới Quý khách báo giá các sản phẩm như sau.",
              "Hiệu lực báo giá: 30 ngày kể từ ngày ký.",
              "Nơi nhận:", "- Như trên;", "- Lưu: VT.", "GIÁM ĐỐC", PEOPLE[i % len(PEOPLE)]]
    return lines


def _application(rng: random.Random, i: int) -> list[str]:
    return ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc",
            f"Hà Nội, ngày {rng.randint(1, 28)} tháng {rng.randint(1, 12)} năm 2024",
            rng.choice(("ĐƠN XIN VIỆC", "ĐƠN XIN NGHỈ PHÉP", "ĐƠN ĐỀ NGHỊ")),
            "Kính gửi: Phòng Tổ chức - Hành chính",
            f"Tôi tên là {PEOPLE[i % len(PEOPLE)]}, sinh năm 199{i % 10}.",
            "Tôi làm đơn này kính mong được xem xét. Tôi xin chân thành cảm ơn.",
            "Người làm đơn", PEOPLE[i % len(PEOPLE)]]


def _invoice(rng: random.Random, i: int) -> list[str]:
    return ["HÓA ĐƠN GIÁ TRỊ GIA TĂNG", "(Bản thể hiện của hóa đơn điện tử)",
            f"Ký hiệu: 1C24T{rng.choice('ABCDE')}A", f"Số: {rng.randint(1, 99999):07d}",
            f"Ngày {rng.randint(1, 28)} tháng {rng.randint(1, 12)} năm 2024",
            f"Đơn vị bán hàng: {COMPANIES[i % len(COMPANIES)]}",
            "Mã số thuế: 0101234567", "Tên hàng hóa, dịch vụ: Dịch vụ lưu trữ đám mây",
            f"Tổng tiền thanh toán: {rng.randint(1, 90)}.500.000 đồng"]


def _cv(rng: random.Random, i: int) -> list[str]:
    return [PEOPLE[i % len(PEOPLE)].upper(), "SƠ YẾU LÝ LỊCH / CURRICULUM VITAE",
            "Mục tiêu nghề nghiệp: trở thành kỹ sư hệ thống.",
            "Kinh nghiệm: 2019-2024 Quản trị mạng, Công ty TNHH Phần mềm An Phát.",
            "Học vấn: Đại học Bách khoa Hà Nội, ngành Công nghệ thông tin.",
            "Kỹ năng: Linux, Postfix, Python. Ngoại ngữ: tiếng Anh (IELTS 7.0)."]


def _news(rng: random.Random) -> list[str]:
    return ["BẢN TIN CHUYỂN ĐỔI SỐ", *rng.sample(NEWS, 3),
            "Độc giả có thể xem toàn văn trên Cổng thông tin điện tử Chính phủ."]


def _personal(rng: random.Random, i: int) -> list[str]:
    return [rng.choice(("Chào anh,", "Mẹ ơi,", "Hi Lan,")),
            rng.choice(("Hôm qua em bị mất ví ở chợ, may mà tìm lại được.",
                        "Nhà mình mất điện cả buổi chiều.",
                        "Gặp mặt lớp cũ vào thứ Bảy nhé.")),
            rng.choice(("MẤT", "Mặt", "MẶT TRỜI MỌC", "Mất")),
            "Cuối tuần này cả nhà về quê, nhớ mang theo áo mưa.",
            f"Thương, {PEOPLE[i % len(PEOPLE)]}"]


def _english(rng: random.Random, i: int) -> list[str]:
    return ["Dear colleagues,",
            rng.choice(("Please find attached the quarterly report for Q1 2024.",
                        "Our meeting is moved to Friday, 15 March 2024 at 10:00.",
                        "Ref: 12/2024/HD-ABC, the contract renewal, is ready for signature.")),
            "Regards,", "John Smith", "Sales Director, ACME Co., Ltd"]


def _reply(rng: random.Random, i: int) -> tuple[str, list[str]]:
    symbol = f"{rng.randint(10, 999)}/UBND-VP"
    return (f"Re: Công văn số {symbol}", [
        "Kính gửi: Văn phòng UBND tỉnh", f"Trả lời công văn số {symbol} của Quý cơ quan,",
        f"{COMPANIES[i % len(COMPANIES)].title()} xin gửi thông tin như sau.",
        f"Hà Nội, ngày {rng.randint(1, 28)} tháng 3 năm 2024", "Trân trọng."])


def _password(rng: random.Random, i: int) -> list[str]:
    return ["THÔNG BÁO ĐẶT LẠI MẬT KHẨU", f"Xin chào {PEOPLE[i % len(PEOPLE)]},",
            "Mật khẩu tài khoản thư điện tử của bạn đã được đặt lại.",
            f"Mật khẩu tạm thời: Tm{rng.randint(1000, 9999)}@", "Vui lòng đổi mật khẩu sau khi "
            "đăng nhập. Không chia sẻ mật khẩu cho bất kỳ ai.", "Bộ phận CNTT"]


def _honey(rng: random.Random, i: int) -> list[str]:
    return ["MẬT ONG RỪNG U MINH", "Mật ong nguyên chất, chai 500 ml: "
            f"{rng.randint(2, 6)}50.000 đồng.", "Mật", "ong thu hoạch tháng 3, giao tận nơi.",
            "Liên hệ: 0912 345 678"]


def _secrecy_news(rng: random.Random, i: int) -> list[str]:
    return ["BẢO VỆ BÍ MẬT NHÀ NƯỚC TRONG THỜI KỲ CHUYỂN ĐỔI SỐ",
            "Luật Bảo vệ bí mật nhà nước có hiệu lực từ ngày 01 tháng 7 năm 2019.",
            rng.choice(("Một cán bộ bị kỷ luật vì làm lộ tài liệu mật qua thư điện tử cá nhân.",
                        "Các cơ quan được yêu cầu không soạn thảo văn bản mật trên máy tính "
                        "kết nối Internet.")),
            "Bí mật nhà nước được chia thành ba độ: tuyệt mật, tối mật và mật.",
            "Mối quan hệ mật thiết giữa an ninh mạng và bảo mật thông tin được nhấn mạnh.",
            "Tình trạng khẩn cấp về an ninh mạng đòi hỏi khẩn trương hành động."]


NEGATIVE_VARIANTS: dict[str, Callable[[random.Random, int], tuple[str, Message]]] = {
    "password": lambda r, i: ("Đặt lại mật khẩu", text_part("\n".join(_password(r, i)))),
    "honey": lambda r, i: ("Mật ong rừng giá tốt", text_part(
        _html("\n".join(_honey(r, i))), "html")),
    "secrecy-news": lambda r, i: ("Tin: bảo vệ bí mật nhà nước", text_part(
        "\n".join(_secrecy_news(r, i)))),
    "secrecy-news-pdf": lambda r, i: ("Tổng hợp báo chí", with_cover("Gửi anh.", [
        attachment(pdf_bytes((), _secrecy_news(r, i)), "bao-chi.pdf", "pdf")])),
    "company-forward": lambda r, i: ("Fwd: Báo giá", text_part(
        "Chuyển anh xem.\n\n---------- Forwarded message ---------\nFrom: Phòng kinh doanh "
        "<kd@example.com>\nSubject: Báo giá\n\n"
        + "\n".join(f"> {line}" for line in _company_letter(r, i, heading=True)))),
    "company-letter": lambda r, i: ("Báo giá thiết bị", text_part(
        "\n".join(_company_letter(r, i, heading=False)))),
    "company-heading": lambda r, i: ("Thông báo của Công ty", text_part(
        "\n".join(_company_letter(r, i, heading=True)))),
    "company-pdf": lambda r, i: ("Báo giá", with_cover("Kính gửi Quý khách, xin gửi báo giá.", [
        attachment(pdf_bytes((), _company_letter(r, i, heading=i % 2 == 0)), "bao-gia.pdf",
                   "pdf")])),
    "application": lambda r, i: ("Đơn xin việc", text_part("\n".join(_application(r, i)))),
    "application-docx": lambda r, i: ("Hồ sơ ứng tuyển", with_cover(
        "Kính gửi anh chị, em gửi đơn và CV.", [
            attachment(docx_bytes(_application(r, i)), "Don xin viec.docx"),
            attachment(docx_bytes(_cv(r, i)), "CV.docx")])),
    "invoice": lambda r, i: (f"Hóa đơn điện tử số {r.randint(1, 9999):07d}", with_cover(
        "Kính gửi Quý khách, hóa đơn điện tử đính kèm.", [
            attachment(pdf_bytes((), _invoice(r, i)), "hoadon.pdf", "pdf")])),
    "news": lambda r, i: ("Tin tức chuyển đổi số", text_part(
        _html("\n".join(_news(r))), "html")),
    "newsletter-decree": lambda r, i: (
        "Bản tin pháp luật: hướng dẫn Nghị định 30/2020/NĐ-CP về công tác văn thư",
        text_part("\n".join(_news(r)))),
    "news-odt": lambda r, i: ("Tổng hợp báo chí", with_cover("Gửi anh bản tổng hợp.", [
        attachment(odt_bytes(_news(r)), "tong-hop.odt")])),
    "cv": lambda r, i: ("Ứng tuyển vị trí kỹ sư", with_cover(
        "Kính gửi: Phòng Nhân sự\nEm xin gửi CV ứng tuyển.", [
            attachment(docx_bytes(_cv(r, i)), f"CV {PEOPLE[i % len(PEOPLE)]}.docx")])),
    "english": lambda r, i: ("Quarterly report", text_part("\n".join(_english(r, i)))),
    "english-pdf": lambda r, i: ("Report attached", with_cover("\n".join(_english(r, i)), [
        attachment(pdf_bytes((), ["Quarterly report", "Revenue grew 12 percent.",
                                  "Prepared by the finance team."], pad_pages=1),
                   "report.pdf", "pdf")])),
    "personal": lambda r, i: ("Chuyện nhà", text_part("\n".join(_personal(r, i)))),
    "personal-tcvn3": lambda r, i: ("Thư cũ", text_part(
        encode_tcvn3("\n".join(_personal(r, i))).encode("latin-1"), charset="iso-8859-1")),
    "reply-citing": lambda r, i: _reply_message(r, i),
    "photos-zip": lambda r, i: ("Ảnh du lịch", with_cover("Ảnh chuyến đi nè.", [attachment(
        _zip({f"anh{n}.jpg": bytes(r.getrandbits(8) for _ in range(2000)) for n in range(3)}),
        "anh.zip", "zip")])),
}


def _reply_message(rng: random.Random, i: int) -> tuple[str, Message]:
    subject, lines = _reply(rng, i)
    return subject, text_part("\n".join(lines))


# --- scans and photos (read by OCR) -------------------------------------------------------------

#: Scans in the corpus: (format, dpi, secrecy stamp). Few on purpose: each costs about half a
#: second of OCR (1 to 3 s on a busy 2-core machine), and CI runs the corpus several times.
SCANS = (
    ("pdf", 200, "TỐI MẬT"), ("pdf", 150, None), ("pdf", 300, "MẬT"), ("jpeg", 200, None),
    ("png", 150, "TUYỆT MẬT"), ("tiff", 200, "MẬT"), ("photo", 200, None),
    ("photo", 200, "TỐI MẬT"), ("pdf", 200, "MẬT"), ("jpeg", 150, "TỐI MẬT"),
)


def scanned_letter(doc: Document, stamp: str | None) -> Letter:
    """``doc`` as printed on paper: its header, a boxed ``stamp``, lines wrapped to the page."""
    import textwrap

    from scans import Letter

    lines = [wrapped for line in doc.lines if line not in SECRECY
             for wrapped in textwrap.wrap(line, 72) or [""]]
    return Letter(doc.header, tuple(lines), stamp)


def scan_message_of(doc: Document, kind: str, dpi: int, stamp: str | None, seed: int
                    ) -> tuple[str, Message]:
    """The message a văn thư sends with a scan (or phone photo) of ``doc``."""
    from scans import degrade, image_bytes, photograph, render_page, scanned_pdf, tiff_pages

    paper = render_page(scanned_letter(doc, stamp), dpi)
    page = degrade(paper, seed, angle=0.5 + seed % 6 * 0.5)
    if kind == "pdf":
        data, name = scanned_pdf([page], dpi), "scan0001.pdf"
    elif kind == "photo":
        data, name = image_bytes(photograph(paper, seed), "JPEG"), f"IMG_2024{seed:04d}.jpg"
    elif kind == "tiff":
        data, name = tiff_pages([page], dpi), "scan0001.tif"
    else:
        data, name = image_bytes(page, kind.upper(), dpi), f"scan0001.{kind}"
    return "Gửi văn bản", with_cover("Gửi anh/chị văn bản (bản quét) đính kèm.",
                                     [attachment(data, name)])


def scan_negatives() -> list[tuple[str, str, Message]]:
    """Images with text that are not documents: a shop receipt, a chat screenshot, a photo of a
    notice on a residential building's board."""
    from scans import image_bytes, photograph, text_image

    receipt = text_image((
        "SIÊU THỊ MINI AN PHÚ", "12 Nguyễn Trãi, Q.1, TP.HCM", "HÓA ĐƠN BÁN LẺ",
        "Số HĐ: 0012345    Ngày: 05/03/2024", "Sữa tươi 1L        2 x 32.000", "Bánh mì"
        "            3 x 15.000", "Nước mắm           1 x 45.000", "Tổng cộng:     154.000 đ",
        "Tiền mặt:       200.000 đ", "Tiền thừa:       46.000 đ", "Cảm ơn quý khách!"),
        (620, 900), 26)
    chat = text_image((
        "Chị ơi gửi em công văn hôm qua với", "Ok em, chiều chị gửi qua mail nhé",
        "Dạ em cảm ơn, họp lúc 2 giờ ạ", "Nhớ mang theo báo cáo tháng 2 nha",
        "Vâng, em in sẵn rồi", "Tối nay đi ăn lẩu không?"), (720, 1280), 30, bubbles=True)
    notice = photograph(text_image((
        "BAN QUẢN LÝ TÒA NHÀ AN BÌNH", "THÔNG BÁO",
        "Về việc tạm ngừng cấp nước", "Ban quản lý xin thông báo tới cư dân:",
        "Ngày 10/3 tòa nhà tạm ngừng cấp nước từ 8h đến 17h", "để vệ sinh bể chứa.",
        "Mong quý cư dân thông cảm và chủ động trữ nước.", "Trân trọng cảm ơn!"),
        (1400, 1980), 44, background=(250, 246, 235)), 9)
    return [
        ("image-receipt", "Hóa đơn", with_cover("Em gửi hóa đơn nhé.",
                                                 [attachment(image_bytes(receipt, "JPEG"),
                                                             "hoadon.jpg")])),
        ("image-chat", "Ảnh chụp màn hình", with_cover("", [attachment(
            image_bytes(chat, "PNG"), "Screenshot_20240305.png")])),
        ("image-notice", "Thông báo cúp nước", with_cover("Thông báo của tòa nhà.", [
            attachment(image_bytes(notice, "JPEG"), "IMG_20240306.jpg")])),
    ]


def make_scans(out: Path, rng: random.Random) -> tuple[int, int]:
    """Scans (``scan-*--TYPE-NNN[--stamp].eml``) and image negatives (``image-*``)."""
    for i, (kind, dpi, stamp) in enumerate(SCANS):
        doc = make_document(i * 3, rng)
        subject, message = scan_message_of(doc, kind, dpi, stamp, seed=i + 1)
        stem = strip_diacritics(doc.type_name).replace(" ", "-")
        mark = f"--{strip_diacritics(stamp).lower().replace(' ', '-')}" if stamp else ""
        path = out / "official" / f"scan-{kind}-{dpi}--{stem}-{500 + i:03d}{mark}.eml"
        path.write_bytes(envelope(message, subject, "Van thu <vanthu@mic.gov.vn>",
                                  "nguoinhan@gmail.com", 500 + i))
    negatives = scan_negatives()
    for i, (kind, subject, message) in enumerate(negatives):
        path = out / "negative" / f"{kind}-{i:03d}.eml"
        path.write_bytes(envelope(message, subject, "Ban <ban@example.com>", "ban@gmail.com",
                                  2000 + i))
    return len(SCANS), len(negatives)


def make_corpus(out: Path, official: int = 102, negative: int = 132) -> tuple[int, int]:
    """Write the corpus under ``out``; returns the number of official and negative messages."""
    rng = random.Random(SEED)
    (out / "official").mkdir(parents=True, exist_ok=True)
    (out / "negative").mkdir(parents=True, exist_ok=True)
    variants = list(OFFICIAL_VARIANTS.items())
    for i in range(official):
        doc = make_document(i, rng)
        name, build = variants[i % len(variants)]
        subject, message = build(doc, rng)
        stem = strip_diacritics(doc.type_name).replace(" ", "-")
        marks = "".join(f"--{strip_diacritics(m).lower().replace(' ', '-')}"
                        for m in doc.lines[:2] if m in SECRECY)
        path = out / "official" / f"{name}--{stem}-{i:03d}{marks}.eml"
        path.write_bytes(envelope(message, subject, "Van thu <vanthu@mic.gov.vn>",
                                  "nguoinhan@gmail.com", i))
    negatives = list(NEGATIVE_VARIANTS.items())
    for i in range(negative):
        kind, make = negatives[i % len(negatives)]
        subject, message = make(rng, i)
        path = out / "negative" / f"{kind}-{i:03d}.eml"
        path.write_bytes(envelope(message, subject, "Someone <someone@example.com>",
                                  "ban@gmail.com", 1000 + i))
    scans, images = make_scans(out, random.Random(SEED + 1))
    return official + scans, negative + images


def main(argv: list[str]) -> int:
    """``python tests/make_corpus.py OUT_DIR``."""
    if len(argv) != 1:
        print("usage: python tests/make_corpus.py OUT_DIR", file=sys.stderr)
        return 2
    official, negative = make_corpus(Path(argv[0]))
    print(f"wrote {official} official and {negative} negative messages to {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
