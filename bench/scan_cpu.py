"""Scan CPU per message of several govmilter trees, in alternating rounds of one run.

Each round runs, for each tree in turn (the order rotating from round to round), a fresh
Python process with that tree first on ``PYTHONPATH`` and the environment that tree gives its
scan workers (``WORKER_MALLOC``, where it has one): it loads the default policy, scans one
message to warm up, then scans every message of the mix once and prints its CPU time (user +
system of that process) per message. The figure kept for a tree is its best round, the one
least disturbed by the rest of the machine; every round is printed.

    python -m bench.scan_cpu --mix docx --rounds 5 --tree main=/tmp/main --tree new=.

A tree is any directory holding a ``govmilter`` package: this worktree, an unpacked
``git archive`` of another commit (version 0.1.0's ``scan_with`` is called the same way).
The messages are bench/messages.py's, written to ``--messages`` as ``python -m bench.run``
writes them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from bench.messages import write_messages

#: What each tree's process runs: argv[1] is a JSON list of message paths. It scans without
#: OCR as the scan workers' ordinary lane does (0.1.0's scan_with had no ``ocr`` argument).
_CHILD = """
import inspect, json, os, sys
import govmilter
from govmilter.policy.loader import load_policy
from govmilter.scan import scan_with
policy = load_policy()
paths = json.loads(sys.argv[1])
messages = [open(p, "rb").read() for p in paths]
extra = {"ocr": False} if "ocr" in inspect.signature(scan_with).parameters else {}
scan_with(messages[0], policy.limits, policy.detection, **extra)
start = os.times()
for raw in messages:
    scan_with(raw, policy.limits, policy.detection, **extra)
end = os.times()
cpu = (end.user - start.user) + (end.system - start.system)
print(json.dumps({"ms_per_msg": 1000 * cpu / len(messages), "file": govmilter.__file__}))
"""


#: Prints the environment a tree's scan workers get on top of the milter's (JSON).
_WORKER_ENV = """
import json
try:
    from govmilter.server.workers import WORKER_MALLOC
except ImportError:
    WORKER_MALLOC = {}
print(json.dumps(WORKER_MALLOC))
"""


def scan_once(tree: Path, paths: list[Path]) -> float:
    """CPU ms per message of one pass of ``tree``'s scan over ``paths``, in a fresh process
    set up as that tree's scan workers are."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    worker = subprocess.run([sys.executable, "-c", _WORKER_ENV], env=env, cwd=tree,
                            capture_output=True, text=True, check=True)
    env = {**json.loads(worker.stdout), **env}
    done = subprocess.run([sys.executable, "-c", _CHILD, json.dumps([str(p) for p in paths])],
                          env=env, cwd=tree, capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if not Path(result["file"]).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"bench.scan_cpu: {tree} imported govmilter from {result['file']}")
    return float(result["ms_per_msg"])


def crlf_copies(paths: list[Path], directory: Path) -> list[Path]:
    """Copies of ``paths`` in ``directory`` with every LF made CRLF."""
    directory.mkdir(parents=True, exist_ok=True)
    copies = [directory / path.name for path in paths]
    for path, copy in zip(paths, copies, strict=True):
        copy.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    return copies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scan_cpu", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mix", default="docx", help="bench/messages.py mix (default docx)")
    parser.add_argument("--count", type=int, default=150, help="messages of the mix (150)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tree", action="append", required=True, metavar="NAME=DIR")
    parser.add_argument("--messages", type=Path, default=Path("/tmp/govmilter-bench-messages"))
    parser.add_argument("--crlf", action="store_true",
                        help="scan copies with CRLF line ends, as Postfix hands a message to "
                             "the milter (the mix's files have LF)")
    args = parser.parse_args(argv)
    trees = [(name, Path(path)) for name, _, path in (t.partition("=") for t in args.tree)]
    kinds = write_messages(args.messages, [args.mix], {args.mix: args.count})
    paths = list(kinds[args.mix].files)
    if args.crlf:
        paths = crlf_copies(paths, args.messages.with_name(args.messages.name + "-crlf"))
    rounds: dict[str, list[float]] = {name: [] for name, _ in trees}
    for number in range(args.rounds):
        shift = number % len(trees)
        for name, tree in trees[shift:] + trees[:shift]:
            rounds[name].append(scan_once(tree, paths))
            print(f"round {number + 1} {name}: {rounds[name][-1]:.2f} ms/msg", flush=True)
    for name, figures in rounds.items():
        print(f"{name}: best {min(figures):.2f} ms/msg, rounds "
              + ", ".join(f"{f:.2f}" for f in figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
