"""rspamd, the peer an agency would install instead of govmilter, as a benchmark milter.

rspamd 3.x from Debian (installed with apt-get on first use, as bench/passthrough.c is
compiled on first use) runs with the packaged rules (/etc/rspamd) and the local
configuration of bench/rspamd/: its proxy worker in milter mode scanning in its own processes
(``self_scan``), one per core, a recipient multimap of govmilter's free-webmail domains, and no
network lookups. Everything it writes (configuration with the run's ports, map, log, pid,
databases) is in a private directory; it listens on loopback ports chosen free at run time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from postfix_harness import free_port, port_open, stop_process, wait_until

CONFIG = Path(__file__).resolve().parent / "rspamd"
APT_INSTALL = ["apt-get", "-o", "DPkg::Lock::Timeout=900", "install", "-y",
               "--no-install-recommends", "rspamd"]
#: rspamd's per-message log line (level notice), one for each message it scanned
SCANNED_MARK = "rspamd_task_write_log"


def rspamd_binary() -> Path:
    """The rspamd executable, installed from Debian when it is missing.

    :raises RuntimeError: with apt's message when it cannot be installed.
    """
    found = shutil.which("rspamd")
    if found:
        return Path(found)
    installed = subprocess.run(APT_INSTALL, capture_output=True, text=True,
                               env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    found = shutil.which("rspamd")
    if installed.returncode or not found:
        raise RuntimeError(f"cannot install rspamd ({' '.join(APT_INSTALL)}):\n"
                           f"{installed.stdout[-1000:]}{installed.stderr[-1000:]}")
    # Debian's postinst starts a system rspamd on fixed ports where an init system lets it;
    # the benchmark runs its own on free ports, so the one just installed is stopped.
    for stop in (["systemctl", "disable", "--now", "rspamd"], ["/etc/init.d/rspamd", "stop"]):
        if shutil.which(stop[0]):
            subprocess.run(stop, capture_output=True)
    return Path(found)


def freemail_domains() -> list[str]:
    """govmilter's free-webmail domains (the shipped list and the default policy's extras).

    Wildcard entries (``*.vnn.vn``) are left out: a plain rspamd map matches whole domains.
    """
    import yaml

    from govmilter.domains.classify import builtin_freemail_domains
    from govmilter.policy.loader import default_policy_path

    policy = yaml.safe_load(default_policy_path().read_text())
    extra = policy.get("domains", policy).get("freemail", {}).get("extra", [])
    return sorted({*builtin_freemail_domains(), *(d for d in extra if not d.startswith("*"))})


def write_config(directory: Path, proxy_port: int, workers: int) -> None:
    """bench/rspamd/ into ``directory`` with this run's ports, and the free-webmail map."""
    values = {"@PROXY_PORT@": str(proxy_port), "@WORKERS@": str(workers),
              "@NORMAL_PORT@": str(free_port()), "@CONTROLLER_PORT@": str(free_port()),
              "@DNS_PORT@": str(free_port()), "@DIR@": str(directory)}
    for source in CONFIG.rglob("*"):
        if source.is_file():
            text = source.read_text()
            for name, value in values.items():
                text = text.replace(name, value)
            target = directory / source.relative_to(CONFIG)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    (directory / "freemail.map").write_text("\n".join(freemail_domains()) + "\n")


@dataclass
class RunningRspamd:
    """A started rspamd: its main process, its milter address and its log."""

    process: subprocess.Popen[bytes]
    postfix_spec: str
    log_path: Path

    def scanned(self) -> int:
        """How many messages rspamd has scanned so far (its per-message log lines)."""
        try:
            return self.log_path.read_text(errors="replace").count(SCANNED_MARK)
        except FileNotFoundError:
            return 0


@contextmanager
def running_rspamd(directory: Path, workers: int | None = None) -> Iterator[RunningRspamd]:
    """rspamd in ``directory`` (created), listening on a free loopback port; stopped after."""
    binary = rspamd_binary()
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    write_config(directory, port, workers or os.cpu_count() or 1)
    for sub in ("db", "run"):
        (directory / sub).mkdir(exist_ok=True)
    command = [str(binary), "-f", "-i", "-u", "root", "-g", "root",
               "-c", "/etc/rspamd/rspamd.conf",
               "--var", f"LOCAL_CONFDIR={directory}", "--var", f"DBDIR={directory / 'db'}",
               "--var", f"RUNDIR={directory / 'run'}", "--var", f"LOGDIR={directory}"]
    with (directory / "rspamd.out").open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        def listening() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"rspamd exited ({process.returncode}):\n"
                                   + _tail(directory / "rspamd.out")
                                   + _tail(directory / "rspamd.log"))
            return port_open(port)
        wait_until(listening, 120, "rspamd's milter port to listen")
        yield RunningRspamd(process, f"inet:127.0.0.1:{port}", directory / "rspamd.log")
    finally:
        stop_process(process, 30)


def _tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-1500:]
    except FileNotFoundError:
        return ""
