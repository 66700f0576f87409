"""The scanning worker pool: same facts as scanning in-process, and a dead worker costs one
message, never the milter."""

from __future__ import annotations

import dataclasses
import os
import queue
import signal
import threading
import time
from collections.abc import Iterator

import pytest
from processes import ends_within
from samples import OFFICIAL, PLAIN

from govmilter.policy import load_policy
from govmilter.scan import scan_message
from govmilter.server.workers import ScanFailed, ScanPool, _IdleWorkers, default_workers

POLICY = load_policy(None)


@pytest.fixture(scope="module")
def pool() -> Iterator[ScanPool]:
    scanner = ScanPool(1)
    scanner.start()
    yield scanner
    scanner.close()


def test_a_worker_finds_what_the_milter_process_finds(pool: ScanPool) -> None:
    for raw in (OFFICIAL, PLAIN):
        assert pool.scan(raw, POLICY) == scan_message(raw, POLICY)
    assert pool.scan(OFFICIAL, POLICY).document.official is True


def test_a_new_policy_reaches_a_worker_and_the_old_one_comes_back(pool: ScanPool) -> None:
    """A worker is sent the scan settings only when they changed since its last message."""
    strict = dataclasses.replace(POLICY, detection=dataclasses.replace(POLICY.detection,
                                                                       threshold=99.0))
    for policy, official in ((POLICY, True), (strict, False), (strict, False), (POLICY, True)):
        facts = pool.scan(OFFICIAL, policy)
        assert facts == scan_message(OFFICIAL, policy)
        assert facts.document.official is official


def test_empty_and_large_messages_cross_the_socket_whole(pool: ScanPool) -> None:
    # 3 MB is far past a socket buffer: sent and read back in many pieces
    large = OFFICIAL + b"\n" + b"x" * 76 * 40_000 + b"\n"
    for raw in (b"", large):
        assert pool.scan(raw, POLICY) == scan_message(raw, POLICY)


def test_the_worker_idle_last_serves_first_and_a_close_reaches_every_waiter() -> None:
    idle = _IdleWorkers()
    first, second = object(), object()  # stand-ins: the stack never looks inside a worker
    idle.put(first)  # type: ignore[arg-type]
    idle.put(second)  # type: ignore[arg-type]
    assert idle.get() is second and idle.get() is first  # the warm one first
    with pytest.raises(queue.Empty):
        idle.get(timeout=0.01)
    seen: list[object] = []
    waiters = [threading.Thread(target=lambda: seen.append(idle.get())) for _ in range(3)]
    for waiter in waiters:
        waiter.start()
    for _ in waiters:
        idle.put(None)  # close(): each waiter wakes and learns that the pool closed
    for waiter in waiters:
        waiter.join(timeout=5)
    assert seen == [None, None, None]


def test_no_workers_scans_in_the_calling_thread() -> None:
    inline = ScanPool(0)
    inline.start()  # starts nothing
    assert inline.scan(OFFICIAL, POLICY) == scan_message(OFFICIAL, POLICY)
    inline.close()


def test_a_killed_worker_fails_that_scan_only_and_the_pool_comes_back(pool: ScanPool) -> None:
    for pid in pool.worker_pids():  # what a crash in PDFium looks like
        os.kill(pid, signal.SIGKILL)
    with pytest.raises(ScanFailed, match="died"):
        pool.scan(OFFICIAL, POLICY)
    assert pool.scan(OFFICIAL, POLICY).document.official is True


