"""CSS as a mail client applies it to text: colours, the declarations that hide text, and the
rules of a message's own style sheets.

Selectors are those of :mod:`govmilter.mail.selectors` (tags, classes, ids, attributes,
``:nth-child()`` and the like, ``:not()``, all four combinators), in selector lists. Rules
inside ``@media`` and ``@supports`` are applied
unless the query names ``print``, ``speech`` or ``prefers-color-scheme``. Everything here is
linear in its input and never raises on bad input.
"""

from __future__ import annotations

import colorsys
import math
import re
from dataclasses import dataclass, field

from govmilter.mail.colournames import NAMED_COLOURS
from govmilter.mail.selectors import (
    Element,
    Place,
    Selector,
    element_keys,
    in_place,
    parse_selector,
)

#: A colour: red, green, blue (0-255) and alpha (0-1).
Colour = tuple[float, float, float, float]
WHITE: Colour = (255.0, 255.0, 255.0, 1.0)
BLACK: Colour = (0.0, 0.0, 0.0, 1.0)
TRANSPARENT: Colour = (0.0, 0.0, 0.0, 0.0)

#: Text whose colour stands this close to its background on every channel (of 255) is not read
#: as seen: ``#f8f8f8`` on white is white on white.
SAME_COLOUR_DISTANCE = 20.0
#: Colours written longer than this are not parsed (a value of megabytes is no colour).
_MAX_VALUE = 256
#: Distinct compound selectors kept from a message's style sheets, and kept under one tag,
#: class or id (past these a rule is not applied: the cost of an element stays bounded).
MAX_SELECTORS = 2000
MAX_SELECTORS_PER_KEY = 8
#: Distinct compounds that selectors ask of ancestors and parents (``div .x``: ``div``).
MAX_CONTEXT = 32
#: Distinct places (``:nth-child(2n)`` of ``li``) that selectors ask of elements.
MAX_PLACES = 32

#: Properties that decide whether text is seen; other declarations are not kept.
PROPERTIES = frozenset({
    "display", "visibility", "mso-hide", "opacity", "font-size", "color", "background",
    "background-color", "content", "max-height", "height", "max-width", "width", "overflow",
    "text-indent", "position", "left", "top", "clip", "clip-path",
    # what else a browser applies that hides text or makes it too small to see
    "right", "bottom", "margin", "margin-left", "margin-top", "line-height", "font",
    "transform", "scale", "zoom", "filter", "-webkit-text-fill-color", "background-image",
    "content-visibility",
})

_HEX_RE = re.compile(r"#?([0-9a-fA-F]{3,8})")
_FUNCTION_RE = re.compile(r"(rgba?|hsla?)\(([^()]*)\)")
_NUMBER_RE = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)(deg|turn|rad|%)?")
_LENGTH_RE = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+))(px|pt|em|rem|%|pc|cm|mm|in|ex|ch|q)?")
_FONT_KEYWORDS = {"xx-small": 9.0, "x-small": 10.0, "small": 13.0, "medium": 16.0,
                  "large": 18.0, "x-large": 24.0, "xx-large": 32.0, "xxx-large": 48.0}
_UNIT_PX = {"px": 1.0, "pt": 4 / 3, "pc": 16.0, "in": 96.0, "cm": 96 / 2.54, "mm": 96 / 25.4,
            "q": 96 / 101.6}


