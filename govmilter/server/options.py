"""``govmilter run``'s options: parsed and checked before anything of the daemon is loaded.

A refused option (exit 2) costs a new interpreter the standard library alone: this module
imports neither pymilter nor the store nor the scanning layers, and ``govmilter run`` imports
:mod:`govmilter.server.daemon` only once every value passed.
"""

from __future__ import annotations

import argparse
import math
import socket
from dataclasses import dataclass
from pathlib import Path

from govmilter.errors import GovmilterError
from govmilter.server.privileges import user_entry

#: The lowest CPU priority (the largest nice increment) Linux gives.
MAX_NICE = 19
DEFAULT_SOCKET = "unix:/var/spool/postfix/govmilter/govmilter.sock"
DEFAULT_METRICS_PORT = 9755
DEFAULT_METRICS = f"127.0.0.1:{DEFAULT_METRICS_PORT}"
MAX_UNIX_PATH = 107  # sockaddr_un.sun_path is 108 bytes with the final NUL
DEFAULT_SYSLOG_SOCKET = "/dev/log"
#: where the default incident store (store.database.DEFAULT_DATABASE) and the journal live
DEFAULT_STATE_DIR = "/var/lib/govmilter"
#: ``--database off``: no incident store at all
NO_STORE = "off"
#: Below this many bytes a message is scanned in the milter's own thread
#: (:mod:`govmilter.server.workers` says when that pays).
DEFAULT_INLINE_BELOW = 0
#: Resident memory (bytes) past which a worker is replaced after its current message.
DEFAULT_MAX_RSS = 200 * 2**20
#: Workers of the OCR lane by default: scans take at most one of a small gateway's two cores at
#: a time, whatever their number (``--ocr-workers``).
DEFAULT_OCR_WORKERS = 1
#: How much lower the OCR workers' CPU priority is by default (a ``nice`` increment, 0 to 19;
#: ``--ocr-nice``): when ordinary mail needs a core an OCR worker holds, the kernel gives it to
#: ordinary mail and OCR takes what is left; on an idle machine OCR runs at full speed.
DEFAULT_OCR_NICE = 10


class DaemonError(GovmilterError):
    """The milter could not start."""


