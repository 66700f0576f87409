"""``govmilter replay``: run a policy (and an older one) over stored mail and count the verdicts.

A security team edits a policy; before it ships they replay a mailbox through it and see, per rule
and per action, how many messages it decides, and with ``--against`` exactly which recipients get
a different verdict. Every verdict comes from :func:`govmilter.scan.scan_message` and
:func:`govmilter.policy.decide_saved` (the milter's RCPT stage, then ``decide()``), the
functions the milter runs, so what replay shows is what the gateway would do.

Counting (also in ``govmilter replay --help``): ``total`` is every message in the source;
``unreadable`` those that could not be read or have no recipient. ``rules[id]`` and
``actions[a]`` count *messages*: a message counts once for each rule (and each action) that
decided at least one of its recipients, so a message to three freemail recipients tagged by one
rule adds 1, not 3, and the counts may add up to more than ``total``. ``message_actions`` counts
each message once, by its action as a whole. Changed verdicts are listed per recipient.

Addresses are classified by the policy's lists and static look-alike checks (``decide()``'s
default classifier), never by DNS: a replay must give the same answer twice and must not send
lookups for every domain in an archive.
"""

from __future__ import annotations

import collections
import concurrent.futures
import concurrent.futures.process
import dataclasses
import itertools
import mailbox
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from govmilter.document.evidence import OfficialDocumentEvidence
from govmilter.errors import GovmilterError
from govmilter.policy import IMPLICIT_RULE_ID, Action, Policy, decide_saved, load_policy
from govmilter.policy.verdict import RecipientVerdict, Verdict
from govmilter.scan import scan_message
from govmilter.tools.envelope import saved_envelope


class ReplayError(GovmilterError):
    """The replay cannot run: the mail source cannot be opened, or a policy file changed."""


#: Sources with at least this many messages are scanned by worker processes; below it, starting
#: the processes costs more than it saves (a message scans in about a millisecond).
PARALLEL_MIN_MESSAGES = 200
#: Messages per task sent to a worker: large enough to amortise the pickling round trip.
BATCH_SIZE = 25
#: Batches in flight per worker: bounds the memory held for a source of any size.
BATCHES_IN_FLIGHT = 4

ProgressCallback = Callable[[int, int], None]


# --- sources -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceMessage:
    """One stored message: its name in the report, and its bytes or why they could not be read."""

    name: str
    raw: bytes | None
    problem: str | None = None


