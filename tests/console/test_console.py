"""The console's pages and its security, through Flask's test client, on SQLite and PostgreSQL.

What a browser shows is tested in test_browser.py; here every rule is checked request by
request: nothing readable without sign-in, roles, CSRF, rate-limited sign-in, escaping, the
filters and paging, export, time-outs, accounts.
"""

from __future__ import annotations

import csv
import datetime as _dt
import html
import io
import json
import re
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest
from console_harness import (
    HOSTILE,
    PASSWORDS,
    RecordingHeldMail,
    add_accounts,
    held_incident,
    with_hostile_names,
)
from flask.testing import FlaskClient
from incident_samples import T0, make_incident
from markupsafe import escape
from postfix_harness import checkout_env

from govmilter.cli import build_parser
from govmilter.console.accounts import add_account
from govmilter.console.app import create_app
from govmilter.console.commands import is_loopback, parse_listen
from govmilter.console.i18n import TEXTS
from govmilter.console.settings import ConsoleSettings
from govmilter.store import (
    DailyMessageCount,
    DailyRecipientCount,
    IncidentStatus,
    IncidentStore,
    open_store,
)
from govmilter.store.accounts import Role, get_account, hash_of, list_accounts

NOW = _dt.datetime.now(_dt.UTC)


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(store_database: str) -> Iterator[IncidentStore]:
    with open_store(store_database) as opened:
        add_accounts(opened)
        yield opened


def client_for(store: IncidentStore, **kwargs: Any) -> tuple[FlaskClient, RecordingHeldMail]:
    held = kwargs.pop("held_mail", RecordingHeldMail())
    app = create_app(store, kwargs.pop("settings", None), held_mail=held, **kwargs)
    return app.test_client(), held


