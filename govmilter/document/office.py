"""Text of DOCX, ODT, ODS, ODP, XLSX and PPTX documents: ZIP containers of XML, read with
regular expressions.

No XML parser is involved on purpose: the markup is only stripped, so entity-expansion bombs
(``<!ENTITY>``) and external entities have no effect. Paragraph and line-break tags become
newlines so that line-anchored cues (``Số:``, ``MẬT``) work.

The cost is linear in the XML size whatever the markup: a tag is ``<`` up to the next ``<`` or
``>`` (``[^<>]*``, so a scan that fails ends where the next one starts), and the elements whose
text is dropped are cut with ``str.find`` (a lazy ``.*?`` up to a closing tag read the rest of the
part again for every unclosed opening: 104 KB of them took 2.8 s).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from govmilter.document.archive import GuardedZip

#: A letter of a name in XML read as UTF-8 bytes: what ``\w`` is in text, with every non-ASCII
#: byte taken as a letter; and the end of a name, what ``\b`` is after one (``<w:tabẠ`` is
#: another element, not a tab).
_NAME_CHAR = rb"[\w\x80-\xff]"
_NAME_END = rb"(?!" + _NAME_CHAR + rb")"
#: Elements whose text Word does not show: field codes and deleted (tracked) text.
_DOCX_HIDDEN_RE = re.compile(rb"<w:(instrText|delText)" + _NAME_END + rb"[^<>]*>")
_DOCX_BREAK_RE = re.compile(rb"</w:p>|<w:(?:br|cr)" + _NAME_END + rb"[^<>]*>")
_DOCX_TAB_RE = re.compile(rb"<w:tab" + _NAME_END + rb"[^<>]*>")
#: The openings of the elements that only some parts hold and that need a pass of their own:
#: a superset of what each pattern of :func:`docx_xml_text` starts with.
_DOCX_RARE_RE = re.compile(rb"<(w:(?:tab|instrText|delText|vanish|webHidden|txbxContent)"
                           rb"|v:textpath)")
_DOCX_HIDING = frozenset({b"w:instrText", b"w:delText", b"w:vanish", b"w:webHidden"})
_ODT_BREAK_RE = re.compile(rb"</text:(?:p|h)>|<text:line-break" + _NAME_END + rb"[^<>]*>")
_ODT_TAB_RE = re.compile(rb"<text:(?:tab|s)" + _NAME_END + rb"[^<>]*>")
#: A run of whole tags, one after another (between two paragraphs,
#: ``</w:t></w:r></w:p><w:p><w:r><w:t>`` is one). A tag's extent depends only on where its ``<``
#: is (up to the next ``<`` or ``>``, a ``>`` making it whole). It opens with the literal ``<``,
#: which the regex engine skips ahead to; each repetition is possessive, so a failed one
#: retries nothing.
_TAG_RUN_RE = re.compile(rb"(<[^<>]*+>(?:<[^<>]*+>)*+)")
_TAG_BYTES_RE = re.compile(rb"<[^<>]*>")
#: The parts of a Word document read as WordprocessingML (:func:`docx_xml_text`).
_DOCX_PARTS_RE = re.compile(r"^word/(document|header\d*|footer\d*|footnotes|endnotes|comments)"
                            r"\.xml$")
#: DrawingML parts of a Word document with text of their own: SmartArt's data, charts' titles.
_DOCX_DRAWING_PARTS_RE = re.compile(r"^word/(?:diagrams/data|charts/chart)\d*\.xml$")
#: The document's properties where a classification may be kept: title, subject, keywords,
#: description, category and status (core), and the custom properties ("Độ mật" = "Mật").
#: Not the author's or editor's names (a person may be called Mật).
_PROPERTY_PARTS = ("docProps/core.xml", "docProps/custom.xml")
_CORE_PROPERTY_RE = re.compile(rb"<(?:" + _NAME_CHAR + rb"+:)?(?:title|subject|keywords|"
                               rb"description|category|contentStatus)" + _NAME_END
                               + rb"[^<>]*>([^<]*)<")
_CUSTOM_PROPERTY_RE = re.compile(rb"<property" + _NAME_END + rb'[^<>]*(?<!' + _NAME_CHAR
                                 + rb')name="([^"<>]*)"[^<>]*>')
#: Old (VML) WordArt keeps its text in an attribute: ``<v:textpath string="MẬT"/>``.
_TEXTPATH_RE = re.compile(rb'<v:textpath' + _NAME_END + rb'[^<>]*\bstring="([^"<>]*)"[^<>]*>')
ODT_MIMETYPE = b"application/vnd.oasis.opendocument.text"
ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"
ODP_MIMETYPE = b"application/vnd.oasis.opendocument.presentation"


def _decoded(text: bytes) -> str:
    """UTF-8 text from XML (a bad sequence read as U+FFFD), its entities resolved: the five
    XML ones and numeric references (``html.unescape``), nothing user-defined; they are looked
    for only where an ``&`` is."""
    decoded = text.decode("utf-8", errors="replace")
    return html.unescape(decoded) if b"&" in text else decoded


def _strip_utf8(xml: bytes) -> str:
    """The text of UTF-8 XML without its tags, cut from the bytes before they are decoded.

    No byte of a multi-byte UTF-8 sequence is ASCII, so ``<`` and ``>`` are the same in the
    bytes as in the text; only the text between the tags is decoded (a part's markup is often
    most of it). Every reader here works so on the part's bytes.
    """
    return _decoded(_TAG_BYTES_RE.sub(b"", xml))


def drop_hidden_text(xml: bytes) -> bytes:
    """``xml`` without the elements of :data:`_DOCX_HIDDEN_RE`, each cut up to its closing tag.

    An element whose closing tag is missing is kept (its text is scanned); once a closing tag
    is not found, no later opening of that element is looked up again, so the cost stays linear.
    """
    pieces: list[bytes] = []
    unclosed: set[bytes] = set()
    pos = 0
    while (opening := _DOCX_HIDDEN_RE.search(xml, pos)) is not None:
        name = opening.group(1)
        if opening.group().endswith(b"/>"):  # an empty element: nothing to hide
            pieces.append(xml[pos:opening.start()])
            pos = opening.end()
            continue
        closing = -1 if name in unclosed else xml.find(b"</w:" + name + b">", opening.end())
        if closing < 0:
            unclosed.add(name)
            pieces.append(xml[pos:opening.end()])
            pos = opening.end()
            continue
        pieces.append(xml[pos:opening.start()])
        pos = closing + len(name) + 5  # past "</w:" + name + ">"
    pieces.append(xml[pos:])
    return b"".join(pieces)


_VANISH_RE = re.compile(rb"<w:(?:vanish|webHidden)" + _NAME_END + rb"([^<>]*)>")
_VANISH_OFF_RE = re.compile(rb"w:val=\W(?:0|false|off)\W")
_RUN_LOOKBACK = 1024  # characters searched back from a run property for its run's start


def drop_vanished_runs(xml: bytes) -> bytes:
    """``xml`` without the runs formatted as hidden text (``<w:vanish/>`` in their properties).

    Hidden text is not what the reader sees, and a hidden run inside a word (``M``, hidden
    ``x``, ``ẬT``) would break it. Only a run that holds no paragraph is cut (a hidden text box
    anchor is read as before). Each search starts where the one before it stopped, so the cost
    stays linear.
    """
    pieces: list[bytes] = []
    pos = floor = 0
    run_end = paragraph = -1
    for vanish in _VANISH_RE.finditer(xml):
        low = max(pos, floor, vanish.start() - _RUN_LOOKBACK)
        floor = vanish.end()  # runs do not nest: the next run starts after this property
        if vanish.start() < pos or _VANISH_OFF_RE.search(vanish.group(1)):
            continue
        start = max(xml.rfind(b"<w:r>", low, vanish.start()),
                    xml.rfind(b"<w:r ", low, vanish.start()))
        if start < 0 or b"</w:r>" in xml[start:vanish.start()]:
            continue  # a paragraph mark's property, not a run's
        if run_end < vanish.end():
            run_end = xml.find(b"</w:r>", vanish.end())
            if run_end < 0:
                break
        if paragraph < vanish.end():
            paragraph = xml.find(b"<w:p", vanish.end())
        if 0 <= paragraph < run_end:
            continue
        pieces.append(xml[pos:start])
        pos = run_end + len(b"</w:r>")
    pieces.append(xml[pos:])
    return b"".join(pieces)


def docx_xml_text(xml: bytes) -> str:
    """Text of one WordprocessingML part (UTF-8, as Word saves it), one line per paragraph.

    A text box's paragraphs stand inside a paragraph of the page: its start is a line break
    too, so that a marking in a box is not glued to the text around the box's anchor.

    Each pass over a part costs about as much as any other (a copy, or a search through it),
    so the passes that only a few parts need (hidden text, tabs, text boxes, WordArt) run only
    on the parts that hold their elements, found by one search for all of them
    (:data:`_DOCX_RARE_RE`; again after hidden text was cut, which may join a tag). The markup
    is cut from the bytes and only the text between it is decoded. A part whose runs of tags
    are of a few kinds (:func:`_runs_repeat`) has its passes run once per kind of run, not over
    the whole part (:func:`_cut_by_kind_of_run`).
    """
    cut = _cut_by_kind_of_run(xml) if _runs_repeat(xml) else None
    return _decoded(_cut_in_passes(xml) if cut is None else cut)


def _cut_in_passes(xml: bytes) -> bytes:
    """The bytes of a WordprocessingML part with its markup cut (:func:`docx_xml_text`), each
    pass over the whole part."""
    rare = set(_DOCX_RARE_RE.findall(xml))
    if rare & _DOCX_HIDING:
        xml = drop_vanished_runs(drop_hidden_text(xml))
        rare = set(_DOCX_RARE_RE.findall(xml))
    return _cut_shown_markup(xml, rare)


def _cut_shown_markup(xml: bytes, rare: set[bytes]) -> bytes:
    """``xml`` (its hidden text already cut) with text boxes, WordArt, breaks and tabs read and
    every tag cut; ``rare``: the openings of :data:`_DOCX_RARE_RE` it holds."""
    if b"w:txbxContent" in rare:
        xml = xml.replace(b"<w:txbxContent", b"\n<w:txbxContent")
    if b"v:textpath" in rare:
        xml = _TEXTPATH_RE.sub(lambda m: b"\n" + m.group(1) + b"\n", xml)
    xml = _DOCX_BREAK_RE.sub(b"\n", xml)
    if b"w:tab" in rare:
        xml = _DOCX_TAB_RE.sub(b"\t", xml)
    return _TAG_BYTES_RE.sub(b"", xml)


#: The head of a part on which :func:`_runs_repeat` judges it.
_RUN_SAMPLE = 64 * 1024
#: The fewest bytes per run of tags read by kind of run: each run and each text between is an
#: object of its own, and a part of many short ones would have the allocator map pages afresh
#: for them at every scan (250 page faults a scan for a part of 8,000 one-line paragraphs).
_RUN_SPACING = 256


def _runs_repeat(xml: bytes) -> bool:
    """Whether the runs of tags in the part's head are mostly repeats (at most one in four of a
    kind not seen before), as in a part whose paragraphs and runs are formatted alike, and not
    denser than :data:`_RUN_SPACING`; a part written in many editing sessions (a ``w:rsid`` on
    each run) has a new kind in nearly each."""
    runs = _TAG_RUN_RE.findall(xml, 0, _RUN_SAMPLE)
    return (len(set(runs)) * 4 <= len(runs)
            and len(runs) * _RUN_SPACING <= min(len(xml), _RUN_SAMPLE))


def _cut_by_kind_of_run(xml: bytes, hidden_cut: bool = False) -> bytes | None:
    """What :func:`_cut_in_passes` makes of ``xml``, its passes run once over one copy of each
    kind of run of tags, whose result then stands for every run of that kind; None when that
    does not hold (then the passes are run over the whole part).

    It holds when every ``<`` of the part opens a whole tag: each pass then only replaces whole
    tags, so each run's result is its own, and every element the passes look for stands in a
    run. A ``<`` left in the text says otherwise. WordArt's text is an attribute's, not the
    run's: such a part is read in passes. Hidden text seen in a run is in the part too: it is
    cut from the part first, as :func:`_cut_in_passes` does, and the rest read likewise.
    """
    # text, run, text, ..., run, text; at most a run per _RUN_SPACING bytes (more are left in
    # the last text, whose "<" sends the part to the passes): a run is an object of its own,
    # and a part of tiny runs would hold several times its size in them
    pieces = _TAG_RUN_RE.split(xml, 1 + len(xml) // _RUN_SPACING)
    runs = pieces[1::2]
    kinds = dict.fromkeys(runs)
    # a blank stands outside every tag, and no pass makes one of tags: it separates the results
    markup = b" ".join(kinds)
    rare = set(_DOCX_RARE_RE.findall(markup))
    if rare & _DOCX_HIDING and not hidden_cut:
        return _cut_by_kind_of_run(drop_vanished_runs(drop_hidden_text(xml)), hidden_cut=True)
    if b"v:textpath" in rare:
        return None
    cuts = _cut_shown_markup(markup, rare).split(b" ") if kinds else []
    results = dict(zip(kinds, cuts, strict=True))
    pieces[1::2] = map(results.__getitem__, runs)
    cut = b"".join(pieces)
    return None if b"<" in cut else cut


def odt_xml_text(xml: bytes) -> str:
    """Text of an OpenDocument ``content.xml`` or ``styles.xml`` (UTF-8), one line per
    paragraph.

    A frame (text box) anchored inside a paragraph starts a line of its own (see
    :func:`docx_xml_text`).
    """
    xml = xml.replace(b"<draw:frame", b"\n<draw:frame")
    return _strip_utf8(_ODT_TAB_RE.sub(b" ", _ODT_BREAK_RE.sub(b"\n", xml)))


def is_docx(archive: GuardedZip) -> bool:
    """True when the archive is a Word document (it has ``word/document.xml``)."""
    return "word/document.xml" in archive.names()


def is_odt(archive: GuardedZip) -> bool:
    """True when the archive is an OpenDocument text (its ``mimetype`` entry says so)."""
    names = archive.names()
    if "content.xml" not in names:
        return False
    return "mimetype" not in names or archive.read("mimetype").strip() == ODT_MIMETYPE


def docx_text(archive: GuardedZip) -> str:
    """The document body first, then headers, footers, footnotes and comments (where markings
    also sit), SmartArt and chart text, and the document's properties."""
    names = archive.names()
    parts: list[tuple[str, PartReader]] = [
        (name, docx_xml_text) for name in sorted(
            (n for n in names if _DOCX_PARTS_RE.match(n)),
            key=lambda n: (n != "word/document.xml", n))]
    parts += [(name, drawing_xml_text) for name in sorted(names)
              if _DOCX_DRAWING_PARTS_RE.match(name)]
    parts += [(name, properties_xml_text) for name in _PROPERTY_PARTS if name in names]
    return _parts_text(archive, parts)


