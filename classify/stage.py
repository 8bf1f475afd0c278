"""The classify stage: NEW complaints get the model's suggestion and become CLASSIFIED."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Protocol

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


class ClassifyStage:
    """Runs the current model over a batch, off the event loop (it is CPU work)."""

    name = "classify"
    source_state = State.NEW

    def __init__(self, store: Store, model: Callable[[], Classifier], metrics: Metrics) -> None:
        self.store = store
        self.model = model
        self.metrics = metrics

    async def handle(self, batch: list[ComplaintRecord], owner: str) -> None:
        """Suggest an agency for each complaint and commit them all as CLASSIFIED."""
        classifier = self.model()
        texts = [model_input(record) for record in batch]
        found = await asyncio.to_thread(classifier.predict, texts)
        for suggestion in found:
            self.metrics.confidence.observe(suggestion.confidence)
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