@dataclass(frozen=True)
class RunOptions:
    """Everything ``govmilter run`` is told on its command line."""

    policy: str | None = None
    socket: str = DEFAULT_SOCKET
    metrics: str | None = DEFAULT_METRICS  #: HOST:PORT, or None for no endpoint
    socket_mode: int = 0o660
    user: str | None = None
    watch_interval: float = 2.0
    spool_dir: str | None = None  #: None: $TMPDIR, else /tmp (see tempfile.gettempdir)
    syslog: bool = False
    syslog_socket: str = DEFAULT_SYSLOG_SOCKET  #: the local syslog socket for ``syslog``
    verbose: bool = False
    #: worker processes for scanning; None: one per CPU, at least one; 0: in the milter process
    scan_workers: int | None = None
    #: worker processes of the OCR lane (messages with scans or images); 0: no lane, the scan
    #: workers read scans themselves
    ocr_workers: int = DEFAULT_OCR_WORKERS
    #: how much lower the OCR workers' CPU priority is (a nice increment, 0 to 19)
    ocr_nice: int = DEFAULT_OCR_NICE
    scan_inline_below: int = DEFAULT_INLINE_BELOW
    #: a worker holding more than this many MiB after a message is replaced
    scan_worker_memory: int = DEFAULT_MAX_RSS >> 20
    #: the incident store; None: the policy's incidents.database, else the state directory's
    #: file; :data:`NO_STORE`: none
    database: str | None = None
    state_dir: str = DEFAULT_STATE_DIR  #: the default SQLite file and the incident journal


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``govmilter run``."""
    parser.add_argument("--policy", help="policy YAML (default: the embedded default policy); "
                        "reloaded on SIGHUP or SIGUSR1 and when the file changes (SIGTERM "
                        "stops the milter)")
    parser.add_argument("--socket", default=DEFAULT_SOCKET,
                        help="unix:/path or inet:PORT@HOST (default: %(default)s)")
    parser.add_argument("--metrics", default=DEFAULT_METRICS, metavar="HOST:PORT",
                        help="Prometheus endpoint (default: %(default)s; 'off' to disable)")
    parser.add_argument("--socket-mode", default="660", metavar="OCTAL",
                        help="permissions of a unix socket (default: %(default)s)")
    parser.add_argument("--user", help="when started as root: run as this user (the socket "
                        "directory gets group postfix and the set-group-ID bit, so the socket "
                        "is the user's, group postfix)")
    parser.add_argument("--watch-interval", type=float, default=2.0, metavar="SECONDS",
                        help="how often the policy file is checked for changes (0: never)")
    parser.add_argument("--spool-dir", metavar="DIR",
                        help="directory for messages larger than the policy's "
                        "limits.memory_bytes (anonymous 0600 files; default: $TMPDIR or /tmp)")
    parser.add_argument("--syslog", action="store_true",
                        help="log to syslog (facility mail) instead of standard error")
    parser.add_argument("--syslog-socket", metavar="PATH",
                        help="the syslog daemon's unix socket (default: "
                        f"{DEFAULT_SYSLOG_SOCKET}); implies --syslog")
    parser.add_argument("--verbose", action="store_true", help="log debug messages")
    parser.add_argument("--scan-workers", type=int, default=None, metavar="N",
                        help="processes that scan messages, to use every core and so that a "
                        "scan can be stopped at its deadline (default: one per CPU, at least "
                        "one; 0: scan in the milter process, where nothing stops a scan that "
                        "hangs and OCR is off)")
    parser.add_argument("--ocr-workers", type=int, default=DEFAULT_OCR_WORKERS, metavar="N",
                        help="processes of the OCR lane: a message with a scan or image is "
                        "read by OCR there, so that scans never hold up ordinary mail "
                        "(default: %(default)s; 0: no lane, the scan workers read scans "
                        "themselves)")
    parser.add_argument("--ocr-nice", type=int, default=DEFAULT_OCR_NICE, metavar="N",
                        help="how much lower the OCR workers' CPU priority is, 0 to 19: when "
                        "the cores are busy, ordinary mail gets them first (default: "
                        "%(default)s; 0: the same priority, scans read sooner under load)")
    parser.add_argument("--scan-inline-below", type=int, default=DEFAULT_INLINE_BELOW,
                        metavar="BYTES", help="scan smaller messages in the milter process "
                        "(default: %(default)s)")
    parser.add_argument("--database", metavar="URL",
                        help="the incident store: a SQLite file path or postgresql://USER@HOST/DB "
                        "(default: the policy's incidents.database, else incidents.sqlite3 in "
                        f"the state directory; '{NO_STORE}': keep no incidents and no daily "
                        "counts, as the benchmark measures what the store costs); read at start "
                        "only")
    parser.add_argument("--state-dir", default=DEFAULT_STATE_DIR, metavar="DIR",
                        help="where the default incident store and the incident journal live "
                        "(default: %(default)s; systemd's StateDirectory)")
    parser.add_argument("--scan-worker-memory", type=int, default=DEFAULT_MAX_RSS >> 20,
                        metavar="MIB", help="replace a scan worker after a message that leaves "
                        "it holding more than this much memory (default: %(default)s)")


def options_from_args(args: argparse.Namespace) -> RunOptions:
    """Check and convert the parsed arguments: every value, before anything starts.

    :raises DaemonError: naming the option and what is wrong with its value (exit 2).
    :raises PrivilegeError: for a ``--user`` that does not exist.
    """
    try:
        mode = int(args.socket_mode, 8)
    except ValueError:
        raise DaemonError(f"--socket-mode {args.socket_mode!r} is not an octal mode") from None
    if not 0 <= mode <= 0o777:
        raise DaemonError(f"--socket-mode {args.socket_mode!r}: expected 000 to 777")
    check_socket_spec(args.socket)
    metrics = None if args.metrics in ("off", "none", "") else args.metrics
    if metrics is not None:
        parse_host_port(metrics)
    if not math.isfinite(args.watch_interval) or args.watch_interval < 0:
        raise DaemonError(f"--watch-interval {args.watch_interval}: expected 0 (never) or a "
                          "number of seconds")
    for option, value, least in (("--scan-workers", args.scan_workers, 0),
                                 ("--ocr-workers", args.ocr_workers, 0),
                                 ("--scan-inline-below", args.scan_inline_below, 0),
                                 ("--scan-worker-memory", args.scan_worker_memory, 1)):
        if value is not None and value < least:
            raise DaemonError(f"{option} {value} must be at least {least}")
    if not 0 <= args.ocr_nice <= MAX_NICE:
        raise DaemonError(f"--ocr-nice {args.ocr_nice}: expected 0 to {MAX_NICE}")
    if args.user is not None:
        user_entry(args.user)
    syslog = args.syslog or args.syslog_socket is not None
    syslog_socket = args.syslog_socket or DEFAULT_SYSLOG_SOCKET
    if syslog:
        check_syslog_socket(syslog_socket)
    return RunOptions(policy=args.policy, socket=args.socket, metrics=metrics, socket_mode=mode,
                      user=args.user, watch_interval=args.watch_interval,
                      spool_dir=args.spool_dir, syslog=syslog, syslog_socket=syslog_socket,
                      verbose=args.verbose,
                      scan_workers=args.scan_workers, ocr_workers=args.ocr_workers,
                      ocr_nice=args.ocr_nice,
                      scan_inline_below=args.scan_inline_below,
                      scan_worker_memory=args.scan_worker_memory, database=args.database,
                      state_dir=args.state_dir)


def check_socket_spec(spec: str) -> None:
    """Refuse a ``--socket`` libmilter would misread: ``unix:/path`` (short enough) or
    ``inet:PORT@HOST`` / ``inet6:PORT@HOST`` with a port from 1 to 65535."""
    kind, _, rest = spec.partition(":")
    if kind.lower() not in ("inet", "inet6"):
        unix_socket_path(spec)
        return
    port, _, host = rest.partition("@")
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise DaemonError(f"--socket {spec!r}: the port must be a number from 1 to 65535 "
                          f"(libmilter writes inet:PORT@HOST, e.g. inet:10025@127.0.0.1)")
    if "@" in rest and not host.strip("[]"):
        raise DaemonError(f"--socket {spec!r}: no host after '@'")


def check_syslog_socket(path: str) -> None:
    """Refuse a syslog socket nothing listens on: the logging module would swallow the error
    and the daemon would run with no log at all."""
    problem = "not a socket"
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):  # as logging's SysLogHandler tries
        with socket.socket(socket.AF_UNIX, kind) as probe:
            try:
                probe.connect(path)
                return
            except OSError as exc:
                problem = exc.strerror or str(exc)
    raise DaemonError(f"--syslog-socket {path}: cannot connect ({problem}); is the syslog "
                      "daemon running, and is this its socket?")


def parse_host_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` too) → (host, port); port 0 means any free port."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise DaemonError(f"--metrics {text!r}: expected HOST:PORT, e.g. 127.0.0.1:9755")
    if int(port) > 65535:
        raise DaemonError(f"--metrics {text!r}: the port must be from 0 to 65535")
    return host.strip("[]") or "127.0.0.1", int(port)


def unix_socket_path(socket: str) -> Path | None:
    """The file of a ``unix:``/``local:`` socket spec, None for inet sockets."""
    if socket.startswith(("inet:", "inet6:")):
        return None
    path = socket.split(":", 1)[1] if socket.startswith(("unix:", "local:")) else socket
    if not path.startswith("/"):
        raise DaemonError(f"--socket {socket!r}: expected unix:/absolute/path or "
                          "inet:PORT@HOST")
    if len(path.encode()) > MAX_UNIX_PATH:
        raise DaemonError(f"--socket {socket!r}: a unix socket path may have at most "
                          f"{MAX_UNIX_PATH} bytes")
    return Path(path)
