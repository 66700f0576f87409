"""Policy loading and validation: every error is reported as file:line."""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from samples import INVALID_DOMAINS

from govmilter.domains.classify import DomainClass
from govmilter.policy import (
    Action,
    DocumentClass,
    Mode,
    PolicyError,
    PolicyProblem,
    default_policy_path,
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
        "auto-forward-to-non-state", "document-to-freemail", "unscannable-to-freemail",
        "document-from-freemail", "document-from-lookalike", "default-accept",
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


RULE_A = "rules:\n  - id: a\n    action: accept\n"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        pytest.param(RULE_A + "    when: 3\n", 4, "rule 'a'.when must be a mapping, not a number",
                     id="when-number"),
        pytest.param(RULE_A + "    when: [x]\n", 4, "rule 'a'.when must be a mapping, not a list",
                     id="when-list"),
        pytest.param("domains: {freemail: 3}\n" + MINIMAL, 1,
                     "domains.freemail must be a mapping, not a number", id="freemail-number"),
        pytest.param("domains:\n  lookalike: 3\n" + MINIMAL, 2,
                     "domains.lookalike must be a mapping, not a number", id="lookalike-number"),
        pytest.param("domains:\n  official: [gov.vn]\n" + MINIMAL, 2,
                     "domains.official must be a mapping, not a list", id="official-list"),
        pytest.param("? [a]\n: b\n" + MINIMAL, 1, "key ['a'] must be text, not a list",
                     id="complex-key-list"),
        pytest.param(RULE_A + "    when:\n      ? {sender: x}\n      : y\n", 5,
                     "key {'sender': 'x'} must be text, not a mapping", id="complex-key-mapping"),
        pytest.param("rules: {}\n", 1, "rules must be a list, not a mapping", id="rules-mapping"),
        pytest.param("rules:\n  - accept\n", 2, "rules[0] must be a mapping, not text",
                     id="rule-text"),
        pytest.param("rules:\n  -\n" + RULE_A.removeprefix("rules:\n"), 2,
                     "rules[0] must be a mapping, not nothing", id="rule-empty"),
        pytest.param("rules: !!omap [{a: 1}]\n", 1,
                     "rules must be a list, not a tagged list (!!omap or !!pairs)",
                     id="rules-omap"),
        pytest.param(RULE_A + "    when: !!set {a}\n", 4,
                     "rule 'a'.when must be a mapping, not a set (!!set)", id="when-set"),
        pytest.param("domains:\n  exceptions: [partner.vn]\n" + MINIMAL, 2,
                     "domains.exceptions[0] must be a mapping, not text", id="exception-text"),
        pytest.param("dns:\n  nameservers: {a: 1}\n" + MINIMAL, 2,
                     "dns.nameservers must be a list, not a mapping", id="nameservers-mapping"),
        pytest.param("- just\n- a list\n", 1, "the policy must be a mapping, not a list",
                     id="top-level-list"),
        pytest.param("3\n", 1, "the policy must be a mapping, not a number", id="top-level-number"),
    ],
)
def test_wrong_typed_sections_are_file_line_errors(text: str, line: int, message: str) -> None:
    assert f"p.yaml:{line}: {message}" in [str(p) for p in problems(text)]


