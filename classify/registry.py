"""The model registry in the store: add a trained model, list them, activate one, roll back.

The bytes live in the store, so every replica of a scale-out loads exactly the model that was
activated, and a daemon notices a new active version by asking for one short string.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from muara.classify.errors import ClassifyError
from muara.classify.model import AgencyModel
from muara.store.models_tables import classifier_models
from muara.store.records import Clock, utc_now

_SUMMARY_COLUMNS = (
    classifier_models.c.version,
    classifier_models.c.created_at,
    classifier_models.c.trained_at,
    classifier_models.c.source,
    classifier_models.c.info,
    classifier_models.c.size,
    classifier_models.c.sha256,
    classifier_models.c.active,
    classifier_models.c.activated_at,
    classifier_models.c.previous_version,
)


_RACE = "another activation happened at the same moment; look at `muara model list` and retry"


class RegistryError(ClassifyError):
    """An operation on the registry that cannot be done; the message says why."""


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One registered model, without its bytes."""

    version: str
    created_at: datetime
    trained_at: datetime | None
    source: str | None
    info: dict[str, Any]
    size: int
    sha256: str
    active: bool
    activated_at: datetime | None
    previous_version: str | None

    @property
    def held_out(self) -> dict[str, Any]:
        """The held-out figures recorded at training (empty when it was not evaluated)."""
        evaluation = self.info.get("evaluation") or {}
        held: dict[str, Any] = evaluation.get("held_out") or {}
        return held


def _entry(row: Any) -> ModelEntry:
    return ModelEntry(**{column.name: getattr(row, column.name) for column in _SUMMARY_COLUMNS})


class ModelRegistry:
    """The store's `classifier_models` table, as operations an operator understands."""

    def __init__(self, engine: AsyncEngine, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.clock = clock

    async def add(self, model: AgencyModel, *, activate: bool = False) -> ModelEntry:
        """Register a trained model (and make it the active one if asked)."""
        content = await asyncio.to_thread(model.to_bytes)
        digest = hashlib.sha256(content).hexdigest()
        metadata = model.metadata
        trained_at = metadata.get("trained_at")
        async with self.engine.begin() as conn:
            existing = await self._get(conn, model.version)
            if existing is not None:
                if existing.info.get("data_sha256") != metadata.get("data_sha256"):
                    raise RegistryError(f"another model is registered as version {model.version}")
            else:
                try:
                    await conn.execute(
                        classifier_models.insert().values(
                            version=model.version,
                            created_at=self.clock(),
                            trained_at=datetime.fromisoformat(trained_at) if trained_at else None,
                            source=metadata.get("source"),
                            info=metadata,
                            content=content,
                            size=len(content),
                            sha256=digest,
                            active=False,
                        )
                    )
                except IntegrityError as err:  # registered by someone else meanwhile
                    raise RegistryError(f"version {model.version} is already registered") from err
            if activate:
                await self._activate(conn, model.version, remember_previous=True)
            entry = await self._get(conn, model.version)
        assert entry is not None
        return entry

    async def list(self) -> list[ModelEntry]:
        """Every registered model, newest first."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(*_SUMMARY_COLUMNS).order_by(
                    classifier_models.c.created_at.desc(), classifier_models.c.version.desc()
                )
            )
            return [_entry(row) for row in rows]

    async def active(self) -> ModelEntry | None:
        """The model the daemons should use, if one was activated."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(*_SUMMARY_COLUMNS).where(classifier_models.c.active))
            ).first()
        return None if row is None else _entry(row)

    async def active_version(self) -> str | None:
        """Only the active version: what a daemon polls to notice a change."""
        async with self.engine.connect() as conn:
            version: str | None = await conn.scalar(
                select(classifier_models.c.version).where(classifier_models.c.active)
            )
            return version

    async def load(self, version: str) -> AgencyModel:
        """The registered model itself, read and checked as a model file would be."""
        async with self.engine.connect() as conn:
            content = await conn.scalar(
                select(classifier_models.c.content).where(classifier_models.c.version == version)
            )
        if content is None:
            raise RegistryError(f"no model version {version} in the registry")
        return await asyncio.to_thread(
            AgencyModel.from_bytes, bytes(content), f"registry:{version}"
        )

    async def activate(self, version: str) -> ModelEntry:
        """Make `version` the active model; the one it replaces is remembered for a rollback."""
        try:
            async with self.engine.begin() as conn:
                await self._activate(conn, version, remember_previous=True)
                entry = await self._get(conn, version)
        except IntegrityError as err:
            raise RegistryError(_RACE) from err
        assert entry is not None
        return entry

    async def rollback(self) -> ModelEntry:
        """Go back to the model that was active before the current one."""
        try:
            async with self.engine.begin() as conn:
                return await self._rollback(conn)
        except IntegrityError as err:
            raise RegistryError(_RACE) from err

    async def _rollback(self, conn: AsyncConnection) -> ModelEntry:
        current = await self._current(conn)
        if current is None:
            raise RegistryError("no model is active: nothing to roll back")
        if current.previous_version is None:
            raise RegistryError(
                f"model {current.version} replaced no other model: nothing to roll back to"
            )
        # The older model keeps its own previous: rolling back twice goes further back.
        await self._activate(conn, current.previous_version, remember_previous=False)
        entry = await self._get(conn, current.previous_version)
        assert entry is not None
        return entry

    async def _get(self, conn: AsyncConnection, version: str) -> ModelEntry | None:
        row = (
            await conn.execute(
                select(*_SUMMARY_COLUMNS).where(classifier_models.c.version == version)
            )
        ).first()
        return None if row is None else _entry(row)

    async def _current(self, conn: AsyncConnection) -> ModelEntry | None:
        row = (
            await conn.execute(select(*_SUMMARY_COLUMNS).where(classifier_models.c.active))
        ).first()
        return None if row is None else _entry(row)

    async def _activate(
        self, conn: AsyncConnection, version: str, *, remember_previous: bool
    ) -> None:
        target = await self._get(conn, version)
        if target is None:
            raise RegistryError(f"no model version {version} in the registry")
        current = await self._current(conn)
        if current is not None and current.version == version:
            return
        values: dict[str, Any] = {"active": True, "activated_at": self.clock()}
        if remember_previous:
            values["previous_version"] = None if current is None else current.version
        await conn.execute(
            update(classifier_models).where(classifier_models.c.active).values(active=False)
        )
        await conn.execute(
            update(classifier_models).where(classifier_models.c.version == version).values(**values)
        )
