"""``govmilter incidents migrate|list|show|export|purge``: the store from the command line.

The database is ``--database`` (a path or ``postgresql://...``), else the policy's
``incidents.database``, else the default file. Reading an incident, exporting and purging are
written to the store's audit log with the acting user.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from govmilter.errors import GovmilterError
from govmilter.policy import Policy, load_policy
from govmilter.policy.units import NO_UNIT_SHOWN, unit_filter
from govmilter.store import IncidentQuery, IncidentStatus, IncidentStore, StoreError, open_store
from govmilter.store.database import migrate
from govmilter.tools.incidents import (
    INCIDENTS_JSON_SCHEMA,
    VN_TZ,
    acting_user,
    export_csv,
    export_json,
    incident_to_text,
    page_to_json,
    page_to_text,
    shown_to_json,
)

EXIT_OK, EXIT_INPUT, EXIT_USAGE = 0, 1, 2


class CommandError(GovmilterError):
    """A command's option is invalid."""


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    """``--database`` and ``--policy``, shared by the incidents and quarantine commands."""
    parser.add_argument("--database", metavar="URL",
                        help="the incident store: a SQLite file path or postgresql://USER@HOST/DB "
                             "(default: the policy's incidents.database, else "
                             "/var/lib/govmilter/incidents.sqlite3)")
    parser.add_argument("--policy", help="policy YAML whose incidents: section to use "
                                         "(default: the embedded default policy)")


def add_incident_arguments(sub: Any) -> None:
    """The ``incidents`` command and its sub-commands."""
    incidents = sub.add_parser("incidents", help="list, show, export and purge incidents",
                               description=__doc__)
    actions = incidents.add_subparsers(dest="incidents_command", required=True, metavar="ACTION")

    migrate = actions.add_parser("migrate", help="create or upgrade the store's schema")
    add_database_arguments(migrate)
    migrate.add_argument("--json", action="store_true", help="print the result as JSON")

    listing = actions.add_parser("list", help="incidents, newest first")
    add_database_arguments(listing)
    _add_filters(listing)
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    listing.add_argument("--offset", type=int, default=0, help="skip this many first")
    listing.add_argument("--json", action="store_true", help="print the page as JSON")

    show = actions.add_parser("show", help="one incident with its history")
    add_database_arguments(show)
    show.add_argument("id", help="incident id or Postfix queue id")
    show.add_argument("--json", action="store_true", help="print the incident as JSON")

    export = actions.add_parser("export", help="every matching incident, oldest first")
    add_database_arguments(export)
    _add_filters(export)
    export.add_argument("--format", choices=("csv", "json"), default="csv",
                        help="csv (default) or json")
    export.add_argument("--out", metavar="FILE", help="write here (default: standard output)")

    purge = actions.add_parser("purge", help="delete incidents older than the retention")
    add_database_arguments(purge)
    purge.add_argument("--older-than", type=int, metavar="DAYS",
                       help="age in days (default: the policy's incidents.retention_days)")
    purge.add_argument("--json", action="store_true", help="print the result as JSON")


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", metavar="WHEN",
                        help="from this time: 2026-12-01, 2026-12-01T08:00 (Vietnam time unless "
                             "a zone is given) or an age such as 7d, 12h")
    parser.add_argument("--until", metavar="WHEN", help="before this time (same forms)")
    parser.add_argument("--rule", help="only this rule (the message's or any recipient's)")
    parser.add_argument("--sender", metavar="ADDR", help="only this sender")
    parser.add_argument("--status", choices=[s.value for s in IncidentStatus],
                        help="only incidents with this status")
    parser.add_argument("--held", action="store_true", help="only held messages")
    parser.add_argument("--unit", metavar="ID",
                        help="only incidents whose sender is in this unit of the policy's "
                             "units: ('-': in no unit, and those stored before units were "
                             "recorded)")


def parse_when(text: str, now: _dt.datetime) -> _dt.datetime:
    """An ISO date/time (Vietnam time when no zone) or an age (``7d``, ``12h``, ``30m``)."""
    units = {"d": 86400, "h": 3600, "m": 60, "w": 7 * 86400}
    stripped = text.strip()
    if stripped[:-1].isdigit() and stripped[-1:] in units:
        return now - _dt.timedelta(seconds=int(stripped[:-1]) * units[stripped[-1]])
    try:
        moment = _dt.datetime.fromisoformat(stripped)
    except ValueError:
        raise CommandError(f"invalid time {text!r}: use 2026-12-01, 2026-12-01T08:00, "
                           "2026-12-01T08:00+07:00 or an age such as 7d") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=VN_TZ)


