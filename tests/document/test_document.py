"""Unit tests of the document detector: cues, Vietnamese text forms, attachments, limits."""

from __future__ import annotations

import base64
import json
import unicodedata
from pathlib import Path

import pytest
from hostile_mail import zip_archive

from govmilter.cli import main
from govmilter.document import (
    detect_document,
    filename_cues,
    find_secrecy,
    find_symbol,
    text_cues,
)
from govmilter.document.evidence import OfficialDocumentEvidence
from govmilter.document.legacy import encode_cp1258, encode_tcvn3, encode_vni, repair
from govmilter.mail.message import Attachment, MessageContent, TextPart
from govmilter.mail.vntext import strip_diacritics
from govmilter.policy import DetectionSettings, DocumentClass, Limits, load_policy
from govmilter.policy.loader import PolicyError, default_policy_path

DOC = """BỘ THÔNG TIN VÀ TRUYỀN THÔNG          CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
                                       Độc lập - Tự do - Hạnh phúc
Số: 588/BTTTT-THH                      Hà Nội, ngày 26 tháng 02 năm 2014
V/v tăng cường sử dụng hệ thống thư điện tử công vụ
Kính gửi: Các Bộ, cơ quan ngang Bộ, cơ quan thuộc Chính phủ
Đề nghị các cơ quan sử dụng hộp thư công vụ.
Nơi nhận:
- Như trên;
- Lưu: VT, THH.
KT. BỘ TRƯỞNG
THỨ TRƯỞNG
"""
SETTINGS = DetectionSettings()


def content(texts: tuple[str, ...] = (), attachments: tuple[Attachment, ...] = (),
            subject: str = "") -> MessageContent:
    return MessageContent(subject=subject, header_from=(), header_to=(),
                          texts=tuple(TextPart("body", t) for t in texts),
                          attachments=attachments, unscannable=(), size=0)


def detect(*texts: str, attachments: tuple[Attachment, ...] = (), subject: str = "",
           limits: Limits | None = None,
           settings: DetectionSettings = SETTINGS) -> OfficialDocumentEvidence:
    return detect_document(content(texts, attachments, subject), settings, limits)


def has(evidence: OfficialDocumentEvidence, fragment: str) -> bool:
    return any(fragment in item for item in evidence.evidence)


# --- text cues ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["588/BTTTT-THH", "05/TTr-UBND", "30/2020/NĐ-CP", "15-CV/TU",
                                  "12/SGD&ĐT-GDTH", "15/QyĐ-SGDĐT"])
def test_every_symbol_form_is_found(text: str) -> None:
    assert find_symbol(f"theo văn bản {text} ngày") == text


def test_a_full_document_is_official_with_readable_evidence() -> None:
    result = detect(DOC)
    assert result.official and result.score >= 10
    assert "body: number/symbol 588/BTTTT-THH" in result.evidence
    for cue in ("national heading", "motto", "'V/v'", "Kính gửi", "Nơi nhận", "Lưu: VT",
                "date line", "signing authority"):
        assert has(result, cue), cue


def test_legal_document_number_line_names_the_document() -> None:
    text = "CHÍNH PHỦ\nCỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc\n" \
           "Số: 30/2020/NĐ-CP\nNGHỊ ĐỊNH\nVề công tác văn thư"
    result = detect(text)
    assert result.official
    assert has(result, "number/symbol 30/2020/NĐ-CP")


def test_a_citation_inside_a_sentence_is_only_a_weak_symbol() -> None:
    news = ("Bộ vừa ban hành công văn số 588/BTTTT-THH ngày 26 tháng 2 năm 2014 về thư công vụ. "
            "Kính gửi: bạn đọc.")
    result = detect(news)
    assert not result.official
    assert has(result, "symbol 588/BTTTT-THH") and not has(result, "number/symbol")


def test_heading_without_a_number_is_not_official_unless_the_policy_allows() -> None:
    application = ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc\n"
                   "ĐƠN XIN VIỆC\nKính gửi: Phòng Tổ chức\nHà Nội, ngày 1 tháng 3 năm 2024")
    result = detect(application)
    assert result.score >= SETTINGS.threshold and not result.official
    assert has(result, "no document number/symbol found")
    relaxed = detect(application, settings=DetectionSettings(require_symbol=False))
    assert relaxed.official