def csrf_of(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found[1]


def log_in(client: FlaskClient, name: str, password: str | None = None) -> Any:
    return client.post("/login", data={"username": name,
                                       "password": password or PASSWORDS[name],
                                       "csrf": csrf_of(client)})


def signed_in(store: IncidentStore, name: str, **kwargs: Any
              ) -> tuple[FlaskClient, RecordingHeldMail]:
    client, held = client_for(store, **kwargs)
    assert log_in(client, name).status_code == 302
    return client, held


PAGES = ("/", "/incidents", "/held", "/audit", "/accounts", "/incidents/export.csv",
         "/incidents/export.json")


def test_nothing_is_readable_without_signing_in(store: IncidentStore) -> None:
    incident = held_incident(NOW)
    store.add_incidents([incident])
    client, held = client_for(store)
    for path in (*PAGES, f"/incidents/{incident.id}", f"/held/{incident.id}"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login"), path
        assert incident.sender not in response.get_data(as_text=True)
    token = csrf_of(client)
    refused = client.post(f"/held/{incident.id}/release", data={"csrf": token, "reason": "x"})
    assert refused.status_code == 401
    assert held.done == []
    assert store.get_incident(incident.id).status is IncidentStatus.OPEN  # type: ignore[union-attr]


def test_a_viewer_reads_but_cannot_release_or_manage_accounts(store: IncidentStore) -> None:
    incident = held_incident(NOW)
    store.add_incidents([incident])
    client, held = signed_in(store, "viewer")
    page = client.get(f"/held/{incident.id}").get_data(as_text=True)
    assert incident.id in page and 'id="release"' not in page  # no buttons for a viewer
    token = csrf_of(client, f"/held/{incident.id}")
    refused = client.post(f"/held/{incident.id}/release",
                          data={"csrf": token, "reason": "tôi muốn"})
    assert refused.status_code == 403
    assert TEXTS["forbidden"][0] in refused.get_data(as_text=True)
    assert held.done == []
    assert store.get_incident(incident.id).status is IncidentStatus.OPEN  # type: ignore[union-attr]
    assert client.get("/accounts").status_code == 403


def test_an_officer_releases_with_a_reason_recorded_with_the_name(store: IncidentStore) -> None:
    incident = held_incident(NOW)
    store.add_incidents([incident])
    client, held = signed_in(store, "officer")
    token = csrf_of(client, f"/held/{incident.id}")
    no_reason = client.post(f"/held/{incident.id}/release", data={"csrf": token, "reason": " "})
    assert no_reason.status_code == 400
    assert TEXTS["reason_required"][0] in no_reason.get_data(as_text=True)
    done = client.post(f"/held/{incident.id}/release",
                       data={"csrf": token, "reason": "Người nhận là cán bộ được phép"})
    assert done.status_code == 302
    assert held.done == [("release", incident.id, "officer", "Người nhận là cán bộ được phép")]
    after = store.get_incident(incident.id)
    assert after is not None and after.status is IncidentStatus.RELEASED
    assert after.history[-1].actor == "officer"
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert TEXTS["released_ok"][0].format(id=incident.id) in page
    assert "Người nhận là cán bộ được phép" in page  # in the history
    again = client.post(f"/held/{incident.id}/delete", data={"csrf": token, "reason": "x"})
    assert again.status_code == 400 and len(held.done) == 1  # decided stays decided
    audit = client.get("/audit").get_data(as_text=True)
    assert "release" in audit and incident.id in audit


def test_the_detail_page_gives_the_evidence_recipients_attachments_and_history(
        store: IncidentStore) -> None:
    incident = make_incident(created_at=NOW - _dt.timedelta(hours=2))
    store.add_incidents([incident])
    store.change_status(incident.id, IncidentStatus.RELEASED, "lan.nguyen", "đã xác minh")
    client, _ = signed_in(store, "viewer")
    page = html.unescape(client.get(f"/incidents/{incident.id}").get_data(as_text=True))

    def section(element_id: str) -> str:
        found = re.search(rf'id="{element_id}".*?</(?:ul|table|ol)>', page, re.S)
        assert found, element_id
        return re.sub(r"<[^>]+>", " ", found[0])

    assert all(e in section("evidence") for e in incident.evidence)
    recipients = " ".join(section("recipients").split())
    assert "ban.be@gmail.com freemail secret-to-freemail" in recipients
    removed, delivered = TEXTS["removed"][0], TEXTS["delivered"][0]
    assert recipients.index(removed) < recipients.index("van.thu@hanoi.gov.vn")
    assert delivered in recipients.split("van.thu@hanoi.gov.vn", 1)[1]
    [attachment] = incident.attachments
    files = section("attachments")
    assert attachment.name in files and attachment.sha256 in files
    assert re.search(r"123[.,]?456", files)  # its size
    history = section("history")
    assert "lan.nguyen" in history and "đã xác minh" in history


def test_an_officer_deletes_with_a_reason_recorded_with_the_name(store: IncidentStore) -> None:
    incident = held_incident(NOW)
    store.add_incidents([incident])
    client, held = signed_in(store, "officer")
    token = csrf_of(client, f"/held/{incident.id}")
    no_reason = client.post(f"/held/{incident.id}/delete", data={"csrf": token, "reason": ""})
    assert no_reason.status_code == 400 and held.done == []
    done = client.post(f"/held/{incident.id}/delete",
                       data={"csrf": token, "reason": "Gửi nhầm ra ngoài"})
    assert done.status_code == 302
    assert held.done == [("delete", incident.id, "officer", "Gửi nhầm ra ngoài")]
    after = store.get_incident(incident.id)
    assert after is not None and after.status is IncidentStatus.DELETED
    assert (after.history[-1].actor, after.history[-1].reason) == ("officer", "Gửi nhầm ra ngoài")
    assert "Gửi nhầm ra ngoài" in client.get(done.headers["Location"]).get_data(as_text=True)
    assert "deleted" in [e.action for e in store.audit_entries(limit=10)]


def test_a_form_without_the_session_csrf_token_is_refused(store: IncidentStore) -> None:
    incident = held_incident(NOW)
    store.add_incidents([incident])
    client, held = signed_in(store, "officer")
    for data in ({"reason": "không có mã"}, {"reason": "mã sai", "csrf": "forged-token"}):
        refused = client.post(f"/held/{incident.id}/delete", data=data)
        assert refused.status_code == 400
        assert TEXTS["csrf"][0] in refused.get_data(as_text=True)
    other, _ = signed_in(store, "admin")  # another session's valid token is not this one's
    foreign = csrf_of(other, "/")
    assert client.post(f"/held/{incident.id}/delete",
                       data={"reason": "x", "csrf": foreign}).status_code == 400
    assert held.done == []
    assert store.get_incident(incident.id).status is IncidentStatus.OPEN  # type: ignore[union-attr]
    # the sign-in form too: a login without the token is refused before the password is read
    fresh, _ = client_for(store)
    assert fresh.post("/login", data={"username": "admin",
                                      "password": PASSWORDS["admin"]}).status_code == 400


def test_markup_from_mail_is_shown_as_text(store: IncidentStore) -> None:
    incident = with_hostile_names(held_incident(NOW))
    store.add_incidents([incident])
    client, _ = signed_in(store, "viewer")
    for path in ("/incidents", f"/incidents/{incident.id}", f"/held/{incident.id}", "/held"):
        page = client.get(path).get_data(as_text=True)
        assert "<script>" not in page and "<b>đậm" not in page, path
        assert str(escape(HOSTILE)) in page, path


def test_five_wrong_passwords_block_the_next_try_even_with_the_right_one(
        store: IncidentStore) -> None:
    clock = Clock()
    client, _ = client_for(store, clock=clock)
    for _ in range(5):
        wrong = log_in(client, "officer", "sai-mat-khau-roi")
        assert wrong.status_code == 401
        assert TEXTS["login_failed"][0] in wrong.get_data(as_text=True)
    blocked = log_in(client, "officer")
    assert blocked.status_code == 429
    assert "Thử lại sau" in blocked.get_data(as_text=True)
    assert client.get("/").status_code == 302  # still not signed in
    # other accounts are not locked out by it
    assert log_in(client_for(store)[0], "viewer").status_code == 302
    actions = [e.action for e in store.audit_entries(limit=20)]
    assert actions.count("login-failed") == 5 and "login-blocked" in actions


def test_an_unknown_name_fails_like_a_wrong_password(store: IncidentStore) -> None:
    client, _ = client_for(store)
    unknown = log_in(client, "khong-ton-tai", "bat-ky-mat-khau-nao")
    wrong = log_in(client, "viewer", "bat-ky-mat-khau-nao")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.get_data(as_text=True).count(TEXTS["login_failed"][0]) == 1


def test_a_session_ends_after_the_idle_time(store: IncidentStore) -> None:
    clock = Clock()
    client, _ = signed_in(store, "viewer", clock=clock,
                          settings=ConsoleSettings(idle_minutes=30))
    clock.now += 29 * 60
    assert client.get("/").status_code == 200
    clock.now += 29 * 60  # used 29 minutes ago: still on
    assert client.get("/").status_code == 200
    clock.now += 31 * 60
    expired = client.get("/")
    assert expired.status_code == 302
    assert TEXTS["session_expired"][0] in client.get(expired.headers["Location"]).get_data(
        as_text=True)


def test_the_session_cookie_is_signed_httponly_and_samesite(store: IncidentStore) -> None:
    client, _ = client_for(store, settings=ConsoleSettings(secure_cookies=True))
    response = log_in(client, "viewer")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" in cookie
    page = client.get("/login")
    assert "script-src" not in page.headers["Content-Security-Policy"]  # no script at all
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    # a cookie signed with another key is not a session
    forged, _ = client_for(store)
    forged.set_cookie("govmilter_console", cookie.split(";")[0].split("=", 1)[1])
    assert forged.get("/").status_code == 302


def test_a_disabled_account_is_out_at_its_next_request(store: IncidentStore) -> None:
    viewer, _ = signed_in(store, "viewer")
    admin, _ = signed_in(store, "admin")
    assert viewer.get("/").status_code == 200
    token = csrf_of(admin, "/accounts")
    assert admin.post("/accounts", data={"csrf": token, "name": "viewer",
                                         "change": "disable"}).status_code == 200
    assert get_account(store, "viewer").disabled  # type: ignore[union-attr]
    assert viewer.get("/").status_code == 302
    assert log_in(client_for(store)[0], "viewer").status_code == 401
    own = admin.post("/accounts", data={"csrf": token, "name": "admin", "change": "disable"})
    assert TEXTS["cannot_change_self"][0] in own.get_data(as_text=True)
    admin.post("/accounts", data={"csrf": token, "name": "officer", "change": "role",
                                  "role": "viewer"})
    assert get_account(store, "officer").role.value == "viewer"  # type: ignore[union-attr]


def test_the_trusted_proxy_header_names_the_user_when_configured(store: IncidentStore) -> None:
    settings = ConsoleSettings(trusted_user_header="X-Remote-User")
    client, _ = client_for(store, settings=settings)
    assert client.get("/").status_code == 302
    assert client.get("/", headers={"X-Remote-User": "nobody"}).status_code == 302
    page = client.get("/", headers={"X-Remote-User": "officer"})
    assert page.status_code == 200 and "officer" in page.get_data(as_text=True)
    # without the setting the header means nothing
    plain, _ = client_for(store)
    assert plain.get("/", headers={"X-Remote-User": "admin"}).status_code == 302


def sample_set() -> list[Any]:
    """Incidents that differ in one filtered field each."""
    return [
        make_incident(created_at=NOW - _dt.timedelta(days=2), sender="a@mic.gov.vn"),
        make_incident(created_at=NOW - _dt.timedelta(days=1), action="tag", secrecy=None,
                      document_class="official", document_number="588/BTTTT-THH",
                      subject="Công văn về chuyển đổi số", rule_id="doc-to-external"),
        held_incident(NOW - _dt.timedelta(hours=2), secrecy="TỐI MẬT"),
        make_incident(created_at=NOW - _dt.timedelta(days=40), sender="old@mic.gov.vn"),
    ]


def listed(client: FlaskClient, query: str) -> set[str]:
    page = client.get(f"/incidents?{query}").get_data(as_text=True)
    return set(re.findall(r'href="/incidents/(\d{8}-[0-9A-Z]{12})"', page))


def test_the_filters_and_search_narrow_the_list(store: IncidentStore) -> None:
    old_two, doc, held, old = sample_set()
    store.add_incidents([old_two, doc, held, old])
    client, _ = signed_in(store, "viewer")
    everyone = {old_two.id, doc.id, held.id, old.id}
    assert listed(client, "") == everyone
    assert listed(client, "action=tag") == {doc.id}
    assert listed(client, "action=quarantine") == {held.id}
    assert listed(client, "secrecy=TỐI MẬT") == {held.id}
    assert listed(client, "number=588/bttt-thh") == set()
    assert listed(client, "number=588/btttt-thh") == {doc.id}
    assert listed(client, "rule=doc-to-external") == {doc.id}
    assert listed(client, "sender=OLD@mic.gov.vn") == {old.id}
    assert listed(client, "q=chuyển đổi") == {doc.id}
    assert listed(client, "q=588/BTTTT") == {doc.id}
    assert listed(client, "q=%25") == set()  # a LIKE wildcard is matched literally
    assert listed(client, f"q={held.id[-6:]}") == {held.id}
    assert listed(client, "q=CHUYỂN ĐỔI") == {doc.id}  # accented capitals fold too
    assert listed(client, "q=về") == {doc.id}  # shorter than a trigram
    assert listed(client, 'q="chuyển') == set()  # a quote is text, not FTS syntax
    assert listed(client, "q=OLD@MIC") == {old.id}
    assert listed(client, "status=open") == everyone
    since = (NOW - _dt.timedelta(days=3)).astimezone(_dt.timezone(_dt.timedelta(hours=7)))
    assert listed(client, f"since={since:%d/%m/%Y}") == {old_two.id, doc.id, held.id}
    until = (NOW - _dt.timedelta(days=30)).astimezone(_dt.timezone(_dt.timedelta(hours=7)))
    assert listed(client, f"until={until:%Y-%m-%d}") == {old.id}
    bad = client.get("/incidents?since=32/13/2026").get_data(as_text=True)
    assert "dd/mm/yyyy" in bad  # said, not a server error
    store.purge(_dt.timedelta(days=30), "test")
    assert listed(client, "q=old@mic") == set()  # purged from the search index too


def test_the_unit_filter_lists_the_declared_units_and_no_unit(store: IncidentStore) -> None:
    accounting = make_incident(created_at=NOW - _dt.timedelta(hours=3), sender_unit="ke-toan")
    office = held_incident(NOW - _dt.timedelta(hours=2), sender_unit="van-phong")
    nowhere = make_incident(created_at=NOW - _dt.timedelta(hours=1))
    removed = make_incident(created_at=NOW - _dt.timedelta(days=1), sender_unit="phong-cu")
    store.add_incidents([accounting, office, nowhere, removed])
    titles = (("ke-toan", "Phòng Kế toán"), ("van-phong", "Văn phòng <Sở>"))
    client, _ = signed_in(store, "viewer", settings=ConsoleSettings(unit_titles=titles))
    assert listed(client, "unit=ke-toan") == {accounting.id}
    assert listed(client, "unit=VAN-PHONG") == {office.id}
    assert listed(client, "unit=-") == {nowhere.id}
    assert listed(client, "unit=phong-cu") == {removed.id}  # a unit the policy dropped since
    assert listed(client, "unit=") == {accounting.id, office.id, nowhere.id, removed.id}
    page = client.get("/incidents?unit=ke-toan").get_data(as_text=True)
    choices = re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>',
                         page[page.index('id="f-unit"'):page.index("</select>",
                                                                    page.index('id="f-unit"'))])
    assert choices == [("", "", "tất cả"), ("ke-toan", " selected", "Phòng Kế toán"),
                       ("van-phong", "", "Văn phòng &lt;Sở&gt;"),
                       ("-", "", "Không thuộc đơn vị nào")]
    assert '<td class="unit">Phòng Kế toán</td>' in page  # the list's unit column
    dropped = client.get("/incidents?unit=phong-cu").get_data(as_text=True)
    assert '<option value="phong-cu" selected>phong-cu</option>' in dropped
    bad = client.get("/incidents?unit=<b>").get_data(as_text=True)
    assert "Đơn vị: mã đơn vị gồm chữ thường" in bad and "<b>" not in bad
    held_page = client.get("/held?unit=van-phong").get_data(as_text=True)
    assert f"/held/{office.id}" in held_page
    assert f"/held/{office.id}" not in client.get("/held?unit=ke-toan").get_data(as_text=True)
    exported = client.get("/incidents/export.json?unit=ke-toan").get_data(as_text=True)
    assert [i["id"] for i in json.loads(exported)["incidents"]] == [accounting.id]
    plain, _ = signed_in(store, "viewer")  # no units declared: no unit filter, no column
    unfiltered = plain.get("/incidents").get_data(as_text=True)
    assert 'id="f-unit"' not in unfiltered and 'class="unit"' not in unfiltered


def test_pages_follow_one_another_by_keyset(store: IncidentStore) -> None:
    made = [make_incident(created_at=T0 + _dt.timedelta(minutes=n)) for n in range(120)]
    store.add_incidents(made)
    client, _ = signed_in(store, "viewer")
    seen: list[str] = []
    path = "/incidents?rule=secret-to-freemail"
    while path:
        page = client.get(path).get_data(as_text=True)
        assert "120 sự cố" in page
        seen += re.findall(r'href="/incidents/(\d{8}-[0-9A-Z]{12})"', page)
        older = re.search(r'id="older" href="([^"]+)"', page)
        path = html.unescape(older[1]) if older else ""
    assert seen == [i.id for i in sorted(made, key=lambda i: i.created_at, reverse=True)]


def test_export_gives_the_filtered_list_as_csv_and_json(store: IncidentStore) -> None:
    incidents = sample_set()
    store.add_incidents(incidents)
    client, _ = signed_in(store, "viewer")
    response = client.get("/incidents/export.csv?action=tag")
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["id"] for r in rows] == [incidents[1].id]
    document = json.loads(client.get("/incidents/export.json?secrecy=MẬT").get_data())
    assert {i["id"] for i in document["incidents"]} == {incidents[0].id, incidents[3].id}
    assert [e.action for e in store.audit_entries(limit=5)].count("export") == 2


