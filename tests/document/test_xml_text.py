"""The linear rewrites of the XML readers and cue patterns read what the old patterns read."""

from __future__ import annotations

import html
import random
import re
from collections.abc import Callable

import pytest

from govmilter.document import cues, office
from govmilter.document.edxml import attachment_blocks
from govmilter.document.office import (
    docx_xml_text,
    drawing_xml_text,
    drop_hidden_text,
    drop_vanished_runs,
    header_footer_text,
    odt_xml_text,
    properties_xml_text,
    shared_strings_text,
    sheet_xml_text,
)


@pytest.mark.parametrize(("xml", "text"), [
    ("<w:t>a</w:t><w:instrText> HYPERLINK x </w:instrText><w:t>b</w:t>", "ab"),
    ('<w:delText xml:space="preserve">old</w:delText><w:t>new</w:t>', "new"),
    ("<w:instrText>a<w:delText>b</w:instrText>c", "c"),  # up to its own closing tag
    ("<w:delText/><w:t>kept</w:t>", "kept"),  # an empty element hides nothing
    ("<w:instrTextX>kept</w:instrTextX>", "kept"),  # another element
    # unclosed: its text is kept, and a later closed element of the other kind still goes
    ("<w:instrText>open<w:delText>gone</w:delText><w:t>x</w:t>", "openx"),
    ("<w:instrText>a</w:instrText><w:instrText>b", "b"),
])
def test_hidden_word_text_is_dropped_up_to_its_closing_tag(xml: str, text: str) -> None:
    assert re.sub(rb"<[^<>]*>", b"", drop_hidden_text(xml.encode())).decode() == text


def test_word_and_odt_breaks_and_tabs_read_as_before() -> None:
    xml = ("<w:p><w:r><w:t>Số: 1</w:t><w:tab/><w:t>a</w:t><w:br/><w:t>b</w:t></w:r></w:p>"
           "<w:p><w:r><w:t>x &amp; y</w:t></w:r></w:p>")
    assert docx_xml_text(xml.encode()) == "Số: 1\ta\nb\nx & y\n"
    odt = "<text:p>a<text:tab/>b<text:line-break/>c</text:p><text:h>d</text:h>"
    assert odt_xml_text(odt.encode()) == "a b\nc\nd\n"
    assert docx_xml_text(b"a < b <w:t>c</w:t>") == "a < b c"  # a stray bracket is text


@pytest.mark.parametrize(("xml", "text"), [
    # each pattern now runs only where its literal opening is: with and without the others
    ("<w:p><w:r><w:t>MẬT</w:t></w:r></w:p><w:p><w:r><w:t>Số: 1</w:t></w:r></w:p>",
     "MẬT\nSố: 1\n"),
    ("<w:p><w:r><w:t>M</w:t><w:cr/><w:t>ẬT</w:t></w:r></w:p>", "M\nẬT\n"),
    ("<w:p><w:r><w:t>TỐI</w:t><w:tab/><w:t>MẬT</w:t></w:r></w:p>", "TỐI\tMẬT\n"),
    ("<w:p><w:r><w:t>MẬT</w:t><w:tabs/></w:r></w:p>", "MẬT\n"),  # tab stops are no tab
    ("<w:p><w:r><w:t>M</w:t><w:tabẠ/><w:t>ẬT</w:t></w:r></w:p>", "MẬT\n"),  # another element
    ("<w:p><w:r><w:t>M</w:t></w:r><w:r><w:rPr><w:vanish/></w:rPr><w:t>x</w:t></w:r>"
     "<w:r><w:t>ẬT</w:t></w:r></w:p>", "MẬT\n"),
    ("<w:p><w:r><w:rPr><w:vanish w:val='0'/></w:rPr><w:t>MẬT</w:t></w:r></w:p>", "MẬT\n"),
    ("<w:p><w:r><w:instrTextẠ>MẬT</w:instrText></w:r></w:p>", "MẬT\n"),  # not a field code
    # cutting hidden text may join a tag: the passes after it see the joined one
    ("<w:p><w:r><w:t>TỐI</w:t><w:ta<w:delText>x</w:delText>b/><w:t>MẬT</w:t></w:r></w:p>",
     "TỐI\tMẬT\n"),
    ('<w:p><w:pict><v:textpath string="M&#7852;T"/></w:pict></w:p>', "\nMẬT\n\n"),
    ("<w:p><w:r><w:t>a</w:t></w:r><w:txbxContent><w:p><w:r><w:t>MẬT</w:t></w:r></w:p>"
     "</w:txbxContent></w:p>", "a\nMẬT\n\n"),
    ("<w:p><w:r><w:t>M&#7852;T &amp; KHẨN</w:t></w:r></w:p>", "MẬT & KHẨN\n"),
])
def test_word_markup_is_read_from_the_bytes_as_from_the_text(xml: str, text: str) -> None:
    """The WordprocessingML reader cuts the markup from the UTF-8 bytes before decoding them."""
    assert docx_xml_text(xml.encode()) == text


