"""Address parsing, normalisation and classification against the default lists."""

from __future__ import annotations

import datetime as dt

import pytest
from hostile_mail import SPOOFED_FROM, encoded_word
from samples import INVALID_DOMAINS

import govmilter.mail.addresses
from govmilter.domains.classify import (
    DomainClass,
    DomainException,
    DomainLists,
    DomainSuffixSet,
    classify_address,
    classify_domain,
)
from govmilter.mail.addresses import header_addresses, parse_address, read_address_header
from govmilter.mail.names import DomainError, display_domain, normalize_domain
from govmilter.policy import load_policy

DEFAULT = load_policy().domains


@pytest.mark.parametrize(
    ("text", "domain", "local"),
    [
        pytest.param("<vanthu@mic.gov.vn>", "mic.gov.vn", "vanthu", id="angle-brackets"),
        pytest.param("VanThu@MIC.GOV.VN.", "mic.gov.vn", "VanThu", id="upper-case-trailing-dot"),
        pytest.param('<"a@b"@hanoi.gov.vn>', "hanoi.gov.vn", '"a@b"', id="quoted-local-part"),
        pytest.param("<@relay.example,@r2.example:x@gmail.com>", "gmail.com", "x",
                     id="source-route"),
        pytest.param("thư@bộtư.gov.vn", "xn--bt-e0a2790a.gov.vn", "thư", id="idn-smtputf8"),
        pytest.param("x@xn--bt-e0a2790a.gov.vn", "xn--bt-e0a2790a.gov.vn", "x", id="a-label"),
    ],
)
def test_parse_address(text: str, domain: str, local: str) -> None:
    address = parse_address(text)
    assert address.domain == domain
    assert address.local == local


def test_null_sender_and_garbage_have_no_domain() -> None:
    assert parse_address("<>").is_null
    assert parse_address("<>").domain is None
    assert parse_address("no-at-sign").domain is None
    assert parse_address("a@bad..domain").domain is None


def test_idna_round_trip_for_display() -> None:
    assert display_domain(normalize_domain("bộtư.gov.vn")) == "bộtư.gov.vn"


@pytest.mark.parametrize("bad", ["", ".", "a..b", "exa mple.com", "x" * 64 + ".vn"])
def test_normalize_domain_rejects_invalid(bad: str) -> None:
    with pytest.raises(DomainError):
        normalize_domain(bad)




@pytest.mark.parametrize(("bad", "why"), INVALID_DOMAINS)
def test_normalize_domain_says_why_a_name_is_not_a_domain(bad: str, why: str) -> None:
    with pytest.raises(DomainError) as info:
        normalize_domain(bad)
    assert str(info.value) == why


@pytest.mark.parametrize(
    ("text", "domain"),
    [
        pytest.param("163.com", "163.com", id="numeric-label"),
        pytest.param("a-b--c.gov.vn", "a-b--c.gov.vn", id="inner-hyphens"),
        pytest.param("XN--BT-E0A2790A.gov.vn", "xn--bt-e0a2790a.gov.vn", id="a-label-upper"),
        pytest.param("[192.0.2.1]", "[192.0.2.1]", id="address-literal"),
    ],
)
def test_normalize_domain_keeps_valid_names(text: str, domain: str) -> None:
    assert normalize_domain(text) == domain


@pytest.mark.parametrize("address", ["x@-x.com", "x@gmail-.com", "x@1.2.3.4",
                                     "x@xn--zz.gmail.com", "<x@-mic.gov.vn>"])
def test_mail_from_an_invalid_domain_is_external_and_never_raises(address: str) -> None:
    """An envelope or header domain that is no host name can be neither official nor a
    listed provider: the address is kept, without a domain, and classified external."""
    parsed = parse_address(address)
    assert (parsed.text, parsed.domain) == (address.strip("<>"), None)
    result = classify_address(parsed, DEFAULT)
    assert (result.domain_class, result.reason) == (DomainClass.EXTERNAL, "no valid domain")
    header = read_address_header(f"Someone <{address.strip('<>')}>, b@gmail.com", "To")
    assert [(a.text, a.domain) for a in header.addresses] == [
        (address.strip("<>"), None), ("b@gmail.com", "gmail.com")]


@pytest.mark.parametrize("value", ["John (comment) <j@gmail.com>", "j@gmail.com (John Doe)"])
def test_address_comments_are_parsed_away(value: str) -> None:
    found = read_address_header(value, "From")
    assert [a.text for a in found.addresses] == ["j@gmail.com"]
    assert not found.ambiguous and not found.notes
    assert [classify_address(a, DEFAULT).domain_class for a in header_addresses(value)] == [
        DomainClass.FREEMAIL]


