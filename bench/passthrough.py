"""The baseline milter (b): pymilter, accepts everything, does nothing else.

It asks for the whole message (envelope, headers, body), as any content milter must, so that
Postfix does the same protocol work as for govmilter; it keeps nothing. Its histogram uses the
same definition as govmilter's (seconds from MAIL FROM to the end-of-message reply) so the two
are compared like with like.

    python -m bench.passthrough --socket unix:/tmp/x.sock --metrics-port 9999 [--nodelay]
        [--noreply]
"""

from __future__ import annotations

import argparse
import signal
import time

import Milter
from prometheus_client import CollectorRegistry, Histogram, start_http_server

from govmilter.server.transport import open_listener_without_nagle

CONTINUE: int = Milter.CONTINUE
ACCEPT: int = Milter.ACCEPT
TAG_HEADER = False
REGISTRY = CollectorRegistry()
PROCESSING = Histogram(
    "passthrough_processing_seconds", "Seconds from MAIL FROM to the end-of-message reply.",
    buckets=(.001, .0025, .005, .01, .025, .04, .05, .1, .15, .25, .5, 1, 2.5, 5, 10),
    registry=REGISTRY)


class PassThrough(Milter.Base):  # type: ignore[misc]
    """Accept every message; read all of it (replying to every header and body chunk)."""

    def __init__(self) -> None:
        self.started = 0.0
        self.size = 0

    def envfrom(self, sender: str, *params: str) -> int:
        self.started = time.perf_counter()
        self.size = 0
        return CONTINUE

    def envrcpt(self, recipient: str, *params: str) -> int:
        return CONTINUE

    def data(self) -> int:
        return CONTINUE

    def header(self, name: str, value: str) -> int:
        self.size += len(name) + len(value)
        return CONTINUE

    def eoh(self) -> int:
        return CONTINUE

    def body(self, chunk: bytes) -> int:
        self.size += len(chunk)
        return CONTINUE

    def eom(self) -> int:
        if TAG_HEADER:
            self.addheader("X-Passthrough", "seen")
        PROCESSING.observe(time.perf_counter() - self.started)
        return ACCEPT


class PassThroughNoReply(PassThrough):
    """The same, telling Postfix not to wait for replies to headers and body chunks.

    govmilter negotiates this (``@Milter.noreply``); this variant shows what the protocol
    saving alone is worth, so that it is not mistaken for a cheaper scan.
    """

    @Milter.noreply  # type: ignore[misc,untyped-decorator]
    def header(self, name: str, value: str) -> int:
        return super().header(name, value)

    @Milter.noreply  # type: ignore[misc,untyped-decorator]
    def eoh(self) -> int:
        return CONTINUE

    @Milter.noreply  # type: ignore[misc,untyped-decorator]
    def body(self, chunk: bytes) -> int:
        return super().body(chunk)


def main() -> None:
    """Run the pass-through milter until SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--socket", required=True,
                        help="libmilter socket: unix:/path or inet:port@host")
    parser.add_argument("--metrics-port", type=int, required=True)
    parser.add_argument("--nodelay", action="store_true",
                        help="set TCP_NODELAY on the inet listening socket (inherited by accepts)")
    parser.add_argument("--tag", action="store_true", help="add a header to every message")
    parser.add_argument("--noreply", action="store_true",
                        help="negotiate no replies to headers and body chunks")
    args = parser.parse_args()
    global TAG_HEADER
    TAG_HEADER = args.tag
    # libmilter owns SIGTERM/SIGHUP: block them before any thread starts (see the notes).
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP, signal.SIGTERM, signal.SIGINT})
    start_http_server(args.metrics_port, addr="127.0.0.1", registry=REGISTRY)
    Milter.factory = PassThroughNoReply if args.noreply else PassThrough
    Milter.set_flags(Milter.ADDHDRS if args.tag else 0)
    if args.nodelay:
        open_listener_without_nagle("passthrough", args.socket)
    Milter.runmilter("passthrough", args.socket, timeout=60)


if __name__ == "__main__":
    main()
