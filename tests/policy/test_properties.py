"""Property-based tests (hypothesis) for address reading, domain classification and MIME walking.

Properties, not examples: for every generated address or message, the reader never raises, the
classification follows the label-boundary rule, and the MIME walk respects the limits.
"""

from __future__ import annotations

import string

from hostile_mail import encoded_word
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govmilter.domains.classify import DomainClass, DomainLists, DomainSuffixSet, classify_domain
from govmilter.mail.addresses import parse_address, read_address_header
from govmilter.mail.message import parse_message
from govmilter.mail.names import DomainError, normalize_domain
from govmilter.policy import Limits

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LISTS = DomainLists(freemail=DomainSuffixSet(["gmail.com"]))

ascii_label = st.text(string.ascii_letters + string.digits + "-", min_size=1, max_size=12)
#: a label a policy may list: no hyphen at either end (RFC 1123), no A-label to decode
host_label = ascii_label.filter(lambda t: not t.startswith("-") and not t.endswith("-")
                                and not t.lower().startswith("xn--"))
#: a domain a policy may list: host labels, the last one not all digits (that is an IP address)
host_domain = st.lists(host_label, min_size=1, max_size=3).map(".".join).filter(
    lambda d: not d.rsplit(".", 1)[-1].isdigit())
idn_label = st.text("aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệ", min_size=1,
                    max_size=10)
label = st.one_of(ascii_label, idn_label, st.text(min_size=1, max_size=8))
domain_text = st.lists(label, min_size=1, max_size=5).map(".".join)
decorated_domain = st.tuples(
    domain_text, st.sampled_from(["", ".gov.vn", "gov.vn", ".GOV.VN.", ".gov.vn.com", ".gov"]),
).map("".join)


@FAST
@given(st.text(max_size=300))
def test_parse_address_never_raises(text: str) -> None:
    address = parse_address(text)
    assert address.domain is None or address.domain == normalize_domain(address.domain)


def normalized(text: str) -> str | None:
    """The normalised domain, or None when the text is not a domain."""
    try:
        return normalize_domain(text)
    except DomainError:
        return None


@FAST
@given(decorated_domain)
def test_normalize_domain_is_idempotent(text: str) -> None:
    once = normalized(text)
    if once is None:
        return
    assert normalize_domain(once) == once
    assert once == once.lower() and once.isascii()


@FAST
@given(decorated_domain)
def test_official_iff_gov_vn_on_a_label_boundary(text: str) -> None:
    domain = normalized(text)
    if domain is None:
        return
    official = classify_domain(domain, LISTS).domain_class is DomainClass.OFFICIAL
    assert official == (domain == "gov.vn" or domain.endswith(".gov.vn"))


@FAST
@given(host_label, host_domain)
def test_suffix_sets_match_only_on_label_boundaries(prefix: str, suffix: str) -> None:
    suffix, glued = suffix.lower(), (prefix + suffix).lower()
    entries = DomainSuffixSet([suffix])
    assert entries.match(f"{prefix.lower()}.{suffix}") == suffix
    if glued != suffix and not glued.endswith("." + suffix):
        assert entries.match(glued) is None


display_name = st.text(max_size=40).filter(lambda t: "\r" not in t and "\n" not in t)


@FAST
@given(display_name, st.booleans(), st.sampled_from(["", '"', "(", "<", ")", ">"]))
def test_no_display_name_hides_the_freemail_mailbox(name: str, encode: bool, junk: str) -> None:
    """Whatever the display name (encoded, raw, broken quoting), the freemail mailbox is read."""
    shown = encoded_word(name) if encode else name
    reading = read_address_header(f"{shown}{junk} <attacker@gmail.com>", "From")
    assert any(a.domain == "gmail.com" for a in reading.addresses), reading


# --- MIME trees ---------------------------------------------------------------------------------

LIMITS = Limits(max_scan_bytes=4000, max_attachment_bytes=700, max_attachments=3, max_depth=3)
header_value = st.text(max_size=30).map(lambda t: t.replace("\r", " ").replace("\n", " "))
leaf_type = st.sampled_from(["text/plain", "text/html", "application/pdf", "application/zip",
                             "application/pkcs7-mime", "message/rfc822", "image/png",
                             "multipart/mixed", "text/plain; format=flowed"])
charset = st.sampled_from(["utf-8", "us-ascii", "windows-1258", "iso-8859-1", "utf-16",
                           "punycode", "x-bogus", "", "utf-7"])
encoding = st.sampled_from(["7bit", "8bit", "base64", "quoted-printable", "x-uuencode", "bogus"])


def render_leaf(ctype: str, cs: str, cte: str, body: bytes, extra: str) -> bytes:
    head = f"Content-Type: {ctype}" + (f"; charset={cs}" if cs else "")
    return (f"{head}\r\nContent-Transfer-Encoding: {cte}\r\nX-Extra: {extra}\r\n\r\n").encode(
        "utf-8", "surrogatepass") + body


leaf = st.builds(render_leaf, leaf_type, charset, encoding, st.binary(max_size=1500),
                 header_value)


def render_multipart(children: list[bytes], boundary: str, subtype: str, close: bool) -> bytes:
    body = b"".join(b"--" + boundary.encode() + b"\r\n" + c + b"\r\n" for c in children)
    end = b"--" + boundary.encode() + b"--\r\n" if close else b""
    return (f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n').encode() \
        + body + end


tree = st.recursive(
    leaf,
    lambda inner: st.builds(render_multipart, st.lists(inner, max_size=5),
                            st.sampled_from(["b1", "b2", "b1", "=_x", ""]),
                            st.sampled_from(["mixed", "alternative", "signed", "encrypted"]),
                            st.booleans()),
    max_leaves=25,
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree, header_value)
def test_mime_walk_never_raises_and_respects_limits(body: bytes, subject: str) -> None:
    raw = ("From: a@mic.gov.vn\r\nTo: b@gmail.com\r\nSubject: " + subject + "\r\n").encode(
        "utf-8", "surrogatepass") + b"MIME-Version: 1.0\r\n" + body
    content = parse_message(raw, LIMITS)
    assert content.scanned_bytes <= LIMITS.max_scan_bytes
    assert len(content.attachments) <= LIMITS.max_attachments
    assert all(len(a.data) <= LIMITS.max_attachment_bytes for a in content.attachments)
    assert content.size == len(raw)
