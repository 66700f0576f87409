"""The pymilter adapter: callbacks, per-connection state, and carrying out a :class:`Verdict`.

No policy logic lives here. Each transaction gets its own classifier
(:meth:`govmilter.domains.classify.Classifier.message`): the sender's classification (and its DNS
lookups) starts at MAIL FROM and each recipient's at its RCPT, all within one per-message DNS
budget. At RCPT the adapter asks :func:`govmilter.policy.refusal_at_rcpt` when the policy can
refuse a recipient there (refusing just that recipient on an enforced reject), so the classes are
waited for at RCPT only then; at end of message it runs :func:`govmilter.scan.scan_message` and
:func:`govmilter.policy.decide` (given the refusals) for the message's one verdict, and carries
out :func:`govmilter.policy.effects.plan`: a list of milter actions as values, one library call
each (docs: development, "One message, one path").

Threading: libmilter calls back on one thread per SMTP connection, so all state is per instance
(one :class:`GovMilter` per connection); shared things (the policy holder, the metrics, the
classifier cache) are thread-safe.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import errno
import functools
import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, TypeVar, assert_never

import Milter

from govmilter.domains.classify import Classifier, DomainClass
from govmilter.mail.forwarding import original_recipient
from govmilter.mail.vntext import reply_ascii, to_ascii
from govmilter.policy import FailureAction, Policy, Reply, decide, refusal_at_rcpt
from govmilter.policy.decide import list_classifier, refuses_at_rcpt
from govmilter.policy.effects import (
    HEADER_NAME,
    HOLD_HEADER,
    AddHeader,
    AddRecipient,
    ChangeHeader,
    DeleteRecipient,
    Hold,
    MilterAction,
    ReceivedHeaders,
    Reject,
    RemoveHeader,
    forged_holds_removed,
    plan,
    with_incident,
)
from govmilter.policy.units import shown_unit
from govmilter.policy.verdict import (
    Envelope,
    MessageFacts,
    RecipientVerdict,
    Verdict,
    message_mode,
)
from govmilter.scan import OCR_LANE_BUSY
from govmilter.server import speedups
from govmilter.server.incidents import IncidentWriter
from govmilter.server.messagelog import recipient_field
from govmilter.server.metrics import Metrics
from govmilter.server.notices import Notifier
from govmilter.server.spool import MessageSpool
from govmilter.server.workers import ScanPool
from govmilter.store.incidents import MessageContext, build_incident, is_incident, removed_by
from govmilter.store.records import new_incident_id

log = logging.getLogger("govmilter")
HOLD_HEADER_LOWER = HOLD_HEADER.lower()

#: The milter actions govmilter may use, declared to the MTA at negotiation.
MILTER_ACTIONS = Milter.ADDHDRS | Milter.CHGHDRS | Milter.ADDRCPT | Milter.DELRCPT | \
    Milter.QUARANTINE
# pymilter is untyped: its reply codes, typed once here
CONTINUE: int = Milter.CONTINUE
REJECT: int = Milter.REJECT
TEMPFAIL: int = Milter.TEMPFAIL
ACCEPT: int = Milter.ACCEPT
FAILURE_REPLY = Reply(451, "4.3.0", ("govmilter: temporary failure, please try again later",))

ClassifierFactory = Callable[[Policy], Classifier]
_F = TypeVar("_F", bound=Callable[..., Any])


@dataclasses.dataclass(frozen=True, slots=True)
class PolicySnapshot:
    """What a connection keeps from the policy it opened with (made once per policy and day)."""

    policy: Policy
    classify: Classifier
    #: whether RCPT can refuse a recipient; if not, RCPT waits for no classification
    decides_at_rcpt: bool


class MilterRuntime:
    """What every connection shares: where the policy comes from, metrics, the classifier.

    ``current_policy`` returns the active policy (e.g. ``PolicyHolder.policy``). The classifier is
    built by ``classifier_factory`` once per policy (and again each day, so expiring exceptions
    expire); plug a DNS-based classifier in here. ``scanner`` scans the message at end of data:
    by default in the callback's own thread; the daemon gives a worker-process pool.
    ``incidents`` records each non-compliant message and counts every one (None: neither).
    """

    def __init__(self, current_policy: Callable[[], Policy], metrics: Metrics | None = None,
                 classifier_factory: ClassifierFactory = list_classifier,
                 scanner: ScanPool | None = None, spool_dir: str | None = None,
                 incidents: IncidentWriter | None = None,
                 notices: Notifier | None = None) -> None:
        self.current_policy = current_policy
        self.metrics = metrics if metrics is not None else Metrics()
        self.classifier_factory = classifier_factory
        self.scanner = scanner if scanner is not None else ScanPool(0)
        #: where messages past ``limits.memory_bytes`` go (None: ``$TMPDIR``, else ``/tmp``)
        self.spool_dir = spool_dir
        self.incidents = incidents
        self.notices = notices
        self._lock = threading.Lock()
        self._cached: tuple[_dt.date, PolicySnapshot] | None = None

    def snapshot(self) -> PolicySnapshot:
        """The policy a new connection keeps until it closes, with its classifier and what it
        implies for RCPT (made again when the policy changes, and each day)."""
        policy = self.current_policy()
        today = _dt.date.today()
        with self._lock:
            cached = self._cached
            if cached is None or cached[1].policy is not policy or cached[0] != today:
                cached = (today, PolicySnapshot(policy, self.classifier_factory(policy),
                                                refuses_at_rcpt(policy)))
                self._cached = cached
        return cached[1]


def strip_brackets(address: str) -> str:
    """``<a@b>`` → ``a@b`` (the envelope form Postfix passes to the milter)."""
    text = address.strip()
    return text[1:-1] if text.startswith("<") and text.endswith(">") else text


#: A SIZE value of more digits than this is no size (RFC 1870 sizes fit in 20 digits).
MAX_SIZE_DIGITS = 20


def declared_size(esmtp: tuple[str, ...]) -> int | None:
    """The message size a client declared with MAIL FROM's ``SIZE=`` (RFC 1870), which Postfix
    passes on to the milter, or None (not declared, or not a number)."""
    for parameter in esmtp:
        keyword, _, value = parameter.partition("=")
        if keyword.strip().upper() == "SIZE":
            value = value.strip()
            return int(value) if value.isascii() and value.isdigit() and len(
                value) <= MAX_SIZE_DIGITS else None
    return None


def is_local_submission(hostname: str, hostaddr: Any) -> bool:
    """Whether the connection is the one Postfix's cleanup pretends for mail submitted with
    sendmail(1) or postdrop: client ``localhost[127.0.0.1]`` on port 0, which no real TCP
    client can have (cleanup_milter.c, ``NO_CLIENT_PORT``)."""
    return (hostname == "localhost" and isinstance(hostaddr, tuple) and len(hostaddr) >= 2
            and hostaddr[0] == "127.0.0.1" and hostaddr[1] == 0)


def reply_args(reply: Reply) -> tuple[str, str, list[str]]:
    """An SMTP reply as ``setreply`` wants it: ASCII text, every ``%`` doubled."""
    lines = [reply_ascii(line).replace("%", "%%") for line in reply.lines] or ["rejected"]
    return str(reply.code), reply.enhanced, lines


def _guarded(stage: str) -> Callable[[_F], _F]:
    """Turn any exception inside a callback into the policy's failure answer."""
    def wrap(method: _F) -> _F:
        @functools.wraps(method)
        def run(self: GovMilter, *args: Any) -> Any:
            try:
                return method(self, *args)
            except Exception as exc:
                return self.failed(stage, exc)
        return run  # type: ignore[return-value]
    return wrap


