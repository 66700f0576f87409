"""What the milter does with a verdict, as values: :func:`plan` turns a :class:`Verdict` into
:data:`MilterAction` values that the pymilter adapter (:mod:`govmilter.server.milter`) only carries
out, one library call each.

Pure: the plan is made from the verdict and what the message's own headers held, so every effect
(which recipient is deleted, which header is added, why a message is held) is tested without a
milter context, and ``govmilter check`` or an incident record can show the same plan. The texts
are as the policy wrote them; the adapter encodes them for the wire (ASCII replies and reasons).
"""

from __future__ import annotations

from dataclasses import dataclass
from email.header import Header

from govmilter.policy.model import Action, Mode, Reply
from govmilter.policy.verdict import RecipientVerdict, Verdict

#: The header govmilter stamps its verdict in.
HEADER_NAME = "X-GovMilter"
#: The header a held message carries: the rule that held it and the incident to look it up by.
HOLD_HEADER = "X-GovMilter-Hold"
#: The reply of a reject whose rule gives none, when an incident id has to be carried.
POLICY_REJECT = Reply(550, "5.7.1", ("Thu bi tu choi theo chinh sach cua co quan",
                                     "Rejected by the agency's mail policy"))


@dataclass(frozen=True, slots=True)
class ReceivedHeaders:
    """What :func:`plan` needs of the headers the message arrived with."""

    subject: bytes | None = None  #: the first Subject field as received (None: none)
    stamped: int = 0  #: how many X-GovMilter fields arrived with the message


@dataclass(frozen=True, slots=True)
class Reject:
    """Refuse the message (or, at RCPT, the recipient) with this reply; None: the MTA's own."""

    reply: Reply | None


@dataclass(frozen=True, slots=True)
class RemoveHeader:
    """Remove the ``index``-th (1-based) field called ``name``."""

    name: str
    index: int


@dataclass(frozen=True, slots=True)
class AddHeader:
    """Add a header field at the end of the header."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class ChangeHeader:
    """Replace the value of the ``index``-th (1-based) field called ``name``."""

    name: str
    index: int
    value: str


@dataclass(frozen=True, slots=True)
class DeleteRecipient:
    """Take a recipient out of the envelope (the address as the verdict has it)."""

    address: str


@dataclass(frozen=True, slots=True)
class AddRecipient:
    """Add a recipient to the envelope (a copy to the compliance officer)."""

    address: str


@dataclass(frozen=True, slots=True)
class Hold:
    """Put the message in the MTA's hold queue: the reason and the rule that gave it."""

    reason: str
    rule_id: str


MilterAction = Reject | RemoveHeader | AddHeader | ChangeHeader | DeleteRecipient | AddRecipient \
    | Hold


def header_value(verdicts: tuple[RecipientVerdict, ...], document: str, monitor: bool) -> str:
    """The X-GovMilter value: ``compliant|non-compliant; rule=a,b; document=...``."""
    compliance = "compliant" if all(v.compliant for v in verdicts) else "non-compliant"
    rules = ",".join(dict.fromkeys(v.rule_id for v in verdicts))
    value = f"{compliance}; rule={rules}; document={document}"
    return value + "; mode=monitor" if monitor else value


def prefixed_subject(prefix: str, subject: bytes | None) -> str | None:
    """The subject with ``prefix`` in front, RFC 2047-encoded when the prefix is not ASCII.

    Returns None when the original subject is not valid UTF-8 (left alone rather than damaged).
    """
    if subject is None:
        return Header(prefix).encode()
    try:
        original = subject.decode("utf-8").replace("\r\n", "\n")  # milter folds with bare LF
    except UnicodeDecodeError:
        return None
    # white space between two encoded words is dropped by readers (RFC 2047 section 6.2), so
    # before an encoded subject the separating space goes inside the encoded prefix
    if original.lstrip().startswith("=?"):
        return f"{Header(prefix + ' ').encode()} {original}"
    return f"{Header(prefix).encode()} {original}"