class MessageSource:
    """A Maildir, an mbox file, a folder of ``.eml`` files or a single message file.

    Names are what a person can find again: the path relative to the source for files (so
    ``govmilter explain SOURCE/NAME`` works), ``FILE#N`` (1-based) for the N-th message of an mbox.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._files: list[Path] = []
        self._mbox: mailbox.mbox | None = None
        self._mbox_keys: list[str] = []
        if self.path.is_dir():
            if (self.path / "cur").is_dir() and (self.path / "new").is_dir():
                self.kind = "maildir"
                # tmp/ holds deliveries in progress; names starting with "." are not messages.
                self._files = sorted(f for sub in ("new", "cur")
                                     for f in (self.path / sub).iterdir()
                                     if not f.name.startswith("."))
            else:
                self.kind = "eml folder"
                self._files = sorted(self.path.rglob("*.eml"))
        elif self.path.is_file():
            try:
                with self.path.open("rb") as file:
                    head = file.read(5)
            except OSError as exc:
                raise ReplayError(f"cannot read {self.path}: {exc.strerror or exc}") from None
            if head == b"From ":
                self.kind = "mbox"
                self._mbox = mailbox.mbox(self.path, factory=None, create=False)
                try:
                    self._mbox_keys = list(self._mbox.iterkeys())
                except OSError as exc:
                    raise ReplayError(
                        f"cannot read {self.path}: {exc.strerror or exc}") from None
            else:
                self.kind = "message"
                self._files = [self.path]
        else:
            raise ReplayError(
                f"{self.path}: no such Maildir, mbox, .eml folder or message file")

    def __len__(self) -> int:
        return len(self._mbox_keys) if self._mbox is not None else len(self._files)

    def __iter__(self) -> Iterator[SourceMessage]:
        if self._mbox is not None:
            for number, key in enumerate(self._mbox_keys, start=1):
                name = f"{self.path.name}#{number}"
                try:
                    yield SourceMessage(name, self._mbox.get_bytes(key))
                except (OSError, KeyError) as exc:
                    yield SourceMessage(name, None, f"cannot read: {exc}")
            return
        for file in self._files:
            name = file.name if file == self.path else str(file.relative_to(self.path))
            try:
                yield SourceMessage(name, file.read_bytes())
            except OSError as exc:
                yield SourceMessage(name, None, f"cannot read: {exc.strerror or exc}")


# --- one message ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplayedMessage:
    """The verdicts for one message under the new (and the old) policy, or why there are none."""

    name: str
    new: Verdict | None
    old: Verdict | None = None
    problem: str | None = None
    #: process id of the worker process that replayed it; None when replayed in this process
    worker: int | None = None


def replay_message(message: SourceMessage, policy: Policy, against: Policy | None = None
                   ) -> ReplayedMessage:
    """Scan one message and decide it under ``policy`` (and ``against``); never raises."""
    if message.raw is None or message.problem is not None:
        return ReplayedMessage(message.name, None, problem=message.problem or "cannot read")
    if not message.raw.strip():
        return ReplayedMessage(message.name, None, problem="empty file")
    try:
        facts = scan_message(message.raw, policy)
        envelope, facts = saved_envelope(message.raw, facts, policy)
        if not envelope.recipients:
            return ReplayedMessage(message.name, None, problem="no recipient (no "
                                   "X-Original-To, Delivered-To, To or Cc)")
        old = None
        if against is not None:
            # Limits and thresholds change what the detector finds: rescan only when they differ.
            same_scan = (against.limits == policy.limits
                         and against.detection == policy.detection)
            old_facts = facts if same_scan else scan_message(message.raw, against)
            old = decide_saved(envelope, old_facts, against)
        return ReplayedMessage(message.name, decide_saved(envelope, facts, policy), old)
    except Exception as exc:  # one odd message must not end a replay of thousands; it is counted
        return ReplayedMessage(message.name, None,
                               problem=f"scan failed: {type(exc).__name__}: {exc}")


# --- many messages, on worker processes ----------------------------------------------------------

_worker_policies: tuple[Policy, Policy | None] | None = None


def _load_same(path: str, sha256: str) -> Policy:
    policy = load_policy(path)
    if policy.source.sha256 != sha256:
        # The parent reports under the policy it loaded; a worker must not decide with another.
        raise ReplayError(f"{path} changed while the replay was running; run it again")
    return policy


def _init_worker(policy: tuple[str, str], against: tuple[str, str] | None) -> None:
    """Load the policies (path, sha256) once per worker process, not once per message."""
    global _worker_policies
    _worker_policies = (_load_same(*policy), _load_same(*against) if against else None)


def _replay_batch(batch: list[SourceMessage]) -> list[ReplayedMessage]:
    assert _worker_policies is not None, "worker started without _init_worker"
    policy, against = _worker_policies
    pid = os.getpid()
    return [dataclasses.replace(replay_message(m, policy, against), worker=pid) for m in batch]


def _from_file(policy: Policy) -> tuple[str, str] | None:
    """(path, sha256) for a worker to load the policy again, or None when it has no file."""
    return ((policy.source.path, policy.source.sha256) if Path(policy.source.path).is_file()
            else None)


def _batches(source: MessageSource) -> Iterator[list[SourceMessage]]:
    batch: list[SourceMessage] = []
    for message in source:
        batch.append(message)
        if len(batch) == BATCH_SIZE:
            yield batch
            batch = []
    if batch:
        yield batch


def replay_source(
    source: MessageSource,
    policy: Policy,
    against: Policy | None = None,
    *,
    jobs: int = 2,
    progress: ProgressCallback | None = None,
) -> Iterator[ReplayedMessage]:
    """Replay every message of ``source``, in source order.

    With ``jobs`` > 1 and a large source, messages are scanned by that many worker processes
    (scanning is CPU-bound): each loads the policies once from their files (and checks their
    sha256) and receives message bytes in bounded batches, and each result names the worker's
    process id (:attr:`ReplayedMessage.worker`), which :func:`summarize` counts. Policies that do
    not come from a file are replayed in this process.

    :raises ReplayError: when a policy file changed since it was loaded.
    """
    total = len(source)
    done = 0
    new_file = _from_file(policy)
    old_file = _from_file(against) if against is not None else None
    if (jobs <= 1 or total < PARALLEL_MIN_MESSAGES or new_file is None
            or (against is not None and old_file is None)):
        for message in source:
            yield replay_message(message, policy, against)
            done += 1
            if progress:
                progress(done, total)
        return
    with concurrent.futures.ProcessPoolExecutor(
            max_workers=jobs, initializer=_init_worker,
            initargs=(new_file, old_file)) as pool:
        pending: collections.deque[concurrent.futures.Future[list[ReplayedMessage]]] = (
            collections.deque())
        batches = _batches(source)
        try:
            for batch in batches:
                pending.append(pool.submit(_replay_batch, batch))
                if len(pending) >= jobs * BATCHES_IN_FLIGHT:
                    for result in pending.popleft().result():
                        yield result
                        done += 1
                    if progress:
                        progress(done, total)
            while pending:
                for result in pending.popleft().result():
                    yield result
                    done += 1
                if progress:
                    progress(done, total)
        except concurrent.futures.process.BrokenProcessPool as exc:
            raise ReplayError(f"a worker process died ({exc}); try --jobs 1") from None
        finally:
            for future in pending:
                future.cancel()


# --- counting ------------------------------------------------------------------------------------


@dataclass
class VerdictCounts:
    """How many messages each rule and each action decided (see the module doc for counting)."""

    rules: dict[str, int]
    actions: dict[str, int]
    message_actions: dict[str, int]

    @classmethod
    def empty(cls, policy: Policy) -> VerdictCounts:
        """Zero for every rule of the policy and every action, so unused rules show up."""
        return cls({r.id: 0 for r in policy.rules}, {a.value: 0 for a in Action},
                   {a.value: 0 for a in Action})

    def add(self, verdict: Verdict) -> None:
        """Count one message."""
        for rule_id in {r.rule_id for r in verdict.recipients}:
            self.rules[rule_id] = self.rules.get(rule_id, 0) + 1
        for action in {r.action.value for r in verdict.recipients}:
            self.actions[action] += 1
        self.message_actions[verdict.message_action.value] += 1


@dataclass(frozen=True, slots=True)
class ChangedVerdict:
    """One recipient whose verdict differs between the old and the new policy."""

    message: str
    old: RecipientVerdict
    new: RecipientVerdict
    document: OfficialDocumentEvidence  #: as the new policy's scan found it


@dataclass(frozen=True)
class ReplayReport:
    """The result of a replay: counts per policy, unreadable messages, changed verdicts."""

    source: str
    policy: Policy
    counts: VerdictCounts
    against: Policy | None = None
    against_counts: VerdictCounts | None = None
    total: int = 0
    unreadable: tuple[tuple[str, str], ...] = ()  #: (message, why)
    changed: tuple[ChangedVerdict, ...] = ()
    #: worker processes that scanned at least one message; 0 when all ran in this process
    workers: int = 0


def _verdict_key(r: RecipientVerdict) -> tuple[str, str, str]:
    return (r.action.value, r.rule_id, r.mode.value)


def summarize(source: str, results: Iterator[ReplayedMessage], policy: Policy,
              against: Policy | None = None) -> ReplayReport:
    """Count replayed messages and collect the changed verdicts."""
    counts = VerdictCounts.empty(policy)
    against_counts = VerdictCounts.empty(against) if against is not None else None
    total = 0
    unreadable: list[tuple[str, str]] = []
    changed: list[ChangedVerdict] = []
    workers: set[int] = set()
    for result in results:
        total += 1
        if result.worker is not None and result.worker != os.getpid():
            workers.add(result.worker)
        if result.new is None:
            unreadable.append((result.name, result.problem or "unreadable"))
            continue
        counts.add(result.new)
        if result.old is None or against_counts is None:
            continue
        against_counts.add(result.old)
        for old, new in zip(result.old.recipients, result.new.recipients, strict=True):
            if _verdict_key(old) != _verdict_key(new):
                changed.append(ChangedVerdict(result.name, old, new, result.new.document))
    return ReplayReport(source, policy, counts, against, against_counts, total,
                        tuple(unreadable), tuple(changed), len(workers))


# --- output --------------------------------------------------------------------------------------


def _outcome_json(r: RecipientVerdict) -> dict[str, Any]:
    return {"action": r.action.value, "rule": r.rule_id, "mode": r.mode.value}


def _counts_json(counts: VerdictCounts) -> dict[str, Any]:
    return {"rules": counts.rules, "actions": counts.actions,
            "message_actions": counts.message_actions}


def _policy_json(policy: Policy) -> dict[str, str]:
    return {"path": policy.source.path, "sha256": policy.source.sha256}


def report_to_json(report: ReplayReport) -> dict[str, Any]:
    """The ``govmilter replay --json`` object."""
    data: dict[str, Any] = {
        "source": report.source,
        "policy": _policy_json(report.policy),
        "total": report.total,
        "unreadable": len(report.unreadable),
        "unreadable_messages": [{"message": m, "reason": why} for m, why in report.unreadable],
        **_counts_json(report.counts),
        "workers": report.workers,
    }
    if report.against is not None and report.against_counts is not None:
        data["against"] = {"policy": _policy_json(report.against),
                           **_counts_json(report.against_counts)}
        data["changed"] = [
            {"message": c.message, "recipient": c.new.address, "old": _outcome_json(c.old),
             "new": _outcome_json(c.new), "document_class": c.document.document_class.value,
             "score": c.document.score, "evidence": list(c.document.evidence)}
            for c in report.changed
        ]
    return data


def _outcome_text(r: RecipientVerdict) -> str:
    monitor = ", monitor" if r.mode.value == "monitor" else ""
    return f"{r.action.value}({r.rule_id}{monitor})"


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], numbers_from: int
           ) -> list[str]:
    """Columns padded to their widest cell; count columns (from ``numbers_from``) right-aligned."""
    cells = [list(header), *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return ["  " + "  ".join(c.rjust(w) if i >= numbers_from else c.ljust(w)
                             for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip()
            for row in cells]


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _change(new: int, old: int) -> str:
    return f"{new - old:+d}" if new != old else ""


def report_to_text(report: ReplayReport) -> str:
    """The report a security engineer reads in a terminal."""
    read = report.total - len(report.unreadable)
    workers = report.workers
    scanned = (f"by {workers} worker process{'' if workers == 1 else 'es'}" if workers
               else "in one process")
    lines = [f"source:   {report.source} ({_plural(report.total, 'message')}, {read} replayed, "
             f"{len(report.unreadable)} unreadable)",
             f"scanned:  {scanned}",
             f"policy:   {report.policy.source.path} "
             f"(sha256 {report.policy.source.sha256[:12]})"]
    old_counts = report.against_counts
    if report.against is not None:
        lines.append(f"against:  {report.against.source.path} "
                     f"(sha256 {report.against.source.sha256[:12]})")
    for name, why in report.unreadable:
        lines.append(f"  unreadable: {name}: {why}")

    def actions_of(policy: Policy | None) -> dict[str, str]:
        actions = {r.id: r.action.value for r in policy.rules} if policy else {}
        actions.setdefault(IMPLICIT_RULE_ID, Action.ACCEPT.value)
        return actions

    new_actions, old_actions = actions_of(report.policy), actions_of(report.against)
    # Every rule of both policies, even unused ones (a rule that decides nothing is news too);
    # the implicit accept only when it decided something.
    old_rules = old_counts.rules if old_counts else {}
    rule_ids = list(dict.fromkeys([*report.counts.rules, *old_rules]))
    lines.append("")
    lines.append("messages per rule (a message counts once per rule that decided a recipient):")
    if old_counts is None:
        rows: list[list[object]] = [[rid, new_actions[rid], report.counts.rules.get(rid, 0)]
                                    for rid in rule_ids]
        lines += _table(("rule", "action", "messages"), rows, 2)
    else:
        rows = []
        for rid in rule_ids:
            old_action, new_action = old_actions.get(rid), new_actions.get(rid)
            if rid not in report.counts.rules:
                action = f"{old_action} (removed)"
            elif rid not in old_counts.rules:
                action = f"{new_action} (new rule)"
            else:
                action = (f"{new_action}" if old_action == new_action
                          else f"{old_action} -> {new_action}")
            new, old = report.counts.rules.get(rid, 0), old_counts.rules.get(rid, 0)
            rows.append([rid, action, new, old, _change(new, old)])
        lines += _table(("rule", "action", "new", "old", "change"), rows, 2)
    for title, key in (("messages per action (once per action given to a recipient):", "actions"),
                       ("messages per message action (each message once):", "message_actions")):
        lines.append("")
        lines.append(title)
        new_map: dict[str, int] = getattr(report.counts, key)
        if old_counts is None:
            lines += _table(("action", "messages"), [[a, n] for a, n in new_map.items()], 1)
        else:
            old_map: dict[str, int] = getattr(old_counts, key)
            lines += _table(("action", "new", "old", "change"),
                            [[a, n, old_map[a], _change(n, old_map[a])]
                             for a, n in new_map.items()], 1)
    if report.against is not None:
        messages = len({c.message for c in report.changed})
        lines.append("")
        lines.append(f"changed verdicts: {_plural(len(report.changed), 'recipient')} in "
                     f"{_plural(messages, 'message')}")
        # Changes come message by message: the evidence is shown once, after its recipients.
        for _, group in itertools.groupby(report.changed, key=lambda c: c.message):
            changes = list(group)
            for c in changes:
                lines.append(f"  {c.message}: {c.new.address}: {_outcome_text(c.old)} -> "
                             f"{_outcome_text(c.new)}")
            doc = changes[0].document
            lines.append(f"      document {doc.document_class}, score {doc.score}: "
                         + ("; ".join(doc.evidence) or "no evidence"))
    return "\n".join(lines)


class ProgressLine:
    """A one-line progress display on a terminal (``\\r`` rewrites); silent when not a TTY."""

    def __init__(self, stream: TextIO | None = None, interval: float = 0.2) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self.interval = interval
        self._last = 0.0
        self._shown = False

    def __call__(self, done: int, total: int) -> None:
        """Show ``done`` of ``total``, at most every ``interval`` seconds and at the end."""
        now = time.monotonic()
        if not self.enabled or (done < total and now - self._last < self.interval):
            return
        self._last = now
        width = 30
        filled = width * done // total if total else width
        percent = 100 * done // total if total else 100
        self.stream.write(f"\rreplay [{'#' * filled}{'.' * (width - filled)}] "
                          f"{done}/{total} messages ({percent}%)")
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        """Erase the line so the report starts on a clean line."""
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False
