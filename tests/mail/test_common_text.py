"""The common-character shortcut of govmilter.mail.vntext: a text of ASCII, Vietnamese letters and
common typography alone skips the look-alike fold, the legacy-encoding test and the separator
fold, and has its diacritics stripped by one table. Each shortcut must give exactly what the
long way gives: checked character by character over the whole table (every property involved is
one of single characters), and on whole texts with and without a character outside it.
"""

from __future__ import annotations

import unicodedata

import pytest

from govmilter.document import cues, legacy
from govmilter.mail import vntext
from govmilter.mail.vntext import fold_lookalikes, is_common_vietnamese, strip_diacritics

COMMON = vntext._COMMON_CHARS
LETTER = ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập – Tự do – Hạnh phúc\n"
          "Số: 123/UBND-VP\nKính gửi: “Sở Thông tin và Truyền thông”…\nNơi nhận:\n- Lưu: VT.\n")


def test_the_table_holds_every_vietnamese_letter_and_stays_a_c_level_map() -> None:
    letters = {c for c in COMMON if not c.isascii()}
    lower = "áàảãạăắằẳẵặâấầẩẫậéèẻẽẹêếềểễệíìỉĩịóòỏõọôốồổỗộơớờởỡợúùủũụưứừửữựýỳỷỹỵđ"
    assert set(lower + lower.upper()) <= letters
    assert len(COMMON) == len(set(COMMON)) <= 256
    assert all(unicodedata.is_normalized("NFC", c) for c in COMMON)
    # a dict instead would make the encode a Python-level lookup per character
    assert type(vntext._COMMON_MAP).__name__ == "EncodingMap"


@pytest.mark.parametrize("char", list(COMMON))
def test_no_common_character_is_folded_stray_or_a_separator_look_alike(char: str) -> None:
    text = f"ab{char}cd"
    assert is_common_vietnamese(text)
    assert vntext._FOLDABLE_RE.search(char) is None
    assert legacy._STRAY_RE.search(char) is None
    assert strip_diacritics(text) == vntext._strip_any(text)
    if char not in "\u2013\u2014":  # the two the separator fold still looks for
        assert cues._SEPARATOR_LOOKALIKES_RE.search(char) is None


@pytest.mark.parametrize("text", [
    LETTER, LETTER.lower(), LETTER.replace("\n", "\r\n"), "Hòa\xa0Đông «MẬT» 30° • ok",
])
def test_common_text_gives_what_the_long_way_gives(text: str) -> None:
    assert is_common_vietnamese(text)
    assert strip_diacritics(text) == vntext._strip_any(text)
    assert fold_lookalikes(text) == (text, False)
    assert not legacy.looks_legacy(text)
    assert cues.fold_separators(text) == text.replace("\u2013", "-")


@pytest.mark.parametrize(("outside", "folded"), [
    ("\u041c", "M"),  # Cyrillic capital em
    ("\u13b7", "M"),  # Cherokee letter
    ("\uff2d", "M"),  # full-width M
    ("\U0001d40c", "M"),  # mathematical bold M
])
def test_one_character_outside_the_table_takes_the_long_way(outside: str, folded: str) -> None:
    text = LETTER + f"{outside}ẬT\n"
    assert not is_common_vietnamese(text)
    folded_text, changed = fold_lookalikes(text)
    assert changed and folded_text.endswith(f"\n{folded}ẬT\n")
    assert strip_diacritics(text) == vntext._strip_any(text)
    assert cues.find_secrecy(text) == "MẬT"


def test_a_legacy_encoded_text_is_still_recognised() -> None:
    tcvn3 = "C«ng v¨n sè 123 vÒ viÖc triÓn khai, ®Ò nghÞ c¸c ®¬n vÞ thùc hiÖn"
    assert not is_common_vietnamese(tcvn3)
    assert legacy.looks_legacy(tcvn3)


def test_the_same_string_asked_again_is_answered_from_the_last_encode() -> None:
    text = LETTER * 2
    first = vntext._common_bytes(text)
    assert first is not None and vntext._common_bytes(text) is first
    other = LETTER + "\u0399"  # Greek capital iota: not common, even right after a common text
    assert vntext._common_bytes(other) is None
    assert vntext._common_bytes(text) == first
