"""Looking at processes through ``/proc``: a daemon's children, whether one has ended."""

from __future__ import annotations

import time
from pathlib import Path


def _stat_fields(pid: int | str) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state first), or None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def child_pids(parent: int, running: str | None = None) -> list[int]:
    """The live processes whose parent is ``parent`` (a daemon's scan workers); with
    ``running``, only those whose command line holds it (``govmilter.server.workers``: not the
    daemon's other children, such as the incident store's migration at start)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        fields = _stat_fields(entry.name)
        if fields is not None and int(fields[1]) == parent and fields[0] not in "ZX" \
                and (running is None or running in _command_line(entry.name)):
            found.append(int(entry.name))
    return sorted(found)


def _command_line(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


def ends_within(pid: int, seconds: float) -> bool:
    """True once the process is gone or a zombie (killed, exit status not yet collected)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        fields = _stat_fields(pid)
        if fields is None or fields[0] in "ZX":
            return True
        time.sleep(0.05)
    return False
