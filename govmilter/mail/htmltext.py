"""HTML to the text a reader sees, and apart from it the text the reader does not see.

The markup is walked once, keeping the open elements as a browser would (end tags that close
nothing are ignored, ``<p>``, ``<li>``, ``<td>``, ``<tr>`` are closed by the next one), and each
element's style is computed from its attributes (``style``, ``<font color>``, ``bgcolor``,
``<body text>``, ``hidden``) and the message's own style sheets (:mod:`govmilter.mail.css`).
Text is *not seen* when its element or an ancestor is ``display:none``, ``hidden``,
``mso-hide:all``, of opacity under 0.1, or a box clipped to nothing (``max-height:0`` with
``overflow:hidden``, an empty ``clip`` or ``clip-path``, far off the page), or when it is
``visibility:hidden``, under 2 pt after the scales of its ancestors (``transform``, ``zoom``),
or of the colour of its background (the nearest background colour of it or an ancestor, a page
being white). Over a background image, text of another colour *may* be seen (the image's
colours are not known). ``::before``/``::after`` content and ``<img alt>`` are text like any
other.

Text not seen is left out of the reading (``M<span style="display:none">x</span>ẬT`` reads
``MẬT``, ``MẬT<span style="color:#fff"> KHẨU</span>`` reads ``MẬT``), and given after it, each
run on a line of its own, as is text that may be seen, in runs of its own: a marking a style
hides is still read (evidence adds up; a rule a mail client does not apply must not erase a
marking the reader sees), and text of the two kinds never joins.

Linear in the size of the input, whatever the markup and the style sheets.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, replace

from govmilter.mail.css import (
    BLACK,
    NOTHING_AROUND,
    WHITE,
    Around,
    Colour,
    Declaration,
    Ranked,
    StyleSheet,
    blend,
    declarations,
    empty_clip,
    empty_clip_path,
    font_shorthand_size,
    font_size_px,
    length_px,
    parse_colour,
    percent,
    same_colour,
    scale_factor,
    transform,
)
from govmilter.mail.selectors import MAX_CLASSES, Element, Selector

_SKIP_TAGS = {name: re.compile(rf"(?i)</{name}\s*>") for name in ("script", "style", "title",
                                                                   "template")}
_BREAK_TAGS = frozenset({"br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6",
                         "table", "td", "th", "blockquote", "pre", "hr", "ul", "ol", "dl", "dt",
                         "dd", "section", "article", "header", "footer", "caption"})
#: A comment opening, a tag, or a declaration/processing instruction. ``[^<>]*`` stops at the
#: next bracket, so the scan over a document is linear (``html.parser`` is not: docs/security.md);
#: the name is possessive (``*+``): ``[^<>]*`` also takes letters, and an unclosed ``<aaaa…``
#: retried every split of the name between the two.
_MARKUP_RE = re.compile(r"<(?:(!--)|(/?)([A-Za-z][A-Za-z0-9]*+)[^<>]*>|[!?][^<>]*>)")
_STYLE_SHEET_RE = re.compile(r"(?i)<!--|<style(?=[\s>/])[^<>]*+>")
_ATTRIBUTE_RE = re.compile(
    r"""([^\s"'>/=]++)(?:\s*+=\s*+(?:"([^"]*+)"|'([^']*+)'|([^\s"'>]++)))?""")
_CONTENT_RE = re.compile(
    r""""((?:[^"\\]|\\.)*+)"?|'((?:[^'\\]|\\.)*+)'?|attr\(\s*+([\w-]++)\s*+\)""", re.DOTALL)
_CSS_ESCAPE_RE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})[ \t\n]?|(.))", re.DOTALL)
_BACKGROUND_TOKEN_RE = re.compile(r"#[0-9a-fA-F]++|(?:rgba?|hsla?)\([^()]*+\)|[a-zA-Z]++")
_URL_RE = re.compile(r"(?i)url\([^()]*+\)")
#: A background image: a picture or a gradient (its colours are not known).
_IMAGE_RE = re.compile(r"(?i)url\(|gradient\(|image\(|image-set\(|element\(")
_FILTER_OPACITY_RE = re.compile(r"opacity\(\s*+((?:\d+\.?\d*|\.\d+))(%)?")

_VOID = frozenset({"area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr",
                   "img", "input", "keygen", "link", "meta", "param", "source", "track", "wbr"})
