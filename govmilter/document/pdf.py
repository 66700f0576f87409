"""Text and signatures of PDF attachments.

Text comes from PDFium (pypdfium2, Apache-2.0/BSD), imported only when a PDF is seen so that the
pure core stays light. PDFium is not thread-safe, and the milter serves connections in threads:
every use goes through one lock. Signatures are found on the raw bytes (``/ByteRange`` and a
``/Sig`` object), and the signer's certificate chain in ``/Contents`` is searched for the
Government CA (``O=Ban Co yeu Chinh phu``); nothing is validated, this is evidence, not proof.
"""

from __future__ import annotations

import ctypes
import re
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from govmilter.document.budget import ScanBudget, Unscannable
from govmilter.document.images import PageImage, render_dpi
from govmilter.mail.css import WHITE, same_colour
from govmilter.mail.vntext import fold_lookalikes, nfc

_PDFIUM_LOCK = threading.Lock()
_SIG_RE = re.compile(rb"/(?:Type|FT)\s*/Sig\b")
_CONTENTS_RE = re.compile(rb"/Contents\s*<([0-9A-Fa-f\s]{64,})>")
_GOV_CA_NAMES = (
    b"Ban Co yeu Chinh phu",
    "Ban Cơ yếu Chính phủ".encode(),
    "Ban Cơ yếu Chính phủ".encode("utf-16-be"),
)
_MAX_SIGNATURES = 4  # /Contents blobs looked into
_MAX_CONTENTS_HEX = 256 * 1024


class NoTextLayer(Unscannable):
    """A PDF whose pages carry no text: a scan, to be read by OCR where it is available."""

    def __init__(self, pages: int) -> None:
        super().__init__("PDF has no text layer (a scanned image?)")
        self.pages = pages


@dataclass(frozen=True, slots=True)
class PdfSignature:
    """What the raw bytes say about digital signatures."""

    signed: bool
    government_ca: bool