def parse_colour(value: str, legacy: bool = False) -> Colour | None:
    """A CSS colour (a name, ``#rgb[a]``, ``#rrggbb[aa]``, ``rgb()``/``rgba()``,
    ``hsl()``/``hsla()`` with commas or blanks, ``transparent``), or None when it is none of
    these. ``legacy``: an HTML attribute (``<font color>``, ``bgcolor``), where hex digits may
    come without ``#``."""
    text = value.strip().lower()
    if not text or len(text) > _MAX_VALUE:
        return None
    if text == "transparent":
        return TRANSPARENT
    named = NAMED_COLOURS.get(text)
    if named is not None:
        return (float(named[0]), float(named[1]), float(named[2]), 1.0)
    hex_match = _HEX_RE.fullmatch(text)
    if hex_match and (text.startswith("#") or legacy):
        return _hex_colour(hex_match.group(1))
    function = _FUNCTION_RE.fullmatch(text)
    if function is None:
        return None
    numbers = _NUMBER_RE.findall(function.group(2))
    if len(numbers) < 3:
        return None
    alpha = _fraction(*numbers[3]) if len(numbers) > 3 else 1.0
    if function.group(1).startswith("rgb"):
        red, green, blue = (min(max(_channel(*number), 0.0), 255.0) for number in numbers[:3])
        return (red, green, blue, alpha)
    hue = _hue(*numbers[0])
    saturation, lightness = (_fraction(*number) for number in numbers[1:3])
    red, green, blue = colorsys.hls_to_rgb(hue, lightness, saturation)
    return (red * 255, green * 255, blue * 255, alpha)


def _hex_colour(digits: str) -> Colour | None:
    if len(digits) in (3, 4):
        digits = "".join(digit * 2 for digit in digits)
    if len(digits) not in (6, 8):
        return None
    channels = [int(digits[i:i + 2], 16) for i in range(0, len(digits), 2)]
    alpha = channels[3] / 255 if len(channels) == 4 else 1.0
    return (float(channels[0]), float(channels[1]), float(channels[2]), alpha)


def _channel(number: str, unit: str) -> float:
    return float(number) * 2.55 if unit == "%" else float(number)


def _fraction(number: str, unit: str) -> float:
    value = float(number) / 100 if unit == "%" else float(number)
    return min(max(value, 0.0), 1.0)


def _hue(number: str, unit: str) -> float:
    turns = {"turn": 1.0, "rad": 1 / 6.283185307179586}.get(unit, 1 / 360)
    return (float(number) * turns) % 1.0


def blend(colour: Colour, under: Colour) -> Colour:
    """``colour`` drawn over the opaque colour ``under``."""
    alpha = colour[3]
    return (colour[0] * alpha + under[0] * (1 - alpha), colour[1] * alpha + under[1] * (1 - alpha),
            colour[2] * alpha + under[2] * (1 - alpha), 1.0)


def same_colour(text: Colour, background: Colour) -> bool:
    """Whether text of colour ``text`` cannot be told from ``background`` (both opaque)."""
    return max(abs(text[0] - background[0]), abs(text[1] - background[1]),
               abs(text[2] - background[2])) <= SAME_COLOUR_DISTANCE


def font_size_px(value: str, parent: float) -> float | None:
    """A ``font-size`` in pixels, relative to the parent's; None when not understood."""
    text = value.strip().lower()
    if text in _FONT_KEYWORDS:
        return _FONT_KEYWORDS[text]
    if text == "smaller":
        return parent / 1.2
    if text == "larger":
        return parent * 1.2
    match = _LENGTH_RE.fullmatch(text[:_MAX_VALUE])
    if match is None:
        return None
    number, unit = float(match.group(1)), match.group(2) or "px"
    if unit in ("em", "%", "ex", "ch"):
        return parent * number / (100 if unit == "%" else 1) * (0.5 if unit in ("ex", "ch")
                                                                  else 1)
    if unit == "rem":
        return 16.0 * number
    return number * _UNIT_PX[unit]


def length_px(value: str) -> float | None:
    """A length in pixels (``em`` taken as 16 px), or None when not a plain length."""
    match = _LENGTH_RE.fullmatch(value.strip().lower()[:_MAX_VALUE])
    if match is None:
        return None
    unit = match.group(2) or "px"
    return float(match.group(1)) * _UNIT_PX.get(unit, 16.0 if unit != "%" else 0.0)


