"""The `muara` command: run, migrate, check-config, status, version, train, lapor-sim."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from muara import __version__
from muara.config import ConfigError, Settings, load_settings
from muara.logs import configure_logging
from muara.store.engine import StoreConfigError

log = logging.getLogger("muara")

DEFAULT_CONFIG = Path("muara.toml")
EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def find_config(given: Path | None) -> Path | None:
    """--config, else $MUARA_CONFIG, else ./muara.toml if present; None: the embedded default."""
    if given is not None:
        return given
    if env := os.environ.get("MUARA_CONFIG"):
        return Path(env)
    return DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None


def settings_from(args: argparse.Namespace) -> Settings:
    """Load the settings the command line points at; no config file means the embedded default."""
    path = find_config(args.config)
    if path is None:
        return load_settings(demo=True) if args.command == "run" else load_settings()
    return load_settings(path)


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from muara.daemon import Daemon, StoreNotReadyError
    from muara.store.source_leases import AnotherDaemonError

    if find_config(args.config) is None:
        log.info(
            "no config file: embedded default (SQLite in %s/, in-process LAPOR! simulator, "
            "starter model, demo spool)",
            settings.data_dir,
        )
    try:
        asyncio.run(Daemon(settings).run())
    except (StoreNotReadyError, AnotherDaemonError) as err:
        print(f"muara: {err}", file=sys.stderr)
        return EXIT_FAILED
    except (SQLAlchemyError, OSError) as err:
        # Start-up failures get one clear line, not a traceback: what failed and why.
        print(f"muara: cannot start: {type(err).__name__}: {err}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def cmd_migrate(_args: argparse.Namespace, settings: Settings) -> int:
    from muara.store.engine import create_engine, migrate

    async def run() -> tuple[str | None, str | None]:
        engine = create_engine(settings.store_url)
        try:
            return await migrate(engine)
        finally:
            await engine.dispose()

    before, after = asyncio.run(run())
    if before == after:
        print(f"store already at revision {after}")
    else:
        print(f"store migrated from {before or 'empty'} to {after}")
    return EXIT_OK


def cmd_check_config(args: argparse.Namespace, settings: Settings) -> int:
    from muara.checks import run_checks

    results = asyncio.run(run_checks(settings, find_config(args.config)))
    width = max(len(result.name) for result in results)
    for result in results:
        status = "FAIL" if not result.ok else "WARN" if result.warning else "ok  "
        print(f"{status} {result.name:<{width}}  {result.detail}")
    return EXIT_OK if all(result.ok for result in results) else EXIT_FAILED


def cmd_status(_args: argparse.Namespace, settings: Settings) -> int:
    from muara.status import render_status

    print(asyncio.run(render_status(settings)))
    return EXIT_OK


def cmd_version(_args: argparse.Namespace, _settings: Settings) -> int:
    print(f"muara {__version__}")
    return EXIT_OK


def cmd_lapor_sim(args: argparse.Namespace, _settings: Settings) -> int:
    from muara.classify.starter import STARTER_AGENCIES
    from muara.exporters.lapor.simulator import default_institutions, serve_forever

    token = args.token or os.environ.get("MUARA_LAPOR__TOKEN", "")
    key = args.key or os.environ.get("MUARA_LAPOR__KEY", "")
    if not token or not key:
        print(
            "muara lapor-sim: give --token and --key (or MUARA_LAPOR__TOKEN/KEY)", file=sys.stderr
        )
        return EXIT_CONFIG
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            serve_forever(
                args.host,
                args.port,
                token,
                key,
                args.record,
                institutions=default_institutions(STARTER_AGENCIES),
                latency=args.latency_ms / 1000,
            )
        )
    return EXIT_OK


Command = Callable[[argparse.Namespace, Settings], int]
# argparse exposes no public name for the subparsers object.
Subparsers = argparse._SubParsersAction


def add_command(
    sub: Subparsers[argparse.ArgumentParser], name: str, func: Command, help_: str
) -> argparse.ArgumentParser:
    """Add a subcommand; `func(args, settings)` returns the exit code. Areas register theirs."""
    command = sub.add_parser(name, help=help_, description=help_)
    command.set_defaults(func=func)
    return command


def build_parser() -> argparse.ArgumentParser:
    """The command line's grammar."""
    parser = argparse.ArgumentParser(
        prog="muara",
        description="Gathers citizen complaints and files them into SP4N-LAPOR!.",
    )
    parser.add_argument(
        "-c", "--config", type=Path, help="config file (default: $MUARA_CONFIG or ./muara.toml)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Command, help_: str) -> argparse.ArgumentParser:
        return add_command(sub, name, func, help_)

    add("run", cmd_run, "run the daemon (embedded default without a config file)")
    add("migrate", cmd_migrate, "apply pending store migrations")
    add("check-config", cmd_check_config, "validate the config and connect to each part")
    add("status", cmd_status, "counts by state and channel, oldest item per state")
    add("version", cmd_version, "print the version")
    sim = add("lapor-sim", cmd_lapor_sim, "run the LAPOR! simulator on loopback")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8471)
    sim.add_argument("--token", help="bearer token the simulator accepts")
    sim.add_argument("--key", help="`token` header value the simulator accepts")
    sim.add_argument("--record", type=Path, help="append each filing as a JSON line to FILE")
    sim.add_argument("--latency-ms", type=float, default=0, help="delay of every filing (bench)")
    # Subcommands of each area register here, one line each: `register(sub)`.
    from muara.classify.cli import register as register_classifier
    from muara.exporters.cli import register as register_lapor
    from muara.review.cli import register as register_review
    from muara.router.cli import register as register_router

    register_lapor(sub)
    register_classifier(sub)  # train, evaluate, model list|activate|rollback
    register_review(sub)  # user add|disable|enable|reset-password|list
    from muara.privacy.cli import register as register_privacy

    register_privacy(sub)  # forget --contact
    register_router(sub)  # route --explain ID
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `muara` command."""
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from(args)
    except ConfigError as err:
        print(f"muara: {err}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.log_level, settings.log_format)
    func: Command = args.func
    try:
        return func(args, settings)
    except (ConfigError, StoreConfigError) as err:
        print(f"muara: {err}", file=sys.stderr)
        return EXIT_CONFIG
