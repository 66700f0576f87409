"""Turning raw message bytes into the content the document detector reads, within limits.

Pure and defensive: malformed MIME never raises out of :func:`parse_message`; what could not be
read is recorded in ``unscannable`` (with the reason) so that the policy can decide about it.

The standard library's parser is the one MIME reader, but it is not bounded by itself: it recurses
once per nesting level (1,000 levels raise ``RecursionError``) and tests every line against every
open boundary (lines × depth). :func:`prepare_for_parser` therefore caps what it is handed: bytes,
lines, and ``multipart``/``message`` sections. Every hand-written scanner here is linear.
"""

from __future__ import annotations

import binascii
import email
import email.errors
import email.header
import email.message
import email.policy
import quopri
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.feedparser import BytesFeedParser

from govmilter.mail.addresses import Address, read_address_header
from govmilter.mail.forwarding import NO_TRACES, ForwardTraces, read_forward_traces
from govmilter.mail.htmltext import html_to_text
from govmilter.mail.limits import Limits, MessageBudget
from govmilter.mail.speedups import (
    DecodedRuns,
    parse_collapsed,
    stdlib_decoded_payload,
    strict_decoded,
)
from govmilter.mail.text import decode_header_value, decode_text

#: ``multipart/*`` and ``message/*`` sections the parser may see (so nesting is at most this
#: deep); later ones are handed over as opaque parts and reported unscannable. Measured: 1,000
#: nested sections make the stdlib parser raise RecursionError.
MAX_CONTAINERS = 64
#: Lines the parser may see: its cost is lines × open boundaries. 600,000 lines hold a 40 MB
#: base64 message, so only crafted mail (millions of empty lines) reaches it.
MAX_PARSE_LINES = 600_000
#: MIME parts the parser may see. Its cost grows with every part (figures: docs/security.md), and
#: a message that needs more than this is crafted: the walk reads at most ``max_attachments``
#: attachments and ``max_scan_bytes`` of text anyway.
MAX_PARTS = 10_000
#: Longest Subject read; detection regular expressions run over it.
MAX_HEADER_CHARS = 64 * 1024
#: Bytes fed to the parser at a time: fed the whole message at once, the stdlib holds it three
#: times over (figures: docs/security.md).
FEED_CHUNK = 1 << 20
#: Prefix given to the content type of sections past :data:`MAX_CONTAINERS`.
CAPPED_TYPE_PREFIX = b"x-govmilter-capped-"
_CONTAINER_RE = re.compile(rb"(?i)(multipart|message)/")
_NOT_BASE64_RE = re.compile(rb"[^A-Za-z0-9+/]+")
_PGP_MESSAGE = "-----BEGIN PGP MESSAGE-----"
_ENCRYPTED_TYPES = frozenset({"multipart/encrypted", "application/pgp-encrypted"})
_SMIME_TYPES = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime"})
#: Sections whose content is elsewhere: another message (partial) or a URL (external-body).
_ELSEWHERE_TYPES = frozenset({"message/partial", "message/external-body"})
_SIGNATURE_TYPES = frozenset({
    "application/pkcs7-signature", "application/x-pkcs7-signature", "application/pgp-signature",
})


@dataclass(frozen=True, slots=True)
class TextPart:
    """Decoded text from one place in the message; ``source`` says where (``body:html``)."""

    source: str
    text: str


@dataclass(frozen=True, slots=True)
class Attachment:
    """A non-text part: its decoded bytes (possibly cut at the per-attachment limit)."""

    filename: str | None
    content_type: str
    data: bytes
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class MessageContent:
    """What :func:`parse_message` read: headers the detector uses, texts and attachments.

    ``header_from`` holds every mailbox of every From field (a header trick may offer several);
    ``notes`` say what was odd about the headers, without naming addresses or content.
    """

    subject: str
    header_from: tuple[str, ...]
    header_to: tuple[str, ...]
    texts: tuple[TextPart, ...]
    attachments: tuple[Attachment, ...]
    unscannable: tuple[str, ...]
    size: int
    notes: tuple[str, ...] = ()
    forward: ForwardTraces = NO_TRACES  #: the traces of an earlier delivery or redirect

    @property
    def scanned_bytes(self) -> int:
        """How many decoded bytes of text and attachments were kept for scanning."""
        return sum(len(t.text) for t in self.texts) + sum(len(a.data) for a in self.attachments)


