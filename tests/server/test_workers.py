"""The scanning worker pool: same facts as scanning in-process, and a dead worker costs one
message, never the milter."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import queue
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile_mail import docx_document, with_attachment
from postfix_harness import require, wait_until
from processes import ends_within
from samples import OFFICIAL, PLAIN
from scans import degrade, image_bytes, long_scan, official_letter, render_page, scan_mail

from govmilter.document.ocr import ocr_status
from govmilter.policy import load_policy
from govmilter.scan import OCR_LANE_BUSY, OCR_LANE_BUSY_REASON, scan_message
from govmilter.server.options import DEFAULT_OCR_NICE
from govmilter.server.spool import MessageSpool, SpooledFile
from govmilter.server.workers import (
    ScanFailed,
    ScanPool,
    _IdleWorkers,
    default_workers,
)

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


def test_a_spooled_message_reaches_the_worker_as_a_view_or_its_file_and_leaves_no_descriptor(
        pool: ScanPool, tmp_path: Path) -> None:
    """The spool hands a message over without a copy: a view of its memory, or the descriptor
    of its file, which the worker reads itself; either way the worker scans the same bytes as
    a scan of the message in one process, cut at the same limit, and keeps no descriptor."""
    large = OFFICIAL + b"\n" + b"x" * 76 * 40_000 + b"\n"
    worker = pool.worker_pids()[0]
    descriptors = len(os.listdir(f"/proc/{worker}/fd"))
    for raw, memory, limit in ((OFFICIAL, 1 << 20, len(OFFICIAL) + 1), (large, 4096, 1 << 30),
                               (large, 4096, len(OFFICIAL) + 100), (OFFICIAL, 1 << 20, 300)):
        spool = MessageSpool(memory, str(tmp_path))
        for start in range(0, len(raw), 65536):
            spool.write(raw[start:start + 65536])
        handed = spool.handover(limit)
        assert isinstance(handed, SpooledFile) is (memory < len(raw))
        for _ in range(2):  # as the OCR lane reads the same file again
            assert pool.scan(handed, POLICY) == scan_message(raw[:limit], POLICY)
        spool.close()
        assert pool.worker_pids() == [worker]
        assert len(os.listdir(f"/proc/{worker}/fd")) == descriptors


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


def test_a_worker_given_back_goes_to_the_thread_that_waited_longest() -> None:
    idle = _IdleWorkers()
    workers = [object() for _ in range(3)]  # stand-ins, as above
    got: dict[int, object] = {}

    def wait(number: int) -> None:
        got[number] = idle.get(timeout=10)

    threads = []
    for number in range(3):  # each starts waiting after the one before it
        threads.append(threading.Thread(target=wait, args=(number,)))
        threads[-1].start()
        wait_until(lambda n=number + 1: idle.waiting == n, 5, "the thread to wait")
    idle.put(workers[0])  # type: ignore[arg-type]
    # the worker went to the first waiter: a thread asking now does not get it
    with pytest.raises(queue.Empty):
        idle.get(timeout=0)
    for worker in workers[1:]:
        idle.put(worker)  # type: ignore[arg-type]
    for thread in threads:
        thread.join(timeout=5)
    assert got == dict(enumerate(workers))
    assert idle.waiting == 0
    # a waiter that timed out left the line: the next worker is idle, not handed to it
    with pytest.raises(queue.Empty):
        idle.get(timeout=0.01)
    idle.put(workers[0])  # type: ignore[arg-type]
    assert idle.get(timeout=0) is workers[0]


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


def late_wake(seconds: float) -> float:
    """How long a socket wait of ``seconds`` on a silent socket takes: what this machine adds to
    a deadline at this moment (a loaded machine wakes the waiting thread late)."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.settimeout(seconds)
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            ours.recv(1)
        return time.monotonic() - started