def test_a_bad_utf8_byte_in_a_word_part_spoils_only_itself() -> None:
    xml = "<w:p><w:r><w:t>\xff MẬT</w:t></w:r></w:p>".encode("utf-8", "surrogateescape")
    xml = xml.replace(b"\xc3\xbf", b"\xff")
    assert docx_xml_text(xml) == "\ufffd MẬT\n"


# ---- the Word reader by kind of run of tags, against the reader in passes it replaced ----

_NAME_END = rb"(?![\w\x80-\xff])"


def _word_text_in_passes(xml: bytes) -> str:
    """:func:`docx_xml_text` as it was before runs of tags were read once per kind: every pass
    over the whole part, each tag cut on its own."""
    rare_re = re.compile(rb"<(w:(?:tab|instrText|delText|vanish|webHidden|txbxContent)"
                         rb"|v:textpath)")
    hiding = {b"w:instrText", b"w:delText", b"w:vanish", b"w:webHidden"}
    rare = set(rare_re.findall(xml))
    if rare & hiding:
        xml = drop_vanished_runs(drop_hidden_text(xml))
        rare = set(rare_re.findall(xml))
    if b"w:txbxContent" in rare:
        xml = xml.replace(b"<w:txbxContent", b"\n<w:txbxContent")
    if b"v:textpath" in rare:
        xml = re.sub(rb'<v:textpath' + _NAME_END + rb'[^<>]*\bstring="([^"<>]*)"[^<>]*>',
                     lambda m: b"\n" + m.group(1) + b"\n", xml)
    xml = re.sub(rb"</w:p>|<w:(?:br|cr)" + _NAME_END + rb"[^<>]*>", b"\n", xml)
    if b"w:tab" in rare:
        xml = re.sub(rb"<w:tab" + _NAME_END + rb"[^<>]*>", b"\t", xml)
    text = re.sub(rb"<[^<>]*>", b"", xml)
    decoded = text.decode("utf-8", errors="replace")
    return html.unescape(decoded) if b"&" in text else decoded


#: Runs of tags of a Word part (the usual ones, several kinds of each) and the rarer elements.
_WORD_RUNS = [
    b"<w:p><w:r><w:t>", b"</w:t></w:r></w:p>", b"</w:t></w:r><w:r><w:t>",
    b'<w:p w:rsidR="00A1"><w:pPr><w:jc w:val="both"/></w:pPr><w:r w:rsidRPr="00B2"><w:rPr>'
    b'<w:b/><w:sz w:val="28"/></w:rPr><w:t xml:space="preserve">',
    b'</w:t></w:r><w:r w:rsidRPr="00C3"><w:t>', b"<w:br/>", b'<w:br w:type="page"/>',
    b"<w:cr/>", b"<w:brX/>", b"<w:tab/>", b"<w:tabs><w:tab w:val=\"left\"/></w:tabs>",
    "<w:tabẠ/>".encode(), b"<w:txbxContent>", b"</w:txbxContent>",
    b"<w:p/>", b"<w:r><w:rPr><w:vanish/></w:rPr><w:t>", b"<w:vanish w:val='0'/>",
    b"<w:webHidden/>", b"<w:instrText>", b"</w:instrText>", b"<w:delText>", b"</w:delText>",
    b'<w:instrText xml:space="preserve">', b"<w:delText/>", b'<v:textpath string="M&#7852;T"/>',
    '<v:textpath style="x" string="TỐI MẬT"/>'.encode(),
    "<w:instrTextẠ>".encode(), b"<w:pict>", b"</w:pict>",
]
#: The text between the runs, and what a hostile part puts there: bare brackets, pieces of
#: tags that cutting hidden text may join, entities, bad UTF-8.
_WORD_TEXTS = ["MẬT", "TỐI MẬT", "Số: 12/UBND-VP", "KHẨN", "Công văn ", "a", " ", "\t", "\n",
               "&amp;", "&#7852;", "&lt;", "&bogus;", "&", "x>y"]
