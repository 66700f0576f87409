"""A bounded pool of worker processes that scan messages, so that scanning uses every core.

libmilter serves each Postfix connection on its own thread, but pymilter holds the GIL while a
callback runs: MIME parsing, attachment extraction and the cue patterns are CPU-bound Python,
so with threads alone one core scans while the other waits. A :class:`ScanPool` sends the
message bytes (and the two small parts of the policy that scanning reads) to one of ``workers``
processes and waits for the :class:`~govmilter.verdict.MessageFacts`; the calling thread
releases the GIL while it waits, so other connections go on meanwhile.

Messages below ``inline_below`` bytes can be scanned in the calling thread instead. The default
is 0 (every message goes to a worker): measured on 2 cores, even a 5 KB plain message is
better scanned in a worker, because a scan in the milter process holds the GIL for 2 ms and
every other connection's callbacks wait for it meanwhile.

Bounded on purpose: at most ``2 × workers`` messages are in the pool at once (others wait for a
slot), each worker is replaced after ``max_tasks`` messages (what a C extension leaks stays
bounded), and a message that takes longer than the policy's scan time limit plus a grace
period gets the pool replaced, so a PDF that hangs PDFium cannot keep a worker forever. A
worker that crashes (a hostile file crashing a C library) costs that scan, never the milter:
the caller gets :class:`ScanFailed` and the pool is rebuilt for the next message.

Workers are started with ``spawn`` (never ``fork``: the milter process has threads) and
import only the pure core (no pymilter, no prometheus_client).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import resource_tracker

from govmilter.policy.model import Policy
from govmilter.privileges import drop_privileges
from govmilter.scan import scan_message, scan_with
from govmilter.verdict import MessageFacts

log = logging.getLogger("govmilter.workers")

#: Below this many bytes a message is scanned in the milter's own thread (see above).
DEFAULT_INLINE_BELOW = 0
#: Messages a worker scans before it is replaced by a fresh process.
DEFAULT_MAX_TASKS = 2000
#: Seconds granted past the policy's ``limits.max_seconds`` before a scan counts as hung.
HANG_GRACE_SECONDS = 10.0


class ScanFailed(RuntimeError):
    """A worker crashed or hung on this message; the message was not scanned."""


def default_workers() -> int:
    """One worker per CPU this process may run on, or 0 (scan in-process) on a single CPU."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return cpus if cpus > 1 else 0


class ScanPool:
    """Scan messages in worker processes (see the module docstring); thread-safe.

    ``workers=0`` scans every message in the calling thread (no processes at all).
    """

    def __init__(self, workers: int, inline_below: int = DEFAULT_INLINE_BELOW,
                 max_tasks: int = DEFAULT_MAX_TASKS, user: str | None = None) -> None:
        if workers < 0:
            raise ValueError("workers must be 0 or more")
        self.workers = workers
        self.inline_below = inline_below
        self.max_tasks = max_tasks
        self.user = user  #: each worker switches to this user after start-up (see _worker_init)
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max(1, 2 * workers))
        self._executor: ProcessPoolExecutor | None = None

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                    max_tasks_per_child=self.max_tasks, initializer=_worker_init,
                    initargs=(os.getpid(), self.user))
            return self._executor

    def _replace(self, broken: ProcessPoolExecutor, why: str) -> None:
        """Throw a broken or hung pool away; the next message starts a fresh one."""
        with self._lock:
            if self._executor is not broken:
                return  # another thread already replaced it
            self._executor = None
        log.warning("scan worker pool replaced: %s", why)
        # A hung worker never returns on its own: end the processes of the old pool.
        for process in list(getattr(broken, "_processes", {}).values()):
            process.kill()
        broken.shutdown(wait=False, cancel_futures=True)

    def scan(self, raw: bytes, policy: Policy) -> MessageFacts:
        """The facts :func:`govmilter.scan.scan_message` would give, from a worker if useful.

        :raises ScanFailed: the worker crashed or hung on this message.
        """
        if self.workers == 0 or len(raw) < self.inline_below:
            return scan_message(raw, policy)
        timeout = policy.limits.max_seconds + HANG_GRACE_SECONDS
        with self._slots:
            executor = self._pool()
            try:
                future: Future[MessageFacts] = executor.submit(
                    scan_with, raw, policy.limits, policy.detection)
            except BrokenProcessPool as exc:
                self._replace(executor, "a worker had died")
                raise ScanFailed("scan worker pool was broken") from exc
            try:
                return future.result(timeout=timeout)
            except FutureTimeout as exc:
                self._replace(executor, f"a scan took longer than {timeout:g}s")
                raise ScanFailed(f"scan took longer than {timeout:g}s") from exc
            except BrokenProcessPool as exc:
                self._replace(executor, "a worker died while scanning")
                raise ScanFailed("scan worker died") from exc

    def start(self) -> None:
        """Start the worker processes now, from the calling (main) thread, not on first use.

        multiprocessing's resource tracker, started with the first worker, blocks and then
        *unblocks* SIGINT and SIGTERM in the calling thread; the pool's threads started right
        after would inherit that, and a SIGTERM meant for libmilter's signal thread would kill
        the daemon outright. So the tracker is started first and the mask put back.
        """
        if self.workers:
            mask = signal.pthread_sigmask(signal.SIG_BLOCK, set())
            resource_tracker.ensure_running()
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            pool = self._pool()
            for future in [pool.submit(_worker_ready) for _ in range(self.workers)]:
                future.result()

    def close(self) -> None:
        """Stop the workers (waits for the scans in progress)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


def _worker_init(parent: int, user: str | None) -> None:
    """In each worker: switch user, take signals again and exit when the milter is gone.

    The daemon blocks SIGTERM/SIGHUP/SIGINT before starting any thread (libmilter's signal
    thread waits for them), and a spawned process inherits that mask: unblock them, so that
    stopping the service stops its workers. A worker whose milter was killed (SIGKILL, OOM)
    would otherwise wait on its task queue forever: a watchdog thread ends it.
    """
    if user is not None:
        drop_privileges(user)  # a no-op when the milter already runs as that user
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGHUP, signal.SIGINT})

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _worker_ready() -> int:
    """A trivial task: once it returns, the worker has started and imported the core."""
    return os.getpid()
