"""Word, Excel and PowerPoint 97-2003, RTF, XLSX, PPTX, ODS and ODP attachments (issue #18),
read through their structure.

The samples in ``tests/data/office/`` were made by LibreOffice 7.4 from the sources beside them
(``make_samples.sh`` says how): a letter of a People's Committee marked MẬT in the body, the same
marked only in its page header, and unmarked; a report (Báo cáo) as a spreadsheet, slides marked
TỐI MẬT; the encrypted DOCX by msoffcrypto-tool. Each goes
the public way, ``govmilter check --json`` with the default policy, from an official mailbox to
Gmail.
"""

from __future__ import annotations

import io
import struct
import time
import unicodedata
import zipfile
from collections.abc import Callable
from pathlib import Path

import olefile
import pytest
from archive_tools import seven_zip
from hostile_mail import (
    OFFICIAL,
    SECRET,
    TIME_BOUND,
    UNSCANNABLE,
    rule_action,
    verdict_of,
)

from govmilter.document.budget import ScanBudget, Unscannable
from govmilter.document.legacy import encode_tcvn3
from govmilter.document.office import drawing_xml_text, sheet_xml_text
from govmilter.document.ole import (
    _pieces_text,
    _text_atoms,
    _without_field_codes,
    _workbook_strings,
    ole_text,
)
from govmilter.document.rtf import rtf_text
from govmilter.mail.limits import Limits

OFFICE = Path(__file__).parent.parent / "data" / "office"


def sample(name: str) -> bytes:
    return (OFFICE / name).read_bytes()


#: (file, attachment name, declared type, document class, (rule, action), evidence)
READ = [
    ("cong-van-mat.doc", "cv.doc", "application/msword", "secret", SECRET,
     "attachment 1 (Word 97-2003): number/symbol 123/UBND-VP"),
    ("cong-van-mat-header.doc", "cv.doc", "application/msword", "secret", SECRET,
     "attachment 1 (Word 97-2003): number/symbol 123/UBND-VP"),
    ("cong-van.doc", "cv.doc", "application/msword", "official", OFFICIAL,
     "attachment 1 (Word 97-2003): number/symbol 123/UBND-VP"),
    # the bytes decide: a .doc sent as a .dat of no particular type
    ("cong-van-mat.doc", "cv.dat", "application/octet-stream", "secret", SECRET,
     "attachment 1 (Word 97-2003): number/symbol 123/UBND-VP"),
    ("cong-van-mat.rtf", "cv.rtf", "application/rtf", "secret", SECRET,
     "attachment 1 (RTF): number/symbol 123/UBND-VP"),
    ("cong-van-mat-header.rtf", "cv.rtf", "application/rtf", "secret", SECRET,
     "attachment 1 (RTF): number/symbol 123/UBND-VP"),
    ("cong-van-mat.rtf", "cv.doc", "application/msword", "secret", SECRET,
     "attachment 1 (RTF): number/symbol 123/UBND-VP"),
    ("bao-cao.xlsx", "bc.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml"
     ".sheet", "secret", SECRET, "attachment 1 (XLSX): number/symbol 45/BC-UBND"),
    ("trinh-chieu.pptx", "tc.pptx", "application/octet-stream", "secret", SECRET,
     "attachment 1 (PPTX): number/symbol 588/BTTTT-THH"),
    ("bao-cao.ods", "bc.ods", "application/octet-stream", "secret", SECRET,
     "attachment 1 (ODS): number/symbol 45/BC-UBND"),
    ("trinh-chieu.odp", "tc.odp", "application/octet-stream", "secret", SECRET,
     "attachment 1 (ODP): number/symbol 588/BTTTT-THH"),
    ("bao-cao.xls", "bc.xls", "application/vnd.ms-excel", "secret", SECRET,
     "attachment 1 (Excel 97-2003): number/symbol 45/BC-UBND"),
    ("trinh-chieu.ppt", "tc.ppt", "application/vnd.ms-powerpoint", "secret", SECRET,
     "attachment 1 (PowerPoint 97-2003): number/symbol 588/BTTTT-THH"),
]


@pytest.mark.parametrize(("file", "name", "ctype", "document", "outcome", "evidence"), READ,
                         ids=[f"{r[0]}-as-{r[1]}" for r in READ])
