"""Postfix's queue as the quarantine sees it: list, read, release and delete one message.

Two ways to the same four operations (:class:`HoldQueue`):

* :class:`PostfixQueue` runs ``postqueue``/``postsuper``/``postcat`` of one Postfix instance
  itself, which needs root (``postsuper`` refuses everyone else, and the hold queue is
  readable by Postfix's owner only): ``govmilter quarantine`` run by root.
* :class:`HelperQueue` asks govmilter's queue helper (:mod:`govmilter.tools.queue_helper`,
  run as root by systemd for each connection to a socket of group ``govmilter``): the console's
  unit and officers without root. The helper, not the caller, chooses the Postfix instance.

A queue id is checked before any command sees it (:func:`check_queue_id`): letters and digits
only, so that ``ALL``, ``-`` (standard input), an option or a path can never reach
``postsuper``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from govmilter.errors import GovmilterError

DEFAULT_POSTFIX_CONFIG = "/etc/postfix"
#: Where deploy/govmilter-queue.socket listens.
DEFAULT_QUEUE_HELPER = "/run/govmilter-queue.sock"
#: A Postfix queue id, short (hexadecimal) or long (``enable_long_queue_ids``): letters and
#: digits. At least five, so that ``postsuper``'s ``ALL`` is never one.
QUEUE_ID = re.compile(r"[0-9A-Za-z]{5,40}")
#: The longest request line the helper reads (``release`` + a space + the longest queue id).
MAX_REQUEST = 64
#: The longest answer a client reads: a held message can be as big as Postfix's message limit.
MAX_ANSWER = 256 * 1024 * 1024

Runner = Callable[..., "subprocess.CompletedProcess[Any]"]


class QuarantineError(GovmilterError):
    """A hold-queue operation could not be done (nothing held, Postfix refused...)."""


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """One message in a Postfix queue, as ``postqueue -j`` describes it."""

    queue_id: str
    queue_name: str
    arrival: _dt.datetime
    size: int
    sender: str
    recipients: tuple[str, ...]


class HoldQueue(Protocol):
    """The operations the quarantine needs from Postfix's queue."""

    def messages(self, queue_name: str = "hold") -> list[QueuedMessage]:
        """The messages of one queue, oldest first."""

    def content(self, queue_id: str) -> bytes:
        """A held message as queued: header and body."""

    def release(self, queue_id: str) -> None:
        """Take the message out of the hold queue and ask for its delivery now."""

    def delete(self, queue_id: str) -> None:
        """Delete the message from the hold queue."""


def check_queue_id(queue_id: str) -> str:
    """``queue_id`` when it is one; else :class:`QuarantineError` (nothing is run)."""
    if not QUEUE_ID.fullmatch(queue_id):
        raise QuarantineError(f"{queue_id[:MAX_REQUEST]!r} is not a Postfix queue id (letters "
                              "and digits only)")
    return queue_id


def parse_queue_json(output: str, queue_name: str) -> list[QueuedMessage]:
    """The messages of one queue in ``postqueue -j`` output, oldest first."""
    found = []
    for line in output.splitlines():
        entry = json.loads(line)
        if entry.get("queue_name") != queue_name:
            continue
        found.append(QueuedMessage(
            queue_id=str(entry["queue_id"]), queue_name=queue_name,
            arrival=_dt.datetime.fromtimestamp(int(entry.get("arrival_time", 0)), _dt.UTC),
            size=int(entry.get("message_size", 0)), sender=str(entry.get("sender", "")),
            recipients=tuple(str(r.get("address", "")) for r in entry.get("recipients", ()))))
    return sorted(found, key=lambda m: m.arrival)


