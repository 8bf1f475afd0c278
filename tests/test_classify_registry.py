"""The model registry in the store, and a running classify stage following it without a restart."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from muara.classify.fitting import train_model
from muara.classify.holder import ModelHolder, open_classifier
from muara.classify.location import Place
from muara.classify.model import AgencyModel
from muara.classify.registry import ModelRegistry, RegistryError
from muara.classify.stage import ClassifyStage
from muara.classify.starter import ensure_starter_model
from muara.config import ConfigError, Settings, WorkerSettings
from muara.domain import State
from muara.exporters.metrics import Metrics
from muara.store.engine import create_engine, migrate
from muara.store.repository import Store
from muara.testing import FakeClock
from muara.worker import StageWorker
from tests.classify_helpers import gazetteer, region_rows, write_gazetteer
from tests.factories import complaint

TEXTS = [
    "jalan berlubang",
    "aspal rusak",
    "sampah menumpuk",
    "bau sampah",
    "air mati",
    "pipa bocor",
]
LABELS = ["DPUBM", "DPUBM", "DLH", "DLH", "PDAM", "PDAM"]


def _model(version: str, labels: list[str] = LABELS) -> AgencyModel:
    return train_model(TEXTS, labels, version=version)


@pytest.fixture(scope="module")
def regional() -> AgencyModel:
    rows = region_rows()
    return train_model(
        [text for text, _, _, _ in rows],
        [label for _, label, _, _ in rows],
        places=[place for _, _, place, _ in rows],
        received_at=[when for _, _, _, when in rows],
        version="region-1",
    )


async def test_add_list_activate_and_roll_back(engine: AsyncEngine, clock: FakeClock) -> None:
    registry = ModelRegistry(engine, clock)
    assert await registry.list() == []
    assert await registry.active_version() is None

    one = await registry.add(_model("one"))
    assert (one.version, one.active, one.previous_version) == ("one", False, None)
    assert one.size > 0 and len(one.sha256) == 64
    assert one.info["labels"] == ["DLH", "DPUBM", "PDAM"]
    clock.advance(60)
    two = await registry.add(_model("two"), activate=True)
    assert two.active and two.previous_version is None
    assert two.activated_at == clock.now
    assert [e.version for e in await registry.list()] == ["two", "one"], "newest first"

    clock.advance(60)
    assert (await registry.activate("one")).previous_version == "two"
    assert await registry.active_version() == "one"
    assert [e.version for e in await registry.list() if e.active] == ["one"]

    back = await registry.rollback()
    assert back.version == "two" and back.active
    assert await registry.active_version() == "two"
    with pytest.raises(RegistryError, match="replaced no other model"):
        await registry.rollback()
    # Activating the active model changes nothing (and keeps its rollback target).
    assert (await registry.activate("two")).previous_version is None


async def test_registry_errors_say_what_to_do(engine: AsyncEngine, clock: FakeClock) -> None:
    registry = ModelRegistry(engine, clock)
    with pytest.raises(RegistryError, match="nothing to roll back"):
        await registry.rollback()
    with pytest.raises(RegistryError, match="no model version ghost"):
        await registry.activate("ghost")
    with pytest.raises(RegistryError, match="no model version ghost"):
        await registry.load("ghost")
    await registry.add(_model("same"))
    await registry.add(_model("same"))  # the same model again: nothing new
    assert len(await registry.list()) == 1
    with pytest.raises(RegistryError, match="another model is registered as version same"):
        await registry.add(_model("same", ["A", "A", "B", "B", "C", "C"]))


async def test_a_registered_model_loads_as_it_was(
    engine: AsyncEngine, clock: FakeClock, regional: AgencyModel
) -> None:
    registry = ModelRegistry(engine, clock)
    await registry.add(regional, activate=True)
    loaded = await registry.load("region-1")
    texts = ["air pdam mati", "ketua rt minta uang surat pengantar"]
    places = [Place("Kota Lama", "Krajan")] * 2
    assert loaded.predict(texts, places=places) == regional.predict(texts, places=places)
    assert loaded.thresholds(0.95) == regional.thresholds(0.95)


async def test_the_holder_swaps_in_a_newly_activated_model(
    engine: AsyncEngine, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    metrics = Metrics(CollectorRegistry())
    registry = ModelRegistry(engine, clock)
    holder = ModelHolder(
        _model("starter-x"), registry=registry, clock=clock, poll_seconds=30, metrics=metrics
    )
    info = "muara_classifier_model_info"
    assert metrics.registry.get_sample_value(info, {"version": "starter-x", "source": ""}) == 1
    await holder.refresh()
    assert holder().version == "starter-x"

    await registry.add(_model("v2"), activate=True)
    clock.advance(10)
    await holder.refresh()
    assert holder().version == "starter-x", "not before poll_seconds"
    clock.advance(25)
    await holder.refresh()
    assert holder().version == "v2"
    assert "classifier model v2 activated (was starter-x)" in caplog.text
    assert metrics.registry.get_sample_value(info, {"version": "v2", "source": ""}) == 1
    # Suggestions made by the old model are still routed with the old model's thresholds.
    assert holder.thresholds_for("starter-x") is None
    assert holder.thresholds_for("unknown") is None

    await registry.add(_model("v3"), activate=True)
    clock.advance(30)
    await holder.refresh()
    assert holder().version == "v3"
    await registry.rollback()
    await holder.refresh()
    assert holder().version == "v3", "checked 0 s ago"
    clock.advance(30)
    await holder.refresh()
    assert holder().version == "v2", "a rollback is picked up like an activation"


async def test_a_failing_registry_keeps_the_model_and_is_logged_once(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'not-migrated.db'}")
    try:
        holder = ModelHolder(_model("kept"), registry=ModelRegistry(engine, clock), clock=clock)
        for _ in range(3):
            await holder.refresh()
            clock.advance(60)
        assert holder().version == "kept"
        assert caplog.text.count("cannot read the model registry (OperationalError)") == 1
        await migrate(engine)
        await holder.refresh()
        assert "model registry readable again" in caplog.text
    finally:
        await engine.dispose()


async def test_the_stage_classifies_with_the_location_and_follows_the_registry(
    store: Store, engine: AsyncEngine, clock: FakeClock, regional: AgencyModel
) -> None:
    metrics = Metrics(CollectorRegistry())
    registry = ModelRegistry(engine, clock)
    holder = ModelHolder(regional.with_gazetteer(gazetteer()), registry=registry, clock=clock)
    stage = ClassifyStage(store, holder, metrics, refresh=holder.refresh)
    worker = StageWorker(stage, store, WorkerSettings())
    rt = "ketua rt di kampung kami minta uang untuk surat pengantar, mohon lurah menegur"
    first = dataclasses.replace(complaint(1, text=rt), district="Kota Lama", subdistrict="Krajan")
    second = dataclasses.replace(complaint(2, text=rt), district=None, subdistrict=None)
    third = complaint(3, text="air pdam mati total sudah tiga hari")
    stored = await store.store_many([(first, None), (second, None), (third, None)])
    assert await worker.run_once() == 3
    found = await store.latest_suggestions([s.id for s in stored])
    agencies = [found[s.id]["agency"] for s in stored]
    assert agencies == ["Kelurahan Krajan", "__LOCAL_OFFICE__", "PDAM"]
    assert {found[s.id]["model_version"] for s in stored} == {"region-1"}
    suggested = "muara_classifier_suggestions_total"
    assert metrics.registry.get_sample_value(suggested, {"agency": "Kelurahan Krajan"}) == 1

    await registry.add(_model("v2"), activate=True)
    clock.advance(31)
    [fourth] = await store.store_many([(complaint(4, text="sampah menumpuk di pasar"), None)])
    assert await worker.run_once() == 1
    latest = (await store.latest_suggestions([fourth.id]))[fourth.id]
    assert latest["model_version"] == "v2"
    assert latest["agency"] == "DLH"
    status = await store.status()
    assert status.by_state() == {State.CLASSIFIED.value: 4}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder whose starter model is already trained (it is reused, not retrained)."""
    folder = tmp_path_factory.mktemp("data")
    ensure_starter_model(folder / "models")
    return folder