def part_filename(part: email.message.Message) -> str | None:
    """The part's file name, RFC 2231 and RFC 2047 decoded, or None.

    Clients also send the name as raw 8-bit bytes, not encoded (RFC 6532 allows UTF-8), which
    the parser would turn into U+FFFD: those headers are read as UTF-8 when they are, else as
    Windows-1258, before the name is taken from them.
    """
    try:
        name = _eight_bit_headers_read(part).get_filename()
    except (ValueError, LookupError, UnicodeError, AttributeError, TypeError):
        return None
    return decode_header_value(name)[:MAX_HEADER_CHARS] if name else None


def _eight_bit_headers_read(part: email.message.Message) -> email.message.Message:
    """``part``, or a stand-in holding its two headers that name a file, their raw 8-bit bytes
    decoded (see :func:`part_filename`)."""
    raw = [(k, str(v)) for k, v in part.raw_items()
           if k.lower() in ("content-disposition", "content-type")]
    if all(value.isascii() for _, value in raw):
        return part
    stand_in = email.message.Message()
    for key, value in raw:
        stand_in[key] = decode_text(value.encode("utf-8", "surrogateescape"), None)
    return stand_in


#: (start, end) of one base64 run in the bytes handed to the parser (see base64_runs)
Run = tuple[int, int]


def prepare_for_parser(raw: bytes, limits: Limits
                       ) -> tuple[memoryview, list[str], list[Run], DecodedRuns]:
    """Cut and defuse ``raw`` so that the stdlib parser works in bounded time and memory.

    Returns the bytes to parse, the reasons (for ``unscannable``) when anything was held back:
    bytes past twice the scan limit (room for base64), lines past :data:`MAX_PARSE_LINES`, parts
    past :data:`MAX_PARTS`, and ``multipart``/``message`` sections past :data:`MAX_CONTAINERS`,
    whose type is renamed so the parser keeps them as opaque parts (their siblings are still
    read); and the base64 runs of the bytes returned, and the blocks those a part may hold
    whole decode to, for :func:`govmilter.mail.speedups.parse_collapsed`.

    Container words and boundary lines are counted outside base64 runs only: a run's lines hold
    no ``:`` and no ``-``, so they are never a header nor a boundary and cannot open a section
    (counting them there would mean lower-casing every attachment, a large share of the parse).
    """
    reasons: list[str] = []
    data = memoryview(raw)  # slices of a view share the message's memory
    if len(data) > limits.raw_scan_bytes:
        reasons.append(limits.scan_limit_reason)
        data = data[:limits.raw_scan_bytes]
    # a run longer than this is decoded only in part by the walk (decoded_payload)
    keep = base64_prefix_chars(limits.max_attachment_bytes)
    runs, line_ends, decoded = counted_base64_runs(raw, len(data), keep)  # data: a prefix of raw
    # CR and LF bytes bound the lines: counted outside the runs (each piece but the first
    # repeats a run's last byte, so the bound may come out a little high) and by the run search
    line_ends += sum(_line_ends(piece) for _, piece in outside_runs(data, runs))
    cut = _line_cut(data, MAX_PARSE_LINES) if line_ends > MAX_PARSE_LINES else None
    if cut is not None:
        reasons.append(f"more than {MAX_PARSE_LINES} lines: the rest was not parsed")
        data = data[:cut]
        runs, _, decoded = counted_base64_runs(raw, len(data), keep)
    # every part opens with a boundary line, and the last closes with one more
    cut = _dash_line_cut(data, runs, MAX_PARTS + 1)
    if cut is not None:
        reasons.append(f"more than {MAX_PARTS} MIME parts: the rest was not parsed")
        data = data[:cut]
        runs = [run for run in runs if run[1] <= cut]
    outside = sum(_container_count(piece) for _, piece in outside_runs(data, runs))
    if outside <= MAX_CONTAINERS:
        return data, reasons, runs, decoded
    # more than enough: rename from the first word past the cap, runs included (as before)
    for count, match in enumerate(_CONTAINER_RE.finditer(data), start=1):
        if count > MAX_CONTAINERS:
            head, tail = data[:match.start()], data[match.start():]
            defused = _CONTAINER_RE.sub(CAPPED_TYPE_PREFIX + rb"\1/", bytes(tail))
            source = bytes(head) + defused
            reasons.append(f"more than {MAX_CONTAINERS} multipart/message sections: "
                           "the rest was not parsed")
            runs, _, decoded = counted_base64_runs(source, len(source), keep)
            return memoryview(source), reasons, runs, decoded
    return data, reasons, runs, decoded


