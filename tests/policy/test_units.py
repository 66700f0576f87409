"""Units and the sender conditions: which unit a sender is in, validation, rules, description."""

from __future__ import annotations

import textwrap

import pytest

from govmilter.document.evidence import OfficialDocumentEvidence
from govmilter.domains.addressmap import AddressMap
from govmilter.mail.addresses import parse_address
from govmilter.policy import (
    Policy,
    PolicyError,
    PolicyProblem,
    decide,
    load_policy,
    parse_policy,
)
from govmilter.policy.analysis import shadowed_rule_warnings
from govmilter.policy.description import describe_policy
from govmilter.policy.units import MAX_UNITS
from govmilter.policy.verdict import Envelope, MessageFacts, flow_unit
from govmilter.tools.explain import explain, explanation_to_text

UNITS = """\
units:
  - id: van-phong
    name: Văn phòng Sở
    name_en: Office
    members: [stc.ninhbinh.gov.vn, giamdoc@ketoan.stc.ninhbinh.gov.vn]
  - id: ke-toan
    name: Phòng Kế toán
    members: [ketoan.stc.ninhbinh.gov.vn]
  - id: chi-nhanh
    name: Các chi nhánh
    members: ["*.cn.stc.ninhbinh.gov.vn"]
"""


def load(text: str) -> Policy:
    return parse_policy(textwrap.dedent(text), "p.yaml",
                        freemail_source=lambda: frozenset({"gmail.com"}))


def problems(text: str) -> list[PolicyProblem]:
    with pytest.raises(PolicyError) as info:
        load(text)
    return list(info.value.problems)


def messages(text: str) -> list[str]:
    return [str(p) for p in problems(text)]


RULES = """\
rules:
  - id: all
    action: accept
"""


@pytest.mark.parametrize(("sender", "unit"), [
    ("giamdoc@ketoan.stc.ninhbinh.gov.vn", "van-phong"),  # the address beats its domain
    ("GiamDoc@KETOAN.stc.ninhbinh.gov.vn", "van-phong"),  # local part and domain: any case
    ("<giamdoc@ketoan.stc.ninhbinh.gov.vn>", "van-phong"),
    ('"giamdoc"@ketoan.stc.ninhbinh.gov.vn', "van-phong"),  # quoting changes no mailbox
    ('"gi\\amDoc"@ketoan.stc.ninhbinh.gov.vn.', "van-phong"),
    ("<@relay.example:giamdoc@ketoan.stc.ninhbinh.gov.vn>", "van-phong"),
    ('""@ketoan.stc.ninhbinh.gov.vn', "ke-toan"),
    ("ketoan1@ketoan.stc.ninhbinh.gov.vn", "ke-toan"),  # exact domain beats the parent
    ("a@kho.ketoan.stc.ninhbinh.gov.vn", "ke-toan"),  # the longest parent wins
    ("a@stc.ninhbinh.gov.vn", "van-phong"),
    ("a@phong.stc.ninhbinh.gov.vn", "van-phong"),  # a plain domain covers its sub-domains
    ("a@hoalu.cn.stc.ninhbinh.gov.vn", "chi-nhanh"),
    ("a@cn.stc.ninhbinh.gov.vn", "van-phong"),  # "*." does not cover the name itself
    ("a@ninhbinh.gov.vn", None),
    ("a@evilstc.ninhbinh.gov.vn", None),  # label boundaries, not string suffixes
    ("a@stc.ninhbinh.gov.vn.example.com", None),
    ("", None),  # the null sender
    ("giamdoc", None),
])
def test_the_most_specific_member_decides_the_unit(sender: str, unit: str | None) -> None:
    assert load(UNITS + RULES).units.unit_of(sender) == unit


