"""The trained relevance filter: is an X post a complaint, or praise, chatter, spam or promotion?

Trained like the agency model (classify/fitting.py): the same word and character n-gram features,
a linear SVM, a softmax temperature and an isotonic map fitted on held-out predictions, so its
"probability of a complaint" means what it says; saved with skops, its provenance inside the file.
The X collector keeps a post when that probability reaches `classifier.relevance_threshold`, and
keeps it when in doubt: a coordinator reading one post too many costs less than a complaint nobody
sees. It starts from the bundled seed set (classify/relevance_seed.py), trained at first start as
the starter model is; a region retrains it on its own labelled posts (`muara train-relevance`).
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import sklearn
import skops.io as sio
from numpy.typing import NDArray
from sklearn.model_selection import GroupKFold, StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # sklearn's own dep

from muara.classify import persist
from muara.classify.calibration import Calibration, fit_temperature, softmax_at
from muara.classify.errors import ModelLoadError, TrainingDataError
from muara.classify.fastfeatures import fast_paths, transform_union
from muara.classify.fitting import build_classifier, build_features, data_fingerprint
from muara.classify.relevance import Kind, Verdict
from muara.classify.relevance_seed import COMPLAINT, RELEVANCE_LABELS, seed_posts
from muara.classify.text import INFORMAL_WORDS, NORMALISER_VERSION, normalise

if TYPE_CHECKING:
    from muara.config import Settings

logger = logging.getLogger(__name__)

FORMAT = "muara.relevance-model"
FORMAT_VERSION = 1
SEED_FILENAME = "relevance-seed.skops"
# Where `muara train-relevance` saves a region's model; the daemon uses it when it exists.
TRAINED_FILENAME = "relevance.skops"
# Keep a post when its probability of being a complaint reaches this (config's default).
DEFAULT_THRESHOLD = 0.3
DEFAULT_FOLDS = 5
SHOWN_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
# Fewer examples than this: no held-out folds, no calibration (the probability as it comes).
_MIN_HELD_OUT = 50

_MENTION = re.compile(r"@\w+")
_HASHTAG = re.compile(r"#(\w+)")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_WORDS = re.compile(r"[^\W\d_]{2,}")
_WORD_OR_MARK = re.compile(r"\w+|[^\w\s]")
MENTION_TOKEN = "__akun__"

Progress = Callable[[str], None]


def relevance_text(text: str) -> str:
    """What the features read: accounts as one token, hashtags split into their words.

    "#JalanRusak" carries the words "jalan rusak"; the account a post tags says nothing about
    whether it is a complaint, and a region's accounts are not the seed set's.
    """
    text = _MENTION.sub(f" {MENTION_TOKEN} ", text)
    text = _HASHTAG.sub(lambda m: " # " + _CAMEL.sub(" ", m.group(1)) + " ", text)
    # The agency model's text, but greetings and thanks kept: here they are the signal.
    words = _WORD_OR_MARK.findall(normalise(text))
    return " ".join(INFORMAL_WORDS.get(word, word) for word in words)


_KINDS = {
    COMPLAINT: Kind.COMPLAINT,
    "praise": Kind.PRAISE,
    "chatter": Kind.CHATTER,
    "spam": Kind.SPAM,
    "promo": Kind.PROMO,
}


def kind_of(label: str) -> Kind:
    """The verdict kind a label stands for; a region's other labels count as chatter."""
    return _KINDS.get(label, Kind.CHATTER)


