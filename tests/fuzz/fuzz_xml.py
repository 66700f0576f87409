"""Coverage-guided fuzzing of the XML readers with atheris: a small input becomes a message with
a DOCX, ODT or edXML attachment of 64 KiB to 1 MiB (harness.xml_attachment_message).

libFuzzer's inputs stay small (``-max_len``); the repetition is what makes the XML large, so a
reader whose work grows faster than its input shows as a slow input (``-timeout``):

    PYTHONPATH=$PWD:$PWD/tests python tests/fuzz/fuzz_xml.py -max_total_time=3600 \\
        -timeout=10 -rss_limit_mb=2048 -max_len=4096 /tmp/govmilter-xml-corpus \\
        tests/fuzz/xml_seeds

Crashes and slow inputs go to tests/data/regressions-xml/, which tests/mail/test_fuzz.py replays.
"""

from __future__ import annotations

from pathlib import Path

import atheris

with atheris.instrument_imports(include=["govmilter"]):
    from harness import check_message, fuzz, xml_attachment_message

REGRESSIONS = Path(__file__).resolve().parent.parent / "data" / "regressions-xml"


def test_one_input(data: bytes) -> None:
    """libFuzzer's entry point: any exception or failed invariant is a crash."""
    check_message(xml_attachment_message(data))


if __name__ == "__main__":
    fuzz(test_one_input, REGRESSIONS)
