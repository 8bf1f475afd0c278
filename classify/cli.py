"""The classifier's commands: `muara train`, `muara evaluate`, `muara model ...`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from muara.cli import EXIT_FAILED, EXIT_OK, add_command
from muara.config import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from muara.classify.dataset import Columns
    from muara.classify.location import Gazetteer


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _fail(command: str, message: object) -> int:
    print(f"muara {command}: {message}", file=sys.stderr)
    return EXIT_FAILED


def _add_columns(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("columns (names in the CSV header; case does not matter)")
    group.add_argument(
        "--preset",
        choices=["muara", "lapor"],
        help="muara: text, agency, received_at, district, subdistrict (the default); "
        "lapor: LAPOR! open data (JudulLaporan, IsiLaporan, DisposisiInstansi, "
        "TanggalLaporanMasuk, Area)",
    )
    group.add_argument("--text-column", help="the complaint text")
    group.add_argument("--title-column", help="a title, read before the text (optional)")
    group.add_argument("--label-column", help="the agency that handled it")
    group.add_argument("--received-column", help="when it came in (ISO 8601 or DD/MM/YYYY)")
    group.add_argument("--district-column", help="kecamatan (optional)")
    group.add_argument("--subdistrict-column", help="kelurahan/desa (optional)")
    group.add_argument("--timezone", default="Asia/Jakarta", help="zone of dates without an offset")
    parser.add_argument(
        "--gazetteer",
        type=Path,
        help="CSV district,subdistrict of the region (default: classifier.gazetteer_path)",
    )
    parser.add_argument(
        "--min-examples",
        type=int,
        default=5,
        help="agencies with fewer examples are routed to review (default 5)",
    )


def _columns(args: argparse.Namespace) -> tuple[Columns, set[str]]:
    from muara.classify.dataset import columns_for

    return columns_for(
        args.preset,
        text=args.text_column,
        label=args.label_column,
        title=args.title_column,
        received_at=args.received_column,
        district=args.district_column,
        subdistrict=args.subdistrict_column,
    )


def _gazetteer(args: argparse.Namespace, settings: Settings) -> Gazetteer | None:
    from muara.classify.location import Gazetteer

    path = args.gazetteer or settings.classifier.gazetteer_path
    return None if path is None else Gazetteer.load(path)


async def _open_store(settings: Settings) -> AsyncEngine:
    """The configured store, migrated if it is empty (as `muara run` would)."""
    from muara.classify.errors import ClassifyError
    from muara.store.engine import create_engine, current_revision, head_revision, migrate

    engine = create_engine(settings.store_url)
    revision = await current_revision(engine)
    if revision is None:
        await migrate(engine)
    elif revision != head_revision():
        await engine.dispose()
        raise ClassifyError(
            f"the store is at schema revision {revision}, this release needs {head_revision()}: "
            "run `muara migrate` first"
        )
    return engine


# -- muara train -------------------------------------------------------------------------------


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    """Train on a CSV (and/or the coordinators' decisions); register it, or save it to --out."""
    from sqlalchemy.exc import SQLAlchemyError

    from muara.classify.errors import ClassifyError

    if args.csv is None and not args.from_store:
        return _fail("train", "give --csv FILE, --from-store, or both")
    try:
        return asyncio.run(_train(args, settings))
    except ClassifyError as err:
        return _fail("train", err)
    except (SQLAlchemyError, OSError) as err:
        return _fail("train", f"{type(err).__name__}: {err}")


async def _train(args: argparse.Namespace, settings: Settings) -> int:
    from muara.classify.corrections import coordinator_examples
    from muara.classify.model import AgencyModel
    from muara.classify.registry import ModelRegistry
    from muara.classify.training import (
        apply_corrections,
        report_for,
        train_examples,
        train_from_csv,
        what_changed,
    )

    columns, required = _columns(args)
    gazetteer = _gazetteer(args, settings)
    use_store = args.from_store or args.out is None
    engine = await _open_store(settings) if use_store else None
    try:
        registry = None if engine is None else ModelRegistry(engine)
        previous: AgencyModel | None = None
        if registry is not None and (version := await registry.active_version()):
            previous = await registry.load(version)
        corrections = []
        if engine is not None and args.from_store:
            corrections = await coordinator_examples(engine)
            _say(f"{len(corrections):,} coordinator decisions in the store")
        weight = settings.classifier.correction_weight
        if args.csv is not None:
            model, report = await asyncio.to_thread(
                train_from_csv,
                args.csv,
                out_path=args.out,
                columns=columns,
                required=required,
                min_examples=args.min_examples,
                gazetteer=gazetteer,
                corrections=corrections,
                correction_weight=weight,
                previous=previous,
                progress=_say,
            )
        else:
            examples, _ = apply_corrections([], corrections, weight)
            model, merged = await asyncio.to_thread(
                train_examples,
                examples,
                min_examples=args.min_examples,
                source="store",
                gazetteer=gazetteer,
                progress=_say,
            )
            if args.out is not None:
                model.save(args.out)
            changes = what_changed(previous, model, corrections)
            report = report_for(
                model, args.out, merged, corrections=len(corrections), changes=changes
            )
        print(report.summary())
        if args.out is not None:
            print(f'use it with: [classifier] model_path = "{args.out}"')
            return EXIT_OK
        assert registry is not None
        entry = await registry.add(model, activate=args.activate)
        if entry.active:
            print(f"registered and activated {entry.version}: running daemons switch to it")
        else:
            print(f"registered {entry.version}; activate it: muara model activate {entry.version}")
        return EXIT_OK
    finally:
        if engine is not None:
            await engine.dispose()


# -- muara evaluate ----------------------------------------------------------------------------


def cmd_evaluate(args: argparse.Namespace, settings: Settings) -> int:
    """Train on earlier (or one file), test on later (or another), beside the baseline."""
    from muara.classify.dataset import read_csv
    from muara.classify.errors import ClassifyError
    from muara.classify.evaluation import evaluate, render, split_by_time

    if (args.csv is None) == (args.train is None or args.test is None):
        return _fail(
            "evaluate", "give either --csv FILE [--split time] or --train FILE --test FILE"
        )
    try:
        columns, required = _columns(args)
        gazetteer = _gazetteer(args, settings)
        if args.csv is not None:
            data = read_csv(args.csv, columns, required=required, timezone=args.timezone)
            test_from = None
            if args.test_from is not None:
                zone = ZoneInfo(args.timezone)
                test_from = datetime.fromisoformat(args.test_from).replace(tzinfo=zone)
            train, test, split = split_by_time(
                data.examples, test_from=test_from, test_fraction=args.test_fraction
            )
        else:
            train = read_csv(args.train, columns, required=required).examples
            test = read_csv(args.test, columns, required=required).examples
            split = (
                f"files: train {args.train.name} ({len(train):,}), "
                f"test {args.test.name} ({len(test):,})"
            )
        evaluation = evaluate(
            train,
            test,
            split=split,
            target_precision=args.target_precision or settings.classifier.target_precision,
            gazetteer=gazetteer,
            min_examples=args.min_examples,
            progress=_say,
        )
    except ClassifyError as err:
        return _fail("evaluate", err)
    except ValueError as err:  # a bad --test-from or --test-fraction
        return _fail("evaluate", err)
    print(render(evaluation.report))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(evaluation.report, indent=2, ensure_ascii=False) + "\n")
        _say(f"report written to {args.json}")
    if args.png is not None:
        from muara.classify.plots import PlotUnavailableError, draw

        try:
            draw(evaluation, args.png)
        except PlotUnavailableError as err:
            return _fail("evaluate", err)
        _say(f"figure written to {args.png}")
    return EXIT_OK


