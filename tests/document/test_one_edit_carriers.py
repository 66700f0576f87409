"""One edit of where a marked letter travels: a part of a DOCX, another file format under any
name, a message inside a message. Each must still be refused to webmail (the default policy).

The rows are the carriers of the adversarial sweep (docs/detection.md, "What one edit defeats")
that defeated the detector and were fixed; the edits of the words themselves are in
test_one_edit_evasions.py.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.message
import email.policy
import io
import quopri
import zipfile
from collections.abc import Callable
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from xml.sax.saxutils import escape

import pytest
from letters import GMAIL, SENDER, UBND_OFFICIAL, UBND_SECRET, message, verdict_of

from govmilter.policy.model import Action

pytest.importorskip("fpdf", reason="make_corpus (the test extra) builds the DOCX and PDF")
from make_corpus import FONT, _zip, docx_bytes

REJECTED = (Action.REJECT, "secret-to-freemail")
W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def paragraph(text: str) -> str:
    return f'<w:p><w:r><w:t xml:space="preserve">{escape(text)}</w:t></w:r></w:p>'


LETTER_XML = "".join(paragraph(line) for line in UBND_OFFICIAL.split("\n"))
MARKING_XML = paragraph("MẬT")


def docx(before: str = "", parts: dict[str, bytes] | None = None) -> bytes:
    """The unmarked letter as a DOCX, with ``before`` in front of its body and extra parts."""
    with zipfile.ZipFile(io.BytesIO(docx_bytes(["x"]))) as base:  # its package parts
        files = {name: base.read(name) for name in base.namelist()}
    files["word/document.xml"] = (f'<?xml version="1.0" encoding="UTF-8"?><w:document {W}>'
                                  f"<w:body>{before}{LETTER_XML}</w:body></w:document>").encode()
    return _zip({**files, **(parts or {})})


def attached(name: str, data: bytes, mime: str = DOCX_TYPE) -> bytes:
    return message("Gửi anh văn bản.", attachments=((name, mime, data),))


def docx_part(name: str, content: str | bytes) -> bytes:
    data = content.encode() if isinstance(content, str) else content
    return attached("vb.docx", docx(parts={name: data}))


WORDART = ('<w:p><w:r><w:pict><v:shape xmlns:v="urn:schemas-microsoft-com:vml" '
           'type="#_x0000_t136"><v:textpath style="font-family:&quot;Times New Roman&quot;" '
           'string="MẬT"/></v:shape></w:pict></w:r></w:p>')
SMARTART = ('<dgm:dataModel xmlns:dgm="d" xmlns:a="a"><dgm:ptLst><dgm:pt><dgm:t><a:p><a:r>'
            "<a:t>MẬT</a:t></a:r></a:p></dgm:t></dgm:pt></dgm:ptLst></dgm:dataModel>")
CHART = ('<c:chartSpace xmlns:c="c" xmlns:a="a"><c:title><a:p><a:r><a:t>MẬT</a:t></a:r></a:p>'
         "</c:title></c:chartSpace>")
CORE = ('<cp:coreProperties xmlns:cp="c" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        "<dc:creator>Mật</dc:creator><dc:title>MẬT</dc:title></cp:coreProperties>")
CUSTOM = ('<Properties xmlns="c" xmlns:vt="v"><property fmtid="{x}" pid="2" name="Độ mật">'
          "<vt:lpwstr>Mật</vt:lpwstr></property></Properties>")
COMMENTS = f'<w:comments {W}><w:comment w:id="0">{MARKING_XML}</w:comment></w:comments>'
SECRET_HTML = "<html><body>" + "".join(f"<p>{escape(line)}</p>"
                                       for line in UBND_SECRET.split("\n")) + "</body></html>"
SECRET_DOCX = docx(MARKING_XML)
WORD_2003_XML = ('<?xml version="1.0"?><?mso-application progid="Word.Document"?><w:wordDocument '
                 'xmlns:w="http://schemas.microsoft.com/office/word/2003/wordml"><w:body>'
                 f"{MARKING_XML}{LETTER_XML}</w:body></w:wordDocument>").encode()


def mht(html: str) -> bytes:
    """Word's "single file web page": a MIME message holding the HTML, quoted-printable."""
    return (b'MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary="b1"\r\n\r\n'
            b"--b1\r\nContent-Location: file:///C:/vb.htm\r\n"
            b"Content-Transfer-Encoding: quoted-printable\r\n"
            b'Content-Type: text/html; charset="utf-8"\r\n\r\n'
            + quopri.encodestring(html.encode()) + b"\r\n--b1--\r\n")


