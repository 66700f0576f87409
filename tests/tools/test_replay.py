"""govmilter replay: counts over a generated Maildir, mbox and .eml folder, and policy diffs."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from mailgen import (
    GeneratedMessage,
    class_of,
    generate,
    write_eml_folder,
    write_maildir,
    write_mbox,
)

from govmilter.cli import main
from govmilter.policy import default_policy_path, load_policy
from govmilter.scan import scan_message
from govmilter.tools.envelope import saved_envelope
from govmilter.tools.replay import (
    PARALLEL_MIN_MESSAGES,
    MessageSource,
    ProgressLine,
    SourceMessage,
    replay_message,
    replay_source,
    report_to_json,
    report_to_text,
    summarize,
)

WORKTREE = Path(__file__).resolve().parents[2]
COUNT = 300

#: The default policy's rules and actions, restated independently of govmilter as the oracle.
DEFAULT_ACTIONS = {
    "official-to-official": "accept", "document-to-lookalike": "quarantine",
    "secret-to-freemail": "reject", "auto-forward-to-non-state": "tag",
    "document-to-freemail": "tag", "unscannable-to-freemail": "tag",
    "document-from-freemail": "tag", "document-from-lookalike": "tag", "default-accept": "accept",
}
SEVERITY = ("accept", "tag", "quarantine", "reject")


def expected_rule(sender: str, recipient: str, kind: str) -> str:
    """Which default-policy rule decides this recipient, from what the generator made."""
    s, r = class_of(sender), class_of(recipient)
    document = kind != "plain"
    if s == r == "official":
        return "official-to-official"
    if s == "official" and r == "lookalike" and document:
        return "document-to-lookalike"
    if s == "official" and r == "freemail" and kind == "secret":
        return "secret-to-freemail"
    if s == "official" and r == "freemail" and document:
        return "document-to-freemail"
    if r == "official" and s in ("freemail", "lookalike") and document:
        return f"document-from-{s}"
    return "default-accept"


def expected_counts(messages: list[GeneratedMessage], actions: dict[str, str]
                    ) -> dict[str, dict[str, int]]:
    """Counts as documented: once per message per rule, per action; message action once."""
    rules: Counter[str] = Counter(dict.fromkeys(actions, 0))
    per_action: Counter[str] = Counter(dict.fromkeys(SEVERITY, 0))
    message_actions = Counter(per_action)
    for m in messages:
        decided = [expected_rule(m.sender, r, m.kind) for r in m.recipients]
        rules.update(set(decided))
        given = [actions[rule] for rule in decided]
        per_action.update(set(given))
        if all(a == "reject" for a in given):
            message_actions["reject"] += 1
        else:  # rejected recipients are removed; the rest decide, most severe first
            message_actions[max((a for a in given if a != "reject"), key=SEVERITY.index)] += 1
    return {"rules": dict(rules), "actions": dict(per_action),
            "message_actions": dict(message_actions)}


@pytest.fixture(scope="module")
def messages() -> list[GeneratedMessage]:
    return generate(COUNT)


@pytest.fixture(scope="module")
def maildir(tmp_path_factory: pytest.TempPathFactory, messages: list[GeneratedMessage]
            ) -> tuple[Path, dict[str, GeneratedMessage]]:
    path = tmp_path_factory.mktemp("replay") / "Maildir"
    return path, write_maildir(path, messages)


@pytest.fixture(scope="module")
def mbox(tmp_path_factory: pytest.TempPathFactory, messages: list[GeneratedMessage]
         ) -> tuple[Path, dict[str, GeneratedMessage]]:
    path = tmp_path_factory.mktemp("replay") / "archive.mbox"
    return path, write_mbox(path, messages)


@pytest.fixture(scope="module")
def reject_policy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default policy with one edit: documents to freemail are rejected, not tagged."""
    text = default_policy_path().read_text(encoding="utf-8")
    tagged = ("    when: {sender: official, recipient: freemail, document: official}\n"
              "    action: tag\n")
    assert text.count(tagged) == 1
    path = tmp_path_factory.mktemp("policy") / "reject-documents.yaml"
    path.write_text(text.replace(tagged, tagged.replace("action: tag", "action: reject")),
                    encoding="utf-8")
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command, in a subprocess, using this worktree's code."""
    env = {**os.environ, "PYTHONPATH": str(WORKTREE)}
    return subprocess.run([sys.executable, "-m", "govmilter", *args], capture_output=True,
                          text=True, env=env, timeout=120, check=False)


def test_generated_documents_are_detected_as_the_generator_meant(
        messages: list[GeneratedMessage]) -> None:
    policy = load_policy()
    found = Counter(scan_message(m.raw, policy).document.document_class.value for m in messages)
    made = Counter({"secret": 0, "official": 0, "plain": 0})
    made.update(m.kind for m in messages)
    assert found == {"secret": made["secret"], "official": made["official"],
                     "none": made["plain"]}