def test_an_address_map_answers_the_entry_that_covered_the_address() -> None:
    names = AddressMap([("x.vn", 1), ("*.a.x.vn", 2), ("boss@a.x.vn", 3)])
    assert names.entry_for(parse_address("b@c.a.x.vn")) == "*.a.x.vn"
    assert names.find(parse_address("b@a.x.vn")) == 1
    assert names.find(parse_address("BOSS@a.x.vn")) == 3
    assert names.find(parse_address("b@y.vn")) is None
    assert names == AddressMap([("x.vn", 1), ("*.a.x.vn", 2), ("boss@a.x.vn", 3)])


def test_no_units_no_unit_and_the_default_policy_declares_none() -> None:
    policy = load(RULES)
    assert not policy.units and policy.units.unit_of("a@stc.ninhbinh.gov.vn") is None
    default = load_policy()
    assert not default.units
    assert all(r.sender_units is None and r.sender_addresses is None
               and r.sender_domains is None for r in default.rules)


@pytest.mark.parametrize(("units", "expected"), [
    ("units:\n  - id: a\n    name: A\n    members: [x.vn]\n    head: b@x.vn\n",
     "p.yaml:5: unknown key 'head' in units[0] (expected one of: id, name, name_en, members)"),
    ("units:\n  - id: a\n    name: A\n  - id: a\n    name: B\n",
     "p.yaml:4: duplicate unit id 'a' (first used on line 2)"),
    ("units:\n  - id: Phòng A\n    name: A\n",
     "p.yaml:2: units[0]: unit id 'Phòng A' must be lower-case letters, digits, '-', '_' or "
     "'.', at most 63 characters (it becomes the metric label unit)"),
    ("units:\n  - name: A\n", "p.yaml:2: units[0] needs an 'id'"),
    ("units:\n  - id: a\n    members: [x.vn]\n",
     "p.yaml:2: unit 'a' needs a 'name' (in Vietnamese, as the unit writes it)"),
    ("units:\n  - id: a\n    name: A\n    members: [b@x.vn]\n"
     "  - id: b\n    name: B\n    members: [B@X.VN]\n",
     "p.yaml:7: unit 'b'.members: b@x.vn is already a member of unit 'a' (line 4): an address "
     "or domain belongs to one unit (list a sub-domain or an address to carve it out)"),
    ("units:\n  - id: a\n    name: A\n    members: [x.vn]\n"
     "  - id: b\n    name: B\n    members: ['*.x.vn']\n",
     "p.yaml:7: unit 'b'.members: *.x.vn is already a member of unit 'a' (line 4): an address "
     "or domain belongs to one unit (list a sub-domain or an address to carve it out)"),
    ("units:\n  - id: a\n    name: A\n    members: [x..vn]\n",
     "p.yaml:4: unit 'a'.members: invalid domain 'x..vn'"),
    ("units:\n  - id: a\n    name: A\n    members: ['a@b@']\n",
     "p.yaml:4: unit 'a'.members: invalid address 'a@b@'"),
    ("units: {a: x.vn}\n", "p.yaml:1: units must be a list, not a mapping"),
])
def test_validate_reports_each_units_mistake_at_its_line(units: str, expected: str) -> None:
    found = messages(units + RULES)
    assert any(m.startswith(expected) for m in found), found


def test_the_number_of_units_is_bounded() -> None:
    many = "units:\n" + "".join(f"  - id: u{n}\n    name: U{n}\n    members: [u{n}.x.vn]\n"
                                for n in range(MAX_UNITS + 1))
    assert f"p.yaml:1: units: {MAX_UNITS + 1} units, more than {MAX_UNITS} (each unit is a " \
           "metric label value: group small units into larger ones)" in messages(many + RULES)
    assert len(load("units:\n" + "".join(
        f"  - id: u{n}\n    name: U{n}\n    members: [u{n}.x.vn]\n"
        for n in range(MAX_UNITS)) + RULES).units.units) == MAX_UNITS


def test_a_unit_without_members_is_a_warning() -> None:
    policy = load("units:\n  - id: a\n    name: A\n" + RULES)
    assert [str(w) for w in policy.warnings] == [
        "p.yaml:2: warning: unit 'a' has no members: no sender belongs to it"]


