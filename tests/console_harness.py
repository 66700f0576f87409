"""The console for tests: a store with accounts and incidents, a held-mail stand-in, the
console served by waitress on a free loopback port, and Debian's Chromium driven by Selenium."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import Any

from incident_samples import make_incident

from govmilter.console.accounts import add_account
from govmilter.console.app import create_app
from govmilter.console.held import HeldContent
from govmilter.console.settings import ConsoleSettings
from govmilter.store import Incident, IncidentStatus, IncidentStore
from govmilter.store.accounts import Role, hash_of, save_account

PASSWORDS = {"viewer": "xem-thoi-khong-sua-1", "officer": "can-bo-xu-ly-thu-2",
             "admin": "quan-tri-tai-khoan-3"}
HOSTILE = "<script>alert('x')</script><b>đậm</b>"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


#: The argon2 hash of each role's test password, made by the first :func:`add_accounts`.
_TEST_HASHES: dict[Role, str] = {}


def add_accounts(store: IncidentStore) -> None:
    """One account of each role, named after it. The first call hashes the passwords as
    ``add_account`` does; later calls store the same hashes (argon2 costs about 0.2 s of CPU
    per hash by design, and the console tests make a new store for each test)."""
    for role in Role:
        known = _TEST_HASHES.get(role)
        if known is not None:
            save_account(store, role.value, role, known, "test")
            continue
        add_account(store, role.value, role, PASSWORDS[role.value], "test")
        made = hash_of(store, role.value)
        assert made is not None
        _TEST_HASHES[role] = made


def held_incident(created: _dt.datetime, **changes: Any) -> Incident:
    """A held (quarantined) secret document, open."""
    return make_incident(created_at=created, action="quarantine", rule_id="secret-hold",
                         held=True, **changes)


class RecordingHeldMail:
    """The hold-queue operations without Postfix: content from a table, decisions recorded in
    the store exactly as the quarantine module records them."""

    def __init__(self) -> None:
        self.done: list[tuple[str, str, str, str]] = []

    def content(self, store: IncidentStore, incident: Incident) -> HeldContent | None:
        return HeldContent(headers=(("From", incident.sender), ("Subject", incident.subject or ""),
                                    ("X-Test", HOSTILE)),
                           text=f"Nội dung đã trích xuất của {incident.id}\n{HOSTILE}")

    def release(self, store: IncidentStore, incident_id: str, actor: str,
                reason: str) -> Incident:
        self.done.append(("release", incident_id, actor, reason))
        return store.change_status(incident_id, IncidentStatus.RELEASED, actor, reason)

    def delete(self, store: IncidentStore, incident_id: str, actor: str,
               reason: str) -> Incident:
        self.done.append(("delete", incident_id, actor, reason))
        return store.change_status(incident_id, IncidentStatus.DELETED, actor, reason)


@contextlib.contextmanager
def serving(store: IncidentStore, held_mail: Any = None,
            settings: ConsoleSettings | None = None) -> Iterator[str]:
    """The console served on a free loopback port; yields its base URL."""
    import waitress.server

    app = create_app(store, settings or ConsoleSettings(), held_mail=held_mail)
    server: Any = waitress.server.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        thread.join(10)


@contextlib.contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[Any]:
    """Debian's Chromium, headless, with a fresh profile, driven by Debian's chromedriver."""
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="govmilter-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-extensions",
                 f"--user-data-dir={profile}", f"--window-size={width},{height}",
                 "--lang=vi-VN"):
        options.add_argument(flag)
    driver = None
    for attempt in range(3):  # a loaded machine sometimes fails Chromium's first start
        try:
            driver = webdriver.Chrome(options=options,
                                      service=Service(executable_path=CHROMEDRIVER))
            break
        except WebDriverException:
            if attempt == 2:
                raise
            time.sleep(2)
    assert driver is not None
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def with_hostile_names(incident: Incident) -> Incident:
    """The incident with a subject and an attachment name carrying markup."""
    return dataclasses.replace(
        incident, subject=f"Công văn {HOSTILE}",
        attachments=(dataclasses.replace(incident.attachments[0], name=f"{HOSTILE}.pdf"),))


def click_and_wait(driver: Any, element_id: str) -> None:
    """Click a submit button and wait for the next page."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    old = driver.find_element("tag name", "html")
    driver.find_element("id", element_id).click()

    def old_page_gone(_driver: Any) -> bool:
        try:
            old.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as exc:
            # mid-navigation chromedriver can say so in its own words instead of "stale"
            if "does not belong to the document" in str(exc):
                return True
            raise
        return False
    WebDriverWait(driver, 30).until(old_page_gone)


def sign_in(driver: Any, base: str, name: str, path: str = "/") -> None:
    """Open ``path``, be sent to the sign-in page, sign in as ``name`` (its test password)."""
    driver.get(base + path)
    assert "/login" in driver.current_url
    driver.find_element("id", "username").send_keys(name)
    driver.find_element("id", "password").send_keys(PASSWORDS[name])
    click_and_wait(driver, "login-button")
