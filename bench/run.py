"""The govmilter benchmark on a real Postfix: one command, a table, a JSON file.

    python -m bench.run                # full run (about 10-15 minutes on 2 cores)
    python -m bench.run --quick        # smoke run (under 2 minutes)
    python -m bench.run drift          # RSS drift of govmilter over 20,000 messages

For every message mix and session count, one private Postfix per configuration receives the
same ``smtp-source`` load and relays it to ``smtp-sink``:

- ``postfix``: no milter (a);
- ``passthrough``: a pymilter that reads everything and accepts everything (b, bench/passthrough);
- ``govmilter``: govmilter on the default policy over a unix socket (c);
- ``govmilter-inet``: the same over ``inet:`` on loopback (d);
- ``govmilter-1cpu``: (c) with attachment extraction in the milter process, no worker pool
  (only where the pool is available), to show what the second core brings.

Every run checks that the sink received every message sent; a run that lost mail is marked
``LOST`` and its ratios are not trusted. Timings are results, never assertions: other work on
the machine moves absolute numbers, which is why ratios are taken within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.messages import RECIPIENT, SENDER, MessageKind, write_messages
from bench.postfix import PrivatePostfix, SmtpSink, free_port, make_reachable, wait_for_port

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(tempfile.gettempdir()) / "govmilter-bench-messages"

#: Messages per run (full mode) for each mix; --quick divides them.
FULL_COUNTS = {"plain": 3000, "pdf": 600, "docx": 150}
QUICK_COUNTS = {"plain": 300, "pdf": 60, "docx": 20}
CONFIGS = ("postfix", "passthrough", "govmilter", "govmilter-inet", "govmilter-1cpu")


@dataclass
class RunResult:
    """One configuration under one load."""

    config: str
    mix: str
    sessions: int
    sent: int
    received: int
    accepted_per_s: float
    delivered_per_s: float
    milter_p50_ms: float | None = None
    milter_p99_ms: float | None = None
    milter_samples: int = 0
    peak_rss_mb: float | None = None
    milter_cpu_ms_per_msg: float | None = None
    smtp_source_errors: str = ""

    @property
    def lossless(self) -> bool:
        """True when the sink received every message sent."""
        return self.received == self.sent and not self.smtp_source_errors


@dataclass
class Report:
    """Everything one benchmark invocation measured."""

    command: str
    machine: dict[str, str]
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


def process_tree_rss(pid: int) -> int:
    """Resident memory (bytes) of ``pid`` and all its descendants."""
    total = 0
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, ValueError):
            continue
    return total


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and its living descendants, plus
    the descendants that already ended and were waited for (``cutime``/``cstime``)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += sum(int(v) for v in fields[11:15]) / ticks
        except (OSError, ValueError, IndexError):
            continue
    return total


class RssSampler:
    """Samples a process tree's RSS in a thread; ``peak`` is the largest sample."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self.last = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.last = process_tree_rss(self.pid)
            self.peak = max(self.peak, self.last)
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def histogram(metrics_port: int, name: str) -> list[tuple[float, float]]:
    """The cumulative buckets ``(upper bound, count)`` of histogram ``name``, sorted."""
    from prometheus_client.parser import text_string_to_metric_families

    url = f"http://127.0.0.1:{metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    buckets = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == f"{name}_bucket":
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


# ---- the milters ----------------------------------------------------------------------------

@dataclass
class Milter:
    """A running milter process: its Postfix address and where its histogram is."""

    process: subprocess.Popen[bytes] | None
    postfix_spec: str | None
    metrics_port: int | None
    histogram_name: str


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, **(extra or {})}


@contextmanager
def milter_for(config: str, workdir: Path) -> Iterator[Milter]:
    """Start the milter of ``config`` (none for ``postfix``), stop it afterwards."""
    if config == "postfix":
        yield Milter(None, None, None, "")
        return
    metrics_port = free_port()
    if config.endswith("-inet"):
        port = free_port()
        libmilter_spec, postfix_spec = f"inet:{port}@127.0.0.1", f"inet:127.0.0.1:{port}"
    else:
        socket_path = workdir / f"{config}.sock"
        libmilter_spec = postfix_spec = f"unix:{socket_path}"
    if config == "passthrough":
        command = [sys.executable, "-m", "bench.passthrough", "--socket", libmilter_spec,
                   "--metrics-port", str(metrics_port)]
        name = "passthrough_processing_seconds"
        extra: dict[str, str] = {}
    else:
        command = [sys.executable, "-m", "govmilter", "run", "--socket", libmilter_spec,
                   "--metrics", f"127.0.0.1:{metrics_port}", "--socket-mode", "666"]
        name = "govmilter_processing_seconds"
        if config == "govmilter-1cpu":  # scanning in the milter process: one core at most
            command += ["--scan-workers", "0"]
        extra = {}
    log = (workdir / f"{config}.log").open("wb")
    # The milter runs as root and Postfix as "postfix": the socket must be writable by all.
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=_env(extra),
                               cwd=REPO, preexec_fn=lambda: os.umask(0))
    try:
        wait_for_port(metrics_port, timeout=30)
        if libmilter_spec.startswith("unix:"):
            deadline = time.monotonic() + 30
            while not Path(libmilter_spec[5:]).exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        else:
            wait_for_port(int(libmilter_spec.split(":")[1].split("@")[0]), timeout=30)
        yield Milter(process, postfix_spec, metrics_port, name)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


