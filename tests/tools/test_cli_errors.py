"""Bad input to the CLI (issue #8): one clear line, exit 1 (message) or 2 (policy), no traceback.

Also the security half of the loader: policy texts that would inject CR/LF (or any line break)
into SMTP replies or headers, YAML bombs, deep nesting and oversized files are refused with
file:line.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from govmilter.cli import main
from govmilter.policy.loader import MAX_POLICY_BYTES

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the real command, so that a traceback would show on stderr."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "govmilter", *args], capture_output=True,
                          text=True, env=env, timeout=60, check=False)


@pytest.mark.parametrize(("content", "expected"), [
    (b"", "is empty: no message to check"),
    (b"\r\n \r\n", "is empty: no message to check"),
    (bytes(range(256)) * 40, "no recipients"),
], ids=["empty", "blank", "binary-garbage"])
def test_check_on_unusable_files(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "message.eml"
    path.write_bytes(content)
    result = run_cli("check", str(path))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and expected in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("args", "expected"), [
    (["check", "--rcpt", "notanaddress", "m.eml"],
     "govmilter check: argument --rcpt: 'notanaddress' is not an address"),
    (["explain", "--sender", "nobody", "m.eml"],
     "govmilter explain: argument --sender: 'nobody' is not an address"),
    (["replay", "--jobs", "-1", "mail"],
     "govmilter replay: argument --jobs: -1 must be at least 1"),
    (["report", "--prometheus", "http://127.0.0.1:9", "--timeout", "0"],
     "govmilter report: argument --timeout: '0' must be a positive number of seconds"),
    (["eval"], "govmilter eval: the following arguments are required: corpus"),
    (["run", "--no-such-option"], "govmilter: unrecognized arguments: --no-such-option"),
])
def test_bad_option_values_are_one_line_usage_errors(args: list[str], expected: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert result.stderr.startswith(expected) and result.stderr.count("\n") == 1, result.stderr


def test_the_null_sender_is_a_valid_sender(tmp_path: Path) -> None:
    message = tmp_path / "m.eml"
    message.write_bytes(b"From: a@gmail.com\r\nTo: b@mic.gov.vn\r\n\r\nhello\r\n")
    result = run_cli("check", "--no-dns", "--sender", "<>", "--rcpt", "b@mic.gov.vn",
                     str(message))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("kind", ["directory", "missing", "unreadable"])
def test_check_on_paths_that_cannot_be_read(tmp_path: Path, kind: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "message.eml"
    if kind == "directory":
        path.mkdir()
    elif kind == "unreadable":
        if os.geteuid() == 0:
            pytest.skip("root reads files whatever their mode")
        path.write_bytes(b"From: a@b.c\r\n\r\nx")
        path.chmod(0)
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"govmilter check: cannot read {path}: ") and err.count("\n") == 1


POLICY = """\
rules:
  - id: ok
    action: accept
"""


def validate(tmp_path: Path, text: str | bytes, capsys: pytest.CaptureFixture[str]
             ) -> tuple[int, list[str]]:
    path = tmp_path / "policy.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    code = main(["validate", str(path)])
    return code, capsys.readouterr().err.splitlines()


@pytest.mark.parametrize(("field", "line"), [
    ('    reply: {vi: "a\\r\\nb"}', 4),
    ('    reply: {en: "Rejected\\nX-Injected: yes"}', 4),
    ('    reply: {enhanced: "5.7.1\\n"}', 4),
    ('    reply: {vi: "a\\x00b"}', 4),
    ('    reply: {en: "a\\u2028b"}', 4),
    ('    tag: {subject_prefix: "[X]\\u0085Bcc: leak@gmail.com"}', 4),
    ('    hold_reason: "review\\r"', 4),
    ('    copy_to: "audit@mic.gov.vn\\r\\nRCPT TO:<leak@gmail.com>"', 4),
], ids=["reply-crlf", "reply-lf", "enhanced-lf", "reply-nul", "reply-u2028", "prefix-nel",
        "hold-cr", "copy-to-crlf"])
def test_texts_with_line_breaks_are_refused(tmp_path: Path, field: str, line: int,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    text = f"rules:\n  - id: r\n    action: reject\n{field}\n"
    code, err = validate(tmp_path, text, capsys)
    assert code == 2
    assert any(e.startswith(f"{tmp_path / 'policy.yaml'}:{line}: ") for e in err), err


def test_rule_id_with_a_trailing_newline_is_refused(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, err = validate(tmp_path, 'rules:\n  - id: "r\\n"\n    action: accept\n', capsys)
    assert code == 2 and any(":2: rules[0]: rule id 'r\\n'" in e for e in err), err


def test_exception_reason_and_address_with_line_breaks_are_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = ('domains:\n  exceptions:\n    - address: "a\\nb@gmail.com"\n      reason: ok\n'
            '    - domain: example.com\n      reason: "x\\ny"\n' + POLICY)
    code, err = validate(tmp_path, text, capsys)
    assert code == 2
    assert any(":3: domains.exceptions[0]: invalid address" in e for e in err), err
    assert any(":6: domains.exceptions[1].reason must not contain control" in e for e in err)


def laughs(levels: int = 9) -> str:
    lines = ["x0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"x{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
    return "\n".join(lines) + f"\nmode: *a{levels - 1}\n" + POLICY


@pytest.mark.parametrize(("text", "expected"), [
    (laughs(), ":6: the policy expands to more than 100000 YAML nodes"),
    ("a: &a [*a]\n" + POLICY, ":1: the policy expands to more than 100000 YAML nodes"),
    ("rules: " + "[" * 5000 + "]" * 5000 + "\n", ":1: YAML nested too deeply"),
    (b"\x00\xff\xfe garbage \x89PNG", ":0: cannot read policy"),
    ("rules: [\x00]\n", ":1: YAML syntax error"),
], ids=["billion-laughs", "self-alias", "deep", "binary", "nul"])
def test_hostile_yaml_is_refused_with_file_and_line(
        tmp_path: Path, text: str | bytes, expected: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    code, err = validate(tmp_path, text, capsys)
    assert code == 2
    assert any(e.startswith(str(tmp_path / "policy.yaml")) and expected in e for e in err), err
    assert all(len(e) < 400 for e in err)  # bounded messages, whatever the value


def test_oversized_policy_is_refused_before_parsing(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, err = validate(tmp_path, POLICY + "#" * MAX_POLICY_BYTES, capsys)
    assert code == 2 and err[0].endswith(f":1: policy larger than {MAX_POLICY_BYTES} bytes")


def test_check_with_a_bomb_policy_exits_2_without_traceback(tmp_path: Path) -> None:
    policy = tmp_path / "bomb.yaml"
    policy.write_text(laughs())
    message = tmp_path / "m.eml"
    message.write_bytes(b"From: a@mic.gov.vn\r\nTo: b@gmail.com\r\n\r\nx\r\n")
    result = run_cli("check", "--policy", str(policy), str(message))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "policy refused (1 error)" in result.stderr
