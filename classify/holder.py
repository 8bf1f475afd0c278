"""The model a running daemon classifies with, and how it follows the registry without a restart.

At start: a configured model file, else the registry's active model, else the starter model.
While running (no model file configured): every `registry_poll_seconds` the classify stage asks
the registry for its active version; a new one is loaded off the event loop and swapped in
between two batches. A registry that fails is logged once, and the current model stays.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from muara.classify.errors import ClassifyError
from muara.classify.location import Gazetteer
from muara.classify.model import AgencyModel, load_model
from muara.classify.registry import ModelRegistry
from muara.classify.starter import ensure_starter_model
from muara.config import ConfigError, Settings
from muara.exporters.metrics import Metrics
from muara.store.records import Clock, utc_now

log = logging.getLogger(__name__)

# Thresholds of this many recent versions are kept: a complaint classified just before a swap
# is routed with the thresholds of the model that classified it.
_KEPT_VERSIONS = 4


class ModelHolder:
    """The model the classify stage uses now; a registry may swap it without a restart."""

    def __init__(
        self,
        model: AgencyModel,
        *,
        registry: ModelRegistry | None = None,
        clock: Clock = utc_now,
        poll_seconds: float = 30.0,
        target_precision: float = 0.95,
        metrics: Metrics | None = None,
    ) -> None:
        self.current = model
        self.registry = registry
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.target_precision = target_precision
        self.metrics = metrics
        self._checked_at: datetime | None = None
        self._failing = False
        self._thresholds: dict[str, dict[str, float] | None] = {}
        self._installed(model)

    def __call__(self) -> AgencyModel:
        return self.current

    def thresholds_for(self, version: str) -> Mapping[str, float] | None:
        """Per-agency thresholds of the model `version` (None: the router's global threshold)."""
        return self._thresholds.get(version)

    async def refresh(self) -> None:
        """Swap in the registry's active model if it changed (checked every `poll_seconds`)."""
        if self.registry is None:
            return
        now = self.clock()
        checked = self._checked_at
        if checked is not None and (now - checked).total_seconds() < self.poll_seconds:
            return
        self._checked_at = now
        try:
            version = await self.registry.active_version()
            if version is None or version == self.current.version:
                self._recovered()
                return
            model = await self.registry.load(version)
        except (ClassifyError, SQLAlchemyError, OSError) as err:
            if not self._failing:
                log.warning(
                    "cannot read the model registry (%s); classifying with model %s meanwhile",
                    type(err).__name__,
                    self.current.version,
                )
            self._failing = True
            return
        self._recovered()
        previous = self.current.version
        self.current = model.with_gazetteer(self.current.gazetteer)
        self._installed(self.current)
        log.info("classifier model %s activated (was %s)", model.version, previous)

    def _recovered(self) -> None:
        if self._failing:
            log.info("model registry readable again")
        self._failing = False

    def _installed(self, model: AgencyModel) -> None:
        self._thresholds[model.version] = model.thresholds(self.target_precision)
        while len(self._thresholds) > _KEPT_VERSIONS:
            del self._thresholds[next(iter(self._thresholds))]
        if self.metrics is not None:
            self.metrics.classifier_model.info(
                {"version": model.version, "source": str(model.metadata.get("source") or "")}
            )


def _load_fixed(settings: Settings) -> AgencyModel:
    path = settings.classifier.model_path
    if path is None:
        path = ensure_starter_model(settings.data_dir / "models")
    return load_model(path)


async def open_classifier(
    settings: Settings, engine: AsyncEngine, *, clock: Clock = utc_now, metrics: Metrics | None
) -> ModelHolder:
    """The daemon's model at start, following the registry unless a model file is configured."""
    config = settings.classifier
    gazetteer = None
    if config.gazetteer_path is not None:
        try:
            gazetteer = await asyncio.to_thread(Gazetteer.load, config.gazetteer_path)
        except ClassifyError as err:
            raise ConfigError(f"classifier.gazetteer_path: {err}") from err
        log.info("gazetteer %s: %d places", config.gazetteer_path, len(gazetteer))
    registry = None if config.model_path is not None else ModelRegistry(engine, clock)
    model = None
    if registry is not None and (version := await registry.active_version()) is not None:
        try:
            model = await registry.load(version)
        except ClassifyError as err:
            # The daemon still starts: complaints keep flowing (to review, mostly) while an
            # operator activates a good model or rolls back; the holder keeps checking.
            log.warning("active model %s unusable, using the fallback model: %s", version, err)
    if model is None:
        model = await asyncio.to_thread(_load_fixed, settings)
    model = model.with_gazetteer(gazetteer)
    log.info(
        "classifier model %s loaded (%d labels%s)",
        model.version,
        len(model.labels),
        "" if registry is None else "; following the store's model registry",
    )
    return ModelHolder(
        model,
        registry=registry,
        clock=clock,
        poll_seconds=config.registry_poll_seconds,
        target_precision=config.target_precision,
        metrics=metrics,
    )
