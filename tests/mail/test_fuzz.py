"""The fuzz target, run briefly (issue #8), and the replay of every crash it ever found.

tests/fuzz/fuzz_message.py is an atheris (libFuzzer) harness over scan_message + decide with
the default policy. CI runs it for GOVMILTER_FUZZ_SECONDS (default 20); a crash, a slow input
(-timeout) or a memory blow-up (-rss_limit_mb) fails the test and the input is copied into
tests/data/regressions/, which the replay test runs for ever after.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fuzz.harness import check_message
from postfix_harness import require

TESTS = Path(__file__).resolve().parents[1]
REGRESSIONS = TESTS / "data" / "regressions"
SEEDS = TESTS / "fuzz" / "seeds"
REPLAYED = sorted([*REGRESSIONS.iterdir(), *SEEDS.iterdir()])


@pytest.mark.parametrize("path", REPLAYED, ids=[f"{p.parent.name}/{p.name}" for p in REPLAYED])
def test_every_saved_input_gives_a_verdict(path: Path) -> None:
    verdict = check_message(path.read_bytes())
    assert verdict.recipients


def test_regression_corpus_is_not_empty() -> None:
    # The two crashes the fuzzer found first (bad base64 and charset in encoded words).
    assert len(list(REGRESSIONS.glob("crash-*"))) >= 2


def test_fuzzer_finds_no_crash_in_a_bounded_run(tmp_path: Path) -> None:
    require(importlib.util.find_spec("atheris"),
            "atheris missing: scripts/setup.sh installs it (the test extra)")
    seconds = int(os.environ.get("GOVMILTER_FUZZ_SECONDS", "20"))
    artifacts, corpus = tmp_path / "artifacts", tmp_path / "corpus"
    artifacts.mkdir()
    corpus.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(TESTS.parent), str(TESTS / "fuzz"), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run(
        [sys.executable, str(TESTS / "fuzz" / "fuzz_message.py"), f"-max_total_time={seconds}",
         "-timeout=10", "-rss_limit_mb=2048", "-max_len=65536",
         f"-artifact_prefix={artifacts}/", str(corpus), str(SEEDS)],
        capture_output=True, text=True, timeout=seconds + 120, env=env, check=False)
    found = sorted(artifacts.iterdir())
    for crash in found:  # keep them: the replay test turns each into a regression test
        shutil.copy(crash, REGRESSIONS / crash.name)
    assert run.returncode == 0 and not found, (
        f"fuzzer failed (rc {run.returncode}); inputs saved to {REGRESSIONS}: "
        f"{[p.name for p in found]}\n{run.stderr[-3000:]}")
    assert "Done" in run.stderr  # libFuzzer's summary line: it really ran
