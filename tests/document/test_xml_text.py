"""The linear rewrites of the XML readers and cue patterns read what the old patterns read."""

from __future__ import annotations

import re

import pytest

from govmilter.document import cues
from govmilter.document.edxml import attachment_blocks
from govmilter.document.office import docx_xml_text, drop_hidden_text, odt_xml_text


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
    assert odt_xml_text(odt) == "a b\nc\nd\n"
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
