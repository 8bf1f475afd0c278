"""`muara user add|disable|enable|reset-password|list`: the review desk's accounts."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from muara.cli import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, Subparsers, add_command
from muara.config import Settings
from muara.review.passwords import WeakPasswordError, hash_password
from muara.store.engine import create_engine, current_revision, head_revision, migrate
from muara.store.records import utc_now
from muara.store.review_accounts import Accounts, Role, UnknownUserError, UserExistsError


class _UsageError(Exception):
    """Something the operator typed that cannot be done; the message says what."""


def _read_password(args: argparse.Namespace) -> str:
    """From stdin (one line) with --password-stdin, else asked twice on the terminal."""
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        if not sys.stdin.isatty():
            raise _UsageError("no terminal to ask for the password: use --password-stdin")
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise _UsageError("the passwords differ")
    try:
        return hash_password(password)
    except WeakPasswordError as err:
        raise _UsageError(str(err)) from err


async def _with_accounts(settings: Settings, work: Callable[[Accounts], Awaitable[str]]) -> str:
    engine = create_engine(settings.store_url)
    try:
        revision = await current_revision(engine)
        if revision is None:
            await migrate(engine)
        elif revision != head_revision():
            raise _UsageError(
                f"the store is at schema revision {revision}, this release needs "
                f"{head_revision()}: run `muara migrate` first"
            )
        return await work(Accounts(engine, clock=utc_now))
    finally:
        await engine.dispose()


def cmd_user(args: argparse.Namespace, settings: Settings) -> int:
    """Dispatch `muara user ACTION`."""
    action: Callable[[argparse.Namespace], Callable[[Accounts], Awaitable[str]]] = args.action
    try:
        print(asyncio.run(_with_accounts(settings, action(args))))
    except (_UsageError, UserExistsError, UnknownUserError) as err:
        print(f"muara user: {err}", file=sys.stderr)
        return EXIT_CONFIG if isinstance(err, _UsageError) else EXIT_FAILED
    return EXIT_OK


def _add(args: argparse.Namespace) -> Callable[[Accounts], Awaitable[str]]:
    password_hash = _read_password(args)
    agencies = frozenset(args.agency) if args.agency else None

    async def work(accounts: Accounts) -> str:
        user = await accounts.add(args.username, password_hash, Role(args.role), agencies)
        scope = ", ".join(sorted(agencies)) if agencies else "all agencies"
        return f"user {user.username} added ({user.role.value}; {scope})"

    return work


def _disable(args: argparse.Namespace) -> Callable[[Accounts], Awaitable[str]]:
    async def work(accounts: Accounts) -> str:
        await accounts.set_disabled(args.username, True)
        return f"user {args.username} disabled; their sessions ended"

    return work


def _enable(args: argparse.Namespace) -> Callable[[Accounts], Awaitable[str]]:
    async def work(accounts: Accounts) -> str:
        await accounts.set_disabled(args.username, False)
        return f"user {args.username} enabled"

    return work


def _reset(args: argparse.Namespace) -> Callable[[Accounts], Awaitable[str]]:
    password_hash = _read_password(args)

    async def work(accounts: Accounts) -> str:
        await accounts.set_password(args.username, password_hash)
        return f"password of {args.username} reset; their sessions ended, any lock lifted"

    return work


def _list(_args: argparse.Namespace) -> Callable[[Accounts], Awaitable[str]]:
    async def work(accounts: Accounts) -> str:
        lines = [
            f"{user.username}\t{user.role.value}\t"
            f"{','.join(sorted(user.agencies)) if user.agencies else '*'}\t"
            f"{'disabled' if user.disabled else 'active'}"
            for user in await accounts.list_users()
        ]
        return "\n".join(lines) or "no users"

    return work


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    """Add `muara user …` to the command line."""
    user = add_command(sub, "user", cmd_user, "manage the review desk's accounts")
    actions = user.add_subparsers(dest="user_action", required=True, metavar="ACTION")

    def action(name: str, func: Any, help_: str, *, password: bool = False) -> Any:
        parser = actions.add_parser(name, help=help_, description=help_)
        parser.add_argument("username")
        if password:
            parser.add_argument(
                "--password-stdin",
                action="store_true",
                help="read the password from the first line of stdin (never give it as an "
                "argument: it would show in the process list)",
            )
        parser.set_defaults(action=func)
        return parser

    add = action("add", _add, "add an account", password=True)
    add.add_argument("--role", choices=[role.value for role in Role], default="coordinator")
    add.add_argument(
        "--agency",
        action="append",
        metavar="CODE",
        help="limit the account to an agency's complaints (repeat for several; default: all)",
    )
    action("disable", _disable, "disable an account and end its sessions")
    action("enable", _enable, "enable a disabled account")
    action("reset-password", _reset, "set a new password, end sessions, lift a lock", password=True)
    lister = actions.add_parser("list", help="list the accounts", description="list the accounts")
    lister.set_defaults(action=_list)
