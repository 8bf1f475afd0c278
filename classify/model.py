"""The agency model: text in, a ranked list of (agency, probability) out, with its version.

Training and prediction are pure CPU work with no I/O; callers on the event loop run `predict`
in a thread (see classify/stage.py). Persistence is in classify/persist.py.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # sklearn's own dep

from muara.classify import persist
from muara.classify.errors import ModelLoadError, TrainingDataError
from muara.classify.text import NORMALISER_VERSION, normalise
from muara.domain import Suggestion

__all__ = [
    "REVIEW_LABEL",
    "AgencyModel",
    "ModelLoadError",
    "build_pipeline",
    "data_fingerprint",
    "load_model",
    "train_model",
]

logger = logging.getLogger(__name__)

# The label that means "no agency: a coordinator must look" (router/rules.py knows it too).
REVIEW_LABEL = "__REVIEW__"


def build_pipeline() -> Pipeline:
    """The untrained pipeline: words catch topics, character n-grams catch slang and typos."""
    features = FeatureUnion(
        [
            (
                "words",
                TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, dtype=np.float32),
            ),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, dtype=np.float32
                ),
            ),
        ]
    )
    # Multinomial logistic regression gives probabilities the router can hold to a threshold.
    # C=10: TF-IDF rows are unit-length and sparse, so the default C=1 underfits short texts.
    classifier = LogisticRegression(C=10.0, max_iter=1000)
    return Pipeline([("features", features), ("classifier", classifier)])


def data_fingerprint(texts: Sequence[str], labels: Sequence[str]) -> str:
    """A sha256 of the examples as a set, so the same data in another order prints the same."""
    rows = sorted(
        hashlib.sha256(json.dumps([label, text], ensure_ascii=False).encode()).digest()
        for text, label in zip(texts, labels, strict=True)
    )
    digest = hashlib.sha256()
    for row in rows:
        digest.update(row)
    return digest.hexdigest()


def train_model(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    version: str | None = None,
    trained_at: datetime | None = None,
    evaluation: Mapping[str, Any] | None = None,
    source: str | None = None,
) -> AgencyModel:
    """Fit a model and record what it was made from, so every suggestion can be traced back."""
    if isinstance(texts, str) or isinstance(labels, str):
        raise TypeError("texts and labels must be sequences of strings, not one string")
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    label_counts = Counter(labels)
    if len(label_counts) < 2:
        raise TrainingDataError(
            f"a model needs at least 2 labels, got {len(label_counts)} in {len(texts)} examples"
        )
    if trained_at is not None and trained_at.tzinfo is None:
        raise ValueError("trained_at must be timezone-aware")
    when = trained_at or datetime.now(UTC)
    fingerprint = data_fingerprint(texts, labels)
    pipeline = build_pipeline()
    # One BLAS thread: the solver's dense steps are too small to gain from more, and on a busy
    # host (the daemon's other workers, other replicas) spinning BLAS threads made a 0.2 s fit
    # take several seconds.
    with threadpool_limits(limits=1, user_api="blas"):
        pipeline.fit([normalise(text) for text in texts], list(labels))
    metadata: dict[str, Any] = {
        "version": version or f"{when.astimezone(UTC):%Y%m%dT%H%M}-{fingerprint[:6]}",
        "trained_at": when.isoformat(),
        "n_examples": len(texts),
        "data_sha256": fingerprint,
        "labels": [str(label) for label in pipeline.classes_],
        "label_counts": dict(sorted(label_counts.items())),
        "evaluation": dict(evaluation) if evaluation is not None else None,
        "source": source,
        "normaliser_version": NORMALISER_VERSION,
        "sklearn_version": sklearn.__version__,
    }
    return AgencyModel(pipeline, metadata)


class AgencyModel:
    """A trained pipeline with its provenance; the only thing the classify stage needs."""

    def __init__(self, pipeline: Pipeline, metadata: Mapping[str, Any]) -> None:
        self._pipeline = pipeline
        self._metadata = copy.deepcopy(dict(metadata))
        self._labels: tuple[str, ...] = tuple(str(label) for label in pipeline.classes_)

    @property
    def version(self) -> str:
        """Names the model on every suggestion and in the metrics, so a decision is traceable."""
        return str(self._metadata["version"])

    @property
    def labels(self) -> tuple[str, ...]:
        """The agency codes this model can suggest (sorted, as the pipeline keeps them)."""
        return self._labels

    @property
    def metadata(self) -> dict[str, Any]:
        """A copy of the provenance, safe for the caller to change."""
        return copy.deepcopy(self._metadata)

    def predict(self, texts: Sequence[str], top_k: int = 3) -> list[Suggestion]:
        """One suggestion per text, in order; vectorised, so pass whole batches."""
        if isinstance(texts, str):
            raise TypeError("predict takes a sequence of texts, not one string")
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        if not texts:
            return []
        proba = self._pipeline.predict_proba([normalise(text) for text in texts])
        # The features are float32 (training is ~4x faster); renormalise in float64 so the
        # probabilities of a text sum to 1 to the last digit, not to 1 +- 1e-7.
        proba = proba.astype(np.float64)
        proba /= proba.sum(axis=1, keepdims=True)
        k = min(top_k, len(self._labels))
        # A stable sort of the negated probabilities: ties keep the labels' order.
        order = np.argsort(-proba, axis=1, kind="stable")[:, :k]
        top_p = np.take_along_axis(proba, order, axis=1).tolist()
        labels = self._labels
        version = self.version
        suggestions = []
        for indices, probs in zip(order.tolist(), top_p, strict=True):
            top = tuple((labels[i], p) for i, p in zip(indices, probs, strict=True))
            suggestions.append(Suggestion(top[0][0], top[0][1], top, version))
        return suggestions

    def save(self, path: Path) -> None:
        """Persist with skops (no pickle), atomically, metadata inside the same file."""
        persist.dump_artifact(path, self._pipeline, self._metadata)

    @classmethod
    def load(cls, path: Path) -> AgencyModel:
        """Read a saved model, trusting only expected types; raises `ModelLoadError`."""
        pipeline, metadata = persist.load_artifact(path)
        # Still usable, but not the model it was when evaluated: say so once, at load.
        if metadata.get("normaliser_version") != NORMALISER_VERSION:
            logger.warning(
                "model %s was trained with text normaliser v%s, this release has v%s: retrain it",
                metadata.get("version"),
                metadata.get("normaliser_version"),
                NORMALISER_VERSION,
            )
        if metadata.get("sklearn_version") != sklearn.__version__:
            logger.warning(
                "model %s was trained with scikit-learn %s, this is %s: retrain it",
                metadata.get("version"),
                metadata.get("sklearn_version"),
                sklearn.__version__,
            )
        return cls(pipeline, metadata)

    def __repr__(self) -> str:
        return f"AgencyModel(version={self.version!r}, labels={len(self._labels)})"


def load_model(path: Path) -> AgencyModel:
    """Same as `AgencyModel.load`, for callers that prefer a function."""
    return AgencyModel.load(path)
