"""Rules that can never match, and the warnings ``govmilter validate`` prints about them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from govmilter.cli import main
from govmilter.policy import default_policy_path, load_policy, parse_policy
from govmilter.policy.analysis import (
    find_shadowed_rules,
    rcpt_refusal_warnings,
    shadowed_rule_warnings,
)


def _policy_text(*rules: str) -> str:
    return "version: 1\nrules:\n" + "".join(f"  - {rule}\n" for rule in rules)


def _shadowed(*rules: str) -> dict[str, list[str]]:
    """Dead rule id -> the ids of the earlier rules that hide it."""
    policy = parse_policy(_policy_text(*rules), "p.yaml")
    return {s.rule.id: [r.id for r in s.by] for s in find_shadowed_rules(policy)}


def test_the_default_policy_has_no_dead_rule() -> None:
    assert shadowed_rule_warnings(load_policy()) == ()


@pytest.mark.parametrize(("rules", "expected"), [
    pytest.param(("{id: docs, when: {sender: official, recipient: freemail, document: official},"
                  " action: tag}",
                  "{id: secrets, when: {sender: official, recipient: freemail, document: secret},"
                  " action: reject}"),
                 {"secrets": ["docs"]}, id="official-covers-secret"),
    pytest.param(("{id: secrets, when: {recipient: freemail, document: secret}, action: reject}",
                  "{id: docs, when: {recipient: freemail, document: official}, action: tag}"),
                 {}, id="narrower-first-is-fine"),
    pytest.param(("{id: all-freemail, when: {recipient: freemail}, action: tag}",
                  "{id: docs, when: {sender: official, recipient: freemail, document: official},"
                  " action: reject}"),
                 {"docs": ["all-freemail"]}, id="document-any-covers-all"),
    pytest.param(("{id: catch-all, action: accept}",
                  "{id: late, when: {recipient: freemail}, action: reject}"),
                 {"late": ["catch-all"]}, id="after-a-catch-all"),
    pytest.param(("{id: from-gov, when: {sender: official}, action: accept}",
                  "{id: from-others, when: {sender: [freemail, external, hosted, lookalike,"
                  " unknown]}, action: accept}",
                  "{id: docs, when: {document: official}, action: reject}"),
                 {"docs": ["from-gov", "from-others"]}, id="two-rules-together"),
    pytest.param(("{id: authed, when: {authenticated: true}, action: accept}",
                  "{id: docs, when: {document: official}, action: tag}"),
                 {}, id="authenticated-narrows"),
    pytest.param(("{id: docs, when: {document: official}, action: tag}",
                  "{id: authed-docs, when: {authenticated: true, document: secret},"
                  " action: reject}"),
                 {"authed-docs": ["docs"]}, id="none-covers-authenticated"),
    pytest.param(("{id: submission, when: {service: [submission]}, action: accept}",
                  "{id: mx, when: {service: [smtpd]}, action: tag}"),
                 {}, id="other-service"),
    pytest.param(("{id: unscannable, when: {document: unscannable}, action: tag}",
                  "{id: none, when: {document: none}, action: accept}",
                  "{id: docs, when: {document: official}, action: tag}",
                  "{id: rest, action: accept}"),
                 {"rest": ["unscannable", "none", "docs"]}, id="every-document-class"),
    pytest.param(("{id: nobody, when: {sender: []}, action: reject}",),
                 {"nobody": []}, id="empty-class-list"),
])
def test_shadowed_rules(rules: tuple[str, ...], expected: dict[str, list[str]]) -> None:
    assert _shadowed(*rules) == expected


def test_warning_points_at_the_shadowed_rule_and_names_the_earlier_one() -> None:
    text = _policy_text(
        "id: docs\n    when: {sender: official, recipient: freemail, document: official}\n"
        "    action: tag",
        "id: secrets\n    when: {sender: official, recipient: freemail, document: secret}\n"
        "    action: reject")
    warnings = shadowed_rule_warnings(parse_policy(text, "edited.yaml"))
    assert [str(w) for w in warnings] == [
        "edited.yaml:6: warning: rule 'secrets' can never match: it is shadowed by the earlier "
        "rule 'docs' (line 3), which matches every message it would"]
    assert text.splitlines()[5] == "  - id: secrets"


def test_validate_prints_shadowed_rules_and_expired_exceptions(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = default_policy_path().read_text(encoding="utf-8")
    # A team moves the document rule above the secret one, and leaves an expired exception.
    secret_at = text.index("  - id: secret-to-freemail")
    document_at = text.index("  - id: document-to-freemail")
    unscannable_at = text.index("  - id: unscannable-to-freemail")
    reordered = (text[:secret_at] + text[document_at:unscannable_at] + text[secret_at:document_at]
                 + text[unscannable_at:])
    expired = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    assert reordered.count("  exceptions: []\n") == 1
    reordered = reordered.replace(
        "  exceptions: []\n",
        "  exceptions:\n    - address: assistant@gmail.com\n      treat_as: official\n"
        f"      expires: {expired}\n      reason: temporary\n")
    path = tmp_path / "edited.yaml"
    path.write_text(reordered, encoding="utf-8")
    secret_line = reordered.splitlines().index("  - id: secret-to-freemail") + 1
    document_line = reordered.splitlines().index("  - id: document-to-freemail") + 1

    assert main(["validate", str(path)]) == 0
    captured = capsys.readouterr()
    assert (f"{path}:{secret_line}: warning: rule 'secret-to-freemail' can never match: it is "
            f"shadowed by the earlier rule 'document-to-freemail' (line {document_line})"
            ) in captured.err
    assert f"expired on {expired} and is ignored" in captured.err
    assert "  warnings:   2 (above)" in captured.out


def test_validate_warns_at_a_reject_rule_postfix_cannot_apply_to_sendmail_mail(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A content-free enforced reject refuses at RCPT, which Postfix cannot do for mail it did
    not receive by SMTP (non_smtpd_milters): ``validate`` says so at the rule's line. A rule
    limited to named services, one in monitor mode, one with a document condition and a tag
    are left alone."""
    text = _policy_text(
        "{id: no-freemail, when: {recipient: freemail}, action: reject}",
        "{id: mx-only, when: {recipient: external, service: [mx]}, action: reject}",
        "{id: trial, when: {recipient: hosted}, action: reject, mode: monitor}",
        "{id: documents, when: {recipient: lookalike, document: official}, action: reject}",
        "{id: tagged, when: {recipient: unknown}, action: tag}",
        "{id: rest, action: accept}")
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    warnings = rcpt_refusal_warnings(load_policy(path))
    assert [(w.line, w.severity) for w in warnings] == [(3, "warning")]
    assert "rule 'no-freemail' rejects at RCPT" in warnings[0].message
    assert main(["validate", str(path)]) == 0
    captured = capsys.readouterr()
    assert f"{path}:3: warning: rule 'no-freemail' rejects at RCPT" in captured.err
    assert "non_smtpd_milters" in captured.err and "  warnings:   1 (above)" in captured.out
    assert rcpt_refusal_warnings(load_policy()) == ()  # the default policy: none