def test_office_letters_are_detected(tmp_path: Path, file: str, name: str, ctype: str,
                                     document: str, outcome: tuple[str, str],
                                     evidence: str) -> None:
    verdict = verdict_of(tmp_path, sample(file), name, ctype)
    assert verdict["document_class"] == document, verdict
    assert verdict["unscannable"] == []
    said: list[str] = verdict["evidence"]  # type: ignore[assignment]
    assert any(evidence in line for line in said), said
    assert rule_action(verdict) == outcome


def rezipped(data: bytes, change: Callable[[str, bytes], bytes]) -> bytes:
    """The ZIP ``data`` with each entry's content passed through ``change(name, content)``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, change(info.filename, source.read(info)))
    return out.getvalue()


def test_a_marking_only_in_a_sheet_s_print_header_counts(tmp_path: Path) -> None:
    def move_marking(name: str, content: bytes) -> bytes:
        if name == "xl/sharedStrings.xml":
            return content.replace("<t xml:space=\"preserve\">MẬT</t>".encode(),
                                   b"<t xml:space=\"preserve\">-</t>")
        if name == "xl/worksheets/sheet1.xml":
            return content.replace(b"&amp;12&amp;A</oddHeader>",
                                   "&amp;12&amp;A&amp;RMẬT</oddHeader>".encode())
        return content
    data = rezipped(sample("bao-cao.xlsx"), move_marking)
    assert "MẬT".encode() not in zipfile.ZipFile(io.BytesIO(data)).read("xl/sharedStrings.xml")
    verdict = verdict_of(tmp_path, data, "bc.xlsx")
    assert verdict["document_class"] == "secret", verdict
    assert rule_action(verdict) == SECRET


@pytest.mark.parametrize(("xml", "text"), [
    ('<c t="inlineStr"><is><t>Số: 1/UBND</t></is></c><c><v>3</v><f>A1+1</f></c>', "Số: 1/UBND"),
    ("<x:c><x:is><x:r><x:t>MẬT</x:t></x:r></x:is></x:c>", "MẬT"),  # a namespace prefix
    ('<oddHeader>&amp;L&amp;"Arial,Bold"&amp;14MẬT&amp;C&amp;P&amp;RKHẨN</oddHeader>',
     "\nMẬT\n\nKHẨN"),  # each section on its line, codes dropped
    ("<oddHeader/><is><t>a</t></is><is><t>b</t>", "a"),  # empty; and unclosed is skipped
])
def test_sheet_text(xml: str, text: str) -> None:
    assert sheet_xml_text(xml.encode()) == text


def test_sheet_and_slide_text_are_linear_on_unclosed_markup() -> None:
    start = time.monotonic()
    assert sheet_xml_text(b"<is>" * 200_000 + b"<oddHeader>" * 200_000) == ""
    # a tag that never closes: "<[^>]*>" went back over the rest for each "<" (40,000: 8 s)
    assert drawing_xml_text(b"<" * 1_000_000 + b"<a:br" * 100_000) == "<" * 1_000_000 + \
        "<a:br" * 100_000
    assert time.monotonic() - start < TIME_BOUND


def test_a_doc_inside_a_7z_is_read(tmp_path: Path) -> None:
    verdict = verdict_of(tmp_path, seven_zip({"cv.doc": sample("cong-van-mat.doc")}), "a.7z")
    assert verdict["document_class"] == "secret"
    assert rule_action(verdict) == SECRET


def test_the_doc_text_is_the_document_s_in_order() -> None:
    kind, text = ole_text(sample("cong-van-mat-header.doc"), ScanBudget(Limits()), "attachment 1")
    assert kind == "Word 97-2003"
    lines = text.splitlines()
    # table cells are lines of their own; the header and the footer's page field come after
    # the main text, the field's code (PAGE) dropped and its result kept
    assert lines[:3] == ["ỦY BAN NHÂN DÂN", "TỈNH BẮC NINH", "Số: 123/UBND-VP"]
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in lines
    assert lines.index("CHỦ TỊCH") < lines.index("MẬT") < lines.index("Trang 1")
    assert "PAGE" not in text


def encrypted_doc() -> bytes:
    """The LibreOffice .doc with the FIB's fEncrypted flag set, as Word sets it."""
    data = bytearray(sample("cong-van-mat.doc"))
    fib = data.index(b"\xec\xa5\x01\x01")  # wIdent, nFib
    data[fib + 0x0B] |= 0x01  # flags: fEncrypted is bit 8
    return bytes(data)