def test_a_hung_worker_is_killed_at_the_deadline_and_replaced() -> None:
    policy = dataclasses.replace(POLICY, limits=dataclasses.replace(POLICY.limits,
                                                                    max_seconds=1.0))
    replaced: list[str] = []
    killed_at: list[float] = []
    waits: list[float] = []

    class Events:
        def scan_worker_replaced(self, cause: str, lane: str) -> None:
            killed_at.append(time.monotonic())  # the pool kills the worker, then says so
            replaced.append(cause)
            assert lane == "ordinary"

        def scan_waited(self, seconds: float, lane: str) -> None:
            waits.append(seconds)

        def ocr_lane_busy(self) -> None:
            raise AssertionError("no OCR lane here")

    scanner = ScanPool(1, events=Events())
    scanner.start()
    try:
        [hung] = scanner.worker_pids()
        os.kill(hung, signal.SIGSTOP)  # what a PDF that hangs PDFium looks like
        # the same 1 s wait beside the scan, at the same moment: how late this machine is now
        with concurrent.futures.ThreadPoolExecutor(1) as beside:
            reference = beside.submit(late_wake, 1.0)
            start = time.monotonic()
            with pytest.raises(ScanFailed, match="deadline of 1s") as failed:
                scanner.scan(OFFICIAL, policy)
            elapsed = time.monotonic() - start
            wait = reference.result()
        assert elapsed >= 1.0, elapsed  # not before its deadline
        # killed at the deadline, not a grace period later: as late as the wait beside it, give
        # or take a scheduling slice (the replacement is started after the kill, not counted)
        [killed] = killed_at
        assert killed - start < wait + 0.5, (killed - start, wait)
        assert failed.value.cause == "deadline"
        assert ends_within(hung, 30.0)  # killed, not left frozen
        assert scanner.worker_pids() != [hung]
        # the replacement scans (with the policy's own deadline: its first scan on a loaded
        # machine may take longer than the 1 s above)
        assert scanner.scan(OFFICIAL, POLICY).document.official is True
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


