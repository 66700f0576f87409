"""A bounded message buffer: memory up to a limit, then an anonymous temporary file.

The milter keeps each message it is given until the end of the message. Small messages stay in
memory; past ``memory_bytes`` the data moves to a temporary file created with mode 0600 and
already unlinked (``tempfile.TemporaryFile``), so nothing is left on disk even if the process is
killed, and :meth:`MessageSpool.close` frees it at end of message or abort.

A full disk shows up as an ``OSError`` (ENOSPC) from :meth:`MessageSpool.write`; the milter answers
that message with the policy's ``on_error``. :meth:`close` never raises, so freeing a message whose
last buffered bytes could not be written does not turn one failure into two.
"""

from __future__ import annotations

import contextlib
import tempfile
from typing import IO


class MessageSpool:
    """Collects the bytes of one message (headers as received, then the body).

    Its own memory buffer rather than ``tempfile.SpooledTemporaryFile``, whose Python-level
    ``write`` (a roll-over check per call, one call per header) cost four times as much.
    """

    def __init__(self, memory_bytes: int, directory: str | None = None) -> None:
        self._memory_bytes = max(memory_bytes, 1)
        self._directory = directory
        self._buffer = bytearray()
        self._file: IO[bytes] | None = None
        self.size = 0

    def write(self, data: bytes) -> None:
        """Append bytes to the message."""
        if self._file is not None:
            self._file.write(data)
        else:
            self._buffer += data
            if len(self._buffer) > self._memory_bytes:
                self._roll_over()
        self.size += len(data)

    def _roll_over(self) -> None:
        file = tempfile.TemporaryFile(  # noqa: SIM115 - closed by close()
            mode="w+b", prefix="govmilter-", dir=self._directory)
        try:
            file.write(self._buffer)
        except OSError:
            with contextlib.suppress(OSError):
                file.close()
            raise
        self._file, self._buffer = file, bytearray()

    @property
    def on_disk(self) -> bool:
        """True once the message outgrew the memory limit and moved to a temporary file."""
        return self._file is not None

    def read(self, limit: int) -> bytes:
        """Return the first ``limit`` bytes of the message (the scanner's budget, not more)."""
        if self._file is None:
            with memoryview(self._buffer) as view:
                return bytes(view[:limit])
        self._file.seek(0)
        data = self._file.read(limit)
        self._file.seek(0, 2)
        return data

    def close(self) -> None:
        """Free the memory or the temporary file; safe to call twice, never raises.

        Closing flushes the write buffer first; on a full disk that flush fails again, but the
        descriptor is closed all the same (``io`` closes the raw file in a ``finally``) and the
        bytes are being thrown away anyway, so the error is dropped here.
        """
        self._buffer = bytearray()
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
