"""What the daemon's processes keep resident: each only what its own work needs.

The milter process never recognises text, unpacks archives or writes reports, so Tesseract,
libarchive, Pillow and python-docx's lxml stay out of it (docs/performance.md, "Where the time
goes": together they took its resident memory from about 36 MB to 90 MB). A scan worker loads
libarchive and Pillow when a message first needs them, not at start.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
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


#: 16 sessions at once, each gathering 1.4 MB messages from 64 KB body chunks into the milter's
#: spool and reading them back for the scan, as the milter does, then the resident growth in MB.
SESSIONS_OF_LARGE_MESSAGES = """
import sys, threading
from govmilter.mail.limits import Limits
from govmilter.server.allocator import fix_malloc_thresholds
from govmilter.server.spool import MessageSpool

if sys.argv[1] == "fixed":
    assert fix_malloc_thresholds()

def resident_mb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20

limits, chunk, kept = Limits(), b"x" * 65536, []
together = threading.Barrier(16)
before = resident_mb()

def session():
    for _ in range(8):
        spool = MessageSpool(limits.memory_bytes)
        for _ in range(22):
            spool.write(bytes(chunk))
            kept.append(bytes(200))  # what outlives a message (log lines, counters ...)
        raw = spool.read(limits.raw_scan_bytes + 1)
        together.wait()  # 16 messages in memory at once, as with 16 sessions
        spool.close()
        del raw

threads = [threading.Thread(target=session) for _ in range(16)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(resident_mb() - before)
"""


def growth_after_large_messages(allocator: str) -> float:
    result = subprocess.run([sys.executable, "-c", SESSIONS_OF_LARGE_MESSAGES, allocator],
                            capture_output=True, text=True, timeout=120, check=True)
    return float(result.stdout)


def test_the_milter_gives_the_memory_of_large_messages_back_after_them() -> None:
    """With glibc's thresholds fixed, as the daemon sets them at start, the memory of 16 large
    messages at once is given back once they are done; with its default, dynamic threshold it
    stays resident in the threads' arenas (docs/performance.md, "Memory")."""
    fixed = min(growth_after_large_messages("fixed") for _ in range(2))
    dynamic = min(growth_after_large_messages("dynamic") for _ in range(2))
    assert fixed < 6, fixed  # 16 messages of 1.4 MB were 22 MB at once
    assert dynamic > 2 * fixed + 6, (dynamic, fixed)  # what the setting is for
