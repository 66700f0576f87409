"""From raw message bytes to :class:`MessageFacts`: the one path the milter and the CLI share."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from govmilter.document import detect_document
from govmilter.document.budget import ScanBudget
from govmilter.document.extract import extract_attachments
from govmilter.document.ocr import shared_engine, unavailable_reason
from govmilter.document.settings import DetectionSettings
from govmilter.mail.limits import Limits
from govmilter.mail.message import parse_message
from govmilter.policy.model import Policy
from govmilter.policy.verdict import AttachmentFacts, MessageFacts

#: Why a scan or image was not read when no OCR worker came free in time: the reason its
#: attachment carries in ``unscannable`` (officials and officers read it: Vietnamese first).
OCR_LANE_BUSY_REASON = "bộ đọc chữ trong ảnh (OCR) đang bận — OCR lane busy"
#: The note on a message decided without OCR because the OCR lane was busy: what happened and
#: what to do, for the sender (in a notice) and the officer (``govmilter check``, the incident).
OCR_LANE_BUSY = (
    "Bộ đọc chữ trong ảnh (OCR) đang bận nên ảnh và bản quét của thư chưa được đọc; thư được xử "
    "lý như tài liệu không đọc được, không phải vì nội dung của nó. Thư bị từ chối: gửi lại sau "
    "ít phút. Thư bị giữ: cán bộ phụ trách xem thư rồi cho đi hoặc xoá. — OCR lane busy: the "
    "message's scans and images were not read (no OCR worker came free within "
    "limits.max_seconds), so it was treated as unscannable, not judged on its content. Refused: "
    "send it again in a few minutes. Held: the compliance officer reviews it, then releases or "
    "deletes it.")


def scan_message(raw: bytes, policy: Policy, *, ocr: bool = True) -> MessageFacts:
    """Parse the message within the policy's limits and detect an official document in it.

    ``ocr``: read scans and images with this process's OCR engine (False in the milter
    process, which leaves OCR to its scan workers).
    """
    return scan_with(raw, policy.limits, policy.detection, ocr=ocr)


def scan_with(raw: bytes, limits: Limits, detection: DetectionSettings,
              clock: Callable[[], float] = time.monotonic, *, ocr: bool = True) -> MessageFacts:
    """:func:`scan_message` given only the two parts of the policy that scanning reads.

    Those are small to pickle (a worker process receives them with every message; the whole
    policy, with its domain lists, is about 80 KB). One :class:`ScanBudget` runs from here:
    MIME parsing spends the same time (``limits.max_seconds``) and bytes (``max_scan_bytes``) as
    attachment extraction and scoring.
    """
    return _scan(raw, limits, detection, clock, ocr)[0]


def scan_deferring_ocr(raw: bytes, limits: Limits, detection: DetectionSettings
                       ) -> tuple[MessageFacts, bool]:
    """:func:`scan_with` without OCR, and whether the message holds a scan or image that OCR
    would read (its facts then call those ``unscannable``).

    The ordinary lane of the scan workers scans every message so; the few that want OCR are
    scanned again, with OCR, in the OCR lane (:mod:`govmilter.server.workers`). These facts
    are kept only when that lane has no worker free in time: their scans and images are then
    unscannable for :data:`OCR_LANE_BUSY_REASON`.
    """
    facts, budget = _scan(raw, limits, detection, time.monotonic, False, OCR_LANE_BUSY_REASON)
    return facts, budget.ocr_wanted


def _scan(raw: bytes, limits: Limits, detection: DetectionSettings, clock: Callable[[], float],
          ocr: bool, unread_because: str = "OCR runs in scan workers only"
          ) -> tuple[MessageFacts, ScanBudget]:
    """The facts and the budget spent; without ``ocr``, scans and images are unscannable for
    ``unread_because``."""
    budget = ScanBudget(limits, clock)
    content = parse_message(raw, limits, budget)
    engine = shared_engine() if ocr else None
    reason = f"OCR unavailable: {unavailable_reason()}" if ocr else unread_because
    document = detect_document(content, detection, clock=clock, budget=budget, ocr=engine,
                               ocr_unavailable=reason)
    return MessageFacts(
        document=document, header_from=content.header_from, header_to=content.header_to,
        scanned_bytes=content.scanned_bytes, notes=content.notes, subject=content.subject,
        forward=content.forward,
        attachments=tuple(AttachmentFacts(a.filename or "(no name)",
                                          hashlib.sha256(a.data).hexdigest(), len(a.data),
                                          a.truncated) for a in content.attachments),
    ), budget


def readable_text(raw: bytes, limits: Limits) -> list[tuple[str, str]]:
    """The text govmilter reads in a message, as ``(where, text)`` pairs: the body parts and
    what the attachments yielded (no OCR), within ``limits``; for an officer reviewing it."""
    budget = ScanBudget(limits)
    content = parse_message(raw, limits, budget)
    found = [(part.source, part.text) for part in content.texts]
    found += [(part.source, part.text)
              for part in extract_attachments(content.attachments, budget).texts]
    return found
