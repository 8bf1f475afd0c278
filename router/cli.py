"""`muara route --explain ID [--json]`: which rules fire, what the classifier said, and why."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from sqlalchemy.exc import SQLAlchemyError

from muara.classify.errors import ClassifyError
from muara.classify.location import Gazetteer
from muara.cli import EXIT_FAILED, EXIT_OK, Subparsers, add_command
from muara.config import ConfigError, Settings
from muara.router.configured import ruleset_from
from muara.router.explain import Explanation, explain
from muara.store.engine import create_engine, current_revision


def _percent(value: float) -> str:
    # As the router's own reasons print thresholds and confidences.
    return f"{value:.2f}"


def render(found: Explanation) -> str:
    """The explanation as an operator reads it on a terminal."""
    lines = [
        f"complaint #{found.id}: channel {found.channel}, state {found.state}, "
        f"received {found.received_at.isoformat(timespec='seconds')}, agency {found.agency or '-'}",
        "",
        "rules (evaluated now, in order; the first that fires decides):",
    ]
    if not found.rules:
        lines.append("  (none configured)")
    for check in found.rules:
        if check.error is not None:
            mark = f"ERROR {check.error}"
        elif check.decides:
            mark = "FIRES, decides"
        elif check.fired:
            mark = "fires (an earlier rule decides)"
        else:
            mark = "no match"
        lines.append(f"  {check.name}: {mark}" + (f" - {check.reason}" if check.reason else ""))
    lines.append("")
    if found.suggestion is None:
        lines.append("classifier: no suggestion")
    else:
        top = ", ".join(f"{agency} {p:.3f}" for agency, p in found.suggestion.top[:3])
        lines.append(f"classifier ({found.suggestion.model_version}): top 3: {top}")
    if found.thresholds is not None:
        t = found.thresholds
        per_agency = "none" if t.per_agency is None else _percent(t.per_agency)
        lines.append(
            f"threshold for {t.agency}: per-agency {per_agency} ({t.source}), "
            f"global {_percent(t.global_threshold)}; applied {_percent(t.applied)}"
        )
    lines.append("")
    now = found.now
    lines.append(
        f"decision now: {now.target.value}"
        + (f" to {now.agency}" if now.agency else "")
        + f" by {now.decided_by}: {now.reason}"
    )
    lines.append("recorded decisions:")
    if not found.recorded:
        lines.append("  (none)")
    for entry in found.recorded:
        lines.append(
            f"  {entry.at.isoformat(timespec='seconds')} {entry.target}"
            + (f" to {entry.agency}" if entry.agency else "")
            + f" by {entry.decided_by}: {entry.reason}"
        )
    return "\n".join(lines)


async def _explain(settings: Settings, complaint_id: int) -> Explanation | None:
    gazetteer = None
    if (path := settings.classifier.gazetteer_path) is not None:
        try:
            gazetteer = await asyncio.to_thread(Gazetteer.load, path)
        except ClassifyError as err:
            raise ConfigError(f"classifier.gazetteer_path: {err}") from err
    rules = ruleset_from(settings.router, gazetteer=lambda: gazetteer)
    engine = create_engine(settings.store_url)
    try:
        if await current_revision(engine) is None:
            return None
        return await explain(settings, engine, rules, complaint_id)
    finally:
        await engine.dispose()


def cmd_route(args: argparse.Namespace, settings: Settings) -> int:
    """`muara route --explain ID`."""
    try:
        found = asyncio.run(_explain(settings, args.explain))
    except (SQLAlchemyError, OSError) as err:
        print(f"muara route: cannot read the store: {type(err).__name__}", file=sys.stderr)
        return EXIT_FAILED
    if found is None:
        print(f"muara route: no complaint #{args.explain}", file=sys.stderr)
        return EXIT_FAILED
    if args.json:
        print(json.dumps(found.as_json(), indent=2, ensure_ascii=False))
    else:
        print(render(found))
    return EXIT_OK


def register(sub: Subparsers[argparse.ArgumentParser]) -> None:
    """Add `muara route`."""
    route = add_command(
        sub, "route", cmd_route, "explain how a complaint is routed (rules, classifier, thresholds)"
    )
    route.add_argument(
        "--explain", type=int, required=True, metavar="ID", help="the complaint to explain"
    )
    route.add_argument("--json", action="store_true", help="print JSON instead of text")
