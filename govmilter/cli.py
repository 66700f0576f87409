"""The ``govmilter`` command: ``run``, ``check``, ``validate`` and the tools built on them.

Each sub-command is a thin layer over the core; ``main(argv)`` returns the exit code:
0 success, 1 the input could not be read, 2 usage or policy error.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from govmilter import __version__
from govmilter.errors import GovmilterError
from govmilter.mail.addresses import parse_address

if TYPE_CHECKING:
    from govmilter.domains.classify import Classifier
    from govmilter.policy import Policy
    from govmilter.policy.verdict import Envelope, MessageFacts

# Each command imports what it does in its own function, and main() builds the options of the
# command it runs alone: every command starts a new interpreter (the tests start hundreds), and
# the whole package (the store's SQLAlchemy, the daemon's pymilter, the report's tools) cost
# each of them most of a second of CPU.

EXIT_OK, EXIT_INPUT, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse with a usage error on one line: ``govmilter run: argument --jobs: ...``."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _recipient(text: str) -> str:
    """An envelope recipient option: ``local@domain``."""
    address = parse_address(text)
    if address.domain is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not an address: expected local@domain")
    return text


def _sender(text: str) -> str:
    """An envelope sender option: ``local@domain``, or ``<>`` (or empty) for the null sender."""
    return text if parse_address(text).is_null else _recipient(text)


def _at_least(least: int) -> Callable[[str], int]:
    def whole_number(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"{value} must be at least {least}")
        return value
    return whole_number


def _seconds(text: str) -> float:
    """A positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive number of seconds")
    return value


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser for every sub-command, or for ``command`` alone (what :func:`main`
    parses with: the options of the other commands come from modules it need not import)."""
    parser = _Parser(
        prog="govmilter",
        description="Keep Vietnamese official documents on official (.gov.vn) mailboxes.",
    )
    parser.add_argument("--version", action="version", version=f"govmilter {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, add in SUBCOMMANDS.items():
        if command is None or command == name:
            add(sub)
    return parser


def _add_check(sub: Any) -> None:
    check = sub.add_parser("check", help="give the milter's verdict for a saved .eml message",
                           description="The milter's verdict for a saved message. "
                           + ENVELOPE_HELP)
    _add_message_arguments(check)
    check.add_argument("--json", action="store_true", help="print the verdict as JSON")


def _add_run(sub: Any) -> None:
    from govmilter.server.options import add_run_arguments

    add_run_arguments(sub.add_parser("run", help="run the milter daemon for Postfix"))


def _add_validate(sub: Any) -> None:
    validate = sub.add_parser("validate", help="check a policy file; errors as file:line")
    validate.add_argument("policy", nargs="?", help="policy YAML (default: the embedded one)")


def _add_eval(sub: Any) -> None:
    evaluate = sub.add_parser("eval", help="measure document detection on a labelled corpus")
    evaluate.add_argument("corpus", help="directory with official/ and negative/ .eml files")
    evaluate.add_argument("--policy", help="policy YAML (default: the embedded default policy)")
    evaluate.add_argument("--json", action="store_true", help="print the figures as JSON")


def _add_replay(sub: Any) -> None:
    replay = sub.add_parser(
        "replay", help="count a policy's verdicts over stored mail; diff against an older policy",
        formatter_class=argparse.RawDescriptionHelpFormatter, description=REPLAY_HELP)
    replay.add_argument("source", help="a Maildir, an mbox file, a folder of .eml files or one "
                        "message file")
    replay.add_argument("--policy", help="policy YAML (default: the embedded default policy)")
    replay.add_argument("--against", metavar="OLD.yaml",
                        help="an older policy: also list every recipient whose verdict changes")
    replay.add_argument("--json", action="store_true", help="print the counts as one JSON object")
    replay.add_argument("--jobs", type=_at_least(1), default=2, metavar="N",
                        help="worker processes for large sources (default 2; 1: no workers)")


def _add_explain(sub: Any) -> None:
    explain = sub.add_parser(
        "explain", help="walk the rules for each recipient of a message, saying why each did or "
        "did not match", description="Walk the rules in order for each recipient and say why "
        "each did or did not match, and which evidence made the document official or secret. "
        + ENVELOPE_HELP)
    _add_message_arguments(explain)
    explain.add_argument("--json", action="store_true",
                         help="print the check --json object with each recipient's rule walk")


def _add_incidents(sub: Any) -> None:
    from govmilter.tools.incident_commands import add_incident_arguments

    add_incident_arguments(sub)


def _add_quarantine(sub: Any) -> None:
    from govmilter.tools.quarantine_commands import add_quarantine_arguments

    add_quarantine_arguments(sub)


def _add_console(sub: Any) -> None:
    from govmilter.console.commands import add_console_arguments

    add_console_arguments(sub)


def _add_policy(sub: Any) -> None:
    policy = sub.add_parser("policy", help="write a policy to start a production installation")
    policy_sub = policy.add_subparsers(dest="policy_command", required=True)
    init = policy_sub.add_parser(
        "init", help="write the commented default policy with the agency's domains filled in",
        description="The embedded default policy, commented, with the agency's own domains as "
                    "domains.internal (official, and protected from look-alikes) and, with "
                    "--monitor, mode: monitor (nothing changed on the mail, everything "
                    "counted). What it writes always validates.")
    init.add_argument("--agency", action="append", default=[], metavar="DOMAIN",
                      help="one of the agency's own mail domains (repeat for each)")
    init.add_argument("--monitor", action="store_true",
                      help="mode: monitor, how a new installation starts")
    init.add_argument("--out", metavar="FILE",
                      help="write here, never over an existing file (default: standard output)")


def _add_report(sub: Any) -> None:
    report = sub.add_parser(
        "report", help="write the compliance report (exact counts from the incident store, "
                       "else estimates from Prometheus)",
        description="The report an agency files. Its figures are the incident store's exact "
                    "daily counts (--database, else the policy's incidents.database); with "
                    "--prometheus and no store they are Prometheus estimates, and the report "
                    "says so. The period is the year to date unless --year, --quarter or "
                    "--since/--until say otherwise.")
    report.add_argument("--database", metavar="URL",
                        help="incident store with the daily counts: a path or postgresql://... "
                             "(default: the policy's incidents.database)")
    report.add_argument("--prometheus", metavar="URL",
                        help="Prometheus (or Thanos Querier) base URL, e.g. "
                             "http://127.0.0.1:9090, when there is no incident store")
    report.add_argument("--year", type=int, metavar="YYYY", help="the whole calendar year")
    report.add_argument("--quarter", metavar="Q",
                        help="a quarter: 1-4 or Q4 (of --year, else this year), or 2026-Q4")
    report.add_argument("--since", metavar="WHEN",
                        help="start of the period: a date/time (2026-07-01) or a length before "
                             "--until (30d, 2w, 12h) (default: 1 January of this year)")
    report.add_argument("--until", "--end", dest="until", metavar="TIME",
                        help="end of the period: a date (that whole day), an ISO date/time "
                             "(Vietnam time unless a zone is given) or unix time (default: now)")
    report.add_argument("--agency", metavar="NAME",
                        help="only this agency (Prometheus' agency label; in the store, the "
                             "gateway host name)")
    report.add_argument("--policy", help="policy YAML the report opens with (default: embedded)")
    report.add_argument("--format", choices=("html", "md", "docx", "pdf"),
                        help="html (charts included), md for mail, docx (the Báo cáo in the "
                             "Decree 30/2020 layout, for the clerk) or pdf (the same, by "
                             "LibreOffice) (default: from --out's extension, else html)")
    report.add_argument("--out", metavar="FILE", help="write here (default: standard output)")
    report.add_argument("--timeout", type=_seconds, default=30.0, metavar="SECONDS",
                        help="time limit per Prometheus query (default: 30)")


#: Each sub-command and the function that adds it and its options, in the order of --help.
SUBCOMMANDS: dict[str, Callable[[Any], None]] = {
    "check": _add_check, "run": _add_run, "validate": _add_validate, "eval": _add_eval,
    "replay": _add_replay, "explain": _add_explain, "incidents": _add_incidents,
    "quarantine": _add_quarantine, "console": _add_console, "policy": _add_policy,
    "report": _add_report}


#: How check and explain read the envelope of a saved file (govmilter.tools.envelope).
ENVELOPE_HELP = ("The envelope is read as check, explain and replay all read it: the sender is "
                 "--sender, else Return-Path, else From; the recipients are --rcpt, else "
                 "X-Original-To, else Delivered-To, else To and Cc.")

REPLAY_HELP = """\
Replay stored mail through a policy, with the same scan and decide() as the milter.

