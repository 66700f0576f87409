"""The stdlib email internals govmilter.mail.speedups relies on: base64 runs are not split line by
line by the stdlib parser, and the result is exactly the one of the plain parse, wherever the run
sits; base64 bodies decode as ``get_payload(decode=True)`` decodes them. Each test fails when the
stdlib changes under the shortcut (then the shortcut goes, or follows the stdlib).

Each case parses the message twice, with the shortcut and with it switched off, and compares
every field of the :class:`~govmilter.mail.message.MessageContent`, and the parsed trees.
"""

from __future__ import annotations

import base64
import email
import email.message
import email.policy
import hashlib
import itertools
import re
import subprocess
import sys
from email import _encoded_words  # type: ignore[attr-defined]
from pathlib import Path

import pytest
from hostile_mail import OFFICIAL_TEXT, message, multipart
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from linear_time import assert_linear

import govmilter.mail.message
from govmilter.mail.message import (
    MessageContent,
    base64_runs,
    counted_base64_runs,
    parse_message,
)
from govmilter.mail.speedups import (
    DECODED_RUN_ATTRIBUTE,
    STRICT_DECODER,
    parse_collapsed,
    stdlib_decoded_payload,
    strict_base64_decoded,
)
from govmilter.policy import Limits

LIMITS = Limits()
SMALL = Limits(max_scan_bytes=4000, max_attachment_bytes=700, max_attachments=3, max_depth=3)
DOCUMENT = OFFICIAL_TEXT.encode() * 200


def base64_lines(data: bytes, end: bytes = b"\r\n", width: int = 76) -> bytes:
    """``data`` as base64 lines of ``width`` characters, each ended by ``end``."""
    text = base64.b64encode(data)
    return b"".join(text[i:i + width] + end for i in range(0, len(text), width))


def attachment(end: bytes = b"\r\n", blank: bool = True, ctype: str = "application/pdf") -> bytes:
    """A base64 part (its header block ended by a blank line unless ``blank`` is False)."""
    head = (f'Content-Type: {ctype}; name="cong-van.pdf"{end.decode()}'
            f"Content-Transfer-Encoding: base64{end.decode()}").encode()
    return head + (end if blank else b"") + base64_lines(DOCUMENT, end)


def parse_without_shortcut(raw: bytes, limits: Limits, monkeypatch: pytest.MonkeyPatch
                           ) -> MessageContent:
    with monkeypatch.context() as patch:
        patch.setattr(govmilter.mail.message, "_BASE64_RUN_HEAD_RE", re.compile(rb"(?!)"))
        return parse_message(raw, limits)


