"""Messages and policies shared by the milter, protocol and Postfix tests."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"

#: An official document marked MẬT (secret), from vanthu@mic.gov.vn.
SECRET = (DATA / "cong-van-secret.eml").read_bytes()
#: The same document without its secrecy marking: official, not secret.
OFFICIAL = SECRET.replace("MẬT\n\n".encode(), b"")
#: Ordinary mail: no official document.
PLAIN = (b"From: <vanthu@mic.gov.vn>\nTo: <cntt@hanoi.gov.vn>\nSubject: lunch\n"
         b"Message-ID: <plain@mic.gov.vn>\n\nSee you at noon.\n")

OFFICIAL_SENDER = "vanthu@mic.gov.vn"
OFFICIAL_RCPT = "cntt@hanoi.gov.vn"
FREEMAIL_RCPT = "nguyenvana@gmail.com"
EXTERNAL_RCPT = "partner@example.com"
OFFICER = "officer@mic.gov.vn"

SECRET_REPLY_EN = "Classified documents must not go to free webmail (100% rule)"

#: A small policy that exercises every action; freemail comes from a short list (fast to load).
RULES = f"""
rules:
  - id: official-to-official
    when: {{sender: official, recipient: official}}
    action: tag
    compliant: true
  - id: submission-to-external
    when: {{recipient: external, service: [submission], authenticated: false}}
    action: reject
    reply: {{code: 554, enhanced: 5.7.1, en: "Log in to send outside"}}
  - id: secret-to-freemail
    when: {{sender: official, recipient: freemail, document: secret}}
    action: reject
    reply: {{code: 550, enhanced: 5.7.1, vi: "Văn bản mật không được gửi tới hộp thư miễn phí",
             en: "{SECRET_REPLY_EN}"}}
  - id: document-to-freemail
    when: {{sender: official, recipient: freemail, document: official}}
    action: quarantine
    hold_reason: "official document to free webmail"
    copy_to: {OFFICER}
  - id: unscannable-to-freemail
    when: {{sender: official, recipient: freemail, document: unscannable}}
    action: tag
    tag: {{subject_prefix: "[VĂN BẢN GỬI WEBMAIL]"}}
  - id: default-accept
    action: accept
"""


def policy_yaml(*, mode: str = "enforce", monitor_header: bool = False,
                on_error: str = "tempfail", rules: str = RULES, memory_bytes: int = 1048576,
                max_attachment_bytes: int = 10485760,
                dns: str = "dns: {enabled: false}") -> str:
    """The YAML text of a test policy (DNS off unless ``dns`` says otherwise)."""
    return f"""version: 1
mode: {mode}
monitor_header: {str(monitor_header).lower()}
on_error: {on_error}
domains:
  official: {{suffixes: [gov.vn]}}
  freemail: {{builtin: false, extra: [gmail.com, yahoo.com]}}
limits:
  memory_bytes: {memory_bytes}
  max_attachment_bytes: {max_attachment_bytes}
{dns}
{rules}"""


#: Names that are no domain, and why (the policy loader quotes the same reason).
INVALID_DOMAINS = [
        pytest.param("-bad-.vn", "label '-bad-' in domain '-bad-.vn' starts or ends with '-'",
                     id="hyphens-around"),
        pytest.param("bad-.vn", "label 'bad-' in domain 'bad-.vn' starts or ends with '-'",
                     id="trailing-hyphen"),
        pytest.param("-bộ.vn", "label '-bộ' in domain '-bộ.vn' starts or ends with '-'",
                     id="u-label-hyphen"),
        pytest.param("1.2.3.4", "'1.2.3.4' is an IP address, not a domain", id="ipv4"),
        pytest.param("10.0.1", "top-level label '1' of '10.0.1' is all digits", id="numeric-tld"),
        pytest.param("xn--zz.vn", "label 'xn--zz' in domain 'xn--zz.vn' is not valid punycode",
                     id="bad-punycode"),
        pytest.param("XN--ZZ.VN", "label 'XN--ZZ' in domain 'XN--ZZ.VN' is not valid punycode",
                     id="bad-punycode-upper"),
]
