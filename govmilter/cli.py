"""The ``govmilter`` command: ``run``, ``check``, ``validate`` and the tools built on them.

Each sub-command is a thin layer over the core; ``main(argv)`` returns the exit code:
0 success, 1 the input could not be read, 2 usage or policy error.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from govmilter import __version__
from govmilter.dnsintel import DnsIntel, dns_classifier
from govmilter.policy import Policy, PolicyError, decide, load_policy
from govmilter.policy.decide import Classifier
from govmilter.policy_text import describe_policy
from govmilter.prometheus_api import PrometheusClient, PrometheusError
from govmilter.render import verdict_to_json, verdict_to_text
from govmilter.report import ReportError, make_report, parse_duration, parse_time
from govmilter.scan import scan_message
from govmilter.verdict import Envelope, MessageFacts

EXIT_OK, EXIT_INPUT, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every sub-command."""
    parser = argparse.ArgumentParser(
        prog="govmilter",
        description="Keep Vietnamese official documents on official (.gov.vn) mailboxes.",
    )
    parser.add_argument("--version", action="version", version=f"govmilter {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = sub.add_parser("check", help="give the milter's verdict for a saved .eml message")
    check.add_argument("message", help="the message file (RFC 5322), or - for standard input")
    check.add_argument("--policy", help="policy YAML (default: the embedded default policy)")
    check.add_argument("--sender", help="envelope sender (default: the From header)")
    check.add_argument("--rcpt", action="append", default=[], metavar="ADDR",
                       help="envelope recipient, repeatable (default: To and Cc headers)")
    check.add_argument("--auth", metavar="USER", help="treat the sender as SMTP-authenticated")
    check.add_argument("--service", help="Postfix service name ({daemon_name}) to assume")
    check.add_argument("--json", action="store_true", help="print the verdict as JSON")
    check.add_argument("--no-dns", action="store_true",
                       help="classify by the policy's lists only (no MX or existence lookups)")

    validate = sub.add_parser("validate", help="check a policy file; errors as file:line")
    validate.add_argument("policy", nargs="?", help="policy YAML (default: the embedded one)")

    report = sub.add_parser("report", help="write the compliance report from Prometheus data")
    report.add_argument("--prometheus", required=True, metavar="URL",
                        help="Prometheus (or Thanos Querier) base URL, e.g. http://127.0.0.1:9090")
    report.add_argument("--since", default="30d", metavar="DURATION",
                        help="length of the report period, e.g. 30d, 2w, 12h (default: 30d)")
    report.add_argument("--end", metavar="TIME",
                        help="end of the period: ISO date/time (Vietnam time unless a zone is "
                             "given) or unix time (default: now)")
    report.add_argument("--agency", metavar="NAME", help="only this agency (the agency label)")
    report.add_argument("--policy", help="policy YAML the report opens with (default: embedded)")
    report.add_argument("--format", choices=("html", "md"),
                        help="html (default, charts included) or md for mail "
                             "(default: from --out's extension)")
    report.add_argument("--out", metavar="FILE", help="write here (default: standard output)")
    report.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                        help="time limit per Prometheus query (default: 30)")
    return parser


def _load(path: str | None) -> Policy:
    policy = load_policy(path)
    for warning in policy.warnings:
        print(warning, file=sys.stderr)
    return policy