@pytest.mark.parametrize(("when", "expected"), [
    ("sender_unit: [ke-tona]", "p.yaml:15: rule 'r'.when.sender_unit: unknown unit 'ke-tona' "
     "(declared: van-phong, ke-toan, chi-nhanh); did you mean 'ke-toan'?"),
    ("sender_unit: []", "p.yaml:15: rule 'r'.when.sender_unit lists nothing: no sender could "
     "match; leave the key out to match any sender"),
    ("sender_address: [stc.ninhbinh.gov.vn]", "p.yaml:15: rule 'r'.when.sender_address: "
     "'stc.ninhbinh.gov.vn' is not an address (local@domain); list domains under "
     "sender_domain"),
    ("sender_domain: [a@stc.ninhbinh.gov.vn]", "p.yaml:15: rule 'r'.when.sender_domain: "
     "'a@stc.ninhbinh.gov.vn' is an address: list it under sender_address"),
    ("sender_domain: ['gov..vn']", "p.yaml:15: rule 'r'.when.sender_domain: invalid domain"),
    ("sender_adress: [a@b.vn]", "p.yaml:15: unknown key 'sender_adress' in rule 'r'.when"),
])
def test_validate_reports_each_sender_condition_mistake(when: str, expected: str) -> None:
    text = UNITS + f"rules:\n  - id: r\n    when:\n      {when}\n    action: tag\n"
    found = messages(text)
    assert any(m.startswith(expected) for m in found), found


def test_sender_unit_needs_declared_units() -> None:
    found = messages("rules:\n  - id: r\n    when: {sender_unit: a}\n    action: tag\n")
    assert found == ["p.yaml:3: rule 'r'.when.sender_unit: unknown unit 'a' (the policy "
                     "declares no units: add a units: section)"]


def test_an_allow_list_without_authentication_is_warned_about() -> None:
    policy = load(UNITS + "rules:\n  - id: r\n    when: {sender_address: a@b.vn}\n"
                  "    action: accept\n")
    assert str(policy.warnings[0]).startswith(
        "p.yaml:14: warning: rule 'r': an allow-list by sender_unit or sender_address trusts "
        "the MAIL FROM address")
    quiet = load(UNITS + "rules:\n  - id: r\n    when: {sender_address: a@b.vn, "
                 "authenticated: true}\n    action: accept\n")
    assert not quiet.warnings


SENDER_RULES = UNITS + """\
rules:
  - id: director-may-send
    when: {sender_address: [GiamDoc@ketoan.stc.ninhbinh.gov.vn], recipient: freemail,
           authenticated: true}
    action: accept
  - id: accounting-to-webmail
    when: {sender_unit: [ke-toan], recipient: freemail, document: official}
    action: reject
    compliant: false
  - id: branches-to-webmail
    when: {sender_domain: ["*.cn.stc.ninhbinh.gov.vn"], recipient: freemail}
    action: quarantine
    compliant: false
  - id: rest
    action: accept
"""

DOCUMENT = MessageFacts(document=OfficialDocumentEvidence(
    True, 5.0, evidence=("number/symbol 12/QĐ-STC",)))


def verdict_for(sender: str, user: str | None = "u") -> tuple[str, str | None]:
    policy = load(SENDER_RULES)
    verdict = decide(Envelope(sender, ("x@gmail.com",), authenticated_user=user), DOCUMENT,
                     policy)
    return verdict.recipients[0].rule_id, verdict.sender_unit


