"""Evidence that adds up: a counter-cue never erases a marking or a state issuer (issue 18).

Each test goes the gateway's way (scan, then decide under the default policy) and asserts what
the sender sees: the recipient at Gmail refused, tagged or accepted.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from letters import (
    COMPANY_OFFICIAL_LAYOUT,
    EVN_OFFICIAL,
    UBND_OFFICIAL,
    UBND_SECRET,
    message,
    verdict_of,
)

from govmilter.cli import main
from govmilter.document.evidence import OfficialDocumentEvidence
from govmilter.document.settings import DocumentClass
from govmilter.policy.decide import decide
from govmilter.policy.loader import parse_policy
from govmilter.policy.model import Action
from govmilter.policy.verdict import Envelope, MessageFacts

REJECTED = (Action.REJECT, "secret-to-freemail")
TAGGED = (Action.TAG, "document-to-freemail")
ACCEPTED = (Action.ACCEPT, "default-accept")


def outcome(body: str, subject: str = "Gửi văn bản") -> tuple[Action, str]:
    verdict = verdict_of(message(body, subject))
    return verdict.action, verdict.rule


def test_the_letters_themselves() -> None:
    assert outcome(UBND_SECRET) == REJECTED
    assert outcome(UBND_OFFICIAL) == TAGGED
    assert outcome(COMPANY_OFFICIAL_LAYOUT) == ACCEPTED


def test_a_company_line_above_a_secret_peoples_committee_letter_is_still_rejected() -> None:
    verdict = verdict_of(message("CÔNG TY TNHH ABC\n" + UBND_SECRET))
    assert (verdict.action, verdict.rule) == REJECTED
    assert verdict.document is DocumentClass.SECRET
    assert "body: issuer is a state body" in verdict.evidence


@pytest.mark.parametrize("where", ["top", "under the marking", "beside the heading"])
def test_a_company_line_anywhere_in_the_heading_does_not_void_an_official_letter(
        where: str) -> None:
    letter = {
        "top": "CÔNG TY TNHH ABC\n" + UBND_OFFICIAL,
        "under the marking": UBND_SECRET.replace("MẬT\n", "MẬT\nCÔNG TY CỔ PHẦN XYZ\n"),
        "beside the heading": UBND_OFFICIAL.replace("QUẬN HOÀN KIẾM", "CÔNG TY TNHH ABC"),
    }[where]
    assert outcome(letter) == (REJECTED if "MẬT\n" in letter else TAGGED)


def test_a_state_owned_corporation_marked_mat_is_rejected_and_unmarked_is_tagged() -> None:
    marked = EVN_OFFICIAL.replace("TẬP ĐOÀN", "MẬT\nTẬP ĐOÀN", 1)
    verdict = verdict_of(message(marked))
    assert (verdict.action, verdict.rule) == REJECTED
    assert verdict.document is DocumentClass.SECRET
    assert any("state-owned enterprise" in e for e in verdict.evidence)
    assert outcome(EVN_OFFICIAL) == TAGGED


@pytest.mark.parametrize("issuer", ["TỔNG CÔNG TY ĐƯỜNG SẮT VIỆT NAM",
                                    "TẬP ĐOÀN BƯU CHÍNH VIỄN THÔNG VIỆT NAM"])
def test_a_group_or_corporation_alone_is_a_state_owned_issuer(issuer: str) -> None:
    letter = EVN_OFFICIAL.replace("TỔNG CÔNG TY ĐIỆN LỰC TP HÀ NỘI", "").replace(
        "TẬP ĐOÀN ĐIỆN LỰC VIỆT NAM", issuer)
    assert outcome(letter) == TAGGED


def test_a_company_owned_by_a_peoples_committee_is_a_state_owned_issuer() -> None:
    letter = COMPANY_OFFICIAL_LAYOUT.replace(
        "CÔNG TY CỔ PHẦN AN PHÁT", "UBND TỈNH HÀ NAM\nCÔNG TY TNHH MTV XỔ SỐ KIẾN THIẾT")
    assert outcome(letter) == TAGGED


@pytest.mark.parametrize("issuer", [
    "CÔNG TY CỔ PHẦN AN PHÁT",
    "TẬP ĐOÀN VINGROUP - CÔNG TY CP",
    "CÔNG TY CỔ PHẦN TẬP ĐOÀN HÒA PHÁT",
    "TỔNG CÔNG TY ABC - CTCP",
    "CÔNG TY TNHH AN PHÁT\nBAN GIÁM ĐỐC",
    "CÔNG TY TNHH AN PHÁT\nVĂN PHÒNG ĐẠI DIỆN HÀ NỘI",
])
def test_a_private_companys_own_letter_in_the_layout_is_not_a_document(issuer: str) -> None:
    letter = COMPANY_OFFICIAL_LAYOUT.replace("CÔNG TY CỔ PHẦN AN PHÁT", issuer)
    verdict = verdict_of(message(letter))
    assert (verdict.action, verdict.rule) == ACCEPTED
    assert verdict.document is DocumentClass.NONE
    assert any("issuer is a private company" in e for e in verdict.evidence)


def test_a_private_companys_letter_marked_mat_is_class_marked_and_rejected() -> None:
    verdict = verdict_of(message("MẬT\n" + COMPANY_OFFICIAL_LAYOUT))
    assert (verdict.action, verdict.rule) == REJECTED
    assert verdict.document is DocumentClass.MARKED
    assert "body: secrecy marking MẬT" in verdict.evidence


@pytest.mark.parametrize("evidence", ["number", "signer"])
def test_a_state_number_or_signer_counts_under_a_company_heading(evidence: str) -> None:
    # The issuer lines replaced by a company's: the number and the signer still name the
    # People's Committee.
    letter = UBND_OFFICIAL.replace("ỦY BAN NHÂN DÂN    ", "CÔNG TY TNHH ABC   ").replace(
        "QUẬN HOÀN KIẾM", "")
    if evidence == "number":
        letter = letter.replace("TM. ỦY BAN NHÂN DÂN", "TM. CÔNG TY")
    else:
        letter = letter.replace("123/UBND-VP", "12/2024/CV-ABC")
    assert outcome(letter) == TAGGED


def test_a_chat_line_naming_a_company_above_a_forwarded_letter_does_not_void_it() -> None:
    body = ("Em gửi anh văn bản của công ty điện lực nhé.\n\n"
            "---------- Forwarded message ---------\nFrom: Van thu <vanthu@hanoi.gov.vn>\n"
            "Date: Tue, 5 Mar 2024 at 09:00\nSubject: Công ty TNHH ABC\nTo: <a@hanoi.gov.vn>\n\n"
            + UBND_OFFICIAL)
    assert outcome(body) == TAGGED


def test_a_secrecy_marking_without_a_document_is_marked_and_every_secret_rule_sees_it() -> None:
    verdict = verdict_of(message("Anh xem tài liệu đính kèm.\n\nTỐI MẬT\n\nNội dung kế hoạch."))
    assert (verdict.action, verdict.rule) == REJECTED
    assert verdict.document is DocumentClass.MARKED
    # to an official mailbox nothing changes
    assert verdict_of(message("TỐI MẬT\nNội dung."), recipient="a@hanoi.gov.vn").action \
        is not Action.REJECT


def test_rules_can_name_marked_and_secret_and_official_rules_cover_it() -> None:
    def rule_for(document: str, found: OfficialDocumentEvidence) -> str:
        policy = parse_policy(
            "version: 1\ndomains: {freemail: {builtin: false, extra: [gmail.com]}}\nrules:\n"
            f"  - {{id: it, when: {{document: {document}}}, action: reject}}\n"
            "  - {id: rest, action: accept}\n", "p.yaml")
        verdict = decide(Envelope("a@hanoi.gov.vn", ("b@gmail.com",)),
                         MessageFacts(document=found), policy)
        return verdict.recipients[0].rule_id

    marked = OfficialDocumentEvidence(official=False, score=2.0, secrecy="MẬT")
    secret = OfficialDocumentEvidence(official=True, score=9.0, secrecy="MẬT")
    plain = OfficialDocumentEvidence(official=True, score=9.0)
    assert marked.document_class is DocumentClass.MARKED
    assert [rule_for(cls, marked) for cls in ("marked", "secret", "official", "none")] == [
        "it", "it", "it", "rest"]
    assert [rule_for("marked", found) for found in (secret, plain)] == ["rest", "rest"]


def test_check_says_marked_and_which_rule_refuses_it(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "marked.eml"
    path.write_bytes(message("Anh xem tài liệu đính kèm.", "[MẬT] tài liệu"))
    main(["check", "--no-dns", str(path)])
    out = capsys.readouterr().out
    assert "document: MARKED MẬT, not a document (score 2.0 < 5" in out
    assert "evidence: subject: secrecy marking MẬT" in out
    assert "REJECT by rule secret-to-freemail" in out


def test_a_secrecy_stamp_read_by_ocr_counts_on_a_company_letter_too() -> None:
    from govmilter.document.detect import _score_ocr_text

    scanned = "TOI MAT\n" + COMPANY_OFFICIAL_LAYOUT  # OCR lost the stamp's accents
    score = _score_ocr_text(scanned, "attachment 1 (OCR)")
    assert score.secrecy == "TỐI MẬT"
    assert any("issuer is a private company" in c.description for c in score.cues)
