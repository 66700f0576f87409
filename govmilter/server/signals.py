"""The daemon's signals: libmilter serves in a thread of its own, the main thread takes the signals.

libmilter starts a thread that ``sigwait``s SIGHUP, SIGTERM and SIGINT and stops the milter on
any of them, and it cannot be told not to. But a signal sent to the process (``kill``,
``systemctl``) goes to the main thread whenever the main thread can take it: Linux offers it to
the thread group's leader first. So libmilter runs in another thread, every thread but the main
one keeps these signals blocked, and the main thread takes them with Python handlers, from
before libmilter starts (a signal pending while every thread blocks it would go to libmilter's
``sigwait``):

* SIGHUP and SIGUSR1 reload the policy (the administrator's reflex and the systemd unit's);
* SIGTERM and SIGINT stop the milter at once.

Why the stop needs help: ``smfi_stop()`` closes the listening socket under a lock that
libmilter's listener holds while it polls that socket, for up to 5 seconds (``MI_CHK_TIME``),
so a plain stop took that long. The stop connects to the socket once it asked libmilter to stop:
the poll returns, the listener sees the stop and ends.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import signal
import socket
import threading
import time
from collections.abc import Callable
from types import FrameType

import Milter

from govmilter.server.transport import parse_inet_spec

log = logging.getLogger("govmilter")

#: Signals that reload the policy, and those that stop the milter.
RELOAD_SIGNALS = (signal.SIGHUP, signal.SIGUSR1)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
#: Every signal the daemon handles; blocked in all threads but the main one.
DAEMON_SIGNALS = frozenset({*RELOAD_SIGNALS, *STOP_SIGNALS})
#: How long a stop waits for libmilter's listener before the process exits without it.
STOP_WAIT_SECONDS = 10.0
#: Seconds between two wake-up connections while libmilter's listener has not ended.
_POKE_INTERVAL = 0.05
#: Put on the queue when the milter thread ends by itself (an error, or a stop from elsewhere).
_MILTER_ENDED = 0


def block_signals() -> None:
    """Block the daemon's signals in the calling thread and every thread it starts later."""
    signal.pthread_sigmask(signal.SIG_BLOCK, DAEMON_SIGNALS)


def wake_listener(spec: str, timeout: float = 1.0) -> bool:
    """Connect to the milter's own socket and hang up, so that a poll on it returns.

    True when the connection was made; False when nothing listens any more.
    """
    address = parse_inet_spec(spec)
    try:
        if address is None:
            path = spec.split(":", 1)[1] if ":" in spec else spec
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.settimeout(timeout)
                probe.connect(path)
            return True
        host, port = address
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def serve_until_stopped(serve: Callable[[], None], spec: str,
                        reload: Callable[[str], object]) -> str:
    """Run ``serve`` (libmilter's main loop) in a thread; reload and stop on signals.

    Call from the main thread, with :func:`block_signals` done before any thread started.
    Returns what ended the milter (``SIGTERM``, ``SIGINT`` or ``milter ended``); an exception
    raised by ``serve`` is raised here.
    """
    failure: list[BaseException] = []
    requests: queue.SimpleQueue[int] = queue.SimpleQueue()  # put() is safe in a signal handler

    def run_milter() -> None:
        try:
            block_signals()  # before libmilter starts its threads, which inherit the mask
            serve()
        except BaseException as exc:
            failure.append(exc)
        finally:
            requests.put(_MILTER_ENDED)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        requests.put(signum)

    previous = {signum: signal.signal(signum, on_signal) for signum in DAEMON_SIGNALS}
    # Unblocked before libmilter starts: a signal still blocked here when libmilter's signal
    # thread begins its sigwait (a SIGHUP sent as soon as the socket listens) would be taken by
    # that thread, which stops the milter.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, DAEMON_SIGNALS)
    milter_thread = threading.Thread(target=run_milter, name="govmilter-milter", daemon=True)
    milter_thread.start()
    try:
        while True:
            signum = requests.get()
            if signum == _MILTER_ENDED:
                ended_by = "milter ended"
                break
            name = signal.Signals(signum).name
            if signum in RELOAD_SIGNALS:
                try:
                    reload(name)
                except Exception:  # a reload must never end the daemon
                    log.exception("policy reload on %s failed", name)
                continue
            log.info("%s: stopping", name)
            _stop(milter_thread, spec)
            ended_by = name
            break
    finally:
        signal.pthread_sigmask(signal.SIG_BLOCK, DAEMON_SIGNALS)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if failure:
        raise failure[0]
    return ended_by


def _stop(milter_thread: threading.Thread, spec: str) -> None:
    """Ask libmilter to stop and wake its listener until it has ended (or the wait is over)."""
    # smfi_stop() waits for the listener's lock: in a thread, while this one wakes the listener
    threading.Thread(target=_smfi_stop, name="govmilter-stop", daemon=True).start()
    deadline = time.monotonic() + STOP_WAIT_SECONDS
    while milter_thread.is_alive() and time.monotonic() < deadline:
        wake_listener(spec)
        milter_thread.join(_POKE_INTERVAL)
    if milter_thread.is_alive():
        log.warning("libmilter did not stop within %.0f s: exiting without it",
                    STOP_WAIT_SECONDS)


def _smfi_stop() -> None:
    with contextlib.suppress(Milter.milter.error):
        Milter.milter.stop()
