"""The console in a real browser: Debian's Chromium driven by Selenium through chromedriver.

An officer signs in, reads the overview, filters the incidents, opens one, releases a held
message with a reason, and reads the audit log; markup in a subject and a file name stays
text and runs nothing. Each page is photographed: into $GOVMILTER_SCREENSHOTS when set
(``GOVMILTER_SCREENSHOTS=docs/img`` makes the pictures of docs/console.md), else into the
test's temporary directory.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_harness import (
    CHROMEDRIVER,
    CHROMIUM,
    HOSTILE,
    PASSWORDS,
    RecordingHeldMail,
    add_accounts,
    chromium,
    click_and_wait,
    held_incident,
    serving,
    with_hostile_names,
)
from incident_samples import make_incident
from postfix_harness import require

from govmilter.console.settings import ConsoleSettings
from govmilter.store import (
    DailyMessageCount,
    DailyRecipientCount,
    Incident,
    IncidentStatus,
    IncidentStore,
    open_store,
)
from govmilter.tools.incidents import VN_TZ

NOW = _dt.datetime.now(_dt.UTC)


def sample_incidents() -> list[Incident]:
    """A month of varied incidents: tagged documents, refused secrets, held mail."""
    rng = random.Random(7)
    senders = ["chuyenvien@mic.gov.vn", "vanthu@hanoi.gov.vn", "ketoan@sotc.bacninh.gov.vn"]
    units = ["van-phong", None, "ke-toan"]
    made: list[Incident] = []
    for n in range(36):
        created = NOW - _dt.timedelta(hours=rng.randint(3, 30 * 24))
        kind = n % 3
        if kind == 0:
            made.append(make_incident(
                created_at=created, action="tag", rule_id="document-to-external",
                document_class="official", secrecy=None, urgency=None,
                document_number=f"{100 + n}/UBND-VP", document_kind="công văn",
                issuer="ỦY BAN NHÂN DÂN THÀNH PHỐ HÀ NỘI", sender=senders[n // 3 % 3],
                sender_unit=units[n // 3 % 3],
                subject=f"V/v triển khai kế hoạch số {100 + n}/KH-UBND"))
        elif kind == 1:
            made.append(make_incident(created_at=created, sender=senders[n // 3 % 3],
                                      sender_unit=units[n // 3 % 3],
                                      document_number=f"{n}/BC-BTTTT",
                                      subject=f"Báo cáo MẬT số {n}/BC-BTTTT"))
        else:
            made.append(dataclasses.replace(
                held_incident(created, sender=senders[n // 3 % 3], sender_unit=units[n // 3 % 3],
                              document_number=f"{n}/QĐ-BTC",
                              subject=f"Quyết định số {n}/QĐ-BTC (MẬT)", secrecy="MẬT"),
                status=IncidentStatus.OPEN))
    return made


#: the units the console is told about (the policy's units:), as (id, title)
UNIT_TITLES = (("van-phong", "Văn phòng Sở"), ("ke-toan", "Phòng Kế hoạch - Tài chính"))


def sample_counts(store: IncidentStore) -> None:
    """Thirty days of daily counts for the overview's table and chart."""
    rng = random.Random(11)
    today = NOW.astimezone(VN_TZ).date()
    messages, recipients = [], []
    for back in range(30):
        day = today - _dt.timedelta(days=back)
        messages += [
            DailyMessageCount(day, "mx1", "none", True, "accept", "enforce",
                              rng.randint(800, 1400)),
            DailyMessageCount(day, "mx1", "official", True, "accept", "enforce",
                              rng.randint(100, 200)),
            DailyMessageCount(day, "mx1", "official", False, "tag", "enforce", rng.randint(5, 40)),
            DailyMessageCount(day, "mx1", "secret", False, "reject", "enforce", rng.randint(0, 6)),
        ]
        recipients += [
            DailyRecipientCount(day, "mx1", "official_to_freemail", "official", False,
                                "document-to-freemail", "tag", "enforce", rng.randint(2, 20)),
            DailyRecipientCount(day, "mx1", "official_to_external", "official", False,
                                "document-to-external", "tag", "enforce", rng.randint(3, 25)),
            DailyRecipientCount(day, "mx1", "official_to_freemail", "secret", False,
                                "secret-to-freemail", "reject", "enforce", rng.randint(0, 6)),
        ]
    store.add_counts("screenshots", recipients, messages)


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    target = Path(os.environ.get("GOVMILTER_SCREENSHOTS") or tmp_path / "shots")
    target.mkdir(parents=True, exist_ok=True)
    return target


@pytest.fixture
def browser() -> Iterator[Any]:
    require(os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER),
            "Chromium is missing: scripts/setup.sh installs chromium and chromium-driver")
    with chromium() as driver:
        yield driver