def _read_message(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    return Path(name).read_bytes()


def envelope_for(facts: MessageFacts, sender: str | None, rcpts: Sequence[str],
                 auth: str | None = None, service: str | None = None) -> Envelope:
    """Build the envelope ``check`` assumes: given addresses, else From and To/Cc headers."""
    envelope_sender = sender if sender is not None else (facts.header_from[:1] or ("",))[0]
    recipients = tuple(rcpts) if rcpts else facts.header_to
    return Envelope(sender=envelope_sender, recipients=recipients, authenticated_user=auth,
                    service=service)


def _classifier(policy: Policy, envelope: Envelope, no_dns: bool) -> Classifier | None:
    """The DNS-backed classifier the milter uses, unless DNS is off; None means lists only."""
    if no_dns or not policy.dns.enabled:
        return None
    with DnsIntel(policy.dns) as intel:
        return dns_classifier(policy, intel, (envelope.sender, *envelope.recipients))


def cmd_check(args: argparse.Namespace) -> int:
    """``govmilter check``: the same verdict as the daemon, for a saved message."""
    policy = _load(args.policy)
    try:
        raw = _read_message(args.message)
    except OSError as exc:
        print(f"govmilter check: cannot read {args.message}: {exc.strerror or exc}",
              file=sys.stderr)
        return EXIT_INPUT
    facts = scan_message(raw, policy)
    envelope = envelope_for(facts, args.sender, args.rcpt, args.auth, args.service)
    if not envelope.recipients:
        print("govmilter check: no recipients: give --rcpt or a message with To/Cc",
              file=sys.stderr)
        return EXIT_INPUT
    verdict = decide(envelope, facts, policy, _classifier(policy, envelope, args.no_dns))
    if args.json:
        print(json.dumps(verdict_to_json(verdict, policy), ensure_ascii=False, indent=2))
    else:
        print(verdict_to_text(verdict, policy))
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    """``govmilter validate``: a one-screen summary, or every problem as file:line."""
    policy = _load(args.policy)
    d = policy.domains
    today = _dt.date.today()
    active = sum(1 for e in d.exceptions if e.active_on(today))
    print(f"policy OK: {policy.source.path}")
    print(f"  sha256:     {policy.source.sha256}")
    print(f"  mode:       {policy.mode}   on_error: {policy.on_error}")
    print(f"  rules:      {len(policy.rules)} ("
          + ", ".join(f"{r.id}={r.action}" for r in policy.rules) + ")")
    print(f"  domains:    {len(d.official)} official, {len(d.internal)} internal, "
          f"{len(d.freemail)} freemail ({len(d.freemail_exclude)} excluded), "
          f"{len(d.exceptions)} exceptions ({active} active)")
    print(f"  detection:  threshold {policy.detection.threshold}")
    dns = policy.dns
    servers = ", ".join(str(ns) for ns in dns.nameservers) or "system resolv.conf"
    print(f"  dns:        {'on' if dns.enabled else 'off'} ({servers}; timeout {dns.timeout:g} s, "
          f"budget {dns.budget:g} s, cache {dns.cache_size})")
    if policy.warnings:
        print(f"  warnings:   {len(policy.warnings)} (above)")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """``govmilter report``: the compliance report (see govmilter.report)."""
    fmt = args.format or ("md" if args.out and args.out.endswith((".md", ".txt")) else "html")
    try:
        since = parse_duration(args.since)
        end = parse_time(args.end) if args.end else _dt.datetime.now().timestamp()
        client = PrometheusClient(args.prometheus, timeout=args.timeout)
    except (ReportError, PrometheusError) as exc:
        print(f"govmilter report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    policy = describe_policy(_load(args.policy))
    try:
        text = make_report(client, policy, since=since, end=end, agency=args.agency, fmt=fmt)
    except (ReportError, PrometheusError) as exc:
        print(f"govmilter report: {exc}", file=sys.stderr)
        return EXIT_INPUT
    if not args.out:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        Path(args.out).write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"govmilter report: cannot write {args.out}: {exc.strerror or exc}",
              file=sys.stderr)
        return EXIT_INPUT
    print(f"govmilter report: wrote {args.out}", file=sys.stderr)
    return EXIT_OK


COMMANDS = {"check": cmd_check, "validate": cmd_validate, "report": cmd_report}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``govmilter`` command line; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except PolicyError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        errors = sum(1 for p in exc.problems if p.severity == "error")
        print(f"govmilter: policy refused ({errors} error{'s' if errors != 1 else ''})",
              file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