def test_maildir_counts_match_the_generator_scanned_by_worker_processes(
        maildir: tuple[Path, dict[str, GeneratedMessage]], messages: list[GeneratedMessage]
        ) -> None:
    path, _ = maildir
    assert COUNT >= PARALLEL_MIN_MESSAGES  # so the worker processes are used
    policy = load_policy()
    source = MessageSource(path)
    assert source.kind == "maildir"
    report = summarize(str(path), replay_source(source, policy, jobs=2), policy)
    data = report_to_json(report)
    assert (data["total"], data["unreadable"]) == (COUNT, 0)
    assert data["workers"] >= 1  # other processes scanned, not this one
    expected = expected_counts(messages, DEFAULT_ACTIONS)
    assert {k: data[k] for k in expected} == expected
    # The generator mixes everything the default policy tells apart (it writes no forwards).
    assert all(n > 0 for rule, n in data["rules"].items()
               if rule not in ("unscannable-to-freemail", "auto-forward-to-non-state"))
    assert data["message_actions"]["quarantine"] > 0


def test_mbox_counts_from_the_command_line(
        mbox: tuple[Path, dict[str, GeneratedMessage]], messages: list[GeneratedMessage]) -> None:
    path, _ = mbox
    done = run_cli("replay", "--json", str(path))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no progress bar when stderr is not a terminal
    data = json.loads(done.stdout)
    assert (data["total"], data["unreadable"]) == (COUNT, 0)
    assert data["workers"] >= 1  # --jobs defaults to 2: scanned by other processes
    expected = expected_counts(messages, DEFAULT_ACTIONS)
    assert {k: data[k] for k in expected} == expected
    assert "changed" not in data and "against" not in data


def _expected_changes(named: dict[str, GeneratedMessage]) -> list[tuple[str, str]]:
    """Official non-secret documents from an official sender to a freemail recipient, in order."""
    return [(name, rcpt) for name, m in named.items() for rcpt in m.recipients
            if m.kind == "official" and class_of(m.sender) == "official"
            and class_of(rcpt) == "freemail"]


def test_policy_edit_changes_exactly_the_expected_verdicts(
        maildir: tuple[Path, dict[str, GeneratedMessage]], reject_policy: Path,
        messages: list[GeneratedMessage]) -> None:
    path, named = maildir
    new, old = load_policy(reject_policy), load_policy()
    reports = [
        report_to_json(summarize(str(path), replay_source(
            MessageSource(path), new, old, jobs=jobs), new, old))
        for jobs in (1, 2)
    ]
    # Serial in this process, then by worker processes (both, unless one started so late that
    # the other had done every batch): exactly the same answer.
    serial, parallel = (r.pop("workers") for r in reports)
    assert serial == 0 and parallel in (1, 2)
    assert reports[0] == reports[1]
    data = reports[0]
    changed = {(c["message"], c["recipient"]) for c in data["changed"]}
    assert changed == set(_expected_changes(named))
    assert len(changed) == len(data["changed"]) > 10
    for change in data["changed"]:
        assert change["old"] == {"action": "tag", "rule": "document-to-freemail",
                                 "mode": "enforce"}
        assert change["new"] == {"action": "reject", "rule": "document-to-freemail",
                                 "mode": "enforce"}
        assert change["document_class"] == "official"
        assert change["score"] >= 5.0
        assert "body: national heading" in change["evidence"]
    assert data["rules"] == data["against"]["rules"]  # same rules decide, with other actions
    assert {k: data["against"][k] for k in ("rules", "actions", "message_actions")} == \
        expected_counts(messages, DEFAULT_ACTIONS)
    edited = {**DEFAULT_ACTIONS, "document-to-freemail": "reject"}
    assert {k: data[k] for k in ("rules", "actions", "message_actions")} == \
        expected_counts(messages, edited)


def test_text_report_lists_the_changes_with_evidence(
        mbox: tuple[Path, dict[str, GeneratedMessage]], reject_policy: Path) -> None:
    path, named = mbox
    done = run_cli("replay", str(path), "--policy", str(reject_policy),
                   "--against", str(default_policy_path()))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.splitlines()[1] == "scanned:  by 2 worker processes"
    expected = _expected_changes(named)
    messages = len({name for name, _ in expected})
    assert f"changed verdicts: {len(expected)} recipients in {messages} messages" in out
    lines = out.splitlines()
    listed = lines[lines.index(next(x for x in lines if x.startswith("changed verdicts"))) + 1:]
    changes = [x for x in listed if not x.startswith("      document ")]
    assert changes == [f"  {name}: {rcpt}: tag(document-to-freemail) -> "
                       "reject(document-to-freemail)" for name, rcpt in expected]
    # One evidence line per message, after its last changed recipient.
    evidence = [i for i, x in enumerate(listed) if x.startswith("      document official, score")]
    assert len(evidence) == messages == len(listed) - len(changes)
    assert all("body: national heading" in listed[i] for i in evidence)
    message_of = [x.split(":")[0] for x in listed]
    assert all(message_of[i - 1] != message_of[i + 1] for i in evidence[:-1])
    row = next(line for line in lines if line.lstrip().startswith("document-to-freemail"))
    assert row.split()[:2] == ["document-to-freemail", "tag"]
    assert row.split()[2:4] == ["->", "reject"]