def _unanswered(stage: str) -> Callable[[_F], _F]:
    """For the callbacks Postfix is told not to wait for (header, eoh, body): no reply.

    Declared with ``@Milter.noreply``, they save Postfix a round trip per header and per body
    chunk. An exception cannot be answered there: it is kept, the rest of the message is not
    stored, and end of message answers it with the policy's failure action.
    """
    def wrap(method: _F) -> _F:
        @functools.wraps(method)
        def run(self: GovMilter, *args: Any) -> int:
            txn = self._transaction()
            if txn.failure is None:
                try:
                    method(self, *args)
                except Exception as exc:
                    txn.failure = (stage, exc)
                    txn.close()
            return CONTINUE
        return run  # type: ignore[return-value]
    return wrap


@dataclasses.dataclass
class _Transaction:
    """One message on the connection, from MAIL FROM to end of message or abort."""

    sender: str
    authenticated_user: str | None
    started: float
    #: each address classified once per message, RCPT and end of message sharing the answer,
    #: and all DNS waiting of the message within one budget (started at MAIL FROM)
    classify: Classifier
    #: every recipient the client gave, refused ones included: address → as sent
    recipients: dict[str, str] = dataclasses.field(default_factory=dict)
    #: recipient → the mailbox its DSN ORCPT parameter names (an alias or forward before)
    original_recipients: dict[str, str] = dataclasses.field(default_factory=dict)
    refused: list[RecipientVerdict] = dataclasses.field(default_factory=list)  # at RCPT
    spool: MessageSpool | None = None
    #: the message's size as the client declared it at MAIL FROM (ESMTP SIZE), if it did
    declared_size: int | None = None
    subject: bytes | None = None
    stamped_headers: int = 0  # X-GovMilter headers that arrived with the message
    stamped_holds: int = 0  # X-GovMilter-Hold headers that arrived with the message
    #: an automatic message (Auto-Submitted other than "no", RFC 3834): never answered
    automatic: bool = False
    queue_id: str | None = None
    #: the message's incident, made at its first non-compliant refusal or at end of message
    incident_id: str | None = None
    #: an exception in a callback without reply, answered at end of message
    failure: tuple[str, Exception] | None = None

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()
            self.spool = None


