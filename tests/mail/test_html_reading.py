"""HTML read as its reader sees it: text a style hides is left out of the reading and given
apart after it (govmilter.mail.htmltext), by inline styles, presentational attributes and the
message's own style sheets (govmilter.mail.css); in linear time whatever the markup or sheet.

The carriers' one-edit rows (a white partner word after MẬT...) are in
tests/document/test_one_edit_carriers.py; these hold the reading itself.
"""

from __future__ import annotations

import pytest
from linear_time import assert_linear

from govmilter.mail.css import parse_colour
from govmilter.mail.htmltext import html_to_text, read_html


def reading(html: str) -> tuple[str, str]:
    """The text seen and the text given apart (not seen), blanks collapsed."""
    read = read_html(html)
    return " ".join(read.seen.split()), " ".join(read.unseen.split())


@pytest.mark.parametrize(("value", "rgb"), [
    ("white", (255, 255, 255)), ("#fff", (255, 255, 255)), ("#FFFFFF", (255, 255, 255)),
    ("rgb(255,255,255)", (255, 255, 255)), ("rgb(100% 100% 100%)", (255, 255, 255)),
    ("hsl(0, 0%, 100%)", (255, 255, 255)), ("hsl(120deg 100% 25%)", (0, 128, 0)),
    ("navy", (0, 0, 128)), ("#0008", (0, 0, 0)),
])
def test_colours_are_read_in_every_form(value: str, rgb: tuple[int, int, int]) -> None:
    colour = parse_colour(value)
    assert colour is not None and tuple(round(c) for c in colour[:3]) == rgb


def test_the_named_colours_are_csss() -> None:
    """The table of names is CSS's, checked against Pillow's (an independent copy)."""
    from PIL import ImageColor

    assert {name: parse_colour(name) for name in ImageColor.colormap} == {
        name: (*(float(c) for c in ImageColor.getrgb(name)[:3]), 1.0)
        for name in ImageColor.colormap}


def test_a_colour_without_hash_is_read_only_in_an_attribute() -> None:
    assert parse_colour("ffffff") is None
    assert parse_colour("ffffff", legacy=True) == (255.0, 255.0, 255.0, 1.0)


@pytest.mark.parametrize("html", [
    'MẬT<span style="color:#fff"> KHẨU</span>',
    'MẬT<span style="color:#fafafa"> KHẨU</span>',
    'MẬT<span style="color:rgba(0,0,0,0.02)"> KHẨU</span>',
    'MẬT<font color="white"> KHẨU</font>',
    'MẬT<font color="ffffff"> KHẨU</font>',
    '<body style="background:#000;color:#fff">MẬT<span style="color:#000"> KHẨU</span></body>',
    "MẬT<span style='color:#fff'><div style='display:inline'></span> KHẨU</div>",
    '<table><tr><td bgcolor="navy">MẬT<font color="#000080"> KHẨU</font></td></tr></table>',
    '<div style="background: no-repeat #123456">MẬT<b style="color:#123456"> KHẨU</b></div>',
    "<style>.k{display:none}</style>MẬT<span class=k> KHẨU</span>",
    "<style>.k{visibility:hidden}</style>MẬT<span class=k> KHẨU</span>",
    "<style>.k{font-size:0}</style>MẬT<span class=k> KHẨU</span>",
    "<style>.k{opacity:.05}</style>MẬT<span class=k> KHẨU</span>",
    "<style>.k{color:white}</style>MẬT<span class=k> KHẨU</span>",
    "<style>span{color:#fff}</style>MẬT<span> KHẨU</span>",
    "<style>#k{mso-hide:all}</style>MẬT<span id=k> KHẨU</span>",
    "<style>p, .a.k { display: none }</style>MẬT<b class='k a'> KHẨU</b>",
    "<style>@media screen { .k{display:none} }</style>MẬT<span class=k> KHẨU</span>",
    "<style>/* x */ .k{display:none!important}</style>MẬT<span class=k style=display:inline>"
    " KHẨU</span>",
    "<style>div .k{display:none}</style><div>MẬT<span class=k> KHẨU</span></div>",
    "<style>body .k{color:#fff}</style>MẬT<span class=k> KHẨU</span>",
    "<style>td > span.k{color:#fff}</style><table><tr><td>MẬT<span class=k> KHẨU</span>",
    "<style>.a .b > .k{font-size:0}</style><p class=a><i class=b>MẬT<b class=k> KHẨU</b>",
    "<style>i + .k{color:#fff}</style><i></i>MẬT<span class=k> KHẨU</span>",
    "<style>i ~ .k{display:none}</style><i></i><b>MẬT</b><u></u><span class=k> KHẨU</span>",
    "<style>.a + .b > .k{color:#fff}</style><i class=a></i><p class=b>MẬT<span class=k> KHẨU",
    "<style>[class~=k]{display:none}</style>MẬT<span class='a k'> KHẨU</span>",
    "<style>span[data-x]{font-size:0}</style>MẬT<span data-x> KHẨU</span>",
    "<style>[style*='12px']{color:#fff}</style>MẬT<span style='font-size:12px'> KHẨU</span>",
    '<style>[lang|="vi"], [title$=z]{opacity:0}</style>MẬT<span lang=vi-VN> KHẨU</span>',
    "<style>p span:first-child{display:none}</style><p>MẬT<span> KHẨU</span></p>",
    "<style>span:nth-child(2){display:none}</style><p><b>MẬT</b><span> KHẨU</span></p>",
    "<style>b:nth-of-type(2n){color:#fff}</style><p><b>MẬT</b><i></i><b> KHẨU</b></p>",
    "<style>span:not(.v){display:none}</style>MẬT<span> KHẨU</span>",
    "<style>:first-child + .k{color:#fff}</style><p><i></i>MẬT<span class=k> KHẨU</span>",
    'MẬT<span style="display:none"><b> KHẨU</b></span>',
    'MẬT<span style="max-height:0;overflow:hidden"> KHẨU</span>',
    'MẬT<span style="position:absolute;left:-9999px"> KHẨU</span>',
    "MẬT<span hidden><i> KHẨU</i></span>",
])
def test_a_hidden_partner_word_is_given_apart(html: str) -> None:
    assert reading(html) == ("MẬT", "KHẨU")