CASES = {
    "attachment crlf": multipart([attachment()]),
    "attachment lf": multipart([attachment(b"\n")]).replace(b"\r\n", b"\n"),
    "attachment cr": multipart([attachment(b"\r")]).replace(b"\r\n", b"\r"),
    "mixed line ends": multipart([attachment()]).replace(b"\r\n", b"\n", 300),
    "no blank line after the part headers": multipart([attachment(blank=False)]),
    "single part": message([("From", "a@mic.gov.vn"), ("Content-Type", "application/pdf"),
                            ("Content-Transfer-Encoding", "base64")], base64_lines(DOCUMENT)),
    "no headers at all": base64_lines(DOCUMENT),
    "run as the headers of a forwarded message": multipart(
        [b"Content-Type: message/rfc822\r\n\r\n" + base64_lines(DOCUMENT)]),
    "run in a delivery status": multipart(
        [b"Content-Type: message/delivery-status\r\n\r\n" + base64_lines(DOCUMENT)],
        ctype="multipart/report"),
    "run in preamble and epilogue": multipart([attachment()]).replace(
        b"\r\n\r\n--B", b"\r\n\r\n" + base64_lines(DOCUMENT) + b"--B", 1)
        + base64_lines(DOCUMENT),
    "start boundary missing": multipart([attachment()], boundary="B").replace(b"--B\r\n", b"", 1),
    "end boundary missing": multipart([attachment()]).rsplit(b"--B--", 1)[0],
    "multipart without boundary": message(
        [("From", "a@mic.gov.vn"), ("Content-Type", "multipart/mixed")], base64_lines(DOCUMENT)),
    "text part of base64 lines": multipart([attachment(ctype="text/plain").replace(
        b"Content-Transfer-Encoding: base64", b"Content-Transfer-Encoding: 7bit")]),
    "no line end at the end": multipart([attachment()]).rstrip(b"\r\n"),
    "token prefix in the message": multipart([attachment(), b"Content-Type: text/plain\r\n\r\n"
                                              b"GovmilterCollapsedBase64Run00000000\r\n"]),
    "token of a run that is not there": multipart([attachment(), b"Content-Type: text/plain\r\n"
                                                   b"\r\nGovmilterCollapsedBase64Run00000007"]),
    "token prefix inside a run": multipart([attachment().replace(
        b"\r\n", b"\r\nGovmilterCollapsedBase64Run00000000A\r\n", 200)]),
    "blank lines before the boundary": multipart([attachment() + b"\r\n\r\n"]),
    "text after the run in the part": multipart([attachment() + b"QUJD\r\nnot base64\r\n"]),
    "text before the run in the part": multipart([attachment().replace(
        b"base64\r\n\r\n", b"base64\r\n\r\nnot base64\r\n", 1)]),
    "padding inside the run": multipart([attachment().replace(
        b"\r\n", b"\r\nQQ==\r\n", 150)]),
    "padding ending the first 64 lines": multipart([attachment().split(b"\r\n\r\n")[0]
                                                   + b"\r\n\r\n" + base64_lines(bytes(3646))
                                                   + base64_lines(DOCUMENT)]),
    "padding ending an attachment, another after it": multipart(
        [attachment() + base64_lines(DOCUMENT)]),
    "two runs in one part": multipart([attachment() + b"\r\n" + base64_lines(DOCUMENT)]),
    "run of irregular lines": multipart([attachment().replace(b"\r\n", b"A\r\n", 120)]),
    "two attachments over a feed chunk": multipart(
        [attachment(), b"Content-Type: application/octet-stream\r\n"
         b"Content-Transfer-Encoding: base64\r\n\r\n" + base64_lines(bytes(1_200_000))]),
}