#: (id, bytes, attachment name, reason)
NOT_READ = [
    ("password-docx", sample("cong-van-mat-password.docx"), "cv.docx",
     "attachment 1: Office document is password-protected (encrypted)"),
    ("password-doc", encrypted_doc(), "cv.doc",
     "attachment 1: Word 97-2003 document is password-protected (encrypted)"),
    ("text-named-doc", b"CONG HOA XA HOI CHU NGHIA VIET NAM\n", "cv.doc",
     "attachment 1: Word/Excel/PowerPoint 97-2003 file could not be read (not an OLE file)"),
    ("doc-cut-in-half", sample("cong-van-mat.doc")[:5000], "cv.doc",
     "attachment 1: Word/Excel/PowerPoint 97-2003 file could not be opened (OleFileError)"),
    ("text-named-rtf", b"MAT\n", "cv.rtf",
     "attachment 1: RTF document could not be read (no {\\rtf header)"),
]


@pytest.mark.parametrize(("data", "name", "reason"), [n[1:] for n in NOT_READ],
                         ids=[n[0] for n in NOT_READ])
def test_what_claims_to_be_an_office_file_and_cannot_be_read_is_unscannable(
        tmp_path: Path, data: bytes, name: str, reason: str) -> None:
    verdict = verdict_of(tmp_path, data, name)
    assert verdict["document_class"] == "unscannable"
    assert reason in verdict["unscannable"], verdict["unscannable"]  # type: ignore[operator]
    assert rule_action(verdict) == UNSCANNABLE


def test_the_password_docx_is_a_real_one() -> None:
    data = sample("cong-van-mat-password.docx")
    assert data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" and b"PK\x03\x04" not in data


def looping(data: bytes, stream: str) -> bytes:
    """``data`` (an OLE file) with ``stream``'s first sector pointing back to itself in the
    FAT (``directory`` for the directory's chain)."""
    out = bytearray(data)
    (fat,) = struct.unpack_from("<I", out, 0x4C)  # first FAT sector, from the header's DIFAT
    if stream == "directory":
        (first,) = struct.unpack_from("<I", out, 0x30)
    else:
        entries = olefile.OleFileIO(io.BytesIO(data)).direntries
        first = next(e.isectStart for e in entries if e is not None and e.name == stream)
    struct.pack_into("<I", out, (fat + 1) * 512 + 4 * first, first)
    return bytes(out)


def test_looping_sector_chains_are_refused_or_bounded() -> None:
    data = sample("cong-van-mat.doc")
    with pytest.raises(Unscannable, match="could not be opened"):
        ole_text(looping(data, "directory"), ScanBudget(Limits()), "a")
    # the stream's chain loops: olefile reads its declared size (at most the file's), no more
    _, text = ole_text(looping(data, "WordDocument"), ScanBudget(Limits()), "a")
    assert len(text) < len(data)


# ---- the piece table, by the specification ----------------------------------------------

def clx(pieces: list[tuple[int, int, bool]]) -> bytes:
    """A Clx holding one Prc (formatting, to be skipped) and a piece table of ``pieces``:
    (characters, offset in the WordDocument stream, 8-bit)."""
    cps = [0]
    for length, _, _ in pieces:
        cps.append(cps[-1] + length)
    pcds = b"".join(struct.pack("<HIH", 0, (offset * 2) | 0x40000000 if eight_bit else offset, 0)
                    for _, offset, eight_bit in pieces)
    plc = struct.pack(f"<{len(cps)}I", *cps) + pcds
    return b"\x01" + struct.pack("<h", 3) + b"abc" + b"\x02" + struct.pack("<I", len(plc)) + plc


def test_pieces_are_read_as_8_bit_or_utf_16_in_order() -> None:
    word = b"Caf\xe9 " + "Số: 12/UBND".encode("utf-16-le")
    text = _pieces_text(word, clx([(5, 0, True), (11, 5, False)]), ScanBudget(Limits()), "a")
    assert text == "Café Số: 12/UBND"


