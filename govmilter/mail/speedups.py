"""The mail layer's uses of the standard library's email internals, kept for speed.

Each is pinned by a test in ``tests/mail/test_mail_speedups.py`` that fails when the stdlib changes
under it (the daemon's own, on pymilter, prometheus_client and logging, are
:mod:`govmilter.server.speedups`):

- :func:`parse_collapsed`: the parser is handed each base64 run as one token line and the run is
  put back into the parsed texts afterwards (``Message._payload``, ``preamble``, ``epilogue``), so
  that it does not split a large attachment line by line, most of the time its parse costs;
- :func:`stdlib_decoded_payload`: base64 bodies decoded as ``email._encoded_words.decode_b``, the
  decoder ``get_payload(decode=True)`` uses, decodes them, without the list of lines it makes
  first; a body that is strict base64 once CR and LF are taken out is decoded by pybase64's
  SIMD decoder instead (:func:`strict_base64_decoded`), where the stdlib's decoder would give
  the same bytes and no defect; a body that is one collapsed run (and line ends) is not decoded
  again at all: the run search decoded it already (:class:`DecodedRun`).
"""

from __future__ import annotations

import binascii
import email.message
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email import _encoded_words  # type: ignore[attr-defined]  # the stdlib's own decoder

#: pybase64's strict decoder (alphabet only, padding only at the end), or None without it: a
#: dependency, but the scan does not need it (the stdlib's decoder then decodes every body).
STRICT_DECODER: Callable[[bytes], bytes] | None
try:
    import pybase64
    STRICT_DECODER = functools.partial(pybase64.b64decode, validate=True)
except ImportError:
    STRICT_DECODER = None

#: A run's bytes decoded block by block, by (start, end) of the run (see :class:`DecodedRun`).
DecodedRuns = Mapping[tuple[int, int], tuple[bytes, ...]]

#: Parses bytes into a message tree (:func:`govmilter.mail.message.parse_message`'s feeder).
Feed = Callable[[bytes | memoryview], email.message.Message]

#: A run is handed to the parser as one line of this prefix and the run's number: a line of the
#: same kind, so the parser builds the same tree around it.
_RUN_PREFIX = "GovmilterCollapsedBase64Run"
_RUN_TOKEN_RE = re.compile(_RUN_PREFIX + r"([0-9]{8})")


def _holds(data: memoryview, needle: bytes, block: int = 1 << 20) -> bool:
    """Whether ``needle`` occurs in ``data``, searched in overlapping blocks (bounded copies)."""
    return any(needle in data[start:start + block + len(needle) - 1].tobytes()
               for start in range(0, len(data), block))


@dataclass(frozen=True, slots=True)
class DecodedRun:
    """A part's body that is one base64 run and nothing after it but CR and LF (``text``, the
    very string the parse put into the part), and the run as the run search decoded it, block
    by block (``blocks``). Kept on the part (:data:`DECODED_RUN_ATTRIBUTE`) by
    :func:`parse_collapsed`.

    Only from a run whose blocks were each a multiple of 4 characters that
    :func:`strict_decoded` accepted, padding in the last one only: then the whole body, CR and
    LF deleted, is such text too, and :func:`strict_base64_decoded` gives the blocks joined.
    """

    text: str
    blocks: tuple[bytes, ...]


#: The part's attribute that holds its :class:`DecodedRun`; used only while the part's
#: ``_payload`` is still that run's ``text`` (the same object).
DECODED_RUN_ATTRIBUTE = "_govmilter_decoded_run"


def parse_collapsed(data: memoryview, found: list[tuple[int, int]], feed: Feed,
                    decoded: DecodedRuns | None = None) -> email.message.Message:
    """Parse ``data`` as ``feed`` would, without making the parser split its base64 runs.

    ``found``: (start, end) of each run, its lines only base64 characters, each with its line
    end. Each run becomes one token line (keeping the run's last line end, which the parser may
    strip before a boundary) and is put back into the parsed texts. Unless every token is found
    exactly once in a part's body, preamble or epilogue (and in no header), ``data`` is parsed as
    is. ``decoded``: the blocks some runs decode to; a part whose body is one of those runs and
    line ends keeps them (:class:`DecodedRun`).
    """
    runs: list[tuple[int, int]] = []  # run start, end of its last line's text
    pieces: list[bytes | memoryview] = []
    done = 0
    for start, end in found:
        text_end = end - (2 if data[end - 2:end].tobytes() == b"\r\n" else 1)
        pieces += (data[done:start], b"%s%08d" % (_RUN_PREFIX.encode(), len(runs)),
                   data[text_end:end])
        runs.append((start, text_end))
        done = end
    if not runs:
        return feed(data)
    pieces.append(data[done:])
    # crafted to hold the prefix where the parser sees it (outside the runs, which it never
    # sees and which are put back whole): tokens would be ambiguous
    if any(_holds(memoryview(piece), _RUN_PREFIX.encode()) for piece in pieces[::3]):
        return feed(data)
    message = feed(b"".join(pieces))
    blocks = [(decoded or {}).get(run) for run in found]
    if not _restore_runs(message, data, runs, blocks):
        return feed(data)
    return message


