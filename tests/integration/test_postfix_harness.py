"""The test harness's private Postfix: what the other modules rely on when they share it."""

from __future__ import annotations

import contextlib
import smtplib

from postfix_harness import PrivatePostfix


def test_a_reset_goes_through_while_an_earlier_client_is_still_connected(
        postfix: PrivatePostfix) -> None:
    """An smtpd serving a client a test left connected would hold the old main.cf until
    smtpd_timeout; the next module's reset must not wait for it (it used to time out)."""
    lingering = smtplib.SMTP("127.0.0.1", postfix.smtp_port, timeout=60)
    try:
        assert lingering.ehlo("lingering.example")[0] == 250
        postfix.reset()
        with smtplib.SMTP("127.0.0.1", postfix.smtp_port, timeout=30) as fresh:
            assert fresh.ehlo("fresh.example")[0] == 250
    finally:
        with contextlib.suppress(OSError):
            lingering.close()
