"""The classifier's speed and size on a region's history: training, batch, single, file size.

    python bench/classify.py                       # the shared Surabaya data, if it is there
    python bench/classify.py history.csv --preset lapor --gazetteer region.csv

Training is the full `muara train` fit (features, three held-out folds for calibration and
thresholds, the final model) on every row of the file. Batch throughput classifies every row in
batches of 200 (the daemon's batch size) with their locations, first with a freshly loaded model
(cold caches), then again (warm, as a running daemon is). Single latency classifies one
complaint at a time. The model file is the skops file `muara train --out` writes. Last, the X
relevance filter: training its bundled seed model, and judging the file's texts as pages of posts.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from muara.classify.model import AgencyModel
from muara.classify.relevance_model import RelevanceFilter, train_seed_model
from muara.classify.training import train_examples

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.history import add_history_arguments, read_history

BATCH = 200


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_history_arguments(parser)
    parser.add_argument("--single", type=int, default=2000, help="complaints timed one by one")
    args = parser.parse_args()
    if (history := read_history(args)) is None:
        return 2
    examples, gazetteer = history
    texts = [e.text for e in examples]
    places = [e.place for e in examples]
    print(f"{args.csv.name}: {len(examples):,} complaints")

    started = time.perf_counter()
    model, _ = train_examples(examples, gazetteer=gazetteer)
    print(f"training (3 held-out folds + final fit): {time.perf_counter() - started:.1f} s")

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.skops"
        model.save(path)
        print(f"model file: {path.stat().st_size / 1e6:.1f} MB")
        started = time.perf_counter()
        loaded = AgencyModel.load(path).with_gazetteer(gazetteer)
        print(f"model load: {time.perf_counter() - started:.2f} s")

    with threadpool_limits(limits=1, user_api="blas"):
        for run in ("cold", "warm"):
            started = time.perf_counter()
            for i in range(0, len(texts), BATCH):
                loaded.predict(texts[i : i + BATCH], places=places[i : i + BATCH])
            elapsed = time.perf_counter() - started
            print(f"batch ({run}, {BATCH} a batch): {len(texts) / elapsed:,.0f} complaints/s")
        timings = []
        for text, place in zip(texts[: args.single], places[: args.single], strict=True):
            started = time.perf_counter()
            loaded.predict([text], places=[place])
            timings.append((time.perf_counter() - started) * 1000)
    cuts = statistics.quantiles(timings, n=100)
    print(
        f"single complaint: p50 {cuts[49]:.2f} ms, p99 {cuts[98]:.2f} ms, "
        f"max {max(timings):.2f} ms ({len(timings):,} timed)"
    )
    relevance(texts)
    return 0


def relevance(texts: list[str]) -> None:
    """The X relevance filter: training the bundled seed model, then judging pages of posts."""
    started = time.perf_counter()
    model = train_seed_model()
    print(f"relevance seed model: trained in {time.perf_counter() - started:.1f} s")
    judge = RelevanceFilter(model).judge_many
    with threadpool_limits(limits=1, user_api="blas"):
        started = time.perf_counter()
        for i in range(0, len(texts), 100):  # an X page holds up to 100 posts
            judge(texts[i : i + 100])
        elapsed = time.perf_counter() - started
    print(f"relevance: {len(texts) / elapsed:,.0f} posts/s in pages of 100")


if __name__ == "__main__":
    sys.exit(main())