def forwarded(raw: bytes, times: int) -> bytes:
    """``raw`` attached (message/rfc822) to a forward, ``times`` deep."""
    inner = email.message_from_bytes(raw, policy=email.policy.compat32)
    for _ in range(times):
        outer = MIMEMultipart()
        outer["From"], outer["To"], outer["Subject"] = SENDER, GMAIL, "Fwd: văn bản"
        outer.attach(MIMEText("Chuyển tiếp anh.", "plain", "utf-8"))
        outer.attach(MIMEMessage(inner))
        inner = outer
    return inner.as_bytes()


def pdf_with_marking(glyph_step: float = 0.0, decoy: str = "", decoy_as: str = "1 pt",
                     under: tuple[int, int, int] | None = None, marking: str = "MẬT") -> bytes:
    """The letter as a PDF whose ``marking`` is one word (or its three glyphs drawn
    ``glyph_step`` mm apart), followed by ``decoy`` drawn ``decoy_as``: in 1 pt, ``white`` (fill
    colour), ``near-white``, ``invisible`` (text render mode 3, drawn last: the mode stays set),
    ``covered`` by a white box, or as the rest (``black``);
    ``under``: the colour of a box filled under both."""
    from fpdf import FPDF
    from fpdf.enums import TextMode

    pdf = FPDF()
    pdf.add_page()
    pdf.add_font("DejaVu", fname=str(FONT))
    pdf.set_font("DejaVu", size=11)
    for i, line in enumerate(UBND_OFFICIAL.split("\n")):
        pdf.text(10, 40 + i * 6, line)
    if under is not None:
        pdf.set_fill_color(*under)
        pdf.rect(70, 14, 70, 9, style="F")
    if glyph_step:
        for i, letter in enumerate(marking):
            pdf.text(80 + i * glyph_step, 20, letter)
        end = 81 + 3 * glyph_step
    else:  # one word, the decoy right after it
        pdf.text(80, 20, marking)
        end = 80.5 + pdf.get_string_width(marking)
    if decoy:
        if decoy_as == "1 pt":
            pdf.set_font_size(1)
        elif decoy_as == "invisible":
            pdf.text_mode = TextMode.INVISIBLE
        elif decoy_as in ("white", "near-white"):
            pdf.set_text_color(255 if decoy_as == "white" else 248)
        pdf.text(end, 20, decoy)
        if decoy_as == "covered":  # a white box drawn over it ("in front of text" in Word)
            pdf.set_fill_color(255)
            pdf.rect(end - 0.5, 15, pdf.get_string_width(decoy) + 1, 7, style="F")
        pdf.set_font_size(11)
        pdf.text_mode = TextMode.FILL
        pdf.set_text_color(0)
    return bytes(pdf.output())


def uuencoded(data: bytes, name: str) -> str:
    lines = [binascii.b2a_uu(data[i:i + 45]).decode() for i in range(0, len(data), 45)]
    return f"begin 644 {name}\n" + "".join(lines) + "`\nend\n"


def html_body(marking: str) -> bytes:
    """The unmarked letter in HTML, ``marking`` (markup) as its first paragraph."""
    letter = "".join(f"<p>{escape(line)}</p>" for line in UBND_OFFICIAL.split("\n"))
    return message("Gửi anh.", html=f"<html><body><p>{marking}</p>{letter}</body></html>")


