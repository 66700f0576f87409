"""``govmilter report`` from the incident store after a known load through a real Postfix: the
report's figures equal what was sent, exactly.

Needs root and Postfix (scripts/setup.sh installs them): skipped on a developer machine without
them, failed when CI=true.
"""

from __future__ import annotations

import datetime as _dt
import os
import smtplib
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from postfix_harness import PrivatePostfix, RunningMilter, require_postfix, wait_until
from samples import (
    FREEMAIL_RCPT,
    OFFICIAL,
    OFFICIAL_RCPT,
    OFFICIAL_SENDER,
    PLAIN,
    SECRET,
    policy_yaml,
)

from govmilter.store import open_store

pytestmark = pytest.mark.postfix

ROOT = Path(__file__).resolve().parents[2]

#: the load: (message, recipients, how many times)
PLAIN_MESSAGES = 5  # no document, official to official
OFFICIAL_BOTH = 3  # an official document to a gov.vn and a Gmail mailbox: the Gmail copy is held
OFFICIAL_ONLY = 2  # an official document between official mailboxes
SECRET_TO_GMAIL = 2  # a secret document to Gmail only: refused
MESSAGES = PLAIN_MESSAGES + OFFICIAL_BOTH + OFFICIAL_ONLY + SECRET_TO_GMAIL
DOCUMENT_RECIPIENTS = 2 * OFFICIAL_BOTH + OFFICIAL_ONLY + SECRET_TO_GMAIL
VIA_OFFICIAL = OFFICIAL_BOTH + OFFICIAL_ONLY
NON_COMPLIANT = OFFICIAL_BOTH + SECRET_TO_GMAIL


@dataclass(frozen=True)
class Load:
    """The store the milter counted into, its gateway name and the test policy."""

    database: str
    gateway: str
    policy: Path


@pytest.fixture(scope="module")
def load() -> Iterator[Load]:
    require_postfix()
    with PrivatePostfix() as postfix:
        yield from _send_the_load(postfix)


def _send_the_load(postfix: PrivatePostfix) -> Iterator[Load]:
    """Send the load through ``postfix`` with the milter counting into a new SQLite store (under
    Postfix's own directory, which its smtpd may enter to reach the milter's socket)."""
    base = postfix.base
    database = str(base / "store" / "incidents.sqlite3")
    policy = base / "report-policy.yaml"
    policy.write_text(policy_yaml())
    with RunningMilter(base / "milter", policy, ["--database", database]) as milter:
        postfix.configure_milter(milter.spec, "tempfail")
        for _ in range(PLAIN_MESSAGES):
            assert postfix.send(OFFICIAL_SENDER, [OFFICIAL_RCPT], PLAIN) == {}
        for _ in range(OFFICIAL_BOTH):
            assert postfix.send(OFFICIAL_SENDER, [OFFICIAL_RCPT, FREEMAIL_RCPT], OFFICIAL) == {}
        for _ in range(OFFICIAL_ONLY):
            assert postfix.send(OFFICIAL_SENDER, [OFFICIAL_RCPT], OFFICIAL) == {}
        for _ in range(SECRET_TO_GMAIL):
            with pytest.raises(smtplib.SMTPDataError) as refused:
                postfix.send(OFFICIAL_SENDER, [FREEMAIL_RCPT], SECRET)
            assert refused.value.smtp_code == 550

        def counted() -> int:
            with open_store(database) as store:
                return sum(c.count for c in store.message_counts(_dt.date.min, _dt.date.max))
        wait_until(lambda: counted() >= MESSAGES, 30, "the day's counts", interval=0.3)
        assert counted() == MESSAGES
        with open_store(database) as store:
            gateways = {c.gateway for c in store.message_counts(_dt.date.min, _dt.date.max)}
        [gateway] = gateways
        yield Load(database, gateway, policy)


def govmilter(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the command a user runs, with this worktree's code."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "govmilter", *args], capture_output=True,
                          text=True, env=env, timeout=120, check=False)


def test_the_report_counts_exactly_what_was_sent(load: Load) -> None:
    result = govmilter("report", "--database", load.database, "--policy", str(load.policy),
                       "--format", "md")
    assert result.returncode == 0, result.stderr
    md = result.stdout
    assert "số đếm chính xác" in md and "ƯỚC TÍNH" not in md
    assert f"| Người nhận văn bản (official-document recipients) | {DOCUMENT_RECIPIENTS} |" in md
    assert f"| Trong đó qua hộp thư công vụ (via official mailboxes) | {VIA_OFFICIAL} |" in md
    assert "| Tỷ lệ tuân thủ (compliance ratio) | 50,0% |" in md
    assert f"| Người nhận không tuân thủ (non-compliant recipients) | {NON_COMPLIANT} |" in md
    assert f"| Thư đã kiểm tra (messages checked) | {MESSAGES} |" in md
    assert f"| {load.gateway} | {DOCUMENT_RECIPIENTS} | {VIA_OFFICIAL} | 50,0% |" in md
    section4 = md[md.index("## 4."):md.index("## 5.")]
    assert f"| Công vụ → thư miễn phí (official_to_freemail) | {NON_COMPLIANT} |" in section4
    assert "official_to_official" not in section4  # the compliant flow is not listed there
    rule_rows = {line.split(" | ")[0][2:]: line.rsplit(" | ", 1)[1] for line in
                 section4.splitlines() if line.startswith("| ") and "-to-" in line}
    assert rule_rows == {"document-to-freemail": f"{OFFICIAL_BOTH} |",
                         "secret-to-freemail": f"{SECRET_TO_GMAIL} |"}
    assert section4.index("| document-to-freemail |") < section4.index("| secret-to-freemail |")
    assert f"| Văn bản (official) | {OFFICIAL_BOTH + OFFICIAL_ONLY} |" in md
    assert f"| Văn bản mật (secret) | {SECRET_TO_GMAIL} |" in md
    assert f"| Không có văn bản (none) | {PLAIN_MESSAGES} |" in md


def test_periods_select_whole_days_of_the_store(load: Load) -> None:
    today = _dt.datetime.now(_dt.timezone(_dt.timedelta(hours=7))).date()
    this_quarter = f"{today.year}-Q{(today.month - 1) // 3 + 1}"
    for period in (["--year", str(today.year)], ["--quarter", this_quarter],
                   ["--since", today.isoformat(), "--until", today.isoformat()]):
        result = govmilter("report", "--database", load.database, "--format", "md", *period)
        assert result.returncode == 0, (period, result.stderr)
        assert f"| Thư đã kiểm tra (messages checked) | {MESSAGES} |" in result.stdout, period
    last_year = govmilter("report", "--database", load.database, "--year", str(today.year - 1))
    assert last_year.returncode == 1
    assert "has no daily counts from" in last_year.stderr and "Traceback" not in last_year.stderr