_WORD_HOSTILE = [b"<", b">", b"<<", b"<w:ta", b"b/>", b"</w:p", b"<w:instrText", b"\xff",
                 b"\xe1\xba", b"\xc3", b"<a</w:p>b>", b"<w:p><w:r><w:t", b"</w:t>>",
                 "ẬT".encode()[:2]]


def _word_part(rng: random.Random, hostile: bool) -> bytes:
    """A generated Word part: a few paragraph patterns from the runs and texts above repeated
    (so that its runs of tags repeat, as in a real part), some with a hostile piece put in."""
    patterns = []
    for _ in range(rng.randrange(1, 4)):
        pattern = b"".join(rng.choice(_WORD_RUNS) + rng.choice(_WORD_TEXTS).encode()
                           for _ in range(rng.randrange(1, 6)))
        patterns.append(pattern + b"</w:t></w:r></w:p>")
    pieces = [rng.choice(patterns) for _ in range(rng.randrange(4, 40))]
    for _ in range(rng.randrange(1, 4) if hostile else 0):
        at = rng.randrange(len(pieces))
        cut = rng.randrange(len(pieces[at]) + 1)
        pieces[at] = pieces[at][:cut] + rng.choice(_WORD_HOSTILE) + pieces[at][cut:]
    return b"".join(pieces)


