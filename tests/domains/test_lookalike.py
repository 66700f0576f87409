"""Static look-alike checks (no DNS): what ``--no-dns`` and the list classifier already flag."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from govmilter.domains.classify import DomainClass, classify_address
from govmilter.domains.lookalike import LookalikeSettings, find_lookalike, within_one_edit
from govmilter.mail.addresses import parse_address
from govmilter.policy import PolicyError, default_policy_path, list_classifier, parse_policy

ROOT = Path(__file__).resolve().parents[2]
MIC = LookalikeSettings(protected=("mic.gov.vn",))


def _osa_distance(a: str, b: str) -> int:
    """Reference optimal-string-alignment distance (dynamic programming)."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


@given(st.text("gov.nmic-", max_size=8), st.text("gov.nmic-", max_size=8))
def test_within_one_edit_agrees_with_the_edit_distance(a: str, b: str) -> None:
    assert within_one_edit(a, b) == (_osa_distance(a, b) <= 1)


@pytest.mark.parametrize(("domain", "how", "target"), [
    ("gov.vn.com", "embeds", "gov.vn"),
    ("hanoi.gov.vn.mail-box.net", "embeds", "gov.vn"),
    ("govvn.com", "joins", "gov.vn"),
    ("gov-vn.net", "joins", "gov.vn"),
    ("hanoi.gov.vm", "one-edit", "gov.vn"),
    ("gob.vn", "one-edit", "gov.vn"),
    ("mlc.gov.vn", "one-edit", "mic.gov.vn"),
    ("micgov.vn", "one-edit", "mic.gov.vn"),
    ("mic.gov.vn.com", "embeds", "gov.vn"),
])
def test_imitations_of_official_domains_are_found(domain: str, how: str, target: str) -> None:
    found = find_lookalike(domain, MIC)
    assert found is not None
    assert (found.how, found.target) == (how, target)
    assert found.evidence == f"lookalike:{how}:{target}"


@pytest.mark.parametrize("domain", [
    "gov.vn", "hanoi.gov.vn", "mail.mic.gov.vn", "mic.gov.vn",  # the real things
    "moit.gov.vn",  # two edits from mic.gov.vn: another ministry, not an imitation
    "gov.cn", "mofcom.gov.cn", "gov.in",  # other governments one edit from gov.vn: allowed
    "gmail.com", "vnexpress.net", "edu.vn", "com.vn", "example.org", "[192.0.2.1]",
])
def test_real_and_unrelated_domains_are_not_lookalikes(domain: str) -> None:
    assert find_lookalike(domain, MIC) is None


def test_allow_and_disable_switch_the_check_off() -> None:
    assert find_lookalike("moh.gov.vn", LookalikeSettings(protected=("mof.gov.vn",))) is not None
    sister = LookalikeSettings(protected=("mof.gov.vn",), allow=frozenset({"moh.gov.vn"}))
    assert find_lookalike("moh.gov.vn", sister) is None
    assert find_lookalike("gov.vn.com", LookalikeSettings(enabled=False)) is None


def _policy(extra_domains: str = "") -> str:
    return f"""
version: 1
domains:
  internal: [mic.gov.vn]
  freemail: {{builtin: false, extra: [gmail.com]}}
{extra_domains}
rules:
  - id: document-to-lookalike
    when: {{sender: official, recipient: lookalike, document: official}}
    action: quarantine
  - id: default-accept
    action: accept
"""


def test_list_classifier_flags_lookalikes_without_dns() -> None:
    classify = list_classifier(parse_policy(_policy()))
    assert classify("a@gov.vn.com").domain_class is DomainClass.LOOKALIKE
    mlc = classify("a@mlc.gov.vn")
    assert mlc.domain_class is DomainClass.LOOKALIKE
    assert "mic.gov.vn" in mlc.reason and mlc.evidence == ("lookalike:one-edit:mic.gov.vn",)
    assert classify("a@mic.gov.vn").domain_class is DomainClass.OFFICIAL
    assert classify("a@hanoi.gov.vn").domain_class is DomainClass.OFFICIAL
    assert classify("a@gmail.com").domain_class is DomainClass.FREEMAIL
    assert classify("a@gov.cn").domain_class is DomainClass.EXTERNAL


def test_list_classifier_answers_alike_past_its_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """It remembers each address it classified, and starts afresh when its memory is full."""
    monkeypatch.setattr(importlib.import_module("govmilter.domains.classify"),
                        "LIST_CLASSIFIER_MEMORY", 2)
    policy = parse_policy(_policy())
    classify = list_classifier(policy)
    addresses = ["a@mlc.gov.vn", "a@mic.gov.vn", "a@gmail.com", "a@gov.cn", "<>"] * 2
    assert [classify(a) for a in addresses] == \
        [classify_address(parse_address(a), policy.domains) for a in addresses]


def test_lookalike_settings_come_from_the_policy() -> None:
    policy = parse_policy(_policy("""  official: {suffixes: [gov.vn], agencies: [quochoi.vn]}
  lookalike:
    protect: [mof.gov.vn]
    allow: [moh.gov.vn]"""))
    settings = policy.domains.lookalike
    assert settings.suffixes == ("gov.vn",)
    assert set(settings.protected) == {"quochoi.vn", "mic.gov.vn", "mof.gov.vn"}
    classify = list_classifier(policy)
    assert classify("a@quochoi.vn.com").domain_class is DomainClass.LOOKALIKE
    assert classify("a@moh.gov.vn").domain_class is DomainClass.OFFICIAL  # allowed
    assert classify("a@mog.gov.vn").domain_class is DomainClass.LOOKALIKE
    assert classify("a@gov.cn").domain_class is DomainClass.LOOKALIKE  # allow replaced


def test_lookalike_section_errors_name_the_line() -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(_policy("  lookalike:\n    enabeld: true\n    allow: [not a domain]"),
                     "p.yaml")
    text = str(info.value)
    assert "p.yaml:7: unknown key 'enabeld' in domains.lookalike" in text
    assert "did you mean 'enabled'?" in text
    assert "p.yaml:8: domains.lookalike.allow: invalid domain 'not a domain'" in text


def test_check_without_dns_quarantines_a_document_to_gov_vn_com() -> None:
    """`govmilter check --no-dns` with the default policy: the static check alone holds it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "govmilter", "check", "--json", "--no-dns",
         "--policy", str(default_policy_path()), "--sender", "vanthu@mic.gov.vn",
         "--rcpt", "vanthu@gov.vn.com", "--rcpt", "ban@gmail.com",
         str(ROOT / "tests" / "data" / "cong-van-secret.eml")],
        capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    lookalike, gmail = result["recipients"]
    assert (lookalike["class"], lookalike["action"], lookalike["rule"]) == (
        "lookalike", "quarantine", "document-to-lookalike")
    assert lookalike["evidence"] == ["lookalike:embeds:gov.vn"]
    assert (gmail["class"], gmail["action"], gmail["evidence"]) == ("freemail", "reject", [])
    assert result["message_action"] == "quarantine"
