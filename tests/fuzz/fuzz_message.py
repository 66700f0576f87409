"""Coverage-guided fuzzing of message parsing with atheris: bytes -> scan_message -> decide.

Run it longer than CI does (crashes are written to tests/data/regressions/, which
tests/mail/test_fuzz.py replays):

    PYTHONPATH=$PWD:$PWD/tests python tests/fuzz/fuzz_message.py -max_total_time=3600 \\
        -timeout=10 -rss_limit_mb=2048 /tmp/govmilter-corpus tests/fuzz/seeds

Any libFuzzer flag works (-runs=N, -jobs=N, -max_len=N). Slow inputs (over -timeout seconds)
and memory blow-ups (over -rss_limit_mb) count as crashes too: that is the bound being tested.
"""

from __future__ import annotations

from pathlib import Path

import atheris

with atheris.instrument_imports(include=["govmilter", "email"]):
    import email.feedparser  # noqa: F401  (instrumented: the parser is what is fuzzed)

    from harness import check_message, fuzz

REGRESSIONS = Path(__file__).resolve().parent.parent / "data" / "regressions"


def test_one_input(data: bytes) -> None:
    """libFuzzer's entry point: any exception or failed invariant is a crash."""
    check_message(data)


if __name__ == "__main__":
    fuzz(test_one_input, REGRESSIONS)