def percent(value: str) -> float | None:
    """A percentage's number (``50%``: 50.0), or None when ``value`` is not one."""
    match = _LENGTH_RE.fullmatch(value.strip().lower()[:_MAX_VALUE])
    return float(match.group(1)) if match is not None and match.group(2) == "%" else None


def font_shorthand_size(value: str, parent: float) -> float | None:
    """The size in a ``font`` shorthand (``font: 0/0 a``, ``bold 12px/1.4 Arial``): its first
    token before the family that is a length, a percentage, a size keyword or ``0`` (a weight
    such as ``700`` is a bare number), or None."""
    for token in value[:_MAX_VALUE].lower().split():
        size = token.split("/", 1)[0]
        unit = size[-1:].isalpha() or size.endswith("%")
        if size == "0" or size in _FONT_KEYWORDS or (unit and size[:1] in "+-.0123456789"):
            found = font_size_px(size, parent)
            if found is not None:
                return found
    return None


#: A CSS function and its arguments; a name starts after a character that is none of its own
#: (so a long run of letters is not retried from each of them).
_TRANSFORM_RE = re.compile(r"(?<![a-z0-9])([a-z0-9]++)\(([^()]*+)\)")
_ANGLE_UNITS = {"deg": 3.141592653589793 / 180, "grad": 3.141592653589793 / 200,
                "turn": 2 * 3.141592653589793, "rad": 1.0}


@dataclass(frozen=True, slots=True)
class Transform:
    """What a ``transform`` (and ``scale``, ``zoom``) does to text: how much it shrinks it
    along its smaller axis, and whether it moves it far off the page."""

    scale: float = 1.0
    off_page: bool = False


def transform(value: str, off_page_px: float) -> Transform:
    """The :class:`Transform` of a ``transform`` value: ``scale()``, ``scaleX/Y()``,
    ``matrix()`` and ``rotateX/Y()`` shrink text (``scale(0)`` to nothing, ``rotateY(90deg)``
    edge on), ``translate()``, ``translateX/Y()`` at ``off_page_px`` or further move it off the
    page. Anything else leaves it as it is."""
    scale_x = scale_y = 1.0
    off_page = False
    for name, arguments in _TRANSFORM_RE.findall(value[:_MAX_VALUE * 4].lower()):
        numbers = [float(number) * (_ANGLE_UNITS.get(unit, 1.0) if name.startswith("rotate")
                                    else 1.0)
                   for number, unit in _NUMBER_RE.findall(arguments)]
        if not numbers:
            continue
        if name in ("scale", "scale3d"):
            scale_x *= abs(numbers[0])
            scale_y *= abs(numbers[1] if len(numbers) > 1 else numbers[0])
        elif name == "scalex":
            scale_x *= abs(numbers[0])
        elif name == "scaley":
            scale_y *= abs(numbers[0])
        elif name in ("matrix", "matrix3d") and len(numbers) >= 4:
            step = 4 if name == "matrix3d" else 2
            scale_x *= (numbers[0] ** 2 + numbers[1] ** 2) ** 0.5
            scale_y *= (numbers[step] ** 2 + numbers[step + 1] ** 2) ** 0.5
        elif name == "rotatey":
            scale_x *= abs(math.cos(numbers[0]))
        elif name == "rotatex":
            scale_y *= abs(math.cos(numbers[0]))
        elif name.startswith("translate"):
            lengths = [length_px(part) for part in arguments.split(",")[:2]] \
                if "," in arguments else [length_px(part) for part in arguments.split()[:2]]
            off_page = off_page or any(length is not None and length <= off_page_px
                                       for length in lengths)
    return Transform(min(scale_x, scale_y), off_page)