@pytest.mark.parametrize("spacing", [office._RUN_SPACING, 1])
def test_word_parts_read_by_kind_of_run_read_as_in_passes(spacing: int,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Every Word part reads as the reader in passes read it, whichever way it is read: by kind
    of run of tags, in passes (a part with a bare ``<`` or WordArt), with hidden text cut first;
    over generated parts and hostile ones (brackets, pieces of tags, entities, bad UTF-8). The
    generated parts are short and dense: with a run allowed per byte, the reading by kind of
    run is given nearly all of them."""
    monkeypatch.setattr(office, "_RUN_SPACING", spacing)
    rng = random.Random(23)
    by_kind = {False: 0, True: 0}
    marked = 0
    for number in range(4000):
        hostile = number % 2 == 1
        xml = _word_part(rng, hostile)
        expected = _word_text_in_passes(xml)
        assert docx_xml_text(xml) == expected, xml
        fast = office._cut_by_kind_of_run(xml)
        if fast is not None:  # whether or not the part's head would have chosen it
            by_kind[hostile] += 1
            assert office._decoded(fast) == expected, xml
        marked += "MẬT" in expected
    # a run per byte: 1,354 of the plain parts and 406 of the hostile ones (the others hold
    # WordArt or a bare "<"); with the split stopping at a run per 256 bytes, 18 and 5 of
    # these short, dense parts
    least = (1000, 200) if spacing == 1 else (10, 1)
    assert by_kind[False] > least[0] and by_kind[True] > least[1] and marked > 1000


def test_a_long_word_part_is_read_by_kind_of_run_when_its_runs_repeat() -> None:
    """The bench's kind of part (one run of tags between each two paragraphs) is read by kind of
    run; a part with a new ``w:rsid`` on each run, or of tiny runs, in passes; all as before."""
    alike = b"".join(b"<w:p><w:r><w:t>" + "Đoạn MẬT số %d: ".encode() % i + b"x" * 300
                     + b"</w:t></w:r></w:p>" for i in range(5000))
    assert office._runs_repeat(alike)
    edited = b"".join(b'<w:p><w:r w:rsidR="%08X"><w:t>' % i + "Đoạn %d".encode() % i
                      + b"</w:t></w:r></w:p>" for i in range(5000))
    assert not office._runs_repeat(edited)
    # a part of tiny runs would hold several times its size in runs: read in passes, and a
    # head that looks ordinary does not change that (the split stops, a "<" is left)
    tiny = b"<a>x" * 50_000
    assert not office._runs_repeat(tiny)
    assert office._runs_repeat(alike + tiny) and office._cut_by_kind_of_run(alike + tiny) is None
    for xml in (alike, edited, tiny, alike + tiny):
        assert docx_xml_text(xml) == _word_text_in_passes(xml)


def test_edxml_attachment_blocks_stop_at_the_first_unclosed_one() -> None:
    text = ("<Attachment>one</Attachment><edXML:Attachment id='2'>two</edXML:Attachment>"
            "<AttachmentName>n</AttachmentName><Attachment>three")
    assert list(attachment_blocks(text)) == ["one", "two"]


@pytest.mark.parametrize(("text", "found"), [
    ("\nV/v: bảo đảm", True), ("\nV/v bảo đảm", True), ("\n\n  \nV/v  :  x", True),
    ("\nV/v:x", False), ("\nV/v   ", False),
])
def test_the_subject_line_pattern_reads_as_before(text: str, found: bool) -> None:
    assert bool(cues._VV_RE.search(text)) is found


@pytest.mark.parametrize(("text", "found"), [
    ("luu: vt", True), ("luu :vt", True), ("luu vt", True), ("luu:  vt.", True),
    ("luu: vtx", False), ("luu::vt", False), ("luu " + " " * 10_000, False),
])
def test_the_archive_mark_pattern_reads_as_before(text: str, found: bool) -> None:
    archive = next(p for key, p, *_ in cues._SK_CUES if key == "archive")
    assert bool(archive.search(text)) is found


def test_the_spaced_marking_letter_test_finds_what_the_old_pattern_found() -> None:
    """The pre-test of a letter-spaced marking now opens with the letter: on strings of
    separators, the marking capitals and other letters it finds what the old one found."""
    old = re.compile(r"[\s.\-·_*][ẬỐẨỆỎẢ]|[ẬỐẨỆỎẢ][\s.\-·_*]")
    rng = random.Random(16)
    alphabet = " .-·_*\n\t\u00a0\u2009ẬỐẨỆỎẢaMTậ"
    found = 0
    for _ in range(100_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 8)))
        assert bool(cues._SPACED_LETTER_RE.search(text)) is bool(old.search(text)), text
        found += bool(old.search(text))
    assert 10_000 < found < 90_000


# ---- the readers of XLSX, PPTX, ODT and the properties: from the bytes, as from the text ----

def _strip_text(xml: str) -> str:
    return html.unescape(re.sub(r"<[^<>]*>", "", xml))


def _sheet_from_text(xml: str) -> str:
    texts: list[str] = []
    unclosed: set[str] = set()
    pos = 0
    pattern = re.compile(r"<((?:\w+:)?(is|oddHeader|oddFooter|evenHeader|evenFooter|"
                         r"firstHeader|firstFooter))\b[^<>]*>")
    while (opening := pattern.search(xml, pos)) is not None:
        qualified, name = opening.groups()
        pos = opening.end()
        if opening.group().endswith("/>"):
            continue
        closing = -1 if qualified in unclosed else xml.find(f"</{qualified}>", pos)
        if closing < 0:
            unclosed.add(qualified)
            continue
        inner = _strip_text(xml[pos:closing])
        texts.append(inner if name == "is" else header_footer_text(inner))
        pos = closing + len(qualified) + 3
    return "\n".join(texts)


def _properties_from_text(xml: str) -> str:
    if "<property" in xml:
        return _strip_text(re.sub(r'<property\b[^<>]*\bname="([^"<>]*)"[^<>]*>',
                                  lambda m: f"\n{m.group(1)}: ", xml))
    core = re.compile(r"<(?:\w+:)?(?:title|subject|keywords|description|category|"
                      r"contentStatus)\b[^<>]*>([^<]*)<")
    return html.unescape("\n".join(m.group(1) for m in core.finditer(xml)))


#: Each reader as it was, on the part decoded first (the oracle), its reader from the bytes,
#: and the markup it reads.
_TEXT_READERS: dict[str, tuple[Callable[[str], str], Callable[[bytes], str], list[str]]] = {
    "drawing": (lambda xml: _strip_text(re.sub(r"<a:tab\b[^<>]*>", "\t", re.sub(
        r"</a:p>|<a:br\b[^<>]*>", "\n", xml))), drawing_xml_text,
        ["<a:p>", "</a:p>", "<a:br/>", "<a:br>", '<a:br lang="vi"/>', "<a:brX/>", "<a:tab/>",
         "<a:tabs>", "<a:t>", "</a:t>", '<a:r lang="vi">', "<a:br ", "</a:p"]),
    "odt": (lambda xml: _strip_text(re.sub(r"<text:(?:tab|s)\b[^<>]*>", " ", re.sub(
        r"</text:(?:p|h)>|<text:line-break\b[^<>]*>", "\n",
        xml.replace("<draw:frame", "\n<draw:frame")))), odt_xml_text,
        ["<text:p>", "</text:p>", "</text:h>", "<text:line-break/>", "<text:tab/>",
         "<text:s/>", '<text:s text:c="2"/>', "<text:span>", "<draw:frame>", "<text:sx/>",
         "<text:tabs>", "<draw:frame", "<text:line-break "]),
    "sheet": (_sheet_from_text, sheet_xml_text,
              ["<is>", "</is>", "<x:is>", "</x:is>", "<oddHeader>", "</oddHeader>",
               "<oddHeader/>", "<evenFooter>", "</evenFooter>", "<x:firstHeader>",
               "</x:firstHeader>", "&amp;L", "&amp;C", "&amp;R", '&amp;"Arial,Bold"',
               "&amp;14", "&amp;P", "<t>", "</t>", "<isX>", "</isX>", "<is "]),
    "shared": (lambda xml: _strip_text(xml.replace("</si>", "\n")), shared_strings_text,
               ["<si>", "</si>", "<t>", "</t>", "<r>", "</si", "<si/>"]),
    "properties": (_properties_from_text, properties_xml_text,
                   ["<dc:title>", "</dc:title>", "<cp:keywords>", "</cp:keywords>",
                    "<dc:creator>", "<title>", '<cp:category xml:lang="vi">', "<dc:subjectX>",
                    '<property fmtid="x" pid="2" name="Độ mật">', "<vt:lpwstr>", "</vt:lpwstr>",
                    "</property>", '<property name="a&amp;b">', '<property xname="n">',
                    "<contentStatus>", "<cp:contentStatus/>"]),
}
_TEXT_TOKENS = ["MẬT", "TỐI MẬT", "Số: 12/UBND-VP", "KHẨN", "ự", "a", " ", "\n", "\t", "&amp;",
                "&#7852;", "&lt;", "&bogus;", "&", "<", ">", "<<", "x>y", "&#x1EAC;"]


@pytest.mark.parametrize("reader", sorted(_TEXT_READERS))
def test_office_parts_are_read_from_the_bytes_as_from_the_text(reader: str) -> None:
    """Every part reader cuts the markup from the UTF-8 bytes: on valid UTF-8 it reads what it
    read from the decoded text (generated parts of its markup, text, entities, stray brackets).
    """
    from_text, from_bytes, markup = _TEXT_READERS[reader]
    rng = random.Random(reader)
    tokens = markup + _TEXT_TOKENS
    marked = 0
    for _ in range(3000):
        xml = "".join(rng.choice(tokens) for _ in range(rng.randrange(1, 40)))
        expected = from_text(xml)
        assert from_bytes(xml.encode()) == expected, xml
        marked += "MẬT" in expected
    assert marked > 300


@pytest.mark.parametrize(("reader", "xml", "text"), [
    ("drawing", "<a:p><a:r><a:t>TỐI</a:t></a:r><a:r><a:tab/><a:t>M&#7852;T</a:t></a:r></a:p>",
     "TỐI\tMẬT\n"),
    ("odt", "<text:p>Số: 12/UBND</text:p><text:p>M<text:span>ẬT</text:span></text:p>",
     "Số: 12/UBND\nMẬT\n"),
    ("sheet", "<c><is><t>MẬT</t></is></c><oddHeader>&amp;CKHẨN</oddHeader>", "MẬT\n\nKHẨN"),
    ("shared", "<sst><si><t>Số: 12/UBND</t></si><si><r><t>M</t></r><r><t>ẬT</t></r></si></sst>",
     "Số: 12/UBND\nMẬT\n"),
    ("properties", '<property fmtid="x" pid="2" name="Độ mật"><vt:lpwstr>Mật</vt:lpwstr>'
     "</property>", "\nĐộ mật: Mật"),
    ("properties", "<cp:coreProperties><dc:title>Công văn MẬT</dc:title>"
     "<dc:creator>Mật</dc:creator></cp:coreProperties>", "Công văn MẬT"),
    # a name running on into a non-ASCII letter is another element, as in Word's parts
    ("drawing", "<a:p><a:t>M</a:t><a:tabẠ/><a:t>ẬT</a:t></a:p>", "MẬT\n"),
])
def test_a_marking_in_each_office_part_is_read(reader: str, xml: str, text: str) -> None:
    assert _TEXT_READERS[reader][1](xml.encode()) == text


def test_a_bad_utf8_byte_in_an_office_part_spoils_only_itself() -> None:
    for reader in (drawing_xml_text, odt_xml_text, shared_strings_text):
        assert reader("<x>\xff MẬT</x>".encode().replace(b"\xc3\xbf", b"\xff")) == "\ufffd MẬT"
