"""``govmilter run``: start the milter daemon (logging, signals, policy reload, metrics, socket).

Order matters (docs/development.md, "The daemon's start-up order"): block SIGHUP, SIGTERM,
SIGINT and SIGUSR1 *before* any thread starts, then start the file watch and the metrics
server, then run libmilter in a thread of its own while the main thread takes the signals
(:mod:`govmilter.server.signals`): SIGHUP and SIGUSR1 reload the policy, SIGTERM and SIGINT stop
the milter at once.
"""

from __future__ import annotations

import grp
import logging
import logging.handlers
import os
import socket
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import Milter

from govmilter import __version__
from govmilter.document.ocr import ocr_status_apart
from govmilter.domains.dnsintel import DnsClassifierFactory
from govmilter.policy import Policy, PolicyError, PolicyProblem, load_policy
from govmilter.server import speedups
from govmilter.server.allocator import fix_malloc_thresholds
from govmilter.server.incidents import IncidentWriter
from govmilter.server.metrics import Metrics, start_metrics_server
from govmilter.server.milter import MILTER_ACTIONS, ClassifierFactory, MilterRuntime, milter_factory
from govmilter.server.notices import Notifier
from govmilter.server.options import (
    DEFAULT_SOCKET,
    DEFAULT_SYSLOG_SOCKET,
    NO_STORE,
    DaemonError,
    RunOptions,
    parse_host_port,
    unix_socket_path,
)
from govmilter.server.privileges import drop_privileges, user_entry
from govmilter.server.reload import PolicyHolder
from govmilter.server.signals import block_signals, serve_until_stopped
from govmilter.server.transport import open_listener_without_nagle
from govmilter.server.workers import (
    ScanFailed,
    ScanPool,
    default_workers,
)
from govmilter.store.database import (
    DEFAULT_DATABASE,
    StoreError,
    database_url,
    describe_database,
)

#: Seconds a thread may run Python before one waiting for the GIL gets it (see run()).
GIL_SWITCH_INTERVAL = 0.0005

log = logging.getLogger("govmilter")

MILTER_NAME = "govmilter"
POSTFIX_GROUP = "postfix"


