"""The installed ``govmilter`` command, run as a subprocess as an administrator would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parents[1]
ROOT = HERE.parent
SECRET_EML = HERE / "data" / "cong-van-secret.eml"


def govmilter(*args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
              ) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("govmilter")
    assert exe, "the govmilter command is not installed (pip install -e .)"
    # the code under test, even from a worktree
    env = {**os.environ, **(env or {}), "PYTHONPATH": str(ROOT)}
    return subprocess.run([exe, *args], capture_output=True, text=True, env=env, timeout=60,
                          input=stdin.decode() if stdin is not None else None)


def test_check_json_contract_for_a_secret_document() -> None:
    result = govmilter("check", "--json", str(SECRET_EML))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["sender"] == {**out["sender"], "address": "vanthu@mic.gov.vn", "class": "official"}
    assert out["official_document"] is True
    assert out["secrecy"] == "MẬT"
    assert out["mode"] == "enforce"
    assert any("588/BTTTT-THH" in e for e in out["evidence"])
    by_address = {r["address"]: r for r in out["recipients"]}
    gmail = by_address["nguyenvana@gmail.com"]
    assert (gmail["class"], gmail["action"], gmail["rule"], gmail["compliant"]) == (
        "freemail", "reject", "secret-to-freemail", False)
    assert gmail["applied"] is True
    assert gmail["reply"]["code"] == 550
    official = by_address["cntt@hanoi.gov.vn"]
    assert (official["class"], official["action"], official["compliant"]) == (
        "official", "accept", True)


def test_check_envelope_options_override_headers() -> None:
    result = govmilter("check", "--json", "--sender", "x@gmail.com", "--rcpt", "a@mic.gov.vn",
                       str(SECRET_EML))
    out = json.loads(result.stdout)
    assert out["sender"]["class"] == "freemail"
    assert [(r["address"], r["rule"]) for r in out["recipients"]] == [
        ("a@mic.gov.vn", "document-from-freemail")]


def test_check_monitor_mode_says_not_applied(tmp_path: Path) -> None:
    policy = tmp_path / "monitor.yaml"
    policy.write_text((ROOT / "policies" / "default.yaml").read_text(encoding="utf-8")
                      .replace("\nmode: enforce", "\nmode: monitor"), encoding="utf-8")
    out = json.loads(govmilter("check", "--json", "--policy", str(policy),
                               str(SECRET_EML)).stdout)
    gmail = next(r for r in out["recipients"] if r["class"] == "freemail")
    assert out["mode"] == "monitor"
    assert (gmail["action"], gmail["applied"]) == ("reject", False)


def test_check_human_output_names_rule_and_evidence() -> None:
    result = govmilter("check", str(SECRET_EML))
    assert result.returncode == 0
    assert "REJECT by rule secret-to-freemail" in result.stdout
    assert "national heading" in result.stdout


def test_check_reads_standard_input() -> None:
    result = govmilter("check", "--json", "-", stdin=SECRET_EML.read_bytes())
    assert json.loads(result.stdout)["official_document"] is True


def test_check_missing_file_is_a_clear_error() -> None:
    result = govmilter("check", "/nonexistent/message.eml")
    assert result.returncode == 1
    assert "cannot read /nonexistent/message.eml" in result.stderr
    assert "Traceback" not in result.stderr


def test_validate_default_policy_summary() -> None:
    result = govmilter("validate")
    assert result.returncode == 0
    assert "policy OK" in result.stdout
    assert "rules:      9" in result.stdout
    assert "dns:        on (system resolv.conf" in result.stdout


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("rules:\n  - id: a\n    action: explode\n", ":3: rule 'a'.action: unknown "
                     "value 'explode'", id="unknown-action"),
        pytest.param("rules: [\n", ":2: YAML syntax error", id="yaml-syntax"),
        pytest.param("rules:\n  - id: a\n    action: accept\n    when: 3\n",
                     ":4: rule 'a'.when must be a mapping, not a number", id="when-number"),
        pytest.param("domains:\n  freemail: [gmail.com]\nrules:\n  - id: a\n    action: accept\n",
                     ":2: domains.freemail must be a mapping, not a list", id="freemail-list"),
        pytest.param("? [a]\n: b\nrules:\n  - id: a\n    action: accept\n",
                     ":1: key ['a'] must be text, not a list", id="complex-key"),
        pytest.param("domains:\n  internal: [bad-.vn]\nrules:\n  - id: a\n    action: accept\n",
                     ":2: domains.internal: invalid domain 'bad-.vn': label 'bad-' in domain "
                     "'bad-.vn' starts or ends with '-'", id="hyphen-domain"),
    ],
)
def test_validate_errors_are_file_line_without_traceback(tmp_path: Path, text: str,
                                                         expected: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    result = govmilter("validate", str(bad))
    assert result.returncode == 2
    assert f"{bad}{expected}" in result.stderr
    assert "Traceback" not in result.stderr
    assert "policy refused" in result.stderr


def test_check_with_a_broken_policy_refuses_to_guess(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("mode: sometimes\nrules: []\n", encoding="utf-8")
    result = govmilter("check", "--policy", str(bad), str(SECRET_EML))
    assert result.returncode == 2
    assert f"{bad}:1:" in result.stderr


@pytest.mark.parametrize(("args", "not_loaded", "code"), [
    pytest.param(("check", "--no-dns", str(SECRET_EML)),
                 {"sqlalchemy", "Milter", "flask", "govmilter.server", "govmilter.store"}, 0,
                 id="check"),
    pytest.param(("report", "--help"), {"Milter", "flask", "govmilter.server"}, 0, id="report"),
    # a refused option of the daemon: told before the daemon, the store or a scanner loads
    pytest.param(("run", "--socket-mode", "rw"),
                 {"sqlalchemy", "Milter", "flask", "prometheus_client", "govmilter.server.daemon",
                  "govmilter.store", "govmilter.document", "govmilter.policy"}, 2,
                 id="run-refused"),
])
def test_a_command_imports_only_what_it_does(args: tuple[str, ...],
                                             not_loaded: set[str], code: int) -> None:
    """Each command is a new interpreter (the tests start hundreds): the store, the daemon and
    the console are imported by the commands that use them, not by every one."""
    result = govmilter(*args, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert result.returncode == code, result.stderr
    loaded = {line.rsplit("|", 1)[1].strip() for line in result.stderr.splitlines()
              if line.startswith("import time:") and "|" in line}
    assert "govmilter.cli" in loaded  # what the import-time log looks like was read right
    assert not {module for module in loaded for top in not_loaded
                if module == top or module.startswith(f"{top}.")}
    full = govmilter("--help", env={"PYTHONPROFILEIMPORTTIME": "1"})  # every command's options
    assert all(name in full.stdout for name in ("check", "run", "incidents", "console", "report"))
    assert "govmilter.server.options" in full.stderr and "sqlalchemy" in full.stderr


def test_the_daemons_default_state_directory_holds_the_default_store() -> None:
    """``--state-dir``'s default is written out in govmilter/server/options.py (which must not
    import the store): it is where the store's default database lives."""
    from govmilter.server.options import DEFAULT_STATE_DIR
    from govmilter.store import DEFAULT_DATABASE

    assert Path(DEFAULT_DATABASE).parent == Path(DEFAULT_STATE_DIR)
