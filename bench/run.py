"""The govmilter benchmark on a real Postfix: one command, a table, a JSON file.

    python -m bench.run                # full run (about 10-15 minutes on 2 cores)
    python -m bench.run --quick        # smoke run (under 2 minutes)
    python -m bench.run drift          # RSS drift of govmilter over 20,000 messages

For every message mix and session count, one private Postfix per configuration receives the
same load (``smtp-source``; bench/sender.py for the attachment mixes, whose every message is
a different document) and relays it to ``smtp-sink``:

- ``postfix``: no milter (a);
- ``passthrough``: a pymilter that reads everything and accepts everything (b, bench/passthrough);
- ``passthrough-noreply``: the same, negotiating no replies to headers and body chunks as
  govmilter does (only with ``--configs``): what that protocol saving alone is worth;
- ``passthrough-c``, ``passthrough-c-noreply``: the same two in C against libmilter
  (bench/passthrough.c, compiled with ``cc`` on first use; only with ``--configs``): what the
  milter protocol costs Postfix with no Python at all;
- ``passthrough-c-minimal``: that C milter asking for the least a content milter can work with
  (envelope, headers and body, no reply before end of message): the floor of any content milter;
- ``rspamd``: the peer an agency would install instead, rspamd from Debian (installed on first
  use) as a milter with the packaged rules, a free-webmail recipient multimap and no network
  lookups (bench/peer.py, configuration in bench/rspamd/; only with ``--configs``);
- ``govmilter``: govmilter on the default policy over a unix socket (c);
- ``govmilter-inet``: the same over ``inet:`` on loopback (d);
- ``govmilter-1cpu``: (c) with attachment extraction in the milter process, no worker pool
  (only where the pool is available), to show what the second core brings;
- ``govmilter-no-ocr-lane``: (c) with the scan workers reading scans themselves, no OCR lane
  (only with ``--configs``), to show what the lane brings; ``govmilter-ocr-nice0``: (c) with
  the OCR workers at the same CPU priority as the rest (only with ``--configs``), to show what
  their lower priority brings;
- ``govmilter-nostore``: (c) with ``--database off``, no incident store (only with
  ``--configs``): the ratio ``cpu store/nostore`` shows what the incident writer costs;
- ``govmilter-inline``: (c) with messages under 64 KiB scanned in the milter process
  (``--scan-inline-below 65536``; only with ``--configs``): ``pool/inline`` and
  ``cpu pool/inline`` show what handing plain mail to a worker brings or costs;
- ``govmilter@NAME`` (``--tree NAME=PATH``): (c) as the checkout at PATH has it, another
  commit's, in the same rounds.

The mix ``plain-scans`` (only with ``--mixes``) is phases in one run rather than one load:
plain mail alone, plain mail while scans arrive, scans with the OCR cache cold and warm
(:func:`run_scan_lane`; docs/ocr.md).

Every run checks that the sink received every message sent; a run that lost mail is marked
``LOST`` and its ratios are not trusted. Timings are results, never assertions: other work on
the machine moves absolute numbers, which is why ratios are taken within one run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

from postfix_harness import (
    PrivatePostfix,
    RunningMilter,
    checkout_env,
    free_port,
    port_open,
    stop_process,
    wait_until,
)

from bench.messages import RECIPIENT, SENDER, MessageKind, write_messages
from bench.peer import rspamd_binary, running_rspamd
from bench.sender import Progress, send_all
from govmilter.policy.loader import default_policy_path

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(tempfile.gettempdir()) / "govmilter-bench-messages"
#: Postfix processes per service: room for 50 sessions in and 50 deliveries out at once.
PROCESS_LIMIT = 120

#: Messages per run (full mode) for each mix; --quick divides them. ``plain-scans``: plain
#: messages per phase (see run_scan_lane).
FULL_COUNTS = {"plain": 3000, "pdf": 600, "docx": 150, "pdf-60": 60, "scan": 40,
               "plain-scans": 1000}
QUICK_COUNTS = {"plain": 300, "pdf": 60, "docx": 20, "pdf-60": 60, "scan": 8,
                "plain-scans": 100}
#: The mix that measures the OCR lane: plain mail alone, then plain mail while scans arrive.
SCAN_LANE_MIX = "plain-scans"
#: The mixes run when ``--mixes`` names none: all but ``plain-scans``, which takes minutes of OCR.
DEFAULT_MIXES = tuple(mix for mix in FULL_COUNTS if mix != SCAN_LANE_MIX)
#: One scan arrives after every this many plain messages in ``plain-scans``.
PLAIN_PER_SCAN = 20
#: ``plain-scans`` then sends this many other scans (cold OCR cache), then one of them as often
#: again (warm cache), one after another.
CACHE_SCANS = 6
#: Sessions sending the scans that arrive with plain mail: a scan waiting for OCR never holds a
#: plain message's session, and the next scan is on its way meanwhile.
SCAN_SESSIONS = 2
#: Pages of each scanned letter (bench/messages.py, scanned_letter).
SCAN_PAGES = 2
#: The mixes sent by smtp-source (its C client costs the machine least); the others by
#: bench/sender.py.
SMTP_SOURCE_MIXES = frozenset({"plain"})
CONFIGS = ("postfix", "passthrough", "govmilter", "govmilter-inet", "govmilter-1cpu")
#: govmilter configurations by their extra ``govmilter run`` options; ``govmilter-no-ocr-lane``
#: reads scans in the scan workers themselves (only with ``--configs``), to show the lane's worth;
#: ``govmilter-nostore`` keeps no incident store (only with ``--configs``), to show what the
#: incident writer costs; ``govmilter-ocr-nice0`` runs the OCR workers at the priority of the
#: rest (only with ``--configs``), to show what their lower priority brings;
#: ``govmilter-inline`` scans messages under 64 KiB in the milter process (only with
#: ``--configs``), to show what handing small messages to a worker costs or brings.
GOVMILTER_OPTIONS = {"govmilter": [], "govmilter-inet": [],
                     "govmilter-1cpu": ["--scan-workers", "0"],
                     "govmilter-no-ocr-lane": ["--ocr-workers", "0"],
                     "govmilter-nostore": ["--database", "off"],
                     "govmilter-ocr-nice0": ["--ocr-nice", "0"],
                     "govmilter-inline": ["--scan-inline-below", "65536"]}
#: The C pass-through's option for each of its configurations (see bench/passthrough.c).
C_PASSTHROUGH_OPTIONS = {"passthrough-c": [], "passthrough-c-noreply": ["-n"],
                         "passthrough-c-minimal": ["-m"]}
#: Every configuration ``--configs`` accepts: the default matrix and the extra baselines.
KNOWN_CONFIGS = (*CONFIGS, "passthrough-noreply", *C_PASSTHROUGH_OPTIONS, "rspamd",
                 "govmilter-no-ocr-lane", "govmilter-nostore", "govmilter-ocr-nice0",
                 "govmilter-inline")


@dataclass
class RunResult:
    """One configuration under one load."""

    config: str
    mix: str
    sessions: int
    sent: int
    #: which round of ``--repeat`` this run belongs to (ratios are taken within a round)
    round: int
    received: int
    accepted_per_s: float
    delivered_per_s: float
    milter_p50_ms: float | None = None
    milter_p99_ms: float | None = None
    #: govmilter only: exact quantiles of the per-message log lines' ``seconds=`` (1 ms steps),
    #: where the histogram can only interpolate inside a bucket (100-250 ms, 250-500 ms, ...)
    milter_p50_log_ms: float | None = None
    milter_p99_log_ms: float | None = None
    milter_samples: int = 0
    #: govmilter only: how long messages waited for a free scan worker of the ordinary lane
    #: (``govmilter_scan_queue_wait_seconds``, interpolated inside a bucket), a part of the above
    scan_wait_p50_ms: float | None = None
    scan_wait_p99_ms: float | None = None
    #: the highest sum of the process tree's RSS (pages shared between forked processes count
    #: once per process) and of its PSS (each shared page divided among its sharers), sampled
    #: together every 0.2 s
    peak_rss_mb: float | None = None
    peak_pss_mb: float | None = None
    milter_cpu_ms_per_msg: float | None = None
    #: govmilter only: the share of the above spent in the milter process itself (receiving,
    #: spooling, handing over, deciding), the rest being its scan workers'; and the minor page
    #: faults per message of the milter process and of the whole tree (a megabyte buffer mapped
    #: afresh is 256 of them, each page zero-filled by the kernel)
    milter_process_cpu_ms_per_msg: float | None = None
    milter_process_faults_per_msg: float | None = None
    tree_faults_per_msg: float | None = None
    smtp_source_errors: str = ""
    #: ``plain-scans`` only: its phases' figures (see run_scan_lane)
    scan_lane: dict[str, float | int | None] | None = None

    @property
    def lossless(self) -> bool:
        """True when the sink received every message sent."""
        return self.received == self.sent and not self.smtp_source_errors


@dataclass
class Report:
    """Everything one benchmark invocation measured."""

    command: str
    machine: dict[str, str]
    #: main.cf settings added to every private Postfix (``--postfix``); none by default
    postfix_settings: dict[str, str] = field(default_factory=dict)
    runs: list[RunResult] = field(default_factory=list)
    ratios: list[dict[str, object]] = field(default_factory=list)
    drift: dict[str, object] | None = None


# ---- measuring ----------------------------------------------------------------------------

def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (the scanning worker processes)."""
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    stack.extend(int(c) for c in children.read().split())
        except (OSError, ValueError):
            continue
    return found


