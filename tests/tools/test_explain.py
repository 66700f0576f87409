"""govmilter explain: the rule walk per recipient, and the evidence behind the document class."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mailgen import generate

from govmilter.cli import main
from govmilter.policy import decide, load_policy, parse_policy
from govmilter.scan import scan_message
from govmilter.tools.envelope import saved_envelope
from govmilter.tools.explain import RuleStatus, explain

DATA = Path(__file__).resolve().parents[1] / "data"
SECRET = str(DATA / "cong-van-secret.eml")


def _block(text: str, header: str) -> list[str]:
    """The lines of one recipient's section, from its header to the next blank line."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    end = lines.index("", start)
    return lines[start:end]


def _walk(text: str, recipient: str) -> dict[str, str]:
    """Rule id -> "status  reason" from one recipient's rule walk."""
    steps = {}
    for line in _block(text, f"recipient {recipient} ")[1:]:
        number, _, rest = line.strip().partition(" ")
        if number.endswith(".") and number[:-1].isdigit():
            rule, _, why = rest.partition(" ")
            steps[rule] = " ".join(why.split())
    return steps


def test_explain_walks_the_rules_for_each_recipient(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "--no-dns", SECRET]) == 0
    out = capsys.readouterr().out
    gmail = _walk(out, "nguyenvana@gmail.com")
    assert gmail["official-to-official"] == (
        "no match recipient class is freemail, rule wants official")
    assert gmail["secret-to-freemail"] == (
        "MATCH sender class is official, rule wants official; recipient class is freemail, "
        "rule wants freemail; document is secret, rule wants secret")
    assert gmail["document-to-freemail"] == "not reached would also match"
    assert gmail["default-accept"] == "not reached would also match"
    rules = list(gmail)
    assert all(gmail[r].startswith("no match") for r in rules[:rules.index("secret-to-freemail")])
    assert "  => REJECT by rule secret-to-freemail, NON-COMPLIANT" in _block(
        out, "recipient nguyenvana@gmail.com")
    official = _walk(out, "cntt@hanoi.gov.vn")
    assert official["official-to-official"].startswith("MATCH")
    assert "  => ACCEPT by rule official-to-official, compliant" in _block(
        out, "recipient cntt@hanoi.gov.vn")
    # Why the document is official, then why it is secret.
    assert "  official: the score 18.0 reaches the threshold 5.0; cues found:" in out
    assert "    body: number/symbol 588/BTTTT-THH" in out
    assert "  secret: marked MẬT (body: secrecy marking MẬT)" in out


