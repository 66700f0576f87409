"""Reading a YAML policy into a :class:`Policy`, with every problem reported as ``file:line``."""

from __future__ import annotations

import datetime as _dt
import difflib
import hashlib
import ipaddress
import re
import reprlib
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from govmilter.document.settings import DetectionSettings, DocumentClass
from govmilter.domains.addressmap import AddressMap
from govmilter.domains.classify import (
    DomainClass,
    DomainException,
    DomainLists,
    DomainSuffixSet,
    builtin_freemail_domains,
)
from govmilter.domains.lookalike import REAL_NEIGHBOURS_OF_GOV_VN, LookalikeSettings
from govmilter.domains.political import POLITICAL_SYSTEM_DOMAINS
from govmilter.domains.settings import DnsSettings, Nameserver
from govmilter.errors import GovmilterError
from govmilter.mail.addresses import parse_address
from govmilter.mail.limits import Limits
from govmilter.mail.names import DomainError, normalize_domain
from govmilter.policy.forwarding import Forwarded
from govmilter.policy.model import (
    NOTICE_FIELDS,
    Action,
    AgencySettings,
    FailureAction,
    IncidentSettings,
    Mode,
    NoticeSettings,
    NoticeTemplate,
    Policy,
    PolicyProblem,
    PolicySource,
    RejectScope,
    Reply,
    Rule,
    Tag,
)
from govmilter.policy.units import MAX_UNITS, UNIT_ID_RE, Unit, Units


class PolicyError(GovmilterError):
    """The policy is not valid."""

    def __init__(self, problems: list[PolicyProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in problems) or "invalid policy")


def default_policy_path() -> Path:
    """The embedded default policy shipped inside the package."""
    return Path(__file__).resolve().parent.parent / "policies" / "default.yaml"


# --- YAML with line numbers --------------------------------------------------------------------


class _Map(dict[Any, Any]):
    """A mapping that remembers the line of itself and of each key.

    The line is required: every mapping the checker looks into, even the empty stand-in for a
    missing or wrong-typed section, can name a line in an error message.
    """

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line
        self.key_lines: dict[Any, int] = {}


class _Seq(list[Any]):
    """A sequence that remembers the line of itself and of each item."""

    def __init__(self, items: list[Any], line: int, item_lines: list[int]) -> None:
        super().__init__(items)
        self.line = line
        self.item_lines = item_lines


class _LineLoader(yaml.SafeLoader):
    #: (line, message) of problems found while constructing: duplicate and unusable keys
    problems: list[tuple[int, str]]


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> _Map:
    loader.flatten_mapping(node)
    result = _Map(node.start_mark.line + 1)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        try:
            hash(key)
        except TypeError:  # a YAML complex key ("? [a]"): a list or mapping cannot be a name
            loader.problems.append((line, f"key {_brief(key)} must be text, not {_kind(key)}"))
            continue
        if key in result.key_lines:
            loader.problems.append((line, f"duplicate key {_brief(key)}"))
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = line
    return result


def _construct_seq(loader: _LineLoader, node: yaml.SequenceNode) -> _Seq:
    return _Seq([loader.construct_object(child, deep=True) for child in node.value],
                node.start_mark.line + 1, [child.start_mark.line + 1 for child in node.value])


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_map)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_seq)


# --- validation ---------------------------------------------------------------------------------

#: C0 and C1 controls and the Unicode line separators: each can end a line somewhere (Python's
#: str.splitlines splits on U+0085 and U+2028), so none may reach an SMTP reply or a header.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# \Z, not $: "$" also matches before a final newline, which would let "5.7.1\n" through.
_ENHANCED_RE = re.compile(r"^([245])\.\d{1,3}\.\d{1,3}\Z")
_RULE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}\Z")
_SERVICE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}\Z")
#: Largest policy file read (the default is 7 kB; a long freemail list stays far below).
MAX_POLICY_BYTES = 4 * 1024 * 1024
#: Most YAML nodes a policy may expand to, counting every use of an alias: anchors and aliases
#: can otherwise describe 9^9 items in a few lines ("billion laughs").
MAX_YAML_NODES = 100_000

_BRIEF = reprlib.Repr()
_BRIEF.maxstring = _BRIEF.maxother = 60
_BRIEF.maxlist = _BRIEF.maxdict = _BRIEF.maxtuple = 4
_BRIEF.maxlevel = 2


def _brief(value: Any) -> str:
    """A short repr for error messages, whatever the size of the value."""
    return _BRIEF.repr(value)