def _process_tree_memory(pid: int, proc_file: str, field: str) -> int:
    """The sum (bytes) of ``field`` in ``/proc/PID/proc_file`` over ``pid`` and its descendants."""
    total = 0
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/{proc_file}") as lines:
                for line in lines:
                    if line.startswith(field):
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, ValueError):
            continue
    return total


def process_tree_rss(pid: int) -> int:
    """Resident memory (bytes) of ``pid`` and all its descendants."""
    return _process_tree_memory(pid, "status", "VmRSS:")


def process_tree_pss(pid: int) -> int:
    """Proportional memory (bytes) of ``pid`` and all its descendants: each page shared between
    processes (a forked rspamd's, libraries' pages) counted once in all, not once per process
    as RSS counts it (``Pss:`` of ``/proc/PID/smaps_rollup``)."""
    return _process_tree_memory(pid, "smaps_rollup", "Pss:")


@dataclass(frozen=True)
class ProcessCounters:
    """CPU seconds (user + system) and minor page faults, from ``/proc/PID/stat``."""

    cpu: float = 0.0
    faults: int = 0

    def __add__(self, other: ProcessCounters) -> ProcessCounters:
        return ProcessCounters(self.cpu + other.cpu, self.faults + other.faults)

    def __sub__(self, other: ProcessCounters) -> ProcessCounters:
        return ProcessCounters(self.cpu - other.cpu, self.faults - other.faults)


def process_counters(pid: int, children: bool = True) -> ProcessCounters:
    """``pid``'s counters so far; with ``children``, plus those of its descendants that already
    ended and were waited for (``cutime``/``cstime``, ``cminflt``). Zero when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        cpu, faults = sum(int(v) for v in fields[11:13]), int(fields[7])
        if children:
            cpu, faults = cpu + sum(int(v) for v in fields[13:15]), faults + int(fields[8])
        return ProcessCounters(cpu / ticks, faults)
    except (OSError, ValueError, IndexError):
        return ProcessCounters()


def process_tree_counters(pid: int) -> ProcessCounters:
    """The counters of ``pid`` and its living descendants, plus the descendants that already
    ended and were waited for."""
    return sum((process_counters(member) for member in process_tree(pid)), ProcessCounters())


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and its living descendants, plus
    the descendants that already ended and were waited for (``cutime``/``cstime``)."""
    return process_tree_counters(pid).cpu


