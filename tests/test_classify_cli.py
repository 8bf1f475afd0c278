"""`muara train`, `muara evaluate` and `muara model`, run as an operator would."""

from __future__ import annotations

import asyncio
import builtins
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from muara.classify.location import Place
from muara.classify.model import AgencyModel
from muara.classify.plots import PlotUnavailableError
from muara.classify.registry import ModelRegistry
from muara.cli import main
from muara.domain import DecisionMode, State
from muara.store.engine import create_engine
from muara.store.repository import Store
from muara.store.tables import decisions
from muara.testing import FakeClock
from tests.classify_helpers import region_rows, write_gazetteer, write_history
from tests.factories import complaint

STREET_LIGHTS = [
    "lampu pju di gang kami mati sudah dua minggu",
    "penerangan jalan umum depan masjid padam terus",
    "lampu jalan di perempatan kampung mati, gelap",
    "pju dekat pos ronda tidak menyala sejak lebaran",
]


def _config(tmp_path: Path, store_url: str) -> Path:
    path = tmp_path / "muara.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n[store]\nurl = "{store_url}"\n')
    return path


@pytest.fixture
def history(tmp_path: Path) -> Path:
    return write_history(tmp_path / "history.csv", region_rows())


async def _coordinators_route_street_lights_to_dishub(store_url: str) -> None:
    """Complaints a coordinator routed by hand, as the review desk records them."""
    engine = create_engine(store_url)
    try:
        clock = FakeClock()
        store = Store(engine, clock=clock)
        items = [(complaint(n, text=text), None) for n, text in enumerate(STREET_LIGHTS)]
        stored = await store.store_many(items)
        async with engine.begin() as conn:
            for n, result in enumerate(stored):
                # The first one was decided twice: the later decision is the one that counts.
                for agency in ["DPUBM", "DISHUB"] if n == 0 else ["DISHUB"]:
                    clock.advance(1)
                    await conn.execute(
                        insert(decisions).values(
                            complaint_id=result.id,
                            target_state=State.ROUTED.value,
                            agency=agency,
                            mode=DecisionMode.COORDINATOR.value,
                            decided_by="coordinator:sri",
                            reason="dialihkan",
                            created_at=clock(),
                        )
                    )
            # A model's decision is not a coordinator's: never learned from.
            await conn.execute(
                insert(decisions).values(
                    complaint_id=stored[1].id,
                    target_state=State.ROUTED.value,
                    agency="DLH",
                    mode=DecisionMode.AUTO.value,
                    decided_by="auto",
                    reason="x",
                    created_at=clock(),
                )
            )
    finally:
        await engine.dispose()


async def _registry(store_url: str) -> tuple[str | None, list[str]]:
    engine = create_engine(store_url)
    try:
        registry = ModelRegistry(engine)
        return await registry.active_version(), [e.version for e in await registry.list()]
    finally:
        await engine.dispose()


async def _active_model(store_url: str) -> AgencyModel:
    engine = create_engine(store_url)
    try:
        registry = ModelRegistry(engine)
        version = await registry.active_version()
        assert version is not None
        return await registry.load(version)
    finally:
        await engine.dispose()


