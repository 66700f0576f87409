"""Builders of hostile and malformed messages, shared by the hostile-input tests and the fuzzer.

Each builder returns the raw bytes a gateway could receive; nothing here is a test by itself.
"""

from __future__ import annotations

import base64
import io
import json
import os
import random
import resource
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

from govmilter.cli import main
from govmilter.mail.limits import Limits

CRLF = b"\r\n"


def message(headers: list[tuple[str, str | bytes]], body: bytes = b"hello\r\n") -> bytes:
    """A message from header pairs (str values are UTF-8 encoded, bytes kept) and a body."""
    lines = [name.encode() + b": " + (v if isinstance(v, bytes) else v.encode())
             for name, v in headers]
    return CRLF.join(lines) + CRLF + CRLF + body


def encoded_word(text: str) -> str:
    """An RFC 2047 base64 encoded word carrying ``text`` (control characters included)."""
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


def nested_multipart(depth: int, leaf: bytes = b"Content-Type: text/plain\r\n\r\nhello\r\n",
                     extra_lines: int = 0) -> bytes:
    """``depth`` multipart/mixed sections inside each other, a text leaf at the bottom."""
    out = bytearray(b"From: a@mic.gov.vn\r\nTo: b@gmail.com\r\nMIME-Version: 1.0\r\n")
    for level in range(depth):
        out += b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (level, level)
    out += leaf + b"x\r\n" * extra_lines
    for level in reversed(range(depth)):
        out += b"--b%d--\r\n" % level
    return bytes(out)


def many_parts(count: int, part: bytes = b"Content-Type: application/octet-stream\r\n"
               b"Content-Transfer-Encoding: base64\r\n\r\nAAAA\r\n") -> bytes:
    """One multipart/mixed holding ``count`` copies of ``part``."""
    out = bytearray(b'From: a@mic.gov.vn\r\nTo: b@gmail.com\r\n'
                    b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n')
    for _ in range(count):
        out += b"--B\r\n" + part
    return bytes(out + b"--B--\r\n")


def multipart(parts: list[bytes], ctype: str = "multipart/mixed", boundary: str = "B",
              headers: list[tuple[str, str | bytes]] | None = None) -> bytes:
    """A multipart message whose parts are given as raw bytes (their headers included)."""
    head = headers or [("From", "vanthu@mic.gov.vn"), ("To", "b@gmail.com")]
    body = b"".join(b"--" + boundary.encode() + CRLF + p + CRLF for p in parts)
    body += b"--" + boundary.encode() + b"--" + CRLF
    return message([*head, ("MIME-Version", "1.0"),
                    ("Content-Type", f'{ctype}; boundary="{boundary}"')], body)


#: Text that the default policy's detector counts as an official document marked MẬT.
OFFICIAL_TEXT = (
    "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc\n"
    "Số: 588/BTTTT-THH\nV/v bảo đảm an toàn thông tin\nMẬT\nKính gửi: Các cơ quan\n"
    "Nơi nhận:\n- Như trên;\n- Lưu: VT.\n"
)


def check_json(tmp_path: Path, raw: bytes, *args: str) -> dict[str, object]:
    """Run ``govmilter check --json`` on ``raw`` in-process and return the parsed verdict."""
    import contextlib
    import io

    path = tmp_path / "message.eml"
    path.write_bytes(raw)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["check", "--json", str(path), *args])
    assert code == 0, f"govmilter check exited {code}"
    result = json.loads(out.getvalue())
    assert isinstance(result, dict)
    return result