def base64_body(text: str) -> bytes:
    """A message whose plain body is ``text`` in base64, sent as it is (7bit)."""
    msg = email.message.EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = SENDER, GMAIL, "Gửi anh"
    msg.set_content(base64.b64encode(text.encode()).decode(), cte="7bit")
    return msg.as_bytes()


CARRIERS: dict[str, Callable[[], bytes]] = {
    "DOCX comment": lambda: docx_part("word/comments.xml", COMMENTS),
    "DOCX old WordArt (v:textpath)": lambda: attached("vb.docx", docx(WORDART)),
    "DOCX SmartArt": lambda: docx_part("word/diagrams/data1.xml", SMARTART),
    "DOCX chart title": lambda: docx_part("word/charts/chart1.xml", CHART),
    "DOCX title property": lambda: docx_part("docProps/core.xml", CORE),
    "DOCX custom property Độ mật": lambda: docx_part("docProps/custom.xml", CUSTOM),
    "DOCX embedding a marked DOCX": lambda: docx_part(
        "word/embeddings/Microsoft_Word_Document1.docx", SECRET_DOCX),
    "DOCX altChunk of HTML": lambda: docx_part("word/afchunk.htm", SECRET_HTML),
    "DOCX letters split by a tab": lambda: attached("vb.docx", docx(
        "<w:p><w:r><w:t>M</w:t><w:tab/><w:t>ẬT</w:t></w:r></w:p>")),
    "Word 2003 XML named .doc": lambda: attached("vb.doc", WORD_2003_XML, "application/msword"),
    "Word 2003 XML named .xml": lambda: attached("vb.xml", WORD_2003_XML, "application/xml"),
    "HTML saved by Word, named .doc": lambda: attached("vb.doc", SECRET_HTML.encode(),
                                                       "application/msword"),
    "single-file web page (.mht)": lambda: attached("vb.mht", mht(SECRET_HTML),
                                                    "application/octet-stream"),
    ".mht sent as message/rfc822, base64": lambda: attached("vb.mht", mht(SECRET_HTML),
                                                            "message/rfc822"),
    ".mht named .doc": lambda: attached("vb.doc", mht(SECRET_HTML), "application/msword"),
    ".eml attached as a file": lambda: attached("fw.eml", message(UBND_SECRET),
                                                "application/octet-stream"),
    ".eml carrying the DOCX, named .txt": lambda: attached(
        "fw.txt", attached("vb.docx", docx_bytes(UBND_SECRET.split("\n"))), "text/plain"),
    "forwarded twice (message/rfc822 in message/rfc822)": lambda: forwarded(
        message(UBND_SECRET), 2),
    "UTF-16 text file": lambda: attached("vb.txt", UBND_SECRET.encode("utf-16"), "text/plain"),
    "UTF-16 without byte-order mark, named .dat": lambda: attached(
        "vb.dat", UBND_SECRET.encode("utf-16-le"), "application/octet-stream"),
    "base64 of the DOCX pasted into the body": lambda: message(
        "Anh giải mã base64 nhé:\n\n" + base64.encodebytes(SECRET_DOCX).decode()),
    "base64 of the DOCX glued to a Vietnamese word, one line": lambda: message(
        "Tài liệu:đ" + base64.b64encode(SECRET_DOCX).decode()),
    "the body is the letter in base64 (7bit)": lambda: base64_body(UBND_SECRET),
    "uuencoded DOCX in the body": lambda: message(
        "Gửi anh\n\n" + uuencoded(SECRET_DOCX, "vb.docx")),
    "HTML: 1 px text inside the marking": lambda: html_body(
        'M<span style="font-size:1px">x</span>ẬT'),
    "HTML: a partner word at opacity 0": lambda: html_body(
        'MẬT<span style="opacity:0"> KHẨU</span>'),
    "HTML: the marking split over two table cells": lambda: html_body(
        "<table><tr><td>M</td><td>ẬT</td></tr></table>"),
    "HTML: a partner word in 0.5 pt": lambda: html_body(
        'MẬT<span style="font-size:0.5pt"> khẩu</span>'),
    "HTML: a partner word in white": lambda: html_body(
        'MẬT<span style="color:#fff"> KHẨU</span>'),
    "HTML: a partner word in <font color=white>": lambda: html_body(
        'MẬT<font color="white"> KHẨU</font>'),
    "HTML: a partner word in near-white rgb()": lambda: html_body(
        'MẬT<span style="color:rgb(250, 250, 250)"> KHẨU</span>'),
    "HTML: a partner word in hsl() white": lambda: html_body(
        'MẬT<span style="color:hsl(0 0% 100%)"> KHẨU</span>'),
    "HTML: a partner word the colour of its cell": lambda: html_body(
        '<table bgcolor="#336699"><tr><td>MẬT<span style="color:#336699"> KHẨU</span>'
        "</td></tr></table>"),
    "HTML: a partner word hidden by a style sheet class": lambda: html_body(
        "<style>.k{display:none}</style>MẬT<span class=k> KHẨU</span>"),
    "HTML: a partner word white by a style sheet tag.class": lambda: html_body(
        '<style>b.k, i.z { color: #FFFFFF }</style>MẬT<b class="k"> KHẨU</b>'),
    "HTML: a partner word hidden by a style sheet id": lambda: html_body(
        "<style>#p{font-size:0}</style>MẬT<span id=p> KHẨU</span>"),
    "HTML: a partner word hidden by a descendant selector": lambda: html_body(
        "<style>div .k{color:#fff}</style><div>MẬT<span class=k> KHẨU</span></div>"),
    "HTML: a hidden element holding markup": lambda: html_body(
        'MẬT<span style="display:none"> <b>KHẨU</b> <i>ong</i></span>'),
    "HTML: the marking in ::before": lambda: html_body(
        '<style>.m::before{content:"M\\1EAC T"}</style><span class="m"></span>'),
    "HTML: the marking in ::after from an attribute": lambda: html_body(
        '<style>.m:after{content:attr(data-m)}</style><span class="m" data-m="MẬT"></span>'),
    "HTML: the marking as an image's alt text": lambda: html_body('<img src="x.png" alt="MẬT">'),
    "HTML: a partner word scaled to nothing (transform: scale(0))": lambda: html_body(
        'MẬT<span style="display:inline-block;transform:scale(0)"> KHẨU</span>'),
    "HTML: a partner word turned edge on (rotateY(90deg))": lambda: html_body(
        'MẬT<span style="display:inline-block;transform:rotateY(90deg)"> KHẨU</span>'),
    "HTML: a partner word at zoom 1%": lambda: html_body(
        'MẬT<span style="zoom:1%"> KHẨU</span>'),
    "HTML: a partner word in font: 0/0 a": lambda: html_body(
        'MẬT<span style="font:0/0 a"> KHẨU</span>'),
    "HTML: a partner word in a box of line-height 0, overflow hidden": lambda: html_body(
        'MẬT<span style="display:inline-block;line-height:0;overflow:hidden"> KHẨU</span>'),
    "HTML: a partner word clipped away (clip-path: inset(50%))": lambda: html_body(
        'MẬT<span style="clip-path:inset(50%)"> KHẨU</span>'),
    "HTML: a partner word clipped to a 1 px rectangle": lambda: html_body(
        'MẬT<span style="position:absolute;clip:rect(1px,1px,1px,1px)"> KHẨU</span>'),
    "HTML: a partner word at filter: opacity(0)": lambda: html_body(
        'MẬT<span style="filter:opacity(0)"> KHẨU</span>'),
    "HTML: a partner word filled white (-webkit-text-fill-color)": lambda: html_body(
        'MẬT<span style="-webkit-text-fill-color:#fff"> KHẨU</span>'),
    "HTML: a partner word moved off the page by a negative margin": lambda: html_body(
        'MẬT<span style="display:inline-block;margin-left:-9999px"> KHẨU</span>'),
    "HTML: a partner word translated off the page": lambda: html_body(
        'MẬT<span style="display:inline-block;transform:translateX(-9999px)"> KHẨU</span>'),
    "HTML: a partner word indented out of its box (text-indent: 100%)": lambda: html_body(
        'MẬT<span style="display:inline-block;width:9em;text-indent:100%;white-space:nowrap;'
        'overflow:hidden"> KHẨU</span>'),
    "HTML: a partner word with its content skipped (content-visibility)": lambda: html_body(
        'MẬT<span style="content-visibility:hidden"> KHẨU</span>'),
    "HTML: a partner word hidden by an adjacent sibling selector (i + .k)": lambda: html_body(
        "<style>i + .k{color:#fff}</style><i></i>MẬT<span class=k> KHẨU</span>"),
    "HTML: a partner word hidden by a general sibling selector (i ~ .k)": lambda: html_body(
        "<style>i ~ .k{display:none}</style><i></i>MẬT<b></b><span class=k> KHẨU</span>"),
    "HTML: a partner word hidden by an attribute selector [class~=k]": lambda: html_body(
        "<style>[class~=k]{display:none}</style>MẬT<span class='a k'> KHẨU</span>"),
    "HTML: a partner word hidden by span[data-x]": lambda: html_body(
        "<style>span[data-x]{font-size:0}</style>MẬT<span data-x> KHẨU</span>"),
    "HTML: a partner word hidden by [style*=...]": lambda: html_body(
        "<style>[style*='11px']{color:#fff}</style>MẬT<span style='font-size:11px'> KHẨU</span>"),
    "HTML: a partner word hidden by :first-child": lambda: html_body(
        "<style>span:first-child{display:none}</style>MẬT<span> KHẨU</span>"),
    "HTML: a partner word hidden by :nth-child()": lambda: html_body(
        "<style>span:nth-child(2){color:#fff}</style><b>MẬT</b><span> KHẨU</span>"),
    "HTML: a partner word hidden by :not()": lambda: html_body(
        "<style>span:not(.v){display:none}</style>MẬT<span> KHẨU</span>"),
    "HTML: a white partner word on a white image over a dark colour": lambda: html_body(
        'MẬT<span style="color:#fff;background:#000 url(trang.png)"> KHẨU</span>'),
    "HTML: a partner word over a page background image": lambda: (
        html_body('MẬT<span style="color:#fff"> KHẨU</span>')
        .replace(b"<html><body>", b'<html><body background="giay.jpg">')),
    "PDF whose marking glyphs stand apart": lambda: attached(
        "vb.pdf", pdf_with_marking(glyph_step=10), "application/pdf"),
    "PDF with a partner word in 1 pt after the marking": lambda: attached(
        "vb.pdf", pdf_with_marking(decoy=" KHẨU"), "application/pdf"),
    "PDF with a partner word in white after the marking": lambda: attached(
        "vb.pdf", pdf_with_marking(decoy="KHẨU", decoy_as="white"), "application/pdf"),
    "PDF with a partner word in near-white after the marking": lambda: attached(
        "vb.pdf", pdf_with_marking(decoy="KHẨU", decoy_as="near-white"), "application/pdf"),
    "PDF with a partner word invisible (render mode 3) after the marking": lambda: attached(
        "vb.pdf", pdf_with_marking(decoy="KHẨU", decoy_as="invisible"), "application/pdf"),
    "PDF with a partner word covered by a white box": lambda: attached(
        "vb.pdf", pdf_with_marking(decoy="KHẨU", decoy_as="covered"), "application/pdf"),
    "PDF with a look-alike marking (Cyrillic МẬТ) and a white partner word": lambda: attached(
        "vb.pdf", pdf_with_marking(decoy="KHẨU", decoy_as="white", marking="\u041cẬ\u0422"),
        "application/pdf"),
    "PDF with a marking spaced apart and a white partner word": lambda: attached(
        "vb.pdf", pdf_with_marking(glyph_step=5, decoy="KHẨU", decoy_as="white"),
        "application/pdf"),
    "PDF with a white partner word on a white box": lambda: attached(
        "vb.pdf", pdf_with_marking(decoy="KHẨU", decoy_as="white", under=(255, 255, 255)),
        "application/pdf"),
}


