"""bench/console.py end to end with few incidents: it fills, signs in, requests every page and
writes its JSON. No timing is asserted (speed is a benchmark result, never a test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_console_benchmark_runs_every_page(tmp_path: Path) -> None:
    out = tmp_path / "console.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench.console", "--count", "1200", "--backends", "sqlite",
         "--repeat", "2", "--json", str(out)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    report = json.loads(out.read_text(encoding="utf-8"))
    pages = report["backends"]["sqlite"]["pages"]
    assert set(pages) >= {"first page", "middle (keyset)", "search in subject", "held mail"}
    assert pages["first page"]["rows"] == 50
    assert pages["middle (keyset)"]["rows"] == 50  # the cursor led somewhere
    assert pages["document number"]["rows"] >= 1  # the number searched for exists
    assert "first page" in result.stdout
