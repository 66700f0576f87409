"""Letters written for the detection-robustness tests, and the gateway's verdict on a message.

``verdict_of`` goes the way the milter goes: raw bytes, :func:`govmilter.scan.scan_message`,
then :func:`govmilter.policy.decide` under the default policy (lists only, no DNS).
"""

from __future__ import annotations

import email.message
import email.policy
from dataclasses import dataclass

from govmilter.document.settings import DocumentClass
from govmilter.policy import load_policy
from govmilter.policy.decide import decide
from govmilter.policy.model import Action, Policy
from govmilter.policy.verdict import Envelope
from govmilter.scan import scan_message

SENDER = "vanthu@hanoi.gov.vn"
GMAIL = "nguyenvana@gmail.com"

#: A People's Committee's letter, marked MẬT, in the two-column layout read line by line.
UBND_SECRET = """MẬT

ỦY BAN NHÂN DÂN                      CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
QUẬN HOÀN KIẾM                              Độc lập - Tự do - Hạnh phúc

Số: 123/UBND-VP                      Hoàn Kiếm, ngày 5 tháng 3 năm 2024
V/v triển khai phương án bảo vệ

Kính gửi: Công an quận Hoàn Kiếm

Ủy ban nhân dân quận đề nghị Công an quận phối hợp triển khai phương án.

Nơi nhận:
- Như trên;
- Lưu: VT.
                                                TM. ỦY BAN NHÂN DÂN
                                                KT. CHỦ TỊCH
                                                PHÓ CHỦ TỊCH
"""
#: The same letter without its marking: official, to be tagged, not rejected.
UBND_OFFICIAL = UBND_SECRET.removeprefix("MẬT\n\n")

#: A state-owned corporation's letter (Decree 30/2020 applies to it).
EVN_OFFICIAL = (UBND_OFFICIAL
                .replace("ỦY BAN NHÂN DÂN         ", "TẬP ĐOÀN ĐIỆN LỰC VIỆT NAM")
                .replace("QUẬN HOÀN KIẾM        ", "TỔNG CÔNG TY ĐIỆN LỰC TP HÀ NỘI")
                .replace("123/UBND-VP", "456/EVNHANOI-KD")
                .replace("TM. ỦY BAN NHÂN DÂN", "KT. TỔNG GIÁM ĐỐC")
                .replace("KT. CHỦ TỊCH\n", "")
                .replace("PHÓ CHỦ TỊCH", "PHÓ TỔNG GIÁM ĐỐC")
                .replace("Ủy ban nhân dân quận", "Tổng công ty"))

#: A private company's own letter in the administrative layout.
COMPANY_OFFICIAL_LAYOUT = (EVN_OFFICIAL
                           .replace("TẬP ĐOÀN ĐIỆN LỰC VIỆT NAM", "CÔNG TY CỔ PHẦN AN PHÁT   ")
                           .replace("TỔNG CÔNG TY ĐIỆN LỰC TP HÀ NỘI", "                  ")
                           .replace("456/EVNHANOI-KD", "12/2024/CV-AP")
                           .replace("KT. TỔNG GIÁM ĐỐC", "TM. CÔNG TY")
                           .replace("PHÓ TỔNG GIÁM ĐỐC", "GIÁM ĐỐC")
                           .replace("Tổng công ty", "Công ty"))


def message(body: str, subject: str = "Gửi văn bản", *, sender: str = SENDER,
            recipient: str = GMAIL, html: str | None = None,
            attachments: tuple[tuple[str, str, bytes], ...] = ()) -> bytes:
    """A MIME message with a plain body (and an HTML twin, and attachments when given)."""
    msg = email.message.EmailMessage(policy=email.policy.SMTP)
    msg["From"], msg["To"], msg["Subject"] = sender, recipient, subject
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for filename, mime, data in attachments:
        maintype, subtype = mime.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


@dataclass(frozen=True, slots=True)
class GatewayVerdict:
    """What the gateway does with a message for its one recipient, and why."""

    action: Action
    rule: str
    document: DocumentClass
    evidence: tuple[str, ...]


_DEFAULT: list[Policy] = []


def default_policy() -> Policy:
    """The default policy, loaded once (it holds the 4,800 freemail domains)."""
    if not _DEFAULT:
        _DEFAULT.append(load_policy(None))
    return _DEFAULT[0]


def verdict_of(raw: bytes, sender: str = SENDER, recipient: str = GMAIL) -> GatewayVerdict:
    """Scan ``raw`` and decide it under the default policy, as the milter does."""
    policy = default_policy()
    facts = scan_message(raw, policy)
    verdict = decide(Envelope(sender, (recipient,)), facts, policy)
    (only,) = verdict.recipients
    return GatewayVerdict(only.action, only.rule_id, facts.document.document_class,
                          facts.document.evidence)


def issue18_evasions() -> dict[str, bytes]:
    """The evasions issue 18 reported, each named, as the message that carried it."""
    from make_corpus import pdf_bytes  # fpdf2, a test extra

    two_column_pdf = pdf_bytes(
        (("ỦY BAN NHÂN DÂN", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"),
         ("QUẬN HOÀN KIẾM", "Độc lập - Tự do - Hạnh phúc"),
         ("MẬT", "Hoàn Kiếm, ngày 5 tháng 3 năm 2024"), ("Số: 123/UBND-VP", "")),
        ["V/v triển khai phương án", "Kính gửi: Công an quận", "Nơi nhận:", "- Lưu: VT.",
         "TM. ỦY BAN NHÂN DÂN"])
    return {
        "company line above a People's Committee letter marked MẬT":
            message("CÔNG TY TNHH ABC\n" + UBND_SECRET),
        "state-owned corporation's letter marked MẬT": message("MẬT\n" + EVN_OFFICIAL),
        "[MẬT] in the subject": message(UBND_OFFICIAL, "[MẬT] Kế hoạch bảo vệ"),
        "MẬT on the date's line of a two-column PDF": message(
            "Gửi anh.", attachments=(("cong-van.pdf", "application/pdf", two_column_pdf),)),
        "MẬT - KHẨN on one line": message("MẬT - KHẨN\n" + UBND_OFFICIAL),
        "> MẬT in a quoted reply": message(
            "Em gửi lại.\n\n" + "".join(f"> {line}\n" for line in UBND_SECRET.splitlines())),
        "Độ mật: Mật label": message(UBND_OFFICIAL.replace("V/v", "Độ mật: Mật\nV/v")),
    }
