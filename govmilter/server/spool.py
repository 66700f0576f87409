"""A bounded message buffer: memory up to a limit, then an anonymous temporary file.

The milter keeps each message it is given until the end of the message. Small messages stay in
memory; past ``memory_bytes`` the data moves to a temporary file created with mode 0600 and
already unlinked (``tempfile.TemporaryFile``), so nothing is left on disk even if the process is
killed, and :meth:`MessageSpool.close` frees it at end of message or abort. A message whose
client declared it larger than ``memory_bytes`` (ESMTP ``SIZE``) goes to the file from its first
byte: gathering it in memory first would only cost a megabyte buffer, zero-filled page by page,
copied to the file and freed. A client that declares less than it sends is spooled as any other
message, and one that declares more only has its message in a file.

The file is written in whole blocks of :data:`FILE_BLOCK` bytes, the last one at end of message:
the kernel then keeps the file in large page-cache folios, each allocated and freed once, rather
than in the pieces that Postfix's 65,535-byte body chunks, one write each, made of it
(docs/performance.md, "Milter process"). Less than a block waits for the file at any time: the
tail of a body chunk by reference, a header line or a few bytes copied.

At end of message the spool hands the message to a scan worker without copying it
(:meth:`MessageSpool.handover`): a view of its memory buffer, or a read-only descriptor of its
temporary file that the worker reads itself.

A full disk shows up as an ``OSError`` (ENOSPC) from :meth:`MessageSpool.write`, or from
:meth:`MessageSpool.finish` for the last block; the milter answers that message with the policy's
``on_error``. :meth:`close` never raises, so freeing a message whose
last buffered bytes could not be written does not turn one failure into two.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
from typing import IO


@dataclasses.dataclass(frozen=True, slots=True)
class SpooledFile:
    """A message in a file: its first ``size`` bytes, from the start of descriptor ``fd``.

    The descriptor is the spool's, open for reading only, and stays open until the spool is
    closed; whoever receives it (a scan worker, over its socket) reads with ``pread`` and
    closes its own copy.
    """

    fd: int
    size: int

    def read(self) -> bytes:
        """The bytes (the milter's own scan, without workers)."""
        return read_file(self.fd, self.size)


#: What :meth:`MessageSpool.handover` gives: the message's bytes, or where to read them.
Handover = bytes | memoryview | SpooledFile


#: The spool's file is written in blocks of this many bytes (see the module docstring).
FILE_BLOCK = 64 * 1024
#: A piece of a message waiting for its block is kept by reference from this size up (it is
#: the caller's immutable ``bytes``); a smaller one is copied into a buffer of the spool's own,
#: so that a few bytes left of a body chunk do not hold the whole chunk.
KEEP_BY_REFERENCE = 16 * 1024


def write_all(fd: int, parts: list[memoryview]) -> None:
    """Write ``parts`` in order to ``fd`` at its offset, in as few ``writev`` calls as the
    kernel allows (a regular file takes them in one, short of a full disk)."""
    views = [part for part in parts if part.nbytes]
    while views:
        written = os.writev(fd, views)
        while views and written >= views[0].nbytes:
            written -= views[0].nbytes
            views.pop(0)
        if views and written:
            views[0] = views[0][written:]


def read_file(fd: int, size: int) -> bytes:
    """The first ``size`` bytes of the file open as ``fd`` (fewer if it is shorter), read in one
    ``pread`` into the bytes returned (no buffer in between); the file's offset is left alone."""
    data = os.pread(fd, size, 0)
    while len(data) < size:
        more = os.pread(fd, size - len(data), len(data))
        if not more:
            break
        data += more
    return data


class MessageSpool:
    """Collects the bytes of one message (headers as received, then the body).

    Its own memory buffer rather than ``tempfile.SpooledTemporaryFile``, whose Python-level
    ``write`` (a roll-over check per call, one call per header) cost four times as much.
    """

    def __init__(self, memory_bytes: int, directory: str | None = None,
                 declared_size: int | None = None) -> None:
        self._memory_bytes = max(memory_bytes, 1)
        self._directory = directory
        #: the client declared a message past the memory limit: to the file from the first byte
        self._to_file = declared_size is not None and declared_size > self._memory_bytes
        self._buffer = bytearray()
        self._file: IO[bytes] | None = None
        #: what is not yet in the file, in order: fewer than FILE_BLOCK bytes in all
        self._staged: list[bytes | bytearray | memoryview] = []
        self._staged_bytes = 0
        self._reader: int | None = None  #: the file opened again, read-only, for a worker
        self.size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Append bytes to the message (``bytes`` may be kept by reference until written)."""
        if self._file is None and self._to_file:
            self._roll_over()
        if self._file is not None:
            self._stage(data)
        else:
            self._buffer += data
            if len(self._buffer) > self._memory_bytes:
                self._roll_over()
        self.size += len(data)

    def _roll_over(self) -> None:
        file = tempfile.TemporaryFile(  # noqa: SIM115 - closed by close()
            mode="w+b", buffering=0, prefix="govmilter-", dir=self._directory)
        self._file = file
        buffer, self._buffer = self._buffer, bytearray()
        try:
            self._stage(buffer)
        except OSError:
            self.close()
            raise

    def _stage(self, data: bytes | bytearray | memoryview) -> None:
        """Add ``data`` to what waits for the file; write every whole block it completes."""
        assert self._file is not None
        by_reference = isinstance(data, bytes)  # immutable: cannot change before it is written
        piece = memoryview(data).cast("B")
        staged = self._staged
        end = self._staged_bytes + piece.nbytes
        if end >= FILE_BLOCK:
            take = end - end % FILE_BLOCK - self._staged_bytes
            write_all(self._file.fileno(), [*_views(staged), piece[:take]])
            staged.clear()
            piece, end = piece[take:], end % FILE_BLOCK
        if by_reference and piece.nbytes >= KEEP_BY_REFERENCE:
            staged.append(piece)
        elif staged and isinstance(staged[-1], bytearray):
            staged[-1] += piece
        elif piece.nbytes:
            staged.append(bytearray(piece))
        self._staged_bytes = end

    def finish(self) -> None:
        """Write what waits for the file (its last, partial block); nothing when in memory.

        :raises OSError: the disk is full (ENOSPC), as from :meth:`write`.
        """
        if self._file is not None and self._staged:
            write_all(self._file.fileno(), _views(self._staged))
            self._staged.clear()
            self._staged_bytes = 0

    @property
    def on_disk(self) -> bool:
        """True once the message outgrew the memory limit and moved to a temporary file."""
        return self._file is not None

    def read(self, limit: int) -> bytes:
        """Return the first ``limit`` bytes of the message (the scanner's budget, not more)."""
        if self._file is None:
            with memoryview(self._buffer) as view:
                return bytes(view[:limit])
        self.finish()
        return read_file(self._file.fileno(), min(self.size, limit))

    def handover(self, limit: int) -> Handover:
        """The first ``limit`` bytes of the message for a scan, without a copy: a view of the
        memory buffer (valid until the next :meth:`write` or :meth:`close`), or the temporary
        file as a read-only descriptor (:class:`SpooledFile`, open until :meth:`close`), so
        that a worker can read the file but not change what a second scan of it reads. Where
        the file cannot be opened again (no ``/proc``), its bytes."""
        if self._file is None:
            return memoryview(self._buffer)[:limit]
        self.finish()
        if self._reader is None:
            try:
                self._reader = os.open(f"/proc/self/fd/{self._file.fileno()}",
                                       os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                return self.read(limit)
        return SpooledFile(self._reader, min(self.size, limit))

    def close(self) -> None:
        """Free the memory or the temporary file; safe to call twice, never raises."""
        self._buffer = bytearray()
        self._staged.clear()
        self._staged_bytes = 0
        if self._reader is not None:
            with contextlib.suppress(OSError):
                os.close(self._reader)
            self._reader = None
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()


def _views(parts: list[bytes | bytearray | memoryview]) -> list[memoryview]:
    return [memoryview(part) for part in parts]
