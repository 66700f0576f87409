"""Secrecy and urgency markings in every place a real document puts them, and the words that
only look like them (issue 18). Verdicts go the gateway's way: scan, then the default policy."""

from __future__ import annotations

import pytest
from letters import UBND_OFFICIAL, UBND_SECRET, message, verdict_of

from govmilter.document import find_secrecy, find_urgency
from govmilter.document.settings import DocumentClass
from govmilter.policy.model import Action


def rejected(raw: bytes) -> bool:
    verdict = verdict_of(raw)
    return (verdict.action, verdict.rule) == (Action.REJECT, "secret-to-freemail")


@pytest.mark.parametrize(("text", "level"), [
    ("MẬT", "MẬT"),
    ("  **TỐI MẬT**  ", "TỐI MẬT"),
    ("[MẬT] Kế hoạch bảo vệ", "MẬT"),
    ("Re: Fwd: (TỐI MẬT) Kế hoạch", "TỐI MẬT"),
    ("[Mật] kế hoạch", "MẬT"),
    ("MẬT - HỎA TỐC", "MẬT"),
    ("TUYỆT MẬT – KHẨN", "TUYỆT MẬT"),
    ("KHẨN, MẬT", "MẬT"),
    ("MẬT                         Hà Nội, ngày 5 tháng 3 năm 2024", "MẬT"),
    ("Số: 123/UBND-VP\tMẬT", "MẬT"),
    ("Số: 123/UBND-VP MẬT Hà Nội, ngày 5 tháng 3 năm 2024", "MẬT"),
    ("> MẬT", "MẬT"),
    (">> > TỐI MẬT", "TỐI MẬT"),
    ("Độ mật: Mật", "MẬT"),
    ("Mức độ mật: Tối mật", "TỐI MẬT"),
    ("Mật", "MẬT"),  # Word's "all caps" stores the letters as typed
    ("Tài liệu MẬT gửi anh", "MẬT"),
    ("M Ậ T", "MẬT"),
    ("МẬТ", "MẬT"),  # Cyrillic М and Т
    ("ΜẬΤ", "MẬT"),  # Greek Μ and Τ
    ("M\u200bẬ\u00adT", "MẬT"),  # zero-width space, soft hyphen
    ("ＭẬＴ", "MẬT"),  # full-width
    ("𝐌Ậ𝐓", "MẬT"),  # mathematical bold
    ("TỐI\u200d MẬT", "TỐI MẬT"),
])
def test_a_secrecy_marking_is_found_where_documents_put_it(text: str, level: str) -> None:
    assert find_secrecy(f"Kính gửi anh,\n{text}\nNội dung.") == level


@pytest.mark.parametrize("text", [
    "Anh bị mất điện thoại", "MẤT ĐIỆN", "Mặt trời", "Đổi mật khẩu", "ĐỔI MẬT KHẨU",
    "Mật khẩu của bạn đã được đặt lại", "Mật ong rừng Tây Bắc", "MẬT ONG", "Bí mật kinh doanh",
    "BẢO VỆ BÍ MẬT NHÀ NƯỚC", "Lộ bí mật quân sự, báo chí đưa tin", "mối quan hệ mật thiết",
    "MẬT ĐỘ DÂN SỐ", "Nguyễn Văn Mật", "tài liệu mật", "MAT", "Kế hoạch bảo mật thông tin",
    "[bảo mật]", "Tối mật khẩu", "CƠ MẬT VIỆN", "Mật\nong rừng", "giữ bí\nmật", "Mật\n  khẩu: 123",
])
def test_words_that_only_look_like_a_marking_are_not_one(text: str) -> None:
    assert find_secrecy(f"Chào anh,\n{text}\nhẹn gặp") is None
    verdict = verdict_of(message(f"Chào anh,\n{text}\nhẹn gặp"))
    assert verdict.document is DocumentClass.NONE and verdict.action is Action.ACCEPT


