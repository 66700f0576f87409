"""Builders of hostile and malformed messages, shared by the hostile-input tests and the fuzzer.

Each builder returns the raw bytes a gateway could receive; nothing here is a test by itself.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from govmilter.cli import main

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