@pytest.mark.parametrize(("sender", "user", "rule", "unit"), [
    ("giamdoc@ketoan.stc.ninhbinh.gov.vn", "u", "director-may-send", "van-phong"),
    ("giamdoc@ketoan.stc.ninhbinh.gov.vn", None, "rest", "van-phong"),  # not authenticated
    ("ketoan1@ketoan.stc.ninhbinh.gov.vn", "u", "accounting-to-webmail", "ke-toan"),
    ("ketoan1@kho.ketoan.stc.ninhbinh.gov.vn", "u", "accounting-to-webmail", "ke-toan"),
    ("giamdoc+x@ketoan.stc.ninhbinh.gov.vn", "u", "accounting-to-webmail", "ke-toan"),
    ("a@hoalu.cn.stc.ninhbinh.gov.vn", "u", "branches-to-webmail", "chi-nhanh"),
    ("a@cn.stc.ninhbinh.gov.vn", "u", "rest", "van-phong"),
    ("a@ketoan.stc.ninhbinh.gov.vn.evil.com", "u", "rest", None),
])
def test_sender_conditions_pick_the_rule(sender: str, user: str | None, rule: str,
                                         unit: str | None) -> None:
    assert verdict_for(sender, user) == (rule, unit)


def test_flows_count_for_the_sending_unit_or_else_the_receiving_one() -> None:
    policy = load(SENDER_RULES)
    out = decide(Envelope("a@ketoan.stc.ninhbinh.gov.vn", ("x@gmail.com",)), DOCUMENT, policy)
    inbound = decide(Envelope("x@gmail.com", ("a@hoalu.cn.stc.ninhbinh.gov.vn", "y@hanoi.gov.vn")),
                     DOCUMENT, policy)
    assert [flow_unit(out, r) for r in out.recipients] == ["ke-toan"]
    assert [flow_unit(inbound, r) for r in inbound.recipients] == ["chi-nhanh", ""]


def test_explain_names_the_sender_conditions_and_the_unit() -> None:
    policy = load(SENDER_RULES)
    text = explanation_to_text(explain(
        Envelope("ketoan1@ketoan.stc.ninhbinh.gov.vn", ("x@gmail.com",), authenticated_user="u"),
        DOCUMENT, policy), policy)
    assert "unit ke-toan: Phòng Kế toán" in text
    assert "sender address is not one of the rule's 1 sender_address entries" in text
    assert "sender unit is ke-toan, rule wants ke-toan" in text
    assert "=> REJECT by rule accounting-to-webmail" in text


def test_the_description_says_the_units_and_sender_lists_in_vietnamese() -> None:
    text = describe_policy(load(SENDER_RULES))
    assert text.units[0].startswith("Văn phòng Sở (Office) [van-phong]: người gửi thuộc "
                                    "(senders) stc.ninhbinh.gov.vn, "
                                    "giamdoc@ketoan.stc.ninhbinh.gov.vn")
    rules = {r.rule_id: r for r in text.rules}
    assert rules["accounting-to-webmail"].sentence == (
        "Văn bản (kể cả văn bản mật) gửi từ bất kỳ ai thuộc đơn vị (unit) ke-toan tới hộp thư "
        "miễn phí (Gmail, Yahoo, ...): từ chối (reject)")
    assert "Chỉ khi người gửi thuộc đơn vị (sender unit): Phòng Kế toán [ke-toan]" in \
        rules["accounting-to-webmail"].details
    assert "Chỉ khi địa chỉ người gửi là (sender address): giamdoc@ketoan.stc.ninhbinh.gov.vn" \
        in rules["director-may-send"].details
    assert rules["branches-to-webmail"].details[-1].endswith(": *.cn.stc.ninhbinh.gov.vn")


def test_rules_with_sender_lists_are_not_called_dead() -> None:
    assert shadowed_rule_warnings(load(SENDER_RULES)) == ()


def test_a_rule_behind_a_broader_sender_list_is_dead() -> None:
    policy = load(UNITS + """\
rules:
  - id: whole-domain
    when: {sender_domain: [stc.ninhbinh.gov.vn]}
    action: tag
  - id: accounting
    when: {sender_unit: [ke-toan]}
    action: reject
  - id: rest
    action: accept
""")
    assert [w.message.split(":")[0] for w in shadowed_rule_warnings(policy)] == [
        "rule 'accounting' can never match"]
