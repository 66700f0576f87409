"""The load of the mixes whose messages differ: ``smtp-source`` sends one file again and
again, so these are sent by this sender, as smtp-source does it: ``sessions`` concurrent
SMTP clients, each one message per connection (EHLO, MAIL, RCPT, DATA, QUIT), the files taken
in turn so that a run of N messages sends N different documents when there are N files."""

from __future__ import annotations

import itertools
import smtplib
import threading
from collections.abc import Callable, Sequence
from pathlib import Path


class Progress:
    """How many messages one sender has sent, for another sender to keep pace with it (one
    scan after every 20 plain messages)."""

    def __init__(self) -> None:
        self._sent = 0
        self._changed = threading.Condition()

    def sent_one(self, number: int = 0) -> None:
        """Count one message sent (or failed: the pace must not stall on an error)."""
        with self._changed:
            self._sent += 1
            self._changed.notify_all()

    def wait_for(self, sent: int, timeout: float = 600) -> None:
        """Block until ``sent`` messages were counted, or ``timeout`` seconds passed."""
        with self._changed:
            self._changed.wait_for(lambda: self._sent >= sent, timeout)


def send_all(port: int, files: Sequence[Path], count: int, sessions: int, sender: str,
             recipient: str, timeout: float = 600, *,
             before: Callable[[int], None] | None = None,
             after: Callable[[int], None] | None = None) -> list[str]:
    """Send ``count`` messages (``files`` in turn) to 127.0.0.1:``port``; the errors, if any.

    The files are read (and their bare LF line ends made CRLF) before the first connection,
    so the load is the sending alone. ``before(n)`` is called before message ``n`` (from 0) is
    sent, and may wait; ``after(n)`` once it was sent or failed.
    """
    messages = [path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
                for path in files]
    numbers = itertools.count()
    lock = threading.Lock()
    errors: list[str] = []

    def client() -> None:
        while True:
            with lock:
                number = next(numbers)
            if number >= count:
                return
            if before is not None:
                before(number)
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=timeout) as smtp:
                    smtp.sendmail(sender, [recipient], messages[number % len(messages)])
            except (OSError, smtplib.SMTPException) as error:
                with lock:
                    errors.append(f"message {number}: {error}")
            finally:
                if after is not None:
                    after(number)

    threads = [threading.Thread(target=client) for _ in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