The envelope of each message is read as check and explain read it: sender from
Return-Path, else From; recipient from X-Original-To, else Delivered-To, else To
and Cc. Addresses are
classified by the policy's lists and the static look-alike checks, without DNS, so
that a replay is repeatable and sends no lookups for thousands of domains
(`explain --no-dns` shows the same verdict for one message).

Counting: `total` is every message in SOURCE; `unreadable` those that could not be
read or have no recipient. Per rule and per action, a message counts ONCE for each
rule (each action) that decided at least one of its recipients: a message to three
freemail recipients tagged by one rule adds 1 to that rule, not 3, so the rows may
add up to more than the messages replayed. "per message action" counts each message
once, by its action as a whole. With --against, changed verdicts are listed per
recipient: "message: recipient: old-action(rule) -> new-action(rule)" and the
document evidence.
"""


def _add_message_arguments(parser: argparse.ArgumentParser) -> None:
    """The message, policy and envelope options shared by ``check`` and ``explain``."""
    parser.add_argument("message", help="the message file (RFC 5322), or - for standard input")
    parser.add_argument("--policy", help="policy YAML (default: the embedded default policy)")
    parser.add_argument("--sender", type=_sender,
                        help="envelope sender, <> for the null sender (default: Return-Path, "
                        "else From)")
    parser.add_argument("--rcpt", action="append", default=[], metavar="ADDR", type=_recipient,
                        help="envelope recipient, repeatable (default: X-Original-To, else "
                        "Delivered-To, else To and Cc)")
    parser.add_argument("--auth", metavar="USER", help="treat the sender as SMTP-authenticated")
    parser.add_argument("--service", help="Postfix service name ({daemon_name}) to assume")
    parser.add_argument("--no-dns", action="store_true",
                        help="classify by the policy's lists only (no MX or existence lookups)")


def _load(path: str | None) -> Policy:
    from govmilter.policy import load_policy

    policy = load_policy(path)
    for warning in policy.warnings:
        print(warning, file=sys.stderr)
    return policy


def _read_message(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    return Path(name).read_bytes()


def _classifier(policy: Policy, envelope: Envelope, no_dns: bool) -> Classifier | None:
    """The DNS-backed classifier the milter uses, unless DNS is off; None means lists only."""
    from govmilter.domains.dnsintel import DnsIntel, dns_classifier

    if no_dns or not policy.dns.enabled:
        return None
    with DnsIntel(policy.dns) as intel:
        return dns_classifier(policy, intel, (envelope.sender, *envelope.recipients))


def _scan_for_command(args: argparse.Namespace
                      ) -> tuple[Policy, MessageFacts, Envelope] | None:
    """Load the policy, read and scan the message, build the envelope (check and explain).

    The envelope is read as ``replay`` reads it (:func:`govmilter.tools.envelope.saved_envelope`),
    so that the three commands give one verdict for one file. Prints the problem and returns
    None when the message cannot be read or has no recipient.
    """
    from govmilter.scan import scan_message
    from govmilter.tools.envelope import saved_envelope

    policy = _load(args.policy)
    try:
        raw = _read_message(args.message)
    except OSError as exc:
        print(f"govmilter {args.command}: cannot read {args.message}: {exc.strerror or exc}",
              file=sys.stderr)
        return None
    if not raw.strip():
        print(f"govmilter {args.command}: {args.message} is empty: no message to check",
              file=sys.stderr)
        return None
    try:
        facts = scan_message(raw, policy)
    except Exception as exc:  # the milter answers on_error here; say so instead of a traceback
        print(f"govmilter {args.command}: the message could not be scanned "
              f"({type(exc).__name__}); the milter would answer with on_error: "
              f"{policy.on_error}", file=sys.stderr)
        return None
    envelope, facts = saved_envelope(raw, facts, policy, args.sender, args.rcpt, args.auth,
                                     args.service)
    if not envelope.recipients:
        print(f"govmilter {args.command}: no recipients: give --rcpt or a message with To/Cc",
              file=sys.stderr)
        return None
    return policy, facts, envelope


def cmd_check(args: argparse.Namespace) -> int:
    """``govmilter check``: the same verdict as the daemon, for a saved message."""
    from govmilter.policy import decide_saved
    from govmilter.tools.render import verdict_to_json, verdict_to_text

    scanned = _scan_for_command(args)
    if scanned is None:
        return EXIT_INPUT
    policy, facts, envelope = scanned
    verdict = decide_saved(envelope, facts, policy, _classifier(policy, envelope, args.no_dns))
    return _print_result(args, lambda: verdict_to_json(verdict, policy),
                         lambda: verdict_to_text(verdict, policy))


def _print_result(args: argparse.Namespace, as_json: Callable[[], object],
                  as_text: Callable[[], str]) -> int:
    """Print the result as JSON with ``--json``, else as text."""
    print(json.dumps(as_json(), ensure_ascii=False, indent=2) if args.json else as_text())
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    """``govmilter validate``: a one-screen summary, or every problem as file:line."""
    from govmilter.policy.analysis import (
        ambiguous_reply_warnings,
        rcpt_refusal_warnings,
        shadowed_rule_warnings,
    )
    from govmilter.store import StoreError, database_url
    from govmilter.store.database import describe

    policy = _load(args.policy)
    try:
        store = describe(database_url(policy.incidents.database))
    except StoreError as exc:
        print(f"{policy.source.path}: incidents.database: {exc}", file=sys.stderr)
        print("govmilter: policy refused (1 error)", file=sys.stderr)
        return EXIT_USAGE
    analysed = (shadowed_rule_warnings(policy) + rcpt_refusal_warnings(policy)
                + ambiguous_reply_warnings(policy))
    for warning in analysed:
        print(warning, file=sys.stderr)
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
          f"{len(d.exceptions)} exceptions ({active} active)"
          + (f", {len(d.political)} political-system" if len(d.political) else ""))
    if policy.units:
        print(f"  units:      {len(policy.units.units)} ({', '.join(policy.units.ids)})")
    print(f"  detection:  threshold {policy.detection.threshold}")
    dns = policy.dns
    servers = ", ".join(str(ns) for ns in dns.nameservers) or "system resolv.conf"
    print(f"  dns:        {'on' if dns.enabled else 'off'} ({servers}; timeout {dns.timeout:g} s, "
          f"budget {dns.budget:g} s, cache {dns.cache_size})")
    print(f"  incidents:  {store} (kept {policy.incidents.retention_days} days)")
    if policy.warnings or analysed:
        print(f"  warnings:   {len(policy.warnings) + len(analysed)} (above)")
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    """``govmilter eval``: precision, recall and misses of the detector on a corpus."""
    from govmilter.tools.accuracy import (
        CorpusError,
        evaluate_corpus,
        evaluation_to_json,
        evaluation_to_text,
    )

    policy = _load(args.policy)
    try:
        result = evaluate_corpus(Path(args.corpus), policy)
    except CorpusError as exc:
        print(f"govmilter eval: {exc}", file=sys.stderr)
        return EXIT_INPUT
    if args.json:
        print(json.dumps(evaluation_to_json(result), ensure_ascii=False, indent=2))
    else:
        print(evaluation_to_text(result))
    return EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    """``govmilter replay``: per-rule and per-action counts over stored mail, and what changes."""
    from govmilter.tools import replay

    policy = _load(args.policy)
    against = _load(args.against) if args.against is not None else None
    progress = replay.ProgressLine()
    try:
        source = replay.MessageSource(args.source)
        results = replay.replay_source(source, policy, against, jobs=args.jobs,
                                       progress=progress)
        report = replay.summarize(args.source, results, policy, against)
    except replay.ReplayError as exc:
        print(f"govmilter replay: {exc}", file=sys.stderr)
        return EXIT_INPUT
    finally:
        progress.close()
    return _print_result(args, lambda: replay.report_to_json(report),
                         lambda: replay.report_to_text(report))


def cmd_explain(args: argparse.Namespace) -> int:
    """``govmilter explain``: the rule walk behind each recipient's verdict."""
    from govmilter.tools.explain import explain, explanation_to_json, explanation_to_text

    scanned = _scan_for_command(args)
    if scanned is None:
        return EXIT_INPUT
    policy, facts, envelope = scanned
    explanation = explain(envelope, facts, policy, _classifier(policy, envelope, args.no_dns))
    return _print_result(args, lambda: explanation_to_json(explanation, policy),
                         lambda: explanation_to_text(explanation, policy))


