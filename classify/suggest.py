"""From role probabilities to suggestions: the local-office role resolved, confidence calibrated.

Shared by the trained model and by training itself, which judges held-out suggestions exactly as
the daemon will make them. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from muara.classify.calibration import Calibration
from muara.classify.location import (
    LOCAL_OFFICE_LABEL,
    Gazetteer,
    Level,
    OfficeDirectory,
    Place,
    locate,
)
from muara.domain import Suggestion


@dataclass(frozen=True, slots=True)
class Scored:
    """The raw material of suggestions: role probabilities and the tier odds of the role."""

    texts: list[str]  # as the model read them (model_text), for place names
    proba: NDArray[np.float64]  # (n, roles), rows sum to 1
    subdistrict: NDArray[np.float64]  # (n,), P(kelurahan, not kecamatan | local office)


@dataclass(frozen=True, slots=True)
class Suggester:
    """Turns scores into ranked suggestions for one model version."""

    labels: tuple[str, ...]
    version: str
    offices: OfficeDirectory
    calibration: Calibration
    gazetteer: Gazetteer | None = None

    def suggest(
        self,
        scored: Scored,
        top_k: int,
        places: Sequence[Place | None] | None = None,
        *,
        calibrated: bool = True,
    ) -> list[Suggestion]:
        """One suggestion per row; the top probability calibrated unless told otherwise."""
        labels = self.labels
        role_at = labels.index(LOCAL_OFFICE_LABEL) if LOCAL_OFFICE_LABEL in labels else -1
        k = min(top_k + 1, len(labels))  # +1: the role may stand for two offices
        order = np.argsort(-scored.proba, axis=1, kind="stable")[:, :k]
        top_p = np.take_along_axis(scored.proba, order, axis=1)
        out: list[Suggestion] = []
        for i, (indices, probs) in enumerate(zip(order.tolist(), top_p.tolist(), strict=True)):
            entries: list[tuple[str, float]] = []
            for j, p in zip(indices, probs, strict=True):
                if j == role_at:
                    place = places[i] if places is not None else None
                    entries.extend(self._offices_for(scored, i, place, p))
                else:
                    entries.append((labels[j], p))
            entries.sort(key=lambda entry: -entry[1])
            entries = entries[:top_k]
            if calibrated:
                entries = self._calibrate(entries)
            out.append(Suggestion(entries[0][0], entries[0][1], tuple(entries), self.version))
        return out

    def _offices_for(
        self, scored: Scored, i: int, place: Place | None, p: float
    ) -> list[tuple[str, float]]:
        where = locate(place, scored.texts[i], self.gazetteer)
        p_sub = float(scored.subdistrict[i])
        found = []
        for level, share in ((Level.SUBDISTRICT, p_sub), (Level.DISTRICT, 1.0 - p_sub)):
            office = self.offices.resolve(level, where, self.gazetteer)
            if office is not None:
                found.append((office, p * share))
        # Nowhere known to send it: the role itself, which the router hands to a coordinator.
        return found or [(LOCAL_OFFICE_LABEL, p)]

    def _calibrate(self, entries: list[tuple[str, float]]) -> list[tuple[str, float]]:
        p1 = entries[0][1]
        c = float(self.calibration.apply(np.array([p1]))[0])
        # The runners-up keep their order under the top one and the total stays at most 1.
        scale = min(1.0, (1.0 - c) / (1.0 - p1)) if p1 < 1.0 else 0.0
        rest = [(label, min(p * scale, c)) for label, p in entries[1:]]
        return [(entries[0][0], c), *rest]
