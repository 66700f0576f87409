"""What the daemon's processes keep resident: each only what its own work needs.

The milter process never recognises text, unpacks archives or writes reports, so Tesseract,
libarchive, Pillow and python-docx's lxml stay out of it (docs/performance.md, "Where the time
goes": together they took its resident memory from about 36 MB to 90 MB). A scan worker loads
libarchive and Pillow when a message first needs them, not at start.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from postfix_harness import RunningMilter, wait_until

#: Pieces of the file names of shared libraries that only a worker's archive, image or OCR
#: reading, or a report, needs.
LOADED_ON_DEMAND = ("libtesseract", "liblept", "libarchive", "PIL/_imaging", "lxml/etree")


def mapped(pid: int) -> set[str]:
    """The files process ``pid`` maps (its shared libraries among them)."""
    with open(f"/proc/{pid}/maps") as maps:
        return {line.split()[-1] for line in maps if "/" in line}


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def on_demand(files: set[str]) -> list[str]:
    return sorted(f for f in files if any(piece in f for piece in LOADED_ON_DEMAND))


def test_the_milter_process_and_an_idle_worker_map_no_ocr_archive_image_or_report_library(
) -> None:
    short = Path(tempfile.mkdtemp(prefix="gm-mem-"))
    daemon = RunningMilter(short / "milter", None, ["--scan-workers", "1"]).start()
    try:
        # the store is open: the writer's start-up (migration in a child process) is over
        wait_until(lambda: " open" in daemon.log().split("incident store ", 2)[-1], 60,
                   "the incident store to open")
        workers = children(daemon.pid)
        assert workers
        assert on_demand(mapped(daemon.pid)) == []
        for worker in workers:
            assert on_demand(mapped(worker)) == []
            # the maps are a real process's: a worker does map Python itself
            assert any("python3" in f for f in mapped(worker))
    finally:
        assert daemon.stop() == 0
        shutil.rmtree(short, ignore_errors=True)