def test_a_piece_table_repeating_one_piece_is_cut_at_the_attachment_limit() -> None:
    word = "MẬT ".encode("utf-16-le") * 1000
    budget = ScanBudget(Limits(max_attachment_bytes=50_000))
    start = time.monotonic()
    text = _pieces_text(word, clx([(4000, 0, False)] * 100_000), budget, "attachment 1")
    assert time.monotonic() - start < TIME_BOUND
    assert len(text) == 50_000
    assert budget.reasons == ["attachment 1: Word 97-2003 text longer than 50000 characters was "
                              "cut"]


def test_a_piece_table_out_of_order_is_damaged() -> None:
    table = bytearray(clx([(5, 0, True), (5, 0, True)]))
    struct.pack_into("<I", table, 6 + 5 + 4, 9)  # second CP 5 -> 9, third stays 10
    struct.pack_into("<I", table, 6 + 5 + 8, 3)  # third CP 10 -> 3: backwards
    with pytest.raises(Unscannable, match="piece table out of order"):
        _pieces_text(b"x" * 20, bytes(table), ScanBudget(Limits()), "a")


@pytest.mark.parametrize(("text", "kept"), [
    ("Trang \x13 PAGE \x141\x15 of \x13 NUMPAGES \x142\x15", "Trang 1 of 2"),
    ("\x13 IF \x13 PAGE \x141\x15 = 1 \"a\" \x14MẬT\x15", "MẬT"),  # nested: code of the inner
    ("a\x14b\x15c\x13d", "abc"),  # marks out of place; an unclosed field hides its code only
    ("\x13" * 100_000 + "x", ""),
])
def test_field_codes_are_dropped_and_results_kept(text: str, kept: str) -> None:
    assert _without_field_codes(text) == kept


# ---- Excel and PowerPoint records, by the specifications ---------------------------------

def biff(kind: int, body: bytes) -> bytes:
    return struct.pack("<HH", kind, len(body)) + body


BOF8 = biff(0x0809, struct.pack("<HH", 0x0600, 0x0005) + bytes(12))


def test_shared_strings_go_on_in_continue_records_changing_width() -> None:
    # "Số: 12" starts 8-bit ("S") and goes on in UTF-16 in a CONTINUE ("ố: 12"); then a rich
    # string whose formatting runs are split across the next CONTINUE; then "MẬT"
    first = struct.pack("<HB", 6, 0x00) + b"S"
    second = b"\x01" + "ố: 12".encode("utf-16-le")
    rich = struct.pack("<HBH", 2, 0x08, 1) + b"ab" + b"\0\0"
    rest = b"\0\0" + struct.pack("<HB", 3, 0x01) + "MẬT".encode("utf-16-le")
    stream = (BOF8 + biff(0x00FC, struct.pack("<II", 3, 3) + first) + biff(0x003C, second + rich)
              + biff(0x003C, rest) + biff(0x000A, b""))
    assert list(_workbook_strings(stream)) == ["Số: 12\n", "ab\n", "MẬT\n"]


@pytest.mark.parametrize(("stream", "reason"), [
    (BOF8 + biff(0x002F, bytes(6)), "Excel 97-2003 workbook is password-protected"),
    (biff(0x0809, struct.pack("<HH", 0x0500, 5)), "not BIFF8"),
])
def test_encrypted_and_old_workbooks_are_named(stream: bytes, reason: str) -> None:
    with pytest.raises(Unscannable, match=reason):
        list(_workbook_strings(stream))


def test_a_shared_string_claiming_more_than_there_is_ends_the_table() -> None:
    stream = BOF8 + biff(0x00FC, bytes(8) + struct.pack("<HB", 65535, 1) + b"ab" * 10)
    assert list(_workbook_strings(stream)) == []


def ppt(version: int, kind: int, body: bytes) -> bytes:
    return struct.pack("<HHI", version, kind, len(body)) + body


