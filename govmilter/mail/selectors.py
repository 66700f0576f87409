"""CSS selectors as a mail client matches them against an element met in one pass over the
markup: what the element carries (tag, id, classes, attributes), where it stands among its
siblings, and what its ancestors, parent and earlier siblings matched.

Applied: a tag, ``.class``, ``#id``, ``*``, attribute tests (``[x]``, ``[x=v]``, ``~=``,
``|=``, ``^=``, ``$=``, ``*=``), ``:first-child``, ``:nth-child(an+b)``, ``:first-of-type``,
``:nth-of-type(an+b)`` and ``:not()`` of such compounds, joined by descendant (blank), child
(``>``), adjacent (``+``) and general (``~``) sibling combinators, with ``::before`` and
``::after``. Not applied: pseudo-classes that need what follows the element (``:last-child``,
``:only-child``, ``:empty``...), a state (``:hover``, ``:focus``, ``:visited``...) or a
selector list (``:is()``, ``:has()``). The order of the ancestors is not checked and a sibling
of a sibling or of an ancestor is not asked for (``.a + .b .k`` is taken as ``.b .k``): a rule
may apply where a browser's would not, never the other way round. Everything here is bounded
by the selector's length (256 characters) and never raises on bad input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

#: Characters of one selector, at most (a longer one is not applied).
MAX_SELECTOR = 256
#: Compounds in one selector, at most.
MAX_COMPOUNDS = 8
#: Classes and attribute names of one element that are looked up.
MAX_CLASSES = 16

#: A selector's pieces: a bracketed attribute test, a parenthesised argument, a combinator, the
#: rest of a compound. A bracket or parenthesis never closed runs to the end (so it is matched
#: once, not retried at every position).
_TOKEN_RE = re.compile(r"""\[(?:"[^"]*+"|'[^']*+'|[^\]"'])*+\]?"""
                       r"""|\((?:"[^"]*+"|'[^']*+'|[^()"'])*+\)?"""
                       r"""|\s*+([>+~])\s*+|(\s++)|[^\s>+~\[(]++""", re.DOTALL)
_CLOSING = {"[": "]", "(": ")"}
_TAG_RE = re.compile(r"\*|[a-z][a-z0-9-]*+")
_SIMPLE_RE = re.compile(
    r"""\.([\w-]++)|#([\w-]++)"""
    r"""|\[\s*+([\w:-]++)\s*+(?:([~|^$*]?=)\s*+(?:"([^"]*+)"|'([^']*+)'|([^\s\]"']++))"""
    r"""\s*+[is]?\s*+)?\]"""
    r"""|(::?)([\w-]++)(?:\(([^()]*+)\))?""")
_NTH_RE = re.compile(r"([+-]?\d*+)n\s*+(?:([+-])\s*+(\d++))?|([+-]?\d++)")
#: Pseudo-classes kept, with what they ask of the element's place: (counted among all siblings
#: or those of its tag, ``a``, ``b`` of ``an+b``).
_FIRST = {"first-child": ("child", 0, 1), "first-of-type": ("type", 0, 1)}
_NTH = {"nth-child": "child", "nth-of-type": "type"}


#: What a pseudo-class asks of an element's place: counted among all its siblings (``child``)
#: or those of its tag (``type``), and ``a``, ``b`` of ``an+b``.
Place = tuple[str, int, int]


@dataclass(frozen=True, slots=True)
class Element:
    """What an element carries that selectors test: its tag and id, its classes and attributes
    (names and id in lower case), and its place among its parent's element children (from 1;
    0 when not counted)."""

    tag: str
    id: str | None
    classes: tuple[str, ...]
    attributes: Mapping[str, str]
    index: int = 0
    type_index: int = 0


@dataclass(frozen=True, slots=True)
class AttributeTest:
    """``[name]`` (``operator`` empty) or ``[name<operator>value]``, compared in lower case."""

    name: str
    operator: str = ""
    value: str = ""

    def matches(self, attributes: Mapping[str, str]) -> bool:
        found = attributes.get(self.name)
        if found is None:
            return False
        if not self.operator:
            return True
        found, value = found.lower(), self.value
        if self.operator == "=":
            return found == value
        if self.operator == "~=":
            return value in found.split()
        if self.operator == "|=":
            return found == value or found.startswith(value + "-")
        if not value:
            return False  # ^=, $=, *= with an empty value match nothing
        if self.operator == "^=":
            return found.startswith(value)
        if self.operator == "$=":
            return found.endswith(value)
        return value in found


