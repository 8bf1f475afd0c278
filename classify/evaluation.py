"""`muara evaluate`: Muara's model beside a plain baseline, trained and tested on the same split.

The split is by time by default (train on earlier complaints, test on later ones), as the model is
used; every figure is printed beside the baseline's, so it is a comparison, not a boast.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # sklearn's own dep

from muara.classify.calibration import coverage_at_precision
from muara.classify.dataset import Example
from muara.classify.errors import TrainingDataError
from muara.classify.figures import (
    PRECISION_TARGETS,
    Predicted,
    auto_routed,
    figures,
    is_local_office,
    per_agency,
)
from muara.classify.location import Gazetteer
from muara.classify.training import train_examples

Progress = Callable[[str], None]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The keys `--json` must carry for the model and for the baseline (the contract).
REQUIRED_KEYS = (
    "accuracy",
    "macro_f1",
    "top3_accuracy",
    "local_office_accuracy",
    "coverage_at_precision",
)


@dataclass(frozen=True, slots=True)
class Curve:
    """Per test complaint: the confidence of the top suggestion and whether it was right."""

    confidence: list[float]
    correct: list[bool]

    def points(self) -> tuple[list[float], list[float]]:
        """(coverage, precision) when auto-routing the most confident first."""
        order = np.argsort(-np.asarray(self.confidence), kind="stable")
        right = np.asarray(self.correct, dtype=float)[order]
        n = np.arange(1, len(right) + 1)
        return (n / len(right)).tolist(), (np.cumsum(right) / n).tolist()


@dataclass(slots=True)
class Evaluation:
    """Everything `muara evaluate` prints, writes as JSON and draws."""

    report: dict[str, Any]
    truth: list[str]
    model_predicted: list[Predicted] = field(default_factory=list)
    baseline_predicted: list[Predicted] = field(default_factory=list)

    def curves(self) -> dict[str, Curve]:
        """The coverage-precision material of both models."""
        return {
            name: Curve(
                [p.confidence for p in predicted],
                [p.agency == t for t, p in zip(self.truth, predicted, strict=True)],
            )
            for name, predicted in (
                ("muara", self.model_predicted),
                ("baseline", self.baseline_predicted),
            )
        }


def split_by_time(
    examples: Sequence[Example], *, test_from: datetime | None, test_fraction: float
) -> tuple[list[Example], list[Example], str]:
    """Earlier complaints to train on, later ones to test on, and a line saying where it cut."""
    if any(example.received_at is None for example in examples):
        raise TrainingDataError(
            "a time split needs a date on every row: name the date column (--received-column)"
        )
    ordered = sorted(examples, key=lambda example: example.received_at or _EPOCH)
    if test_from is not None:
        cut = sum(1 for e in ordered if e.received_at is not None and e.received_at < test_from)
    else:
        if not 0 < test_fraction < 1:
            raise ValueError(f"test fraction must be in (0, 1), got {test_fraction}")
        cut = round(len(ordered) * (1 - test_fraction))
    train, test = ordered[:cut], ordered[cut:]
    if not train or not test:
        raise TrainingDataError(
            f"the split leaves {len(train)} complaints to train on and {len(test)} to test"
        )
    return train, test, f"time: train {_span(train)}, test {_span(test)}"


def _span(examples: Sequence[Example]) -> str:
    dates = [e.received_at for e in examples if e.received_at is not None]
    if not dates:
        return f"{len(examples):,} complaints"
    return f"{len(examples):,} complaints ({min(dates):%Y-%m-%d} .. {max(dates):%Y-%m-%d})"


def baseline_pipeline() -> Pipeline:
    """The plain baseline: TF-IDF word (1-2) and character (3-5) n-grams, a linear SVM."""
    return Pipeline(
        [
            (
                "features",
                FeatureUnion(
                    [
                        ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
                        (
                            "chars",
                            TfidfVectorizer(analyzer="char", ngram_range=(3, 5), sublinear_tf=True),
                        ),
                    ]
                ),
            ),
            ("classifier", LinearSVC()),
        ]
    )


def _baseline(train: Sequence[Example], test: Sequence[Example]) -> list[Predicted]:
    """The baseline's ranked agencies; its "confidence" is the SVM margin (a ranking only)."""
    pipeline = baseline_pipeline()
    with threadpool_limits(limits=1, user_api="blas"):
        pipeline.fit([e.text for e in train], [e.label for e in train])
        scores = np.asarray(pipeline.decision_function([e.text for e in test]))
    labels = pipeline.classes_
    if scores.ndim == 1:
        scores = np.column_stack([-scores, scores])
    order = np.argsort(-scores, axis=1, kind="stable")[:, :3]
    return [
        Predicted(tuple(str(labels[j]) for j in row), float(scores[i, row[0]]))
        for i, row in enumerate(order)
    ]


def calibration_error(predicted: Sequence[Predicted], truth: Sequence[str]) -> float:
    """Expected calibration error over 10 bins: how far confidence is from the hit rate."""
    conf = np.array([p.confidence for p in predicted])
    right = np.array([p.agency == t for p, t in zip(predicted, truth, strict=True)], dtype=float)
    bins = np.minimum((conf * 10).astype(int), 9)
    error = 0.0
    for b in range(10):
        mask = bins == b
        if mask.any():
            error += mask.mean() * abs(right[mask].mean() - conf[mask].mean())
    return float(error)


