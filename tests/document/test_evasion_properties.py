"""Adversarial properties of the detector (issue 18), checked the gateway's way (scan, then the
default policy, for one Gmail recipient).

A letter goes through up to three transformations a sender might apply, on purpose or not, then
travels in one carrier (plain body, HTML split into spans, DOCX split into runs, a ZIP holding it
as text or DOCX). Transformations that must not change the verdict: insert a line anywhere,
quote, forward, move the marking to the subject, swap in look-alike letters, add invisible
characters, re-wrap, change case. Removing the cues must change it: the same letter without its
marking is only tagged, and its prose alone is accepted.

Sized for a 2-core CI: about 240 examples in all, a few seconds.
"""

from __future__ import annotations

import random
import textwrap
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from letters import EVN_OFFICIAL, UBND_OFFICIAL, UBND_SECRET, message, verdict_of

from govmilter.domains.confusables import _prototypes
from govmilter.policy.model import Action

pytest.importorskip("fpdf", reason="make_corpus (the test extra) builds the DOCX")
from make_corpus import _zip, docx_bytes

PROPERTY = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

REJECTED = (Action.REJECT, "secret-to-freemail")
TAGGED = (Action.TAG, "document-to-freemail")
ACCEPTED = (Action.ACCEPT, "default-accept")


@dataclass(frozen=True)
class Mail:
    """A letter on its way: the subject and the text lines, before a carrier is chosen."""

    subject: str
    lines: tuple[str, ...]


Transform = Callable[[Mail], Mail]

#: Lines a sender adds: greetings, a company name (a counter-cue), and words that only look
#: like markings.
INSERTED = ("Chào anh,", "", "Trân trọng,", "CÔNG TY TNHH ABC", "Mật khẩu wifi: 12345678",
            "Tin tức: lộ bí mật kinh doanh", "Mật ong rừng giá tốt", "Anh bị mất điện thoại",
            "Việc này khẩn cấp lắm", "-- ", "Tổng công ty cổ phần XYZ gửi lời chào")

#: Look-alike letters from an independent source: the Cyrillic and Greek rows of Unicode's
#: confusables.txt (as the domain checks hold them) mapping to one Latin letter, and the
#: Cyrillic and Greek capitals that look like Latin ones.
LOOKALIKES: dict[str, list[str]] = {}
for _code, _target in sorted(_prototypes().items()):
    _char = chr(_code)
    if (len(_target) == 1 and _target.isascii() and _target.isalpha()
            and unicodedata.name(_char, "").split()[0] in ("CYRILLIC", "GREEK")):
        LOOKALIKES.setdefault(_target, []).append(_char)
for _latin, _others in {"A": "АΑ", "B": "ВΒ", "E": "ЕΕ", "H": "НΗ", "I": "ІΙ", "K": "КΚ",
                        "M": "МΜ", "N": "Ν", "O": "ОΟ", "P": "РΡ", "C": "С", "T": "ТΤ",
                        "X": "ХΧ", "Y": "Υ"}.items():
    LOOKALIKES.setdefault(_latin, []).extend(_others)
INVISIBLE = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad")
MARKING_LINES = ("MẬT", "TỐI MẬT", "TUYỆT MẬT")


def insert_line(index: int, line: str) -> Transform:
    def apply(mail: Mail) -> Mail:
        at = index % (len(mail.lines) + 1)
        return replace(mail, lines=(*mail.lines[:at], line, *mail.lines[at:]))
    return apply


def quote(prefix: str) -> Transform:
    def apply(mail: Mail) -> Mail:
        return Mail("Re: " + mail.subject, ("Em gửi lại anh.", "",
                                             "Vào 5/3/2024, Văn thư đã viết:",
                                             *(prefix + line for line in mail.lines)))
    return apply


def forward(style: str) -> Transform:
    header = {
        "gmail": ("---------- Forwarded message ---------", "From: Văn thư <vanthu@hanoi.gov.vn>",
                  "Date: Tue, 5 Mar 2024 at 09:00", "Subject: Kế hoạch", "To: <a@hanoi.gov.vn>"),
        "outlook": ("From: Văn thư <vanthu@hanoi.gov.vn>",
                    "Sent: Tuesday, March 5, 2024 9:00 AM", "To: A <a@hanoi.gov.vn>",
                    "Subject: Kế hoạch"),
    }[style]

    def apply(mail: Mail) -> Mail:
        return Mail("Fwd: " + mail.subject, ("Chuyển anh.", "", *header, "", *mail.lines))
    return apply