async def test_open_classifier_prefers_a_file_then_the_registry_then_the_starter(
    store_url: str, tmp_path: Path, clock: FakeClock, data_dir: Path
) -> None:
    engine = create_engine(store_url)
    try:
        settings = Settings(data_dir=data_dir, store={"url": store_url})
        holder = await open_classifier(settings, engine, clock=clock, metrics=None)
        assert holder().version.startswith("starter-")
        assert holder.registry is not None

        await ModelRegistry(engine, clock).add(_model("active"), activate=True)
        holder = await open_classifier(settings, engine, clock=clock, metrics=None)
        assert holder().version == "active"

        _model("file").save(tmp_path / "m.skops")
        fixed = settings.model_copy(
            update={
                "classifier": settings.classifier.model_copy(
                    update={"model_path": tmp_path / "m.skops"}
                )
            }
        )
        holder = await open_classifier(fixed, engine, clock=clock, metrics=None)
        assert holder().version == "file"
        assert holder.registry is None, "a configured file is not swapped"
    finally:
        await engine.dispose()


async def test_a_bad_gazetteer_stops_the_start_naming_the_setting(
    tmp_path: Path, clock: FakeClock
) -> None:
    _model("fixed").save(tmp_path / "m.skops")
    settings = Settings(
        data_dir=tmp_path,
        classifier={"gazetteer_path": tmp_path / "missing.csv", "model_path": tmp_path / "m.skops"},
    )
    engine = create_engine(settings.store_url)  # not used: a model file is configured
    try:
        with pytest.raises(ConfigError, match=r"classifier\.gazetteer_path: cannot read"):
            await open_classifier(settings, engine, clock=clock, metrics=None)
        write_gazetteer(tmp_path / "missing.csv")
        holder = await open_classifier(settings, engine, clock=clock, metrics=None)
        assert holder().gazetteer is not None
        assert "Kelurahan Krajan" in holder().known_offices()
    finally:
        await engine.dispose()
