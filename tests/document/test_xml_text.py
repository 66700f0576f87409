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
    assert re.sub(r"<[^<>]*>", "", drop_hidden_text(xml)) == text


def test_word_and_odt_breaks_and_tabs_read_as_before() -> None:
    xml = ("<w:p><w:r><w:t>Số: 1</w:t><w:tab/><w:t>a</w:t><w:br/><w:t>b</w:t></w:r></w:p>"
           "<w:p><w:r><w:t>x &amp; y</w:t></w:r></w:p>")
    assert docx_xml_text(xml) == "Số: 1\ta\nb\nx & y\n"
    odt = "<text:p>a<text:tab/>b<text:line-break/>c</text:p><text:h>d</text:h>"
    assert odt_xml_text(odt) == "a b\nc\nd\n"
    assert docx_xml_text("a < b <w:t>c</w:t>") == "a < b c"  # a stray bracket is text


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
