"""The classifier benches' input: a region's labelled history, named and read the same way."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from muara.classify.dataset import Example, columns_for, read_csv
from muara.classify.location import Gazetteer

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def add_history_arguments(parser: argparse.ArgumentParser) -> None:
    """The CSV (default: the shared Surabaya data), its column preset, and the gazetteer."""
    parser.add_argument("csv", nargs="?", type=Path, default=SHARED / "surabaya-2022.csv")
    parser.add_argument("--preset", choices=["muara", "lapor"], default="muara")
    parser.add_argument("--gazetteer", type=Path, help="default: the shared Surabaya gazetteer")


def read_history(args: argparse.Namespace) -> tuple[list[Example], Gazetteer | None] | None:
    """The labelled complaints and the gazetteer; None (said on stderr) when there is no CSV."""
    if not args.csv.exists():
        print(f"no such file: {args.csv} (give a CSV of labelled complaints)", file=sys.stderr)
        return None
    gazetteer_path = args.gazetteer or SHARED / "surabaya-gazetteer.csv"
    gazetteer = Gazetteer.load(gazetteer_path) if gazetteer_path.exists() else None
    columns, required = columns_for(args.preset)
    return list(read_csv(args.csv, columns, required=required).examples), gazetteer