def test_check_and_explain_say_why_an_unnamed_letter_is_not_official(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "don.eml"
    path.write_bytes(("From: a@gmail.com\nTo: b@hanoi.gov.vn\nSubject: Don\n"
                      "Content-Type: text/plain; charset=utf-8\n\n"
                      "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\n"
                      "Độc lập - Tự do - Hạnh phúc\nĐƠN XIN VIỆC\nKính gửi: Phòng Tổ chức\n")
                     .encode())
    assert main(["check", "--no-dns", str(path)]) == 0
    assert "document: none (score 6.0 >= 5.0, but no number/symbol names a document)" in (
        capsys.readouterr().out)
    assert main(["explain", "--no-dns", str(path)]) == 0
    assert "nothing names a document (detection.require_symbol)" in capsys.readouterr().out


def test_check_says_unscannable_and_why(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    nested = zip_archive({"vb.txt": "MẬT".encode()})
    for name in ("c.zip", "b.zip", "a.zip"):  # one level past limits.max_archive_depth (3)
        nested = zip_archive({name: nested})
    path = tmp_path / "nested.eml"
    path.write_bytes(b"From: vanthu@hanoi.gov.vn\nTo: a@gmail.com\nSubject: x\n"
                     b"MIME-Version: 1.0\nContent-Type: application/zip; name=a.zip\n"
                     b"Content-Transfer-Encoding: base64\n\n" + base64.encodebytes(nested))
    assert main(["check", "--no-dns", str(path)]) == 0
    out = capsys.readouterr().out
    assert ("document: UNSCANNABLE (score 0.0 < 5.0): attachment 1 > entry 1 > entry 1 > entry 1:"
            " archive nested more than 3 deep was not opened") in out, out
    assert "document: none" not in out


#: A private company's own letter in the administrative layout (its number, its director).
COMPANY_LETTER = (DOC.replace("BỘ THÔNG TIN VÀ TRUYỀN THÔNG", "CÔNG TY TNHH AN PHÁT        ")
                  .replace("588/BTTTT-THH", "12/2024/CV-AP")
                  .replace("KT. BỘ TRƯỞNG\nTHỨ TRƯỞNG", "TM. CÔNG TY\nGIÁM ĐỐC"))


def test_a_company_letter_in_administrative_form_is_not_counted() -> None:
    result = detect(COMPANY_LETTER)
    assert not result.official and result.score == 0
    assert result.document_class is DocumentClass.NONE
    assert has(result, "issuer is a private company")


def test_a_document_addressed_to_a_company_still_counts() -> None:
    assert detect(DOC.replace("Kính gửi: Các Bộ", "Kính gửi: Công ty TNHH An Phát, Các Bộ")
                  ).official


def test_draft_with_blank_number_counts_as_named() -> None:
    draft = DOC.replace("Số: 588/BTTTT-THH", "Số:      /QĐ-UBND")
    assert detect(draft).official
    assert has(detect(draft), "unnumbered (draft) number line")


@pytest.mark.parametrize(("line", "cue"), [
    ("SỐ: 588/BTTTT-THH", "number/symbol 588/BTTTT-THH"),
    ("Số:      /QĐ-UBND", "unnumbered (draft) number line"),
    ("V/v góp ý dự thảo quy chế", "abstract line 'V/v'"),
    ("Kính gửi: Sở Tài chính", "salutation 'Kính gửi:'"),
    ("Nơi nhận:", "recipient list 'Nơi nhận:'"),
    ("Lưu: VT, THH.", "archive mark 'Lưu: VT'"),
    ("ngày 5 tháng 3 năm 2024", "date line"),
    ("  TM. ỦY BAN NHÂN DÂN", "signing authority (TM./KT./TL.)"),
    ("Quyết định", "document type 'quyet dinh'"),
])
def test_a_cue_counts_at_a_line_or_word_start_and_not_glued_to_a_word(line: str,
                                                                       cue: str) -> None:
    def found(text: str) -> bool:
        return any(c.description == cue for c in text_cues(text, "body"))

    assert found(line)  # the text's first line
    assert found(f"Chào anh,\n{line}\nhẹn gặp")
    assert not found(f"Chào anhx{line}")


@pytest.mark.parametrize("marking", ["MẬT", "TỐI MẬT", "TUYỆT MẬT"])
def test_secrecy_marking_on_its_own_line(marking: str) -> None:
    result = detect(f"{marking}\n{DOC}")
    assert result.secrecy == marking
    assert result.document_class is DocumentClass.SECRET


@pytest.mark.parametrize("line", ["MẤT", "Mất", "MẶT", "mặt", "Mặt trời", "Bí MẬT kinh doanh",
                                  "MAT"])
def test_mat_and_mat_are_never_secrecy(line: str) -> None:
    assert find_secrecy(f"Chào anh\n{line}\nhẹn gặp") is None
    assert detect(f"{line}\n{DOC}").secrecy is None


def test_most_severe_secrecy_wins_and_urgency_reads_old_tone() -> None:
    result = detect(f"MẬT\nHOẢ TỐC\n{DOC}", f"TỐI MẬT\n{DOC}")
    assert result.secrecy == "TỐI MẬT"
    assert result.urgency == "HỎA TỐC"


def test_a_marking_on_a_non_document_is_class_marked_and_urgency_is_not_reported() -> None:
    result = detect("TUYỆT MẬT\nTHƯỢNG KHẨN\nchuyện riêng")
    assert not result.official and result.secrecy == "TUYỆT MẬT" and result.urgency is None
    assert result.document_class is DocumentClass.MARKED


def test_nfd_old_tone_and_unaccented_text_read_like_nfc() -> None:
    nfc = detect(f"MẬT\n{DOC}")
    nfd = detect(unicodedata.normalize("NFD", f"MẬT\n{DOC}"))
    assert nfd.official and nfd.score == nfc.score and nfd.secrecy == "MẬT"
    old = detect(DOC.replace("HÒA", "HOÀ"))
    assert old.official and has(old, "national heading")
    bare = detect(strip_diacritics(DOC))
    assert bare.official and has(bare, "national heading")


@pytest.mark.parametrize("encode, name", [
    (encode_tcvn3, "TCVN3"), (encode_vni, "VNI"),
    (lambda t: t.encode().decode("latin-1"), "UTF-8 mojibake"),
    (lambda t: encode_cp1258(t).decode("latin-1"), "CP1258"),
])
def test_legacy_encodings_are_repaired(encode: object, name: str) -> None:
    assert callable(encode)
    garbled = encode(f"MẬT\n{DOC}")
    result = detect(garbled)
    assert result.official
    assert has(result, f"legacy encoding {name}, repaired")
    assert result.secrecy == "MẬT"


def test_plain_text_is_not_repaired() -> None:
    assert repair(DOC) is None
    assert repair("Hello café, naïve résumé, señor") is None
    assert repair("Cong hoa xa hoi chu nghia Viet Nam") is None


def test_file_names_are_evidence() -> None:
    assert "588/BTTTT-THH" in filename_cues("588_BTTTT-THH.pdf")[0].description
    assert "1896/QD-TTg" in filename_cues("1896_QD-TTg_m_294779.doc")[0].description
    assert "30/2020/ND-CP" in filename_cues("30_2020_NĐ-CP.pdf")[0].description
    assert filename_cues("holiday photos.zip") == []


# --- attachments ----------------------------------------------------------------------------------


def docx(lines: list[str]) -> bytes:
    body = "".join(f"<w:p><w:r><w:t>{line}</w:t></w:r></w:p>" for line in lines)
    return zip_archive({"[Content_Types].xml": b"<Types/>",
                   "word/document.xml": f'<w:document xmlns:w="x"><w:body>{body}</w:body>'
                                        "</w:document>".encode()})


def test_docx_attachment_is_read() -> None:
    result = detect(attachments=(Attachment("vb.docx", "application/octet-stream",
                                            docx(f"MẬT\n{DOC}".split("\n"))),))
    assert result.official and result.secrecy == "MẬT"
    assert has(result, "attachment 1 (DOCX): number/symbol 588/BTTTT-THH")


def test_docx_entity_declarations_are_not_expanded() -> None:
    bomb = ('<!DOCTYPE w [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
            '<w:document><w:body><w:p><w:r><w:t>&b;&b;&b;</w:t></w:r></w:p></w:body></w:document>')
    data = zip_archive({"word/document.xml": bomb.encode()})
    result = detect(attachments=(Attachment("x.docx", "application/octet-stream", data),))
    assert not result.official and result.unscannable == ()


def test_odt_attachment_is_read() -> None:
    body = "".join(f"<text:p>{line}</text:p>" for line in DOC.split("\n"))
    data = zip_archive({"mimetype": b"application/vnd.oasis.opendocument.text",
                   "content.xml": f"<office:document-content><office:body><office:text>{body}"
                                  "</office:text></office:body></office:document-content>"
                                  .encode()})
    result = detect(attachments=(Attachment("vb.odt", "application/octet-stream", data),))
    assert result.official and has(result, "attachment 1 (ODT)")


def test_edxml_header_and_its_files_are_read() -> None:
    import base64

    inner = base64.b64encode(docx(["TỐI MẬT", *DOC.split("\n")])).decode()
    package = (
        '<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016"><edXML:edXMLEnvelope '
        'xmlns:edXML="http://www.mic.gov.vn/TBT/QCVN_102_2016"><edXML:MessageHeader>'
        "<edXML:DocumentId>000.00.00.G22,2015/09/30,7816/VPCP-TTĐT</edXML:DocumentId>"
        "<edXML:Code><edXML:CodeNumber>74fass22</edXML:CodeNumber><edXML:CodeNotation>VPCP-TTĐT"
        "</edXML:CodeNotation></edXML:Code><edXML:DocumentType><edXML:TypeName>Công văn"
        "</edXML:TypeName></edXML:DocumentType><edXML:Subject>V/v kết nối</edXML:Subject>"
        "<edXML:OtherInfo><edXML:Priority>3</edXML:Priority></edXML:OtherInfo>"
        "</edXML:MessageHeader></edXML:edXMLEnvelope><AttachmentEncoded><Attachment>"
        "<AttachmentName>1896_QD-TTg.docx</AttachmentName><edXML:ContentTransferEncoded>"
        f"{inner}</edXML:ContentTransferEncoded></Attachment></AttachmentEncoded></edXML>"
    ).encode()
    header_only = package.split(b"<AttachmentEncoded>")[0] + b"</edXML>"
    result = detect(attachments=(Attachment("goi.edxml", "application/xml", header_only),))
    assert result.official
    assert has(result, "edXML envelope (QCVN 102:2016)")
    assert has(result, "number/symbol 7816/VPCP-TTĐT")
    assert result.urgency == "HỎA TỐC"
    full = detect(attachments=(Attachment("goi.edxml", "application/xml", package),))
    assert full.secrecy == "TỐI MẬT"
    assert has(full, "attachment 1 > file 1")


def test_archives_are_opened_inside_archives_down_to_the_depth_limit() -> None:
    inner = zip_archive({"588_BTTTT-THH.txt": DOC.encode()})
    result = detect(attachments=(Attachment("vb.zip", "application/zip", inner),))
    assert result.official and has(result, "attachment 1 > entry 1")
    nested = zip_archive({"inner.zip": inner})
    two = detect(attachments=(Attachment("vb.zip", "application/zip", nested),))
    assert two.official and has(two, "attachment 1 > entry 1 > entry 1 (text)")
    assert two.unscannable == ()
    deep = detect(attachments=(Attachment("vb.zip", "application/zip", nested),),
                  limits=Limits(max_archive_depth=1))
    assert not deep.official
    assert deep.unscannable == ("attachment 1 > entry 1: archive nested more than 1 deep was not "
                                "opened (limits.max_archive_depth)",)
    assert deep.document_class is DocumentClass.UNSCANNABLE


def test_zip_bomb_is_stopped_by_the_ratio_limit() -> None:
    bomb = zip_archive({"huge.txt": b"\0" * (20 * 1024 * 1024)})
    assert len(bomb) < 100_000
    result = detect(attachments=(Attachment("a.zip", "application/zip", bomb),))
    assert any("max_zip_ratio" in r and "ZIP bomb" in r for r in result.unscannable)


def test_a_zip_entry_past_the_attachment_limit_is_cut_and_says_which_attachment() -> None:
    archive = zip_archive({"588_BTTTT-THH.txt": DOC.encode() + b"x" * 5000})
    result = detect(attachments=(Attachment("a.txt", "text/plain", b"hello"),
                                 Attachment("vb.zip", "application/zip", archive)),
                    limits=Limits(max_attachment_bytes=4096))
    assert "attachment 2: ZIP archive entry larger than 4096 bytes was cut" in result.unscannable
    assert result.official  # the head of the entry was still read


def test_zip_entry_count_and_password_are_limits() -> None:
    many = zip_archive({f"f{i}.txt": b"x" for i in range(5)})
    result = detect(attachments=(Attachment("a.zip", "application/zip", many),),
                    limits=Limits(max_zip_entries=3))
    assert any("5 entries" in r and "max_zip_entries" in r for r in result.unscannable)
    # Mark the entry encrypted (general-purpose flag bit 0), as a password ZIP has it.
    data = bytearray(zip_archive({"secret.txt": DOC.encode()}))
    data[6] |= 0x1  # local file header
    central = data.index(b"PK\x01\x02")
    data[central + 8] |= 0x1  # central directory header
    locked = detect(attachments=(Attachment("a.zip", "application/zip", bytes(data)),))
    assert any("password-protected" in r for r in locked.unscannable)


def test_time_budget_stops_scanning_and_says_so() -> None:
    ticks = iter(range(0, 10_000, 20))  # every look at the clock is 20 s later
    result = detect_document(content((DOC,), (Attachment("a.txt", "text/plain", b"x"),)),
                             SETTINGS, Limits(max_seconds=10), clock=lambda: float(next(ticks)))
    assert any("time budget of 10 s" in r for r in result.unscannable)


def test_text_budget_is_the_per_message_scan_limit() -> None:
    result = detect(attachments=(Attachment("a.txt", "text/plain", DOC.encode()),),
                    limits=Limits(max_scan_bytes=50))
    assert any("scan limit of 50 bytes" in r for r in result.unscannable)


# --- PDF ------------------------------------------------------------------------------------------

fpdf = pytest.importorskip("fpdf", reason="fpdf2 (the test extra) builds the PDFs")
from make_corpus import pdf_bytes, scanned_pdf_bytes, sign_pdf  # noqa: E402


def pdf_attachment(data: bytes, name: str = "vb.pdf") -> tuple[Attachment, ...]:
    return (Attachment(name, "application/pdf", data),)


def test_pdf_text_in_a_vietnamese_font_is_read() -> None:
    data = pdf_bytes((), ["HỎA TỐC", *DOC.split("\n")])
    result = detect(attachments=pdf_attachment(data))
    assert result.official and result.urgency == "HỎA TỐC"
    assert has(result, "attachment 1 (PDF): number/symbol 588/BTTTT-THH")


def test_pdf_signature_and_government_ca_are_evidence() -> None:
    plain = pdf_bytes((), ["Báo cáo nội bộ"])
    assert has(detect(attachments=pdf_attachment(sign_pdf(plain, government=False))),
               "PDF digital signature (/ByteRange)")
    scanned = detect(attachments=pdf_attachment(sign_pdf(scanned_pdf_bytes()),
                                                "588_BTTTT-THH.signed.pdf"))
    assert has(scanned, "Government CA certificate (Ban Cơ yếu Chính phủ)")
    assert scanned.official  # the signature and the file name name it, though no text is read
    assert any("no text layer" in r for r in scanned.unscannable)


def test_scanned_pdf_without_clues_is_unscannable_and_the_policy_tags_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from email.mime.application import MIMEApplication
    from email.mime.multipart import MIMEMultipart

    message = MIMEMultipart()
    message["From"], message["To"], message["Subject"] = "a@mic.gov.vn", "b@gmail.com", "scan"
    part = MIMEApplication(scanned_pdf_bytes(), "pdf")
    part.add_header("Content-Disposition", "attachment", filename="scan.pdf")
    message.attach(part)
    path = tmp_path / "scan.eml"
    path.write_bytes(message.as_bytes())
    assert main(["check", "--json", str(path)]) == 0
    verdict = json.loads(capsys.readouterr().out)
    assert verdict["document_class"] == "unscannable"
    assert verdict["unscannable"] == ["attachment 1: PDF has no text layer (a scanned image?); "
                                      "OCR read no text"]
    assert verdict["recipients"][0]["action"] == "tag"
    assert verdict["recipients"][0]["rule"] == "unscannable-to-freemail"


def test_encrypted_and_damaged_pdfs_are_unscannable() -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica")
    pdf.cell(text="secret")
    pdf.set_encryption(owner_password="o", user_password="u")
    locked = detect(attachments=pdf_attachment(bytes(pdf.output())))
    assert any("PDF is encrypted" in r for r in locked.unscannable)
    damaged = detect(attachments=pdf_attachment(b"%PDF-1.7\n garbage"))
    assert any("PDF could not be read" in r for r in damaged.unscannable)


def test_pdf_page_limit_reads_first_pages_and_the_last() -> None:
    data = pdf_bytes((), DOC.split("\n")[:6], pad_pages=4)
    result = detect(attachments=pdf_attachment(data), limits=Limits(max_pdf_pages=2))
    assert "attachment 1: PDF has 5 pages; 2 were read (limits.max_pdf_pages)" in result.unscannable
    assert has(result, "number/symbol 588/BTTTT-THH")


# --- policy and CLI -------------------------------------------------------------------------------


def test_check_prints_attachment_evidence(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from email.mime.application import MIMEApplication
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText

    message = MIMEMultipart()
    message["From"], message["To"], message["Subject"] = "a@mic.gov.vn", "b@gmail.com", "Văn bản"
    message.attach(MIMEText("Gửi anh văn bản.", "plain", "utf-8"))
    part = MIMEApplication(pdf_bytes((), ["TỐI MẬT", *DOC.split("\n")]), "pdf")
    part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", "Công văn.pdf"))
    message.attach(part)
    path = tmp_path / "m.eml"
    path.write_bytes(message.as_bytes())
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "marked TỐI MẬT" in out
    assert "evidence: attachment 1 (PDF): number/symbol 588/BTTTT-THH" in out
    assert "REJECT by rule secret-to-freemail" in out


def test_require_symbol_is_validated_with_its_line(tmp_path: Path) -> None:
    text = default_policy_path().read_text(encoding="utf-8").replace(
        "  require_symbol: true\n", "  require_symbol: sometimes\n")
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    line = text.splitlines().index("  require_symbol: sometimes") + 1
    assert f"p.yaml:{line}: detection.require_symbol must be true or false" in str(caught.value)
    ok = path.with_name("ok.yaml")
    ok.write_text(text.replace("sometimes", "false"), encoding="utf-8")
    assert load_policy(ok).detection.require_symbol is False


# --- hostile input --------------------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(magic=st.sampled_from([b"%PDF-1.7\n", b"PK\x03\x04", b"<edXML xmlns='QCVN_102_2016'>",
                              b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"Rar!\x1a\x07\x01\x00",
                              b"Rar!\x1a\x07\x00", b"7z\xbc\xaf\x27\x1c", b"\x1f\x8b\x08",
                              b"BZh9", b"\xfd7zXZ\x00", b""]),
       body=st.binary(max_size=2048),
       name=st.sampled_from(["a.pdf", "a.docx", "a.odt", "a.zip", "a.edxml", "a.doc", "a.rar",
                             "a.7z", "a.tar.gz", None]))