#: Elements an end tag of another (inline) element does not close past (HTML's "special").
_SPECIAL = frozenset({"address", "article", "aside", "blockquote", "body", "caption", "center",
                      "dd", "details", "dir", "div", "dl", "dt", "fieldset", "figcaption",
                      "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
                      "hgroup", "html", "li", "main", "menu", "nav", "ol", "p", "pre",
                      "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr",
                      "ul", "button", "object", "marquee", "applet", "select"})
#: Elements past which an end tag or an implied end does not reach (HTML's "scope").
_SCOPE = frozenset({"td", "th", "table", "caption", "html", "object", "marquee", "applet",
                    "button"})
#: Start tags that close an open ``<p>``.
_CLOSES_P = frozenset({"address", "article", "aside", "blockquote", "center", "details", "dir",
                       "div", "dl", "fieldset", "figcaption", "figure", "footer", "form", "h1",
                       "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "main", "menu",
                       "nav", "ol", "p", "pre", "section", "summary", "table", "ul", "li",
                       "dd", "dt"})
#: A start tag, the open elements it closes, and the container past which it does not close.
_IMPLIED = {"li": (("li",), ("ul", "ol")), "dt": (("dt", "dd"), ("dl",)),
            "dd": (("dt", "dd"), ("dl",)), "td": (("td", "th"), ("table", "tr")),
            "th": (("td", "th"), ("table", "tr")), "tr": (("tr",), ("table",))}

#: Text under this size (pixels: 2 pt) is not read as seen.
MIN_FONT_PX = 2 * 4 / 3
#: An element this transparent (or more) hides its content.
MIN_OPACITY = 0.1
#: An element moved this far off the page (``text-indent``, ``left``, ``top``) hides it.
OFF_PAGE_PX = -999.0

#: How text stands to its reader: seen; not seen (hidden by a style); or maybe not seen (drawn
#: over a background image, whose colours are not known, in a colour other than the one under
#: the image). Text not seen and text maybe not seen are both read apart, in runs of their own.
SEEN = "seen"
HIDDEN = "hidden"
UNSURE = "unsure"


@dataclass(frozen=True, slots=True)
class TextStyle:
    """What decides whether an element's text is seen, as computed for the element."""

    #: the element or an ancestor is not drawn (``display:none``, clipped, transparent...)
    removed: bool = False
    #: ``visibility:hidden`` (inherited, and a descendant may make itself visible again)
    invisible: bool = False
    #: the text colour, maybe translucent
    colour: Colour = BLACK
    #: the opaque colour behind the element: its own background, else its parent's
    background: Colour = WHITE
    font_px: float = 16.0
    opacity: float = 1.0
    #: ``-webkit-text-fill-color``: the colour glyphs are filled with, over ``colour``
    fill: Colour | None = None
    #: how much the element and its ancestors shrink text (``transform: scale()``, ``zoom``)
    scale: float = 1.0
    #: a background image is drawn under the text (its colours are not known)
    over_image: bool = False

    @property
    def sight(self) -> str:
        """Whether text in this style is seen by the reader: :data:`SEEN`, :data:`HIDDEN` or
        :data:`UNSURE`."""
        if self.removed or self.invisible or self.font_px * self.scale < MIN_FONT_PX \
                or self.opacity < MIN_OPACITY:
            return HIDDEN
        colour = self.fill if self.fill is not None else self.colour
        if same_colour(blend(colour, self.background), self.background):
            return HIDDEN
        return UNSURE if self.over_image else SEEN


PAGE = TextStyle()


@dataclass(frozen=True, slots=True)
class HtmlReading:
    """An HTML document's text as its reader sees it, and the runs of text a style hides (each
    run on a line of its own)."""

    seen: str
    unseen: str

    @property
    def text(self) -> str:
        """What the detector reads: the text seen, then the text not seen on lines after it."""
        return f"{self.seen}\n{self.unseen}" if self.unseen.strip() else self.seen


def _attributes(tag: str, name_end: int) -> dict[str, str]:
    """The attributes of a start tag (names in lower case, values unescaped)."""
    found: dict[str, str] = {}
    for match in _ATTRIBUTE_RE.finditer(tag, name_end, len(tag) - 1):
        name = match.group(1).lower()
        if name not in found:
            value = match.group(2) or match.group(3) or match.group(4) or ""
            found[name] = html.unescape(value) if "&" in value else value
    return found


