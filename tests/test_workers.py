"""The scanning worker pool: same facts as scanning in-process, and a dead worker costs one
message, never the milter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from samples import OFFICIAL, PLAIN

from govmilter.policy import load_policy
from govmilter.scan import scan_message
from govmilter.workers import ScanFailed, ScanPool

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


def test_no_workers_scans_in_the_calling_thread() -> None:
    inline = ScanPool(0)
    inline.start()  # starts nothing
    assert inline.scan(OFFICIAL, POLICY) == scan_message(OFFICIAL, POLICY)
    inline.close()


def test_a_killed_worker_fails_that_scan_only_and_the_pool_comes_back(pool: ScanPool) -> None:
    executor = pool._pool()
    for process in list(executor._processes.values()):  # what a crash in PDFium looks like
        process.kill()
        process.join()
    with pytest.raises(ScanFailed):
        pool.scan(OFFICIAL, POLICY)
    assert pool.scan(OFFICIAL, POLICY).document.official is True