@pytest.mark.parametrize("html", [
    "<body style='background:#000;color:#fff'>Mật khẩu</body>",
    "<body bgcolor='black' text='white'>Mật <b>khẩu</b></body>",
    "<style>body{background:#111;color:#eee}</style>Mật <b class=x>khẩu</b>",
    "<style>.x{font-weight:bold;color:#333}</style>Mật <b class=x>khẩu</b>",
    "<style>.x{display:none} span.x{display:inline}</style>Mật <span class=x>khẩu</span>",
    "<style>.x{display:none}</style>Mật <span class=x style='display:inline'>khẩu</span>",
    "<style>i + .x{display:none}</style><i></i><b></b>Mật <span class=x>khẩu</span>",
    "<style>b ~ .x{display:none}</style><p><b></b></p>Mật <span class=x>khẩu</span>",
    "<style>.x:first-child{display:none}</style><p><i></i>Mật <span class=x>khẩu</span>",
    "<style>.x:nth-child(2n+3){display:none}</style><p><i></i>Mật <span class=x>khẩu</span>",
    "<style>.x:not([data-k]){display:none}</style>Mật <span class=x data-k>khẩu</span>",
    "<style>[data-k=a]{display:none}</style>Mật <span data-k=ab>khẩu</span>",
    "<style>.x:last-child{display:none}</style><p>Mật <span class=x>khẩu</span></p>",
    "<style>.m .x{display:none}</style><i class=m></i>Mật <span class=x>khẩu</span>",
    "<style>p > .x{display:none}</style><p>Mật <b><span class=x>khẩu</span></b></p>",
    "<style>.x:hover{display:none}</style>Mật <span class=x>khẩu</span>",
    "<style>@media print{.x{display:none}}</style>Mật <span class=x>khẩu</span>",
    "<style media='print'>.x{display:none}</style>Mật <span class=x>khẩu</span>",
    "<!-- <style>.x{display:none}</style> -->Mật <span class=x>khẩu</span>",
    "<div style='visibility:hidden'><span style='visibility:visible'>Mật khẩu</span></div>",
    "<div style='font-size:0'><span style='font-size:14px'>Mật khẩu</span></div>",
    "<span style='color:#fff'><b></span>Mật khẩu</b>",
    "<p style='color:#fff'>x<p>Mật khẩu",
    "<table><tr><td><span style='color:#fff'>x<td>Mật khẩu</table>",
])
def test_text_the_reader_sees_stays_in_the_reading(html: str) -> None:
    assert "Mật khẩu" in reading(html)[0], html_to_text(html)


