"""A policy in plain Vietnamese (with English labels): the rules an agency reports to the Ministry.

Letter 588/BTTTT-THH asks agencies to send the rules they adopted as well as how well they are
followed; the compliance report opens with this text.  Pure: takes a :class:`Policy`, returns
values; the report renders them as HTML or Markdown.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from dataclasses import dataclass

from govmilter.domains.classify import DomainClass, DomainException
from govmilter.policy import Action, DocumentClass, Mode, Policy, RejectScope, Rule, effective_mode
from govmilter.policy.forwarding import Forwarded
from govmilter.policy.units import Unit

#: Sender and recipient classes as a reader of the report understands them.
CLASS_VI = {
    DomainClass.OFFICIAL: "hộp thư công vụ",
    DomainClass.FREEMAIL: "hộp thư miễn phí (Gmail, Yahoo, ...)",
    DomainClass.EXTERNAL: "địa chỉ bên ngoài",
    DomainClass.HOSTED: "hộp thư thuê dịch vụ dùng chung (hosted)",
    DomainClass.LOOKALIKE: "tên miền giả danh cơ quan nhà nước (lookalike)",
    DomainClass.UNKNOWN: "tên miền không xác minh được (unknown)",
}

#: What a rule matches on, as the subject of the sentence.
DOCUMENT_VI = {
    DocumentClass.SECRET: "Văn bản mật hoặc thư có dấu mật (MẬT, TỐI MẬT, TUYỆT MẬT)",
    DocumentClass.MARKED: "Thư có dấu mật nhưng không nhận ra là văn bản (marked)",
    DocumentClass.OFFICIAL: "Văn bản (kể cả văn bản mật)",
    DocumentClass.UNSCANNABLE: "Thư có phần không quét được (unscannable)",
    DocumentClass.NONE: "Thư không chứa văn bản",
    DocumentClass.ANY: "Mọi thư",
}

ACTION_VI = {
    Action.ACCEPT: "cho qua (accept)",
    Action.TAG: "gắn nhãn cảnh báo (tag)",
    Action.QUARANTINE: "giữ lại để kiểm tra (quarantine)",
    Action.REJECT: "từ chối (reject)",
}

MODE_VI = {
    Mode.ENFORCE: "áp dụng (enforce)",
    Mode.MONITOR: "chỉ giám sát (monitor): thư không bị thay đổi, chỉ ghi nhận",
}


@dataclass(frozen=True, slots=True)
class RuleText:
    """One rule as a sentence, plus the details that qualify it."""

    rule_id: str
    sentence: str
    compliant: bool
    details: tuple[str, ...]
    description: str  #: the policy author's own description, as written in the YAML


@dataclass(frozen=True, slots=True)
class PolicyText:
    """The whole policy in plain Vietnamese."""

    source: str
    sha256: str
    general: tuple[str, ...]
    rules: tuple[RuleText, ...]
    exceptions: tuple[str, ...]
    units: tuple[str, ...] = ()  #: one sentence per unit: its names, id and members
    #: each declared unit's id and title (Vietnamese name, English in brackets), in order
    unit_titles: tuple[tuple[str, str], ...] = ()

    def unit_title(self, unit_id: str) -> str:
        """How the report names a unit: "Phòng Kế toán [ke-toan]"; "" is no unit, and an id
        the policy no longer declares is shown as it is."""
        if not unit_id:
            return "Không thuộc đơn vị nào (no unit)"
        title = dict(self.unit_titles).get(unit_id)
        return f"{title} [{unit_id}]" if title else f"{unit_id} (không còn trong chính sách)"


def vn_date(day: _dt.date) -> str:
    """A date as Vietnamese administrative documents write it: 30/06/2027."""
    return day.strftime("%d/%m/%Y")


def vn_int(value: float) -> str:
    """A count the Vietnamese way: 12.345 (dot between thousands)."""
    return f"{round(value):,}".replace(",", ".")


def _classes(classes: frozenset[DomainClass] | None, anyone: str) -> str:
    if classes is None:
        return anyone
    return " hoặc ".join(CLASS_VI[c] for c in sorted(classes, key=list(DomainClass).index))


#: Entries of a sender list a sentence names before it counts the rest.
LISTED_ENTRIES = 5


def _listed(entries: Iterable[str], more: str) -> str:
    names = list(entries)
    shown = ", ".join(names[:LISTED_ENTRIES])
    rest = len(names) - LISTED_ENTRIES
    return f"{shown} và {rest} {more} khác" if rest > 0 else shown


def _sender_lists(rule: Rule) -> list[str]:
    """The rule's sender lists as phrases: "thuộc đơn vị (unit) van-phong"..."""
    phrases = []
    if rule.sender_units is not None:
        phrases.append("thuộc đơn vị (unit) " + _listed(sorted(rule.sender_units), "đơn vị"))
    if rule.sender_addresses is not None:
        phrases.append("có địa chỉ (address) " + _listed(rule.sender_addresses.entries,
                                                         "địa chỉ"))
    if rule.sender_domains is not None:
        phrases.append("thuộc tên miền (domain) " + _listed(rule.sender_domains.entries,
                                                            "tên miền"))
    return phrases


def rule_sentence(rule: Rule) -> str:
    """"Văn bản mật gửi từ hộp thư công vụ tới hộp thư miễn phí (...): từ chối (reject)"."""
    sender = " ".join([_classes(rule.senders, "bất kỳ ai"), " và ".join(_sender_lists(rule))]
                      ).strip()
    recipient = _classes(rule.recipients, "bất kỳ ai")
    action = ACTION_VI[rule.action]
    if rule.action is Action.REJECT and rule.scope is RejectScope.MESSAGE:
        action = "từ chối cả thư (reject the whole message)"
    return f"{DOCUMENT_VI[rule.document]} gửi từ {sender} tới {recipient}: {action}"