def test_text_atoms_are_found_inside_containers() -> None:
    atoms = (ppt(0x00, 0x0FA0, "Số: 1/UBND\rMẬT".encode("utf-16-le"))
             + ppt(0x00, 0x0FA8, b"Noi nhan:") + ppt(0x00, 0x0FBA, b"not text"))
    stream = ppt(0x0F, 0x03E8, atoms) + ppt(0x00, 0x0FA8, b"x" * 3)[:-1]
    assert "".join(_text_atoms(stream)) == "Số: 1/UBND\nMẬT\nNoi nhan:\nxx\n"
    # a header claiming 4 GiB ends the walk; a run of empty containers moves 8 bytes each
    assert list(_text_atoms(struct.pack("<HHI", 0, 0x0FA0, 0xFFFFFFFF) + b"a")) == ["\ufffd\n"]
    assert list(_text_atoms(ppt(0x0F, 1, b"") * 100_000)) == []


# ---- RTF ------------------------------------------------------------------------------------

def rtf(body: str, head: str = r"\ansi\ansicpg1252") -> bytes:
    return ("{\\rtf1" + head + "{\\fonttbl{\\f0\\fcharset0 Times;}{\\f1\\fcharset163 Times;}}"
            + body + "}").encode("ascii")


@pytest.mark.parametrize(("body", "text"), [
    (r"M\u7852?T\par", "MẬT\n"),  # \uN with its one-character fallback skipped
    (r"\uc2\u7852\'e2\'5eT\uc1 x", "ẬTx"),  # \ucN: N fallback characters, hex bytes too
    (r"{\f1 M\'c2\'d2T}", "MÂ\u0309T"),  # code page 1258 through the font's \fcharset163
    (r"\u-4064?", "\uf020"),  # negative N: the 16-bit value
    (r"\u-10179?\u-8704?", "😀"),  # a surrogate pair is one character
    (r"{\*\unknowndestination M\u7852?T}So", "So"),
    (r"{\field{\*\fldinst PAGE}{\fldrslt 3}}", "3"),
    (r"{\header M\u7852?T}\par body", "MẬT\nbody"),
    (r"{\pict\bin5 }{}\}x}M\u7852?T", "MẬT"),  # \binN's bytes are data, even braces
    (r"a\~b\-c\_d\tab e\line f", "a\u00a0bc-d\te\nf"),
])
def test_rtf_text(body: str, text: str) -> None:
    assert rtf_text(rtf(body), ScanBudget(Limits())) == text


def test_rtf_in_code_page_1258_is_read() -> None:
    # code page 1258 writes ố as ô + combining acute, Ậ as Â + combining dot below
    body = r"S\'f4\'ec: 12/UBND\par M\'c2\'f2T\par "
    text = rtf_text(rtf(body, head=r"\ansi\ansicpg1258"), ScanBudget(Limits()))
    assert unicodedata.normalize("NFC", text) == "Số: 12/UBND\nMẬT\n"


def test_rtf_in_a_tcvn3_font_is_repaired_by_the_detector(tmp_path: Path) -> None:
    # a .VnTime font declares \fcharset0: its bytes come out as code page 1252 letters
    lines = ["ỦY BAN NHÂN DÂN TỈNH BẮC NINH", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
             "Độc lập - Tự do - Hạnh phúc", "Số: 123/UBND-VP", "MẬT", "Kính gửi: Sở Tài chính",
             "Nơi nhận:", "- Lưu: VT."]
    body = "\\par ".join("".join(f"\\'{b:02x}" if b > 0x7F else chr(b)
                                 for b in encode_tcvn3(line).encode("latin-1"))
                         for line in lines)
    verdict = verdict_of(tmp_path, rtf("{\\f0 " + body + "}"), "cv.rtf", "application/rtf")
    assert verdict["document_class"] == "secret", verdict
    assert any("legacy encoding TCVN3" in line
               for line in verdict["evidence"])  # type: ignore[attr-defined]


@pytest.mark.parametrize("hostile", [
    b"{\\rtf1" + b"{" * 1_000_000 + b"M\\u7852?T",  # groups a million deep, never closed
    b"{\\rtf1" + b"\\u7852" * 400_000,  # \uN whose fallbacks never come
    b"{\\rtf1" + b"\\'e1" * 1_000_000,  # one long run of hex bytes
    b"{\\rtf1" + b"\\bin999999999 " + b"x" * 1000,  # \binN past the end
])
def test_hostile_rtf_is_read_in_bounded_time(hostile: bytes) -> None:
    start = time.monotonic()
    rtf_text(hostile, ScanBudget(Limits()))
    assert time.monotonic() - start < TIME_BOUND
