"""The agency model: text (and where it is) in, a ranked list of (agency, probability) out.

What it is made of: TF-IDF word and character n-grams over `model_text`, a linear SVM that ranks
agencies (and the local-office role), a softmax temperature and an isotonic map that turn its
scores into honest probabilities, a small model that tells a kecamatan matter from a kelurahan
one, and the office directory that turns the role into an office from the complaint's location.
Training is in classify/fitting.py (`train_model`), persistence in classify/persist.py.
Prediction is pure CPU work with no I/O; callers on the event loop run it in a thread (see
classify/stage.py).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from muara.classify import persist
from muara.classify.calibration import NEVER, Calibration, softmax_at, target_key
from muara.classify.errors import ModelLoadError
from muara.classify.fastfeatures import fast_paths, transform_union
from muara.classify.location import LOCAL_OFFICE_LABEL, Gazetteer, Level, OfficeDirectory, Place
from muara.classify.suggest import Scored, Suggester
from muara.classify.text import NORMALISER_VERSION, model_text
from muara.domain import Suggestion

__all__ = ["REVIEW_LABEL", "AgencyModel", "ModelLoadError", "load_model"]

logger = logging.getLogger(__name__)

# The label that means "no agency: a coordinator must look" (router/rules.py knows it too).
REVIEW_LABEL = "__REVIEW__"


class AgencyModel:
    """A trained model with its provenance; the only thing the classify stage needs."""

    # Tells the classify stage to pass each complaint's location (see classify/stage.py).
    accepts_places = True

    def __init__(
        self,
        pipeline: Pipeline,
        metadata: Mapping[str, Any],
        level: LogisticRegression | None = None,
        gazetteer: Gazetteer | None = None,
    ) -> None:
        self._pipeline = pipeline
        self._level = level
        self._metadata = copy.deepcopy(dict(metadata))
        self._labels: tuple[str, ...] = tuple(str(label) for label in pipeline.classes_)
        self._temperature = float(self._metadata.get("temperature") or 1.0)
        self._role_bias = float(self._metadata.get("role_bias") or 0.0)
        self._calibration = Calibration.from_metadata(self._metadata.get("calibration"))
        self._offices = OfficeDirectory.from_metadata(self._metadata.get("offices"))
        self._level_prior = float(self._metadata.get("level_prior_subdistrict", 0.5))
        self.gazetteer = gazetteer
        self._role_at = self._labels.index(LOCAL_OFFICE_LABEL) if self.has_local_role else -1
        self._fast = fast_paths(pipeline[0])

    # -- what it is ------------------------------------------------------------------------------

    @property
    def version(self) -> str:
        """Names the model on every suggestion and in the metrics, so a decision is traceable."""
        return str(self._metadata["version"])

    @property
    def labels(self) -> tuple[str, ...]:
        """The agency codes (and roles) this model ranks, sorted as the classifier keeps them."""
        return self._labels

    @property
    def has_local_role(self) -> bool:
        """Whether the model learned "a matter for the local office"."""
        return LOCAL_OFFICE_LABEL in self._labels

    @property
    def metadata(self) -> dict[str, Any]:
        """A copy of the provenance, safe for the caller to change."""
        return copy.deepcopy(self._metadata)

    def with_gazetteer(self, gazetteer: Gazetteer | None) -> AgencyModel:
        """The same model resolving local offices against a region's gazetteer."""
        twin = copy.copy(self)
        twin.gazetteer = gazetteer
        return twin

    def known_offices(self) -> set[str]:
        """Every local office this model can route to (from its history and the gazetteer)."""
        return self._offices.known(self.gazetteer)

    def thresholds(self, target: float) -> dict[str, float] | None:
        """Per-agency confidence thresholds for a target precision; None: use the global one.

        Chosen at training on held-out complaints; the nearest stricter target is used when the
        exact one was not computed. Local offices share the role's threshold.
        """
        table: dict[str, Any] = self._metadata.get("thresholds") or {}
        if not table:
            return None
        stricter = sorted(float(key) for key in table if float(key) >= target - 1e-9)
        key = target_key(stricter[0]) if stricter else max(table, key=float)
        chosen = table[key]
        default = _threshold(chosen.get("default"))
        found = {label: _threshold(t) for label, t in chosen["labels"].items()}
        result = {label: found.get(label, default) for label in self._labels}
        role = result.pop(LOCAL_OFFICE_LABEL, default)
        for office in self.known_offices():
            result[office] = role
        return result

    # -- prediction ------------------------------------------------------------------------------

    def predict(
        self,
        texts: Sequence[str],
        top_k: int = 3,
        *,
        places: Sequence[Place | None] | None = None,
    ) -> list[Suggestion]:
        """One suggestion per text, in order; vectorised, so pass whole batches.

        `places` (the channel's district/subdistrict, one per text) resolve the local-office
        role to an office; without them, place names in the text are looked up in the gazetteer.
        """
        if isinstance(texts, str):
            raise TypeError("predict takes a sequence of texts, not one string")
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        if places is not None and len(places) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(places)} places")
        if not texts:
            return []
        return self.suggester().suggest(self.score(texts), top_k, places)

    def score(self, texts: Sequence[str]) -> Scored:
        """Role probabilities for texts (and the kelurahan-vs-kecamatan odds where needed)."""
        prepared = [model_text(text) for text in texts]
        features = self._features(prepared)
        proba = role_proba(
            self._pipeline[-1], features, self._temperature, self._role_bias, self._role_at
        )
        level = np.full(len(prepared), self._level_prior)
        if self._role_at >= 0 and self._level is not None:
            # Only rows where the role ranks high enough to matter; most complaints skip this.
            rows = np.flatnonzero(proba[:, self._role_at] >= 0.01)
            if len(rows):
                level[rows] = subdistrict_proba(self._level, features[rows])
        return Scored(prepared, proba, level)

    def _features(self, prepared: list[str]) -> Any:
        union = self._pipeline[0]
        if not isinstance(union, FeatureUnion):
            return self._pipeline[:-1].transform(prepared)
        # FeatureUnion.transform, with the fast path for character n-grams (fastchar.py).
        return transform_union(union, self._fast, prepared)

    def suggester(self) -> Suggester:
        """What turns this model's scores into suggestions."""
        return Suggester(
            self._labels, self.version, self._offices, self._calibration, self.gazetteer
        )

    # -- persistence -----------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Persist with skops (no pickle), atomically, metadata inside the same file."""
        persist.dump_artifact(path, self._pipeline, self._metadata, level=self._level)

    def to_bytes(self) -> bytes:
        """The saved file's bytes, for the store's model registry."""
        return persist.dumps_artifact(self._pipeline, self._metadata, level=self._level)

    @classmethod
    def load(cls, path: Path) -> AgencyModel:
        """Read a saved model, trusting only expected types; raises `ModelLoadError`."""
        return cls._checked(*persist.load_artifact(path))

    @classmethod
    def from_bytes(cls, data: bytes, origin: str) -> AgencyModel:
        """Read a model from the registry's bytes; `origin` names it in errors."""
        return cls._checked(*persist.loads_artifact(data, Path(origin)))

    @classmethod
    def _checked(
        cls, pipeline: Pipeline, metadata: dict[str, Any], level: LogisticRegression | None
    ) -> AgencyModel:
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
        return cls(pipeline, metadata, level)

    def __repr__(self) -> str:
        return f"AgencyModel(version={self.version!r}, labels={len(self._labels)})"


def _threshold(value: float | None) -> float:
    return NEVER if value is None else float(value)


def role_proba(
    classifier: Any,
    features: Any,
    temperature: float,
    role_bias: float = 0.0,
    role_at: int = -1,
) -> NDArray[np.float64]:
    """Softmax of the classifier's scores at the fitted temperature; rows sum to 1.

    The local-office role's score is shifted by `role_bias` first (fitted on held-out
    complaints, see fitting._fit_role_bias).
    """
    scores = np.asarray(classifier.decision_function(features), dtype=np.float64)
    if scores.ndim == 1:  # two labels: one score, for the second label
        scores = np.column_stack([-scores, scores]) / 2
    if role_at >= 0 and role_bias:
        scores[:, role_at] += role_bias
    return softmax_at(scores, temperature)


def subdistrict_proba(level: LogisticRegression, features: Any) -> NDArray[np.float64]:
    """P(kelurahan | a local-office matter) for each row."""
    proba = level.predict_proba(features)
    column = list(level.classes_).index(Level.SUBDISTRICT.value)
    return np.asarray(proba[:, column], dtype=np.float64)


def load_model(path: Path) -> AgencyModel:
    """Same as `AgencyModel.load`, for callers that prefer a function."""
    return AgencyModel.load(path)
