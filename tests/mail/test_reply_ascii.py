"""SMTP reply text: ASCII, and a secrecy marking that cannot read as "mất" (lost)."""

from __future__ import annotations

import unicodedata

import pytest

from govmilter.mail.vntext import reply_ascii
from govmilter.policy import parse_policy
from govmilter.policy.analysis import ambiguous_reply_warnings


@pytest.mark.parametrize(("text", "ascii_text"), [
    ("Văn bản MẬT không được gửi", "Van ban CONFIDENTIAL (MAT) khong duoc gui"),
    ("văn bản mật", "van ban CONFIDENTIAL (MAT)"),
    ("tài liệu TỐI MẬT", "tai lieu SECRET (TOI MAT)"),
    ("TUYỆT MẬT", "TOP SECRET (TUYET MAT)"),
    ("(MẬT)", "(CONFIDENTIAL (MAT))"),
    # words that contain mật but are no grade stay as they are
    ("mật khẩu sai", "mat khau sai"),
    ("giữ bí mật", "giu bi mat"),
    ("mật ong rừng", "mat ong rung"),
    ("quan hệ mật thiết", "quan he mat thiet"),
    ("MẬTKHẨU", "MATKHAU"),
])
def test_markings_are_spelled_out(text: str, ascii_text: str) -> None:
    assert reply_ascii(text) == ascii_text
    assert reply_ascii(unicodedata.normalize("NFD", text)) == ascii_text  # as macOS types it


def test_a_reply_folded_by_hand_is_warned_about() -> None:
    policy = parse_policy("""rules:
  - id: folded
    when: {recipient: freemail, document: secret}
    action: reject
    reply: {code: 550, enhanced: 5.7.1, vi: "Van ban mat khong duoc gui", en: "No"}
  - id: written
    when: {recipient: freemail, document: official}
    action: reject
    reply: {code: 550, enhanced: 5.7.1, vi: "Văn bản MẬT không được gửi", en: "Classified"}
""")
    [warning] = ambiguous_reply_warnings(policy)
    assert "rule 'folded'" in str(warning) and str(warning).startswith("<string>:2: warning")
