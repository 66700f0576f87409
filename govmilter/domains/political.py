"""Official domains of the political system outside ``.gov.vn``: the optional built-in list.

The National Assembly, the Party and the Fatherland Front exchange official documents with state
bodies, but their mail domains are not under ``gov.vn``, so without this list they come out
``external``. A policy turns the list on with ``domains.official.political_system: true``; each
domain (and its sub-domains) is then official, its reason naming the list and the body.

Each entry says where it comes from and how it was checked. The machine the list was made on had
no DNS (docs/policy.md says so), so ownership rests on the body's pages and what the press and
others copied of them; a domain is listed only when its website is the body's official portal,
since only the body can create mailboxes in its own domain. Keep the list short and add a domain
only with such a source.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PoliticalDomain:
    """One domain of the list: the body it belongs to and the sources that say so."""

    domain: str
    body_vi: str
    body_en: str
    #: the body's own pages (its portal, a page naming a mailbox in the domain)
    sources: tuple[str, ...]
    #: what was checked, in a sentence
    checked: str


POLITICAL_SYSTEM_DOMAINS: tuple[PoliticalDomain, ...] = (
    PoliticalDomain(
        "quochoi.vn",
        "Quốc hội và Văn phòng Quốc hội",
        "National Assembly and its Office",
        ("https://quochoi.vn/",
         "https://quochoi.vn/vanphongquochoi/cocautochuc/khoiphucvuchung/Pages/vu-thong-tin.aspx",
         "https://congly.vn/chinh-thuc-ra-mat-cong-thong-tin-dien-tu-quoc-hoi-2218.html",
         "https://www.baogiaothong.vn/chinh-thuc-khai-truong-cong-thong-tin-dien-tu-quoc-hoi-"
         "d101286.html"),
        "the National Assembly's portal (opened by the Office of the National Assembly on "
        "6 April 2015 under Resolution 27/2012/QH13, as the press reported); a directory of "
        "central bodies compiled from their sites cites the Information Department's page for "
        "the mailbox hotro@quochoi.vn (and the Library's thuvienquochoi@quochoi.vn); the page "
        "itself was not read",
    ),
    PoliticalDomain(
        "dangcongsan.vn",
        "Báo điện tử Đảng Cộng sản Việt Nam (cơ quan của Ban Chấp hành Trung ương Đảng)",
        "Communist Party of Vietnam Online Newspaper, an organ of the Party Central Committee",
        ("https://dangcongsan.vn/",),
        "the Party's online newspaper: its masthead, as a third-party news index copied it, "
        "names the Central Propaganda Commission as its managing body and the mailbox "
        "toasoan@dangcongsan.vn; whether the Party's central organs use the domain for their "
        "own mail was not found",
    ),
    PoliticalDomain(
        "mattran.org.vn",
        "Ủy ban Trung ương Mặt trận Tổ quốc Việt Nam",
        "Central Committee of the Vietnam Fatherland Front",
        ("https://mattran.org.vn/",),
        "the Front Central Committee's portal (news of the Front's Presidium and Standing "
        "Committee, the Front's official donation accounts); no page naming a mailbox in the "
        "domain was found: listed for the portal alone",
    ),
)


def political_body(domain: str) -> PoliticalDomain:
    """The entry of a listed domain.

    :raises KeyError: if it is not on the list.
    """
    for entry in POLITICAL_SYSTEM_DOMAINS:
        if entry.domain == domain:
            return entry
    raise KeyError(domain)