def _hints(name: str, attributes: dict[str, str]) -> dict[str, str]:
    """The presentational attributes as the declarations they stand for (below all CSS)."""
    hints: dict[str, str] = {}
    colour = attributes.get("color") if name in ("font", "basefont") else None
    if name == "body":
        colour = attributes.get("text")
    if colour:
        legacy = parse_colour(colour, legacy=True)
        if legacy is not None:
            hints["color"] = "rgba({:.0f},{:.0f},{:.0f},{})".format(*legacy)
    background = attributes.get("bgcolor")
    if background:
        legacy = parse_colour(background, legacy=True)
        if legacy is not None:
            hints["background-color"] = "rgba({:.0f},{:.0f},{:.0f},{})".format(*legacy)
    if "hidden" in attributes:
        hints["display"] = "none"
    if name in ("body", "table", "tr", "td", "th") and attributes.get("background", "").strip():
        hints["background-image"] = "url()"
    return hints


def _cascade(matched: list[dict[str, Ranked]], inline: dict[str, Declaration],
             hints: dict[str, str]) -> dict[str, str]:
    """The winning value of each property: ``!important`` first, then the ``style``
    attribute, then the more specific selector, then the later rule; hints lose to all."""
    best: dict[str, tuple[tuple[bool, bool, tuple[int, int, int], int], str]] = {}
    for rules in matched:
        for prop, (value, important, specificity, order) in rules.items():
            rank = (important, False, specificity, order)
            if prop not in best or rank > best[prop][0]:
                best[prop] = (rank, value)
    for prop, (value, important) in inline.items():
        rank = (important, True, (0, 0, 0), 0)
        if prop not in best or rank > best[prop][0]:
            best[prop] = (rank, value)
    resolved = dict(hints)
    resolved.update((prop, value) for prop, (_rank, value) in best.items())
    return resolved


def _background_colour(value: str) -> Colour | None:
    """The colour in a ``background`` shorthand (its first token that is a colour)."""
    for token in _BACKGROUND_TOKEN_RE.findall(_URL_RE.sub(" ", value[:256])):
        colour = parse_colour(token)
        if colour is not None:
            return colour
    return None


#: The properties :func:`_clipped` reads.
_BOX_PROPERTIES = frozenset({
    "overflow", "max-height", "height", "max-width", "width", "text-indent", "position",
    "margin", "margin-left", "margin-top", "transform", "clip", "clip-path",
    "content-visibility"})


def _clipped(props: dict[str, str]) -> bool:
    """Whether the element's box shows nothing of its content: no height or width with its
    overflow hidden (``line-height:0`` and no height too), its text indented out of it, moved
    far off the page (``left``, ``margin``, ``translate()``), clipped to an empty rectangle or
    shape (``clip``, ``clip-path``), or its content skipped (``content-visibility``)."""
    if _BOX_PROPERTIES.isdisjoint(props):
        return False
    overflow_hidden = props.get("overflow", "").strip().lower() in ("hidden", "clip")
    if overflow_hidden:
        for prop in ("max-height", "height", "max-width", "width"):
            size = length_px(props.get(prop, "auto"))
            if size is not None and size <= 1:
                return True
        line_height = props.get("line-height", "normal").strip()
        line = length_px(line_height)
        if line is not None and line_height.replace(".", "").isdigit():
            line *= 16.0  # a bare number is a multiple of the font size
        if line is not None and line <= 1 and props.get("height", "auto").strip() == "auto":
            return True
    indent_text = props.get("text-indent", "0")
    indent = length_px(indent_text)
    if indent is not None and (indent <= OFF_PAGE_PX
                               or (overflow_hidden and indent >= -OFF_PAGE_PX)):
        return True
    if overflow_hidden and (percent(indent_text) or 0.0) >= 100:
        return True
    if props.get("position", "").strip().lower() in ("absolute", "fixed"):
        for prop, sign in (("left", 1), ("top", 1), ("right", -1), ("bottom", -1)):
            offset = length_px(props.get(prop, "0"))
            if offset is not None and offset * sign <= OFF_PAGE_PX:
                return True
    if any(_far_margin(props, side) for side in ("top", "left")):
        return True
    if "transform" in props and transform(props["transform"], OFF_PAGE_PX).off_page:
        return True
    return empty_clip(props.get("clip", "")) or empty_clip_path(props.get("clip-path", "")) \
        or props.get("content-visibility", "").strip().lower() == "hidden"


