"""The daemon's signal handling (govmilter/server/signals.py) against a stand-in for libmilter:
a thread that ``sigwait``s SIGHUP as libmilter's signal thread does, in a process of its own
(the test changes its main thread's signal mask)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

STAND_IN = textwrap.dedent("""
    import os, signal, threading
    from govmilter.server.signals import block_signals, serve_until_stopped

    def blocked_in_main_thread():
        status = open(f"/proc/self/task/{threading.main_thread().native_id}/status").read()
        mask = int(next(line for line in status.splitlines()
                        if line.startswith("SigBlk:")).split()[1], 16)
        return bool(mask & (1 << (signal.SIGHUP - 1)))

    block_signals()  # as the daemon does before any thread starts
    stolen, reloads, seen = [], [], []

    def serve():  # what libmilter does at its start: a thread waits for SIGHUP
        seen.append(blocked_in_main_thread())
        def libmilter_signal_thread():
            stolen.append(signal.sigtimedwait([signal.SIGHUP], 1.0))
        waiter = threading.Thread(target=libmilter_signal_thread)
        waiter.start()
        os.kill(os.getpid(), signal.SIGHUP)  # the moment the socket listens
        waiter.join()

    ended = serve_until_stopped(serve, "unix:/nonexistent/milter.sock", reloads.append)
    print(ended, reloads, stolen, seen)
""")


def test_the_main_thread_takes_the_signals_before_the_milter_starts() -> None:
    """The main thread takes the daemon's signals before libmilter starts: a SIGHUP sent at
    once (as the harness does when the socket listens) is not left pending for libmilter's
    ``sigwait``. On the old order (the main thread unblocked them after it started the milter
    thread) 7 of 20 runs here saw them still blocked when the milter started.

    Which thread then gets it is the kernel's choice: here (gVisor) the thread in ``sigwait``
    took it in 3 of 30 runs although the main thread accepted it, so only the main thread's
    mask and the end of the run are asserted."""
    result = subprocess.run([sys.executable, "-c", STAND_IN], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    # the printed line ends with [blocked in the main thread when the milter started]
    assert result.stdout.startswith("milter ended ") and result.stdout.split()[-1] == "[False]", \
        result.stdout
