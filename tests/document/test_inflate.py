"""Deflated ZIP entries are inflated by zlib-ng (``govmilter.document.archive``): the same bytes
and the same errors as zlib, and the same guards as reading the entry through :mod:`zipfile`.

Each stream and archive is built here: valid ones, truncated at many points, with bytes
corrupted at many points, a lying header, a bomb, an entry past the attachment limit.
"""

from __future__ import annotations

import dataclasses
import random
import struct
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from hostile_mail import (
    DOCX_TYPES,
    OFFICIAL_TEXT,
    UNSCANNABLE,
    rule_action,
    verdict_of,
    zip_archive,
    zip_bomb,
    zip_with_lying_size,
)
from zlib_ng import zlib_ng

from govmilter.document import archive
from govmilter.document.archive import DeflateError, GuardedZip, Inflated, inflate
from govmilter.document.budget import ScanBudget, Unscannable
from govmilter.mail.limits import Limits


def _text(size: int, seed: int) -> bytes:
    """``size`` bytes of Word-like XML with some noise: deflate packs it about 4:1."""
    rng = random.Random(seed)
    words = [OFFICIAL_TEXT.encode(), b'<w:r><w:rPr><w:b/></w:rPr><w:t xml:space="preserve">',
             b"</w:t></w:r>", b"</w:p><w:p>"]
    out = bytearray()
    while len(out) < size:
        out += rng.choice(words) + str(rng.randrange(10**9)).encode()
    return bytes(out[:size])


