"""The daemon in-process: a CSV dropped in the spool goes all the way into LAPOR! (simulated)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from muara.config import Settings, load_settings
from muara.daemon import Daemon
from muara.store.records import Clock, utc_now

HEADER = "call_id,started_at,caller_name,caller_number,category,summary,district,subdistrict\n"
ROWS = [
    "c-1,2026-11-20T08:15:00+07:00,Budi Santoso,0812-0000-1001,jalan,"
    "jalan berlubang besar di depan pasar mohon segera diperbaiki,Tegalsari,",
    "c-2,2026-11-20T09:00:00,Ani Lestari,0812-0000-1002,sampah,"
    "sampah tidak diangkut sudah seminggu bau sekali,Wonokromo,",
    "c-3,20/11/2026 10:30,Joko,0812-0000-1003,air,air PDAM mati sejak kemarin pagi,Gubeng,",
]


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 90) -> None:
    """Wait until `check` holds; the daemon works in the background."""
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


def daemon_settings(store_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    """Fast-polling settings on the test's store, spool and an in-process simulator."""
    base: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "store": {"url": store_url},
        "http": {"port": 0},
        "workers": {"idle_seconds": 0.05, "shutdown_timeout": 5},
        "spool": [
            {"name": "cc", "path": tmp_path / "spool", "poll_seconds": 0.05, "stable_seconds": 0}
        ],
        "router": {"auto_route_threshold": 0.0},
    }
    base.update(overrides)
    return load_settings(**base)


def metric_names_and_labels(exposition: str) -> str:
    """Every metric name, label name and label value of a /metrics page, without the values."""
    parts = []
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            parts.append(sample.name)
            parts.extend(f"{key}={value}" for key, value in sample.labels.items())
    return "\n".join(parts)


@asynccontextmanager
async def run_daemon(settings: Settings, *, clock: Clock = utc_now) -> AsyncIterator[Daemon]:
    """The daemon running in-process on `clock` until the block ends; a start-up error is raised
    here."""
    daemon = Daemon(settings, clock=clock, registry=CollectorRegistry())
    task = asyncio.create_task(daemon.run())
    ready = asyncio.create_task(daemon.ready.wait())
    await asyncio.wait([task, ready], timeout=90, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()  # start-up failed: raise its error here
    assert daemon.ready.is_set(), "daemon not ready within 90 s"
    try:
        yield daemon
    finally:
        daemon.request_stop()
        async with asyncio.timeout(30):
            await task


@pytest.fixture
async def running(store_url: str, tmp_path: Path) -> AsyncIterator[Daemon]:
    async with run_daemon(daemon_settings(store_url, tmp_path)) as daemon:
        yield daemon


async def test_a_dropped_csv_is_filed_into_lapor_once(running: Daemon, tmp_path: Path) -> None:
    inbox = tmp_path / "spool" / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "calls.csv").write_text(HEADER + "\n".join(ROWS) + "\n", encoding="utf-8")
    assert running.simulator is not None
    state = running.simulator.state

    async def all_filed() -> bool:
        return len(state.filings) >= len(ROWS)

    await eventually(all_filed)
    assert (tmp_path / "spool" / "done" / "calls.csv").exists()
    # Dropping the same file again adds nothing and files nothing.
    (inbox / "calls.csv").write_text(HEADER + "\n".join(ROWS) + "\n", encoding="utf-8")

    async def moved_again() -> bool:
        return not (inbox / "calls.csv").exists()

    await eventually(moved_again)
    await asyncio.sleep(0.3)
    references = [f.body["tags_raw"] for f in state.filings]
    assert len(references) == len(ROWS) == len(set(references))

    text = ""

    async def exported() -> bool:
        # LAPOR! records a filing before the daemon commits EXPORTED: wait for the commit.
        nonlocal text
        async with (
            aiohttp.ClientSession() as http,
            http.get(f"{running.ops_url}/metrics") as response,
        ):
            text = await response.text()
        return 'muara_complaints{channel="callcenter",state="EXPORTED"} 3.0' in text

    await eventually(exported)
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{running.ops_url}/readyz") as response,
    ):
        ready = await response.json()
    assert 'muara_ingest_complaints_total{channel="callcenter"} 3.0' in text
    assert ready["status"] == "ready", ready
    # Personal data never reaches metric names or labels (sample values are numbers: a timestamp
    # may well contain the digits 0812).
    labels = metric_names_and_labels(text)
    assert "Budi" not in labels and "0812" not in labels


async def test_bad_files_are_quarantined_and_the_daemon_keeps_filing(
    store_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = daemon_settings(
        store_url,
        tmp_path,
        spool=[
            {
                "name": "cc",
                "path": tmp_path / "spool",
                "poll_seconds": 0.05,
                "stable_seconds": 0,
                "max_file_bytes": 4096,
            }
        ],
    )
    daemon = Daemon(settings, registry=CollectorRegistry())
    task = asyncio.create_task(daemon.run())
    await asyncio.wait_for(daemon.ready.wait(), 60)
    inbox = tmp_path / "spool" / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "1-empty.csv").write_bytes(b"")
    (inbox / "2-binary.csv").write_bytes(bytes(range(256)) * 4)
    (inbox / "3-wrong-columns.csv").write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    (inbox / "4-huge.csv").write_bytes(HEADER.encode() + b"x" * 8192)
    mixed = HEADER.encode() + ROWS[0].encode() + b"\n"
    # Row 3 holds windows-1252 bytes that are not UTF-8.
    mixed += b"c-9,2026-11-20T10:00:00+07:00,Caf\xe9 Owner,0812-0000-1009,x,"
    mixed += b"caf\xe9 tutup jalan,Gubeng,\n"
    mixed += ROWS[1].encode() + b"\n"
    (inbox / "5-mixed.csv").write_bytes(mixed)
    assert daemon.simulator is not None
    state = daemon.simulator.state

    async def settled() -> bool:
        return len(state.filings) >= 2 and not any(inbox.iterdir())

    await eventually(settled)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{daemon.ops_url}/metrics") as response:
            metrics = await response.text()
        async with http.get(f"{daemon.ops_url}/readyz") as response:
            assert response.status == 200
    daemon.request_stop()
    await asyncio.wait_for(task, 30)
    # Four whole files and one row: five quarantine records, the two good rows filed.
    assert 'muara_quarantine_records{channel="callcenter"} 5.0' in metrics
    assert len(state.filings) == 2
    quarantine = tmp_path / "spool" / "quarantine"
    assert sorted(p.name for p in quarantine.iterdir()) == [
        "1-empty.csv",
        "2-binary.csv",
        "3-wrong-columns.csv",
        "4-huge.csv",
    ]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("4-huge.csv" in message for message in warnings)
    assert any("row 3" in message for message in warnings)
    assert not any("Caf" in message or "0812" in message for message in warnings)
