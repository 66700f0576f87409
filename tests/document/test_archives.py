"""RAR, 7z, tar, gzip, bzip2 and xz attachments (issue #18), read through libarchive.

Archives are made by the real tools (7z, GNU tar, gzip, bzip2, xz); RAR ones are written by the
format's specification (``archive_tools``), checked here against 7-Zip. Each case goes the public
way, ``govmilter check --json`` with the default policy, from an official mailbox to Gmail, and
asserts what the sender would see: the document class, the reason a part was not scanned, the
rule and its action.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from archive_tools import (
    compressed,
    rar4,
    rar5,
    rar5_encrypted_headers,
    seven_zip,
    seven_zip_of_zeros,
    seven_zip_test,
    tar_archive,
    zeros_compressed,
)
from hostile_mail import (
    NONE,
    OFFICIAL,
    OFFICIAL_TEXT,
    SECRET,
    UNSCANNABLE,
    rule_action,
    verdict_of,
    zip_archive,
)

from govmilter.document.budget import ScanBudget
from govmilter.document.packed import rar5_encrypted, read_packed
from govmilter.mail.limits import Limits

LETTER = OFFICIAL_TEXT.encode()  # marked MẬT
UNMARKED = OFFICIAL_TEXT.replace("MẬT\n", "").encode()
#: A file name that names no document: only the content can make the verdict.
FILES = {"tai-lieu.txt": LETTER}


def test_the_rar_archives_written_here_are_what_7zip_reads() -> None:
    for suffix, plain, locked in ((".rar", rar5(FILES), rar5(FILES, encrypted=True)),
                                  (".rar", rar4(FILES), rar4(FILES, encrypted=True))):
        said = seven_zip_test(plain, suffix)
        assert "Everything is Ok" in said and "Encrypted = -" in said.split("Path = tai")[1]
        assert "Encrypted = +" in seven_zip_test(locked, suffix)
    assert "Type = Rar5" in seven_zip_test(rar5(FILES), ".rar")
    assert "Type = Rar\n" in seven_zip_test(rar4(FILES), ".rar")


#: (id, archive builder, attachment file name)
CARRIERS: list[tuple[str, Callable[[], bytes], str]] = [
    ("rar5", lambda: rar5(FILES), "tai-lieu.rar"),
    ("rar4", lambda: rar4(FILES), "tai-lieu.rar"),
    ("7z", lambda: seven_zip(FILES), "tai-lieu.7z"),
    ("7z-solid-second-file", lambda: seven_zip({"a.txt": b"x" * 5000, **FILES}, "-ms=on"),
     "tai-lieu.7z"),
    ("tar", lambda: tar_archive(FILES), "tai-lieu.tar"),
    ("tar.gz", lambda: tar_archive(FILES, "z"), "tai-lieu.tar.gz"),
    ("tar.bz2", lambda: tar_archive(FILES, "j"), "tai-lieu.tar.bz2"),
    ("tar.xz", lambda: tar_archive(FILES, "J"), "tai-lieu.tar.xz"),
    ("gz", lambda: compressed(LETTER, "gzip"), "tai-lieu.txt.gz"),
    ("bz2", lambda: compressed(LETTER, "bzip2"), "tai-lieu.txt.bz2"),
    ("xz", lambda: compressed(LETTER, "xz"), "tai-lieu.txt.xz"),
    # 1 KiB of zeros first reads as an empty tar archive; gunzip still gives the letter
    ("gz-of-zeros-then-the-letter", lambda: compressed(bytes(1024) + LETTER, "gzip"),
     "tai-lieu.txt.gz"),
    # the bytes decide, not the name: a RAR called .dat, a 7z called .pdf
    ("rar-named-dat", lambda: rar5(FILES), "tai-lieu.dat"),
    ("7z-named-pdf", lambda: seven_zip(FILES), "tai-lieu.pdf"),
    # a name that says nothing: the text is read as text
    ("txt-renamed-dat-in-7z", lambda: seven_zip({"tai-lieu.dat": LETTER}), "tai-lieu.7z"),
    ("xz-named-bin", lambda: compressed(LETTER, "xz"), "tai-lieu.bin"),
    # archives inside archives: a ZIP in a 7z in a RAR
    ("zip-in-7z-in-rar", lambda: rar5({"b.7z": seven_zip({"c.zip": zip_archive(FILES)})}),
     "tai-lieu.rar"),
    ("docx-in-tar.xz", lambda: tar_archive({"vb.docx": zip_archive(
        {"word/document.xml": b"<w:document><w:body>" + b"".join(
            b"<w:p><w:r><w:t>" + line.encode() + b"</w:t></w:r></w:p>"
            for line in OFFICIAL_TEXT.splitlines()) + b"</w:body></w:document>"})}, "J"),
     "vb.tar.xz"),
]


@pytest.mark.parametrize(("build", "filename"), [c[1:] for c in CARRIERS],
                         ids=[c[0] for c in CARRIERS])
def test_a_secret_letter_in_an_archive_is_refused_to_gmail(
        tmp_path: Path, build: Callable[[], bytes], filename: str) -> None:
    verdict = verdict_of(tmp_path, build(), filename)
    assert verdict["document_class"] == "secret", verdict
    assert verdict["unscannable"] == []
    assert any(line.startswith("attachment 1 > entry ")
               for line in verdict["evidence"])  # type: ignore[attr-defined]
    assert rule_action(verdict) == SECRET


def test_an_unmarked_letter_in_a_7z_is_official_and_tagged(tmp_path: Path) -> None:
    verdict = verdict_of(tmp_path, seven_zip({"tai-lieu.txt": UNMARKED}), "a.7z")
    assert verdict["document_class"] == "official"
    assert rule_action(verdict) == OFFICIAL


def test_an_archive_of_ordinary_files_is_none(tmp_path: Path) -> None:
    program = b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 16  # binary: not read as text
    verdict = verdict_of(tmp_path, seven_zip({"menu.txt": "Thực đơn trưa nay".encode(),
                                              "tool.dat": program}), "a.7z")
    assert verdict["document_class"] == "none"
    assert rule_action(verdict) == NONE


LOCKED = "attachment 1: {} is password-protected (encrypted entries)"

#: (id, archive builder, file name, reason)
ENCRYPTED: list[tuple[str, Callable[[], bytes], str, str]] = [
    ("7z-password", lambda: seven_zip(FILES, "-phunter2"), "a.7z", LOCKED.format("7z archive")),
    ("7z-password-and-encrypted-names", lambda: seven_zip(FILES, "-phunter2", "-mhe=on"),
     "a.7z", LOCKED.format("7z archive")),
    ("rar5-password", lambda: rar5(FILES, encrypted=True), "a.rar",
     LOCKED.format("RAR archive")),
    ("rar5-encrypted-headers", rar5_encrypted_headers, "a.rar", LOCKED.format("RAR archive")),
    ("rar4-password", lambda: rar4(FILES, encrypted=True), "a.rar",
     LOCKED.format("RAR archive")),
]


@pytest.mark.parametrize(("build", "filename", "reason"), [c[1:] for c in ENCRYPTED],
                         ids=[c[0] for c in ENCRYPTED])
def test_an_encrypted_archive_is_unscannable_with_the_reason(
        tmp_path: Path, build: Callable[[], bytes], filename: str, reason: str) -> None:
    verdict = verdict_of(tmp_path, build(), filename)
    assert verdict["document_class"] == "unscannable"
    assert reason in verdict["unscannable"], verdict["unscannable"]  # type: ignore[operator]
    assert rule_action(verdict) == UNSCANNABLE


def test_libarchive_alone_would_hand_back_an_encrypted_rar5_entry() -> None:
    # Debian 12's libarchive (3.6) reads past RAR 5's encryption record: the header walk is
    # what makes it unscannable
    locked = rar5(FILES, encrypted=True)
    assert rar5_encrypted(locked) and not rar5_encrypted(rar5(FILES))
    assert rar5_encrypted(rar5_encrypted_headers())
    for cut in range(len(locked)):  # damaged (cut) archives never raise
        rar5_encrypted(locked[:cut])


BOMB = "expands more than 100:1 (limits.max_zip_ratio): possible archive bomb"
DEEP = "archive nested more than 3 deep was not opened (limits.max_archive_depth)"

#: (id, archive builder, file name, reason)
BOMBS: list[tuple[str, Callable[[], bytes], str, str]] = [
    ("7z-256-mib-of-zeros", lambda: seven_zip_of_zeros(256 << 20), "a.7z",
     f"attachment 1: 7z archive {BOMB}"),
    ("xz-256-mib-of-zeros", lambda: zeros_compressed(256 << 20, "xz"), "a.xz",
     f"attachment 1: xz file {BOMB}"),
    ("bz2-256-mib-of-zeros", lambda: zeros_compressed(256 << 20, "bzip2"), "a.bz2",
     f"attachment 1: bzip2 file {BOMB}"),
    ("gz-of-64-mib-zeros-in-a-tar", lambda: tar_archive(
        {"z.gz": zeros_compressed(64 << 20, "gzip")}), "a.tar",
     f"attachment 1 > entry 1: gzip file {BOMB}"),
    ("tar-of-300-files", lambda: tar_archive({f"f{n}.txt": b"x" for n in range(300)}, "z"),
     "a.tgz", "attachment 1: gzip file: more than 200 archive entries in this message "
     "(limits.max_zip_entries); the rest were not read"),
    ("7z-in-7z-in-7z-in-7z", lambda: seven_zip({"3.7z": seven_zip({"2.7z": seven_zip(
        {"1.7z": seven_zip(FILES)})})}), "a.7z",
     f"attachment 1 > entry 1 > entry 1 > entry 1: {DEEP}"),
    ("tar.gz-in-rar-in-7z-in-tar", lambda: tar_archive({"c.7z": seven_zip({"b.rar": rar5(
        {"a.tar.gz": tar_archive(FILES, "z")})})}), "a.tar",
     f"attachment 1 > entry 1 > entry 1 > entry 1: {DEEP}"),
]


@pytest.mark.parametrize(("build", "filename", "reason"), [c[1:] for c in BOMBS],
                         ids=[c[0] for c in BOMBS])
def test_archive_bombs_are_unscannable_with_the_reason_in_bounded_time(
        tmp_path: Path, build: Callable[[], bytes], filename: str, reason: str) -> None:
    data = build()
    assert len(data) < 2_000_000
    verdict = verdict_of(tmp_path, data, filename)  # within TIME_BOUND
    assert verdict["document_class"] == "unscannable"
    assert reason in verdict["unscannable"], verdict["unscannable"]  # type: ignore[operator]
    assert rule_action(verdict) == UNSCANNABLE


def test_the_entry_budget_is_the_whole_message_s(tmp_path: Path) -> None:
    # 150 files and, inside, an archive of 150 more: 301 entries in all, past 200
    inner = seven_zip({f"g{n}.txt": b"y" for n in range(150)})
    outer = tar_archive({**{f"f{n}.txt": b"x" for n in range(150)}, "z.7z": inner})
    verdict = verdict_of(tmp_path, outer, "a.tar")
    assert verdict["document_class"] == "unscannable"
    assert ("attachment 1 > entry 151: 7z archive: more than 200 archive entries in this "
            "message (limits.max_zip_entries); the rest were not read"
            in verdict["unscannable"]), verdict["unscannable"]  # type: ignore[operator]


def test_an_entry_past_the_attachment_limit_is_cut_and_reading_stops() -> None:
    data = tar_archive({"a.txt": LETTER + b"x" * 5000, "b.txt": LETTER}, "z")
    budget = ScanBudget(Limits(max_attachment_bytes=4096))
    entries = list(read_packed(data, "gzip file", budget, "attachment 1"))
    assert [(e.name, len(e.data)) for e in entries] == [("a.txt", 4096)]
    assert entries[0].data.startswith(LETTER)
    assert budget.reasons == ["attachment 1: gzip file entry larger than 4096 bytes was cut; "
                              "the rest of the archive was not read"]


#: (id, bytes, file name, reason)
NOT_ARCHIVES: list[tuple[str, Callable[[], bytes], str, str]] = [
    ("text-named-rar", lambda: LETTER, "tai-lieu.rar",
     "attachment 1: RAR archive could not be read (damaged or not this format)"),
    ("7z-cut-in-half", lambda: seven_zip(FILES)[:60], "tai-lieu.7z",
     "attachment 1: 7z archive could not be read (damaged or not this format)"),
    ("rar5-cut-in-half", lambda: rar5(FILES)[:80], "tai-lieu.rar",
     "attachment 1: RAR archive could not be read (damaged or not this format)"),
    ("gzip-cut", lambda: compressed(LETTER * 50, "gzip")[:100], "tai-lieu.txt.gz",
     "attachment 1: gzip file could not be read (damaged or not this format)"),
    # libarchive's mtree format would open the files this names on the gateway itself
    ("mtree-named-tar", lambda: b"#mtree\n./a type=file contents=/etc/passwd\n", "a.tar",
     "attachment 1: tar archive could not be read (damaged or not this format)"),
]


@pytest.mark.parametrize(("build", "filename", "reason"), [c[1:] for c in NOT_ARCHIVES],
                         ids=[c[0] for c in NOT_ARCHIVES])
def test_what_claims_to_be_an_archive_and_cannot_be_read_is_unscannable(
        tmp_path: Path, build: Callable[[], bytes], filename: str, reason: str) -> None:
    verdict = verdict_of(tmp_path, build(), filename)
    assert verdict["document_class"] == "unscannable"
    assert reason in verdict["unscannable"], verdict["unscannable"]  # type: ignore[operator]
    assert rule_action(verdict) == UNSCANNABLE
