"""The detector: every cue from the subject, bodies and attachments, scored against the policy."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from govmilter.document.budget import ScanBudget
from govmilter.document.cues import (
    SCORED_HEAD_CHARS,
    SCORED_TAIL_CHARS,
    Cue,
    TextScore,
    find_secrecy_ocr,
    more_secret,
    score_nfc_text,
    score_subject,
)
from govmilter.document.evidence import OfficialDocumentEvidence
from govmilter.document.extract import ExtractedText, extract_attachments, extract_pasted
from govmilter.document.legacy import best_repair, looks_legacy
from govmilter.document.ocr import OcrEngine
from govmilter.document.scanned import Judgement, OcrSession, OcrText
from govmilter.document.settings import DetectionSettings
from govmilter.mail.limits import Limits
from govmilter.mail.message import MessageContent
from govmilter.mail.vntext import fold_lookalikes, nfc


def scoring_window(text: str) -> str:
    """The part of a text that is scored: all of it, or its head and tail when long."""
    if len(text) <= SCORED_HEAD_CHARS + SCORED_TAIL_CHARS:
        return text
    return text[:SCORED_HEAD_CHARS] + "\n" + text[-SCORED_TAIL_CHARS:]


def _score_text(part: ExtractedText) -> TextScore:
    """Cues and markings of one text, repairing a legacy encoding first when the text has one."""
    window = nfc(scoring_window(part.text))  # NFD (macOS, some PDFs) is not a legacy encoding
    if part.ocr:
        return _score_ocr_text(window, part.source)
    legacy = looks_legacy(window)
    # Neither are look-alike letters (Greek and Cyrillic ones look like mojibake): when the text
    # stops looking legacy once they are folded, it is read folded. Folding cannot come first
    # for all text: it would spoil real mojibake (a soft hyphen, "º" and "ª" are bytes of it).
    folded_window, folded = fold_lookalikes(window)
    # whether ``window`` is now as folding leaves it (nothing to fold, or its folded form)
    as_folded = not folded
    if folded and (not legacy or not looks_legacy(folded_window)):
        window, legacy, as_folded = folded_window, False, True
    else:
        folded = False
    fixed = best_repair(window) if legacy else None
    if fixed is not None:
        note = Cue(0.0, f"text in legacy encoding {fixed.encoding}, repaired", part.source,
                   f"legacy:{part.source}")
        repaired = score_nfc_text(nfc(fixed.text), part.source)
        return replace(repaired, cues=(note, *repaired.cues))
    score = score_nfc_text(window, part.source, folded=folded, fold=not as_folded)
    if not score.cues and legacy:
        return replace(score, cues=(Cue(0.0, "text looks legacy-encoded and could not be "
                                         "repaired", part.source, f"legacy:{part.source}"),))
    return score


def _score_ocr_text(window: str, source: str) -> TextScore:
    """Cues of OCR text: never legacy-encoded, and a stamp may have lost its accents."""
    score = score_nfc_text(window, source)
    stamp = find_secrecy_ocr(window)
    if score.secrecy or not stamp:  # a stamp counts on any text, a company's too
        return score
    cue = Cue(2.0, f"secrecy marking {stamp} (OCR, accents restored)", source, "secrecy")
    return replace(score, cues=(*score.cues, cue), secrecy=stamp)


def _merge(cues: list[Cue]) -> list[Cue]:
    """One cue per group, in the order groups were first seen."""
    merged: dict[str, Cue] = {}
    for cue in cues:
        current = merged.get(cue.group)
        if current is None or cue.weight > current.weight:
            merged[cue.group] = cue
    return list(merged.values())


def _official(merged: list[Cue], settings: DetectionSettings) -> tuple[float, bool]:
    """The score of the merged cues and whether they make an official document."""
    score = round(float(sum(c.weight for c in merged)), 2)
    named = any(c.identity for c in merged)
    return score, score >= settings.threshold and (named or not settings.require_symbol)


def _judge(settings: DetectionSettings) -> Callable[[list[OcrText]], Judgement]:
    """What an attachment's OCR texts say on their own (to read no more of it than needed).

    The rest of the message is left out on purpose: the reading then depends on the file and
    the settings alone, and is kept in the OCR cache under them.
    """
    def judge(texts: list[OcrText]) -> Judgement:
        cues: list[Cue] = []
        marked = False
        for text in texts:
            found = _score_ocr_text(nfc(text.text), text.source)
            cues.extend(found.cues)
            marked = marked or found.secrecy is not None
        return Judgement(official=_official(_merge(cues), settings)[1], marked=marked)
    return judge


def detect_document(content: MessageContent, settings: DetectionSettings,
                    limits: Limits | None = None,
                    clock: Callable[[], float] = time.monotonic,
                    budget: ScanBudget | None = None,
                    ocr: OcrEngine | None = None,
                    ocr_unavailable: str = "OCR is not available here"
                    ) -> OfficialDocumentEvidence:
    """Decide whether the message carries an official document, with evidence and markings.

    ``limits`` bound the attachment extraction (pages, ZIP entries and ratio, OCR pages and
    seconds, time); past one, the reason joins ``unscannable`` and scanning of that part stops.
    ``budget``: one already running (:func:`govmilter.scan.scan_with` starts it before
    parsing), else a new one from ``limits`` and ``clock``. Scans and images are read with
    ``ocr``; without an engine they are ``unscannable``, with ``ocr_unavailable`` as the reason.
    """
    if budget is None:
        budget = ScanBudget(limits or Limits(), clock)
    subject = score_subject(content.subject)
    cues = list(subject.cues)
    session = OcrSession(ocr, budget, ocr_unavailable, clock, judge=_judge(settings),
                         detection=settings)
    extraction = extract_attachments(content.attachments, budget, session)
    extract_pasted(content.texts, budget, extraction)
    texts = [ExtractedText(p.source, p.text) for p in content.texts] + extraction.texts
    cues.extend(extraction.cues)
    secrecy = subject.secrecy
    urgency = extraction.urgency or subject.urgency
    for part in texts:
        if budget.expired():
            break
        found = _score_text(part)
        cues.extend(found.cues)
        secrecy = more_secret(secrecy, found.secrecy)
        urgency = urgency or found.urgency
    merged = _merge(cues)
    score, official = _official(merged, settings)
    evidence = [str(c) for c in merged]
    if score >= settings.threshold and not official:
        evidence.append("no document number/symbol found: not counted as official "
                        "(detection.require_symbol)")
    # A secrecy marking is reported whether or not the message scores as a document (class
    # "marked" when it does not); urgency only means something on a document.
    return OfficialDocumentEvidence(
        official=official, score=score, secrecy=secrecy,
        urgency=urgency if official else None, evidence=tuple(evidence),
        # the walk and the extraction share the budget: a reason both met is given once
        unscannable=tuple(dict.fromkeys((*content.unscannable, *budget.reasons))),
    )
