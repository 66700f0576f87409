"""The political system's domains outside .gov.vn: the optional built-in list and its switch."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from govmilter.domains.classify import DomainClass, classify_domain
from govmilter.domains.political import POLITICAL_SYSTEM_DOMAINS, political_body
from govmilter.policy import PolicyError, default_policy_path, load_policy, parse_policy

ROOT = Path(__file__).resolve().parents[2]
LISTED = [entry.domain for entry in POLITICAL_SYSTEM_DOMAINS]


def policy_text(political: str | None) -> str:
    switch = "" if political is None else f", political_system: {political}"
    return f"""\
domains:
  official: {{suffixes: [gov.vn]{switch}}}
  freemail: {{builtin: false, extra: [gmail.com]}}
rules:
  - id: all
    action: accept
"""


ON = parse_policy(policy_text("true"), "on.yaml").domains


def test_the_default_policy_leaves_the_list_off() -> None:
    domains = load_policy().domains
    assert "political_system: false" in default_policy_path().read_text()
    for domain in LISTED:
        assert classify_domain(domain, domains).domain_class is DomainClass.EXTERNAL
    assert classify_domain("quochoi.vn", parse_policy(policy_text(None), "p.yaml").domains
                           ).domain_class is DomainClass.EXTERNAL


@pytest.mark.parametrize("domain", LISTED)
def test_switched_on_each_domain_and_its_sub_domains_are_official_naming_the_body(
        domain: str) -> None:
    for name in (domain, f"vanphong.{domain}"):
        found = classify_domain(name, ON)
        assert found.domain_class is DomainClass.OFFICIAL
        assert found.reason == (f"political-system list {domain} "
                                f"({political_body(domain).body_en})")
        assert found.evidence == (f"political-system:{domain}",)
        assert not found.internal


def test_switched_on_the_listed_domains_are_protected_from_look_alikes() -> None:
    assert classify_domain("quochoj.vn", ON).domain_class is DomainClass.LOOKALIKE
    assert classify_domain("quochoj.vn", load_policy().domains).domain_class is \
        DomainClass.EXTERNAL
    # a name that merely contains a listed one is no part of it
    assert classify_domain("fakequochoi.vn", ON).domain_class is not DomainClass.OFFICIAL
    assert classify_domain("quochoi.vn.example.com", ON).domain_class is not DomainClass.OFFICIAL


def test_the_switch_takes_a_boolean_only() -> None:
    with pytest.raises(PolicyError) as failure:
        parse_policy(policy_text("sometimes"), "bad.yaml")
    assert "bad.yaml:2:" in str(failure.value)
    assert "domains.official.political_system" in str(failure.value)


def test_each_entry_names_its_body_and_its_sources() -> None:
    docs = (ROOT / "docs" / "policy.md").read_text()
    assert len(set(LISTED)) == len(LISTED)
    for entry in POLITICAL_SYSTEM_DOMAINS:
        assert entry.body_vi and entry.body_en and entry.checked
        # the first source is the body's own site, in the listed domain
        assert urlsplit(entry.sources[0]).hostname == entry.domain
        assert all(s.startswith("https://") for s in entry.sources)
        # docs/policy.md lists every entry with every source
        assert f"`{entry.domain}`" in docs
        assert all(source in docs for source in entry.sources), entry.domain
    with pytest.raises(KeyError):
        political_body("gov.vn")


def test_check_without_dns_shows_the_list(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(re.sub(r"political_system: false", "political_system: true",
                             default_policy_path().read_text()))
    message = tmp_path / "m.eml"
    message.write_bytes(b"From: a@quochoi.vn\nTo: b@mic.gov.vn\nSubject: x\n\nhi\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "govmilter", "check", "--no-dns", "--policy",
                           str(policy), "--sender", "vanthu@quochoi.vn", "--rcpt",
                           "toasoan@dangcongsan.vn", str(message)], capture_output=True,
                          text=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert ("sender:   vanthu@quochoi.vn [official: political-system list quochoi.vn "
            "(National Assembly and its Office); evidence political-system:quochoi.vn]"
            in done.stdout)
    assert "toasoan@dangcongsan.vn [official: political-system list dangcongsan.vn" in done.stdout
    assert "by rule official-to-official, compliant" in done.stdout
    validated = subprocess.run([sys.executable, "-m", "govmilter", "validate", str(policy)],
                               capture_output=True, text=True, env=env, timeout=120,
                               check=False)
    assert f", {len(LISTED)} political-system" in validated.stdout