def _container_count(data: memoryview, block: int = 1 << 20) -> int:
    """How many matches :data:`_CONTAINER_RE` has in ``data``, counted at C speed.

    The two words cannot overlap each other or themselves, so plain counts in lower-cased copies
    equal the regular expression's matches, without its slower case-insensitive scan.
    Counted per block (bounded copies), plus the words that cross each block's start.
    """
    reach = len(b"multipart/") - 1  # a crossing word starts at most this far before
    block, total = max(block, reach + 1), 0
    for start in range(0, len(data), block):
        total += _container_words(data[start:start + block])
        if start:
            total += (_container_words(data[start - reach:start + reach])
                      - _container_words(data[start - reach:start])
                      - _container_words(data[start:start + reach]))
    return total


def _container_words(data: memoryview) -> int:
    lowered = data.tobytes().lower()
    return lowered.count(b"multipart/") + lowered.count(b"message/")


def _line_ends(data: memoryview) -> int:
    chunk = data.tobytes()
    return occurrences(chunk, b"\n") + occurrences(chunk, b"\r")


def occurrences(data: bytes, byte: bytes) -> int:
    """How many times the one ``byte`` occurs in ``data``, counted by deleting it: ``replace``
    jumps from one to the next (``memchr``), where ``count`` looks at every byte."""
    return len(data) - len(data.replace(byte, b""))


def _line_cut(data: memoryview, max_lines: int) -> int | None:
    """The offset where line ``max_lines`` ends (CR, LF or CRLF, as the parser counts), or None.

    Counted in 1 MiB blocks with C-speed ``bytes.count``; a CRLF split between two blocks counts
    twice, which only cuts a little early.
    """
    if len(data) <= max_lines:
        return None  # every line end is at least one byte
    block = 1 << 20
    if sum(_line_ends(data[start:start + block]) for start in range(0, len(data), block)) \
            <= max_lines:
        return None  # CR and LF bytes bound the lines: no need to count CRLF pairs
    seen = 0
    for start in range(0, len(data), block):
        chunk = data[start:start + block].tobytes()
        lines = chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")
        if seen + lines <= max_lines:
            seen += lines
            continue
        for offset, byte in enumerate(chunk):
            if byte == 0x0A or (byte == 0x0D and chunk[offset + 1:offset + 2] != b"\n"):
                seen += 1
                if seen >= max_lines:
                    return start + offset + 1
    return None


def outside_runs(data: memoryview, runs: list[Run]) -> Iterator[tuple[int, memoryview]]:
    """The pieces of ``data`` between its base64 ``runs``, with their offsets.

    Each piece after a run starts with that run's last byte, a line end, so that a line starting
    right after the run (a boundary, typically) is seen as starting a line.
    """
    done = 0
    for start, end in [*runs, (len(data), len(data))]:
        begin = max(done - 1, 0)
        yield begin, data[begin:start]
        done = end


#: A line that starts with ``--`` (a boundary, or text that looks like one), as the parser
#: splits lines: after LF, or after a CR that is not followed by LF.
_DASH_LINE_RE = re.compile(rb"[\r\n]--")


def _dash_line_cut(data: memoryview, runs: list[Run], max_lines: int) -> int | None:
    """The offset of the first line starting with ``--`` past ``max_lines`` of them, or None.

    Counted outside the base64 ``runs`` (which hold none) with C-speed ``bytes.count`` first,
    and looked for exactly only when that count is over the limit. The count takes 1 MiB blocks
    that overlap by two bytes, so that it misses none and can only come out high.
    """
    pieces = list(outside_runs(data, runs))
    if sum(len(piece) for _, piece in pieces) <= max_lines * 3:
        return None  # each such line takes three bytes or more ("\n--"): most mail stops here
    block, rough = 1 << 20, 0
    for _, piece in pieces:
        for start in range(0, len(piece), block):
            chunk = piece[start:start + block + 2].tobytes()
            rough += chunk.count(b"\n--") + chunk.count(b"\r--")
    if rough <= max_lines:
        return None
    seen = 0
    for offset, piece in pieces:
        for match in _DASH_LINE_RE.finditer(piece):
            if seen == max_lines:
                return offset + match.start() + 1  # the line break stays with the part before
            seen += 1
    return None


