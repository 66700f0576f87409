"""Archives other than ZIP: RAR (4 and 5), 7z, tar, and gzip, bzip2 and xz files, read through
libarchive (the ``libarchive-c`` binding of the system's ``libarchive13``).

One maintained C library reads every one of these formats; nothing here decompresses by itself.
The same limits as for ZIP apply: each entry is read in blocks and cut at the per-attachment
limit, the bytes unpacked from one archive may not pass ``max_zip_ratio`` times its packed size,
and every entry counts against the message's ``max_zip_entries``. Encrypted entries are never
read (libarchive would hand back ciphertext for RAR 4): they are ``unscannable`` with that reason.

Debian 12's libarchive (3.6) does not report RAR 5 encryption at all, so the RAR 5 block headers
are walked here first (:func:`rar5_encrypted`) for an archive encryption header or a file
encryption record.

libarchive's own error text is never passed on (it may quote an entry's name): a reason says only
what kind of failure it was.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from govmilter.document.budget import ScanBudget, Unscannable

if TYPE_CHECKING:
    import libarchive

#: libarchive-c logs libarchive's warnings, whose text may hold an entry's file name.
logging.getLogger("libarchive").setLevel(logging.ERROR)

_CHUNK = 64 * 1024
_FORMATS = ("rar", "rar5", "7zip", "tar")
#: Compressed streams: when no archive format reads their content, it is one file ("raw"
#: format; only once the magic matched, as raw takes any bytes at all as a one-file archive).
_STREAMS = ("gzip file", "bzip2 file", "xz file")
_FILTERS = ("gzip", "bzip2", "xz")

#: (magic bytes, offset, what the file is called in reasons)
_MAGIC = (
    (b"Rar!\x1a\x07\x01\x00", 0, "RAR archive"),
    (b"Rar!\x1a\x07\x00", 0, "RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", 0, "7z archive"),
    (b"\x1f\x8b\x08", 0, "gzip file"),
    (b"BZh", 0, "bzip2 file"),
    (b"\xfd7zXZ\x00", 0, "xz file"),
    (b"ustar", 257, "tar archive"),
)
_RAR5_MAGIC = _MAGIC[0][0]
#: File name endings and declared types that claim one of these formats.
_SUFFIXES = {".rar": "RAR archive", ".7z": "7z archive", ".tar": "tar archive",
             ".tgz": "gzip file", ".gz": "gzip file", ".tbz": "bzip2 file", ".tbz2": "bzip2 file",
             ".bz2": "bzip2 file", ".txz": "xz file", ".xz": "xz file"}
_TYPES = {"application/vnd.rar": "RAR archive", "application/x-rar-compressed": "RAR archive",
          "application/x-rar": "RAR archive", "application/x-7z-compressed": "7z archive",
          "application/x-tar": "tar archive", "application/gzip": "gzip file",
          "application/x-gzip": "gzip file", "application/x-bzip2": "bzip2 file",
          "application/x-xz": "xz file"}


@functools.cache
def _library() -> tuple[ModuleType, Callable[[int], int]]:
    """libarchive-c and the entry-encryption call, loaded by the first archive read (a process
    that never meets one, like most scan workers and the milter, does not map the library).

    libarchive-c binds no call for an entry's encryption flags: the one that covers both (data
    or metadata encrypted) is bound on the same library handle.
    """
    import libarchive
    import libarchive.ffi
    import libarchive.read

    entry_is_encrypted = libarchive.ffi.libarchive.archive_entry_is_encrypted
    entry_is_encrypted.argtypes = [ctypes.c_void_p]
    entry_is_encrypted.restype = ctypes.c_int
    return libarchive, entry_is_encrypted


@dataclass(frozen=True, slots=True)
class PackedEntry:
    """One file read from an archive (``data`` cut at the per-attachment limit)."""

    name: str | None
    data: bytes


def packed_kind(data: bytes, filename: str | None, content_type: str) -> str | None:
    """What to call the file (``RAR archive``...) when its bytes or its name or type say it is
    one of these formats, else None. The bytes win: a ``.rar`` name on a PDF is a PDF."""
    found = packed_magic(data)
    if found:
        return found
    name = (filename or "").lower()
    for suffix, what in _SUFFIXES.items():
        if name.endswith(suffix):
            return what
    return _TYPES.get(content_type)


def packed_magic(data: bytes) -> str | None:
    """What the file is by its magic bytes, or None."""
    for magic, offset, what in _MAGIC:
        if data[offset:offset + len(magic)] == magic:
            return what
    return None


def _vint(data: bytes, pos: int) -> tuple[int, int]:
    """A RAR 5 variable-length integer at ``pos``: (value, position after it).

    :raises IndexError: the data ends inside it.
    """
    value = 0
    for shift in range(0, 70, 7):
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
    raise IndexError("RAR 5 number longer than 10 bytes")


def rar5_encrypted(data: bytes) -> bool:
    """True when a RAR 5 archive has encrypted headers or an encrypted file or service entry.

    Walks the block headers (RAR 5.0 technical note: CRC32, header size, type, flags, extra and
    data sizes; file and service headers end with their extra area, whose record type 1 is
    "file encryption"), skipping each data area: linear in the archive's size.
    """
    pos = len(_RAR5_MAGIC)
    try:
        while pos < len(data):
            size, start = _vint(data, pos + 4)
            end = start + size
            kind, at = _vint(data, start)
            flags, at = _vint(data, at)
            extra = data_size = 0
            if flags & 0x0001:
                extra, at = _vint(data, at)
            if flags & 0x0002:
                data_size, at = _vint(data, at)
            if size == 0 or end > len(data) or kind == 5:  # damaged, or the end of archive
                return False
            if kind == 4:  # archive encryption header: everything after it is encrypted
                return True
            if kind in (2, 3) and _has_encryption_record(data, end - extra, end):
                return True
            pos = end + data_size
    except IndexError:
        return False  # cut short: libarchive says the archive is damaged
    return False


def _has_encryption_record(data: bytes, pos: int, end: int) -> bool:
    """True when the extra area ``data[pos:end]`` holds a record of type 1 (encryption)."""
    while pos < end:
        size, at = _vint(data, pos)
        kind, _ = _vint(data, at)
        if kind == 1:
            return True
        if size == 0:
            return False
        pos = at + size
    return False


def read_packed(data: bytes, what: str, budget: ScanBudget, source: str,
                filename: str | None = None) -> Iterator[PackedEntry]:
    """The files of an archive, one at a time, within the scan's limits.

    A gzip, bzip2 or xz file's one file is named as in its gzip header, else after ``filename``
    (the archive's own name) without its last suffix, as gunzip names it.

    Reading stops at the time budget and at the message's entry budget (a reason is noted), and
    after an entry cut at the per-attachment limit (going on would make libarchive unpack the
    rest of that entry, unbounded, to reach the next one).

    :raises Unscannable: the archive cannot be opened or read, is encrypted, or unpacks past
        ``max_zip_ratio`` times its size.
    """
    if data.startswith(_RAR5_MAGIC) and rar5_encrypted(data):
        raise Unscannable(f"{what} is password-protected (encrypted entries)")
    formats = _FORMATS + (("raw",) if packed_magic(data) else ())
    library, _ = _library()
    try:
        seen = yield from _entries(data, formats, what, budget, source, filename)
        if not seen and packed_magic(data) in _STREAMS:
            # a stream starting with 1 KiB of zeros reads as an empty tar; gunzip would still
            # give the whole file, so it is read as one
            yield from _entries(data, ("raw",), what, budget, source, filename)
    except library.ArchiveError as exc:
        message = str(exc.msg).lower()
        if "encrypt" in message or "passphrase" in message or "password" in message:
            raise Unscannable(f"{what} is password-protected (encrypted entries)") from exc
        raise Unscannable(f"{what} could not be read (damaged or not this format)") from exc


def _entries(data: bytes, formats: tuple[str, ...], what: str, budget: ScanBudget, source: str,
             filename: str | None) -> Generator[PackedEntry, None, int]:
    """:func:`read_packed` with libarchive reading ``formats``; returns how many entries the
    archive had (an empty tar: none).

    :raises libarchive.ArchiveError: libarchive's own errors, for the caller to word.
    """
    libarchive, entry_is_encrypted = _library()
    unpacked = 0
    seen = 0
    cap = budget.limits.max_attachment_bytes
    buffer = ctypes.create_string_buffer(_CHUNK)
    with _reader(data, formats) as archive_p:
        for entry in libarchive.read.ArchiveRead(archive_p):
            seen += 1
            if budget.expired() or not budget.take_entry(f"{source}: {what}"):
                break
            if entry_is_encrypted(entry._entry_p):
                raise Unscannable(f"{what} is password-protected (encrypted entries)")
            # every entry's data is read whatever its type says: a type is one edit away
            # (7z -si stores a file as a FIFO); a directory or a link simply has none
            chunks: list[bytes] = []
            size = 0
            while size <= cap and not budget.expired():
                got = libarchive.ffi.read_data(archive_p, buffer, _CHUNK)
                if got <= 0:
                    break
                chunks.append(buffer.raw[:got])
                size += got
                unpacked += got
                budget.check_ratio(unpacked, len(data), what, "archive bomb")
            content = b"".join(chunks)
            name = _name(entry)
            if name == "data" and libarchive.ffi.format_name(archive_p) == b"raw":
                name = _unsuffixed(filename)  # "data" is libarchive's "no name stored"
            yield PackedEntry(name, content[:cap])
            if len(content) > cap:
                budget.note(f"{source}: {what} entry larger than {cap} bytes was cut; the "
                            "rest of the archive was not read")
                break
    return seen


@contextlib.contextmanager
def _reader(data: bytes, formats: tuple[str, ...]) -> Iterator[int]:
    """A libarchive read handle on ``data`` for these formats and filters only.

    Not libarchive's "all": that includes mtree, whose entries name files on this machine that
    libarchive then opens, and filters that run external programs (lrzip, lzop, grzip).
    """
    ffi = _library()[0].ffi
    archive_p = ffi.read_new()
    try:
        for name in _FILTERS:
            ffi.get_read_filter_function(name)(archive_p)
        for name in formats:
            ffi.get_read_format_function(name)(archive_p)
        ffi.read_open_memory(archive_p, ctypes.c_char_p(data), len(data))
        yield archive_p
    finally:
        ffi.read_free(archive_p)


def _unsuffixed(filename: str | None) -> str | None:
    """``letter.txt.gz`` -> ``letter.txt``; None for no name or no suffix."""
    if not filename or "." not in filename:
        return None
    return filename.rsplit(".", 1)[0]


def _name(entry: libarchive.ArchiveEntry) -> str | None:
    """The entry's path, or None when libarchive cannot give it as text."""
    try:
        name = entry.pathname
    except (UnicodeError, ValueError):
        return None
    return name if isinstance(name, str) else None
