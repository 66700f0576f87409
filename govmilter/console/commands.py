"""``govmilter console``: serve the web console; ``govmilter console adduser|users``: accounts.

The console is served by waitress (a pure-Python WSGI server) on loopback by default; remote
officers reach it through the agency's TLS reverse proxy (docs/console.md).
"""

from __future__ import annotations

import argparse
import getpass
import ipaddress
import sys
from typing import Any

from govmilter.console.settings import ConsoleSettings
from govmilter.errors import GovmilterError
from govmilter.store import IncidentStore, StoreError
from govmilter.store.accounts import Role, list_accounts
from govmilter.tools.incident_commands import (
    add_database_arguments,
    open_from_args,
    store_policy,
)
from govmilter.tools.incidents import acting_user
from govmilter.tools.quarantine import Quarantine
from govmilter.tools.quarantine_commands import add_queue_arguments, queue_from_args

EXIT_OK, EXIT_INPUT, EXIT_USAGE = 0, 1, 2
DEFAULT_LISTEN = "127.0.0.1:8025"
#: waitress's worker threads: a handful of officers at once
THREADS = 8


class ListenError(GovmilterError):
    """``--listen`` is not HOST:PORT."""


def add_console_arguments(sub: Any) -> None:
    """The ``console`` command and its account sub-commands."""
    console = sub.add_parser("console", help="serve the web console for compliance officers",
                             description=__doc__)
    add_database_arguments(console)
    console.add_argument("--listen", default=DEFAULT_LISTEN, metavar="HOST:PORT",
                         help=f"address to serve on (default {DEFAULT_LISTEN}: loopback only; "
                              "remote officers come through a TLS reverse proxy)")
    console.add_argument("--trusted-user-header", metavar="HEADER",
                         help="take the signed-in user from this header set by the reverse "
                              "proxy (e.g. X-Remote-User); only when nothing else can reach "
                              "the console")
    console.add_argument("--secure-cookies", action="store_true",
                         help="send cookies over HTTPS only (set it behind a TLS proxy)")
    console.add_argument("--idle-minutes", type=int, default=30,
                         help="a session unused this long ends (default 30)")
    add_queue_arguments(console)  # the unit gives --queue-helper: it runs without root
    actions = console.add_subparsers(dest="console_command", metavar="ACTION")
    adduser = actions.add_parser("adduser", help="create an account or reset its password and "
                                 "role; the password is read from standard input")
    add_database_arguments(adduser)
    adduser.add_argument("name", help="the account name (the officer's login)")
    adduser.add_argument("--role", required=True, choices=[r.value for r in Role],
                         help="viewer reads; officer also releases and deletes held mail; "
                              "admin also manages accounts")
    users = actions.add_parser("users", help="list the console's accounts")
    add_database_arguments(users)


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[IPv6]:PORT`` as (host, port)."""
    host, _, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ListenError(f"invalid --listen {text!r}: use HOST:PORT, e.g. {DEFAULT_LISTEN}")
    return host, int(port)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_password() -> str:
    """The new password: typed twice at a terminal, else the first line of standard input."""
    if sys.stdin.isatty():
        first = getpass.getpass("Mật khẩu mới (new password): ")
        if getpass.getpass("Nhập lại (again): ") != first:
            raise StoreError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def run_console(args: argparse.Namespace) -> int:
    """Run ``govmilter console [ACTION]``; returns the exit code."""
    try:
        policy = store_policy(args)
        if args.console_command == "adduser":
            # argon2 is loaded by the commands that hash, not by every command line
            from govmilter.console.accounts import add_account

            password = read_password()
            with open_from_args(args, policy) as store:
                account = add_account(store, args.name, Role(args.role), password,
                                      acting_user())
            print(f"govmilter console: account {account.name} ({account.role.value}) saved")
            return EXIT_OK
        if args.console_command == "users":
            with open_from_args(args, policy) as store:
                for a in list_accounts(store):
                    print(f"{a.name}\t{a.role.value}\t{'disabled' if a.disabled else 'enabled'}")
            return EXIT_OK
        host, port = parse_listen(args.listen)
        if args.idle_minutes < 1:
            raise ListenError("--idle-minutes must be at least 1")
        with open_from_args(args, policy) as store:
            return serve(store, host, port, ConsoleSettings(
                idle_minutes=args.idle_minutes, trusted_user_header=args.trusted_user_header,
                secure_cookies=args.secure_cookies,
                unit_titles=tuple((unit.id, unit.title) for unit in policy.units.units)),
                Quarantine(queue_from_args(args)))
    except ListenError as exc:
        print(f"govmilter console: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StoreError as exc:
        print(f"govmilter console: {exc}", file=sys.stderr)
        return EXIT_INPUT


def serve(store: IncidentStore, host: str, port: int, settings: ConsoleSettings,
          held_mail: Quarantine | None = None) -> int:
    """Serve the console until interrupted."""
    import waitress

    from govmilter.console.app import create_app

    if not is_loopback(host):
        print(f"govmilter console: listening on {host}, not loopback: put it behind a TLS "
              "reverse proxy (docs/console.md)", file=sys.stderr)
    app = create_app(store, settings, held_mail=held_mail)
    print(f"govmilter console: serving http://{host}:{port}/ (database {store.where})",
          file=sys.stderr, flush=True)
    waitress.serve(app, host=host, port=port, threads=THREADS, ident="govmilter-console",
                   clear_untrusted_proxy_headers=True, _quiet=True)
    return EXIT_OK
