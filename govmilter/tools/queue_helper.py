"""govmilter's queue helper: the one root process that touches Postfix's hold queue for the
console (and for officers without root).

systemd starts it for each connection to ``/run/govmilter-queue.sock`` (deploy/
govmilter-queue.socket: root's, group ``govmilter``, mode 0660; ``Accept=yes``), with the
connection as standard input and output. It reads ONE request line and answers it:

* ``list``: the hold queue's lines of ``postqueue -j`` (no other queue's senders and
  recipients);
* ``show ID``: the held message (``postcat``), only when ID is in the hold queue;
* ``release ID``: ``postsuper -H ID`` then ``postqueue -i ID``;
* ``delete ID``: ``postsuper -d ID hold``.

Anything else (``delete ALL``, ``release -d ALL``, ``show ../x``, two requests, more than
:data:`MAX_REQUEST` bytes, not ASCII) is refused before any command runs. The Postfix instance
is the helper's ``--postfix-config``, never the caller's choice. The console's own unit keeps
``NoNewPrivileges`` and no capability at all, which rules out sudo there (a set-user-ID program
gains nothing under ``NoNewPrivileges``); this helper is the narrow door instead.

Run: ``python -m govmilter.tools.queue_helper [--postfix-config DIR]``.
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import sys

from govmilter.tools.postfix_queue import (
    DEFAULT_POSTFIX_CONFIG,
    MAX_REQUEST,
    PostfixQueue,
    QuarantineError,
    check_queue_id,
)

#: The operations that name a queue id.
ON_ONE_MESSAGE = frozenset({"show", "release", "delete"})
#: Seconds a caller has to send its request.
REQUEST_TIMEOUT = 10.0


def parse_request(line: bytes) -> tuple[str, str | None]:
    """(operation, queue id or None) of one request line, or :class:`QuarantineError`."""
    if len(line) > MAX_REQUEST or not line.endswith(b"\n"):
        raise QuarantineError("refused: one request line of at most "
                              f"{MAX_REQUEST} bytes, ending in a newline")
    try:
        words = line[:-1].decode("ascii").split(" ")
    except UnicodeDecodeError:
        raise QuarantineError("refused: a request is ASCII") from None
    if words == ["list"]:
        return "list", None
    if len(words) == 2 and words[0] in ON_ONE_MESSAGE:
        return words[0], check_queue_id(words[1])
    raise QuarantineError("refused: the requests are 'list', 'show ID', 'release ID' and "
                          "'delete ID'")


def answer(line: bytes, queue: PostfixQueue) -> bytes:
    """The answer to one request line: ``ok`` and the data, or ``error`` and why."""
    try:
        operation, queue_id = parse_request(line)
        if queue_id is None:
            held = [line for line in queue.queue_json().splitlines()
                    if json.loads(line).get("queue_name") == "hold"]
            return b"ok\n" + "".join(f"{line}\n" for line in held).encode("utf-8")
        if operation == "show":
            if queue_id not in {m.queue_id for m in queue.messages("hold")}:
                raise QuarantineError(f"{queue_id} is not in the hold queue")
            return b"ok\n" + queue.content(queue_id)
        (queue.release if operation == "release" else queue.delete)(queue_id)
        return b"ok\n"
    except QuarantineError as exc:
        return b"error " + " ".join(str(exc).split()).encode("utf-8") + b"\n"


def read_request(conn: socket.socket) -> bytes:
    """Bytes up to and with the first newline, at most one byte more than a request may be."""
    data = b""
    while b"\n" not in data and len(data) <= MAX_REQUEST:
        chunk = conn.recv(MAX_REQUEST + 1 - len(data))
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0] + b"\n" if b"\n" in data else data


def peer_uid(conn: socket.socket) -> int | None:
    """The user id of the process at the other end (for the log), when the kernel says."""
    try:
        raw = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return None
    return int(struct.unpack("3i", raw)[1])


def main(argv: list[str] | None = None) -> int:
    """Answer the one request on standard input (the accepted connection)."""
    parser = argparse.ArgumentParser(prog="govmilter-queue-helper", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postfix-config", default=DEFAULT_POSTFIX_CONFIG, metavar="DIR",
                        help="the Postfix instance whose hold queue this serves "
                             "(default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        conn = socket.socket(fileno=sys.stdin.fileno())
    except OSError:
        print("govmilter-queue-helper: standard input must be a socket (systemd's "
              "StandardInput=socket)", file=sys.stderr)
        return 2
    conn.settimeout(REQUEST_TIMEOUT)
    try:
        line = read_request(conn)
    except OSError as exc:
        print(f"govmilter-queue-helper: no request: {exc}", file=sys.stderr)
        return 1
    reply = answer(line, PostfixQueue(args.postfix_config))
    # the request is ASCII words and a queue id, or refused: nothing from mail is logged
    status = reply.split(b"\n", 1)[0].decode("utf-8", "replace")[:200]
    shown = line.decode("ascii", "replace").strip() if status == "ok" else "refused"
    print(f"govmilter-queue-helper: uid {peer_uid(conn)}: {shown}: {status}", file=sys.stderr)
    conn.settimeout(60)
    try:
        conn.sendall(reply)
        conn.shutdown(socket.SHUT_WR)
    except OSError:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
