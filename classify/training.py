"""Training a model from an office's own CSV export: read, clean, evaluate, train, save.

Every step reports through `progress` in words an operator understands, and every problem with
the file is a `TrainingDataError` that says what to fix.
"""

from __future__ import annotations

import csv
import logging
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

from muara.classify.errors import TrainingDataError
from muara.classify.model import REVIEW_LABEL, train_model

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]

# The fixed seed of the holdout split: the same file gives the same figures on every run.
_SPLIT_SEED = 0
_DELIMITERS = ",;\t|"


@dataclass(frozen=True, slots=True)
class TrainReport:
    """What a training run produced, for the CLI to print and the operator to judge."""

    path: Path
    version: str
    n_examples: int
    labels: tuple[str, ...]
    merged_labels: tuple[str, ...]
    accuracy: float | None
    macro_f1: float | None
    dropped_rows: int = 0

    def summary(self) -> str:
        """A few lines an operator reads to decide whether to switch to this model."""
        lines = [
            f"model {self.version} saved to {self.path}",
            f"trained on {self.n_examples:,} examples, {len(self.labels)} labels",
        ]
        if self.dropped_rows:
            lines.append(f"skipped {self.dropped_rows:,} rows with no text or no label")
        if self.merged_labels:
            lines.append(
                f"routed to review ({REVIEW_LABEL}), too few examples: "
                + ", ".join(self.merged_labels)
            )
        if self.accuracy is None or self.macro_f1 is None:
            lines.append("not evaluated: too few examples for a holdout")
        else:
            lines.append(f"holdout accuracy {self.accuracy:.3f}, macro-F1 {self.macro_f1:.3f}")
        return "\n".join(lines)


def _ignore(_message: str) -> None:
    return None


def _delimiter(header_line: str) -> str:
    # Excel in an Indonesian locale writes ';', other tools ','; the header line tells which.
    counts = {d: header_line.count(d) for d in _DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _column(header: list[str], wanted: str, csv_path: Path) -> int:
    if wanted in header:
        return header.index(wanted)
    folded = [name.strip().casefold() for name in header]
    if folded.count(wanted.strip().casefold()) == 1:
        return folded.index(wanted.strip().casefold())
    found = ", ".join(repr(name) for name in header) or "none"
    raise TrainingDataError(f"column {wanted!r} not found in {csv_path}; columns found: {found}")


def read_examples(
    csv_path: Path, *, text_column: str, label_column: str
) -> tuple[list[str], list[str], int]:
    """The (texts, labels) of a CSV and how many rows were skipped for lacking either."""
    texts: list[str] = []
    labels: list[str] = []
    dropped = 0
    try:
        # utf-8-sig: spreadsheet programs put a byte-order mark before the header.
        with csv_path.open(encoding="utf-8-sig", newline="") as file:
            first = file.readline()
            if not first.strip():
                raise TrainingDataError(f"{csv_path} is empty: expected a header row")
            file.seek(0)
            reader = csv.reader(file, delimiter=_delimiter(first))
            header = [name.strip() for name in next(reader)]
            text_at = _column(header, text_column, csv_path)
            label_at = _column(header, label_column, csv_path)
            for row in reader:
                text = row[text_at].strip() if text_at < len(row) else ""
                label = row[label_at].strip() if label_at < len(row) else ""
                if text and label:
                    texts.append(text)
                    labels.append(label)
                elif any(cell.strip() for cell in row):
                    dropped += 1
    except UnicodeDecodeError as err:
        raise TrainingDataError(
            f"{csv_path} is not UTF-8 text (bad byte at offset {err.start}); save it as 'CSV UTF-8'"
        ) from err
    except csv.Error as err:
        raise TrainingDataError(f"{csv_path} is not a readable CSV: {err}") from err
    return texts, labels, dropped


def merge_rare_labels(labels: Sequence[str], min_examples: int) -> tuple[list[str], list[str]]:
    """Send labels with too few examples to review instead of guessing them badly."""
    counts = Counter(labels)
    rare = sorted(
        label for label, n in counts.items() if n < min_examples and label != REVIEW_LABEL
    )
    merged = set(rare)
    return [REVIEW_LABEL if label in merged else label for label in labels], rare


def evaluate_holdout(
    texts: Sequence[str], labels: Sequence[str], holdout: float
) -> dict[str, Any] | None:
    """Figures from a model trained without the holdout, or None when the data is too small."""
    n_test = math.ceil(len(texts) * holdout)
    n_train = len(texts) - n_test
    counts = Counter(labels)
    if holdout <= 0 or n_test < 1 or n_train < 2:
        return None
    # Stratify when every label can appear on both sides; otherwise a plain random split.
    stratified = min(counts.values()) >= 2 and min(n_test, n_train) >= len(counts)
    x_train, x_test, y_train, y_test = train_test_split(
        list(texts),
        list(labels),
        test_size=n_test,
        random_state=_SPLIT_SEED,
        stratify=list(labels) if stratified else None,
    )
    if len(set(y_train)) < 2:
        return None
    model = train_model(x_train, y_train, version="holdout")
    predicted = [suggestion.agency for suggestion in model.predict(x_test, top_k=1)]
    present = sorted(set(y_test) | set(predicted))
    per_label = f1_score(y_test, predicted, labels=present, average=None, zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_test, predicted)),
        "macro_f1": float(f1_score(y_test, predicted, average="macro", zero_division=0)),
        "f1_per_label": {label: float(f1) for label, f1 in zip(present, per_label, strict=True)},
        "n_train": len(x_train),
        "n_test": len(x_test),
        "holdout": holdout,
        "stratified": stratified,
    }


