"""deploy/: the Postfix snippet on Debian's default main.cf, and the systemd units.

The snippet is appended to Debian's default ``main.cf`` (the template Debian's postinst starts
from, ``/usr/share/postfix/main.cf.debian``), as docs/admin.md's install section does, in a
private configuration directory; only the queue and data directories are moved into it, so
``postfix check`` creates and inspects nothing of the machine's Postfix. ``postconf -n`` and
``postfix check`` must print no warning (an unknown parameter, a setting given twice), and the
settings must be what the table in docs/admin.md says.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from postfix_harness import REPO_ROOT, PrivatePostfix, require, require_postfix

SNIPPET = REPO_ROOT / "deploy" / "postfix-main.cf"
UNIT = REPO_ROOT / "deploy" / "govmilter.service"
CONSOLE_UNIT = REPO_ROOT / "deploy" / "govmilter-console.service"
QUEUE_SOCKET = REPO_ROOT / "deploy" / "govmilter-queue.socket"
QUEUE_HELPER_UNIT = REPO_ROOT / "deploy" / "govmilter-queue@.service"
ADMIN_GUIDE = REPO_ROOT / "docs" / "admin.md"
DEBIAN_MAIN_CF = Path("/usr/share/postfix/main.cf.debian")
DEBIAN_MASTER_CF = Path("/usr/share/postfix/master.cf.dist")
#: the program the administrator guide installs (a virtual environment in /opt, not in the clone)
PROGRAM = Path("/opt/govmilter/bin/govmilter")
#: the virtual environment's Python, which runs the queue helper
PYTHON = Path("/opt/govmilter/bin/python")


def guide_table() -> dict[str, str]:
    """``setting`` → ``value`` cells of the administrator guide's table of the snippet."""
    text = ADMIN_GUIDE.read_text(encoding="utf-8")
    table = text[text.index("`deploy/postfix-main.cf` sets"):]
    rows: dict[str, str] = {}
    for line in table.splitlines()[1:]:
        if not line.startswith("|") and rows:
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells[1]
    return rows


def expand(setting: str) -> list[str]:
    """``milter_{mail,rcpt}_macros`` → ``["milter_mail_macros", "milter_rcpt_macros"]``."""
    match = re.fullmatch(r"(\w*)\{([\w,]+)\}(\w*)", setting)
    if match is None:
        return [setting]
    return [f"{match[1]}{middle}{match[3]}" for middle in match[2].split(",")]


@pytest.fixture(scope="module")
def debian_postfix(tmp_path_factory: pytest.TempPathFactory) -> PrivatePostfix:
    """A configuration directory (not started): Debian's default main.cf + the snippet."""
    require(shutil.which("postconf", path="/usr/sbin:/usr/bin") and DEBIAN_MAIN_CF.exists(),
            "needs Postfix (run scripts/setup.sh)")
    postfix = PrivatePostfix(tmp_path_factory.mktemp("deploy"))
    for directory in (postfix.conf, postfix.spool, postfix.base / "data"):
        directory.mkdir(parents=True)
    shutil.copy(DEBIAN_MASTER_CF, postfix.conf / "master.cf")
    main_cf = DEBIAN_MAIN_CF.read_text().rstrip("\n") + "\n\n" + SNIPPET.read_text()
    (postfix.conf / "main.cf").write_text(
        main_cf + f"\nqueue_directory = {postfix.spool}\n"
        f"data_directory = {postfix.base / 'data'}\n")
    return postfix


def postconf(postfix: PrivatePostfix, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["postconf", "-c", str(postfix.conf), *args], text=True,
                          capture_output=True, check=True)


def settings(postfix: PrivatePostfix, *args: str) -> dict[str, str]:
    """``postconf -n`` (or with ``-x``: expanded) as a dict."""
    lines = postconf(postfix, "-n", *args).stdout.splitlines()
    return {key: value for key, _, value in (line.partition(" = ") for line in lines)}


def test_snippet_on_debian_defaults_gives_no_postconf_warning(
        debian_postfix: PrivatePostfix) -> None:
    result = postconf(debian_postfix, "-n")
    assert result.stderr == "", result.stderr  # e.g. "unused parameter", "overriding earlier"
    assert "smtpd_milters = unix:/govmilter/govmilter.sock" in result.stdout.splitlines()


