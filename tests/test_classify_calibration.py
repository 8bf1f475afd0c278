"""Honest confidence: calibration, thresholds for a target precision, and the figures."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from muara.classify.calibration import (
    Calibration,
    choose_thresholds,
    coverage_at_precision,
    fit_temperature,
    max_coverage_threshold,
    softmax_at,
)
from muara.classify.figures import Predicted, auto_routed, figures, macro_f1, per_agency


@pytest.mark.parametrize(
    ("confidence", "correct", "target", "expected"),
    [
        # Most confident first: 4 right, then a wrong one.
        ([0.9, 0.8, 0.7, 0.6, 0.5], [1, 1, 1, 1, 0], 0.95, 0.6),
        ([0.9, 0.8, 0.7, 0.6, 0.5], [1, 1, 1, 1, 0], 0.8, 0.5),  # 4/5 = 0.8 is enough
        ([0.9, 0.8], [0, 1], 0.9, None),  # the top one is wrong: never
        ([0.9, 0.9, 0.8], [1, 0, 1], 0.6, 0.8),  # ties go together
        ([0.9, 0.9, 0.8], [1, 0, 1], 0.9, None),  # 1/2 at 0.9, 2/3 at 0.8
        ([], [], 0.9, None),
    ],
)
def test_max_coverage_threshold(
    confidence: list[float], correct: list[int], target: float, expected: float | None
) -> None:
    assert max_coverage_threshold(confidence, [bool(c) for c in correct], target) == expected


def test_a_lower_bound_needs_more_evidence() -> None:
    confidence = [1 - i / 100 for i in range(40)]
    correct = [True] * 40
    # 40 right of 40: the point estimate is met at once, the Wilson bound only after 20 or so.
    assert max_coverage_threshold(confidence, correct, 0.9) == confidence[-1]
    assert max_coverage_threshold(confidence[:5], correct[:5], 0.9, z=1.64) is None
    assert max_coverage_threshold(confidence, correct, 0.9, z=1.64) == confidence[-1]
    assert max_coverage_threshold(confidence, correct, 0.9, min_support=41) is None


def test_thresholds_per_agency_with_the_small_ones_pooled() -> None:
    predicted = ["A"] * 20 + ["B"] * 20 + ["C"] * 3 + ["D"] * 3
    confidence = [1 - i / 40 for i in range(20)] * 2 + [0.9, 0.8, 0.7] * 2
    # A: always right; B: its top three are wrong (never reaches the target); C, D: few.
    correct = [True] * 20 + [False] * 3 + [True] * 17 + [True] * 6
    found = choose_thresholds(predicted, confidence, correct, 0.9, min_support=10, z=0)
    assert found["labels"] == {"A": confidence[19], "B": None}
    assert set(found["labels"]) == {"A", "B"}, "C and D are pooled"
    # The pool (6 suggestions) is below the support: the strictest own threshold applies.
    assert found["default"] == confidence[19]


def test_calibration_is_monotone_and_fitted_on_correctness() -> None:
    rng = np.random.default_rng(0)
    raw = rng.uniform(0, 1, 4000)
    # The model is overconfident: the chance of being right is raw squared.
    right = rng.uniform(0, 1, 4000) < raw**2
    calibration = Calibration.fit(raw.tolist(), right.tolist())
    mapped = calibration.apply(np.array([0.2, 0.5, 0.9]))
    assert list(mapped) == sorted(mapped)
    assert mapped == pytest.approx([0.04, 0.25, 0.81], abs=0.08)
    again = Calibration.from_metadata(calibration.to_metadata())
    assert list(again.apply(np.array([0.2, 0.5, 0.9]))) == list(mapped)
    assert len(calibration.x) <= 256
    # No calibration: the probability as it is (but for the millionth that breaks ties).
    identity = Calibration.from_metadata(None)
    assert list(identity.apply(np.array([0.3]))) == pytest.approx([0.3], abs=1e-5)


def test_a_flat_step_of_the_calibration_keeps_the_order_of_the_raw_probabilities() -> None:
    # Right half the time from 0.5 to 0.7 whatever the model says: isotonic makes it one step.
    calibration = Calibration.fit([0.5, 0.55, 0.6, 0.65, 0.7] * 2, [True] * 5 + [False] * 5)
    mapped = calibration.apply(np.array([0.52, 0.58, 0.66]))
    assert mapped == pytest.approx([0.5, 0.5, 0.5], abs=1e-5)
    assert mapped[0] < mapped[1] < mapped[2]  # a threshold can still cut between them
    assert calibration.apply(np.array([1.0]))[0] <= 1.0


def test_temperature_flattens_overconfident_scores() -> None:
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 3, 3000)
    scores = rng.normal(0, 1, (3000, 3))
    # The right class gets a small push, but the scores are scaled as if very sure.
    scores[np.arange(3000), truth] += 0.5
    temperature = fit_temperature(scores * 10, truth)
    assert temperature > 5
    proba = softmax_at(scores * 10, temperature)
    assert np.allclose(proba.sum(axis=1), 1)


@given(
    st.lists(st.tuples(st.floats(0, 1, allow_nan=False), st.booleans()), min_size=1, max_size=60),
    st.sampled_from([0.5, 0.8, 0.9, 0.95]),
)
def test_the_threshold_really_meets_the_target(
    pairs: list[tuple[float, bool]], target: float
) -> None:
    confidence = [c for c, _ in pairs]
    correct = [r for _, r in pairs]
    threshold = max_coverage_threshold(confidence, correct, target)
    if threshold is None:
        return
    routed = [r for c, r in pairs if c >= threshold]
    assert sum(routed) / len(routed) >= target - 1e-12
    assert coverage_at_precision(confidence, correct, target) == len(routed) / len(pairs)


# --- figures ----------------------------------------------------------------------------------


def _p(*top: str, confidence: float = 0.9) -> Predicted:
    return Predicted(tuple(top), confidence)


def test_lengths_must_agree() -> None:
    with pytest.raises(ValueError, match="2 confidences but 1"):
        max_coverage_threshold([0.9, 0.8], [True], 0.9)


def test_figures() -> None:
    truth = ["A", "A", "B", "Kelurahan X", "Kelurahan Y"]
    predicted = [
        _p("A", "B", confidence=0.9),
        _p("B", "A", confidence=0.3),
        _p("B", "A", confidence=0.8),
        _p("Kelurahan X", confidence=0.7),
        _p("Kecamatan Z", "A", "Kelurahan Y", confidence=0.6),
    ]
    found = figures(truth, predicted)
    assert found["accuracy"] == 3 / 5
    assert found["top3_accuracy"] == 1.0
    assert found["local_office_share"] == 2 / 5
    assert found["local_office_accuracy"] == 1 / 2
    # Most confident first: A (right), B (right), X (right), Z (wrong), the other A (wrong).
    assert found["coverage_at_precision"] == {"0.9": 3 / 5, "0.95": 3 / 5, "0.98": 3 / 5}
    assert found["macro_f1"] == 0.0, "no agency has 20 test complaints"


def test_per_agency_and_macro_f1() -> None:
    truth = ["A"] * 20 + ["B"] * 20 + ["C"]
    predicted = ["A"] * 20 + ["A"] * 10 + ["B"] * 10 + ["B"]
    table = per_agency(truth, predicted)
    assert list(table) == ["A", "B", "C"]
    assert table["A"] == {"support": 20, "precision": 20 / 30, "recall": 1.0, "f1": 0.8}
    assert table["B"]["precision"] == 10 / 11 and table["B"]["recall"] == 0.5
    assert math.isclose(macro_f1(truth, predicted), (0.8 + table["B"]["f1"]) / 2)


def test_auto_routed_with_thresholds() -> None:
    truth = ["A", "A", "B"]
    predicted = [_p("A", confidence=0.9), _p("B", confidence=0.9), _p("B", confidence=0.5)]
    assert auto_routed(truth, predicted, {"A": 0.8, "B": 0.95}) == {
        "coverage": 1 / 3,
        "precision": 1.0,
    }
    assert auto_routed(truth, predicted, None) == {"coverage": 0.0, "precision": 0.0}
    with pytest.raises(ValueError, match="3 labels but 2 predictions"):
        figures(truth, predicted[:2])
