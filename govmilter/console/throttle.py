"""Login attempts, rate-limited: after a few wrong passwords a name is blocked for a while.

Kept in memory (one console process): after :data:`FREE_FAILURES` failures within
:data:`WINDOW` seconds the name is blocked for :data:`FIRST_BLOCK` seconds, doubling with each
further failure up to :data:`LONGEST_BLOCK`. While blocked, even the right password is refused,
so guessing gains nothing by trying faster. Keyed by the name typed (and, four times as
tolerant, by the client address), so one attacker cannot lock out everyone behind one proxy.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

FREE_FAILURES = 5
WINDOW = 900.0
FIRST_BLOCK = 60.0
LONGEST_BLOCK = 900.0
#: More keys than this and the oldest are forgotten (a flood of made-up names stays bounded).
MAX_KEYS = 10_000


@dataclass(slots=True)
class _Record:
    failures: int
    first: float
    blocked_until: float


class LoginThrottle:
    """Failure counts per key; :meth:`wait` says how long a key must still wait."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._records: dict[str, _Record] = {}
        self._lock = threading.Lock()

    def wait(self, *keys: str) -> float:
        """Seconds until a login under these keys may be tried again (0: now)."""
        now = self._clock()
        with self._lock:
            until = max((r.blocked_until for key in keys
                         if (r := self._records.get(key)) is not None), default=now)
        return max(0.0, until - now)

    def failed(self, key: str, allowed: int = FREE_FAILURES) -> None:
        """Count a failure under ``key`` (block it once more than ``allowed`` failed)."""
        now = self._clock()
        with self._lock:
            record = self._records.get(key)
            if record is None or (now - record.first > WINDOW and record.blocked_until < now):
                record = _Record(0, now, 0.0)
            record.failures += 1
            if record.failures >= allowed:
                extra = record.failures - allowed
                record.blocked_until = now + min(LONGEST_BLOCK, FIRST_BLOCK * 2 ** min(extra, 10))
            self._records.pop(key, None)
            self._records[key] = record  # newest last: the oldest are pruned first
            while len(self._records) > MAX_KEYS:
                del self._records[next(iter(self._records))]

    def succeeded(self, key: str) -> None:
        """Forget the failures of ``key``."""
        with self._lock:
            self._records.pop(key, None)