def marking_to_subject(tag: str) -> Transform:
    """The marking line leaves the text for the subject: ``[MẬT]``, ``(TỐI MẬT)``, ``MẬT - ``."""
    def apply(mail: Mail) -> Mail:
        marks = [line for line in mail.lines if line.strip() in MARKING_LINES]
        if not marks:
            return mail
        level = marks[0].strip()
        lines = tuple(line for line in mail.lines if line.strip() not in MARKING_LINES)
        return Mail(tag.format(level) + mail.subject, lines)
    return apply


def _edit_letters(mail: Mail, seed: int, share: float,
                  edit: Callable[[random.Random, str], str]) -> Mail:
    rng = random.Random(seed)
    return replace(mail, lines=tuple(
        "".join(edit(rng, ch) if rng.random() < share else ch for ch in line)
        for line in mail.lines))


def confusables(seed: int) -> Transform:
    def swap(rng: random.Random, ch: str) -> str:
        base = unicodedata.normalize("NFD", ch)
        others = LOOKALIKES.get(base[0])
        return unicodedata.normalize("NFC", rng.choice(others) + base[1:]) if others else ch
    return lambda mail: _edit_letters(mail, seed, 0.4, swap)


def invisible(seed: int) -> Transform:
    return lambda mail: _edit_letters(mail, seed, 0.2,
                                      lambda rng, ch: ch + rng.choice(INVISIBLE))


def rewrap(width: int) -> Transform:
    def apply(mail: Mail) -> Mail:
        lines: list[str] = []
        for line in mail.lines:
            lines += textwrap.wrap(line, width, break_long_words=False,
                                   break_on_hyphens=False) or [""]
        return replace(mail, lines=tuple(lines))
    return apply


def change_case(how: str) -> Transform:
    change = {"upper": str.upper, "lower": str.lower, "title": str.title}[how]
    return lambda mail: replace(mail, lines=tuple(change(line) for line in mail.lines))


TRANSFORMS = st.one_of(
    st.builds(insert_line, st.integers(0, 40), st.sampled_from(INSERTED)),
    st.builds(quote, st.sampled_from(("> ", ">", ">> ", "> > "))),
    st.builds(forward, st.sampled_from(("gmail", "outlook"))),
    st.builds(marking_to_subject, st.sampled_from(("[{}] ", "({}) ", "{} - ", "[{}]"))),
    st.builds(rewrap, st.integers(24, 90)),
    st.builds(change_case, st.sampled_from(("upper", "lower", "title"))),
)
#: Disguises come last, on the text as sent (the lower case of a look-alike capital is often
#: no look-alike: Greek Η becomes η).
DISGUISES = st.lists(st.one_of(st.builds(confusables, st.integers(0, 2**16)),
                               st.builds(invisible, st.integers(0, 2**16))), max_size=2)


def _pieces(rng: random.Random, line: str) -> list[str]:
    """``line`` cut at random places (runs of a DOCX, spans of an HTML page)."""
    cuts = sorted(rng.sample(range(1, len(line)), min(len(line) - 1, 3))) if len(line) > 1 else []
    return [line[a:b] for a, b in zip([0, *cuts], [*cuts, len(line)], strict=True)]


