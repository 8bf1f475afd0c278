"""Honest confidence: probabilities that mean what they say, and per-agency thresholds.

Everything here is fitted on held-out predictions (complaints the model did not train on), so a
confidence of 0.9 means nine in ten such suggestions were right, and a threshold for a target
precision of 0.95 was seen to reach it. Pure functions on arrays.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.isotonic import IsotonicRegression

# The router never auto-routes at or above this: the agency could not reach the target precision.
NEVER = math.inf
# Targets whose thresholds every model carries, so the configured one can change without retraining.
STANDARD_TARGETS = (0.8, 0.85, 0.9, 0.95, 0.98, 0.99)
# Fewer held-out suggestions for an agency than this: its threshold is the pooled one of the rest.
MIN_SUPPORT = 10
_MAX_POINTS = 256
# Orders suggestions within a flat step of the isotonic map (see `Calibration.apply`).
_TIE_BREAK = 1e-6
# Thresholds must meet the target by the Wilson lower bound at this many standard errors, so
# an agency with few held-out suggestions needs more of them right. Measured on the shared data
# (thresholds fitted on Jan-Sep, applied to Oct-Dec): see the README's Classifier section.
WILSON_Z = 1.64


def fit_temperature(scores: NDArray[np.floating[Any]], truth: NDArray[np.intp]) -> float:
    """The softmax temperature that makes held-out scores the most likely (lowest log-loss)."""
    if len(truth) == 0:
        return 1.0
    rows = np.arange(len(truth))

    def loss(temperature: float) -> float:
        return float(-np.mean(log_softmax(scores / temperature, axis=1)[rows, truth]))

    result = minimize_scalar(loss, bounds=(0.01, 10.0), method="bounded")
    return float(result.x)


def softmax_at(scores: NDArray[np.floating[Any]], temperature: float) -> NDArray[np.float64]:
    """Probabilities from scores at a temperature; each row sums to 1."""
    scaled = np.asarray(scores, dtype=np.float64) / temperature
    result: NDArray[np.float64] = softmax(scaled, axis=1)
    return result


@dataclass(frozen=True, slots=True)
class Calibration:
    """A monotone map from the model's top probability to the chance it is right."""

    x: tuple[float, ...]
    y: tuple[float, ...]

    @classmethod
    def identity(cls) -> Calibration:
        """No calibration data: the probability is taken at its word."""
        return cls((0.0, 1.0), (0.0, 1.0))

    @classmethod
    def fit(cls, confidence: Sequence[float], correct: Sequence[bool]) -> Calibration:
        """Isotonic regression of correctness on confidence (held-out suggestions)."""
        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        iso.fit(np.asarray(confidence, dtype=np.float64), np.asarray(correct, dtype=np.float64))
        x, y = iso.X_thresholds_, iso.y_thresholds_
        if len(x) > _MAX_POINTS:  # keep the metadata small; the curve is a step function anyway
            keep = np.unique(np.linspace(0, len(x) - 1, _MAX_POINTS).round().astype(int))
            x, y = x[keep], y[keep]
        return cls(tuple(float(v) for v in x), tuple(float(v) for v in y))

    def apply(self, p: NDArray[np.floating[Any]]) -> NDArray[np.float64]:
        """Calibrated confidence for each probability.

        The isotonic map is a staircase: on a flat step it would give many suggestions the same
        confidence, and a threshold must then take all of them or none. A millionth of the raw
        probability keeps their order, so thresholds can cut inside a step (measured on the
        shared data, Jan-Jun vs Jul-Sep: 26.5% instead of 24.9% routable at 95% precision).
        """
        stepped = np.interp(p, self.x, self.y) + _TIE_BREAK * np.asarray(p, dtype=np.float64)
        return np.asarray(np.clip(stepped, 0.0, 1.0), dtype=np.float64)

    def to_metadata(self) -> dict[str, list[float]]:
        """Plain data for the model's metadata."""
        return {"x": list(self.x), "y": list(self.y)}

    @classmethod
    def from_metadata(cls, data: Mapping[str, Sequence[float]] | None) -> Calibration:
        """The calibration a model was saved with (identity for a model without one)."""
        if not data:
            return cls.identity()
        return cls(tuple(map(float, data["x"])), tuple(map(float, data["y"])))


Floats = Sequence[float] | NDArray[np.floating[Any]]
Bools = Sequence[bool] | NDArray[np.bool_]


def max_coverage_threshold(
    confidence: Floats, correct: Bools, target: float, min_support: int = 1, z: float = 0.0
) -> float | None:
    """The lowest confidence above which precision still meets `target`; None if it never does.

    "Above" counts ties: every suggestion at or over the threshold is auto-routed. With `z` > 0
    the precision must be met by its Wilson lower bound (z standard errors), not just on average.
    """
    conf = np.asarray(confidence, dtype=np.float64)
    if len(conf) != len(correct):
        raise ValueError(f"{len(conf)} confidences but {len(correct)} outcomes")
    if len(conf) == 0:
        return None
    order = np.argsort(-conf, kind="stable")
    conf = conf[order]
    right = np.asarray(correct, dtype=np.float64)[order]
    # Only cut between distinct confidences: a threshold takes all ties or none.
    last_of_tie = np.r_[conf[1:] != conf[:-1], True]
    n = np.arange(1, len(conf) + 1)
    precision = np.cumsum(right) / n
    if z > 0:
        precision = _wilson_lower(precision, n, z)
    ok = last_of_tie & (precision >= target) & (n >= min_support)
    if not ok.any():
        return None
    return float(conf[np.flatnonzero(ok).max()])


def _wilson_lower(p: NDArray[np.float64], n: NDArray[np.int_], z: float) -> NDArray[np.float64]:
    centre = p + z * z / (2 * n)
    spread = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return np.asarray((centre - spread) / (1 + z * z / n), dtype=np.float64)


def coverage_at_precision(
    confidence: Sequence[float], correct: Sequence[bool], target: float
) -> float:
    """The largest share of suggestions that can be auto-routed at `target` precision."""
    threshold = max_coverage_threshold(confidence, correct, target)
    if threshold is None:
        return 0.0
    return float(np.mean(np.asarray(confidence) >= threshold))


def choose_thresholds(
    predicted: Sequence[str],
    confidence: Sequence[float],
    correct: Sequence[bool],
    target: float,
    min_support: int = MIN_SUPPORT,
    z: float = WILSON_Z,
) -> dict[str, Any]:
    """Per-agency thresholds meeting `target` on held-out suggestions.

    An agency with enough held-out suggestions gets its own threshold (NEVER when it cannot
    reach the target); the others share one threshold fitted on all of them pooled.
    """
    by_label: dict[str, list[int]] = {}
    for i, label in enumerate(predicted):
        by_label.setdefault(label, []).append(i)
    conf = np.asarray(confidence, dtype=np.float64)
    right = np.asarray(correct, dtype=bool)
    labels: dict[str, float | None] = {}
    pooled: list[int] = []
    for label, rows in sorted(by_label.items()):
        if len(rows) < min_support:
            pooled.extend(rows)
            continue
        labels[label] = max_coverage_threshold(conf[rows], right[rows], target, min_support, z)
    default = max_coverage_threshold(conf[pooled], right[pooled], target, min_support, z)
    if default is None:
        # Too few pooled suggestions to judge: the stricter of what every agency needed.
        own = [t for t in labels.values() if t is not None]
        default = max(own) if own else None
    return {"labels": labels, "default": default}


def target_key(target: float) -> str:
    """How a target precision is written in the metadata ("0.95")."""
    return f"{target:g}"