def _rule_details(rule: Rule, policy: Policy) -> Iterable[str]:
    yield ("Tuân thủ (compliant)" if rule.compliant
           else "Không tuân thủ (non-compliant): được đếm vào báo cáo")
    mode = effective_mode(rule, policy)
    if mode is Mode.MONITOR:
        yield f"Chế độ (mode): {MODE_VI[mode]}"
    if rule.authenticated is not None:
        yield ("Chỉ khi người gửi đã đăng nhập (SMTP AUTH)" if rule.authenticated
               else "Chỉ khi người gửi chưa đăng nhập (no SMTP AUTH)")
    if rule.services:
        yield "Chỉ trên dịch vụ (service): " + ", ".join(sorted(rule.services))
    if rule.sender_units is not None:
        yield "Chỉ khi người gửi thuộc đơn vị (sender unit): " + "; ".join(
            f"{unit.title} [{unit.id}]" for unit in policy.units.units
            if unit.id in rule.sender_units)
    if rule.sender_addresses is not None:
        yield ("Chỉ khi địa chỉ người gửi là (sender address): "
               + ", ".join(rule.sender_addresses.entries))
    if rule.sender_domains is not None:
        yield ("Chỉ khi người gửi thuộc tên miền, kể cả tên miền con (sender domain, sub-domains "
               "included; *. sub-domains only): " + ", ".join(rule.sender_domains.entries))
    if rule.forwarded is Forwarded.AUTO:
        yield ("Chỉ thư được chuyển tiếp tự động từ hộp thư công vụ "
               "(automatic forwards out of an official mailbox)")
    elif rule.forwarded is Forwarded.NONE:
        yield ("Chỉ thư không phải chuyển tiếp tự động "
               "(mail that is not an automatic forward)")
    if rule.action is Action.TAG and rule.tag.subject_prefix:
        yield f"Thêm vào đầu tiêu đề (subject prefix): {rule.tag.subject_prefix}"
    if rule.action is Action.REJECT and rule.reply is not None:
        yield (f"Trả lời người gửi (reply): {rule.reply.code} {rule.reply.enhanced} "
               + " / ".join(rule.reply.lines))
    if rule.hold_reason:
        yield f"Lý do giữ thư (hold reason): {rule.hold_reason}"
    if rule.copy_to:
        yield f"Gửi bản sao tới (copy to): {rule.copy_to}"


def exception_sentence(exc: DomainException, today: _dt.date) -> str:
    """"Địa chỉ x được coi là hộp thư công vụ đến hết ngày 30/06/2027. Lý do: ..."."""
    what = f"Địa chỉ {exc.match}" if "@" in exc.match else f"Tên miền {exc.match}"
    if exc.expires is None:
        until = "không thời hạn (no expiry)"
    elif exc.active_on(today):
        until = f"đến hết ngày {vn_date(exc.expires)} (expires)"
    else:
        until = f"đã hết hạn ngày {vn_date(exc.expires)}, không còn hiệu lực (expired)"
    return f"{what} được coi là {CLASS_VI[exc.treat_as]}, {until}. Lý do (reason): {exc.reason}"


def describe_policy(policy: Policy, today: _dt.date | None = None) -> PolicyText:
    """Render ``policy`` as the sentences the report opens with."""
    today = today or _dt.date.today()
    d = policy.domains
    on_error = ("yêu cầu máy chủ gửi thử lại sau, không mất thư (tempfail)"
                if policy.on_error.value == "tempfail" else "cho thư qua, không kiểm tra (accept)")
    general = (
        f"Chế độ chung (mode): {MODE_VI[policy.mode]}.",
        f"Khi không kiểm tra được thư (on_error): {on_error}.",
        f"Tên miền công vụ (official): {len(d.official)} hậu tố và tên miền cơ quan; "
        f"tên miền nội bộ (internal): {len(d.internal)}; "
        f"tên miền thư miễn phí (freemail): {vn_int(len(d.freemail))}, "
        f"trừ {len(d.freemail_exclude)} tên miền loại ra (excluded).",
        f"Thư được coi là văn bản khi điểm nhận dạng từ {policy.detection.threshold:g} "
        f"(detection threshold); các quy tắc được xét theo thứ tự, quy tắc đầu tiên khớp "
        f"được áp dụng (first match wins).",
    )
    rules = tuple(
        RuleText(rule.id, rule_sentence(rule), rule.compliant,
                 tuple(_rule_details(rule, policy)), rule.description)
        for rule in policy.rules
    )
    exceptions = tuple(exception_sentence(e, today) for e in d.exceptions)
    units = tuple(unit_sentence(unit) for unit in policy.units.units)
    return PolicyText(policy.source.path, policy.source.sha256, general, rules, exceptions,
                      units, tuple((unit.id, unit.title) for unit in policy.units.units))


def unit_sentence(unit: Unit) -> str:
    """"Phòng Kế hoạch (Planning) [ke-hoach]: người gửi ke-hoach.stc.gov.vn, ..."."""
    members = _listed(unit.members, "mục") if unit.members else "chưa có (none)"
    return (f"{unit.title} [{unit.id}]: người gửi thuộc (senders) {members}; tên miền gồm cả "
            "tên miền con, *. chỉ tên miền con (domains include their sub-domains; *. "
            "sub-domains only)")