def scale_factor(value: str) -> float:
    """The factor of a ``scale`` property or ``zoom`` (``0.01``, ``1%``; ``zoom: 0`` is
    ``normal``), the smaller of two."""
    numbers = [float(number) / (100 if unit == "%" else 1)
               for number, unit in _NUMBER_RE.findall(value[:_MAX_VALUE].lower())[:2]]
    return min(abs(number) for number in numbers) if numbers else 1.0


def empty_clip_path(value: str) -> bool:
    """Whether a ``clip-path`` leaves nothing of the box: ``inset()`` of 50 % or more from
    both sides (or 999 px), ``circle(0)``, ``ellipse()`` with a zero radius, a ``polygon()``
    whose points are all one."""
    match = _TRANSFORM_RE.search(value[:_MAX_VALUE * 4].lower())
    if match is None:
        return False
    name, arguments = match.groups()
    if name == "inset":
        sides = arguments.split(" round ")[0].split()[:4]
        if not sides:
            return False
        top, right, bottom, left = (sides * 4)[:4] if len(sides) == 1 else \
            (sides[0], sides[1], sides[0], sides[1]) if len(sides) == 2 else \
            (sides[0], sides[1], sides[2], sides[1]) if len(sides) == 3 else sides
        return _covers(top, bottom) or _covers(left, right)
    if name in ("circle", "ellipse"):
        radii = arguments.split(" at ")[0].split()
        return any(length_px(radius) == 0.0 or percent(radius) == 0.0 for radius in radii)
    if name == "polygon":
        points = {" ".join(point.split()) for point in arguments.split(",")
                  if point.strip() not in ("nonzero", "evenodd")}
        return len(points) == 1
    return False


def _covers(one: str, other: str) -> bool:
    """Whether insets from two opposite sides meet (both percentages, or 999 px or more)."""
    first, second = (_inset_percent(side) for side in (one, other))
    if first is not None and second is not None:
        return first + second >= 100
    return any(length is not None and length >= 999 for length in (length_px(one),
                                                                     length_px(other)))


def _inset_percent(side: str) -> float | None:
    """An inset as a percentage of the box (``0`` is 0 %), or None when in another unit."""
    found = percent(side)
    return 0.0 if found is None and side.strip() == "0" else found


def empty_clip(value: str) -> bool:
    """Whether a ``clip: rect(top, right, bottom, left)`` is empty (bottom at or above top,
    or right at or left of left; ``auto`` is the box's edge)."""
    text = value.strip().lower()
    if not text.startswith("rect(") or not text.endswith(")"):
        return False
    sides = [length_px(side) if side != "auto" else None
             for side in text[5:-1].replace(",", " ").split()]
    if len(sides) != 4:
        return False
    top, right, bottom, left = sides
    return (top is not None and bottom is not None and bottom <= top) or \
        (left is not None and right is not None and right <= left)


#: Strings with their escapes, and the characters a style sheet's structure hangs on. A string
#: without its closing quote runs to the end (so an unclosed one is matched once, not retried).
_TOKEN_RE = re.compile(r"""[{};]|"(?:[^"\\]|\\.)*+"?|'(?:[^'\\]|\\.)*+'?""", re.DOTALL)
_COMMENT_RE = re.compile(r"/\*")
_IMPORTANT_RE = re.compile(r"!\s*important\s*$", re.IGNORECASE)
_SKIPPED_MEDIA_RE = re.compile(r"print|speech|prefers-color-scheme")


def strip_comments(css: str) -> str:
    """``css`` without its ``/* ... */`` comments (an unclosed one runs to the end)."""
    pieces = []
    pos = 0
    while (match := _COMMENT_RE.search(css, pos)) is not None:
        pieces.append(css[pos:match.start()])
        end = css.find("*/", match.end())
        pos = len(css) if end < 0 else end + 2
    pieces.append(css[pos:])
    return " ".join(pieces)