class RelevanceModel:
    """A trained relevance model with its provenance."""

    def __init__(self, pipeline: Pipeline, metadata: Mapping[str, Any]) -> None:
        self._pipeline = pipeline
        self._metadata = copy.deepcopy(dict(metadata))
        self._labels = tuple(str(label) for label in pipeline.classes_)
        if COMPLAINT not in self._labels:
            raise ValueError(f"a relevance model needs the label {COMPLAINT!r}")
        self._complaint_at = self._labels.index(COMPLAINT)
        self._temperature = float(self._metadata.get("temperature") or 1.0)
        self._calibration = Calibration.from_metadata(self._metadata.get("calibration"))
        self._fast = fast_paths(pipeline[0])

    @property
    def version(self) -> str:
        """Names the model in logs and in `check-config`."""
        return str(self._metadata["version"])

    @property
    def labels(self) -> tuple[str, ...]:
        """The kinds of post it tells apart."""
        return self._labels

    @property
    def metadata(self) -> dict[str, Any]:
        """A copy of the provenance and held-out figures."""
        return copy.deepcopy(self._metadata)

    def proba(self, texts: Sequence[str]) -> NDArray[np.float64]:
        """(n, labels) probabilities at the fitted temperature, before calibration."""
        if isinstance(texts, str):
            raise TypeError("proba takes a sequence of texts, not one string")
        prepared = [relevance_text(text) for text in texts]
        union = self._pipeline[0]
        features = (
            transform_union(union, self._fast, prepared)
            if isinstance(union, FeatureUnion)
            else self._pipeline[:-1].transform(prepared)
        )
        scores = np.asarray(self._pipeline[-1].decision_function(features), dtype=np.float64)
        if scores.ndim == 1:  # two labels: one score, for the second
            scores = np.column_stack([-scores, scores]) / 2
        return softmax_at(scores, self._temperature)

    def complaint_probability(self, texts: Sequence[str]) -> NDArray[np.float64]:
        """The calibrated chance that each post is a complaint."""
        if not texts:
            return np.zeros(0)
        return self._calibration.apply(self.proba(texts)[:, self._complaint_at])

    def judge(self, texts: Sequence[str], threshold: float) -> list[Verdict]:
        """A verdict per post: a complaint at or above `threshold`, else its likeliest kind."""
        if not texts:
            return []
        proba = self.proba(texts)
        complaint = self._calibration.apply(proba[:, self._complaint_at])
        # A post with no words at all (a bare link, emoji, mentions) reports nothing.
        empty = np.array([not _WORDS.search(_MENTION.sub(" ", _URL.sub(" ", t))) for t in texts])
        proba[:, self._complaint_at] = -1.0
        other = proba.argmax(axis=1)
        return [
            Verdict(Kind.CHATTER, 0.0)
            if blank
            else Verdict(Kind.COMPLAINT if p >= threshold else kind_of(self._labels[j]), float(p))
            for p, j, blank in zip(complaint.tolist(), other.tolist(), empty.tolist(), strict=True)
        ]

    # -- persistence -----------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The model as a skops file's bytes (no pickle), metadata inside."""
        payload = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "metadata": json.dumps(self._metadata, ensure_ascii=False, sort_keys=True),
            "pipeline": self._pipeline,
        }
        data: bytes = sio.dumps(payload, compression=zipfile.ZIP_DEFLATED)
        return data

    def save(self, path: Path) -> None:
        """Write the model atomically."""
        persist.write_atomic(path, self.to_bytes())

    @classmethod
    def load(cls, path: Path) -> RelevanceModel:
        """Read a saved model, trusting only expected types; raises `ModelLoadError`."""
        payload = persist.load_trusted(persist.read_file(path), path)
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise ModelLoadError(path, "not a Muara relevance model")
        if payload.get("format_version") != FORMAT_VERSION:
            raise ModelLoadError(
                path, f"format version {payload.get('format_version')!r} is not {FORMAT_VERSION}"
            )
        pipeline = payload.get("pipeline")
        if not isinstance(pipeline, Pipeline) or not hasattr(pipeline, "classes_"):
            raise ModelLoadError(path, "the file holds no trained pipeline")
        try:
            metadata = json.loads(payload["metadata"])
            return cls(pipeline, metadata)
        except (KeyError, TypeError, ValueError) as err:
            raise ModelLoadError(path, f"the model's metadata is unusable ({err})") from err

    def __repr__(self) -> str:
        return f"RelevanceModel(version={self.version!r}, labels={list(self._labels)})"


@dataclass(frozen=True, slots=True)
class RelevanceFilter:
    """A relevance model and the threshold a post's complaint probability must reach."""

    model: RelevanceModel
    threshold: float = DEFAULT_THRESHOLD

    def judge(self, text: str) -> Verdict:
        """The verdict on one post."""
        return self.model.judge([text], self.threshold)[0]

    def judge_many(self, texts: Sequence[str]) -> list[Verdict]:
        """Verdicts on many posts at once (one vectorised pass)."""
        return self.model.judge(texts, self.threshold)


# -- training --------------------------------------------------------------------------------------


