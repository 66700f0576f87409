"""The quarantine operations against a store and a stand-in for Postfix's commands (the real
Postfix is in tests/integration/test_incidents_postfix.py): expiry, and Postfix refusing."""

from __future__ import annotations

import base64
import datetime as _dt
import email.message
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from incident_samples import T0, make_incident

from govmilter.store import IncidentStatus, open_store
from govmilter.tools.postfix_queue import PostfixQueue
from govmilter.tools.quarantine import Quarantine, QuarantineError


class FakePostfix:
    """Answers postqueue -j with the held queue ids; postsuper fails when told to."""

    def __init__(self, held: list[str], postsuper_fails: bool = False,
                 message: bytes = b"") -> None:
        self.held = held
        self.postsuper_fails = postsuper_fails
        self.message = message  #: what postcat gives for every queue id
        self.calls: list[list[str]] = []

    def __call__(self, argv: list[str], **_: Any) -> subprocess.CompletedProcess[Any]:
        self.calls.append(argv)
        if argv[0] == "postqueue" and "-j" in argv:
            out = "".join(json.dumps({"queue_name": "hold", "queue_id": q,
                                      "arrival_time": int(T0.timestamp()), "message_size": 10,
                                      "sender": "a@mic.gov.vn",
                                      "recipients": [{"address": "b@gmail.com"}]}) + "\n"
                          for q in self.held)
            return subprocess.CompletedProcess(argv, 0, out, "")
        if argv[0] == "postcat":
            return subprocess.CompletedProcess(argv, 0, self.message, b"")
        if argv[0] == "postsuper" and self.postsuper_fails:
            return subprocess.CompletedProcess(argv, 1, "", "postsuper: fatal: not allowed")
        return subprocess.CompletedProcess(argv, 0, "", "")


def test_held_incidents_that_left_the_queue_expire_after_a_grace(tmp_path: Path) -> None:
    still_held = make_incident(queue_id="HELD1", held=True, gateway="mx1")
    gone_long_ago = make_incident(queue_id="GONE1", held=True, gateway="mx1")
    gone_just_now = make_incident(queue_id="GONE2", held=True, gateway="mx1",
                                  created_at=T0 + _dt.timedelta(minutes=9))
    other_gateway = make_incident(queue_id="ELSE1", held=True, gateway="mx2")
    quarantine = Quarantine(PostfixQueue("/etc/postfix", FakePostfix(["HELD1"])), "mx1")
    with open_store(str(tmp_path / "s.db")) as store:
        store.add_incidents([still_held, gone_long_ago, gone_just_now, other_gateway])
        [entry] = quarantine.held(store, now=T0 + _dt.timedelta(minutes=10))
        assert entry.incident is not None and entry.incident.id == still_held.id
        status = {i.id: i.status for i in store.list_incidents().incidents}
    assert status == {still_held.id: IncidentStatus.OPEN,
                      gone_long_ago.id: IncidentStatus.EXPIRED,
                      gone_just_now.id: IncidentStatus.OPEN,
                      other_gateway.id: IncidentStatus.OPEN}  # another gateway's queue


def test_when_postfix_refuses_nothing_is_recorded(tmp_path: Path) -> None:
    incident = make_incident(queue_id="HELD1", held=True)
    fake = FakePostfix(["HELD1"], postsuper_fails=True)
    quarantine = Quarantine(PostfixQueue("/etc/postfix", fake))
    with open_store(str(tmp_path / "s.db")) as store:
        store.add_incidents([incident])
        with pytest.raises(QuarantineError, match="not allowed"):
            quarantine.release(store, incident.id, "officer1", "checked")
        assert store.get_incident(incident.id).status is IncidentStatus.OPEN  # type: ignore
    assert ["postsuper", "-c", "/etc/postfix", "-H", "HELD1"] in fake.calls


def test_a_message_not_in_the_hold_queue_cannot_be_released(tmp_path: Path) -> None:
    incident = make_incident(queue_id="GONE1", held=True)
    quarantine = Quarantine(PostfixQueue("/etc/postfix", FakePostfix([])))
    with open_store(str(tmp_path / "s.db")) as store:
        store.add_incidents([incident])
        with pytest.raises(QuarantineError, match="not in the hold queue"):
            quarantine.delete(store, incident.id, "officer1", "old")
        with pytest.raises(QuarantineError, match="no held message of queue id NOPE"):
            quarantine.delete(store, "NOPE", "officer1", "old")


def test_an_officer_reads_the_headers_and_extracted_text_never_the_attachment(
        tmp_path: Path) -> None:
    document = (Path(__file__).parents[1] / "data" / "office" / "cong-van.doc").read_bytes()
    message = email.message.EmailMessage()
    message["From"], message["To"] = "vanthu@mic.gov.vn", "ban.be@gmail.com"
    message["Subject"] = "Công văn 123/UBND-VP"
    message.set_content("Kính gửi anh.")
    message.add_attachment(document, maintype="application", subtype="msword",
                           filename="cong-van.doc")
    raw = message.as_bytes()
    incident = make_incident(queue_id="HELD1", held=True)
    quarantine = Quarantine(PostfixQueue("/etc/postfix", FakePostfix(["HELD1"], message=raw)))
    with open_store(str(tmp_path / "s.db")) as store:
        store.add_incidents([incident])
        content = quarantine.content(store, incident)
    assert content is not None
    assert ("Subject", "Công văn 123/UBND-VP") in content.headers
    assert "Kính gửi anh." in content.text and "Số: 123/UBND-VP" in content.text
    encoded = base64.b64encode(document).decode()
    assert all(encoded[i:i + 60] not in content.text for i in range(0, 600, 60))
