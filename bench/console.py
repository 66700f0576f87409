"""The console's incident list with 100,000 incidents, in SQLite and in PostgreSQL.

    python -m bench.console                         # 100,000 incidents, both databases
    python -m bench.console --count 20000 --backends sqlite --json out.json

Fills a new store (a SQLite file in a temporary directory; a private PostgreSQL cluster from
tests/postgres_harness.py) with incidents spread over a year (two recipients, one attachment
and one history entry each, like the milter writes), signs in and times whole requests of the
list page through the Flask application (routing, queries, template; no network): the first
page, each filter, a search, the page half-way down the list by its keyset link (page 1,000 of
2,000 at 100,000 incidents), and the held-mail list. Prints a table and writes JSON. The
target is under 300 ms per page; timings are a result, never a test assertion
(tests/console/test_bench_console.py only runs it small).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as _dt
import json
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from incident_samples import make_incident
from postgres_harness import running_postgres

from govmilter.console.accounts import add_account
from govmilter.console.app import create_app
from govmilter.store import Incident, IncidentQuery, IncidentStore, open_store
from govmilter.store.accounts import Role
from govmilter.store.records import AttachmentRecord

PASSWORD = "benchmark-password"
TARGET_MS = 300.0
RULES = ("secret-to-freemail", "document-to-external", "document-to-freemail", "lookalike")
ACTIONS = ("tag", "tag", "tag", "reject", "quarantine")
SECRECY = (None, None, None, "MẬT", "TỐI MẬT", "TUYỆT MẬT")
#: name -> query string of the list page (``{cursor}``: a keyset cursor deep in the list)
PAGES = {
    "first page": "/incidents",
    "action=quarantine": "/incidents?action=quarantine",
    "secrecy=TUYỆT MẬT": "/incidents?secrecy=TUYỆT+MẬT",
    "rule": "/incidents?rule=lookalike",
    "sender": "/incidents?sender=sender7%40mic.gov.vn",
    "document number": "/incidents?number=777%2FBC-BTTTT",
    "last 7 days": "/incidents?since={week}",
    "search in subject": "/incidents?q=k%E1%BA%BF+ho%E1%BA%A1ch+777",
    "search, common words": "/incidents?q=k%E1%BA%BF+ho%E1%BA%A1ch",
    "middle (keyset)": "/incidents?before={cursor}",
    "held mail": "/held",
}


def made_up(count: int, now: _dt.datetime, seed: int = 5) -> Iterator[list[Incident]]:
    """``count`` incidents over the last year, in batches of 1,000."""
    rng = random.Random(seed)
    base = make_incident()
    batch: list[Incident] = []
    for n in range(count):
        created = now - _dt.timedelta(seconds=rng.randint(0, 365 * 86400))
        action = rng.choice(ACTIONS)
        number = f"{n % 2000 + 1}/BC-BTTTT"  # each number on every 2,000th incident
        batch.append(dataclasses.replace(
            make_incident(created_at=created), rule_id=rng.choice(RULES), action=action,
            held=action == "quarantine", secrecy=rng.choice(SECRECY),
            sender=f"sender{rng.randint(0, 500)}@mic.gov.vn", document_number=number,
            subject=f"V/v kế hoạch {number} tháng {rng.randint(1, 12)}",
            attachments=(AttachmentRecord(f"bao-cao-{n}.pdf", f"{n:064x}", 1000 + n),),
            recipients=base.recipients))
        if len(batch) == 1000:
            yield batch
            batch = []
    if batch:
        yield batch


def fill(store: IncidentStore, count: int, now: _dt.datetime) -> float:
    """Write the incidents; returns the seconds it took."""
    start = time.perf_counter()
    for batch in made_up(count, now):
        store.add_incidents(batch)
    return time.perf_counter() - start


def time_pages(store: IncidentStore, repeat: int, now: _dt.datetime) -> dict[str, Any]:
    """Median and worst milliseconds of each page, after one untimed warm-up request."""
    add_account(store, "bench", Role.VIEWER, PASSWORD, "bench")
    client = create_app(store).test_client()
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").get_data(as_text=True))
    assert token is not None
    signed = client.post("/login", data={"username": "bench", "password": PASSWORD,
                                         "csrf": token[1]})
    assert signed.status_code == 302, signed.status_code
    deep = store.list_incidents(IncidentQuery(offset=store.list_incidents(
        IncidentQuery(limit=0)).total // 2, limit=1))
    cursor = (f"{deep.incidents[0].created_at.isoformat()}~{deep.incidents[0].id}"
              if deep.incidents else "")
    week = (now - _dt.timedelta(days=7)).strftime("%Y-%m-%d")
    results: dict[str, Any] = {}
    for name, path in PAGES.items():
        url = path.format(cursor=_quote(cursor), week=week)
        response = client.get(url)
        assert response.status_code == 200, (name, response.status_code)
        shown = len(re.findall(r'<td class="when"><a href="/(?:incidents|held)/', response.get_data(
            as_text=True)))
        timings = []
        for _ in range(repeat):
            start = time.perf_counter()
            client.get(url).close()
            timings.append((time.perf_counter() - start) * 1000)
        results[name] = {"path": url, "rows": shown,
                         "median_ms": round(statistics.median(timings), 1),
                         "max_ms": round(max(timings), 1)}
    return results


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


@contextlib.contextmanager
def database(backend: str) -> Iterator[str]:
    """A new, empty database of this backend; its ``--database`` value."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="govmilter-bench-") as folder:
            yield str(Path(folder) / "incidents.sqlite3")
    else:
        with running_postgres() as cluster:
            yield cluster.create_database("bench")


