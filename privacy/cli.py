"""`muara forget --contact ADDRESS [--dry-run]`: remove one reporter's personal data on request."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from muara.cli import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, Subparsers, add_command
from muara.config import Settings
from muara.privacy.forget import ForgetReport, NotAContactError, forget, render
from muara.store.engine import create_engine


def _actor() -> str:
    """Who ran it, for the audit log: the operator's account on this machine."""
    try:
        return f"forget:{getpass.getuser()}"[:128]
    except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
        return "forget"


def cmd_forget(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    contact: str = sys.stdin.readline().strip() if args.contact_stdin else (args.contact or "")
    if not contact:
        print("muara forget: give --contact ADDRESS or --contact-stdin", file=sys.stderr)
        return EXIT_CONFIG

    async def run() -> ForgetReport:
        engine = create_engine(settings.store_url)
        try:
            return await forget(engine, contact, actor=_actor(), dry_run=args.dry_run)
        finally:
            await engine.dispose()

    try:
        report = asyncio.run(run())
    except NotAContactError as err:
        print(f"muara forget: {err}", file=sys.stderr)
        return EXIT_CONFIG
    except SQLAlchemyError as err:
        # The class only: a driver's message may quote the statement's parameters.
        print(
            f"muara forget: the store failed ({type(err).__name__}); nothing changed",
            file=sys.stderr,
        )
        return EXIT_FAILED
    print(render(report))
    return EXIT_OK


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    """Add `muara forget` to the command line."""
    command = add_command(
        sub,
        "forget",
        cmd_forget,
        "remove a reporter's personal data from every complaint of theirs (audited)",
    )
    given = command.add_mutually_exclusive_group()
    given.add_argument(
        "--contact",
        metavar="ADDRESS",
        help="the reporter's phone (08…, +62…, 62…), e-mail address or X handle",
    )
    given.add_argument(
        "--contact-stdin",
        action="store_true",
        help="read the contact from stdin (keeps it out of the shell history and process list)",
    )
    command.add_argument(
        "--dry-run", action="store_true", help="report what would be touched, change nothing"
    )
