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
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from muara.classify.calibration import coverage_at_precision
from muara.classify.dataset import Example, columns_for, read_csv
from muara.classify.evaluation import split_by_time
from muara.classify.location import Gazetteer, parse_office, role_of
from muara.classify.training import train_examples

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
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


@dataclass
class Tally:
    """Right answers over the complaints judged: every label, roles, local-office complaints."""

    judged: int = 0
    right: int = 0
    right_role: int = 0
    local: int = 0
    right_local: int = 0
    confidence: list[float] = field(default_factory=list)
    correct: list[bool] = field(default_factory=list)

    def add(
        self, predicted: Sequence[str], confidence: Sequence[float], truth: Sequence[str]
    ) -> None:
        self.confidence.extend(confidence)
        for guess, label in zip(predicted, truth, strict=True):
            self.judged += 1
            self.correct.append(guess == label)
            self.right += guess == label
            self.right_role += role_of(guess) == role_of(label)
            if parse_office(label):
                self.local += 1
                self.right_local += guess == label

    def __str__(self) -> str:
        local = f"{self.right_local / self.local:.3f}" if self.local else "-"
        return (
            f"accuracy {self.right / self.judged:.3f}, role {self.right_role / self.judged:.3f}, "
            f"local offices {local}, auto-routable at 95% precision "
            f"{coverage_at_precision(self.confidence, self.correct, 0.95):.0%} "
            f"({self.judged:,} judged)"
        )


def judge(
    train: Sequence[Example], test: Sequence[Example], gazetteer: Gazetteer | None, tally: Tally
) -> Tally:
    model, _ = train_examples(train, gazetteer=gazetteer)
    found = model.predict([e.text for e in test], top_k=1, places=[e.place for e in test])
    tally.add([s.top[0][0] for s in found], [s.confidence for s in found], [e.label for e in test])
    return tally


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("csv", nargs="?", type=Path, default=SHARED / "surabaya-2022.csv")
    parser.add_argument("--preset", choices=["muara", "lapor"], default="muara")
    parser.add_argument("--gazetteer", type=Path, help="default: the shared Surabaya gazetteer")
    parser.add_argument("--test-from", default="2022-10-01", help="time split (YYYY-MM-DD)")
    parser.add_argument("--folds", type=int, default=5, help="shuffled folds (no drift)")
    args = parser.parse_args()
    if not args.csv.exists():
        print(f"no such file: {args.csv} (give a CSV of labelled complaints)", file=sys.stderr)
        return 2
    gazetteer_path = args.gazetteer or SHARED / "surabaya-gazetteer.csv"
    gazetteer = Gazetteer.load(gazetteer_path) if gazetteer_path.exists() else None
    columns, required = columns_for(args.preset)
    examples = read_csv(args.csv, columns, required=required).examples
    print(f"{len(examples):,} labelled complaints from {args.csv.name}")
    near_duplicate_agreement(examples)

    shuffled = list(examples)
    random.Random(0).shuffle(shuffled)
    tally = Tally()
    for fold in range(args.folds):
        test = shuffled[fold :: args.folds]
        train = [e for i, e in enumerate(shuffled) if i % args.folds != fold]
        print(f"  shuffled fold {fold + 1}/{args.folds}…", end="\r", file=sys.stderr, flush=True)
        judge(train, test, gazetteer, tally)
    print(f"no drift ({args.folds} shuffled folds): {tally}")

    cut = datetime.fromisoformat(args.test_from).replace(tzinfo=ZoneInfo("Asia/Jakarta"))
    train, test, where = split_by_time(examples, test_from=cut, test_fraction=0.25)
    print(f"{where}: {judge(train, test, gazetteer, Tally())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
