"""Rendering verdicts for people (text) and for scripts (the ``check --json`` contract).

The JSON shape is public: scripts and monitoring depend on it. Add fields, never rename or remove.
"""

from __future__ import annotations

from typing import Any

from govmilter.domains.classify import DomainClassification
from govmilter.mail.names import display_domain
from govmilter.policy.model import Policy, Reply
from govmilter.policy.verdict import RecipientVerdict, Verdict

#: Version of the JSON document printed by ``govmilter check --json``.
JSON_SCHEMA_VERSION = 1


def _class_json(c: DomainClassification) -> dict[str, Any]:
    return {
        "class": c.domain_class.value,
        "domain": c.domain,
        "domain_unicode": display_domain(c.domain) if c.domain else None,
        "reason": c.reason,
        "internal": c.internal,
        "evidence": list(c.evidence),
    }


def _reply_json(reply: Reply | None) -> dict[str, Any] | None:
    if reply is None:
        return None
    return {"code": reply.code, "enhanced": reply.enhanced, "text": list(reply.lines)}


def recipient_to_json(r: RecipientVerdict) -> dict[str, Any]:
    """One recipient's verdict as a JSON-ready dict."""
    return {
        "address": r.address,
        **_class_json(r.classification),
        "action": r.action.value,
        "rule": r.rule_id,
        "compliant": r.compliant,
        "mode": r.mode.value,
        "applied": r.applied,
        "reply": _reply_json(r.reply) if r.action.value == "reject" else None,
        "copy_to": r.copy_to,
        "refused_at_rcpt": r.refused_at_rcpt,
        "unit": r.unit,
    }


def verdict_to_json(verdict: Verdict, policy: Policy) -> dict[str, Any]:
    """The whole verdict as the ``govmilter check --json`` object."""
    doc = verdict.document
    return {
        "schema": JSON_SCHEMA_VERSION,
        "policy": {"path": policy.source.path, "sha256": policy.source.sha256},
        "mode": verdict.policy_mode.value,
        "sender": {"address": verdict.sender, **_class_json(verdict.sender_class),
                   "unit": verdict.sender_unit},
        "official_document": doc.official,
        "document_class": doc.document_class.value,
        "score": doc.score,
        "threshold": policy.detection.threshold,
        "secrecy": doc.secrecy,
        "urgency": doc.urgency,
        "evidence": list(doc.evidence),
        "unscannable": list(doc.unscannable),
        "message_action": verdict.message_action.value,
        "applied_message_action": verdict.applied_message_action.value,
        "compliant": verdict.compliant,
        "recipients": [recipient_to_json(r) for r in verdict.recipients],
        "notes": list(verdict.notes),
        "forwarded": verdict.forward.forwarded.value,
        "forward_signals": list(verdict.forward.signals),
    }


def class_text(c: DomainClassification) -> str:
    """``[freemail: MX ... is consumer webmail; evidence mx:gmail-smtp-in.l.google.com]``."""
    evidence = f"; evidence {', '.join(c.evidence)}" if c.evidence else ""
    return f"[{c.domain_class}: {c.reason}{evidence}]"


def verdict_heading(verdict: Verdict, policy: Policy) -> list[str]:
    """The first lines of a text report: which policy, which sender and its class."""
    unit = policy.units.get(verdict.sender_unit) if verdict.sender_unit else None
    return [
        f"policy:   {policy.source.path} (sha256 {policy.source.sha256[:12]}, mode {policy.mode})",
        f"sender:   {verdict.sender or '<>'} {class_text(verdict.sender_class)}"
        + (f" unit {unit.id}: {unit.title}" if unit else ""),
    ]


def message_action_line(verdict: Verdict) -> str:
    """The last line of a text report: the action on the whole message, and what was applied."""
    return (f"message:  {verdict.message_action.value}"
            + ("" if verdict.message_action == verdict.applied_message_action
               else f" (applied: {verdict.applied_message_action.value})"))


def verdict_to_text(verdict: Verdict, policy: Policy) -> str:
    """A short report a security engineer reads in a terminal."""
    doc = verdict.document
    lines = verdict_heading(verdict, policy)
    if doc.official:
        marks = ", ".join(m for m in (doc.secrecy, doc.urgency) if m)
        lines.append(f"document: OFFICIAL (score {doc.score} >= {policy.detection.threshold})"
                     + (f", marked {marks}" if marks else ""))
    else:
        # a secrecy marking on mail that is not a document: class marked, matched by secret rules
        kind = f"MARKED {doc.secrecy}, not a document" if doc.secrecy else "none"
        why = ""
        if not doc.secrecy and doc.unscannable:
            # class unscannable: say so, and why (every reason is listed below as "not scanned")
            kind = "UNSCANNABLE"
            more = len(doc.unscannable) - 1
            why = f": {doc.unscannable[0]}" + (f" (and {more} more)" if more else "")
        if doc.score >= policy.detection.threshold:
            lines.append(f"document: {kind} (score {doc.score} >= "
                         f"{policy.detection.threshold}, but no number/symbol names a document)"
                         + why)
        else:
            lines.append(f"document: {kind} (score {doc.score} < {policy.detection.threshold})"
                         + why)
    for item in doc.evidence:
        lines.append(f"  evidence: {item}")
    for item in doc.unscannable:
        lines.append(f"  not scanned: {item}")
    for note in verdict.notes:
        lines.append(f"  note: {note}")
    lines.append(f"forwarded: {verdict.forward.forwarded}")
    for signal in verdict.forward.signals:
        lines.append(f"  signal: {signal}")
    lines.append("recipients:")
    for r in verdict.recipients:
        state = "" if r.applied else " (monitor: not applied)"
        compliance = "compliant" if r.compliant else "NON-COMPLIANT"
        lines.append(f"  {r.address} {class_text(r.classification)} -> "
                     f"{r.action.value.upper()}{state} "
                     f"by rule {r.rule_id}, {compliance}")
        if r.reply is not None and r.action.value == "reject":
            lines.append(f"      reply: {r.reply.code} {r.reply.enhanced} {r.reply.lines[0]}")
    lines.append(message_action_line(verdict))
    return "\n".join(lines)
