"""How much a region's history lets any text model get right: label agreement and drift.

    python bench/classify_ceiling.py               # the shared Surabaya data, if it is there
    python bench/classify_ceiling.py history.csv --preset lapor --test-from 2023-10-01

Three figures put the classifier's accuracy in proportion:

- **Near-duplicate agreement**: pairs of complaints whose words are almost the same (TF-IDF
  cosine ≥ 0.9: the same message sent twice, or a copied template). How often do they carry the
  same label, the same role (an agency, or "the local office"), and, in the same district, the
  same label? No model that reads the text can agree with both halves of a disagreeing pair.
- **No drift**: Muara's model under a shuffled k-fold over the whole file, every test complaint
  with neighbours from its own weeks in the training data. This is what the recipe reaches when
  time does not move the labels.
- **Time split**: the same model trained before `--test-from`, judged after it, as `muara
  evaluate --split time` does. The gap to the shuffled figure is what drift costs.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from muara.classify.dataset import Example
from muara.classify.evaluation import split_by_time
from muara.classify.figures import Predicted, figures
from muara.classify.location import Gazetteer, role_of
from muara.classify.training import train_examples

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.history import add_history_arguments, read_history

NEAR = 0.9


def near_duplicate_agreement(examples: Sequence[Example]) -> None:
    vectors = TfidfVectorizer(sublinear_tf=True).fit_transform([e.text for e in examples])
    similar = (vectors @ vectors.T).tocsr()
    similar.setdiag(0)
    first, second = (similar >= NEAR).nonzero()
    keep = first < second
    pairs = list(zip(first[keep].tolist(), second[keep].tolist(), strict=True))
    if not pairs:
        print("near duplicates: none")
        return
    label = [examples[i].label == examples[j].label for i, j in pairs]
    role = [role_of(examples[i].label) == role_of(examples[j].label) for i, j in pairs]
    district = [
        examples[i].label == examples[j].label
        for i, j in pairs
        if examples[i].place and examples[j].place
        and examples[i].place.district == examples[j].place.district
    ]  # fmt: skip
    print(f"near-duplicate pairs (cosine >= {NEAR}): {len(pairs):,}")
    print(f"  same label {np.mean(label):.3f}, same role {np.mean(role):.3f}", end="")
    if district:
        print(f", same label within one district {np.mean(district):.3f} ({len(district):,})")
    else:
        print()


def judge(
    train: Sequence[Example], test: Sequence[Example], gazetteer: Gazetteer | None
) -> list[Predicted]:
    """What a model trained on `train` suggests for each complaint of `test`."""
    model, _ = train_examples(train, gazetteer=gazetteer)
    found = model.predict([e.text for e in test], top_k=1, places=[e.place for e in test])
    return [Predicted(tuple(agency for agency, _ in s.top), s.confidence) for s in found]


def summary(truth: Sequence[str], predicted: Sequence[Predicted]) -> str:
    """`muara evaluate`'s figures of these suggestions, and how often the role was right."""
    found = figures(truth, predicted)
    pairs = zip(truth, predicted, strict=True)
    roles = np.mean([role_of(p.agency) == role_of(label) for label, p in pairs])
    return (
        f"accuracy {found['accuracy']:.3f}, role {roles:.3f}, "
        f"local offices {found['local_office_accuracy']:.3f}, auto-routable at 95% precision "
        f"{found['coverage_at_precision']['0.95']:.0%} ({found['n']:,} judged)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_history_arguments(parser)
    parser.add_argument("--test-from", default="2022-10-01", help="time split (YYYY-MM-DD)")
    parser.add_argument("--folds", type=int, default=5, help="shuffled folds (no drift)")
    args = parser.parse_args()
    if (history := read_history(args)) is None:
        return 2
    examples, gazetteer = history
    print(f"{len(examples):,} labelled complaints from {args.csv.name}")
    near_duplicate_agreement(examples)

    shuffled = list(examples)
    random.Random(0).shuffle(shuffled)
    truth: list[str] = []
    predicted: list[Predicted] = []
    for fold in range(args.folds):
        test = shuffled[fold :: args.folds]
        train = [e for i, e in enumerate(shuffled) if i % args.folds != fold]
        print(f"  shuffled fold {fold + 1}/{args.folds}…", end="\r", file=sys.stderr, flush=True)
        truth += [e.label for e in test]
        predicted += judge(train, test, gazetteer)
    print(f"no drift ({args.folds} shuffled folds): {summary(truth, predicted)}")

    cut = datetime.fromisoformat(args.test_from).replace(tzinfo=ZoneInfo("Asia/Jakarta"))
    train, test, where = split_by_time(examples, test_from=cut, test_fraction=0.25)
    print(f"{where}: {summary([e.label for e in test], judge(train, test, gazetteer))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