def test_the_overview_counts_today_week_and_month(store: IncidentStore) -> None:
    today = NOW.astimezone(_dt.timezone(_dt.timedelta(hours=7))).date()
    store.add_counts("b1", [
        DailyRecipientCount(today, "mx1", "official_to_freemail", "secret", False, "r", "reject",
                            "enforce", 3),
        DailyRecipientCount(today - _dt.timedelta(days=10), "mx1", "official_to_freemail",
                            "official", False, "r2", "tag", "enforce", 4),
    ], [
        DailyMessageCount(today, "mx1", "none", True, "accept", "enforce", 100),
        DailyMessageCount(today, "mx1", "secret", False, "reject", "enforce", 2),
        DailyMessageCount(today - _dt.timedelta(days=3), "mx1", "none", True, "accept",
                          "enforce", 50),
        DailyMessageCount(today - _dt.timedelta(days=10), "mx1", "official", False, "tag",
                          "enforce", 4),
        DailyMessageCount(today - _dt.timedelta(days=10), "mx1", "secret", False, "reject",
                          "monitor", 9),
    ])
    store.add_incidents([held_incident(NOW - _dt.timedelta(hours=5)),
                         held_incident(NOW - _dt.timedelta(hours=1))])
    client, _ = signed_in(store, "viewer")
    page = client.get("/").get_data(as_text=True)

    def row(name: str) -> list[str]:
        found = re.search(rf'<tr class="{name}">.*?</tr>', page, re.S)
        assert found, name
        return re.findall(r"<td>([\d.]+)</td>", found[0])

    assert row("checked") == ["102", "152", "165"]
    assert row("compliant") == ["100", "150", "150"]
    assert row("noncompliant") == ["2", "2", "15"]
    assert row("to_webmail") == ["3", "3", "7"]
    assert row("secret_stopped") == ["2", "2", "2"]  # monitor mode stopped nothing
    assert re.search(r'id="held-now">2<', page)
    oldest = (NOW - _dt.timedelta(hours=5)).astimezone(_dt.timezone(_dt.timedelta(hours=7)))
    assert f"{oldest:%d/%m/%Y %H:%M}" in page
    assert "<svg" in page and "http" not in page.split("<svg", 1)[1].split("</svg>")[0] \
        .replace("http://www.w3.org/2000/svg", "")