def test_a_hung_worker_is_killed_at_the_deadline_and_replaced() -> None:
    policy = dataclasses.replace(POLICY, limits=dataclasses.replace(POLICY.limits,
                                                                    max_seconds=1.0))
    replaced: list[str] = []
    waits: list[float] = []

    class Events:
        def scan_worker_replaced(self, cause: str) -> None:
            replaced.append(cause)

        def scan_waited(self, seconds: float) -> None:
            waits.append(seconds)

    scanner = ScanPool(1, events=Events())
    scanner.start()
    try:
        [hung] = scanner.worker_pids()
        os.kill(hung, signal.SIGSTOP)  # what a PDF that hangs PDFium looks like
        start = time.monotonic()
        with pytest.raises(ScanFailed, match="deadline of 1s") as failed:
            scanner.scan(OFFICIAL, policy)
        elapsed = time.monotonic() - start
        # at the deadline, not a grace period later (slack for a loaded machine)
        assert 1.0 <= elapsed < 1.8, elapsed
        assert failed.value.cause == "deadline"
        assert ends_within(hung, 5.0)  # killed, not left frozen
        assert scanner.worker_pids() != [hung]
        assert scanner.scan(OFFICIAL, policy).document.official is True
        assert replaced == ["deadline"]
        assert len(waits) == 2 and all(0 <= w < 1.0 for w in waits)
    finally:
        scanner.close()


def test_one_worker_by_default_even_on_one_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a worker can be killed at the deadline: in-process scanning is asked for (0)."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert default_workers() == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2})
    assert default_workers() == 3


def test_an_exception_in_the_scan_reaches_the_caller_and_the_worker_stays() -> None:
    scanner = ScanPool(1)
    scanner.start()
    try:
        [worker] = scanner.worker_pids()
        broken = dataclasses.replace(POLICY, detection=None)  # type: ignore[arg-type]  # raises
        with pytest.raises(AttributeError):
            scanner.scan(PLAIN, broken)
        assert scanner.worker_pids() == [worker]
        assert scanner.scan(PLAIN, POLICY).document.official is False
    finally:
        scanner.close()


def test_a_worker_is_replaced_after_max_tasks_and_close_leaves_no_process() -> None:
    scanner = ScanPool(1, max_tasks=2)
    scanner.start()
    [first] = scanner.worker_pids()
    for _ in range(2):
        scanner.scan(PLAIN, POLICY)
    [second] = scanner.worker_pids()
    assert second != first
    assert scanner.scan(PLAIN, POLICY).document.official is False
    scanner.close()
    for pid in (first, second):
        assert not os.path.exists(f"/proc/{pid}")  # exited and reaped, no zombie
    with pytest.raises(ScanFailed, match="closed"):
        scanner.scan(PLAIN, POLICY)


def test_a_worker_that_grew_past_max_rss_is_replaced_after_its_message(
        caplog: pytest.LogCaptureFixture) -> None:
    # a fresh interpreter with the scanning code loaded holds about 25-35 MB; a limit below what
    # it holds after one scan replaces it after every message, a limit above it never
    small, large = ScanPool(1, max_rss=1 << 20), ScanPool(1, max_rss=1 << 30)
    for scanner in (small, large):
        scanner.start()
    try:
        [first] = small.worker_pids()
        with caplog.at_level("INFO", logger="govmilter.server.workers"):
            assert small.scan(PLAIN, POLICY).document.official is False  # its message is kept
        [second] = small.worker_pids()
        assert second != first
        assert ends_within(first, 5.0)
        assert "scan worker replaced: it held" in caplog.text
        assert "(limit 1 MiB)" in caplog.text
        assert _keeps_its_worker(large)
    finally:
        small.close()
        large.close()


def test_a_worker_started_by_a_big_process_does_not_count_its_parents_memory() -> None:
    # getrusage()'s peak survives exec: a worker of a 400 MB process read as 400 MB and was
    # replaced after every message (what the end of a long test run looked like)
    ballast = bytearray(400 << 20)
    ballast[::4096] = b"\x01" * len(ballast[::4096])  # touch every page: resident
    scanner = ScanPool(1, max_rss=200 << 20)
    scanner.start()
    try:
        assert _keeps_its_worker(scanner)
    finally:
        scanner.close()
        del ballast


def _keeps_its_worker(scanner: ScanPool, scans: int = 3) -> bool:
    """Whether ``scans`` plain messages in a row are all scanned by the same worker process."""
    before = scanner.worker_pids()
    for _ in range(scans):
        assert scanner.scan(PLAIN, POLICY).document.official is False
    return scanner.worker_pids() == before