def _restore_runs(message: email.message.Message, data: memoryview,
                  runs: list[tuple[int, int]], blocks: list[tuple[bytes, ...] | None]) -> bool:
    """Put the collapsed runs back into every text of the parsed tree; True when each token was
    found exactly once, in a body, preamble or epilogue, and none in a header. ``blocks``: each
    run's decoded blocks, or None."""
    seen = [0] * len(runs)

    def restore(match: re.Match[str]) -> str:
        index = int(match.group(1))
        if index >= len(runs):
            return match.group()  # left in place, so the count below fails
        seen[index] += 1
        start, end = runs[index]
        return str(data[start:end], "ascii")  # decoded from the view: no bytes copy

    def restore_body(part: email.message.Message, value: str) -> str:
        # a body that is one token and line ends keeps its run's decoded blocks
        body = _RUN_TOKEN_RE.sub(restore, value)
        token = _RUN_TOKEN_RE.fullmatch(value.rstrip("\r\n"))
        run_blocks = blocks[int(token.group(1))] if token and int(token.group(1)) < len(runs) \
            else None
        if run_blocks is not None:
            setattr(part, DECODED_RUN_ATTRIBUTE, DecodedRun(body, run_blocks))
        return body

    stack = [message]
    while stack:
        part = stack.pop()
        if any(_RUN_PREFIX in str(value) for _, value in part.raw_items()):
            return False
        for attribute in ("_payload", "preamble", "epilogue"):
            value = getattr(part, attribute, None)
            if isinstance(value, str) and _RUN_PREFIX in value:
                setattr(part, attribute, restore_body(part, value) if attribute == "_payload"
                        else _RUN_TOKEN_RE.sub(restore, value))
            elif isinstance(value, list):
                stack.extend(child for child in value if isinstance(child, email.message.Message))
    return all(count == 1 for count in seen)


def stdlib_decoded_payload(part: email.message.Message) -> object:
    """``part.get_payload(decode=True)``, with base64 ASCII bodies decoded as it does (same
    decoder, same defects) but without splitting them into a list of lines first: deleting CR
    and LF gives the same bytes as joining ``bytes.splitlines()``, without the list. A body
    that is one run the run search decoded (:class:`DecodedRun`) is not decoded again."""
    # the body as parsed: get_payload() would first decode an 8-bit body with its charset
    payload = getattr(part, "_payload", None)
    if isinstance(payload, str) and payload.isascii() and \
            str(part.get("content-transfer-encoding", "")).lower() == "base64":
        kept = getattr(part, DECODED_RUN_ATTRIBUTE, None)
        if isinstance(kept, DecodedRun) and kept.text is payload:
            return b"".join(kept.blocks)
        body = payload.encode("ascii")
        strict = strict_base64_decoded(body)
        if strict is not None:
            return strict
        decoded, defects = _encoded_words.decode_b(body.translate(None, b"\r\n"))
        for defect in defects:
            part.policy.handle_defect(part, defect)
        return decoded
    return part.get_payload(decode=True)


def strict_base64_decoded(body: bytes) -> bytes | None:
    """``body`` decoded by pybase64 when that is provably what ``decode_b`` gives for it once
    CR and LF are deleted, with no defect; None otherwise (and without pybase64).

    CR and LF are deleted as the stdlib deletes them, by two single-byte ``replace`` (which
    jump from one byte found to the next; a deleting ``translate``, or a ``replace`` of CRLF,
    looks at every byte). What is left must be a multiple of 4 characters (else ``decode_b``
    pads it and records a defect) that pybase64 accepts in strict mode (alphabet only, padding
    only at the end): then the stdlib's strict decode, the first one ``decode_b`` tries,
    accepts it too and gives the same bytes (pinned by ``tests/mail/test_mail_speedups.py``
    over hostile bodies). Anything else, from a stray character to padding mid-stream, goes to
    the stdlib's decoder, so no odd body decodes differently.
    """
    return strict_decoded(body.replace(b"\r", b"").replace(b"\n", b""))


def strict_decoded(compact: bytes) -> bytes | None:
    """``compact`` (base64 text without CR and LF) decoded by pybase64 where ``decode_b`` gives
    the same bytes and no defect (see :func:`strict_base64_decoded`), else None."""
    if STRICT_DECODER is None or len(compact) % 4:
        return None
    try:
        return STRICT_DECODER(compact)
    except (binascii.Error, ValueError):
        return None