# -- muara model list|activate|rollback --------------------------------------------------------


def cmd_model(args: argparse.Namespace, settings: Settings) -> int:
    """The store's model registry."""
    from sqlalchemy.exc import SQLAlchemyError

    from muara.classify.errors import ClassifyError

    try:
        return asyncio.run(_model(args, settings))
    except ClassifyError as err:
        return _fail(f"model {args.model_command}", err)
    except (SQLAlchemyError, OSError) as err:
        return _fail(f"model {args.model_command}", f"{type(err).__name__}: {err}")


def _describe(entry: Any) -> str:
    held = entry.held_out
    figures = ""
    if held:
        coverage = held.get("coverage_at_precision", {}).get("0.95", 0.0)
        figures = f"  held-out accuracy {held['accuracy']:.3f}, at 95% precision {coverage:.0%}"
    return (
        f"{'*' if entry.active else ' '} {entry.version:30} {entry.created_at:%Y-%m-%d %H:%M}  "
        f"{entry.info.get('n_examples', 0):>7,} examples  {entry.source or '-'}{figures}"
    )


async def _model(args: argparse.Namespace, settings: Settings) -> int:
    from muara.classify.registry import ModelRegistry

    engine = await _open_store(settings)
    try:
        registry = ModelRegistry(engine)
        if args.model_command == "list":
            entries = await registry.list()
            if not entries:
                print("no models registered: the daemon uses the starter model (or model_path)")
            for entry in entries:
                print(_describe(entry))
            return EXIT_OK
        if args.model_command == "activate":
            entry = await registry.activate(args.version)
        else:
            entry = await registry.rollback()
        replaced = f" (was {entry.previous_version})" if entry.previous_version else ""
        print(f"active model: {entry.version}{replaced}")
        print(
            "running daemons switch within classifier.registry_poll_seconds "
            f"({settings.classifier.registry_poll_seconds:g} s)"
        )
        return EXIT_OK
    finally:
        await engine.dispose()


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the classifier's subcommands to `muara`."""
    train = add_command(
        sub, "train", cmd_train, "train a classifier model on past complaints and register it"
    )
    train.add_argument("--csv", type=Path, help="CSV of labelled past complaints")
    _add_columns(train)
    train.add_argument(
        "--from-store",
        action="store_true",
        help="add every coordinator decision in the store (each outweighs the history)",
    )
    train.add_argument(
        "--out", type=Path, help="save to this file instead of the store's model registry"
    )
    train.add_argument(
        "--activate", action="store_true", help="make it the active model once registered"
    )

    evaluate = add_command(
        sub,
        "evaluate",
        cmd_evaluate,
        "measure a model trained on past complaints, beside a baseline",
    )
    evaluate.add_argument("--csv", type=Path, help="one CSV, split by time")
    evaluate.add_argument("--split", choices=["time"], default="time", help="how --csv is split")
    evaluate.add_argument("--test-from", help="test on complaints from this date on (YYYY-MM-DD)")
    evaluate.add_argument(
        "--test-fraction",
        type=float,
        default=0.25,
        help="without --test-from: the latest share of complaints to test on (default 0.25)",
    )
    evaluate.add_argument("--train", type=Path, help="CSV to train on (with --test)")
    evaluate.add_argument("--test", type=Path, help="CSV to test on (with --train)")
    _add_columns(evaluate)
    evaluate.add_argument(
        "--target-precision",
        type=float,
        help="precision the per-agency thresholds aim at (default: classifier.target_precision)",
    )
    evaluate.add_argument("--json", type=Path, help="write the report as JSON here")
    evaluate.add_argument(
        "--png", type=Path, help="draw the coverage-precision curve and confusion matrix here"
    )

    model = add_command(sub, "model", cmd_model, "the store's model registry")
    actions = model.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    actions.add_parser("list", help="registered models, the active one starred")
    activate = actions.add_parser("activate", help="make a registered model the active one")
    activate.add_argument("version")
    actions.add_parser("rollback", help="go back to the model active before the current one")

    relevance = add_command(
        sub,
        "train-relevance",
        cmd_train_relevance,
        "train the X relevance filter (complaint or not) on labelled posts",
    )
    relevance.add_argument(
        "--csv",
        type=Path,
        help="labelled posts (columns text,label; label: complaint, praise, chatter, spam, "
        "promo); without it: the bundled seed set",
    )
    relevance.add_argument("--text-column", default="text", help="the post (default: text)")
    relevance.add_argument("--label-column", default="label", help="its kind (default: label)")
    relevance.add_argument(
        "--with-seed", action="store_true", help="add the bundled seed set to --csv's posts"
    )
    relevance.add_argument(
        "--threshold",
        type=float,
        help="keep posts at this complaint probability (default: classifier.relevance_threshold)",
    )
    relevance.add_argument(
        "--out",
        type=Path,
        help="where to save it (default: <data_dir>/models/relevance.skops, which the daemon "
        "uses unless classifier.relevance_model_path is set)",
    )
    relevance.add_argument(
        "--dry-run", action="store_true", help="print the held-out figures, save nothing"
    )


