"""Text of DOCX and ODT documents: ZIP containers of XML, read with regular expressions.

No XML parser is involved on purpose: the markup is only stripped, so entity-expansion bombs
(``<!ENTITY>``) and external entities have no effect, and the cost is linear in the XML size.
Paragraph and line-break tags become newlines so that line-anchored cues (``Số:``, ``MẬT``) work.
"""

from __future__ import annotations

import html
import re

from govmilter.document.archive import GuardedZip

_DOCX_DROP_RE = re.compile(r"<w:(instrText|delText)\b[^>]*>.*?</w:\1>", re.DOTALL)
_DOCX_BREAK_RE = re.compile(r"</w:p>|<w:br\b[^>]*/>|<w:cr\b[^>]*/>")
_DOCX_TAB_RE = re.compile(r"<w:tab\b[^>]*/>")
_ODT_BREAK_RE = re.compile(r"</text:(p|h)>|<text:line-break\b[^>]*/>")
_ODT_TAB_RE = re.compile(r"<text:tab\b[^>]*/>|<text:s\b[^>]*/>")
_TAG_RE = re.compile(r"<[^>]*>")
_DOCX_PARTS_RE = re.compile(r"^word/(document|header\d*|footer\d*|footnotes|endnotes)\.xml$")
ODT_MIMETYPE = b"application/vnd.oasis.opendocument.text"


def _strip(xml: str) -> str:
    # html.unescape knows the five XML entities and numeric references, nothing user-defined.
    return html.unescape(_TAG_RE.sub("", xml))


def docx_xml_text(xml: str) -> str:
    """Text of one WordprocessingML part, one line per paragraph.

    A text box's paragraphs stand inside a paragraph of the page: its start is a line break
    too, so that a marking in a box is not glued to the text around the box's anchor.
    """
    xml = _DOCX_DROP_RE.sub("", xml).replace("<w:txbxContent", "\n<w:txbxContent")
    xml = _DOCX_TAB_RE.sub("\t", _DOCX_BREAK_RE.sub("\n", xml))
    return _strip(xml)


def odt_xml_text(xml: str) -> str:
    """Text of an OpenDocument ``content.xml`` or ``styles.xml``, one line per paragraph.

    A frame (text box) anchored inside a paragraph starts a line of its own (see
    :func:`docx_xml_text`).
    """
    xml = xml.replace("<draw:frame", "\n<draw:frame")
    return _strip(_ODT_TAB_RE.sub(" ", _ODT_BREAK_RE.sub("\n", xml)))


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
    """The document body first, then headers, footers and footnotes (where markings also sit)."""
    parts = sorted((n for n in archive.names() if _DOCX_PARTS_RE.match(n)),
                   key=lambda n: (n != "word/document.xml", n))
    texts = []
    total = 0
    for name in parts:
        # past the text budget, more parts would only be cut away: stop reading them, so a
        # DOCX of many large parts never holds all their text at once (docs/security.md)
        if archive.budget.expired() or total > archive.budget.bytes_left:
            break
        texts.append(docx_xml_text(archive.read(name).decode("utf-8", errors="replace")))
        total += len(texts[-1]) + 1
    return "\n".join(texts)


def odt_text(archive: GuardedZip) -> str:
    """The content, then the styles part (which holds page headers and footers)."""
    texts = [odt_xml_text(archive.read("content.xml").decode("utf-8", errors="replace"))]
    if "styles.xml" in archive.names() and not archive.budget.expired():
        texts.append(odt_xml_text(archive.read("styles.xml").decode("utf-8", errors="replace")))
    return "\n".join(texts)