def test_the_overview_shows_each_unit_when_units_are_configured(store: IncidentStore) -> None:
    today = NOW.astimezone(_dt.timezone(_dt.timedelta(hours=7))).date()

    def documents(flow: str, unit: str, count: int) -> DailyRecipientCount:
        return DailyRecipientCount(today, "mx1", flow, "official", False, "r", "tag", "enforce",
                                   count, unit)
    store.add_counts("b1", [documents("official_to_freemail", "ke-toan", 4),
                            documents("freemail_to_official", "van-phong", 2),
                            documents("official_to_freemail", "", 1)], [
        DailyMessageCount(today, "mx1", "official", False, "tag", "enforce", 4, "ke-toan"),
        DailyMessageCount(today, "mx1", "none", True, "accept", "enforce", 9, "ke-toan"),
        DailyMessageCount(today, "mx1", "none", True, "accept", "enforce", 7, ""),
    ])
    titles = (("ke-toan", "Phòng Kế toán"), ("van-phong", "Văn phòng <Sở>"),
              ("phap-che", "Phòng Pháp chế"))
    client, _ = signed_in(store, "viewer", settings=ConsoleSettings(unit_titles=titles))
    page = client.get("/").get_data(as_text=True)
    table = page[page.index('id="by-unit"'):]
    table = table[:table.index("</table>")]
    rows = re.findall(r"<tr data-unit=[^>]*><th>(.*?)</th>(.*?)</tr>", table)
    assert [(name, re.findall(r"<td>([\d.]+)</td>", cells)) for name, cells in rows] == [
        ("Phòng Kế toán", ["13", "4", "4", "0"]),
        ("Phòng Pháp chế", ["0", "0", "0", "0"]),  # declared, no mail yet
        ("Văn phòng &lt;Sở&gt;", ["0", "0", "0", "2"]),  # received counts for the recipient
        ("Không thuộc đơn vị nào", ["7", "0", "1", "0"]),
    ]
    plain, _ = signed_in(store, "viewer")  # no units configured, a store with some: ids shown
    assert ">ke-toan</th>" in plain.get("/").get_data(as_text=True)
    incident = make_incident(sender_unit="van-phong")
    store.add_incidents([incident])
    detail = client.get(f"/incidents/{incident.id}").get_data(as_text=True)
    assert '<td id="unit">Văn phòng &lt;Sở&gt;</td>' in detail