class RssSampler:
    """Samples a process tree's RSS and PSS in a thread; ``peak`` and ``peak_pss`` are the
    largest samples."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self.peak_pss = 0
        self.last = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.last = process_tree_rss(self.pid)
            self.peak = max(self.peak, self.last)
            self.peak_pss = max(self.peak_pss, process_tree_pss(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def histogram(metrics_port: int, name: str, labels: Mapping[str, str] | None = None
              ) -> list[tuple[float, float]]:
    """The cumulative buckets ``(upper bound, count)`` of histogram ``name`` (of the series
    with these ``labels``), sorted."""
    from prometheus_client.parser import text_string_to_metric_families

    url = f"http://127.0.0.1:{metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    buckets = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == f"{name}_bucket" and all(
                    sample.labels.get(key) == value for key, value in (labels or {}).items()):
                buckets.append((float(sample.labels["le"]), sample.value))
    return sorted(buckets)


def quantile(buckets: Sequence[tuple[float, float]], q: float) -> float | None:
    """``histogram_quantile``: linear interpolation inside the bucket holding quantile ``q``."""
    if not buckets or buckets[-1][1] == 0:
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower_bound
            width = count - lower_count
            return lower_bound + (bound - lower_bound) * ((rank - lower_count) / width
                                                          if width else 1.0)
        lower_bound, lower_count = bound, count
    return lower_bound


_SECONDS_RE = re.compile(r" qid=\S+ .* class=(\S+) .* seconds=(\d+\.\d+)(?= |$)", re.MULTILINE)


def log_quantiles(log: str, qs: Sequence[float], plain: bool | None = None
                  ) -> list[float | None]:
    """Nearest-rank quantiles of the ``seconds=`` of govmilter's per-message log lines: of all,
    or (``plain``) of those whose class is ``none`` (plain mail) or of the others."""
    times = sorted(float(m.group(2)) for m in _SECONDS_RE.finditer(log)
                   if plain is None or (m.group(1) == "none") is plain)
    if not times:
        return [None for _ in qs]
    return [times[min(len(times) - 1, max(0, math.ceil(q * len(times)) - 1))] for q in qs]


# ---- the milters ----------------------------------------------------------------------------

@dataclass
class Milter:
    """A running milter process: its Postfix address and where its histogram is."""

    pid: int | None
    postfix_spec: str | None
    metrics_port: int | None
    histogram_name: str
    log: Callable[[], str] | None = None  #: govmilter's log so far (per-message lines)
    #: messages the milter itself says it scanned (rspamd: its per-message log lines)
    scanned: Callable[[], int] | None = None


#: ``--tree NAME=PATH``: the checkouts whose govmilter runs as configuration ``govmilter@NAME``
OTHER_TREES: dict[str, Path] = {}


def tree_policy(policy: Path, root: Path) -> Path:
    """``policy`` for the checkout at ``root``: made from that checkout's own default policy
    (an older commit may not read today's), with DNS switched as in ``policy``."""
    if root == REPO:
        return policy
    own = root / "govmilter" / "policies" / "default.yaml"
    if policy == default_policy_path():  # --dns system: as shipped
        return own
    path = policy.with_name(f"{policy.stem}-{root.name}.yaml")
    if not path.exists():
        path.write_text(_dns_off(own.read_text()))
    return path


def _dns_off(text: str) -> str:
    """A policy's text with its DNS classification switched off."""
    switched = text.replace("dns:\n  enabled: true", "dns:\n  enabled: false", 1)
    if switched == text:
        raise SystemExit("bench: the default policy no longer has 'dns:\\n  enabled: true'; "
                         "update bench.run.bench_policy")
    return switched


def bench_policy(workdir: Path, dns: str) -> Path:
    """The default policy, with DNS classification switched as ``--dns`` says.

    ``off`` (the default): the benchmark's domains (mic.gov.vn, gmail.com) are classified by
    the lists alone. With DNS on, every official sender costs lookups of its domain and of
    gov.vn (cached for negative_ttl, retried after failure_ttl), so the figures would measure
    the machine's resolver (fast NXDOMAIN in a sandbox, a 1 s time-out when unreachable).
    ``system``: the default policy as shipped (dns.enabled with /etc/resolv.conf).
    """
    if dns == "system":
        return default_policy_path()
    path = workdir / "policy-dns-off.yaml"
    path.write_text(_dns_off(default_policy_path().read_text()))
    return path


#: govmilter's log line once its incident writer has opened (and migrated) the store
_STORE_OPEN_RE = re.compile(r"incident store \S+ open$", re.MULTILINE)


@contextmanager
def milter_for(config: str, workdir: Path, policy: Path) -> Iterator[Milter]:
    """Start the milter of ``config`` (none for ``postfix``), stop it afterwards.

    govmilter runs through the tests' :class:`RunningMilter` (as root, no ``--user``: the
    scanning code is the same, and Postfix reaches the socket through ``--socket-mode 666``).
    """
    if config == "postfix":
        yield Milter(None, None, None, "")
        return
    if config == "rspamd":
        with running_rspamd(workdir / "rspamd") as rspamd:
            yield Milter(rspamd.process.pid, rspamd.postfix_spec, None, "",
                         scanned=rspamd.scanned)
        return
    if not config.startswith("passthrough"):
        name, _, tree = config.partition("@")
        root = OTHER_TREES[tree] if tree else REPO
        with RunningMilter(workdir / config, tree_policy(policy, root), GOVMILTER_OPTIONS[name],
                           inet=config.endswith("-inet"), root=root) as milter:
            if "--database" not in GOVMILTER_OPTIONS[name] and milter.has_option("--database"):
                # its store is opened (a new one migrated) at start-up, not in the measurement
                wait_until(lambda: _STORE_OPEN_RE.search(milter.log()) is not None, 60,
                           "the incident store to open")
            yield Milter(milter.pid, milter.postfix_spec, milter.metrics_port,
                         "govmilter_processing_seconds", milter.log)
        return
    socket_path = workdir / "passthrough.sock"
    if config in C_PASSTHROUGH_OPTIONS:
        command = [str(c_passthrough()), "-p", f"unix:{socket_path}",
                   *C_PASSTHROUGH_OPTIONS[config]]
        with _process(command, workdir / "passthrough.log") as process:
            wait_until(socket_path.exists, 30, "the C pass-through milter to listen")
            yield Milter(process.pid, f"unix:{socket_path}", None, "")
        return
    metrics_port = free_port()
    command = [sys.executable, "-m", "bench.passthrough", "--socket", f"unix:{socket_path}",
               "--metrics-port", str(metrics_port),
               *(["--noreply"] if config == "passthrough-noreply" else [])]
    with _process(command, workdir / "passthrough.log") as process:
        wait_until(lambda: port_open(metrics_port) and socket_path.exists(), 30,
                   "the pass-through milter to listen")
        yield Milter(process.pid, f"unix:{socket_path}", metrics_port,
                     "passthrough_processing_seconds")


@contextmanager
def _process(command: list[str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run a pass-through milter, output to ``log_path``; stop it afterwards."""
    with log_path.open("wb") as log:
        # umask 0: the milter runs as root and Postfix as "postfix"; the socket must be writable
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                   env=checkout_env(), cwd=REPO, preexec_fn=lambda: os.umask(0))
    try:
        yield process
    finally:
        stop_process(process, 20)


def c_passthrough() -> Path:
    """bench/passthrough.c compiled (once per change of the source) into the message cache.

    :raises RuntimeError: with the compiler's message when it cannot be built (``cc`` and
        libmilter-dev are in scripts/setup.sh's packages).
    """
    source = REPO / "bench" / "passthrough.c"
    binary = CACHE / "passthrough-c"
    if binary.exists() and binary.stat().st_mtime >= source.stat().st_mtime:
        return binary
    CACHE.mkdir(parents=True, exist_ok=True)
    compiler = os.environ.get("CC", "cc")
    built = subprocess.run([compiler, "-O2", "-o", str(binary), str(source), "-lmilter",
                            "-pthread"], capture_output=True, text=True)
    if built.returncode:
        raise RuntimeError(f"cannot build {source.name} with {compiler}:\n{built.stderr}")
    return binary


def private_postfix(run_dir: Path, milter: Milter,
                    settings: Mapping[str, str] | None = None) -> PrivatePostfix:
    """The tests' private Postfix, sized for the load: counting sink, 120 processes.

    ``settings`` (``--postfix NAME=VALUE``) are added to its main.cf, e.g. ``in_flow_delay=0``.
    """
    return PrivatePostfix(run_dir / "postfix", milter.postfix_spec, sink_dumps=False,
                          process_limit=PROCESS_LIMIT,
                          main={"message_size_limit": str(50 * 1024 * 1024), **(settings or {})})


def known_names(what: str, known: Sequence[str]) -> Callable[[str], str]:
    """An argparse type: a comma list of names among ``known``, checked before anything runs."""
    def check(text: str) -> str:
        unknown = [c for c in text.split(",") if c and c not in known]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {what} {', '.join(unknown)}; known: "
                                             f"{', '.join(known)}")
        return text
    return check


config_list = known_names("configuration", KNOWN_CONFIGS)
mix_list = known_names("mix", tuple(FULL_COUNTS))


def postfix_setting(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` of ``--postfix``, as a pair."""
    name, sep, value = text.partition("=")
    if not sep or not re.fullmatch(r"[a-z0-9_]+", name.strip()):
        raise argparse.ArgumentTypeError(f"expected a main.cf NAME=VALUE, got {text!r}")
    return name.strip(), value.strip()


def tree_setting(text: str) -> tuple[str, Path]:
    """``NAME=PATH`` of ``--tree``: a name and a govmilter checkout."""
    name, sep, path = text.partition("=")
    root = Path(path).expanduser().resolve()
    if not sep or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {text!r}")
    if not (root / "govmilter" / "__main__.py").is_file():  # any layout: `python -m govmilter run`
        raise argparse.ArgumentTypeError(f"{root} is not a govmilter checkout")
    return name, root


# ---- one run --------------------------------------------------------------------------------

def run_once(config: str, kind: MessageKind, count: int, sessions: int, workdir: Path,
             policy: Path, round_number: int = 0,
             postfix_settings: Mapping[str, str] | None = None) -> RunResult:
    """Send ``count`` messages of ``kind`` over ``sessions`` parallel SMTP sessions."""
    run_dir = workdir / f"{config}-{kind.name}-{sessions}-{round_number}"
    run_dir.mkdir(parents=True)
    run_dir.chmod(0o755)  # Postfix's daemons (user postfix) walk into it
    with milter_for(config, run_dir, policy) as milter, \
            private_postfix(run_dir, milter, postfix_settings) as postfix:
        sampler = RssSampler(milter.pid) if milter.pid else None
        tree_before = process_tree_counters(milter.pid) if milter.pid else ProcessCounters()
        own_before = process_counters(milter.pid, children=False) if milter.pid else (
            ProcessCounters())
        with sampler or _nothing():
            started = time.monotonic()
            errors = send(kind, count, sessions, postfix.smtp_port)
            accepted = time.monotonic() - started
            received = postfix.wait_for_count(count, timeout=600)
            delivered = time.monotonic() - started
        result = RunResult(
            config=config, mix=kind.name, sessions=sessions, sent=count, round=round_number,
            received=received,
            accepted_per_s=round(count / accepted, 1),
            delivered_per_s=round(received / delivered, 1),
            smtp_source_errors=errors)
        if milter.metrics_port:
            buckets = histogram(milter.metrics_port, milter.histogram_name)
            result.milter_samples = int(buckets[-1][1]) if buckets else 0
            p50, p99 = quantile(buckets, 0.5), quantile(buckets, 0.99)
            result.milter_p50_ms = round(p50 * 1000, 1) if p50 is not None else None
            result.milter_p99_ms = round(p99 * 1000, 1) if p99 is not None else None
            if milter.histogram_name == "govmilter_processing_seconds":
                waits = histogram(milter.metrics_port, "govmilter_scan_queue_wait_seconds",
                                  {"lane": "ordinary"})
                result.scan_wait_p50_ms, result.scan_wait_p99_ms = (
                    None if q is None else round(q * 1000, 1)
                    for q in (quantile(waits, 0.5), quantile(waits, 0.99)))
        if milter.scanned is not None:
            result.milter_samples = milter.scanned()
        if milter.log is not None:
            exact = log_quantiles(milter.log(), (0.5, 0.99))
            result.milter_p50_log_ms, result.milter_p99_log_ms = (
                None if q is None else round(q * 1000, 1) for q in exact)
        if sampler and milter.pid:
            result.peak_rss_mb = round(sampler.peak / 2**20, 1)
            result.peak_pss_mb = round(sampler.peak_pss / 2**20, 1)
            tree = process_tree_counters(milter.pid) - tree_before
            own = process_counters(milter.pid, children=False) - own_before
            per_message = max(1, received)
            result.milter_cpu_ms_per_msg = round(tree.cpu * 1000 / per_message, 2)
            result.tree_faults_per_msg = round(tree.faults / per_message, 1)
            if config.startswith("govmilter"):
                result.milter_process_cpu_ms_per_msg = round(own.cpu * 1000 / per_message, 2)
                result.milter_process_faults_per_msg = round(own.faults / per_message, 1)
    return result


def send(kind: MessageKind, count: int, sessions: int, port: int) -> str:
    """Send ``count`` messages of ``kind`` over ``sessions`` sessions; the sender's errors.

    Plain mail goes through ``smtp-source``; the attachment mixes through bench/sender.py,
    which sends them the same way but can send a different document in each message
    (smtp-source repeats one file), so that ``pdf`` and ``pdf-60`` differ only in their
    documents.
    """
    if kind.name not in SMTP_SOURCE_MIXES:
        return "\n".join(send_all(port, kind.files, count, sessions, SENDER, RECIPIENT))[-500:]
    source = subprocess.run(
        ["smtp-source", "-s", str(sessions), "-m", str(count), "-f", SENDER, "-t", RECIPIENT,
         "-F", str(kind.path), f"127.0.0.1:{port}"], capture_output=True, text=True,
        timeout=1800)
    return source.stderr.strip()[-500:] if source.returncode else ""


def _milter_share(result: RunResult) -> str:
    """`` (milter process X ms, F faults; tree F faults)`` for a govmilter run, else nothing."""
    if result.milter_process_cpu_ms_per_msg is None:
        return ""
    return (f" (milter process {result.milter_process_cpu_ms_per_msg} ms, "
            f"{result.milter_process_faults_per_msg:g} faults; tree "
            f"{result.tree_faults_per_msg:g} faults)")


def _scan_wait(result: RunResult) -> str:
    """``scan wait p50/p99 A/B ms `` for govmilter's runs, else nothing."""
    if result.scan_wait_p99_ms is None:
        return ""
    return f"scan wait p50/p99 {result.scan_wait_p50_ms}/{result.scan_wait_p99_ms} ms "


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def scans_needed(count: int) -> int:
    """The different scanned letters ``plain-scans`` sends with ``count`` plain messages."""
    return max(1, count // PLAIN_PER_SCAN) + CACHE_SCANS


def run_scan_lane(config: str, plain: MessageKind, scans: MessageKind, count: int,
                  sessions: int, workdir: Path, policy: Path, round_number: int = 0,
                  postfix_settings: Mapping[str, str] | None = None) -> RunResult:
    """The OCR lane's worth, in one run of one milter, phase after phase:

    1. ``count`` plain messages over ``sessions`` sessions: plain mail's time in the milter;
    2. ``count`` plain messages again while scanned letters arrive, one after every
       PLAIN_PER_SCAN plain messages (over SCAN_SESSIONS sessions of their own, so a scan
       waiting for OCR never holds a plain session): plain mail's time now, and the scans';
    3. CACHE_SCANS other scans, one after another: scans per second and the milter's CPU per
       scanned page, the OCR cache cold (each a different document);
    4. the first of those again, CACHE_SCANS times: the same with the cache warm.

    Times in the milter come from govmilter's per-message log lines (class ``none``: the plain
    messages), so phases 1 and 2 compare within one run.
    """
    run_dir = workdir / f"{config}-{SCAN_LANE_MIX}-{sessions}-{round_number}"
    run_dir.mkdir(parents=True)
    run_dir.chmod(0o755)
    flood = max(1, count // PLAIN_PER_SCAN)
    figures: dict[str, float | int | None] = {"scans_with_plain": flood,
                                              "plain_per_scan": PLAIN_PER_SCAN}
    errors: list[str] = []
    with milter_for(config, run_dir, policy) as milter, \
            private_postfix(run_dir, milter, postfix_settings) as postfix:
        port, expected = postfix.smtp_port, 0
        started = time.monotonic()

        def phase(name: str, work: Callable[[], list[str]], sent: int) -> tuple[str, float, float]:
            """Run ``work`` (the sending), wait for its mail at the sink; its log, seconds and
            the milter's CPU seconds."""
            nonlocal expected
            before = milter.log() if milter.log else ""
            cpu = process_tree_cpu(milter.pid) if milter.pid else 0.0
            start = time.monotonic()
            errors.extend(f"{name}: {error}" for error in work())
            expected += sent
            postfix.wait_for_count(expected, timeout=900)
            seconds = time.monotonic() - start
            cpu = (process_tree_cpu(milter.pid) - cpu) if milter.pid else 0.0
            log = milter.log()[len(before):] if milter.log else ""
            return log, seconds, cpu

        def plain_mail(after: Callable[[int], None] | None = None) -> list[str]:
            return send_all(port, plain.files, count, sessions, SENDER, RECIPIENT, after=after)

        log, _, _ = phase("plain", plain_mail, count)
        figures["plain_alone_p50_ms"], figures["plain_alone_p99_ms"] = _ms(log, plain=True)

        def plain_and_scans() -> list[str]:
            progress = Progress()
            found: list[str] = []
            scanner = threading.Thread(target=lambda: found.extend(send_all(
                port, scans.files[:flood], flood, SCAN_SESSIONS, SENDER, RECIPIENT,
                before=lambda n: progress.wait_for(n * PLAIN_PER_SCAN + PLAIN_PER_SCAN // 2))))
            scanner.start()
            found.extend(plain_mail(after=progress.sent_one))
            scanner.join()
            return found

        log, _, _ = phase("plain+scans", plain_and_scans, count + flood)
        figures["plain_with_scans_p50_ms"], figures["plain_with_scans_p99_ms"] = \
            _ms(log, plain=True)
        figures["scan_with_plain_p50_ms"], figures["scan_with_plain_p99_ms"] = \
            _ms(log, plain=False)
        alone, loaded = figures["plain_alone_p99_ms"], figures["plain_with_scans_p99_ms"]
        figures["plain_p99_ratio"] = round(loaded / alone, 2) if alone and loaded else None
        for name, files in (("cold", scans.files[flood:flood + CACHE_SCANS]),
                            ("warm", scans.files[flood:flood + 1])):
            log, seconds, cpu = phase(f"scans, cache {name}", partial(
                send_all, port, files, CACHE_SCANS, 1, SENDER, RECIPIENT), CACHE_SCANS)
            figures[f"scans_per_s_cache_{name}"] = round(CACHE_SCANS / seconds, 2)
            figures[f"cpu_ms_per_page_cache_{name}"] = round(
                cpu * 1000 / (CACHE_SCANS * SCAN_PAGES), 1) if milter.pid else None
            figures[f"scan_p50_ms_cache_{name}"] = _ms(log, plain=False)[0]
        seconds = time.monotonic() - started
        received = postfix.received_count()
    sent = 2 * count + flood + 2 * CACHE_SCANS
    return RunResult(config=config, mix=SCAN_LANE_MIX, sessions=sessions, sent=sent,
                     round=round_number, received=received,
                     accepted_per_s=round(sent / seconds, 1),
                     delivered_per_s=round(received / seconds, 1),
                     milter_p50_log_ms=figures["plain_with_scans_p50_ms"],
                     milter_p99_log_ms=figures["plain_with_scans_p99_ms"],
                     smtp_source_errors="\n".join(errors)[-500:], scan_lane=figures)


def _ms(log: str, plain: bool) -> tuple[float | None, float | None]:
    """The p50 and p99 (ms) of the plain messages' or of the others' times in ``log``."""
    p50, p99 = (None if q is None else round(q * 1000, 1)
                for q in log_quantiles(log, (0.5, 0.99), plain=plain))
    return p50, p99


RATIO_PAIRS = {"govmilter/postfix": ("govmilter", "postfix"),
               "govmilter/passthrough": ("govmilter", "passthrough"),
               "passthrough/postfix": ("passthrough", "postfix"),
               "passthrough-c/postfix": ("passthrough-c", "postfix"),
               "passthrough-c-noreply/postfix": ("passthrough-c-noreply", "postfix"),
               "passthrough-c-minimal/postfix": ("passthrough-c-minimal", "postfix"),
               # issue #23's plain-mail floor: govmilter and a pymilter doing nothing over it
               "govmilter/passthrough-c-minimal": ("govmilter", "passthrough-c-minimal"),
               "passthrough/passthrough-c-minimal": ("passthrough", "passthrough-c-minimal"),
               "govmilter/passthrough-c-noreply": ("govmilter", "passthrough-c-noreply"),
               "govmilter/passthrough-noreply": ("govmilter", "passthrough-noreply"),
               "rspamd/postfix": ("rspamd", "postfix"),
               "govmilter/rspamd": ("govmilter", "rspamd"),
               "inet/unix": ("govmilter-inet", "govmilter"),
               "pool/1cpu": ("govmilter", "govmilter-1cpu"),
               "pool/inline": ("govmilter", "govmilter-inline")}
#: Ratios of CPU per message (``milter_cpu_ms_per_msg``), taken the same way: what the incident
#: store costs the milter's processes per message (target: under 1.05).
CPU_RATIO_PAIRS = {"cpu store/nostore": ("govmilter", "govmilter-nostore"),
                   "cpu pool/inline": ("govmilter", "govmilter-inline")}


def ratios(runs: Sequence[RunResult]) -> list[dict[str, object]]:
    """The issue's ratios per (mix, sessions), on accepted messages/s (and those of
    :data:`CPU_RATIO_PAIRS` on CPU per message).

    Each ratio is taken within one round (configurations run one after another, so a slow or
    fast spell of the machine moves both sides); with several rounds (``--repeat``) a ratio is
    the median of the rounds' ratios, and ``<label> range`` gives their lowest and highest.
    """
    out: list[dict[str, object]] = []
    # govmilter against each other checkout's (--tree), on throughput and on CPU per message
    trees = sorted({r.config for r in runs if "@" in r.config})
    pairs = {**RATIO_PAIRS, **{f"govmilter/{tree}": ("govmilter", tree) for tree in trees}}
    cpu_pairs = {**CPU_RATIO_PAIRS,
                 **{f"cpu govmilter/{tree}": ("govmilter", tree) for tree in trees}}
    # and on the milter process's own share of that CPU (the rest is its scan workers')
    process_pairs = {f"milter cpu govmilter/{tree}": ("govmilter", tree) for tree in trees}
    groups = sorted({(r.mix, r.sessions) for r in runs}, key=lambda g: (g[0], g[1]))
    for mix, sessions in groups:
        row: dict[str, object] = {"mix": mix, "sessions": sessions}
        rounds = sorted({r.round for r in runs if r.mix == mix and r.sessions == sessions})
        for label, (top, bottom), measure in (
                *((label, pair, "accepted_per_s") for label, pair in pairs.items()),
                *((label, pair, "milter_cpu_ms_per_msg") for label, pair in cpu_pairs.items()),
                *((label, pair, "milter_process_cpu_ms_per_msg")
                  for label, pair in process_pairs.items())):
            found = []
            for number in rounds:
                rate = {r.config: getattr(r, measure) for r in runs if r.mix == mix
                        and r.sessions == sessions and r.round == number and r.lossless}
                if rate.get(top) and rate.get(bottom):
                    found.append(rate[top] / rate[bottom])
            if found:
                row[label] = round(statistics.median(found), 2)
                if len(found) > 1:
                    row[f"{label} range"] = [round(min(found), 2), round(max(found), 2)]
        out.append(row)
    return out


# ---- output ---------------------------------------------------------------------------------

def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    def version(command: list[str]) -> str:
        try:
            return subprocess.run(command, capture_output=True, text=True).stdout.strip()
        except OSError:
            return "?"
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import Milter as milter_module
    return {
        "cpu": cpu, "cores": str(os.cpu_count()), "kernel": platform.release(),
        "python": platform.python_version(),
        "postfix": version(["postconf", "-h", "mail_version"]),
        "pymilter": str(milter_module.__version__),
        "load_before": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
        "memory": _memory_total(),
    }


def _memory_total() -> str:
    """Total memory as /proc/meminfo says it, in GiB."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except (OSError, ValueError):
        pass
    return "?"


def ratio_range(row: dict[str, object], label: str) -> str:
    """`` (low-high)`` over the rounds, when there were several."""
    spread = row.get(f"{label} range")
    return f" ({spread[0]}-{spread[1]})" if isinstance(spread, list) else ""


def print_table(report: Report) -> None:
    """The human-readable summary."""
    print(f"\n{'mix':6} {'sess':>4} {'r':>2} {'config':15} {'sent':>6} {'recv':>6} {'acc/s':>8} "
          f"{'dlv/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'p99 log':>7} {'RSS MB':>7} "
          f"{'PSS MB':>7} {'CPU ms':>7}")
    for r in report.runs:
        def num(value: float | None) -> str:
            return "-" if value is None else f"{value:g}"
        flag = "" if r.lossless else "  LOST"
        print(f"{r.mix:6} {r.sessions:>4} {r.round:>2} {r.config:15} {r.sent:>6} {r.received:>6} "
              f"{r.accepted_per_s:>8.1f} {r.delivered_per_s:>8.1f} {num(r.milter_p50_ms):>7} "
              f"{num(r.milter_p99_ms):>7} {num(r.milter_p99_log_ms):>7} {num(r.peak_rss_mb):>7} "
              f"{num(r.peak_pss_mb):>7} {num(r.milter_cpu_ms_per_msg):>7}{flag}")
    for r in report.runs:
        if r.scan_lane:
            print(scan_lane_line(r))
    print()
    for row in report.ratios:
        cells = "  ".join(f"{label}={row[label]}{ratio_range(row, label)}"
                          for label in row if label not in ("mix", "sessions")
                          and not label.endswith(" range"))
        print(f"{row['mix']:6} {row['sessions']:>4}  {cells}")
    if report.drift:
        print("\nRSS drift:", json.dumps(report.drift))


def scan_lane_line(run: RunResult) -> str:
    """The ``plain-scans`` figures of one run, in one line."""
    f = run.scan_lane or {}
    return (f"{run.mix} s={run.sessions} r={run.round} {run.config}: plain p50/p99 "
            f"{f['plain_alone_p50_ms']}/{f['plain_alone_p99_ms']} ms alone, "
            f"{f['plain_with_scans_p50_ms']}/{f['plain_with_scans_p99_ms']} ms while "
            f"{f['scans_with_plain']} scans arrived (1 per {f['plain_per_scan']}): p99 "
            f"x{f['plain_p99_ratio']}; scans {f['scans_per_s_cache_cold']}/s, "
            f"{f['cpu_ms_per_page_cache_cold']} ms CPU per page; the same scan again "
            f"{f['scans_per_s_cache_warm']}/s, {f['cpu_ms_per_page_cache_warm']} ms CPU per page")


# ---- commands -------------------------------------------------------------------------------

def pool_available() -> bool:
    """True when this checkout has the scanning worker pool (govmilter.server.workers)."""
    import importlib.util

    return importlib.util.find_spec("govmilter.server.workers") is not None


def new_report(args: argparse.Namespace) -> Report:
    """An empty report of this invocation: its command, the machine, the Postfix settings."""
    return Report(command=" ".join(["python -m bench.run", *sys.argv[1:]]), machine=machine(),
                  postfix_settings=dict(args.postfix))


def round_order(configs: Sequence[str], number: int) -> list[str]:
    """The order of the configurations in round ``number``: each round starts with another
    one (none always runs first), and odd rounds run backwards, so that no configuration always
    runs right after the same one (a rotation alone keeps every neighbour: whatever one run
    leaves behind on the machine would always weigh on the same next one)."""
    if number % 2 == 0:
        shift = number % len(configs)
        return [*configs[shift:], *configs[:shift]]
    shift = (number + 1) % len(configs)
    return [*reversed([*configs[shift:], *configs[:shift]])]


def benchmark(args: argparse.Namespace) -> Report:
    """The throughput matrix."""
    counts = dict(QUICK_COUNTS if args.quick else FULL_COUNTS)
    for mix in counts:
        counts[mix] = max(1, int(counts[mix] * args.scale))
    mixes = args.mixes.split(",")
    kinds = write_messages(CACHE, [m for m in mixes if m != SCAN_LANE_MIX], counts)
    if SCAN_LANE_MIX in mixes:  # the plain message and the scans of the scan mix
        lane = write_messages(CACHE, ("plain", "scan"),
                              {"scan": scans_needed(counts[SCAN_LANE_MIX])})
    configs = [c for c in args.configs.split(",") if c]
    OTHER_TREES.update(args.tree)
    configs += [f"govmilter@{name}" for name, _ in args.tree]
    if "govmilter-1cpu" in configs and not pool_available():
        configs.remove("govmilter-1cpu")
    if any(c in C_PASSTHROUGH_OPTIONS for c in configs):
        c_passthrough()  # a compiler error stops the run here, before any Postfix starts
    if "rspamd" in configs:
        rspamd_binary()  # installed (or its apt error raised) before any Postfix starts
    sessions_list = [int(s) for s in args.sessions.split(",")]
    report = new_report(args)
    with tempfile.TemporaryDirectory(prefix="govmilter-bench-") as tmp:
        workdir = Path(tmp)
        workdir.chmod(0o755)
        policy = bench_policy(workdir, args.dns)
        for mix in args.mixes.split(","):
            for sessions in sessions_list:
                for number in range(args.repeat):
                    for config in round_order(configs, number):
                        if mix == SCAN_LANE_MIX:
                            result = run_scan_lane(config, lane["plain"], lane["scan"],
                                                   counts[mix], sessions, workdir, policy,
                                                   number, report.postfix_settings)
                        else:
                            result = run_once(config, kinds[mix], counts[mix], sessions,
                                              workdir, policy, number, report.postfix_settings)
                        report.runs.append(result)
                        print(f"{mix:6} s={sessions:<3} r={number} {config:15} "
                              f"{result.accepted_per_s:8.1f}/s "
                              f"recv {result.received}/{result.sent} "
                              f"p99 {result.milter_p99_ms} ms (log {result.milter_p99_log_ms}) "
                              f"{_scan_wait(result)}rss {result.peak_rss_mb} MB "
                              f"pss {result.peak_pss_mb} MB "
                              f"cpu {result.milter_cpu_ms_per_msg} ms/msg"
                              f"{_milter_share(result)}", flush=True)
    report.ratios = ratios(report.runs)
    return report


def drift(args: argparse.Namespace) -> Report:
    """govmilter's RSS over ``--messages`` messages in batches: three plain, then one PDF."""
    kinds = write_messages(CACHE, ("plain", "pdf"))
    report = new_report(args)
    batches = max(2, args.messages // args.batch)
    samples: list[dict[str, object]] = []
    lost = 0
    with tempfile.TemporaryDirectory(prefix="govmilter-drift-") as tmp:
        workdir = Path(tmp)
        workdir.chmod(0o755)
        policy = bench_policy(workdir, args.dns)
        with milter_for("govmilter", workdir, policy) as milter, \
                private_postfix(workdir, milter, report.postfix_settings) as postfix:
            assert milter.pid is not None
            sent = 0
            with RssSampler(milter.pid) as sampler:
                for batch in range(batches):
                    kind = kinds["pdf" if batch % 4 == 3 else "plain"]
                    subprocess.run(
                        ["smtp-source", "-s", "10", "-m", str(args.batch), "-f", SENDER,
                         "-t", RECIPIENT, "-F", str(kind.path),
                         f"127.0.0.1:{postfix.smtp_port}"],
                        capture_output=True, timeout=1800)
                    sent += args.batch
                    received = postfix.wait_for_count(sent, timeout=600)
                    rss = process_tree_rss(milter.pid)
                    samples.append({"messages": sent, "rss_mb": round(rss / 2**20, 1)})
                    print(f"drift: {sent} messages, {received} received, "
                          f"RSS {rss / 2**20:.1f} MB", flush=True)
                peak, peak_pss = sampler.peak, sampler.peak_pss
            lost = sent - postfix.received_count()
    # Compare like with like: the batches cycle plain, plain, plain, PDF, and RSS after a PDF
    # batch is higher than after a plain one. Reference: the mean over the second cycle (the
    # first warms imports, caches and workers); final: the mean over the last cycle.
    cycle = 4
    rss_series = [float(str(sample["rss_mb"])) for sample in samples]
    reference_cycle = rss_series[cycle: 2 * cycle] or rss_series[:cycle]
    reference = sum(reference_cycle) / len(reference_cycle)
    final = sum(rss_series[-cycle:]) / len(rss_series[-cycle:])
    report.drift = {
        "messages": sent, "lost": lost, "reference_mb": round(reference, 1),
        "final_mb": round(final, 1),
        "drift_percent": round((final - reference) / reference * 100, 1),
        "peak_mb": round(peak / 2**20, 1), "peak_pss_mb": round(peak_pss / 2**20, 1),
        "samples": samples,
    }
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run, print the table and write the JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", nargs="?", default="throughput", choices=("throughput", "drift"))
    parser.add_argument("--quick", action="store_true", help="small counts, one session count")
    parser.add_argument("--mixes", type=mix_list, default=",".join(DEFAULT_MIXES),
                        help=f"comma list of {', '.join(FULL_COUNTS)} (default: all but "
                        f"{SCAN_LANE_MIX})")
    parser.add_argument("--sessions", default=None, help="comma list (default 10,50; quick 10)")
    parser.add_argument("--configs", type=config_list, default=",".join(CONFIGS),
                        help=f"comma list of {', '.join(KNOWN_CONFIGS)} (default: "
                        f"{','.join(CONFIGS)})")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply message counts")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="rounds of every configuration per load, in rotating order (odd "
                        "rounds backwards); ratios are the median of the rounds' (default 1)")
    parser.add_argument("--messages", type=int, default=20000, help="drift: messages in total")
    parser.add_argument("--batch", type=int, default=1000, help="drift: messages per batch")
    parser.add_argument("--json", type=Path, default=Path("bench-results.json"))
    parser.add_argument("--postfix", type=postfix_setting, action="append", default=[],
                        metavar="NAME=VALUE",
                        help="add this main.cf setting to every private Postfix (repeatable), "
                             "e.g. in_flow_delay=0")
    parser.add_argument("--tree", type=tree_setting, action="append", default=[],
                        metavar="NAME=PATH",
                        help="also run the govmilter of the checkout at PATH (another commit's "
                        "worktree) as configuration govmilter@NAME, in the same rounds "
                        "(repeatable); the JSON gives govmilter/govmilter@NAME on throughput "
                        "and on CPU per message")
    parser.add_argument("--dns", choices=("off", "system"), default="off",
                        help="govmilter's DNS classification: off (default; the lists alone) "
                        "or system (the default policy as shipped, /etc/resolv.conf)")
    args = parser.parse_args(argv)
    if args.sessions is None:
        args.sessions = "10" if args.quick else "10,50"
    if os.geteuid() != 0:
        print("bench: needs root (it starts private Postfix instances)", file=sys.stderr)
        return 2
    report = drift(args) if args.what == "drift" else benchmark(args)
    print_table(report)
    payload = asdict(report)
    for run, raw in zip(report.runs, payload["runs"], strict=True):
        raw["lossless"] = run.lossless
    args.json.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    print(f"\nJSON written to {args.json}")
    lost = [r for r in report.runs if not r.lossless]
    if report.drift and report.drift["lost"]:
        return 1
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