def run(count: int, backends: list[str], repeat: int) -> dict[str, Any]:
    now = _dt.datetime.now(_dt.UTC)
    report: dict[str, Any] = {
        "count": count, "repeat": repeat, "target_ms": TARGET_MS,
        "machine": {"cores": _cores(), "python": platform.python_version(),
                    "system": platform.platform()},
        "backends": {},
    }
    for backend in backends:
        with database(backend) as url, open_store(url) as store:
            seconds = fill(store, count, now)
            pages = time_pages(store, repeat, now)
        report["backends"][backend] = {"fill_seconds": round(seconds, 1), "pages": pages}
    return report


def _cores() -> int:
    return len(os.sched_getaffinity(0))


def table(report: dict[str, Any]) -> str:
    lines = [f"incident list with {report['count']:,} incidents, {report['repeat']} requests "
             f"each (median / worst ms; target < {report['target_ms']:.0f} ms)"]
    names = list(PAGES)
    backends = list(report["backends"])
    lines.append(f"{'page':<22}" + "".join(f"{b:>24}" for b in backends))
    for name in names:
        cells = []
        for b in backends:
            page = report["backends"][b]["pages"][name]
            cells.append(f"{page['median_ms']:>9.1f} / {page['max_ms']:>7.1f} "
                         f"({page['rows']:>2})")
        lines.append(f"{name:<22}" + "".join(f"{c:>24}" for c in cells))
    for b in backends:
        lines.append(f"fill {b}: {report['backends'][b]['fill_seconds']} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.console", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000, help="incidents (default 100,000)")
    parser.add_argument("--backends", default="sqlite,postgresql",
                        help="comma-separated: sqlite, postgresql (default both)")
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per page")
    parser.add_argument("--json", metavar="FILE", help="also write the results here")
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - {"sqlite", "postgresql"}
    if unknown or args.count < 1 or args.repeat < 1:
        parser.error(f"unknown backend(s) {sorted(unknown)}" if unknown
                     else "--count and --repeat must be at least 1")
    report = run(args.count, backends, args.repeat)
    print(table(report))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n",
                                   encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
