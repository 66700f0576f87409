"""From a real scan and decide() to the incident and the day's counts (no MTA)."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib

from hostile_mail import OFFICIAL_TEXT, with_attachment
from samples import FREEMAIL_RCPT, OFFICIAL_RCPT, OFFICIAL_SENDER, SECRET, policy_yaml

from govmilter.policy import decide, parse_policy
from govmilter.policy.effects import plan
from govmilter.policy.verdict import Envelope, Verdict
from govmilter.scan import scan_message
from govmilter.store.incidents import (
    MessageContext,
    build_incident,
    count_keys,
    document_identity,
    is_incident,
    removed_by,
    vietnam_day,
)

NOW = _dt.datetime(2026, 12, 5, 17, 30, tzinfo=_dt.UTC)  # already the 6th in Vietnam


def verdict_of(raw: bytes, recipients: list[str], mode: str = "enforce") -> tuple[Verdict, str]:
    policy = parse_policy(policy_yaml(mode=mode))
    facts = scan_message(raw, policy)
    verdict = decide(Envelope(OFFICIAL_SENDER, tuple(recipients)), facts, policy)
    return verdict, facts.subject


def context(verdict: Verdict, subject: str) -> MessageContext:
    actions = plan(verdict)
    return MessageContext(gateway="mx1", queue_id="QID", authenticated=True, subject=subject,
                          stage="eom", held=False, removed=removed_by(verdict, actions))


def test_a_secret_document_to_gov_vn_and_gmail_names_the_removed_gmail_address() -> None:
    verdict, subject = verdict_of(SECRET, [OFFICIAL_RCPT, FREEMAIL_RCPT])
    assert is_incident(verdict)
    incident = build_incident(verdict, "20261205-ABCDEFGHJKMN", context(verdict, subject), NOW)
    assert incident.removed == (FREEMAIL_RCPT,)
    assert (incident.rule_id, incident.action, incident.mode) == (
        "secret-to-freemail", "reject", "enforce")
    # read from the detector's evidence: a change of its wording fails here
    assert incident.document_number == "588/BTTTT-THH"
    assert incident.secrecy == "MẬT" and incident.document_class == "secret"
    assert incident.subject == "Công văn số 588/BTTTT-THH"
    assert incident.issuer == "state body"


def test_the_kind_comes_from_the_document_type_line() -> None:
    assert document_identity(["body: document type 'quyết định'",
                              "body: number/symbol 12/QĐ-UBND",
                              "body: issuer is a state-owned enterprise (Decree 30/2020 applies)"]
                             ) == ("quyết định", "12/QĐ-UBND", "state-owned enterprise")
    assert document_identity([]) == (None, None, None)


def test_a_whole_message_reject_removes_every_recipient() -> None:
    verdict, _ = verdict_of(SECRET, [FREEMAIL_RCPT])
    assert removed_by(verdict, plan(verdict)) == {FREEMAIL_RCPT}


def test_a_monitor_mode_verdict_is_an_incident_marked_monitor_that_removed_nobody() -> None:
    verdict, subject = verdict_of(SECRET, [OFFICIAL_RCPT, FREEMAIL_RCPT], mode="monitor")
    incident = build_incident(verdict, "20261205-ABCDEFGHJKMN", context(verdict, subject), NOW)
    assert incident.mode == "monitor" and incident.removed == ()


def test_compliant_mail_is_no_incident() -> None:
    verdict, _ = verdict_of(SECRET, [OFFICIAL_RCPT])
    assert not is_incident(verdict)


def test_attachments_are_recorded_by_name_hash_and_size() -> None:
    data = OFFICIAL_TEXT.encode()
    raw = with_attachment(data, "cong-van-588.txt", subject="tai lieu", sender=OFFICIAL_SENDER,
                          to=FREEMAIL_RCPT)
    facts = scan_message(raw, parse_policy(policy_yaml()))
    [attachment] = facts.attachments
    assert (attachment.name, attachment.sha256, attachment.size, attachment.truncated) == (
        "cong-van-588.txt", hashlib.sha256(data).hexdigest(), len(data), False)


def test_counts_are_keyed_like_the_metrics_and_by_vietnam_day() -> None:
    verdict, _ = verdict_of(SECRET, [OFFICIAL_RCPT, FREEMAIL_RCPT])
    recipients, message = count_keys(verdict)
    assert recipients == [
        ("official_to_official", "secret", True, "official-to-official", "tag", "enforce", ""),
        ("official_to_freemail", "secret", False, "secret-to-freemail", "reject", "enforce",
         "")]
    assert message == ("secret", False, "tag", "enforce", "")
    assert vietnam_day(NOW) == _dt.date(2026, 12, 6)


def test_the_incident_and_the_counts_carry_the_senders_unit() -> None:
    policy = parse_policy("units:\n  - id: ke-toan\n    name: Phòng Kế toán\n"
                          f"    members: [{OFFICIAL_SENDER}]\n" + policy_yaml())
    verdict = decide(Envelope(OFFICIAL_SENDER, (FREEMAIL_RCPT,)), scan_message(SECRET, policy),
                     policy)
    incident = build_incident(verdict, "20261205-ABCDEFGHJKMN", context(verdict, ""), NOW)
    assert incident.sender_unit == "ke-toan"
    recipients, message = count_keys(verdict)
    assert [key[-1] for key in recipients] == ["ke-toan"] and message[-1] == "ke-toan"


def test_a_scan_the_busy_ocr_lane_left_unread_says_why_and_what_to_do_to_each_reader() -> None:
    """What the ordinary lane read when no OCR worker came free: the officer (``govmilter
    check``, the incident) and the sender (the notice) read why the scan was not read and what
    to do, in Vietnamese first, and the reason is not mistaken for OCR being absent."""
    from scans import degrade, image_bytes, official_letter, render_page, scan_mail

    from govmilter.policy import load_policy
    from govmilter.scan import OCR_LANE_BUSY, OCR_LANE_BUSY_REASON, scan_deferring_ocr
    from govmilter.server.notices import notice_text
    from govmilter.tools.render import verdict_to_text

    policy = load_policy(None)
    page = degrade(render_page(official_letter("TỐI MẬT")[0], 150), seed=2, angle=1.0)
    unread, wanted = scan_deferring_ocr(
        scan_mail(image_bytes(page, "PNG", 150), "scan.png", ("image", "png")),
        policy.limits, policy.detection)
    assert wanted  # the facts a busy lane leaves, as govmilter.server.workers keeps them
    facts = dataclasses.replace(unread, notes=(*unread.notes, OCR_LANE_BUSY))
    verdict = decide(Envelope(OFFICIAL_SENDER, (FREEMAIL_RCPT,)), facts, policy)
    reason = f"attachment 1: image; not read by OCR ({OCR_LANE_BUSY_REASON})"
    assert verdict.document.unscannable == (reason,)
    checked = verdict_to_text(verdict, policy)
    assert f"not scanned: {reason}" in checked and "scan workers only" not in checked
    assert f"note: {OCR_LANE_BUSY}" in checked
    assert OCR_LANE_BUSY.startswith("Bộ đọc chữ trong ảnh (OCR) đang bận")
    assert "— OCR lane busy:" in OCR_LANE_BUSY and "send it again" in OCR_LANE_BUSY

    incident = build_incident(verdict, "20261205-ABCDEFGHJKMN", context(verdict, "s"), NOW)
    assert incident.document_class == "unscannable"
    assert incident.evidence == (f"không đọc được — not read: {reason}", OCR_LANE_BUSY)
    assert (incident.document_kind, incident.document_number) == (None, None)
    rule = next(r for r in policy.rules if r.id == incident.rule_id)
    assert rule.notice is not None
    vietnamese, english = notice_text(rule.notice, incident)
    for text in (vietnamese, english):
        assert "Bộ đọc chữ trong ảnh (OCR) đang bận" in text and "gửi lại sau ít phút" in text


def test_an_unscannable_documents_reasons_are_its_evidence_and_a_read_ones_are_not() -> None:
    damaged = with_attachment(b"PK\x03\x04" + b"\x01\x00" * 40, "hoso.zip", "application",
                              "zip")
    verdict, subject = verdict_of(damaged, [FREEMAIL_RCPT])
    incident = build_incident(verdict, "20261205-ABCDEFGHJKMN", context(verdict, subject), NOW)
    assert incident.document_class == "unscannable"
    assert incident.evidence == (
        "không đọc được — not read: attachment 1: ZIP archive could not be opened (BadZipFile)",)
    official, subject = verdict_of(SECRET, [FREEMAIL_RCPT])
    incident = build_incident(official, "20261205-ABCDEFGHJKMN", context(official, subject), NOW)
    assert incident.evidence and not any(e.startswith("không đọc được")
                                         for e in incident.evidence)