def properties_xml_text(xml: bytes) -> str:
    """The values of a properties part (:data:`_PROPERTY_PARTS`), one a line; a custom property
    as ``name: value``."""
    if b"<property" in xml:
        return _strip_utf8(_CUSTOM_PROPERTY_RE.sub(lambda m: b"\n" + m.group(1) + b": ", xml))
    return _decoded(b"\n".join(m.group(1) for m in _CORE_PROPERTY_RE.finditer(xml)))


def flat_xml_text(xml: str) -> str:
    """Text of a document saved as one XML file (Word 2003 XML, Flat OPC, flat ODT), a line per
    paragraph of either vocabulary."""
    return docx_xml_text(_ODT_BREAK_RE.sub(b"\n", xml.encode("utf-8", errors="replace")))


def odt_text(archive: GuardedZip) -> str:
    """The content, then the styles part (which holds page headers and footers)."""
    texts = [odt_xml_text(archive.read("content.xml"))]
    if "styles.xml" in archive.names() and not archive.budget.expired():
        texts.append(odt_xml_text(archive.read("styles.xml")))
    return "\n".join(texts)


# ---- XLSX and PPTX: SpreadsheetML and DrawingML, read the same way ---------------------------

_DRAWING_BREAK_RE = re.compile(rb"</a:p>|<a:br" + _NAME_END + rb"[^<>]*>")
_DRAWING_TAB_RE = re.compile(rb"<a:tab" + _NAME_END + rb"[^<>]*>")
#: Worksheet elements whose text is the sheet's own (the rest is numbers, formulas, layout):
#: inline strings, and the print headers and footers where a marking may sit.
_SHEET_TEXT_RE = re.compile(rb"<((?:" + _NAME_CHAR + rb"+:)?(is|oddHeader|oddFooter|"
                            rb"evenHeader|evenFooter|firstHeader|firstFooter))" + _NAME_END
                            + rb"[^<>]*>")
