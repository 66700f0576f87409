"""The pure core stays pure: it imports neither pymilter nor prometheus-client (DESIGN.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ("govmilter.policy", "govmilter.domains", "govmilter.document", "govmilter.message",
        "govmilter.scan", "govmilter.verdict", "govmilter.envelope", "govmilter.lookalike")


def test_core_modules_import_no_milter_and_no_metrics_library() -> None:
    code = ("import json, sys\n" + "".join(f"import {m}\n" for m in CORE)
            + "print(json.dumps(sorted(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=60, check=True)
    loaded = set(json.loads(result.stdout))
    assert not {"Milter", "milter", "prometheus_client"} & loaded
