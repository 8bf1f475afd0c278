"""Cost of the routing rules: the README's example ruleset over the starter complaints.

    python bench/router_rules.py                   # 20,000 complaints
    python bench/router_rules.py --complaints 100000

Pure and on one core: builds the ruleset from the README's `[[router.rules]]` example (six rules
plus `emergency-112`), with a 300-place gazetteer for the location rule, and applies it to each
complaint as the route stage does. Prints complaints per second and the per-complaint p50/p99.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path

from muara.classify.location import Gazetteer
from muara.classify.starter import starter_examples
from muara.domain import State, Suggestion
from muara.router.configured import ruleset_from
from muara.router.settings import RouterSettings
from muara.store.records import ComplaintRecord

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_rules() -> RouterSettings:
    section = README.read_text(encoding="utf-8").split("## Routing rules", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    return RouterSettings(**tomllib.loads(example)["router"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--complaints", type=int, default=20_000)
    args = parser.parse_args()
    rng = random.Random(7)
    gazetteer = Gazetteer(
        [(f"Distrik {d}", f"Desa {d}-{s} Raya") for d in range(30) for s in range(10)]
        + [("Rungkut", "Wonorejo")]
    )
    rules = ruleset_from(readme_rules(), gazetteer=lambda: gazetteer)
    examples = starter_examples()
    channels = ["email", "x", "callcenter", "112"]
    complaints = [
        ComplaintRecord(
            id=n,
            channel=rng.choice(channels),
            source_id=str(n),
            state=State.CLASSIFIED,
            received_at=datetime(2026, 11, 20, tzinfo=UTC),
            # Distinct texts, so no cache of normalised text helps more than in real life.
            text=f"{rng.choice(examples)[0]} no {n}",
            subject=None,
            district=None,
            subdistrict=None,
            is_anonymous=False,
            is_secret=False,
            agency=None,
            extra={},
        )
        for n in range(args.complaints)
    ]
    suggestion = Suggestion("DLH", 0.9, (("DLH", 0.9),), "bench")
    timings = []
    fired = 0
    started = time.perf_counter()
    for complaint in complaints:
        one = time.perf_counter()
        outcome = rules.apply(complaint, suggestion)
        timings.append(time.perf_counter() - one)
        fired += outcome.rule is not None
    elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(timings, n=100)
    print(
        f"{len(rules.rules)} rules, {args.complaints} complaints: "
        f"{args.complaints / elapsed:,.0f} complaints/s, "
        f"p50 {cuts[49] * 1e6:.0f} us, p99 {cuts[98] * 1e6:.0f} us; "
        f"a rule decided {fired / args.complaints:.0%}"
    )


if __name__ == "__main__":
    main()