def plan(verdict: Verdict, received: ReceivedHeaders = ReceivedHeaders(), *,
         monitor_header: bool = False) -> tuple[MilterAction, ...]:
    """The milter actions that carry out ``verdict`` at end of message, in the order to run them.

    A rejected message gets one :class:`Reject`. Otherwise, in enforce mode, X-GovMilter fields
    that arrived with the message are removed (they must not pass for ours); recipients rejected
    here are deleted (those refused at RCPT are gone already); the tag header and subject prefix
    of the delivered recipients' rules are applied; the message is held when its action is
    quarantine; the rules' copies are added. ``monitor_header`` (the policy's switch) adds the
    header, marked ``mode=monitor``, when a monitor-mode rule would have acted.
    """
    action = verdict.applied_message_action
    if action is Action.REJECT:
        rejects = (r for r in verdict.enforced() if r.action is Action.REJECT)
        return (Reject(next((r.reply for r in rejects if r.reply is not None), None)),)
    actions: list[MilterAction] = []
    if verdict.policy_mode is Mode.ENFORCE:
        actions += [RemoveHeader(HEADER_NAME, index) for index in range(received.stamped, 0, -1)]
    present = tuple(r for r in verdict.recipients if not r.refused_at_rcpt)
    removed = [r for r in present if r.applied and r.action is Action.REJECT]
    actions += [DeleteRecipient(r.address) for r in removed]
    delivered = tuple(r for r in present if r not in removed)
    actions += _tag(verdict, delivered, received.subject, monitor_header)
    if action is Action.QUARANTINE:
        held = next(r for r in verdict.enforced() if r.action is Action.QUARANTINE)
        actions.append(Hold(held.hold_reason or f"govmilter rule {held.rule_id}", held.rule_id))
    listed = {r.address for r in present}
    copies = dict.fromkeys(r.copy_to for r in verdict.enforced() if r.copy_to)
    actions += [AddRecipient(address) for address in copies
                if address is not None and address not in listed]
    return tuple(actions)


def _tag(verdict: Verdict, delivered: tuple[RecipientVerdict, ...], subject: bytes | None,
         monitor_header: bool) -> list[MilterAction]:
    """The X-GovMilter header and the subject prefix, from the delivered recipients' tags."""
    actions: list[MilterAction] = []
    tagged = [r for r in delivered if r.applied and r.action is Action.TAG and r.tag]
    would_act = any(not r.applied and r.action is not Action.ACCEPT for r in verdict.recipients)
    if any(r.tag.header for r in tagged if r.tag) or (monitor_header and would_act):
        document = verdict.document.document_class.value
        actions.append(AddHeader(HEADER_NAME, header_value(delivered or verdict.recipients,
                                                           document, would_act)))
    prefix = next((r.tag.subject_prefix for r in tagged if r.tag and r.tag.subject_prefix), None)
    new_subject = prefixed_subject(prefix, subject) if prefix else None
    if new_subject is not None:
        actions.append(AddHeader("Subject", new_subject) if subject is None
                       else ChangeHeader("Subject", 1, new_subject))
    return actions


def incident_line(incident_id: str) -> str:
    """The reply line that names the incident (ASCII, as SMTP replies are)."""
    return f"Ma su co (incident): {incident_id}"


def with_incident(actions: tuple[MilterAction, ...], incident_id: str
                  ) -> tuple[MilterAction, ...]:
    """The plan carrying the incident id: a reject's reply gains a line naming it, and a held
    message gets an ``X-GovMilter-Hold`` header (rule and incident) before it is held."""
    marked: list[MilterAction] = []
    for action in actions:
        match action:
            case Reject(reply):
                reply = reply or POLICY_REJECT
                marked.append(Reject(Reply(reply.code, reply.enhanced,
                                           (*reply.lines, incident_line(incident_id)))))
            case Hold(_, rule_id):
                marked += [AddHeader(HOLD_HEADER, f"rule={rule_id}; incident={incident_id}"),
                           action]
            case _:
                marked.append(action)
    return tuple(marked)


def forged_holds_removed(verdict: Verdict, stamped: int) -> tuple[MilterAction, ...]:
    """Remove the ``X-GovMilter-Hold`` fields a message arrived with (in enforce mode, as the
    verdict header): only govmilter's own may name a rule and an incident."""
    if verdict.policy_mode is not Mode.ENFORCE or verdict.applied_message_action is Action.REJECT:
        return ()
    return tuple(RemoveHeader(HOLD_HEADER, index) for index in range(stamped, 0, -1))