def test_no_units_no_unit_table(store: IncidentStore) -> None:
    today = NOW.astimezone(_dt.timezone(_dt.timedelta(hours=7))).date()
    store.add_counts("b1", [], [DailyMessageCount(today, "mx1", "none", True, "accept",
                                                  "enforce", 3)])
    client, _ = signed_in(store, "viewer")
    assert 'id="by-unit"' not in client.get("/").get_data(as_text=True)


def test_english_is_a_switch_and_dates_are_vietnamese(store: IncidentStore) -> None:
    incident = make_incident(created_at=_dt.datetime(2026, 12, 4, 18, 5, tzinfo=_dt.UTC))
    store.add_incidents([incident])
    client, _ = signed_in(store, "viewer")
    page = client.get(f"/incidents/{incident.id}").get_data(as_text=True)
    assert "05/12/2026 01:05" in page  # ICT, day first
    assert "Người nhận" in page and "Lịch sử" in page
    client.get("/lang/en")
    english = client.get(f"/incidents/{incident.id}").get_data(as_text=True)
    assert "Recipients" in english and "History" in english and "Lịch sử" not in english
    assert "05/12/2026 01:05" in english


def test_every_text_has_both_languages_with_diacritics() -> None:
    for key, (vi, en) in TEXTS.items():
        assert vi and en, key
    marked = sum(1 for vi, _ in TEXTS.values()
                 if any(c in "đĐ" or unicodedata.decomposition(c) for c in vi))
    assert marked > len(TEXTS) * 0.6


