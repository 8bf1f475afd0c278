"""The picture of an evaluation: the coverage-precision curve and the confusion matrix.

matplotlib is an optional extra (`pip install 'muara[report]'`): the daemon never needs it.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from muara.classify.evaluation import Evaluation
from muara.classify.figures import PRECISION_TARGETS, is_local_office

INSTALL_HINT = "drawing needs matplotlib: pip install 'muara[report]'"
LOCAL = "(local office)"
OTHER = "(other)"


class PlotUnavailableError(RuntimeError):
    """matplotlib is not installed."""


def _group(label: str, main: set[str]) -> str:
    if is_local_office(label):
        return LOCAL
    return label if label in main else OTHER


def confusion(
    truth: list[str], predicted: list[str], size: int = 12
) -> tuple[list[str], np.ndarray[Any, np.dtype[np.float64]]]:
    """Row-normalised confusion of the `size` largest agencies; local offices as one row."""
    counts = Counter(_group(t, set(truth)) for t in truth)
    counts.pop(OTHER, None)
    main = [label for label, _ in counts.most_common(size)]
    names = [*main, OTHER]
    index = {name: i for i, name in enumerate(names)}
    matrix = np.zeros((len(names), len(names)))
    keep = set(main)
    for t, p in zip(truth, predicted, strict=True):
        matrix[index[_group(t, keep)], index[_group(p, keep)]] += 1
    totals = matrix.sum(axis=1, keepdims=True)
    return names, np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)


def draw(evaluation: Evaluation, path: Path) -> None:
    """Write the PNG; raises `PlotUnavailableError` without matplotlib."""
    try:
        import matplotlib as mpl

        mpl.use("Agg")  # no display: a file only
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise PlotUnavailableError(INSTALL_HINT) from err
    figure, (left, right) = plt.subplots(1, 2, figsize=(16, 7.5), width_ratios=(1, 1.2))
    for (name, curve), colour in zip(evaluation.curves().items(), ("C0", "C7"), strict=True):
        coverage, precision = curve.points()
        left.plot(coverage, precision, color=colour, label=name)
    for target in PRECISION_TARGETS:
        left.axhline(target, color="C3", linewidth=0.6, linestyle=":")
        left.text(0.01, target, f" {target:.0%}", va="bottom", fontsize=8, color="C3")
    left.set_xlabel("share of complaints auto-routed (most confident first)")
    left.set_ylabel("precision of the auto-routed")
    left.set_ylim(0.5, 1.005)
    left.set_xlim(0, 1)
    left.set_title("coverage vs precision (test set)")
    left.legend(loc="lower left")
    left.grid(alpha=0.3)
    names, matrix = confusion(evaluation.truth, [p.agency for p in evaluation.model_predicted])
    right.imshow(matrix, cmap="Blues", vmin=0, vmax=1)
    short = [name if len(name) <= 34 else name[:32] + "…" for name in names]
    right.set_xticks(range(len(names)), short, rotation=60, ha="right", fontsize=7)
    right.set_yticks(range(len(names)), short, fontsize=7)
    for (i, j), value in np.ndenumerate(matrix):
        if value >= 0.01:
            colour = "white" if value > 0.5 else "black"
            right.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6, color=colour)
    right.set_xlabel("suggested")
    right.set_ylabel("true (rows sum to 1)")
    right.set_title("Muara's confusion matrix, main agencies (local offices: one row)")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