@pytest.mark.parametrize("limits", [LIMITS, SMALL], ids=["default limits", "small limits"])
@pytest.mark.parametrize("raw", CASES.values(), ids=CASES.keys())
def test_base64_runs_give_the_same_content_as_the_plain_parse(
        raw: bytes, limits: Limits, monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_message(raw, limits) == parse_without_shortcut(raw, limits, monkeypatch)


@pytest.mark.parametrize("raw", CASES.values(), ids=CASES.keys())
def test_the_collapsed_parse_builds_the_stdlib_parsers_tree(raw: bytes) -> None:
    """The same tree, part by part (what ``_restore_runs`` writes back is what the parser would
    have kept: ``_payload``, ``preamble``, ``epilogue``)."""
    data = memoryview(raw)
    ours = parse_collapsed(data, base64_runs(raw), govmilter.mail.message._feed)
    theirs = govmilter.mail.message._feed(data)
    assert ours.as_bytes() == theirs.as_bytes()
    ours_parts, theirs_parts = list(ours.walk()), list(theirs.walk())
    assert [p.get_content_type() for p in ours_parts] == \
        [p.get_content_type() for p in theirs_parts]
    for mine, stdlib in zip(ours_parts, theirs_parts, strict=True):
        assert (mine.preamble, mine.epilogue) == (stdlib.preamble, stdlib.epilogue)
        if not mine.is_multipart():
            assert mine.get_payload() == stdlib.get_payload()


def test_a_large_attachment_reaches_the_parser_as_one_line() -> None:
    """The shortcut is taken: one parse, of far fewer bytes (a stdlib change that made the runs
    unrestorable would parse twice, and this fails)."""
    fed: list[int] = []

    def feed(data: bytes | memoryview) -> email.message.Message:
        fed.append(len(data))
        return govmilter.mail.message._feed(data)

    raw = multipart([attachment()])
    parse_collapsed(memoryview(raw), base64_runs(raw), feed)
    assert len(fed) == 1 and fed[0] < len(raw) // 10, fed


def test_attachment_is_decoded_whole_from_a_collapsed_run() -> None:
    content = parse_message(multipart([attachment()]), LIMITS)
    assert [(a.filename, a.data) for a in content.attachments] == [("cong-van.pdf", DOCUMENT)]
    assert content.unscannable == ()


def test_container_words_inside_base64_open_no_section_and_are_not_counted() -> None:
    """``multipart/`` is base64 text too; in an attachment's run it opens no MIME section, so it
    does not count towards ``MAX_CONTAINERS`` (it did: the part was then renamed and its base64
    mangled, and the message reported as having too many sections)."""
    line = b"multipart/message/" * 4 + b"AAAA\r\n"  # 76 base64 characters
    body = line * (2 * govmilter.mail.message.MAX_CONTAINERS)
    part = (b'Content-Type: application/pdf; name="x.pdf"\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\n" + body)
    content = parse_message(multipart([part]), LIMITS)
    assert content.unscannable == ()
    assert [a.data for a in content.attachments] == [base64.b64decode(body.replace(b"\r\n", b""))]


@pytest.mark.parametrize("body", [
    base64_lines(DOCUMENT), base64_lines(DOCUMENT, b"\r"), base64_lines(DOCUMENT, b"\n"),
    b"QUJD\r\nRA\r\n", b"QUJDRA=\r\n", b"QUJ", b"QUJDR\r\n", b"QU*J!D\r\n", b"", b"\r\n",
    b"QUJD\xff\r\n", b"QU\x0bJD\x0c\r\n", b"QUJD====RA==\r\n",
], ids=["crlf", "cr", "lf", "padding missing", "padding short", "truncated", "length 1 mod 4",
        "junk characters", "empty", "blank line", "8-bit byte", "vertical tab and form feed",
        "padding inside"])
def test_base64_bodies_decode_as_the_stdlib_decodes_them(body: bytes) -> None:
    raw = b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: Base64\r\n\r\n" + body
    ours = email.message_from_bytes(raw, policy=email.policy.compat32)
    theirs = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert stdlib_decoded_payload(ours) == theirs.get_payload(decode=True)
    assert [type(d) for d in ours.defects] == [type(d) for d in theirs.defects]


def stdlib_decode_b(body: bytes) -> tuple[bytes, list[type]]:
    """What ``get_payload(decode=True)`` gives for a base64 body, and its defects' types."""
    decoded, defects = _encoded_words.decode_b(body.translate(None, b"\r\n"))
    return decoded, [type(defect) for defect in defects]


def test_pybase64_is_there_and_takes_well_formed_bodies() -> None:
    """The fast decoder is installed (a dependency) and decodes what mail clients send: lines
    ended by CRLF, LF or CR, or one line."""
    assert STRICT_DECODER is not None
    for body in (base64_lines(DOCUMENT), base64_lines(DOCUMENT, b"\n"),
                 base64_lines(DOCUMENT, b"\r"), base64.b64encode(DOCUMENT),
                 base64_lines(b"ab", b"\n"), b""):
        assert strict_base64_decoded(body) == stdlib_decode_b(body)[0]
    assert strict_base64_decoded(b"QUJD\r\n*\r\n") is None


def test_the_strict_decoder_agrees_with_the_stdlib_on_every_short_body() -> None:
    """Every body of up to five characters drawn from the alphabet's edge cases (padding,
    both line ends, a space, a stray character): where the fast decoder answers, the stdlib
    gives the same bytes and no defect."""
    answered = 0
    for length in range(6):
        for chars in itertools.product(b"AQ/+=\r\n *", repeat=length):
            body = bytes(chars)
            fast = strict_base64_decoded(body)
            if fast is not None:
                answered += 1
                assert (fast, []) == stdlib_decode_b(body), body
    assert answered > 500  # the comparison ran, not only the fallback


#: What a hostile or broken body puts in the base64 text.
_INSERTS = [b"=", b"==", b"===", b"\r", b"\n", b"\r\n", b" ", b"\t", b"*", b"-", b"\x00",
            b"\x0b", b"A", b"QQ", b"QQ==", b"\n\n"]


@st.composite
def hostile_bodies(draw: st.DrawFn) -> bytes:
    """Base64 of random bytes, then edited (characters put in, taken out, the end cut) and cut
    into lines of a random width and line end."""
    text = bytearray(base64.b64encode(draw(st.binary(max_size=3000))))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        edit = draw(st.sampled_from(["insert", "delete", "truncate"]))
        if edit == "insert":
            text[at:at] = draw(st.sampled_from(_INSERTS))
        elif edit == "delete":
            del text[at:at + draw(st.integers(1, 3))]
        else:
            del text[at:]
    width = draw(st.sampled_from([len(text) + 1, 4, 63, 64, 76, 77]))
    end = draw(st.sampled_from([b"\r\n", b"\n", b"\r", b"\n\r", b" \r\n", b"\r\r\n"]))
    return b"".join(bytes(text[i:i + width]) + end for i in range(0, len(text), width))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_bodies())
def test_hostile_base64_bodies_decode_as_the_stdlib_decodes_them(body: bytes) -> None:
    """Through the parser, as a part's body: the same bytes and the same defects as
    ``get_payload(decode=True)``, whichever decoder took the body."""
    raw = b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" + body
    ours = email.message_from_bytes(raw, policy=email.policy.compat32)
    theirs = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert stdlib_decoded_payload(ours) == theirs.get_payload(decode=True)
    assert [type(d) for d in ours.defects] == [type(d) for d in theirs.defects]


_WITHOUT_PYBASE64 = """
import hashlib, sys
sys.modules["pybase64"] = None  # import pybase64 now raises ImportError
from govmilter.mail import speedups
from govmilter.mail.message import parse_message
from govmilter.policy import Limits
assert speedups.STRICT_DECODER is None
content = parse_message(sys.stdin.buffer.read(), Limits())
print(*(hashlib.sha256(a.data).hexdigest() for a in content.attachments), content.unscannable)
"""


def test_without_pybase64_attachments_are_decoded_by_the_stdlib() -> None:
    raw = multipart([attachment(), attachment(b"\n")])
    done = subprocess.run([sys.executable, "-c", _WITHOUT_PYBASE64], input=raw,
                          capture_output=True, check=True)
    digest = hashlib.sha256(DOCUMENT).hexdigest()
    assert done.stdout.decode().split() == [digest, digest, "()"]


#: What :func:`base64_runs` finds, as one regular expression finds it (slowly: it reads every
#: character of every run).
RUNS_BY_REGEX = re.compile(rb"\n((?:[A-Za-z0-9+/=]++(?:\r\n|\r|\n)){64,}+)")


def runs_by_regex(data: bytes, end: int) -> list[tuple[int, int]]:
    return [match.span(1) for match in RUNS_BY_REGEX.finditer(data, 0, end)]


#: What an edit puts into a run's lines: the characters and lines that end a run, and some that
#: do not.
_RUN_EDITS = [b"-", b"--B\r\n", b"=", b"==", b"\n", b"\r", b"\r\n", b"\n\n", b"\r\n\r\n", b"\r\r",
              b"\n\r", b" ", b":", b"*", b"\x00", b"A", b"AAAA"]


@st.composite
def run_layouts(draw: st.DrawFn) -> tuple[bytes, int]:
    """Messages of base64 blocks (lines of one width and line end, around 64 and 128 lines,
    edited here and there), text and boundary lines and blank lines; and where to stop."""
    randoms = draw(st.randoms(use_true_random=False))
    pieces = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["base64", "base64", "text", "boundary", "blank"]))
        if kind == "base64":
            width = draw(st.sampled_from([1, 3, 4, 64, 76]))
            count = draw(st.sampled_from([63, 64, 65, 127, 128, 129, 200, 600]))
            text = base64.b64encode(randoms.randbytes(width * count * 3 // 4 + 2))
            line_end = draw(st.sampled_from([b"\r\n", b"\n", b"\r"]))
            block = bytearray(b"".join(text[i:i + width] + line_end
                                       for i in range(0, len(text), width)))
            for _ in range(draw(st.integers(0, 3))):
                at = draw(st.integers(0, len(block)))
                if draw(st.booleans()):
                    block[at:at] = draw(st.sampled_from(_RUN_EDITS))
                else:
                    del block[at:at + draw(st.integers(1, 3))]
            pieces.append(bytes(block))
        else:
            pieces.append({"text": b"Content-Type: text/plain\r\n", "boundary": b"--B\r\n",
                           "blank": b"\r\n"}[kind])
    data = b"\n".join(pieces)
    return data, draw(st.sampled_from([len(data), draw(st.integers(0, len(data)))]))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(run_layouts())
def test_base64_runs_are_the_runs_the_regular_expression_finds(layout: tuple[bytes, int]) -> None:
    """The same runs, and the count of their CR and LF bytes (the line limit's) is exact."""
    data, end = layout
    runs, line_ends, _ = counted_base64_runs(data, end)
    assert runs == runs_by_regex(data, end)
    assert line_ends == sum(data[start:stop].count(b"\n") + data[start:stop].count(b"\r")
                            for start, stop in runs)


@pytest.mark.parametrize("raw", CASES.values(), ids=CASES.keys())
def test_base64_runs_of_the_cases_are_the_regular_expressions(raw: bytes) -> None:
    assert base64_runs(raw) == runs_by_regex(raw, len(raw))


class _Unused:
    """Stands for the line-by-line regular expression where it must not be used."""

    def match(self, *_: object) -> re.Match[bytes] | None:
        raise AssertionError("the run's lines were read by the regular expression")


@pytest.mark.parametrize("end", [b"\r\n", b"\n"], ids=["crlf", "lf"])
def test_an_attachments_lines_are_read_at_c_speed(
        end: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """A client's base64 attachment, 76 characters a line, a blank line or none before the
    boundary: the run is found without the line-by-line regular expression."""
    monkeypatch.setattr(govmilter.mail.message, "_BASE64_LINES_RE", _Unused())
    for blank in (b"", end):
        raw = multipart([attachment(end) + blank]).replace(b"\r\n", end)
        assert base64_runs(raw) == runs_by_regex(raw, len(raw)) != []


@pytest.mark.parametrize("shape", ["runs of 64 lines", "one long run", "runs broken by a colon"])
def test_finding_base64_runs_is_linear(shape: str) -> None:
    """Runs just long enough, each followed by a block of regular lines that is not base64
    (the blocks past a run's first 64 lines are read, doubling, only while they pass)."""
    line = b"QUJD" * 19 + b"\r\n"
    units = {"runs of 64 lines": b"\n" + line * 64 + b"x:\r\n",
             "one long run": line,
             "runs broken by a colon": b"\n" + line * 64 + (b"QUJD:" + b"A" * 71 + b"\r\n") * 2}
    unit = units[shape]
    assert_linear(lambda n: b"\n" + unit * max(1, n // len(unit)), base64_runs, 200_000, shape)


def decoded_runs(data: bytes, end: int | None = None) -> dict[tuple[int, int], bytes]:
    """What the run search decoded, run by run, each run's blocks joined."""
    _, _, decoded = counted_base64_runs(data, len(data) if end is None else end, len(data) + 1)
    return {run: b"".join(blocks) for run, blocks in decoded.items()}


def assert_decoded_runs_are_the_stdlibs(data: bytes, end: int | None = None) -> int:
    """Each run the search decoded decodes so by ``get_payload(decode=True)`` too, with no
    defect; how many it decoded."""
    decoded = decoded_runs(data, end)
    for (start, stop), joined in decoded.items():
        assert (joined, []) == stdlib_decode_b(data[start:stop]), (start, stop)
    return len(decoded)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(run_layouts())
def test_runs_decoded_by_the_search_are_what_the_stdlib_decodes(
        layout: tuple[bytes, int]) -> None:
    assert_decoded_runs_are_the_stdlibs(*layout)


#: A run of 200 lines of 4 characters (CRLF): its first 64 lines, then blocks of 64 and 72.
_EDGE_RUN = base64_lines(bytes(range(200)) * 3, width=4)


@pytest.mark.parametrize("line", [0, 63, 64, 127, 199], ids=lambda n: f"line {n}")
def test_every_short_edit_of_a_run_decodes_as_the_stdlib_decodes_it(line: int) -> None:
    """A run with one line's text replaced by every body of up to five characters drawn from
    the alphabet's edge cases (padding, both line ends, a space, a stray character): where the
    run search decoded the run, the stdlib gives the same bytes and no defect."""
    lines = _EDGE_RUN.split(b"\r\n")
    answered = 0
    for length in range(6):
        for chars in itertools.product(b"AQ/+=\r\n *", repeat=length):
            edited = b"\r\n".join([*lines[:line], bytes(chars), *lines[line + 1:]])
            answered += assert_decoded_runs_are_the_stdlibs(b"\n" + edited)
    assert answered > 5000  # the comparison ran, not only the fallback


def part_of(body: bytes, after: bytes) -> bytes:
    return multipart([b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64"
                      b"\r\n\r\n" + body + after])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(run_layouts(),
       st.sampled_from([b"", b"\r\n", b"\n", b"\r\n\r\n", b"x\r\n", b" \r\n", b"\r\n\t"]))
def test_hostile_layouts_in_a_part_decode_as_the_stdlib_decodes_them(
        layout: tuple[bytes, int], after: bytes) -> None:
    """A part's body made of base64 blocks, text and boundary lines, through the collapsed parse
    and its decoded runs: every part decodes to the bytes and defects of the plain parse's
    ``get_payload(decode=True)``."""
    raw = part_of(layout[0], after)
    runs, _, decoded = counted_base64_runs(raw, len(raw), len(raw) + 1)
    ours = parse_collapsed(memoryview(raw), runs, govmilter.mail.message._feed, decoded)
    theirs = govmilter.mail.message._feed(raw)
    ours_parts, theirs_parts = list(ours.walk()), list(theirs.walk())
    assert len(ours_parts) == len(theirs_parts)
    for mine, stdlib in zip(ours_parts, theirs_parts, strict=True):
        if not mine.is_multipart():
            assert stdlib_decoded_payload(mine) == stdlib.get_payload(decode=True)
            assert [type(d) for d in mine.defects] == [type(d) for d in stdlib.defects]


@pytest.mark.parametrize("end", [b"\r\n", b"\n"], ids=["crlf", "lf"])
def test_an_attachment_is_decoded_once_by_the_run_search(
        end: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """A client's attachment, CRLF as Postfix hands it or LF: its body comes out of the parse
    with the run search's decoded blocks, and is not decoded a second time."""
    def second_decode(body: bytes) -> bytes | None:
        raise AssertionError("the attachment was decoded again")

    monkeypatch.setattr(govmilter.mail.speedups, "strict_base64_decoded", second_decode)
    for blank in (b"", end):
        raw = multipart([attachment(end) + blank]).replace(b"\r\n", end)
        data, _, runs, decoded = govmilter.mail.message.prepare_for_parser(raw, LIMITS)
        tree = parse_collapsed(data, runs, govmilter.mail.message._feed, decoded)
        part = list(tree.walk())[-1]
        assert getattr(part, DECODED_RUN_ATTRIBUTE).text is part.get_payload()
        content = parse_message(raw, LIMITS)
        assert [a.data for a in content.attachments] == [DOCUMENT]


def test_runs_past_the_attachment_limit_keep_no_decoded_blocks() -> None:
    """The walk decodes only the start of a body past ``max_attachment_bytes`` (decoded_payload):
    the run search keeps no blocks for such a run, so it holds no more memory for it."""
    raw = multipart([attachment()])
    _, _, runs, decoded = govmilter.mail.message.prepare_for_parser(raw, SMALL)
    assert runs and not decoded
    _, _, runs, decoded = govmilter.mail.message.prepare_for_parser(raw, LIMITS)
    assert list(decoded) == runs


_TESTS = Path(__file__).resolve().parents[1]
_TEST_FILES = sorted(path for path in _TESTS.rglob("*") if path.is_file()
                     and "__pycache__" not in path.parts and ".hypothesis" not in path.parts)


@pytest.mark.parametrize("end", [b"\r\n", b"\n"], ids=["crlf", "lf"])
def test_every_file_under_tests_parses_as_the_plain_parse(
        end: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file under tests/, as a message of its own and as a base64 attachment, with CRLF
    and with LF line ends: the same content as the plain parse."""
    attached = 0
    for path in _TEST_FILES:
        data = path.read_bytes()
        as_message = data.replace(b"\r\n", b"\n").replace(b"\n", end)
        as_attachment = multipart([attachment(end).split(end + end)[0] + end + end
                                   + base64_lines(data, end)]).replace(b"\r\n", end)
        for raw in (as_message, as_attachment):
            assert parse_message(raw, LIMITS) == \
                parse_without_shortcut(raw, LIMITS, monkeypatch), path
        attached += bool(decoded_runs(as_attachment))
    assert attached > 20
