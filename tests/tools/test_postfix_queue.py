"""The queue id check, the queue helper's requests and the client that asks it, against a
stand-in for Postfix's commands (the helper with a real Postfix and an unprivileged console:
tests/integration/test_queue_helper.py)."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_quarantine import FakePostfix  # type: ignore[import-not-found]

from govmilter.tools.postfix_queue import (
    MAX_REQUEST,
    HelperQueue,
    PostfixQueue,
    QuarantineError,
    check_queue_id,
)
from govmilter.tools.queue_helper import answer, parse_request, read_request

#: short ids (hexadecimal) and long ones (enable_long_queue_ids), as Postfix writes them
QUEUE_IDS = ["4F9D195432", "3B1A8E2C", "4Xq7dL2bY0zJvN1", "HELD1"]
#: what must never reach postsuper as a queue id
NOT_QUEUE_IDS = ["ALL", "-", "-d", "--", "../hold/X1234", "/etc/shadow", "A1234 ALL",
                 "A1234\nALL", "A1234\r", "", "Ả1234", "A" * 41, "hold", "x.y.z"]


@pytest.mark.parametrize("queue_id", QUEUE_IDS)
def test_postfix_queue_ids_are_accepted(queue_id: str) -> None:
    assert check_queue_id(queue_id) == queue_id


@pytest.mark.parametrize("queue_id", NOT_QUEUE_IDS)
def test_anything_else_is_refused_before_a_command_runs(queue_id: str) -> None:
    fake = FakePostfix(["HELD1"])
    queue = PostfixQueue("/etc/postfix", fake)
    for operation in (queue.release, queue.delete, queue.content):
        with pytest.raises(QuarantineError, match="not a Postfix queue id"):
            operation(queue_id)
    with pytest.raises(QuarantineError, match="not a Postfix queue id"):
        HelperQueue("/nonexistent/queue.sock").release(queue_id)
    assert fake.calls == []


@pytest.mark.parametrize("line", [
    b"list\n", b"show HELD1\n", b"release HELD1\n", b"delete HELD1\n"])
def test_the_four_requests_parse(line: bytes) -> None:
    operation, queue_id = parse_request(line)
    assert line == (f"{operation} {queue_id}\n" if queue_id else f"{operation}\n").encode()


@pytest.mark.parametrize("line", [
    b"delete ALL\n", b"release -d ALL\n", b"delete HELD1 hold\n", b"list ALL\n", b"list",
    b"purge HELD1\n", b"Release HELD1\n", b"release  HELD1\n", b"\n", b"",
    b"release " + b"A" * MAX_REQUEST + b"\n", b"delete \xffHELD1\n"])
def test_every_other_request_is_refused(line: bytes) -> None:
    with pytest.raises(QuarantineError, match=r"refused|not a Postfix queue id"):
        parse_request(line)


def test_the_helper_answers_and_runs_only_what_was_asked() -> None:
    fake = FakePostfix(["HELD1"])
    queue = PostfixQueue("/etc/pf", fake)
    assert answer(b"release HELD1\n", queue) == b"ok\n"
    assert answer(b"delete HELD1\n", queue) == b"ok\n"
    assert answer(b"delete ALL\n", queue).startswith(b"error 'ALL' is not a Postfix queue id")
    assert answer(b"show OTHER1\n", queue) == b"error OTHER1 is not in the hold queue\n"
    assert [c for c in fake.calls if c[0] != "postqueue" or "-j" not in c] == [
        ["postsuper", "-c", "/etc/pf", "-H", "HELD1"],
        ["postqueue", "-c", "/etc/pf", "-i", "HELD1"],
        ["postsuper", "-c", "/etc/pf", "-d", "HELD1", "hold"]]


def test_the_list_is_the_hold_queue_alone() -> None:
    fake = FakePostfix(["HELD1"])

    def with_other_queues(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[Any]:
        done: subprocess.CompletedProcess[Any] = fake(argv, **kwargs)
        if argv[0] == "postqueue" and "-j" in argv:
            other = json.dumps({"queue_name": "deferred", "queue_id": "DEFER1",
                                "sender": "someone@mic.gov.vn", "recipients": []})
            return subprocess.CompletedProcess(argv, 0, f"{other}\n{done.stdout}", "")
        return done

    reply = answer(b"list\n", PostfixQueue("/etc/pf", with_other_queues))
    assert reply.startswith(b"ok\n") and b"HELD1" in reply
    assert b"DEFER1" not in reply and b"someone@" not in reply


def test_a_postfix_refusal_is_one_line_of_error() -> None:
    queue = PostfixQueue("/etc/pf", FakePostfix(["HELD1"], postsuper_fails=True))
    reply = answer(b"release HELD1\n", queue)
    assert reply.startswith(b"error postsuper -H HELD1 failed: postsuper: fatal: not allowed")
    assert reply.count(b"\n") == 1


@contextlib.contextmanager
def helper_on_a_socket(queue: PostfixQueue) -> Iterator[str]:
    """The helper's answer behind a unix socket, served by a thread, one connection at a time."""
    directory = tempfile.mkdtemp(prefix="gm-qh-")
    path = str(Path(directory) / "q.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen()

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(answer(read_request(conn), queue))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield path
    finally:
        server.close()
        Path(path).unlink()
        Path(directory).rmdir()


def test_the_client_lists_reads_and_releases_through_the_helper() -> None:
    fake = FakePostfix(["HELD1", "HELD2"])
    with helper_on_a_socket(PostfixQueue("/etc/pf", fake)) as path:
        queue = HelperQueue(path)
        assert [m.queue_id for m in queue.messages("hold")] == ["HELD1", "HELD2"]
        queue.release("HELD2")
        with pytest.raises(QuarantineError, match=r"^NOPE1 is not in the hold queue$"):
            queue.content("NOPE1")
    assert ["postsuper", "-c", "/etc/pf", "-H", "HELD2"] in fake.calls


def test_a_helper_that_is_not_there_is_named_with_how_to_start_it() -> None:
    with pytest.raises(QuarantineError, match="queue helper /nonexistent/q.sock is not running "
                                              r"\(systemctl enable --now govmilter-queue"):
        HelperQueue("/nonexistent/q.sock").messages()