def _minor_faults(pid: int) -> int:
    """The page faults process ``pid`` took that needed no disk read (/proc/PID/stat)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        return int(stat.read().rpartition(")")[2].split()[7])


def test_a_worker_scans_one_large_docx_after_another_in_the_pages_it_has() -> None:
    """WORKER_MALLOC: the megabyte buffers of a scan reuse the pages of the scan before, instead
    of the kernel zero-filling fresh ones (about 1,900 page faults per 1 MB DOCX without it)."""
    words = "Báo cáo tình hình triển khai thư điện tử công vụ của các cơ quan nhà nước"
    xml = "".join(f"<w:p><w:r><w:t>{words} (mục {n}).</w:t></w:r></w:p>" for n in range(8000))
    raw = with_attachment(docx_document(f"<w:document><w:body>{xml}</w:body></w:document>"
                                        .encode()), "bao-cao.docx")
    assert len(raw) > 1 << 20
    scanner = ScanPool(1)
    scanner.start()
    try:
        scanner.scan(raw, POLICY)  # the first scan maps what the worker needs
        [pid] = scanner.worker_pids()
        before = _minor_faults(pid)
        for _ in range(3):
            assert scanner.scan(raw, POLICY) == scan_message(raw, POLICY)
        assert (_minor_faults(pid) - before) / 3 < 300
    finally:
        scanner.close()


def _keeps_its_worker(scanner: ScanPool, scans: int = 3) -> bool:
    """Whether ``scans`` plain messages in a row are all scanned by the same worker process."""
    before = scanner.worker_pids()
    for _ in range(scans):
        assert scanner.scan(PLAIN, POLICY).document.official is False
    return scanner.worker_pids() == before


def _tesseract() -> None:
    status = ocr_status()
    require(status.available, f"needs Tesseract with Vietnamese data ({status.detail})")


#: Room for OCR on a busy machine: what these tests look at is which lane waits for which.
PATIENT = dataclasses.replace(POLICY, limits=dataclasses.replace(
    POLICY.limits, max_seconds=300.0, max_ocr_seconds=300.0))


def test_a_scan_is_read_in_the_ocr_lane_as_in_one_process_and_plain_mail_never_goes_there(
        ) -> None:
    _tesseract()
    page = degrade(render_page(official_letter("TỐI MẬT")[0], 150), seed=2, angle=1.0)
    scan = scan_mail(image_bytes(page, "PNG", 150), "scan.png", ("image", "png"))
    waits: list[str] = []

    class Events:
        def scan_worker_replaced(self, cause: str, lane: str) -> None:
            raise AssertionError(f"no worker should be replaced ({cause}, {lane})")

        def scan_waited(self, seconds: float, lane: str) -> None:
            waits.append(lane)

        def ocr_lane_busy(self) -> None:
            raise AssertionError("the OCR lane is free")

    scanner = ScanPool(1, ocr_workers=1, events=Events())
    scanner.start()
    try:
        # no OCR worker until a message needs one: plain mail does not start one
        assert scanner.scan(PLAIN, PATIENT) == scan_message(PLAIN, PATIENT)
        assert scanner.worker_count("ocr") == 0 and waits == ["ordinary"]
        waits.clear()
        facts = scanner.scan(scan, PATIENT)  # the first scan starts the OCR worker
        assert facts == scan_message(scan, PATIENT)  # what one process with OCR finds
        assert facts.document.secrecy == "TỐI MẬT" and facts.document.official
        [ordinary], [ocr] = scanner.worker_pids("ordinary"), scanner.worker_pids("ocr")
        # the OCR lane (started by now) runs at a lower CPU priority: ordinary mail first
        assert os.getpriority(os.PRIO_PROCESS, ocr) == min(
            19, os.getpriority(os.PRIO_PROCESS, ordinary) + DEFAULT_OCR_NICE)
        assert waits == ["ordinary", "ocr"]  # scanned once without OCR, then with it
        assert scanner.scan(PLAIN, PATIENT) == scan_message(PLAIN, PATIENT)
        assert waits == ["ordinary", "ocr", "ordinary"]  # nothing to read by OCR: one lane
    finally:
        scanner.close()


@pytest.mark.parametrize("ocr_workers", [1, 0], ids=["ocr-lane", "no-lane"])
def test_plain_mail_is_decided_while_the_ocr_lane_reads_a_slow_scan(ocr_workers: int) -> None:
    """One scan worker: with an OCR lane, three plain messages are decided while the OCR
    worker, started for it, starts and reads a three-page scan; without one
    (``--ocr-workers 0``) they wait for its end."""
    _tesseract()
    slow = scan_mail(long_scan(pages=3))
    scanner = ScanPool(1, ocr_workers=ocr_workers)
    scanner.start()
    finished: list[str] = []
    facts = []

    def read_scan() -> None:
        facts.append(scanner.scan(slow, PATIENT))
        finished.append("scan")

    def send_plain() -> None:
        for _ in range(3):
            assert scanner.scan(PLAIN, PATIENT).document.official is False
            finished.append("plain")

    try:
        assert scanner.worker_count("ocr") == 0  # started by the scan: its start is in the lane
        reading = threading.Thread(target=read_scan)
        reading.start()
        busy = "ocr" if ocr_workers else "ordinary"
        wait_until(lambda: scanner.busy_workers(busy) == 1, 60, f"the scan in the {busy} lane")
        plain = threading.Thread(target=send_plain)
        plain.start()
        plain.join(timeout=300)
        reading.join(timeout=300)
    finally:
        scanner.close()
    if ocr_workers:
        assert finished == ["plain", "plain", "plain", "scan"]
    else:
        assert finished == ["scan", "plain", "plain", "plain"]
    # the scan was read whole: the recipient list stands on its third page
    assert any(e.startswith("attachment 1 (OCR, page 3, whole page") and "Nơi nhận" in e
               for e in facts[0].document.evidence), facts[0].document.evidence


def test_a_scan_finding_the_ocr_lane_busy_past_its_deadline_is_decided_without_ocr() -> None:
    """A flood of scans holds no message past ``limits.max_seconds``: while the one OCR worker
    reads a long scan, a second scan whose budget runs out first is decided on what was read
    without OCR (its image unscannable), says why in its notes, and is counted; the long scan
    is still read whole."""
    _tesseract()
    slow = scan_mail(long_scan(pages=3))
    page = degrade(render_page(official_letter("TỐI MẬT")[0], 150), seed=2, angle=1.0)
    hurried_scan = scan_mail(image_bytes(page, "PNG", 150), "scan.png", ("image", "png"))
    hurried = dataclasses.replace(POLICY, limits=dataclasses.replace(POLICY.limits,
                                                                     max_seconds=1.0))
    busy: list[str] = []

    class Events:
        def scan_worker_replaced(self, cause: str, lane: str) -> None:
            raise AssertionError(f"no worker should be replaced ({cause}, {lane})")

        def scan_waited(self, seconds: float, lane: str) -> None:
            pass

        def ocr_lane_busy(self) -> None:
            busy.append("ocr")

    scanner = ScanPool(1, ocr_workers=1, events=Events())
    scanner.start()
    finished: list[str] = []
    long_facts = []

    def read_slow() -> None:
        long_facts.append(scanner.scan(slow, PATIENT))
        finished.append("long scan")

    try:
        reading = threading.Thread(target=read_slow)
        reading.start()
        wait_until(lambda: scanner.busy_workers("ocr") == 1, 60, "the long scan in the OCR lane")
        facts = scanner.scan(hurried_scan, hurried)
        finished.append("hurried scan")
        reading.join(timeout=300)
    finally:
        scanner.close()
    assert finished == ["hurried scan", "long scan"]
    assert busy == ["ocr"]
    assert OCR_LANE_BUSY in facts.notes
    assert facts.document.secrecy is None  # not read, and why:
    assert facts.document.unscannable == (
        f"attachment 1: image; not read by OCR ({OCR_LANE_BUSY_REASON})",)
    assert facts.document.document_class.value == "unscannable"
    assert any(e.startswith("attachment 1 (OCR, page 3, whole page")
               for e in long_facts[0].document.evidence)


class _LaneEvents:
    """What a pool with an OCR lane reports, kept for the test to read."""

    def __init__(self) -> None:
        self.replaced: list[tuple[str, str]] = []
        self.busy = 0

    def scan_worker_replaced(self, cause: str, lane: str) -> None:
        self.replaced.append((cause, lane))

    def scan_waited(self, seconds: float, lane: str) -> None:
        pass

    def ocr_lane_busy(self) -> None:
        self.busy += 1


def test_the_start_of_an_ocr_worker_counts_inside_the_message_budget_and_is_not_lost(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A scan whose budget is shorter than the OCR worker's start is decided without OCR (not
    held past ``limits.max_seconds``); the worker goes on starting and reads the next scan."""
    _tesseract()
    page = degrade(render_page(official_letter("TỐI MẬT")[0], 150), seed=2, angle=1.0)
    scan = scan_mail(image_bytes(page, "PNG", 150), "scan.png", ("image", "png"))
    # The OCR worker's interpreter is made to start 4 s late, so that its start outlasts a
    # budget long enough for the first pass even on a loaded machine: the outcome then does
    # not depend on how busy the machine is.
    slow_python = tmp_path / "slow-python"
    slow_python.write_text(f"#!/bin/sh\nsleep 4\nexec {sys.executable} \"$@\"\n")
    slow_python.chmod(0o755)
    hurried = dataclasses.replace(POLICY, limits=dataclasses.replace(POLICY.limits,
                                                                     max_seconds=2.0))
    events = _LaneEvents()
    scanner = ScanPool(1, ocr_workers=1, events=events)
    scanner.start()
    try:
        scanner.scan(PLAIN, POLICY)  # the scan worker warm: the budget is the OCR start's
        monkeypatch.setattr(sys, "executable", str(slow_python))  # only workers started now
        started = time.monotonic()
        facts = scanner.scan(scan, hurried)  # not held until the worker has started
        assert time.monotonic() - started < 3.5  # decided at its budget, not at the start
        assert OCR_LANE_BUSY in facts.notes and facts.document.secrecy is None
        assert events.busy == 1
        assert scanner.worker_count("ocr") == 1  # still starting, kept for the next scan
        assert scanner.scan(scan, PATIENT).document.secrecy == "TỐI MẬT"
        assert scanner.worker_count("ocr") == 1 and events.replaced == []
    finally:
        scanner.close()


def test_a_dead_ocr_worker_is_replaced_by_the_next_scan_not_at_once() -> None:
    _tesseract()
    page = degrade(render_page(official_letter("TỐI MẬT")[0], 150), seed=2, angle=1.0)
    scan = scan_mail(image_bytes(page, "PNG", 150), "scan.png", ("image", "png"))
    events = _LaneEvents()
    scanner = ScanPool(1, ocr_workers=1, events=events)
    scanner.start()
    try:
        assert scanner.scan(scan, PATIENT).document.secrecy == "TỐI MẬT"
        [ocr] = scanner.worker_pids("ocr")
        os.kill(ocr, signal.SIGKILL)  # what a crash in Tesseract looks like
        with pytest.raises(ScanFailed, match="died"):
            scanner.scan(scan, PATIENT)
        assert events.replaced == [("crash", "ocr")]
        assert scanner.worker_count("ocr") == 0  # no new worker until a scan needs one
        assert scanner.scan(PLAIN, PATIENT).document.official is False
        assert scanner.worker_count("ocr") == 0
        assert scanner.scan(scan, PATIENT).document.secrecy == "TỐI MẬT"
        [again] = scanner.worker_pids("ocr")
        assert again != ocr
    finally:
        scanner.close()