@pytest.mark.parametrize("carrier", list(CARRIERS))
def test_a_marked_letter_in_another_carrier_is_refused(carrier: str) -> None:
    verdict = verdict_of(CARRIERS[carrier]())
    assert (verdict.action, verdict.rule) == REJECTED, verdict.evidence


def html_note(html: str) -> bytes:
    return message("Chào anh.", html=f"<html><body>{html}</body></html>")


@pytest.mark.parametrize("html", [
    "<style>.x{font-weight:bold}</style><p>Mật <b class=x>khẩu</b> của anh đã được đổi.</p>",
    "<style>.x{color:#333}</style><p>Mật <b class=x>khẩu</b> của anh đã được đổi.</p>",
    '<body style="background:#000;color:#fff"><p>MẬT <b>KHẨU</b> mới</p></body>',
    '<table bgcolor="#1a1a1a"><tr><td><font color="white">Mật <b>khẩu</b> mới</font></td></tr>'
    "</table>",
    "<p><img src='mat-ong.jpg' alt='Mật'> ong rừng U Minh</p>",
    # styles near the ones that hide, that hide nothing
    "<p style='line-height:1.4;overflow:hidden'>Mật <b style='line-height:1'>khẩu</b> mới</p>",
    "<p style='font:bold 14px/0 Arial'>Mật <b style='font:italic 1.2em Arial'>khẩu</b></p>",
    "<p>Mật <b style='display:inline-block;transform:rotate(3deg) scale(1.1)'>khẩu</b></p>",
    "<p>Mật <b style='clip-path:inset(0 round 6px);filter:opacity(.9)'>khẩu</b></p>",
    "<p>Mật <b style='margin:0 0 0 -4px;text-indent:-1em;zoom:0'>khẩu</b></p>",
    "<p>Mật <b style='-webkit-text-fill-color:currentColor;color:#c00'>khẩu</b></p>",
    # text over a background image, all of it together: the phrase stands
    "<table background='nen.jpg'><tr><td style='color:#fff;background:#222 url(nen.jpg)'>"
    "<p>Mật <b>khẩu</b> mới của anh</p><p>Mật ong rừng U Minh</p></td></tr></table>",
    "<div style='background-image:linear-gradient(#123,#456)'><p>Mật <i>khẩu</i></p></div>",
    # the selectors that hide, in an ordinary newsletter's sheet, hiding nothing of the phrase
    "<style>p + p{margin-top:0} [data-x]{color:#333} li:first-child{color:#111} "
    "tr:nth-child(even) td{background:#eee;color:#111} span:not(.x){color:#222} "
    ".ad ~ .ad{display:none}</style><table><tr><td>x</td></tr><tr><td><p>Mật "
    "<span data-x>khẩu</span> mới</p><p>Mật <b class=ad>ong</b></p></td></tr></table>",
])
def test_password_mail_whose_words_are_styled_is_no_marking(html: str) -> None:
    """The false positive to guard: a partner word in another element, with a class or colour
    that does not hide it, keeps the phrase (Mật khẩu = password, mật ong = honey)."""
    verdict = verdict_of(html_note(html))
    assert verdict.action is Action.ACCEPT, verdict.evidence
    assert not any("secrecy" in cue for cue in verdict.evidence), verdict.evidence


