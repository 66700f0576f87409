"""``govmilter policy init``: the production policy to start from validates, names the agency's
domains (official, protected from look-alikes) and starts in monitor mode when asked."""

from __future__ import annotations

from pathlib import Path

import pytest

from govmilter.cli import main
from govmilter.domains.classify import DomainClass, classify_domain
from govmilter.policy import Mode, default_policy_path, load_policy


def test_init_writes_a_policy_that_validates_with_the_agency_protected(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "policy.yaml"
    assert main(["policy", "init", "--agency", "STC.NinhBinh.gov.vn", "--agency", "mic.gov.vn",
                 "--agency", "mic.gov.vn", "--monitor", "--out", str(out)]) == 0
    assert main(["validate", str(out)]) == 0
    capsys.readouterr()
    policy = load_policy(out)
    assert policy.mode is Mode.MONITOR
    lists = policy.domains
    assert classify_domain("stc.ninhbinh.gov.vn", lists).domain_class is DomainClass.OFFICIAL
    # one edit from the agency's own domain, and with the hyphen read as a dot: look-alikes
    for lookalike in ("mlc.gov.vn", "mic-gov.vn"):
        assert classify_domain(lookalike, lists).domain_class is DomainClass.LOOKALIKE, lookalike
    text = out.read_text(encoding="utf-8")
    assert "  internal:\n    - stc.ninhbinh.gov.vn\n    - mic.gov.vn\n" in text
    assert text.count("#") > 50  # the default's comments come along
    assert [r.id for r in policy.rules] == [r.id for r in load_policy(None).rules]


def test_without_options_it_is_the_default_in_enforce_mode(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "init"]) == 0
    text = capsys.readouterr().out
    assert text.endswith(default_policy_path().read_text(encoding="utf-8"))
    assert "mode: enforce" in text


@pytest.mark.parametrize("agency, message", [
    ("vanthu@mic.gov.vn", "is an address: give the domain after @"),
    ("-bad-.vn", "is not a domain"),
])
def test_a_bad_domain_is_a_clear_error(capsys: pytest.CaptureFixture[str], agency: str,
                                       message: str) -> None:
    assert main(["policy", "init", f"--agency={agency}"]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""


def test_it_never_overwrites_a_policy(capsys: pytest.CaptureFixture[str],
                                      tmp_path: Path) -> None:
    out = tmp_path / "policy.yaml"
    out.write_text("in use\n")
    assert main(["policy", "init", "--out", str(out)]) == 1
    assert "cannot write" in capsys.readouterr().err
    assert out.read_text() == "in use\n"


def test_the_install_steps_write_the_policy_with_init(capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path) -> None:
    import shlex

    guide = (Path(__file__).resolve().parents[2] / "docs" / "admin.md").read_text("utf-8")
    [line] = [line for line in guide.splitlines() if "govmilter policy init" in line]
    command = shlex.split(line.split("&&", 1)[1], comments=True)
    assert command[0] == "/opt/govmilter/bin/govmilter" and "--monitor" in command
    out = tmp_path / "policy.yaml"
    argv = [str(out) if arg == "/etc/govmilter/policy.yaml" else arg for arg in command[1:]]
    assert main(argv) == 0 and main(["validate", str(out)]) == 0
    capsys.readouterr()
    assert load_policy(out).mode is Mode.MONITOR
