"""The policy holder: atomic swap, refusal of bad files, the file watcher."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import pytest
from postfix_harness import wait_until
from samples import policy_yaml

from govmilter.policy import Mode, Policy, PolicyError
from govmilter.server.reload import PolicyHolder


def test_a_valid_file_is_swapped_in_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(policy_yaml())
    loaded: list[Policy] = []
    holder = PolicyHolder(path, on_load=loaded.append)
    first = holder.policy
    assert first.mode is Mode.ENFORCE and loaded == []  # the first load is not a reload
    path.write_text(policy_yaml(mode="monitor"))
    assert holder.reload("test") is True
    assert holder.policy.mode is Mode.MONITOR and loaded == [holder.policy]
    assert first.mode is Mode.ENFORCE  # a connection holding the old snapshot is unaffected


def test_an_invalid_file_is_refused_and_the_old_policy_keeps_running(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(policy_yaml())
    failures: list[bool] = []
    holder = PolicyHolder(path, on_failure=lambda: failures.append(True))
    before = holder.policy
    path.write_text("mode: sometimes\n")
    with caplog.at_level(logging.ERROR, logger="govmilter"):
        assert holder.reload("SIGUSR1") is False
    assert holder.policy is before and failures == [True]
    [record] = caplog.records
    message = record.getMessage()
    assert "policy reload refused (SIGUSR1)" in message and f"{path}:1:" in message
    assert before.source.sha256 in message


def test_an_invalid_file_at_start_raises(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("rules: 3\n")
    with pytest.raises(PolicyError):
        PolicyHolder(path)


def test_the_watcher_reloads_when_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(policy_yaml())
    holder = PolicyHolder(path)
    assert holder.check_file() is False  # unchanged
    holder.start_file_watch(interval=0.05)
    try:
        replacement = tmp_path / "new.yaml"
        replacement.write_text(policy_yaml(mode="monitor"))
        os.replace(replacement, path)  # how config management installs files
        wait_until(lambda: holder.policy.mode is Mode.MONITOR, 5, "the watcher's reload")
        path.unlink()  # a file being replaced: keep running what we have
        assert holder.check_file() is False and holder.policy.mode is Mode.MONITOR
    finally:
        holder.stop()


def test_a_file_seen_half_written_is_not_refused_but_read_once_complete(tmp_path: Path) -> None:
    """An editor that truncates and then writes must not count as a refused reload."""
    path = tmp_path / "policy.yaml"
    path.write_text(policy_yaml())
    failures: list[bool] = []
    holder = PolicyHolder(path, on_failure=lambda: failures.append(True))
    whole = policy_yaml(mode="monitor")
    with path.open("w") as stream:
        stream.write(whole[: len(whole) // 2])  # half written: not a valid policy
        stream.flush()

        def write_the_rest() -> None:
            stream.write(whole[len(whole) // 2:])
            stream.flush()

        finish = threading.Timer(0.05, write_the_rest)
        finish.start()
        assert holder.check_file() is False  # still changing: left to the next poll
        finish.join()
    assert holder.check_file() is True
    assert holder.policy.mode is Mode.MONITOR and failures == []


def test_the_embedded_default_has_nothing_to_watch() -> None:
    holder = PolicyHolder(None)
    assert holder.start_file_watch() is None
    assert holder.check_file() is False
    assert holder.reload("SIGUSR1") is True
