"""Telling linear from super-linear work by timing it, on a shared and noisy machine.

A test times the same work on an input and on one ``SCALE`` times as large, in the same run, and
compares the two: linear work grows about ``SCALE`` times, quadratic work ``SCALE**2`` times.
Absolute times say nothing here (other processes share the cores). The clock is this process's
CPU time, not the wall clock (time given to other processes is not counted: on the loaded 2-core
machine wall-clock ratios of linear work ranged 6 to 17, CPU-time ratios 7.5 to 7.7); the two
sizes are timed in turns, best of three each, and the limit, :data:`MAX_RATIO`, sits halfway (in
a log scale) between linear and quadratic.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

Input = TypeVar("Input")

#: How much larger the second input is.
SCALE = 8
#: The most the time may grow for a ``SCALE`` times larger input: linear is 8, quadratic 64.
MAX_RATIO = 24.0
#: A timing repeats the work until the small input takes this long, so that the clock's
#: resolution and a single hiccup do not decide a ratio.
MIN_SECONDS = 0.002
#: Past this (predicted) time for the large input, the work counts as hopeless and is not run.
GIVE_UP_SECONDS = 20.0
clock = time.process_time


def cpu_seconds(work: Callable[[], object], loops: int) -> float:
    """CPU seconds for ``loops`` runs of ``work``."""
    start = clock()
    for _ in range(loops):
        work()
    return clock() - start


def loops_for(work: Callable[[], object]) -> tuple[int, float]:
    """How many runs of ``work`` take at least :data:`MIN_SECONDS`, and the time they took."""
    loops = 1
    while True:
        seconds = cpu_seconds(work, loops)
        if seconds >= MIN_SECONDS or loops >= 100_000:
            return loops, seconds
        loops *= 2 if seconds * 4 > MIN_SECONDS else 8


@dataclass(frozen=True, slots=True)
class Growth:
    """How the time of some work grew from the small input to the large one."""

    small_seconds: float
    large_seconds: float
    #: ``large_seconds / small_seconds`` (predicted when the large input was not run)
    ratio: float

    @property
    def linear(self) -> bool:
        """True when the growth stays under :data:`MAX_RATIO`."""
        return self.ratio < MAX_RATIO

    def __str__(self) -> str:
        return (f"{SCALE}x the input took {self.ratio:.1f}x the time "
                f"({self.small_seconds * 1e3:.2f} ms -> {self.large_seconds * 1e3:.2f} ms of "
                f"CPU; linear would be about {SCALE}x, limit {MAX_RATIO:g}x)")


def growth(make: Callable[[int], Input], run: Callable[[Input], object], size: int,
           rounds: int = 3) -> Growth:
    """Time ``run(make(size))`` against ``run(make(SCALE * size))``, in turns, best of
    ``rounds`` each.

    Slow work is first timed at twice the size: when that predicts hours for the large input
    (cubic growth, say), the large one is not run and the prediction is reported instead.
    """
    small, large = make(size), make(SCALE * size)
    loops, base = loops_for(lambda: run(small))
    if base > 0.05:
        double = make(2 * size)
        twice = cpu_seconds(lambda: run(double), loops)
        predicted = base * (twice / base) ** 3  # SCALE = 2**3
        if predicted > GIVE_UP_SECONDS:
            return Growth(base, predicted, predicted / base)
    best_small = best_large = float("inf")
    for _ in range(rounds):
        best_small = min(best_small, cpu_seconds(lambda: run(small), loops))
        best_large = min(best_large, cpu_seconds(lambda: run(large), loops))
    return Growth(best_small, best_large, best_large / max(best_small, 1e-9))


def assert_linear(make: Callable[[int], Input], run: Callable[[Input], object], size: int,
                  what: str, rounds: int = 3) -> Growth:
    """Fail when ``run`` grows super-linearly in the size ``make`` gives it.

    A ratio over the limit is measured once more (best of five) before it fails the test, so
    that a burst of load during one measurement does not.
    """
    measured = growth(make, run, size, rounds)
    if not measured.linear and measured.large_seconds < GIVE_UP_SECONDS:
        measured = growth(make, run, size, 5)
    assert measured.linear, f"{what}: {measured}"
    return measured