#: Header/footer codes: &L &C &R start a section (a line of its own); fonts, sizes, fields go.
_HEADER_CODE_RE = re.compile(r'&([LCR])|&(?:"[^"&]*"|\d+|[A-Za-z&])')
_NUMBERED_RE = re.compile(r"(\d+)\.xml")


def is_xlsx(archive: GuardedZip) -> bool:
    """True when the archive is an Excel workbook (it has ``xl/workbook.xml``)."""
    return "xl/workbook.xml" in archive.names()


def is_pptx(archive: GuardedZip) -> bool:
    """True when the archive is a PowerPoint presentation (``ppt/presentation.xml``)."""
    return "ppt/presentation.xml" in archive.names()


def drawing_xml_text(xml: bytes) -> str:
    """Text of a DrawingML part (a slide, a drawing's text boxes; UTF-8), one line per
    paragraph."""
    return _strip_utf8(_DRAWING_TAB_RE.sub(b"\t", _DRAWING_BREAK_RE.sub(b"\n", xml)))


def shared_strings_text(xml: bytes) -> str:
    """Text of a workbook's shared strings (UTF-8), one string a line."""
    return _strip_utf8(xml.replace(b"</si>", b"\n"))


def sheet_xml_text(xml: bytes) -> str:
    """The inline strings and the header and footer texts of one worksheet (UTF-8), a line
    each."""
    texts: list[str] = []
    unclosed: set[bytes] = set()
    pos = 0
    while (opening := _SHEET_TEXT_RE.search(xml, pos)) is not None:
        qualified, name = opening.groups()
        pos = opening.end()
        if opening.group().endswith(b"/>"):
            continue  # empty
        # an element never closed is not looked for again: each search goes forward once
        closing = -1 if qualified in unclosed else xml.find(b"</" + qualified + b">", pos)
        if closing < 0:
            unclosed.add(qualified)
            continue
        inner = _strip_utf8(xml[pos:closing])
        if name != b"is":
            inner = header_footer_text(inner)
        texts.append(inner)
        pos = closing + len(qualified) + 3
    return "\n".join(texts)