def held_out_figures(
    truth: Sequence[str], complaint: NDArray[np.float64], threshold: float
) -> dict[str, Any]:
    """Precision and recall of keeping posts at `threshold`, what the operator needs to judge it.

    "Complaints kept" is the recall that matters (a discarded complaint is lost to review);
    "discards right" is how often a discarded post really was noise.
    """
    is_complaint = np.array([label == COMPLAINT for label in truth])
    kept = complaint >= threshold
    n_kept, n_complaints, n_dropped = int(kept.sum()), int(is_complaint.sum()), int((~kept).sum())
    right_kept = int((kept & is_complaint).sum())
    right_dropped = int((~kept & ~is_complaint).sum())
    per_label = {
        label: {
            "n": int(sum(1 for t in truth if t == label)),
            "kept": int(sum(1 for t, k in zip(truth, kept, strict=True) if t == label and k)),
        }
        for label in sorted(set(truth))
    }
    return {
        "n": len(truth),
        "threshold": threshold,
        "precision": right_kept / n_kept if n_kept else 0.0,
        "recall": right_kept / n_complaints if n_complaints else 0.0,
        "discard_precision": right_dropped / n_dropped if n_dropped else 0.0,
        "discard_recall": right_dropped / (len(truth) - n_complaints)
        if len(truth) > n_complaints
        else 0.0,
        "per_label": per_label,
    }


def train_relevance(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    groups: Sequence[str] | None = None,
    folds: int = DEFAULT_FOLDS,
    threshold: float = DEFAULT_THRESHOLD,
    version: str | None = None,
    source: str | None = None,
    trained_at: datetime | None = None,
    progress: Progress | None = None,
) -> RelevanceModel:
    """Fit a relevance model; held-out folds (by `groups` when given) calibrate and judge it.

    `labels` are "complaint" and any other kinds ("praise", "chatter", "spam", "promo"); a
    post is kept when its calibrated complaint probability reaches `threshold`, and the held-out
    precision and recall at that threshold are recorded in the metadata.
    """
    if isinstance(texts, str) or isinstance(labels, str):
        raise TypeError("texts and labels must be sequences of strings, not one string")
    n = len(texts)
    if len(labels) != n or (groups is not None and len(groups) != n):
        raise ValueError(f"{n} texts but {len(labels)} labels")
    counts = Counter(labels)
    if COMPLAINT not in counts or len(counts) < 2:
        raise TrainingDataError(
            f"a relevance model needs posts labelled {COMPLAINT!r} and at least one other "
            f"label; got {', '.join(sorted(counts)) or 'none'}"
        )
    say = progress or (lambda _message: None)
    when = trained_at or datetime.now(UTC)
    fingerprint = data_fingerprint(texts, labels)
    prepared = [relevance_text(text) for text in texts]
    with threadpool_limits(limits=1, user_api="blas"):
        features = build_features(n)
        matrix = features.fit_transform(prepared)
        temperature, calibration, held = 1.0, Calibration.identity(), None
        if n >= _MIN_HELD_OUT and folds >= 2:
            scores, scheme = _out_of_fold(matrix, labels, groups, folds, say)
            classes = sorted(counts)
            truth_at = np.array([classes.index(label) for label in labels])
            temperature = fit_temperature(scores, truth_at)
            raw = softmax_at(scores, temperature)[:, classes.index(COMPLAINT)]
            calibration = Calibration.fit(raw.tolist(), [label == COMPLAINT for label in labels])
            calibrated = calibration.apply(raw)
            held = {
                **held_out_figures(labels, calibrated, threshold),
                "scheme": scheme,
                # What another threshold would do, so an operator can choose without retraining.
                "by_threshold": {
                    f"{t:g}": {
                        key: round(value, 4)
                        for key, value in held_out_figures(labels, calibrated, t).items()
                        if key in ("precision", "recall", "discard_precision", "discard_recall")
                    }
                    for t in SHOWN_THRESHOLDS
                },
            }
        say(f"fitting the relevance model on {n:,} posts…")
        classifier = build_classifier()
        classifier.fit(matrix, list(labels))
        classifier.coef_ = classifier.coef_.astype(np.float32)
    metadata: dict[str, Any] = {
        "version": version or f"relevance-{when.astimezone(UTC):%Y%m%dT%H%M}-{fingerprint[:6]}",
        "trained_at": when.isoformat(),
        "n_examples": n,
        "data_sha256": fingerprint,
        "labels": [str(label) for label in classifier.classes_],
        "label_counts": dict(sorted(counts.items())),
        "source": source,
        "normaliser_version": NORMALISER_VERSION,
        "sklearn_version": sklearn.__version__,
        "temperature": temperature,
        "calibration": calibration.to_metadata(),
        "evaluation": {"held_out": held},
    }
    return RelevanceModel(Pipeline([("features", features), ("classifier", classifier)]), metadata)


