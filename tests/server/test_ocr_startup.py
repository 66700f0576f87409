"""``govmilter run`` checks OCR at start-up: one clear line and a metric, never a crash.

Without Tesseract's Vietnamese data (here: ``TESSDATA_PREFIX`` pointing at an empty folder, as
on a machine where ``tesseract-ocr-vie`` was not installed) the daemon starts, says so in one
line, exports ``govmilter_ocr_available 0``, and a scanned letter is decided as
``unscannable`` with the reason; with the data, the metric is 1 and the same letter is read.
"""

from __future__ import annotations

import shutil
import tempfile
from email.message import EmailMessage
from pathlib import Path

from mta_session import MtaSession
from postfix_harness import RunningMilter, require, wait_until
from processes import child_pids
from samples import OFFICIAL_SENDER
from scans import degrade, image_bytes, official_letter, render_page

from govmilter.document.ocr import ocr_status


def scanned_letter() -> bytes:
    page = degrade(render_page(official_letter("TỐI MẬT")[0], 150), seed=11, angle=1.0)
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = OFFICIAL_SENDER, "x@gmail.com", "scan"
    message.set_content("Gửi anh bản quét.")
    message.add_attachment(image_bytes(page, "JPEG", 150), maintype="image", subtype="jpeg",
                           filename="scan.jpg")
    return message.as_bytes()


def decided_class(daemon: RunningMilter, queue_id: str) -> str:
    session = MtaSession(daemon.socket_path)
    session.message(OFFICIAL_SENDER, ["x@gmail.com"], scanned_letter(), queue_id)
    session.close()
    wait_until(lambda: f"qid={queue_id} " in daemon.log(), 60, "the message's log line")
    [line] = [x for x in daemon.log().splitlines() if f"qid={queue_id} " in x]
    return line.split(" class=")[1].split()[0]


def test_missing_language_data_is_one_line_a_metric_and_unscannable_mail() -> None:
    short = Path(tempfile.mkdtemp(prefix="gm-ocr-off-"))
    empty = short / "tessdata"
    empty.mkdir()
    daemon = RunningMilter(short / "milter", None, ["--scan-workers", "1"],
                           env={"TESSDATA_PREFIX": str(empty)}).start()
    try:
        lines = [x for x in daemon.log().splitlines() if "OCR" in x]
        assert len(lines) == 1, lines
        assert "OCR unavailable: Tesseract has no Vietnamese data in " in lines[0]
        assert "install Debian tesseract-ocr-vie" in lines[0]
        [start] = [x for x in daemon.log().splitlines() if "starting:" in x]
        assert " ocr=off " in start
        assert daemon.metric("govmilter_ocr_available") == 0.0
        assert decided_class(daemon, "0C1") == "unscannable"
    finally:
        assert daemon.stop() == 0
        shutil.rmtree(short, ignore_errors=True)


def test_with_the_data_ocr_is_on_and_a_scan_is_read_in_a_worker() -> None:
    status = ocr_status()
    require(status.available, f"needs Tesseract with Vietnamese data ({status.detail})")
    short = Path(tempfile.mkdtemp(prefix="gm-ocr-on-"))
    daemon = RunningMilter(short / "milter", None, ["--scan-workers", "1"]).start()
    try:
        [start] = [x for x in daemon.log().splitlines() if "starting:" in x]
        assert " ocr=on " in start and " scan_workers=1 ocr_workers=1 " in start
        assert "OCR unavailable" not in daemon.log()
        assert daemon.metric("govmilter_ocr_available") == 1.0
        # no OCR worker until a scan arrives: the daemon's one worker is its scan worker
        assert daemon.metric("govmilter_scan_workers", lane="ocr") == 0
        assert len(child_pids(daemon.pid, "govmilter.server.workers")) == 1
        assert daemon.metric("govmilter_resident_memory_bytes", process="ocr_workers") == 0
        assert decided_class(daemon, "0C2") == "secret"  # the first scan starts it, and is read
        assert len(child_pids(daemon.pid, "govmilter.server.workers")) == 2
        # scanned without OCR in the ordinary lane, then read in the OCR lane
        for lane in ("ordinary", "ocr"):
            assert daemon.metric("govmilter_scan_queue_wait_seconds_count", lane=lane) == 1
            assert daemon.metric("govmilter_scan_workers", lane=lane) == 1
    finally:
        assert daemon.stop() == 0
        shutil.rmtree(short, ignore_errors=True)