def header_footer_text(text: str) -> str:
    """A spreadsheet's print header or footer without its codes; each section (``&L``, ``&C``,
    ``&R``) on a line of its own."""
    return _HEADER_CODE_RE.sub(lambda m: "\n" if m.group(1) else "", text)


def _numbered(names: list[str], stem: str) -> list[str]:
    """The parts ``<stem><N>.xml`` in the order of N (slide2 before slide10)."""
    found = []
    for name in names:
        match = _NUMBERED_RE.fullmatch(name[len(stem):]) if name.startswith(stem) else None
        if match:
            found.append((int(match.group(1)), name))
    return [name for _, name in sorted(found)]


#: Reads one part's bytes into its text.
PartReader = Callable[[bytes], str]


def _parts_text(archive: GuardedZip, parts: list[tuple[str, PartReader]]) -> str:
    """Each part through its reader, in order, until the time or the text budget is spent."""
    texts: list[str] = []
    total = 0
    for name, read in parts:
        # past the text budget, more parts would only be cut away: stop reading them, so a
        # document of many large parts never holds all their text at once (docs/security.md)
        if archive.budget.expired() or total > archive.budget.bytes_left:
            break
        texts.append(read(archive.read(name)))
        total += len(texts[-1]) + 1
    return "\n".join(texts)