def check_process(path: Path) -> tuple[dict[str, object], float]:
    """``govmilter check --json --no-dns`` on the message at ``path`` in a new process (the
    default policy): its verdict and the CPU seconds the process spent, interpreter start
    included. CPU time, not the wall clock: on a shared machine a process may wait for a core
    longer than it runs."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(
        [sys.executable, "-m", "govmilter", "check", str(path), "--json", "--no-dns"],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert result.returncode == 0, result.stderr
    verdict = json.loads(result.stdout)
    assert isinstance(verdict, dict)
    return verdict, cpu


# ---- attachments ----------------------------------------------------------------------------

#: A guard, not a benchmark: the default policy's scan budget plus generous slack for a loaded
#: machine.
TIME_BOUND = Limits().max_seconds + 20
#: The default policy's (rule, action) for mail from an official mailbox to Gmail, by document.
UNSCANNABLE = ("unscannable-to-freemail", "tag")
SECRET = ("secret-to-freemail", "reject")
OFFICIAL = ("document-to-freemail", "tag")
NONE = ("default-accept", "accept")


def verdict_of(tmp_path: Path, data: bytes, filename: str,
               content_type: str = "application/octet-stream") -> dict[str, object]:
    """``govmilter check --json`` (default policy) on a message from an official mailbox to
    Gmail with ``data`` attached, within the time bound."""
    start = time.monotonic()
    verdict = check_json(tmp_path, with_attachment(data, filename, content_type))
    assert time.monotonic() - start < TIME_BOUND
    return verdict


def rule_action(verdict: dict[str, object]) -> tuple[str, str]:
    """The (rule, action) for the verdict's first recipient."""
    recipient = verdict["recipients"][0]  # type: ignore[index]
    return recipient["rule"], recipient["action"]


def with_attachment(data: bytes, filename: str, content_type: str = "application/octet-stream",
                    subject: str = "tai lieu", text: bytes = b"Gui anh tai lieu.\r\n",
                    sender: str = "vanthu@mic.gov.vn", to: str = "b@gmail.com") -> bytes:
    """A message with a short text part and ``data`` as a base64 attachment."""
    body = base64.encodebytes(data).replace(b"\n", CRLF)
    part = (f"Content-Type: {content_type}\r\nContent-Transfer-Encoding: base64\r\n"
            f'Content-Disposition: attachment; filename="{filename}"\r\n\r\n').encode() + body
    return multipart([b"Content-Type: text/plain\r\n\r\n" + text, part],
                     headers=[("From", sender), ("To", to), ("Subject", subject)])


