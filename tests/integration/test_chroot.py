"""The deployed path: a Postfix chrooted as Debian installs it reaches the milter's socket.

Debian runs smtpd, cleanup and smtp chrooted in the queue directory, so Postfix names the socket
relative to it: ``deploy/postfix-main.cf`` says ``unix:/govmilter/govmilter.sock`` for
``/var/spool/postfix/govmilter/govmilter.sock``. The other Postfix tests turn the chroot off;
this one keeps it, with the daemon's socket in the private instance's queue directory (mode 660,
group postfix, as ``govmilter run`` sets it up), and sends real mail through.

Needs root and Postfix (scripts/setup.sh installs it): skipped without them, failed when CI=true.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from postfix_harness import PrivatePostfix, RunningMilter, require_postfix, wait_until
from samples import FREEMAIL_RCPT, OFFICIAL_RCPT, OFFICIAL_SENDER, PLAIN, SECRET, policy_yaml

pytestmark = pytest.mark.postfix

DEPLOY_MAIN_CF = Path(__file__).resolve().parents[2] / "deploy" / "postfix-main.cf"


def deployed_milter_socket() -> str:
    """``smtpd_milters`` as deploy/postfix-main.cf sets it."""
    match = re.search(r"^smtpd_milters\s*=\s*(\S+)", DEPLOY_MAIN_CF.read_text(), re.MULTILINE)
    assert match, "deploy/postfix-main.cf sets smtpd_milters"
    return match.group(1)


def test_chrooted_smtpd_and_cleanup_reach_the_socket_deploy_names() -> None:
    require_postfix()
    spec = deployed_milter_socket()
    assert spec == "unix:/govmilter/govmilter.sock"
    with PrivatePostfix(chroot=True) as postfix:
        chroots = subprocess.run(["postconf", "-c", str(postfix.conf), "-F"], check=True,
                                 text=True, capture_output=True).stdout
        for service in (f"127.0.0.1:{postfix.smtp_port}/inet", "cleanup/unix"):
            assert f"{service}/chroot = y" in chroots, f"{service} must run chrooted here"
        policy = postfix.base / "policy.yaml"
        policy.write_text(policy_yaml())
        socket_dir = postfix.spool / spec.removeprefix("unix:/").rsplit("/", 1)[0]
        with RunningMilter(socket_dir, policy, socket_mode="660") as milter:
            # the socket as the deployment has it: inside the queue directory, group postfix
            assert milter.socket_path.stat().st_mode & 0o777 == 0o660
            postfix.configure_milter(spec, "tempfail")
            assert postfix.send(OFFICIAL_SENDER, [OFFICIAL_RCPT], PLAIN) == {}
            [dump] = postfix.wait_for_dumps(1)
            assert dump.headers["X-GovMilter"] == \
                "compliant; rule=official-to-official; document=none"
            # content decisions are made by the chrooted cleanup's milter session
            assert postfix.send(OFFICIAL_SENDER, [OFFICIAL_RCPT, FREEMAIL_RCPT], SECRET) == {}
            second = postfix.wait_for_dumps(2)[-1]
            assert second.recipients == (OFFICIAL_RCPT,)
            wait_until(lambda: milter.log().count(" qid=") >= 2, 10, "two log lines")
        assert "warning: connect to Milter service" not in postfix.maillog()