def query_from_args(args: argparse.Namespace, now: _dt.datetime,
                    policy: Policy | None = None) -> IncidentQuery:
    """The filters of ``list`` and ``export``; a ``--unit`` the policy does not declare (when it
    declares units) is said on standard error, since it may be a typing mistake or a unit
    since removed whose incidents remain."""
    unit = unit_filter(args.unit) if args.unit is not None else None
    if args.unit is not None and unit is None:
        raise CommandError(f"invalid --unit {args.unit!r}: a unit id is lower-case letters, "
                           f"digits, '-', '_' or '.'; '{NO_UNIT_SHOWN}' is no unit")
    if unit and policy is not None and policy.units and policy.units.get(unit) is None:
        print(f"govmilter incidents: note: the policy declares no unit {unit!r} (declared: "
              f"{', '.join(policy.units.ids)}); listing its stored incidents, if any",
              file=sys.stderr)
    return IncidentQuery(
        since=parse_when(args.since, now) if args.since else None,
        until=parse_when(args.until, now) if args.until else None,
        rule_id=args.rule, sender=args.sender,
        status=IncidentStatus(args.status) if args.status else None,
        held=True if args.held else None,
        unit=unit,
        limit=getattr(args, "limit", 50), offset=getattr(args, "offset", 0),
    )


def store_policy(args: argparse.Namespace) -> Policy:
    """The policy named by ``--policy`` (its incidents: section), else the embedded one."""
    return load_policy(args.policy)


def open_from_args(args: argparse.Namespace, policy: Policy) -> IncidentStore:
    """The store named by ``--database``, else by the policy (migrated on first use)."""
    return open_store(args.database or policy.incidents.database)


def run_incidents(args: argparse.Namespace) -> int:
    """Run ``govmilter incidents ACTION``; returns the exit code."""
    command: Callable[[argparse.Namespace, Policy], int] = _ACTIONS[args.incidents_command]
    try:
        return command(args, store_policy(args))
    except CommandError as exc:
        print(f"govmilter incidents: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StoreError as exc:
        print(f"govmilter incidents: {exc}", file=sys.stderr)
        return EXIT_INPUT


def _print(args: argparse.Namespace, as_json: Callable[[], object],
           as_text: Callable[[], str]) -> int:
    print(json.dumps(as_json(), ensure_ascii=False, indent=2) if args.json else as_text())
    return EXIT_OK


def _migrate(args: argparse.Namespace, policy: Policy) -> int:
    with open_store(args.database or policy.incidents.database, create=False) as store:
        before, after = migrate(store.engine)
        store.audit(acting_user(), "migrate", None, f"schema {before or 'none'} -> {after}")
        where = store.where
    return _print(args, lambda: {"schema": INCIDENTS_JSON_SCHEMA, "database": where,
                                 "before": before, "after": after},
                  lambda: f"incident store {where}: schema {before or 'none'} -> {after}"
                          + (" (already current)" if before == after else ""))


def _list(args: argparse.Namespace, policy: Policy) -> int:
    now = _dt.datetime.now(_dt.UTC)
    if args.limit < 0 or args.offset < 0:
        raise CommandError("--limit and --offset must be 0 or more")
    query = query_from_args(args, now, policy)
    with open_from_args(args, policy) as store:
        page = store.list_incidents(query)
        store.audit(acting_user(), "list", None, f"{len(page.incidents)} of {page.total} shown")
    return _print(args, lambda: page_to_json(page), lambda: page_to_text(page))


def _show(args: argparse.Namespace, policy: Policy) -> int:
    with open_from_args(args, policy) as store:
        incident = store.get_incident(args.id)
        if incident is None:
            print(f"govmilter incidents: no incident {args.id} in {store.where}", file=sys.stderr)
            return EXIT_INPUT
        store.audit(acting_user(), "show", incident.id)
    return _print(args, lambda: shown_to_json(incident), lambda: incident_to_text(incident))


def _export(args: argparse.Namespace, policy: Policy) -> int:
    now = _dt.datetime.now(_dt.UTC)
    query = query_from_args(args, now, policy)
    with open_from_args(args, policy) as store:
        incidents = store.iter_incidents(query)
        pieces = export_csv(incidents) if args.format == "csv" else export_json(incidents, now)
        count = _write(pieces, args.out)
        store.audit(acting_user(), "export", None,
                    f"{args.format} to {args.out or 'standard output'}")
    if args.out:
        print(f"govmilter incidents: wrote {args.out} ({count} bytes)", file=sys.stderr)
    return EXIT_OK


def _write(pieces: Iterator[str], out: str | None) -> int:
    """Write the pieces to ``out`` (standard output when None); returns the bytes written."""
    written = 0

    def drain(stream: TextIO) -> None:
        nonlocal written
        for piece in pieces:
            stream.write(piece)
            written += len(piece.encode("utf-8"))

    if out is None:
        drain(sys.stdout)
        return written
    try:
        with Path(out).open("w", encoding="utf-8", newline="") as stream:
            drain(stream)
    except OSError as exc:
        raise StoreError(f"cannot write {out}: {exc.strerror or exc}") from None
    return written


def _purge(args: argparse.Namespace, policy: Policy) -> int:
    days = args.older_than if args.older_than is not None else policy.incidents.retention_days
    if days < 1:
        raise CommandError("--older-than must be at least 1 day")
    with open_from_args(args, policy) as store:
        removed = store.purge(_dt.timedelta(days=days), acting_user())
    return _print(args, lambda: {"schema": INCIDENTS_JSON_SCHEMA, "purged": removed,
                                 "older_than_days": days},
                  lambda: f"purged {removed} incident(s) older than {days} days")


_ACTIONS: dict[str, Callable[[argparse.Namespace, Policy], int]] = {
    "migrate": _migrate, "list": _list, "show": _show, "export": _export, "purge": _purge,
}