class PostfixQueue:
    """The queue of one Postfix instance (``-c config_dir``), through its own commands."""

    def __init__(self, config_dir: str = DEFAULT_POSTFIX_CONFIG,
                 runner: Runner = subprocess.run) -> None:
        self.config_dir = config_dir
        self._run = runner

    def _command(self, *args: str, timeout: float = 60) -> str:
        output: str = self._output([args[0], "-c", self.config_dir, *args[1:]], timeout, True)
        return output

    def _output(self, argv: list[str], timeout: float, text: bool) -> Any:
        try:
            done = self._run(argv, capture_output=True, text=text, timeout=timeout,
                             check=False)
        except FileNotFoundError:
            raise QuarantineError(f"{argv[0]} not found: is Postfix installed?") from None
        except subprocess.TimeoutExpired:
            raise QuarantineError(f"{argv[0]} did not answer in {timeout:g} s") from None
        if done.returncode != 0:
            problem = done.stderr or done.stdout
            if isinstance(problem, bytes):
                problem = problem.decode("utf-8", "replace")
            lines = problem.strip().splitlines()
            hint = "" if os.geteuid() == 0 else (
                " (Postfix's queue needs root: give --queue-helper, docs/console.md)")
            shown = argv[:1] + argv[3:]  # without "-c config_dir"
            raise QuarantineError(f"{' '.join(shown)} failed: "
                                  f"{lines[-1] if lines else done.returncode}{hint}")
        return done.stdout

    def queue_json(self) -> str:
        """``postqueue -j``: one JSON object per queued message."""
        return self._command("postqueue", "-j")

    def messages(self, queue_name: str = "hold") -> list[QueuedMessage]:
        """The messages of one queue, oldest first."""
        return parse_queue_json(self.queue_json(), queue_name)

    def content(self, queue_id: str) -> bytes:
        """The message as queued: header and body."""
        data: bytes = self._output(["postcat", "-c", self.config_dir, "-hbq",
                                    check_queue_id(queue_id)], 60, False)
        return data

    def release(self, queue_id: str) -> None:
        """Take the message out of the hold queue and ask for its delivery now."""
        self._command("postsuper", "-H", check_queue_id(queue_id))
        self._command("postqueue", "-i", queue_id)

    def delete(self, queue_id: str) -> None:
        """Delete the message from the hold queue."""
        self._command("postsuper", "-d", check_queue_id(queue_id), "hold")


class HelperQueue:
    """The hold queue through govmilter's queue helper, listening on ``socket_path``.

    One request per connection: a line ``list``, ``show ID``, ``release ID`` or ``delete ID``;
    the answer is ``ok`` and a newline then the data (``postqueue -j``'s output, the message),
    or ``error TEXT``.
    """

    def __init__(self, socket_path: str = DEFAULT_QUEUE_HELPER, timeout: float = 120) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    def _ask(self, operation: str, queue_id: str | None = None) -> bytes:
        request = operation if queue_id is None else f"{operation} {check_queue_id(queue_id)}"
        answer = bytearray()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(self.timeout)
                conn.connect(self.socket_path)
                conn.sendall(request.encode("ascii") + b"\n")
                conn.shutdown(socket.SHUT_WR)
                while chunk := conn.recv(65536):
                    answer += chunk
                    if len(answer) > MAX_ANSWER:
                        raise QuarantineError("the queue helper's answer is too long")
        except (FileNotFoundError, ConnectionRefusedError):
            raise QuarantineError(f"the queue helper {self.socket_path} is not running (systemctl "
                                  "enable --now govmilter-queue.socket, docs/console.md)"
                                  ) from None
        except PermissionError:
            raise QuarantineError(f"this user may not use the queue helper {self.socket_path} "
                                  "(it must be in the socket's group govmilter, "
                                  "docs/console.md)") from None
        except OSError as exc:
            raise QuarantineError(f"the queue helper {self.socket_path} did not answer: "
                                  f"{exc}") from None
        status, newline, data = bytes(answer).partition(b"\n")
        if newline and status == b"ok":
            return data
        if status.startswith(b"error "):
            raise QuarantineError(status[6:].decode("utf-8", "replace"))
        raise QuarantineError(f"the queue helper {self.socket_path} ended without an answer "
                              "(see its log: journalctl -u 'govmilter-queue@*')")

    def messages(self, queue_name: str = "hold") -> list[QueuedMessage]:
        """The messages of one queue, oldest first."""
        return parse_queue_json(self._ask("list").decode("utf-8"), queue_name)

    def content(self, queue_id: str) -> bytes:
        """A held message as queued: header and body."""
        return self._ask("show", queue_id)

    def release(self, queue_id: str) -> None:
        """Take the message out of the hold queue and ask for its delivery now."""
        self._ask("release", queue_id)

    def delete(self, queue_id: str) -> None:
        """Delete the message from the hold queue."""
        self._ask("delete", queue_id)
