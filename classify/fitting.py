"""Fitting the agency model: features, the ranking classifier, and honest confidence.

What was measured on the shared Surabaya data (train Jan-Sep 2022, test Oct-Dec, see the
README's Classifier section) decided each choice here:
- word 1-2 grams plus character 3-5 grams within words beat either alone (+0.015 accuracy);
- a linear SVM ranks as well as logistic regression (+0.02 accuracy) and fits ~8x faster;
- spelling out informal words and dropping greetings changed accuracy by less than the noise
  (+0.003); kept, as they cost nothing and help small training sets most; stemming (Sastrawi)
  was too slow to fit in the training budget;
- local offices learned as one role, resolved from the location, instead of 150 office labels.
Confidence is fitted on out-of-fold predictions, folds cut by time when the data has dates, so
it is judged on "later" complaints as the daemon will meet them.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import sklearn
from numpy.typing import NDArray
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, KFold
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # sklearn's own dep

from muara.classify.calibration import (
    STANDARD_TARGETS,
    Calibration,
    choose_thresholds,
    fit_temperature,
    softmax_at,
    target_key,
)
from muara.classify.errors import TrainingDataError
from muara.classify.figures import Predicted, figures
from muara.classify.location import (
    LOCAL_OFFICE_LABEL,
    Gazetteer,
    Level,
    OfficeDirectory,
    Place,
    parse_office,
    role_of,
)
from muara.classify.model import AgencyModel, subdistrict_proba
from muara.classify.suggest import Scored, Suggester
from muara.classify.text import NORMALISER_VERSION, model_text

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]

# Bumped whenever training changes the model it makes from the same data (features, classifier,
# weights), so the starter model is retrained and its version changes (classify/starter.py).
# 2: word n-grams weighted 1.5, balanced class weights, the local-office role's bias.
TRAINING_VERSION = 2
# Below this many examples a word must appear once to count; above, twice (rarer ones are noise
# and make the model file bigger).
_MIN_DF_FROM = 1000
# Folds of the held-out predictions that calibrate confidence; each costs one more fit.
DEFAULT_FOLDS = 3
# Too few examples to hold any out and still learn: no calibration, no thresholds.
_MIN_HELD_OUT = 100
# Each tier needs this many local-office examples for a model of its own (else: the prior).
_MIN_LEVEL_EXAMPLES = 5
# Word n-grams count this much more than character n-grams (see build_features).
WORD_WEIGHT = 1.5
# Whether each agency weighs the same in the SVM's loss, however many examples it has.
BALANCED = True
# The role's shift may cost this share of held-out accuracy for more local-office recall.
ROLE_BIAS_TOLERANCE = 0.005
# The local-office role's score shift is chosen from these (see _fit_role_bias).
_BIAS_GRID = np.round(np.arange(-0.5, 0.5001, 0.025), 3)


def build_features(n_examples: int, word_weight: float = 1.0) -> FeatureUnion:
    """Words catch topics, character n-grams within words catch slang, typos and affixes.

    `word_weight` scales the word block against the character block (the agency model uses
    WORD_WEIGHT: on the shared data's training months it helped, with balanced class weights,
    by +0.003 and +0.005 accuracy on two splits).
    """
    min_df = 2 if n_examples >= _MIN_DF_FROM else 1
    return FeatureUnion(
        [
            (
                "words",
                TfidfVectorizer(
                    ngram_range=(1, 2),
                    sublinear_tf=True,
                    min_df=min_df,
                    token_pattern=r"(?u)\b\w+\b",
                    dtype=np.float32,
                ),
            ),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=(3, 5),
                    sublinear_tf=True,
                    min_df=min_df,
                    dtype=np.float32,
                ),
            ),
        ],
        transformer_weights=None if word_weight == 1.0 else {"words": word_weight, "chars": 1.0},
    )


def build_classifier(*, balanced: bool = False) -> LinearSVC:
    """One-vs-rest linear SVM; C=0.3 measured best of 0.2-1.0 on the shared data.

    `balanced` weighs each label by the inverse of its count, so a small agency's examples are
    not drowned by the big five's (+0.009 and +0.003 accuracy on the two training-month splits).
    """
    # A fixed seed: the solver shuffles, and the same data must give the same model everywhere.
    return LinearSVC(C=0.3, tol=1e-3, random_state=0, class_weight="balanced" if balanced else None)


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


@dataclass(frozen=True, slots=True)
class HeldOut:
    """Out-of-fold suggestions for the training examples: what calibration is fitted on."""

    truth: list[str]
    predicted: list[Predicted]
    roles: list[str]  # the predicted role (local offices as LOCAL_OFFICE_LABEL)
    scheme: str


def train_model(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    places: Sequence[Place | None] | None = None,
    received_at: Sequence[datetime | None] | None = None,
    weights: Sequence[float] | None = None,
    groups: Sequence[str] | None = None,
    version: str | None = None,
    trained_at: datetime | None = None,
    evaluation: dict[str, Any] | None = None,
    source: str | None = None,
    calibrate: bool = True,
    per_agency_thresholds: bool = True,
    folds: int = DEFAULT_FOLDS,
    gazetteer: Gazetteer | None = None,
    progress: Progress | None = None,
) -> AgencyModel:
    """Fit a model and record what it was made from, so every suggestion can be traced back.

    Labels naming a kecamatan or kelurahan office are learned as one local-office role. With
    `calibrate`, `folds` models are fitted on part of the data to judge the rest: their
    predictions fit the confidence calibration and the per-agency thresholds, and give the
    evaluation figures recorded in the metadata. Folds follow `groups` when given (examples of
    a group are held out together), else time when every example has `received_at`.
    """
    if isinstance(texts, str) or isinstance(labels, str):
        raise TypeError("texts and labels must be sequences of strings, not one string")
    n = len(texts)
    for name, values in (("labels", labels), ("places", places), ("received_at", received_at)):
        if values is not None and len(values) != n:
            raise ValueError(f"{n} texts but {len(values)} {name}")
    for name, more in (("weights", weights), ("groups", groups)):
        if more is not None and len(more) != n:
            raise ValueError(f"{n} texts but {len(more)} {name}")
    label_counts = Counter(labels)
    roles = [role_of(label) for label in labels]
    if len(set(roles)) < 2:
        raise TrainingDataError(
            f"a model needs at least 2 labels, got {len(label_counts)} in {n} examples"
        )
    if trained_at is not None and trained_at.tzinfo is None:
        raise ValueError("trained_at must be timezone-aware")
    say = progress or (lambda _message: None)
    when = trained_at or datetime.now(UTC)
    fingerprint = data_fingerprint(texts, labels)
    offices = OfficeDirectory.learn(labels)
    sample_weight = None if weights is None else np.asarray(weights, dtype=np.float64)
    prepared = [model_text(text) for text in texts]
    # One BLAS thread: the solvers' dense steps are too small to gain from more, and on a busy
    # host (the daemon's other workers, other replicas) spinning BLAS threads slow a fit down.
    with threadpool_limits(limits=1, user_api="blas"):
        say(f"building features of {n:,} examples…")
        features = build_features(n, WORD_WEIGHT)
        matrix = features.fit_transform(prepared)
        held = None
        role_bias = 0.0
        if calibrate and n >= _MIN_HELD_OUT and folds >= 2:
            held, temperature, role_bias = _held_out(
                matrix,
                prepared,
                labels,
                roles,
                places,
                received_at,
                groups,
                sample_weight,
                folds,
                offices,
                gazetteer,
                say,
            )
        else:
            temperature = 1.0
        say(f"fitting the final model on {n:,} examples…")
        classifier = _fit_classifier(matrix, roles, sample_weight)
        level, prior = _fit_level(matrix, labels, roles)
    metadata: dict[str, Any] = {
        "version": version or f"{when.astimezone(UTC):%Y%m%dT%H%M}-{fingerprint[:6]}",
        "trained_at": when.isoformat(),
        "n_examples": n,
        "data_sha256": fingerprint,
        "labels": [str(label) for label in classifier.classes_],
        "label_counts": dict(sorted(label_counts.items())),
        "evaluation": evaluation,
        "source": source,
        "normaliser_version": NORMALISER_VERSION,
        "training_version": TRAINING_VERSION,
        "sklearn_version": sklearn.__version__,
        "temperature": temperature,
        "role_bias": role_bias,
        "calibration": None,
        "thresholds": None,
        "offices": offices.to_metadata(),
        "level_prior_subdistrict": prior,
    }
    if held is not None:
        correct = [_right(t, p.agency) for t, p in zip(held.truth, held.predicted, strict=True)]
        raw = [p.confidence for p in held.predicted]
        calibration = Calibration.fit(raw, correct)
        calibrated = calibration.apply(np.asarray(raw)).tolist()
        metadata["calibration"] = calibration.to_metadata()
        if per_agency_thresholds:
            metadata["thresholds"] = {
                target_key(target): choose_thresholds(held.roles, calibrated, correct, target)
                for target in STANDARD_TARGETS
            }
        scored = [Predicted(p.top, c) for p, c in zip(held.predicted, calibrated, strict=True)]
        metadata["evaluation"] = {
            **(evaluation or {}),
            "held_out": {**figures(held.truth, scored), "scheme": held.scheme},
        }
    pipeline = Pipeline([("features", features), ("classifier", classifier)])
    return AgencyModel(pipeline, metadata, level, gazetteer)


def _right(truth: str, agency: str) -> bool:
    """A held-out suggestion is right when it names the agency (or the office) that handled it;
    for a label naming only the tier ("Kelurahan", as the starter's), the role is enough."""
    if agency == truth:
        return True
    parsed = parse_office(truth)
    return parsed is not None and parsed[1] is None and agency == LOCAL_OFFICE_LABEL


def _fit_classifier(
    matrix: Any, roles: Sequence[str], weights: NDArray[np.float64] | None
) -> LinearSVC:
    classifier = build_classifier(balanced=BALANCED)
    classifier.fit(matrix, list(roles), sample_weight=weights)
    # Half the size on disk and in memory; scores differ in the 7th digit.
    classifier.coef_ = classifier.coef_.astype(np.float32)
    return classifier


def _fit_level(
    matrix: Any, labels: Sequence[str], roles: Sequence[str]
) -> tuple[LogisticRegression | None, float]:
    """The kelurahan-vs-kecamatan model over local-office examples, or just the prior."""
    rows: list[int] = []
    tiers: list[str] = []
    for i, (label, role) in enumerate(zip(labels, roles, strict=True)):
        if role == LOCAL_OFFICE_LABEL:
            parsed = parse_office(label)
            assert parsed is not None
            rows.append(i)
            tiers.append(parsed[0].value)
    counts = Counter(tiers)
    prior = counts[Level.SUBDISTRICT.value] / len(tiers) if tiers else 0.5
    if min(counts[level.value] for level in Level) < _MIN_LEVEL_EXAMPLES:
        return None, prior
    level = LogisticRegression(C=3.0, max_iter=1000)
    level.fit(matrix[rows], tiers)
    return level, prior


def _folds(
    n: int,
    received_at: Sequence[datetime | None] | None,
    groups: Sequence[str] | None,
    k: int,
) -> tuple[list[tuple[Any, Any]], str]:
    """(train, test) index pairs: by group; by time when every example has a date; else shuffled.

    By time, each fold is a contiguous period judged by a model of the other periods, so the
    drift between months counts against it. (Judging each period only by the periods before it
    was measured too: no more honest on the shared data, and it judges a third fewer examples.)
    """
    everything = np.arange(n)
    if groups is not None:
        splitter = GroupKFold(n_splits=min(k, len(set(groups))))
        pairs = list(splitter.split(everything, groups=groups))
        return pairs, f"by group, {len(pairs)} folds"
    if received_at is not None and all(when is not None for when in received_at):
        order = np.argsort(np.array([when.timestamp() for when in received_at if when]))
        tests = np.array_split(order, k)
        return [(np.setdiff1d(everything, t), t) for t in tests], f"time-ordered, {k} folds"
    splitter = KFold(n_splits=k, shuffle=True, random_state=0)
    return list(splitter.split(everything)), f"shuffled, {k} folds"


def _held_out(
    matrix: Any,
    prepared: list[str],
    labels: Sequence[str],
    roles: Sequence[str],
    places: Sequence[Place | None] | None,
    received_at: Sequence[datetime | None] | None,
    groups: Sequence[str] | None,
    weights: NDArray[np.float64] | None,
    k: int,
    offices: OfficeDirectory,
    gazetteer: Gazetteer | None,
    say: Progress,
) -> tuple[HeldOut, float, float]:
    """Out-of-fold suggestions, the softmax temperature fitted on their scores, the role bias."""
    n = len(prepared)
    classes = sorted(set(roles))
    column = {label: i for i, label in enumerate(classes)}
    scores = np.full((n, len(classes)), -np.inf)
    subdistrict = np.full(n, 0.5)
    scored_rows = np.zeros(n, dtype=bool)
    pairs, scheme = _folds(n, received_at, groups, k)
    for number, (train, test) in enumerate(pairs, 1):
        say(f"held-out fold {number}/{len(pairs)}: fit {len(train):,}, judge {len(test):,}…")
        train_roles = [roles[i] for i in train]
        if len(set(train_roles)) < 2:
            continue
        fold_weights = None if weights is None else weights[train]
        classifier = _fit_classifier(matrix[train], train_roles, fold_weights)
        columns = [column[str(label)] for label in classifier.classes_]
        fold_scores = np.asarray(classifier.decision_function(matrix[test]), dtype=np.float64)
        if fold_scores.ndim == 1:
            fold_scores = np.column_stack([-fold_scores, fold_scores]) / 2
        scores[np.ix_(test, columns)] = fold_scores
        scored_rows[test] = True
        level, prior = _fit_level(matrix[train], [labels[i] for i in train], train_roles)
        subdistrict[test] = prior if level is None else subdistrict_proba(level, matrix[test])
    truth_at = np.array([column[role] for role in roles])
    known = scored_rows & np.isfinite(scores[np.arange(n), truth_at])
    finite = np.where(np.isfinite(scores), scores, -1e9)
    bias = 0.0
    if LOCAL_OFFICE_LABEL in column:
        local = column[LOCAL_OFFICE_LABEL]
        bias = _fit_role_bias(finite[known], truth_at[known], local)
        finite[:, local] += bias
    temperature = fit_temperature(finite[known], truth_at[known])
    proba = softmax_at(finite, temperature)
    rows = np.flatnonzero(scored_rows).tolist()
    suggester = Suggester(tuple(classes), "held-out", offices, Calibration.identity(), gazetteer)
    row_places = None if places is None else [places[i] for i in rows]
    found = suggester.suggest(
        Scored([prepared[i] for i in rows], proba[rows], subdistrict[rows]),
        3,
        row_places,
        calibrated=False,
    )
    predicted = [Predicted(tuple(a for a, _ in s.top), s.confidence) for s in found]
    held = HeldOut(
        truth=[labels[i] for i in rows],
        predicted=predicted,
        roles=[role_of(p.agency) for p in predicted],
        scheme=scheme,
    )
    return held, temperature, bias


def _fit_role_bias(scores: NDArray[np.float64], truth: NDArray[np.intp], local: int) -> float:
    """The shift of the local-office role's score that makes the most held-out roles right.

    The role is one label standing for ~150 offices and for many topics: a linear SVM finds it
    for half its complaints and under-ranks it. Its decision threshold is fitted like the
    per-agency ones, on complaints the model did not train on; the smallest shift wins ties.
    """
    if len(truth) == 0:
        return 0.0
    shifted = scores.copy()
    right: dict[float, int] = {}
    for bias in _BIAS_GRID.tolist():
        shifted[:, local] = scores[:, local] + bias
        right[bias] = int((shifted.argmax(axis=1) == truth).sum())
    most = max(right.values())
    allowed = most - ROLE_BIAS_TOLERANCE * len(truth)
    return float(max(bias for bias, n in right.items() if n >= allowed))
