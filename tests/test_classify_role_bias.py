"""The local-office role's score shift: fitted on held-out scores, applied at prediction."""

from __future__ import annotations

import numpy as np
import pytest

from muara.classify.fitting import ROLE_BIAS_TOLERANCE, _fit_role_bias, train_model
from muara.classify.location import LOCAL_OFFICE_LABEL
from muara.classify.model import role_proba
from tests.classify_helpers import region_rows


def _scores(under: float, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """Scores of 3 roles where the truth leads by 0.3 (noisy) but role 2 is `under` too low."""
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, n)
    scores = rng.normal(0, 0.25, (n, 3))
    scores[np.arange(n), truth] += 0.3
    scores[:, 2] -= under
    return scores, truth


def _right(scores: np.ndarray, truth: np.ndarray, bias: float) -> float:
    shifted = scores.copy()
    shifted[:, 2] += bias
    return float((shifted.argmax(axis=1) == truth).mean())


def test_an_under_ranked_role_is_shifted_back() -> None:
    scores, truth = _scores(under=0.2)
    bias = _fit_role_bias(scores, truth, 2)
    assert 0.1 <= bias <= 0.35
    best = max(_right(scores, truth, b) for b in np.arange(-0.5, 0.5, 0.025))
    # The shift costs at most the tolerated share of the best held-out accuracy...
    assert _right(scores, truth, bias) >= best - ROLE_BIAS_TOLERANCE - 1e-9
    # ...and gains a lot over none.
    assert _right(scores, truth, bias) > _right(scores, truth, 0.0) + 0.03


def test_a_role_ranked_right_is_left_nearly_alone() -> None:
    scores, truth = _scores(under=0.0)
    assert abs(_fit_role_bias(scores, truth, 2)) <= 0.1
    assert _fit_role_bias(scores[:0], truth[:0], 2) == 0.0


class _Fixed:
    """A stand-in classifier with known scores, for the arithmetic of role_proba only."""

    def __init__(self, scores: np.ndarray) -> None:
        self.scores = scores

    def decision_function(self, _features: object) -> np.ndarray:
        return self.scores.copy()


def test_role_proba_shifts_the_roles_score_before_the_softmax() -> None:
    scores = np.array([[0.5, 0.2, 0.1]])
    plain = role_proba(_Fixed(scores), None, 1.0)
    shifted = role_proba(_Fixed(scores), None, 1.0, 0.5, 2)
    assert plain.argmax() == 0 and shifted.argmax() == 2
    assert shifted.sum() == pytest.approx(1.0)
    assert shifted[0, 2] == pytest.approx(np.exp(0.6) / (np.exp(0.5) + np.exp(0.2) + np.exp(0.6)))


def test_a_trained_model_records_and_uses_its_role_bias() -> None:
    rows = region_rows()
    model = train_model([r[0] for r in rows], [r[1] for r in rows], places=[r[2] for r in rows])
    bias = model.metadata["role_bias"]
    assert isinstance(bias, float) and -0.5 <= bias <= 0.5
    assert model.metadata["training_version"] >= 2
    assert LOCAL_OFFICE_LABEL in model.labels
    texts = [r[0] for r in rows[:50]]
    found = model.score(texts).proba
    model._role_bias = bias + 1.0  # what a larger shift would do: more of the role, never less
    more = model.score(texts).proba
    at = model.labels.index(LOCAL_OFFICE_LABEL)
    assert (more[:, at] >= found[:, at]).all() and (more[:, at] > found[:, at]).any()
