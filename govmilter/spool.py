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


class MessageSpool:
    """Collects the bytes of one message (headers as received, then the body)."""

    def __init__(self, memory_bytes: int, directory: str | None = None) -> None:
        self._file = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - closed by close()
            max_size=max(memory_bytes, 1), mode="w+b", prefix="govmilter-", dir=directory)
        self.size = 0

    def write(self, data: bytes) -> None:
        """Append bytes to the message."""
        self._file.write(data)
        self.size += len(data)

    @property
    def on_disk(self) -> bool:
        """True once the message outgrew the memory limit and moved to a temporary file."""
        return bool(getattr(self._file, "_rolled", False))

    def read(self, limit: int) -> bytes:
        """Return the first ``limit`` bytes of the message (the scanner's budget, not more)."""
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
        with contextlib.suppress(OSError):
            self._file.close()
