"""Notices to the sender: what happened to their message, in Vietnamese then English.

Only for senders inside the agency (an official sender, or one who logged in with SMTP AUTH):
never to the outside senders of inbound mail (no backscatter). Never in answer to a message
that is itself automatic (``Auto-Submitted`` other than ``no``, RFC 3834; a null sender; or
from the notices' own address), so a notice can never start a loop; and at most
``notices.per_sender_per_hour`` per sender. Sent by a thread of their own through the local
Postfix by SMTP, with an empty envelope sender and ``Auto-Submitted: auto-generated``: the
milter never waits for it, and a notice that cannot be sent is logged and counted, never retried
into the mail path.
"""

from __future__ import annotations

import collections
import datetime as _dt
import email.message
import email.policy
import email.utils
import logging
import queue
import smtplib
import threading
import time
from dataclasses import dataclass

from govmilter.policy.model import Action, NoticeSettings, NoticeTemplate
from govmilter.server.metrics import Metrics
from govmilter.store.records import Incident

log = logging.getLogger("govmilter")

NOTICE_HEADER = "X-GovMilter-Notice"
#: Senders whose sending times the rate limit remembers at once (the oldest are forgotten).
MAX_SENDERS = 10_000
VN_TZ = _dt.timezone(_dt.timedelta(hours=7), "UTC+7")

OUTCOME_VI = {
    "reject": "thư KHÔNG được gửi tới những người nhận này (đã bị loại khỏi thư)",
    "quarantine": "thư đang được GIỮ LẠI chờ cán bộ phụ trách xem xét; chưa ai nhận được",
    "tag": "thư đã được gửi nhưng được đánh dấu là không tuân thủ quy định",
    "accept": "thư đã được gửi và được ghi nhận là không tuân thủ quy định",
}
OUTCOME_EN = {
    "reject": "the message was NOT delivered to these recipients (they were removed)",
    "quarantine": "the message is HELD until a compliance officer decides; nobody received it",
    "tag": "the message was delivered but marked as non-compliant",
    "accept": "the message was delivered and recorded as non-compliant",
}


@dataclass(frozen=True, slots=True)
class Notice:
    """One notice ready to send."""

    to: str
    message: email.message.EmailMessage
    smtp: str


def notice_text(template: NoticeTemplate, incident: Incident) -> tuple[str, str]:
    """The notice's Vietnamese and English text for ``incident``."""
    affected = [r for r in incident.recipients if not r.compliant] or list(incident.recipients)
    values = {
        "incident": incident.id, "rule": incident.rule_id,
        "subject": incident.subject or "(không có tiêu đề / no subject)",
        "recipients": ", ".join(r.address for r in affected),
        "removed": ", ".join(incident.removed) or "-",
        "reasons": "; ".join(incident.evidence) or incident.document_class,
        "outcome_vi": OUTCOME_VI.get("quarantine" if incident.held else incident.action, ""),
        "outcome_en": OUTCOME_EN.get("quarantine" if incident.held else incident.action, ""),
        "document_number": incident.document_number or "-",
        "time": incident.created_at.astimezone(VN_TZ).strftime("%H:%M %d/%m/%Y (UTC+7)"),
    }
    return template.vi.format(**values), template.en.format(**values)


def build_notice(incident: Incident, template: NoticeTemplate, settings: NoticeSettings
                 ) -> Notice:
    """The notice to the sender of ``incident`` as a MIME message."""
    vietnamese, english = notice_text(template, incident)
    message = email.message.EmailMessage(policy=email.policy.SMTP)
    message["From"] = email.utils.formataddr(("Hệ thống thư công vụ (govmilter)",
                                              settings.sender))
    message["To"] = incident.sender
    message["Subject"] = (f"Thư của bạn chưa được gửi như dự định / Your message was not "
                          f"delivered as sent ({incident.id})")
    message["Date"] = email.utils.format_datetime(_dt.datetime.now(_dt.UTC))
    message["Message-ID"] = email.utils.make_msgid("govmilter-notice",
                                                   settings.sender.rpartition("@")[2])
    message["Auto-Submitted"] = "auto-generated"
    message[NOTICE_HEADER] = incident.id
    message.set_content(f"{vietnamese}\n\n-- English --\n\n{english}\n", charset="utf-8")
    return Notice(incident.sender, message, settings.smtp)


def deserves_notice(incident: Incident, *, internal_sender: bool, automatic: bool,
                    settings: NoticeSettings) -> bool:
    """Whether the sender of ``incident`` gets a notice (before the rate limit)."""
    acted = incident.mode == "enforce" and (incident.held or incident.removed
                                            or incident.action == Action.TAG.value)
    return (settings.enabled and acted and internal_sender and not automatic
            and bool(incident.sender)
            and incident.sender.lower() != settings.sender.lower())


class Notifier:
    """The thread that sends notices, and the per-sender rate limit."""

    def __init__(self, metrics: Metrics | None = None, queue_size: int = 1000,
                 timeout: float = 10.0) -> None:
        self.metrics = metrics
        self.timeout = timeout
        self._queue: queue.Queue[Notice | None] = queue.Queue(queue_size)
        self._sent: collections.OrderedDict[str, collections.deque[float]] = \
            collections.OrderedDict()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def offer(self, incident: Incident, template: NoticeTemplate | None, *,
              internal_sender: bool, automatic: bool, settings: NoticeSettings) -> bool:
        """Queue a notice for the sender of ``incident`` if it deserves one and the sender's
        hourly limit allows; returns whether one was queued. Never waits."""
        if template is None or not deserves_notice(incident, internal_sender=internal_sender,
                                                   automatic=automatic, settings=settings):
            return False
        if not self._allowed(incident.sender.lower(), settings.per_sender_per_hour):
            self._count("limited")
            return False
        try:
            self._queue.put_nowait(build_notice(incident, template, settings))
        except queue.Full:
            self._count("dropped")
            return False
        return True

    def _allowed(self, sender: str, per_hour: int, now: float | None = None) -> bool:
        moment = time.monotonic() if now is None else now
        with self._lock:
            times = self._sent.pop(sender, None) or collections.deque()
            while times and moment - times[0] > 3600:
                times.popleft()
            allowed = len(times) < per_hour
            if allowed:
                times.append(moment)
            self._sent[sender] = times
            while len(self._sent) > MAX_SENDERS:
                self._sent.popitem(last=False)
            return allowed

    def start(self) -> Notifier:
        self._thread = threading.Thread(target=self._run, name="govmilter-notices", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Send what is queued (within ``timeout``), then end the thread."""
        if self._thread is None:
            return
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)

    def _run(self) -> None:
        while (notice := self._queue.get()) is not None:
            host, _, port = notice.smtp.rpartition(":")
            try:
                with smtplib.SMTP(host, int(port), timeout=self.timeout) as smtp:
                    smtp.send_message(notice.message, from_addr="", to_addrs=[notice.to])
            except (OSError, smtplib.SMTPException) as exc:
                # no address in the log: the incident id says whose notice it was
                log.warning("notice for incident %s not sent: %s", notice.message[NOTICE_HEADER],
                            type(exc).__name__)
                self._count("failed")
                continue
            self._count("sent")

    def _count(self, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.notices.labels(outcome).inc()