def test_postfix_check_accepts_it_without_warnings(debian_postfix: PrivatePostfix) -> None:
    require_postfix()
    shutil.chown(debian_postfix.base / "data", user="postfix")
    result = debian_postfix._postfix("check")
    assert result.returncode == 0 and result.stderr == "" and result.stdout == "", \
        result.stdout + result.stderr


def test_settings_are_what_the_admin_guide_table_says(debian_postfix: PrivatePostfix) -> None:
    table = guide_table()
    raw, expanded = settings(debian_postfix), settings(debian_postfix, "-x")
    literal = {key: value.strip("`") for key, value in table.items()
               if re.fullmatch(r"`[^`]*`", value)}
    assert set(literal) == {"smtpd_milters", "non_smtpd_milters", "milter_default_action"}
    for key, value in literal.items():
        assert raw[key] == value, key
    assert raw["smtpd_milters"] == "unix:/govmilter/govmilter.sock"
    assert expanded["non_smtpd_milters"] == expanded["smtpd_milters"]  # sendmail(1) mail too
    assert raw["milter_default_action"] == "tempfail"
    timeouts = [raw[f"milter_{stage}_timeout"] for stage in ("connect", "command", "content")]
    assert " / ".join(timeouts) == table["milter_*_timeout"] == "10s / 30s / 60s"
    included = {key: value for key, value in table.items() if value.startswith("must include")}
    wanted: dict[str, set[str]] = {}
    for key, value in included.items():
        for name in expand(key):
            wanted.setdefault(name, set()).update(re.findall(r"`([^`]+)`", value))
    assert wanted == {
        "milter_connect_macros": {"{daemon_name}"},
        "milter_mail_macros": {"{auth_authen}", "i"},
        "milter_rcpt_macros": {"i"}, "milter_data_macros": {"i"},
        "milter_end_of_header_macros": {"i"}, "milter_end_of_data_macros": {"i"},
    }
    for name, macros in wanted.items():
        assert macros <= set(raw[name].split()), (name, raw[name])


def unit_commands(unit: Path = UNIT) -> list[Path]:
    """The programs the unit's ``Exec*=`` lines run (prefixes such as ``+`` left out)."""
    text = unit.read_text()
    commands = re.findall(r"^Exec\w+=[-+!@:]*(/\S+)", text, flags=re.MULTILINE)
    return [Path(command) for command in commands]


def test_unit_runs_the_installed_program_from_the_admin_guide() -> None:
    assert unit_commands() == [Path("/usr/bin/install"), PROGRAM, Path("/bin/kill")]
    guide = ADMIN_GUIDE.read_text(encoding="utf-8")
    assert "/usr/bin/python3 -m venv /opt/govmilter" in guide
    assert re.search(r"^ProtectHome=yes$", UNIT.read_text(), flags=re.MULTILINE)


def settings_of(unit: Path) -> dict[str, list[str]]:
    """``Key=value`` lines of a unit (continuation lines joined), values by key."""
    found: dict[str, list[str]] = {}
    text = re.sub(r"\\\n\s*", " ", unit.read_text())
    for key, value in re.findall(r"^(\w+)=(.*)$", text, flags=re.MULTILINE):
        found.setdefault(key, []).append(value.strip())
    return found


#: settings of the milter's unit that confine it; the console's must have each, alike
HARDENING = ("PrivateTmp", "NoNewPrivileges", "ProtectSystem", "ProtectHome",
             "ProtectKernelTunables", "ProtectKernelModules", "ProtectControlGroups",
             "RestrictAddressFamilies", "LockPersonality", "StateDirectory",
             "StateDirectoryMode")


def test_the_console_unit_is_confined_like_the_milters_and_listens_on_loopback() -> None:
    milter, console = settings_of(UNIT), settings_of(CONSOLE_UNIT)
    for key in HARDENING:
        assert key in milter, key
        assert console.get(key) == milter[key], key
    assert console["User"] == milter["User"]  # the SQLite store is the milter user's
    assert console["CapabilityBoundingSet"] == [""]
    assert unit_commands(CONSOLE_UNIT) == [PROGRAM]
    start = console["ExecStart"][0].split()
    assert start[1] == "console" and start[start.index("--listen") + 1] == "127.0.0.1:8025"
    assert "--secure-cookies" in start
    assert start[start.index("--queue-helper") + 1] == \
        settings_of(QUEUE_SOCKET)["ListenStream"][0]
    assert console["Wants"] == ["govmilter-queue.socket"]