def test_adduser_reads_the_password_from_standard_input(tmp_path: Any) -> None:
    database = str(tmp_path / "incidents.sqlite3")

    def adduser(*args: str, password: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "govmilter", "console", "adduser", *args,
                               "--database", database], input=password + "\n",
                              capture_output=True, text=True, env=checkout_env(), timeout=120)

    short = adduser("lan", "--role", "officer", password="ngan")
    assert short.returncode == 1 and "at least 12" in short.stderr
    bad = adduser("<lan>", "--role", "officer", password="mot-mat-khau-dai")
    assert bad.returncode == 1 and "invalid account name" in bad.stderr
    made = adduser("lan.nguyen", "--role", "officer", password="mot-mat-khau-dai")
    assert made.returncode == 0, made.stderr
    with open_store(database) as store:
        account = get_account(store, "lan.nguyen")
        assert account is not None and account.role.value == "officer"
        client, _ = client_for(store)
        assert log_in(client, "lan.nguyen", "mot-mat-khau-dai").status_code == 302
        assert "created lan.nguyen as officer" in store.audit_entries(limit=5)[-1].detail \
            or any("lan.nguyen" in e.detail for e in store.audit_entries(limit=10))


def test_a_new_store_has_no_account_and_passwords_are_kept_as_argon2id(tmp_path: Any) -> None:
    with open_store(str(tmp_path / "fresh.sqlite3")) as fresh:
        assert list_accounts(fresh) == []
        client, _ = client_for(fresh)
        for name, password in (("admin", "admin"), ("admin", ""), ("root", "root")):
            assert log_in(client, name, password or " ").status_code == 401
        add_account(fresh, "lan.nguyen", Role.ADMIN, "mot-mat-khau-dai", "test")
        stored = hash_of(fresh, "lan.nguyen")
    assert stored is not None and stored.startswith("$argon2id$")
    assert "mot-mat-khau-dai" not in stored