def docx_split(lines: tuple[str, ...], seed: int) -> bytes:
    """The lines as a DOCX whose paragraphs are split into runs at random places."""
    rng = random.Random(seed)
    body = "".join(
        "<w:p>" + "".join(f'<w:r><w:t xml:space="preserve">{escape(piece)}</w:t></w:r>'
                          for piece in _pieces(rng, line)) + "</w:p>"
        for line in lines)
    base = docx_bytes(["x"])
    import io
    import zipfile
    with zipfile.ZipFile(io.BytesIO(base)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    xml = files["word/document.xml"].decode()
    start, end = xml.index("<w:body>") + len("<w:body>"), xml.index("</w:body>")
    files["word/document.xml"] = (xml[:start] + body + xml[end:]).encode()
    return _zip(files)


def html_split(lines: tuple[str, ...], seed: int) -> str:
    """The lines as HTML, each cut into spans, some letters styled on their own."""
    rng = random.Random(seed)
    styles = ("", " style='color:#c00'", " style='font-weight:bold'", " class='x'")
    return "<html><body>" + "".join(
        "<div>" + "".join(f"<span{rng.choice(styles)}>{escape(piece)}</span>"
                          for piece in _pieces(rng, line)) + "</div>"
        for line in lines) + "</body></html>"


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
CARRIERS = ("body", "html", "docx", "zip-text", "zip-docx")


def send(mail: Mail, carrier: str, seed: int) -> tuple[Action, str]:
    """The gateway's action and rule for the mail in ``carrier``."""
    text = "\n".join(mail.lines) + "\n"
    if carrier == "body":
        raw = message(text, mail.subject)
    elif carrier == "html":
        raw = message("Xem bản HTML.", mail.subject, html=html_split(mail.lines, seed))
    elif carrier == "docx":
        raw = message("Gửi anh văn bản.", mail.subject,
                      attachments=(("cong-van.docx", DOCX, docx_split(mail.lines, seed)),))
    else:
        inner = ({"cong-van.txt": text.encode()} if carrier == "zip-text"
                 else {"cong-van.docx": docx_split(mail.lines, seed)})
        raw = message("Gửi anh văn bản nén.", mail.subject,
                      attachments=(("van-ban.zip", "application/zip", _zip(inner)),))
    verdict = verdict_of(raw)
    return verdict.action, verdict.rule


def transformed(base: str, transforms: list[Transform]) -> Mail:
    mail = Mail("Gửi văn bản", tuple(base.splitlines()))
    for transform in transforms:
        mail = transform(mail)
    return mail


SECRET_LETTERS = (UBND_SECRET, UBND_SECRET.replace("MẬT\n", "TỐI MẬT\n", 1),
                  "TUYỆT MẬT\n" + EVN_OFFICIAL)
OFFICIAL_LETTERS = (UBND_OFFICIAL, EVN_OFFICIAL)
#: Every cue removed: the letter's prose alone.
PROSE = ("Ủy ban nhân dân quận đề nghị Công an quận phối hợp triển khai phương án.\n"
         "Đề nghị các đơn vị thực hiện.\n")

transform_lists = st.builds(lambda changes, disguises: changes + disguises,
                            st.lists(TRANSFORMS, max_size=3), DISGUISES)
carriers = st.sampled_from(CARRIERS)
seeds = st.integers(0, 2**16)


@PROPERTY
@given(st.sampled_from(SECRET_LETTERS), transform_lists, carriers, seeds)
def test_a_secret_letter_is_refused_to_webmail_whatever_is_done_to_it(
        letter: str, transforms: list[Transform], carrier: str, seed: int) -> None:
    assert send(transformed(letter, transforms), carrier, seed) == REJECTED


@PROPERTY
@given(st.sampled_from(OFFICIAL_LETTERS), transform_lists, carriers, seeds)
def test_the_letter_without_its_marking_is_tagged_not_refused(
        letter: str, transforms: list[Transform], carrier: str, seed: int) -> None:
    assert send(transformed(letter, transforms), carrier, seed) == TAGGED


@settings(PROPERTY, max_examples=40)
@given(transform_lists, carriers, seeds)
def test_the_prose_without_any_cue_is_accepted(transforms: list[Transform], carrier: str,
                                               seed: int) -> None:
    assert send(transformed(PROSE, transforms), carrier, seed) == ACCEPTED


@settings(PROPERTY, max_examples=40)
@given(st.sampled_from(SECRET_LETTERS), carriers, seeds)
def test_removing_the_marking_and_then_every_cue_changes_the_verdict(
        letter: str, carrier: str, seed: int) -> None:
    # the must-change direction on the same letters: refused, then tagged, then accepted
    unmarked = "\n".join(line for line in letter.splitlines()
                         if line.strip() not in MARKING_LINES)
    assert send(transformed(letter, []), carrier, seed) == REJECTED
    assert send(transformed(unmarked, []), carrier, seed) == TAGGED
    assert send(transformed(PROSE, []), carrier, seed) == ACCEPTED
