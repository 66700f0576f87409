"""``govmilter run`` start-up: clear errors instead of tracebacks, the start-up line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from postfix_harness import REPO_ROOT, RunningMilter
from samples import policy_yaml


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    return subprocess.run([sys.executable, "-m", "govmilter", "run", *args], text=True,
                          capture_output=True, env=env, timeout=60)


def test_an_invalid_policy_refuses_to_start_with_file_and_line(tmp_path: Path) -> None:
    policy = tmp_path / "bad.yaml"
    policy.write_text("mode: enforce\nrules:\n  - id: x\n    action: explode\n")
    result = run("--policy", str(policy), "--socket", f"unix:{tmp_path}/s.sock",
                 "--metrics", "off")
    assert result.returncode == 2
    assert f"{policy}:4:" in result.stderr and "Traceback" not in result.stderr


def test_bad_socket_and_metrics_options_are_usage_errors(tmp_path: Path) -> None:
    long_path = "/tmp/" + "x" * 120 + "/govmilter.sock"
    for args, expected in (
        (["--socket", "unix:relative.sock"], "unix:/absolute/path"),
        (["--socket", f"unix:{long_path}"], "at most 107 bytes"),
        (["--metrics", "nonsense"], "HOST:PORT"),
        (["--socket-mode", "rw"], "octal"),
    ):
        result = run("--metrics", "off", "--socket", f"unix:{tmp_path}/s.sock", *args)
        assert result.returncode == 2, args
        assert expected in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_start_up_line_names_policy_sha256_socket_and_mode(tmp_path: Path) -> None:
    short = Path(f"/tmp/gm-daemon-{os.getpid()}")
    policy = tmp_path / "policy.yaml"
    policy.write_text(policy_yaml(mode="monitor"))
    daemon = RunningMilter(short, policy).start()
    try:
        [line] = [x for x in daemon.log().splitlines() if "starting:" in x]
        assert f"policy={policy}" in line and "sha256=" in line and "mode=monitor" in line
        assert f"socket=unix:{short}/govmilter.sock" in line
        assert oct(os.stat(daemon.socket_path).st_mode & 0o777) == "0o666"
    finally:
        assert daemon.stop() == 0
        subprocess.run(["rm", "-rf", str(short)], check=False)