@pytest.mark.parametrize("html", [
    "<style>.m{display:none} span[class=m]{display:inline}</style><p><span class=m>MẬT</span>"
    "</p>",
    "<style>@media (min-width:1px){.m{color:#fff}}</style><div style='background:"
    "url(dark.png)'><p class=m>MẬT</p></div>",
])
def test_a_style_the_client_does_not_apply_does_not_erase_the_marking(html: str) -> None:
    """A rule read as hiding text the reader does see (an attribute selector not applied, a
    background image not looked at) leaves the marking read, apart: it never erases it."""
    verdict = verdict_of(html_body(html))
    assert (verdict.action, verdict.rule) == REJECTED, verdict.evidence


def test_white_text_on_a_dark_box_in_a_pdf_is_read_in_place() -> None:
    """White on something dark drawn under it is seen: the phrase stands (``MẬT KHẨU`` on a
    dark banner is a password's heading, not a marking)."""
    pdf = pdf_with_marking(decoy="KHẨU", decoy_as="white", under=(20, 40, 90))
    verdict = verdict_of(attached("vb.pdf", pdf, "application/pdf"))
    assert verdict.action is Action.TAG, verdict.evidence
    assert not any("secrecy" in cue for cue in verdict.evidence), verdict.evidence


@pytest.mark.parametrize(("marking", "glyph_step"), [("\u041cật", 0), ("Mật", 4)])
def test_a_password_heading_in_look_alike_or_spaced_letters_in_a_pdf_is_no_marking(
        marking: str, glyph_step: float) -> None:
    """The page walk that a look-alike or spaced marking word now starts leaves a partner word
    that is seen in place: ``Мật khẩu`` (Cyrillic М) or ``M ậ t khẩu`` stays a password."""
    pdf = pdf_with_marking(decoy="khẩu", decoy_as="black", marking=marking,
                           glyph_step=glyph_step)
    verdict = verdict_of(attached("vb.pdf", pdf, "application/pdf"))
    assert verdict.action is Action.TAG, verdict.evidence
    assert not any("secrecy" in cue for cue in verdict.evidence), verdict.evidence


