"""The scan's one time budget: ``limits.max_seconds`` runs from the first byte parsed."""

from __future__ import annotations

import pytest
from hostile_mail import OFFICIAL_TEXT, multipart, with_attachment

import govmilter.scan
from govmilter.document.settings import DetectionSettings
from govmilter.mail.limits import Limits
from govmilter.mail.message import MessageContent, parse_message
from govmilter.scan import scan_with

TIME_OUT = "time budget of 3 s reached; scanning stopped"


class SteppedClock:
    """A clock that jumps ``step`` seconds each time it is read (work "takes time" without a
    real wait); the first read, the budget's start, reads 0."""

    def __init__(self, step: float) -> None:
        self.now = -step
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def official_in_parts(count: int) -> bytes:
    """A message of ``count`` text parts, the official document in the last one."""
    plain = b"Content-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n"
    official = b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + OFFICIAL_TEXT.encode()
    return multipart([plain] * (count - 1) + [official])


def test_the_walk_over_mime_parts_stops_at_the_deadline() -> None:
    # every read of the clock costs one second: the walk asks before each part
    facts = scan_with(official_in_parts(6), Limits(max_seconds=3), DetectionSettings(),
                      SteppedClock(1.0))
    assert not facts.document.official, "the last part was read after the budget ran out"
    assert facts.document.unscannable == (TIME_OUT,)


def test_time_spent_parsing_counts_against_max_seconds(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = SteppedClock(0.0)
    parse = parse_message

    def slow_parse(*args: object, **kwargs: object) -> MessageContent:
        content = parse(*args, **kwargs)  # type: ignore[arg-type]
        clock.now += 3.5  # parsing took longer than the whole budget
        return content

    monkeypatch.setattr(govmilter.scan, "parse_message", slow_parse)
    raw = with_attachment(OFFICIAL_TEXT.encode(), "cong-van.txt", "text/plain")
    facts = scan_with(raw, Limits(max_seconds=3), DetectionSettings(), clock)
    assert not facts.document.official, "the attachment was read after the deadline"
    assert TIME_OUT in facts.document.unscannable


def test_within_the_budget_every_part_is_read() -> None:
    facts = scan_with(official_in_parts(6), Limits(max_seconds=3), DetectionSettings(),
                      SteppedClock(0.01))
    assert facts.document.official
    assert facts.document.unscannable == ()