@pytest.mark.parametrize(("text", "level"), [
    ("MẬT - HỎA TỐC", "HỎA TỐC"), ("HOẢ TỐC HẸN GIỜ", "HỎA TỐC HẸN GIỜ"),
    ("Số: 123/UBND-VP      THƯỢNG KHẨN", "THƯỢNG KHẨN"), ("Độ khẩn: Khẩn", "KHẨN"),
    ("KHẨN, MẬT", "KHẨN"),
])
def test_urgency_is_found_beside_other_header_text(text: str, level: str) -> None:
    assert find_urgency(f"Kính gửi anh,\n{text}\nNội dung.") == level


@pytest.mark.parametrize("text", ["KHẨN CẤP", "tình trạng khẩn cấp", "khẩn trương triển khai",
                                  "TỐC ĐỘ", "hỏa tốc"])
def test_phrases_with_urgency_words_are_not_urgency(text: str) -> None:
    assert find_urgency(f"Chào anh,\n{text}\nhẹn gặp") is None


def test_the_subject_tag_alone_makes_an_unmarked_letter_rejected() -> None:
    assert not rejected(message(UBND_OFFICIAL, "Gửi kế hoạch"))
    assert rejected(message(UBND_OFFICIAL, "[MẬT] Gửi kế hoạch"))
    assert rejected(message(UBND_OFFICIAL, "Fwd: (TỐI MẬT) Gửi kế hoạch"))
    verdict = verdict_of(message(UBND_OFFICIAL, "[MẬT] Gửi kế hoạch"))
    assert "subject: secrecy marking MẬT" in verdict.evidence


@pytest.mark.parametrize("layout", [
    "same line as the date", "same line as the number", "with urgency", "label",
    "quoted reply", "outlook forward", "gmail forward",
])
def test_a_secret_letter_in_each_layout_is_rejected(layout: str) -> None:
    body = UBND_OFFICIAL
    if layout == "same line as the date":
        body = body.replace("Số: 123/UBND-VP       ", "MẬT                   ").replace(
            "V/v", "Số: 123/UBND-VP\nV/v")
    elif layout == "same line as the number":
        body = body.replace("Số: 123/UBND-VP", "Số: 123/UBND-VP  MẬT")
    elif layout == "with urgency":
        body = "MẬT - KHẨN\n" + body
    elif layout == "label":
        body = body.replace("V/v", "Độ mật: Mật\nV/v")
    elif layout == "quoted reply":
        body = "Em gửi lại anh.\n\nVào 5/3/2024, Văn thư đã viết:\n" + "".join(
            f"> {line}\n" for line in UBND_SECRET.splitlines())
    elif layout == "outlook forward":
        body = ("Chuyển anh.\n\nFrom: Văn thư <vanthu@hanoi.gov.vn>\nSent: Tuesday, March 5, "
                "2024 9:00 AM\nTo: A <a@hanoi.gov.vn>\nSubject: Kế hoạch\n\n" + UBND_SECRET)
    else:
        body = ("---------- Forwarded message ---------\nFrom: Văn thư <vanthu@hanoi.gov.vn>\n"
                "Date: Tue, 5 Mar 2024 at 09:00\nSubject: Kế hoạch\nTo: <a@hanoi.gov.vn>\n\n"
                + UBND_SECRET)
    verdict = verdict_of(message(body))
    assert (verdict.action, verdict.rule) == (Action.REJECT, "secret-to-freemail"), \
        verdict.evidence
    assert verdict.document is DocumentClass.SECRET


def test_a_quoted_letter_keeps_its_number_line_and_is_official() -> None:
    quoted = "".join(f"> {line}\n" for line in UBND_OFFICIAL.splitlines())
    verdict = verdict_of(message("Gửi lại anh.\n" + quoted))
    assert verdict.action is Action.TAG
    assert "body: number/symbol 123/UBND-VP" in verdict.evidence


def test_folding_is_said_in_the_evidence() -> None:
    disguised = UBND_SECRET.replace("MẬT\n", "МẬТ\n", 1).replace("CỘNG HÒA", "CỘNG\u200bHÒA")
    verdict = verdict_of(message(disguised))
    assert (verdict.action, verdict.document) == (Action.REJECT, DocumentClass.SECRET)
    assert any("look-alike letters" in e for e in verdict.evidence)
    assert not any("look-alike" in e for e in verdict_of(message(UBND_SECRET)).evidence)