def _out_of_fold(
    matrix: Any,
    labels: Sequence[str],
    groups: Sequence[str] | None,
    k: int,
    say: Progress,
) -> tuple[NDArray[np.float64], str]:
    """Scores of each post by a model that did not see it (nor its group)."""
    n = len(labels)
    classes = sorted(set(labels))
    everything = np.arange(n)
    if groups is not None and len(set(groups)) >= k:
        pairs = list(GroupKFold(n_splits=k).split(everything, groups=groups))
        scheme = f"by group, {k} folds"
    else:
        smallest = min(Counter(labels).values())
        splits = max(2, min(k, smallest))
        pairs = list(
            StratifiedKFold(n_splits=splits, shuffle=True, random_state=0).split(everything, labels)
        )
        scheme = f"stratified, {splits} folds"
    scores = np.full((n, len(classes)), -1e9)
    for number, (train, test) in enumerate(pairs, 1):
        say(f"held-out fold {number}/{len(pairs)}: fit {len(train):,}, judge {len(test):,}…")
        fold_labels = [labels[i] for i in train]
        if len(set(fold_labels)) < 2:
            continue
        classifier = build_classifier()
        classifier.fit(matrix[train], fold_labels)
        fold = np.asarray(classifier.decision_function(matrix[test]), dtype=np.float64)
        if fold.ndim == 1:
            fold = np.column_stack([-fold, fold]) / 2
        columns = [classes.index(str(label)) for label in classifier.classes_]
        scores[np.ix_(test, columns)] = fold
    return scores, scheme


# -- the bundled model ---------------------------------------------------------------------------


def seed_training_set() -> tuple[list[str], list[str], list[str]]:
    """The bundled seed set as (texts, labels, groups)."""
    posts = seed_posts()
    return [p.text for p in posts], [p.label for p in posts], [p.group for p in posts]


def _seed_version(fingerprint: str) -> str:
    return f"relevance-seed-{fingerprint[:6]}-n{NORMALISER_VERSION}"


def train_seed_model(progress: Progress | None = None) -> RelevanceModel:
    """The bundled model, trained from the seed set: the same version on every machine."""
    texts, labels, groups = seed_training_set()
    fingerprint = data_fingerprint(texts, labels)
    return train_relevance(
        texts,
        labels,
        groups=groups,
        version=_seed_version(fingerprint),
        source="seed",
        trained_at=datetime(2026, 1, 1, tzinfo=UTC),
        progress=progress,
    )


def _is_current(path: Path, version: str) -> bool:
    if not path.exists():
        return False
    try:
        metadata = RelevanceModel.load(path).metadata
    except ModelLoadError as err:
        logger.warning("bundled relevance model unusable, retraining it: %s", err.reason)
        return False
    return metadata.get("version") == version and metadata.get("sklearn_version") == (
        sklearn.__version__
    )


def ensure_seed_model(models_dir: Path) -> Path:
    """The saved bundled model's path, trained now if it is missing, damaged or out of date."""
    path = models_dir / SEED_FILENAME
    texts, labels, _ = seed_training_set()
    if _is_current(path, _seed_version(data_fingerprint(texts, labels))):
        return path
    logger.info("training the bundled relevance model on %d seed posts", len(texts))
    train_seed_model().save(path)
    return path


@functools.cache
def bundled_filter() -> RelevanceFilter:
    """The seed model at the default threshold, trained once per process (about a second).

    For callers without settings (tests, `discard_reason` on its own); the daemon uses
    `open_relevance`, which saves the model under the data directory.
    """
    return RelevanceFilter(train_seed_model(), DEFAULT_THRESHOLD)


def relevance_path(settings: Settings) -> Path:
    """The model file the daemon will use: configured, trained by the region, or the seed's."""
    configured = settings.classifier.relevance_model_path
    if configured is not None:
        return configured
    trained = settings.data_dir / "models" / TRAINED_FILENAME
    return trained if trained.exists() else settings.data_dir / "models" / SEED_FILENAME


def open_relevance(settings: Settings) -> RelevanceFilter:
    """The relevance filter the settings ask for; blocking (it may train the seed model)."""
    config = settings.classifier
    path = relevance_path(settings)
    if config.relevance_model_path is None and path.name == SEED_FILENAME:
        ensure_seed_model(path.parent)
    model = RelevanceModel.load(path)
    logger.info(
        "relevance model %s loaded from %s (keeps posts at p >= %.2f)",
        model.version,
        path,
        config.relevance_threshold,
    )
    return RelevanceFilter(model, config.relevance_threshold)


__all__ = [
    "DEFAULT_THRESHOLD",
    "RELEVANCE_LABELS",
    "RelevanceFilter",
    "RelevanceModel",
    "bundled_filter",
    "ensure_seed_model",
    "held_out_figures",
    "open_relevance",
    "relevance_path",
    "relevance_text",
    "train_relevance",
    "train_seed_model",
]