def header_text(value: str) -> str:
    """A raw header value as Unicode: 8-bit bytes (kept by the parser as surrogate escapes) are
    read as UTF-8 (SMTPUTF8), invalid sequences become U+FFFD."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _raw_headers(message: email.message.Message, name: str) -> list[str]:
    """Every raw value of header ``name`` (all occurrences, encoded words not decoded)."""
    wanted = name.lower()
    return [header_text(str(v)) for k, v in message.raw_items() if k.lower() == wanted]


@dataclass(frozen=True, slots=True)
class _Headers:
    subject: str
    header_from: tuple[str, ...]
    header_to: tuple[str, ...]
    notes: tuple[str, ...]
    unscannable: tuple[str, ...]


def read_headers(message: email.message.Message) -> _Headers:
    """Read Subject, From, To and Cc defensively: every From field counts, oddities are noted."""
    notes: list[str] = []
    unscannable: list[str] = []
    subjects = _raw_headers(message, "Subject")
    subject = subjects[0] if subjects else ""
    if len(subject) > MAX_HEADER_CHARS:
        unscannable.append(f"Subject longer than {MAX_HEADER_CHARS} characters was cut")
        subject = subject[:MAX_HEADER_CHARS]
    from_values = _raw_headers(message, "From")
    if len(from_values) > 1:
        notes.append(f"From: {len(from_values)} From header fields")
    senders = _addresses(from_values, "From", notes)
    if len(senders) > 1:
        notes.append(f"From: {len(senders)} candidate sender addresses")
    recipients = _addresses(_raw_headers(message, "To") + _raw_headers(message, "Cc"),
                            "To/Cc", notes)
    return _Headers(
        subject=decode_header_value(subject), header_from=tuple(a.text for a in senders),
        header_to=tuple(a.text for a in recipients), notes=tuple(notes),
        unscannable=tuple(unscannable),
    )


def _addresses(values: list[str], name: str, notes: list[str]) -> list[Address]:
    found: dict[str, Address] = {}
    for value in values:
        reading = read_address_header(value, name)
        notes.extend(n for n in reading.notes if n not in notes)
        for address in reading.addresses:
            found.setdefault(address.text, address)
    return list(found.values())


def raw_payload(part: email.message.Message) -> object:
    """The payload as parsed: a list of parts or the undecoded body text.

    Read as the stdlib's own decoder reads it: ``get_payload()`` without ``decode=True`` would
    first decode an 8-bit body with the declared charset (``punycode``: quadratic, and raising).
    """
    return getattr(part, "_payload", None)


def decoded_payload(part: email.message.Message, cap: int) -> tuple[bytes, bool]:
    """The part's decoded body, and whether decoding stopped early.

    A base64 body far larger than ``cap`` is decoded only as far as needed to fill ``cap``
    (the stdlib would decode all of it first: 27 MB of base64 held three times over).
    """
    payload = raw_payload(part)
    cte = str(part.get("Content-Transfer-Encoding") or "").strip().lower()
    prefix_chars = base64_prefix_chars(cap)
    if cte == "base64" and isinstance(payload, str) and len(payload) > prefix_chars:
        prefix = payload[:prefix_chars].encode("ascii", "surrogateescape")
        clean = _NOT_BASE64_RE.sub(b"", prefix)
        return binascii.a2b_base64(clean[:len(clean) // 4 * 4]), True
    decoded = stdlib_decoded_payload(part)
    return (decoded if isinstance(decoded, bytes) else b""), False


def base64_prefix_chars(cap: int) -> int:
    """How many characters of a base64 body :func:`decoded_payload` decodes at most to fill
    ``cap`` bytes: 4 characters per 3 bytes, plus room for line ends and some garbage."""
    return (cap // 3 + 2) * 4 * 5 // 4 + 4096


def parse_message(raw: bytes, limits: Limits,
                  budget: MessageBudget | None = None) -> MessageContent:
    """Walk the MIME tree (iteratively, within ``limits``), collecting texts and attachments.

    Never raises. Nested ``message/rfc822`` parts are entered; their subjects count as text.
    Encrypted parts (S/MIME enveloped or opaque-signed, PGP/MIME, inline PGP) are unscannable;
    the content of ``multipart/signed`` is read and its signature skipped. ``budget``: the
    message's scan budget (:func:`govmilter.scan.scan_with` starts it before parsing), asked for
    time before each part is decoded and charged with what is kept; None: a new one.
    """
    data, unscannable, runs, decoded = prepare_for_parser(raw, limits)
    try:
        message = parse_collapsed(data, runs, _feed, decoded)
    except RecursionError:  # prepare_for_parser makes this unreachable; kept as a fail-safe
        return MessageContent("", (), (), (), (), ("message structure could not be parsed",),
                              len(raw))
    headers = read_headers(message)
    walk = _Walk(budget or MessageBudget(limits), unscannable + list(headers.unscannable))
    walk.run(message)
    return MessageContent(
        subject=headers.subject, header_from=headers.header_from, header_to=headers.header_to,
        texts=tuple(walk.texts), attachments=tuple(walk.attachments),
        unscannable=tuple(dict.fromkeys(walk.unscannable)), size=len(raw), notes=headers.notes,
        forward=read_forward_traces((k, header_text(str(v))) for k, v in message.raw_items()),
    )


def _feed(data: bytes | memoryview) -> email.message.Message:
    """Parse ``data`` with the stdlib, fed in :data:`FEED_CHUNK` pieces."""
    parser = BytesFeedParser(policy=email.policy.compat32)
    for start in range(0, len(data), FEED_CHUNK):
        parser.feed(bytes(data[start:start + FEED_CHUNK]))
    return parser.close()


#: After an LF, 64 or more lines in a row holding only base64 characters, each with its line
#: end (the parser's: CRLF, CR or LF). Such lines can be no boundary (``--``), header (``:``,
#: leading space) nor blank line, so the parser only ever appends them to the text it is
#: collecting; it would split them one by one, most of the time a large attachment costs. This
#: finds a run's first 64 lines (:func:`base64_runs` finds the rest). A literal first character
#: lets the regex engine skip ahead, where ``[\r\n]`` or a lookbehind would make it try every
#: position (runs after a lone CR are simply parsed as they are). Possessive quantifiers
#: (Python 3.11): the backtracking ones kept 3 bytes of state per byte of the run.
_BASE64_RUN_HEAD_RE = re.compile(rb"\n((?:[A-Za-z0-9+/=]++(?:\r\n|\r|\n)){64})")
#: The lines of a run after its first 64: as many as there are.
_BASE64_LINES_RE = re.compile(rb"(?:[A-Za-z0-9+/=]++(?:\r\n|\r|\n))*+")


def base64_runs(data: bytes, end: int | None = None) -> list[Run]:
    """Where the base64 runs of ``data[:end]`` are (see :func:`counted_base64_runs`)."""
    return counted_base64_runs(data, len(data) if end is None else end)[0]


def counted_base64_runs(data: bytes, end: int, keep: int = 0
                        ) -> tuple[list[Run], int, dict[Run, tuple[bytes, ...]]]:
    """Where the base64 runs of ``data[:end]`` are (see :data:`_BASE64_RUN_HEAD_RE`), each as
    long as its lines go on: the runs ``\n((?:[A-Za-z0-9+/=]++(?:\r\n|\r|\n)){64,}+)`` finds,
    the lines after the first 64 read at C speed where they are regular (:func:`_run_end`);
    how many CR and LF bytes the runs hold (the lines' count, for the line limit); and, for each
    run of at most ``keep`` bytes that is strict base64 once CR and LF are deleted, the blocks it
    decodes to (:class:`govmilter.mail.speedups.DecodedRun`), decoded as the run is read.
    """
    runs: list[Run] = []
    decoded: dict[Run, tuple[bytes, ...]] = {}
    line_ends = 0
    head = _BASE64_RUN_HEAD_RE.search(data, 0, end)
    while head is not None:
        blocks = _DecodedBlocks(keep)
        blocks.add_text(data[head.start(1):head.end()])
        run_end, rest_line_ends = _run_end(data, head.start(1), head.end(), end, blocks)
        runs.append((head.start(1), run_end))
        line_ends += _line_ends(memoryview(data)[head.start(1):head.end()]) + rest_line_ends
        if blocks.blocks is not None:
            decoded[runs[-1]] = tuple(blocks.blocks)
        head = _BASE64_RUN_HEAD_RE.search(data, run_end, end)
    return runs, line_ends, decoded


class _DecodedBlocks:
    """One run's text decoded piece by piece, in order, as the run search reads it: ``blocks``
    is None once a piece is not strict base64 (:func:`strict_decoded`: a multiple of 4
    characters once CR and LF are deleted, padding only at its end), a piece follows one that
    ends in padding, or the pieces pass ``keep`` bytes. So the blocks, joined, are what the
    whole run's text decodes to, as :func:`govmilter.mail.speedups.strict_base64_decoded`
    decodes it."""

    def __init__(self, keep: int) -> None:
        self.blocks: list[bytes] | None = [] if keep > 0 else None
        self.room = keep
        self.padded = False

    def add(self, size: int, decoded: bytes | None, padded: bool) -> None:
        """One more piece of the run: ``size`` bytes of text that decoded to ``decoded`` (None:
        not strict base64), ``padded`` when it ends in ``=``."""
        self.room -= size
        if decoded is None or self.padded or self.room < 0:
            self.blocks = None
        elif self.blocks is not None:
            self.blocks.append(decoded)
            self.padded = padded

    def add_text(self, text: bytes) -> None:
        """One more piece, its lines ended by any line ends, decoded here."""
        if self.blocks is None or len(text) > self.room:
            self.blocks = None
            return
        compact = text.replace(b"\r", b"").replace(b"\n", b"")
        self.add(len(text), strict_decoded(compact), compact.endswith(b"="))


#: Most lines one step of :func:`_run_end` reads (16,384 lines: 1.2 MB of 76-character lines).
_MAX_BLOCK_LINES = 1 << 14


def _run_end(data: bytes, run_start: int, start: int, end: int,
             blocks: _DecodedBlocks) -> tuple[int, int]:
    """Where the base64 lines from ``start`` (the line after a run's first 64) end, by ``end``,
    and how many CR and LF bytes they hold; their text decoded into ``blocks``.

    Read in blocks of whole lines, 64 lines first, twice as many after each block that passes
    (so each step costs at most what the lines before it did): a block passes when its lines
    are regular, each as wide as the run's 64th line and ended by the same CRLF or LF
    (:func:`_regular_base64_lines`). No base64 line holds a ``-``, so the block that holds the
    next one (a boundary line's, in a MIME part) is cut before that line and the blank lines
    before it, and if it passes, the run ends there; likewise at ``end``. When a block does not
    pass, or without pybase64, the regular expression reads the run's last lines.
    """
    line_end = b"\r\n" if data[start - 2:start] == b"\r\n" else data[start - 1:start]
    last_line = max(data.rfind(b"\n", run_start, start - len(line_end)),
                    data.rfind(b"\r", run_start, start - len(line_end))) + 1
    width = start - len(line_end) - last_line
    step, lines = width + len(line_end), 64
    line_ends = 0
    while line_end != b"\r":  # after a lone CR, the expression reads the lines
        stop = min(start + lines * step, end)
        dash = data.find(b"-", start, stop)
        if dash >= 0 or stop == end:  # the run ends in this block
            limit = end if dash < 0 else dash
            stop = max(data.rfind(b"\n", start, limit), data.rfind(b"\r", start, limit)) + 1
            for _ in range(4):  # blank lines before the dash's line (one, from most clients)
                if stop - start < len(line_end) or \
                        data[stop - 2 * len(line_end):stop] != line_end * 2:
                    break
                stop -= len(line_end)
            if stop <= start:
                return start, line_ends  # the next line holds the dash, or has no line end
            decoded = _regular_base64_lines(data, start, stop, width, line_end)
            if decoded is not None:
                blocks.add(stop - start, decoded, data[stop - len(line_end) - 1] == ord("="))
                return stop, line_ends + (stop - start) // step * len(line_end) + \
                    len(line_end) * ((stop - start) % step > 0)
            break
        decoded = _regular_base64_lines(data, start, stop, width, line_end)
        if decoded is None:
            break
        blocks.add(stop - start, decoded, data[stop - len(line_end) - 1] == ord("="))
        line_ends += lines * len(line_end)
        start, lines = stop, min(lines * 2, _MAX_BLOCK_LINES)
    match = _BASE64_LINES_RE.match(data, start, end)
    stop = match.end() if match else start
    if stop > start:
        blocks.add_text(data[start:stop])
    return stop, line_ends + _line_ends(memoryview(data)[start:stop])


def _regular_base64_lines(data: bytes, start: int, stop: int, width: int,
                          line_end: bytes) -> bytes | None:
    """What ``data[start:stop]`` decodes to if it is lines of ``width`` characters, the last
    one possibly shorter, each ended by ``line_end`` and by no other CR or LF, their characters
    strict base64 (:func:`govmilter.mail.speedups.strict_decoded`, so padding at the end only,
    and a multiple of 4 characters); else None. Checked from the cheapest test on."""
    step = width + len(line_end)
    full, rest = divmod(stop - start, step)
    if rest and rest <= len(line_end):
        return None  # a last line without characters
    region = data[start:stop]
    for offset, byte in enumerate(line_end):  # the line end where each full line ends
        if region[width + offset:full * step:step] != bytes((byte,)) * full:
            return None
    without_cr = region.replace(b"\r", b"")
    compact = without_cr.replace(b"\n", b"")
    lines = full + bool(rest)
    if region.endswith(line_end) and len(without_cr) - len(compact) == lines \
            and len(region) - len(without_cr) == lines * (len(line_end) - 1):
        return strict_decoded(compact)
    return None


def _encoded_message(part: email.message.Message,
                     inner: email.message.Message) -> email.message.Message:
    """A forwarded message sent base64 or quoted-printable encoded (RFC 2046 forbids it, clients
    do it): the parser took the encoded lines for a message without headers; decode and parse
    them. Anything else: ``inner`` as it is."""
    encoding = str(part.get("Content-Transfer-Encoding") or "").strip().lower()
    if encoding not in ("base64", "quoted-printable") or len(inner):
        return inner
    try:
        payload = inner.get_payload()
    except ValueError:  # 8-bit lines and a charset no codec name can be (a NUL in it)
        return inner
    if not isinstance(payload, str):
        return inner
    # the parser may have decoded 8-bit lines (a declared charset): give the bytes back, and
    # anything it could not keep becomes a replacement that base64 and QP then ignore
    try:
        data = payload.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        data = payload.encode("utf-8", "replace")
    try:
        if encoding == "base64":
            clean = _NOT_BASE64_RE.sub(b"", data)
            decoded = binascii.a2b_base64(clean + b"=" * (-len(clean) % 4))
        else:
            decoded = quopri.decodestring(data)
    except (binascii.Error, ValueError):
        return inner
    return _feed(decoded)


class _Walk:
    """One iterative walk over a parsed message, spending the scan budget."""

    def __init__(self, budget: MessageBudget, unscannable: list[str]) -> None:
        self.limits = budget.limits
        self.budget = budget
        self.texts: list[TextPart] = []
        self.attachments: list[Attachment] = []
        self.unscannable = unscannable

    def note(self, reason: str) -> None:
        """Record why something was not scanned (each reason once)."""
        if reason not in self.unscannable:
            self.unscannable.append(reason)

    def run(self, message: email.message.Message) -> None:
        """Visit every part depth-first, without recursion."""
        stack: list[tuple[email.message.Message, int]] = [(message, 0)]
        while stack:
            if self.budget.expired():
                return
            part, depth = stack.pop()
            if depth > self.limits.max_depth:
                self.note(f"MIME nesting deeper than {self.limits.max_depth}")
                continue
            ctype = part.get_content_type()
            if ctype.startswith(CAPPED_TYPE_PREFIX.decode()):
                continue  # already reported by prepare_for_parser
            if ctype in _ENCRYPTED_TYPES:
                self.note(f"encrypted part ({ctype})")
                continue
            if ctype in _ELSEWHERE_TYPES:
                self.note(f"content held elsewhere ({ctype})")
                continue
            if ctype.startswith("multipart/") and not part.is_multipart():
                # Missing or wrong boundary: the parser keeps the body as one string. Read it
                # as text (cues may be in it) and say that its structure was lost.
                self.note("multipart section without its boundary, read as plain text")
                self.leaf(part, "text/plain")
                continue
            if part.is_multipart() or ctype == "message/rfc822":
                stack.extend((child, depth + 1) for child in reversed(self.children(part, ctype)))
                continue
            self.leaf(part, ctype)

    def children(self, part: email.message.Message, ctype: str) -> list[email.message.Message]:
        """The sub-parts to visit; forwarded subjects are read, signatures are skipped."""
        payload = raw_payload(part)
        children = [c for c in (payload if isinstance(payload, list) else [])
                    if isinstance(c, email.message.Message)]
        if ctype == "message/rfc822":
            children = [_encoded_message(part, inner) for inner in children]
            for inner in children:
                values = _raw_headers(inner, "Subject")
                inner_subject = decode_header_value(values[0][:MAX_HEADER_CHARS]) if values \
                    else ""
                if inner_subject:
                    self.add_text("forwarded:subject", inner_subject)
        if ctype == "multipart/signed":
            children = [c for c in children if c.get_content_type() not in _SIGNATURE_TYPES]
        return children

    def leaf(self, part: email.message.Message, ctype: str) -> None:
        """Decode one leaf part into a text or an attachment, within the budget."""
        if ctype in _SIGNATURE_TYPES:
            return  # a detached signature carries no content
        filename = part_filename(part)
        if ctype in _SMIME_TYPES or (filename or "").lower().endswith((".p7m", ".p7z")):
            smime = str(part.get_param("smime-type") or "enveloped-data").lower()
            self.note(f"S/MIME part ({smime})")
            return
        disposition = str(part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        cap = max(0, min(self.limits.max_attachment_bytes, self.budget.bytes_left))
        try:
            data, stopped_early = decoded_payload(part, cap)
        except Exception:  # compat32 decoding raises assorted errors on garbage
            self.note("undecodable part")
            return
        if data.startswith(_PGP_MESSAGE.encode()):
            self.note("PGP-encrypted attachment")
            return
        if self.budget.bytes_left <= 0:
            self.note(self.limits.scan_limit_reason)
            return
        if ctype in ("text/plain", "text/html") and disposition != "attachment":
            self.text(part, ctype, data, stopped_early)
        else:
            self.attachment(filename, ctype, data, stopped_early)

    def text(self, part: email.message.Message, ctype: str, data: bytes, cut: bool) -> None:
        """Keep a body text (HTML stripped), cut at the remaining budget."""
        chunk = data[:self.budget.bytes_left]
        if cut or len(chunk) < len(data):
            self.note(self.limits.scan_limit_reason)
        try:
            charset = part.get_content_charset()
        except (ValueError, LookupError, UnicodeError, TypeError):
            charset = None
        text = decode_text(chunk, charset)
        if _PGP_MESSAGE in text:
            self.note("inline PGP-encrypted text")
        if ctype == "text/html":
            self.add_text("body:html", html_to_text(text))
        else:
            self.add_text("body", text)

    def add_text(self, source: str, text: str) -> None:
        """Keep a text, charging it to the budget (cut when the budget runs out)."""
        kept = self.budget.take(len(text))
        if kept < len(text):
            self.note(self.limits.scan_limit_reason)
            if not kept:
                return
        self.texts.append(TextPart(source, text[:kept]))

    def attachment(self, filename: str | None, ctype: str, data: bytes, cut: bool) -> None:
        """Keep an attachment's bytes, cut at the per-attachment limit and the budget."""
        if len(self.attachments) >= self.limits.max_attachments:
            self.note(f"more than {self.limits.max_attachments} attachments")
            return
        cap = min(self.limits.max_attachment_bytes, self.budget.bytes_left)
        truncated = cut or len(data) > cap
        self.attachments.append(Attachment(filename, ctype, data[:cap], truncated))
        self.budget.take(min(len(data), cap))
        if truncated and cap < self.limits.max_attachment_bytes:
            self.note(self.limits.scan_limit_reason)
        elif truncated:
            self.note(f"an attachment larger than {cap} bytes was cut")
