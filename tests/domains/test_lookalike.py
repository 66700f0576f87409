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

from govmilter.domains import confusables
from govmilter.domains.classify import DomainClass, builtin_freemail_domains, classify_address
from govmilter.domains.lookalike import (
    LookalikeSettings,
    find_lookalike,
    name_forms,
    within_one_edit,
)
from govmilter.mail.addresses import parse_address
from govmilter.mail.names import display_domain, normalize_domain
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
    ("micgov.vn", "embeds", "gov.vn"),  # glued to the suffix (and one edit from mic.gov.vn)
    ("mlcgov.vn", "embeds", "gov.vn"),
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


#: Registrable names measured as "external" before the checks read other scripts, diacritics
#: and hyphens (issue 16), with the evidence each must carry now.
OTHER_FORMS = [
    ("góv.vn", "lookalike:reads-as:gov.vn:diacritics"),
    ("xn--gv-5ja.vn", "lookalike:reads-as:gov.vn:diacritics"),  # góv.vn as an A-label
    ("gоv.vn", "lookalike:reads-as:gov.vn:skeleton"),  # Cyrillic о
    ("gоv.vn.com", "lookalike:embeds:gov.vn:skeleton"),
    ("ɡov.vn", "lookalike:reads-as:gov.vn:skeleton"),  # Latin small letter script g
    ("mic-gov.vn", "lookalike:reads-as:gov.vn:hyphens"),
    ("bacninh-gov.vn", "lookalike:reads-as:gov.vn:hyphens"),
    ("bacninh.gov.vn-mail.com", "lookalike:embeds:gov.vn:hyphens"),
    ("hanoi.gov.com.vn", "lookalike:inserts:gov.vn"),
]

#: One more edit of the names above, each of which must still be caught.
ONE_EDIT_FURTHER = [
    ("bacninhgov.vn", "lookalike:embeds:gov.vn"),  # hyphen dropped: glued to the suffix
    ("hanoigov.vn.com", "lookalike:embeds:gov.vn"),
    ("bacninh.gov.vnmail.com", "lookalike:embeds:gov.vn"),  # hyphen dropped on the right
    ("bắcninh-gоv.vn", "lookalike:reads-as:gov.vn:skeleton+hyphens"),  # Cyrillic and hyphen
    ("hanoi.góv.vn", "lookalike:reads-as:gov.vn:diacritics"),  # below the imitated suffix
    ("gоb.vn", "lookalike:one-edit:gov.vn:skeleton"),  # confusable letter and one edit
    ("gоv-vn.com", "lookalike:joins:gov.vn:skeleton"),
    ("gov.edu.vn", "lookalike:inserts:gov.vn"),
    ("ｇｏｖ.vn.com", "lookalike:embeds:gov.vn"),  # full-width letters: UTS #46 maps them
    ("gov。vn。com", "lookalike:embeds:gov.vn"),  # ideographic full stops are dots
    ("gοv.vn", "lookalike:reads-as:gov.vn:skeleton"),  # Greek omicron
    ("gov.νn.com", "lookalike:embeds:gov.vn:skeleton"),  # Greek nu
]


@pytest.mark.parametrize(("written", "evidence"), OTHER_FORMS + ONE_EDIT_FURTHER)
def test_lookalikes_in_other_forms_say_which_form_matched(written: str, evidence: str) -> None:
    found = find_lookalike(normalize_domain(written), MIC)
    assert found is not None, written
    assert found.evidence == evidence
    assert found.target in found.reason


def test_agency_lookalikes_in_other_forms() -> None:
    """A protected agency is imitated in the same forms; its target is named as written."""
    for written, evidence in [("mịc.gov.vn", "lookalike:reads-as:mic.gov.vn:diacritics"),
                              ("rnic.gov.vn", "lookalike:reads-as:mic.gov.vn:skeleton"),
                              ("mіc.gov.vn", "lookalike:reads-as:mic.gov.vn:skeleton")]:
        found = find_lookalike(normalize_domain(written), MIC)
        assert found is not None and found.evidence == evidence, written


@pytest.mark.parametrize("written", [
    "bộ.gov.vn", "xn--b-8xm.gov.vn", "bộtư.gov.vn", "sở-tư-pháp.hanoi.gov.vn",  # real IDN names
    "mail.mic.gov.vn", "so-tttt.hanoi.gov.vn", "x.mic.gov.vn",
    # names under gov.vn that adding or gluing labels would flag: real agencies' names
    "academic.gov.vn", "tw.dang.gov.vn",
])
def test_genuine_gov_vn_names_stay_clean(written: str) -> None:
    assert find_lookalike(normalize_domain(written), MIC) is None