def test_the_marking_in_generated_content_and_alt_text_is_read() -> None:
    assert reading('<style>.m::before{content:"M\\1EAC T"}</style><p class=m></p>')[0] == "MẬT"
    assert reading('<style>.m::after{content:attr(data-x)}</style><i class=m data-x="MẬT">'
                   "</i>")[0] == "MẬT"
    assert reading("<style>.m::before{content:'MẬT';color:#fff}</style><p class=m></p>") == (
        "", "MẬT")
    assert reading('<p><img src="con-dau.png" alt="MẬT"></p>')[0] == "MẬT"
    assert reading('<p><img alt="Mật"> ong rừng</p>')[0] == "Mật ong rừng"


def test_hidden_text_inside_a_word_joins_the_word() -> None:
    assert reading("M<span style='color:#fff'>x</span>ẬT<style>.h{font-size:1px}</style>") == (
        "MẬT", "x")
    assert reading("<style>.h{color:#fff}</style>TỐI M<b class=h>-</b>ẬT") == ("TỐI MẬT", "-")


@pytest.mark.parametrize("style", [
    "transform:scale(0)", "transform:scale(1, 0)", "transform:matrix(0.01,0,0,0.01,0,0)",
    "transform:rotateX(90deg)", "scale:0.01", "zoom:1%", "font:0/0 a", "font:italic 1px serif",
    "display:inline-block;line-height:0;overflow:hidden", "clip-path:inset(50%)",
    "clip-path:inset(0 100% 0 0)", "clip-path:circle(0)", "clip-path:polygon(0 0,0 0,0 0)",
    "position:absolute;clip:rect(0 0 0 0)", "position:absolute;clip:rect(5px,auto,5px,0)",
    "filter:blur(0) opacity(0%)", "-webkit-text-fill-color:transparent",
    "-webkit-text-fill-color:white;color:black", "margin:-9999px 0 0",
    "position:absolute;right:9999px", "transform:translate(0, -9999px)",
    "text-indent:9999px;overflow:hidden", "content-visibility:hidden",
])
def test_styles_that_shrink_clip_or_move_text_away_hide_it(style: str) -> None:
    assert reading(f'MẬT<span style="{style}"> KHẨU</span>') == ("MẬT", "KHẨU")


def test_a_scale_holds_for_the_text_inside_whatever_its_own_size() -> None:
    assert reading("MẬT<i style='transform:scale(.05)'><b style='font-size:40px'> KHẨU</b></i>"
                   ) == ("MẬT", "KHẨU")
    assert reading("MẬT<i style='-webkit-text-fill-color:#fff'><b style='color:#000'> KHẨU</b>"
                   "</i>") == ("MẬT", "KHẨU")


def runs(html: str) -> list[str]:
    """The runs read apart, one a line, blanks collapsed."""
    return [" ".join(line.split()) for line in read_html(html).unseen.split("\n")
            if line.strip()]


def test_text_over_a_background_image_is_read_apart_from_text_hidden_there() -> None:
    """Over an image whose colours are not known, text in a colour other than the one under the
    image may be seen or not: it is read apart, in runs of its own, never joined to text a style
    hides (a white partner word on a page with a background image stays apart from MẬT)."""
    assert runs('<body background="giay.jpg">MẬT<span style="color:#fff"> KHẨU</span>') == [
        "MẬT", "KHẨU"]
    assert reading('MẬT<b style="color:#fff;background:#000 url(t.png)"> KHẨU</b>') == (
        "MẬT", "KHẨU")
    assert reading("<div style='background-image:url(t.png)'>Mật <b>khẩu</b></div>") == (
        "", "Mật khẩu")
    # an opaque colour drawn over the image: what is on it is seen again
    assert reading("<td background=t.png><p style='background:#fff'>Mật <b>khẩu</b></td>"
                   )[0] == "Mật khẩu"


def test_scripts_titles_and_templates_are_not_text() -> None:
    html = ("<head><title>t</title><script>MẬT</script></head><body><template>MẬT</template>"
            "<p>văn bản</p></body>")
    assert reading(html) == ("văn bản", "")


