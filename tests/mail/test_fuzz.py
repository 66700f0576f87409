"""The fuzz targets, run briefly (issues #8 and #16), and the replay of every crash they found.

tests/fuzz/fuzz_message.py is an atheris (libFuzzer) harness over scan_message + decide with
the default policy; tests/fuzz/fuzz_xml.py makes each small input a message with a DOCX, ODT or
edXML attachment of 64 KiB to 1 MiB (past libFuzzer's input cap) and checks it the same way.
CI runs each for GOVMILTER_FUZZ_SECONDS (default 20); a crash, a slow input (-timeout) or a
memory blow-up (-rss_limit_mb) fails the test and the input is copied into
tests/data/regressions/ (regressions-xml/), which the replay tests run for ever after.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fuzz.harness import check_message, xml_attachment_message
from postfix_harness import require

TESTS = Path(__file__).resolve().parents[1]
REGRESSIONS = TESTS / "data" / "regressions"
SEEDS = TESTS / "fuzz" / "seeds"
REPLAYED = sorted([*REGRESSIONS.iterdir(), *SEEDS.iterdir()])
XML_REGRESSIONS = TESTS / "data" / "regressions-xml"
XML_SEEDS = TESTS / "fuzz" / "xml_seeds"
XML_REPLAYED = sorted([*XML_REGRESSIONS.glob("*"), *XML_SEEDS.iterdir()])


@pytest.mark.parametrize("path", REPLAYED, ids=[f"{p.parent.name}/{p.name}" for p in REPLAYED])
def test_every_saved_input_gives_a_verdict(path: Path) -> None:
    verdict = check_message(path.read_bytes())
    assert verdict.recipients


@pytest.mark.parametrize("path", XML_REPLAYED,
                         ids=[f"{p.parent.name}/{p.name}" for p in XML_REPLAYED])
def test_every_saved_xml_input_gives_a_verdict(path: Path) -> None:
    raw = xml_attachment_message(path.read_bytes())
    assert len(raw) > 64 * 1024  # past the message fuzzer's input cap
    assert check_message(raw).recipients


def test_regression_corpus_is_not_empty() -> None:
    # The two crashes the fuzzer found first (bad base64 and charset in encoded words).
    assert len(list(REGRESSIONS.glob("crash-*"))) >= 2


def run_fuzzer(script: str, seeds: Path, regressions: Path, tmp_path: Path,
               max_len: int) -> None:
    """Run ``tests/fuzz/<script>`` for GOVMILTER_FUZZ_SECONDS; fail on any crash, slow input or
    memory blow-up, keeping the input in ``regressions`` for the replay tests."""
    require(importlib.util.find_spec("atheris"),
            "atheris missing: scripts/setup.sh installs it (the test extra)")
    seconds = int(os.environ.get("GOVMILTER_FUZZ_SECONDS", "20"))
    artifacts, corpus = tmp_path / "artifacts", tmp_path / "corpus"
    artifacts.mkdir()
    corpus.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(TESTS.parent), str(TESTS), str(TESTS / "fuzz"), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run(
        [sys.executable, str(TESTS / "fuzz" / script), f"-max_total_time={seconds}",
         "-timeout=10", "-rss_limit_mb=2048", f"-max_len={max_len}",
         f"-artifact_prefix={artifacts}/", str(corpus), str(seeds)],
        capture_output=True, text=True, timeout=seconds + 120, env=env, check=False)
    found = sorted(artifacts.iterdir())
    regressions.mkdir(exist_ok=True)
    for crash in found:  # keep them: the replay test turns each into a regression test
        shutil.copy(crash, regressions / crash.name)
    assert run.returncode == 0 and not found, (
        f"fuzzer failed (rc {run.returncode}); inputs saved to {regressions}: "
        f"{[p.name for p in found]}\n{run.stderr[-3000:]}")
    assert "Done" in run.stderr  # libFuzzer's summary line: it really ran


def test_fuzzer_finds_no_crash_in_a_bounded_run(tmp_path: Path) -> None:
    run_fuzzer("fuzz_message.py", SEEDS, REGRESSIONS, tmp_path, max_len=65536)


def test_xml_fuzzer_finds_no_crash_nor_slow_input_in_a_bounded_run(tmp_path: Path) -> None:
    run_fuzzer("fuzz_xml.py", XML_SEEDS, XML_REGRESSIONS, tmp_path, max_len=4096)
