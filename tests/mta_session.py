"""The MTA side of the milter protocol, as Postfix holds it: one connection, transactions on it.

Built on the independent pure-Python ``miltertest`` client (flowerysong/miltertest), shared by
the tests that drive the running daemon over its socket.
"""

from __future__ import annotations

import socket
import struct
from pathlib import Path
from typing import Any

import miltertest as mt

Reply = tuple[str, dict[str, Any]]
DISPOSITIONS = {mt.SMFIR_ACCEPT, mt.SMFIR_CONTINUE, mt.SMFIR_DISCARD, mt.SMFIR_REJECT,
                mt.SMFIR_TEMPFAIL, mt.SMFIR_REPLYCODE}


def header_fields(head: bytes) -> list[tuple[str, str]]:
    """The header fields of a CRLF message head, each with its folded lines, as Postfix sends
    them (the value without the space after the colon)."""
    fields: list[list[str]] = []
    for line in head.decode("utf-8").split("\r\n"):
        if line[:1] in (" ", "\t") and fields:
            fields[-1][1] += "\r\n" + line
        else:
            name, _, value = line.partition(":")
            fields.append([name, value.lstrip(" ")])
    return [(name, value) for name, value in fields]


class MtaSession:
    """One MTA connection to the milter, as Postfix would hold it."""

    def __init__(self, path: Path, service: str = "smtpd") -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(15)
        sock.connect(str(path))
        self.conn = mt.MilterConnection(sock)
        self.conn.optneg_mta()
        self.sock = sock
        self.conn.send_macro(mt.SMFIC_CONNECT, **{"{daemon_name}": service, "j": "mx.test"})
        if not self._skipped(mt.SMFIP_NOCONNECT):
            assert self.conn.send_ar(mt.SMFIC_CONNECT, hostname="client.example",
                                     family=mt.SMFIA_INET, port=4711,
                                     address="192.0.2.1")[0] == mt.SMFIR_CONTINUE

    def _skipped(self, flag: int) -> bool:
        return bool(self.conn.protocol_flags & flag)

    def message(self, sender: str, rcpts: list[str], raw: bytes, queue_id: str
                ) -> tuple[list[Reply], list[Reply]]:
        """One transaction: returns the RCPT replies and the end-of-message actions."""
        assert self.conn.send_ar(mt.SMFIC_MAIL, args=[f"<{sender}>"])[0] == mt.SMFIR_CONTINUE
        rcpt_replies = []
        for rcpt in rcpts:
            self.conn.send_macro(mt.SMFIC_RCPT, i=queue_id)
            rcpt_replies.append(self.conn.send_ar(mt.SMFIC_RCPT, args=[f"<{rcpt}>"]))
        if all(reply[0] != mt.SMFIR_CONTINUE for reply in rcpt_replies):
            self.conn._send(mt.SMFIC_ABORT)  # as Postfix does when no recipient is left
            return rcpt_replies, []
        self.conn.send_macro(mt.SMFIC_DATA, i=queue_id)
        assert self.conn.send_ar(mt.SMFIC_DATA)[0] == mt.SMFIR_CONTINUE
        # Postfix sends lines with CRLF, header fields unfolded from the raw text, the body as is
        crlf = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        head, _, body = crlf.partition(b"\r\n\r\n")
        self.content(header_fields(head), body)
        self.conn.send_macro(mt.SMFIC_BODYEOB, i=queue_id)
        eom = self.conn.send_eom()
        # this client takes QUARANTINE for a final answer; in the protocol (and in Postfix) it
        # is a modification, followed by more modifications and the real answer
        while eom[-1][0] == mt.SMFIR_QUARANTINE:
            eom.append(self.conn.recv())
            while eom[-1][0] not in DISPOSITIONS:
                eom.append(self.conn.recv())
        return rcpt_replies, eom

    def content(self, headers: list[tuple[str, str]], body: bytes) -> None:
        """Headers, end of headers and the body in chunks, as Postfix sends them after DATA."""
        for name, value in headers:
            self._event(mt.SMFIC_HEADER, mt.SMFIP_NR_HDR, name=name, value=value)
        self._event(mt.SMFIC_EOH, mt.SMFIP_NR_EOH)
        for start in range(0, len(body), mt.MILTER_CHUNK_SIZE):
            self._body(body[start:start + mt.MILTER_CHUNK_SIZE])

    def _body(self, chunk: bytes) -> None:
        # miltertest sends a str body UTF-8 encoded; Postfix sends the bytes as they are
        self.sock.sendall(struct.pack("!I", len(chunk) + 1) + mt.SMFIC_BODY.encode() + chunk)
        if not self._skipped(mt.SMFIP_NR_BODY):
            assert self.conn.recv()[0] == mt.SMFIR_CONTINUE

    def _event(self, command: str, no_reply: int, **args: Any) -> None:
        """Send one event; wait for its reply unless the milter negotiated none (as Postfix)."""
        if self._skipped(no_reply):
            self.conn._send(command, **args)
        else:
            assert self.conn.send_ar(command, **args)[0] == mt.SMFIR_CONTINUE

    def close(self) -> None:
        self.conn._send(mt.SMFIC_QUIT)
        self.sock.close()