def split_outside_strings(text: str, separator: str) -> list[str]:
    """``text`` cut at each ``separator`` (``;`` or ``,``) that is not inside a quoted string."""
    parts = []
    start = 0
    for match in _TOKEN_RE.finditer(text) if separator == ";" else _LIST_RE.finditer(text):
        if match.group() == separator:
            parts.append(text[start:match.start()])
            start = match.end()
    parts.append(text[start:])
    return parts


_LIST_RE = re.compile(r"""[,]|"(?:[^"\\]|\\.)*+"?|'(?:[^'\\]|\\.)*+'?""", re.DOTALL)


#: One declaration: its value and whether it is ``!important``.
Declaration = tuple[str, bool]


def declarations(block: str) -> dict[str, Declaration]:
    """The declarations of a rule's block or a ``style`` attribute that decide visibility
    (:data:`PROPERTIES`), the last one of each property winning unless an earlier one is
    ``!important`` and it is not."""
    found: dict[str, Declaration] = {}
    for item in split_outside_strings(block, ";"):
        name, colon, value = item.partition(":")
        name = name.strip().lower()
        if not colon or name not in PROPERTIES:
            continue
        value = value.strip()
        important = _IMPORTANT_RE.search(value) is not None
        if important:
            value = value[:value.rindex("!")].strip()
        if name in found and found[name][1] and not important:
            continue
        found[name] = (value, important)
    return found


#: A property's declaration from a style sheet: value, important, specificity, order.
Ranked = tuple[str, bool, tuple[int, int, int], int]