def train_from_csv(
    csv_path: Path,
    *,
    text_column: str,
    label_column: str,
    out_path: Path,
    min_examples: int = 5,
    holdout: float = 0.2,
    progress: Progress | None = None,
) -> TrainReport:
    """Turn an office's labelled complaints into a saved model, with honest figures for it."""
    if not 0 <= holdout < 1:
        raise ValueError(f"holdout must be in [0, 1), got {holdout}")
    say = progress or _ignore
    say(f"reading {csv_path}…")
    texts, labels, dropped = read_examples(
        csv_path, text_column=text_column, label_column=label_column
    )
    found = sorted(set(labels))
    if len(found) < 2:
        raise TrainingDataError(
            f"{csv_path} has {len(texts)} usable rows with {len(found)} label(s) "
            f"{found} in column {label_column!r}; a model needs at least 2"
        )
    skipped = f"; skipped {dropped:,} rows with no text or no label" if dropped else ""
    say(f"read {len(texts):,} examples with {len(found)} labels{skipped}")
    labels, merged = merge_rare_labels(labels, min_examples)
    if merged:
        say(f"fewer than {min_examples} examples, sent to review: {', '.join(merged)}")
    if len(set(labels)) < 2:
        raise TrainingDataError(
            f"{csv_path}: fewer than 2 labels have {min_examples} or more examples; "
            "label more complaints or lower min_examples"
        )
    evaluation = None
    if holdout > 0:
        say(f"evaluating on a {holdout:.0%} holdout…")
        evaluation = evaluate_holdout(texts, labels, holdout)
        if evaluation is None:
            say("too few examples to evaluate; skipped")
        else:
            say(f"accuracy {evaluation['accuracy']:.3f}, macro-F1 {evaluation['macro_f1']:.3f}")
    say(f"training on {len(texts):,} examples…")
    model = train_model(texts, labels, evaluation=evaluation, source=f"csv:{csv_path.name}")
    model.save(out_path)
    say(f"saved to {out_path}")
    logger.info("trained model %s on %d examples", model.version, len(texts))
    return TrainReport(
        path=out_path,
        version=model.version,
        n_examples=len(texts),
        labels=model.labels,
        merged_labels=tuple(merged),
        accuracy=None if evaluation is None else evaluation["accuracy"],
        macro_f1=None if evaluation is None else evaluation["macro_f1"],
        dropped_rows=dropped,
    )
