"""The load of the mixes whose messages differ: ``smtp-source`` sends one file again and
again, so these are sent by this sender, as smtp-source does it: ``sessions`` concurrent
SMTP clients, each one message per connection (EHLO, MAIL, RCPT, DATA, QUIT), the files taken
in turn so that a run of N messages sends N different documents when there are N files."""

from __future__ import annotations

import itertools
import smtplib
import threading
from collections.abc import Sequence
from pathlib import Path


def send_all(port: int, files: Sequence[Path], count: int, sessions: int, sender: str,
             recipient: str, timeout: float = 600) -> list[str]:
    """Send ``count`` messages (``files`` in turn) to 127.0.0.1:``port``; the errors, if any.

    The files are read (and their bare LF line ends made CRLF) before the first connection,
    so the load is the sending alone.
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
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=timeout) as smtp:
                    smtp.sendmail(sender, [recipient], messages[number % len(messages)])
            except (OSError, smtplib.SMTPException) as error:
                with lock:
                    errors.append(f"message {number}: {error}")

    threads = [threading.Thread(target=client) for _ in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