#: the formats written as bytes, only to a file
BINARY_FORMATS = ("docx", "pdf")


def _format_of(out: str | None) -> str:
    """The format --out's extension names: .md/.txt, .docx, .pdf, else html."""
    suffix = Path(out).suffix.lower() if out else ""
    return {".md": "md", ".txt": "md", ".docx": "docx", ".pdf": "pdf"}.get(suffix, "html")


def cmd_report(args: argparse.Namespace) -> int:
    """``govmilter report``: the compliance report (see govmilter.tools.report)."""
    from govmilter.policy.description import describe_policy
    from govmilter.store import StoreError
    from govmilter.tools.prometheus import PrometheusClient, PrometheusError
    from govmilter.tools.report import ReportError, collect, render, report_period
    from govmilter.tools.report_counts import collect_counts, open_counts

    fmt = args.format or _format_of(args.out)
    if fmt in BINARY_FORMATS and not args.out:
        print(f"govmilter report: --format {fmt} needs --out FILE", file=sys.stderr)
        return EXIT_USAGE
    loaded = _load(args.policy)
    database = args.database or (None if args.prometheus else loaded.incidents.database)
    try:
        start, end = report_period(_dt.datetime.now().timestamp(), year=args.year,
                                   quarter=args.quarter, since=args.since, until=args.until)
        client = (PrometheusClient(args.prometheus, timeout=args.timeout)
                  if args.prometheus and not database else None)
    except (ReportError, PrometheusError) as exc:
        print(f"govmilter report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if database:
            with open_counts(database) as store:
                data = collect_counts(store, start, end, args.agency)
        elif client is not None:
            data = collect(client, start, end, args.agency)
        else:
            print("govmilter report: no data source: give --database (the incident store, "
                  "exact counts) or --prometheus (estimates), or set incidents.database in the "
                  "policy", file=sys.stderr)
            return EXIT_USAGE
        described = describe_policy(loaded)
        if fmt in BINARY_FORMATS:
            # python-docx and lxml are imported by the report that writes a document, not by
            # every command: the daemon (``govmilter run``) would hold them for nothing
            from govmilter.tools.report_docx import docx_to_pdf, to_docx

            document = to_docx(data, described, loaded.agency)
            content: str | bytes = docx_to_pdf(document) if fmt == "pdf" else document
        else:
            content = render(data, described, fmt)
    except (ReportError, PrometheusError, StoreError) as exc:
        print(f"govmilter report: {exc}", file=sys.stderr)
        return EXIT_INPUT
    return _write_out("govmilter report", args.out, content)


def _write_out(command: str, out: str | None, content: str | bytes, *,
               exclusive: bool = False) -> int:
    """Write ``content`` to ``out`` (standard output when None; never over an existing file
    when ``exclusive``) and say so on standard error."""
    if not out:
        sys.stdout.write(content.decode("utf-8") if isinstance(content, bytes) else content)
        return EXIT_OK
    try:
        with open(out, "xb" if exclusive else "wb") as stream:
            stream.write(content if isinstance(content, bytes) else content.encode("utf-8"))
    except OSError as exc:
        print(f"{command}: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_INPUT
    print(f"{command}: wrote {out}", file=sys.stderr)
    return EXIT_OK


def cmd_policy(args: argparse.Namespace) -> int:
    """``govmilter policy init``: see govmilter.tools.policy_init."""
    from govmilter.tools.policy_init import PolicyInitError, init_policy

    try:
        text = init_policy(args.agency, monitor=args.monitor)
    except PolicyInitError as exc:
        print(f"govmilter policy init: {exc}", file=sys.stderr)
        return EXIT_USAGE
    # never over an existing file: it may be the policy in use
    return _write_out("govmilter policy init", args.out, text, exclusive=True)


def cmd_run(args: argparse.Namespace) -> int:
    """``govmilter run``: the milter daemon (its logic lives in :mod:`govmilter.server.daemon`,
    imported once the options passed: a refused one costs the interpreter alone)."""
    from govmilter.server.options import DaemonError, options_from_args
    from govmilter.server.privileges import PrivilegeError

    try:
        options = options_from_args(args)
        from govmilter.server.daemon import run

        return run(options)
    except (DaemonError, PrivilegeError) as exc:
        print(f"govmilter run: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _run_console(args: argparse.Namespace) -> int:
    """``govmilter console``: Flask and waitress are imported only when the console runs."""
    from govmilter.console.commands import run_console

    return run_console(args)


def _run_incidents(args: argparse.Namespace) -> int:
    from govmilter.tools.incident_commands import run_incidents

    return run_incidents(args)


def _run_quarantine(args: argparse.Namespace) -> int:
    from govmilter.tools.quarantine_commands import run_quarantine

    return run_quarantine(args)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "check": cmd_check, "run": cmd_run, "validate": cmd_validate, "report": cmd_report,
    "replay": cmd_replay, "explain": cmd_explain, "eval": cmd_eval,
    "incidents": _run_incidents, "quarantine": _run_quarantine, "console": _run_console,
    "policy": cmd_policy}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``govmilter`` command line; returns the process exit code."""
    words = sys.argv[1:] if argv is None else list(argv)
    # the command is the first word that is not an option (the top level's take no value)
    named = next((word for word in words if not word.startswith("-")), None)
    args = build_parser(named if named in SUBCOMMANDS else None).parse_args(words)
    try:
        return COMMANDS[args.command](args)
    except GovmilterError as exc:
        from govmilter.policy import PolicyError  # loaded already by what raised it

        if not isinstance(exc, PolicyError):
            raise
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        errors = sum(1 for p in exc.problems if p.severity == "error")
        print(f"govmilter: policy refused ({errors} error{'s' if errors != 1 else ''})",
              file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader left (`govmilter replay ... | head`): not an error worth a traceback.
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
