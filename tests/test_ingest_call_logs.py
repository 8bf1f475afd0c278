"""Call-center JSON Lines and preset layouts through the spool collector, on the real store."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from muara.ingest.base import PollReport
from muara.ingest.call_logs import CallLogParser
from muara.ingest.rows import INVALID_DATE, MALFORMED_ROW
from muara.ingest.settings import SpoolSource
from muara.ingest.spool import SpoolCollector
from muara.ingest.testing import MemorySink, SimulatedCrashError
from muara.store.repository import Store
from muara.testing import FakeClock
from tests.test_ingest_jsonl_rows import PERSONAL, jsonl, record
from tests.test_ingest_spool import CrashingStore, drop, listing


def make_source(root: Path, **overrides: object) -> SpoolSource:
    values: dict[str, object] = {"name": "cc", "path": root, "stable_seconds": 60}
    values.update(overrides)
    return SpoolSource.model_validate(values)


async def test_a_json_lines_file_waits_for_its_marker_then_is_stored_and_moved(
    tmp_path: Path, clock: FakeClock
) -> None:
    collector = SpoolCollector(make_source(tmp_path), clock=clock)
    drop(tmp_path, "calls.jsonl", jsonl(record(1), record(2)))
    sink = MemorySink()
    assert await collector.poll(sink) == PollReport()  # still being uploaded, for all we know
    drop(tmp_path, "calls.jsonl.done", b"")
    assert await collector.poll(sink) == PollReport(ingested=2)
    assert listing(tmp_path, "done") == ["calls.jsonl"]
    assert listing(tmp_path, "inbox") == []


async def test_bad_lines_are_quarantined_with_file_and_row_while_good_lines_are_kept(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    collector = SpoolCollector(make_source(tmp_path, stable_seconds=0), clock=clock)
    data = jsonl(record(1), b"{not json", record(3, started_at="besok pagi"), record(4))
    drop(tmp_path, "calls.ndjson", data)
    sink = MemorySink()
    assert await collector.poll(sink) == PollReport(ingested=2, quarantined=2)
    assert [c.source_id for c in sink.complaints] == ["CC-0001", "CC-0004"]
    assert [(q.error_class, q.reason.split(":")[0:2]) for q in sink.quarantined] == [
        (MALFORMED_ROW, ["calls.ndjson", " row 2"]),
        (INVALID_DATE, ["calls.ndjson", " row 3"]),
    ]
    logged = " ".join(r.getMessage() for r in caplog.records)
    for value in PERSONAL:
        assert value not in logged
        assert all(value not in q.reason for q in sink.quarantined)


async def test_crash_between_read_and_commit_then_restart_and_redrop_store_each_line_once(
    tmp_path: Path, clock: FakeClock, store: Store
) -> None:
    source = make_source(tmp_path, stable_seconds=0)
    data = jsonl(*(record(n) for n in range(1, 6)), b"[]")
    drop(tmp_path, "calls.jsonl", data)
    with pytest.raises(SimulatedCrashError):
        await SpoolCollector(source, clock=clock, chunk_rows=2).poll(CrashingStore(store, 2))
    assert listing(tmp_path, "inbox") == ["calls.jsonl"]
    restarted = SpoolCollector(source, clock=clock, chunk_rows=2)
    assert await restarted.poll(store) == PollReport(ingested=3, already_known=2, quarantined=1)
    drop(tmp_path, "calls.jsonl", data)
    assert await restarted.poll(store) == PollReport(already_known=6)
    status = await store.status()
    assert status.by_state() == {"NEW": 5}
    assert status.quarantined == {"callcenter": 1}


def test_the_bundled_samples_parse_cleanly_with_their_presets() -> None:
    folder = resources.files("muara.demo")
    cases = [
        ("callcenter-indonesian.csv", "indonesian"),
        ("callcenter-helpdesk.jsonl", "helpdesk"),
    ]
    for name, preset in cases:
        source = make_source(Path("/nonexistent"), preset=preset)
        data = folder.joinpath(name).read_bytes()
        parsed = CallLogParser(source).parse(data, file_name=name, file_digest="0" * 64)
        assert parsed.file_error is None, parsed.file_error
        assert len(parsed.rows) >= 10
        # The samples also show the bad-row cases an operator meets.
        assert parsed.bad, name
        assert {c.extra.get("agent") is not None for c, _ in parsed.rows} == {True}
        json.dumps([c.extra for c, _ in parsed.rows])  # extras stay JSON for the store