# ---- one run --------------------------------------------------------------------------------

def run_once(config: str, kind: MessageKind, count: int, sessions: int, workdir: Path
             ) -> RunResult:
    """Send ``count`` messages of ``kind`` over ``sessions`` parallel SMTP sessions."""
    run_dir = workdir / f"{config}-{kind.name}-{sessions}"
    run_dir.mkdir(parents=True)
    make_reachable(run_dir)
    with milter_for(config, run_dir) as milter, SmtpSink(run_dir / "sink") as sink, \
            PrivatePostfix(run_dir / "postfix", sink.port, milter.postfix_spec) as postfix:
        sampler = RssSampler(milter.process.pid) if milter.process else None
        cpu_before = process_tree_cpu(milter.process.pid) if milter.process else 0.0
        with sampler or _nothing():
            started = time.monotonic()
            source = subprocess.run(
                ["smtp-source", "-s", str(sessions), "-m", str(count), "-f", SENDER,
                 "-t", RECIPIENT, "-F", str(kind.path), f"127.0.0.1:{postfix.smtp_port}"],
                capture_output=True, text=True, timeout=1800)
            accepted = time.monotonic() - started
            received = sink.wait_for(count, timeout=600)
            delivered = time.monotonic() - started
        result = RunResult(
            config=config, mix=kind.name, sessions=sessions, sent=count, received=received,
            accepted_per_s=round(count / accepted, 1),
            delivered_per_s=round(received / delivered, 1),
            smtp_source_errors=(source.stderr.strip()[-500:] if source.returncode else ""))
        if milter.metrics_port:
            buckets = histogram(milter.metrics_port, milter.histogram_name)
            result.milter_samples = int(buckets[-1][1]) if buckets else 0
            p50, p99 = quantile(buckets, 0.5), quantile(buckets, 0.99)
            result.milter_p50_ms = round(p50 * 1000, 1) if p50 is not None else None
            result.milter_p99_ms = round(p99 * 1000, 1) if p99 is not None else None
        if sampler and milter.process:
            result.peak_rss_mb = round(sampler.peak / 2**20, 1)
            cpu = process_tree_cpu(milter.process.pid) - cpu_before
            result.milter_cpu_ms_per_msg = round(cpu * 1000 / max(1, received), 2)
    return result


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def ratios(runs: Sequence[RunResult]) -> list[dict[str, object]]:
    """The issue's ratios per (mix, sessions), on accepted messages/s."""
    out: list[dict[str, object]] = []
    groups = sorted({(r.mix, r.sessions) for r in runs}, key=lambda g: (g[0], g[1]))
    for mix, sessions in groups:
        rate = {r.config: r.accepted_per_s for r in runs
                if r.mix == mix and r.sessions == sessions and r.lossless}
        pairs = {"govmilter/postfix": ("govmilter", "postfix"),
                 "govmilter/passthrough": ("govmilter", "passthrough"),
                 "passthrough/postfix": ("passthrough", "postfix"),
                 "inet/unix": ("govmilter-inet", "govmilter"),
                 "pool/1cpu": ("govmilter", "govmilter-1cpu")}
        row: dict[str, object] = {"mix": mix, "sessions": sessions}
        for label, (top, bottom) in pairs.items():
            if top in rate and bottom in rate and rate[bottom]:
                row[label] = round(rate[top] / rate[bottom], 2)
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
    }


def print_table(report: Report) -> None:
    """The human-readable summary."""
    print(f"\n{'mix':6} {'sess':>4} {'config':15} {'sent':>6} {'recv':>6} {'acc/s':>8} "
          f"{'dlv/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'RSS MB':>7} {'CPU ms':>7}")
    for r in report.runs:
        def num(value: float | None) -> str:
            return "-" if value is None else f"{value:g}"
        flag = "" if r.lossless else "  LOST"
        print(f"{r.mix:6} {r.sessions:>4} {r.config:15} {r.sent:>6} {r.received:>6} "
              f"{r.accepted_per_s:>8.1f} {r.delivered_per_s:>8.1f} {num(r.milter_p50_ms):>7} "
              f"{num(r.milter_p99_ms):>7} {num(r.peak_rss_mb):>7} "
              f"{num(r.milter_cpu_ms_per_msg):>7}{flag}")
    print()
    for row in report.ratios:
        cells = "  ".join(f"{k}={v}" for k, v in row.items() if k not in ("mix", "sessions"))
        print(f"{row['mix']:6} {row['sessions']:>4}  {cells}")
    if report.drift:
        print("\nRSS drift:", json.dumps(report.drift))


