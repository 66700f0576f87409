"""Notices: who gets one, the hourly limit, the text, and the policy's templates."""

from __future__ import annotations

import dataclasses

import pytest
from incident_samples import make_incident

from govmilter.policy import PolicyError, parse_policy
from govmilter.policy.model import NoticeSettings, NoticeTemplate
from govmilter.server.notices import Notifier, build_notice, deserves_notice

ON = NoticeSettings(enabled=True, sender="postmaster@mic.gov.vn", per_sender_per_hour=2)
RULES = "rules:\n  - id: r\n    action: reject\n"


@pytest.mark.parametrize(("changes", "internal", "automatic", "expected"), [
    ({}, True, False, True),
    ({}, False, False, False),  # an outside sender: no backscatter
    ({}, True, True, False),  # answering an automatic message could loop
    ({"mode": "monitor"}, True, False, False),  # nothing was done to the mail
    ({"sender": "POSTMASTER@mic.gov.vn"}, True, False, False),  # our own notice
])
def test_who_gets_a_notice(changes: dict[str, object], internal: bool, automatic: bool,
                           expected: bool) -> None:
    incident = make_incident(**changes)
    assert deserves_notice(incident, internal_sender=internal, automatic=automatic,
                           settings=ON) is expected
    assert not deserves_notice(incident, internal_sender=internal, automatic=automatic,
                               settings=dataclasses.replace(ON, enabled=False))


def test_a_sender_gets_at_most_the_hourly_limit() -> None:
    notifier = Notifier()  # not started: offers only queue
    incident = make_incident()
    offered = [notifier.offer(incident, NoticeTemplate(), internal_sender=True, automatic=False,
                              settings=ON) for _ in range(4)]
    assert offered == [True, True, False, False]
    other = make_incident(sender="khac@mic.gov.vn")
    assert notifier.offer(other, NoticeTemplate(), internal_sender=True, automatic=False,
                          settings=ON)
    assert notifier._allowed("chuyen.vien@mic.gov.vn", 2, now=10**9)  # an hour later


def test_the_notice_is_vietnamese_first_then_english_and_marked_automatic() -> None:
    notice = build_notice(make_incident(), NoticeTemplate(), ON)
    message = notice.message
    assert message["Auto-Submitted"] == "auto-generated"
    assert notice.to == "Chuyen.Vien@mic.gov.vn"
    body = message.get_content()
    assert body.index("Người nhận bị ảnh hưởng: ban.be@gmail.com") < body.index(
        "Recipients affected: ban.be@gmail.com")


def test_templates_are_checked_with_file_and_line() -> None:
    with pytest.raises(PolicyError) as refused:
        parse_policy("notices: {enabled: true, sender: pm@mic.gov.vn}\n" + RULES
                     + "    notice:\n      vi: 'Mã {incident} của {nguoi_gui}'\n"
                       "      en: 'Id {incident'\n")
    problems = [str(p) for p in refused.value.problems]
    assert any(":6:" in p and "unknown field {nguoi_gui}" in p for p in problems), problems
    assert any(":7:" in p and "notice.en" in p for p in problems), problems
    policy = parse_policy("notices: {enabled: true, sender: pm@mic.gov.vn}\n" + RULES
                          + "    notice: false\n")
    assert policy.rules[0].notice is None
    with pytest.raises(PolicyError, match=r"notices\.sender: give the From: address"):
        parse_policy("notices: {enabled: true}\n" + RULES)
