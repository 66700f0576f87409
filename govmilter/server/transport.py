"""Socket options on the milter's listening socket, which libmilter opens and never exposes.

Why: over ``inet:`` Postfix and libmilter exchange many small packets per message. libmilter
sets only ``SO_KEEPALIVE`` on accepted sockets, so Nagle's algorithm is on: a reply written
while an earlier small packet is still unacknowledged waits for the peer's delayed ACK (40 ms
on Linux). Linux copies ``TCP_NODELAY`` from a listening socket to every socket it accepts, so
setting it once on the listener turns Nagle off for every MTA connection.

libmilter has no ``fd:`` socket spec and no hook between opening and serving, but
``smfi_opensocket`` is idempotent (it returns at once when the socket is already open). So we
register, open the socket ourselves, set the option on it, and let ``Milter.runmilter`` find
it open. The listener is found by its address among the process's file descriptors.
"""

from __future__ import annotations

import os
import socket

import Milter


def parse_inet_spec(spec: str) -> tuple[str, int] | None:
    """``inet:PORT@HOST`` (libmilter syntax) as ``(host, port)``; None for other transports."""
    kind, _, rest = spec.partition(":")
    if kind.lower() not in ("inet", "inet6"):
        return None
    port, _, host = rest.partition("@")
    return (host.strip("[]") or "0.0.0.0", int(port))


def listening_fds(port: int) -> list[int]:
    """File descriptors of this process that are TCP sockets listening on ``port``."""
    found = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        for family in (socket.AF_INET, socket.AF_INET6):
            try:
                probe = socket.fromfd(fd, family, socket.SOCK_STREAM)  # a dup: closing is safe
            except OSError:
                break
            try:
                if (probe.family == family
                        and probe.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
                        and probe.getsockname()[1] == port):
                    found.append(fd)
                    break
            except OSError:
                pass
            finally:
                probe.close()
    return found


def open_listener_without_nagle(name: str, spec: str) -> int:
    """Open libmilter's listening socket for ``spec`` now and set ``TCP_NODELAY`` on it.

    Call before ``Milter.runmilter(name, spec, ...)``, which then reuses the open socket.
    Returns how many listening sockets got the option (0 for ``unix:`` sockets, where Nagle
    does not exist). Raises OSError when libmilter cannot open the socket.
    """
    address = parse_inet_spec(spec)
    if address is None:
        return 0
    Milter.milter.setconn(spec)
    Milter.milter.register(name)
    try:
        Milter.milter.opensocket(False)
    except Milter.milter.error as exc:
        raise OSError(f"cannot listen on {spec}: {exc}") from exc
    fds = listening_fds(address[1])
    for fd in fds:
        listener = socket.fromfd(fd, socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        finally:
            listener.close()
    return len(fds)
