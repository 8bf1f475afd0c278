"""The spool-folder collector: files in, complaints stored, and only then the file moved."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import io
import logging
import os
import threading
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from muara.domain import NewComplaint, RawInput
from muara.ingest import spool
from muara.ingest.base import Collector, PollReport, Stored
from muara.ingest.csv_rows import (
    EMPTY_FILE,
    INVALID_ENCODING,
    MALFORMED_ROW,
    MISSING_COLUMNS,
    NOT_CSV,
)
from muara.ingest.settings import SpoolSource
from muara.ingest.spool import FILE_TOO_LARGE, RAW_HEAD_BYTES, SpoolCollector
from muara.ingest.testing import MemorySink, SimulatedCrashError
from muara.store.repository import Store
from muara.testing import FakeClock
from tests.test_ingest_csv_rows import HEADER, PERSONAL, csv_bytes, row

# -- a guard against blocking file-system calls on the event loop (aiohttp's autouse check) -------

_loop_thread: int | None = None
_BLOCKING = (
    "stat",
    "lstat",
    "scandir",
    "listdir",
    "open",
    "link",
    "rename",
    "replace",
    "unlink",
    "mkdir",
    "fstat",
)


def _guarded(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        if _loop_thread is not None and threading.get_ident() == _loop_thread:
            raise AssertionError(f"blocking call os.{name} on the event loop during a poll")
        return original(*args, **kwargs)

    return call


@pytest.fixture(autouse=True)
def no_blocking_io_in_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """While a poll runs, any file-system call on the event loop's thread fails the test."""
    for name in _BLOCKING:
        monkeypatch.setattr(os, name, _guarded(name, getattr(os, name)))
    monkeypatch.setattr(io, "open", _guarded("open", io.open))


@contextlib.contextmanager
def loop_guard() -> Iterator[None]:
    """Arm the guard for the current (the event loop's) thread."""
    global _loop_thread
    _loop_thread = threading.get_ident()
    try:
        yield
    finally:
        _loop_thread = None


async def poll(collector: SpoolCollector, sink: MemorySink) -> PollReport:
    """`collector.poll(sink)` with the blocking-call guard armed."""
    with loop_guard():
        return await collector.poll(sink)


async def test_the_guard_catches_blocking_calls(tmp_path: Path) -> None:
    with loop_guard(), pytest.raises(AssertionError, match=r"blocking call os\.stat"):
        tmp_path.exists()  # noqa: ASYNC240 - the very call the guard is there to catch
    with loop_guard():
        assert await asyncio.to_thread(tmp_path.exists)


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "spool"


def make_source(root: Path, **overrides: Any) -> SpoolSource:
    values: dict[str, Any] = {"name": "cc", "path": root, "stable_seconds": 0}
    values.update(overrides)
    return SpoolSource.model_validate(values)


@pytest.fixture
def collector(root: Path, clock: FakeClock) -> SpoolCollector:
    return SpoolCollector(make_source(root), clock=clock)


