"""Incidents for people (text), for scripts (the ``incidents --json`` contract) and as CSV.

The JSON shape is public, like ``check --json``: every document carries ``"schema"``
(:data:`INCIDENTS_JSON_SCHEMA`); fields are added, never renamed or removed.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import os
import pwd
from collections.abc import Iterable, Iterator
from typing import Any

from govmilter.store.records import AuditEntry, Incident, IncidentPage, StatusChange

#: Version of the JSON documents printed by ``govmilter incidents ... --json``.
INCIDENTS_JSON_SCHEMA = 1
#: Vietnam keeps UTC+7 all year: times are shown to officers in it.
VN_TZ = _dt.timezone(_dt.timedelta(hours=7), "UTC+7")

STATUS_VI = {"open": "đang mở (open)", "released": "đã cho đi (released)",
             "deleted": "đã xoá (deleted)", "expired": "hết hạn (expired)"}

CSV_COLUMNS = ("id", "created_at", "gateway", "queue_id", "rule", "action", "mode", "stage",
               "status", "held", "sender", "sender_class", "authenticated", "recipients",
               "removed", "subject", "document_class", "document_kind", "document_number",
               "issuer", "secrecy", "urgency", "score", "evidence", "attachments", "sender_unit")


def acting_user() -> str:
    """Who runs the command: the login name, and the user behind sudo when there is one."""
    try:
        name = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        name = str(os.getuid())
    behind = os.environ.get("SUDO_USER")
    return f"{behind} (sudo {name})" if behind and behind != name else name


def _time(moment: _dt.datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _change_json(change: StatusChange) -> dict[str, Any]:
    return {"at": _time(change.at), "status": change.status.value, "actor": change.actor,
            "reason": change.reason}


def incident_to_json(i: Incident) -> dict[str, Any]:
    """One incident as a JSON-ready dict (times in UTC, ISO 8601)."""
    return {
        "id": i.id,
        "created_at": _time(i.created_at),
        "gateway": i.gateway,
        "queue_id": i.queue_id,
        "rule": i.rule_id,
        "action": i.action,
        "mode": i.mode,
        "stage": i.stage,
        "status": i.status.value,
        "held": i.held,
        "sender": {"address": i.sender, "class": i.sender_class,
                   "authenticated": i.authenticated, "unit": i.sender_unit},
        "recipients": [{"address": r.address, "class": r.domain_class, "rule": r.rule_id,
                        "action": r.action, "compliant": r.compliant, "removed": r.removed}
                       for r in i.recipients],
        "subject": i.subject,
        "document": {"class": i.document_class, "kind": i.document_kind,
                     "number": i.document_number, "issuer": i.issuer, "secrecy": i.secrecy,
                     "urgency": i.urgency, "score": i.score, "evidence": list(i.evidence)},
        "attachments": [{"name": a.name, "sha256": a.sha256, "size": a.size}
                        for a in i.attachments],
        "policy_sha256": i.policy_sha256,
        "hold_reason": i.hold_reason,
        "history": [_change_json(c) for c in i.history],
    }


def audit_to_json(entry: AuditEntry) -> dict[str, Any]:
    """One audit entry as a JSON-ready dict."""
    return {"at": _time(entry.at), "actor": entry.actor, "action": entry.action,
            "incident": entry.incident_id, "detail": entry.detail}


def page_to_json(page: IncidentPage) -> dict[str, Any]:
    """``incidents list --json``."""
    return {"schema": INCIDENTS_JSON_SCHEMA, "total": page.total, "limit": page.query.limit,
            "offset": page.query.offset,
            "incidents": [incident_to_json(i) for i in page.incidents]}


def shown_to_json(incident: Incident) -> dict[str, Any]:
    """``incidents show --json``."""
    return {"schema": INCIDENTS_JSON_SCHEMA, "incident": incident_to_json(incident)}


def _local(moment: _dt.datetime) -> str:
    return moment.astimezone(VN_TZ).strftime("%Y-%m-%d %H:%M:%S")


def _mode_mark(i: Incident) -> str:
    return " [monitor]" if i.mode == "monitor" else ""


def page_to_text(page: IncidentPage) -> str:
    """One line per incident, newest first, and the count (times in Vietnam time)."""
    if not page.incidents:
        return f"Không có sự cố nào (no incidents); {page.total} khớp (match)."
    lines = []
    for i in page.incidents:
        removed = len(i.removed)
        number = f" số {i.document_number}" if i.document_number else ""
        lines.append(
            f"{i.id}  {_local(i.created_at)}  {i.status.value:<8}  {i.rule_id}: "
            f"{i.action}{_mode_mark(i)}{' held' if i.held else ''}  {i.sender} -> "
            f"{len(i.recipients)} recipient(s), {removed} removed  {i.document_class}{number}")
    shown = len(page.incidents)
    first = page.query.offset + 1
    lines.append(f"-- {first}-{first + shown - 1} of {page.total} "
                 f"(giờ Việt Nam, Vietnam time UTC+7)")
    return "\n".join(lines)


def incident_to_text(i: Incident) -> str:
    """The whole incident for an officer: Vietnamese labels first, English beside."""
    rows = [
        ("Sự cố (incident)", i.id),
        ("Thời điểm (time)", f"{_local(i.created_at)} (UTC+7)"),
        ("Cổng thư (gateway)", i.gateway),
        ("Mã hàng đợi (queue id)", i.queue_id or "-"),
        ("Quy tắc (rule)", i.rule_id),
        ("Hành động (action)", f"{i.action}{_mode_mark(i)}"
                               f"{' (giữ lại, held)' if i.held else ''}"),
        ("Lý do giữ (hold reason)", i.hold_reason or "-"),
        ("Trạng thái (status)", STATUS_VI.get(i.status.value, i.status.value)),
        ("Người gửi (sender)", f"{i.sender} [{i.sender_class}"
                               f"{', authenticated' if i.authenticated else ''}]"),
        ("Đơn vị (unit)", i.sender_unit or "-"),
        ("Tiêu đề (subject)", i.subject or "-"),
        ("Văn bản (document)", i.document_class),
        ("Loại (kind)", i.document_kind or "-"),
        ("Số, ký hiệu (number)", i.document_number or "-"),
        ("Cơ quan ban hành (issuer)", i.issuer or "-"),
        ("Độ mật (secrecy)", i.secrecy or "-"),
        ("Độ khẩn (urgency)", i.urgency or "-"),
        ("Điểm (score)", f"{i.score:g}"),
    ]
    width = max(len(label) for label, _ in rows)
    lines = [f"{label:<{width}}  {value}" for label, value in rows]
    lines.append("Người nhận (recipients):")
    for r in i.recipients:
        fate = "ĐÃ BỊ LOẠI (removed)" if r.removed else "vẫn nhận (kept)"
        lines.append(f"  {r.address}  [{r.domain_class}]  {r.rule_id}: {r.action}  {fate}")
    if i.evidence:
        lines.append("Dấu hiệu (evidence):")
        lines += [f"  - {e}" for e in i.evidence]
    if i.attachments:
        lines.append("Tệp đính kèm (attachments):")
        lines += [f"  {a.name}  {a.size} bytes  sha256 {a.sha256}" for a in i.attachments]
    lines.append("Lịch sử (history):")
    lines += [f"  {_local(c.at)}  {c.status.value:<8}  {c.actor}: {c.reason}"
              for c in i.history]
    return "\n".join(lines)


def csv_row(i: Incident) -> list[str]:
    """One incident as a CSV row of :data:`CSV_COLUMNS` (lists joined with ``; ``)."""
    return [
        i.id, _time(i.created_at), i.gateway, i.queue_id or "", i.rule_id, i.action, i.mode,
        i.stage, i.status.value, "yes" if i.held else "no", i.sender, i.sender_class,
        "yes" if i.authenticated else "no", "; ".join(r.address for r in i.recipients),
        "; ".join(i.removed), i.subject or "", i.document_class, i.document_kind or "",
        i.document_number or "", i.issuer or "", i.secrecy or "", i.urgency or "",
        f"{i.score:g}", "; ".join(i.evidence),
        "; ".join(f"{a.name} ({a.size} bytes, sha256 {a.sha256})" for a in i.attachments),
        i.sender_unit or "",
    ]


def export_csv(incidents: Iterable[Incident]) -> Iterator[str]:
    """The incidents as CSV text, a header line first, piece by piece (any size)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for incident in incidents:
        writer.writerow(csv_row(incident))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def export_json(incidents: Iterable[Incident], exported_at: _dt.datetime) -> Iterator[str]:
    """The incidents as one JSON document (``{"schema": 1, "incidents": [...]}``), piece by
    piece, so that an export of any size never sits whole in memory."""
    yield (f'{{"schema": {INCIDENTS_JSON_SCHEMA}, '
           f'"exported_at": {json.dumps(_time(exported_at))}, "incidents": [')
    for n, incident in enumerate(incidents):
        yield ("," if n else "") + "\n  " + json.dumps(incident_to_json(incident),
                                                       ensure_ascii=False)
    yield "\n]}\n"
