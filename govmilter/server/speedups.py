"""The daemon's uses of library internals, kept for speed and kept together.

Each reaches past a library's documented surface to save work on every connection or message,
and each is pinned by a test in ``tests/server/test_server_speedups.py`` that fails when the library
changes under it (the mail layer's own, on the stdlib's email internals, is
:mod:`govmilter.mail.speedups`):

- :func:`negotiate`: pymilter's ``Milter.Base.negotiate`` without its search for
  ``@Milter.symlist`` callbacks, which cost more than the rest of a connection's set-up;
- :class:`LabelledChildren`: prometheus_client children found in one dictionary lookup instead of
  ``labels()``, which checks its arguments and takes a lock on every call;
- :func:`skip_log_record_lookups`: ``logging._srcfile`` and friends, so that no record looks up
  its caller's source line, thread or process (the logging HOWTO's "Optimization" section).
"""

from __future__ import annotations

import logging
from typing import Any

import Milter
from prometheus_client import Counter


def negotiate(milter: Milter.Base, opts: list[int]) -> int:
    """``Milter.Base.negotiate`` less its search for ``@Milter.symlist`` callbacks: right only
    while the milter class has none (the test compares both on every flag the MTA may offer)."""
    milter._actions, protocol, _, _ = opts
    opts[1] = milter._protocol = protocol & ~milter.protocol_mask()
    opts[2] = opts[3] = 0
    return int(Milter.CONTINUE)


class LabelledChildren:
    """A labelled metric's children, found by their label values in one dictionary lookup.

    Safe because govmilter never removes a child of the metrics it reads this way, and
    prometheus_client gives the same child for the same label values.
    """

    def __init__(self, metric: Counter) -> None:
        self._metric = metric
        self._known: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self._known.get(values)
        if child is None:
            child = self._known[values] = self._metric.labels(*values)
        return child


def skip_log_record_lookups() -> None:
    """Make log records without their caller's file and line, thread or process name (no
    govmilter format names them; finding the caller was half the cost of the line logged for each
    message)."""
    logging.logThreads = False
    logging.logMultiprocessing = False
    logging._srcfile = None