def drop(root: Path, name: str, data: bytes, *, mtime: float | None = None) -> Path:
    """Put a file into the inbox the way a call-center system would."""
    inbox = root / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    path = inbox / name
    path.write_bytes(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def listing(root: Path, folder: str) -> list[str]:
    return sorted(p.name for p in (root / folder).iterdir())


GOOD = csv_bytes(row(1), row(2, started_at="23/11/2026 09:30"), row(3))


# -- the happy path and idempotency ---------------------------------------------------------------


def test_it_is_a_collector(collector: SpoolCollector) -> None:
    as_protocol: Collector = collector
    assert (as_protocol.name, as_protocol.channel, as_protocol.poll_seconds) == (
        "cc",
        "callcenter",
        5.0,
    )


async def test_a_good_file_is_stored_then_moved_to_done(
    root: Path, collector: SpoolCollector
) -> None:
    drop(root, "calls.csv", GOOD)
    (root / "inbox" / "calls.csv.done").touch()
    sink = MemorySink()
    report = await poll(collector, sink)
    assert report == PollReport(ingested=3)
    assert [c.source_id for c in sink.complaints] == ["CC-0001", "CC-0002", "CC-0003"]
    assert sink.complaints[1].received_at == datetime(2026, 11, 23, 2, 30, tzinfo=UTC)
    assert listing(root, "inbox") == []  # the marker went with the file
    assert listing(root, "done") == ["calls.csv"]
    assert (root / "done" / "calls.csv").read_bytes() == GOOD
    assert listing(root, "quarantine") == []


async def test_polling_an_empty_spool_creates_its_folders(
    root: Path, collector: SpoolCollector
) -> None:
    assert await poll(collector, MemorySink()) == PollReport()
    assert listing(root, ".") == ["done", "inbox", "quarantine"]


async def test_redropping_a_file_adds_nothing_and_never_overwrites_done(
    root: Path, collector: SpoolCollector
) -> None:
    data = csv_bytes(row(1), row(2), row(3, started_at="kemarin"))
    sink = MemorySink()
    drop(root, "calls.csv", data)
    assert await poll(collector, sink) == PollReport(ingested=2, quarantined=1)
    drop(root, "calls.csv", data)
    assert await poll(collector, sink) == PollReport(already_known=3)
    assert (len(sink.complaints), len(sink.quarantined)) == (2, 1)
    assert listing(root, "done") == ["calls.1.csv", "calls.csv"]


async def test_files_are_read_oldest_first(root: Path, collector: SpoolCollector) -> None:
    drop(root, "b.csv", csv_bytes(row(2)), mtime=1_700_000_100)
    drop(root, "a.csv", csv_bytes(row(1)), mtime=1_700_000_200)
    sink = MemorySink()
    await poll(collector, sink)
    assert [c.source_id for c in sink.complaints] == ["CC-0002", "CC-0001"]


async def test_hidden_partial_and_other_files_are_left_alone(
    root: Path, collector: SpoolCollector
) -> None:
    for name in (".calls.csv", "calls.csv.part", "calls.csv.tmp", "~$calls.csv", "notes.txt"):
        drop(root, name, GOOD)
    (root / "inbox" / "folder.csv").mkdir()
    drop(root, "CALLS.CSV", GOOD)
    sink = MemorySink()
    assert await poll(collector, sink) == PollReport(ingested=3)
    assert listing(root, "done") == ["CALLS.CSV"]
    assert len(listing(root, "inbox")) == 6


# -- crashes --------------------------------------------------------------------------------------


@pytest.mark.parametrize("fail_on_call", [1, 2, 3, 4])
async def test_a_crash_mid_file_leaves_it_in_the_inbox_and_loses_nothing(
    root: Path, clock: FakeClock, fail_on_call: int
) -> None:
    # Five good rows in chunks of two (calls 1-3), then one bad row (call 4).
    data = csv_bytes(*(row(n) for n in range(1, 6)), row(6, call_id=""))
    collector = SpoolCollector(make_source(root), clock=clock, chunk_rows=2)
    sink = MemorySink(fail_on_call=fail_on_call)
    drop(root, "calls.csv", data)
    with pytest.raises(SimulatedCrashError):
        await poll(collector, sink)
    assert listing(root, "inbox") == ["calls.csv"]
    assert listing(root, "done") == []
    report = await poll(collector, sink)
    assert report.ingested + report.already_known + report.quarantined == 5 + 1
    assert [c.source_id for c in sink.complaints] == [f"CC-{n:04d}" for n in range(1, 6)]
    assert len(sink.quarantined) == 1
    assert listing(root, "done") == ["calls.csv"]


async def test_small_files_share_a_transaction_and_move_only_after_it(
    root: Path, collector: SpoolCollector
) -> None:
    drop(root, "a.csv", csv_bytes(row(1)), mtime=1_700_000_000)
    drop(root, "b.csv", csv_bytes(row(2), row(3)), mtime=1_700_000_100)
    sink = MemorySink(fail_on_call=1)
    with pytest.raises(SimulatedCrashError):
        await poll(collector, sink)
    assert listing(root, "inbox") == ["a.csv", "b.csv"]
    assert await poll(collector, sink) == PollReport(ingested=3)
    assert sink.calls == 2  # both files' rows in one store_many
    assert listing(root, "done") == ["a.csv", "b.csv"]


class AppendingSink(MemorySink):
    """A sink during whose first batch the call-center system appends one more row."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path

    async def store_many(
        self, items: Sequence[tuple[NewComplaint, RawInput | None]]
    ) -> list[Stored]:
        if self.calls == 0:
            await asyncio.to_thread(self._append)
        return await super().store_many(items)

    def _append(self) -> None:
        with self.path.open("ab") as f:
            f.write(row(9).encode() + b"\r\n")


async def test_a_file_that_grows_while_it_is_read_stays_for_the_next_poll(
    root: Path, collector: SpoolCollector
) -> None:
    path = drop(root, "calls.csv", GOOD)
    sink = AppendingSink(path)
    report = await poll(collector, sink)
    assert report == PollReport(ingested=3)
    assert listing(root, "inbox") == ["calls.csv"]
    report = await poll(collector, sink)
    assert report == PollReport(ingested=1, already_known=3)
    assert listing(root, "done") == ["calls.csv"]


# -- bad files and bad rows -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "error_class", "reason"),
    [
        (b"", EMPTY_FILE, "calls.csv: the file is empty"),
        (os.urandom(4096) + b"\x00\x00", NOT_CSV, "calls.csv: the file is not CSV text"),
        (
            csv_bytes(row(1), header="id,waktu,nama,summary"),
            MISSING_COLUMNS,
            "calls.csv: the header lacks the column(s) 'call_id', 'started_at'; "
            "found columns: 'id', 'waktu', 'nama', 'summary'",
        ),
        (
            csv_bytes(row(2), header=row(1)),
            MISSING_COLUMNS,
            "calls.csv: the header lacks the column(s) 'call_id', 'started_at', 'summary'; "
            "none of the 8 field(s) on the first line is an expected column",
        ),
    ],
)
async def test_a_bad_file_is_quarantined_whole_and_moved_aside(
    root: Path,
    collector: SpoolCollector,
    caplog: pytest.LogCaptureFixture,
    data: bytes,
    error_class: str,
    reason: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    drop(root, "calls.csv", data)
    drop(root, "later.csv", GOOD, mtime=4_000_000_000)
    sink = MemorySink()
    report = await poll(collector, sink)
    assert report == PollReport(ingested=3, quarantined=1)  # the next file is still read
    (record,) = sink.quarantined
    assert record.error_class == error_class
    assert reason in record.reason
    assert record.raw.content == data[:RAW_HEAD_BYTES]
    assert record.raw.channel == "callcenter"
    assert listing(root, "quarantine") == ["calls.csv"]
    assert (root / "quarantine" / "calls.csv").read_bytes() == data
    assert listing(root, "done") == ["later.csv"]
    assert_no_personal_data(record.reason, caplog)
    # The same file again is the same quarantine record.
    drop(root, "calls.csv", data)
    assert await poll(collector, sink) == PollReport(already_known=1)
    assert listing(root, "quarantine") == ["calls.1.csv", "calls.csv"]


async def test_bad_rows_are_quarantined_and_the_good_ones_of_the_file_kept(
    root: Path, collector: SpoolCollector, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    data = csv_bytes(
        row(1),
        row(2, summary="warung caf\xe9 buang sampah").encode("cp1252"),
        row(3) + ",Siti Rahayu",
        row(4, started_at="23/11/2026 10:05"),
    )
    drop(root, "calls.csv", data)
    sink = MemorySink()
    assert await poll(collector, sink) == PollReport(ingested=2, quarantined=2)
    assert [c.source_id for c in sink.complaints] == ["CC-0001", "CC-0004"]
    encoding, fields = sink.quarantined
    assert (encoding.error_class, encoding.reason) == (
        INVALID_ENCODING,
        "calls.csv: row 3: column 'summary' is not valid UTF-8",
    )
    assert b"caf\xe9" in encoding.raw.content
    assert (fields.error_class, fields.reason) == (
        MALFORMED_ROW,
        "calls.csv: row 4: has 9 fields, the header has 8",
    )
    assert listing(root, "done") == ["calls.csv"]
    assert_no_personal_data(" ".join(q.reason for q in sink.quarantined), caplog)
    (line,) = [r.getMessage() for r in caplog.records if r.name == spool.__name__]
    assert line == (
        "spool cc: 'calls.csv': 2 stored, 0 already known, 2 quarantined; moved to done/calls.csv"
    )


def assert_no_personal_data(reasons: str, caplog: pytest.LogCaptureFixture) -> None:
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert logged  # something was logged
    for value in PERSONAL:
        assert value not in reasons
        assert value not in logged


# -- size limit -----------------------------------------------------------------------------------


async def test_a_file_over_the_limit_is_quarantined_unread(root: Path, clock: FakeClock) -> None:
    collector = SpoolCollector(make_source(root, max_file_bytes=100), clock=clock)
    data = csv_bytes(*(row(n) for n in range(1, 4)))
    drop(root, "big.csv", data)
    sink = MemorySink()
    assert await poll(collector, sink) == PollReport(quarantined=1)
    (record,) = sink.quarantined
    assert record.error_class == FILE_TOO_LARGE
    assert record.reason == (
        f"big.csv: the file is {len(data)} bytes, over the limit of 100 bytes; it was moved to "
        "quarantine/ unread: raise max_file_bytes of spool source 'cc' and move it back to inbox/"
    )
    assert record.raw.content == data
    assert (root / "quarantine" / "big.csv").read_bytes() == data
    assert sink.complaints == []


async def test_a_50_mb_file_is_not_read_into_memory(root: Path, clock: FakeClock) -> None:
    collector = SpoolCollector(make_source(root), clock=clock)  # default limit: 20 MiB
    (root / "inbox").mkdir(parents=True)
    size = 50 * 1024 * 1024
    with (root / "inbox" / "huge.csv").open("wb") as f:
        f.write(HEADER.encode() + b"\r\n")
        f.truncate(size)  # sparse: written in no time
    sink = MemorySink()
    tracemalloc.start()
    try:
        report = await poll(collector, sink)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report == PollReport(quarantined=1)
    assert peak < 2 * 1024 * 1024
    (record,) = sink.quarantined
    assert len(record.raw.content) == RAW_HEAD_BYTES
    assert f"the file is {size} bytes, over the limit of {20 * 1024 * 1024} bytes" in record.reason
    assert (root / "quarantine" / "huge.csv").stat().st_size == size


# -- partial uploads ------------------------------------------------------------------------------


async def test_a_file_is_read_only_once_its_size_holds_still(root: Path, clock: FakeClock) -> None:
    collector = SpoolCollector(make_source(root, stable_seconds=2), clock=clock)
    sink = MemorySink()
    path = drop(root, "calls.csv", csv_bytes(row(1)))
    assert await poll(collector, sink) == PollReport()  # first seen
    clock.advance(5)
    with path.open("ab") as f:
        f.write(row(2).encode() + b"\r\n")  # still being written
    assert await poll(collector, sink) == PollReport()
    clock.advance(1)
    assert await poll(collector, sink) == PollReport()  # held still for 1 s of 2
    clock.advance(1)
    assert await poll(collector, sink) == PollReport(ingested=2)
    assert listing(root, "done") == ["calls.csv"]


async def test_a_done_marker_means_read_now(root: Path, clock: FakeClock) -> None:
    collector = SpoolCollector(make_source(root, stable_seconds=60), clock=clock)
    drop(root, "calls.csv", GOOD)
    drop(root, "calls.csv.done", b"")
    sink = MemorySink()
    assert await poll(collector, sink) == PollReport(ingested=3)
    assert listing(root, "inbox") == []


# -- odds and ends --------------------------------------------------------------------------------


async def test_an_unreadable_file_is_reported_once_and_skipped(
    root: Path,
    collector: SpoolCollector,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_read = spool._read

    def read(path: Path, limit: int) -> Any:
        if path.name == "locked.csv":
            raise PermissionError(13, "Permission denied")
        return real_read(path, limit)

    monkeypatch.setattr(spool, "_read", read)
    drop(root, "locked.csv", GOOD, mtime=1_700_000_000)
    drop(root, "calls.csv", csv_bytes(row(7)), mtime=1_700_000_100)
    sink = MemorySink()
    assert await poll(collector, sink) == PollReport(ingested=1)
    assert await poll(collector, sink) == PollReport()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["spool cc: 'locked.csv' cannot be read: Permission denied"]
    assert listing(root, "inbox") == ["locked.csv"]


async def test_without_hard_links_the_move_still_never_overwrites(
    root: Path, collector: SpoolCollector, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(src: object, dst: object) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")  # as on many SMB shares

    monkeypatch.setattr(os, "link", no_links)
    (root / "done").mkdir(parents=True)
    (root / "done" / "calls.csv").write_bytes(b"an earlier export")
    drop(root, "calls.csv", GOOD)
    assert await poll(collector, MemorySink()) == PollReport(ingested=3)
    assert listing(root, "done") == ["calls.1.csv", "calls.csv"]
    assert (root / "done" / "calls.csv").read_bytes() == b"an earlier export"


def test_an_unknown_time_zone_fails_at_start(root: Path) -> None:
    with pytest.raises(ValueError, match="spool source 'cc': timezone: unknown time zone"):
        SpoolCollector(make_source(root, timezone="Asia/Atlantis"))


async def test_large_files_go_to_the_sink_in_chunks(root: Path, collector: SpoolCollector) -> None:
    drop(root, "calls.csv", csv_bytes(*(row(n) for n in range(1, 1201))))
    sink = MemorySink()
    assert await poll(collector, sink) == PollReport(ingested=1200)
    assert sink.calls == 3


# -- against the real store -----------------------------------------------------------------------


class CrashingStore:
    """The real store, failing its n-th call the way a lost connection would."""

    def __init__(self, store: Store, fail_on_call: int) -> None:
        self.inner = store
        self.calls = 0
        self.fail_on_call = fail_on_call

    def _call(self) -> None:
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise SimulatedCrashError("connection lost")

    async def store_many(
        self, items: Sequence[tuple[NewComplaint, RawInput | None]]
    ) -> list[Stored]:
        self._call()
        return await self.inner.store_many(items)

    async def quarantine(self, raw: RawInput, error_class: str, reason: str) -> Stored:
        self._call()
        return await self.inner.quarantine(raw, error_class, reason)

    async def store(self, complaint: NewComplaint, raw: RawInput | None) -> Stored:
        return (await self.store_many([(complaint, raw)]))[0]


async def test_with_the_real_store_a_crash_and_a_redrop_store_each_row_once(
    root: Path, clock: FakeClock, store: Store
) -> None:
    collector = SpoolCollector(make_source(root), clock=clock, chunk_rows=2)
    data = csv_bytes(
        *(row(n) for n in range(1, 6)),
        row(6, summary="warung caf\xe9").encode("cp1252"),
        row(9).replace("Siti", "Si\x00ti"),  # PostgreSQL text refuses NUL: must not reach it
    )
    drop(root, "calls.csv", data)
    # No blocking-call guard here: the store's drivers are not this module's to judge.
    with pytest.raises(SimulatedCrashError):
        await collector.poll(CrashingStore(store, fail_on_call=3))
    assert listing(root, "inbox") == ["calls.csv"]
    report = await collector.poll(store)
    assert report == PollReport(ingested=1, already_known=4, quarantined=2)
    drop(root, "calls.csv", data)
    assert await collector.poll(store) == PollReport(already_known=7)
    status = await store.status()
    assert status.by_state() == {"NEW": 5}
    assert status.quarantined == {"callcenter": 2}
    assert listing(root, "done") == ["calls.1.csv", "calls.csv"]