@dataclass(frozen=True, slots=True)
class Selector:
    """A selector: its subject compound (tag or None for any, id, classes, attribute tests,
    place among siblings (``(counted among, a, b)`` of ``an+b``), compounds it must not match,
    the pseudo-element it selects: ``""``, ``"before"``, ``"after"``) and what its combinators
    ask of the elements around it: compounds some open ancestor must match (``div .x``:
    ``div``), the one the parent must match (``td > .x``: ``td``), and the one the previous
    element sibling (``adjacent``) or some earlier one must match (``i + .x``, ``i ~ .x``)."""

    tag: str | None
    id: str | None
    classes: frozenset[str]
    pseudo: str
    ancestors: frozenset[Selector] = frozenset()
    parent: Selector | None = None
    #: (ids, classes, tags) over all its compounds
    weight: tuple[int, int, int] = (0, 0, 0)
    attributes: tuple[AttributeTest, ...] = ()
    places: tuple[Place, ...] = ()
    negations: tuple[Selector, ...] = ()
    sibling: Selector | None = None
    adjacent: bool = False

    @property
    def specificity(self) -> tuple[int, int, int]:
        return self.weight

    @property
    def key(self) -> str:
        """The one name an element must carry for this selector to match it: its index key."""
        if self.id is not None:
            return "#" + self.id
        if self.classes:
            return "." + min(self.classes)
        if self.attributes:
            return "[" + self.attributes[0].name
        return self.tag or "*"

    @property
    def all_places(self) -> tuple[Place, ...]:
        """What its subject compound asks of the element's place, in its negations too."""
        return self.places + tuple(place for negation in self.negations
                                   for place in negation.places)

    def matches(self, element: Element) -> bool:
        """Whether the subject compound matches an element (its context aside)."""
        return (self.tag is None or self.tag == element.tag) and \
            (self.id is None or self.id == element.id) and \
            self.classes.issubset(element.classes) and \
            all(test.matches(element.attributes) for test in self.attributes) and \
            all(in_place(place, element.index, element.type_index) for place in self.places) and \
            not any(negation.matches(element) for negation in self.negations)


def in_place(place: Place, index: int, type_index: int) -> bool:
    """Whether an element at ``index`` among its siblings (``type_index`` among those of its
    tag) is where ``place`` asks."""
    counted, step, offset = place
    index = index if counted == "child" else type_index
    if index <= 0:
        return False
    if step == 0:
        return index == offset
    times, rest = divmod(index - offset, step)
    return rest == 0 and times >= 0


def element_keys(element: Element) -> list[str]:
    """The index keys an element may be found under (:attr:`Selector.key`)."""
    return [element.tag, "*"] + ([f"#{element.id}"] if element.id else []) + \
        [f".{name}" for name in element.classes[:MAX_CLASSES]] + \
        [f"[{name}" for name in list(element.attributes)[:MAX_CLASSES]]


#: Compounds every element is inside (browsers imply ``<html>`` and ``<body>``): dropped from a
#: selector's context, so ``body .x`` applies to a document written without ``<body>``.
_ALWAYS_OPEN = frozenset({"html", "body", "*"})


def _nth(argument: str) -> tuple[int, int] | None:
    """``a`` and ``b`` of an ``an+b`` argument (``odd``, ``even``, ``3``, ``-n+2``), or None."""
    text = argument.strip()
    if text in ("odd", "even"):
        return (2, 1 if text == "odd" else 0)
    match = _NTH_RE.fullmatch(text)
    if match is None:
        return None
    if match.group(4) is not None:
        return (0, int(match.group(4)))
    step = match.group(1)
    offset = int(match.group(3)) * (-1 if match.group(2) == "-" else 1) if match.group(3) else 0
    return (-1 if step == "-" else 1 if step in ("", "+") else int(step), offset)


