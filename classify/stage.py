"""The classify stage: NEW complaints get the model's suggestion and become CLASSIFIED."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from muara.classify.location import Place
from muara.domain import State, Suggestion
from muara.exporters.metrics import Metrics
from muara.store.records import Change, ComplaintRecord
from muara.store.repository import Store


class Classifier(Protocol):
    """Anything that ranks agencies for texts (the trained model, or a test double of it)."""

    def predict(self, texts: Sequence[str], top_k: int = 3) -> list[Suggestion]:
        """One suggestion per text, in order."""
        ...


def model_input(record: ComplaintRecord) -> str:
    """The text the model reads: the subject (if any) then the body."""
    return f"{record.subject}\n{record.text}" if record.subject else record.text


def place_of(record: ComplaintRecord) -> Place | None:
    """Where the channel says the complaint is, if it says."""
    if record.district or record.subdistrict:
        return Place(record.district or None, record.subdistrict or None)
    return None


class ClassifyStage:
    """Runs the current model over a batch, off the event loop (it is CPU work)."""

    name = "classify"
    source_state = State.NEW

    def __init__(
        self,
        store: Store,
        model: Callable[[], Classifier],
        metrics: Metrics,
        refresh: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.model = model
        self.metrics = metrics
        # Called before each batch: lets a newly activated model in (classify/holder.py).
        self.refresh = refresh

    async def handle(self, batch: list[ComplaintRecord], owner: str) -> None:
        """Suggest an agency for each complaint and commit them all as CLASSIFIED."""
        if self.refresh is not None:
            await self.refresh()
        classifier = self.model()
        texts = [model_input(record) for record in batch]
        # The trained model resolves local offices from the location; a test double may not.
        if getattr(classifier, "accepts_places", False):
            places = [place_of(record) for record in batch]
            found = await asyncio.to_thread(_predict_placed, classifier, texts, places)
        else:
            found = await asyncio.to_thread(classifier.predict, texts)
        for suggestion in found:
            self.metrics.confidence.observe(suggestion.confidence)
            self.metrics.suggestions.labels(suggestion.agency).inc()
        await self.store.apply(
            owner,
            [
                Change(
                    record.id,
                    State.NEW,
                    State.CLASSIFIED,
                    actor=f"model:{suggestion.model_version}",
                    suggestion=suggestion,
                )
                for record, suggestion in zip(batch, found, strict=True)
            ],
        )


def _predict_placed(
    classifier: Classifier, texts: list[str], places: list[Place | None]
) -> list[Suggestion]:
    predict: Callable[..., list[Suggestion]] = classifier.predict
    return predict(texts, places=places)