def test_garbage_attachments_never_raise(magic: bytes, body: bytes, name: str | None) -> None:
    result = detect(attachments=(Attachment(name, "application/octet-stream", magic + body),))
    assert isinstance(result.score, float)
    assert all(isinstance(reason, str) for reason in result.unscannable)


#: Latin-1 symbols from the A0-BF range: "stray" letters of a wrong decoding, none of which
#: TCVN3, VNI or CP1258 turn into Vietnamese, and lone UTF-8 continuation bytes for mojibake.
UNREPAIRABLE = "Ghi chu: \xaf\xb1\xb2\xb3 \xbf\xaf\xb1\xb2\xb3 \xb1\xb2\xb3\xbf\n"


def test_legacy_looking_text_that_cannot_be_repaired_is_flagged(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert repair(UNREPAIRABLE) is None
    result = detect(UNREPAIRABLE)
    assert not result.official
    assert result.evidence == ("body: text looks legacy-encoded and could not be repaired",)
    message = tmp_path / "legacy.eml"
    message.write_bytes(b"From: a@mic.gov.vn\nTo: b@gmail.com\nSubject: x\nMIME-Version: 1.0\n"
                        b"Content-Type: text/plain; charset=iso-8859-1\n"
                        b"Content-Transfer-Encoding: 8bit\n\n" + UNREPAIRABLE.encode("latin-1"))
    assert main(["check", "--no-dns", str(message)]) == 0
    assert "  evidence: body: text looks legacy-encoded and could not be repaired\n" in \
        capsys.readouterr().out