def _far_margin(props: dict[str, str], side: str) -> bool:
    """Whether the element's top or left margin (longhand, else from ``margin``) moves it far
    off the page."""
    value = props.get(f"margin-{side}")
    if value is None:
        parts = props.get("margin", "").split()[:4]
        if not parts:
            return False
        value = parts[0] if side == "top" else parts[-1] if len(parts) == 4 else parts[
            1 if len(parts) > 1 else 0]
    margin = length_px(value)
    return margin is not None and margin <= OFF_PAGE_PX


def _styled(parent: TextStyle, props: dict[str, str]) -> TextStyle:
    """The style of an element whose parent's is ``parent`` and whose declarations are
    ``props``."""
    style = parent
    changes: dict[str, object] = {}
    if props.get("display", "").strip().lower() == "none" or \
            props.get("mso-hide", "").strip().lower() == "all" or _clipped(props):
        changes["removed"] = True
    visibility = props.get("visibility", "").strip().lower()
    if visibility in ("hidden", "collapse"):
        changes["invisible"] = True
    elif visibility == "visible":
        changes["invisible"] = False
    opacity = 1.0
    if "opacity" in props:
        text = props["opacity"].strip()
        try:
            opacity = float(text[:-1]) / 100 if text.endswith("%") else float(text[:32])
        except ValueError:
            opacity = 1.0
    if "filter" in props:  # filter: opacity(0)
        for match in _FILTER_OPACITY_RE.finditer(props["filter"][:1024].lower()):
            opacity *= float(match.group(1)) / (100 if match.group(2) else 1)
    if opacity != 1.0:
        changes["opacity"] = parent.opacity * min(max(opacity, 0.0), 1.0)
    size = font_size_px(props["font-size"], parent.font_px) if "font-size" in props else \
        font_shorthand_size(props["font"], parent.font_px) if "font" in props else None
    if size is not None:
        changes["font_px"] = size
    scale = transform(props["transform"], OFF_PAGE_PX).scale if "transform" in props else 1.0
    for prop in ("scale", "zoom"):
        if prop in props and props[prop].strip().lower() not in ("0", "normal", "none"):
            scale *= scale_factor(props[prop])
    if scale != 1.0:
        changes["scale"] = parent.scale * scale
    if "color" in props:
        value = props["color"].strip().lower()
        colour = BLACK if value == "initial" else parse_colour(value)
        if colour is not None:
            changes["colour"] = colour
    if "-webkit-text-fill-color" in props:
        value = props["-webkit-text-fill-color"].strip().lower()
        fill = parse_colour(value)
        if fill is not None or value in ("currentcolor", "initial", "unset"):
            changes["fill"] = fill
    background = None
    if "background-color" in props:
        background = parse_colour(props["background-color"])
    elif "background" in props:
        background = _background_colour(props["background"])
    if background is not None and background[3] > 0:
        changes["background"] = blend(background, parent.background)
        if background[3] >= 1:
            changes["over_image"] = False
    if _IMAGE_RE.search(props.get("background-image", "")[:1024]) or \
            _IMAGE_RE.search(props.get("background", "")[:1024]):
        changes["over_image"] = True
    return replace(style, **changes) if changes else style  # type: ignore[arg-type]


def _content(value: str, attributes: dict[str, str]) -> str:
    """The text of a ``content`` value: its strings (CSS escapes decoded) and ``attr()``s."""
    pieces = []
    for match in _CONTENT_RE.finditer(value[:4096]):
        if match.group(3) is not None:
            pieces.append(attributes.get(match.group(3).lower(), ""))
        else:
            text = match.group(1) if match.group(1) is not None else match.group(2)
            pieces.append(_CSS_ESCAPE_RE.sub(_unescape_css, text or ""))
    return "".join(pieces)


def _unescape_css(match: re.Match[str]) -> str:
    if match.group(1) is None:
        return "" if match.group(2) == "\n" else match.group(2)
    code = int(match.group(1), 16)
    return chr(code) if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF else "\ufffd"