def xlsx_text(archive: GuardedZip) -> str:
    """The shared strings (in the order of first use: the sheets' text, top to bottom), then each
    sheet's inline strings, headers and footers, then the text boxes of its drawings."""
    names = archive.names()
    parts: list[tuple[str, PartReader]] = []
    if "xl/sharedStrings.xml" in names:
        parts.append(("xl/sharedStrings.xml", shared_strings_text))
    parts += [(name, sheet_xml_text) for name in _numbered(names, "xl/worksheets/sheet")]
    parts += [(name, drawing_xml_text) for name in _numbered(names, "xl/drawings/drawing")]
    return _parts_text(archive, parts)


def pptx_text(archive: GuardedZip) -> str:
    """The slides' text, slide by slide."""
    slides = _numbered(archive.names(), "ppt/slides/slide")
    return _parts_text(archive, [(name, drawing_xml_text) for name in slides])


def is_ods(archive: GuardedZip) -> bool:
    """True for an OpenDocument spreadsheet: cells hold paragraphs, read like ODT's."""
    return _opendocument(archive) == ODS_MIMETYPE


def is_odp(archive: GuardedZip) -> bool:
    """True for an OpenDocument presentation: frames hold paragraphs, read like ODT's."""
    return _opendocument(archive) == ODP_MIMETYPE


def _opendocument(archive: GuardedZip) -> bytes | None:
    """The ``mimetype`` entry of an OpenDocument package (with ``content.xml``), else None."""
    names = archive.names()
    if "content.xml" not in names or "mimetype" not in names:
        return None
    return archive.read("mimetype").strip()