@dataclass(slots=True)
class StyleSheet:
    """The rules of a message's style sheets, merged by selector and indexed by the one name
    each selector needs (:attr:`Selector.key`), so that an element looks up only the rules that
    may match it."""

    rules: dict[Selector, dict[str, Ranked]] = field(default_factory=dict)
    index: dict[str, list[Selector]] = field(default_factory=dict)
    #: the compounds selectors ask of an element's ancestors, parent or earlier siblings, by key
    context: dict[str, list[Selector]] = field(default_factory=dict)
    order: int = 0
    #: what selectors ask of elements' places among their siblings, by tag (``*``: any)
    places: dict[str, list[Place]] = field(default_factory=dict)
    #: whether a selector asks of an element's earlier siblings
    asks_siblings: bool = False

    def __bool__(self) -> bool:
        return bool(self.rules)

    def add(self, css: str) -> None:
        """Add the rules of one style sheet (the text of a ``<style>`` element)."""
        css = strip_comments(css)
        blocks: list[tuple[str, str, int]] = []  # kind, prelude, start of the block's text
        start = 0
        for match in _TOKEN_RE.finditer(css):
            token = match.group()
            if token == "{":
                prelude = css[start:match.start()].strip()
                blocks.append((_block_kind(prelude, blocks[-1][0] if blocks else "group"),
                               prelude, match.end()))
                start = match.end()
            elif token == "}":
                if blocks:
                    kind, prelude, opened = blocks.pop()
                    if kind == "rule":
                        self._add_rule(prelude, css[opened:match.start()])
                start = match.end()
            elif token == ";" and (not blocks or blocks[-1][0] == "group"):
                start = match.end()  # an at-statement (@import ...;) ends

    def _add_rule(self, prelude: str, block: str) -> None:
        found = declarations(block)
        if not found:
            return
        self.order += 1
        for text in split_outside_strings(prelude, ","):
            selector = parse_selector(text)
            if selector is None:
                continue
            merged = self.rules.get(selector)
            if merged is None:
                listed = self.index.setdefault(selector.key, [])
                if len(self.rules) >= MAX_SELECTORS or len(listed) >= MAX_SELECTORS_PER_KEY \
                        or not self._add_places(selector) or not self._add_context(selector):
                    continue
                listed.append(selector)
                merged = self.rules[selector] = {}
                self.asks_siblings = self.asks_siblings or selector.sibling is not None
            for name, (value, important) in found.items():
                if name in merged and merged[name][1] and not important:
                    continue
                merged[name] = (value, important, selector.specificity, self.order)

    def _add_context(self, selector: Selector) -> bool:
        """Index the compounds ``selector`` asks of the elements around it; False when there
        would be more than :data:`MAX_CONTEXT` of them (the selector is then not applied)."""
        new = [compound for compound in self._wanted(selector)
               if compound not in self.context.get(compound.key, ())]
        if sum(len(listed) for listed in self.context.values()) + len(new) > MAX_CONTEXT:
            return False
        for compound in new:
            self.context.setdefault(compound.key, []).append(compound)
        return True

    def _add_places(self, selector: Selector) -> bool:
        """Keep what ``selector`` asks of elements' places; False when there would be more than
        :data:`MAX_PLACES` of them (the selector is then not applied)."""
        wanted = {(compound.tag or "*", place) for compound in (selector, *self._wanted(selector))
                  for place in compound.all_places}
        new = [(tag, place) for tag, place in wanted if place not in self.places.get(tag, ())]
        if sum(len(listed) for listed in self.places.values()) + len(new) > MAX_PLACES:
            return False
        for tag, place in new:
            self.places.setdefault(tag, []).append(place)
        return True

    def place_of(self, tag: str, index: int, type_index: int) -> tuple[bool, ...]:
        """Which of the places selectors ask of an element ``tag`` one at ``index`` (and
        ``type_index``) is in: all that decides how those selectors match it."""
        if tag not in self.places and "*" not in self.places:
            return ()
        return tuple(in_place(place, index, type_index)
                     for listed in (self.places.get(tag, ()), self.places.get("*", ()))
                     for place in listed)

    @staticmethod
    def _wanted(selector: Selector) -> list[Selector]:
        """The compounds ``selector`` asks of the elements around the one it selects."""
        return [*selector.ancestors, *(compound for compound in (selector.parent,
                                                                 selector.sibling)
                                       if compound is not None)]

    def context_of(self, element: Element) -> frozenset[Selector]:
        """The compounds of :attr:`context` an element matches."""
        if not self.context:
            return frozenset()
        return frozenset(compound for key in element_keys(element)
                         for compound in self.context.get(key, ())
                         if compound.matches(element))

    def matching(self, element: Element, around: Around) -> list[tuple[Selector,
                                                                       dict[str, Ranked]]]:
        """The rules whose selector matches an element (its pseudo-elements' rules too), where
        the elements ``around`` it match the compounds they hold."""
        ancestors, parent, previous, earlier = around
        found = []
        for key in element_keys(element):
            for selector in self.index.get(key, ()):
                if selector.matches(element) and selector.ancestors.issubset(ancestors) and \
                        (selector.parent is None or selector.parent in parent) and \
                        (selector.sibling is None or selector.sibling in (
                            previous if selector.adjacent else earlier)):
                    found.append((selector, self.rules[selector]))
        return found


#: The compounds of a style sheet's selectors' context (:attr:`StyleSheet.context`) that the
#: elements around one match: its open ancestors, its parent, its previous element sibling and
#: all its earlier ones.
Around = tuple[frozenset[Selector], frozenset[Selector], frozenset[Selector],
               frozenset[Selector]]
NOTHING_AROUND: Around = (frozenset(), frozenset(), frozenset(), frozenset())


def _block_kind(prelude: str, outer: str) -> str:
    """What the block after ``prelude`` is, inside a block of kind ``outer``: ``rule``, an
    applied ``group`` (``@media`` not for print, speech or a colour scheme, ``@supports``), or
    ``skip`` (any other at-rule, a block nested in a rule's)."""
    if outer != "group":
        return "skip"
    if not prelude.startswith("@"):
        return "rule"
    lowered = prelude.lower()
    if lowered.startswith("@media"):
        return "skip" if _SKIPPED_MEDIA_RE.search(lowered) else "group"
    return "group" if lowered.startswith("@supports") else "skip"