def _oversized_node(root: yaml.Node, limit: int) -> yaml.Node | None:
    """The first node that expands (every alias counted) to more than ``limit`` nodes or refers
    to itself; None when the document is within the limit.

    Iterative, with the size of each shared node computed once, so a bomb costs its written size.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        children = _children(node)
        if not children_done:
            if key in open_nodes:
                return node  # an alias to one of its own ancestors: infinite
            open_nodes.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
            continue
        open_nodes.discard(key)
        total = 1 + sum(sizes.get(id(child), limit + 1) for child in children)
        if total > limit:
            return node
        sizes[key] = total
    return None


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [item for pair in node.value for item in pair]
    return []


class _Checker:
    """Walks the parsed YAML, collecting problems instead of stopping at the first."""

    def __init__(self, path: str, today: _dt.date) -> None:
        self.path = path
        self.today = today
        self.problems: list[PolicyProblem] = []

    def error(self, line: int, message: str) -> None:
        self.problems.append(PolicyProblem(self.path, line, message))

    def warn(self, line: int, message: str) -> None:
        self.problems.append(PolicyProblem(self.path, line, message, "warning"))

    def mapping(self, value: Any, line: int, where: str, allowed: tuple[str, ...], *,
                empty_ok: bool = True) -> _Map | None:
        """Check that ``value`` is a mapping with only ``allowed`` keys.

        Nothing (``key:`` left empty) is an empty mapping at ``line`` when ``empty_ok``; any
        other type is reported at ``line`` and gives None, so that the caller skips the section
        (or uses ``_Map(line)``) instead of reporting every key it lacks.
        """
        if value is None and empty_ok:
            return _Map(line)
        if not isinstance(value, _Map):
            self.error(line, f"{where} must be a mapping, not {_kind(value)}")
            return None
        for key, key_line in value.key_lines.items():
            if key not in allowed:
                hint = difflib.get_close_matches(key, allowed, n=1) if isinstance(key, str) \
                    else []
                suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
                self.error(
                    key_line,
                    f"unknown key {_brief(key)} in {where} (expected one of: {', '.join(allowed)})"
                    f"{suggestion}",
                )
        return value

    def section(self, value: Any, line: int, where: str, allowed: tuple[str, ...]) -> _Map:
        """:meth:`mapping` for an optional section: a wrong type is reported and the section
        read as empty (its defaults), so that its keys are not reported missing one by one."""
        checked = self.mapping(value, line, where, allowed)
        return checked if checked is not None else _Map(line)

    def sequence(self, value: Any, line: int, where: str) -> list[tuple[Any, int]]:
        """Return ``(item, line)`` pairs; a scalar is accepted as a one-item list."""
        if value is None:
            return []
        if isinstance(value, _Seq):
            return list(zip(value, value.item_lines, strict=True))
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            return [(value, line)]
        self.error(line, f"{where} must be a list, not {_kind(value)}")
        return []

    def enum(self, value: Any, line: int, where: str, kind: type[Any]) -> Any:
        allowed = [m.value for m in kind]
        if isinstance(value, str) and value in allowed:
            return kind(value)
        hint = difflib.get_close_matches(value, allowed, n=1) if isinstance(value, str) else []
        suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
        self.error(line, f"{where}: unknown value {_brief(value)} (expected one of: "
                   f"{', '.join(allowed)}){suggestion}")
        return None

    def number(self, value: Any, line: int, where: str, *, minimum: float = 0,
               integer: bool = True) -> Any:
        numeric = isinstance(value, int) or (not integer and isinstance(value, float))
        if isinstance(value, bool) or not numeric:
            self.error(line, f"{where} must be {'an integer' if integer else 'a number'}, "
                       f"not {_kind(value)}")
            return None
        if value < minimum:
            self.error(line, f"{where} must be at least {minimum}")
            return None
        return value

    def boolean(self, value: Any, line: int, where: str) -> bool | None:
        if isinstance(value, bool):
            return value
        self.error(line, f"{where} must be true or false, not {_kind(value)}")
        return None

    def text(self, value: Any, line: int, where: str, *, single_line: bool = True) -> str | None:
        if not isinstance(value, str):
            self.error(line, f"{where} must be text, not {_kind(value)}")
            return None
        if single_line and _CONTROL_RE.search(value):
            self.error(line, f"{where} must not contain control characters (CR, LF, NUL...): "
                       "they would inject lines into SMTP replies or headers")
            return None
        return value

    def domain(self, value: Any, line: int, where: str) -> str | None:
        if not isinstance(value, str):
            self.error(line, f"{where}: domain must be text, not {_kind(value)}")
            return None
        if "@" in value:
            self.error(line, f"{where}: {_brief(value)} is an address, not a domain")
            return None
        try:
            normalize_domain(value[2:] if value.startswith("*.") else value)
        except DomainError as exc:
            detail = str(exc) if len(str(exc)) <= 160 else str(exc)[:157] + "..."
            self.error(line, f"{where}: invalid domain {_brief(value)}: {detail}")
            return None
        return value


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    # Plain lists, sets and dicts come only from the tags !!omap, !!pairs and !!set.
    return {_Map: "a mapping", _Seq: "a list", str: "text", bool: "true/false", int: "a number",
            float: "a number", list: "a tagged list (!!omap or !!pairs)",
            set: "a set (!!set)", bytes: "binary data (!!binary)", _dt.date: "a date",
            _dt.datetime: "a date and time"}.get(type(value), type(value).__name__)


def _line(m: _Map, key: str) -> int:
    return m.key_lines.get(key, m.line)


_TOP_KEYS = ("version", "mode", "monitor_header", "on_error", "domains", "detection", "limits",
             "dns", "incidents", "agency", "notices", "units", "rules")
_DOMAIN_KEYS = ("official", "internal", "freemail", "exceptions", "lookalike")
_LOOKALIKE_KEYS = ("enabled", "protect", "allow")
_DNS_KEYS = ("enabled", "nameservers", "timeout", "budget", "cache_size", "negative_ttl",
             "failure_ttl", "max_ttl", "consumer_mx", "hosted_mx", "hosted_class")
#: dns: keys holding seconds, and the smallest value that makes sense for each
_DNS_SECONDS = {"timeout": 0.01, "budget": 0.01, "negative_ttl": 0.0, "failure_ttl": 0.0,
                "max_ttl": 0.0}
_OFFICIAL_KEYS = ("suffixes", "agencies", "political_system")
_FREEMAIL_KEYS = ("builtin", "extra", "exclude")
_EXCEPTION_KEYS = ("address", "domain", "treat_as", "expires", "reason")
_RULE_KEYS = ("id", "description", "when", "action", "mode", "compliant", "reply", "tag",
              "scope", "copy_to", "hold_reason", "notice")
_WHEN_KEYS = ("sender", "sender_unit", "sender_address", "sender_domain", "recipient",
              "document", "authenticated", "service", "forwarded")
_UNIT_KEYS = ("id", "name", "name_en", "members")
_REPLY_KEYS = ("code", "enhanced", "vi", "en")
_TAG_KEYS = ("header", "subject_prefix")
_LIMIT_FIELDS = {
    "max_scan_bytes": True, "max_attachment_bytes": True, "max_attachments": True,
    "max_depth": True, "max_pdf_pages": True, "max_zip_entries": True, "max_zip_ratio": True,
    "max_archive_depth": True, "max_seconds": False, "memory_bytes": True, "max_ocr_pages": True,
    "max_ocr_seconds": False, "max_image_pixels": True,
}


def parse_policy(text: str, filename: str = "<string>", *, today: _dt.date | None = None,
                 freemail_source: Callable[[], frozenset[str]] = builtin_freemail_domains
                 ) -> Policy:
    """Validate YAML text and compile it into a :class:`Policy`.

    :raises PolicyError: with every error found, each as ``filename:line: message``.
    """
    check = _Checker(filename, today or _dt.date.today())
    if len(text) > MAX_POLICY_BYTES:
        raise PolicyError([PolicyProblem(filename, 1, f"policy larger than {MAX_POLICY_BYTES} "
                                                      "bytes")])
    loader: _LineLoader | None = None
    try:
        loader = _LineLoader(text)  # its reader refuses NUL and other non-printables at once
        loader.problems = []
        node = loader.get_single_node()
        bomb = _oversized_node(node, MAX_YAML_NODES) if node is not None else None
        if bomb is not None:
            raise PolicyError([PolicyProblem(
                filename, bomb.start_mark.line + 1, f"the policy expands to more than "
                f"{MAX_YAML_NODES} YAML nodes through anchors and aliases (or an alias refers "
                "to itself)")])
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        if isinstance(exc, yaml.reader.ReaderError):  # it has a character position, no mark
            line = text.count("\n", 0, max(exc.position, 0)) + 1
            problem = f"character #x{exc.character:04x} is not allowed ({exc.reason})"
        problems = [PolicyProblem(filename, line, f"YAML syntax error: {problem}")]
        raise PolicyError(problems) from None
    except RecursionError:  # PyYAML composes and constructs recursively
        raise PolicyError([PolicyProblem(filename, 1, "YAML nested too deeply")]) from None
    finally:
        if loader is not None:
            loader.dispose()
    for line, message in loader.problems:
        check.error(line, message)
    top = check.mapping(data, 1, "the policy", _TOP_KEYS)
    if top is None:
        raise PolicyError(check.problems)

    version = top.get("version", 1)
    if version != 1:
        check.error(_line(top, "version"),
                    f"unsupported policy version {_brief(version)} (expected 1)")
    mode = check.enum(top.get("mode", "enforce"), _line(top, "mode"), "mode", Mode) or Mode.ENFORCE
    monitor_header = bool(check.boolean(top.get("monitor_header", False),
                                        _line(top, "monitor_header"), "monitor_header"))
    on_error = check.enum(top.get("on_error", "tempfail"), _line(top, "on_error"), "on_error",
                          FailureAction) or FailureAction.TEMPFAIL
    domains = _domains(check, top.get("domains"), _line(top, "domains"), freemail_source)
    detection = _detection(check, top.get("detection"), _line(top, "detection"))
    limits = _limits(check, top.get("limits"), _line(top, "limits"))
    dns = _dns(check, top.get("dns"), _line(top, "dns"))
    incidents = _incidents(check, top.get("incidents"), _line(top, "incidents"))
    agency = _agency(check, top.get("agency"), _line(top, "agency"))
    notices = _notices(check, top.get("notices"), _line(top, "notices"))
    units = _units(check, top.get("units"), _line(top, "units"))
    rules = _rules(check, top.get("rules"), _line(top, "rules"), units)

    errors = [p for p in check.problems if p.severity == "error"]
    if errors:
        raise PolicyError(check.problems)
    sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return Policy(
        source=PolicySource(filename, sha), mode=mode, domains=domains, rules=tuple(rules),
        limits=limits, detection=detection, on_error=on_error, monitor_header=monitor_header,
        dns=dns, incidents=incidents, agency=agency, notices=notices, units=units,
        warnings=tuple(check.problems),
    )


def load_policy(path: str | Path | None = None, *, today: _dt.date | None = None) -> Policy:
    """Read and compile a policy file; the embedded default when ``path`` is None.

    :raises PolicyError: when the file cannot be read or is invalid.
    """
    file = Path(path) if path is not None else default_policy_path()
    try:
        if file.stat().st_size > MAX_POLICY_BYTES:
            raise PolicyError([PolicyProblem(str(file), 1, f"policy larger than "
                                                           f"{MAX_POLICY_BYTES} bytes")])
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError([PolicyProblem(str(file), 0, f"cannot read policy: {exc}")]) from None
    return parse_policy(text, str(file), today=today)


def _domains(check: _Checker, value: Any, line: int,
             freemail_source: Callable[[], frozenset[str]]) -> DomainLists:
    m = check.mapping(value, line, "domains", _DOMAIN_KEYS)
    if m is None:
        return DomainLists()
    official_map = m.get("official")
    political: list[str] = []
    if official_map is None and "official" not in m:
        suffixes, agencies = ["gov.vn"], []
    else:
        om = check.section(official_map, _line(m, "official"), "domains.official", _OFFICIAL_KEYS)
        suffixes = _domain_list(check, om.get("suffixes"), _line(om, "suffixes"),
                                "domains.official.suffixes")
        agencies = _domain_list(check, om.get("agencies"), _line(om, "agencies"),
                                "domains.official.agencies")
        if check.boolean(om.get("political_system", False), _line(om, "political_system"),
                         "domains.official.political_system"):
            political = [entry.domain for entry in POLITICAL_SYSTEM_DOMAINS]
        if not suffixes and not agencies:
            # legal (a test policy may want it), but then no address is ever official and
            # every rule about official senders or recipients is dead
            check.warn(_line(m, "official"), "domains.official lists no suffix and no agency: "
                       "no address is official (gov.vn is the default only when the key is "
                       "left out)")
    internal = _domain_list(check, m.get("internal"), _line(m, "internal"), "domains.internal")
    fm = check.section(m.get("freemail"), _line(m, "freemail"), "domains.freemail",
                       _FREEMAIL_KEYS)
    builtin = check.boolean(fm.get("builtin", True), _line(fm, "builtin"),
                            "domains.freemail.builtin")
    extra = _domain_list(check, fm.get("extra"), _line(fm, "extra"), "domains.freemail.extra")
    exclude = _domain_list(check, fm.get("exclude"), _line(fm, "exclude"),
                           "domains.freemail.exclude")
    freemail = set(extra)
    if builtin:
        freemail.update(freemail_source())
    exceptions = _exceptions(check, m.get("exceptions"), _line(m, "exceptions"))
    lookalike = _lookalike(check, m.get("lookalike"), _line(m, "lookalike"),
                           suffixes, [*agencies, *internal, *political])
    return DomainLists(
        official=DomainSuffixSet([*suffixes, *agencies]),
        internal=DomainSuffixSet(internal),
        freemail=DomainSuffixSet(freemail),
        freemail_exclude=DomainSuffixSet(exclude),
        exceptions=tuple(exceptions),
        lookalike=lookalike,
        political=DomainSuffixSet(political),
    )


def _bare(entries: list[str]) -> tuple[str, ...]:
    """Normalised domains without the ``*.`` prefix: what a look-alike imitates is the name."""
    return tuple(dict.fromkeys(normalize_domain(e.removeprefix("*.")) for e in entries))


def _lookalike(check: _Checker, value: Any, line: int, suffixes: list[str],
               protected: list[str]) -> LookalikeSettings:
    m = check.section(value, line, "domains.lookalike", _LOOKALIKE_KEYS)
    enabled = check.boolean(m.get("enabled", True), _line(m, "enabled"),
                            "domains.lookalike.enabled")
    extra = _domain_list(check, m.get("protect"), _line(m, "protect"),
                         "domains.lookalike.protect")
    if "allow" in m:
        allow = _bare(_domain_list(check, m["allow"], _line(m, "allow"),
                                   "domains.lookalike.allow"))
    else:
        allow = REAL_NEIGHBOURS_OF_GOV_VN
    return LookalikeSettings(enabled=enabled is not False, suffixes=_bare(suffixes),
                             protected=_bare([*protected, *extra]), allow=frozenset(allow))


def _nameserver(check: _Checker, value: Any, line: int) -> Nameserver | None:
    """Parse ``192.0.2.53``, ``192.0.2.53:5353``, ``2001:db8::53`` or ``[2001:db8::53]:5353``."""
    where = "dns.nameservers"
    if not isinstance(value, str):
        check.error(line, f"{where}: {_brief(value)} must be an IP address as text")
        return None
    host, port_text = value, ""
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif value.count(":") == 1:
        host, port_text = value.split(":")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        check.error(line, f"{where}: {value!r} is not an IP address (optionally with :port); "
                    "host names would need DNS to find DNS")
        return None
    port = 53
    if port_text:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            check.error(line, f"{where}: invalid port in {value!r}")
            return None
        port = int(port_text)
    return Nameserver(str(address), port)


def _mx_patterns(check: _Checker, m: _Map, key: str, default: tuple[str, ...]
                 ) -> tuple[str, ...]:
    if key not in m:
        return default
    return tuple(_domain_list(check, m[key], _line(m, key), f"dns.{key}"))


def _dns(check: _Checker, value: Any, line: int) -> DnsSettings:
    m = check.mapping(value, line, "dns", _DNS_KEYS)
    if m is None:
        return DnsSettings()
    defaults = DnsSettings()
    enabled = check.boolean(m.get("enabled", True), _line(m, "enabled"), "dns.enabled")
    servers = [_nameserver(check, item, item_line) for item, item_line in
               check.sequence(m.get("nameservers"), _line(m, "nameservers"), "dns.nameservers")]
    seconds: dict[str, Any] = {}
    for key, minimum in _DNS_SECONDS.items():
        if key in m:
            number = check.number(m[key], _line(m, key), f"dns.{key}", minimum=minimum,
                                  integer=False)
            if number is not None:
                seconds[key] = float(number)
    cache_size = defaults.cache_size
    if "cache_size" in m:
        cache_size = check.number(m["cache_size"], _line(m, "cache_size"), "dns.cache_size",
                                  minimum=0) or 0
    hosted_class = defaults.hosted_class
    if "hosted_class" in m:
        hosted_class = check.enum(m["hosted_class"], _line(m, "hosted_class"),
                                  "dns.hosted_class", DomainClass) or hosted_class
    settings = DnsSettings(
        enabled=enabled is not False, nameservers=tuple(s for s in servers if s is not None),
        cache_size=int(cache_size), hosted_class=hosted_class,
        consumer_mx=_mx_patterns(check, m, "consumer_mx", defaults.consumer_mx),
        hosted_mx=_mx_patterns(check, m, "hosted_mx", defaults.hosted_mx), **seconds,
    )
    if settings.budget < settings.timeout:
        check.warn(_line(m, "budget"), f"dns.budget ({settings.budget:g} s) is shorter than "
                   f"dns.timeout ({settings.timeout:g} s): lookups are cut at the budget")
    return settings


def _domain_list(check: _Checker, value: Any, line: int, where: str) -> list[str]:
    found = []
    for item, item_line in check.sequence(value, line, where):
        domain = check.domain(item, item_line, where)
        if domain is not None:
            found.append(domain)
    return found


def _exceptions(check: _Checker, value: Any, line: int) -> list[DomainException]:
    result = []
    for index, (item, item_line) in enumerate(check.sequence(value, line, "domains.exceptions")):
        where = f"domains.exceptions[{index}]"
        m = check.mapping(item, item_line, where, _EXCEPTION_KEYS, empty_ok=False)
        if m is None:
            continue
        target: str | None = None
        if ("address" in m) == ("domain" in m):
            check.error(m.line, f"{where} needs exactly one of 'address' or 'domain'")
        elif "address" in m:
            text = m["address"] if isinstance(m["address"], str) else ""
            addr = parse_address(text)
            if addr.domain is None or not addr.local or _CONTROL_RE.search(text):
                check.error(_line(m, "address"),
                            f"{where}: invalid address {_brief(m['address'])}")
            else:
                target = addr.mailbox
        else:
            domain = check.domain(m["domain"], _line(m, "domain"), where)
            target = normalize_domain(domain) if domain else None
        treat_as = check.enum(m.get("treat_as", "official"), _line(m, "treat_as"),
                              f"{where}.treat_as", DomainClass)
        reason = m.get("reason")
        if reason is None:
            check.error(m.line, f"{where} needs a 'reason' (it is shown in verdicts and reports)")
        else:
            reason = check.text(reason, _line(m, "reason"), f"{where}.reason")
        expires = m.get("expires")
        if expires is not None and not isinstance(expires, _dt.date):
            check.error(_line(m, "expires"),
                        f"{where}.expires must be a date like 2027-01-31, not {_brief(expires)}")
            expires = None
        if isinstance(expires, _dt.datetime):
            expires = expires.date()
        if expires is not None and expires < check.today:
            check.warn(_line(m, "expires"),
                       f"{where} expired on {expires.isoformat()} and is ignored")
        if target and treat_as and reason:
            result.append(DomainException(target, treat_as, reason, expires))
    return result


def _detection(check: _Checker, value: Any, line: int) -> DetectionSettings:
    m = check.mapping(value, line, "detection", ("threshold", "require_symbol"))
    if m is None:
        return DetectionSettings()
    defaults = DetectionSettings()
    threshold: Any = defaults.threshold
    if "threshold" in m:
        threshold = check.number(m["threshold"], _line(m, "threshold"), "detection.threshold",
                                 minimum=0.1, integer=False)
    require_symbol: bool | None = defaults.require_symbol
    if "require_symbol" in m:
        require_symbol = check.boolean(m["require_symbol"], _line(m, "require_symbol"),
                                       "detection.require_symbol")
    return DetectionSettings(
        threshold=float(threshold) if threshold else defaults.threshold,
        require_symbol=defaults.require_symbol if require_symbol is None else require_symbol,
    )


def _address(check: _Checker, m: _Map, key: str, where: str) -> str | None:
    """``m[key]`` as one mail address (``a@b``), or None after reporting why it is not one."""
    text = m[key] if isinstance(m[key], str) else ""
    addr = parse_address(text)
    if addr.domain is None or not addr.local or _CONTROL_RE.search(text):
        check.error(_line(m, key), f"{where}: invalid address {_brief(m[key])}")
        return None
    return addr.text


def _notices(check: _Checker, value: Any, line: int) -> NoticeSettings:
    m = check.section(value, line, "notices", ("enabled", "sender", "smtp",
                                               "per_sender_per_hour"))
    defaults = NoticeSettings()
    enabled = defaults.enabled
    if "enabled" in m:
        enabled = bool(check.boolean(m["enabled"], _line(m, "enabled"), "notices.enabled"))
    sender = defaults.sender
    if "sender" in m:
        sender = _address(check, m, "sender", "notices.sender") or sender
    elif enabled:
        check.error(_line(m, "enabled"), "notices.sender: give the From: address of the "
                    "notices (e.g. postmaster@your-agency.gov.vn)")
    smtp = defaults.smtp
    if "smtp" in m:
        text = check.text(m["smtp"], _line(m, "smtp"), "notices.smtp")
        host, sep, port = (text or "").rpartition(":")
        if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            check.error(_line(m, "smtp"), f"notices.smtp: expected HOST:PORT of the local "
                        f"Postfix, e.g. 127.0.0.1:25, not {_brief(m['smtp'])}")
        else:
            smtp = f"{host}:{port}"
    limit: Any = defaults.per_sender_per_hour
    if "per_sender_per_hour" in m:
        limit = check.number(m["per_sender_per_hour"], _line(m, "per_sender_per_hour"),
                             "notices.per_sender_per_hour", minimum=1)
    return NoticeSettings(enabled=enabled, sender=sender, smtp=smtp,
                          per_sender_per_hour=limit or defaults.per_sender_per_hour)


def _notice(check: _Checker, m: _Map, where: str) -> NoticeTemplate | None:
    """A rule's ``notice``: false (none), or ``vi``/``en`` templates (each defaults to the
    shipped text); every ``{field}`` must be one govmilter fills."""
    if "notice" not in m:
        return NoticeTemplate()
    value, line = m["notice"], _line(m, "notice")
    if value is False:
        return None
    section = check.mapping(value, line, f"{where}.notice", ("vi", "en"))
    if section is None:
        return None
    texts = {}
    for language in ("vi", "en"):
        if language not in section:
            continue
        text = check.text(section[language], _line(section, language),
                          f"{where}.notice.{language}", single_line=False)
        if text is not None and _template_ok(check, text, _line(section, language),
                                             f"{where}.notice.{language}"):
            texts[language] = text
    return NoticeTemplate(**texts)


def _template_ok(check: _Checker, text: str, line: int, where: str) -> bool:
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        check.error(line, f"{where}: {exc} (write {{{{ and }}}} for a literal brace)")
        return False
    unknown = sorted(f for f in fields if f not in NOTICE_FIELDS)
    if unknown:
        check.error(line, f"{where}: unknown field {{{unknown[0]}}} (fields: "
                    f"{', '.join('{' + f + '}' for f in sorted(NOTICE_FIELDS))})")
        return False
    return True


def _incidents(check: _Checker, value: Any, line: int) -> IncidentSettings:
    m = check.section(value, line, "incidents", ("database", "retention_days"))
    defaults = IncidentSettings()
    database: str | None = defaults.database
    if m.get("database") is not None:
        database = check.text(m["database"], _line(m, "database"), "incidents.database")
        if database is not None and not database.strip():
            check.error(_line(m, "database"), "incidents.database must not be empty: leave it "
                        "out for the default file")
            database = None
    retention: Any = defaults.retention_days
    if "retention_days" in m:
        retention = check.number(m["retention_days"], _line(m, "retention_days"),
                                 "incidents.retention_days", minimum=1)
    return IncidentSettings(database=database,
                            retention_days=retention or defaults.retention_days)


def _agency(check: _Checker, value: Any, line: int) -> AgencySettings:
    m = check.section(value, line, "agency", ("name", "parent", "symbol", "place", "report_to"))

    def text(key: str) -> str | None:
        if m.get(key) is None:
            return None
        found = check.text(m[key], _line(m, key), f"agency.{key}")
        return found.strip() or None if found is not None else None

    report_to = AgencySettings().report_to
    if m.get("report_to") is not None:
        raw = m["report_to"]
        items = [raw] if isinstance(raw, str) else raw if isinstance(raw, _Seq) else None
        if items is None:
            check.error(_line(m, "report_to"), "agency.report_to must be text or a list of "
                        f"texts, not {_kind(raw)}")
        else:
            lines = [check.text(item, _line(m, "report_to"), "agency.report_to")
                     for item in items]
            report_to = tuple(t.strip() for t in lines if t and t.strip()) or report_to
    return AgencySettings(name=text("name"), parent=text("parent"), symbol=text("symbol"),
                          place=text("place"), report_to=report_to)


def _limits(check: _Checker, value: Any, line: int) -> Limits:
    m = check.mapping(value, line, "limits", tuple(_LIMIT_FIELDS))
    if m is None:
        return Limits()
    values: dict[str, Any] = {}
    for key, integer in _LIMIT_FIELDS.items():
        if key in m:
            minimum = 1.0 if integer else 0.01
            number = check.number(m[key], _line(m, key), f"limits.{key}", minimum=minimum,
                                  integer=integer)
            if number is not None:
                values[key] = number
    return Limits(**values)


def _class_set(check: _Checker, value: Any, line: int, where: str
               ) -> frozenset[DomainClass] | None:
    items = check.sequence(value, line, where)
    if any(item == "any" for item, _ in items):
        return None
    classes = {check.enum(item, item_line, where, DomainClass) for item, item_line in items}
    return frozenset(c for c in classes if c is not None)


def _rules(check: _Checker, value: Any, line: int, units: Units) -> list[Rule]:
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    items = check.sequence(value, line, "rules")
    if not items:
        check.error(line, "rules: the policy needs at least one rule")
    for index, (item, item_line) in enumerate(items):
        rule = _rule(check, item, item_line, f"rules[{index}]", units)
        if rule is None:
            continue
        if rule.id in seen:
            check.error(rule.line, f"duplicate rule id {rule.id!r} (first used on line "
                        f"{seen[rule.id]})")
            continue
        seen[rule.id] = rule.line
        rules.append(rule)
    return rules


def _rule(check: _Checker, value: Any, line: int, where: str, units: Units) -> Rule | None:
    m = check.mapping(value, line, where, _RULE_KEYS, empty_ok=False)
    if m is None:
        return None
    before = len(check.problems)
    rule_id = m.get("id")
    if rule_id is None:
        check.error(m.line, f"{where} needs an 'id'")
        rule_id = ""
    elif not isinstance(rule_id, str) or not _RULE_ID_RE.match(rule_id):
        check.error(_line(m, "id"), f"{where}: rule id {_brief(rule_id)} must be lower-case "
                    "letters, digits, '-', '_' or '.', at most 63 characters (it becomes a "
                    "metric label)")
    else:
        where = f"rule {rule_id!r}"
    when = check.section(m.get("when"), _line(m, "when"), f"{where}.when", _WHEN_KEYS)
    senders = _class_set(check, when.get("sender", "any"), _line(when, "sender"),
                         f"{where}.when.sender")
    recipients = _class_set(check, when.get("recipient", "any"), _line(when, "recipient"),
                            f"{where}.when.recipient")
    document = check.enum(when.get("document", "any"), _line(when, "document"),
                          f"{where}.when.document", DocumentClass)
    sender_units = _unit_ids(check, when, f"{where}.when", units)
    sender_addresses = _sender_list(check, when, "sender_address", f"{where}.when")
    sender_domains = _sender_list(check, when, "sender_domain", f"{where}.when")
    authenticated = None
    if "authenticated" in when:
        authenticated = check.boolean(when["authenticated"], _line(when, "authenticated"),
                                      f"{where}.when.authenticated")
    services = None
    if "service" in when:
        names = []
        for item, item_line in check.sequence(when["service"], _line(when, "service"),
                                              f"{where}.when.service"):
            if isinstance(item, str) and _SERVICE_RE.match(item):
                names.append(item)
            else:
                check.error(item_line,
                            f"{where}.when.service: invalid service name {_brief(item)}")
        services = frozenset(names)
    forwarded = None
    if "forwarded" in when:
        forwarded = check.enum(when["forwarded"], _line(when, "forwarded"),
                               f"{where}.when.forwarded", Forwarded)
    if "action" not in m:
        check.error(m.line, f"{where} needs an 'action' (accept, tag, quarantine or reject)")
    action = check.enum(m.get("action", "accept"), _line(m, "action"), f"{where}.action", Action)
    mode = None
    if "mode" in m:
        mode = check.enum(m["mode"], _line(m, "mode"), f"{where}.mode", Mode)
    compliant = action in (Action.ACCEPT, None)
    if "compliant" in m:
        compliant = bool(check.boolean(m["compliant"], _line(m, "compliant"),
                                       f"{where}.compliant"))
    reply = _reply(check, m, where, action)
    tag = _tag(check, m, where)
    scope = check.enum(m.get("scope", "recipient"), _line(m, "scope"), f"{where}.scope",
                       RejectScope)
    if "scope" in m and action is not Action.REJECT:
        check.warn(_line(m, "scope"), f"{where}: 'scope' only matters for action reject")
    copy_to = _address(check, m, "copy_to", f"{where}.copy_to") if "copy_to" in m else None
    hold_reason = None
    if "hold_reason" in m:
        hold_reason = check.text(m["hold_reason"], _line(m, "hold_reason"),
                                 f"{where}.hold_reason")
    notice = _notice(check, m, where)
    description = ""
    if "description" in m:
        description = check.text(m["description"], _line(m, "description"),
                                 f"{where}.description", single_line=False) or ""
    if action is Action.ACCEPT and authenticated is not True and (
            sender_units is not None or sender_addresses is not None):
        check.warn(_line(m, "when"), f"{where}: an allow-list by sender_unit or "
                   "sender_address trusts the MAIL FROM address, which any client can write: "
                   "add 'authenticated: true' (with Postfix's reject_sender_login_mismatch) so "
                   "only the mailbox's owner passes")
    if any(p.severity == "error" for p in check.problems[before:]):
        return None
    return Rule(
        id=rule_id, line=m.line, description=description.strip(), senders=senders,
        recipients=recipients, document=document, authenticated=authenticated,
        services=services, sender_units=sender_units, sender_addresses=sender_addresses,
        sender_domains=sender_domains, forwarded=forwarded, action=action, mode=mode,
        compliant=compliant, reply=reply, tag=tag, scope=scope, copy_to=copy_to,
        hold_reason=hold_reason, notice=notice,
    )


def _member(check: _Checker, item: Any, line: int, where: str, *, addresses: bool,
            domains: bool) -> str | None:
    """One entry of a sender list, normalised: a mailbox (``local@domain``, local part
    case-folded) or a domain (``*.domain`` for sub-domains only), whichever ``where`` takes."""
    if isinstance(item, str) and "@" in item:
        if not addresses:
            check.error(line, f"{where}: {_brief(item)} is an address: list it under "
                        "sender_address")
            return None
        mailbox = parse_address(item).mailbox
        if mailbox is None or _CONTROL_RE.search(item) or "*" in item:
            check.error(line, f"{where}: invalid address {_brief(item)}")
            return None
        return mailbox
    if not domains:
        check.error(line, f"{where}: {_brief(item)} is not an address (local@domain); list "
                    "domains under sender_domain")
        return None
    domain = check.domain(item, line, where)
    if domain is None:
        return None
    prefix = "*." if domain.startswith("*.") else ""
    return prefix + normalize_domain(domain.removeprefix("*."))


def _sender_list(check: _Checker, when: _Map, key: str, where: str) -> AddressMap[bool] | None:
    """``sender_address`` or ``sender_domain``: the mailboxes or domains the sender must be."""
    if key not in when:
        return None
    where = f"{where}.{key}"
    items = check.sequence(when[key], _line(when, key), where)
    if not items:
        check.error(_line(when, key), f"{where} lists nothing: no sender could match; leave the "
                    "key out to match any sender")
    entries = [_member(check, item, item_line, where, addresses=key == "sender_address",
                       domains=key == "sender_domain") for item, item_line in items]
    return AddressMap((entry, True) for entry in entries if entry is not None)


def _unit_ids(check: _Checker, when: _Map, where: str, units: Units) -> frozenset[str] | None:
    """``sender_unit``: ids of declared units."""
    if "sender_unit" not in when:
        return None
    where = f"{where}.sender_unit"
    items = check.sequence(when["sender_unit"], _line(when, "sender_unit"), where)
    if not items:
        check.error(_line(when, "sender_unit"), f"{where} lists nothing: no sender could match; "
                    "leave the key out to match any sender")
    found = set()
    for item, item_line in items:
        if units.get(item) if isinstance(item, str) else None:
            found.add(item)
            continue
        hint = difflib.get_close_matches(item, units.ids, n=1) if isinstance(item, str) else []
        known = (f"declared: {', '.join(units.ids)}" if units else
                 "the policy declares no units: add a units: section")
        check.error(item_line, f"{where}: unknown unit {_brief(item)} ({known})"
                    + (f"; did you mean {hint[0]!r}?" if hint else ""))
    return frozenset(found)


def _units(check: _Checker, value: Any, line: int) -> Units:
    """``units:``: the agency's units, each an id, names and members; no member in two units."""
    items = check.sequence(value, line, "units")
    if len(items) > MAX_UNITS:
        check.error(line, f"units: {len(items)} units, more than {MAX_UNITS} (each unit is a "
                    "metric label value: group small units into larger ones)")
    units: list[Unit] = []
    ids: dict[str, int] = {}
    owners: dict[str, tuple[str, int]] = {}  # a member (bare domain or mailbox): unit, line
    for index, (item, item_line) in enumerate(items):
        where = f"units[{index}]"
        m = check.mapping(item, item_line, where, _UNIT_KEYS, empty_ok=False)
        if m is None:
            continue
        unit_id = m.get("id")
        if not isinstance(unit_id, str) or not UNIT_ID_RE.match(unit_id):
            check.error(_line(m, "id"), f"{where}: unit id {_brief(unit_id)} must be lower-case "
                        "letters, digits, '-', '_' or '.', at most 63 characters (it becomes "
                        "the metric label unit)" if "id" in m else f"{where} needs an 'id'")
            continue
        where = f"unit {unit_id!r}"
        if unit_id in ids:
            check.error(_line(m, "id"), f"duplicate unit id {unit_id!r} (first used on line "
                        f"{ids[unit_id]})")
            continue
        ids[unit_id] = _line(m, "id")
        name = None
        if "name" not in m:
            check.error(m.line, f"{where} needs a 'name' (in Vietnamese, as the unit writes it)")
        else:
            name = check.text(m["name"], _line(m, "name"), f"{where}.name")
        name_en = None
        if m.get("name_en") is not None:
            name_en = check.text(m["name_en"], _line(m, "name_en"), f"{where}.name_en")
        members: list[str] = []
        member_items = check.sequence(m.get("members"), _line(m, "members"), f"{where}.members")
        if not member_items:
            check.warn(_line(m, "members"), f"{where} has no members: no sender belongs to it")
        for item, item_line in member_items:
            member = _member(check, item, item_line, f"{where}.members", addresses=True,
                             domains=True)
            if member is None:
                continue
            bare = member.removeprefix("*.")
            owner = owners.setdefault(bare, (unit_id, item_line))
            if owner[0] != unit_id:
                check.error(item_line, f"{where}.members: {member} is already a member of unit "
                            f"{owner[0]!r} (line {owner[1]}): an address or domain belongs to "
                            "one unit (list a sub-domain or an address to carve it out)")
                continue
            members.append(member)
        if name:
            units.append(Unit(unit_id, name.strip(), (name_en or "").strip() or None,
                              tuple(dict.fromkeys(members)), m.line))
    return Units(tuple(units))