def _deflated(data: bytes, level: int = 6) -> bytes:
    packer = zlib.compressobj(level, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


def _streams() -> list[tuple[str, bytes]]:
    """Raw deflate streams: valid, with trailing bytes, truncated, corrupted, not deflate."""
    rng = random.Random(23)
    text = _text(300_000, 1)
    packed = _deflated(text)
    streams = [("valid", packed), ("stored-blocks", _deflated(text[:70_000], 0)),
               ("empty-stream", _deflated(b"")), ("no-bytes", b""),
               ("valid-then-junk", packed + b"junk"), ("zeros-bomb", _deflated(bytes(5 << 20)))]
    streams += [(f"cut-at-{cut}", packed[:cut]) for cut in (1, 2, 100, 5000, len(packed) // 2,
                                                              len(packed) - 1)]
    for number in range(40):
        spoilt = bytearray(packed)
        at = rng.randrange(len(spoilt)) if number else 0
        spoilt[at] ^= rng.randrange(1, 256)
        streams.append((f"byte-{at}-changed", bytes(spoilt)))
    streams += [(f"random-{n}", rng.randbytes(rng.randrange(1, 3000))) for n in range(20)]
    return streams


def _outcome(packed: bytes | memoryview, most: int, library: ModuleType) -> Inflated | str:
    try:
        return inflate(packed, most, library)
    except DeflateError as exc:
        return f"DeflateError: {exc}"


def test_inflate_gives_zlibs_bytes_and_errors_on_valid_truncated_and_corrupted_streams() -> None:
    refused = 0
    for _, packed in _streams():
        for most in (1, 4096, 65_536, 299_999, 300_000, 300_001, 10 << 20):
            expected = _outcome(packed, most, zlib)
            assert _outcome(packed, most, zlib_ng) == expected
            assert _outcome(memoryview(packed), most, zlib_ng) == expected
            refused += isinstance(expected, str)
    assert refused > 100  # the corrupted streams were tried, not only valid ones


def test_inflate_stops_at_most_and_says_how_the_stream_ended() -> None:
    text = _text(300_000, 2)
    packed = _deflated(text)
    assert inflate(packed, 10 << 20) == Inflated(text, stream_end=True, input_end=False)
    assert inflate(packed, 1000) == Inflated(text[:1000], stream_end=False, input_end=False)
    cut = inflate(packed[:len(packed) // 2], 10 << 20)
    assert cut.input_end and not cut.stream_end and text.startswith(cut.data) and cut.data
    # a bomb makes no more than it is allowed to
    assert len(inflate(_deflated(bytes(50 << 20)), 300_001).data) == 300_001
    with pytest.raises(DeflateError):
        inflate(b"\x07" + packed[1:], 10 << 20)  # block type 3 does not exist


def test_zlib_ng_inflates_when_installed_and_zlib_without_it() -> None:
    assert archive.INFLATE_LIBRARY is zlib_ng
    without = subprocess.run(
        [sys.executable, "-c", "import sys; sys.modules['zlib_ng'] = None\n"
         "from govmilter.document import archive\nprint(archive.INFLATE_LIBRARY.__name__)"],
        capture_output=True, text=True, check=True)
    assert without.stdout.strip() == "zlib"


# ---- GuardedZip: zlib-ng, zlib and zipfile's own reading, entry by entry ----------------------

NAME = "notes.txt"
TEXT = _text(400_000, 3)


def _local(data: bytes) -> int:
    return data.index(b"PK\x03\x04")


def _packed_at(data: bytes) -> int:
    """Where the (only) entry's compressed bytes start."""
    local = _local(data)
    name: int
    extra: int
    name, extra = struct.unpack_from("<HH", data, local + 26)
    return local + 30 + name + extra


def _patched(data: bytes, field: int, value: int) -> bytes:
    """``data`` (a one-entry ZIP) with the 4-byte field at ``field`` of the local header (CRC
    14, compressed size 18, size 22) and the central directory's (16, 20, 24) set to ``value``."""
    out = bytearray(data)
    central = out.index(b"PK\x01\x02")
    struct.pack_into("<I", out, _local(data) + field, value)
    struct.pack_into("<I", out, central + field + 2, value)
    return bytes(out)


def _spoilt(data: bytes, offset: int, xor: int = 0x5A) -> bytes:
    out = bytearray(data)
    out[_packed_at(data) + offset] ^= xor
    return bytes(out)


def _not_deflate(data: bytes) -> bytes:
    """``data`` (a one-entry ZIP) whose entry's first deflate block is of type 3, which does
    not exist."""
    out = bytearray(data)
    out[_packed_at(data)] = 0x07
    return bytes(out)


def _archives() -> list[tuple[str, bytes]]:
    plain = zip_archive({NAME: TEXT})
    packed_size = struct.unpack_from("<I", plain, _local(plain) + 18)[0]
    cases = [
        ("valid", plain),
        ("stored", zip_archive({NAME: TEXT}, zipfile.ZIP_STORED)),
        ("empty", zip_archive({NAME: b""})),
        ("docx-like", zip_archive({"[Content_Types].xml": DOCX_TYPES, NAME: TEXT})),
        ("lying-size-crc-of-prefix", zip_with_lying_size(plain, 1000, zlib.crc32(TEXT[:1000]))),
        ("lying-size-crc-of-all", zip_with_lying_size(plain, 1000)),
        ("lying-size-larger", zip_with_lying_size(plain, 30 << 20)),
        ("bomb", zip_bomb(3 << 20, NAME)),
        ("bomb-lying-size", zip_with_lying_size(zip_bomb(3 << 20, NAME), 1000)),
        ("crc-wrong", _patched(plain, 14, zlib.crc32(TEXT) ^ 1)),
        ("packed-size-short", _patched(plain, 18, packed_size // 2)),
        ("packed-size-past-the-end", _patched(plain, 18, packed_size + 10_000)),
        ("packed-size-zero", _patched(plain, 18, 0)),
        ("block-type-3", _not_deflate(plain)),
    ]
    rng = random.Random(5)
    cases += [(f"byte-{at}-changed", _spoilt(plain, at))
              for at in sorted(rng.sample(range(packed_size), 30))]
    return cases


def _read(data: bytes, limits: Limits, reader: type[GuardedZip] = GuardedZip
          ) -> tuple[bytes | str, tuple[str, ...]]:
    budget = ScanBudget(limits)
    try:
        zipped = reader(data, budget, "ZIP archive", "attachment 1")
        return zipped.read(zipped.entries[-1]), tuple(budget.reasons)
    except Unscannable as exc:
        return f"Unscannable: {exc}", tuple(budget.reasons)
    except zlib.error:  # zipfile's own reading lets it through
        return "Unscannable: ZIP archive entry could not be read (DeflateError)", ()


class _ZipfileReading(GuardedZip):
    """Every entry read the way stored ones are: zipfile's stream, the ratio checked on each
    64 KiB it gives."""

    def _inflated(self, info: zipfile.ZipInfo, cap: int) -> bytes:
        return self._streamed(info, cap)


LIMITS = [Limits(), dataclasses.replace(Limits(), max_attachment_bytes=100_000),
          dataclasses.replace(Limits(), max_attachment_bytes=399_999)]


@pytest.mark.parametrize(("case", "data"), _archives(), ids=[c for c, _ in _archives()])
def test_a_zip_entry_reads_the_same_with_zlib_ng_zlib_and_zipfile(
        monkeypatch: pytest.MonkeyPatch, case: str, data: bytes) -> None:
    for limits in LIMITS:
        fast = _read(data, limits)
        monkeypatch.setattr(archive, "INFLATE_LIBRARY", zlib)
        assert _read(data, limits) == fast
        monkeypatch.setattr(archive, "INFLATE_LIBRARY", zlib_ng)
        assert _read(data, limits, _ZipfileReading) == fast, (case, limits.max_attachment_bytes)


def test_the_archives_above_exercise_every_outcome() -> None:
    outcomes = {str(_read(data, limits)[0]) for _, data in _archives() for limits in LIMITS}
    assert any(o.startswith("Unscannable: ZIP archive entry expands more") for o in outcomes)
    assert any("(BadZipFile)" in o for o in outcomes)
    assert any("(DeflateError)" in o for o in outcomes)
    assert any("(EOFError)" in o for o in outcomes)
    # one byte over the cap, and the CRC of all of it: what the cap keeps is read, and said
    assert _read(zip_archive({NAME: TEXT}), LIMITS[2]) == (
        TEXT[:399_999], ("attachment 1: ZIP archive entry larger than 399999 bytes was cut",))
    assert _read(zip_archive({NAME: TEXT}), Limits())[0] == TEXT


#: A ZIP, and a DOCX, whose deflated entry is not a deflate stream: it used to escape as
#: zlib's error, and the message got the milter's on_error instead of a verdict.
CORRUPT: list[tuple[str, Callable[[], bytes], str, str]] = [
    ("zip", lambda: _not_deflate(zip_archive({NAME: OFFICIAL_TEXT.encode() * 50})), "a.zip",
     "attachment 1 > entry 1: ZIP archive entry could not be read (DeflateError)"),
    ("docx", lambda: _not_deflate(zip_archive({"word/document.xml": b"<w:document>"
                                               + OFFICIAL_TEXT.encode() * 50
                                               + b"</w:document>"})), "vb.docx",
     "attachment 1: DOCX document entry could not be read (DeflateError)"),
]


@pytest.mark.parametrize(("build", "filename", "reason"), [c[1:] for c in CORRUPT],
                         ids=[c[0] for c in CORRUPT])
def test_an_entry_that_is_not_deflate_data_is_unscannable(
        tmp_path: Path, build: Callable[[], bytes], filename: str, reason: str) -> None:
    verdict = verdict_of(tmp_path, build(), filename)
    assert verdict["document_class"] == "unscannable"
    assert reason in verdict["unscannable"], verdict["unscannable"]  # type: ignore[operator]
    assert rule_action(verdict) == UNSCANNABLE