def setup_logging(syslog: bool, verbose: bool,
                  syslog_socket: str = DEFAULT_SYSLOG_SOCKET) -> None:
    """One line per event on stderr (journald adds time and pid) or to syslog (facility mail,
    through the local socket ``syslog_socket``)."""
    handler: logging.Handler
    if syslog:
        handler = logging.handlers.SysLogHandler(
            address=syslog_socket, facility=logging.handlers.SysLogHandler.LOG_MAIL)
        handler.setFormatter(logging.Formatter("govmilter[%(process)d]: %(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    log.propagate = False
    speedups.skip_log_record_lookups()  # neither format names a thread or a source line


def prepare_socket_dir(path: Path, user: str | None) -> None:
    """Create the socket's directory if missing; as root, give it Postfix's group, set-group-ID.

    Postfix's daemons run with their primary group only (its ``set_ugid`` drops supplementary
    groups), so adding ``postfix`` to another group does not let smtpd open a 660 socket of that
    group. The directory gets group ``postfix`` and the set-group-ID bit instead: the socket
    libmilter creates in it inherits group ``postfix`` while the milter keeps its own user and
    group. With ``--user`` the directory also becomes that user's, so it can replace a stale
    socket. Run as root without ``--user`` (the quick start), the daemon keeps root but takes
    Postfix's group as well.

    A shared directory (world-writable or sticky, such as ``/tmp``) is never changed: its owner,
    group and mode belong to everyone who uses it. The socket then gets the milter's own group
    (Postfix's, as root without ``--user``), and :func:`warn_if_postfix_cannot_connect` says so
    when Postfix cannot use it.
    """
    directory = path.parent
    if not directory.is_dir():
        try:
            directory.mkdir(mode=0o750, parents=True)
        except OSError as exc:
            raise DaemonError(f"cannot create socket directory {directory}: {exc}") from None
        log.info("created socket directory %s", directory)
    if os.geteuid() != 0:
        return
    try:
        postfix_gid = grp.getgrnam(POSTFIX_GROUP).gr_gid
    except KeyError:  # no Postfix here (a test, another MTA): the user's own group
        postfix_gid = -1
    mode = directory.stat().st_mode
    if mode & (stat.S_IWOTH | stat.S_ISVTX):
        log.warning("socket directory %s is shared (world-writable or sticky): its owner, group "
                    "and mode are left as they are; give the socket a directory of its own, "
                    "such as %s", directory, Path(DEFAULT_SOCKET.removeprefix("unix:")).parent)
        if user is None and postfix_gid >= 0:
            os.setgid(postfix_gid)  # the socket gets the process's group instead
        return
    if user is not None:
        entry = user_entry(user)
        os.chown(directory, entry.pw_uid, postfix_gid if postfix_gid >= 0 else entry.pw_gid)
    elif postfix_gid >= 0:
        os.chown(directory, -1, postfix_gid)
        os.setgid(postfix_gid)
    if postfix_gid >= 0:
        os.chmod(directory, stat.S_IMODE(mode) | stat.S_ISGID)


def warn_if_postfix_cannot_connect(path: Path, socket_mode: int) -> None:
    """Say at start-up when the socket will be in a group Postfix's smtpd does not run with."""
    if socket_mode & 0o006:
        return  # other users may connect (a test set-up); nothing to check
    try:
        postfix_gid = grp.getgrnam(POSTFIX_GROUP).gr_gid
    except KeyError:
        return
    directory = path.parent
    st = directory.stat()
    group = st.st_gid if st.st_mode & stat.S_ISGID else os.getegid()
    if group != postfix_gid:
        log.warning("the socket will have group %s, but Postfix's smtpd runs with group %s only: "
                    "give %s group %s and mode 2750 (install -d -g %s -m 2750 %s)",
                    _group_name(group), POSTFIX_GROUP, directory, POSTFIX_GROUP, POSTFIX_GROUP,
                    directory)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def check_spool_dir(spool_dir: str | None) -> str:
    """The directory big messages go to, checked writable by the (final) user of the daemon."""
    directory = spool_dir if spool_dir is not None else tempfile.gettempdir()
    if not os.path.isdir(directory) or not os.access(directory, os.W_OK | os.X_OK):
        raise DaemonError(f"--spool-dir {directory!r}: not a directory this user can write to")
    return directory


def incident_database(options: RunOptions, policy: Policy) -> str:
    """The incident store's database: ``--database``, else the policy's
    ``incidents.database``, else ``incidents.sqlite3`` in the state directory."""
    return options.database or policy.incidents.database \
        or str(Path(options.state_dir) / Path(DEFAULT_DATABASE).name)


def policy_loader(options: RunOptions) -> Callable[[str | Path | None], Policy]:
    """:func:`load_policy`, refusing (as ``govmilter validate`` does) a policy whose
    ``incidents.database`` the store cannot use, unless ``--database`` overrides it: a reload
    that would move the store there is refused like any invalid file, and the running policy
    and store are kept."""
    def load(path: str | Path | None) -> Policy:
        policy = load_policy(path)
        if options.database is None and policy.incidents.database is not None:
            try:
                database_url(policy.incidents.database)
            except StoreError as exc:
                raise PolicyError([PolicyProblem(policy.source.path, _database_line(path),
                                                 f"incidents.database: {exc}")]) from None
        return policy
    return load


def _database_line(path: str | Path | None) -> int:
    """The line of the policy file's first ``database:`` key (1 when none is found)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines() if path else []
    except (OSError, UnicodeDecodeError):
        lines = []
    return next((n for n, line in enumerate(lines, 1)
                 if line.strip().startswith("database:")), 1)


def follow_incident_database(options: RunOptions, writer: IncidentWriter | None,
                             policy: Policy) -> None:
    """After a reload: move the incident writer to the policy's ``incidents.database`` when it
    changed (see :meth:`IncidentWriter.switch`; :func:`policy_loader` refused a database that
    cannot be used)."""
    if writer is None:
        return
    database = incident_database(options, policy)
    if database != writer.database and writer.switch(database):
        log.info("incidents.database changed by the reload: the incident store moves from %s "
                 "to %s at the writer's next flush", describe_database(writer.database),
                 describe_database(database))


def start_incident_writer(options: RunOptions, policy: Policy, metrics: Metrics
                          ) -> IncidentWriter | None:
    """The incident writer on the store named by the options or the policy (its database is
    opened by the writer's thread: a store that is down at start-up delays nothing); None for
    ``--database off``."""
    if options.database == NO_STORE:
        log.warning("incident store off (--database %s): no incidents and no daily counts are "
                    "kept", NO_STORE)
        return None
    state = Path(options.state_dir)
    database = incident_database(options, policy)
    try:
        database_url(database)
    except StoreError as exc:
        raise DaemonError(f"incidents.database: {exc}") from None
    try:
        writer = IncidentWriter(database, state / "journal", socket.gethostname(), metrics)
    except OSError as exc:
        raise DaemonError(f"cannot use the state directory {state}: "
                          f"{exc.strerror or exc}") from None
    log.info("incident store %s (journal %s, %d record(s) waiting)", describe_database(database),
             writer.journal.directory, writer.journal.pending)
    return writer.start()


def run(options: RunOptions, classifier_factory: ClassifierFactory | None = None,
        metrics: Metrics | None = None) -> int:
    """Run the milter until SIGTERM or SIGINT (clean stop: 0); SIGHUP and SIGUSR1 reload.

    ``classifier_factory`` builds the address classifier for each policy; by default the lists
    plus DNS checks (when the policy's ``dns.enabled``), with each lookup timed in ``metrics``.

    :raises DaemonError: on a start-up error (the CLI prints it and exits 2).
    :raises PolicyError: when the policy is invalid.
    """
    # before anything can start a thread (see the module docstring)
    block_signals()
    fix_malloc_thresholds()  # before the first message: see govmilter/server/allocator.py
    setup_logging(options.syslog, options.verbose, options.syslog_socket)
    metrics = metrics if metrics is not None else Metrics()
    if classifier_factory is None:
        classifier_factory = DnsClassifierFactory(on_lookup=metrics.dns_lookup)
    workers = default_workers() if options.scan_workers is None else options.scan_workers
    socket_path = unix_socket_path(options.socket)
    if socket_path is not None:
        prepare_socket_dir(socket_path, options.user)
    # The scan workers start while the daemon is still root (their interpreter may be readable
    # by root alone) and switch to the same user themselves.
    scanner = ScanPool(max(0, workers), options.scan_inline_below, user=options.user,
                       max_rss=options.scan_worker_memory << 20, events=metrics,
                       ocr_workers=options.ocr_workers, ocr_nice=options.ocr_nice)
    metrics.watch_scan_pool(scanner)
    try:
        try:
            scanner.start()
        except ScanFailed as exc:
            raise DaemonError(f"cannot start the scan workers: {exc}") from None
        return _serve(options, scanner, metrics, classifier_factory, socket_path)
    finally:
        # also on a start-up error (bad policy, busy metrics port): a pool left running makes
        # the interpreter's exit hook write to a closed pipe
        scanner.close()


def _check_ocr(workers: int) -> bool:
    """Whether scans and images can be read; when not, say why in one line.

    The check lists Tesseract's language data in a child process: OCR runs in the scan
    workers only, and this process does not load Tesseract's library.
    """
    if workers == 0:
        log.warning("OCR off: --scan-workers 0 scans in the milter process, which never runs "
                    "OCR; scanned documents and images are 'unscannable'")
        return False
    status = ocr_status_apart()
    if not status.available:
        log.warning("OCR unavailable: %s; scanned documents and images are 'unscannable'",
                    status.detail)
    return status.available


def _serve(options: RunOptions, scanner: ScanPool, metrics: Metrics,
           classifier_factory: ClassifierFactory, socket_path: Path | None) -> int:
    """Everything after the scan workers started: drop privileges, load, listen until stopped."""
    if options.user is not None:
        drop_privileges(options.user)
    elif os.geteuid() == 0:
        log.warning("running as root (group %s): use --user or the systemd unit in production",
                    _group_name(os.getgid()))
    if socket_path is not None:
        warn_if_postfix_cannot_connect(socket_path, options.socket_mode)
    spool_dir = check_spool_dir(options.spool_dir)
    # an invalid policy raises PolicyError here: the daemon refuses to start
    incidents: IncidentWriter | None = None  # started below; a reload before then changes none

    def reloaded(new: Policy) -> None:
        metrics.policy_loaded(new)
        follow_incident_database(options, incidents, new)
    holder = PolicyHolder(options.policy, loader=policy_loader(options), on_load=reloaded,
                          on_failure=metrics.policy_reload_failed)
    metrics.policy_loaded(holder.policy, initial=True)
    metrics_address = "off"
    if options.metrics is not None:
        host, port = parse_host_port(options.metrics)
        try:
            server, _ = start_metrics_server(metrics, host, port)
        except OSError as exc:
            raise DaemonError(f"cannot serve metrics on {options.metrics}: {exc}") from None
        metrics_address = f"{host}:{server.server_port}"
    ocr = _check_ocr(scanner.workers)
    metrics.ocr_available.set(1 if ocr else 0)
    policy = holder.policy
    for warning in policy.warnings:
        log.warning("policy: %s", warning)
    if options.watch_interval > 0:
        holder.start_file_watch(options.watch_interval)
    # Every milter callback needs the GIL; a thread waiting for it waits up to the switch
    # interval while another thread runs Python, and a message makes over a dozen callbacks,
    # so a shorter interval than Python's default (docs/performance.md has the measurements).
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)
    incidents = start_incident_writer(options, policy, metrics)
    follow_incident_database(options, incidents, holder.policy)  # a reload meanwhile
    notices = Notifier(metrics).start()
    runtime = MilterRuntime(lambda: holder.policy, metrics, classifier_factory, scanner=scanner,
                            spool_dir=spool_dir, incidents=incidents, notices=notices)
    Milter.factory = milter_factory(runtime)
    Milter.set_flags(MILTER_ACTIONS)
    log.info("govmilter %s starting: policy=%s sha256=%s mode=%s socket=%s metrics=%s "
             "scan_workers=%d ocr_workers=%d spool=%s ocr=%s pid=%d", __version__,
             policy.source.path, policy.source.sha256, policy.mode, options.socket,
             metrics_address, scanner.workers, scanner.ocr_workers, spool_dir,
             "on" if ocr else "off", os.getpid())
    # libmilter creates the socket with the process umask
    os.umask(0o777 & ~options.socket_mode)
    try:
        # inet: Nagle off on every accepted connection (see govmilter.server.transport)
        open_listener_without_nagle(MILTER_NAME, options.socket)
        ended_by = serve_until_stopped(
            lambda: Milter.runmilter(MILTER_NAME, options.socket, timeout=600),
            options.socket, holder.reload)
    except (Milter.milter.error, OSError) as exc:
        raise DaemonError(f"milter failed on {options.socket}: {exc}") from None
    finally:
        holder.stop()
        if incidents is not None:
            incidents.stop()
        notices.stop()
    log.info("govmilter stopped (%s)", ended_by)
    return 0
