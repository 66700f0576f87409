"""``govmilter quarantine list|show|release|delete``: held mail from the command line.

The Postfix instance is ``--postfix-config DIR`` (default /etc/postfix); its commands need root.
Without root, ``--queue-helper [SOCKET]`` asks govmilter's queue helper instead (deploy/
govmilter-queue.socket, for users in group govmilter; docs/console.md). ID is an incident id or
a Postfix queue id. A release or delete needs ``--reason``, kept in the store with the acting
user (the login name, and the user behind sudo).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from typing import Any

from govmilter.store import StoreError
from govmilter.tools.incident_commands import (
    EXIT_INPUT,
    EXIT_OK,
    EXIT_USAGE,
    add_database_arguments,
    open_from_args,
    store_policy,
)
from govmilter.tools.incidents import INCIDENTS_JSON_SCHEMA, acting_user, incident_to_text
from govmilter.tools.postfix_queue import (
    DEFAULT_POSTFIX_CONFIG,
    DEFAULT_QUEUE_HELPER,
    HelperQueue,
    HoldQueue,
    PostfixQueue,
)
from govmilter.tools.quarantine import Quarantine, QuarantineError, held_to_json, held_to_text


def add_quarantine_arguments(sub: Any) -> None:
    """The ``quarantine`` command and its sub-commands."""
    quarantine = sub.add_parser("quarantine", help="list, show, release and delete held mail",
                                description=__doc__)
    actions = quarantine.add_subparsers(dest="quarantine_command", required=True,
                                        metavar="ACTION")
    listing = actions.add_parser("list", help="the hold queue with each message's incident")
    show = actions.add_parser("show", help="a held message's headers and extracted text")
    show.add_argument("id", help="incident id or Postfix queue id")
    release = actions.add_parser("release", help="deliver a held message")
    delete = actions.add_parser("delete", help="delete a held message")
    for decision in (release, delete):
        decision.add_argument("id", help="incident id or Postfix queue id")
        decision.add_argument("--reason", required=True, metavar="TEXT",
                              help="why (required; kept with the decision and the acting user)")
    for parser in (listing, show, release, delete):
        add_database_arguments(parser)
        add_queue_arguments(parser)
        parser.add_argument("--json", action="store_true", help="print the result as JSON")


def add_queue_arguments(parser: argparse.ArgumentParser) -> None:
    """``--postfix-config`` and ``--queue-helper``: how to reach Postfix's hold queue."""
    parser.add_argument("--postfix-config", default=DEFAULT_POSTFIX_CONFIG, metavar="DIR",
                        help="the Postfix instance's configuration directory, whose commands "
                             "need root (default: %(default)s)")
    parser.add_argument("--queue-helper", nargs="?", const=DEFAULT_QUEUE_HELPER,
                        metavar="SOCKET",
                        help="go through govmilter's queue helper instead, which runs Postfix's "
                             "commands as root (default socket: %(const)s; its own "
                             "--postfix-config applies)")


def queue_from_args(args: argparse.Namespace) -> HoldQueue:
    """The hold queue the options name: through the queue helper, or Postfix's commands."""
    if args.queue_helper:
        return HelperQueue(args.queue_helper)
    return PostfixQueue(args.postfix_config)


def run_quarantine(args: argparse.Namespace) -> int:
    """Run ``govmilter quarantine ACTION``; returns the exit code."""
    quarantine = Quarantine(queue_from_args(args))
    now = _dt.datetime.now(_dt.UTC)
    try:
        with open_from_args(args, store_policy(args)) as store:
            if args.quarantine_command == "list":
                held = quarantine.held(store, now)
                return _print(args, {"schema": INCIDENTS_JSON_SCHEMA,
                                     "held": [held_to_json(h, now) for h in held]},
                              lambda: held_to_text(held, now))
            if args.quarantine_command == "show":
                incident, _ = quarantine.find(store, args.id)
                content = quarantine.content(store, incident)
                store.audit(acting_user(), "show-held", incident.id)
                if content is None:
                    raise QuarantineError(f"the message of incident {incident.id} is no longer "
                                          "in the hold queue")
                headers = "\n".join(f"{name}: {value}" for name, value in content.headers)
                return _print(args, {"schema": INCIDENTS_JSON_SCHEMA, "incident": incident.id,
                                     "headers": [list(h) for h in content.headers],
                                     "text": content.text},
                              lambda: f"{incident_to_text(incident)}\n\n{headers}\n\n"
                                      f"{content.text}")
            decide = quarantine.release if args.quarantine_command == "release" \
                else quarantine.delete
            decided = decide(store, args.id, acting_user(), args.reason)
            last = decided.history[-1]
            return _print(args, {"schema": INCIDENTS_JSON_SCHEMA, "incident": decided.id,
                                 "queue_id": decided.queue_id, "status": decided.status.value,
                                 "actor": last.actor, "reason": last.reason},
                          lambda: f"{decided.status.value}: {decided.queue_id} (incident "
                                  f"{decided.id}) by {last.actor}: {last.reason}")
    except QuarantineError as exc:
        print(f"govmilter quarantine: {exc}", file=sys.stderr)
        return EXIT_USAGE if "reason is required" in str(exc) else EXIT_INPUT
    except StoreError as exc:
        print(f"govmilter quarantine: {exc}", file=sys.stderr)
        return EXIT_INPUT


def _print(args: argparse.Namespace, as_json: object, as_text: Any) -> int:
    print(json.dumps(as_json, ensure_ascii=False, indent=2) if args.json else as_text())
    return EXIT_OK
