"""The console in Chromium over a real Postfix: an officer releases a held message with a
reason and Postfix delivers it to the sink (the held mail through tools/quarantine.py, as
``govmilter quarantine`` does). Needs root, Postfix, PostgreSQL and Chromium."""

from __future__ import annotations

import os
import time

import pytest
from console_harness import (
    CHROMEDRIVER,
    CHROMIUM,
    add_accounts,
    chromium,
    click_and_wait,
    serving,
    sign_in,
)
from postfix_harness import PrivatePostfix, RunningMilter, delivered, require, wait_until
from test_incidents_postfix import (  # type: ignore[import-not-found]  # noqa: F401
    database,
    hold_one,
    milter,
)

from govmilter.store import IncidentStatus, open_store
from govmilter.tools.postfix_queue import PostfixQueue
from govmilter.tools.quarantine import Quarantine

pytestmark = pytest.mark.postfix


def test_an_officer_releases_held_mail_in_chromium_and_postfix_delivers_it(
        postfix: PrivatePostfix, milter: RunningMilter, database: str) -> None:  # noqa: F811
    require(os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER),
            "Chromium is missing: scripts/setup.sh installs chromium and chromium-driver")
    ident = f"console-{time.monotonic_ns()}"
    incident = hold_one(postfix, database, ident)
    reason = "Đã xác minh với người gửi (verified with the sender)"
    with open_store(database) as store:
        add_accounts(store)
        with serving(store, Quarantine(PostfixQueue(str(postfix.conf)))) as base, \
                chromium() as driver:
            sign_in(driver, base, "officer", f"/held/{incident.id}")
            assert "588/BTTTT-THH" in driver.find_element("id", "text").text
            assert f"incident={incident.id}" in driver.find_element("id", "headers").text
            driver.find_element("id", "reason").send_keys(reason)
            click_and_wait(driver, "release")
            assert "Đã cho đi" in driver.find_element("id", "notice").text
        wait_until(lambda: delivered(postfix, ident), 60, "the released message at the sink")
        released = store.get_incident(incident.id)
    assert released is not None and released.status is IncidentStatus.RELEASED
    assert (released.history[-1].actor, released.history[-1].reason) == ("officer", reason)