def test_the_queue_helper_is_root_for_the_consoles_group_only_and_confined() -> None:
    """Only root and group govmilter reach the socket; the helper keeps three capabilities
    (tests/integration/test_queue_helper.py runs it with exactly the unit's set), writes only
    Postfix's spool, has no network, and its Postfix instance is fixed by the unit."""
    socket_unit, helper = settings_of(QUEUE_SOCKET), settings_of(QUEUE_HELPER_UNIT)
    assert (socket_unit["SocketUser"], socket_unit["SocketGroup"], socket_unit["SocketMode"],
            socket_unit["Accept"]) == (["root"], ["govmilter"], ["0660"], ["yes"])
    assert helper["CapabilityBoundingSet"] == ["CAP_SETUID CAP_SETGID CAP_DAC_OVERRIDE"]
    for key in ("NoNewPrivileges", "PrivateNetwork", "ProtectHome", "PrivateTmp"):
        assert helper[key] == ["yes"], key
    assert (helper["ProtectSystem"], helper["ReadWritePaths"]) == (["strict"],
                                                                   ["/var/spool/postfix"])
    assert helper["RestrictAddressFamilies"] == ["AF_UNIX"]
    assert (helper["StandardInput"], helper["StandardOutput"]) == (["socket"], ["socket"])
    start = helper["ExecStart"][0].split()
    assert start[:4] == [str(PYTHON), "-I", "-m", "govmilter.tools.queue_helper"]
    assert start[start.index("--postfix-config") + 1] == "/etc/postfix"


@pytest.mark.parametrize("unit", [UNIT, CONSOLE_UNIT, QUEUE_SOCKET, QUEUE_HELPER_UNIT],
                         ids=lambda unit: unit.name)
def test_unit_documentation_is_the_guides_the_install_puts_in_usr_share_doc(unit: Path) -> None:
    """``Documentation=`` names files the guide's install commands copy from docs/."""
    installed = Path("/usr/share/doc/govmilter")
    urls = re.findall(r"^Documentation=(.+)$", unit.read_text(), flags=re.MULTILINE)
    pages = [Path(url.removeprefix("file://")) for url in " ".join(urls).split()]
    assert pages and all(url.startswith("file:///") for url in " ".join(urls).split())
    for page in pages:
        assert (REPO_ROOT / "docs" / page.relative_to(installed)).is_file(), page
    guide = ADMIN_GUIDE.read_text(encoding="utf-8")
    assert f"install -d {installed} && cp -r docs/. " in guide


@pytest.mark.parametrize("unit", [UNIT, CONSOLE_UNIT, QUEUE_SOCKET],
                         ids=lambda unit: unit.name)
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path, unit: Path) -> None:
    """``systemd-analyze verify`` on a root holding the unit (a socket with the service it
    starts), systemd's own units and the programs the units run: the real ones, and stand-ins
    for the govmilter the guide installs in /opt (a test machine need not have it). Verify also
    checks that they are executable."""
    analyze = shutil.which("systemd-analyze")
    require(analyze, "systemd-analyze missing: scripts/setup.sh installs it (package systemd)")
    assert analyze is not None
    root = tmp_path / "root"
    (root / "etc" / "systemd" / "system").mkdir(parents=True)
    units = [unit, QUEUE_HELPER_UNIT] if unit == QUEUE_SOCKET else [unit]
    for installed in units:
        shutil.copy(installed, root / "etc" / "systemd" / "system" / installed.name)
    (root / "usr" / "lib" / "systemd").mkdir(parents=True)
    shutil.copytree("/usr/lib/systemd/system", root / "usr" / "lib" / "systemd" / "system",
                    symlinks=True)
    for merged in ("bin", "sbin", "lib"):  # Debian 12's merged /usr
        if Path(f"/{merged}").is_symlink():
            (root / merged).symlink_to(f"usr/{merged}")
    for command in (c for installed in units for c in unit_commands(installed)):
        target = root / command.resolve().relative_to("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if command in (PROGRAM, PYTHON):
            target.write_text("#!/bin/sh\n")
            target.chmod(0o755)
        else:
            shutil.copy2(command, target)
    result = subprocess.run([analyze, "verify", f"--root={root}", unit.name], text=True,
                            capture_output=True, timeout=60, check=False)
    # a parse error (unknown key, bad value) is only a message: rc 0, so no output is required
    assert result.returncode == 0 and result.stdout + result.stderr == "", \
        result.stdout + result.stderr