def _deep(count: int) -> str:
    return "<style>.w{color:#fff}</style>" + '<div class="w"><span style="color:#000">' * count \
        + "MẬT"


def _end_tags_closing_nothing(count: int) -> str:
    return "<span><div>" * count + "</span></b>" * count + "MẬT"


def _implied_ends(count: int) -> str:
    return "<table><tr><td><p><li><dt>" * count + "MẬT"


def _many_rules_one_class(count: int) -> str:
    rules = "".join(f".k.z{i}{{color:#fff}} .z{i}::before{{content:'x'}}\n"
                    for i in range(count))
    classes = " ".join(f"z{i}" for i in range(16))
    return f"<style>{rules}</style>" + f'<b class="k {classes}">MẬT</b>' * count


def _descendant_rules(count: int) -> str:
    rules = "".join(f".c{i} .k, .c{i} > .k{i}{{color:#fff}}\n" for i in range(count))
    classes = " ".join(f"c{i}" for i in range(16))
    return f"<style>{rules}</style>" + f'<div class="{classes}"><b class="k k1">x' * count


def _sibling_rules(count: int) -> str:
    rules = "".join(f".s{i} + .k{i}, .s{i} ~ .k{{color:#fff}}\n" for i in range(count))
    classes = " ".join(f"s{i} k{i}" for i in range(8))
    return f"<style>{rules}</style><p>" + f'<b class="{classes}">x</b>' * count


def _places(count: int) -> str:
    return ("<style>li:nth-child(3n+1), li:nth-of-type(odd) + li:not(:first-child)"
            "{color:#fff}</style><ul>" + "<li>x" * count)


def _attribute_rules(count: int) -> str:
    rules = "".join(f"[data-{i}*=a], [style$='{i}'] {{color:#fff}}\n" for i in range(count))
    attributes = " ".join(f"data-{i}='{'b' * 50}'" for i in range(16))
    return f"<style>{rules}</style>" + f"<b {attributes} style='{{}}'>x</b>" * count


@pytest.mark.parametrize(("shape", "make"), [
    ("sibling rules, many siblings", _sibling_rules),
    ("nth-child rules, a long list", _places),
    ("attribute rules, elements of many attributes", _attribute_rules),
    ("siblings nested", lambda n: "<style>i + b > i{color:#fff}</style>" + "<i></i><b>" * n),
    ("nested elements never closed", _deep),
    ("end tags that close nothing", _end_tags_closing_nothing),
    ("start tags that close others", _implied_ends),
    ("rules sharing one class, elements of many classes", _many_rules_one_class),
    ("descendant and child rules, deep nesting", _descendant_rules),
    ("unclosed strings in a sheet", lambda n: "<style>" + '"\\"' * n + "</style>MẬT"),
    ("blocks never closed", lambda n: "<style>" + "@media{a{" * n + "</style>MẬT"),
    ("comments never closed", lambda n: "<style>" + "/*" * n + "</style>MẬT"),
    ("selector lists", lambda n: "<style>" + ".a," * n + "b{color:red}</style>MẬT"),
    ("declarations", lambda n: "<style>a{" + "color:#fff !important;" * n + "}</style>MẬT"),
    ("a content string", lambda n: '<style>a::before{content:"' + "\\41 " * n + '"}</style>'
     "<a>x</a>"),
    ("attributes", lambda n: "<b " + "a=b " * n + 'style="color:#fff">MẬT</b>'),
    ("style attributes", lambda n: '<b style="' + "color:#fff;" * n + '">MẬT</b>'),
    ("style elements", lambda n: "<style>.k{color:#fff}</style><b class=k>x</b>" * n),
    ("transform functions", lambda n: '<b style="transform:' + "scale(1) rotateY(1deg) " * n
     + '">MẬT</b>'),
    ("clip-path points", lambda n: '<b style="clip-path:polygon(' + "1px 2px," * n + '0 0)">x'),
    ("font shorthand tokens", lambda n: '<b style="font:' + "bold " * n + '0/0 a">MẬT</b>'),
    ("background images nested", lambda n: '<div style="background:url(x)"><p bgcolor=#fff>x'
     * n),
])
def test_reading_is_linear_on_hostile_markup(shape: str, make: object) -> None:
    assert callable(make)
    assert_linear(make, html_to_text, 2_000, shape)