def style_sheets(text: str) -> StyleSheet:
    """The rules of every ``<style>`` element of a document (not in comments, not for print)."""
    sheet = StyleSheet()
    pos = 0
    while (match := _STYLE_SHEET_RE.search(text, pos)) is not None:
        if match.group() == "<!--":
            end = text.find("-->", match.end())
            if end < 0:
                break
            pos = end + 3
            continue
        close = _SKIP_TAGS["style"].search(text, match.end())
        end = close.start() if close else len(text)
        media = _attributes(match.group(), 6).get("media", "").lower()
        if "print" not in media and "speech" not in media:
            sheet.add(text[match.end():end])
        pos = close.end() if close else len(text)
    return sheet


class _Reading:
    """The text seen, and the runs of text not seen, as the walk gives them: a run holds text
    of one :attr:`TextStyle.sight` (hidden text and text maybe not seen never join)."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.unseen: list[str] = []
        self.open_run = ""  # the sight of the run of text not seen being written, if any

    def put(self, text: str, sight: str) -> None:
        if not text:
            return
        if sight != SEEN:
            if self.open_run and self.open_run != sight:
                self.unseen.append("\n")
            self.unseen.append(text)
            self.open_run = sight
        elif self.open_run and not text.isspace():
            self.unseen.append("\n")
            self.open_run = ""
            self.seen.append(text)
        else:
            self.seen.append(text)
            if self.open_run:
                self.unseen.append(text)

    def line_break(self) -> None:
        self.seen.append("\n")
        if self.open_run:
            self.unseen.append("\n")
            self.open_run = ""

    def result(self) -> HtmlReading:
        return HtmlReading("".join(self.seen), "".join(self.unseen))


class _Children:
    """What an open element's element children so far say to the next one's selectors: how
    many there were (of each tag), and the compounds the last one and all of them matched."""

    __slots__ = ("count", "earlier", "last", "of_tag")

    def __init__(self) -> None:
        self.count = 0
        self.of_tag: dict[str, int] = {}
        self.last: frozenset[Selector] = _NONE
        self.earlier: frozenset[Selector] = _NONE


class _OpenElements:
    """The stack of open elements, with each name's open positions (so that an end tag is
    matched in constant time) and the positions of the open special and scope elements; for
    each, what its children so far were (only what the style sheets ask of: the places of
    elements for ``:nth-child``, the compounds of earlier siblings for ``+`` and ``~``)."""

    def __init__(self, reading: _Reading, sheet: StyleSheet) -> None:
        self.sheet = sheet
        self.counts_places = bool(sheet.places)
        self.asks_siblings = sheet.asks_siblings
        self.tracks_children = self.counts_places or self.asks_siblings
        self.children = [_Children()]
        self.names: list[str] = []
        self.elements: list[_Element] = []
        self.at: dict[str, list[int]] = {}
        self.special: list[int] = []
        self.scope: list[int] = []
        self.reading = reading
        self.open_matches: dict[Selector, int] = {}  # open elements matching each compound
        self.ancestors: frozenset[Selector] = frozenset()

    def context(self, name: str) -> Context:
        """Where an element ``name`` opened now stands (:data:`Context`)."""
        if not self.tracks_children:
            if not self.ancestors:
                return NO_CONTEXT
            return ((self.ancestors, self.elements[-1].context if self.elements else _NONE,
                     _NONE, _NONE), ())
        children = self.children[-1]
        place = self.sheet.place_of(name, *self.place(name)) if self.counts_places else ()
        if not self.ancestors and not children.earlier:
            return (NOTHING_AROUND, place)
        return ((self.ancestors, self.elements[-1].context if self.elements else _NONE,
                 children.last, children.earlier), place)

    def place(self, name: str) -> tuple[int, int]:
        """The place of an element ``name`` opened now among its parent's element children
        and among those of its tag (from 1; 0 when no selector asks)."""
        if not self.counts_places:
            return (0, 0)
        children = self.children[-1]
        return (children.count + 1, children.of_tag.get(name, 0) + 1)

    def add_child(self, name: str, element: _Element) -> None:
        """Count an element just opened (or a void one) among its parent's children (when the
        style sheets ask: :attr:`tracks_children`)."""
        children = self.children[-1]
        if self.counts_places:
            children.count += 1
            children.of_tag[name] = children.of_tag.get(name, 0) + 1
        if self.asks_siblings:
            children.last = element.context
            if not element.context.issubset(children.earlier):
                children.earlier = children.earlier | element.context

    @property
    def style(self) -> TextStyle:
        return self.elements[-1].style if self.elements else PAGE

    @property
    def sight(self) -> str:
        return self.elements[-1].sight if self.elements else SEEN

    def last(self, name: str) -> int:
        positions = self.at.get(name)
        return positions[-1] if positions else -1

    def push(self, name: str, element: _Element) -> None:
        for compound in element.context:
            self.open_matches[compound] = self.open_matches.get(compound, 0) + 1
            if self.open_matches[compound] == 1:
                self.ancestors = self.ancestors | {compound}
        index = len(self.names)
        self.names.append(name)
        self.elements.append(element)
        if self.tracks_children:
            self.children.append(_Children())
        self.at.setdefault(name, []).append(index)
        if name in _SPECIAL:
            self.special.append(index)
        if name in _SCOPE:
            self.scope.append(index)

    def pop_to(self, index: int) -> None:
        """Close the element at ``index`` and every one opened after it."""
        while len(self.names) > index:
            name = self.names.pop()
            element = self.elements.pop()
            if self.tracks_children:
                self.children.pop()
            after = element.after
            for compound in element.context:
                self.open_matches[compound] -= 1
                if not self.open_matches[compound]:
                    self.ancestors = self.ancestors - {compound}
            self.at[name].pop()
            position = len(self.names)
            if self.special and self.special[-1] == position:
                self.special.pop()
            if self.scope and self.scope[-1] == position:
                self.scope.pop()
            if after is not None:
                self.reading.put(*after)

    def in_scope(self, index: int) -> bool:
        """Whether no scope element was opened after the element at ``index``."""
        return index >= 0 and not (self.scope and self.scope[-1] > index)

    def end_tag(self, name: str) -> None:
        if name in ("body", "html"):
            return  # text after them is still the body's
        index = self.last(name)
        if index < 0:
            return
        if name in _SPECIAL:
            if name not in _SCOPE and not self.in_scope(index):
                return
        elif self.special and self.special[-1] > index:
            return  # an inline end tag does not close a block opened inside it
        self.pop_to(index)

    def start_tag(self, name: str) -> None:
        """Close what the start tag ``name`` implies."""
        if name in _CLOSES_P:
            index = self.last("p")
            if self.in_scope(index):
                self.pop_to(index)
        implied = _IMPLIED.get(name)
        if implied is not None:
            closes, containers = implied
            index = max(self.last(other) for other in closes)
            if index >= 0 and all(self.last(other) < index for other in containers):
                self.pop_to(index)


#: Where an element stands: the compounds of the style sheets' selectors that its open
#: ancestors, its parent and its earlier siblings match (:data:`Around`), and which of the places
#: the style sheets ask of it it is in (:meth:`StyleSheet.place_of`).
Context = tuple[Around, tuple[bool, ...]]
_NONE: frozenset[Selector] = frozenset()
NO_CONTEXT: Context = (NOTHING_AROUND, ())


def _matched(sheet: StyleSheet, name: str, attributes: dict[str, str], around: Around,
             place: tuple[int, int]) -> tuple[list[dict[str, Ranked]], list[dict[str, Ranked]],
                                              list[dict[str, Ranked]], frozenset[Selector]]:
    """The rules of ``sheet`` matching an element at ``place`` among its siblings (see
    :meth:`_OpenElements.place`), for itself, its ``::before`` and its ``::after``, and the
    compounds of the sheet's selectors' context it matches."""
    own: list[dict[str, Ranked]] = []
    before: list[dict[str, Ranked]] = []
    after: list[dict[str, Ranked]] = []
    index, type_index = place
    element = Element(name, attributes.get("id", "").strip().lower() or None,
                      tuple(attributes.get("class", "").lower().split()[:MAX_CLASSES]),
                      attributes, index, type_index)
    for selector, rules in sheet.matching(element, around):
        {"": own, "before": before, "after": after}[selector.pseudo].append(rules)
    return own, before, after, sheet.context_of(element)


def _pseudo(style: TextStyle, rules: list[dict[str, Ranked]],
            attributes: dict[str, str]) -> tuple[str, str] | None:
    """The text of a ``::before`` or ``::after`` and its :attr:`~TextStyle.sight`, or None."""
    if not rules:
        return None
    props = _cascade(rules, {}, {})
    text = _content(props.get("content", ""), attributes)
    return (text, _styled(style, props).sight) if text else None


@dataclass(frozen=True, slots=True)
class _Element:
    """An element as its start tag and its parent's style make it."""

    style: TextStyle
    sight: str
    #: its ``::before`` and ``::after`` text and whether each is seen (:attr:`TextStyle.sight`)
    before: tuple[str, str] | None = None
    after: tuple[str, str] | None = None
    #: an image's ``alt`` text
    alt: str = ""
    #: the compounds of the style sheets' selectors' context it matches
    context: frozenset[Selector] = frozenset()