# -- muara train-relevance -----------------------------------------------------------------------


def cmd_train_relevance(args: argparse.Namespace, settings: Settings) -> int:
    """Train the X relevance filter on a region's labelled posts (or the bundled seed set)."""
    from muara.classify.errors import ClassifyError
    from muara.classify.relevance_model import TRAINED_FILENAME

    out: Path = args.out or settings.data_dir / "models" / TRAINED_FILENAME
    threshold = (
        settings.classifier.relevance_threshold if args.threshold is None else args.threshold
    )
    if not 0 < threshold < 1:
        return _fail("train-relevance", f"--threshold must be between 0 and 1, got {threshold}")
    try:
        model = _train_relevance(args, threshold)
        if args.dry_run:
            print(_relevance_summary(model.metadata, None))
            return EXIT_OK
        model.save(out)
    except ClassifyError as err:
        return _fail("train-relevance", err)
    except OSError as err:
        return _fail("train-relevance", f"{type(err).__name__}: {err}")
    print(_relevance_summary(model.metadata, out))
    default = settings.data_dir / "models" / TRAINED_FILENAME
    if out != default or settings.classifier.relevance_model_path is not None:
        print(f'use it with: [classifier] relevance_model_path = "{out}"')
    else:
        print("the daemon uses it from its next start")
    if threshold != settings.classifier.relevance_threshold:
        print(f"and: [classifier] relevance_threshold = {threshold:g}")
    return EXIT_OK


