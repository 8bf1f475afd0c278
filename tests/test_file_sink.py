"""The CSV / JSON Lines sink: LAPOR!'s layout, through the outbox, each complaint written once."""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from muara.config import WorkerSettings
from muara.domain import Reporter, State
from muara.exporters.file_sink import FIELDS, TARGET, FileSinkStage, render, write_whole
from muara.exporters.metrics import Metrics
from muara.exporters.settings import LaporSettings
from muara.store.outbox import Outbox
from muara.store.repository import Store
from muara.testing import FakeClock
from muara.worker import StageWorker
from tests.lapor_helpers import INSTITUTIONS, seed_routed


def stage_for(store: Store, folder: Path, fmt: str = "csv") -> FileSinkStage:
    settings = LaporSettings(sink="file", file_format=fmt, institutions=INSTITUTIONS)
    return FileSinkStage(store, settings, folder, Metrics(CollectorRegistry()))


async def drain(stage: FileSinkStage, store: Store) -> None:
    worker = StageWorker(stage, store, WorkerSettings(batch_size=50))
    while await worker.run_once():
        pass


def rows_file(folder: Path) -> str:
    [path] = folder.glob("lapor-*.csv")
    return path.name


def rows_in(folder: Path) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for path in sorted(folder.glob("lapor-*.csv")):
        with path.open(encoding="utf-8", newline="") as handle:
            rows.extend(csv.DictReader(handle))
    return rows


async def test_csv_in_lapor_layout(store: Store, clock: FakeClock, tmp_path: Path) -> None:
    secret = Reporter(name="Siti", contact="0812-5555-0101", is_anonymous=True, is_secret=True)
    ids = await seed_routed(store, 3, agency="PDAM", reporter=secret)
    stage = stage_for(store, tmp_path)

    await drain(stage, store)

    rows = rows_in(tmp_path)
    assert [row["tags_raw"] for row in rows] == [f"#muara #MUARA-{i}" for i in ids]
    assert list(rows[0]) == list(FIELDS)
    assert {row["disposition_id"] for row in rows} == {str(INSTITUTIONS["PDAM"])}
    assert {(row["is_anonymous"], row["is_secret"]) for row in rows} == {("1", "1")}
    assert "Siti" not in (tmp_path / rows_file(tmp_path)).read_text(encoding="utf-8")
    assert all(f"MUARA-{i}" in row["content"] for i, row in zip(ids, rows, strict=True))
    outbox = await Outbox(store.engine, TARGET, clock=clock).rows(ids)
    assert {row.state.value for row in outbox.values()} == {"accepted"}
    assert not [p.name for p in await asyncio.to_thread(lambda: list(tmp_path.glob(".*partial")))]
    await drain(stage, store)
    assert len(rows_in(tmp_path)) == 3, "nothing written twice"


async def test_jsonl(store: Store, clock: FakeClock, tmp_path: Path) -> None:
    [complaint_id] = await seed_routed(store, 1, extra={"classification": "aspiration"})
    await drain(stage_for(store, tmp_path, "jsonl"), store)

    [text] = await asyncio.to_thread(
        lambda: [p.read_text(encoding="utf-8") for p in tmp_path.glob("lapor-*.jsonl")]
    )
    [line] = text.splitlines()
    entry = json.loads(line)
    assert list(entry) == list(FIELDS)
    assert entry["classification_id"] == 1
    assert entry["tags_raw"].endswith(f"#MUARA-{complaint_id}")


async def test_a_crash_after_writing_does_not_write_again(
    store: Store, clock: FakeClock, tmp_path: Path
) -> None:
    ids = await seed_routed(store, 2)
    stage = stage_for(store, tmp_path)
    # The last run died after its file appeared but before the commit.
    await stage.outbox.mark_sending({}, ids[:1])
    from muara.exporters.filing import filing_input
    from muara.exporters.lapor.payload import build_filing_body

    claimed = await store.claim(State.ROUTED, owner="dead", limit=1, lease_seconds=60)
    body = build_filing_body(filing_input(claimed[0], INSTITUTIONS["DLH"]), stage.settings)
    write_whole(tmp_path, "lapor-crashed.csv", render([body], "csv"))
    await store.release("dead", ids[:1])

    await drain(stage, store)

    tags = [row["tags_raw"] for row in rows_in(tmp_path)]
    assert sorted(tags) == sorted(f"#muara #MUARA-{i}" for i in ids)
    outbox = await stage.outbox.rows(ids)
    assert outbox[ids[0]].external_id == "lapor-crashed.csv"


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_render_escapes_what_the_text_holds(fmt: str) -> None:
    body = {"title": 'a, "b"', "content": "line one\nline two", "tags_raw": "#MUARA-1"}
    text = render([body], fmt)
    if fmt == "csv":
        [row] = list(csv.DictReader(text.splitlines(keepends=True)))
        assert (row["title"], row["content"]) == (
            'a, "b"',
            "line one\r\nline two".replace("\r", ""),
        )
    else:
        assert json.loads(text)["content"] == "line one\nline two"
