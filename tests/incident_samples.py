"""Incidents made up for tests of the store, the commands and the console."""

from __future__ import annotations

import dataclasses
import datetime as _dt
from typing import Any

from govmilter.store.records import AttachmentRecord, Incident, RecipientRecord, new_incident_id

T0 = _dt.datetime(2026, 12, 1, 3, 0, tzinfo=_dt.UTC)


def make_incident(**changes: Any) -> Incident:
    """A secret document from an official sender to a Gmail (removed) and a gov.vn recipient."""
    created = changes.pop("created_at", T0)
    base = Incident(
        id=new_incident_id(created), created_at=created, gateway="mx1.mic.gov.vn",
        queue_id="4XyZ1234Ab", rule_id="secret-to-freemail", action="reject", mode="enforce",
        stage="eom", sender="Chuyen.Vien@mic.gov.vn", sender_class="official",
        authenticated=True, subject="V/v báo cáo MẬT số 12/BC-BTTTT",
        document_class="secret", document_kind="báo cáo", document_number="12/BC-BTTTT",
        issuer="BỘ THÔNG TIN VÀ TRUYỀN THÔNG", secrecy="MẬT", urgency="HỎA TỐC", score=11.5,
        evidence=("national heading", "number/symbol 12/BC-BTTTT", "secrecy marking MẬT"),
        held=False,
        recipients=(
            RecipientRecord("ban.be@gmail.com", "freemail", "secret-to-freemail", "reject",
                            False, True),
            RecipientRecord("van.thu@hanoi.gov.vn", "official", "official-ok", "accept", True,
                            False),
        ),
        attachments=(AttachmentRecord("Báo cáo mật.pdf", "ab" * 32, 123456),),
        policy_sha256="cd" * 32,
    )
    return dataclasses.replace(base, **changes)