def pdf_signature(data: bytes) -> PdfSignature:
    """Look for a signature dictionary and a Government CA name in its certificates."""
    if b"/ByteRange" not in data or not _SIG_RE.search(data):
        return PdfSignature(signed=False, government_ca=False)
    for count, match in enumerate(_CONTENTS_RE.finditer(data)):
        if count >= _MAX_SIGNATURES:
            break
        hex_digits = re.sub(rb"\s+", b"", match.group(1)[:_MAX_CONTENTS_HEX])
        try:
            blob = bytes.fromhex(hex_digits[: len(hex_digits) // 2 * 2].decode("ascii"))
        except ValueError:
            continue
        if any(name in blob for name in _GOV_CA_NAMES):
            return PdfSignature(signed=True, government_ca=True)
    return PdfSignature(signed=True, government_ca=False)


#: A long PDF is read from both ends (PDFium's cost grows with the pages read): pages from the
#: start until this much text is read (a letter's first page holds the heading, number, V/v,
#: secrecy and urgency markings and the addressee; a cover page is shorter, so the next is read)...
PDF_HEAD_CHARS = 2000
#: ...and pages from the end until this much. The closing block alone (Nơi nhận, Lưu, signer) is
#: 100 to 300 characters; a last page with less holds only a name or a seal, so the page
#: before it is read too.
PDF_TAIL_CHARS = 100


def pages_to_read(count: int, max_pages: int, head_chars: int, tail_chars: int,
                  text_of: Callable[[int], str]) -> tuple[list[str], bool]:
    """Texts of pages from both ends of a ``count``-page document, at most ``max_pages`` of them.

    Pages from the start until ``head_chars`` characters are read (leaving room for the last
    page), then from the end until ``tail_chars``, then more from the start if the head is still
    short and pages are left. Returns the texts in document order and whether ``max_pages``
    stopped the reading before both ends had their text.
    """
    head: list[str] = []
    tail: list[str] = []
    head_read = tail_read = 0
    low, high = 0, count - 1
    reserve = max_pages - 1 if max_pages > 1 else 1  # head pages before the last one is read

    def read_head() -> None:
        nonlocal head_read, low
        head.append(text_of(low))
        head_read += len(head[-1])
        low += 1

    while low <= high and head_read < head_chars and len(head) < reserve:
        read_head()
    while low <= high and tail_read < tail_chars and len(head) + len(tail) < max_pages:
        tail.append(text_of(high))
        tail_read += len(tail[-1])
        high -= 1
    while low <= high and head_read < head_chars and len(head) + len(tail) < max_pages:
        read_head()
    cut = low <= high and (head_read < head_chars or tail_read < tail_chars)
    return head + tail[::-1], cut


#: Horizontal gap (points) between two text segments of one line past which they are columns:
#: a two-column heading ("MẬT" under the issuer, the date on the right) is read with a tab
#: between its cells, not one space, as Word and text mail would give it.
COLUMN_GAP = 12.0
_MAX_ANNOTATIONS = 64  # per page: form fields and notes beyond are not read
_MAX_ANNOTATION_CHARS = 4096  # per value


Box = tuple[float, float, float, float]  #: (left, bottom, right, top), in points


def layout_text(segments: list[tuple[Box, str]]) -> str:
    """A page's text from its segments (``(left, bottom, right, top)`` box and text) in order.

    A segment on the same line as the one before it (their heights overlap) follows it after a
    tab when the horizontal gap is wider than :data:`COLUMN_GAP`, else after a space; a segment
    on another line starts a new line.
    """
    return _layout([(box, box, text) for box, text in segments])


def _layout(segments: list[tuple[Box, Box, str]]) -> str:
    """:func:`layout_text` of segments that may span lines: each is (box of its first line,
    box of its last line, text), joined to the one before it by those two boxes."""
    out: list[str] = []
    previous: Box | None = None
    for first, last, text in segments:
        left, bottom, _right, top = first
        if previous is not None:
            same_line = bottom < previous[3] and top > previous[1] and left >= previous[2] - 1
            if not same_line:
                out.append("\n")
            elif left - previous[2] > COLUMN_GAP:
                out.append("\t")
            elif out and not out[-1].endswith((" ", "\n")):
                out.append(" ")
        out.append(text.replace("\r\n", "\n").replace("\r", "\n"))
        previous = last
    return "".join(out)


#: Letters drawn smaller than this (points) are no text a reader reads: a word in 1 pt beside
#: a marking (``MẬT`` then ``KHẨU`` in 1 pt) is a decoy, left out. Dots and dashes are kept.
MIN_LETTER_HEIGHT = 2.0


def single_lines(boxes: list[Box]) -> list[tuple[int, int]]:
    """Runs ``(start, end)`` (end exclusive) of two or more consecutive text rectangles that
    can be read by one PDFium call over the box around them with the same text, each its own
    line, as one call per rectangle would give.

    A rectangle may join a run when no other rectangle shares any of its height (nothing beside
    it: no column, no glyph drawn apart, no decoy in small type) and it is at least
    :data:`MIN_LETTER_HEIGHT` tall; no other rectangle may lie between the run's lowest and
    highest lines, so nothing else is inside the box around it. Linear after one sort.
    """
    order = sorted(range(len(boxes)), key=lambda index: boxes[index][1])
    position = [0] * len(boxes)
    alone = [False] * len(boxes)
    highest = float("-inf")  # the top of the rectangles below, in the order of their bottoms
    for place, index in enumerate(order):
        position[index] = place
        bottom, top = boxes[index][1], boxes[index][3]
        above = boxes[order[place + 1]][1] if place + 1 < len(order) else float("inf")
        alone[index] = bottom >= highest and top <= above and top - bottom >= MIN_LETTER_HEIGHT
        highest = max(highest, top)
    runs = []
    start = 0
    while start < len(boxes):
        end = start
        while end < len(boxes) and alone[end]:
            end += 1
        places = [position[index] for index in range(start, end)]
        # the run's lines are the only rectangles from its lowest to its highest
        if end - start > 1 and max(places) - min(places) == end - start - 1:
            runs.append((start, end))
        start = max(end, start + 1)
    return runs


#: Words a hidden word beside them changes the reading of: a marking's (a white ``KHẨU`` after
#: ``MẬT`` makes *mật khẩu*, a white ``CẤP`` after ``KHẨN`` *khẩn cấp*). A page whose text holds
#: none of them is not searched for hidden text (its page objects are not walked).
_MARKING_STEMS = ("mật", "khẩn", "tốc")
#: One of them, its letters maybe apart (blanks, dots, hyphens, dashes between them).
_MARKING_STEM_RE = re.compile("|".join(
    r"[\s.\-\u2010-\u2015\u00b7]*+".join(stem) for stem in _MARKING_STEMS))
#: Page objects looked at for hidden text, and the shapes under text and hidden text objects
#: kept (past these, text is read as it is: each text rectangle is checked against at most
#: :data:`_MAX_SHAPES` boxes, so the cost of a page stays linear).
_MAX_PAGE_OBJECTS = 4000
_MAX_SHAPES = 64
#: Text filled or stroked this transparent (alpha, of 255) or more is not seen.
_MIN_ALPHA = 26
_INVISIBLE_MODES = (3, 7)  # text render modes: invisible, clip only
_STROKE_MODES = (1, 5)  # stroke only (and clip)
_FILL_AND_STROKE_MODES = (2, 6)


def may_hide_a_marking(text: str) -> bool:
    """Whether a page's text holds a word that a hidden word beside it would change, as the
    detector reads it: look-alike letters folded (``МẬТ`` in Cyrillic), and letters spaced or
    dotted apart (``M Ậ T``, ``M.Ậ.T``) joined."""
    return _MARKING_STEM_RE.search(fold_lookalikes(nfc(text))[0].lower()) is not None


def _colour(getter: Callable[..., int], obj: Any) -> tuple[float, float, float, float] | None:
    red, green, blue, alpha = (ctypes.c_uint() for _ in range(4))
    if not getter(obj, red, green, blue, alpha):
        return None
    return (float(red.value), float(green.value), float(blue.value), float(alpha.value))


def _unseen(colour: tuple[float, float, float, float] | None) -> bool:
    """Whether text of this colour (red, green, blue, alpha of 255) is not seen on white."""
    return colour is not None and (colour[3] < _MIN_ALPHA or same_colour(colour, WHITE))


def _overlaps(box: Box, other: Box) -> bool:
    return box[0] < other[2] and other[0] < box[2] and box[1] < other[3] and other[1] < box[3]


#: (a, b, c, d, e, f): x' = a x + c y + e, y' = b x + d y + f
Matrix = tuple[float, float, float, float, float, float]
_IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
#: Form XObjects looked into inside each other, at most.
_MAX_FORM_DEPTH = 4


def _then(first: Matrix, second: Matrix) -> Matrix:
    """The matrix that applies ``first``, then ``second``."""
    a, b, c, d, e, f = first
    a2, b2, c2, d2, e2, f2 = second
    return (a * a2 + b * c2, a * b2 + b * d2, c * a2 + d * c2, c * b2 + d * d2,
            e * a2 + f * c2 + e2, e * b2 + f * d2 + f2)


def _transformed(box: Box, matrix: Matrix) -> Box:
    """The box around ``box`` taken through ``matrix``."""
    if matrix == _IDENTITY:
        return box
    a, b, c, d, e, f = matrix
    xs, ys = [], []
    for x, y in ((box[0], box[1]), (box[0], box[3]), (box[2], box[1]), (box[2], box[3])):
        xs.append(a * x + c * y + e)
        ys.append(b * x + d * y + f)
    return (min(xs), min(ys), max(xs), max(ys))


def _page_objects(page: Any) -> Iterator[tuple[Any, int, Matrix]]:
    """A page's objects in the order they are drawn, with their kind and the matrix from their
    space to the page's: the objects of a form XObject (a page imported as an overlay, a
    stamp) in its place, forms in forms :data:`_MAX_FORM_DEPTH` deep, at most
    :data:`_MAX_PAGE_OBJECTS` in all."""
    import pypdfium2.raw as pdfium_c

    # each open container: (it, whether it is the page, next index, count, its matrix)
    stack: list[tuple[Any, bool, int, int, Matrix]] = [
        (page, True, 0, pdfium_c.FPDFPage_CountObjects(page), _IDENTITY)]
    matrix = pdfium_c.FS_MATRIX()
    for _ in range(_MAX_PAGE_OBJECTS):
        while stack and stack[-1][2] >= stack[-1][3]:
            stack.pop()
        if not stack:
            return
        container, is_page, index, count, space = stack[-1]
        stack[-1] = (container, is_page, index + 1, count, space)
        obj = (pdfium_c.FPDFPage_GetObject if is_page else pdfium_c.FPDFFormObj_GetObject)(
            container, index)
        if not obj:
            continue
        kind = pdfium_c.FPDFPageObj_GetType(obj)
        yield obj, kind, space
        if kind == pdfium_c.FPDF_PAGEOBJ_FORM and len(stack) <= _MAX_FORM_DEPTH and \
                pdfium_c.FPDFPageObj_GetMatrix(obj, matrix):
            inner = (matrix.a, matrix.b, matrix.c, matrix.d, matrix.e, matrix.f)
            stack.append((obj, False, 0, pdfium_c.FPDFFormObj_CountObjects(obj),
                          _then(inner, space)))


def hidden_text_boxes(page: Any) -> list[Box]:
    """The boxes of a page's text objects the reader does not see: drawn white (or near-white,
    or transparent) with nothing but white drawn under them before (no image, shading or path
    filled in another colour beneath), drawn in an invisible text render mode (3, 7) with no
    image under them (over an image it is a scan's recognised text, which the reader sees as
    the picture), or covered by a box filled opaque after them. Text in form XObjects too.

    Linear in the page's objects (at most :data:`_MAX_PAGE_OBJECTS`; each text object is
    checked against at most :data:`_MAX_SHAPES` shapes before and boxes after it, past which
    text counts as seen, and past as many hidden text objects the others are read as they are).
    """
    import pypdfium2.raw as pdfium_c

    hidden: list[Box] = []
    under: list[tuple[Box, bool]] = []  # drawn so far, not white: box, and whether an image
    texts: list[tuple[Box, int]] = []  # text seen so far, and how many boxes were filled before
    fills: list[Box] = []  # boxes filled opaque, in the order drawn
    left, bottom, right, top = (ctypes.c_float() for _ in range(4))
    fill_mode, stroke = ctypes.c_int(), ctypes.c_int()

    def bounds(obj: Any, space: Matrix) -> Box | None:
        if not pdfium_c.FPDFPageObj_GetBounds(obj, left, bottom, right, top):
            return None
        return _transformed((left.value, bottom.value, right.value, top.value), space)

    for obj, kind, space in _page_objects(page):
        if kind == pdfium_c.FPDF_PAGEOBJ_TEXT:
            box = bounds(obj, space)
            if box is None:
                continue
            mode = pdfium_c.FPDFTextObj_GetTextRenderMode(obj)
            if mode in _INVISIBLE_MODES:
                unseen = not any(image and _overlaps(box, shape) for shape, image in under)
            elif mode in _STROKE_MODES:
                unseen = _unseen(_colour(pdfium_c.FPDFPageObj_GetStrokeColor, obj))
            else:
                unseen = _unseen(_colour(pdfium_c.FPDFPageObj_GetFillColor, obj)) and (
                    mode not in _FILL_AND_STROKE_MODES
                    or _unseen(_colour(pdfium_c.FPDFPageObj_GetStrokeColor, obj)))
            if unseen and mode not in _INVISIBLE_MODES:
                unseen = not any(_overlaps(box, shape) for shape, _image in under)
            if unseen:
                hidden.append(box)
            elif len(texts) < _MAX_PAGE_OBJECTS:
                texts.append((box, len(fills)))
            if len(hidden) >= _MAX_SHAPES:
                break
        elif kind in (pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_SHADING,
                      pdfium_c.FPDF_PAGEOBJ_PATH):
            filled = kind != pdfium_c.FPDF_PAGEOBJ_PATH or (
                pdfium_c.FPDFPath_GetDrawMode(obj, fill_mode, stroke)
                and fill_mode.value != pdfium_c.FPDF_FILLMODE_NONE)
            colour = _colour(pdfium_c.FPDFPageObj_GetFillColor, obj) \
                if kind == pdfium_c.FPDF_PAGEOBJ_PATH else None
            box = bounds(obj, space) if filled else None
            if box is None:
                continue  # a line: nothing text shows on or hides under
            if colour is not None and colour[3] >= 255 - _MIN_ALPHA and len(fills) < _MAX_SHAPES:
                fills.append(box)
            if not _unseen(colour):  # an image, a shading, a fill not white
                if len(under) >= _MAX_SHAPES:
                    return hidden  # too many shapes to tell what lies under more text
                under.append((box, kind == pdfium_c.FPDF_PAGEOBJ_IMAGE))
    hidden += [box for box, before in texts
               if any(_covers(fill, box) for fill in fills[before:])][:_MAX_SHAPES - len(hidden)]
    return hidden


def _covers(fill: Box, box: Box) -> bool:
    """Whether ``fill`` covers ``box`` (a point of slack)."""
    return fill[0] - 1 <= box[0] and box[2] <= fill[2] + 1 and fill[1] - 1 <= box[1] \
        and box[3] <= fill[3] + 1


def _inside(box: Box, hidden: list[Box]) -> bool:
    """Whether a text rectangle lies in one of the hidden text objects' boxes (its middle height
    within it, its width inside it, a point of slack)."""
    middle = (box[1] + box[3]) / 2
    return any(other[0] - 1 <= box[0] and box[2] <= other[2] + 1
               and other[1] - 1 <= middle <= other[3] + 1 for other in hidden)


#: Characters PDFium may test to lay one page out (each text rectangle read apart is one
#: ``FPDFText_GetBoundedText`` call, and PDFium answers each by testing every character of the
#: page): a page of thousands of separate words would cost their square. A letter's densest page
#: costs a few hundred thousand; past this the page is read as PDFium's plain text
#: (:func:`plain_page_text`), all of it, in the order it is drawn, and the scan notes why.
MAX_LAYOUT_WORK = 8_000_000
#: Text rectangles past which a page is not laid out at all (their boxes are not even asked
#: for): no letter's page holds this many separate pieces of text.
_MAX_TEXT_RECTS = 20_000


#: Characters of one hidden text object cut from a page's plain text, at most (each side of
#: the character found at the middle of its box).
_MAX_HIDDEN_CHARS = 512


def _char_boxes(raw: Any) -> Callable[[int], tuple[str, Box] | None]:
    """A reader of a text page's characters: the character at an index and its box, or None
    for a line break."""
    import pypdfium2.raw as pdfium_c

    left, right, bottom, top = (ctypes.c_double() for _ in range(4))

    def char_box(index: int) -> tuple[str, Box] | None:
        code = pdfium_c.FPDFText_GetUnicode(raw, index)
        if code in (10, 13):
            return None
        pdfium_c.FPDFText_GetCharBox(raw, index, left, right, bottom, top)
        char = chr(code) if code <= sys.maxunicode else "\ufffd"
        return char, (left.value, bottom.value, right.value, top.value)

    return char_box


def _hidden_chars(raw: Any, count: int, hidden: list[Box]) -> list[tuple[int, int]]:
    """Ranges ``(start, end)`` of a text page's characters that lie in the ``hidden`` boxes
    (:func:`_inside`): from the character PDFium finds at the middle of each box, on both sides
    while the characters are inside it, up to a line break. One pass over the page per box, at most
    :data:`_MAX_SHAPES` boxes."""
    import pypdfium2.raw as pdfium_c

    char_box = _char_boxes(raw)

    def inside(index: int, box: Box) -> bool:  # a line break ends the hidden text's line
        found = char_box(index)
        return found is not None and _inside(found[1], [box])

    ranges = []
    for box in hidden[:_MAX_SHAPES]:
        half_width, half_height = (box[2] - box[0]) / 2, (box[3] - box[1]) / 2
        found = pdfium_c.FPDFText_GetCharIndexAtPos(raw, box[0] + half_width,
                                                    box[1] + half_height, half_width,
                                                    half_height)
        if not 0 <= found < count or not inside(found, box):
            continue
        start = end = found
        while start > 0 and found - start < _MAX_HIDDEN_CHARS and inside(start - 1, box):
            start -= 1
        while end + 1 < count and end - found < _MAX_HIDDEN_CHARS and inside(end + 1, box):
            end += 1
        ranges.append((start, end + 1))
    return ranges


#: Marking words looked around for letters in small type on a page read as plain text: the
#: first and the last so many (the scored text is a document's head and tail), and characters
#: on each side of each.
_MAX_MARKING_WORDS = 64
_NEAR_MARKING_CHARS = 48
_MARKING_WORD_RE = re.compile("|".join(_MARKING_STEMS), re.IGNORECASE)


def _small_letters(raw: Any, text: str, offset: int) -> list[tuple[int, int]]:
    """Ranges ``(start, end)`` of a text page's characters that are letters or digits drawn
    smaller than :data:`MIN_LETTER_HEIGHT` next to a marking word of ``text`` (the page's
    text from PDFium's text index ``offset`` on, one character a UTF-16 unit), within
    :data:`_NEAR_MARKING_CHARS` of it on its line: the decoy a layout leaves out (``MẬT``
    then ``KHẨU`` in 1 pt). Bounded: :data:`_MAX_MARKING_WORDS` words from each end."""
    import pypdfium2.raw as pdfium_c

    words = list(_MARKING_WORD_RE.finditer(text))
    if len(words) > 2 * _MAX_MARKING_WORDS:
        words = words[:_MAX_MARKING_WORDS] + words[-_MAX_MARKING_WORDS:]
    char_box = _char_boxes(raw)
    count = pdfium_c.FPDFText_CountChars(raw)

    def small(index: int) -> bool | None:  # None: a line break, where the search stops
        found = char_box(index)
        if found is None:
            return None
        char, box = found
        return box[3] - box[1] < MIN_LETTER_HEIGHT and char.isalnum()

    found: set[int] = set()
    for word in words:
        first = pdfium_c.FPDFText_GetCharIndexFromTextIndex(raw, offset + word.start())
        last = pdfium_c.FPDFText_GetCharIndexFromTextIndex(raw, offset + word.end() - 1)
        if first < 0 or last < 0:
            continue
        for start, step in ((last + 1, 1), (first - 1, -1)):
            index = start
            while 0 <= index < count and abs(index - start) < _NEAR_MARKING_CHARS:
                letter = small(index)
                if letter is None:
                    break
                if letter:
                    found.add(index)
                index += step
    ranges: list[tuple[int, int]] = []
    for index in sorted(found):
        if ranges and ranges[-1][1] == index:
            ranges[-1] = (ranges[-1][0], index + 1)
        else:
            ranges.append((index, index + 1))
    return ranges


def plain_page_text(textpage: Any, hidden: list[Box] | None = None) -> str:
    """A page's text as PDFium gives it in one call, linear in its characters: all of it, in
    the order it is drawn, a line break where a line ends; columns are not told apart. The
    characters in the ``hidden`` boxes (:func:`hidden_text_boxes`) and letters in small type
    beside a marking word (:func:`_small_letters`) are cut from their place and given after
    the text, a line each, as :func:`_page_text` reads hidden text apart."""
    return _plain_reading(textpage, hidden)[0]


def _plain_reading(textpage: Any, hidden: list[Box] | None) -> tuple[str, bool]:
    """:func:`plain_page_text`, and whether letters in small type beside a marking word were
    cut from it."""
    import pypdfium2.raw as pdfium_c

    raw = textpage.raw
    count = pdfium_c.FPDFText_CountChars(raw)
    text_index = [pdfium_c.FPDFText_GetTextIndexFromCharIndex(raw, index)
                  for index in (0, count - 1)] if count > 0 else [-1, -1]
    if min(text_index) < 0:  # an edge character PDFium leaves out of the text
        return str(textpage.get_text_range()).replace("\r\n", "\n").replace("\r", "\n"), False
    buffer = (ctypes.c_ushort * (text_index[1] - text_index[0] + 2))()
    written = pdfium_c.FPDFText_GetText(raw, 0, count, buffer)
    units = bytes(memoryview(buffer)[:max(written - 1, 0)])  # UTF-16LE, two bytes a unit
    whole = units.decode("utf-16-le", "ignore")
    cuts = _hidden_chars(raw, count, hidden) if hidden else []
    small: list[tuple[int, int]] = []
    if may_hide_a_marking(whole) and 2 * len(whole) == len(units):
        small = _small_letters(raw, whole, text_index[0])
    cuts += small
    if not cuts:
        return whole.replace("\r\n", "\n").replace("\r", "\n"), False

    def at(index: int) -> int:  # the byte in ``units`` where a character's text starts
        return 2 * max(int(pdfium_c.FPDFText_GetTextIndexFromCharIndex(raw, index))
                       - text_index[0], 0)

    pieces: list[bytes] = []
    apart: list[bytes] = []
    done = 0
    for start, end in sorted(cuts):
        start = max(at(start), done)
        end = max(at(end) if end < count else len(units), start)
        pieces.append(units[done:start])
        apart.append(units[start:end])
        done = end
    pieces.append(units[done:])
    text = b"".join(pieces).decode("utf-16-le", "ignore")
    lines = [part.decode("utf-16-le", "ignore").strip() for part in apart]
    return "\n".join([text, *(line for line in lines if line)]).replace(
        "\r\n", "\n").replace("\r", "\n"), bool(small)


def _page_text(textpage: Any, hidden: list[Box] | None = None) -> str | None:
    """A page's text, its columns apart (see :func:`layout_text`); the text of rectangles in
    the ``hidden`` boxes (:func:`hidden_text_boxes`) is left out of it and given after it, a
    line per rectangle (read apart, never erased). None when that would make PDFium test more
    than :data:`MAX_LAYOUT_WORK` characters or the page has more than :data:`_MAX_TEXT_RECTS`
    rectangles (the page is then read by :func:`plain_page_text`).

    Text is read by one PDFium call per text rectangle into one buffer for the page, sized for
    all its characters (pypdfium2's ``get_text_bounded`` makes two calls and a buffer per
    rectangle), except that a run of lines each alone on its height (:func:`single_lines`: the
    body of a letter below its heading) is read by one call over the box around it; when that
    text does not hold one line break per line, the run is read line by line after all.
    """
    import pypdfium2.raw as pdfium_c

    raw = textpage.raw
    count = pdfium_c.FPDFText_CountRects(raw, 0, -1)
    if count <= 0:
        return str(textpage.get_text_bounded())
    if count > _MAX_TEXT_RECTS:
        return None
    chars = pdfium_c.FPDFText_CountChars(raw)
    left, bottom, right, top = (ctypes.c_double() for _ in range(4))
    boxes: list[Box] = []
    for index in range(count):
        pdfium_c.FPDFText_GetRect(raw, index, left, top, right, bottom)
        boxes.append((left.value, bottom.value, right.value, top.value))
    runs = {} if hidden else dict(single_lines(boxes))
    # each call tests every character: calls left before the page passes MAX_LAYOUT_WORK
    calls_left = MAX_LAYOUT_WORK // max(chars, 1)
    if count - sum(end - start - 1 for start, end in runs.items()) > calls_left:
        return None
    # each character read, with the line break PDFium may put before it, and the terminator
    size = 3 * chars + 1
    buffer = (ctypes.c_ushort * size)()

    def bounded(box: Box) -> str:
        nonlocal calls_left
        calls_left -= 1
        written = pdfium_c.FPDFText_GetBoundedText(raw, box[0], box[3], box[2], box[1], buffer,
                                                   size)
        if written >= size:  # cut short (should not happen): as pypdfium2 reads it
            return str(textpage.get_text_bounded(*box))
        written -= 1 if written > 0 and buffer[written - 1] == 0 else 0  # the terminator
        return bytes(memoryview(buffer)[:max(written, 0)]).decode("utf-16-le", "ignore")

    segments: list[tuple[Box, Box, str]] = []
    apart: list[str] = []
    index = 0
    while index < count:
        end = runs.get(index, index + 1)
        if end > index + 1:
            run = boxes[index:end]
            text = bounded((min(b[0] for b in run), min(b[1] for b in run),
                            max(b[2] for b in run), max(b[3] for b in run)))
            lines = text.replace("\r\n", "\n").replace("\r", "\n")
            if lines.count("\n") == end - index - 1:
                segments.append((run[0], run[-1], lines))
                index = end
                continue
            # not one line break per rectangle: the run is read rectangle by rectangle
        if calls_left <= 0:
            return None
        box = boxes[index]
        text = bounded(box)
        if hidden and _inside(box, hidden):
            apart.append(text)
        elif not (box[3] - box[1] < MIN_LETTER_HEIGHT and any(char.isalnum() for char in text)):
            segments.append((box, box, text))
        index += 1
    page = _layout(segments)
    return "\n".join([page, *apart]) if apart else page


def _utf16_value(getter: Callable[..., int], *args: Any) -> str:
    """A UTF-16LE string a PDFium getter ``getter(*args, buffer, size)`` writes: the getter is
    asked for the size first, then reads into a buffer of that size (at most 4096 characters)."""
    size = int(getter(*args, None, 0))
    if size <= 2:
        return ""
    size = min(size, 2 * _MAX_ANNOTATION_CHARS + 2)
    buffer = (ctypes.c_ushort * (size // 2))()
    getter(*args, buffer, size)
    return bytes(buffer).decode("utf-16-le", errors="replace").split("\x00", 1)[0]


def _annotation_text(page: Any, form: Any) -> str:
    """The text a reader sees in a page's annotations: notes, text boxes, stamps (their
    ``/Contents``) and form fields (their values), one per line.

    PDFium's page text holds only the page's content stream; a marking typed into a form field
    or a free-text box would be missed without this.
    """
    import pypdfium2.raw as pdfium_c

    lines = []
    count = min(pdfium_c.FPDFPage_GetAnnotCount(page.raw), _MAX_ANNOTATIONS)
    for index in range(count):
        annot = pdfium_c.FPDFPage_GetAnnot(page.raw, index)
        if not annot:
            continue
        try:
            lines.append(_utf16_value(pdfium_c.FPDFAnnot_GetStringValue, annot, b"Contents"))
            if form is not None:
                lines.append(_utf16_value(pdfium_c.FPDFAnnot_GetFormFieldValue, form, annot))
        finally:
            pdfium_c.FPDFPage_CloseAnnot(annot)
    return "\n".join(line for line in lines if line.strip())


def pdf_text(data: bytes, budget: ScanBudget, source: str = "PDF",
             head_chars: int = PDF_HEAD_CHARS, tail_chars: int = PDF_TAIL_CHARS) -> str:
    """Text of the PDF's first and last pages, within ``max_pdf_pages``.

    A document's cues stand on its first page and its last (see :data:`PDF_HEAD_CHARS`), so a
    long PDF costs a few pages, not all of them (docs/performance.md). When the
    page limit stops the reading before both ends have their text, that is noted.

    :raises Unscannable: encrypted or unreadable; :class:`NoTextLayer` without a text layer.
    """
    import pypdfium2  # lazy: only messages with a PDF pay for the import

    def text_of(index: int) -> str:
        page = document[index]
        try:
            textpage = page.get_textpage()
            try:
                hidden = None
                text = _page_text(textpage)
                if text is not None and may_hide_a_marking(text):
                    hidden = hidden_text_boxes(page.raw)
                    if hidden:
                        text = _page_text(textpage, hidden)
                    # A letter in small type over a marking word's box is read in the word's
                    # rectangle (MẬT and a 1 pt KHẨU across its end read "MẬTK"); the plain
                    # reading cuts such letters from beside the word and reads them apart.
                    plain, decoy = _plain_reading(textpage, hidden)
                    if decoy:
                        text = plain
                if text is None:  # past MAX_LAYOUT_WORK: all its text, not laid out
                    text = plain_page_text(textpage)
                    if hidden is None and may_hide_a_marking(text):
                        hidden = hidden_text_boxes(page.raw)
                    if hidden:
                        text = plain_page_text(textpage, hidden)
                    budget.note(f"{source}: PDF page {index + 1} holds too many separate "
                                "pieces of text to lay out; it was read as plain text "
                                "(its columns not told apart)")
            finally:
                textpage.close()
            notes = _annotation_text(page, form)
            return f"{text}\n{notes}" if notes else text
        finally:
            page.close()

    def within_deadline(index: int) -> str:
        return "" if budget.expired() else text_of(index)

    max_pages = max(budget.limits.max_pdf_pages, 1)
    with _PDFIUM_LOCK:
        try:
            document = pypdfium2.PdfDocument(data)
        except pypdfium2.PdfiumError as exc:
            if "password" in str(exc).lower():
                raise Unscannable("PDF is encrypted (password required)") from exc
            raise Unscannable("PDF could not be read (damaged or not a PDF)") from exc
        form = None
        try:
            if b"/AcroForm" in data:  # form field values need PDFium's form environment
                document.init_forms()
                form = document.formenv.raw if document.formenv is not None else None
            count = len(document)
            pages, cut = pages_to_read(count, max_pages, head_chars, tail_chars, within_deadline)
        except pypdfium2.PdfiumError as exc:
            raise Unscannable("PDF page could not be read") from exc
        finally:
            document.close()
    if cut and not budget.expired():
        budget.note(f"{source}: PDF has {count} pages; {len(pages)} were read "
                    "(limits.max_pdf_pages)")
    text = "\n".join(pages).replace("\r\n", "\n").replace("\r", "\n")
    if count and not text.strip():
        raise NoTextLayer(count)
    return text


def render_pdf_page(data: bytes, index: int, max_pixels: int) -> PageImage:
    """Page ``index`` (from 0) as an RGB image at :data:`~.images.RENDER_DPI`, or coarser when
    that many dots would pass ``max_pixels``.

    :raises Unscannable: the page cannot be opened or rendered.
    """
    import pypdfium2

    with _PDFIUM_LOCK:
        try:
            document = pypdfium2.PdfDocument(data)
        except pypdfium2.PdfiumError as exc:
            raise Unscannable("PDF could not be read (damaged or not a PDF)") from exc
        try:
            page = document[index]
            try:
                width, height = page.get_size()
                dpi = render_dpi(width, height, max_pixels)
                bitmap = page.render(scale=dpi / 72, may_draw_forms=False)
                image = bitmap.to_pil().convert("RGB")
                bitmap.close()
            finally:
                page.close()
        except pypdfium2.PdfiumError as exc:
            raise Unscannable(f"PDF page {index + 1} could not be rendered") from exc
        finally:
            document.close()
    return PageImage(image, dpi)
