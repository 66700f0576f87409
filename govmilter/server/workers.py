"""A bounded pool of worker processes that scan messages, so that scanning uses every core.

libmilter serves each Postfix connection on its own thread, but pymilter holds the GIL while a
callback runs: MIME parsing, attachment extraction and the cue patterns are CPU-bound Python,
so with threads alone one core scans while the other waits. A :class:`ScanPool` hands the
message bytes (and the two small parts of the policy that scanning reads) to one of ``workers``
processes over that worker's own socket and waits for the :class:`~govmilter.verdict.MessageFacts`;
the calling thread releases the GIL while it waits, so other connections go on meanwhile.

Each worker has a socket of its own and the calling thread talks to it directly: no pickling
of the message (it goes as raw bytes, in one ``sendmsg`` with its small header, or, when the
milter's spool holds it in a file, as that file's read-only descriptor, which the worker reads
itself: no copy of a large message in the milter process), no feeder or manager threads: per
message, those cost the milter process as much as the scan they hand over. The framing is this
module's own, not ``multiprocessing.connection``'s, which builds a selector for every wait and
would send the scan settings again with every message; here the settings go only when they
changed for that worker (figures: docs/performance.md).

Two lanes, so that a flood of scans never delays ordinary mail. The ordinary lane
(``workers`` processes) scans every message without OCR; a message that holds a scan or image
for OCR (an image-only PDF, an image attachment, a picture in a short DOCX or in an archive:
known once its parts are extracted, a few milliseconds in) comes back marked so, and is scanned
again, with OCR, by a worker of the OCR lane (``ocr_workers`` processes, each with its own
Tesseract and OCR cache, started by the first message that needs one), within what is left of
``limits.max_seconds``. The ordinary worker is
free again before the OCR lane starts, so plain mail is never queued behind a scan; the OCR
workers run at a lower CPU priority (``ocr_nice``), so that when the cores are busy, ordinary
mail gets them first and OCR what is left. With ``ocr_workers=0`` there is no lane and the scan
workers read scans themselves (docs/ocr.md has the benchmark).

Messages below ``inline_below`` bytes can be scanned in the calling thread instead. The default
is 0 (every message goes to a worker): scanning even a small plain message in the milter
process gains nothing measurable over handing it over (docs/performance.md), it holds the GIL
meanwhile, and it would bring PDFium into the milter process for small PDFs.

Bounded on purpose: one message per worker at a time (a thread waiting for a free worker has
not read the message yet, see :meth:`ScanPool.scan_lazily`), each worker is replaced once the
memory it holds after a message passes ``max_rss`` (what a C extension leaks, or what Python
keeps after one huge message, stays bounded) or after ``max_tasks`` messages, and a worker whose
scan is still running at the policy's ``limits.max_seconds`` is killed then and replaced, so a
PDF that hangs PDFium, or any work a deadline cannot interrupt, costs one scan of
``max_seconds``. The scan itself stops reading a little earlier (``Limits.stop_seconds``) and
answers with what it read; the kill is for what does not stop. A worker that crashes (a hostile
file crashing a C library) costs that scan, never the milter: the caller gets
:class:`ScanFailed` and a fresh worker takes the dead one's place. ``events`` (the daemon's
metrics) hears of each replacement and of the time each message waited for a worker.

Workers are separate interpreters (``python -m govmilter.server.workers``, started with
``subprocess``: exec, never ``fork``, since the milter process has threads) and import only the
pure core (no pymilter, no prometheus_client).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import logging
import os
import pickle
import queue
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from array import array
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from govmilter.document.settings import DetectionSettings
from govmilter.mail.limits import Limits
from govmilter.policy.model import Policy
from govmilter.policy.verdict import MessageFacts
from govmilter.scan import OCR_LANE_BUSY, scan_deferring_ocr, scan_message, scan_with
from govmilter.server.options import (
    DEFAULT_INLINE_BELOW,
    DEFAULT_MAX_RSS,
    DEFAULT_OCR_NICE,
)
from govmilter.server.privileges import drop_privileges
from govmilter.server.spool import Handover, SpooledFile, read_file

log = logging.getLogger("govmilter.server.workers")

#: Messages a worker scans before it is replaced by a fresh process, whatever its memory. High,
#: because a new worker costs CPU (start, imports, first scans) and delays the message that waits
#: for it, while a healthy worker's memory stays flat; memory, not the count, replaces a worker
#: first (the figures: docs/performance.md, "Figures behind the code's choices").
DEFAULT_MAX_TASKS = 50_000
#: Seconds a new worker may take to start (spawn, imports, user switch).
START_SECONDS = 60.0
#: glibc's allocator settings in each worker's environment (read once at its start; other C
#: libraries ignore them; set in the milter's own environment, the administrator's win). A scan
#: makes and frees buffers of megabytes (the message, an attachment decoded, a part inflated,
#: its text). By default glibc maps each one afresh, or trims the heap after it, and the kernel
#: zero-fills every page again on first touch: about 1,900 page faults and a fifth of the CPU of
#: a 1 MB DOCX's scan. With blocks up to 8 MiB taken from the heap and up to 16 MiB left free at
#: its top, the pages stay mapped from one message to the next: the peak is the same, resident
#: memory at rest is nearer to it (docs/performance.md, "DOCX").
WORKER_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(8 << 20), "MALLOC_TRIM_THRESHOLD_": str(16 << 20)}
#: The lanes: the values of the worker metrics' ``lane`` label. ``ordinary`` scans every
#: message without OCR; ``ocr`` scans again, with OCR, the messages that hold a scan or image.
LANES = ("ordinary", "ocr")
_READY = b"ready"
#: A request: the settings' length (0: the same as in this worker's previous request), the
#: message's length, the scan's time limit in seconds, whether to read scans by OCR and whether
#: the message is in the file whose descriptor comes with the request (``SCM_RIGHTS``), then
#: the settings and, when not in a file, the message.
_REQUEST = struct.Struct("!QQd??")
#: An answer (or the greeting): its length, then the pickled answer.
_ANSWER = struct.Struct("!Q")


def _send_all(sock: socket.socket, parts: list[memoryview], fds: tuple[int, ...] = ()) -> None:
    """Send ``parts`` in order, in as few system calls as the kernel allows and with no copy;
    ``fds`` (descriptors passed to the other process) go with the first byte."""
    views = [part for part in parts if part.nbytes]
    rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array("i", fds))] if fds else []
    while views:
        sent = sock.sendmsg(views, rights)
        rights = []
        while views and sent >= views[0].nbytes:
            sent -= views[0].nbytes
            views.pop(0)
        if views and sent:
            views[0] = views[0][sent:]


def _recv_exactly(sock: socket.socket, size: int, first: bytes | None = None) -> bytes:
    """Exactly ``size`` bytes from ``sock`` (``first``: those of them already received).

    :raises EOFError: the other end closed the socket first.
    """
    # MSG_WAITALL: a blocking socket (the worker's) gets a whole message in the bytes returned,
    # with no buffer in between; one with a time-out (the milter's) returns what has come
    chunk = sock.recv(size, socket.MSG_WAITALL) if first is None else first
    if len(chunk) == size:
        return chunk  # all of it at once: no second copy
    if not chunk:
        raise EOFError("socket closed")
    buffer = bytearray(size)
    buffer[:len(chunk)] = chunk
    view, got = memoryview(buffer), len(chunk)
    while got < size:
        received = sock.recv_into(view[got:])
        if not received:
            raise EOFError("socket closed")
        got += received
    return bytes(buffer)


def _send_frame(sock: socket.socket, payload: bytes) -> None:
    _send_all(sock, [memoryview(_ANSWER.pack(len(payload))), memoryview(payload)])


def _recv_frame(sock: socket.socket) -> bytes:
    (size,) = _ANSWER.unpack(_recv_exactly(sock, _ANSWER.size))
    return _recv_exactly(sock, size)


def _recv_request_header(sock: socket.socket) -> tuple[bytes, list[int]]:
    """A request's fixed part and the descriptors that came with it (none, or the message's
    file): the caller closes them.

    :raises EOFError: the other end closed the socket first.
    """
    data, fds, _, _ = socket.recv_fds(sock, _REQUEST.size, 1)
    try:
        return _recv_exactly(sock, _REQUEST.size, data), fds
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise


def message_bytes(message: Handover) -> bytes:
    """The bytes of a message handed over by the spool (for a scan in this process)."""
    return message.read() if isinstance(message, SpooledFile) else bytes(message)


def message_size(message: Handover) -> int:
    """How many bytes a message handed over by the spool has."""
    return message.size if isinstance(message, SpooledFile) else memoryview(message).nbytes


#: Why a worker was replaced: the values of the replacements metric's ``cause`` label.
REPLACEMENT_CAUSES = ("deadline", "crash", "memory", "tasks")


class _LaneBusy(Exception):
    """No worker of the lane came free before the message's deadline."""