#: Elements computed per document and kept for the next start tag with the same text and parent
#: style (a newsletter repeats its tags); past this many the memory is started again.
_MAX_COMPUTED = 4096


def _element(sheet: StyleSheet, parent: TextStyle, name: str, tag: str,
             around: Around, place: tuple[int, int]) -> _Element:
    """The element a start tag ``tag`` opens inside an element of style ``parent``, where the
    elements ``around`` it match those compounds (:data:`Around`), at ``place`` among its
    siblings (:meth:`_OpenElements.place`)."""
    attributes = _attributes(tag, 1 + len(name)) if len(tag) > len(name) + 2 else {}
    style, before, after = parent, None, None
    matches: frozenset[Selector] = frozenset()
    if attributes or sheet:
        own, before_rules, after_rules, matches = _matched(
            sheet, name, attributes, around, place) if sheet else ([], [], [], matches)
        inline = declarations(attributes["style"]) if "style" in attributes else {}
        hints = _hints(name, attributes)
        if own or inline or hints:
            style = _styled(parent, _cascade(own, inline, hints))
        before = _pseudo(style, before_rules, attributes)
        after = _pseudo(style, after_rules, attributes)
    alt = attributes.get("alt", "") if name == "img" else ""
    return _Element(style, style.sight, before, after, alt, matches)