#: Ordinary domains a Vietnamese agency writes to, ASCII and IDN: none imitates gov.vn.
ORDINARY = [
    "gmail.com", "yahoo.com.vn", "outlook.com", "vnexpress.net", "tuoitre.vn", "fpt.com.vn",
    "vietcombank.com.vn", "viettel.com.vn", "vnpt.vn", "hust.edu.vn", "thegioididong.com",
    "govtech.com", "gov.uk", "service.gov.uk", "gouv.fr", "usa.gov", "govap.vn", "govap.com.vn",
    "gov.cn", "mofcom.gov.cn", "công-ty-điện-lực.vn", "côngty.com.vn", "hànộitour.com",
    "mobifone.vn", "bkav.com", "vn-gov-news.com", "government.vn", "governor.com.vn",
    "my-gov-portal.com", "[192.0.2.1]",
]


@pytest.mark.parametrize("written", ORDINARY)
def test_ordinary_domains_are_not_lookalikes(written: str) -> None:
    found = find_lookalike(normalize_domain(written), MIC)
    assert found is None, found and found.reason


def test_no_freemail_domain_is_a_lookalike() -> None:
    """Precision on ~4,800 real, unrelated domains: the builtin free-webmail list."""
    settings = LookalikeSettings()
    flagged = [d for d in builtin_freemail_domains()
               if find_lookalike(normalize_domain(d), settings) is not None]
    assert flagged == []


def test_skeleton_and_diacritics() -> None:
    assert confusables.skeleton("gоv") == "gov"  # Cyrillic о
    assert confusables.skeleton("ɡov") == "gov"
    assert confusables.skeleton("mic") == "rnic"  # m and rn look alike
    assert confusables.skeleton("g0v") == "gov"  # 0 -> O, lower-cased
    assert confusables.without_marks("bộ tư pháp đà nẵng") == "bo tu phap da nang"
    assert confusables.data_version().split(".")[0].isdigit()


def test_name_forms_of_a_hyphenated_idn() -> None:
    forms = name_forms(normalize_domain("bắcninh-gоv.vn"))
    assert forms == (normalize_domain("bắcninh-gоv.vn"), "bắcninh.gоv.vn", "bacninh-gоv.vn",
                     "bacninh.gоv.vn", "bacninh-gov.vn", "bacninh.gov.vn", "bắcninh-gоv.vn")


def test_shipped_confusables_table_is_what_the_script_makes() -> None:
    """govmilter/domains/confusables.txt is regenerated from Unicode's file, never hand-edited."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        maker = importlib.import_module("make_confusables")
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    source = maker.shipped_source().read_text(encoding="utf-8-sig")
    shipped = (ROOT / "govmilter" / "domains" / "confusables.txt").read_text(encoding="utf-8")
    assert maker.table(source) == shipped


def test_normalisation_is_uts46() -> None:
    """UTS #46, not IDNA 2003: ß and ς are kept (non-transitional), full-width letters mapped."""
    assert normalize_domain("straße.de") == "xn--strae-oqa.de"
    assert normalize_domain("ＧＯＶ。ＶＮ") == "gov.vn"
    assert display_domain(normalize_domain("Bộ.Gov.VN")) == "bộ.gov.vn"


def _check(*recipients: str) -> list[dict[str, object]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "govmilter", "check", "--json", "--no-dns",
         "--policy", str(default_policy_path()), "--sender", "vanthu@mic.gov.vn",
         *(arg for r in recipients for arg in ("--rcpt", f"vanthu@{r}")),
         str(ROOT / "tests" / "data" / "cong-van-secret.eml")],
        capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    found: list[dict[str, object]] = json.loads(done.stdout)["recipients"]
    return found


@pytest.mark.parametrize(("written", "evidence"), OTHER_FORMS)
def test_check_without_dns_finds_lookalikes_in_every_form(written: str, evidence: str) -> None:
    """What an administrator sees with `govmilter check --no-dns` and the default policy."""
    (recipient,) = _check(written)
    assert recipient["class"] == "lookalike"
    assert recipient["evidence"] == [evidence]
    assert recipient["action"] == "quarantine"


def test_check_without_dns_keeps_real_idn_and_ordinary_domains() -> None:
    found = _check("bộ.gov.vn", "xn--b-8xm.gov.vn", "govtech.com", "côngty.com.vn")
    assert [r["class"] for r in found] == ["official", "official", "external", "external"]