def test_eml_folder_counts_unreadable_messages_and_goes_on(
        tmp_path: Path, messages: list[GeneratedMessage]) -> None:
    folder = tmp_path / "saved"
    write_eml_folder(folder, messages[:12])
    (folder / "empty.eml").write_bytes(b"")
    (folder / "no-recipient.eml").write_bytes(b"From: a@mic.gov.vn\nSubject: x\n\nhello\n")
    (folder / "odd.eml").mkdir()  # a folder named like a message cannot be read
    (folder / "notes.txt").write_text("not a message")  # only *.eml files are messages
    done = run_cli("replay", "--json", str(folder))
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["total"], data["unreadable"]) == (15, 3)
    assert data["workers"] == 0  # too few messages to be worth starting processes
    reasons = {u["message"]: u["reason"] for u in data["unreadable_messages"]}
    assert reasons["empty.eml"] == "empty file"
    assert reasons["no-recipient.eml"].startswith("no recipient")
    assert reasons["odd.eml"].startswith("cannot read")
    expected = expected_counts(messages[:12], DEFAULT_ACTIONS)
    assert {k: data[k] for k in expected} == expected


def test_jobs_1_scans_in_one_process_and_says_so(
        mbox: tuple[Path, dict[str, GeneratedMessage]]) -> None:
    path, _ = mbox
    done = run_cli("replay", "--jobs", "1", str(path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:2] == [
        f"source:   {path} ({COUNT} messages, {COUNT} replayed, 0 unreadable)",
        "scanned:  in one process"]


def test_worker_processes_are_counted_by_the_process_ids_in_the_results() -> None:
    """The count comes from who scanned: a result replayed here, or twice by one worker,
    adds no worker."""
    policy = load_policy()
    raw = b"From: a@mic.gov.vn\nTo: b@gmail.com\nSubject: x\n\nhello\n"
    here = replay_message(SourceMessage("here.eml", raw), policy)
    assert here.worker is None
    results = [here, dataclasses.replace(here, name="a.eml", worker=os.getpid()),
               dataclasses.replace(here, name="b.eml", worker=1_000_001),
               dataclasses.replace(here, name="c.eml", worker=1_000_001)]
    report = summarize("src", iter(results), policy)
    assert report.workers == 1
    assert "scanned:  by 1 worker process\n" in report_to_text(report)


def test_missing_source_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                         ) -> None:
    assert main(["replay", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err
    assert "no such Maildir, mbox, .eml folder or message file" in err
    assert "Traceback" not in err


def test_envelope_comes_from_return_path_and_x_original_to() -> None:
    raw = (b"Return-Path: <>\nDelivered-To: final@hanoi.gov.vn\n"
           b"X-Original-To: alias@mic.gov.vn\nFrom: someone@gmail.com\n"
           b"To: list@example.org\n\nbody\n")
    policy = load_policy()
    envelope, _ = saved_envelope(raw, scan_message(raw, policy), policy)
    assert envelope.sender == ""  # a bounce: the null sender, not the From header
    assert envelope.recipients == ("alias@mic.gov.vn",)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_only_on_a_terminal() -> None:
    terminal, pipe = _Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        progress = ProgressLine(stream, interval=0)
        progress(150, 600)
        progress(600, 600)
        progress.close()
    assert pipe.getvalue() == ""
    shown = terminal.getvalue()
    assert "\rreplay [#######.......................] 150/600 messages (25%)" in shown
    assert "600/600 messages (100%)" in shown
    assert shown.endswith("\r\x1b[K")


def test_stored_mail_reads_a_spoofed_from_the_least_privileged_way() -> None:
    """No Return-Path: the From header stands in, and a second mailbox hidden in it wins."""
    raw = (b'From: "vanthu@mic.gov.vn" <boss@mic.gov.vn>, spy@gmail.com\n'
           b"X-Original-To: x@hanoi.gov.vn\n\nbody\n")
    policy = load_policy()
    envelope, facts = saved_envelope(raw, scan_message(raw, policy), policy)
    assert envelope.sender == "spy@gmail.com"
    assert any("least" in note or "non-official" in note for note in facts.notes)
