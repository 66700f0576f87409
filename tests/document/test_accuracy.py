"""Measured accuracy of the document detector on the generated corpus (tests/make_corpus.py)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from postfix_harness import require

from govmilter.cli import main
from govmilter.document.ocr import ocr_status
from govmilter.document.settings import DocumentClass
from govmilter.policy import load_policy
from govmilter.scan import scan_message
from govmilter.tools.accuracy import evaluate_corpus

pytest.importorskip("fpdf", reason="fpdf2 (the test extra) builds the corpus PDFs")
from make_corpus import make_corpus

MIN_PRECISION = 0.97
MIN_RECALL = 0.95


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    make_corpus(out)
    return out


def test_corpus_has_the_size_and_variety_the_issue_asks(corpus: Path) -> None:
    official = sorted(p.name for p in (corpus / "official").glob("*.eml"))
    negative = sorted(p.name for p in (corpus / "negative").glob("*.eml"))
    assert len(official) >= 80 and len(negative) >= 80
    types = {name.split("--")[1].rsplit("-", 1)[0] for name in official}
    assert len(types) >= 12
    variants = {name.split("--")[0] for name in official}
    assert {"pdf", "docx", "odt", "edxml", "body", "nodiac", "nfd", "tcvn3", "vni", "cp1258",
            "mojibake"} <= variants


def test_precision_and_recall_meet_the_bar(corpus: Path) -> None:
    result = evaluate_corpus(corpus, load_policy(None))
    report = "\n".join(f"{m.path} score={m.score} {m.evidence}" for m in result.misses)
    assert result.precision >= MIN_PRECISION, report
    assert result.recall >= MIN_RECALL, report


def test_the_measure_can_fail(corpus: Path) -> None:
    # The same corpus under an impossible threshold: every official message becomes a miss,
    # except those whose secrecy marking can be read (a marking always counts: class marked).
    policy = load_policy(None)
    strict = dataclasses.replace(policy, detection=dataclasses.replace(policy.detection,
                                                                       threshold=1000.0))
    result = evaluate_corpus(corpus, strict)
    readable_marks = [p for p in (corpus / "official").glob("*mat.eml")
                      if not p.name.startswith("scan-signed")]
    assert result.true_positives == len(readable_marks) > 0
    assert len(result.misses) == result.false_negatives > 80


def test_secrecy_levels_are_read_from_every_format_with_text(corpus: Path) -> None:
    policy = load_policy(None)
    checked = 0
    for path in (corpus / "official").glob("*mat.eml"):
        if path.name.startswith("scan-signed"):  # an image has no marking to read
            continue
        expected = {"mat": "MẬT", "toi-mat": "TỐI MẬT", "tuyet-mat": "TUYỆT MẬT"}[
            path.stem.split("--")[-1]]
        assert scan_message(path.read_bytes(), policy).document.secrecy == expected, path.name
        checked += 1
    assert checked >= 10


def test_eval_command_prints_figures_and_json(corpus: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(corpus)]) == 0
    out = capsys.readouterr().out
    assert "precision: 1.0000" in out or "precision: 0.9" in out
    assert "recall:" in out
    assert main(["eval", "--json", str(corpus)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["true_positives"] + data["false_negatives"] >= 80
    assert data["precision"] >= MIN_PRECISION


def test_eval_command_refuses_a_missing_corpus(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(tmp_path / "nothing")]) == 1
    assert "not a directory" in capsys.readouterr().err
    assert main(["eval", str(tmp_path)]) == 1
    assert "no .eml files" in capsys.readouterr().err


def test_the_negatives_that_only_look_like_markings_are_all_read_as_none(corpus: Path) -> None:
    # mật khẩu, mật ong (with "Mật" wrapped onto a line of its own), news about bí mật nhà nước
    # in capitals, khẩn cấp, a forwarded and quoted company letter with the national heading
    policy = load_policy(None)
    kinds = ("password", "honey", "secrecy-news", "secrecy-news-pdf", "company-forward")
    checked = 0
    for kind in kinds:
        for path in (corpus / "negative").glob(f"{kind}-*.eml"):
            document = scan_message(path.read_bytes(), policy).document
            assert document.document_class is DocumentClass.NONE, (path.name, document.evidence)
            checked += 1
    assert checked >= 5 * len(kinds)


def test_a_marking_read_in_a_negative_counts_as_a_false_alarm(tmp_path: Path) -> None:
    for label in ("official", "negative"):
        (tmp_path / label).mkdir()
    (tmp_path / "negative" / "chat.eml").write_bytes(
        "From: a@example.com\nSubject: hi\nContent-Type: text/plain; charset=utf-8\n\n"
        "TỐI MẬT\nchuyện riêng\n".encode())
    result = evaluate_corpus(tmp_path, load_policy(None))
    assert (result.false_positives, result.precision) == (1, 0.0)
    assert [m.path for m in result.misses] == ["negative/chat.eml"]


MIN_SCAN_RECALL = 0.90
MIN_SCAN_SECRECY = 0.90


def test_scans_and_photos_meet_the_bar(corpus: Path) -> None:
    """Scans (PDF, JPEG, PNG, TIFF at 150-300 dpi, phone photos) of official letters are
    official, their secrecy stamps read; images of receipts, chats and notices are not."""
    status = ocr_status()
    require(status.available, f"needs Tesseract with Vietnamese data ({status.detail})")
    policy = load_policy(None)
    scans = sorted((corpus / "official").glob("scan-*--*-5??*.eml"))
    stamped = [p for p in scans if p.stem.endswith("mat")]
    assert len(scans) >= 10 and len(stamped) >= 6
    found = {p: scan_message(p.read_bytes(), policy).document for p in scans}
    recall = sum(d.official for d in found.values()) / len(scans)
    levels = {"mat": "MẬT", "toi-mat": "TỐI MẬT", "tuyet-mat": "TUYỆT MẬT"}
    secrecy = sum(found[p].secrecy == levels[p.stem.split("--")[-1]]
                  for p in stamped) / len(stamped)
    report = "\n".join(f"{p.name}: {d.document_class} {d.secrecy} {d.evidence}"
                       for p, d in found.items())
    assert recall >= MIN_SCAN_RECALL, report
    assert secrecy >= MIN_SCAN_SECRECY, report
    assert not any(found[p].secrecy for p in scans if p not in stamped), report
    images = sorted((corpus / "negative").glob("image-*.eml"))
    assert len(images) >= 3
    assert [scan_message(p.read_bytes(), policy).document.document_class
            for p in images] == ["none"] * len(images)