def test_the_console_listens_on_loopback_unless_told_otherwise() -> None:
    args = build_parser().parse_args(["console"])
    host, _ = parse_listen(args.listen)
    assert is_loopback(host)
    assert not is_loopback(parse_listen("0.0.0.0:8025")[0])


#: an address that leaves the server: a scheme, or a scheme-relative //host
EXTERNAL = re.compile(r"""(?:src|href|action)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:|//)"""
                      r"""|url\(\s*["']?\s*(?:[a-z]+:|//)|@import""", re.IGNORECASE)


def test_no_page_loads_anything_from_another_site(store: IncidentStore) -> None:
    """Agencies' servers are often offline: every page, style sheet and chart comes from the
    console itself, and the Content-Security-Policy allows nothing else."""
    incident = with_hostile_names(held_incident(NOW))
    store.add_incidents([incident])
    client, _ = signed_in(store, "admin")
    pages = [*PAGES[:5], f"/incidents/{incident.id}", f"/held/{incident.id}", "/login"]
    served = [client.get(path) for path in pages]
    static = [client.get(f"/static/{name}") for name in ("console.css",)]
    for path, response in zip([*pages, "/static/console.css"], served + static, strict=True):
        assert response.status_code == 200, path
        text = response.get_data(as_text=True)
        assert EXTERNAL.findall(text) == [], path
        assert "default-src 'none'" in response.headers["Content-Security-Policy"], path
    linked = {m for r in served for m in re.findall(r'(?:href|src)="(/static/[^"?]+)',
                                                     r.get_data(as_text=True))}
    assert linked and all(client.get(path).status_code == 200 for path in linked)


