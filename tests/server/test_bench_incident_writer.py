"""bench/incident_writer.py end to end, briefly: it feeds the writer, measures and writes its
JSON, and every message it counted is in the store. No timing is asserted (speed is a
benchmark result, never a test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_writer_benchmark_runs_and_loses_no_count(tmp_path: Path) -> None:
    out = tmp_path / "writer.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench.incident_writer", "--seconds", "1", "--rounds", "1",
         "--rate", "100", "--backends", "sqlite", "--json", str(out)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    [measured] = json.loads(out.read_text(encoding="utf-8"))["backends"].values()
    assert measured["counts_made"] == measured["counted_in_store"] == 200 + 100 + 50_000
    assert {"writer_ms_per_message", "hot_path_us_per_message", "percent_of_plain"} <= \
        set(measured)
    assert "sqlite" in result.stdout and "ms/message" in result.stdout
