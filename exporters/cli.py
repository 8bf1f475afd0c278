"""`muara lapor …`: the operator's commands for the LAPOR! exporter."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from muara.cli import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, Subparsers, add_command
from muara.config import Settings
from muara.store.engine import create_engine
from muara.store.records import utc_now

T = TypeVar("T")


def _with_engine(settings: Settings, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(settings.store_url)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def cmd_sync_institutions(_args: argparse.Namespace, settings: Settings) -> int:
    import aiohttp

    from muara.exporters.institutions import agency_names, sync_institutions
    from muara.exporters.lapor.client import LaporClient
    from muara.exporters.lapor.errors import LaporError

    if settings.lapor.base_url is None:
        print("muara lapor: lapor.base_url is not set (the embedded simulator syncs itself)")
        return EXIT_CONFIG

    async def work(engine: AsyncEngine) -> int:
        async with aiohttp.ClientSession() as session:
            client = LaporClient(settings.lapor, session)
            try:
                report = await sync_institutions(
                    client, engine, agency_names(settings), clock=utc_now
                )
            except LaporError as err:
                print(f"muara lapor: LAPOR! did not answer: {err}", file=sys.stderr)
                return EXIT_FAILED
        print(
            f"{report.institutions} institutions in LAPOR!; {len(report.matched)} agencies mapped"
        )
        for code, ident in sorted(report.matched.items()):
            print(f"  {code:<12} -> {ident}")
        if report.unmatched:
            print("not found by name (set lapor.institutions): " + ", ".join(report.unmatched))
        return EXIT_OK

    return _with_engine(settings, work)


def cmd_held(_args: argparse.Namespace, settings: Settings) -> int:
    from muara.exporters.operator import held

    items = _with_engine(settings, held)
    if not items:
        print("no complaint is held")
    for item in items:
        print(
            f"#{item.complaint_id} {item.state} agency={item.agency or '-'} "
            f"outbox={item.outbox_state or '-'} attempts={item.attempts or 0}"
        )
        print(f"    reason: {item.reason}")
        if item.evidence:
            print(f"    evidence: {json.dumps(item.evidence, sort_keys=True)}")
    return EXIT_OK


def cmd_requeue(args: argparse.Namespace, settings: Settings) -> int:
    from muara.exporters.operator import requeue

    if not args.ids and not args.all:
        print("muara lapor requeue: give complaint ids or --all", file=sys.stderr)
        return EXIT_CONFIG
    ids = None if args.all else args.ids
    done = _with_engine(
        settings, lambda engine: requeue(engine, ids, actor="operator:cli", clock=utc_now)
    )
    print(f"requeued {len(done)} complaint(s)" + (f": {', '.join(map(str, done))}" if done else ""))
    return EXIT_OK if done or args.all else EXIT_FAILED


def cmd_release(args: argparse.Namespace, settings: Settings) -> int:
    from muara.exporters.operator import OperatorError, release

    try:
        _with_engine(settings, lambda engine: release(engine, args.id))
    except OperatorError as err:
        print(f"muara lapor: {err}", file=sys.stderr)
        return EXIT_FAILED
    print(f"complaint {args.id} released")
    return EXIT_OK


def cmd_resolve(args: argparse.Namespace, settings: Settings) -> int:
    from muara.exporters.operator import OperatorError, resolve

    if (args.filed_as is None) == (not args.not_filed):
        print(
            "muara lapor resolve: give exactly one of --filed-as ID, --not-filed", file=sys.stderr
        )
        return EXIT_CONFIG
    try:
        _with_engine(
            settings,
            lambda engine: resolve(engine, args.id, filed_as=args.filed_as, clock=utc_now),
        )
    except OperatorError as err:
        print(f"muara lapor: {err}", file=sys.stderr)
        return EXIT_FAILED
    print(f"complaint {args.id} resolved; the exporter takes it from here")
    return EXIT_OK


def cmd_reconcile(args: argparse.Namespace, settings: Settings) -> int:
    from muara.exporters.operator import reconcile_again

    ids = None if not args.ids else args.ids
    done = _with_engine(settings, lambda engine: reconcile_again(engine, ids))
    print(f"{len(done)} complaint(s) will be looked up in LAPOR! again")
    return EXIT_OK


def cmd_outbox(args: argparse.Namespace, settings: Settings) -> int:
    from muara.exporters.filing import TARGET
    from muara.store.outbox import ExportState, Outbox

    states = [ExportState(args.state)] if args.state else None

    async def work(engine: AsyncEngine) -> int:
        rows = await Outbox(engine, args.target or TARGET, clock=utc_now).listing(states)
        for row in rows:
            print(
                f"#{row.complaint_id:<8} {row.state.value:<9} attempts={row.attempts} "
                f"lapor_id={row.external_id or '-'} error={row.last_error_class or '-'}"
            )
        print(f"{len(rows)} row(s)")
        return EXIT_OK

    return _with_engine(settings, work)


def cmd_reroute(args: argparse.Namespace, settings: Settings) -> int:
    from muara.store.reroutes import RerouteError, reroute

    try:
        was = _with_engine(
            settings,
            lambda engine: reroute(
                engine,
                args.id,
                args.agency,
                decided_by=f"coordinator:{args.by}",
                reason=args.reason,
                clock=utc_now,
            ),
        )
    except RerouteError as err:
        print(f"muara lapor: {err}", file=sys.stderr)
        return EXIT_FAILED
    then = "LAPOR!'s forward call follows" if was.value == "EXPORTED" else "it is filed there"
    print(f"complaint {args.id} re-routed to {args.agency}; {then}")
    return EXIT_OK


def cmd_export_file(args: argparse.Namespace, settings: Settings) -> int:
    from prometheus_client import CollectorRegistry

    from muara.exporters.file_sink import FileSinkStage
    from muara.exporters.metrics import Metrics
    from muara.store.repository import Store
    from muara.worker import StageWorker

    if settings.lapor.sink != "file":
        print(
            "muara lapor export-file: lapor.sink is 'api'; set it to 'file' so the daemon does "
            "not file the same complaints into the API",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    folder = args.out or settings.lapor.file_dir or settings.data_dir / "lapor-export"

    async def work(engine: AsyncEngine) -> int:
        store = Store(engine)
        stage = FileSinkStage(store, settings.lapor, folder, Metrics(CollectorRegistry()))
        worker = StageWorker(stage, store, settings.workers)
        total = 0
        while handled := await worker.run_once():
            total += handled
        return total

    print(f"{_with_engine(settings, work)} complaint(s) handled; files in {folder}")
    return EXIT_OK


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    """Add `muara lapor …` to the command line."""
    from pathlib import Path

    lapor = sub.add_parser("lapor", help="the LAPOR! exporter: outbox, held, requeue, …")
    commands = lapor.add_subparsers(dest="lapor_command", required=True, metavar="COMMAND")

    def add(
        name: str, func: Callable[[argparse.Namespace, Settings], int], help_: str
    ) -> argparse.ArgumentParser:
        return add_command(commands, name, func, help_)

    add("sync-institutions", cmd_sync_institutions, "map agencies to LAPOR! institutions by name")
    add("held", cmd_held, "complaints held for an operator, with the evidence")
    requeue = add("requeue", cmd_requeue, "dead letters (EXPORT_FAILED) back to the exporter")
    requeue.add_argument("ids", nargs="*", type=int, help="complaint ids")
    requeue.add_argument("--all", action="store_true", help="every dead letter")
    release = add("release", cmd_release, "let the exporter try a held complaint again")
    release.add_argument("id", type=int)
    resolve = add("resolve", cmd_resolve, "settle a held outcome-unknown filing by hand")
    resolve.add_argument("id", type=int)
    resolve.add_argument("--filed-as", help="LAPOR!'s id: it is in LAPOR! as this complaint")
    resolve.add_argument("--not-filed", action="store_true", help="it is not in LAPOR!: file it")
    reconcile = add("reconcile", cmd_reconcile, "look held outcome-unknown filings up again")
    reconcile.add_argument("ids", nargs="*", type=int, help="complaint ids (default: all)")
    outbox = add("outbox", cmd_outbox, "the outbox rows, oldest change first")
    outbox.add_argument("--state", choices=["sending", "retry", "accepted", "unknown", "failed"])
    outbox.add_argument("--target", help="lapor (default) or lapor-file")
    reroute = add("reroute", cmd_reroute, "give a complaint another agency (forwarded if filed)")
    reroute.add_argument("id", type=int)
    reroute.add_argument("agency", help="the new agency code")
    reroute.add_argument("--by", required=True, help="the coordinator's user name")
    reroute.add_argument("--reason", required=True, help="why (no personal data)")
    export = add("export-file", cmd_export_file, "write routed complaints in LAPOR!'s layout")
    export.add_argument("--out", type=Path, help="folder (default: lapor.file_dir)")