@pytest.mark.parametrize("target", ["//evil.example/", "/\\evil.example/", "https://evil.example/"])
def test_sign_in_never_sends_the_browser_to_another_site(store: IncidentStore,
                                                         target: str) -> None:
    client, _ = client_for(store)
    response = client.post("/login", data={"username": "viewer", "password": PASSWORDS["viewer"],
                                           "csrf": csrf_of(client), "next": target})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get(f"/lang/en?next={target}").headers["Location"] == "/"


def test_a_large_match_is_counted_up_to_the_limit(store: IncidentStore,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import govmilter.console.app

    monkeypatch.setattr(govmilter.console.app, "COUNT_LIMIT", 5)
    store.add_incidents([make_incident(created_at=T0 + _dt.timedelta(minutes=n),
                                       sender=f"s{n % 2}@mic.gov.vn") for n in range(11)])
    client, _ = signed_in(store, "viewer")
    assert '"total">hơn 5 sự cố' in client.get("/incidents").get_data(as_text=True)
    assert '"total">5 sự cố' in client.get("/incidents?sender=s1@mic.gov.vn").get_data(
        as_text=True)
    assert len(listed(client, "")) == 11  # the page itself is not cut


def test_a_common_search_finds_what_the_index_finds(store: IncidentStore,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite matches a text held by many incidents row by row instead of through its trigram
    index: both ways give the same list."""
    import govmilter.store.store

    store.add_incidents(sample_set())
    client, _ = signed_in(store, "viewer")
    searches = ["q=chuyển đổi", "q=CHUYỂN ĐỔI", "q=588/btttt", "q=mic.gov", "q=về", "q=zzz"]
    through_index = [listed(client, search) for search in searches]
    monkeypatch.setattr(govmilter.store.store, "FEW_MATCHES", 0)
    assert [listed(client, search) for search in searches] == through_index
    assert through_index[0] == through_index[1] and len(through_index[3]) == 4