def _containers(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every mapping and list inside the parsed YAML, with its path of keys and indexes."""
    items = data.items() if isinstance(data, dict) else enumerate(data)
    for key, value in items:
        if isinstance(value, (dict, list)):
            yield (*path, key), value
            yield from _containers(value, (*path, key))


def _replaced(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = dict(data) if isinstance(data, dict) else list(data)
    copy[path[0]] = _replaced(data[path[0]], path[1:], value)
    return copy


def _every_section_with_a_wrong_type() -> Iterator[Any]:
    """The default policy (plus an exception) with one mapping or list replaced by a wrong type,
    and the message expected (None where a scalar stands for a one-item list)."""
    data = yaml.safe_load(default_policy_path().read_text(encoding="utf-8"))
    data["domains"]["exceptions"] = [{"domain": "partner.vn", "reason": "x",
                                      "expires": dt.date(2030, 1, 1)}]
    for path, value in _containers(data):
        if isinstance(value, dict):
            wrong: list[tuple[Any, str | None]] = [
                (3, "must be a mapping, not a number"), ("x", "must be a mapping, not text"),
                (True, "must be a mapping, not true/false"),
                (["x"], "must be a mapping, not a list")]
        else:
            wrong = [(3, None), ("x", None), (True, "must be a list, not true/false"),
                     ({"x": 1}, "must be a list, not a mapping")]
        for replacement, message in wrong:
            yield pytest.param(yaml.safe_dump(_replaced(data, path, replacement)), message,
                               id=".".join(map(str, path)) + f"={replacement!r}")


@pytest.mark.parametrize(("text", "message"), _every_section_with_a_wrong_type())
def test_any_mapping_or_list_of_the_default_policy_given_a_wrong_type_is_a_file_line_error(
        text: str, message: str | None) -> None:
    """No shape of a section leads to anything but file:line problems (never an exception)."""
    try:
        parse_policy(text, "p.yaml", today=TODAY, freemail_source=lambda: frozenset())
    except PolicyError as exc:
        assert all(p.path == "p.yaml" and p.line >= 1 for p in exc.problems)
        found = [p.message for p in exc.problems]
    else:
        found = []
    assert message is None or any(message in m for m in found), found


@pytest.mark.parametrize(
    ("domain", "why"),
    [
        *INVALID_DOMAINS,
        pytest.param("*.-x.vn", "label '-x' in domain '-x.vn' starts or ends with '-'",
                     id="wildcard-hyphen"),
    ],
)
def test_invalid_domains_in_a_policy_are_refused_with_the_reason(domain: str, why: str) -> None:
    found = problems(f"domains:\n  freemail:\n    extra:\n      - ok.vn\n      - '{domain}'\n"
                     + MINIMAL)
    assert [str(p) for p in found] == [
        f"p.yaml:5: domains.freemail.extra: invalid domain {domain!r}: {why}"]


def test_numeric_and_hyphenated_labels_inside_a_domain_are_still_domains() -> None:
    policy = ok("domains:\n  internal: [a-b.gov.vn, 163.com, xn--bt-e0a2790a.gov.vn]\n"
                + MINIMAL)
    assert "mail.163.com" in policy.domains.internal
    assert "bộtư.gov.vn".encode("idna").decode() in policy.domains.internal


def test_all_errors_are_reported_not_just_the_first() -> None:
    found = problems("mode: nope\nrules:\n  - id: a\n    action: block\n  - id: b\n")
    assert {p.line for p in found} >= {1, 4, 5}


def test_expired_exception_is_a_warning_not_an_error() -> None:
    policy = ok("domains:\n  exceptions:\n    - address: x@gmail.com\n      reason: old\n"
                "      expires: 2025-01-01\n" + MINIMAL)
    assert [(w.line, w.severity) for w in policy.warnings] == [(5, "warning")]
    assert "expired on 2025-01-01" in str(policy.warnings[0])


@pytest.mark.parametrize("official", ["  official:\n", "  official:\n    suffixes: []\n"])
def test_an_official_list_left_empty_is_a_warning(official: str) -> None:
    policy = ok("domains:\n" + official + MINIMAL)
    assert [(w.line, w.severity) for w in policy.warnings] == [(2, "warning")]
    assert "no address is official" in str(policy.warnings[0])
    assert "mail.mic.gov.vn" not in policy.domains.official


def test_without_an_official_key_gov_vn_is_official_and_nothing_is_said() -> None:
    policy = ok("domains:\n  internal: [mic.gov.vn]\n" + MINIMAL)
    assert policy.warnings == () and "mail.hanoi.gov.vn" in policy.domains.official


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


def test_the_agency_section_for_the_report(tmp_path: Path) -> None:
    from govmilter.policy.model import DEFAULT_REPORT_TO

    assert load_policy(None).agency.report_to == DEFAULT_REPORT_TO
    path = tmp_path / "p.yaml"
    rules = "rules:\n  - id: all\n    action: accept\n"
    path.write_text("agency:\n  name: Sở Tài chính\n  symbol: STC\n"
                    "  report_to: [Bộ Khoa học và Công nghệ, '  ']\n" + rules, encoding="utf-8")
    agency = load_policy(path).agency
    assert (agency.name, agency.symbol, agency.parent) == ("Sở Tài chính", "STC", None)
    assert agency.report_to == ("Bộ Khoa học và Công nghệ",)
    path.write_text("agency:\n  report_to: 3\n  nme: x\n" + rules, encoding="utf-8")
    with pytest.raises(PolicyError) as failed:
        load_policy(path)
    text = str(failed.value)
    assert "agency.report_to must be text or a list of texts, not a number" in text
    assert "nme" in text


def test_the_default_rules_are_described_in_vietnamese_first() -> None:
    vietnamese = set("ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹáàãéèíìóòõúùý")
    for rule in load_policy(None).rules:
        vietnamese_part, _, english = rule.description.partition(" (")
        assert vietnamese_set_in(vietnamese_part, vietnamese), rule.id
        assert english.endswith(")"), rule.id  # the English beside it


def vietnamese_set_in(text: str, letters: set[str]) -> bool:
    """True when ``text`` has a letter only Vietnamese writes (a description in Vietnamese)."""
    return bool(set(text.lower()) & letters)
