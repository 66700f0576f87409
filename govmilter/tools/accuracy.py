"""Measuring the document detector on a labelled corpus: precision, recall and every miss.

A corpus is a directory with ``official/`` and ``negative/`` sub-directories of ``.eml`` files;
the directory is the label, and the detector only ever sees the message bytes. Messages go
through :func:`govmilter.scan.scan_message`, the path the milter uses, with the given policy.
A message counts as flagged when the rules treat it as a document: class ``official``,
``secret`` or ``marked`` (a secrecy marking alone is refused to webmail like a secret document,
so a marking read in a negative is a false alarm).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govmilter.document.settings import DocumentClass
from govmilter.errors import GovmilterError
from govmilter.policy.model import Policy
from govmilter.scan import scan_message

LABELS = ("official", "negative")
#: The classes rules on ``document: official`` match.
FLAGGED = frozenset({DocumentClass.OFFICIAL, DocumentClass.SECRET, DocumentClass.MARKED})


class CorpusError(GovmilterError):
    """The corpus directory cannot be evaluated (missing, empty, unreadable)."""


@dataclass(frozen=True, slots=True)
class Miss:
    """A message the detector got wrong."""

    path: str  #: relative to the corpus directory
    expected: str  #: "official" or "negative"
    score: float
    evidence: tuple[str, ...]
    unscannable: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Confusion counts and misses of one corpus run."""

    corpus: str
    threshold: float
    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int
    misses: tuple[Miss, ...]

    @property
    def precision(self) -> float:
        """Share of flagged messages that are official (1.0 when none was flagged)."""
        flagged = self.true_positives + self.false_positives
        return self.true_positives / flagged if flagged else 1.0

    @property
    def recall(self) -> float:
        """Share of official messages that were flagged (1.0 for a corpus without any)."""
        official = self.true_positives + self.false_negatives
        return self.true_positives / official if official else 1.0


def _messages(corpus: Path, label: str) -> list[Path]:
    folder = corpus / label
    return sorted(p for p in folder.rglob("*.eml") if p.is_file()) if folder.is_dir() else []


def evaluate_corpus(corpus: Path, policy: Policy) -> Evaluation:
    """Scan every message of the corpus and compare the detector's answer with its label.

    :raises CorpusError: when the directory is missing or holds no labelled message.
    """
    if not corpus.is_dir():
        raise CorpusError(f"{corpus}: not a directory")
    counts = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    misses: list[Miss] = []
    total = 0
    for label in LABELS:
        for path in _messages(corpus, label):
            total += 1
            try:
                raw = path.read_bytes()
            except OSError as exc:
                raise CorpusError(f"{path}: cannot read: {exc.strerror or exc}") from exc
            document = scan_message(raw, policy).document
            expected = label == "official"
            flagged = document.document_class in FLAGGED
            key = ("tp" if flagged else "fn") if expected else ("fp" if flagged else "tn")
            counts[key] += 1
            if flagged != expected:
                misses.append(Miss(str(path.relative_to(corpus)), label, document.score,
                                   document.evidence, document.unscannable))
    if total == 0:
        raise CorpusError(f"{corpus}: no .eml files under official/ or negative/")
    return Evaluation(str(corpus), policy.detection.threshold, counts["tp"], counts["fp"],
                      counts["fn"], counts["tn"], tuple(misses))


def evaluation_to_json(result: Evaluation) -> dict[str, Any]:
    """The evaluation as a JSON-ready dict (``govmilter eval --json``)."""
    return {
        "corpus": result.corpus,
        "threshold": result.threshold,
        "precision": round(result.precision, 4),
        "recall": round(result.recall, 4),
        "true_positives": result.true_positives,
        "false_positives": result.false_positives,
        "false_negatives": result.false_negatives,
        "true_negatives": result.true_negatives,
        "misses": [{"file": m.path, "expected": m.expected, "score": m.score,
                    "evidence": list(m.evidence), "unscannable": list(m.unscannable)}
                   for m in result.misses],
    }


def evaluation_to_text(result: Evaluation) -> str:
    """A short report: the figures, then each miss with its score and evidence."""
    official = result.true_positives + result.false_negatives
    negative = result.false_positives + result.true_negatives
    lines = [
        f"corpus:    {result.corpus} ({official} official, {negative} negative)",
        f"threshold: {result.threshold:g}",
        f"precision: {result.precision:.4f} ({result.true_positives} of "
        f"{result.true_positives + result.false_positives} flagged are official)",
        f"recall:    {result.recall:.4f} ({result.true_positives} of {official} official found)",
        f"misses:    {len(result.misses)} ({result.false_negatives} missed, "
        f"{result.false_positives} false alarms)",
    ]
    for miss in result.misses:
        kind = "missed" if miss.expected == "official" else "false alarm"
        lines.append(f"  {kind}: {miss.path} (score {miss.score:g})")
        lines += [f"      evidence: {item}" for item in miss.evidence]
        lines += [f"      not scanned: {item}" for item in miss.unscannable]
    return "\n".join(lines)