def evaluate(
    train: Sequence[Example],
    test: Sequence[Example],
    *,
    split: str,
    target_precision: float = 0.95,
    gazetteer: Gazetteer | None = None,
    min_examples: int = 5,
    progress: Progress | None = None,
) -> Evaluation:
    """Train Muara's model and the baseline on `train`, judge both on `test`."""
    say = progress or (lambda _message: None)
    say(f"training Muara's model on {len(train):,} complaints…")
    started = time.perf_counter()
    model, merged = train_examples(
        train, min_examples=min_examples, gazetteer=gazetteer, progress=say
    )
    train_seconds = time.perf_counter() - started
    say(f"classifying {len(test):,} test complaints…")
    suggestions = model.predict([e.text for e in test], top_k=3, places=[e.place for e in test])
    truth = [e.label for e in test]
    ours = [Predicted(tuple(a for a, _ in s.top), s.confidence) for s in suggestions]
    say("training the baseline (TF-IDF word+char n-grams, linear SVM, text only)…")
    theirs = _baseline(train, test)
    thresholds = model.thresholds(target_precision)
    ours_figures = figures(truth, ours)
    base_figures = figures(truth, theirs)
    table = per_agency(truth, [p.agency for p in ours])
    base_table = per_agency(truth, [p.agency for p in theirs])
    for label, row in table.items():
        row["baseline_recall"] = base_table[label]["recall"]
        routed = [
            p.agency == t
            for t, p in zip(truth, ours, strict=True)
            if p.agency == label
            and thresholds is not None
            and p.confidence >= thresholds.get(label, float("inf"))
        ]
        row["auto_routed"] = len(routed)
        row["auto_routed_correct"] = sum(routed)
    report: dict[str, Any] = {
        **ours_figures,
        "model_version": model.version,
        "split": split,
        "n_train": len(train),
        "n_test": len(test),
        "train_seconds": round(train_seconds, 1),
        "merged_to_review": merged,
        "calibration_error": calibration_error(ours, truth),
        "target_precision": target_precision,
        "auto_routed": auto_routed(truth, ours, thresholds),
        "held_out_on_train": (model.metadata.get("evaluation") or {}).get("held_out"),
        "per_agency": table,
        "baseline": {
            **base_figures,
            "description": "TF-IDF word (1-2) and character (3-5) n-grams, LinearSVC, text only",
        },
    }
    return Evaluation(report, truth, ours, theirs)


def render(report: dict[str, Any], *, rows: int = 25) -> str:
    """The report as text, every figure beside the baseline's."""
    base = report["baseline"]
    lines = [
        f"split: {report['split']}",
        f"model {report['model_version']}, trained in {report['train_seconds']:.1f} s",
        "",
        f"{'':34}{'muara':>10}{'baseline':>10}",
    ]

    def row(name: str, ours: float, theirs: float) -> None:
        lines.append(f"{name:34}{ours:>10.3f}{theirs:>10.3f}")

    row("accuracy", report["accuracy"], base["accuracy"])
    row("macro-F1 (agencies with >=20 test)", report["macro_f1"], base["macro_f1"])
    row("top-3 accuracy", report["top3_accuracy"], base["top3_accuracy"])
    row(
        f"local offices ({report['local_office_share']:.1%} of test)",
        report["local_office_accuracy"],
        base["local_office_accuracy"],
    )
    for target in PRECISION_TARGETS:
        key = f"{target:g}"
        row(
            f"auto-routable at {target:.0%} precision",
            report["coverage_at_precision"][key],
            base["coverage_at_precision"][key],
        )
    routed = report["auto_routed"]
    lines += [
        "",
        f"with the model's own per-agency thresholds (target precision "
        f"{report['target_precision']:.0%}, chosen on held-out training data): "
        f"{routed['coverage']:.1%} auto-routed at precision {routed['precision']:.1%}",
        f"calibration error (ECE, 10 bins): {report['calibration_error']:.3f}",
        "",
        f"{'agency':52}{'n':>6}{'prec':>7}{'recall':>7}{'F1':>7}{'base rec':>9}{'auto':>6}",
    ]
    table = report["per_agency"]
    shown = [label for label in table if not is_local_office(label)][:rows]
    for label in shown:
        r = table[label]
        lines.append(
            f"{label[:52]:52}{r['support']:>6}{r['precision']:>7.2f}{r['recall']:>7.2f}"
            f"{r['f1']:>7.2f}{r['baseline_recall']:>9.2f}{r['auto_routed']:>6}"
        )
    offices = [table[label] for label in table if is_local_office(label)]
    if offices:
        n = sum(r["support"] for r in offices)
        lines.append(
            f"{f'(local offices: {len(offices)} kecamatan/kelurahan)':52}{n:>6}{'':>7}"
            f"{report['local_office_accuracy']:>7.2f}{'':>7}{base['local_office_accuracy']:>9.2f}"
            f"{sum(r['auto_routed'] for r in offices):>6}"
        )
    hidden = len(table) - len(shown) - len(offices)
    if hidden > 0:
        lines.append(f"... and {hidden} smaller agencies (all in --json)")
    return "\n".join(lines)


__all__ = [
    "REQUIRED_KEYS",
    "Evaluation",
    "baseline_pipeline",
    "coverage_at_precision",
    "evaluate",
    "render",
    "split_by_time",
]