def html_to_text(text: str) -> str:
    """The text of an HTML document as its reader sees it, then (each run on a line of its own)
    the text a style hides: :attr:`HtmlReading.text` of :func:`read_html`."""
    return read_html(text).text


def read_html(text: str) -> HtmlReading:
    """The text of an HTML document as its reader sees it, and apart the text a style hides;
    line breaks where blocks end. See the module's description.

    Linear in the size of the input, whatever the markup (unclosed tags, comments, scripts,
    deep nesting, large style sheets).
    """
    sheet = style_sheets(text) if "<style" in text or "<STYLE" in text or "<Style" in text \
        else StyleSheet()
    reading = _Reading()
    elements = _OpenElements(reading, sheet)
    # by the parent's style, the tag and where it stands
    computed: dict[tuple[TextStyle, str, Context], _Element] = {}
    pos = 0
    while True:
        match = _MARKUP_RE.search(text, pos)
        segment = text[pos:] if match is None else text[pos:match.start()]
        if segment:
            reading.put(html.unescape(segment) if "&" in segment else segment,
                        elements.sight)
        if match is None:
            break
        pos = match.end()
        if match.group(1):  # <!-- ... -->: an unclosed comment hides the rest
            end = text.find("-->", pos)
            if end < 0:
                break
            pos = end + 3
            continue
        name = (match.group(3) or "").lower()
        if not name:
            continue
        if match.group(2):
            elements.end_tag(name)
            if name in _BREAK_TAGS:
                reading.line_break()
            continue
        if name in _SKIP_TAGS:
            close = _SKIP_TAGS[name].search(text, pos)
            if close is None:
                break
            pos = close.end()
            continue
        elements.start_tag(name)
        if name in _BREAK_TAGS:
            reading.line_break()
        key = (elements.style, match.group(), elements.context(name))
        element = computed.get(key)
        if element is None:
            if len(computed) >= _MAX_COMPUTED:
                computed.clear()
            element = computed[key] = _element(sheet, key[0], name, key[1], key[2][0],
                                               elements.place(name))
        if elements.tracks_children:
            elements.add_child(name, element)
        if element.alt:
            reading.put(element.alt, element.sight)
        if name in _VOID:
            continue
        elements.push(name, element)
        if element.before is not None:
            reading.put(*element.before)
    return reading.result()