def test_train_registers_learns_from_coordinators_and_rolls_back(
    tmp_path: Path, store_url: str, history: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, store_url)
    base = ["--config", str(config), "train", "--csv", str(history), "--preset", "muara"]
    assert main([*base, "--activate"]) == 0
    out = capsys.readouterr()
    assert "registered and activated" in out.out
    assert "held-out (time-ordered, 3 folds)" in out.out
    assert "held-out fold 1/3" in out.err, "progress on stderr"
    first, _ = asyncio.run(_registry(store_url))
    assert first is not None
    before = asyncio.run(_active_model(store_url))
    assert [s.agency for s in before.predict(STREET_LIGHTS)].count("DISHUB") < 2

    asyncio.run(_coordinators_route_street_lights_to_dishub(store_url))
    assert main([*base, "--from-store"]) == 0
    out = capsys.readouterr()
    assert "4 coordinator decisions in the store" in out.err
    assert "4 coordinator decisions added (weighted)" in out.out
    assert f"compared with the model in use, {first}:" in out.out
    agreement = re.search(r"agrees with: (\d)/4 -> (\d)/4", out.out)
    assert agreement is not None
    assert int(agreement.group(2)) > int(agreement.group(1))
    second = re.search(r"registered (\S+); activate it: muara model activate \1", out.out)
    assert second is not None
    active, versions = asyncio.run(_registry(store_url))
    assert active == first, "registered, not activated"
    assert set(versions) == {first, second.group(1)}

    assert main(["--config", str(config), "model", "activate", second.group(1)]) == 0
    assert f"active model: {second.group(1)} (was {first})" in capsys.readouterr().out
    after = asyncio.run(_active_model(store_url))
    assert [s.agency for s in after.predict(STREET_LIGHTS)] == ["DISHUB"] * 4
    assert main(["--config", str(config), "model", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].startswith(f"* {second.group(1)}")
    assert listed[1].startswith(f"  {first}")
    assert "held-out accuracy" in listed[0]

    assert main(["--config", str(config), "model", "rollback"]) == 0
    assert f"active model: {first}" in capsys.readouterr().out
    assert main(["--config", str(config), "model", "rollback"]) == 1
    assert "nothing to roll back to" in capsys.readouterr().err
    assert main(["--config", str(config), "model", "activate", "ghost"]) == 1
    assert "no model version ghost" in capsys.readouterr().err


def test_train_from_the_store_alone_needs_enough_decisions(
    tmp_path: Path, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, store_url)
    asyncio.run(_coordinators_route_street_lights_to_dishub(store_url))
    assert main(["--config", str(config), "train", "--from-store"]) == 1
    assert "a model needs at least 2" in capsys.readouterr().err
    assert main(["--config", str(config), "train"]) == 1
    assert "give --csv FILE, --from-store, or both" in capsys.readouterr().err


def test_train_to_a_file_touches_no_store(
    tmp_path: Path,
    history: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # the embedded default store would be ./muara-data/
    out = tmp_path / "model.skops"
    args = ["train", "--csv", str(history), "--preset", "muara", "--out", str(out)]
    assert main(args) == 0
    assert f'[classifier] model_path = "{out}"' in capsys.readouterr().out
    model = AgencyModel.load(out)
    assert model.predict(["air pdam mati"])[0].agency == "PDAM"
    assert not (tmp_path / "muara-data").exists()
    # The places of the history file reached the model: it knows the region's offices.
    rt = "ketua rt di kampung kami minta uang untuk surat pengantar, mohon lurah menegur"
    [found] = model.predict([rt], places=[Place("Sumber Sari", "Krajan")])
    assert found.agency == "Kelurahan Krajan"


def _json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def test_evaluate_on_a_time_split_writes_json_and_a_figure(
    tmp_path: Path, history: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gazetteer = write_gazetteer(tmp_path / "region.csv")
    report, figure = tmp_path / "out" / "report.json", tmp_path / "out" / "report.png"
    args = ["evaluate", "--csv", str(history), "--split", "time", "--test-fraction", "0.3"]
    extra = ["--gazetteer", str(gazetteer), "--json", str(report), "--png", str(figure)]
    assert main([*args, *extra]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"accuracy +0\.\d{3} +0\.\d{3}", printed), "beside the baseline"
    assert "local offices" in printed and "auto-routable at 95% precision" in printed
    data = _json(report)
    for figures in (data, data["baseline"]):
        for key in ("accuracy", "macro_f1", "top3_accuracy", "local_office_accuracy"):
            assert 0 <= figures[key] <= 1
        assert set(figures["coverage_at_precision"]) == {"0.9", "0.95", "0.98"}
    assert data["n_test"] == round(len(region_rows()) * 0.3)
    assert data["split"].startswith("time: train")
    assert data["local_office_accuracy"] > data["baseline"]["local_office_accuracy"]
    assert "DPUBM" in data["per_agency"]
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_with_a_train_and_a_test_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = region_rows()
    train = write_history(tmp_path / "train.csv", rows[: len(rows) * 3 // 4])
    test = write_history(tmp_path / "test.csv", rows[len(rows) * 3 // 4 :])
    report = tmp_path / "r.json"
    assert (
        main(["evaluate", "--train", str(train), "--test", str(test), "--json", str(report)]) == 0
    )
    assert _json(report)["split"] == "files: train train.csv (1,080), test test.csv (360)"
    assert main(["evaluate", "--train", str(train)]) == 1
    assert "either --csv" in capsys.readouterr().err


def test_evaluate_says_how_to_get_the_figure_without_matplotlib(
    tmp_path: Path,
    history: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_import = builtins.__import__

    def no_matplotlib(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "matplotlib", raising=False)
    monkeypatch.delitem(sys.modules, "matplotlib.pyplot", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    args = ["evaluate", "--csv", str(history), "--png", str(tmp_path / "x.png")]
    assert main(args) == 1
    assert "pip install 'muara[report]'" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()
    assert issubclass(PlotUnavailableError, RuntimeError)


def test_a_time_split_needs_dates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "undated.csv"
    path.write_text("text,agency\nair mati,PDAM\njalan rusak,DPUBM\n", encoding="utf-8")
    assert main(["evaluate", "--csv", str(path)]) == 1
    assert "needs a date on every row" in capsys.readouterr().err