def test_an_author_called_mat_is_no_marking() -> None:
    """The author and editor properties are not read (a person may be called Mật)."""
    core = CORE.replace("<dc:title>MẬT</dc:title>", "<dc:title>Kế hoạch</dc:title>")
    verdict = verdict_of(docx_part("docProps/core.xml", core))
    assert verdict.action is Action.TAG and not any("secrecy" in e for e in verdict.evidence)


def test_an_ordinary_message_file_stays_ordinary() -> None:
    note = message("Chào anh, gửi anh ảnh chuyến đi.", "Ảnh")
    verdict = verdict_of(attached("fw.eml", note, "application/octet-stream"))
    assert verdict.action is Action.ACCEPT, verdict.evidence


def test_a_message_file_inside_message_files_stops_at_the_depth_limit() -> None:
    raw = message(UBND_SECRET)
    for _ in range(5):
        raw = attached("fw.eml", raw, "application/octet-stream")
    verdict = verdict_of(raw)
    assert verdict.document.value == "unscannable", verdict.evidence


@pytest.mark.parametrize("pasted", [
    "-----BEGIN PGP SIGNATURE-----\n\n" + "\n".join(["iQEzBAEBCAAdFiEE" * 4] * 6)
    + "\n-----END PGP SIGNATURE-----",
    "Mã theo dõi: " + "AbCdEfGh12345678" * 20,
])
def test_base64_that_is_no_file_changes_nothing(pasted: str) -> None:
    verdict = verdict_of(message("Chào anh, thư đã nhận.\n\n" + pasted))
    assert verdict.action is Action.ACCEPT and verdict.document.value == "none", verdict.evidence
