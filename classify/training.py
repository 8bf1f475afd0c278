"""Training a model from an office's own history (and its coordinators' decisions).

Read, clean, merge what is too rare to learn, fit with held-out figures, report what changed.
Every step reports through `progress` in words an operator understands, and every problem with
the data is a `TrainingDataError` that says what to fix.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from muara.classify.dataset import Columns, Example, read_csv
from muara.classify.errors import TrainingDataError
from muara.classify.fitting import DEFAULT_FOLDS, train_model
from muara.classify.location import Gazetteer, parse_office, role_of
from muara.classify.model import REVIEW_LABEL, AgencyModel
from muara.classify.text import model_text

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class TrainReport:
    """What a training run produced, for the CLI to print and the operator to judge."""

    path: Path | None
    version: str
    n_examples: int
    labels: tuple[str, ...]
    merged_labels: tuple[str, ...]
    accuracy: float | None
    macro_f1: float | None
    dropped_rows: int = 0
    corrections: int = 0
    overruled: int = 0
    changes: tuple[str, ...] = ()
    held_out: dict[str, Any] | None = None

    def summary(self) -> str:
        """A few lines an operator reads to decide whether to switch to this model."""
        where = f" saved to {self.path}" if self.path is not None else ""
        lines = [
            f"model {self.version}{where}",
            f"trained on {self.n_examples:,} examples, {len(self.labels)} labels",
        ]
        if self.dropped_rows:
            lines.append(f"skipped {self.dropped_rows:,} rows with no text or no label")
        if self.corrections:
            lines.append(
                f"{self.corrections:,} coordinator decisions added (weighted); they overruled "
                f"{self.overruled:,} history examples of the same text"
            )
        if self.merged_labels:
            lines.append(
                f"routed to review ({REVIEW_LABEL}), too few examples: "
                + ", ".join(self.merged_labels)
            )
        if self.accuracy is None or self.macro_f1 is None or self.held_out is None:
            lines.append("not evaluated: too few examples to hold any out")
        else:
            coverage = self.held_out["coverage_at_precision"]
            lines.append(
                f"held-out ({self.held_out['scheme']}): accuracy {self.accuracy:.3f}, "
                f"macro-F1 {self.macro_f1:.3f}, top-3 {self.held_out['top3_accuracy']:.3f}, "
                f"local offices {self.held_out['local_office_accuracy']:.3f}; "
                f"auto-routable at 95% precision {coverage['0.95']:.1%}"
            )
        lines.extend(self.changes)
        return "\n".join(lines)


def _ignore(_message: str) -> None:
    return None


def merge_rare_labels(labels: Sequence[str], min_examples: int) -> tuple[list[str], list[str]]:
    """Send labels with too few examples to review instead of guessing them badly.

    Local offices are counted as their role: a kelurahan seen twice is still learned, since the
    office comes from the location, not from its own examples.
    """
    counts = Counter(role_of(label) for label in labels)
    rare = sorted(
        label
        for label, n in counts.items()
        if n < min_examples and label != REVIEW_LABEL and parse_office(label) is None
    )
    merged = set(rare)
    return [REVIEW_LABEL if role_of(label) in merged else label for label in labels], rare


def apply_corrections(
    history: Sequence[Example], corrections: Sequence[Example], weight: float
) -> tuple[list[Example], int]:
    """History plus coordinator decisions, each weighing `weight` examples; a history example
    with the same text and another label is dropped: the coordinator has overruled it."""
    decided = {model_text(example.text): example.label for example in corrections}
    kept = [
        example
        for example in history
        if decided.get(model_text(example.text), example.label) == example.label
    ]
    weighted = [
        Example(c.text, c.label, c.received_at, c.place, weight=weight) for c in corrections
    ]
    return kept + weighted, len(history) - len(kept)


def train_examples(
    examples: Sequence[Example],
    *,
    min_examples: int = 5,
    folds: int = DEFAULT_FOLDS,
    source: str | None = None,
    version: str | None = None,
    gazetteer: Gazetteer | None = None,
    progress: Progress | None = None,
) -> tuple[AgencyModel, list[str]]:
    """Fit a model on labelled examples; the labels merged into review come back too."""
    say = progress or _ignore
    found = sorted({example.label for example in examples})
    if len({role_of(label) for label in found}) < 2:
        raise TrainingDataError(
            f"{len(examples)} usable examples with {len(found)} label(s) "
            f"{found[:5]}; a model needs at least 2"
        )
    labels, merged = merge_rare_labels([example.label for example in examples], min_examples)
    if merged:
        say(f"fewer than {min_examples} examples, sent to review: {', '.join(merged)}")
    if len(set(map(role_of, labels))) < 2:
        raise TrainingDataError(
            f"fewer than 2 labels have {min_examples} or more examples; "
            "label more complaints or lower --min-examples"
        )
    dated = [example.received_at for example in examples]
    model = train_model(
        [example.text for example in examples],
        labels,
        places=[example.place for example in examples],
        received_at=dated if all(when is not None for when in dated) else None,
        weights=[example.weight for example in examples],
        version=version,
        source=source,
        calibrate=folds >= 2,
        folds=max(folds, 2),
        gazetteer=gazetteer,
        progress=say,
    )
    logger.info("trained model %s on %d examples", model.version, len(examples))
    return model, merged


def report_for(
    model: AgencyModel,
    path: Path | None,
    merged: Sequence[str],
    *,
    dropped: int = 0,
    corrections: int = 0,
    overruled: int = 0,
    changes: Sequence[str] = (),
) -> TrainReport:
    """The report of a trained model, from its metadata."""
    metadata = model.metadata
    held = (metadata.get("evaluation") or {}).get("held_out")
    return TrainReport(
        path=path,
        version=model.version,
        n_examples=int(metadata["n_examples"]),
        labels=model.labels,
        merged_labels=tuple(merged),
        accuracy=None if held is None else float(held["accuracy"]),
        macro_f1=None if held is None else float(held["macro_f1"]),
        dropped_rows=dropped,
        corrections=corrections,
        overruled=overruled,
        changes=tuple(changes),
        held_out=held,
    )


def what_changed(
    previous: AgencyModel | None, new: AgencyModel, corrections: Sequence[Example]
) -> list[str]:
    """Lines comparing the new model with the one in use: labels, figures, the corrections."""
    if previous is None:
        return ["no model in use to compare with"]
    lines = [f"compared with the model in use, {previous.version}:"]
    added = sorted(set(new.labels) - set(previous.labels))
    removed = sorted(set(previous.labels) - set(new.labels))
    if added:
        lines.append(f"  new labels: {', '.join(added)}")
    if removed:
        lines.append(f"  labels no longer learned: {', '.join(removed)}")

    def held(model: AgencyModel) -> dict[str, Any]:
        return ((model.metadata.get("evaluation") or {}).get("held_out")) or {}

    before, after = held(previous), held(new)
    for key, name in (("accuracy", "held-out accuracy"), ("local_office_accuracy", "local")):
        if key in before and key in after:
            lines.append(f"  {name}: {before[key]:.3f} -> {after[key]:.3f}")
    if corrections:
        right_before = _agreement(previous, corrections)
        right_after = _agreement(new, corrections)
        lines.append(
            f"  coordinator decisions the model agrees with: {right_before}/{len(corrections)}"
            f" -> {right_after}/{len(corrections)}"
        )
    return lines


def _agreement(model: AgencyModel, examples: Sequence[Example]) -> int:
    found = model.predict([e.text for e in examples], top_k=1, places=[e.place for e in examples])
    return sum(s.agency == e.label for s, e in zip(found, examples, strict=True))


def train_from_csv(
    csv_path: Path,
    *,
    out_path: Path | None,
    columns: Columns | None = None,
    required: set[str] | None = None,
    text_column: str = "text",
    label_column: str = "agency",
    min_examples: int = 5,
    folds: int = DEFAULT_FOLDS,
    gazetteer: Gazetteer | None = None,
    corrections: Sequence[Example] = (),
    correction_weight: float = 5.0,
    previous: AgencyModel | None = None,
    progress: Progress | None = None,
) -> tuple[AgencyModel, TrainReport]:
    """Turn an office's labelled complaints into a model (saved if `out_path`), with figures."""
    say = progress or _ignore
    if columns is None:
        columns = Columns(text=text_column, label=label_column)
    say(f"reading {csv_path}…")
    data = read_csv(csv_path, columns, required=required, progress=say)
    found = sorted({example.label for example in data.examples})
    if len({role_of(label) for label in found}) < 2:
        raise TrainingDataError(
            f"{csv_path} has {len(data.examples)} usable rows with {len(found)} label(s) "
            f"{found[:5]} in column {columns.label!r}; a model needs at least 2"
        )
    skipped = f"; skipped {data.dropped:,} rows with no text or no label" if data.dropped else ""
    say(f"read {len(data.examples):,} examples with {len(found)} labels{skipped}")
    if data.undated:
        say(f"{data.undated:,} rows have no readable date: held-out folds are shuffled")
    examples, overruled = apply_corrections(data.examples, corrections, correction_weight)
    try:
        model, merged = train_examples(
            examples,
            min_examples=min_examples,
            folds=folds,
            source=f"csv:{csv_path.name}" + ("+store" if corrections else ""),
            gazetteer=gazetteer,
            progress=say,
        )
    except TrainingDataError as err:
        raise TrainingDataError(f"{csv_path}: {err}") from err
    if out_path is not None:
        model.save(out_path)
        say(f"saved to {out_path}")
    changes = what_changed(previous, model, corrections) if previous or corrections else []
    report = report_for(
        model,
        out_path,
        merged,
        dropped=data.dropped,
        corrections=len(corrections),
        overruled=overruled,
        changes=changes,
    )
    return model, report