def zip_archive(files: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A plain ZIP of ``files`` (deflated unless told otherwise)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def zip_bomb(expanded: int, name: str = "huge.txt", head: bytes = b"", tail: bytes = b"",
             extra: dict[str, bytes] | None = None) -> bytes:
    """A ZIP whose entry ``name`` inflates to about ``expanded`` bytes (``head``, then ``a``s,
    then ``tail``), written in 1 MiB pieces so the expansion is never held in memory."""
    buffer = io.BytesIO()
    piece = b"a" * (1 << 20)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for other, data in (extra or {}).items():
            archive.writestr(other, data)
        with archive.open(name, "w", force_zip64=expanded > 0x7FFFFFFF) as entry:
            entry.write(head)
            for _ in range(expanded // len(piece)):
                entry.write(piece)
            entry.write(tail)
    return buffer.getvalue()


DOCX_TYPES = (b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/'
              b'2006/content-types"><Override PartName="/word/document.xml" ContentType="'
              b'application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+'
              b'xml"/></Types>')


def docx_document(xml: bytes) -> bytes:
    """A DOCX whose ``word/document.xml`` is ``xml``, stored uncompressed: however repetitive
    the XML, the part stays within ``max_zip_ratio`` and is read in full."""
    return zip_archive({"[Content_Types].xml": DOCX_TYPES, "word/document.xml": xml},
                       zipfile.ZIP_STORED)


ODT_MIMETYPE = b"application/vnd.oasis.opendocument.text"


def odt_document(xml: bytes) -> bytes:
    """An ODT whose ``content.xml`` is ``xml``, stored uncompressed (see :func:`docx_document`)."""
    return zip_archive({"mimetype": ODT_MIMETYPE, "content.xml": xml}, zipfile.ZIP_STORED)


def edxml_package(body: bytes) -> bytes:
    """An edXML package (QCVN 102:2016 namespace) holding ``body``."""
    return (b'<?xml version="1.0" encoding="UTF-8"?>\n'
            b'<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016">' + body + b"</edXML>")


def docx_bomb(expanded: int) -> bytes:
    """A DOCX whose ``word/document.xml`` inflates to about ``expanded`` bytes of one run."""
    return zip_bomb(expanded, "word/document.xml",
                    head=b'<w:document xmlns:w="x"><w:body><w:p><w:r><w:t>',
                    tail=b"</w:t></w:r></w:p></w:body></w:document>",
                    extra={"[Content_Types].xml": DOCX_TYPES})


def docx_many_entries(count: int) -> bytes:
    """A DOCX (it has ``word/document.xml``) with ``count`` more, empty, entries."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("[Content_Types].xml", DOCX_TYPES)
        archive.writestr("word/document.xml", b"<w:document/>")
        for index in range(count):
            archive.writestr(f"word/media/i{index}.png", b"")
    return buffer.getvalue()


def docx_many_parts(parts: int, part_bytes: int = 10 * 1024 * 1024) -> bytes:
    """A DOCX of ``parts`` header parts of ``part_bytes`` each, every one within an 100:1
    expansion ratio (a letter of noise every 200 bytes keeps deflate near 83:1)."""
    rng = random.Random(8)
    text = bytearray(b"a" * part_bytes)
    for index in range(0, part_bytes, 200):
        text[index] = rng.randrange(98, 122)
    xml = b"<w:p><w:r><w:t>" + bytes(text) + b"</w:t></w:r></w:p>"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", DOCX_TYPES)
        archive.writestr("word/document.xml", xml)
        for index in range(1, parts):
            archive.writestr(f"word/header{index}.xml", xml)
    return buffer.getvalue()


def zip_with_lying_size(zipped: bytes, declared: int, crc: int | None = None) -> bytes:
    """``zipped`` (a one-entry ZIP) with headers saying the entry inflates to ``declared`` bytes,
    and, given ``crc``, that CRC (of the first ``declared`` bytes, say: then a reader that stops
    at the declared size finds nothing wrong, while ``unzip`` inflates the whole stream)."""
    data = bytearray(zipped)
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    for offset in (local + 22, central + 24):  # uncompressed size
        struct.pack_into("<I", data, offset, declared)
    if crc is not None:
        for offset in (local + 14, central + 16):
            struct.pack_into("<I", data, offset, crc)
    return bytes(data)


class _ZipCrypto:
    """The traditional PKWARE stream cipher (APPNOTE 6.1), encrypting side."""

    def __init__(self, password: bytes) -> None:
        self.keys = [0x12345678, 0x23456789, 0x34567890]
        for byte in password:
            self._update(byte)

    @staticmethod
    def _crc(value: int, byte: int) -> int:
        return zlib.crc32(bytes([byte]), value ^ 0xFFFFFFFF) ^ 0xFFFFFFFF

    def _update(self, byte: int) -> None:
        keys = self.keys
        keys[0] = self._crc(keys[0], byte)
        keys[1] = ((keys[1] + (keys[0] & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
        keys[2] = self._crc(keys[2], keys[1] >> 24)

    def encrypt(self, plain: bytes) -> bytes:
        out = bytearray()
        for byte in plain:
            temp = (self.keys[2] | 2) & 0xFFFF
            out.append(byte ^ (((temp * (temp ^ 1)) >> 8) & 0xFF))
            self._update(byte)
        return bytes(out)


def zipcrypto(name: str, data: bytes, password: bytes) -> bytes:
    """A real password-protected ZIP (traditional PKWARE encryption, stored) of one file:
    ``zipfile`` reads it back with the password, and only with it."""
    cipher = _ZipCrypto(password)
    crc = zlib.crc32(data)
    sealed = cipher.encrypt(bytes(random.Random(1).randrange(256) for _ in range(11))
                            + bytes([crc >> 24]) + data)
    raw_name = name.encode()
    # version 20, flag bit 0 (encrypted), stored, no time, crc, sizes, name length, no extra
    fields = struct.pack("<HHHHHIIIHH", 20, 1, 0, 0, 0, crc, len(sealed), len(data),
                         len(raw_name), 0)
    local = b"PK\x03\x04" + fields + raw_name + sealed
    central = (b"PK\x01\x02" + struct.pack("<H", 20) + fields
               + struct.pack("<HHHII", 0, 0, 0, 0, 0) + raw_name)
    end = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 1, 1, len(central), len(local), 0)
    return local + central + end


def nested_zip(depth: int, leaf: dict[str, bytes]) -> bytes:
    """``leaf`` zipped, then that archive zipped again, ``depth`` times in all."""
    data = zip_archive(leaf)
    for level in range(1, depth):
        data = zip_archive({f"level{level}.zip": data})
    return data


def pdf_from_objects(objects: list[bytes], prev: str | None = None) -> bytes:
    """A PDF with ``objects`` as objects 1, 2, ... (1 is the catalog), a correct xref table,
    and ``prev``: ``"self"`` makes the trailer's ``/Prev`` point at its own xref section."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    extra = b" /Prev %d" % xref if prev == "self" else b""
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, extra, xref)
    return bytes(out)


PDF_TEXT = b"BT /F1 12 Tf 72 700 Td (So: 588/BTTTT-THH) Tj ET"
PDF_CONTENT = b"<< /Length %d >>\nstream\n%s\nendstream" % (len(PDF_TEXT), PDF_TEXT)
PDF_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def pdf_page(parent: int, contents: int = 4, font: int = 5) -> bytes:
    """A page dictionary with the given parent, content stream and font objects."""
    return (b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (parent, contents, font))


def looping_pdf() -> bytes:
    """A PDF whose page tree loops: the /Pages object lists itself among its /Kids."""
    return pdf_from_objects([b"<< /Type /Catalog /Pages 2 0 R >>",
                             b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
                             pdf_page(2), PDF_CONTENT, PDF_FONT])


def page_tree_dag(levels: int) -> bytes:
    """A PDF of ``levels + 4`` objects whose page tree has 2**levels pages: every /Pages node
    lists the next one twice, and the last lists the one page twice."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    page = levels + 2
    for node in range(2, levels + 2):
        kid = node + 1 if node < levels + 1 else page
        objects.append(b"<< /Type /Pages /Kids [%d 0 R %d 0 R] /Count %d >>"
                       % (kid, kid, 2 ** (levels + 2 - node)))
    objects += [pdf_page(levels + 1, page + 1, page + 2), PDF_CONTENT, PDF_FONT]
    return pdf_from_objects(objects)


def _pdf_stream(data: bytes, dictionary: bytes = b"") -> bytes:
    packed = zlib.compress(data)
    return b"<< /Length %d /Filter /FlateDecode %s>>\nstream\n%s\nendstream" % (
        len(packed), dictionary, packed)


#: /F2 is Helvetica whose codes ``A`` and ``B`` read U+1EAC (Ậ) and U+1EA8 (Ẩ): ``(MAT) Tj``
#: in it draws MẬT, ``(KHBU) Tj`` KHẨU.
_MARKING_CMAP = (b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /M def"
                 b" 1 begincodespacerange <00> <FF> endcodespacerange 2 beginbfchar <41> <1EAC>"
                 b" <42> <1EA8> endbfchar endcmap CMapName currentdict /CMap defineresource pop"
                 b" end end")
PDF_MARKING = b"BT /F2 12 Tf 72 770 Td (MAT) Tj ET\n"
_PAGE_WORDS = (b"van", b"ban", b"so", b"ngay", b"thang", b"nam", b"kinh", b"gui", b"bo", b"cong")
#: The ways a hostile sender lays ``n`` words out on one page (see :func:`crowded_page`).
PAGE_LAYOUTS = ("text objects", "scattered", "overlapping", "tiny fonts", "one text block",
                "invisible", "white over boxes", "one TJ array", "nested forms",
                "a form per word")


def crowded_page(layout: str, count: int, marking: bytes = PDF_MARKING, seed: int = 1,
                 before: bytes = b"") -> bytes:
    """A one-page PDF of ``count`` words laid out as a hostile sender would, and ``marking``
    (MẬT on a line of its own above them unless told otherwise) drawn after them, where padding
    before a marking puts it; ``before`` is drawn before them.

    ``text objects``: a ``BT .. Tj ET`` per word, in lines; ``scattered``: each at a random
    place; ``overlapping``: all within 3 points; ``tiny fonts``: 0.3 to 1.5 points, scattered;
    ``one text block``: one ``BT``, a ``Td`` per word; ``invisible``: text objects in render
    mode 3; ``white over boxes``: every other word white, every third over a dark box; ``one TJ
    array``: one array of all the words, kerned apart; ``nested forms``: form XObjects of 16
    words each inside one another, ``count / 16`` deep; ``a form per word``: a form XObject
    drawn once per word.
    """
    rng = random.Random(seed)
    ops: list[bytes] = []
    forms: list[bytes] = []

    def word(index: int) -> bytes:
        return _PAGE_WORDS[index % len(_PAGE_WORDS)]

    def place(index: int) -> tuple[float, float]:
        return 20 + (index % 10) * 55, 740 - (index // 10) % 70 * 10

    for index in range(count if layout not in ("one TJ array", "nested forms") else 0):
        x, y = place(index)
        show = b"BT /F1 8 Tf %.1f %.1f Td (%s) Tj ET\n"
        if layout == "text objects":
            ops.append(show % (x, y, word(index)))
        elif layout in ("scattered", "tiny fonts"):
            size = rng.uniform(0.3, 1.5) if layout == "tiny fonts" else 8
            ops.append(b"BT /F1 %.2f Tf %.1f %.1f Td (%s) Tj ET\n" % (
                size, rng.uniform(0, 580), rng.uniform(0, 740), word(index)))
        elif layout == "overlapping":
            ops.append(show % (100 + rng.uniform(0, 3), 400 + rng.uniform(0, 3), word(index)))
        elif layout == "one text block":
            ops.append(b"%s (%s) Tj\n" % (b"55 0 Td" if index % 10 else b"-495 -10 Td",
                                          word(index)))
        elif layout == "invisible":
            ops.append(b"3 Tr " + show % (x, y, word(index)))
        elif layout == "white over boxes":
            if index % 3 == 0:
                ops.append(b"0 g %.1f %.1f 40 9 re f\n" % (x - 1, y - 2))
            ops.append((b"1 g " if index % 2 else b"0 g ") + show % (x, y, word(index)))
        elif layout == "a form per word":
            forms.append(b"BT /F1 8 Tf 0 0 Td (%s) Tj ET\n" % word(index))
            ops.append(b"q 1 0 0 1 %.1f %.1f cm /X%d Do Q\n" % (x, y, index))
        else:
            raise ValueError(layout)
    if layout == "one text block":
        ops = [b"BT /F1 8 Tf 515 740 Td\n", *ops, b"ET\n"]
    elif layout == "one TJ array":
        kerns = (300, 3000, -20000)
        ops = [b"BT /F1 8 Tf 20 700 Td [", *(b"(%s) %d " % (word(i), -rng.choice(kerns))
                                              for i in range(count)), b"] TJ ET\n"]
    elif layout == "nested forms":
        depth = max(1, count // 16)
        for level in range(depth):
            body = b"".join(b"BT /F1 8 Tf %d %d Td (%s) Tj ET\n" % (
                20 + j % 8 * 60, 700 - j // 8 * 10 - level % 60 * 10, word(j)) for j in range(16))
            forms.append(body + (b"q 1 0 0 1 0.1 0 cm /X%d Do Q\n" % (level + 1)
                                 if level + 1 < depth else b""))
        ops = [b"/X0 Do\n"]
    # 1 catalog, 2 pages, 3 page, 4 contents, 5 and 6 fonts, 7 CMap, 8 resources, 9... forms
    xobjects = b" ".join(b"/X%d %d 0 R" % (index, 9 + index) for index in range(len(forms)))
    resources = b"<< /Font << /F1 5 0 R /F2 6 0 R >> /XObject << %s >> >>" % xobjects
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
               b" /Resources 8 0 R >>",
               _pdf_stream(b"0 Tr 0 g ".join([before, b"".join(ops), marking])),
               PDF_FONT, b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 7 0 R >>",
               _pdf_stream(_MARKING_CMAP), resources]
    objects += [_pdf_stream(body, b"/Type /XObject /Subtype /Form /BBox [-1000 -1000 2000 2000]"
                                  b" /Resources 8 0 R ") for body in forms]
    return pdf_from_objects(objects)


#: (id, raw From value) pairs where the real mailbox is NOT official. Sources: Mailsploit
#: payloads (FingerLeakers/Mailsploit), CVE-2023-27043 (python/cpython#102988), classic spoofs.
SPOOFED_FROM: list[tuple[str, str | bytes]] = [
    ("quoted display name with address", '"vanthu@mic.gov.vn" <attacker@gmail.com>'),
    ("unquoted display name with address", "vanthu@mic.gov.vn <attacker@gmail.com>"),
    ("mailsploit NUL in display name",
     encoded_word("vanthu@mic.gov.vn\x00") + " <attacker@gmail.com>"),
    ("mailsploit LF in display name",
     encoded_word("vanthu@mic.gov.vn\n") + " <attacker@gmail.com>"),
    ("mailsploit q-encoded =40 and =00", "=?utf-8?q?vanthu=40mic.gov.vn=00?= <attacker@gmail.com>"),
    ("mailsploit encoded local part",
     encoded_word("vanthu@mic.gov.vn\x00") + "=?utf-8?Q?=00?=@gmail.com"),
    ("mailsploit encoded local part with >",
     encoded_word("vanthu@mic.gov.vn>") + "@gmail.com"),
    ("cve-2023-27043 paren", "vanthu@mic.gov.vn)<attacker@gmail.com>"),
    ("cve-2023-27043 unclosed", "vanthu@mic.gov.vn)<attacker@gmail.com"),
    ("cve-2023-27043 list", "vanthu@mic.gov.vn, attacker@gmail.com"),
    ("cve-2023-27043 angle list", "Boss <vanthu@mic.gov.vn>, attacker@gmail.com"),
    ("double at", "attacker@gmail.com@mic.gov.vn"),
    ("double at in angle", "<vanthu@mic.gov.vn@gmail.com>"),
    ("quoted local part with at", '"vanthu@mic.gov.vn"@gmail.com'),
    ("comment with address", "attacker@gmail.com (vanthu@mic.gov.vn)"),
    ("source route", "<@relay.mic.gov.vn:attacker@gmail.com>"),
    ("NUL between addresses", "attacker@gmail.com\x00@mic.gov.vn"),
    ("lookalike suffix", "vanthu@mic.gov.vn.gmail.com"),
    ("suffix without label boundary", "vanthu@evilgov.vn"),
    ("invalid UTF-8 in domain", b"vanthu@mic.gov.vn\xff\xfe"),
    ("8-bit display name, freemail mailbox", b"\xc4\x90\xe1\xbb\x97 V\xc4\x83n <a@gmail.com>"),
    ("invalid UTF-8 display name", b"\xff\xfe\xfd <attacker@gmail.com>"),
    ("group with a freemail member", "Ban: vanthu@mic.gov.vn, attacker@gmail.com;"),
    ("IDN homograph", "vanthu@mіc.gov.vn.com"),  # Cyrillic і, not under gov.vn
]