# ---- commands -------------------------------------------------------------------------------

def pool_available() -> bool:
    """True when this checkout has the scanning worker pool (govmilter.workers)."""
    import importlib.util

    return importlib.util.find_spec("govmilter.workers") is not None


def benchmark(args: argparse.Namespace) -> Report:
    """The throughput matrix."""
    counts = dict(QUICK_COUNTS if args.quick else FULL_COUNTS)
    for mix in counts:
        counts[mix] = max(1, int(counts[mix] * args.scale))
    kinds = write_messages(CACHE, args.mixes.split(","))
    configs = [c for c in args.configs.split(",") if c]
    if "govmilter-1cpu" in configs and not pool_available():
        configs.remove("govmilter-1cpu")
    sessions_list = [int(s) for s in args.sessions.split(",")]
    report = Report(command=" ".join(["python -m bench.run", *sys.argv[1:]]), machine=machine())
    with tempfile.TemporaryDirectory(prefix="govmilter-bench-") as tmp:
        workdir = Path(tmp)
        make_reachable(workdir)
        for mix in args.mixes.split(","):
            for sessions in sessions_list:
                for config in configs:
                    result = run_once(config, kinds[mix], counts[mix], sessions, workdir)
                    print(f"{mix:6} s={sessions:<3} {config:15} {result.accepted_per_s:8.1f}/s "
                          f"recv {result.received}/{result.sent} p99 {result.milter_p99_ms} ms "
                          f"rss {result.peak_rss_mb} MB cpu {result.milter_cpu_ms_per_msg} "
                          "ms/msg", flush=True)
                    report.runs.append(result)
    report.ratios = ratios(report.runs)
    return report


def drift(args: argparse.Namespace) -> Report:
    """govmilter's RSS over ``--messages`` messages in batches: three plain, then one PDF."""
    kinds = write_messages(CACHE, ("plain", "pdf"))
    report = Report(command=" ".join(["python -m bench.run", *sys.argv[1:]]), machine=machine())
    batches = max(2, args.messages // args.batch)
    samples: list[dict[str, object]] = []
    lost = 0
    with tempfile.TemporaryDirectory(prefix="govmilter-drift-") as tmp:
        workdir = Path(tmp)
        make_reachable(workdir)
        with milter_for("govmilter", workdir) as milter, SmtpSink(workdir / "sink") as sink, \
                PrivatePostfix(workdir / "postfix", sink.port, milter.postfix_spec) as postfix:
            assert milter.process is not None
            sent = 0
            with RssSampler(milter.process.pid) as sampler:
                for batch in range(batches):
                    kind = kinds["pdf" if batch % 4 == 3 else "plain"]
                    subprocess.run(
                        ["smtp-source", "-s", "10", "-m", str(args.batch), "-f", SENDER,
                         "-t", RECIPIENT, "-F", str(kind.path),
                         f"127.0.0.1:{postfix.smtp_port}"],
                        capture_output=True, timeout=1800)
                    sent += args.batch
                    received = sink.wait_for(sent, timeout=600)
                    rss = process_tree_rss(milter.process.pid)
                    samples.append({"messages": sent, "rss_mb": round(rss / 2**20, 1)})
                    print(f"drift: {sent} messages, {received} received, "
                          f"RSS {rss / 2**20:.1f} MB", flush=True)
                peak = sampler.peak
            lost = sent - sink.received()
    # Compare like with like: the batches cycle plain, plain, plain, PDF, and RSS after a PDF
    # batch is higher than after a plain one. Reference: the mean over the second cycle (the
    # first warms imports, caches and workers); final: the mean over the last cycle.
    cycle = 4
    rss = [float(str(sample["rss_mb"])) for sample in samples]
    reference_cycle = rss[cycle: 2 * cycle] or rss[:cycle]
    reference = sum(reference_cycle) / len(reference_cycle)
    final = sum(rss[-cycle:]) / len(rss[-cycle:])
    report.drift = {
        "messages": sent, "lost": lost, "reference_mb": round(reference, 1),
        "final_mb": round(final, 1),
        "drift_percent": round((final - reference) / reference * 100, 1),
        "peak_mb": round(peak / 2**20, 1), "samples": samples,
    }
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run, print the table and write the JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", nargs="?", default="throughput", choices=("throughput", "drift"))
    parser.add_argument("--quick", action="store_true", help="small counts, one session count")
    parser.add_argument("--mixes", default="plain,pdf,docx")
    parser.add_argument("--sessions", default=None, help="comma list (default 10,50; quick 10)")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--scale", type=float, default=1.0, help="multiply message counts")
    parser.add_argument("--messages", type=int, default=20000, help="drift: messages in total")
    parser.add_argument("--batch", type=int, default=1000, help="drift: messages per batch")
    parser.add_argument("--json", type=Path, default=Path("bench-results.json"))
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