def _train_relevance(args: argparse.Namespace, threshold: float) -> Any:
    from muara.classify.dataset import columns_for, read_csv
    from muara.classify.errors import TrainingDataError
    from muara.classify.relevance_model import seed_training_set, train_relevance

    texts: list[str] = []
    labels: list[str] = []
    groups: list[str] = []
    source = "seed"
    if args.csv is not None:
        columns, required = columns_for(None, text=args.text_column, label=args.label_column)
        dataset = read_csv(args.csv, columns, required=required)
        if dataset.dropped:
            _say(f"{dataset.dropped:,} rows without a text or a label skipped")
        if not dataset.examples:
            raise TrainingDataError(f"{args.csv}: no labelled posts")
        texts = [example.text for example in dataset.examples]
        labels = [example.label.strip().casefold() for example in dataset.examples]
        # The region's posts are each their own group; folds are stratified by label then.
        groups = [f"csv:{i}" for i in range(len(texts))]
        source = str(args.csv)
    if args.csv is None or args.with_seed:
        seed_texts, seed_labels, seed_groups = seed_training_set()
        texts, labels, groups = texts + seed_texts, labels + seed_labels, groups + seed_groups
        source = "seed" if args.csv is None else f"{args.csv} + seed"
    counts = ", ".join(f"{label} {labels.count(label):,}" for label in sorted(set(labels)))
    _say(f"training on {len(texts):,} posts ({counts})…")
    return train_relevance(
        texts,
        labels,
        groups=None if args.csv is not None and not args.with_seed else groups,
        threshold=threshold,
        source=source,
        progress=_say,
    )


def _relevance_summary(metadata: dict[str, Any], out: Path | None) -> str:
    held = (metadata.get("evaluation") or {}).get("held_out")
    lines = [f"relevance model {metadata['version']} ({metadata['n_examples']:,} posts)"]
    if out is not None:
        lines.append(f"saved to {out}")
    if not held:
        lines.append("too few posts to hold any out: no calibration, no figures")
        return "\n".join(lines)
    lines += [
        f"held out ({held['scheme']}), keeping posts at p(complaint) >= {held['threshold']:g}:",
        f"  complaints kept (recall)     {held['recall']:.3f}",
        f"  kept that are complaints     {held['precision']:.3f}",
        f"  discards that were noise     {held['discard_precision']:.3f}",
        f"  noise discarded              {held['discard_recall']:.3f}",
        "  per label (kept / posts): "
        + ", ".join(
            f"{label} {row['kept']}/{row['n']}" for label, row in held["per_label"].items()
        ),
        "",
        f"  {'threshold':>9} {'recall':>7} {'precision':>9} {'discarded right':>15}",
    ]
    for key, row in held.get("by_threshold", {}).items():
        lines.append(
            f"  {key:>9} {row['recall']:>7.3f} {row['precision']:>9.3f}"
            f" {row['discard_precision']:>15.3f}"
        )
    return "\n".join(lines)
