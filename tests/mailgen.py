"""A deterministic generator of stored mail for replay tests and docs/policy.md's walkthrough.

Each generated message knows what it is (an official document, a secret one or plain mail), who
sent it and who received it *in the envelope*, so a test can compute the expected verdicts
without asking govmilter. A third of the messages carry To/Cc only; the others carry a
``Return-Path`` plus ``X-Original-To`` or ``Delivered-To`` that disagree with From/To on purpose,
so that using the headers instead of the envelope would change the counts.

Run it to make a sample mailbox:  python tests/mailgen.py maildir|mbox|eml DEST [--count N]
"""

from __future__ import annotations

import argparse
import email.message
import email.policy
import mailbox
import random
from dataclasses import dataclass
from pathlib import Path

ADDRESSES = {
    "official": ("vanthu@mic.gov.vn", "phongcntt@hanoi.gov.vn", "vp@ubnd.danang.gov.vn",
                 "so.tttt@tphcm.gov.vn"),
    "freemail": ("nguyenvana@gmail.com", "tranthib@yahoo.com", "lec@outlook.com",
                 "hoangd@hn.vnn.vn"),
    "external": ("info@vnexpress.net", "sales@acme-consulting.vn", "partner@vingroup.net"),
    "lookalike": ("vanthu@mic.gov.vn.com", "admin@govvn.com"),  # imitate gov.vn, no DNS needed
}
#: The From/To written in messages whose envelope is in Return-Path/X-Original-To: a class no
#: generated envelope address has in the same role, so header fallback would be visible.
DECOY_FROM = "noreply@example.org"
DECOY_TO = "ban-tin@example.org"

AGENCIES = (("UBND", "VP"), ("BTTTT", "THH"), ("STTTT", "CNTT"), ("UBND", "KT"))
TOPICS = ("triển khai hệ thống thư điện tử công vụ", "báo cáo kết quả chuyển đổi số năm 2024",
          "tăng cường bảo đảm an toàn thông tin", "góp ý dự thảo quy chế làm việc")
PLAIN = (("Lịch họp tuần sau", "Chào anh,\n\nChiều thứ Ba họp lúc 15 giờ ở phòng 302 nhé.\n"),
         ("Ảnh chuyến đi Đà Lạt", "Gửi cả nhà mấy tấm ảnh hôm trước.\nThân!\n"),
         ("Re: báo giá máy in", "Bên em gửi lại báo giá, anh xem giúp em.\nCảm ơn anh.\n"),
         ("Weekly newsletter", "Hello,\n\nHere is this week's product news.\n"))


@dataclass(frozen=True, slots=True)
class GeneratedMessage:
    """One message and the truth about it."""

    index: int
    kind: str  #: "secret", "official" or "plain"
    sender: str  #: the envelope sender
    recipients: tuple[str, ...]  #: the envelope recipients
    raw: bytes


def class_of(address: str) -> str:
    """The class the generator chose the address from."""
    return next(c for c, addresses in ADDRESSES.items() if address in addresses)


def _cong_van(rng: random.Random, secret: bool) -> tuple[str, str]:
    agency, unit = rng.choice(AGENCIES)
    number = rng.randint(1, 999)
    topic = rng.choice(TOPICS)
    day, month = rng.randint(1, 28), rng.randint(1, 12)
    body = (
        ("MẬT\n\n" if secret else "")
        + f"{agency}                         CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\n"
        "                                 Độc lập - Tự do - Hạnh phúc\n"
        f"Số: {number}/{agency}-{unit}                Hà Nội, ngày {day} tháng {month} năm 2024\n"
        f"V/v {topic}\n\n"
        "Kính gửi: Các sở, ban, ngành\n\n"
        "Nội dung công văn.\n\n"
        "Nơi nhận:\n- Như trên;\n- Lưu: VT.\n"
    )
    return f"Công văn số {number}/{agency}-{unit} V/v {topic}", body


def generate(count: int = 300, seed: int = 588) -> list[GeneratedMessage]:
    """``count`` messages, the same for the same seed."""
    rng = random.Random(seed)
    messages = []
    for index in range(count):
        kind = rng.choice(("secret", "official", "official", "plain", "plain"))
        sender = rng.choice(ADDRESSES[rng.choice(("official", "official", "freemail",
                                                  "external", "lookalike"))])
        style = index % 3  # 0: To/Cc only; 1: X-Original-To; 2: Delivered-To
        if style == 0:
            pool = [a for addresses in ADDRESSES.values() for a in addresses if a != sender]
            recipients = tuple(rng.sample(pool, rng.randint(1, 3)))
        else:
            recipients = (rng.choice([a for c in ADDRESSES.values() for a in c if a != sender]),)
        if kind == "plain":
            subject, body = rng.choice(PLAIN)
        else:
            subject, body = _cong_van(rng, secret=kind == "secret")
        msg = email.message.EmailMessage()
        if style == 0:
            msg["From"] = sender
            msg["To"] = recipients[0]
            if len(recipients) > 1:
                msg["Cc"] = ", ".join(recipients[1:])
        else:
            msg["Return-Path"] = f"<{sender}>"
            msg["X-Original-To" if style == 1 else "Delivered-To"] = recipients[0]
            msg["From"] = DECOY_FROM
            msg["To"] = DECOY_TO
        msg["Subject"] = subject
        msg["Message-ID"] = f"<gen{index}@mailgen.test>"
        msg.set_content(body, charset="utf-8")
        raw = msg.as_bytes(policy=email.policy.SMTP)
        messages.append(GeneratedMessage(index, kind, sender, recipients, raw))
    return messages


def write_maildir(path: Path, messages: list[GeneratedMessage]) -> dict[str, GeneratedMessage]:
    """Store the messages in a new Maildir; returns them by the name ``replay`` reports."""
    box = mailbox.Maildir(path, create=True)
    return {f"new/{box.add(m.raw)}": m for m in messages}


def write_mbox(path: Path, messages: list[GeneratedMessage]) -> dict[str, GeneratedMessage]:
    """Store the messages in a new mbox file; returns them by the name ``replay`` reports."""
    box = mailbox.mbox(path, create=True)
    box.lock()
    try:
        for m in messages:
            box.add(m.raw)
        box.flush()
    finally:
        box.unlock()
        box.close()
    return {f"{path.name}#{n}": m for n, m in enumerate(messages, start=1)}


def write_eml_folder(path: Path, messages: list[GeneratedMessage]) -> dict[str, GeneratedMessage]:
    """Store the messages as ``msgNNNN.eml`` files; returns them by the name ``replay`` reports."""
    path.mkdir(parents=True, exist_ok=True)
    named = {}
    for m in messages:
        name = f"msg{m.index:04d}.eml"
        (path / name).write_bytes(m.raw)
        named[name] = m
    return named


WRITERS = {"maildir": write_maildir, "mbox": write_mbox, "eml": write_eml_folder}


def main() -> None:
    """Write a sample mailbox for trying ``govmilter replay``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("format", choices=sorted(WRITERS))
    parser.add_argument("dest", type=Path)
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=588)
    args = parser.parse_args()
    WRITERS[args.format](args.dest, generate(args.count, args.seed))


if __name__ == "__main__":
    main()
