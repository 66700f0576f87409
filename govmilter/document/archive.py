"""Reading ZIP containers (plain archives, DOCX, ODT) without trusting their headers.

A ZIP's declared sizes may lie, and a small file can expand to gigabytes. Every read here is
capped (the per-attachment limit), the number of entries and the expansion ratio are bounded by
the policy's limits, and encrypted entries are refused.

Deflated entries, nearly all of them, are inflated here from the archive's bytes by zlib-ng
where it is installed (the same stream format and results as zlib, in about half the time:
docs/performance.md, DOCX), else by zlib; the other methods are read by :mod:`zipfile`.
"""

from __future__ import annotations

import copy
import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from types import ModuleType
from typing import Protocol

from govmilter.document.budget import ScanBudget, Unscannable

#: The library that inflates deflated entries: zlib-ng when installed, else zlib. Both have
#: zlib's module interface (``decompressobj``, ``crc32``, ``error``).
INFLATE_LIBRARY: ModuleType
try:
    from zlib_ng import zlib_ng as INFLATE_LIBRARY
except ImportError:  # an install without the speed-up: zlib, slower, with the same results
    INFLATE_LIBRARY = zlib

_CHUNK = 64 * 1024
#: A ZIP local file header: 30 bytes, the name's and the extra field's lengths at 26 and 28.
_LOCAL_HEADER = struct.Struct("<26xHH")


class _Inflater(Protocol):
    eof: bool

    def decompress(self, data: bytes | memoryview, max_length: int = ...) -> bytes: ...

    def flush(self) -> bytes: ...


class DeflateError(Exception):
    """A deflate stream that is not one (a bad block, a distance before the start)."""


@dataclass(frozen=True, slots=True)
class Inflated:
    """What :func:`inflate` made of a deflate stream."""

    data: bytes
    stream_end: bool  #: the stream's end was reached
    input_end: bool  #: the input ran out in mid-stream (a truncated stream: ``data`` is its start)


def inflate(packed: bytes | memoryview, most: int, library: ModuleType | None = None
            ) -> Inflated:
    """At most ``most`` (> 0) bytes of the raw deflate stream ``packed``, whatever the stream
    would expand to. Of a truncated stream, what it gives is returned, as :mod:`zipfile` does.

    ``library``: zlib's interface (default :data:`INFLATE_LIBRARY`).

    :raises DeflateError: the bytes are not deflate data.
    """
    library = library or INFLATE_LIBRARY
    inflater: _Inflater = library.decompressobj(-15)
    try:
        data = inflater.decompress(packed, most)
        if len(data) >= most or inflater.eof:
            return Inflated(data, inflater.eof, False)
        # short of ``most`` and of the stream's end: the input was all read
        return Inflated((data + inflater.flush())[:most], False, True)
    except library.error as exc:
        raise DeflateError(str(exc)) from None


class GuardedZip:
    """A ZIP archive opened within the scan's limits."""

    def __init__(self, data: bytes, budget: ScanBudget, what: str = "ZIP archive",
                 source: str = "") -> None:
        self.what = what
        self.budget = budget
        self.source = source  #: which attachment (``attachment 2``), for reasons noted here
        self._data = data
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self._zip.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
            raise Unscannable(f"{what} could not be opened ({type(exc).__name__})") from exc
        limit = budget.limits.max_zip_entries
        if len(infos) > limit:
            raise Unscannable(f"{what} has {len(infos)} entries, more than {limit} "
                              "(limits.max_zip_entries)")
        self.entries = [i for i in infos if not i.is_dir()]

    def names(self) -> list[str]:
        """The file entries' names, in archive order."""
        return [i.filename for i in self.entries]

    def read(self, info: zipfile.ZipInfo | str) -> bytes:
        """Read one entry, capped at the per-attachment limit and checked for expansion.

        :raises Unscannable: encrypted entry, expansion past ``max_zip_ratio``, corrupt data.
        """
        if isinstance(info, str):
            info = self._zip.getinfo(info)
        limits = self.budget.limits
        if info.flag_bits & 0x1:
            raise Unscannable(f"{self.what} is password-protected (encrypted entries)")
        self.budget.check_ratio(info.file_size, info.compress_size, f"{self.what} entry",
                                "ZIP bomb")
        cap = limits.max_attachment_bytes
        try:
            if info.compress_type == zipfile.ZIP_DEFLATED:
                data = self._inflated(info, cap)
            else:
                data = self._streamed(info, cap)
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError,
                RuntimeError, DeflateError) as exc:
            raise Unscannable(f"{self.what} entry could not be read ({type(exc).__name__})"
                              ) from exc
        if len(data) > cap:
            where = f"{self.source}: " if self.source else ""
            self.budget.note(f"{where}{self.what} entry larger than {cap} bytes was cut")
            data = data[:cap]
        return data

    def _streamed(self, info: zipfile.ZipInfo, cap: int) -> bytes:
        """A stored (or bzip2, LZMA) entry through :mod:`zipfile`, to at most ``cap`` + 1 bytes
        give or take a chunk, the ratio checked on what was really read."""
        # zipfile stops at the declared size, unzip inflates the whole stream: read on to the
        # cap, so what a lying header hides is read (and a CRC made for the prefix fails)
        whole = copy.copy(info)
        whole.file_size = max(info.file_size, cap + 1)
        chunks: list[bytes] = []
        size = 0
        with self._zip.open(whole) as stream:
            while size <= cap:
                chunk = stream.read(_CHUNK)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
                # The header may lie about sizes: check the ratio on what was really read.
                self.budget.check_ratio(size, info.compress_size, f"{self.what} entry",
                                        "ZIP bomb")
        return b"".join(chunks)

    def _inflated(self, info: zipfile.ZipInfo, cap: int) -> bytes:
        """A deflated entry inflated in one call from the archive's bytes, with the guards of
        :meth:`_streamed`: at most ``cap`` + 1 bytes, and at most one byte past what the ratio
        allows (which is then refused); the CRC checked whenever the reading ended where
        zipfile's would check it; a stream cut short by the archive's end is an ``EOFError``.
        """
        # zipfile checks the local header (its signature, name, flags) and the method
        self._zip.open(info).close()
        start = info.header_offset + 30 + sum(_LOCAL_HEADER.unpack_from(
            self._data, info.header_offset))
        packed = memoryview(self._data)[start:start + info.compress_size]
        inflated = inflate(packed, min(cap, self.budget.most_unpacked(info.compress_size)) + 1)
        data = inflated.data
        self.budget.check_ratio(len(data), info.compress_size, f"{self.what} entry", "ZIP bomb")
        if len(packed) < info.compress_size:
            # the archive ends inside the entry's compressed bytes: zipfile says so as soon as
            # it reads past the end (for all but an entry of under 64 KiB)
            raise EOFError
        # zipfile reads on to the cap: its reading ends at the stream's end, at the end of the
        # entry's bytes, or at the cap when the declared size is no larger; there it checks
        # the CRC
        ended = inflated.stream_end or inflated.input_end or info.file_size <= len(data) == cap + 1
        if ended and INFLATE_LIBRARY.crc32(data) != info.CRC:
            raise zipfile.BadZipFile(f"Bad CRC-32 for file {info.filename!r}")
        return data