class GovMilter(Milter.Base):  # type: ignore[misc]
    """One SMTP connection seen through the milter protocol."""

    def __init__(self, runtime: MilterRuntime) -> None:
        self.runtime = runtime
        self.metrics = runtime.metrics
        # the snapshot: a reload during this connection does not change its rules
        snapshot = runtime.snapshot()
        self.policy, self.classify = snapshot.policy, snapshot.classify
        self.decides_at_rcpt = snapshot.decides_at_rcpt
        self.service: str | None = None
        self.txn: _Transaction | None = None
        self.counted = False
        self.local_submission = False

    def negotiate(self, opts: list[int]) -> int:
        """pymilter's own negotiation, less its search for ``@Milter.symlist`` callbacks
        (GovMilter has none): see :func:`govmilter.server.speedups.negotiate`."""
        return speedups.negotiate(self, opts)

    # ---- callbacks -------------------------------------------------------------------------
    @_guarded("connect")
    def connect(self, hostname: str, family: int, hostaddr: Any) -> int:
        """Count the connection and note the Postfix service ({daemon_name})."""
        if not self.counted:
            self.metrics.connections_in_progress.inc()
            self.counted = True
        self.service = self.getsymval("{daemon_name}")
        self.local_submission = is_local_submission(hostname, hostaddr)
        return CONTINUE

    @_guarded("envfrom")
    def envfrom(self, sender: str, *esmtp: str) -> int:
        """Start a message: sender, SMTP AUTH user ({auth_authen})."""
        self._end_transaction()
        if self.service is None:
            self.service = self.getsymval("{daemon_name}")
        txn = self.txn = _Transaction(strip_brackets(sender),
                                      self.getsymval("{auth_authen}") or None, time.monotonic(),
                                      self._message_classifier())
        txn.classify.start(txn.sender)  # its DNS lookup runs while the recipients arrive
        txn.declared_size = declared_size(esmtp)
        return CONTINUE

    @_guarded("envrcpt")
    def envrcpt(self, recipient: str, *esmtp: str) -> int:
        """Decide now when the rules need no content; refuse just this recipient on reject."""
        txn = self._transaction()
        address = strip_brackets(recipient)
        txn.classify.start(address)  # its DNS lookup runs while the client goes on
        txn.recipients[address] = recipient
        original = original_recipient(esmtp) if esmtp else None
        if original is not None:
            txn.original_recipients[address] = original.text
        # Postfix cannot refuse a recipient of sendmail(1) mail (non_smtpd_milters): it would
        # keep the message in the maildrop queue and retry it forever. Such mail is decided at
        # end of message, where a reject bounces it to its sender.
        if not self.decides_at_rcpt or self.local_submission:
            return CONTINUE
        refusal = refusal_at_rcpt(address, self._envelope(txn, (address,)), self.policy,
                                  txn.classify)
        if refusal is None:
            return CONTINUE
        txn.refused.append(refusal)
        actions: tuple[MilterAction, ...] = (Reject(refusal.reply),)
        incident_id = None if refusal.compliant else self._incident_id(txn)
        if incident_id is not None:
            actions = with_incident(actions, incident_id)
        return self._execute(txn, actions)

    @_guarded("data")
    def data(self) -> int:
        """Note the queue id (Postfix assigns it after the first accepted recipient)."""
        self._transaction().queue_id = self.getsymval("i")
        return CONTINUE

    @Milter.noreply  # type: ignore[misc,untyped-decorator]
    @Milter.decode("bytes")  # type: ignore[misc,untyped-decorator]
    @_unanswered("header")
    def header(self, name: str, value: bytes) -> int:
        """Keep the header (as bytes: 8-bit headers must reach the scanner unchanged)."""
        txn = self._transaction()
        lower = name.lower()
        if lower == "subject" and txn.subject is None:
            txn.subject = value
        elif lower == HEADER_NAME.lower():
            txn.stamped_headers += 1
        elif lower == HOLD_HEADER_LOWER:
            txn.stamped_holds += 1
        elif lower == "auto-submitted" and value.strip().lower() != b"no":
            txn.automatic = True
        self._spool(txn).write(name.encode("ascii", "replace") + b": " + value + b"\r\n")
        return CONTINUE

    @Milter.noreply  # type: ignore[misc,untyped-decorator]
    @_unanswered("eoh")
    def eoh(self) -> int:
        """End of headers: the blank line before the body."""
        self._spool(self._transaction()).write(b"\r\n")
        return CONTINUE

    @Milter.noreply  # type: ignore[misc,untyped-decorator]
    @_unanswered("body")
    def body(self, chunk: bytes) -> int:
        """A body chunk: kept in memory up to the policy's limit, then in a temporary file."""
        self._spool(self._transaction()).write(chunk)
        return CONTINUE

    @_guarded("eom")
    def eom(self) -> int:
        """Scan, decide, carry out the verdict, count and log it."""
        txn = self._transaction()
        txn.queue_id = self.getsymval("i") or txn.queue_id
        if txn.failure is not None:
            return self.failed(*txn.failure)
        # one byte past the scanner's cut-off so it still notices (and says) that it was cut
        limit = self.policy.limits.raw_scan_bytes + 1
        spool = txn.spool
        if spool is not None:
            try:
                spool.finish()  # the file's last block: a full disk fails the body, as there
            except OSError as exc:
                return self.failed("body", exc)
        try:
            # handed over only once a scan worker is free, and without a copy (a view of the
            # spool's memory, or its file for the worker to read)
            facts = self.runtime.scanner.scan_lazily(
                lambda: spool.handover(limit) if spool else b"", self.policy)
        except Exception as exc:
            return self.failed("scan", exc)
        if OCR_LANE_BUSY in facts.notes:
            log.warning("qid=%s OCR lane busy: the message's scans and images were not read (no "
                        "OCR worker free within limits.max_seconds=%s, %d OCR worker(s)) and "
                        "count as unscannable; raise --ocr-workers if "
                        "govmilter_ocr_lane_busy_total keeps growing", txn.queue_id or "NOQUEUE",
                        self.policy.limits.max_seconds, self.runtime.scanner.ocr_workers)
        verdict = decide(self._envelope(txn, tuple(txn.recipients)), facts, self.policy,
                         txn.classify, txn.refused)
        actions = plan(verdict, ReceivedHeaders(txn.subject, txn.stamped_headers),
                       monitor_header=self.policy.monitor_header)
        actions = (*forged_holds_removed(verdict, txn.stamped_holds), *actions)
        incident_id = self._incident_id(txn) if is_incident(verdict) else None
        if incident_id is not None:
            actions = with_incident(actions, incident_id)
        result = self._execute(txn, actions)
        self._finish(txn, verdict, facts, actions)
        return result

    @_guarded("abort")
    def abort(self) -> int:
        """The client gave up the message (RSET, QUIT, lost connection): free it."""
        self._end_transaction()
        return CONTINUE

    @_guarded("close")
    def close(self) -> int:
        """The connection ended."""
        self._end_transaction()
        if self.counted:
            self.metrics.connections_in_progress.dec()
            self.counted = False
        return CONTINUE

    # ---- failure path ----------------------------------------------------------------------
    def failed(self, stage: str, exc: BaseException) -> int:
        """Log (no content), count and answer with the policy's ``on_error`` action."""
        txn = self.txn
        queue_id = (txn.queue_id if txn else None) or "NOQUEUE"
        where = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
        place = f"{where[0].filename.rsplit('/', 1)[-1]}:{where[0].lineno}" if where else "?"
        # the exception text may quote message bytes, so only its type, errno and place are
        # logged (the errno name tells a full disk, ENOSPC, from a bug)
        errno_name = errno.errorcode.get(exc.errno or 0, "") if isinstance(exc, OSError) else ""
        log.error("error stage=%s qid=%s exception=%s%s at=%s action=%s", stage, queue_id,
                  type(exc).__name__, f"({errno_name})" if errno_name else "", place,
                  self.policy.on_error)
        self.metrics.error(stage)
        if stage in ("abort", "close"):
            if txn is not None:
                txn.close()
            self.txn = None
            return CONTINUE
        self.metrics.failure_action(self.policy.on_error)
        if txn is not None:
            txn.close()
        self.txn = None
        if self.policy.on_error is FailureAction.ACCEPT:
            return ACCEPT
        self._reply(FAILURE_REPLY)
        return TEMPFAIL

    # ---- helpers ---------------------------------------------------------------------------
    def _transaction(self) -> _Transaction:
        if self.txn is None:  # MTAs always send MAIL first; be safe with odd clients
            self.txn = _Transaction("", None, time.monotonic(), self._message_classifier())
        return self.txn

    def _spool(self, txn: _Transaction) -> MessageSpool:
        if txn.spool is None:
            txn.spool = MessageSpool(self.policy.limits.memory_bytes, self.runtime.spool_dir,
                                     txn.declared_size)
        return txn.spool

    def _message_classifier(self) -> Classifier:
        """A new message's classifier; a lookup its DNS budget left no time for is a DNS error."""
        return self.classify.message(lambda: self.metrics.error("dns"))

    def _envelope(self, txn: _Transaction, recipients: tuple[str, ...]) -> Envelope:
        return Envelope(sender=txn.sender, recipients=recipients,
                        authenticated_user=txn.authenticated_user, service=self.service,
                        queue_id=txn.queue_id,
                        original_recipients=tuple(txn.original_recipients.items()))

    def _reply(self, reply: Reply) -> None:
        code, enhanced, lines = reply_args(reply)
        self.setreply(code, enhanced, *lines)

    def _execute(self, txn: _Transaction, actions: tuple[MilterAction, ...]) -> int:
        """Carry out a plan, one library call per action; the answer to give the MTA."""
        for action in actions:
            match action:
                case Reject(reply):
                    if reply is not None:
                        self._reply(reply)
                    return REJECT
                case RemoveHeader(name, index):
                    self.chgheader(name, index, "")
                case AddHeader(name, value):
                    self.addheader(name, value)
                case ChangeHeader(name, index, value):
                    self.chgheader(name, index, value)
                case DeleteRecipient(address):
                    self.delrcpt(txn.recipients.get(address, f"<{address}>"))
                case AddRecipient(address):
                    self.addrcpt(f"<{address}>")
                case Hold(reason):
                    self.quarantine(to_ascii(reason))
                case _:  # mypy: a new kind of action must be carried out here too
                    assert_never(action)
        return CONTINUE

    def _incident_id(self, txn: _Transaction) -> str | None:
        """The message's incident id, made on first use; None when no incidents are kept."""
        if self.runtime.incidents is None:
            return None
        if txn.incident_id is None:
            txn.incident_id = new_incident_id()
        return txn.incident_id

    def _record(self, txn: _Transaction, verdict: Verdict, facts: MessageFacts | None,
                actions: tuple[MilterAction, ...]) -> None:
        """Count the message for the day and hand its incident, if any, to the writer."""
        writer = self.runtime.incidents
        if writer is None:
            return
        writer.count(verdict)
        if txn.incident_id is None or not is_incident(verdict):
            return
        hold = next((a for a in actions if isinstance(a, Hold)), None)
        context = MessageContext(
            gateway=writer.gateway, queue_id=txn.queue_id,
            authenticated=txn.authenticated_user is not None,
            subject=facts.subject if facts is not None else None,
            stage="eom" if facts is not None else "rcpt",
            held=hold is not None, removed=removed_by(verdict, actions),
            attachments=facts.attachments if facts is not None else (),
            policy_sha256=self.policy.source.sha256,
            hold_reason=hold.reason if hold is not None else None)
        incident = build_incident(verdict, txn.incident_id, context, _dt.datetime.now(_dt.UTC))
        writer.record(incident)
        if self.runtime.notices is not None:
            rule = next((r for r in self.policy.rules if r.id == incident.rule_id), None)
            self.runtime.notices.offer(
                incident, rule.notice if rule is not None else None,
                internal_sender=verdict.sender_class.domain_class is DomainClass.OFFICIAL
                or verdict.sender_class.internal or txn.authenticated_user is not None,
                automatic=txn.automatic or not txn.sender, settings=self.policy.notices)

    def _finish(self, txn: _Transaction, verdict: Verdict, facts: MessageFacts | None,
                actions: tuple[MilterAction, ...]) -> None:
        """Count, record and log a decided message, then free it. ``facts`` None: no content
        arrived (every recipient refused at RCPT, or the client gave up)."""
        seconds = time.monotonic() - txn.started
        self.metrics.observe_verdict(verdict, seconds, facts.scanned_bytes if facts else 0)
        self._record(txn, verdict, facts, actions)
        recipients = verdict.recipients
        log.info(
            "qid=%s sender=%s rcpts=%s document=%s class=%s rules=%s actions=%s message=%s "
            "applied=%s mode=%s auth=%s service=%s forwarded=%s unit=%s recipients=%d "
            "seconds=%.3f incident=%s",
            txn.queue_id or "NOQUEUE", verdict.sender_class.domain_class,
            recipient_field([r.classification.domain_class for r in recipients]),
            "yes" if verdict.document.official else "no", verdict.document.document_class,
            recipient_field([r.rule_id for r in recipients]),
            recipient_field([r.action for r in recipients]), verdict.message_action,
            verdict.applied_message_action, message_mode(verdict),
            "yes" if txn.authenticated_user else "no", self.service or "-",
            verdict.forward.forwarded, shown_unit(verdict.sender_unit), len(recipients),
            seconds, txn.incident_id or "-",
        )
        txn.close()
        self.txn = None

    def _end_transaction(self) -> None:
        """Close a message that never reached end of message.

        Recipients refused at RCPT were decided: when no message followed (every recipient
        refused, or the client gave up) they are counted and logged here, with no document
        because no content arrived.
        """
        txn = self.txn
        if txn is None:
            return
        if txn.refused:
            refused = tuple(r.address for r in txn.refused)
            self._finish(txn, decide(self._envelope(txn, refused), MessageFacts(), self.policy,
                                     txn.classify, txn.refused), None, ())
        txn.close()
        self.txn = None


def milter_factory(runtime: MilterRuntime) -> Callable[[], GovMilter]:
    """The factory pymilter calls once per MTA connection."""
    return functools.partial(GovMilter, runtime)
