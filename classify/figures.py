"""The figures a model is judged by, computed the same way for held-out folds, `muara evaluate`
and the baseline beside it. Pure functions of (truth, suggestions).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from muara.classify.calibration import coverage_at_precision
from muara.classify.location import parse_office

PRECISION_TARGETS = (0.9, 0.95, 0.98)
# Macro-F1 counts agencies with at least this many test complaints: F1 on three is noise.
MACRO_F1_MIN_SUPPORT = 20


@dataclass(frozen=True, slots=True)
class Predicted:
    """What a model said about one complaint: its ranked agencies and the top one's confidence."""

    top: tuple[str, ...]
    confidence: float

    @property
    def agency(self) -> str:
        """The suggested agency."""
        return self.top[0]


def is_local_office(label: str) -> bool:
    """A kecamatan or kelurahan office, as opposed to an agency."""
    return parse_office(label) is not None


def figures(truth: Sequence[str], predicted: Sequence[Predicted]) -> dict[str, Any]:
    """Accuracy, macro-F1, top-3, local-office accuracy and coverage at precision targets."""
    if len(truth) != len(predicted):
        raise ValueError(f"{len(truth)} labels but {len(predicted)} predictions")
    n = len(truth)
    correct = [p.agency == t for t, p in zip(truth, predicted, strict=True)]
    local = [i for i, t in enumerate(truth) if is_local_office(t)]
    confidence = [p.confidence for p in predicted]
    return {
        "n": n,
        "accuracy": _mean(correct),
        "macro_f1": macro_f1(truth, [p.agency for p in predicted]),
        "top3_accuracy": _mean([t in p.top[:3] for t, p in zip(truth, predicted, strict=True)]),
        "local_office_share": len(local) / n if n else 0.0,
        "local_office_accuracy": _mean([correct[i] for i in local]),
        "coverage_at_precision": {
            f"{target:g}": coverage_at_precision(confidence, correct, target)
            for target in PRECISION_TARGETS
        },
    }


def macro_f1(truth: Sequence[str], predicted: Sequence[str]) -> float:
    """Mean F1 over the agencies with at least MACRO_F1_MIN_SUPPORT test complaints."""
    table = per_agency(truth, predicted)
    scores = [row["f1"] for row in table.values() if row["support"] >= MACRO_F1_MIN_SUPPORT]
    return float(np.mean(scores)) if scores else 0.0


def per_agency(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Support, precision, recall and F1 of each agency in the truth, largest first."""
    support = Counter(truth)
    said = Counter(predicted)
    right = Counter(t for t, p in zip(truth, predicted, strict=True) if t == p)
    table: dict[str, dict[str, Any]] = {}
    for label, n in sorted(support.items(), key=lambda item: (-item[1], item[0])):
        precision = right[label] / said[label] if said[label] else 0.0
        recall = right[label] / n
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        table[label] = {"support": n, "precision": precision, "recall": recall, "f1": f1}
    return table


def auto_routed(
    truth: Sequence[str], predicted: Sequence[Predicted], thresholds: dict[str, float] | None
) -> dict[str, float]:
    """What the router would do with per-agency thresholds: share auto-routed, its precision."""
    if thresholds is None:
        return {"coverage": 0.0, "precision": 0.0}
    routed = [
        p.agency == t
        for t, p in zip(truth, predicted, strict=True)
        if p.confidence >= thresholds.get(p.agency, float("inf"))
    ]
    return {
        "coverage": len(routed) / len(truth) if truth else 0.0,
        "precision": _mean(routed),
    }


def _mean(values: Sequence[bool]) -> float:
    return float(np.mean(values)) if len(values) else 0.0
