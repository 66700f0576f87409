"""Policy loading and validation: every error is reported as file:line."""

from __future__ import annotations

import datetime as dt
import textwrap

import pytest

from govmilter.domains import DomainClass
from govmilter.policy import (
    Action,
    DocumentClass,
    Mode,
    PolicyError,
    PolicyProblem,
    load_policy,
    parse_policy,
)

TODAY = dt.date(2026, 11, 28)


def problems(text: str) -> list[PolicyProblem]:
    """The problems found in a policy text (dedented)."""
    with pytest.raises(PolicyError) as info:
        parse_policy(textwrap.dedent(text), "p.yaml", today=TODAY,
                     freemail_source=lambda: frozenset())
    return list(info.value.problems)


def ok(text: str):  # type: ignore[no-untyped-def]
    return parse_policy(textwrap.dedent(text), "p.yaml", today=TODAY,
                        freemail_source=lambda: frozenset({"gmail.com"}))


MINIMAL = """\
rules:
  - id: all
    action: accept
"""


def test_default_policy_loads_with_the_documented_rules() -> None:
    policy = load_policy()
    assert policy.mode is Mode.ENFORCE
    assert [r.id for r in policy.rules] == [
        "official-to-official", "document-to-lookalike", "secret-to-freemail",
        "document-to-freemail", "unscannable-to-freemail", "document-from-freemail",
        "document-from-lookalike", "default-accept",
    ]
    secret = policy.rule("secret-to-freemail")
    assert secret.action is Action.REJECT and secret.document is DocumentClass.SECRET
    assert secret.senders == frozenset({DomainClass.OFFICIAL})
    assert secret.reply is not None and secret.reply.code == 550
    assert not policy.warnings
    assert len(policy.source.sha256) == 64
    assert "gmail.com" in policy.domains.freemail


def test_minimal_policy_has_defaults() -> None:
    policy = ok(MINIMAL)
    assert policy.mode is Mode.ENFORCE
    assert "hanoi.gov.vn" in policy.domains.official
    assert policy.rules[0].compliant is True


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        pytest.param("rules: [\n  {id: a\n", 3, "YAML syntax error", id="yaml-syntax"),
        pytest.param("mode: enforce\nmodes: monitor\n" + MINIMAL, 2,
                     "unknown key 'modes'", id="unknown-top-key"),
        pytest.param("mode: enforse\n" + MINIMAL, 1, "did you mean 'enforce'", id="bad-mode"),
        pytest.param("rules:\n  - id: a\n    action: block\n", 3, "unknown value 'block'",
                     id="unknown-action"),
        pytest.param("rules:\n  - id: a\n    action: accept\n    when: {sender: gov}\n", 4,
                     "unknown value 'gov'", id="unknown-class"),
        pytest.param("rules:\n  - id: a\n    action: accept\n    when: {document: secrets}\n",
                     4, "did you mean 'secret'", id="unknown-document-class"),
        pytest.param("rules:\n  - id: a\n    action: accept\n  - id: a\n    action: tag\n", 4,
                     "duplicate rule id 'a' (first used on line 2)", id="duplicate-rule-id"),
        pytest.param("domains:\n  internal: [good.gov.vn, 'bad domain.vn']\n" + MINIMAL, 2,
                     "invalid domain 'bad domain.vn'", id="invalid-domain"),
        pytest.param("domains:\n  freemail:\n    extra: [a@gmail.com]\n" + MINIMAL, 3,
                     "is an address, not a domain", id="address-as-domain"),
        pytest.param("limits:\n  max_depth: deep\n" + MINIMAL, 2, "must be an integer",
                     id="wrong-type"),
        pytest.param("limits:\n  max_depth: 0\n" + MINIMAL, 2, "must be at least 1",
                     id="out-of-range"),
        pytest.param("rules:\n  - id: a\n    action: reject\n    reply:\n      code: 250\n", 5,
                     "4xx or 5xx", id="reply-code"),
        pytest.param("rules:\n  - id: a\n    action: reject\n    reply:\n      code: 550\n"
                     "      enhanced: 4.7.1\n", 6, "does not match code 550", id="enhanced-code"),
        pytest.param('rules:\n  - id: a\n    action: reject\n    reply:\n'
                     '      en: "bad\\r\\n250 ok"\n', 5, "control characters",
                     id="reply-crlf-injection"),
        pytest.param('rules:\n  - id: a\n    action: tag\n    tag:\n'
                     '      subject_prefix: "x\\nBcc: a@b.c"\n', 5, "control characters",
                     id="subject-header-injection"),
        pytest.param("rules:\n  - id: Bad Id\n    action: accept\n", 2, "rule id 'Bad Id'",
                     id="rule-id-format"),
        pytest.param("rules:\n  - id: a\n", 2, "needs an 'action'", id="missing-action"),
        pytest.param("rules: []\n", 1, "at least one rule", id="no-rules"),
        pytest.param("mode: enforce\nmode: monitor\n" + MINIMAL, 2, "duplicate key 'mode'",
                     id="duplicate-key"),
        pytest.param("domains:\n  exceptions:\n    - domain: partner.vn\n" + MINIMAL, 3,
                     "needs a 'reason'", id="exception-without-reason"),
        pytest.param("domains:\n  exceptions:\n    - domain: partner.vn\n      reason: x\n"
                     "      expires: soon\n" + MINIMAL, 5, "must be a date",
                     id="exception-bad-date"),
        pytest.param("- just\n- a list\n", 1, "must be a mapping", id="not-a-mapping"),
        pytest.param("rules:\n  - id: a\n    action: accept\n    copy_to: not-an-address\n", 4,
                     "invalid address", id="bad-copy-to"),
    ],
)
def test_validation_errors_point_at_the_line(text: str, line: int, fragment: str) -> None:
    found = problems(text)
    assert any(p.line == line and fragment in p.message for p in found), \
        "\n".join(str(p) for p in found)
    assert all(str(p).startswith("p.yaml:") for p in found)


def test_all_errors_are_reported_not_just_the_first() -> None:
    found = problems("mode: nope\nrules:\n  - id: a\n    action: block\n  - id: b\n")
    assert {p.line for p in found} >= {1, 4, 5}


def test_expired_exception_is_a_warning_not_an_error() -> None:
    policy = ok("domains:\n  exceptions:\n    - address: x@gmail.com\n      reason: old\n"
                "      expires: 2025-01-01\n" + MINIMAL)
    assert [(w.line, w.severity) for w in policy.warnings] == [(5, "warning")]
    assert "expired on 2025-01-01" in str(policy.warnings[0])


def test_unreadable_file_is_a_policy_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PolicyError) as info:
        load_policy(tmp_path / "missing.yaml")
    assert "cannot read policy" in str(info.value)


def test_policy_is_immutable() -> None:
    policy = ok(MINIMAL)
    with pytest.raises(AttributeError):
        policy.mode = Mode.MONITOR  # type: ignore[misc]
    with pytest.raises(AttributeError):
        policy.rules[0].action = Action.REJECT  # type: ignore[misc]