def wait_for(driver: Any, condition: Any, what: str) -> None:
    """Wait up to 20 s for ``condition()`` (a page the browser goes to by itself)."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 20).until(lambda _driver: condition(), what)


def snap(driver: Any, shots: Path, name: str) -> None:
    """A full-height PNG of the page as ``console-NAME.png``."""
    from selenium.common.exceptions import WebDriverException

    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": 1280, "height": max(700, min(height, 2400)), "deviceScaleFactor": 1,
        "mobile": False})
    target = shots / f"console-{name}.png"
    for attempt in range(3):
        # right after a resize, Chromium now and then answers the capture with "unhandled
        # inspector error" (Unable to capture screenshot); the next frame captures
        try:
            assert driver.save_screenshot(str(target))
            break
        except WebDriverException:
            if attempt == 2:
                raise
            time.sleep(0.5)
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and target.stat().st_size > 10_000





def test_an_officer_works_through_the_console_in_chromium(
        store_database: str, browser: Any, shots: Path) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.support.ui import Select

    held_mail = RecordingHeldMail()
    incidents = sample_incidents()
    hostile = with_hostile_names(held_incident(NOW - _dt.timedelta(hours=1)))
    with open_store(store_database) as store:
        add_accounts(store)
        store.add_incidents([*incidents, hostile])
        sample_counts(store)
        with serving(store, held_mail, ConsoleSettings(unit_titles=UNIT_TITLES)) as base:
            browser.get(base + "/incidents")
            assert "/login" in browser.current_url  # nothing without signing in
            snap(browser, shots, "login")
            browser.find_element("id", "username").send_keys("officer")
            browser.find_element("id", "password").send_keys(PASSWORDS["officer"])
            click_and_wait(browser, "login-button")
            assert browser.current_url.endswith("/incidents")

            browser.get(base + "/")
            figures = browser.find_element("id", "figures").text
            assert "Thư đã kiểm tra" in figures and "Văn bản mật bị chặn" in figures
            held_open = sum(1 for i in [*incidents, hostile] if i.held)
            assert browser.find_element("id", "held-now").text == str(held_open)
            snap(browser, shots, "overview")

            browser.get(base + "/incidents")
            month_ago = (NOW - _dt.timedelta(days=31)).astimezone(VN_TZ)
            browser.find_element("id", "f-since").send_keys(f"{month_ago:%d/%m/%Y}")
            Select(browser.find_element("id", "f-action")).select_by_value("tag")
            browser.find_element("id", "f-q").send_keys("kế hoạch")
            click_and_wait(browser, "f-submit")
            rows = browser.find_elements("css selector", "#incident-list tbody tr")
            tagged = [i for i in incidents if i.action == "tag"]
            assert len(rows) == len(tagged)
            assert browser.find_element("id", "total").text == f"{len(tagged)} sự cố"
            Select(browser.find_element("id", "f-unit")).select_by_visible_text(
                "Phòng Kế hoạch - Tài chính")
            click_and_wait(browser, "f-submit")
            rows = browser.find_elements("css selector", "#incident-list tbody tr")
            tagged = [i for i in tagged if i.sender_unit == "ke-toan"]
            assert tagged and len(rows) == len(tagged)
            assert {r.find_element("class name", "unit").text for r in rows} == {
                "Phòng Kế hoạch - Tài chính"}
            assert Select(browser.find_element("id", "f-unit")).first_selected_option.text \
                == "Phòng Kế hoạch - Tài chính"  # the filter stays chosen on its page
            snap(browser, shots, "incidents")

            rows[0].find_element("tag name", "a").click()
            newest = max(tagged, key=lambda i: i.created_at)
            assert browser.find_element("tag name", "h1").text == f"Sự cố {newest.id}"
            assert "công văn" in browser.find_element("tag name", "main").text
            snap(browser, shots, "incident")

            browser.get(base + f"/held/{hostile.id}")
            subject = browser.find_element("id", "subject").text
            assert HOSTILE in subject  # shown as text ...
            assert HOSTILE + ".pdf" in browser.find_element("id", "attachments").text
            assert not browser.find_elements("css selector", "main b")  # ... not as markup
            with pytest.raises(NoAlertPresentException):
                browser.switch_to.alert.text  # noqa: B018 (the script never ran)

            browser.get(base + "/held")
            snap(browser, shots, "held")
            browser.find_element("css selector", "#incident-list tbody tr a").click()
            shown = browser.find_element("tag name", "h1").text.split()[-1]
            assert browser.find_element("id", "text").text.startswith("Nội dung đã trích xuất")
            browser.find_element("id", "reason").send_keys("Người nhận là cán bộ được giao")
            snap(browser, shots, "held-message")
            click_and_wait(browser, "release")
            assert "Đã cho đi" in browser.find_element("id", "notice").text
            assert browser.find_element("id", "status").text == "đã cho đi"
            assert "Người nhận là cán bộ được giao" in browser.find_element("id", "history").text
            assert held_mail.done == [("release", shown, "officer",
                                       "Người nhận là cán bộ được giao")]
            released = store.get_incident(shown)
            assert released is not None and released.status is IncidentStatus.RELEASED

            browser.get(base + "/audit")
            log = browser.find_element("id", "audit-log").text
            assert "officer" in log and "release" in log
            snap(browser, shots, "audit")

            # the accounts page is the admin's: sign out, sign in as admin
            browser.find_element("css selector", "form[action='/logout'] button").click()
            wait_for(browser, lambda: "/login" in browser.current_url, "the sign-in page")
            browser.get(base + "/accounts")
            browser.find_element("id", "username").send_keys("admin")
            browser.find_element("id", "password").send_keys(PASSWORDS["admin"])
            click_and_wait(browser, "login-button")
            assert browser.current_url.endswith("/accounts")
            rows = browser.find_elements("css selector", "#accounts tbody tr")
            cells = {r.find_elements("tag name", "td")[0].text: r for r in rows}
            assert sorted(cells) == ["admin", "officer", "viewer"]
            assert {name: Select(cells[name].find_element("name", "role"))
                    .first_selected_option.text for name in ("officer", "viewer")} == {
                "officer": "cán bộ xử lý", "viewer": "người xem"}
            # one's own account has no controls: the console refuses to change it anyway
            assert not cells["admin"].find_elements("tag name", "form")
            assert cells["admin"].find_elements("tag name", "td")[1].text == "quản trị"
            snap(browser, shots, "accounts")

            browser.get(base + "/audit")
            browser.find_element("link text", "English").click()
            assert "Audit log" in browser.find_element("tag name", "h1").text