_DEFAULT_REPLY = Reply(
    550, "5.7.1",
    ("Van ban chinh thuc khong duoc gui toi hop thu mien phi",
     "Official documents must not be sent to free webmail"),
)


def _reply(check: _Checker, m: _Map, where: str, action: Action | None) -> Reply | None:
    if "reply" not in m:
        return _DEFAULT_REPLY if action is Action.REJECT else None
    if action is not Action.REJECT:
        check.warn(_line(m, "reply"), f"{where}: 'reply' is only used by action reject")
    rm = check.mapping(m["reply"], _line(m, "reply"), f"{where}.reply", _REPLY_KEYS)
    if rm is None:
        return None
    code = check.number(rm.get("code", 550), _line(rm, "code"), f"{where}.reply.code")
    if code is not None and not (400 <= code <= 599):
        check.error(_line(rm, "code"), f"{where}.reply.code must be a 4xx or 5xx SMTP code")
        code = None
    enhanced_value = rm.get("enhanced", f"{str(code or 550)[0]}.7.1")
    enhanced = enhanced_value if isinstance(enhanced_value, str) else ""
    match = _ENHANCED_RE.match(enhanced)
    if not match:
        check.error(_line(rm, "enhanced"), f"{where}.reply.enhanced must look like 5.7.1")
    elif code is not None and match.group(1) != str(code)[0]:
        check.error(_line(rm, "enhanced"),
                    f"{where}.reply.enhanced {enhanced} does not match code {code}")
    lines = []
    for key in ("vi", "en"):
        if key in rm:
            text = check.text(rm[key], _line(rm, key), f"{where}.reply.{key}")
            if text:
                lines.append(text)
    if not lines:
        lines = list(_DEFAULT_REPLY.lines)
    if code is None or not match:
        return None
    return Reply(int(code), enhanced, tuple(lines))


def _tag(check: _Checker, m: _Map, where: str) -> Tag:
    if "tag" not in m:
        return Tag()
    tm = check.mapping(m["tag"], _line(m, "tag"), f"{where}.tag", _TAG_KEYS)
    if tm is None:
        return Tag()
    header = True
    if "header" in tm:
        header = bool(check.boolean(tm["header"], _line(tm, "header"), f"{where}.tag.header"))
    prefix = None
    if "subject_prefix" in tm:
        prefix = check.text(tm["subject_prefix"], _line(tm, "subject_prefix"),
                            f"{where}.tag.subject_prefix")
    return Tag(header=header, subject_prefix=prefix)
