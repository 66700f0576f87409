"""Every regular expression of govmilter runs in linear time on hostile input (issue #16).

Python's ``re`` backtracks: a lazy ``.*?`` that never finds its end, a ``[^>]*`` that can fail
after scanning, two adjacent quantifiers over the same characters (``\\s*:?\\s*``), or a ``^\\s*``
that every line of a blank run starts again, each turn a message into minutes of CPU, and the
scan deadline cannot interrupt a running pattern. This test finds every pattern of the package
(module-level compiled ones, in dictionaries and tuples too, and every ``re.*`` call with a literal
pattern in the source), builds hostile inputs from each pattern's own structure, and times each
on 1x and 8x of that input: a new pattern of the kind cannot be merged.

The inputs are the classic shape of such attacks: a prefix that starts a match, then one piece
a quantifier accepts, repeated (``<w:instrText>`` then ``a`` x n, ``Số`` then spaces), the prefix
with its piece repeated (``\\n\\n\\n...``, ``<a<a<a``), and the prefix alone repeated (unclosed
tags). Each pattern is run the way the package runs it: searched through the text, or, when it
is only ever called with ``.match``/``.fullmatch``, matched at the start (its callers move past
what it matched and never retry it at every position).
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from linear_time import SCALE, assert_linear

import govmilter

PACKAGE = Path(govmilter.__file__).parent
#: The regular expression parser of the standard library (private modules, without type stubs).
sre: Any = importlib.import_module("re._constants")
sre_parse: Any = importlib.import_module("re._parser")
#: Characters tried, in this order, for a character class or a "not this character".
CANDIDATES = "a1 \nA<>/:-._=x\t\r\"'*(@,;ĐốéZ\x00"
#: Characters of the hostile inputs at the small size.
SMALL = 2_000
#: Branches of an alternation tried per pattern (each variant takes the next alternative).
VARIANTS = 4
#: Copies of a repeated piece in the sample a pattern matches (``{64,}`` needs 64).
MAX_COPIES = 100


#: Modules that another program runs (alembic's migration scripts read its context when
#: imported): only their source is read, for the patterns of their ``re.*`` calls.
NOT_IMPORTED = ("govmilter.store.migrations",)


def module_files() -> dict[str, Path]:
    """Every module of the package and its file (``__main__`` runs the command line when
    imported: its source is read all the same)."""
    files = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return files


def _patterns_in(value: Any, depth: int = 0) -> Iterator[re.Pattern[Any]]:
    if isinstance(value, re.Pattern):
        yield value
    elif depth < 3 and isinstance(value, dict):
        for item in value.values():
            yield from _patterns_in(item, depth + 1)
    elif depth < 3 and isinstance(value, (tuple, list, frozenset, set)):
        for item in value:
            yield from _patterns_in(item, depth + 1)


def _flags(node: ast.expr | None) -> int | None:
    """The value of a flags argument made of ``re.X`` names and ``|``; None if not that."""
    if node is None:
        return 0
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
            and node.value.id == "re" and isinstance(getattr(re, node.attr, None), int):
        return int(getattr(re, node.attr))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        left, right = _flags(node.left), _flags(node.right)
        return None if left is None or right is None else left | right
    return None


_FLAG_POSITION = {"compile": 1, "search": 2, "match": 2, "fullmatch": 2, "findall": 2,
                  "finditer": 2, "split": 3, "sub": 4, "subn": 4}


def literal_patterns(source: str) -> Iterator[tuple[re.Pattern[Any], bool]]:
    """The patterns of ``re.<function>("literal", ...)`` calls in ``source``, and whether the
    call matches at one position only."""
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "re"
                and node.func.attr in _FLAG_POSITION and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, (str, bytes))):
            continue
        position = _FLAG_POSITION[node.func.attr]
        flag_node = node.args[position] if len(node.args) > position else next(
            (k.value for k in node.keywords if k.arg == "flags"), None)
        flags = _flags(flag_node)
        if flags is not None:
            yield re.compile(node.args[0].value, flags), node.func.attr in ANCHORED_CALLS


ANCHORED_CALLS = frozenset({"match", "fullmatch"})


def anchored_names(sources: list[str]) -> set[str]:
    """Names of patterns that the package only ever calls ``.match``/``.fullmatch`` on."""
    calls: dict[str, set[str]] = {}
    for source in sources:
        tree = ast.parse(source)
        methods = {id(node.value): node.attr for node in ast.walk(tree)
                   if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                calls.setdefault(node.id, set()).add(methods.get(id(node), ""))
    return {name for name, used in calls.items() if used <= ANCHORED_CALLS}


def package_patterns() -> dict[str, tuple[re.Pattern[Any], bool]]:
    """Every pattern of the package, named by its module and source, and whether it is only
    ever matched at one position (``.match``, ``.fullmatch``), not searched."""
    files = module_files()
    sources = {name: path.read_text(encoding="utf-8") for name, path in files.items()}
    anchored = anchored_names(list(sources.values()))
    found: dict[tuple[Any, int], tuple[str, re.Pattern[Any], bool]] = {}
    for name, source in sources.items():
        candidates: list[tuple[re.Pattern[Any], bool]] = []
        if not name.startswith(NOT_IMPORTED) and not name.endswith("__main__"):
            module = importlib.import_module(name)
            candidates += [(p, variable in anchored) for variable, value in vars(module).items()
                           for p in _patterns_in(value)]
        candidates += literal_patterns(source)
        for pattern, only_matched in candidates:
            key = (pattern.pattern, pattern.flags)
            label = f"{name}: {pattern.pattern!r}"[:160]
            found.setdefault(key, (label, pattern, only_matched))
    return {label: (pattern, only) for label, pattern, only in found.values()}


class Sampler:
    """Builds a string a parsed pattern matches (``text``) and notes where its quantifiers
    could be pumped (``pumps``); ``variant`` picks the alternatives."""

    def __init__(self, flags: int, variant: int, is_bytes: bool) -> None:
        self.flags = flags
        self.variant = variant
        self.is_bytes = is_bytes
        self.text = ""
        self.groups: dict[int, str] = {}
        #: (the text before a quantifier, pieces one round of it accepts)
        self.pumps: list[tuple[str, tuple[str, ...]]] = []

    def allowed(self, char: str) -> bool:
        return not self.is_bytes or ord(char) < 256

    def members(self, items: list[Any], flags: int) -> list[str]:
        """Candidate characters in a character class, in :data:`CANDIDATES` order."""
        parts: list[str] = []
        for op, value in items:
            if op is sre.NEGATE:
                parts.insert(0, "^")
            elif op is sre.LITERAL:
                parts.append(re.escape(chr(value)))
            elif op is sre.RANGE:
                parts.append(f"{re.escape(chr(value[0]))}-{re.escape(chr(value[1]))}")
            elif op is sre.CATEGORY:
                parts.append(_CATEGORIES[value])
        if parts == ["^"]:
            return [c for c in CANDIDATES if self.allowed(c)]
        klass = re.compile("[" + "".join(parts) + "]",
                           flags & (re.IGNORECASE | re.ASCII) | (re.ASCII if self.is_bytes
                                                                 else 0))
        named = [chr(v) for op, v in items if op is sre.LITERAL] + [
            chr(v[0]) for op, v in items if op is sre.RANGE]
        return [c for c in dict.fromkeys([*CANDIDATES, *named])
                if self.allowed(c) and klass.fullmatch(c)]

    def one(self, op: Any, value: Any, flags: int) -> tuple[str, ...]:
        """Characters the single-character node ``op`` accepts (best first), or ()."""
        if op is sre.LITERAL:
            return (chr(value),)
        if op is sre.NOT_LITERAL:
            return tuple(c for c in CANDIDATES if self.allowed(c) and ord(c) != value)
        if op is sre.ANY:
            return ("a", "\n") if flags & re.DOTALL else ("a", " ")
        if op is sre.IN:
            return tuple(self.members(value, flags))
        return ()

    def add(self, items: Any, flags: int) -> None:
        for op, value in items:
            single = self.one(op, value, flags)
            if single:
                self.text += single[0]
            elif op is sre.BRANCH:
                alternatives = value[1]
                self.add(alternatives[self.variant % len(alternatives)], flags)
            elif op is sre.SUBPATTERN:
                group, add_flags, del_flags, body = value
                start = len(self.text)
                self.add(body, (flags | add_flags) & ~del_flags)
                if group is not None:
                    self.groups[group] = self.text[start:]
            elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
                self.repeat(value, flags)
            elif op is sre.ATOMIC_GROUP:
                self.add(value, flags)
            elif op is sre.GROUPREF:
                self.text += self.groups.get(value, "")
            elif op is sre.GROUPREF_EXISTS:
                self.add(value[1], flags)
            # AT (anchors) and ASSERT/ASSERT_NOT (look-arounds) take no characters

    def repeat(self, value: Any, flags: int) -> None:
        low, _high, body = value
        accepted = self.one(body[0][0], body[0][1], flags) if len(body) == 1 else ()
        if accepted:
            # the first accepted character, and line ends and spaces (they meet anchors and
            # other quantifiers most often)
            pieces = tuple(dict.fromkeys(
                [accepted[0]] + [c for c in accepted if c in "\n \t"]))[:3]
        else:
            inner = Sampler(flags, self.variant, self.is_bytes)
            inner.text, inner.groups = self.text, dict(self.groups)
            inner.add(body, flags)
            self.pumps.extend(inner.pumps)
            pieces = (inner.text[len(self.text):],)
        self.pumps.append((self.text, pieces))
        # the copies add no pump points: the body's own were taken above
        pumps, self.pumps = self.pumps, []
        for _ in range(min(low, MAX_COPIES)):
            self.add(body, flags)
        self.pumps = pumps


_CATEGORIES = {
    sre.CATEGORY_DIGIT: r"\d", sre.CATEGORY_NOT_DIGIT: r"\D", sre.CATEGORY_SPACE: r"\s",
    sre.CATEGORY_NOT_SPACE: r"\S", sre.CATEGORY_WORD: r"\w", sre.CATEGORY_NOT_WORD: r"\W",
}


def hostile_units(pattern: re.Pattern[Any]) -> list[tuple[str, str]]:
    """(prefix, repeated unit) pairs: the input is the prefix, then the unit repeated."""
    source = pattern.pattern
    is_bytes = isinstance(source, bytes)
    parsed = sre_parse.parse(source, pattern.flags)
    widest = max([len(value[1]) for op, value in _walk(parsed) if op is sre.BRANCH] or [1])
    units: dict[tuple[str, str], None] = {}
    for variant in range(min(widest, VARIANTS)):
        sampler = Sampler(pattern.flags, variant, is_bytes)
        sampler.add(parsed, pattern.flags)
        text = sampler.text
        units[("", text)] = None  # whole matches, back to back
        for head, pieces in sampler.pumps:
            if head:
                units[("", head)] = None  # starts of a match that never ends
            for piece in pieces:
                units[(head, piece)] = None  # one start, a long run of one quantifier
                units[("", head + piece)] = None  # many starts, each with a piece
    return [unit for unit in units if unit[1]]


def _walk(items: Any) -> Iterator[tuple[Any, Any]]:
    for op, value in items:
        yield op, value
        if op is sre.BRANCH:
            for alternative in value[1]:
                yield from _walk(alternative)
        elif op is sre.SUBPATTERN:
            yield from _walk(value[3])
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            yield from _walk(value[2])
        elif op in (sre.ASSERT, sre.ASSERT_NOT):
            yield from _walk(value[1])
        elif op is sre.ATOMIC_GROUP:
            yield from _walk(value)


PATTERNS = package_patterns()


def test_the_walk_finds_the_patterns_of_every_layer() -> None:
    """The test sees compiled patterns, patterns built in dictionaries, and literal calls."""
    names = "\n".join(PATTERNS)
    assert len(PATTERNS) > 40
    for module in ("govmilter.document.cues", "govmilter.document.office",
                   "govmilter.document.edxml", "govmilter.mail.message", "govmilter.mail.htmltext",
                   "govmilter.mail.addresses"):
        assert f"{module}: " in names
    assert any("ContentTransferEncoded" in name for name in names.splitlines())  # built
    assert r"govmilter.document.pdf: b'\\s+'" in names  # re.sub(rb"\s+", ...) in a function
    only_matched = [str(p.pattern) for p, only in PATTERNS.values() if only]
    assert any(p.endswith("_-]+)*)>)") for p in only_matched)  # addresses: .match(text, pos)
    assert not any("Subject" in p for p in only_matched)  # edXML fields are searched


def test_the_hostile_inputs_include_the_known_attacks() -> None:
    """The shapes that were quadratic on main are among those generated."""
    drop = re.compile(r"<w:(instrText|delText)\b[^>]*>.*?</w:\1>", re.DOTALL)
    assert ("", "<w:instrText>") in hostile_units(drop)
    assert ("", "\n\n") in hostile_units(re.compile(r"\n\s*V/v", re.IGNORECASE))
    assert ("<a", "a") in hostile_units(re.compile(r"<([A-Za-z][A-Za-z0-9]*)[^<>]*>"))


def test_the_timing_tells_a_quadratic_pattern() -> None:
    """What the test below would say about the unclosed-tag pattern this issue replaced."""
    drop = re.compile(r"<w:(instrText|delText)\b[^>]*>.*?</w:\1>", re.DOTALL)
    with pytest.raises(AssertionError, match="took"):
        assert_linear(lambda n: "<w:instrText>" * (n // 13), _scan(drop), SMALL, "drop")


def _scan(pattern: re.Pattern[Any]) -> Any:
    """Every match of ``pattern`` in a text, as a search through it finds them."""
    def run(text: Any) -> None:
        for _ in pattern.finditer(text):
            pass
    return run


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_pattern_is_linear_on_hostile_input(name: str) -> None:
    pattern, only_matched = PATTERNS[name]
    is_bytes = isinstance(pattern.pattern, bytes)
    run = pattern.match if only_matched else _scan(pattern)
    for head, unit in hostile_units(pattern):

        def make(size: int, head: str = head, unit: str = unit) -> Any:
            text = head + unit * max(1, (size - len(head)) // len(unit))
            return text.encode("latin-1") if is_bytes else text

        assert_linear(make, run, SMALL, f"{name} on {head!r} + {unit!r} x n ({SCALE}x)",
                      rounds=1)