def test_header_addresses_decode_display_names_without_trusting_them() -> None:
    value = '=?utf-8?b?VsSDbiB0aMawIDx2YW50aHVAbWljLmdvdi52bj4=?= <x@gmail.com>, "B" <b@hn.vnn.vn>'
    found = [a.text for a in header_addresses(value)]
    assert found == ["x@gmail.com", "b@hn.vnn.vn"]


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        pytest.param("a@mic.gov.vn", DomainClass.OFFICIAL, id="agency"),
        pytest.param("a@mail.hanoi.gov.vn", DomainClass.OFFICIAL, id="subdomain"),
        pytest.param("a@gov.vn", DomainClass.OFFICIAL, id="suffix-itself"),
        # not official (no label boundary), but glued to the suffix it imitates it
        pytest.param("a@evilgov.vn", DomainClass.LOOKALIKE, id="no-label-boundary"),
        pytest.param("a@gov.vn.example.com", DomainClass.LOOKALIKE, id="suffix-in-middle"),
        pytest.param("a@gmail.com", DomainClass.FREEMAIL, id="gmail"),
        pytest.param("a@GMAIL.COM.", DomainClass.FREEMAIL, id="gmail-case-dot"),
        pytest.param("a@yahoo.com.vn", DomainClass.FREEMAIL, id="yahoo-vn"),
        pytest.param("a@hn.vnn.vn", DomainClass.FREEMAIL, id="vnn-regional"),
        pytest.param("a@yahoo.vn", DomainClass.FREEMAIL, id="extra-list"),
        pytest.param("a@ckvn.edu.vn", DomainClass.EXTERNAL, id="excluded-school"),
        pytest.param("a@vnpt.vn", DomainClass.EXTERNAL, id="company"),
        pytest.param("<>", DomainClass.EXTERNAL, id="null-sender"),
    ],
)
def test_default_policy_classification(address: str, expected: DomainClass) -> None:
    assert classify_address(parse_address(address), DEFAULT).domain_class is expected


def test_suffix_set_wildcard_matches_only_below() -> None:
    s = DomainSuffixSet(["*.vnn.vn", "gov.vn"])
    assert s.match("hn.vnn.vn") == "*.vnn.vn"
    assert s.match("vnn.vn") is None
    assert s.match("a.b.gov.vn") == "gov.vn"


def test_exceptions_win_and_expire() -> None:
    lists = DomainLists(
        freemail=DomainSuffixSet(["gmail.com"]),
        exceptions=(
            DomainException("assistant@gmail.com", DomainClass.OFFICIAL, "approved",
                            dt.date(2027, 1, 31)),
        ),
    )
    addr = parse_address("Assistant@gmail.com")
    before = classify_address(addr, lists, dt.date(2027, 1, 31))
    assert before.domain_class is DomainClass.OFFICIAL
    assert "approved" in before.reason
    after = classify_address(addr, lists, dt.date(2027, 2, 1))
    assert after.domain_class is DomainClass.FREEMAIL
    other = classify_address(parse_address("someone@gmail.com"), lists, dt.date(2027, 1, 1))
    assert other.domain_class is DomainClass.FREEMAIL


def test_internal_domains_are_official_and_marked() -> None:
    lists = DomainLists(internal=DomainSuffixSet(["hanoi.gov.vn", "legacy-agency.vn"]))
    result = classify_domain("mail.legacy-agency.vn", lists)
    assert result.domain_class is DomainClass.OFFICIAL
    assert result.internal


class _CountingSet(frozenset[str]):
    lookups = 0

    def __contains__(self, item: object) -> bool:
        type(self).lookups += 1
        return super().__contains__(item)


def test_lookup_is_o_labels_whatever_the_list_size() -> None:
    """A lookup probes each label suffix once, however many domains are loaded."""
    large = DomainSuffixSet([f"d{i}.example" for i in range(100_000)])
    large._exact_or_below = _CountingSet(large._exact_or_below)
    large._below_only = _CountingSet(large._below_only)
    _CountingSet.lookups = 0
    assert large.match("a.b.c.unlisted.example") is None
    labels = 5
    assert _CountingSet.lookups <= 2 * labels


#: Plain forms read without the stdlib parser, and near misses that must still go through it.
PLAIN_AND_NEAR_MISSES = [
    "vanthu@mic.gov.vn", "Van Thu <vanthu@mic.gov.vn>", '"Văn thư, Bộ" <vanthu@mic.gov.vn>',
    '"Van Thu, Bo" <vanthu@mic.gov.vn>', encoded_word("Văn thư") + " <vanthu@mic.gov.vn>",
    "=?utf-8?q?V=C4=83n_th=C6=B0?= <vanthu@mic.gov.vn>, a@gmail.com ,\tb@hanoi.gov.vn",
    "<VanThu@MIC.GOV.VN>", "a@b.c, ", ", a@b.c", "a@b.c,,d@e.f", "Nguyen V. A <a@gmail.com>",
    "x=?utf-8?q?a?= <a@gmail.com>", "=?utf-8?q?a?=<a@gmail.com>", '"a\\"b" <a@gmail.com>',
    '"=?utf-8?q?boss=40mic.gov.vn?=" <a@gmail.com>', encoded_word("a<b@c.d>") + " <a@gmail.com>",
    "=?x-bogus?q?a?= <a@gmail.com>", "=?utf-8?b?/w==?= <a@gmail.com>", "a@[1.2.3.4]",
    "a..b@gmail.com", "a@gmail..com", "a@gmail.com.", "Boss <a@gmail.com> extra",
    *[v if isinstance(v, str) else v.decode("utf-8", "replace") for _, v in SPOOFED_FROM],
]


@pytest.mark.parametrize("value", PLAIN_AND_NEAR_MISSES)
def test_plain_address_forms_read_as_the_stdlib_parser_reads_them(
        value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = read_address_header(value, "From")
    with monkeypatch.context() as patch:
        patch.setattr(govmilter.mail.addresses, "_plain_mailboxes", lambda element: None)
        assert fast == read_address_header(value, "From")
