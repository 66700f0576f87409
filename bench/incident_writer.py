"""What the incident writer costs plain mail, measured apart from the rest of the milter.

    python -m bench.incident_writer                      # 300 messages/s for 20 s, both stores
    python -m bench.incident_writer --rate 600 --backends sqlite --json out.json

For plain mail (compliant: no incident) the milter's thread calls ``IncidentWriter.count()``
once per message and the writer's thread writes the day's counts once a second. This feeds
``count()`` at ``--rate`` messages per second for ``--seconds``, with a started writer on a
new store (a SQLite file; a private PostgreSQL cluster from tests/postgres_harness.py), and
measures the CPU time (user + system) of this process, and of PostgreSQL's server processes,
against the same paced loop without a writer. The difference per message is the writer's cost;
it is set against plain mail's CPU per message in the milter (``--plain-ms``, the figure of
docs/performance.md). The milter's own thread pays only ``count()``, timed apart
(``hot path``); the rest runs on the writer's thread. Timings are results, never assertions.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from postgres_harness import running_postgres
from samples import OFFICIAL_RCPT, OFFICIAL_SENDER, PLAIN, policy_yaml

from bench.run import process_tree_cpu
from govmilter.policy import decide, parse_policy
from govmilter.policy.verdict import Envelope, Verdict
from govmilter.scan import scan_message
from govmilter.server.incidents import IncidentWriter
from govmilter.store import open_store

#: plain mail's CPU per message in the milter (docs/performance.md, 10 sessions, main 963bf3b)
PLAIN_MS = 2.37
TARGET_PERCENT = 5.0
#: seconds after a round for the writer's flush of it (it flushes every second)
FLUSH_WAIT = 1.5
#: count() calls timed back to back, five times, for the milter thread's share
HOT_CALLS = 10_000


def plain_verdict() -> Verdict:
    """The verdict of an ordinary message between two official mailboxes."""
    policy = parse_policy(policy_yaml())
    return decide(Envelope(OFFICIAL_SENDER, (OFFICIAL_RCPT,)), scan_message(PLAIN, policy),
                  policy)


def paced(rate: float, seconds: float, each: Callable[[], None]) -> tuple[int, float]:
    """Call ``each`` ``rate`` times a second for ``seconds``, then wait out the writer's last
    flush; (calls, process CPU seconds, both threads)."""
    count = int(rate * seconds)
    start_cpu, start = time.process_time(), time.monotonic()
    for n in range(count):
        each()
        ahead = start + (n + 1) / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    time.sleep(FLUSH_WAIT)
    return count, time.process_time() - start_cpu


@contextlib.contextmanager
def store_for(backend: str) -> Iterator[tuple[str, Callable[[], float]]]:
    """A new store's URL and a function giving its server's CPU seconds so far (0: none)."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="gm-writer-bench-") as directory:
            yield str(Path(directory) / "incidents.sqlite3"), lambda: 0.0
        return
    with running_postgres() as cluster:
        postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
        yield cluster.create_database(), lambda: process_tree_cpu(postmaster)


def measure(backend: str, rate: float, seconds: float, rounds: int) -> dict[str, Any]:
    """Rounds of (no writer, writer) at ``rate``; medians of the writer's CPU per message."""
    verdict = plain_verdict()
    now = _dt.datetime.now(_dt.UTC)
    extra_ms: list[float] = []
    made = 0
    with store_for(backend) as (database, server_cpu), \
            tempfile.TemporaryDirectory(prefix="gm-writer-journal-") as journal:
        writer = IncidentWriter(database, Path(journal), "bench").start()
        try:
            # first the store is opened and migrated, which is not the cost of a message
            made += paced(rate, 2, lambda: writer.count(verdict, now))[0]
            for _ in range(rounds):
                calls, without = paced(rate, seconds, lambda: None)
                before = server_cpu()
                calls, with_writer = paced(rate, seconds, lambda: writer.count(verdict, now))
                made += calls
                spent = with_writer + (server_cpu() - before) - without
                extra_ms.append(spent / calls * 1000)
            hot = []
            for _ in range(5):
                start = time.perf_counter()
                for _ in range(HOT_CALLS):
                    writer.count(verdict, now)
                hot.append((time.perf_counter() - start) / HOT_CALLS * 1e6)
                made += HOT_CALLS
        finally:
            writer.stop()
        with open_store(database) as store:
            day = now.astimezone(_dt.timezone(_dt.timedelta(hours=7))).date()
            stored = sum(c.count for c in store.message_counts(day, day))
    per_message = statistics.median(extra_ms)
    return {"rate": rate, "seconds": seconds, "rounds": rounds,
            "writer_ms_per_message": round(per_message, 4),
            "rounds_ms_per_message": [round(v, 4) for v in extra_ms],
            "hot_path_us_per_message": round(statistics.median(hot), 2),
            "counts_made": made, "counted_in_store": stored}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=300.0, help="messages per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of one round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per store (median)")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--plain-ms", type=float, default=PLAIN_MS,
                        help=f"plain mail's CPU ms per message in the milter ({PLAIN_MS})")
    parser.add_argument("--json", metavar="FILE", help="also write the results here")
    args = parser.parse_args(argv)
    with open("/proc/loadavg") as load:
        report: dict[str, Any] = {"python": platform.python_version(),
                                  "load_average": load.read().split()[:3],
                                  "plain_ms": args.plain_ms, "backends": {}}
    for backend in [b for b in args.backends.split(",") if b]:
        result = measure(backend, args.rate, args.seconds, args.rounds)
        result["percent_of_plain"] = round(result["writer_ms_per_message"] / args.plain_ms
                                           * 100, 2)
        report["backends"][backend] = result
        print(f"{backend:10} writer {result['writer_ms_per_message']:.3f} ms/message "
              f"({result['percent_of_plain']:.1f} % of {args.plain_ms} ms; target "
              f"< {TARGET_PERCENT:g} %), hot path {result['hot_path_us_per_message']:.1f} µs, "
              f"rounds {result['rounds_ms_per_message']}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