def _compound(text: str, last: bool, negated: bool = False) -> Selector | None:
    """One compound (``td.x[data-k]:first-child``), or None when it holds anything not
    applied. ``last``: it is the subject (a pseudo-element may end it); ``negated``: inside
    ``:not()`` (no pseudo-element, no ``:not()``)."""
    tag_match = _TAG_RE.match(text)
    tag = tag_match.group() if tag_match else None
    pos = tag_match.end() if tag_match else 0
    ids: set[str] = set()
    classes: set[str] = set()
    tests: list[AttributeTest] = []
    places: list[tuple[str, int, int]] = []
    negations: list[Selector] = []
    negated_weight = (0, 0, 0)  # a :not()'s is its most specific argument's
    pseudo = ""
    while pos < len(text):
        match = _SIMPLE_RE.match(text, pos)
        if match is None or pseudo:  # nothing may follow a pseudo-element
            return None
        pos = match.end()
        if match.group(1):
            classes.add(match.group(1))
        elif match.group(2):
            ids.add(match.group(2))
        elif match.group(3):
            value = next((group for group in match.group(5, 6, 7) if group is not None), "")
            tests.append(AttributeTest(match.group(3), match.group(4) or "", value))
        else:
            name, argument = match.group(9), match.group(10)
            if name in ("before", "after") and argument is None:
                if not last or negated:
                    return None
                pseudo = name
            elif match.group(8) == "::":
                return None
            elif name in _FIRST and argument is None:
                places.append(_FIRST[name])
            elif name in _NTH and argument is not None and (step := _nth(argument)):
                places.append((_NTH[name], *step))
            elif name == "not" and argument is not None and not negated:
                inner = [_compound(part.strip(), False, True) for part in argument.split(",")]
                if any(compound is None for compound in inner):
                    return None
                found = [compound for compound in inner if compound is not None]
                negations.extend(found)
                most = max(compound.weight for compound in found)
                negated_weight = (negated_weight[0] + most[0], negated_weight[1] + most[1],
                                  negated_weight[2] + most[2])
            else:
                return None
    if len(ids) > 1 or not (tag or ids or classes or tests or places or negations or pseudo):
        return None
    tag = None if tag in (None, "*") else tag
    weight = (len(ids) + negated_weight[0], len(classes) + len(tests) + len(places)
              + negated_weight[1], int(tag is not None) + negated_weight[2])
    return Selector(tag, next(iter(ids), None), frozenset(classes), pseudo, weight=weight,
                    attributes=tuple(tests), places=tuple(places), negations=tuple(negations))


def _split(text: str) -> tuple[list[str], list[str]] | None:
    """A selector's compounds and the combinators between them (``" "``, ``>``, ``+``,
    ``~``), or None when a bracket or parenthesis is never closed."""
    texts = [""]
    combinators: list[str] = []
    for match in _TOKEN_RE.finditer(text):
        combinator, blank = match.group(1, 2)
        token = match.group()
        if token[0] in _CLOSING and not token.endswith(_CLOSING[token[0]]):
            return None
        if combinator is not None or blank is not None:
            combinators.append(combinator or " ")
            texts.append("")
        else:
            texts[-1] += token
    return texts, combinators


def parse_selector(text: str) -> Selector | None:
    """A selector (see the module's description), or None when it holds anything not applied.
    The subject's context: the compound right before a ``+`` or ``~`` is its sibling; the first
    one before that across a ``>`` its parent; the others across blanks or ``>`` its ancestors;
    a compound before another sibling combinator is dropped."""
    text = text.strip().lower()
    if not text or len(text) > MAX_SELECTOR:
        return None
    split = _split(text)
    if split is None:
        return None
    texts, combinators = split
    if len(texts) > MAX_COMPOUNDS or "" in texts:
        return None
    compounds = [_compound(part, index == len(texts) - 1) for index, part in enumerate(texts)]
    if any(compound is None for compound in compounds):
        return None
    found = [compound for compound in compounds if compound is not None]
    subject = found.pop()
    weight = tuple(sum(compound.weight[i] for compound in found) + subject.weight[i]
                   for i in range(3))
    sibling = None
    at = len(found) - 1  # the compound before the subject, then walking left
    adjacent = bool(combinators) and combinators[-1] == "+"
    if at >= 0 and combinators[at] in "+~":
        sibling = found[at]
        while at >= 0 and combinators[at] in "+~":  # siblings of the sibling: dropped
            at -= 1
    parent = found[at] if at >= 0 and combinators[at] == ">" else None
    ancestors = frozenset(compound for index, compound in enumerate(found[:at + 1])
                          if combinators[index] not in "+~" and compound is not parent
                          and not _always_open(compound))
    if parent is not None and _always_open(parent):
        parent = None
    return Selector(subject.tag, subject.id, subject.classes, subject.pseudo, ancestors, parent,
                    (weight[0], weight[1], weight[2]), subject.attributes, subject.places,
                    subject.negations, sibling, adjacent and sibling is not None)


def _always_open(compound: Selector) -> bool:
    return compound.id is None and not compound.classes and not compound.attributes and \
        not compound.places and not compound.negations and \
        (compound.tag or "*") in _ALWAYS_OPEN