def test_explain_json_is_check_json_plus_the_walk(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--json", "--no-dns", SECRET]) == 0
    checked = json.loads(capsys.readouterr().out)
    assert main(["explain", "--json", "--no-dns", SECRET]) == 0
    explained = json.loads(capsys.readouterr().out)
    walks = [r.pop("rules") for r in explained["recipients"]]
    assert explained.pop("secrecy_evidence") == ["body: secrecy marking MẬT"]
    assert explained == checked
    gmail = {w["rule"]: w for w in walks[0]}
    assert [(w["rule"], w["status"]) for w in walks[0]] == [
        (r.id, "match" if r.id == "secret-to-freemail" else
         "no match" if r.line < gmail["secret-to-freemail"]["line"] else "not reached")
        for r in load_policy().rules]
    assert gmail["official-to-official"]["conditions"] == [
        {"condition": "sender", "matched": True,
         "reason": "sender class is official, rule wants official"},
        {"condition": "recipient", "matched": False,
         "reason": "recipient class is freemail, rule wants official"}]
    assert gmail["document-to-freemail"]["would_match"] is True
    assert gmail["secret-to-freemail"]["line"] == load_policy().rule("secret-to-freemail").line


def test_explain_says_why_plain_mail_is_not_a_document(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    message = tmp_path / "plain.eml"
    message.write_bytes("From: vanthu@mic.gov.vn\nTo: bạn <ban@gmail.com>\nSubject: Họp\n\n"
                        "Kính gửi: anh Minh\nChiều nay họp lúc 3 giờ.\n".encode())
    assert main(["explain", "--no-dns", str(message)]) == 0
    out = capsys.readouterr().out
    assert "document: NONE" in out
    assert "  not official: the score 1.0 is below the threshold 5.0; cues found:" in out
    assert "    body: salutation 'Kính gửi:'" in out
    assert _walk(out, "ban@gmail.com")["secret-to-freemail"] == (
        "no match document is none, rule wants secret")
    assert _block(out, "recipient ban@gmail.com")[-1] == (
        "  => ACCEPT by rule default-accept, compliant")


def test_explain_names_authentication_and_service_conditions(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "auth.yaml"
    policy.write_text("version: 1\nrules:\n"
                      "  - id: submission-only\n"
                      "    when: {authenticated: true, service: [submission]}\n"
                      "    action: accept\n"
                      "  - id: refuse-rest\n"
                      "    when: {recipient: freemail}\n"
                      "    action: reject\n", encoding="utf-8")
    assert main(["explain", "--no-dns", "--policy", str(policy), "--auth", "minh", "--service",
                 "smtpd", SECRET]) == 0
    walk = _walk(capsys.readouterr().out, "nguyenvana@gmail.com")
    assert walk == {"submission-only": "no match service is smtpd, rule wants submission",
                    "refuse-rest": "MATCH recipient class is freemail, rule wants freemail"}


def test_explain_agrees_with_decide_on_generated_mail() -> None:
    policies = [load_policy(), parse_policy(
        "version: 1\nrules:\n"
        "  - {id: quarantine-secrets, when: {document: secret}, action: quarantine}\n"
        "  - {id: tag-outbound, when: {sender: official, recipient: [freemail, external]},"
        " action: tag}\n")]
    for policy in policies:
        for message in generate(120, seed=7):
            facts = scan_message(message.raw, policy)
            envelope, facts = saved_envelope(message.raw, facts, policy)
            verdict = decide(envelope, facts, policy)
            explanation = explain(envelope, facts, policy)
            assert explanation.verdict == verdict
            for walked in explanation.recipients:
                matches = [s.rule.id for s in walked.steps if s.status is RuleStatus.MATCH]
                assert matches == ([walked.verdict.rule_id]
                                   if walked.verdict.rule_id != "implicit-accept" else [])


def test_explain_unreadable_message_is_a_clear_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", str(tmp_path / "missing.eml")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("govmilter explain: cannot read ")
    assert "Traceback" not in err



def test_explain_takes_the_envelope_as_replay_does(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stored = generate(3)[1]  # delivered with Return-Path and X-Original-To, decoy From and To
    message = tmp_path / "stored.eml"
    message.write_bytes(stored.raw)
    assert main(["explain", "--json", "--no-dns", str(message)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["sender"]["address"] == stored.sender
    assert [r["address"] for r in data["recipients"]] == list(stored.recipients)
    assert main(["explain", "--json", "--no-dns", "--rcpt", "other@gmail.com", str(message)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["address"] for r in data["recipients"]] == ["other@gmail.com"]


def test_check_explain_and_replay_read_one_envelope_from_a_saved_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A secret letter delivered to cntt@hanoi.gov.vn, whose To header also names a gmail.com
    address: by the trace headers it went official to official, by From/To it would be refused.
    The three commands read the trace headers, and give one verdict."""
    raw = (b"Return-Path: <vanthu@mic.gov.vn>\nX-Original-To: cntt@hanoi.gov.vn\n"
           + (DATA / "cong-van-secret.eml").read_bytes())
    message = tmp_path / "delivered.eml"
    message.write_bytes(raw)
    walked = {}
    for command in ("check", "explain"):
        assert main([command, "--json", "--no-dns", str(message)]) == 0
        data = json.loads(capsys.readouterr().out)
        walked[command] = (data["sender"]["address"],
                           [(r["address"], r["rule"], r["action"]) for r in data["recipients"]])
    assert walked["check"] == walked["explain"] == (
        "vanthu@mic.gov.vn", [("cntt@hanoi.gov.vn", "official-to-official", "accept")])
    assert main(["replay", "--json", str(message)]) == 0
    replayed = json.loads(capsys.readouterr().out)
    assert {rule for rule, count in replayed["rules"].items() if count} == {"official-to-official"}
    # what the user gives wins, half by half
    assert main(["check", "--json", "--no-dns", "--rcpt", "nguyenvana@gmail.com",
                 str(message)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["sender"]["address"] == "vanthu@mic.gov.vn"
    assert [(r["address"], r["action"]) for r in data["recipients"]] == [
        ("nguyenvana@gmail.com", "reject")]