class ScanFailed(RuntimeError):
    """A worker crashed or hung on this message; the message was not scanned.

    ``cause`` is ``deadline`` (still scanning at ``limits.max_seconds``: killed) or ``crash``.
    """

    def __init__(self, message: str, cause: str = "crash") -> None:
        super().__init__(message)
        self.cause = cause

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (str(self), self.cause)


class _StillStarting(ScanFailed):
    """A worker had not started within the time it was given."""


class PoolEvents(Protocol):
    """What a :class:`ScanPool` reports as it works (the daemon's metrics listen)."""

    def scan_worker_replaced(self, cause: str, lane: str) -> None:
        """A worker of ``lane`` (one of :data:`LANES`) was replaced; ``cause`` is one of
        :data:`REPLACEMENT_CAUSES`."""

    def scan_waited(self, seconds: float, lane: str) -> None:
        """A message waited ``seconds`` for a free worker of ``lane`` (for the OCR lane, with
        the start of a worker started for it)."""

    def ocr_lane_busy(self) -> None:
        """A message with a scan or image was decided without OCR: no OCR worker came free
        within what was left of ``limits.max_seconds``."""


def default_workers() -> int:
    """One worker per CPU this process may run on, and at least one, even on a single CPU: only
    a scan in a worker process can be stopped at its deadline (``--scan-workers 0`` asks for
    scanning in the milter process, where nothing stops a scan that hangs)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(cpus, 1)


class _Worker:
    """One scanning process and the milter's end of its socket."""

    def __init__(self, parent: int, user: str | None, nice: int = 0) -> None:
        ours, theirs = socket.socketpair()
        with theirs:
            # A plain child process, not multiprocessing's: no resource tracker process (14 MB)
            # and nothing that touches the daemon's signal mask.
            # It finds govmilter where the milter did (its sys.path, as multiprocessing would
            # pass it), runs in / (never imports from a working directory others may write to,
            # which "-m" would put first on its path) and keeps stdout/stderr for its errors.
            self.process = subprocess.Popen(
                [sys.executable, "-B", "-m", "govmilter.server.workers", str(theirs.fileno()),
                 str(parent), user or "", str(nice)],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, cwd="/",
                env={**WORKER_MALLOC, **os.environ,
                     "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)})
        self.sock = ours
        self.ready = False
        self.tasks = 0
        self.settings: bytes | None = None  #: the settings this worker last received
        self.rss = 0  #: resident bytes after its last message, as the worker said

    def wait_ready(self, timeout: float = START_SECONDS) -> None:
        """Block until the worker has started and switched user.

        :raises ScanFailed: it exited (e.g. the user switch failed), or
            :class:`_StillStarting`: it took longer than ``timeout``.
        """
        if self.ready:
            return
        try:
            self.sock.settimeout(timeout)
            if _recv_frame(self.sock) != _READY:
                raise ScanFailed("scan worker sent an unexpected greeting")
        except TimeoutError as exc:
            raise _StillStarting(f"scan worker did not start within {timeout:g}s") from exc
        except (EOFError, OSError) as exc:
            raise ScanFailed(f"scan worker exited while starting (exit code "
                             f"{self.process.poll()})") from exc
        self.ready = True

    def scan(self, settings: bytes, raw: Handover, timeout: float, ocr: bool
             ) -> tuple[bool, Any, bool]:
        """Send one message (bytes, or a spooled file the worker reads) to be scanned within
        ``timeout`` seconds, its scans and images read by OCR or not; return ``(True, facts, OCR
        wanted)`` or ``(False, exception from the scan, False)``. OCR wanted: ``ocr`` was False
        and the message holds a scan or image.

        :raises ScanFailed: the worker died, or had not answered ``timeout`` seconds after the
            message started to go out (the worker must then be thrown away).
        """
        fds: tuple[int, ...] = ()
        if isinstance(raw, SpooledFile):
            message, size, fds = memoryview(b""), raw.size, (raw.fd,)
        else:
            message = memoryview(raw).cast("B")  # not bytes-like: TypeError here, before sending
            size = message.nbytes
        blob = memoryview(b"" if settings is self.settings else settings)
        try:
            self.wait_ready()
            deadline = time.monotonic() + timeout
            # the worker reads at once (it was idle) and writes its answer in one piece: the
            # time left when its answer starts bounds the scan
            self.sock.settimeout(timeout)
            _send_all(self.sock, [memoryview(_REQUEST.pack(blob.nbytes, size, timeout, ocr,
                                                           bool(fds))), blob, message], fds)
            self.settings = settings
            self.sock.settimeout(max(deadline - time.monotonic(), 1e-3))
            ok, value, wanted, self.rss = pickle.loads(_recv_frame(self.sock))
        except TimeoutError as exc:
            raise ScanFailed(f"scan still running at its deadline of {timeout:g}s "
                             "(limits.max_seconds): worker killed", "deadline") from exc
        except (EOFError, OSError) as exc:
            raise ScanFailed("scan worker died") from exc
        self.tasks += 1
        return ok, value, wanted

    def stop(self, kill: bool = False) -> None:
        """End the worker: killed, or told to exit (end of file on its socket) when idle."""
        if kill:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        self.sock.close()

    def reap(self, timeout: float | None = 0) -> bool:
        """Collect the exit status of a stopped worker; True once it is gone."""
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True


class _Vacant:
    """A place in a lane whose worker is started only when a message needs it (the OCR lane)."""


#: The one vacant place (a lane of N workers holds N places: workers or vacant ones).
_VACANT = _Vacant()


class _Waiter:
    """A thread waiting for a worker: its lock is released when one is handed to it."""

    __slots__ = ("handed", "lock", "worker")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lock.acquire()
        self.handed = False
        self.worker: _Worker | _Vacant | None = None


class _IdleWorkers:
    """The idle workers (and vacant places), last in first out, so that under light load the
    same warm worker serves; ``None`` put in means the pool closed.

    Waiting threads are served first come, first served: a worker given back goes straight to
    the thread that has waited longest. A semaphore or ``SimpleQueue`` lets whichever thread
    asks at that moment take it instead, so under load a few messages waited several times the
    mean while others went through at once (docs/performance.md, "p99 at 50 sessions").
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._workers: collections.deque[_Worker | _Vacant] = collections.deque()
        #: one entry per worker or close put in and not yet taken, in order; False: closed
        self._tokens: collections.deque[bool] = collections.deque()
        self._waiters: collections.deque[_Waiter] = collections.deque()

    def put(self, worker: _Worker | _Vacant | None) -> None:
        """Add an idle worker or a vacant place, or (None) tell one waiter that the pool
        closed."""
        with self._lock:
            if self._waiters:  # nothing is idle while a thread waits: hand it over
                waiter = self._waiters.popleft()
                waiter.worker, waiter.handed = worker, True
                waiter.lock.release()
                return
            if worker is not None:
                self._workers.append(worker)
            self._tokens.append(worker is not None)

    @property
    def waiting(self) -> int:
        """Threads waiting for a worker now."""
        with self._lock:
            return len(self._waiters)

    def get(self, timeout: float | None = None) -> _Worker | _Vacant | None:
        """The worker (or vacant place) that became idle last, or None for a closed pool; a
        thread that must wait is served after those that waited before it.

        :raises queue.Empty: nothing within ``timeout`` seconds.
        """
        with self._lock:
            if self._tokens:
                return self._workers.pop() if self._tokens.popleft() else None
            waiter = _Waiter()
            self._waiters.append(waiter)
        if waiter.lock.acquire(timeout=-1 if timeout is None else max(timeout, 0.0)):
            return waiter.worker
        with self._lock:
            if not waiter.handed:  # timed out: leave the line
                self._waiters.remove(waiter)
                raise queue.Empty
        return waiter.worker  # handed over between the time-out and the lock


class _Lane:
    """The workers of one lane: its size, its idle workers, and those stopped but not yet
    reaped. The pool's lock guards ``all``, ``stopped`` and ``busy``.

    A ``lazy`` lane starts a worker only when a message needs one, and replaces a worker that
    died or served its time only then too (see :meth:`ScanPool.start`).
    """

    def __init__(self, name: str, size: int, nice: int = 0, lazy: bool = False) -> None:
        self.name = name
        self.size = size
        self.nice = nice
        self.lazy = lazy
        self.idle = _IdleWorkers()
        self.all: set[_Worker] = set()
        self.stopped: list[_Worker] = []
        self.busy = 0


class ScanPool:
    """Scan messages in worker processes (see the module docstring); thread-safe.

    ``workers=0`` scans every message in the calling thread (no processes at all, no OCR).
    ``ocr_workers``: the workers of the OCR lane; 0 makes no lane, and the scan workers then
    read scans themselves. ``ocr_nice``: how much lower their CPU priority is.
    """

    def __init__(self, workers: int, inline_below: int = DEFAULT_INLINE_BELOW,
                 max_tasks: int = DEFAULT_MAX_TASKS, user: str | None = None,
                 max_rss: int = DEFAULT_MAX_RSS, events: PoolEvents | None = None,
                 ocr_workers: int = 0, ocr_nice: int = DEFAULT_OCR_NICE) -> None:
        if workers < 0 or ocr_workers < 0:
            raise ValueError("workers must be 0 or more")
        self.workers = workers
        #: no OCR lane without scan workers: in the milter process nothing is read by OCR
        self.ocr_workers = ocr_workers if workers else 0
        self.inline_below = inline_below
        self.max_tasks = max_tasks
        self.max_rss = max_rss
        self.user = user  #: each worker switches to this user after start-up (see _worker_init)
        self.events = events
        self._lock = threading.Lock()
        self._ordinary = _Lane("ordinary", self.workers)
        self._ocr = _Lane("ocr", self.ocr_workers, ocr_nice, lazy=True)
        self._lanes = {lane.name: lane for lane in (self._ordinary, self._ocr)}
        self._settings: tuple[Policy, bytes] | None = None
        self._closed = False

    def start(self) -> None:
        """Start the scan workers now and wait until they have started.

        The OCR lane starts a worker only for the first message that needs one (Tesseract's
        model and page images make each 29 MB or more, held for nothing on a gateway that never
        sees a scan), and a worker of the lane that died or served its time is replaced only
        when the next scan comes: that message waits for the start within its own
        ``limits.max_seconds``. A user switch that fails shows in the scan workers already.

        :raises ScanFailed: a scan worker did not start (for example it could not switch user).
        """
        for lane in self._lanes.values():
            if lane.lazy:
                for _ in range(lane.size):
                    lane.idle.put(_VACANT)
        started = [self._spawn(self._ordinary) for _ in range(self._ordinary.size)]
        for worker in started:
            worker.wait_ready()
            self._ordinary.idle.put(worker)

    def worker_pids(self, lane: str | None = None) -> list[int]:
        """The process ids of the current workers of ``lane``, or of all (operators, tests)."""
        with self._lock:
            return sorted(w.process.pid for one in self._chosen(lane) for w in one.all)

    def worker_count(self, lane: str | None = None) -> int:
        """How many workers (of ``lane``, or of all) are running."""
        with self._lock:
            return sum(len(one.all) for one in self._chosen(lane))

    def busy_workers(self, lane: str | None = None) -> int:
        """How many workers (of ``lane``, or of all) are scanning a message now."""
        with self._lock:
            return sum(one.busy for one in self._chosen(lane))

    def workers_resident_bytes(self, lane: str | None = None) -> int:
        """The memory the current workers (of ``lane``, or all) hold now, together (0 where
        ``/proc`` is missing)."""
        return sum(resident_bytes(pid) for pid in self.worker_pids(lane))

    def scan(self, raw: Handover, policy: Policy) -> MessageFacts:
        """The facts :func:`govmilter.scan.scan_message` would give, from a worker if useful.

        :raises ScanFailed: the worker crashed or hung on this message.
        """
        return self.scan_lazily(lambda: raw, policy)

    def scan_lazily(self, read: Callable[[], Handover], policy: Policy) -> MessageFacts:
        """:meth:`scan` of the message ``read()`` returns (bytes, a view of the spool's buffer
        or its file), called only once a worker is free.

        A thread waiting for a worker of the ordinary lane holds no copy of its message
        meanwhile (at 50 sessions of 1 MB messages that was most of the milter's memory). With an
        OCR lane, an ordinary worker scans without OCR; when the message holds a scan or image,
        it is scanned again, with OCR, by a worker of the OCR lane, within what is left of
        ``limits.max_seconds``: the ordinary lane is never held by OCR.
        """
        if self.workers == 0:  # no OCR in the milter process
            return scan_message(message_bytes(read()), policy, ocr=False)
        limit = policy.limits.max_seconds
        settings = self._settings_for(policy)
        with self._worker(self._ordinary) as worker:
            raw = read()
            if message_size(raw) < self.inline_below:
                return scan_message(message_bytes(raw), policy, ocr=False)
            started = time.monotonic()
            ok, value, wanted = worker.scan(settings, raw, limit, not self.ocr_workers)
        if ok and wanted:
            # A flood of scans must not hold mail past its budget: the wait for an OCR worker
            # and its reading share what is left of limits.max_seconds, and a message for which
            # no OCR worker comes free in time is decided on what was read without OCR.
            deadline = started + limit
            try:
                with self._worker(self._ocr, deadline) as worker:
                    left = max(deadline - time.monotonic(), 1e-3)
                    ok, value, _ = worker.scan(settings, raw, left, True)
            except _LaneBusy:
                # the milter logs it with the queue id (govmilter.server.milter)
                if self.events is not None:
                    self.events.ocr_lane_busy()
                unread: MessageFacts = value
                return dataclasses.replace(unread, notes=(*unread.notes, OCR_LANE_BUSY))
        if ok:
            facts: MessageFacts = value
            return facts
        raise value

    def close(self) -> None:
        """Stop the workers; scans in progress get up to 10 s to finish."""
        with self._lock:
            self._closed = True
        deadline = time.monotonic() + 10.0
        for lane in self._lanes.values():
            with self._lock:
                busy = len(lane.all)
            idle: list[_Worker] = []
            while len(idle) < busy and time.monotonic() < deadline:
                try:
                    worker = lane.idle.get(timeout=0.1)
                except queue.Empty:
                    continue
                if isinstance(worker, _Worker):
                    idle.append(worker)
            lane.idle.put(None)  # wakes every thread still waiting for a worker
            with self._lock:
                workers, lane.all = list(lane.all), set()
                stopped, lane.stopped = lane.stopped, []
            for worker in workers:
                worker.stop(kill=worker not in idle)
            for worker in workers + stopped:
                if not worker.reap(timeout=5.0):
                    worker.stop(kill=True)
                    worker.reap(timeout=5.0)

    # ---- internals -------------------------------------------------------------------------
    def _chosen(self, lane: str | None) -> list[_Lane]:
        return list(self._lanes.values()) if lane is None else [self._lanes[lane]]

    @contextlib.contextmanager
    def _worker(self, lane: _Lane, deadline: float | None = None) -> Iterator[_Worker]:
        """A free worker of ``lane``, given back (or replaced when it failed) afterwards.

        :raises _LaneBusy: none came free before ``deadline`` (a ``time.monotonic()`` value).
        """
        worker = self._acquire(lane, deadline)
        failure: ScanFailed | None = None
        try:
            yield worker
        except ScanFailed as exc:
            failure = exc
            raise
        finally:
            self._release(lane, worker, failure)

    def _spawn(self, lane: _Lane, vacant: bool = False) -> _Worker:
        """A new worker of ``lane``; for a ``vacant`` place, none once the pool has closed.

        :raises ScanFailed: ``vacant`` and the pool closed (``close()`` no longer sees it).
        """
        worker = _Worker(os.getpid(), self.user, lane.nice)
        with self._lock:
            closed = vacant and self._closed
            if not closed:
                lane.all.add(worker)
        if closed:
            worker.stop(kill=True)
            worker.reap(timeout=5.0)
            raise ScanFailed("the scan pool is closed")
        return worker

    def _acquire(self, lane: _Lane, deadline: float | None = None) -> _Worker:
        # No time-out on the ordinary lane's wait: a waiter that timed out and waited again
        # would go to the back of the line, and under load the oldest messages would wait
        # longest. A waiter for the OCR lane that times out gives up instead (see scan_lazily).
        waited = time.monotonic()
        try:
            worker = lane.idle.get(None if deadline is None else max(deadline - waited, 0.0))
        except queue.Empty:
            raise _LaneBusy from None
        if worker is None:
            lane.idle.put(None)  # pass the news on to the next waiter
            raise ScanFailed("the scan pool is closed")
        if isinstance(worker, _Vacant):
            worker = self._spawn(lane, vacant=True)
        with self._lock:
            lane.busy += 1
        if not worker.ready and deadline is not None:
            # A lazy lane's worker, started for this message (or for an earlier one whose budget
            # ran out first): its start counts inside this message's budget, and a worker still
            # starting at the deadline is kept for the next message.
            try:
                worker.wait_ready(max(deadline - time.monotonic(), 1e-3))
            except _StillStarting:
                self._release(lane, worker)
                raise _LaneBusy from None
            except ScanFailed as exc:
                self._release(lane, worker, exc)
                raise
        if self.events is not None:
            self.events.scan_waited(time.monotonic() - waited, lane.name)
        return worker

    def _release(self, lane: _Lane, worker: _Worker, failure: ScanFailed | None = None) -> None:
        """Give the worker back, or replace it when it failed or has served its time."""
        with self._lock:
            lane.busy -= 1
        cause = failure.cause if failure is not None else (
            "memory" if worker.rss > self.max_rss else
            "tasks" if worker.tasks >= self.max_tasks else None)
        replace = cause is not None
        if cause is not None:
            if cause == "deadline":
                log.warning("scan worker killed at the scan deadline (limits.max_seconds) and "
                            "replaced (lane %s)", lane.name)
            elif failure is not None:
                log.warning("scan worker replaced: it died on a message (lane %s)", lane.name)
            elif cause == "memory":
                log.info("scan worker replaced: it held %d MiB after a message (limit %d MiB)",
                         worker.rss >> 20, self.max_rss >> 20)
            worker.stop(kill=failure is not None)
            if self.events is not None:
                self.events.scan_worker_replaced(cause, lane.name)
            with self._lock:
                lane.all.discard(worker)
                lane.stopped.append(worker)
                # collect the exit status of workers stopped earlier (no zombies)
                lane.stopped = [w for w in lane.stopped if not w.reap()]
        with self._lock:
            closed = self._closed
        if closed:
            if not replace:
                lane.idle.put(worker)  # close() is collecting the idle workers
            return
        lane.idle.put(worker if not replace else _VACANT if lane.lazy else self._spawn(lane))

    def _settings_for(self, policy: Policy) -> bytes:
        """The pickled limits and detection settings, made once per policy."""
        cached = self._settings
        if cached is None or cached[0] is not policy:
            cached = (policy, pickle.dumps((policy.limits, policy.detection)))
            self._settings = cached
        return cached[1]


def _serve(sock: socket.socket, parent: int, user: str | None, nice: int = 0) -> None:
    """A worker's life: start, then scan one message after another until the socket closes."""
    _worker_init(parent, user, nice)
    try:
        _send_frame(sock, _READY)
    except OSError:
        return  # stopped before it was ready (the pool closed)
    settings: Any = None
    memory = ResidentMemory()
    while True:
        try:
            header, fds = _recv_request_header(sock)
            try:
                blob_size, raw_size, seconds, ocr, in_file = _REQUEST.unpack(header)
                if blob_size:
                    settings = pickle.loads(_recv_exactly(sock, blob_size))
                raw = read_file(fds[0], raw_size) if in_file else _recv_exactly(sock, raw_size)
            finally:
                for fd in fds:
                    os.close(fd)
        except (EOFError, OSError, IndexError):
            return  # the milter stopped this worker, or is gone
        try:
            answer = pickle.dumps((True, *_scan(raw, settings, seconds, ocr), memory.bytes()))
        except Exception as exc:  # the milter applies on_error; the worker goes on
            answer = _failure(exc, memory.bytes())
        del raw
        try:
            _send_frame(sock, answer)
        except OSError:
            return


def _scan(raw: bytes, settings: tuple[Limits, DetectionSettings], seconds: float, ocr: bool
          ) -> tuple[MessageFacts, bool]:
    """Scan within ``seconds`` (what is left of ``limits.max_seconds`` for a second pass in the
    OCR lane); without ``ocr``, also say whether OCR was wanted."""
    limits, detection = settings
    if seconds != limits.max_seconds:
        limits = dataclasses.replace(limits, max_seconds=seconds)
    if ocr:
        return scan_with(raw, limits, detection), False
    return scan_deferring_ocr(raw, limits, detection)


def _failure(exc: Exception, rss: int) -> bytes:
    """A scan's exception, pickled for the milter (by type name when it does not pickle)."""
    try:
        return pickle.dumps((False, exc, False, rss))
    except Exception:
        return pickle.dumps((False, ScanFailed(f"scan raised {type(exc).__name__}"), False, rss))


_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def _statm_resident(statm: bytes) -> int:
    """Resident bytes from the text of a ``/proc/PID/statm`` file."""
    return int(statm.split()[1]) * _PAGE_BYTES


def resident_bytes(pid: int) -> int:
    """The resident memory of process ``pid`` now, or 0 when it cannot be read (gone, no
    ``/proc``)."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return _statm_resident(statm.read())
    except (OSError, ValueError, IndexError):
        return 0


class ResidentMemory:
    """This process's resident memory now, from ``/proc/self/statm`` (cheap enough per message).

    Not ``getrusage``'s ``ru_maxrss``: that peak survives ``exec``, so a worker started by a big
    process would report its parent's size. Without ``/proc`` it reads 0 (only ``max_tasks``
    then replaces workers).
    """

    def __init__(self) -> None:
        try:
            self._fd: int | None = os.open("/proc/self/statm", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            self._fd = None

    def bytes(self) -> int:
        """Resident bytes, or 0 when they cannot be read."""
        if self._fd is None:
            return 0
        try:
            return _statm_resident(os.pread(self._fd, 128, 0))
        except (OSError, ValueError, IndexError):
            return 0


def _worker_init(parent: int, user: str | None, nice: int = 0) -> None:
    """In each worker: switch user, take signals again and exit when the milter is gone.

    The daemon blocks SIGTERM/SIGHUP/SIGINT before starting any thread (libmilter's signal
    thread waits for them), and a spawned process inherits that mask: unblock them, so that
    stopping the service stops its workers. A worker whose milter was killed (SIGKILL, OOM)
    sees its pipe close, or, in the middle of a long scan, is ended by a watchdog thread.
    """
    if user is not None:
        drop_privileges(user)  # a no-op when the milter already runs as that user
    if nice:
        os.nice(nice)  # the OCR lane: ordinary mail first (see DEFAULT_OCR_NICE)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGHUP, signal.SIGINT})

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str]) -> None:
    """A worker process's entry point.

    Started as ``python -m govmilter.server.workers FD PARENT_PID [USER [NICE]]``.
    """
    fd, parent, user = int(argv[0]), int(argv[1]), argv[2] if len(argv) > 2 else ""
    nice = int(argv[3]) if len(argv) > 3 else 0
    _serve(socket.socket(fileno=fd), parent, user or None, nice)


if __name__ == "__main__":
    # through the imported module, so that what the worker pickles (ScanFailed) is
    # govmilter.server.workers.ScanFailed for the milter, not __main__.ScanFailed
    from govmilter.server.workers import main as worker_main

    worker_main(sys.argv[1:])
